"""Grade every catalogue entry through the autograder zip and report what the grader caught.

For each entry (tests/catalogue): its kind (bug, shortcut without backprop, correct), for a
bug whether a public check names it ("locally") or only Gradescope's hidden tests do, the
points per question, expected (``-`` marks a question that must lose points) against actual,
the hint a student sees for every failed question and the grading time, and for a bug its
cross-question loss: the points it costs on Questions 1 to 5 outside its own question(s),
0 unless the catalogue records why it spans them (error carried forward). Then the totals:
bugs caught, shortcuts denied, bugs caught locally, correct variants given full marks, the
cross-question loss summed and its largest entry.

A bug counts as caught when exactly its recorded questions lose points and the visible
feedback contains its recorded words.

Usage: python tools/catalogue_report.py [--jobs 2] [--zip autograder.zip] [--only NAME ...]
                                        [--out DIR] (keeps every results.json there)
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tools")]

import grade_folder  # noqa: E402
from catalogue import ENTRIES, Entry, cross_question_loss, notebook_for  # noqa: E402
from conftest import caught_locally, question_scores, visible_text  # noqa: E402


def failed_questions(results: dict, questions: dict) -> set[str]:
    scores = question_scores(results)
    return {q for q, spec in questions.items() if scores.get(q, 0.0) < spec["points"] - 1e-9}


def verdict(entry: Entry, results: dict, questions: dict) -> tuple[bool, list[str]]:
    """(as expected?, reasons it is not) for one graded entry."""
    problems = []
    lost = failed_questions(results, questions)
    if lost != set(entry.loses):
        problems.append(f"lost points on {sorted(lost) or 'nothing'}, expected "
                        f"{sorted(entry.loses) or 'nothing'}")
    text = visible_text(results).lower()
    missing = [w for w in entry.words if w.lower() not in text]
    if missing:
        problems.append(f"feedback lacks {missing}")
    if results["extra_data"].get("status") != "ok":
        problems.append(f"grading status {results['extra_data'].get('status')}")
    cross = cross_question_loss(entry, question_scores(results), questions)
    if cross and not entry.spans:
        problems.append(f"costs {cross:g} points outside its own question(s) "
                        f"{sorted(entry.own)}, and the catalogue records no reason")
    if entry.is_bug and caught_locally(entry.words, results) != entry.local:
        problems.append("public checks " + ("do not name it, the catalogue says they do"
                                            if entry.local else "name it, the catalogue says "
                                            "they do not"))
    return not problems, problems


def hints(results: dict) -> list[str]:
    """The first failure line a student sees for each question that lost points."""
    shown = []
    for test in results.get("tests", []):
        if test.get("visibility") == "hidden" or test.get("score", 0) >= test.get("max_score", 0):
            continue
        lines = test.get("output", "").splitlines()
        for i, line in enumerate(lines):
            if "FAILED" in line:
                detail = line.split("FAILED", 1)[1].lstrip(": ")
                if not detail and i + 1 < len(lines):
                    detail = lines[i + 1].strip()
                shown.append(f"{test['name'].split(':')[0]}: {detail}")
                break
    return shown


def grade_entry(entry: Entry, source: Path, work: Path, out: Path | None) -> tuple[dict, float]:
    folder = work / entry.name
    folder.mkdir()
    path = folder / f"{entry.name}.ipynb"
    nbformat.write(notebook_for(entry), path)
    start = time.perf_counter()
    results = grade_folder.grade_one(path, source, out or folder)
    return results, time.perf_counter() - start


def print_entry(entry: Entry, results: dict, seconds: float, questions: dict) -> bool:
    ok, problems = verdict(entry, results, questions)
    scores = question_scores(results)
    local = ("locally " if caught_locally(entry.words, results) else "Gradescope") \
        if entry.is_bug else ""
    print(f"{'ok  ' if ok else 'MISS'} {entry.kind:<8} {local:<10} {entry.name}  "
          f"({seconds:.1f} s): {entry.what}")
    cells = []
    for q, spec in questions.items():
        expected = "-" if q in entry.loses else f"{spec['points']:g}"
        cells.append(f"{q} {expected:>2}/{scores.get(q, 0):<4g}")
    print("       expected/actual  " + "  ".join(cells))
    if entry.kind == "bug":
        cross = cross_question_loss(entry, scores, questions)
        print(f"       cross-question loss {cross:g}" + (f" ({entry.spans})" if cross else ""))
    for line in hints(results):
        print(f"       hint  {line[:160]}")
    for problem in problems:
        print(f"       PROBLEM: {problem}")
    return ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--zip", type=Path, default=grade_folder.DEFAULT_ZIP)
    parser.add_argument("--only", nargs="*", help="grade only these entries")
    parser.add_argument("--out", type=Path, help="keep each entry's results.json here")
    args = parser.parse_args(argv)
    entries = [e for e in ENTRIES if not args.only or e.name in args.only]
    if args.out:
        args.out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="backprop-catalogue-") as tmp:
        source = grade_folder.unpack_source(args.zip, Path(tmp))
        questions = grade_folder.questions_of(source)
        work = Path(tmp) / "work"
        work.mkdir()
        print(f"grading {len(entries)} catalogue entries with {args.jobs} worker(s)...\n",
              flush=True)
        with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
            graded = list(pool.map(lambda e: grade_entry(e, source, work, args.out), entries))
        for path in [Path(tmp), *Path(tmp).rglob("*")]:
            path.chmod(0o755 if path.is_dir() else 0o644)
    outcomes = [print_entry(e, r, s, questions) for e, (r, s) in zip(entries, graded)]
    bugs = [ok for e, ok in zip(entries, outcomes) if e.kind == "bug"]
    shortcuts = [ok for e, ok in zip(entries, outcomes) if e.kind == "shortcut"]
    variants = [ok for e, ok in zip(entries, outcomes) if not e.is_bug]
    local = [caught_locally(e.words, r) for e, (r, _) in zip(entries, graded) if e.is_bug]
    slowest_seconds, slowest = max((s, e.name) for e, (_, s) in zip(entries, graded))
    cross = [(cross_question_loss(e, question_scores(r), questions), e.name)
             for e, (r, _) in zip(entries, graded) if e.kind == "bug"]
    print(f"\nbugs caught as recorded: {sum(bugs)} / {len(bugs)}")
    print(f"shortcuts (no backprop) denied the points as recorded: {sum(shortcuts)} / "
          f"{len(shortcuts)}")
    print(f"bugs and shortcuts named by a public check (caught locally): {sum(local)} / "
          f"{len(local)}")
    print(f"correct variants with full marks: {sum(variants)} / {len(variants)}")
    if cross:
        largest, name = max(cross)
        print(f"cross-question loss (Questions 1-5 outside a bug's own): {sum(c for c, _ in cross):g}"
              f" points over {sum(1 for c, _ in cross if c)} bug(s); largest {largest:g}"
              + (f" ({name})" if largest else ""))
    print(f"slowest entry: {slowest} ({slowest_seconds:.1f} s); all graded in "
          f"{time.perf_counter() - start:.0f} s")
    return 0 if all(outcomes) else 1


if __name__ == "__main__":
    os.environ.setdefault("PYTHONHASHSEED", "0")
    sys.exit(main())
