"""The trusted side of the sandbox: start a worker, run cells, call student code remotely.

``Sandbox`` owns one worker process (see ``worker.py``). Student objects come back as
``Remote`` proxies: calling one, reading or setting an attribute or indexing it sends a
request; plain results (numbers, strings, numpy arrays...) come back as fresh local copies.
Test code therefore reads exactly like in-notebook test code, while every comparison runs
here, out of the student's reach.

Limits (``isolation.Limits``): each request has a soft time limit (an exception inside student
code) and a hard one (the worker is killed), shortened to what is left of the test case's and
the submission's time budgets. A dead or killed worker is restarted by ``Session`` and the
notebook's cells are replayed, skipping any cell that killed or hung it or ran out of memory.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np

from . import policy, wire
from .isolation import Isolation, Limits, memory_limit_text, sandbox_env

HERE = Path(__file__).resolve().parent
WORKER_MODULES = ("__init__.py", "wire.py", "policy.py", "worker.py")


class StudentError(Exception):
    """Student code raised; ``type_name`` and ``detail`` describe it (``detail`` may hold data).

    Never shown for a hidden test: there a failure is the test author's fixed text, and a time
    limit or a stopped worker is ``HIDDEN_STOPPED`` (see ``verify.describe_failure``).
    """

    def __init__(self, type_name: str, detail: str, line: str = ""):
        self.type_name, self.detail, self.line = type_name, detail, line
        where = f" ({line})" if line else ""
        super().__init__(f"your code raised {type_name}{where}: {detail}" if detail
                         else f"your code raised {type_name}{where}")


class StudentTimeout(StudentError):
    def __init__(self, seconds: float, what: str = "one call into your code"):
        super().__init__("Timeout", f"it did not finish within {seconds:g} s, the time limit "
                                    f"for {what} (an endless loop?)")
        self.seconds = seconds


class WorkerDied(StudentError):
    def __init__(self, why: str):
        super().__init__("WorkerDied", why)


# What a student sees for a hidden test that hit any time limit or stopped the worker in any
# way: one sentence, so student code cannot signal a hidden input by how it stops.
HIDDEN_STOPPED = ("this hidden test did not finish: your code hit a time limit or stopped "
                  "the grading process")


# How a call with its own time limit is named in a timeout (checks recognise it).
OWN_LIMIT = "a call with its own time limit"

class Remote:
    """A student object living in the worker. Attribute and item access go over the wire."""

    __slots__ = ("_sandbox", "_id", "_type")

    def __init__(self, sandbox: "Sandbox", ref_id: int, type_name: str):
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_id", ref_id)
        object.__setattr__(self, "_type", type_name)

    def remote_type_name(self) -> str:
        """The student object's type name."""
        return self._type.rsplit(".", 1)[-1]

    def __call__(self, *args, **kwargs):
        return self._sandbox.request({"op": "call", "ref": self._id}, args=args, kwargs=kwargs)

    def call_limited(self, seconds: float, *args):
        """``self(*args)`` with its own time limit of ``seconds`` (at most one call's)."""
        return self._sandbox.request({"op": "call", "ref": self._id},
                                     timeout=min(seconds, self._sandbox.limits.call_seconds),
                                     what=OWN_LIMIT, args=args, kwargs={})

    def call_many(self, calls: list[tuple]) -> list:
        """``[self(*args) for args in calls]`` in one round trip (each call still has the time
        limit of one call); the first exception stops the run and is raised as for one call."""
        n = len(calls)
        return self._sandbox.request({"op": "call_many", "ref": self._id},
                                     timeout=self._sandbox.limits.call_seconds * n,
                                     what=f"{n} calls into your code",
                                     calls=[list(args) for args in calls])

    def kit_function(self, name: str):
        """The kit's function ``name`` (``worker.KIT_FUNCTIONS``), run in this worker."""
        sandbox = self._sandbox
        return lambda *args: sandbox.request({"op": "kit_call", "name": name}, args=args)

    def __getattr__(self, name: str):
        if name.startswith("__"):
            raise AttributeError(name)
        return self._sandbox.request({"op": "getattr", "ref": self._id, "name": name})

    def __setattr__(self, name: str, value) -> None:
        self._sandbox.request({"op": "setattr", "ref": self._id, "name": name}, value=value)

    def __getitem__(self, key):
        return self._sandbox.request({"op": "getitem", "ref": self._id}, key=key)

    def __len__(self) -> int:
        n = self._sandbox.request({"op": "len", "ref": self._id})
        if type(n) is not int or n < 0:
            raise TypeError("len() of a student object did not return a count")
        return n

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]

    def __repr__(self) -> str:
        return f"<student {self.remote_type_name()}>"

    def __bool__(self) -> bool:
        return True

    def __eq__(self, other) -> bool:
        return self is other

    def __hash__(self) -> int:
        return id(self)


