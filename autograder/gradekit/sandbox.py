"""The trusted side of the sandbox: start a worker, run cells, call student code remotely.

``Sandbox`` owns one worker process (see ``worker.py``). Student objects come back as
``Remote`` proxies: calling one, reading or setting an attribute or indexing it sends a
request; plain results (numbers, strings, numpy arrays...) come back as fresh local copies.
Test code therefore reads exactly like in-notebook test code, while every comparison runs
here, out of the student's reach.

Limits: each request has a soft time limit (an exception inside student code) and a hard
one (the worker is killed). A dead or killed worker is restarted by ``Session`` and the
notebook's cells are replayed, skipping any cell that killed or hung it.
"""

from __future__ import annotations

import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from . import wire

HERE = Path(__file__).resolve().parent
WORKER_MODULES = ("__init__.py", "wire.py", "policy.py", "worker.py")


class StudentError(Exception):
    """Student code raised; ``type_name`` and ``detail`` describe it (``detail`` may hold data)."""

    def __init__(self, type_name: str, detail: str, line: str = ""):
        self.type_name, self.detail, self.line = type_name, detail, line
        where = f" ({line})" if line else ""
        super().__init__(f"your code raised {type_name}{where}: {detail}" if detail
                         else f"your code raised {type_name}{where}")


class StudentTimeout(StudentError):
    def __init__(self, seconds: float):
        super().__init__("Timeout", f"it did not finish within {seconds:g} s (an endless loop?)")
        self.seconds = seconds


class WorkerDied(StudentError):
    def __init__(self, why: str):
        super().__init__("WorkerDied", why)


@dataclass
class Limits:
    """Resource limits for student code."""

    memory_bytes: int = 1536 * 2**20     # address space of the worker
    cpu_seconds: int = 600               # total CPU time of one worker
    file_bytes: int = 64 * 2**20         # largest file it may write
    cell_seconds: float = 60.0           # one notebook cell
    call_seconds: float = 30.0           # one call into student code
    grace_seconds: float = 5.0           # after a soft timeout, before the worker is killed


_USER_CACHE: dict[str, tuple[int, int] | None] = {}


def sandbox_user() -> tuple[int, int] | None:
    """(uid, gid) to run student code as when grading as root, else None.

    Only when that user can actually start this Python with numpy (on Gradescope the
    run script makes the interpreter reachable); otherwise the audit-hook policy alone
    guards the grader, and the report says so.
    """
    name = os.environ.get("BACKPROP_SANDBOX_USER", "nobody")
    if os.geteuid() != 0 or not name:
        return None
    if name not in _USER_CACHE:
        import pwd

        try:
            entry = pwd.getpwnam(name)
            user = (entry.pw_uid, entry.pw_gid)
        except KeyError:
            user = None
        if user is not None:
            def drop() -> None:
                os.setgroups([])
                os.setgid(user[1])
                os.setuid(user[0])
            try:
                probe = subprocess.run([sys.executable, "-I", "-c", "import numpy"], cwd="/",
                                       preexec_fn=drop, capture_output=True, timeout=60)
                user = user if probe.returncode == 0 else None
            except (OSError, subprocess.SubprocessError):
                user = None
        _USER_CACHE[name] = user
    return _USER_CACHE[name]


