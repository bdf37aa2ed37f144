"""The class report written after grading (``make grade``): where the class lost points, which
named mistakes it made, which submissions need a person, and which look copied.

Writes, next to grades.csv in the results folder:

    report.html            one self-contained page (inline CSS and SVG: opens offline)
    report.json            every figure of the page
    report-scores.csv      score histograms, overall and per question
    report-tests.csv       the pass rate of every test case
    report-mistakes.csv    named mistakes, most frequent first, with the submissions showing them
    report-attention.csv   submissions not graded normally (timeout, crash, unreadable) or flagged
    report-similarity.csv  pairs of submissions whose graded code is similar
    report-answer-key.csv  submissions whose graded code matches the reference solution or a
                           file the instructor lists (``--compare-with``)
    report-left-out.csv    submissions the similarity check could not include, with the reason

Similarity works from what the grader graded: the code cells it recorded for each submission
(``<name>.code.json``, written by the grader from the notebook it chose), never the upload read
again by other rules, so decoy files, checkpoints, zip member order and padding outside the
graded code change nothing. Of that code it compares the graded functions and classes and the
top-level functions and classes they reach by name (unused helpers do not dilute a copy),
docstrings and comments dropped, the starter notebook's code removed as boilerplate, with
copydetect (winnowed fingerprints of the token stream with names replaced, so renaming
variables or reordering functions does not hide a copy). Graded code over
``MAX_GRADED_CHARS`` is left out and listed with the reason, as is one whose reading killed
its report worker. It is evidence for a person to look at, never a grade.

Rebuild the report from a results folder (names and students come from its index.json):

    python tools/class_report.py results [--compare-with last_year.ipynb ...]
"""

from __future__ import annotations

import argparse
import ast
import csv
import html
import io
import json
import multiprocessing
import os
import resource
import statistics
import sys
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files

from safe_text import csv_cell, printable

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "assignment" / "backprop.ipynb"
REFERENCE = ROOT / "solutions" / "backprop_solution.ipynb"

# A pair is listed when the code the two share makes up at least this fraction of *each* one's
# graded code (copydetect's token coverage, in both directions: a half-finished submission that
# matches part of another is not listed for that). Measured on the kit's synthetic class
# (tests/catalogue/classroom.py): planted near-copies (renamed, reordered) score 0.97-0.99;
# independently written submissions that share two whole functions reach 0.62.
THRESHOLD = 0.75
NOISE_CHARS = 25        # copydetect's k: shorter matches of the filtered token text are noise
GUARANTEE_CHARS = 30    # every match this long is found (winnowing window = 30 - 25 + 1)
MAX_SIDE_BY_SIDE = 60   # side-by-side views in the page (all pairs are in the CSV and JSON)
MAX_RECORD_BYTES = 32 * 2**20   # a graded-code record (the grader keeps at most 2 M characters)
MAX_GRADED_CHARS = 200_000      # graded code compared (the reference's is about 6,000)
WORKER_MEMORY = 2 * 2**30       # address space of a report worker


@dataclass
class Submission:
    name: str                         # the entry's name in the results (and grades.csv)
    results: dict                     # its results.json
    code: Path | None = None          # what the grader graded (<name>.code.json), or a notebook
    students: list[str] = field(default_factory=list)   # from a Gradescope export

    @property
    def label(self) -> str:
        return f"{self.name} ({', '.join(self.students)})" if self.students else self.name

    @property
    def extra(self) -> dict:
        return self.results.get("extra_data") or {}


# -- the graded code of a submission -------------------------------------------------------

class LeftOut(Exception):
    """Why a submission's code is not compared."""


def notebook_json(path: Path) -> dict:
    """A notebook file the instructor provides (the starter, the reference, a listed file)."""
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise LeftOut(f"{path.name} is over {MAX_RECORD_BYTES >> 20} MB")
    return json.loads(path.read_bytes())


def recorded_cells(path: Path | None) -> list[str]:
    """The code cells of a grader's record (``.code.json``), a notebook or a Python file."""
    if path is None or not path.is_file():
        raise LeftOut("the grader recorded no graded code (the upload was not graded)")
    if path.stat().st_size > MAX_RECORD_BYTES:
        raise LeftOut(f"its graded code record is over {MAX_RECORD_BYTES >> 20} MB")
    if path.suffix == ".py":
        return [path.read_text(encoding="utf-8", errors="replace")]
    data = json.loads(path.read_bytes())
    if path.name.endswith(".code.json"):
        cells = data.get("cells") if isinstance(data, dict) else None
        return [c for c in cells.values() if isinstance(c, str)] if isinstance(cells, dict) \
            else []
    return code_cells(data)


