"""Broken and hostile submissions through the real autograder zip (``tests/hostile/``).

Every bad input gets a valid Gradescope result with the expected status and a clear message,
and what can be graded is graded; every tampering attempt scores no more than the notebook it
started from and is flagged; no result shows hidden tests, hidden values or solution code to
the student; grading one submission changes nothing for another; and ``tools/grade_folder.py``
gets through a folder of them with one CSV row each.

The submissions are graded once per session, two at a time, with small time limits (``LIMITS``).
"""

from __future__ import annotations

import ast
import csv
import hashlib
import os
import re
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat
import pytest

from conftest import (ROOT, environment, grade_folder, question_scores, solution_notebook, student_notebook,
                      visible_text)
import hostile
from hostile import ALL, BAD_INPUTS, DECEPTIONS, TAMPERING, bad_inputs, tampering
from hostile.gradescope import gradescope_problems

sys.path.insert(0, str(ROOT / "autograder"))
from gradekit.sandbox import HIDDEN_STOPPED  # noqa: E402
from gradekit.verify import HIDDEN_RAISED  # noqa: E402

# A cell gets 6 s: a C-stack overflow takes up to 3 s to kill its sandboxed worker under load.
LIMITS = {"BACKPROP_CELL_SECONDS": "6", "BACKPROP_CALL_SECONDS": "2",
          "BACKPROP_GRACE_SECONDS": "1", "BACKPROP_CASE_SECONDS": "60",
          "BACKPROP_TOTAL_SECONDS": "240"}
BASELINES = {"blank": student_notebook, "buggy": tampering.buggy}


def tree_digest(folder: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(folder)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


RESTARTED = ["os_exit", "abort_crash", "deep_recursion", "unstoppable_loop", "memory_hog"]
# submissions that tests without a `name` parameter look at
NEEDED_BY = {"test_a_killed_worker_is_restarted_and_replays_the_other_cells": RESTARTED,
             "test_destructive_submission_changes_nothing_outside_its_folder": ["destructive"],
             "test_sandbox_escape_runs_no_command": ["sandbox_escape"],
             "test_hidden_test_failures_show_no_student_controlled_text": ["leak_hidden_data"],
             "test_hidden_feedback_is_the_test_authors_fixed_text": [
                 "leak_hidden_data", "error_name_channel", "constant_gradients"]}


def _wanted(session) -> list[str]:
    names = set()
    for item in session.items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        if params.get("name") in ALL:
            names.add(params["name"])
        names.update(NEEDED_BY.get(getattr(item, "originalname", ""), []))
    return sorted(names)


@pytest.fixture(scope="session")
def source_digest(source_dir) -> str:
    return tree_digest(source_dir)


@pytest.fixture(scope="session")
def graded(request, grade, source_dir, source_digest) -> dict[str, dict]:
    """Results of every hostile submission the selected tests use, plus the baselines."""
    sentinel = Path(bad_inputs.SENTINEL_DIR)
    shutil.rmtree(sentinel, ignore_errors=True)
    sentinel.mkdir()
    (sentinel / "keep.txt").write_text("keep me")
    for stray in (tampering.ESCAPE_MARK, "/tmp/backprop-hostile-write.txt"):
        Path(stray).unlink(missing_ok=True)
    names = _wanted(request.session)
    jobs = {f"baseline_{b}": (build, f"baseline_{b}.ipynb") for b, build in BASELINES.items()}
    jobs.update({n: (ALL[n].build, ALL[n].upload_name) for n in names})
    with environment(LIMITS), ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(grade, build(), upload)
                   for name, (build, upload) in sorted(jobs.items())}
        return {name: future.result() for name, future in futures.items()}


def _full(questions) -> dict[str, float]:
    return {q: v["points"] for q, v in questions.items()}


def _flags(results: dict) -> list[str]:
    return results["extra_data"]["flags"]


