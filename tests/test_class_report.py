"""The class report, proven on a synthetic class graded through the built zip.

The class (tests/catalogue/classroom.py) is 25 independently written solutions, 14 of them with
a planted catalogue mistake (counts 6, 3, 3, 1, 1), three near-copies (renamed variables,
reordered functions) of which two copy a planted mistake (final counts 6, 4, 3, 2, 1), a blank
notebook and an unreadable upload: 30 submissions. Every one is graded for real, once, through
`tools/grade_folder.py` reading a Gradescope export zip: about 1.5 minutes on two cores. A
class of 200 would repeat the same 30 notebooks and the same code paths for six times the
time; the 1,000-submission scale of the report is measured by `make bench` instead.
"""

from __future__ import annotations

import csv
import itertools
import io
import json
import shutil
import zipfile
from contextlib import redirect_stdout
from pathlib import Path

import nbformat
import pytest
import yaml

import class_report
import grade_folder
import gradescope_export
from catalogue.classroom import synthetic_class
from conftest import AUTOGRADER_ZIP, ROOT, master_questions
from progress import Progress

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def export_zip(files: dict, path: Path) -> dict[str, str]:
    """A Gradescope "Export Submissions" zip of ``files``; returns folder -> student name."""
    names = {}
    with zipfile.ZipFile(path, "w") as zf:
        metadata = {}
        for k, (student, content) in enumerate(sorted(files.items())):
            folder = f"submission_{1000 + k}"
            names[folder] = student
            metadata[folder] = {":submitters": [{":name": f"Student {student}",
                                                 ":email": f"{student}@example.edu"}],
                                ":score": 0.0}
            if isinstance(content, bytes):
                zf.writestr(f"assignment_7_export/{folder}/answers.txt", content)
            else:
                zf.writestr(f"assignment_7_export/{folder}/backprop.ipynb",
                            nbformat.writes(content))
        zf.writestr("assignment_7_export/submission_metadata.yml", yaml.safe_dump(metadata))
    return names


@pytest.fixture(scope="module")
def graded_class(tmp_path_factory):
    work = tmp_path_factory.mktemp("class")
    files, plan = synthetic_class()
    folders = export_zip(files, work / "export.zip")
    out = work / "results"
    stdout = io.StringIO()
    with redirect_stdout(stdout):
        code = grade_folder.main([str(work / "export.zip"), "--out", str(out), "--jobs", "2",
                                  "--zip", str(AUTOGRADER_ZIP)])
    assert code == 0
    student = {folder: name for folder, name in folders.items()}
    return {"out": out, "stdout": stdout.getvalue(), "plan": plan, "student": student,
            "folder": {name: folder for folder, name in folders.items()},
            "report": json.loads((out / "report.json").read_text())}


def test_planted_mistakes_ranked_in_order_with_their_counts(graded_class):
    plan, report = graded_class["plan"], graded_class["report"]
    student = graded_class["student"]
    ranking = [m["id"] for m in report["mistakes"]]
    planted = sorted(plan["mistakes"], key=lambda m: -len(plan["mistakes"][m]))
    missing = [m for m in planted if m not in ranking]
    assert not missing, f"planted mistakes not in the report: {missing}; report: {ranking}"
    assert [m for m in ranking if m in planted] == planted, (
        f"planted mistakes ranked {[m for m in ranking if m in planted]}, expected {planted}")
    for m in report["mistakes"]:
        if m["id"] in plan["mistakes"]:
            shown = sorted(student[s] for s in m["submissions"])
            assert shown == sorted(plan["mistakes"][m["id"]]), (
                f"{m['id']}: the report lists {shown}, planted in {plan['mistakes'][m['id']]}")
            assert m["count"] == len(plan["mistakes"][m["id"]])
    correct = set(plan["independent"]) - {s for v in plan["mistakes"].values() for s in v}
    named = {student[s] for m in report["mistakes"] for s in m["submissions"]}
    assert not named & correct, f"mistakes named for correct solutions: {named & correct}"


