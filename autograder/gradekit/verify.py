"""Run otter's test files in the trusted process against a sandboxed submission.

The test files are exactly the ones in the autograder zip (``tests/q*.py``), loaded with
otter's own ``ExceptionTestFile``. Each test case is called with the student's names bound to
``sandbox.Remote`` proxies, so student code runs in the worker while every assertion runs
here. A test case passes only if it returns without raising.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass
from pathlib import Path

from .sandbox import Session, StudentError, StudentTimeout, WorkerDied


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


def _first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else ""


def describe_failure(exc: BaseException, failure_message: str | None, check_failed: type,
                     hidden: bool) -> tuple[str, str]:
    """(full message, message safe for a hidden test) for a failing test case."""
    if isinstance(exc, (StudentTimeout, WorkerDied)):
        text = str(exc)
        return text, text
    if isinstance(exc, StudentError):
        where = f" ({exc.line})" if exc.line else ""
        safe = f"your code raised {exc.type_name}{where}"
        return str(exc), safe
    if isinstance(exc, check_failed):
        return str(exc), _first_line(str(exc))
    detail = f"{type(exc).__name__}: {exc}"
    fallback = failure_message or "this hidden test failed"
    return (detail if not hidden else f"{fallback}\n  ({detail})"), fallback


def run_tests(test_paths: list[Path], session: Session, check_failed: type) -> list[CaseResult]:
    """Run every case of every test file; never raises for anything student code does."""
    from otter.test_files import ExceptionTestFile

    env = StudentEnvironment(session)
    results: list[CaseResult] = []
    for path in sorted(test_paths):
        test_file = ExceptionTestFile.from_file(str(path))
        for case in test_file.test_cases:
            start = time.perf_counter()
            try:
                session.ensure_running()
                case.body.call_func(env)
                passed, message, safe = True, "passed", "passed"
            except Exception as exc:  # noqa: BLE001 - any failure fails the case
                passed = False
                message, safe = describe_failure(exc, case.failure_message, check_failed,
                                                 case.hidden)
                if not isinstance(exc, (StudentError, check_failed, AssertionError)):
                    message += "\n" + "".join(traceback.format_exception_only(type(exc), exc))
            results.append(CaseResult(
                question=test_file.name, name=case.name, hidden=bool(case.hidden),
                points=float(case.points or 0), passed=passed, message=message.strip(),
                safe_message=safe.strip(), seconds=time.perf_counter() - start))
    return results
