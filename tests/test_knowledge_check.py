"""The knowledge check stays hidden until the due date, total included.

Gradescope's documented rules (https://gradescope-autograders.readthedocs.io/en/latest/specs/,
"Controlling Test Case Visibility"): a test is shown to students when its ``visibility`` is
``visible``, or ``after_due_date`` once the due date has passed; "If test cases are hidden,
students will not be able to see their total score." ``student_view`` applies these rules to a
results.json. Two submissions that differ only in the knowledge check's answers must look the
same to a student before the due date, and differently after it (so the test can fail).
"""

from __future__ import annotations

import sys

import pytest


def student_view(results: dict, due_date_passed: bool) -> dict:
    """What Gradescope shows a student of ``results``."""
    default = results.get("visibility", "visible")

    def shown(test: dict) -> bool:
        visibility = test.get("visibility", default)
        return visibility == "visible" or (visibility == "after_due_date" and due_date_passed)

    tests = [(t["name"], t["score"], t["max_score"], t["status"], t["output"])
             for t in results["tests"] if shown(t)]
    every_test_shown = all(shown(t) for t in results["tests"])
    return {"output": results["output"], "tests": tests,
            "total": results["score"] if every_test_shown else None}


@pytest.fixture(scope="module")
def gradekit(source_dir):
    sys.path.insert(0, str(source_dir))
    from gradekit import results, verify
    return results, verify


def cases_of(source_dir, verify) -> list:
    """Every test case of the zip's test files: (question, name, hidden, points)."""
    test_file_class = verify._load_exception_test_file()
    cases = []
    for path in sorted((source_dir / "tests").glob("*.py")):
        test_file = test_file_class.from_file(str(path))
        cases += [(test_file.name, c.name, bool(c.hidden), float(c.points or 0))
                  for c in test_file.test_cases]
    return cases


def knowledge_checks(cases) -> set[str]:
    """Questions whose points all come from hidden tests: their score tells hidden results."""
    questions = {q for q, *_ in cases}
    return {q for q in questions
            if all(hidden or points == 0 for question, _, hidden, points in cases
                   if question == q)}


def graded(gradekit, questions, cases, wrong: set[str], stopped: set[str] = frozenset()):
    """results.json of a submission that passes every case except the hidden ones of the
    questions in ``wrong`` (those in ``stopped`` hit a time limit)."""
    results, verify = gradekit
    report = results.Report(questions)
    report.isolation = "namespaces"
    for question, name, hidden, points in cases:
        fails = hidden and question in wrong
        timed_out = fails and question in stopped
        report.cases.append(verify.CaseResult(
            question=question, name=name, hidden=hidden, points=points, passed=not fails,
            message="wrong answer" if fails else "passed",
            safe_message="a knowledge check answer is wrong" if fails else "passed",
            seconds=0.1, timed_out=timed_out))
    return report.to_gradescope(1.0)


def test_the_knowledge_check_is_hidden_until_the_due_date_total_included(
        gradekit, source_dir, questions):
    cases = cases_of(source_dir, gradekit[1])
    later = knowledge_checks(cases)
    assert later, "no question is graded by hidden tests alone: nothing to hide"
    right = graded(gradekit, questions, cases, wrong=set())
    for stopped in (set(), later):
        wrong = graded(gradekit, questions, cases, wrong=later, stopped=stopped)
        assert wrong["score"] < right["score"], "the two submissions should score differently"
        assert student_view(wrong, False) == student_view(right, False), \
            f"before the due date a student can tell the knowledge check's result:\n" \
            f"{student_view(wrong, False)}\n---\n{student_view(right, False)}"
        assert student_view(wrong, True) != student_view(right, True), \
            "after the due date the knowledge check's result should be shown"
    for test in right["tests"]:
        if test["name"].split(":")[0] in later:
            assert test["visibility"] == "after_due_date", test