def limit_resources(limits: Limits, user: tuple[int, int] | None):
    """A ``preexec_fn`` applying ``limits`` (and dropping to ``user``) in the child."""
    def apply() -> None:
        os.setsid()
        resource.setrlimit(resource.RLIMIT_AS, (limits.memory_bytes, limits.memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (limits.cpu_seconds, limits.cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_FSIZE, (limits.file_bytes, limits.file_bytes))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        if user is not None:
            os.setgroups([])
            os.setgid(user[1])
            os.setuid(user[0])
    return apply


def sandbox_env(workdir: str) -> dict[str, str]:
    """A minimal environment: no secrets, one BLAS thread, matplotlib without a display."""
    keep = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(HOME=workdir, TMPDIR=workdir, MPLCONFIGDIR=workdir, MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               MALLOC_TRIM_THRESHOLD_="1073741824", MALLOC_MMAP_THRESHOLD_="33554432")
    return env


class Remote:
    """A student object living in the worker. Attribute and item access go over the wire."""

    __slots__ = ("_sandbox", "_id", "_type")

    def __init__(self, sandbox: "Sandbox", ref_id: int, type_name: str):
        object.__setattr__(self, "_sandbox", sandbox)
        object.__setattr__(self, "_id", ref_id)
        object.__setattr__(self, "_type", type_name)

    def remote_type_name(self) -> str:
        return self._type.rsplit(".", 1)[-1]

    def __call__(self, *args, **kwargs):
        return self._sandbox.request({"op": "call", "ref": self._id}, args=args, kwargs=kwargs)

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

    def __init__(self, workdir: Path, hidden_roots: Sequence[str], limits: Limits):
        self.workdir, self.limits = workdir, limits
        self.violations: list[dict] = []
        req_r, self._req_w = os.pipe()
        self._resp_r, resp_w = os.pipe()
        self._audit_r, audit_w = os.pipe()
        os.set_blocking(self._audit_r, False)
        support = workdir / ".sandbox" / "gradekit"
        support.mkdir(parents=True, exist_ok=True)
        for name in WORKER_MODULES:
            shutil.copy(HERE / name, support / name)
        user = sandbox_user()
        if user is not None:
            for path in [workdir, *workdir.rglob("*")]:
                os.chown(path, *user)
        config = {"workdir": str(workdir), "hidden_roots": list(hidden_roots)}
        bootstrap = (f"import sys; sys.path.insert(0, {str(support.parent)!r}); "
                     "from gradekit.worker import main; main()")
        self.proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", bootstrap, str(req_r), str(resp_w), str(audit_w),
             json.dumps(config)],
            cwd=workdir, env=sandbox_env(str(workdir)), pass_fds=(req_r, resp_w, audit_w),
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=limit_resources(limits, user))
        for fd in (req_r, resp_w, audit_w):
            os.close(fd)
        self.alive = True

    # -- transport -------------------------------------------------------
    def _to_node(self, value, blobs):
        def to_ref(obj):
            if isinstance(obj, Remote):
                if obj._sandbox is not self:
                    raise WorkerDied("a value from an earlier worker was reused")
                return {"$ref": obj._id, "type": obj._type}
            if isinstance(obj, np.random.Generator):
                return {"$rng": obj.bit_generator.state}
            raise TypeError(f"cannot send {type(obj).__name__} to student code")
        return wire.encode(value, blobs, to_ref)

    def request(self, message: dict, *, timeout: float | None = None, **values):
        """Send one request; return the decoded value or raise ``StudentError``."""
        if not self.alive:
            raise WorkerDied("the worker is no longer running")
        soft = self.limits.call_seconds if timeout is None else timeout
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
                    raise StudentTimeout(soft)
                ready, _, _ = select.select([self._resp_r], [], [], min(left, 1.0))
                if ready:
                    return

        try:
            wire.write_frame(self._req_w, wire.pack(message, blobs))
            header, reply_blobs = wire.unpack(wire.read_frame(self._resp_r, wait))
        except (EOFError, BrokenPipeError, OSError) as exc:
            self.kill()
            raise WorkerDied(self._death_reason(exc)) from None
        except wire.WireError as exc:
            self.kill()
            raise WorkerDied(f"it sent a malformed reply ({exc})") from None
        finally:
            self.drain_audit()
        if "error" in header:
            err = header["error"] if isinstance(header["error"], dict) else {}
            if err.get("type") == "Timeout":
                raise StudentTimeout(soft)
            raise StudentError(str(err.get("type", "Error"))[:100],
                               str(err.get("message", ""))[:2000], str(err.get("line", ""))[:80])
        value = header.get("value")
        if isinstance(value, dict) and value.get("$missing") is True:
            return MISSING
        try:
            return wire.decode(value, reply_blobs, lambda i, t: Remote(self, i, t))
        except (wire.WireError, KeyError, ValueError, TypeError) as exc:
            raise StudentError("BadValue", f"it returned a value the grader cannot read ({exc})")

    def _death_reason(self, exc: Exception) -> str:
        try:
            code = self.proc.wait(timeout=2)
        except subprocess.TimeoutExpired:
            return f"the worker stopped answering ({type(exc).__name__})"
        if code < 0:
            sig = signal.Signals(-code).name
            if sig == "SIGXCPU":
                return "it used up its CPU time limit"
            if sig in ("SIGKILL", "SIGSEGV", "SIGABRT"):
                return f"the process was killed by {sig} (out of memory or a crash?)"
            return f"the process was killed by {sig}"
        return f"the process exited with code {code} (sys.exit or os._exit?)"

    def drain_audit(self) -> None:
        try:
            data = os.read(self._audit_r, 1 << 16)
        except (BlockingIOError, OSError):
            return
        for line in data.decode("utf-8", "replace").splitlines():
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if isinstance(event, dict) and len(self.violations) < 50:
                self.violations.append({"kind": str(event.get("kind", ""))[:100],
                                        "detail": str(event.get("detail", ""))[:300]})

    def kill(self) -> None:
        if self.alive:
            self.alive = False
            try:
                os.killpg(self.proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            try:
                self.proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                pass
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
    index: int
    status: str            # ok | error | timeout | crashed | skipped
    message: str = ""


@dataclass
class Session:
    """A submission's code, loaded into a worker that is restarted when it dies.

    ``cells`` are the code cells to run (already filtered). ``support_files`` are copied into a
    fresh working directory (the student's own copy of the kit and the data).
    """

    cells: list[str]
    support_files: Sequence[Path]
    hidden_roots: Sequence[str]
    limits: Limits = field(default_factory=Limits)
    sandbox: Sandbox | None = None
    outcomes: list[CellOutcome] = field(default_factory=list)
    fatal_cells: set[int] = field(default_factory=set)
    violations: list[dict] = field(default_factory=list)
    restarts: int = 0
    _tmp: tempfile.TemporaryDirectory | None = None

    def start(self) -> None:
        """(Re)start the worker and run every cell that has not killed a worker before."""
        self.stop()
        self._tmp = tempfile.TemporaryDirectory(prefix="backprop-worker-")
        workdir = Path(self._tmp.name)
        os.chmod(workdir, 0o755)
        for f in self.support_files:
            shutil.copy(f, workdir / f.name)
        self.sandbox = Sandbox(workdir, self.hidden_roots, self.limits)
        self.outcomes = []
        for index, source in enumerate(self.cells):
            if index in self.fatal_cells:
                self.outcomes.append(CellOutcome(index, "skipped", "skipped: it stopped the "
                                                 "worker in an earlier run"))
                continue
            try:
                self.sandbox.request({"op": "exec", "index": index}, timeout=self.limits.cell_seconds,
                                     source=source)
                self.outcomes.append(CellOutcome(index, "ok"))
            except StudentTimeout as exc:
                status = "timeout"
                self.outcomes.append(CellOutcome(index, status, str(exc)))
                if not self.sandbox.alive:
                    return self._restart_without(index)
            except WorkerDied as exc:
                self.outcomes.append(CellOutcome(index, "crashed", str(exc)))
                return self._restart_without(index)
            except StudentError as exc:
                self.outcomes.append(CellOutcome(index, "error", str(exc)))

    def _restart_without(self, index: int) -> None:
        self.fatal_cells.add(index)
        self.restarts += 1
        if self.restarts > len(self.cells) + 2:
            raise RuntimeError("the worker keeps dying")
        previous = list(self.outcomes)
        self.start()
        # keep the record of what happened to the fatal cell
        for i, outcome in enumerate(self.outcomes):
            if outcome.index in self.fatal_cells and outcome.status == "skipped":
                earlier = next((p for p in previous if p.index == outcome.index), None)
                if earlier is not None:
                    self.outcomes[i] = earlier

    def ensure_running(self) -> None:
        if self.sandbox is None or not self.sandbox.alive:
            self.collect_violations()
            self.restarts += 1
            if self.restarts > len(self.cells) + 8:
                raise RuntimeError("the worker keeps dying")
            fatal, outcomes = set(self.fatal_cells), list(self.outcomes)
            self.start()
            self.fatal_cells, self.outcomes = fatal, outcomes

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
            self._tmp.cleanup()
            self._tmp = None
