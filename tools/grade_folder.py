"""Grade every submission in a folder with the built autograder zip (``make grade``).

Each entry of the folder is one submission: a notebook, any other file (graded as a broken
submission, with a clear message), or a sub-folder holding a student's upload. The folder, or a
zip of it, may also be what Gradescope's "Export Submissions" produces (its
submission_metadata.yml names the students; see gradescope_export.py). Every
submission is graded in its own process and its own Gradescope-style root, so nothing one
submission does can reach another. Writes, under ``--out``:

    <entry>.json  the results.json Gradescope would show (entry: the file or folder name)
    grades.csv    one row per submission: file, total, per-question points, status,
                  message, flags (tamper reasons for the instructor), named mistakes,
                  isolation (the level student code ran at: namespaces, user or none)
    report.html   the class report, with its figures as CSV and JSON (class_report.py)

and prints a summary table, the most frequent mistakes and the number of similar pairs.
Progress (done, rate, time left) goes to stderr. The isolation level is detected once, before
grading (``gradekit/isolation.py``); at ``none`` nothing is graded unless
``--allow-no-isolation`` is given.

Usage: python tools/grade_folder.py SUBMISSIONS|EXPORT.zip [--out results] [--jobs 2]
       [--allow-no-isolation]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import class_report
import gradescope_export
from progress import Progress

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ZIP = Path(os.environ.get("BACKPROP_AUTOGRADER_ZIP", ROOT / "autograder" / "autograder.zip"))
SUBMISSION_DEADLINE_S = 900


def unpack_source(zip_path: Path, into: Path) -> Path:
    source = into / "source"
    with zipfile.ZipFile(zip_path) as zf:
        zf.extractall(source)
    for path in [source, *source.rglob("*")]:
        mode = 0o755 if path.is_dir() or path.name == "run_autograder" else 0o644
        path.chmod(mode & ~0o222 if path.is_file() else mode)
    return source


def questions_of(source: Path) -> dict:
    return json.loads((source / "questions.json").read_text())


def failed_result(message: str, questions: dict, seconds: float) -> dict:
    """A valid results.json for a submission whose grading process itself failed."""
    return {"score": 0.0, "execution_time": round(seconds, 2), "output": message,
            "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [], "leaderboard": [],
            "extra_data": {"status": "error", "error": message, "flags": [], "notes": [],
                           "max_score": sum(q["points"] for q in questions.values()),
                           "questions": {q: 0.0 for q in questions}}}


def environment_snapshot() -> dict[str, str]:
    """A copy of os.environ that tolerates another thread changing it mid-copy."""
    for _ in range(20):
        try:
            return dict(os.environ.items())
        except (KeyError, RuntimeError):
            continue
    return dict(os.environ.items())


def _gradekit(source: Path):
    """The grader's isolation module, from the zip (what grades is what is tested)."""
    if str(source) not in sys.path:
        sys.path.insert(0, str(source))
    from gradekit import isolation
    return isolation


def isolation_level(source: Path, hidden: list[Path]) -> str | None:
    """The level student code will run at (None, after a message, if a forced one fails)."""
    isolation = _gradekit(source)
    try:
        found = isolation.detect([str(p.resolve()) for p in hidden])
    except isolation.IsolationUnavailable as exc:
        print(f"cannot isolate student code as BACKPROP_ISOLATION asks: {exc}", file=sys.stderr)
        return None
    found.close()
    if found.why:
        print(f"isolation: {found.level} (stronger levels unavailable: {found.why})")
    return found.level


def isolation_refusal(source: Path) -> str:
    return _gradekit(source).HOW_TO_ISOLATE


