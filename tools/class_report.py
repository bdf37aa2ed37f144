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

Similarity is computed on the graded functions only (each cell that defines one: its top-level
functions and classes, docstrings and comments dropped), with the starter notebook's code removed
as boilerplate, by copydetect (winnowed fingerprints of the token stream with names replaced, so
renaming variables or reordering functions does not hide a copy). It is evidence for a person to
look at, never a grade.

Rebuild the report from a results folder (names come from its grades.csv):

    python tools/class_report.py results [--submissions submissions]
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
import statistics
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from copydetect import CodeFingerprint, compare_files
from copydetect.utils import highlight_overlap

import gradescope_export

ROOT = Path(__file__).resolve().parents[1]
STARTER = ROOT / "assignment" / "backprop.ipynb"

# A pair is listed when the code the two share makes up at least this fraction of *each* one's
# graded code (copydetect's token coverage, in both directions: a half-finished submission that
# matches part of another is not listed for that). Measured on the kit's synthetic class
# (tests/catalogue/classroom.py): planted near-copies (renamed, reordered) score 0.97-0.99;
# independently written submissions that share two whole functions reach 0.62.
THRESHOLD = 0.75
NOISE_CHARS = 25        # copydetect's k: shorter matches of the filtered token text are noise
GUARANTEE_CHARS = 30    # every match this long is found (winnowing window = 30 - 25 + 1)
MAX_SIDE_BY_SIDE = 60   # side-by-side views in the page (all pairs are in the CSV and JSON)
MAX_NOTEBOOK_BYTES = 50 * 2**20


@dataclass
class Submission:
    name: str                         # the entry's name in the results (and grades.csv)
    results: dict                     # its results.json
    path: Path | None = None          # the upload (notebook, zip or folder), for similarity
    students: list[str] = field(default_factory=list)   # from a Gradescope export

    @property
    def label(self) -> str:
        return f"{self.name} ({', '.join(self.students)})" if self.students else self.name

    @property
    def extra(self) -> dict:
        return self.results.get("extra_data") or {}


# -- the graded code of a submission -------------------------------------------------------

def notebook_json(path: Path | None) -> dict | None:
    """The notebook of an upload: a notebook file, a zip holding one, or a folder holding one."""
    try:
        if path is None or not path.exists():
            return None
        if path.is_dir():
            found = sorted(p for p in path.rglob("*") if p.suffix in (".ipynb", ".zip")
                           and p.is_file() and not p.is_symlink() and "__MACOSX" not in p.parts)
            found.sort(key=lambda p: p.suffix != ".ipynb")
            return notebook_json(found[0]) if found else None
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as zf:
                members = [m for m in zf.infolist() if m.filename.endswith(".ipynb")
                           and "__MACOSX" not in m.filename and m.file_size <= MAX_NOTEBOOK_BYTES]
                return json.loads(zf.read(members[0])) if members else None
        if path.stat().st_size > MAX_NOTEBOOK_BYTES:
            return None
        return json.loads(path.read_bytes())
    except (OSError, ValueError, zipfile.BadZipFile, RecursionError):
        return None


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


def graded_code(nb: dict | None, names: set[str]) -> str:
    """The top-level functions and classes of every cell that defines a graded one (so helpers
    written next to them count), without docstrings or comments, in a normalised layout."""
    pieces = []
    for source in code_cells(nb):
        if not any(name in source for name in names):
            continue
        try:
            tree = ast.parse(source)
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            continue
        defs = [n for n in tree.body
                if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))]
        if not any(n.name in names for n in defs):
            continue
        module = ast.Module(body=defs, type_ignores=[])
        _drop_docstrings(module)
        try:
            pieces.append(ast.unparse(module))
        except (RecursionError, ValueError):
            continue
    return "\n\n".join(pieces)


# -- similarity ----------------------------------------------------------------------------
# copydetect hashes k-grams with Python's salted hash(): fingerprints are comparable only within
# one process and the processes it forks, so the worker pool below forks (never spawns).

_SHARED: dict = {}      # what forked workers read: graded names, boilerplate fingerprints


