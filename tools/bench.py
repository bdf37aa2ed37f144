"""Grading speed and memory benchmark (``make bench``).

Measures, with the built autograder zip (see bench/README.md for what each figure means):

1. single: grading one submission on one core (``taskset``), stage by stage, with the peak
   memory of the whole process tree; for the reference, the blank notebook and the slowest
   realistic correct submission (a per-example Python loop in ``train_step``);
2. batch: ``tools/grade_folder.py`` (what ``make grade`` runs) on a class of submissions
   (reference copies, blank, buggy mutations) with 1 and 2 workers;
3. training: the reference ``train_step`` over one epoch of the grading subset, against the
   machine's float32 matmul rate and, when it is installed, PyTorch;
4. versus_otter: grading the reference with gradekit and with a plain ``otter run -a`` of the
   same zip, on the same core, run after run in turn;
5. gradescope: the reference graded by the zip's ``run_autograder`` in the Gradescope-like
   container (``tools/gradescope_container.py``: runc, Docker's defaults, 768 MiB, half a CPU),
   then in the image's environment (the grading lock under the image's Python) in a cgroup
   limited to Gradescope's 768 MB and half a CPU, run by run beside the same grading in an
   unlimited cgroup.
6. report: writing the class report (tools/class_report.py) for a class of 1,000 submissions.

Writes bench/results/bench-<date>.json (and latest.json) and prints a table of medians with
min and max. Usage:

    python tools/bench.py [--runs 5] [--only single,batch,training] [--batch-size 100]
                          [--batch-runs 1] [--jobs 1,2] [--variants reference,blank,...]
                          [--report-size 1000] [--report-runs 3] [--gradescope-runs 5]
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "autograder"))

import cgroup  # noqa: E402
import class_report  # noqa: E402
import grade_folder  # noqa: E402
import gradescope  # noqa: E402
import grading  # noqa: E402
import lock_env  # noqa: E402
import report  # noqa: E402
import submissions  # noqa: E402
from gradekit import python_version  # noqa: E402
from procmem import TreeSampler  # noqa: E402

SECTIONS = ("single", "batch", "training", "versus_otter", "gradescope", "report")
REPORT_LIMIT_S = 60.0
DEFAULT_VARIANTS = "reference,blank,per_example_loop"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def torch_version() -> str | None:
    probe = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__)"],
                           capture_output=True, text=True)
    return probe.stdout.strip() if probe.returncode == 0 else None


def load() -> str:
    return "/".join(f"{x:.2f}" for x in os.getloadavg())


def run_single(variants: dict[str, Path], names: list[str], source: Path, runs: int,
               cpu: str) -> dict:
    mnist = grading.mnist_cases(source)
    out = {}
    for name in names:
        results = []
        for i in range(runs):
            r = grading.grade_timed(variants[name], source, cpu=cpu, mnist=mnist)
            print(f"  {name} run {i + 1}/{runs}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s "
                  f"CPU, {r['peak_rss_mb']:.0f} MB, score {r['score']} ({r['status']}), "
                  f"load {r['load_before']:.2f}", flush=True)
            results.append(r)
        out[name] = {"runs": results, "summary": report.summarise_single(results)}
    return out


def grade_batch(folder: Path, zip_path: Path, jobs: int) -> dict:
    """One ``tools/grade_folder.py`` run over ``folder``: wall time, memory and the grades."""
    with tempfile.TemporaryDirectory(prefix="backprop-bench-batch-") as tmp:
        cmd = [sys.executable, str(ROOT / "tools" / "grade_folder.py"), str(folder),
               "--out", tmp, "--jobs", str(jobs), "--zip", str(zip_path)]
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        with TreeSampler(proc.pid, interval=0.1) as sampler:
            log, _ = proc.communicate()
        wall = time.perf_counter() - start
        if proc.returncode != 0:
            raise RuntimeError("grade_folder.py failed:\n" + log.decode()[-2000:])
        with open(Path(tmp) / "grades.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
    return {"wall_s": wall, "peak_rss_mb": sampler.peak.rss_mb, "load_before": load_before,
            "rows": [{"file": r["file"], "total": float(r["total"]), "status": r["status"],
                      "seconds": float(r["seconds"])} for r in rows]}


def run_batch(variants: dict[str, Path], zip_path: Path, size: int, runs: int,
              jobs_list: list[int], work: Path) -> dict:
    folder = work / "batch"
    composition = submissions.batch_folder(variants, folder, size)
    out = {}
    for jobs in jobs_list:
        results = []
        for i in range(runs):
            r = grade_batch(folder, zip_path, jobs)
            print(f"  batch of {size}, {jobs} worker(s), run {i + 1}/{runs}: "
                  f"{r['wall_s']:.1f} s, {size / r['wall_s'] * 60:.1f} per minute", flush=True)
            results.append(r)
        by_variant: dict[str, set] = {}
        for r in results:
            for row in r["rows"]:
                variant = row["file"].split("_", 1)[1].rsplit(".", 1)[0]
                by_variant.setdefault(variant, set()).add(row["total"])
        out[str(jobs)] = {
            "size": size, "composition": composition, "runs": results,
            "wall_s": report.summary(r["wall_s"] for r in results),
            "per_minute": report.summary(size / r["wall_s"] * 60 for r in results),
            "execution_time_s": report.summary(row["seconds"] for r in results
                                               for row in r["rows"]),
            "peak_rss_mb": report.summary(r["peak_rss_mb"] for r in results),
            "scores": {k: sorted(v) for k, v in sorted(by_variant.items())},
        }
    return out


def run_versus_otter(notebook: Path, zip_path: Path, source: Path, runs: int,
                     cpu: str) -> dict:
    """gradekit and ``otter run`` on the same notebook, alternated run by run."""
    mnist = grading.mnist_cases(source)
    ours, otter = [], []
    for i in range(runs):
        ours.append(grading.grade_timed(notebook, source, cpu=cpu, mnist=mnist))
        otter.append(grading.otter_run_timed(notebook, zip_path, cpu=cpu))
        print(f"  run {i + 1}/{runs}: gradekit {ours[-1]['wall_s']:.2f} s "
              f"(score {ours[-1]['score']}), otter run {otter[-1]['wall_s']:.2f} s "
              f"(score {otter[-1]['score']})", flush=True)
    return {"notebook": notebook.name, "runs": runs,
            "gradekit_wall_s": report.summary(r["wall_s"] for r in ours),
            "otter_wall_s": report.summary(r["wall_s"] for r in otter),
            "gradekit_cpu_s": report.summary(r["cpu_s"] for r in ours),
            "otter_cpu_s": report.summary(r["cpu_s"] for r in otter),
            "gradekit_peak_rss_mb": report.summary(r["peak_rss_mb"] for r in ours),
            "otter_peak_rss_mb": report.summary(r["peak_rss_mb"] for r in otter),
            "ratio": report.summary(a["wall_s"] / b["wall_s"] for a, b in zip(ours, otter)),
            "scores": {"gradekit": sorted({r["score"] for r in ours}, key=str),
                       "otter": sorted({r["score"] for r in otter}, key=str)}}


def run_training(source: Path, runs: int, cpu: str) -> dict:
    env = dict(os.environ, **grading.ONE_THREAD)
    proc = subprocess.run(["taskset", "-c", cpu, sys.executable,
                           str(ROOT / "bench" / "training.py"), str(source / "files"), str(runs)],
                          env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError("bench/training.py failed:\n" + proc.stderr[-2000:])
    raw = json.loads(proc.stdout)
    flops = raw["flops_per_epoch"]
    out = dict(raw, runs=runs,
               numpy_epoch_s=report.summary(raw["numpy_epoch_s"]),
               numpy_float64_epoch_s=report.summary(raw["numpy_float64_epoch_s"]),
               torch_epoch_s=report.summary(raw["torch_epoch_s"]),
               torch=raw["torch"]["version"], raw=raw,
               images_per_s=report.summary(raw["images"] / s for s in raw["numpy_epoch_s"]),
               achieved_gflops=report.summary(flops / s / 1e9 for s in raw["numpy_epoch_s"]),
               sgemm_1024_gflops=report.summary([raw["sgemm_1024_flops"] / 1e9]),
               sgemm_batch_gflops=report.summary([raw["sgemm_batch_flops"] / 1e9]),
               achieved_fraction=report.summary(flops / s / raw["sgemm_1024_flops"]
                                                for s in raw["numpy_epoch_s"]),
               numpy_over_torch=report.summary(a / b for a, b in zip(raw["numpy_epoch_s"],
                                                                     raw["torch_epoch_s"])))
    return out


def run_gradescope(notebook: Path, zip_path: Path, runs: int) -> dict:
    """The reference graded as on Gradescope, limited and unlimited, alternating run by run."""
    reason = cgroup.unavailable()
    if reason:
        print(f"  skipped: no cgroup can be made here ({reason})", flush=True)
        return {"skipped": reason}
    version = python_version.dotted(python_version.IMAGE)
    with tempfile.TemporaryDirectory(prefix="backprop-bench-lock-") as tmp:
        lock = Path(tmp) / "requirements.txt"
        with zipfile.ZipFile(zip_path) as zf:
            lock.write_bytes(zf.read("requirements.txt"))
        python = lock_env.lock_venv(version, lock)
    out: dict = {"python": version, "runs": runs,
                 "container": gradescope.container_figures(notebook, zip_path, runs)}
    for limited in (True, False) * runs:
        key = "limited" if limited else "unlimited"
        r = gradescope.grade_in_group(notebook, zip_path, python, limited)
        print(f"  {key}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s CPU, "
              f"{r['group_peak_mb']:.0f} MB charged, {r['peak_rss_mb']:.0f} MB tree RSS, "
              f"score {r['score']} ({r['status']}), load {r['load_before']:.2f}", flush=True)
        out.setdefault(key, {"runs": []})["runs"].append(r)
    for key in ("limited", "unlimited"):
        rs = out[key]["runs"]
        out[key].update({figure: report.summary(r[figure] for r in rs) for figure in
                         ("wall_s", "cpu_s", "group_peak_mb", "peak_rss_mb", "load_before")})
        out[key].update(scores=sorted({r["score"] for r in rs}, key=str),
                        oom_kills=sum(r["oom_kills"] for r in rs), cgroup=rs[0]["cgroup"])
    return out


def run_class_report(zip_path: Path, size: int, runs: int, work: Path) -> dict:
    """Time ``class_report.write`` for a class of ``size`` submissions.

    The class is tests/catalogue/classroom.random_class: every student's own combination of
    independently written functions, 40 % with a planted catalogue mistake, some blank notebooks
    and unreadable uploads. Each kind (correct, each mistake, blank, unreadable) is graded once
    through the zip; a submission gets the results of its kind and keeps its own notebook, which
    is all the report reads besides results (the similarity check reads every notebook)."""
    sys.path.insert(0, str(ROOT / "tests"))
    from catalogue import BUGS, notebook_for
    from catalogue.classroom import PLANTED, random_class
    from conftest import solution_notebook, student_notebook

    kinds = work / "report-kinds"
    kinds.mkdir()
    for bug in BUGS:
        if bug.name in PLANTED:
            nbformat.write(notebook_for(bug), kinds / f"{bug.name}.ipynb")
    nbformat.write(solution_notebook(), kinds / "correct.ipynb")
    nbformat.write(student_notebook(), kinds / "blank.ipynb")
    (kinds / "unreadable.ipynb").write_text("not a notebook")
    graded = work / "report-kinds-results"
    with open(os.devnull, "w") as quiet, contextlib.redirect_stdout(quiet):
        grade_folder.main([str(kinds), "--out", str(graded), "--jobs", "2",
                           "--zip", str(zip_path)])
    results = {p.stem: json.loads((graded / f"{p.name}.json").read_text())
               for p in kinds.iterdir()}
    questions = grade_folder.questions_of(work / "source")
    folder = work / "report-class"
    folder.mkdir()
    subs = []
    for name, kind, nb in random_class(size):
        path = folder / f"{name}.ipynb"
        if nb is None:
            path.write_text("not a notebook")
        else:
            nbformat.write(nb, path)
        subs.append(class_report.Submission(path.name, results[kind], path))
    seconds, pairs = [], 0
    for i in range(runs):
        out = work / f"report-out-{i}"
        out.mkdir()
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        fig = class_report.write(out, subs, questions)
        seconds.append(time.perf_counter() - start)
        pairs = len(fig["similarity"]["pairs"])
        print(f"  class report for {size} submissions, run {i + 1}/{runs}: {seconds[-1]:.1f} s "
              f"({pairs} similar pairs, load {load_before:.2f})", flush=True)
    return {"size": size, "runs": runs, "seconds": report.summary(seconds), "raw_s": seconds,
            "similar_pairs": pairs, "cpus": len(os.sched_getaffinity(0))}


def class_report_verdict(data: dict) -> list[dict]:
    measured = data.get("report")
    if not measured:
        return []
    median = measured["seconds"]["median"]
    return [{"what": f"class report for {measured['size']} submissions (median wall)",
             "measured": f"{median:.2f} s", "target": f"<= {REPORT_LIMIT_S:g} s",
             "verdict": "met" if median <= REPORT_LIMIT_S else "MISSED"}]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zip", type=Path, default=grade_folder.DEFAULT_ZIP)
    parser.add_argument("--submissions", type=Path, default=ROOT / "submissions",
                        help="folder holding reference.ipynb and blank.ipynb")
    parser.add_argument("--runs", type=int, default=5, help="runs per single-grading figure")
    parser.add_argument("--only", default=",".join(SECTIONS),
                        help=f"comma-separated sections: {', '.join(SECTIONS)}")
    parser.add_argument("--variants", default=DEFAULT_VARIANTS,
                        help="single-grading notebooks: reference, blank or a mutation of "
                             f"bench/submissions.py ({', '.join(submissions.MUTATIONS)})")
    parser.add_argument("--batch-size", type=int, default=100)
    parser.add_argument("--batch-runs", type=int, default=1,
                        help="runs per batch figure (each run grades the whole batch)")
    parser.add_argument("--jobs", default="1,2", help="worker counts for the batch")
    parser.add_argument("--report-size", type=int, default=1000,
                        help="submissions in the class whose report is timed")
    parser.add_argument("--report-runs", type=int, default=3)
    parser.add_argument("--cpu", default="0", help="the core single gradings are pinned to")
    parser.add_argument("--gradescope-runs", type=int, default=5,
                        help="runs of each of the limited and unlimited gradings")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    args = parser.parse_args(argv)
    sections = [s for s in args.only.split(",") if s]
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    if not args.zip.exists():
        parser.error(f"{args.zip} not found: run `make autograder` first")
    names = [v for v in args.variants.split(",") if v]
    known = {"reference", "blank", *submissions.MUTATIONS}
    if set(names) - known:
        parser.error(f"unknown variant(s): {', '.join(sorted(set(names) - known))}")

    torch = torch_version()
    data: dict = {"meta": {
        "date": time.strftime("%Y-%m-%d %H:%M:%S"), "cpu": args.cpu,
        "command": shlex.join(["python", "tools/bench.py", *(sys.argv[1:] if argv is None
                                                             else argv)]),
        "cpus": os.cpu_count(), "cpu_model": cpu_model(), "python": platform.python_version(),
        "numpy": __import__("numpy").__version__, "torch": torch, "load_before": load(),
        "zip": str(args.zip), "runs": args.runs}}
    if torch is None:
        print("PyTorch is not installed: the training section runs without the comparison.")
    with tempfile.TemporaryDirectory(prefix="backprop-bench-") as tmp:
        work = Path(tmp)
        source = grade_folder.unpack_source(args.zip, work)
        variants = submissions.write_variants(args.submissions, work / "variants")
        try:
            if "training" in sections:
                print("training throughput...", flush=True)
                data["training"] = run_training(source, args.runs, args.cpu)
            if "single" in sections:
                print("grading single submissions...", flush=True)
                data["single"] = run_single(variants, names, source, args.runs, args.cpu)
            if "versus_otter" in sections:
                print("gradekit against otter run...", flush=True)
                data["versus_otter"] = run_versus_otter(variants["reference"], args.zip, source,
                                                        args.runs, args.cpu)
            if "gradescope" in sections:
                print("grading the reference as on Gradescope (768 MB, half a CPU)...",
                      flush=True)
                data["gradescope"] = run_gradescope(args.submissions / "reference.ipynb",
                                                    args.zip, args.gradescope_runs)
            if "batch" in sections:
                print("grading batches...", flush=True)
                data["batch"] = run_batch(variants, args.zip, args.batch_size, args.batch_runs,
                                          [int(j) for j in args.jobs.split(",") if j], work)
            if "report" in sections:
                print("class report...", flush=True)
                data["report"] = run_class_report(args.zip, args.report_size, args.report_runs,
                                                  work)
        finally:
            for path in [work, *work.rglob("*")]:
                path.chmod(0o755 if path.is_dir() else 0o644)
    data["meta"]["load_after"] = load()
    data["targets"] = report.verdicts(data) + class_report_verdict(data)
    args.out.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    text = json.dumps(data, indent=1)
    (args.out / f"bench-{stamp}.json").write_text(text)
    (args.out / "latest.json").write_text(text)
    print()
    print(report.table(data))
    print(f"\nfigures written to {args.out / f'bench-{stamp}.json'} (and latest.json)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
