"""Progress of a long batch on stderr: submissions done, rate and time left.

On a terminal one line is redrawn in place (``clear`` wipes it before other output); in a
log (not a terminal) a line is written at most every ``interval`` seconds and once at the end,
so logs stay short.
"""

from __future__ import annotations

import sys
import time


class Progress:
    def __init__(self, total: int, stream=None, interval: float = 30.0):
        self.total = total
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self.start = time.perf_counter()
        self.last = self.start

    def line(self, done: int) -> str:
        elapsed = time.perf_counter() - self.start
        rate = done / elapsed * 60 if elapsed > 0 else 0.0
        left = (self.total - done) * elapsed / done if done else None
        eta = "?" if left is None else f"{int(left // 60)}:{int(left % 60):02d}"
        return (f"graded {done}/{self.total} ({done / max(self.total, 1):.0%}), "
                f"{rate:.1f} per minute, about {eta} left")

    def clear(self) -> None:
        """Wipe the redrawn line before other output goes to the same terminal."""
        if self.tty:
            self.stream.write("\r\x1b[K")
            self.stream.flush()

    def update(self, done: int) -> None:
        now = time.perf_counter()
        if self.tty:
            self.stream.write("\r\x1b[K" + self.line(done))
            if done == self.total:
                self.stream.write("\n")
        elif done == self.total or now - self.last >= self.interval:
            self.stream.write(self.line(done) + "\n")
            self.last = now
        else:
            return
        self.stream.flush()