def _fingerprint(name: str, code: str, boilerplate):
    return CodeFingerprint(f"{name}.py", NOISE_CHARS, GUARANTEE_CHARS - NOISE_CHARS + 1,
                           boilerplate=boilerplate, language="python", fp=io.StringIO(code))


def _analyse(item: tuple[str, Path | None]):
    name, path = item
    try:
        code = graded_code(notebook_json(path), _SHARED["names"])
        return code, (_fingerprint(name, code, _SHARED["boiler"]) if code.strip() else None)
    except Exception:  # noqa: BLE001 - an upload the checker cannot read is left out of it,
        return "", None  # it never stops the report (its grade is already in results)


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


def _pool_map(func, items: list, jobs: int) -> list:
    """``map(func, items)`` over ``jobs`` forked processes (in order), or here for one job."""
    if jobs <= 1 or len(items) < 2:
        return [func(item) for item in items]
    chunk = max(1, len(items) // (jobs * 8))
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        return pool.map(func, items, chunksize=chunk)


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
               threshold: float = THRESHOLD, jobs: int | None = None
               ) -> tuple[dict[str, str], list[dict]]:
    """(graded code of each submission, pairs whose shared code is at least ``threshold`` of
    each one's graded code), most similar first; each pair carries copydetect's matching
    slices for the side-by-side view."""
    jobs = jobs or len(os.sched_getaffinity(0))
    names = graded_names(starter)
    starter_code = graded_code(notebook_json(starter), names)
    boiler = _fingerprint("starter", starter_code, None).hashes if starter_code else set()
    _SHARED.update(names=names, boiler=np.array(sorted(boiler), dtype=np.int64))
    analysed = _pool_map(_analyse, list(paths.items()), jobs)
    codes = {name: code for name, (code, _) in zip(paths, analysed)}
    named = [(name, fp) for name, (_, fp) in zip(paths, analysed) if fp is not None and fp.hashes]
    sizes = np.array([len(fp.hashes) for _, fp in named], dtype=np.float32)
    shared = _shared_counts([fp.hashes for _, fp in named])
    # Cheap screen: the fraction of the larger one's fingerprints the pair shares. copydetect's
    # token coverage was at most 1.8x this fraction on the synthetic classes (bench and tests),
    # so a screen at half the threshold drops no pair that copydetect would list.
    estimate = shared / np.maximum(np.maximum.outer(sizes, sizes), 1.0)
    cand_i, cand_j = np.nonzero(np.triu(estimate >= threshold * 0.5, k=1))
    positions = [_Positions(fp) for _, fp in named]
    pairs = []
    for i, j in zip(cand_i.tolist(), cand_j.tolist()):
        sim_a, sim_b = copydetect_similarity(positions[i], positions[j], at_least=threshold)
        if min(sim_a, sim_b) >= threshold:
            pairs.append({"a": named[i][0], "b": named[j][0],
                          "similarity": round(min(sim_a, sim_b), 3), "a_in_b": round(sim_a, 3),
                          "b_in_a": round(sim_b, 3), "_prints": (named[i][1], named[j][1])})
    _SHARED.clear()
    pairs.sort(key=lambda p: (-p["similarity"], p["a"], p["b"]))
    for pair in pairs[:MAX_SIDE_BY_SIDE]:
        pair["_slices"] = compare_files(*pair["_prints"])[2]
    return codes, pairs


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


def _who(name: str, by_name: dict[str, Submission]) -> str:
    sub = by_name.get(name)
    return html.escape(sub.label if sub else name)


def _side_by_side(pair: dict, codes: dict[str, str]) -> str:
    cols = []
    for key, slices in zip(("a", "b"), pair["_slices"]):
        code = codes[pair[key]]
        marked, _ = highlight_overlap(code, slices, "<mark>", "</mark>", escape_html=True)
        cols.append(f"<div><b>{html.escape(pair[key])}</b><pre>{marked}</pre></div>")
    return f'<div class="sbs">{"".join(cols)}</div>'