def grade_one(entry: Path, source: Path, out_dir: Path) -> dict:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="backprop-grade-") as tmp:
        root = Path(tmp)
        (root / "submission").mkdir()
        (root / "results").mkdir()
        os.symlink(source, root / "source")
        if entry.is_dir():
            shutil.copytree(entry, root / "submission", dirs_exist_ok=True, symlinks=False)
        else:
            shutil.copy(entry, root / "submission" / entry.name)
        cmd = [sys.executable, "-B", "-m", "gradekit.grade", "--root", str(root)]
        env = dict(environment_snapshot(), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
        proc = subprocess.Popen(cmd, cwd=source, env=env, stdout=subprocess.PIPE,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            log, _ = proc.communicate(timeout=SUBMISSION_DEADLINE_S)
            message = log.decode("utf-8", "replace").strip().splitlines()[-1:] or [""]
        except subprocess.TimeoutExpired:
            message = [f"grading did not finish within {SUBMISSION_DEADLINE_S} s"]
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        results_path = root / "results" / "results.json"
        try:
            data = json.loads(results_path.read_text())
        except (OSError, ValueError):
            data = failed_result(f"the grader failed on this submission: {message[0][:300]}",
                                 questions_of(source), time.perf_counter() - start)
    (out_dir / f"{entry.name}.json").write_text(json.dumps(data, indent=2))
    return data


def csv_row(name: str, data: dict, questions: dict) -> dict:
    extra = data.get("extra_data", {})
    row = {"file": name, "total": data.get("score", 0.0)}
    for q in questions:
        row[q] = extra.get("questions", {}).get(q, 0.0)
    row["status"] = extra.get("status", "error")
    summary = extra.get("summary")
    if not summary:
        lines = [extra.get("error") or ""] + [line for line in data.get("output", "").splitlines()
                                              if line.startswith("cell ")]
        summary = "; ".join(x for x in lines if x)
    row["message"] = summary[:300]
    row["flags"] = "; ".join(extra.get("flags", []))[:500]
    mistakes = extra.get("mistakes") or []
    row["mistakes"] = " ".join(dict.fromkeys(str(m.get("id", "?")) for m in mistakes))
    row["isolation"] = extra.get("isolation", "unavailable")
    row["seconds"] = data.get("execution_time", 0.0)
    return row


def print_table(rows: list[dict], questions: dict) -> None:
    qcols = list(questions)
    name_w = max([len("submission")] + [len(r["file"]) for r in rows])
    head = f"{'submission':<{name_w}}  {'total':>6}  " + "  ".join(f"{q:>5}" for q in qcols) \
        + "  status    flags"
    print(head)
    print("-" * len(head))
    for r in rows:
        flag = "yes" if r["flags"] else ""
        print(f"{r['file']:<{name_w}}  {r['total']:>6g}  "
              + "  ".join(f"{r[q]:>5g}" for q in qcols) + f"  {r['status']:<8}  {flag}")
    maxima = "  ".join(f"{questions[q]['points']:>5g}" for q in qcols)
    print(f"{'(max)':<{name_w}}  {sum(q['points'] for q in questions.values()):>6g}  {maxima}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--allow-no-isolation", action="store_true",
                        help="grade even where student code cannot be isolated from this "
                             "machine (it then runs with your user's rights)")
    args = parser.parse_args(argv)
    if not args.zip.exists():
        parser.error(f"{args.zip} not found: run `make autograder` first")
    unpacked = tempfile.TemporaryDirectory(prefix="backprop-export-")
    try:
        entries, students = gradescope_export.entries(args.folder, Path(unpacked.name))
    except (gradescope_export.ExportError, zipfile.BadZipFile, OSError) as err:
        parser.error(str(err))
    if not entries:
        print(f"no submissions in {args.folder}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="backprop-source-") as tmp:
        source = unpack_source(args.zip, Path(tmp))
        questions = questions_of(source)
        level = isolation_level(source, [Path(tmp), args.folder, Path(unpacked.name), args.out,
                                         args.zip, ROOT])
        if level is None:
            return 2
        if level == "none" and not args.allow_no_isolation:
            print(f"refusing to grade: {isolation_refusal(source)}", file=sys.stderr)
            return 2
        os.environ["BACKPROP_ISOLATION"] = level   # every grading process uses this level
        print(f"grading {len(entries)} submission(s) from {args.folder} with {args.jobs} "
              f"worker(s), isolation: {level}...", flush=True)
        results: dict[str, dict] = {}
        progress = Progress(len(entries))
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            futures = {pool.submit(grade_one, e, source, args.out): e
                       for e in entries}
            for done, future in enumerate(as_completed(futures), start=1):
                entry = futures[future]
                data = future.result()
                results[entry.name] = data
                extra = data.get("extra_data", {})
                progress.clear()
                print(f"[{done}/{len(entries)}] {entry.name}: {data.get('score', 0):g} / "
                      f"{extra.get('max_score', 0):g} ({extra.get('status', '?')}, "
                      f"{data.get('execution_time', 0):.1f} s)", flush=True)
                progress.update(done)
        for path in [Path(tmp), *Path(tmp).rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    rows = [csv_row(e.name, results[e.name], questions) for e in entries]
    csv_path = args.out / "grades.csv"
    with csv_path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    print()
    print_table(rows, questions)
    elapsed = time.perf_counter() - start
    print(f"\n{len(rows)} graded in {elapsed:.1f} s; results in {args.out}/ (grades.csv, "
          "one .json per submission)")
    figures = class_report.write(args.out, [
        class_report.Submission(e.name, results[e.name], e, students.get(e.name, []))
        for e in entries], questions)
    print(f"class report: {args.out / 'report.html'}")
    print("\n".join(class_report.summary_lines(figures)))
    unpacked.cleanup()
    return 0


if __name__ == "__main__":
    sys.exit(main())
