"""Run otter's test files in the trusted process against a sandboxed submission.

The test files are exactly the ones in the autograder zip (``tests/*.py``), loaded with
otter's own ``ExceptionTestFile``. Each test case is called with the student's names bound to
``sandbox.Remote`` proxies, so student code runs in the worker while every assertion runs
here. A test case passes only if it returns without raising.

All public test cases run before any hidden one, so nothing student code sees during a hidden
test (its inputs, values derived from the expected ones) can reach the full output of a public
test; what a student sees of a hidden test is its pass/fail and the test author's fixed
failure message (``safe_message``). The notebook's cells ran before
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

from .sandbox import HIDDEN_STOPPED, Session, StudentError, StudentTimeout, WorkerDied

_UNDEFINED = re.compile(r"`([A-Za-z_]\w*)` is not defined")
# What a student sees for a hidden test that failed because their code raised an exception
# on its inputs: one fixed sentence, never the exception's type or text (student code chose
# them, and they may hold the hidden inputs).
HIDDEN_RAISED = ("this hidden test failed because your code raised an exception on the "
                 "test's inputs: make sure it works for every shape its docstring allows")
_FAILED = {"error": "raised an error", "timeout": "hit its time limit",
           "crashed": "stopped the grading process", "skipped": "did not run"}


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
    mistake: str | None = None        # the id of the mistake the check named (instructors)
    mistake_title: str | None = None


class StudentEnvironment:
    """The mapping otter's ``test_case.call_func`` reads argument values from."""

    def __init__(self, session: Session):
        self.session = session

    def get(self, name: str, default=None):
        try:
            value = self.session.lookup(name)
        except (StudentTimeout, WorkerDied):
            raise   # a time budget used up is a timeout, never a missing name
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


def failed_definition(message: str, session: Session) -> str:
    """For a check's "`X` is not defined", the cell that defines ``X`` at top level if that cell
    failed (a syntax error, say): the sentence to show instead. Otherwise ""."""
    match = _UNDEFINED.match(message)
    if not match:
        return ""
    name = match.group(1)
    defines = re.compile(rf"^(?:(?:async\s+)?def|class)\s+{name}\b|^{name}\s*(?::[^=\n]*)?=(?!=)",
                         re.MULTILINE)
    failed = {o.number: o.status for o in session.outcomes if o.status in _FAILED}
    for number in reversed([n for n in session.cells if n in failed]):
        if defines.search(session.cells[number]):
            return (f"`{name}` is not defined because cell {number}, which defines it, "
                    f"{_FAILED[failed[number]]}: fix that cell first (the cells that failed are "
                    "listed at the top of your results).")
    return ""


def describe_failure(exc: BaseException, failure_message: str | None, check_failed: type,
                     session: Session | None = None) -> tuple[str, str]:
    """(full message, message safe for a hidden test) for a failing test case.

    The safe message is fixed text: the test author's failure message, for any time limit
    or stopped worker the grader's one sentence (``HIDDEN_STOPPED``), and for an exception
    raised by student code another (``HIDDEN_RAISED``). Nothing student code chose (a number,
    an exception name or text, a cell or line, which limit it hit or how it stopped, which
    mistake its values match) is in it.
    """
    fallback = failure_message or "this hidden test failed"
    if isinstance(exc, (StudentTimeout, WorkerDied)):
        return str(exc), HIDDEN_STOPPED
    if isinstance(exc, StudentError):
        return str(exc), HIDDEN_RAISED
    if isinstance(exc, check_failed):
        because = failed_definition(str(exc), session) if session else ""
        if because:
            return because, because
        if getattr(exc, "student_raised", False):
            return str(exc), HIDDEN_RAISED
        return str(exc), fallback
    detail = f"{type(exc).__name__}: {exc}"
    return f"{fallback}\n  ({detail})", fallback


def _run_case(test_file, case, env: StudentEnvironment, session: Session,
              check_failed: type) -> CaseResult:
    start = time.perf_counter()
    timed_out = crashed = False
    mistake = title = None
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
        mistake = getattr(exc, "mistake", None) if isinstance(exc, check_failed) else None
        title = getattr(exc, "mistake_title", None) if mistake else None
    return CaseResult(
        question=test_file.name, name=case.name, hidden=bool(case.hidden),
        points=float(case.points or 0), passed=passed, message=message.strip(),
        safe_message=safe.strip(), seconds=time.perf_counter() - start,
        timed_out=timed_out, crashed=crashed, mistake=mistake, mistake_title=title)


def _bare_package(name: str):
    """Package ``name`` registered with its real ``__path__`` but its ``__init__`` not run."""
    if name not in sys.modules:
        spec = importlib.util.find_spec(name)
        sys.modules[name] = importlib.util.module_from_spec(spec)  # not yet executed
    return sys.modules[name]


def _load_exception_test_file() -> type:
    """otter's ``ExceptionTestFile`` without running ``otter/__init__.py`` or
    ``otter/test_files/__init__.py``.

    The first imports otter's API, exporters, nbconvert and pandas (about 0.9 s and 80 MB,
    kept for the whole grading); the second every other test format and ``otter.utils``, which
    import nbformat, jsonschema, IPython and PyYAML (about 0.4 s). Exception-based test files
    need only ``exception_test`` (standard library alone) and its ``test_case``, which they
    import from ``otter.test_files``: bare packages with the real ``__path__`` load the same
    otter code and nothing else.
    """
    _bare_package("otter")
    test_files = _bare_package("otter.test_files")
    from otter.test_files.exception_test import ExceptionTestFile, test_case
    for name, value in (("test_case", test_case), ("ExceptionTestFile", ExceptionTestFile)):
        if not hasattr(test_files, name):
            setattr(test_files, name, value)   # what test files (and the kit's tests) import
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
        test_file, case = cases[i]
        results[i] = _run_case(test_file, case, env, session, check_failed)
    return [results[i] for i in range(len(cases))]
