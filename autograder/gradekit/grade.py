"""Grade one submission and write a Gradescope ``results.json``. Never raises for bad input.

Layout (Gradescope's; simulated in a temporary root for local grading):

    ROOT/source/        the autograder zip's contents (tests/, files/, gradekit/, ...)
    ROOT/submission/    the student's upload
    ROOT/results/       results.json is written here

Stages: read the notebook (``submission``); run every test file in the trusted process against
the sandboxed code (``sandbox`` + ``verify``) -- this decides the score; scan for tampering
(``scan``); write results (``results``).

Usage: python -m gradekit.grade [--root /autograder]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from . import results, scan, submission
from .isolation import IsolationUnavailable, Limits, detect
from .sandbox import Session
from .verify import run_tests

def _trusted_imports(source: Path):
    """The kit's own checks (``gradekit.checks``); the support code they build networks with
    from the autograder source's ``files/`` (never from the submission)."""
    files = str(source / "files")
    if files not in sys.path:
        sys.path.insert(0, files)
    from . import checks

    return checks


def grade(root: Path, *, limits: Limits | None = None,
          extra_hidden: list[str] | None = None) -> dict:
    """Grade ``root/submission`` with ``root/source``; write and return the results dict.

    Always writes a valid results.json: a failure of the grader itself is reported as the
    status "error" with the reason, never as a missing file.
    """
    start = time.perf_counter()
    limits = limits or Limits.from_env()
    source, out_dir = root / "source", root / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    questions = json.loads((source / "questions.json").read_text())
    report = results.Report(questions)
    try:
        _grade_into(report, root, limits, extra_hidden or [])
    except Exception as exc:  # noqa: BLE001 - a grader bug must still give a valid result
        report.fail_submission("the grader failed on this submission; your instructor has "
                               "been told")
        report.internal.append(f"internal error: {type(exc).__name__}: {str(exc)[:300]}")
    return report.write(out_dir / "results.json", time.perf_counter() - start)


def _grade_into(report: results.Report, root: Path, limits: Limits,
                extra_hidden: list[str]) -> None:
    source = root / "source"
    checklib = _trusted_imports(source)
    report.grading_secret = checklib.draws.new_grading_secret()   # q6's run: checks/draws.py
    hidden_roots = [str(source), str(root), *extra_hidden]
    if os.geteuid() == 0:
        os.chmod(source, 0o700)   # no other user may read the tests or the reference
        os.chmod(root / "results", 0o700)   # nor the results
    try:
        isolation = detect(hidden_roots, limits)
    except IsolationUnavailable as exc:
        report.isolation = "unavailable"
        report.fail_submission("the grader could not isolate student code; your instructor "
                               "has been told")
        report.internal.append(f"isolation: {exc}")
        return
    report.isolation, report.isolation_why = isolation.level, isolation.why
    report.isolation_uid = isolation.uid
    try:
        _grade_with(report, root, isolation, checklib, hidden_roots, limits)
    finally:
        isolation.close()


def _grade_with(report: results.Report, root: Path, isolation, checklib,
                hidden_roots: list[str], limits: Limits) -> None:
    source = root / "source"
    try:
        nb_path = submission.find_notebook(root / "submission")
        sub = submission.load(nb_path)
    except submission.SubmissionError as exc:
        report.fail_submission(str(exc))
        return
    report.notes.extend(sub.notes)
    report.flags.extend(scan.suspicious(sub.cells))
    record_graded_code(root / "results", sub)

    warm = submission.imported_modules(sub.code_cells)
    support = json.loads((source / "support_files.json").read_text())   # written by the build
    session = Session(sub.cells, [source / "files" / f for f in support],
                      hidden_roots, isolation, limits, warm,
                      policy=os.environ.get("BACKPROP_TEST_WITHOUT_POLICY") != "1")
    try:
        session.start()
        report.cells = list(session.outcomes)
        report.cases = run_tests(sorted((source / "tests").glob("*.py")), session,
                                 checklib.CheckFailed)
    except RuntimeError as exc:
        report.cells = report.cells or list(session.outcomes)
        report.notes.append(f"grading stopped early: {exc}")
    finally:
        report.restarts = session.restarts
        session.stop()
        report.add_violations(session.violations, "policy report")


GRADED_CODE = "graded_code.json"


def record_graded_code(out_dir: Path, sub: submission.Submission) -> None:
    """The code cells graded, beside results.json, for the class report's similarity check
    (it reads this record, never the upload again). Gradescope reads only results.json."""
    record = {"notebook": sub.path.name, "cells": {str(n): c for n, c in sub.cells.items()}}
    (out_dir / GRADED_CODE).write_bytes(
        json.dumps(record, ensure_ascii=False).encode("utf-8", "replace"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT",
                                                                         "/autograder")))
    args = parser.parse_args(argv)
    data = grade(args.root.resolve())
    print(f"score {data['score']:g} / {data['extra_data']['max_score']:g} "
          f"({data['extra_data']['status']})")


if __name__ == "__main__":
    main()