def code_cells(nb: dict | None) -> list[str]:
    if not isinstance(nb, dict) or not isinstance(nb.get("cells"), list):
        return []
    sources = []
    for cell in nb["cells"]:
        if isinstance(cell, dict) and cell.get("cell_type") == "code":
            src = cell.get("source", "")
            if isinstance(src, list):
                src = "".join(x for x in src if isinstance(x, str))
            sources.append(src if isinstance(src, str) else "")
    return sources


def _drop_docstrings(tree: ast.AST) -> None:
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) \
                and ast.get_docstring(node, clean=False) is not None:
            node.body = node.body[1:] or [ast.Expr(ast.Constant(...))]


def graded_names(starter: Path = STARTER) -> set[str]:
    """The functions and classes the starter notebook asks students to write."""
    names = set()
    for source in code_cells(notebook_json(starter)):
        try:
            tree = ast.parse(source)
        except SyntaxError:
            continue
        names |= {n.name for n in tree.body
                  if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    return names


def _names_used(node: ast.AST) -> set[str]:
    return {n.id if isinstance(n, ast.Name) else n.attr for n in ast.walk(node)
            if isinstance(n, (ast.Name, ast.Attribute))}


def graded_code(cells: dict | list[str], names: set[str]) -> str:
    """The graded functions and classes, and every top-level function and class they reach by
    name (helpers count, unused ones do not), in the order defined (a later definition of a
    name replaces an earlier one, as running the notebook does), without docstrings or
    comments, in a normalised layout. ``cells``: code cells, or a notebook."""
    defs: dict[str, ast.AST] = {}
    for source in code_cells(cells) if isinstance(cells, dict) else cells:
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                defs.pop(node.name, None)
                defs[node.name] = node
    reached, todo = set(), [n for n in defs if n in names]
    while todo:
        name = todo.pop()
        if name not in reached:
            reached.add(name)
            todo += [n for n in _names_used(defs[name]) if n in defs and n not in reached]
    module = ast.Module(body=[node for name, node in defs.items() if name in reached],
                        type_ignores=[])
    _drop_docstrings(module)
    try:
        return ast.unparse(module)
    except (RecursionError, ValueError):
        return ""


# -- similarity ----------------------------------------------------------------------------
# copydetect hashes k-grams with Python's salted hash(): fingerprints are comparable only within
# one process and the processes it forks, so the worker pool below forks (never spawns).

_SHARED: dict = {}      # what forked workers read: graded names, boilerplate fingerprints


def _fingerprint(name: str, code: str, boilerplate):
    return CodeFingerprint(f"{name}.py", NOISE_CHARS, GUARANTEE_CHARS - NOISE_CHARS + 1,
                           boilerplate=boilerplate, language="python", fp=io.StringIO(code))


def _analyse(item: tuple[str, Path | None]):
    """(graded code, fingerprint or None, why it is left out or None) of one submission."""
    name, path = item
    try:
        code = graded_code(recorded_cells(path), _SHARED["names"])
        if len(code) > MAX_GRADED_CHARS:
            raise LeftOut(f"its graded code is {len(code):,} characters (the limit is "
                          f"{MAX_GRADED_CHARS:,})")
        if not code.strip():
            raise LeftOut("no graded function or class defined")
        return code, _fingerprint(name, code, _SHARED["boiler"]), None
    except LeftOut as why:
        return "", None, str(why)
    except Exception as exc:  # noqa: BLE001 - a record the checker cannot read is left out
        return "", None, f"its graded code could not be read ({type(exc).__name__})"


def _limit_memory() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (WORKER_MEMORY, WORKER_MEMORY))


class _Positions:
    """A fingerprint's hashes by position, for comparing many pairs fast."""

    def __init__(self, fp):
        items = [(h, i) for h, positions in fp.hash_idx.items() for i in positions]
        self.hash = np.array([h for h, _ in items], dtype=np.int64)
        self.pos = np.array([i for _, i in items], dtype=np.int64)
        self.unique = np.array(sorted(fp.hashes), dtype=np.int64)
        self.coverage = float(fp.token_coverage)

    def overlap(self, other: "_Positions", k: int) -> float:
        """The characters of this document inside fingerprints the other one has too: the
        summed length of copydetect's copied slices (runs of positions closer than k merge)."""
        if not len(self.hash) or not len(other.unique):
            return 0.0
        at = np.minimum(np.searchsorted(other.unique, self.hash), len(other.unique) - 1)
        pos = np.sort(self.pos[other.unique[at] == self.hash])
        return float(np.minimum(np.diff(pos), k).sum() + k) if len(pos) else 0.0