class Sandbox:
    """One worker process and the channel to it."""

    def __init__(self, kit: Path, isolation: Isolation, hidden_roots: Sequence[str],
                 limits: Limits, warm: Sequence[str] = (), policy: bool = True):
        self.isolation, self.limits = isolation, limits
        self.violations: list[dict] = []
        self._audit_rest = b""
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._audit_r, audit_w = os.pipe()
        os.set_blocking(self._audit_r, False)
        workdir, grader_dir = isolation.paths(kit)
        config = {"workdir": workdir, "hidden_roots": list(hidden_roots), "warm": list(warm),
                  "uid": isolation.worker_user(), "processes": limits.processes,
                  "kit": isolation.kit_copy(),
                  "policy": policy}
        bootstrap = (f"import sys; sys.path.insert(0, {grader_dir!r}); "
                     "from gradekit.worker import main; main()")
        self.proc = isolation.popen(
            [sys.executable, "-I", "-B", "-c", bootstrap, str(req_r), str(resp_w), str(audit_w),
             json.dumps(config)], kit, limits, sandbox_env(workdir), (req_r, resp_w, audit_w))
        for fd in (req_r, resp_w, audit_w):
            os.close(fd)
        self.alive = True
        self.over_cap: int | None = None   # bytes written when the disk guard ended it
        self._guard = isolation.guard(kit, limits, self._stop_process, self._exceeded)
        if self._guard is not None:
            self._guard.start()

    def _exceeded(self, used: int) -> None:
        self.over_cap = used

    def _stop_process(self) -> None:
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass

    # -- transport -------------------------------------------------------
    def _to_node(self, value, blobs):
        # a lambda, not a function that names itself: that would be a reference cycle holding
        # ``blobs`` (megabytes per MNIST request) until the garbage collector's next full pass
        return wire.encode(value, blobs, lambda obj: self._to_ref(obj, blobs))

    def _to_ref(self, obj, blobs):
        if isinstance(obj, Remote):
            if obj._sandbox is not self:
                raise WorkerDied("a value from an earlier worker was reused")
            return {"$ref": obj._id, "type": obj._type}
        if isinstance(obj, np.random.Generator):
            return {"$rng": obj.bit_generator.state}
        if type(obj).__module__ == "backprop_support" and hasattr(obj, "wire_state"):
            # a kit object the check built (an MLP around its own layers): rebuilt in the
            # worker from its plain state, so no student class decides its structure
            return {"$kit": type(obj).__name__, "state": self._to_node(obj.wire_state(), blobs)}
        raise TypeError(f"cannot send {type(obj).__name__} to student code")

    def request(self, message: dict, *, timeout: float | None = None,
                what: str = "one call into your code", **values):
        """Send one request; return the decoded value or raise ``StudentError``.

        The soft limit is ``timeout`` (default: ``call_seconds``), shortened to what is left of
        the current time budget (``budget()``: end, length and name of the budget, or None).
        """
        if not self.alive:
            raise WorkerDied("the worker is no longer running")
        soft = self.limits.call_seconds if timeout is None else timeout
        budget = self.budget()
        if budget is not None:
            end, seconds, budget_what = budget
            left = end - time.monotonic()
            if left <= soft:
                if left <= 0.05:
                    raise StudentTimeout(seconds, budget_what)
                soft, reported, what = left, seconds, budget_what
            else:
                reported = soft
        else:
            reported = soft
        blobs: list[bytes] = []
        for key, value in values.items():
            message[key] = self._to_node(value, blobs)
        message["timeout"] = soft
        deadline = time.monotonic() + soft + self.limits.grace_seconds

        def wait() -> None:
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    self.kill()
                    raise StudentTimeout(reported, what)
                ready, _, _ = select.select([self._resp_r], [], [], min(left, 1.0))
                if ready:
                    return

        try:
            wire.write_frame(self._req_w, wire.pack(message, blobs))
            header, reply_blobs = wire.unpack(wire.read_frame(self._resp_r, wait))
        except (EOFError, BrokenPipeError, OSError) as exc:
            death = self._death(exc)   # before killing, so that its own exit status is read
            self.kill()
            raise death from None
        except wire.WireError as exc:
            self.kill()
            raise WorkerDied(f"it sent a malformed reply ({exc})") from None
        finally:
            self.drain_audit()
        if "error" in header:
            err = header["error"] if isinstance(header["error"], dict) else {}
            kind = str(err.get("type", "Error"))[:100]
            if kind == "Timeout":
                raise StudentTimeout(reported, what)
            if kind == "MemoryError":
                raise StudentError(kind, f"it ran out of memory ({memory_limit_text(self.limits)})",
                                   str(err.get("line", ""))[:80])
            detail, line = str(err.get("message", ""))[:2000], str(err.get("line", ""))[:80]
            raise StudentError(kind, detail, line)
        value = header.get("value")
        if isinstance(value, dict) and value.get("$missing") is True:
            return MISSING
        try:
            return wire.decode(value, reply_blobs, lambda i, t: Remote(self, i, t))
        except (wire.WireError, KeyError, ValueError, TypeError, RecursionError) as exc:
            raise StudentError("BadValue",
                               f"it returned a value the grader cannot read ({exc})") from None

    def budget(self) -> tuple[float, float, str] | None:
        """The time budget requests are bounded by; ``Session`` replaces this."""
        return None

    def _death(self, exc: Exception) -> WorkerDied:
        """Why the worker stopped (never shown for a hidden test: ``HIDDEN_STOPPED`` is)."""
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return WorkerDied(f"the worker stopped answering ({type(exc).__name__})")
        if self.over_cap is not None:
            return WorkerDied(f"it wrote more than {self.limits.work_bytes >> 20} MB to disk "
                              f"(the cap on its work directory; {self.over_cap >> 20} MB seen)")
        if self.isolation.level == "namespaces" and code > 128:
            code = 128 - code   # bwrap exits with 128 + the signal that killed the worker
        if code == policy.REPORT_CHANNEL_BROKEN:
            self.violations.append({"kind": "tampered with the grader's report channel",
                                    "detail": "the worker's violation reports were blocked"})
            return WorkerDied("it did something not allowed while grading and blocked the "
                              "grader's reports")
        if code < 0:
            try:
                sig = signal.Signals(-code).name
            except ValueError:
                sig = f"signal {-code}"
            if sig == "SIGXCPU":
                return WorkerDied("it used up its CPU time limit")
            if sig in ("SIGKILL", "SIGSEGV", "SIGABRT", "SIGBUS"):
                return WorkerDied(f"the process was killed by {sig}: out of memory "
                                  f"({memory_limit_text(self.limits)}) or a crash")
            return WorkerDied(f"the process was killed by {sig}")
        return WorkerDied(f"the process exited with code {code} (sys.exit or os._exit?)")

    def drain_audit(self) -> None:
        """Collect violation reports from the worker (at most 1 MB per call)."""
        chunks = []
        for _ in range(16):
            try:
                data = os.read(self._audit_r, 1 << 16)
            except (BlockingIOError, OSError):
                break
            if not data:
                break
            chunks.append(data)
        data = self._audit_rest + b"".join(chunks)
        complete, _, self._audit_rest = data.rpartition(b"\n")
        self._audit_rest = self._audit_rest[-4096:]
        for event in policy.read_reports(complete):
            if len(self.violations) < 50 and event not in self.violations:
                self.violations.append(event)

    def kill(self) -> None:
        if self._guard is not None:
            self._guard.stop()
        if self.alive:
            self.alive = False
            self._stop_process()
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
            self.isolation.clean_up()
        for fd in (self._req_w, self._resp_r):
            try:
                os.close(fd)
            except OSError:
                pass

    def close(self) -> None:
        self.drain_audit()
        self.kill()
        try:
            os.close(self._audit_r)
        except OSError:
            pass


