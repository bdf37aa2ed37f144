"""Each grading of a batch as one process tree that cannot outlive the batch or take its memory.

``make grade`` grades every submission in a process of its own (``grade_folder.py``). Here
each such grading process is started through a small launcher that, before it becomes the
grading process (``exec``):

* asks the kernel to kill it when the batch driver's thread that started it dies
  (``PR_SET_PDEATHSIG``), even when the driver is killed with SIGKILL or by the OOM killer; the
  worker below it dies with it (bubblewrap's ``--die-with-parent``, or its own parent-death
  signal at the ``user`` level);
* moves itself into a memory cgroup of its own (cgroup v2 where the memory controller is
  available, else cgroup v1; root only), so everything the grading holds is counted against
  one limit: its processes, memfd files, shared memory, its tmpfs and page cache. A grading
  over the limit is stopped by the kernel inside its group, never the driver or another
  grading;
* makes itself a likelier choice than the driver for the OOM killer (``oom_score_adj``).

A watchdog process, in a session of its own, holds one end of a pipe to the driver; when the
driver goes, however it goes, the watchdog kills every process left in the batch's cgroups and
removes them. Where cgroups cannot be made (not root, no memory controller) the parent-death
chain alone applies; ``Batch.why`` says so.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

MEMORY_MB = int(os.environ.get("BACKPROP_GRADING_MEMORY_MB", "2048"))
RESERVE_MB = 768          # kept for the driver and the class report when the machine is small
MOUNTS = Path("/sys/fs/cgroup")
PR_SET_PDEATHSIG = 1


def _own_groups() -> dict[str, str]:
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name] = path
    return out


def _memory_base() -> tuple[int, Path] | None:
    """(cgroup version, this process's memory cgroup directory), or None."""
    own = _own_groups()
    for candidate in (MOUNTS, MOUNTS / "unified"):
        controllers = candidate / "cgroup.controllers"
        if controllers.exists() and "memory" in controllers.read_text().split():
            return 2, candidate / own.get("", "/").lstrip("/")
    if (MOUNTS / "memory" / "cgroup.procs").exists() and "memory" in own:
        return 1, MOUNTS / "memory" / own["memory"].lstrip("/")
    return None


def _read_int(path: Path) -> int | None:
    try:
        text = path.read_text().strip()
        return None if text == "max" else int(text)
    except (OSError, ValueError):
        return None


def available_bytes(version: int | None, own: Path | None) -> int:
    """The memory this batch may use: the machine's, or its own cgroup's limit if smaller."""
    total = next(int(line.split()[1]) * 1024 for line in
                 Path("/proc/meminfo").read_text().splitlines() if line.startswith("MemTotal:"))
    if own is not None:
        limit = _read_int(own / ("memory.max" if version == 2 else "memory.limit_in_bytes"))
        if limit:
            total = min(total, limit)
    return total


class Group:
    """The cgroup of one grading."""

    def __init__(self, path: Path, version: int):
        self.path, self.version = path, version

    def _read(self, name: str) -> str:
        try:
            return (self.path / name).read_text()
        except OSError:
            return ""

    @property
    def oom_kills(self) -> int:
        text = self._read("memory.events" if self.version == 2 else "memory.oom_control")
        return sum(int(line.split()[1]) for line in text.splitlines()
                   if line.startswith("oom_kill "))

    @property
    def peak_mb(self) -> float | None:
        value = _read_int(self.path / ("memory.peak" if self.version == 2
                                       else "memory.max_usage_in_bytes"))
        return None if value is None else round(value / 2**20, 1)


def kill_group(path: Path, version: int, seconds: float = 10.0) -> None:
    """Kill every process in ``path`` (until none is left or ``seconds`` pass), remove it."""
    if version == 2 and (path / "cgroup.kill").exists():
        try:
            (path / "cgroup.kill").write_text("1")
        except OSError:
            pass
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            pids = [int(p) for p in (path / "cgroup.procs").read_text().split()]
        except OSError:
            return
        if not pids:
            break
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        time.sleep(0.05)
    try:
        path.rmdir()
    except OSError:
        pass


class Batch:
    """The gradings of one batch: ``command(cmd, n)`` wraps a grading process's command."""

    def __init__(self, jobs: int):
        self.version, self.dir, self.why = None, None, None
        self.limit_bytes = None
        self.watchdog = None
        found = _memory_base() if os.geteuid() == 0 else None
        if os.geteuid() != 0:
            self.why = "not root: no memory cgroup per grading (parent-death signals only)"
        elif found is None:
            self.why = "no cgroup memory controller: parent-death signals only"
        else:
            self.version, own = found
            self.limit_bytes = int(min(MEMORY_MB * 2**20,
                                       (available_bytes(self.version, own) - RESERVE_MB * 2**20)
                                       / max(1, jobs)))
            self.dir = own / f"backprop-batch-{os.getpid()}"
            try:
                self.dir.mkdir()
                if self.version == 2:
                    (self.dir / "cgroup.subtree_control").write_text("+memory")
            except OSError as exc:
                self.why, self.dir = f"cannot make a cgroup ({exc.strerror})", None
        if self.dir is not None:
            self.watchdog = subprocess.Popen(
                [sys.executable, __file__, "watch", str(self.version), str(self.dir)],
                stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                start_new_session=True, close_fds=True)

    def group(self, n: int) -> Group | None:
        """A new cgroup for grading number ``n`` (None where cgroups are unavailable)."""
        if self.dir is None:
            return None
        path = self.dir / f"g{n}"
        limits = {"memory.max": self.limit_bytes, "memory.swap.max": 0,
                  "memory.oom.group": 1} if self.version == 2 else \
            {"memory.limit_in_bytes": self.limit_bytes,
             "memory.memsw.limit_in_bytes": self.limit_bytes}
        try:
            path.mkdir()
            for name, value in limits.items():
                if (path / name).exists():
                    (path / name).write_text(str(value))
        except OSError:
            kill_group(path, self.version)
            raise
        return Group(path, self.version)

    def command(self, cmd: list[str], group: Group | None) -> list[str]:
        procs = [] if group is None else [str(group.path / "cgroup.procs")]
        return [sys.executable, __file__, "enter", str(os.getpid()), *procs, "--", *cmd]

    def release(self, group: Group | None) -> None:
        if group is not None:
            kill_group(group.path, group.version)

    def close(self) -> None:
        if self.watchdog is not None:
            self.watchdog.stdin.close()      # the watchdog cleans up and exits
            try:
                self.watchdog.wait(timeout=30)
            except subprocess.TimeoutExpired:
                pass


def _enter(argv: list[str]) -> None:
    """Launcher: die with the driver, join the grading's cgroup, then become ``cmd``."""
    sep = argv.index("--")
    driver, procs, cmd = int(argv[0]), argv[1:sep], argv[sep + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != driver:        # the driver died before the signal was armed
        os._exit(1)
    for path in procs:
        Path(path).write_text(str(os.getpid()))
    try:
        Path("/proc/self/oom_score_adj").write_text("300")
    except OSError:
        pass
    os.execv(cmd[0], cmd)


def _watch(version: int, batch: Path) -> None:
    """Watchdog: wait for the driver's end of the pipe to close, then empty the cgroups."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    for path in sorted(p for p in batch.iterdir() if p.is_dir()):
        kill_group(path, version)
    kill_group(batch, version)


if __name__ == "__main__":
    if sys.argv[1] == "enter":
        _enter(sys.argv[2:])
    elif sys.argv[1] == "watch":
        _watch(int(sys.argv[2]), Path(sys.argv[3]))
