"""Summaries (median, min, max over runs), the printed table and the target verdicts."""

from __future__ import annotations

import statistics
from typing import Iterable

# Targets on the 2-core benchmark machine (see bench/README.md).
TARGETS = {
    "single_wall_s": 15.0,       # one correct submission, one core, wall
    "single_peak_mb": 300.0,     # ... peak resident memory of the process tree (RSS sum)
    "versus_otter": 0.5,         # reference: gradekit wall / plain `otter run` wall, same run
    "batch_wall_s": 150.0,       # 100 submissions with 2 workers
    "batch_size": 100,
    "train_vs_torch": 1.5,       # reference epoch time / PyTorch epoch time
    "gradescope_wall_s": 10.0,   # reference, Gradescope's path and limits, wall
    "gradescope_peak_mb": 400.0,  # ... peak memory charged to its cgroup
    "container_wall_s": 6.0,     # reference in the Gradescope-like container, wall (median)
    "container_peak_mb": 300.0,  # ... peak memory charged to the container (max)
}

STAGE_LABELS = {
    "startup": "startup (python, gradekit imports)",
    "worker_start": "worker start",
    "cells": "notebook cells (worker)",
    "test_loading": "test loading (otter import, test files)",
    "tests": "test cases except MNIST (trusted)",
    "mnist": "MNIST accuracy tests (trusted)",
    "other": "other (setup, results, exit)",
}


def summary(values: Iterable[float | None]) -> dict | None:
    """``{"median", "min", "max", "runs"}`` of the values that are not None."""
    vals = [float(v) for v in values if v is not None]
    if not vals:
        return None
    return {"median": statistics.median(vals), "min": min(vals), "max": max(vals),
            "runs": len(vals)}


def summarise_single(runs: list[dict]) -> dict:
    """Median/min/max of every figure of repeated ``grading.grade_timed`` runs."""
    out = {
        "wall_s": summary(r["wall_s"] for r in runs),
        "cpu_s": summary(r["cpu_s"] for r in runs),
        "peak_rss_mb": summary(r["peak_rss_mb"] for r in runs),
        "peak_pss_mb": summary(r["peak_pss_mb"] for r in runs),
        "largest_process_mb": summary(r["largest_process_mb"] for r in runs),
        "load_before": summary(r["load_before"] for r in runs),
        "stages_s": {k: summary(r["stages_s"][k] for r in runs) for k in runs[0]["stages_s"]},
        "questions_s": {q: summary(r["questions_s"].get(q) for r in runs)
                        for q in runs[0]["questions_s"]},
        "scores": sorted({r["score"] for r in runs}, key=str),
        "statuses": sorted({str(r["status"]) for r in runs}),
        "flags": sorted({f for r in runs for f in r["flags"]}),
    }
    return out


def _fmt(s: dict | None, digits: int = 2) -> str:
    if s is None:
        return f"{'-':>9} {'-':>9} {'-':>9}"
    return f"{s['median']:>9.{digits}f} {s['min']:>9.{digits}f} {s['max']:>9.{digits}f}"


def _row(label: str, unit: str, s: dict | None, digits: int = 2) -> str:
    return f"  {label:<40} {unit:<6}{_fmt(s, digits)}"