def _csv_row(name: str, results: dict, questions) -> dict:
    return grade_folder.csv_row(name, results, questions)


# ---------------------------------------------------------------------------
# Bad input: a valid result, a clear message, the rest graded
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [h.name for h in BAD_INPUTS])
def test_bad_input_gets_a_valid_result_and_the_rest_is_graded(name, graded, questions):
    hostile, results = ALL[name], graded[name]
    extra = results["extra_data"]
    assert gradescope_problems(results) == [], f"{name}: not a valid Gradescope result"
    assert extra["status"] == hostile.status, \
        f"{name}: status {extra['status']!r}, expected {hostile.status!r} ({extra['summary']})"
    shown = extra["summary"] + "\n" + visible_text(results)
    assert re.search(hostile.message, shown), \
        f"{name}: no message matching {hostile.message!r} in:\n{shown[:3000]}"
    scores = question_scores(results)
    if hostile.base == "reference":
        for q, full in _full(questions).items():
            if q in hostile.below_full:
                assert scores[q] < full, f"{name}: {q} should lose points, got {scores[q]}"
            else:
                assert scores[q] == full, f"{name}: {q} should still get {full}, got {scores[q]}"
    else:
        assert results["score"] == 0, f"{name}: an ungradable file scored {results['score']}"
    if hostile.flag:
        assert any(re.search(hostile.flag, f) for f in _flags(results)), \
            f"{name}: no flag matching {hostile.flag!r} in {_flags(results)}"
    row = _csv_row(name, results, questions)
    assert row["status"] == hostile.status and row["message"], \
        f"{name}: grades.csv row lacks a status or message: {row}"


def test_destructive_submission_changes_nothing_outside_its_folder(graded, grade, source_dir,
                                                                   source_digest):
    results = graded["destructive"]
    attempts = " ".join(c["message"] for c in results["extra_data"]["cells"])
    for refused in ("write the sentinel", "delete the sentinel", "remove the sentinel folder",
                    "delete the grader's data", "change the grader's checks", "empty a test",
                    "write to /tmp"):
        assert f"{refused}: PermissionError" in attempts, \
            f"`{refused}` was not refused:\n{attempts[:2000]}"
    sentinel = Path(bad_inputs.SENTINEL_DIR)
    assert sorted(p.name for p in sentinel.iterdir()) == ["keep.txt"], \
        f"the submission changed {sentinel}: {sorted(p.name for p in sentinel.iterdir())}"
    assert not Path("/tmp/backprop-hostile-write.txt").exists(), "it wrote to /tmp"
    assert tree_digest(source_dir) == source_digest, "it changed the autograder's files"
    after = grade(solution_notebook(), "reference_after_destructive.ipynb")
    assert after["score"] == 100, \
        f"the reference scored {after['score']} after the destructive submission"


def test_a_killed_worker_is_restarted_and_replays_the_other_cells(graded):
    for name in RESTARTED:
        extra = graded[name]["extra_data"]
        assert extra["restarts"] >= 1, f"{name}: the worker was never restarted ({extra})"


# ---------------------------------------------------------------------------
# Tampering: no extra point, and a flag
# ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", [h.name for h in TAMPERING])
def test_tampering_gains_no_point_and_is_flagged(name, graded, questions):
    hostile, results = ALL[name], graded[name]
    baseline = graded[f"baseline_{hostile.base}"]
    assert gradescope_problems(results) == [], f"{name}: not a valid Gradescope result"
    for q in questions:
        got, before = question_scores(results)[q], question_scores(baseline)[q]
        assert got <= before, f"{name}: {q} scored {got}, {before} without the attack"
    assert results["score"] <= baseline["score"], \
        f"{name}: scored {results['score']}, {baseline['score']} without the attack"
    assert any(re.search(hostile.flag, f) for f in _flags(results)), \
        f"{name}: no flag matching {hostile.flag!r} in {_flags(results)}"
    row = _csv_row(name, results, questions)
    assert row["flags"] and row["status"] and row["message"], \
        f"{name}: grades.csv row lacks flags, status or message: {row}"