def copydetect_similarity(a: _Positions, b: _Positions, k: int = NOISE_CHARS,
                          at_least: float = 0.0) -> tuple[float, float]:
    """copydetect.compare_files' two similarities, computed with array operations (a test
    checks they are equal); the second is skipped (0) when the first is below ``at_least``.
    compare_files itself runs only for the pairs shown side by side."""
    sim_a = a.overlap(b, k) / a.coverage if a.coverage else 0.0
    if sim_a < at_least:
        return sim_a, 0.0
    return sim_a, b.overlap(a, k) / b.coverage if b.coverage else 0.0


def _pool_map(func, items: list, jobs: int, failed) -> list:
    """``map(func, items)`` over ``jobs`` forked processes with limited memory, in order. A
    worker that dies (killed, out of memory) never hangs the report: the items its pool had not
    finished are retried one by one, each in a fresh process, and one whose process dies again
    gets ``failed``."""
    if not items:
        return []
    chunk = max(1, len(items) // (max(jobs, 1) * 8))
    parts = [list(range(i, min(i + chunk, len(items)))) for i in range(0, len(items), chunk)]
    out: list = [failed] * len(items)
    retry = _run_parts(func, items, parts, jobs, out)
    for i in retry:
        _run_parts(func, items, [[i]], 1, out)
    return out


def _run_parts(func, items: list, parts: list[list[int]], jobs: int, out: list) -> list[int]:
    """Run ``parts`` in one pool, filling ``out``; return the items of parts that broke."""
    broken = []
    with ProcessPoolExecutor(max(jobs, 1), mp_context=multiprocessing.get_context("fork"),
                             initializer=_limit_memory) as pool:
        futures = [(part, pool.submit(_map_part, func, [items[i] for i in part]))
                   for part in parts]
        for part, future in futures:
            try:
                for i, value in zip(part, future.result()):
                    out[i] = value
            except BrokenProcessPool:
                broken += part
    return broken


def _map_part(func, part: list) -> list:
    return [func(item) for item in part]


def _shared_counts(hash_sets: list[set]) -> np.ndarray:
    """counts[i, j] = number of fingerprints submissions i and j share (a matrix product over
    the fingerprints that occur in two or more submissions, in column chunks)."""
    n = len(hash_sets)
    owners = np.concatenate([np.full(len(h), i, dtype=np.int64) for i, h in enumerate(hash_sets)]
                            + [np.zeros(0, dtype=np.int64)])
    values = np.concatenate([np.fromiter(h, dtype=np.int64, count=len(h)) for h in hash_sets]
                            + [np.zeros(0, dtype=np.int64)])
    _, column, counts = np.unique(values, return_inverse=True, return_counts=True)
    keep = counts[column] >= 2
    owners, column = owners[keep], column[keep]
    _, column = np.unique(column, return_inverse=True)
    shared = np.zeros((n, n), dtype=np.float32)
    chunk = 4096
    for start in range(0, int(column.max(initial=-1)) + 1, chunk):
        sel = (column >= start) & (column < start + chunk)
        block = np.zeros((n, chunk), dtype=np.float32)
        block[owners[sel], column[sel] - start] = 1.0
        shared += block @ block.T
    return shared


def similarity(paths: dict[str, Path | None], starter: Path = STARTER,
               threshold: float = THRESHOLD, jobs: int | None = None,
               references: dict[str, Path] | None = None
               ) -> tuple[dict[str, str], list[dict], dict[str, str]]:
    """(graded code of each submission, pairs whose shared code is at least ``threshold`` of
    each one's graded code, {submission left out: why}); pairs most similar first, each with
    copydetect's matching slices for the side-by-side view. ``references`` (label -> notebook
    or .py file: the reference solution, files the instructor lists) take part too, named
    ``[label]``: a pair with one has ``"answer_key": True`` and is listed when the reference's
    code is at least ``threshold`` inside the submission's, or the other way round."""
    jobs = jobs or len(os.sched_getaffinity(0))
    names = graded_names(starter)
    starter_code = graded_code(notebook_json(starter), names)
    boiler = _fingerprint("starter", starter_code, None).hashes if starter_code else set()
    _SHARED.update(names=names, boiler=np.array(sorted(boiler), dtype=np.int64))
    references = {f"[{label}]": path for label, path in (references or {}).items()}
    items = list(paths.items()) + list(references.items())
    analysed = _pool_map(_analyse, items, jobs,
                         ("", None, "the report's worker reading it died (out of memory?)"))
    codes = {name: code for (name, _), (code, _, _) in zip(items, analysed)}
    left_out = {name: why for (name, _), (_, _, why) in zip(items, analysed) if why}
    named = [(name, fp) for (name, _), (_, fp, _) in zip(items, analysed)
             if fp is not None and fp.hashes]
    sizes = np.array([len(fp.hashes) for _, fp in named], dtype=np.float32)
    shared = _shared_counts([fp.hashes for _, fp in named])
    # Cheap screen: the fraction of the larger one's fingerprints the pair shares. copydetect's
    # token coverage was at most 1.8x this fraction on the synthetic classes (bench and tests),
    # so a screen at half the threshold drops no pair that copydetect would list.
    # For a reference, the fraction of the smaller one's: a copy of the answer key inside
    # more code is still listed.
    key = np.array([name in references for name, _ in named], dtype=bool)
    estimate = shared / np.maximum(np.maximum.outer(sizes, sizes), 1.0)
    key_pair = np.logical_xor.outer(key, key)
    estimate[key_pair] = (shared / np.maximum(np.minimum.outer(sizes, sizes), 1.0))[key_pair]
    estimate[np.logical_and.outer(key, key)] = 0.0
    cand_i, cand_j = np.nonzero(np.triu(estimate >= threshold * 0.5, k=1))
    positions = [_Positions(fp) for _, fp in named]
    pairs = []
    for i, j in zip(cand_i.tolist(), cand_j.tolist()):
        answer_key = bool(key[i] or key[j])
        sim_a, sim_b = copydetect_similarity(positions[i], positions[j],
                                             at_least=0.0 if answer_key else threshold)
        score = max(sim_a, sim_b) if answer_key else min(sim_a, sim_b)
        if score >= threshold:
            a, b = (j, i) if key[i] else (i, j)    # the reference second
            pairs.append({"a": named[a][0], "b": named[b][0], "answer_key": answer_key,
                          "similarity": round(score, 3),
                          "a_in_b": round(sim_a if a == i else sim_b, 3),
                          "b_in_a": round(sim_b if a == i else sim_a, 3),
                          "_prints": (named[a][1], named[b][1])})
    _SHARED.clear()
    pairs.sort(key=lambda p: (-p["similarity"], p["a"], p["b"]))
    for pair in pairs[:MAX_SIDE_BY_SIDE]:
        pair["_slices"] = compare_files(*pair["_prints"])[2]
    return codes, pairs, left_out


# -- the figures ---------------------------------------------------------------------------

def histogram(values: list[float], top: float, bins: int = 10) -> list[dict]:
    """Equal-width bins over [0, top]; the last bin includes ``top``."""
    width = top / bins if top > 0 else 1.0
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, max(0, int(v / width + 1e-9)))] += 1
    return [{"from": round(i * width, 3), "to": round((i + 1) * width, 3), "count": c}
            for i, c in enumerate(counts)]