def page(fig: dict, pairs: list[dict], codes: dict[str, str], subs: list[Submission],
         questions: dict, threshold: float) -> str:
    by_name = {s.name: s for s in subs}
    e = html.escape
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

    out.append(f"<h2 id='similarity'>Similar code: {len(pairs)} pair(s)</h2>"
               "<p class='note'>Similarity is evidence for a person to look at, never a grade. "
               "Computed by copydetect on the graded functions only (starter code, docstrings "
               "and comments removed; variable names do not matter). A pair is listed when the "
               f"matching code is at least {threshold:.0%} of each submission's graded code."
               "</p>")
    if pairs:
        out.append("<table><tr><th>similarity</th><th>submission A</th><th>submission B</th>"
                   "<th>of A in B / of B in A</th></tr>")
        for k, p in enumerate(pairs):
            out.append(f"<tr><td>{p['similarity']:.0%}</td><td>{_who(p['a'], by_name)}</td>"
                       f"<td>{_who(p['b'], by_name)}</td>"
                       f"<td>{p['a_in_b']:.0%} / {p['b_in_a']:.0%}</td></tr>")
            if k < MAX_SIDE_BY_SIDE:
                out.append("<tr><td colspan='4'><details><summary>matching code side by side"
                           f"</summary>{_side_by_side(p, codes)}</details></td></tr>")
        out.append("</table>")
        if len(pairs) > MAX_SIDE_BY_SIDE:
            out.append(f"<p class='muted'>Side-by-side views for the {MAX_SIDE_BY_SIDE} most "
                       "similar pairs.</p>")
    else:
        out.append("<p>No pair above the threshold.</p>")
    out.append("</body></html>")
    return "\n".join(out)


# -- writing -------------------------------------------------------------------------------

def _write_csv(path: Path, rows: list[dict], fields: list[str]) -> None:
    with path.open("w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=fields, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(rows)


def write(out: Path, subs: list[Submission], questions: dict, starter: Path = STARTER,
          threshold: float = THRESHOLD) -> dict:
    """Write report.html and its CSV/JSON files into ``out``; return the figures."""
    fig = figures(subs, questions)
    codes, pairs = similarity({s.name: s.path for s in subs
                               if s.extra.get("status", "error") != "error"}, starter, threshold)
    fig["similarity"] = {"threshold": threshold, "detector": "copydetect",
                         "pairs": [{k: v for k, v in p.items() if not k.startswith("_")}
                                   for p in pairs]}
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
    return fig


def summary_lines(fig: dict, top: int = 5) -> list[str]:
    """The end of ``make grade``'s terminal summary."""
    lines = ["most frequent mistakes:" if fig["mistakes"] else "no named mistakes"]
    for m in fig["mistakes"][:top]:
        lines.append(f"  {m['count']:>4}  {m['id']}: {m['title']}")
    pairs = fig["similarity"]["pairs"]
    lines.append(f"similar pairs (graded code, >= {fig['similarity']['threshold']:.0%} shared): "
                 f"{len(pairs)}; evidence for a person, never a grade")
    return lines


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("results", type=Path, help="a results folder written by grade_folder.py")
    parser.add_argument("--submissions", type=Path,
                        help="the graded folder or Gradescope export (for similarity and names)")
    parser.add_argument("--threshold", type=float, default=THRESHOLD)
    args = parser.parse_args(argv)
    with (args.results / "grades.csv").open(newline="") as fh:
        names = [row["file"] for row in csv.DictReader(fh)]
    with tempfile.TemporaryDirectory(prefix="backprop-report-") as tmp:
        uploads, students = ([], {}) if args.submissions is None else \
            gradescope_export.entries(args.submissions, Path(tmp))
        by_name = {p.name: p for p in uploads}
        subs = [Submission(name, json.loads((args.results / f"{name}.json").read_text()),
                           by_name.get(name), students.get(name, [])) for name in names]
        tests = next((s.results["tests"] for s in subs if s.results.get("tests")), [])
        questions = {t["name"].split(":")[0]: {"points": float(t["max_score"]),
                                               "title": t["name"].split(": ", 1)[-1]}
                     for t in tests if t.get("visibility") != "hidden"}
        fig = write(args.results, subs, questions, threshold=args.threshold)
    print(f"class report: {args.results / 'report.html'}")
    print("\n".join(summary_lines(fig)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
