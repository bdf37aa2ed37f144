"""What student code may do while it is graded, enforced inside its own process.

Two layers keep student code away from the grader:

* the operating system: the worker and the otter kernel run with resource limits
  (address space, CPU time, file size) and, when grading as root (Gradescope), as an
  unprivileged user that cannot read the grader's files;
* this module: a ``sys.addaudithook`` hook, installed before any student code runs and
  impossible to remove from Python, that refuses to read the grader's files, to write or
  delete outside the submission's own directory, to start processes, to open sockets, to
  send signals or to load native code with ctypes. Each refusal is reported to the grader,
  which flags the submission for the instructor.

The hook is defence in depth: the grade itself never depends on it, because every test
result is judged in a separate trusted process.
"""

from __future__ import annotations

import json
import os
import sys
from typing import Callable

_WRITE_FLAGS = os.O_WRONLY | os.O_RDWR | os.O_CREAT | os.O_TRUNC | os.O_APPEND

_DENIED_ALWAYS = {
    "subprocess.Popen": "started a process",
    "os.system": "started a process",
    "os.exec": "started a process",
    "os.posix_spawn": "started a process",
    "os.spawn": "started a process",
    "os.fork": "started a process",
    "os.forkpty": "started a process",
    "pty.spawn": "started a process",
    "socket.connect": "opened a network connection",
    "socket.bind": "opened a network socket",
    "socket.sendto": "sent network data",
    "resource.setrlimit": "changed resource limits",
    "resource.prlimit": "changed resource limits",
    "sys.setrecursionlimit": None,  # harmless: listed so nobody adds it by mistake
}
_DENIED_PREFIXES = {"ctypes.": "used ctypes to call native code"}
_DENIED_IMPORTS = {"_posixsubprocess", "_ctypes", "ctypes", "pty", "multiprocessing",
                   "_multiprocessing", "otter", "backprop_reference", "gradekit"}
_PATH_EVENTS_WRITE = {"os.remove", "os.rmdir", "os.rename", "os.replace", "os.truncate",
                      "os.chmod", "os.chown", "os.link", "os.symlink", "os.mkdir",
                      "shutil.rmtree", "os.utime", "shutil.copyfile", "shutil.move"}
_PATH_EVENTS_LIST = {"os.listdir", "os.scandir", "glob.glob", "os.walk"}


class SandboxViolation(PermissionError):
    """Raised inside student code when it tries something the grader forbids."""


def install(writable_roots: list[str], hidden_roots: list[str],
            report: Callable[[str, str], None], *, allow_imports: tuple[str, ...] = (),
            allow_loopback: bool = False, allow_ctypes: bool = False) -> None:
    """Install the audit hook. ``report(kind, detail)`` is called before each refusal."""
    realpath = os.path.realpath
    fsdecode = os.fsdecode
    writable = tuple(realpath(r) + os.sep for r in writable_roots) + ("/dev/null",)
    hidden = tuple(realpath(r) for r in hidden_roots if r)
    denied_imports = _DENIED_IMPORTS - set(allow_imports)
    state = {"busy": False}

    def under(path: str, roots: tuple[str, ...]) -> bool:
        return any(path == r.rstrip(os.sep) or path.startswith(r.rstrip(os.sep) + os.sep)
                   for r in roots)

    def resolve(raw) -> str | None:
        if isinstance(raw, int) or raw is None:
            return None
        try:
            return realpath(fsdecode(raw))
        except (TypeError, ValueError):
            return None

    def refuse(kind: str, detail: str):
        try:
            report(kind, detail[:300])
        finally:
            raise SandboxViolation(f"not allowed while grading: {kind} ({detail[:200]})")

    def hook(event: str, args: tuple) -> None:
        if state["busy"]:
            return
        state["busy"] = True
        try:
            check(event, args)
        finally:
            state["busy"] = False

    def check(event: str, args: tuple) -> None:
        if event == "open":
            path = resolve(args[0])
            if path is None:
                return
            mode = args[1] if len(args) > 1 and isinstance(args[1], str) else ""
            flags = args[2] if len(args) > 2 and isinstance(args[2], int) else 0
            if hidden and under(path, hidden):
                refuse("read grader files", path)
            if (any(c in mode for c in "wax+") or flags & _WRITE_FLAGS) and not (
                    path.startswith(writable) or path == "/dev/null"):
                refuse("wrote outside its directory", path)
            return
        if event in _PATH_EVENTS_WRITE:
            for raw in args[:2]:
                path = resolve(raw)
                if path is not None and not path.startswith(writable):
                    refuse("changed files outside its directory", f"{event} {path}")
            return
        if event in _PATH_EVENTS_LIST:
            path = resolve(args[0]) if args else None
            if path is not None and hidden and under(path, hidden):
                refuse("listed grader files", path)
            return
        if event == "import":
            name = args[0] if args else ""
            if isinstance(name, str) and name.split(".")[0] in denied_imports:
                refuse("imported a forbidden module", name)
            return
        if event == "os.kill" or event == "os.killpg":
            if args and args[0] not in (os.getpid(), 0):
                refuse("sent a signal to another process", str(args[0]))
            return
        if allow_loopback and event in ("socket.connect", "socket.bind"):
            address = args[1] if len(args) > 1 else None
            host = address[0] if isinstance(address, tuple) and address else None
            if host in ("127.0.0.1", "localhost", "::1", "0.0.0.0"):
                return
        reason = _DENIED_ALWAYS.get(event)
        if reason:
            refuse(reason, event)
        for prefix, why in _DENIED_PREFIXES.items():
            if event.startswith(prefix) and not allow_ctypes:
                refuse(why, event)

    sys.addaudithook(hook)


def fd_reporter(fd: int) -> Callable[[str, str], None]:
    """A ``report`` function writing one JSON line per event to ``fd`` (non-blocking, capped)."""
    os.set_blocking(fd, False)
    sent = {"n": 0}

    def report(kind: str, detail: str) -> None:
        if sent["n"] >= 200:
            return
        sent["n"] += 1
        line = (json.dumps({"kind": kind, "detail": detail}) + "\n").encode()[:3000]
        try:
            os.write(fd, line)
        except OSError:
            pass

    return report


def disable_process_spawning() -> None:
    """Remove the C entry point that starts processes without raising an audit event."""
    try:
        import _posixsubprocess

        for name in ("fork_exec",):
            if hasattr(_posixsubprocess, name):
                delattr(_posixsubprocess, name)
    except ImportError:
        pass
    for name in ("fork", "forkpty", "execv", "execve", "posix_spawn", "posix_spawnp", "system"):
        if hasattr(os, name):
            delattr(os, name)