def test_exactly_the_planted_near_copies_are_paired(graded_class):
    pairs = {tuple(sorted((graded_class["student"][p["a"]], graded_class["student"][p["b"]])))
             for p in graded_class["report"]["similarity"]["pairs"]}
    assert pairs == graded_class["plan"]["pairs"], (
        f"similar pairs {sorted(pairs)}, planted {sorted(graded_class['plan']['pairs'])}")


def test_statuses_flags_scores_and_tests_are_reported(graded_class):
    report, folder = graded_class["report"], graded_class["folder"]
    assert report["submissions"] == 30 and report["statuses"] == {"ok": 29, "error": 1}
    attention = {a["submission"]: a for a in report["attention"]}
    unreadable = attention[folder["unreadable"]]
    assert unreadable["status"] == "error" and "no .ipynb notebook" in unreadable["message"]
    assert unreadable["students"] == ["Student unreadable <unreadable@example.edu>"]
    assert sum(b["count"] for b in report["scores"]["overall"]["bins"]) == 29
    assert report["scores"]["overall"]["bins"][-1]["count"] >= 11, "full marks bin"
    rates = {(t["question"], t["test"]): t for t in report["tests"]}
    assert all(t["ran"] == 29 for t in rates.values())
    assert any(t["passed"] < t["ran"] for t in rates.values() if t["question"] == "q2")


def test_grades_csv_and_terminal_summary(graded_class):
    out, folder = graded_class["out"], graded_class["folder"]
    with (out / "grades.csv").open(newline="") as fh:
        rows = {r["file"]: r for r in csv.DictReader(fh)}
    assert "softmax_overflow" in rows[folder["s01"]]["mistakes"].split()
    assert rows[folder["s00"]]["mistakes"] == ""
    tail = graded_class["stdout"].strip().splitlines()[-8:]
    assert tail[0] == "most frequent mistakes:", tail
    assert "softmax_overflow" in tail[1] and tail[-2].startswith("similar pairs") \
        and ": 3;" in tail[-2], tail
    assert tail[-1].startswith("matching the answer key: ") and "left out" in tail[-1], tail
    for name in ("report-scores.csv", "report-tests.csv", "report-mistakes.csv",
                 "report-attention.csv", "report-similarity.csv"):
        assert (out / name).stat().st_size > 20, name


def test_report_page_is_self_contained(graded_class):
    text = (graded_class["out"] / "report.html").read_text()
    for needle in ("<script", "<link", "src=", "@import", "url("):
        assert needle not in text, f"report.html uses {needle}: it must open offline"
    histograms = 1 + len(master_questions())   # overall, then one per question
    assert text.count("<svg") == histograms and "<mark>" in text and "Student s07" in text


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium is not installed (Debian: apt-get "
                    "install chromium): the rendering of report.html is not checked")
def test_report_renders_in_chromium(graded_class):
    """Headless Chromium lays out the histograms and the mistake table on the first screen;
    the page and its screenshot are kept in build/ (class-report.html, class-report.png)."""
    from playwright.sync_api import sync_playwright
    shot = ROOT / "build" / "class-report.png"
    shot.parent.mkdir(exist_ok=True)
    shutil.copy(graded_class["out"] / "report.html", shot.with_suffix(".html"))
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1280, "height": 1400})
        page.goto((graded_class["out"] / "report.html").as_uri())
        boxes = [page.locator("svg").nth(i).bounding_box() for i in range(8)]
        table = page.locator("#mistakes + table").bounding_box()
        rows = page.locator("#mistakes + table tr").count()
        page.screenshot(path=str(shot))
        browser.close()
    assert all(b and b["height"] > 100 and b["y"] + b["height"] < 1400 for b in boxes), boxes
    assert table and table["y"] < 1400 and table["height"] > 100, table
    assert rows == len(graded_class["report"]["mistakes"]) + 1
    assert shot.stat().st_size > 20_000


