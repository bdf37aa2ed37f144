"""Grade one submission and write a Gradescope ``results.json``. Never raises for bad input.

Layout (Gradescope's; simulated in a temporary root for local grading):

    ROOT/source/        the autograder zip's contents (tests/, files/, gradekit/, ...)
    ROOT/submission/    the student's upload
    ROOT/results/       results.json is written here

Stages: read the notebook (``submission``); run every test file in the trusted process against
the sandboxed code (``sandbox`` + ``verify``) -- this decides the score; run ``otter run``
contained (``otter_stage``) to cross-check; scan for tampering (``scan``); write results
(``results``).

Usage: python -m gradekit.grade [--root /autograder] [--no-otter]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path

from . import otter_stage, results, scan, submission
from .sandbox import Limits, Session, sandbox_user
from .verify import run_tests

SUPPORT_FILES = ("backprop_support.py", "checklib.py", "mnist.npz")


def _trusted_imports(source: Path):
    """Import the kit's own checks from the autograder source (never from the submission)."""
    files = str(source / "files")
    if files not in sys.path:
        sys.path.insert(0, files)
    import checklib

    return checklib


def _zip_of(source: Path, into: Path) -> Path:
    """otter run wants a zip: rebuild one from the unpacked source (stored, fast)."""
    zip_path = into / "autograder.zip"
    with zipfile.ZipFile(zip_path, "w", compression=zipfile.ZIP_STORED) as zf:
        for path in sorted(source.rglob("*")):
            if path.is_file() and "__pycache__" not in path.parts:
                zf.write(path, path.relative_to(source).as_posix())
    return zip_path


def grade(root: Path, *, run_otter: bool = True, limits: Limits | None = None,
          extra_hidden: list[str] | None = None) -> dict:
    """Grade ``root/submission`` with ``root/source``; write and return the results dict."""
    start = time.perf_counter()
    limits = limits or Limits()
    source, out_dir = root / "source", root / "results"
    out_dir.mkdir(parents=True, exist_ok=True)
    questions = json.loads((source / "questions.json").read_text())
    checklib = _trusted_imports(source)
    hidden_roots = [str(source), *(extra_hidden or [])]
    report = results.Report(questions)
    report.sandboxed_as_user = sandbox_user() is not None
    try:
        nb_path = submission.find_notebook(root / "submission")
        sub = submission.load(nb_path)
    except submission.SubmissionError as exc:
        report.fail_submission(str(exc))
        return report.write(out_dir / "results.json", time.perf_counter() - start)
    report.notes.extend(sub.notes)
    report.flags.extend(scan.suspicious(sub.code_cells))

    session = Session(sub.code_cells, [source / "files" / f for f in SUPPORT_FILES],
                      hidden_roots, limits)
    try:
        session.start()
        report.cells = list(session.outcomes)
        report.cases = run_tests(sorted((source / "tests").glob("*.py")), session,
                                 checklib.CheckFailed)
        report.restarts = session.restarts
    except RuntimeError as exc:
        report.notes.append(f"grading stopped early: {exc}")
    finally:
        session.stop()
        report.add_violations(session.violations, "tests")

    if run_otter:
        with tempfile.TemporaryDirectory(prefix="backprop-zip-") as tmp:
            zip_path = _zip_of(source, Path(tmp))
            nb = submission.normalised_for_otter(sub, otter_stage.KERNEL_NAME)
            report.otter = otter_stage.run(nb, zip_path, hidden_roots, limits)
        report.add_violations(report.otter.violations, "otter kernel")
    return report.write(out_dir / "results.json", time.perf_counter() - start)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path(os.environ.get("AUTOGRADER_ROOT",
                                                                         "/autograder")))
    parser.add_argument("--no-otter", action="store_true",
                        help="skip the otter cross-check (faster; scores are unchanged)")
    args = parser.parse_args(argv)
    data = grade(args.root, run_otter=not args.no_otter)
    print(f"score {data['score']:g} / {data['extra_data']['max_score']:g} "
          f"({data['extra_data']['status']})")


if __name__ == "__main__":
    main()
