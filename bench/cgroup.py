"""A cgroup for one command: Gradescope's default container limits (768 MB, half a CPU) or
none, with the group's CPU time and peak memory read back afterwards.

cgroup v2 (one unified hierarchy with the cpu and memory controllers) is used where the
machine offers it, else v1 (separate cpu, cpuacct and memory hierarchies); each group is made
below this process's own group, so it stays inside any limit already set on this process.
Needs root. ``unavailable()`` says why neither can be used.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

MEMORY_LIMIT = 768 * 2**20   # Gradescope's default "768 MB", taken as MiB
CPU_PERIOD_US = 100_000
CPU_QUOTA_US = 50_000        # half a CPU
# A large share of the CPU against the machine's other work (both groups), so a busy machine
# does not take the half CPU a Gradescope container would have to itself.
CPU_WEIGHT_V2, CPU_SHARES_V1 = 10_000, 262_144
MOUNTS = Path("/sys/fs/cgroup")


def _own_groups() -> dict[str, str]:
    """``{controller or "": path}`` of this process's groups ("" is the v2 hierarchy)."""
    out = {}
    for line in Path("/proc/self/cgroup").read_text().splitlines():
        _, controllers, path = line.split(":", 2)
        for name in controllers.split(",") if controllers else [""]:
            out[name.replace("name=", "")] = path
    return out


def _v2_root() -> Path | None:
    for candidate in (MOUNTS, MOUNTS / "unified"):
        controllers = candidate / "cgroup.controllers"
        if controllers.exists() and {"cpu", "memory"} <= set(controllers.read_text().split()):
            return candidate
    return None


def unavailable() -> str | None:
    """None if a limited group can be made here, else the reason."""
    if os.geteuid() != 0:
        return "needs root to create cgroups"
    if _v2_root() is None and not all((MOUNTS / c / "cgroup.procs").exists()
                                      for c in ("cpu", "cpuacct", "memory")):
        return "neither cgroup v2 with cpu and memory nor cgroup v1 cpu, cpuacct and memory"
    return None


class Group:
    """``with Group(limited=True) as g: Popen(..., preexec_fn=g.enter)``; then ``g.cpu_s``,
    ``g.peak_mb`` (memory charged to the group, page cache included) and ``g.oom_kills``."""

    def __init__(self, limited: bool):
        self.limited = limited
        name = f"backprop-bench-{os.getpid()}-{time.monotonic_ns()}"
        own = _own_groups()
        root = _v2_root()
        self.version = 2 if root is not None else 1
        if root is not None:
            self.dirs = {"": root / own.get("", "/").lstrip("/") / name}
        else:
            self.dirs = {c: MOUNTS / c / own.get(c, "/").lstrip("/") / name
                         for c in ("cpu", "cpuacct", "memory")}

    def _write(self, controller: str, file: str, value: str) -> None:
        (self.dirs[controller] / file).write_text(value)

    def __enter__(self) -> "Group":
        for path in dict.fromkeys(self.dirs.values()):
            path.mkdir()
        if self.version == 2:
            self._write("", "cpu.weight", str(CPU_WEIGHT_V2))
        else:
            self._write("cpu", "cpu.shares", str(CPU_SHARES_V1))
        if self.limited and self.version == 2:
            self._write("", "cpu.max", f"{CPU_QUOTA_US} {CPU_PERIOD_US}")
            self._write("", "memory.max", str(MEMORY_LIMIT))
            if (self.dirs[""] / "memory.swap.max").exists():
                self._write("", "memory.swap.max", "0")
        elif self.limited:
            self._write("cpu", "cpu.cfs_period_us", str(CPU_PERIOD_US))
            self._write("cpu", "cpu.cfs_quota_us", str(CPU_QUOTA_US))
            self._write("memory", "memory.limit_in_bytes", str(MEMORY_LIMIT))
            if (self.dirs["memory"] / "memory.memsw.limit_in_bytes").exists():
                self._write("memory", "memory.memsw.limit_in_bytes", str(MEMORY_LIMIT))
        return self

    def enter(self) -> None:
        """Move the calling process into the group (use as ``preexec_fn``)."""
        for path in dict.fromkeys(self.dirs.values()):
            (path / "cgroup.procs").write_text(str(os.getpid()))

    def _read(self, controller: str, file: str) -> str:
        return (self.dirs[controller] / file).read_text()

    @property
    def cpu_s(self) -> float:
        if self.version == 2:
            stat = dict(line.split() for line in self._read("", "cpu.stat").splitlines())
            return int(stat["usage_usec"]) / 1e6
        return int(self._read("cpuacct", "cpuacct.usage")) / 1e9

    @property
    def peak_mb(self) -> float | None:
        if self.version == 2:
            peak = self.dirs[""] / "memory.peak"
            return int(peak.read_text()) / 2**20 if peak.exists() else None
        return int(self._read("memory", "memory.max_usage_in_bytes")) / 2**20

    @property
    def oom_kills(self) -> int:
        if self.version == 2:
            events = dict(line.split() for line in self._read("", "memory.events").splitlines())
            return int(events.get("oom_kill", 0))
        return sum(int(line.split()[1]) for line in
                   self._read("memory", "memory.oom_control").splitlines()
                   if line.startswith("oom_kill "))

    def __exit__(self, *exc) -> None:
        for path in dict.fromkeys(self.dirs.values()):
            procs = path / "cgroup.procs"
            deadline = time.monotonic() + 10
            while procs.exists() and procs.read_text().strip() and time.monotonic() < deadline:
                time.sleep(0.05)   # a process that outlived the command is still exiting
            try:
                path.rmdir()
            except OSError:
                pass
