"""Peak memory of a whole process tree, sampled from /proc while it runs.

The grader starts a worker in its own session (and the sandbox around it), so the
peak of one process says little: the sampler adds up every live descendant of the root at
each tick. Two sums are kept:

* RSS: resident pages of each process, shared libraries counted once per process (an upper
  bound, and what ``ps`` shows);
* PSS: shared pages split between the processes sharing them (closer to what a container's
  memory limit charges).

``getrusage(RUSAGE_CHILDREN).ru_maxrss`` is no substitute: it is the largest *single*
descendant that was waited for, and killed grandchildren (the kernel) are never waited for.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass, field

KB = 1024


@dataclass
class TreePeak:
    rss_mb: float = 0.0            # highest simultaneous sum of RSS over the tree
    pss_mb: float = 0.0            # highest simultaneous sum of PSS over the tree
    largest_process_mb: float = 0.0  # highest VmHWM of any single process seen
    processes: int = 0             # most processes alive at once
    samples: int = 0
    by_process: dict[str, float] = field(default_factory=dict)  # "pid command" -> VmHWM MB


def descendants(root: int) -> list[int]:
    """``root`` and every live process below it (by parent pid), from one scan of /proc."""
    children: dict[int, list[int]] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as fh:
                stat = fh.read()
        except OSError:
            continue
        ppid = int(stat.rsplit(b")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry.name))
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, []))
    return found


def command_of(pid: int) -> str:
    """A short label for a process: its pid and the start of its command line."""
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as fh:
            argv = fh.read().split(b"\0")
    except OSError:
        return str(pid)
    words = [os.path.basename(a.decode("utf-8", "replace")) for a in argv if a][:4]
    return f"{pid} {' '.join(words)}"[:80]


def _fields(path: str, names: tuple[bytes, ...]) -> dict[bytes, int]:
    """``{name: kB}`` for the ``Name:   123 kB`` lines of a /proc file (empty if it is gone)."""
    out: dict[bytes, int] = {}
    try:
        with open(path, "rb") as fh:
            for line in fh:
                key, _, rest = line.partition(b":")
                if key in names:
                    out[key] = int(rest.split()[0])
    except (OSError, ValueError, IndexError):
        pass
    return out


def memory_of(pid: int) -> tuple[int, int, int]:
    """(RSS kB, PSS kB, VmHWM kB) of one process; zeros if it has exited."""
    rollup = _fields(f"/proc/{pid}/smaps_rollup", (b"Rss", b"Pss"))
    status = _fields(f"/proc/{pid}/status", (b"VmHWM",))
    return rollup.get(b"Rss", 0), rollup.get(b"Pss", 0), status.get(b"VmHWM", 0)


class TreeSampler:
    """Samples the tree below ``root_pid`` every ``interval`` seconds until ``stop()``.

    ``cpus``: where the sampling thread may run (keep it off the core being measured).
    """

    def __init__(self, root_pid: int, interval: float = 0.025, cpus: set[int] | None = None):
        self.root_pid, self.interval, self.cpus = root_pid, interval, cpus
        self.peak = TreePeak()
        self._labels: dict[int, str] = {}
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self) -> "TreeSampler":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def sample(self) -> None:
        rss = pss = 0
        pids = descendants(self.root_pid)
        for pid in pids:
            r, p, hwm = memory_of(pid)
            rss, pss = rss + r, pss + p
            self.peak.largest_process_mb = max(self.peak.largest_process_mb, hwm / KB)
            if hwm:
                label = self._labels.get(pid) or self._labels.setdefault(pid, command_of(pid))
                self.peak.by_process[label] = max(self.peak.by_process.get(label, 0.0), hwm / KB)
        self.peak.rss_mb = max(self.peak.rss_mb, rss / KB)
        self.peak.pss_mb = max(self.peak.pss_mb, pss / KB)
        self.peak.processes = max(self.peak.processes, len(pids))
        self.peak.samples += 1

    def _run(self) -> None:
        if self.cpus:
            os.sched_setaffinity(0, self.cpus)
        while not self._halt.is_set():
            self.sample()
            self._halt.wait(self.interval)

    def stop(self) -> TreePeak:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join()
        return self.peak