def figures(subs: list[Submission], questions: dict) -> dict:
    graded = [s for s in subs if s.extra.get("status", "error") != "error"]
    max_score = sum(q["points"] for q in questions.values())
    totals = [float(s.results.get("score", 0.0)) for s in graded]
    scores = {"overall": {"max": max_score, "bins": histogram(totals, max_score)}}
    for q, spec in questions.items():
        values = [float(s.extra.get("questions", {}).get(q, 0.0)) for s in graded]
        scores[q] = {"max": spec["points"], "title": spec.get("title", ""),
                     "mean": round(statistics.fmean(values), 2) if values else None,
                     "bins": histogram(values, spec["points"])}

    tests: dict[tuple, dict] = {}
    for s in graded:
        for case in s.extra.get("cases", []):
            key = (case.get("question", "?"), case.get("name", "?"))
            t = tests.setdefault(key, {"question": key[0], "test": key[1],
                                       "hidden": bool(case.get("hidden")), "passed": 0, "ran": 0})
            t["ran"] += 1
            t["passed"] += bool(case.get("passed"))
    order = {q: i for i, q in enumerate(questions)}
    test_rows = sorted(tests.values(), key=lambda t: (order.get(t["question"], 99), t["test"]))
    for t in test_rows:
        t["pass_rate"] = round(t["passed"] / t["ran"], 4) if t["ran"] else None

    mistakes: dict[str, dict] = {}
    for s in subs:
        for m in s.extra.get("mistakes") or []:
            if not isinstance(m, dict) or not m.get("id"):
                continue
            entry = mistakes.setdefault(m["id"], {"id": m["id"], "title": m.get("title", ""),
                                                  "questions": set(), "tests": set(),
                                                  "submissions": []})
            entry["questions"].add(str(m.get("question", "")))
            entry["tests"].add(str(m.get("test", "")))
            if s.name not in entry["submissions"]:
                entry["submissions"].append(s.name)
    ranked = sorted(mistakes.values(), key=lambda m: (-len(m["submissions"]), m["id"]))
    for m in ranked:
        m["count"] = len(m["submissions"])
        m["questions"] = sorted(m["questions"] - {""}, key=lambda q: order.get(q, 99))
        m["tests"] = sorted(m["tests"] - {""})

    statuses: dict[str, int] = {}
    attention = []
    for s in subs:
        status = s.extra.get("status", "error")
        statuses[status] = statuses.get(status, 0) + 1
        flags = list(s.extra.get("flags") or [])
        if status != "ok" or flags:
            attention.append({"submission": s.name, "students": s.students, "status": status,
                              "score": s.results.get("score", 0.0),
                              "message": s.extra.get("summary") or s.extra.get("error") or "",
                              "flags": flags})
    return {"submissions": len(subs), "graded": len(graded), "max_score": max_score,
            "mean": round(statistics.fmean(totals), 2) if totals else None,
            "median": statistics.median(totals) if totals else None,
            "scores": scores, "tests": test_rows, "mistakes": ranked,
            "statuses": statuses, "attention": attention}


