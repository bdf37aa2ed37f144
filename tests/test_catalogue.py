"""The catalogue graded through the built autograder zip: bugs lose exactly their recorded
questions with feedback that names them, correct variants get full marks, nothing leaks.

Entries are graded two at a time (the machine has two cores) as soon as the first catalogue
test needs a result; each entry is still its own test.
"""

from __future__ import annotations

import ast
import re
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

import pytest

from catalogue import BUGS, CORRECT, ENTRIES, SHORTCUTS, Entry, cross_question_loss, notebook_for
from conftest import caught_locally, question_scores, visible_text

BY_NAME = {entry.name: entry for entry in ENTRIES}


def test_catalogue_covers_enough_bugs_and_variants():
    assert len(BUGS) >= 25, f"only {len(BUGS)} buggy entries"
    assert len(CORRECT) >= 8, f"only {len(CORRECT)} correct variants"
    assert len(BY_NAME) == len(ENTRIES), "two catalogue entries share a name"
    assert all(entry.words for entry in BUGS + SHORTCUTS), "an entry records no feedback words"
    assert len(SHORTCUTS) >= 2, "too few shortcut (no backprop) entries"
    assert all(e.own and e.own <= e.loses for e in BUGS + SHORTCUTS), \
        [e.name for e in BUGS + SHORTCUTS if not (e.own and e.own <= e.loses)]
    # every bug class except hard-coded public outputs is named by a public check
    assert all(e.local for e in BUGS + SHORTCUTS
               if e.name not in ("hardcoded_public_loss", "wrong_quiz_answer")), \
        [e.name for e in BUGS + SHORTCUTS if not e.local]


@pytest.fixture(scope="module")
def graded(request, grade):
    """name -> Future of the results dict, for every catalogue entry this session selected."""
    wanted = [item.callspec.params["entry"].name for item in request.session.items
              if hasattr(item, "callspec") and isinstance(item.callspec.params.get("entry"), Entry)]
    pool = ThreadPoolExecutor(max_workers=2)
    futures: dict[str, Future] = {
        name: pool.submit(grade, notebook_for(BY_NAME[name]), f"{name}.ipynb")
        for name in dict.fromkeys(wanted)}
    yield futures
    pool.shutdown(wait=True, cancel_futures=True)


def hidden_test_lines(source_dir: Path) -> set[str]:
    """Every substantial source line of the hidden test cases in the zip's tests/*.py."""
    lines = set()
    for path in sorted((source_dir / "tests").glob("*.py")):
        text = path.read_text()
        for node in ast.walk(ast.parse(text)):
            if not isinstance(node, ast.FunctionDef):
                continue
            if not any("hidden=True" in ast.unparse(d) for d in node.decorator_list):
                continue
            segment = ast.get_source_segment(text, node) or ""
            lines |= {ln.strip() for ln in segment.splitlines() if len(ln.strip()) >= 20}
    return lines


def solution_lines(source_dir: Path) -> set[str]:
    """Every substantial code line of the reference solution (docstrings left out)."""
    text = (source_dir / "files" / "backprop_reference.py").read_text()
    lines = set()
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef):
            body = node.body[1:] if ast.get_docstring(node) else node.body
            for stmt in body:
                segment = ast.get_source_segment(text, stmt) or ""
                lines |= {ln.strip() for ln in segment.splitlines() if len(ln.strip()) >= 14}
    return lines


@pytest.fixture(scope="module")
def forbidden(source_dir) -> dict[str, set[str]]:
    found = {"hidden test source": hidden_test_lines(source_dir),
             "solution code": solution_lines(source_dir),
             "marker": {"backprop_reference", "BEGIN SOLUTION", "END SOLUTION"},
             # messages point to the equation and the shapes, never the formula itself
             "formula": {"x.T @ grad_out", "grad_out @ W.T", "grad_out @ self.W.T"}}
    assert len(found["hidden test source"]) > 30 and len(found["solution code"]) > 10, \
        "could not read the hidden tests or the reference solution from the autograder zip"
    return found


