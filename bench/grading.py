"""Grade one submission through the built autograder, timed stage by stage, on one core.

The grading process is started like ``tools/grade_folder.grade_one`` starts it (same root
layout, environment and ``-B``), through ``stage_probe.py`` and pinned to one CPU with
``taskset``. Its whole process tree is sampled for memory while it runs.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from procmem import TreeSampler

HERE = Path(__file__).resolve().parent
PROBE = HERE / "stage_probe.py"
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def other_cpus(cpu: str) -> set[int] | None:
    """The CPUs other than ``cpu`` (None on a one-CPU machine)."""
    rest = os.sched_getaffinity(0) - {int(cpu)}
    return rest or None


def mnist_cases(source: Path) -> set[tuple[str, str]]:
    """``(question, case name)`` of every test case that trains on MNIST."""
    from otter.test_files import ExceptionTestFile

    found = set()
    for path in sorted((source / "tests").glob("*.py")):
        test_file = ExceptionTestFile.from_file(str(path))
        for case in test_file.test_cases:
            names = case.body.test_func.__code__.co_names
            if "check_mnist_accuracy" in names:
                found.add((test_file.name, case.name))
    return found


def stage_split(wall: float, timings: dict, results: dict,
                mnist: set[tuple[str, str]]) -> dict[str, float]:
    """Seconds per stage; ``other`` is what the named stages leave of the wall time.

    Stages: ``startup`` (interpreter + importing gradekit, up to ``grade()``), ``worker_start``
    (spawn until the worker answers), ``cells`` (the notebook's code cells), ``test_loading``
    (``run_tests`` outside any case: importing otter, reading the test files), ``tests`` (every
    test case except MNIST training), ``mnist`` (the MNIST accuracy cases), ``other`` (session
    setup, scan, writing results, process exit, ...).
    """
    cases = results.get("extra_data", {}).get("cases", [])
    mnist_s = sum(c["seconds"] for c in cases if (c["question"], c["name"]) in mnist)
    cases_s = sum(c["seconds"] for c in cases)
    named = {
        "startup": wall - (timings.get("probe_s", wall) - timings.get("import_gradekit_s", 0.0)),
        "worker_start": sum(timings.get("worker_start_s", [])),
        "cells": sum(c["seconds"] for c in timings.get("cells", [])),
        "test_loading": max(0.0, sum(timings.get("run_tests_s", [])) - cases_s),
        "tests": cases_s - mnist_s,
        "mnist": mnist_s,
    }
    named["other"] = max(0.0, wall - sum(named.values()))
    return named


def question_split(results: dict) -> dict[str, float]:
    """Seconds of each question's test cases (trusted run), MNIST training included."""
    out: dict[str, float] = {}
    for case in results.get("extra_data", {}).get("cases", []):
        out[case["question"]] = out.get(case["question"], 0.0) + case["seconds"]
    return out


def run_sampled(cmd: list[str], cwd: Path, cpu: str):
    """Run ``cmd`` (one BLAS thread) while sampling its process tree's memory from the other
    cores: (output, wall seconds, CPU seconds of the tree, peak memory)."""
    env = dict(os.environ, PYTHONHASHSEED="0", **ONE_THREAD)
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    with TreeSampler(proc.pid, cpus=other_cpus(cpu)) as sampler:
        log, _ = proc.communicate()
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu_seconds = (after.ru_utime - usage.ru_utime) + (after.ru_stime - usage.ru_stime)
    return log, wall, cpu_seconds, sampler.peak


def grade_timed(notebook: Path, source: Path, *, cpu: str = "0",
                mnist: set[tuple[str, str]] | None = None) -> dict:
    """Grade ``notebook``; return wall time, stage split, memory peak and the score.

    ``cpu_s`` is the user + system time of every process of the tree that was waited for
    (from ``RUSAGE_CHILDREN``), a figure that contention from other work inflates less.
    """
    mnist = mnist_cases(source) if mnist is None else mnist
    with tempfile.TemporaryDirectory(prefix="backprop-bench-") as tmp:
        root = Path(tmp)
        (root / "submission").mkdir()
        (root / "results").mkdir()
        os.symlink(source, root / "source")
        shutil.copy(notebook, root / "submission" / notebook.name)
        timings_path = root / "probe" / "timings.json"
        timings_path.parent.mkdir()
        cmd = ["taskset", "-c", cpu, sys.executable, "-B", str(PROBE), str(timings_path),
               "--root", str(root)]
        load = os.getloadavg()[0]
        log, wall, cpu_seconds, peak = run_sampled(cmd, source, cpu)
        try:
            results = json.loads((root / "results" / "results.json").read_text())
            timings = json.loads(timings_path.read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"grading {notebook.name} failed ({exc}); log:\n"
                               + log.decode("utf-8", "replace")[-2000:]) from None
    extra = results.get("extra_data", {})
    return {
        "wall_s": wall, "cpu_s": cpu_seconds,
        "stages_s": stage_split(wall, timings, results, mnist),
        "questions_s": question_split(results),
        "cell_seconds": [c["seconds"] for c in timings.get("cells", [])],
        "case_seconds": {f"{c['question']}/{c['name']}": c["seconds"]
                         for c in extra.get("cases", [])},
        "grader_rss_mb": timings.get("grader_rss_mb"),
        "peak_rss_mb": peak.rss_mb, "peak_pss_mb": peak.pss_mb,
        "largest_process_mb": peak.largest_process_mb, "processes": peak.processes,
        "memory_samples": peak.samples, "peak_mb_by_process": peak.by_process,
        "score": results.get("score"), "status": extra.get("status"),
        "flags": extra.get("flags", []),
        "load_before": load,
    }


def otter_run_timed(notebook: Path, zip_path: Path, *, cpu: str = "0") -> dict:
    """A plain ``otter run -a ZIP`` of ``notebook`` on one core (the baseline gradekit is
    compared with): wall time, CPU time of the tree, peak memory and otter's score."""
    with tempfile.TemporaryDirectory(prefix="backprop-bench-otter-") as tmp:
        out = Path(tmp) / "out"
        out.mkdir()
        cmd = ["taskset", "-c", cpu, sys.executable, "-m", "otter", "run", "-a", str(zip_path),
               "-o", str(out), str(notebook)]
        log, wall, cpu_seconds, peak = run_sampled(cmd, Path(tmp), cpu)
        try:
            tests = json.loads((out / "results.json").read_text())["tests"]
            score = round(sum(t.get("score") or 0 for t in tests), 4)
        except (OSError, ValueError, KeyError, TypeError):
            raise RuntimeError("otter run failed:\n"
                               + log.decode("utf-8", "replace")[-2000:]) from None
    return {"wall_s": wall, "peak_rss_mb": peak.rss_mb, "score": score, "cpu_s": cpu_seconds}
