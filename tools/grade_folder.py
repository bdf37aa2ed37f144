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
    <name>.code.json  the code cells the grader graded (what the class report compares)
    index.json    every entry: its name, students and files (what the class report reads)
    report.html   the class report, with its figures as CSV and JSON (class_report.py)

and prints a summary table, the most frequent mistakes and the number of similar pairs.
Progress (done, rate, time left) goes to stderr. The isolation level is detected once, before
grading (``gradekit/isolation.py``); at ``none`` nothing is graded unless
``--allow-no-isolation`` is given.

Whatever one entry is or does, it becomes one row with a status and a message, and grades.csv
and the report are written: a link (never followed: it could name the reference solution), a
special file, a name that is not UTF-8, an upload the export reader refused, a grading process
that crashed or was stopped. Each grading runs in a memory cgroup of its own and dies with this
process (``grading_group.py``). Names and messages are escaped in every output (``safe_text``).

Usage: python tools/grade_folder.py SUBMISSIONS|EXPORT.zip [--out results] [--jobs 2]
       [--compare-with FILE ...] [--allow-no-isolation]
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
import zipfile
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

import class_report
import gradescope_export
import grading_group
from progress import Progress
from safe_text import csv_cell, file_name, printable

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


def failed_result(message: str, questions: dict, seconds: float, status: str = "error") -> dict:
    """A valid results.json for a submission whose grading process itself failed."""
    return {"score": 0.0, "execution_time": round(seconds, 2), "output": message,
            "output_format": "text", "visibility": "visible", "stdout_visibility": "hidden",
            "tests": [], "leaderboard": [],
            "extra_data": {"status": status, "error": message, "flags": [], "notes": [],
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


def _copy_regular(src: str, dst: str) -> None:
    """Copy a regular file; skip anything else (a FIFO would block, a device is no upload)."""
    if stat.S_ISREG(os.lstat(src).st_mode):
        shutil.copy2(src, dst)


def copy_upload(entry: Path, into: Path) -> str | None:
    """Copy one entry into a grading's submission folder without following any link (the
    grader refuses links out of the upload: copying through one would hand it the target).
    Returns why the entry cannot be graded, or None."""
    mode = os.lstat(entry).st_mode
    if stat.S_ISLNK(mode):
        return (f"{file_name(entry.name)} is a link (to {file_name(os.readlink(entry))[:200]}); "
                "links are never followed: upload the notebook itself")
    if stat.S_ISDIR(mode):
        shutil.copytree(entry, into, symlinks=True, dirs_exist_ok=True,
                        copy_function=_copy_regular)
    elif stat.S_ISREG(mode):
        shutil.copy2(entry, into / entry.name)
    else:
        return f"{file_name(entry.name)} is not a regular file or a folder"
    return None


def grade_one(entry: Path, source: Path, out_dir: Path, name: str | None = None,
              batch: grading_group.Batch | None = None, number: int = 0,
              problem: str | None = None) -> dict:
    """Grade one entry and write ``<name>.json`` (and ``<name>.code.json``); never raises:
    whatever goes wrong with this entry is its row's status and message."""
    name = name or file_name(entry.name)
    start = time.perf_counter()
    try:
        data = failed_result(problem, questions_of(source), 0.0) if problem else \
            _grade_in_process(entry, source, out_dir, name, batch, number, start)
    except Exception as exc:  # noqa: BLE001 - one entry never stops the batch
        data = failed_result(printable(f"this upload could not be graded: {type(exc).__name__}: "
                                       f"{exc}")[:300], questions_of(source),
                             time.perf_counter() - start)
    (out_dir / f"{name}.json").write_text(json.dumps(data, indent=2))
    return data


def _grade_in_process(entry: Path, source: Path, out_dir: Path, name: str,
                      batch: grading_group.Batch | None, number: int, start: float) -> dict:
    with tempfile.TemporaryDirectory(prefix="backprop-grade-") as tmp:
        root = Path(tmp)
        (root / "submission").mkdir()
        (root / "results").mkdir()
        os.symlink(source, root / "source")
        problem = copy_upload(entry, root / "submission")
        if problem:
            return failed_result(problem, questions_of(source), time.perf_counter() - start)
        cmd = [sys.executable, "-B", "-m", "gradekit.grade", "--root", str(root)]
        env = dict(environment_snapshot(), OMP_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
                   MKL_NUM_THREADS="1", PYTHONHASHSEED="0")
        group = batch.group(number) if batch is not None else None
        if batch is not None:
            cmd = batch.command(cmd, group)
        try:
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
            memory = {} if group is None else {"memory_limit_mb": batch.limit_bytes >> 20,
                                               "peak_mb": group.peak_mb,
                                               "oom_kills": group.oom_kills}
        finally:
            if batch is not None:
                batch.release(group)
        results_path = root / "results" / "results.json"
        try:
            data = json.loads(results_path.read_text())
        except (OSError, ValueError):
            if memory.get("oom_kills"):
                data = failed_result(
                    f"grading stopped: its processes together held more than "
                    f"{memory['memory_limit_mb']} MB (memory files, shared memory and its work "
                    "directory included)", questions_of(source), time.perf_counter() - start,
                    status="crashed")
            else:
                data = failed_result(printable(f"the grader failed on this submission: "
                                               f"{message[0][:300]}"),
                                     questions_of(source), time.perf_counter() - start)
        extra = data.setdefault("extra_data", {})
        if memory:
            extra["batch"] = memory
            if memory["oom_kills"]:
                extra.setdefault("flags", []).append(
                    f"memory: the grading reached its {memory['memory_limit_mb']} MB cgroup "
                    "limit and the kernel stopped a process of it")
        code = root / "results" / "graded_code.json"
        if code.is_file() and not code.is_symlink():
            shutil.copyfile(code, out_dir / f"{name}.code.json")
    return data


def csv_row(name: str, data: dict, questions: dict) -> dict:
    """One grades.csv row (cells not yet made safe: ``write_csv`` does that)."""
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
    row["memory_mb"] = (extra.get("batch") or {}).get("peak_mb", "")
    return row


def write_csv(path: Path, rows: list[dict]) -> None:
    """Rows as CSV, every text cell escaped to one line and never read as a formula."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)


def display_names(entries: list[Path]) -> dict[Path, str]:
    """A printable name per entry, unique (``name~2`` for a second entry shown alike)."""
    names: dict[Path, str] = {}
    for entry in entries:
        name = file_name(entry.name)
        base, k = name, 1
        while name in names.values() or name in ("index", "grades"):
            k += 1
            name = f"{base}~{k}"
        names[entry] = name
    return names


def print_table(rows: list[dict], questions: dict) -> None:
    qcols = list(questions)
    name_w = max([len("submission")] + [len(r["file"]) for r in rows])
    head = f"{'submission':<{name_w}}  {'total':>6}  " + "  ".join(f"{q:>5}" for q in qcols) \
        + "  status    flags"
    print(head)
    print("-" * len(head))
    for r in rows:
        flag = "yes" if r["flags"] else ""
        print(f"{printable(r['file']):<{name_w}}  {r['total']:>6g}  "
              + "  ".join(f"{r[q]:>5g}" for q in qcols)
              + f"  {printable(r['status']):<8}  {flag}")
    maxima = "  ".join(f"{questions[q]['points']:>5g}" for q in qcols)
    print(f"{'(max)':<{name_w}}  {sum(q['points'] for q in questions.values()):>6g}  {maxima}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folder", type=Path)
    parser.add_argument("--out", type=Path, default=ROOT / "results")
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--compare-with", type=Path, action="append", default=[],
                        help="a notebook or .py file the class report compares every "
                             "submission with (e.g. last year's leaked solution); repeatable")
    parser.add_argument("--allow-no-isolation", action="store_true",
                        help="grade even where student code cannot be isolated from this "
                             "machine (it then runs with your user's rights)")
    args = parser.parse_args(argv)
    if not args.zip.exists():
        parser.error(f"{args.zip} not found: run `make autograder` first")
    unpacked = tempfile.TemporaryDirectory(prefix="backprop-export-")
    try:
        entries, students, problems = gradescope_export.entries(args.folder,
                                                                Path(unpacked.name))
    except (gradescope_export.ExportError, zipfile.BadZipFile, OSError) as err:
        parser.error(printable(str(err)))
    if not entries:
        print(f"no submissions in {printable(str(args.folder))}")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    names = display_names(entries)
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
        _protect_from_oom_killer()
        batch = grading_group.Batch(args.jobs)
        print(f"grading {len(entries)} submission(s) from {printable(str(args.folder))} with "
              f"{args.jobs} worker(s), isolation: {level}, memory per grading: "
              + (f"{batch.limit_bytes >> 20} MB (cgroup v{batch.version})" if batch.dir
                 else f"not limited as a whole ({batch.why})") + "...", flush=True)
        results: dict[str, dict] = {}
        progress = Progress(len(entries))
        try:
            with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
                futures = {pool.submit(grade_one, e, source, args.out, names[e], batch, k,
                                       problems.get(e.name)): e
                           for k, e in enumerate(entries)}
                for done, future in enumerate(as_completed(futures), start=1):
                    entry = futures[future]
                    data = future.result()
                    results[names[entry]] = data
                    extra = data.get("extra_data", {})
                    progress.clear()
                    print(f"[{done}/{len(entries)}] {names[entry]}: {data.get('score', 0):g} / "
                          f"{extra.get('max_score', 0):g} "
                          f"({printable(str(extra.get('status', '?')))}, "
                          f"{data.get('execution_time', 0):.1f} s)", flush=True)
                    progress.update(done)
        finally:
            batch.close()
        for path in [Path(tmp), *Path(tmp).rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    rows = [csv_row(names[e], results[names[e]], questions) for e in entries]
    write_csv(args.out / "grades.csv", rows)
    index = [{"file": names[e], "results": f"{names[e]}.json",
              "code": f"{names[e]}.code.json"
              if (args.out / f"{names[e]}.code.json").exists() else None,
              "students": students.get(e.name, [])} for e in entries]
    (args.out / "index.json").write_text(json.dumps(index, indent=1))
    print()
    print_table(rows, questions)
    elapsed = time.perf_counter() - start
    print(f"\n{len(rows)} graded in {elapsed:.1f} s; results in {printable(str(args.out))}/ "
          "(grades.csv, one .json per submission)")
    print("\n".join(class_report.write_or_explain(args.out, questions,
                                                  compare_with=args.compare_with)))
    unpacked.cleanup()
    return 0


def _protect_from_oom_killer() -> None:
    """Make this driver the OOM killer's last choice (its gradings raise their own score)."""
    try:
        Path("/proc/self/oom_score_adj").write_text("-500")
    except OSError:
        pass


if __name__ == "__main__":
    sys.exit(main())