class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


@dataclass
class CellOutcome:
    number: int            # "cell N", as a student sees it (see submission.py)
    status: str            # ok | error | timeout | crashed | skipped
    message: str = ""


@dataclass
class Session:
    """A submission's code, loaded into a worker that is restarted when it dies.

    ``cells`` are the code cells to run (already filtered), by their number as a student sees
    it (``submission.Submission.cells``). ``support_files`` are copied into a
    fresh working directory (the student's own copy of the kit and the data),
    and the worker runs at ``isolation``'s level.
    """

    cells: dict[int, str]
    support_files: Sequence[Path]
    hidden_roots: Sequence[str]
    isolation: Isolation
    limits: Limits = field(default_factory=Limits)
    warm: Sequence[str] = ()       # modules to import before the policy (see policy.py)
    policy: bool = True            # install the in-process policy (off only in the kit's tests)
    sandbox: Sandbox | None = None
    outcomes: list[CellOutcome] = field(default_factory=list)
    fatal_cells: set[int] = field(default_factory=set)
    violations: list[dict] = field(default_factory=list)
    restarts: int = 0
    _tmp: tempfile.TemporaryDirectory | None = None
    _total_end: float | None = None
    _case_end: float | None = None

    # -- time budgets ------------------------------------------------------
    def budget(self) -> tuple[float, float, str] | None:
        """The tighter of the current test case's budget and the whole submission's."""
        if self._total_end is None:
            self._total_end = time.monotonic() + self.limits.total_seconds
        total = (self._total_end, self.limits.total_seconds,
                 "running your whole notebook and all tests")
        if self._case_end is not None and self._case_end < self._total_end:
            return (self._case_end, self.limits.case_seconds, "all calls made by one test")
        return total

    @contextmanager
    def case_budget(self):
        """Bound every request made inside the block by ``limits.case_seconds`` in total."""
        self._case_end = time.monotonic() + self.limits.case_seconds
        try:
            yield
        finally:
            self._case_end = None

    # -- the worker --------------------------------------------------------
    def start(self) -> None:
        """(Re)start the worker and run every cell that has not killed a worker before."""
        self.stop()
        self._tmp = tempfile.TemporaryDirectory(prefix="backprop-worker-")
        kit = Path(self._tmp.name)
        (kit / "work").mkdir()
        (kit / "gradekit").mkdir()
        for f in self.support_files:
            shutil.copy(f, kit / "work" / f.name)
        for name in WORKER_MODULES:
            shutil.copy(HERE / name, kit / "gradekit" / name)
        for path in [kit, *kit.rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
        self.sandbox = Sandbox(kit, self.isolation, self.hidden_roots, self.limits, self.warm,
                               self.policy)
        self.sandbox.budget = self.budget
        self.outcomes = []
        for number, source in self.cells.items():
            if number in self.fatal_cells:
                self.outcomes.append(CellOutcome(number, "skipped", "skipped: it stopped the "
                                                 "worker in an earlier run"))
                continue
            try:
                self.sandbox.request({"op": "exec", "cell": number},
                                     timeout=self.limits.cell_seconds, what="one notebook cell",
                                     source=source)
                self.outcomes.append(CellOutcome(number, "ok"))
            except StudentTimeout as exc:
                self.outcomes.append(CellOutcome(number, "timeout", str(exc)))
                if not self.sandbox.alive:
                    return self._restart_without(number)
            except WorkerDied as exc:
                self.outcomes.append(CellOutcome(number, "crashed", str(exc)))
                return self._restart_without(number)
            except StudentError as exc:
                self.outcomes.append(CellOutcome(number, "error", str(exc)))
                if exc.type_name == "MemoryError":   # what it holds would starve the tests
                    return self._restart_without(number)

    def _restart_without(self, number: int) -> None:
        self.fatal_cells.add(number)
        self.restarts += 1
        if self.restarts > len(self.cells) + 2:
            raise RuntimeError("the worker keeps dying")
        previous = list(self.outcomes)
        self.start()
        # keep the record of what happened to the fatal cell
        for i, outcome in enumerate(self.outcomes):
            if outcome.number in self.fatal_cells and outcome.status == "skipped":
                earlier = next((p for p in previous if p.number == outcome.number), None)
                if earlier is not None:
                    self.outcomes[i] = earlier

    def ensure_running(self) -> None:
        """Restart a dead worker (cells replayed); what is reported for the cells is kept."""
        if self.sandbox is None or not self.sandbox.alive:
            self.restarts += 1
            if self.restarts > len(self.cells) + 8:
                raise RuntimeError("the worker keeps dying")
            self.collect_violations()
            fatal, outcomes = set(self.fatal_cells), list(self.outcomes)
            self.start()
            self.fatal_cells |= fatal
            self.outcomes = outcomes

    def lookup(self, name: str):
        """A student global as a proxy (or plain value); ``None`` when it is not defined."""
        self.ensure_running()
        value = self.sandbox.request({"op": "global", "name": name})
        return None if value is MISSING else value

    def collect_violations(self) -> None:
        if self.sandbox is not None:
            self.sandbox.drain_audit()
            for v in self.sandbox.violations:
                if v not in self.violations:
                    self.violations.append(v)
            self.sandbox.violations = []

    def stop(self) -> None:
        if self.sandbox is not None:
            self.collect_violations()
            self.sandbox.close()
            self.sandbox = None
        if self._tmp is not None:
            try:
                self._tmp.cleanup()
            except OSError:
                pass
            self._tmp = None