def assert_nothing_leaks(entry: Entry, results: dict, forbidden: dict[str, set[str]]) -> None:
    text = visible_text(results)
    for kind, snippets in forbidden.items():
        leaked = sorted(s for s in snippets if s in text)
        assert not leaked, f"{entry.name}: the visible feedback shows {kind}: {leaked[:3]}"


def failed_lines(results: dict) -> dict[str, list[str]]:
    """question -> the lines of its visible output that report a failed test."""
    return {t["name"].split(":")[0]: [ln for ln in t["output"].splitlines() if "FAILED" in ln]
            for t in results["tests"] if t["visibility"] != "hidden"}


@pytest.mark.parametrize("entry", BUGS + SHORTCUTS, ids=lambda e: e.name)
def test_bug_loses_exactly_its_questions_and_is_named(entry, graded, questions, forbidden):
    results = graded[entry.name].result()
    scores = question_scores(results)
    extra = results["extra_data"]
    assert extra["status"] == "ok", f"{entry.name}: grading status {extra['status']}"
    lost = {q for q, spec in questions.items() if scores[q] < spec["points"] - 1e-9}
    assert lost == set(entry.loses), (
        f"{entry.name} ({entry.what}): lost points on {sorted(lost)}, the catalogue records "
        f"{sorted(entry.loses)}; scores {scores}")
    cross = cross_question_loss(entry, scores, questions)
    assert not cross or entry.spans, (
        f"{entry.name}: costs {cross:g} points on questions outside its own "
        f"{sorted(entry.own)} (error carried forward should keep them), and the catalogue "
        "records no reason it spans them")
    failures = failed_lines(results)
    for q in questions:
        if q in entry.loses:
            assert failures[q], f"{entry.name}: {q} lost points but its output shows no FAILED test"
        else:
            assert not failures[q], f"{entry.name}: {q} kept its points but shows {failures[q]}"
    text = visible_text(results).lower()
    missing = [w for w in entry.words if w.lower() not in text]
    assert not missing, (f"{entry.name}: the student-visible feedback does not contain "
                         f"{missing}:\n{visible_text(results)}")
    assert_nothing_leaks(entry, results, forbidden)
    assert caught_locally(entry.words, results) == entry.local, (
        f"{entry.name}: the catalogue records that the public checks "
        f"{'name' if entry.local else 'do not name'} it, but they "
        f"{'do not' if entry.local else 'do'}:\n{visible_text(results)}")
    mistakes = results["extra_data"]["mistakes"]
    assert mistakes and {m["question"] for m in mistakes} <= set(entry.loses), \
        f"{entry.name}: mistake ids {mistakes} do not match the questions it loses"
    leaked = [m["id"] for m in mistakes if m["id"] in visible_text(results)]
    assert not leaked, f"{entry.name}: instructor-only mistake ids are visible: {leaked}"
    assert extra["flags"] == [], f"{entry.name}: unexpected flags {extra['flags']}"


@pytest.mark.parametrize("entry", CORRECT, ids=lambda e: e.name)
def test_correct_variant_gets_full_marks(entry, graded, questions, forbidden):
    results = graded[entry.name].result()
    extra = results["extra_data"]
    failures = {q: lines for q, lines in failed_lines(results).items() if lines}
    assert results["score"] == 100, (f"{entry.name} ({entry.what}) scored {results['score']}: "
                                     f"{failures}")
    assert extra["status"] == "ok" and extra["flags"] == [], \
        f"{entry.name}: status {extra['status']}, flags {extra['flags']}"
    assert not re.search(r"\bcell \d+: (error|timeout|crashed)", results["output"]), \
        f"{entry.name}: a notebook cell failed in grading:\n{results['output']}"
    assert_nothing_leaks(entry, results, forbidden)