# -- the page ------------------------------------------------------------------------------

CSS = """
body{font:14px/1.45 system-ui,-apple-system,Segoe UI,Helvetica,Arial,sans-serif;margin:24px;
color:#1d2433;max-width:1200px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:18px;margin:28px 0 8px;border-bottom:1px solid #ccd}
.muted{color:#667}.cards{display:flex;gap:12px;flex-wrap:wrap;margin:12px 0}
.card{border:1px solid #ccd;border-radius:6px;padding:8px 14px}.card b{font-size:20px;display:block}
.grid{display:flex;flex-wrap:wrap;gap:10px}
table{border-collapse:collapse;margin:6px 0}td,th{padding:3px 8px;border-bottom:1px solid #e3e5ee;
text-align:left;vertical-align:top}th{background:#f3f4f8}
.bar{background:#e6e8f0;width:160px;height:10px;display:inline-block;vertical-align:middle}
.bar i{background:#3b6fd6;height:10px;display:block}
.low i{background:#d0463b}
pre{background:#f7f7fa;border:1px solid #dde;padding:6px;overflow:auto;font-size:12px;margin:0}
mark{background:#ffd36b}.sbs{display:grid;grid-template-columns:minmax(0,1fr) minmax(0,1fr);
gap:8px;max-width:1180px}
details{margin:2px 0}summary{cursor:pointer}
.note{background:#fff6d8;border:1px solid #eadba0;padding:6px 10px;border-radius:4px}
"""


