"""`make bench`'s Gradescope-like cgroup really holds a command to 768 MB and half a CPU."""

from __future__ import annotations

import subprocess
import sys

import pytest

from conftest import ROOT

sys.path.insert(0, str(ROOT / "bench"))

import cgroup  # noqa: E402

pytestmark = pytest.mark.skipif(cgroup.unavailable() is not None,
                                reason=f"no cgroup here: {cgroup.unavailable()}")

BURN = "import time\nend = time.monotonic() + {s}\nwhile time.monotonic() < end: pass\n"


def test_the_limited_group_gives_at_most_half_a_cpu():
    # Busy for 2 s of wall time: on an idle core that is 2 s of CPU; the quota allows 0.5 s
    # per second of wall time (1 s here), whatever else the machine is doing.
    code = ("import threading, time\n"
            "def burn():\n"
            "    end = time.monotonic() + 2\n"
            "    while time.monotonic() < end: pass\n"
            "threads = [threading.Thread(target=burn) for _ in range(2)]\n"
            "for t in threads: t.start()\n"
            "for t in threads: t.join()\n")
    with cgroup.Group(limited=True) as group:
        subprocess.run([sys.executable, "-c", code], preexec_fn=group.enter, check=True)
        cpu = group.cpu_s
    assert 0 < cpu < 0.5 * 2 + 0.3, cpu


def test_the_limited_group_kills_a_process_past_768_mb():
    code = "chunks = []\nwhile True: chunks.append(bytearray(50 * 2**20))\n"
    with cgroup.Group(limited=True) as group:
        proc = subprocess.run([sys.executable, "-c", code], preexec_fn=group.enter,
                              capture_output=True)
        kills, peak = group.oom_kills, group.peak_mb
    assert proc.returncode == -9 and kills >= 1, (proc.returncode, kills)
    assert 700 < peak <= 768 + 1, peak


def test_the_unlimited_group_only_measures():
    with cgroup.Group(limited=False) as group:
        subprocess.run([sys.executable, "-c", "x = bytearray(900 * 2**20)\n" + BURN.format(s=0.5)],
                       preexec_fn=group.enter, check=True)
        cpu, peak = group.cpu_s, group.peak_mb
    assert peak > 900 and cpu > 0.1, (peak, cpu)