def test_sandbox_escape_runs_no_command(graded):
    assert not Path(tampering.ESCAPE_MARK).exists(), \
        "a sandbox escape ran a command (it created " + tampering.ESCAPE_MARK + ")"
    flags = " ".join(_flags(graded["sandbox_escape"]))
    for refused in ("searched the interpreter's objects", "rewrote the grader's policy",
                    "opened a directory outside its own", "sent a signal to another process",
                    "traced the interpreter", "changed the working directory"):
        assert refused in flags, f"`{refused}` was not refused and flagged: {flags}"


def test_hidden_test_failures_show_no_student_controlled_text(graded):
    text = visible_text(graded["leak_hidden_data"])
    hidden_lines = [line for line in text.splitlines() if line.startswith("hidden test")]
    assert hidden_lines, "no hidden test results were shown"
    for line in hidden_lines:
        assert "Leak_" not in line and "input [" not in line, f"student text in: {line}"
        assert not re.search(r"exited with code|\d{4,}", line), f"student data in: {line}"


def hidden_failure_messages(source_dir: Path) -> set[str]:
    """Every hidden test's ``failure_message`` in the zip's test files."""
    messages = set()
    for path in sorted((source_dir / "tests").glob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.keyword) and node.arg == "failure_message":
                messages.add(node.value.value)
    return messages


def test_hidden_feedback_is_the_test_authors_fixed_text(graded, source_dir):
    """What a student sees of a failed hidden test is its author's failure message, or the
    grader's own sentence for a time limit, a stopped worker or an exception raised by student
    code: nothing student code chose (no exception name, cell, line or number from it, no
    choice among mistakes)."""
    allowed = hidden_failure_messages(source_dir)
    assert len(allowed) >= 12, allowed
    for name in ("leak_hidden_data", "error_name_channel", "constant_gradients"):
        shown = [line.split("FAILED: ", 1)[1] for line in visible_text(graded[name]).splitlines()
                 if line.startswith("hidden test") and "FAILED" in line]
        assert shown, f"{name}: no hidden test failed"
        for text in shown:
            assert text in allowed or text in (HIDDEN_STOPPED, HIDDEN_RAISED), \
                f"{name}: hidden feedback not written by the test's author: {text!r}"


# sigmoid_derivative as in the reference, except on the input of q1's hidden check (seeded
# with the hidden test's seed): there it exits or hangs, chosen by that input's sign.
STOP_BY_HIDDEN_INPUT = """
import os
import numpy as np
_reference_sigmoid_derivative = sigmoid_derivative
_hidden_z = np.random.default_rng({seed}).normal(0, 2, size=(3, 4))


def sigmoid_derivative(z):
    if np.shape(z) == (3, 4) and np.array_equal(z, _hidden_z):
        if (z[0, 0] > 0) == {exit_if_positive}:
            os._exit(3)
        while True:
            pass
    return _reference_sigmoid_derivative(z)
"""


def test_how_a_hidden_test_stops_is_not_shown(grade, source_dir, questions):
    """Exiting or hanging, chosen from a hidden input, shows the student the same text: a
    hidden test reveals that it did not finish, never which limit or way of stopping."""
    seed = re.search(r"def test_sigmoid_derivative_hidden\(.*?seed=(\d+)",
                     (source_dir / "tests" / "q1.py").read_text(), re.S).group(1)
    notebooks = {f"stops_{choice}.ipynb": hostile.with_cell(
        solution_notebook(), STOP_BY_HIDDEN_INPUT.format(seed=seed, exit_if_positive=choice))
        for choice in (True, False)}
    with environment(LIMITS), ThreadPoolExecutor(max_workers=2) as pool:
        graded = dict(zip(notebooks, pool.map(lambda item: grade(item[1], item[0]),
                                              notebooks.items())))
    exited, hung = sorted(graded.values(), key=lambda r: r["extra_data"]["status"])
    assert (exited["extra_data"]["status"], hung["extra_data"]["status"]) == \
        ("crashed", "timeout"), "the hidden input did not choose between exiting and hanging"
    for results in (exited, hung):
        lost = {q for q, s in question_scores(results).items() if s < _full(questions)[q]}
        assert lost == {"q1"}, results["extra_data"]["summary"]
    assert visible_text(exited) == visible_text(hung), \
        f"exiting and hanging show different text:\n{visible_text(exited)}\n---\n" \
        f"{visible_text(hung)}"
    assert HIDDEN_STOPPED in visible_text(exited), visible_text(exited)