def table(data: dict) -> str:
    """The human-readable table of a benchmark's JSON."""
    meta = data["meta"]
    lines = [f"backprop-kit grading benchmark, {meta['date']}",
             f"command: {meta['command']}",
             f"machine: {meta['cpus']} CPU(s), {meta['cpu_model']}; python {meta['python']}, "
             f"numpy {meta['numpy']}, torch {meta['torch'] or 'not installed'}",
             f"load average before / after: {meta['load_before']} / {meta.get('load_after')}",
             "", f"  {'':<40} {'unit':<6}{'median':>9} {'min':>9} {'max':>9}"]
    for name, single in data.get("single", {}).items():
        s = single["summary"]
        lines.append(f"Grading {name} on one core (taskset -c {meta['cpu']}), "
                     f"{s['wall_s']['runs']} runs: score {s['scores']}, status {s['statuses']}")
        lines.append(_row("wall time", "s", s["wall_s"]))
        lines.append(_row("CPU time, all processes", "s", s["cpu_s"]))
        for key, label in STAGE_LABELS.items():
            lines.append(_row(label, "s", s["stages_s"].get(key)))
            if key == "mnist":
                for q, qs in s["questions_s"].items():
                    lines.append(_row(f"  tests of {q} (all its cases)", "s", qs))
        lines.append(_row("peak memory, process tree RSS", "MB", s["peak_rss_mb"], 0))
        lines.append(_row("peak memory, process tree PSS", "MB", s["peak_pss_mb"], 0))
        lines.append(_row("largest single process (VmHWM)", "MB", s["largest_process_mb"], 0))
        lines.append(_row("load average before the run", "", s["load_before"]))
        lines.append("")
    for jobs, batch in data.get("batch", {}).items():
        lines.append(f"Batch: tools/grade_folder.py, {batch['size']} submissions "
                     f"{batch['composition']}, {jobs} worker(s), {batch['wall_s']['runs']} run(s)")
        lines.append(_row("wall time", "s", batch["wall_s"], 1))
        lines.append(_row("submissions per minute", "/min", batch["per_minute"], 1))
        lines.append(_row("per-submission execution_time", "s", batch["execution_time_s"], 1))
        lines.append(_row("peak memory, process tree RSS", "MB", batch["peak_rss_mb"], 0))
        lines.append(f"  scores: {batch['scores']}")
        lines.append("")
    lines += _versus_otter_lines(data.get("versus_otter"))
    training = data.get("training")
    if training:
        lines.append(f"Training: reference train_step, one epoch of {training['images']} images, "
                     f"batch {training['batch_size']}, one core, {training['runs']} runs")
        lines.append(_row("numpy float32 epoch", "s", training["numpy_epoch_s"], 3))
        lines.append(_row("numpy float32 images per second", "img/s", training["images_per_s"], 0))
        lines.append(_row("numpy achieved matmul rate", "GFLOP/s", training["achieved_gflops"], 1))
        lines.append(_row("float32 matmul 1024^3 (machine)", "GFLOP/s", training["sgemm_1024_gflops"], 1))
        lines.append(_row("float32 matmul of the batch shape", "GFLOP/s", training["sgemm_batch_gflops"], 1))
        lines.append(_row("achieved / machine (1024^3)", "ratio", training["achieved_fraction"], 2))
        lines.append(_row("numpy float64 epoch (diagnostic)", "s", training["numpy_float64_epoch_s"], 3))
        if training["torch_epoch_s"]:
            lines.append(_row(f"PyTorch {training['torch']} epoch", "s", training["torch_epoch_s"], 3))
            lines.append(_row("numpy / PyTorch epoch time", "ratio", training["numpy_over_torch"], 2))
        else:
            lines.append("  PyTorch is not installed: no comparison (pip install torch to add it)")
        lines.append("")
    lines += gradescope_table(data.get("gradescope"))
    lines.append("Targets")
    for verdict in data.get("targets", []):
        lines.append(f"  [{verdict['verdict']:<6}] {verdict['what']}: {verdict['measured']} "
                     f"(target {verdict['target']})")
    return "\n".join(lines)


def _versus_otter_lines(versus: dict | None) -> list[str]:
    if not versus:
        return []
    return [f"gradekit against a plain `otter run -a autograder.zip`, {versus['notebook']}, "
            f"same core, alternated, {versus['runs']} runs: scores {versus['scores']}",
            _row("gradekit, wall", "s", versus["gradekit_wall_s"]),
            _row("otter run, wall", "s", versus["otter_wall_s"]),
            _row("gradekit / otter run, wall", "ratio", versus["ratio"]),
            _row("gradekit, CPU", "s", versus["gradekit_cpu_s"]),
            _row("otter run, CPU", "s", versus["otter_cpu_s"]),
            _row("gradekit, peak process-tree RSS", "MB", versus["gradekit_peak_rss_mb"], 0),
            _row("otter run, peak process-tree RSS", "MB", versus["otter_peak_rss_mb"], 0), ""]