def svg_histogram(bins: list[dict], title: str, subtitle: str = "", width: int = 360,
                  height: int = 170) -> str:
    left, bottom, top = 34, 28, 44
    plot_w, plot_h = width - left - 8, height - bottom - top
    peak = max([b["count"] for b in bins] + [1])
    bar_w = plot_w / len(bins)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
             f'role="img" aria-label="{html.escape(title)}">',
             f'<text x="{left}" y="14" font-size="13" font-weight="600">{html.escape(title)}'
             '</text>',
             f'<text x="{left}" y="28" font-size="11" fill="#667">{html.escape(subtitle)}</text>',
             f'<line x1="{left}" y1="{top + plot_h}" x2="{left + plot_w}" y2="{top + plot_h}" '
             'stroke="#889"/>',
             f'<text x="{left - 4}" y="{top + 8}" font-size="10" text-anchor="end">{peak}</text>',
             f'<text x="{left - 4}" y="{top + plot_h}" font-size="10" text-anchor="end">0</text>']
    for i, b in enumerate(bins):
        h = plot_h * b["count"] / peak
        x = left + i * bar_w
        parts.append(f'<rect x="{x + 1:.1f}" y="{top + plot_h - h:.1f}" width="{bar_w - 2:.1f}" '
                     f'height="{h:.1f}" fill="#3b6fd6"><title>{b["from"]:g}-{b["to"]:g}: '
                     f'{b["count"]}</title></rect>')
        if b["count"]:
            parts.append(f'<text x="{x + bar_w / 2:.1f}" y="{top + plot_h - h - 3:.1f}" '
                         f'font-size="10" text-anchor="middle">{b["count"]}</text>')
    for i in (0, len(bins) // 2, len(bins)):
        value = bins[0]["from"] + i * (bins[0]["to"] - bins[0]["from"])
        parts.append(f'<text x="{left + i * bar_w:.1f}" y="{top + plot_h + 14}" font-size="10" '
                     f'text-anchor="middle">{value:g}</text>')
    parts.append(f'<text x="{left + plot_w / 2:.1f}" y="{height - 2}" font-size="10" '
                 'text-anchor="middle" fill="#667">points (submissions per bin)</text></svg>')
    return "".join(parts)


def _e(text) -> str:
    """Text for the page: control characters escaped, then HTML-escaped."""
    return html.escape(printable(str(text), keep="\n"))


def _who(name: str, by_name: dict[str, Submission]) -> str:
    sub = by_name.get(name)
    return _e(sub.label if sub else name)


def _highlight(code: str, slices) -> str:
    """``code`` HTML-escaped with copydetect's matching ``slices`` (2 x n) marked."""
    out, at = [], 0
    for start, end in (zip(*slices.tolist()) if len(slices) else []):
        out += [_e(code[at:start]), "<mark>", _e(code[start:end]), "</mark>"]
        at = max(at, end)
    out.append(_e(code[at:]))
    return "".join(out)


def _side_by_side(pair: dict, codes: dict[str, str]) -> str:
    cols = [f"<div><b>{_e(pair[key])}</b><pre>{_highlight(codes[pair[key]], slices)}</pre></div>"
            for key, slices in zip(("a", "b"), pair["_slices"])]
    return f'<div class="sbs">{"".join(cols)}</div>'


def page(fig: dict, pairs: list[dict], codes: dict[str, str], subs: list[Submission],
         questions: dict, threshold: float) -> str:
    by_name = {s.name: s for s in subs}
    e = _e
    out = ["<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>",
           "<title>Class report</title>", f"<style>{CSS}</style></head><body>",
           "<h1>Class report</h1>",
           f"<p class='muted'>{fig['submissions']} submissions, {fig['graded']} graded. "
           "Instructor-only: names submissions and students.</p><div class='cards'>"]
    for label, value in (("mean score", fig["mean"]), ("median", fig["median"]),
                         ("max", fig["max_score"]),
                         *((f"status {k}", v) for k, v in sorted(fig["statuses"].items())),
                         ("similar pairs", len(pairs))):
        out.append(f"<div class='card'><b>{e('-' if value is None else f'{value:g}')}</b>"
                   f"{e(label)}</div>")
    out.append("</div><h2>Score distribution</h2><div class='grid'>")
    out.append(svg_histogram(fig["scores"]["overall"]["bins"], f"total (of {fig['max_score']:g})",
                             f"mean {fig['mean']}, median {fig['median']}", 480, 210))
    out.append("</div><div class='grid'>")
    for q in questions:
        s = fig["scores"][q]
        out.append(svg_histogram(s["bins"], f"{q} (of {s['max']:g})", s["title"][:42], 290, 170))
    out.append("</div>")

    out.append(f"<h2 id='mistakes'>Named mistakes ({len(fig['mistakes'])})</h2>")
    if fig["mistakes"]:
        out.append("<table><tr><th>#</th><th>submissions</th><th>mistake</th><th>id</th>"
                   "<th>questions</th><th>who</th></tr>")
        for rank, m in enumerate(fig["mistakes"], start=1):
            who = ", ".join(_who(n, by_name) for n in m["submissions"])
            out.append(f"<tr><td>{rank}</td><td>{m['count']}</td><td>{e(m['title'])}</td>"
                       f"<td><code>{e(m['id'])}</code></td><td>{e(' '.join(m['questions']))}"
                       f"</td><td><details><summary>{m['count']} submission(s)</summary>{who}"
                       "</details></td></tr>")
        out.append("</table>")
    else:
        out.append("<p>No failed check named a mistake.</p>")

    out.append("<h2>Pass rate of every test</h2><table><tr><th>question</th><th>test</th>"
               "<th>kind</th><th>passed</th><th></th></tr>")
    for t in fig["tests"]:
        rate = t["pass_rate"] or 0.0
        low = " low" if rate < 0.5 else ""
        out.append(f"<tr><td>{e(t['question'])}</td><td>{e(t['test'])}</td>"
                   f"<td>{'hidden' if t['hidden'] else 'public'}</td>"
                   f"<td>{t['passed']}/{t['ran']} ({rate:.0%})</td><td><span class='bar{low}'>"
                   f"<i style='width:{rate * 100:.0f}%'></i></span></td></tr>")
    out.append("</table>")

    out.append(f"<h2>Needs a person ({len(fig['attention'])})</h2>")
    if fig["attention"]:
        out.append("<p class='muted'>Timeouts, crashes, unreadable uploads (status error) and "
                   "flagged submissions, with the evidence.</p><table><tr><th>submission</th>"
                   "<th>status</th><th>score</th><th>why</th><th>flags</th></tr>")
        for a in fig["attention"]:
            flags = "<br>".join(e(f) for f in a["flags"])
            out.append(f"<tr><td>{_who(a['submission'], by_name)}</td><td>{e(a['status'])}</td>"
                       f"<td>{a['score']:g}</td><td>{e(a['message'])}</td><td>{flags}</td></tr>")
        out.append("</table>")
    else:
        out.append("<p>Every submission was graded normally and none was flagged.</p>")

    students = [p for p in pairs if not p.get("answer_key")]
    answer_key = [p for p in pairs if p.get("answer_key")]
    out.append(f"<h2 id='similarity'>Similar code: {len(students)} pair(s)</h2>"
               "<p class='note'>Similarity is evidence for a person to look at, never a grade. "
               "Computed by copydetect on the code the grader graded: the graded functions and "
               "what they use (starter code, docstrings and comments removed; variable names do "
               "not matter). A pair is listed when the matching code is at least "
               f"{threshold:.0%} of each submission's graded code.</p>")
    out += _pair_table(students, codes, by_name)
    out.append(f"<h2 id='answer-key'>Matching the answer key: {len(answer_key)}</h2>"
               "<p class='muted'>Submissions whose graded code holds, or is held by, the "
               "reference solution or a file the instructor listed, at the same threshold. "
               "A correct solution written independently usually stays below it.</p>")
    out += _pair_table(answer_key, codes, by_name)
    left_out = fig["similarity"]["left_out"]
    out.append(f"<h2 id='left-out'>Left out of the similarity check: {len(left_out)}</h2>")
    if left_out:
        out.append("<table><tr><th>submission</th><th>why</th></tr>")
        out += [f"<tr><td>{_who(x['submission'], by_name)}</td><td>{e(x['reason'])}</td></tr>"
                for x in left_out]
        out.append("</table>")
    else:
        out.append("<p>Every graded submission was compared.</p>")
    out.append("</body></html>")
    return "\n".join(out)


def _pair_table(pairs: list[dict], codes: dict[str, str], by_name: dict) -> list[str]:
    if not pairs:
        return ["<p>No pair above the threshold.</p>"]
    out = ["<table><tr><th>similarity</th><th>submission A</th><th>submission B</th>"
           "<th>of A in B / of B in A</th></tr>"]
    for p in pairs:
        out.append(f"<tr><td>{p['similarity']:.0%}</td><td>{_who(p['a'], by_name)}</td>"
                   f"<td>{_who(p['b'], by_name)}</td>"
                   f"<td>{p['a_in_b']:.0%} / {p['b_in_a']:.0%}</td></tr>")
        if "_slices" in p:
            out.append("<tr><td colspan='4'><details><summary>matching code side by side"
                       f"</summary>{_side_by_side(p, codes)}</details></td></tr>")
    if any("_slices" not in p for p in pairs):
        out.append(f"<p class='muted'>Side-by-side views for the {MAX_SIDE_BY_SIDE} most "
                   "similar pairs.</p>")
    out.append("</table>")
    return out


# -- writing -------------------------------------------------------------------------------

def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    """Rows as CSV, every text cell escaped to one line and never read as a formula."""
    with path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows({k: csv_cell(v) for k, v in row.items()} for row in rows)


def references(compare_with: list[Path] = ()) -> dict[str, Path]:
    """The answer key the submissions are compared with: the reference solution (where this
    checkout has it) and every file the instructor lists."""
    found = {"reference solution": REFERENCE} if REFERENCE.is_file() else {}
    found.update({f"listed: {p.name}": p for p in compare_with})
    return found


def write(out: Path, subs: list[Submission], questions: dict, starter: Path = STARTER,
          threshold: float = THRESHOLD, compare_with: list[Path] = ()) -> dict:
    """Write report.html and its CSV/JSON files into ``out``; return the figures."""
    fig = figures(subs, questions)
    graded = {s.name: s.code for s in subs if s.extra.get("status", "error") != "error"}
    codes, pairs, left_out = similarity(graded, starter, threshold,
                                        references=references(compare_with))
    public = [{k: v for k, v in p.items() if not k.startswith("_")} for p in pairs]
    fig["similarity"] = {
        "threshold": threshold, "detector": "copydetect",
        "pairs": [p for p in public if not p["answer_key"]],
        "answer_key": [p for p in public if p["answer_key"]],
        "left_out": [{"submission": n, "reason": why} for n, why in left_out.items()]}
    (out / "report.html").write_text(page(fig, pairs, codes, subs, questions, threshold),
                                     encoding="utf-8")
    (out / "report.json").write_text(json.dumps(fig, indent=1), encoding="utf-8")
    _write_csv(out / "report-scores.csv",
               [dict(b, scope=scope) for scope, s in fig["scores"].items() for b in s["bins"]],
               ["scope", "from", "to", "count"])
    _write_csv(out / "report-tests.csv", fig["tests"],
               ["question", "test", "hidden", "passed", "ran", "pass_rate"])
    _write_csv(out / "report-mistakes.csv",
               [dict(m, questions=" ".join(m["questions"]),
                     submissions="; ".join(m["submissions"])) for m in fig["mistakes"]],
               ["id", "title", "count", "questions", "submissions"])
    _write_csv(out / "report-attention.csv",
               [dict(a, students="; ".join(a["students"]), flags="; ".join(a["flags"]))
                for a in fig["attention"]],
               ["submission", "students", "status", "score", "message", "flags"])
    _write_csv(out / "report-similarity.csv", fig["similarity"]["pairs"],
               ["a", "b", "similarity", "a_in_b", "b_in_a"])
    _write_csv(out / "report-answer-key.csv", fig["similarity"]["answer_key"],
               ["a", "b", "similarity", "a_in_b", "b_in_a"])
    _write_csv(out / "report-left-out.csv", fig["similarity"]["left_out"],
               ["submission", "reason"])
    return fig


def summary_lines(fig: dict, top: int = 5) -> list[str]:
    """The end of ``make grade``'s terminal summary."""
    lines = ["most frequent mistakes:" if fig["mistakes"] else "no named mistakes"]
    for m in fig["mistakes"][:top]:
        lines.append(printable(f"  {m['count']:>4}  {m['id']}: {m['title']}"))
    sim = fig["similarity"]
    lines.append(f"similar pairs (graded code, >= {sim['threshold']:.0%} shared): "
                 f"{len(sim['pairs'])}; evidence for a person, never a grade")
    lines.append(f"matching the answer key: {len(sim['answer_key'])}; left out of the "
                 f"similarity check: {len(sim['left_out'])} (see the report)")
    return lines


def load(results: Path) -> list[Submission]:
    """The graded submissions of a results folder, from its index.json."""
    index = json.loads((results / "index.json").read_text(encoding="utf-8"))
    subs = []
    for item in index:
        data = json.loads((results / item["results"]).read_text(encoding="utf-8"))
        code = results / item["code"] if item.get("code") else None
        subs.append(Submission(item["file"], data, code, list(item.get("students") or [])))
    return subs


def write_or_explain(results: Path, questions: dict, threshold: float = THRESHOLD,
                     compare_with: list[Path] = ()) -> list[str]:
    """Write the report for a results folder; never raises: if the report itself fails, a
    page saying so is written and the terminal summary says why."""
    try:
        fig = write(results, load(results), questions, threshold=threshold,
                    compare_with=compare_with)
        return [f"class report: {printable(str(results / 'report.html'))}", *summary_lines(fig)]
    except Exception as exc:  # noqa: BLE001 - the grades are written; say what failed
        why = printable(f"{type(exc).__name__}: {exc}")[:500]
        (results / "report.html").write_text(
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Class report"
            f"</title></head><body><h1>Class report</h1><p>The report failed: {html.escape(why)}"
            "</p><p>The grades are in grades.csv.</p></body></html>", encoding="utf-8")
        return [f"class report FAILED ({why}); grades.csv is complete"]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results folder written by grade_folder.py")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    parser.add_argument("--compare-with", type=Path, action="append", default=[],
                        help="a notebook or .py file every submission is compared with "
                             "(e.g. last year's leaked solution); repeat for more")
    args = parser.parse_args(argv)
    subs = load(args.results)
    tests = next((s.results["tests"] for s in subs if s.results.get("tests")), [])
    questions = {t["name"].split(":")[0]: {"points": float(t["max_score"]),
                                           "title": t["name"].split(": ", 1)[-1]}
                 for t in tests if t.get("visibility") != "hidden"}
    print("\n".join(write_or_explain(args.results, questions, args.threshold,
                                     args.compare_with)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
