"""Run ``gradekit.grade`` exactly as ``make grade`` does, timing its stages from outside.

Usage (working directory: the unpacked autograder source, like ``grade_folder.grade_one``):

    python -B bench/stage_probe.py TIMINGS.json --root ROOT [--no-otter]

gradekit reports each test case's and otter's seconds in ``results.json`` but not when the
worker became ready or how long the notebook's cells took. This wraps, without changing what
they do:

* ``Sandbox.__init__``: after the worker process is spawned, one extra no-op request (read
  the global ``__name__``) waits until it has imported numpy and installed its policy: that
  is the worker start;
* ``Sandbox.request`` with ``op == "exec"``: one notebook cell;
* ``Session.start``: start + cells + copying the support files (the rest is "session setup");
* ``grade.run_tests``: all test cases; ``grade._zip_of``: rebuilding the zip for otter;
* ``otter_stage.run``: the otter cross-check, with otter's launcher instrumented too (see
  ``OTTER_PREFIX``): its imports, kernel start, kernel ready, and every executed cell.

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

# Prepended to otter_stage.LAUNCHER (it runs in otter's own process, possibly as another
# user); writes its timings to a file in a directory the probe made world-writable.
OTTER_PREFIX = '''
import atexit as _b_atexit, json as _b_json, time as _b_time
_b_t0 = _b_time.perf_counter()
_b = {"cells": [], "kernel_start_s": [], "kernel_ready_s": []}
def _b_dump():
    _b["total_s"] = _b_time.perf_counter() - _b_t0
    with open(%(path)r, "w") as _fh:
        _b_json.dump(_b, _fh)
_b_atexit.register(_b_dump)
import nbclient.client as _b_client
import nbconvert.preprocessors as _b_pre
import otter.run as _b_run
_b_run_main = _b_run.main
def _b_main(*args, **kwargs):   # the launcher ends with os._exit, which skips atexit
    try:
        return _b_run_main(*args, **kwargs)
    finally:
        _b_dump()
_b_run.main = _b_main
_b["imports_s"] = _b_time.perf_counter() - _b_t0
def _b_timed(key, fn):
    def wrapper(self, *args, **kwargs):
        t = _b_time.perf_counter()
        try:
            return fn(self, *args, **kwargs)
        finally:
            _b[key].append(_b_time.perf_counter() - t)
    return wrapper
_b_client.NotebookClient.start_new_kernel = _b_timed(
    "kernel_start_s", _b_client.NotebookClient.start_new_kernel)
_b_client.NotebookClient.start_new_kernel_client = _b_timed(
    "kernel_ready_s", _b_client.NotebookClient.start_new_kernel_client)
_b_cell = _b_pre.ExecutePreprocessor.preprocess_cell
def _b_preprocess_cell(self, cell, resources, index):
    t = _b_time.perf_counter()
    try:
        return _b_cell(self, cell, resources, index)
    finally:
        src = cell.get("source", "") if cell.get("cell_type") == "code" else ""
        _b["cells"].append({"index": index, "seconds": _b_time.perf_counter() - t,
                            "first_line": (src.strip().splitlines() or [""])[0][:80]})
_b_pre.ExecutePreprocessor.preprocess_cell = _b_preprocess_cell
'''


def _rss_mb() -> float:
    """This process's resident memory now, in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


def _install(timings: dict, otter_timings_path: str) -> None:
    sys.path.insert(0, os.getcwd())
    start = time.perf_counter()
    from gradekit import grade, otter_stage, sandbox
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
                {"cell": message.get("cell"), "seconds": time.perf_counter() - t})

    sandbox.Sandbox.__init__ = sandbox_init
    sandbox.Sandbox.request = request
    sandbox.Session.start = timed("session_start_s", sandbox.Session.start)
    grade.run_tests = timed("run_tests_s", grade.run_tests)
    grade._zip_of = timed("zip_for_otter_s", grade._zip_of)
    otter_stage.run = timed("otter_stage_s", otter_stage.run)
    grade.grade = timed("grade_s", grade.grade)
    otter_stage.LAUNCHER = OTTER_PREFIX % {"path": otter_timings_path} + otter_stage.LAUNCHER


def main() -> None:
    timings_path = os.path.abspath(sys.argv[1])
    otter_dir = os.path.join(os.path.dirname(timings_path), "otter-probe")
    os.makedirs(otter_dir, exist_ok=True)
    os.chmod(otter_dir, 0o777)
    otter_path = os.path.join(otter_dir, "otter.json")
    timings: dict = {"probe_start_epoch": PROBE_START_EPOCH}

    def dump() -> None:
        timings["probe_s"] = time.perf_counter() - PROBE_START
        timings.setdefault("grader_rss_mb", {})["at exit"] = _rss_mb()
        try:
            with open(otter_path) as fh:
                timings["otter"] = json.load(fh)
        except (OSError, ValueError):
            timings["otter"] = None
        with open(timings_path, "w") as fh:
            json.dump(timings, fh)

    atexit.register(dump)
    _install(timings, otter_path)
    from gradekit import grade
    grade.main(sys.argv[2:])


if __name__ == "__main__":
    main()
