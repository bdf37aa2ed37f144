"""Run otter's test files in the trusted process against a sandboxed submission.

The test files are exactly the ones in the autograder zip (``tests/q*.py``), loaded with
otter's own ``ExceptionTestFile``. Each test case is called with the student's names bound to
``sandbox.Remote`` proxies, so student code runs in the worker while every assertion runs
here. A test case passes only if it returns without raising.

All public test cases run before any hidden one, so nothing student code sees during a hidden
test (its inputs, values derived from the expected ones) can reach the full output of a public
test; what a student sees of a hidden test is its pass/fail and a one-line message that holds
nothing the test or student code chose (``safe_message``). The notebook's cells ran before
either, and a worker restarted during the tests does not change what is reported for them.
"""

from __future__ import annotations

import importlib.util
import re
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .sandbox import Session, StudentError, StudentTimeout, WorkerDied

_PLACE = re.compile(r"cell \d+, line \d+")
_NUMBER = re.compile(r"(?<![\w\[.])[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?")


@dataclass
class CaseResult:
    question: str
    name: str
    hidden: bool
    points: float
    passed: bool
    message: str           # full message (public tests show it; instructors see it)
    safe_message: str      # what a student may see for a hidden test
    seconds: float
    timed_out: bool = False
    crashed: bool = False


class StudentEnvironment:
    """The mapping otter's ``test_case.call_func`` reads argument values from."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, name: str, default=None):
        try:
            value = self.session.lookup(name)
        except StudentError:
            return default
        return default if value is None else value

    def __getitem__(self, name: str):
        value = self.get(name)
        if value is None:
            raise KeyError(name)
        return value

    def __contains__(self, name: str) -> bool:
        return self.get(name) is not None


def without_numbers(text: str) -> str:
    """``text`` with every number replaced by "…" (keeps names such as ``layers[0]`` and the
    notebook cell and line an error came from, which the grader has checked)."""
    places = _PLACE.findall(text)
    masked = _NUMBER.sub("…", _PLACE.sub("\0", text))
    for place in places:
        masked = masked.replace("\0", place, 1)
    return masked


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0][:300] if text.strip() else ""


def describe_failure(exc: BaseException, failure_message: str | None, check_failed: type,
                     session: Session) -> tuple[str, str]:
    """(full message, message safe for a hidden test) for a failing test case.

    The safe message holds nothing student code or the hidden test chose: for student errors
    only a built-in exception name and a verified cell/line, for failed checks the first line
    with its numbers masked, otherwise the test's own failure message.
    """
    fallback = failure_message or "this hidden test failed"
    if isinstance(exc, StudentError):
        where = session.safe_where(exc.line)
        return str(exc), exc.safe + (f" ({where})" if where else "")
    if isinstance(exc, check_failed):
        return str(exc), without_numbers(_first_line(str(exc))) or fallback
    detail = f"{type(exc).__name__}: {exc}"
    return f"{fallback}\n  ({detail})", fallback


def _run_case(test_file, case, env: StudentEnvironment, session: Session,
              check_failed: type) -> CaseResult:
    start = time.perf_counter()
    timed_out = crashed = False
    try:
        with session.case_budget():
            session.ensure_running()
            case.body.call_func(env)
        passed, message, safe = True, "passed", "passed"
    except Exception as exc:  # noqa: BLE001 - any failure fails the case
        passed = False
        message, safe = describe_failure(exc, case.failure_message, check_failed, session)
        if not isinstance(exc, (StudentError, check_failed, AssertionError)):
            message += "\n" + "".join(traceback.format_exception_only(type(exc), exc))
        timed_out, crashed = isinstance(exc, StudentTimeout), isinstance(exc, WorkerDied)
    return CaseResult(
        question=test_file.name, name=case.name, hidden=bool(case.hidden),
        points=float(case.points or 0), passed=passed, message=message.strip(),
        safe_message=safe.strip(), seconds=time.perf_counter() - start,
        timed_out=timed_out, crashed=crashed)


def _load_exception_test_file() -> type:
    """otter's ``ExceptionTestFile`` without running ``otter/__init__.py``.

    That ``__init__`` imports otter's API, exporters, nbconvert and pandas (about 0.9 s and
    80 MB, kept for the whole grading) although test files need none of them. Registering a
    bare ``otter`` package (same ``__path__``) first loads the same ``otter.test_files`` code
    in a fraction of that.
    """
    if "otter" not in sys.modules:
        spec = importlib.util.find_spec("otter")
        package = importlib.util.module_from_spec(spec)  # the module, not yet executed
        sys.modules["otter"] = package
    from otter.test_files import ExceptionTestFile
    return ExceptionTestFile


def run_tests(test_paths: list[Path], session: Session, check_failed: type) -> list[CaseResult]:
    """Run every case of every test file, all public cases first, then the hidden ones.

    Returns results in test-file order; never raises for anything student code does.
    """
    ExceptionTestFile = _load_exception_test_file()
    env = StudentEnvironment(session)
    cases = []
    for path in sorted(test_paths):
        test_file = ExceptionTestFile.from_file(str(path))
        cases += [(test_file, case) for case in test_file.test_cases]
    results: dict[int, CaseResult] = {}
    public = [i for i, (_, case) in enumerate(cases) if not case.hidden]
    hidden = [i for i, (_, case) in enumerate(cases) if case.hidden]
    for i in public + hidden:
        if i == (hidden or [None])[0]:
            session.start_hidden_phase()
        test_file, case = cases[i]
        results[i] = _run_case(test_file, case, env, session, check_failed)
    return [results[i] for i in range(len(cases))]
