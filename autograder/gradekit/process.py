"""How a sandboxed process is started: time and resource limits, user, environment.

``Limits`` are the limits for student code (defaults, or ``BACKPROP_*`` variables).
``limit_resources`` applies them in a child process and drops to the sandbox user when
grading as root (``sandbox_user``); ``sandbox_env`` is the environment it gets.
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
from dataclasses import dataclass


@dataclass
class Limits:
    """Resource and time limits for student code (override with ``BACKPROP_*`` variables)."""

    memory_bytes: int = 1536 * 2**20     # address space of the worker
    cpu_seconds: int = 600               # total CPU time of one worker
    file_bytes: int = 64 * 2**20         # largest file it may write
    cell_seconds: float = 60.0           # one notebook cell
    call_seconds: float = 30.0           # one call into student code
    case_seconds: float = 150.0          # all calls made by one test case
    total_seconds: float = 480.0         # running cells plus all test cases
    grace_seconds: float = 5.0           # after a soft timeout, before the worker is killed

    @classmethod
    def from_env(cls, environ=os.environ) -> "Limits":
        """Defaults, overridden by e.g. ``BACKPROP_CALL_SECONDS=2`` (used by the kit's tests)."""
        limits = cls()
        for name, (variable, unit) in LIMIT_VARIABLES.items():
            if environ.get(variable):
                value = float(environ[variable]) * unit
                setattr(limits, name, int(value) if name == "memory_bytes" else value)
        return limits


# Limits.from_env: field -> (environment variable, unit in bytes or seconds)
LIMIT_VARIABLES = {
    "memory_bytes": ("BACKPROP_MEMORY_MB", 2**20),
    "cell_seconds": ("BACKPROP_CELL_SECONDS", 1),
    "call_seconds": ("BACKPROP_CALL_SECONDS", 1),
    "case_seconds": ("BACKPROP_CASE_SECONDS", 1),
    "total_seconds": ("BACKPROP_TOTAL_SECONDS", 1),
    "grace_seconds": ("BACKPROP_GRACE_SECONDS", 1),
}

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


def kill_user_processes(user: tuple[int, int] | None) -> None:
    """Kill every process left running as the sandbox user (nothing to do without one).

    Runs ``kill(-1, SIGKILL)`` as that user, which reaches exactly its own processes, so a
    process that student code managed to detach cannot outlive the stage that started it.
    Only where one submission is graded at a time (``BACKPROP_EXCLUSIVE_USER=1``, set by
    ``run_autograder`` on Gradescope): otherwise it would stop other submissions' workers.
    """
    if user is None or os.environ.get("BACKPROP_EXCLUSIVE_USER") != "1":
        return

    def drop() -> None:
        os.setgroups([])
        os.setgid(user[1])
        os.setuid(user[0])

    try:
        subprocess.run([sys.executable, "-I", "-S", "-c",
                        "import os, signal; os.kill(-1, signal.SIGKILL)"],
                       cwd="/", preexec_fn=drop, capture_output=True, timeout=30)
    except (OSError, subprocess.SubprocessError):
        pass


def sandbox_env(workdir: str) -> dict[str, str]:
    """A minimal environment: no secrets, one BLAS thread, matplotlib without a display."""
    keep = ("PATH", "LANG", "LC_ALL", "OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE")
    env = {k: os.environ[k] for k in keep if k in os.environ}
    env.update(HOME=workdir, TMPDIR=workdir, MPLCONFIGDIR=workdir, MPLBACKEND="Agg",
               OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1", MKL_NUM_THREADS="1",
               PYTHONHASHSEED="0", PYTHONDONTWRITEBYTECODE="1",
               MALLOC_TRIM_THRESHOLD_="1073741824", MALLOC_MMAP_THRESHOLD_="33554432")
    return env