# -- the pieces, without grading -----------------------------------------------------------

def test_graded_code_drops_docstrings_and_keeps_helpers():
    nb = {"cells": [
        {"cell_type": "code", "source": "def helper(v):\n    return v + 1\n\n"
                                        "def relu_derivative(z):\n    '''Doc.'''\n"
                                        "    # why\n    return helper(z) > 1\n"},
        {"cell_type": "code", "source": "def unrelated():\n    return 3\n"},
        {"cell_type": "code", "source": "def broken(:\n"}]}
    code = class_report.graded_code(nb, {"relu_derivative"})
    assert "helper" in code and "relu_derivative" in code
    assert "Doc." not in code and "why" not in code and "unrelated" not in code


def test_similarity_ignores_starter_code(tmp_path):
    """Two notebooks that fill in one different line of the starter each share its signatures
    and docstrings; that alone must not pair them. An exact copy is paired."""
    starter = nbformat.read(class_report.STARTER, as_version=4)
    cell = next(c for c in starter.cells if c.cell_type == "code" and "def softmax" in c.source)
    paths = {}
    for name, line in (("a", "return np.zeros(3)"), ("b", "return None"), ("c", "return None")):
        nb = nbformat.from_dict(json.loads(json.dumps(starter)))
        target = next(c for c in nb.cells if c.cell_type == "code" and c.source == cell.source)
        target.source = target.source.replace("...", line, 1)
        paths[name] = tmp_path / f"{name}.ipynb"
        nbformat.write(nb, paths[name])
    codes, pairs, _ = class_report.similarity(paths)
    assert "return np.zeros(3)" in codes["a"] and '"""' not in codes["a"]
    assert [(p["a"], p["b"]) for p in pairs] == [("b", "c")], pairs


def test_export_zip_with_a_path_outside_is_refused(tmp_path):
    with zipfile.ZipFile(tmp_path / "bad.zip", "w") as zf:
        zf.writestr("../escape.txt", "x")
    with pytest.raises(gradescope_export.ExportError):
        gradescope_export.entries(tmp_path / "bad.zip", tmp_path / "work")
    assert not (tmp_path / "escape.txt").exists()


def test_plain_folder_is_read_as_before(tmp_path):
    for name in ("b.ipynb", "a.ipynb", ".hidden"):
        (tmp_path / name).write_text("{}")
    entries, students, _ = gradescope_export.entries(tmp_path, tmp_path)
    assert [p.name for p in entries] == ["a.ipynb", "b.ipynb"] and students == {}


def test_progress_in_a_log_writes_little():
    log = io.StringIO()
    progress = Progress(1000, stream=log, interval=3600)
    for done in range(1, 1001):
        progress.update(done)
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("graded 1000/1000 (100%)"), lines


def test_fast_similarity_equals_copydetects(tmp_path):
    """The report scores every candidate pair with array operations; they must give exactly
    copydetect.compare_files' similarities (here on every pair of 12 synthetic students)."""
    from copydetect import compare_files
    files, _ = synthetic_class()
    names = class_report.graded_names()
    prints = {}
    for name in sorted(files)[:12]:
        code = class_report.graded_code(json.loads(nbformat.writes(files[name])), names)
        prints[name] = class_report._fingerprint(name, code, None)
    for a, b in itertools.combinations(prints, 2):
        _, expected, _ = compare_files(prints[a], prints[b])
        fast = class_report.copydetect_similarity(class_report._Positions(prints[a]),
                                                  class_report._Positions(prints[b]))
        assert fast == pytest.approx(expected, abs=1e-12), (a, b)


def test_progress_on_a_terminal_redraws_one_line():
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    term = Terminal()
    progress = Progress(3, stream=term)
    for done in (1, 2, 3):
        progress.clear()
        progress.update(done)
    text = term.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n") and text.count("\r\x1b[K") == 6
    assert "graded 3/3 (100%)" in text and "left" in text
