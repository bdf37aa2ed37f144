"""The kit end to end: full marks for the reference, zero for the blank notebook, nothing leaks."""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import build_assignment

from conftest import (ROOT, question_scores, read_zip_texts, solution_notebook, student_notebook,
                      visible_text)


def test_reference_solution_scores_full_marks(grade, questions):
    results = grade(solution_notebook(), "reference.ipynb")
    extra = results["extra_data"]
    assert results["score"] == 100
    assert extra["status"] == "ok" and extra["flags"] == []
    assert question_scores(results) == {q: v["points"] for q, v in questions.items()}


def test_blank_student_notebook_scores_zero_without_crashing(grade, questions):
    results = grade(student_notebook(), "blank.ipynb")
    assert results["score"] == 0
    assert results["extra_data"]["status"] == "ok"
    graded = [t for t in results["tests"] if t["visibility"] in ("visible", "after_due_date")]
    assert [t["name"].split(":")[0] for t in graded] == list(questions)
    assert "not implemented yet" in visible_text(results)


def test_points_add_up_to_a_round_total(questions):
    assert sum(q["points"] for q in questions.values()) == 100


def test_generated_files_are_up_to_date():
    proc = subprocess.run([sys.executable, str(ROOT / "tools" / "build_assignment.py"), "--check"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


SOLUTION_MARKERS = ["BEGIN SOLUTION", "self.x.T @ grad_out", "np.clip(probs, 1e-12",
                    "np.max(z, axis=-1, keepdims=True)", "layer.W -= lr * layer.dW"]


def test_student_bundle_has_no_solution_code_and_no_hidden_tests():
    bundle = ROOT / "assignment" / "backprop-student.zip"
    with zipfile.ZipFile(bundle) as zf:
        names = set(zf.namelist())
    folder = build_assignment.STUDENT_FOLDER
    assert {f"{folder}/{n}" for n in ["backprop.ipynb", *build_assignment.support_files()]} <= names
    files = read_zip_texts(bundle)
    for name, text in files.items():
        for marker in SOLUTION_MARKERS:
            assert marker not in text, f"{name} contains solution code: {marker!r}"
        assert "hidden=True" not in text, f"{name} contains a hidden test"
        assert "backprop_reference" not in text, f"{name} mentions the reference solution"
        assert not re.search(r"def test_\w+_hidden", text), f"{name} contains a hidden test"