def verdicts(data: dict) -> list[dict]:
    """Met / missed for every target whose figures were measured (medians)."""
    out = []

    def add(what: str, measured: float | None, limit: float, unit: str) -> None:
        if measured is None:
            return
        out.append({"what": what, "measured": f"{measured:.2f} {unit}",
                    "target": f"<= {limit:g} {unit}",
                    "verdict": "met" if measured <= limit else "MISSED"})

    ref = data.get("single", {}).get("reference")
    if ref:
        s = ref["summary"]
        add("reference graded on one core, wall (median)", s["wall_s"]["median"],
            TARGETS["single_wall_s"], "s")
        add("reference graded, peak process-tree RSS (median)", s["peak_rss_mb"]["median"],
            TARGETS["single_peak_mb"], "MB")
    versus = data.get("versus_otter")
    if versus:
        add("reference: gradekit wall / otter run wall, same run (median)",
            versus["ratio"]["median"], TARGETS["versus_otter"], "x")
    batch = data.get("batch", {}).get("2")
    if batch:
        scale = TARGETS["batch_size"] / batch["size"]
        add(f"{TARGETS['batch_size']} submissions, make grade with 2 workers (median wall"
            + (f", scaled from {batch['size']}" if scale != 1 else "") + ")",
            batch["wall_s"]["median"] * scale, TARGETS["batch_wall_s"], "s")
    out += gradescope_verdicts(data.get("gradescope"))
    training = data.get("training")
    if training and training.get("numpy_over_torch"):
        add("reference epoch time / PyTorch epoch time (median)",
            training["numpy_over_torch"]["median"], TARGETS["train_vs_torch"], "x")
    return out


def gradescope_table(gs: dict | None) -> list[str]:
    """Rows for the Gradescope-limited grading beside the unlimited one."""
    if not gs:
        return []
    if "skipped" in gs:
        return [f"Gradescope limits: not measured ({gs['skipped']})", ""]
    lines = []
    for key, what in (("limited", "cgroup of 768 MB and half a CPU"),
                      ("unlimited", "cgroup without limits")):
        g = gs[key]
        lines.append(f"Reference graded by run_autograder, Python {gs['python']} lock "
                     f"environment, {what} (v{g['cgroup']}), {g['wall_s']['runs']} runs: "
                     f"score {g['scores']}, OOM kills {g['oom_kills']}")
        lines.append(_row("wall time", "s", g["wall_s"]))
        lines.append(_row("CPU time, whole cgroup", "s", g["cpu_s"]))
        lines.append(_row("peak memory charged to the cgroup", "MB", g["group_peak_mb"], 0))
        lines.append(_row("peak memory, process tree RSS", "MB", g["peak_rss_mb"], 0))
        lines.append(_row("load average before the run", "", g["load_before"]))
        lines.append("")
    return lines


def gradescope_verdicts(gs: dict | None) -> list[dict]:
    if not gs or "skipped" in gs:
        return []
    g, c = gs["limited"], gs.get("container") or {}
    container = [] if "skipped" in c or "wall_s_median" not in c else [
        {"what": "reference in the Gradescope-like container, wall (median)",
         "measured": f"{c['wall_s_median']:.2f} s",
         "target": f"<= {TARGETS['container_wall_s']:g} s",
         "verdict": "met" if c["wall_s_median"] <= TARGETS["container_wall_s"] else "MISSED"},
        {"what": "reference in the Gradescope-like container, peak charged memory (max)",
         "measured": f"{c['peak_mb_max']:.0f} MB",
         "target": f"<= {TARGETS['container_peak_mb']:g} MB",
         "verdict": "met" if c["peak_mb_max"] <= TARGETS["container_peak_mb"] else "MISSED"}]
    return container + [
        {"what": "reference at Gradescope's limits, wall (median)",
         "measured": f"{g['wall_s']['median']:.2f} s",
         "target": f"<= {TARGETS['gradescope_wall_s']:g} s",
         "verdict": "met" if g["wall_s"]["median"] <= TARGETS["gradescope_wall_s"] else "MISSED"},
        {"what": "reference at Gradescope's limits, peak charged memory (max)",
         "measured": f"{g['group_peak_mb']['max']:.0f} MB",
         "target": f"<= {TARGETS['gradescope_peak_mb']:g} MB",
         "verdict": "met" if g["group_peak_mb"]["max"] <= TARGETS["gradescope_peak_mb"]
         and g["oom_kills"] == 0 else "MISSED"},
    ]
