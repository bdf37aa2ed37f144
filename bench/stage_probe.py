"""Run ``gradekit.grade`` exactly as ``make grade`` does, timing its stages from outside.

Usage (working directory: the unpacked autograder source, like ``grade_folder.grade_one``):

    python -B bench/stage_probe.py TIMINGS.json --root ROOT

gradekit reports each test case's seconds in ``results.json`` but not when the
worker became ready or how long the notebook's cells took. This wraps, without changing what
they do:

* ``Sandbox.__init__``: after the worker process is spawned, one extra no-op request (read
  the global ``__name__``) waits until it has imported numpy and installed its policy: that
  is the worker start;
* ``Sandbox.request`` with ``op == "exec"``: one notebook cell;
* ``Session.start``: start + cells + copying the support files (the rest is "session setup");
* ``grade.run_tests``: all test cases.

The grader's own resident memory is recorded before each wrapped stage (``grader_rss_mb``).
Everything is written to TIMINGS.json when the grader exits.
"""

from __future__ import annotations

import atexit
import json
import os
import sys
import time

PROBE_START = time.perf_counter()
PROBE_START_EPOCH = time.time()

def _rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _install(timings: dict) -> None:
    sys.path.insert(0, os.getcwd())
    start = time.perf_counter()
    from gradekit import grade, sandbox
    timings["import_gradekit_s"] = time.perf_counter() - start

    def timed(key: str, fn):
        def wrapper(*args, **kwargs):
            timings.setdefault("grader_rss_mb", {})[f"before {key}"] = _rss_mb()
            t = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                timings.setdefault(key, []).append(time.perf_counter() - t)
        return wrapper

    original_init = sandbox.Sandbox.__init__

    def sandbox_init(self, *args, **kwargs):
        t = time.perf_counter()
        original_init(self, *args, **kwargs)
        try:
            self.request({"op": "global", "name": "__name__"}, timeout=120)
        except sandbox.StudentError:
            pass
        timings.setdefault("worker_start_s", []).append(time.perf_counter() - t)

    original_request = sandbox.Sandbox.request

    def request(self, message, **kwargs):
        if message.get("op") != "exec":
            return original_request(self, message, **kwargs)
        t = time.perf_counter()
        try:
            return original_request(self, message, **kwargs)
        finally:
            timings.setdefault("cells", []).append(
                {"index": message.get("index"), "seconds": time.perf_counter() - t})

    sandbox.Sandbox.__init__ = sandbox_init
    sandbox.Sandbox.request = request
    sandbox.Session.start = timed("session_start_s", sandbox.Session.start)
    grade.run_tests = timed("run_tests_s", grade.run_tests)
    grade.grade = timed("grade_s", grade.grade)


def main() -> None:
    timings_path = os.path.abspath(sys.argv[1])
    timings: dict = {"probe_start_epoch": PROBE_START_EPOCH}

    def dump() -> None:
        timings["probe_s"] = time.perf_counter() - PROBE_START
        timings.setdefault("grader_rss_mb", {})["at exit"] = _rss_mb()
        with open(timings_path, "w") as fh:
            json.dump(timings, fh)

    atexit.register(dump)
    _install(timings)
    from gradekit import grade
    grade.main(sys.argv[2:])


if __name__ == "__main__":
    main()
