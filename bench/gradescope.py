"""Grade one submission the way Gradescope does, where students wait for it: the zip's
``run_autograder`` with the Python of the image's environment (the grading lock under the
image's Python version, ``tools/lock_env.py``), inside a cgroup that either has Gradescope's
default limits (768 MB, half a CPU) or none, so both are measured the same way.

Figures per run: wall time, CPU time of the whole group, peak memory charged to the group
(page cache included, what the limit counts) and the peak summed RSS of the process tree.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import tempfile
import time
import zipfile
from pathlib import Path

from cgroup import Group
from procmem import TreeSampler


def grade_in_group(notebook: Path, zip_path: Path, python: Path, limited: bool) -> dict:
    with tempfile.TemporaryDirectory(prefix="backprop-bench-gs-") as tmp:
        root = Path(tmp) / "autograder"
        for folder in ("source", "submission", "results"):
            (root / folder).mkdir(parents=True)
        with zipfile.ZipFile(zip_path) as zf:
            zf.extractall(root / "source")
        script = root / "source" / "run_autograder"
        script.chmod(0o755)
        shutil.copy(notebook, root / "submission" / notebook.name)
        env = dict(os.environ, AUTOGRADER_ROOT=str(root), BACKPROP_PYTHON=str(python))
        load = os.getloadavg()[0]
        with Group(limited) as group:
            start = time.perf_counter()
            proc = subprocess.Popen([str(script)], cwd=root, env=env, preexec_fn=group.enter,
                                    stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
            with TreeSampler(proc.pid, interval=0.05) as sampler:
                log, _ = proc.communicate()
            wall = time.perf_counter() - start
            cpu_s, peak_mb, oom_kills = group.cpu_s, group.peak_mb, group.oom_kills
        try:
            results = json.loads((root / "results" / "results.json").read_text())
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"grading {notebook.name} failed ({exc}); log:\n"
                               + log.decode("utf-8", "replace")[-2000:]) from None
    return {"wall_s": wall, "cpu_s": cpu_s, "group_peak_mb": peak_mb,
            "peak_rss_mb": sampler.peak.rss_mb, "oom_kills": oom_kills,
            "score": results.get("score"), "status": results.get("extra_data", {}).get("status"),
            "load_before": load, "cgroup": group.version}


def container_figures(notebook: Path, zip_path: Path, runs: int) -> dict:
    """The reference graded ``runs`` times in the Gradescope-like container
    (``tools/gradescope_container.py``): wall time of ``run_autograder``, CPU time, the
    container's memory peak, the isolation level reached, processes left afterwards."""
    import gradescope_container

    reason = gradescope_container.unavailable()
    if reason:
        print(f"  container: skipped ({reason})", flush=True)
        return {"skipped": reason}
    rows = []
    for i in range(runs):
        r = gradescope_container.grade(notebook, zip_path)
        extra = r["results"].get("extra_data", {})
        row = {"wall_s": r["wall_s"], "cpu_s": r["cpu_s"], "peak_mb": r["cgroup_peak_mb"],
               "score": r["results"].get("score"), "isolation": extra.get("isolation"),
               "processes_left": len(r["processes_left"]), "load_before": os.getloadavg()[0]}
        print(f"  container run {i + 1}/{runs}: {row['wall_s']:.2f} s wall, {row['cpu_s']:.2f} s "
              f"CPU, {row['peak_mb']:.0f} MB peak, score {row['score']} at {row['isolation']}, "
              f"{row['processes_left']} processes left, load {row['load_before']:.2f}",
              flush=True)
        rows.append(row)
    walls, peaks = sorted(r["wall_s"] for r in rows), sorted(r["peak_mb"] for r in rows)
    out = {"runs": rows, "wall_s_median": walls[len(walls) // 2],
           "peak_mb_median": peaks[len(peaks) // 2], "peak_mb_max": peaks[-1],
           "levels": sorted({r["isolation"] for r in rows})}
    print(f"  container (runc, Docker's defaults, 768 MiB, half a CPU): median {out['wall_s_median']:.2f} s "
          f"wall, memory peak median {out['peak_mb_median']:.0f} MB (max {out['peak_mb_max']:.0f}), "
          f"level {', '.join(map(str, out['levels']))}", flush=True)
    return out