@pytest.mark.parametrize("name", [h.name for h in DECEPTIONS])
def test_objects_that_report_what_checks_want_gain_nothing(name, graded, questions):
    """Structure, losses and gradients come from the checks' own computation: a notebook whose
    objects lie loses the points of the questions it lies on."""
    hostile, results = ALL[name], graded[name]
    assert gradescope_problems(results) == [], f"{name}: not a valid Gradescope result"
    scores = question_scores(results)
    for q, full in _full(questions).items():
        if q in hostile.below_full:
            assert scores[q] < full, f"{name}: {q} should lose points, got {scores[q]}"
    assert results["extra_data"]["mistakes"], f"{name}: no mistake recorded"


def test_a_time_budget_used_up_is_a_timeout_never_a_wrong_answer(grade):
    """With the total budget used up partway through the tests, every case that did not pass
    is reported as timed out (status ``timeout``), never as a wrong answer: q7's correct
    answers are not "wrong" because their names could no longer be read."""
    # the cells take 2.5 s of a 3.5 s budget: it runs out during the tests (the MNIST check
    # alone needs more than 1 s), or on a very busy machine already during the cells
    slow = hostile.with_cell(solution_notebook(), "import time\ntime.sleep(2.5)")
    with environment({**LIMITS, "BACKPROP_TOTAL_SECONDS": "3.5"}):
        results = grade(slow, "slow_machine.ipynb")
    extra = results["extra_data"]
    failed = [c for c in extra["cases"] if not c["passed"]]
    assert failed, "the budget did not run out: lower BACKPROP_TOTAL_SECONDS in this test"
    assert extra["status"] == "timeout", extra["status"]
    assert all(c["timed_out"] for c in failed), \
        [(c["question"], c["name"], c["message"][:80]) for c in failed if not c["timed_out"]]
    assert not extra["mistakes"], extra["mistakes"]


# ---------------------------------------------------------------------------
# Nothing hidden reaches the student
# ---------------------------------------------------------------------------


@pytest.fixture(scope="session")
def secrets(source_dir) -> dict[str, list]:
    """Hidden test source lines, distinctive hidden values, and solution code lines."""
    hidden_lines, hidden_numbers, public_numbers = [], set(), set()
    for path in sorted((source_dir / "tests").glob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef):
                continue
            hidden = any(isinstance(k, ast.keyword) and k.arg == "hidden"
                         and getattr(k.value, "value", False) is True
                         for d in node.decorator_list for k in getattr(d, "keywords", []))
            numbers = {abs(n.value) for n in ast.walk(node) if isinstance(n, ast.Constant)
                       and type(n.value) in (int, float)}
            if hidden:
                hidden_numbers |= numbers
                segment = ast.get_source_segment(text, node)
                hidden_lines += [ln.strip() for ln in segment.splitlines()[1:]
                                 if len(ln.strip()) >= 25]
            else:
                public_numbers |= numbers
    for public in [*(source_dir / "files").glob("*.py"), ROOT / "assignment" / "backprop.ipynb"]:
        if public.name == "backprop_reference.py":
            continue
        public_numbers |= {float(n) for n in re.findall(r"\d+(?:\.\d+)?", public.read_text())}
    distinctive = sorted(n for n in hidden_numbers - public_numbers if n >= 100)
    solution, inside = [], False
    for cell in solution_notebook().cells:
        for line in cell.source.splitlines() if cell.cell_type == "code" else []:
            inside = (inside or "# BEGIN SOLUTION" in line) and "# END SOLUTION" not in line
            if inside and len(line.strip()) >= 20 and "SOLUTION" not in line:
                solution.append(line.strip())
    assert hidden_lines and distinctive and solution, "could not collect the secrets to check"
    return {"hidden": hidden_lines, "numbers": distinctive, "solution": solution}


@pytest.mark.parametrize("name", sorted(ALL))
def test_nothing_hidden_reaches_the_student(name, graded, secrets):
    shown = visible_text(graded[name])
    for line in secrets["hidden"]:
        assert line not in shown, f"{name}: hidden test source is visible: {line!r}"
    for line in secrets["solution"]:
        assert line not in shown, f"{name}: solution code is visible: {line!r}"
    for number in secrets["numbers"]:
        text = f"{number:g}"
        assert not re.search(rf"(?<![\w.]){re.escape(text)}(?![\w])", shown), \
            f"{name}: the hidden value {text} is visible"


# ---------------------------------------------------------------------------
# make grade over a folder mixing all kinds
# ---------------------------------------------------------------------------

FOLDER = ["syntax_error", "empty_file", "not_a_notebook", "endless_loop_cell", "os_exit",
          "wrong_extension", "destructive"]


def test_grade_folder_gets_through_a_mixed_folder(tmp_path, questions):
    folder, out = tmp_path / "submissions", tmp_path / "results"
    folder.mkdir()
    nbformat.write(solution_notebook(), folder / "reference.ipynb")
    nbformat.write(student_notebook(), folder / "blank.ipynb")
    for name in FOLDER:
        content = ALL[name].build()
        target = folder / ALL[name].upload_name
        if isinstance(content, bytes):
            target.write_bytes(content)
        else:
            nbformat.write(content, target)
    (folder / "notes.txt").write_text("not a submission at all")
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "grade_folder.py"), str(folder), "--out", str(out),
         "--zip", str(grade_folder.DEFAULT_ZIP), "--jobs", "2"],
        capture_output=True, text=True, timeout=900, env={**os.environ, **LIMITS})
    assert proc.returncode == 0, f"grade_folder failed:\n{proc.stdout}\n{proc.stderr}"
    with (out / "grades.csv").open() as fh:
        rows = {row["file"]: row for row in csv.DictReader(fh)}
    entries = sorted(p.name for p in folder.iterdir())
    assert sorted(rows) == entries, f"expected one row per entry {entries}, got {sorted(rows)}"
    for name, row in rows.items():
        assert row["status"] in ("ok", "timeout", "crashed", "error") and row["message"], \
            f"row for {name} lacks a status or message: {row}"
    assert float(rows["reference.ipynb"]["total"]) == 100, rows["reference.ipynb"]
    assert float(rows["blank.ipynb"]["total"]) == 0, rows["blank.ipynb"]
    assert float(rows[ALL["syntax_error"].upload_name]["total"]) == 100
    assert float(rows[ALL["destructive"].upload_name]["total"]) == 100
    assert rows[ALL["destructive"].upload_name]["flags"], "the destructive notebook is not flagged"
    for name in ("empty_file", "not_a_notebook"):
        assert rows[ALL[name].upload_name]["status"] == "error", rows[ALL[name].upload_name]
    assert rows["notes.txt"]["status"] == "error" and "no .ipynb" in rows["notes.txt"]["message"]
    assert rows[ALL["endless_loop_cell"].upload_name]["status"] == "timeout"
    assert rows[ALL["os_exit"].upload_name]["status"] == "crashed"
    for name in rows:
        assert (out / f"{name}.json").exists(), f"no results file for {name}"
