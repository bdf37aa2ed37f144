"""Prose the build writes from the one place each fact lives, so that no copy can go stale.

Facts (``facts()``): the settings a TA edits (``autograder/gradekit/checks/settings.py``:
MNIST training and threshold, log floors, the large layer, tolerances), each question's
points (the ``points:`` of its ``BEGIN QUESTION`` in the master) and what the reference was
measured to reach (``autograder/mnist_measured.json``, written by
``tools/mnist_threshold.py`` with the settings it used). They reach prose two ways:

* the master's text writes ``{{mnist.threshold}}``; the build expands it in the notebook
  (``expand``), so the master holds no copy;
* READMEs and GRADING.md mark a copy as ``<!--{mnist.threshold}-->90 %<!--/-->``: invisible
  when rendered; the build rewrites the text between the marks (``refresh``).

``autograder/OUTPUTS.md`` is written whole from the field tables below: every file
``make grade`` writes, every column of grades.csv and every field of results.json, with its
meaning. ``tests/test_outputs.py`` grades an example and fails if a field it finds is not in
these tables or a documented one is missing, so the tables follow the code.

Usage: python tools/generated_prose.py [--check]   (the build runs it; --check lists stale files)
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MASTER = "solutions/backprop_master.py"
SETTINGS = "autograder/gradekit/checks/settings.py"
MEASURED = "autograder/mnist_measured.json"
# Documents whose marked copies the build rewrites.
MARKED_FILES = ["README.md", "assignment/README.md", "autograder/GRADING.md"]
PLACEHOLDER = re.compile(r"\{\{([a-z0-9_.]+)\}\}")
MARKED = re.compile(r"<!--\{([a-z0-9_.]+)\}-->(.*?)<!--/-->", re.S)
OUTPUTS_PAGE = "autograder/OUTPUTS.md"

# What `make grade` (tools/grade_folder.py) writes into its results folder.
RESULTS_NAME = "{entry}.json"   # entry: the submission's file or folder name, unchanged
FILES = [
    ("`<entry>.json`", "one per submission: the results.json Gradescope would receive for it. "
     "`<entry>` is the submission's file or folder name unchanged, so `alice.ipynb` gives "
     "`alice.ipynb.json` and an export's `submission_123/` gives `submission_123.json` "
     "(two uploads `a.ipynb` and `a.zip` cannot collide)"),
    ("`grades.csv`", "one row per submission (columns below)"),
    ("`report.html`", "the class report, one page that opens offline (README, \"The class "
     "report\")"),
    ("`report.json`, `report-*.csv`", "the class report's figures: scores, tests, mistakes, "
     "submissions needing attention, similar pairs"),
]

# grades.csv, in column order. "<question>" stands for one column per question.
CSV_COLUMNS = [
    ("file", "the submission's file or folder name"),
    ("total", "points, all questions included (the knowledge check too)"),
    ("<question>", "one column per question, named by its id (`q1`, ...), in the master's "
     "order: the points it earned"),
    ("status", "`ok`; `timeout` (a cell or a call hit a time limit); `crashed` (student code "
     "killed its worker); `error` (the upload could not be graded)"),
    ("message", "why the result is what it is, in one line: the grading error, failed cells, "
     "tests that did not finish, points lost per question (`extra_data.summary`)"),
    ("flags", "tamper flags with their reasons, `; `-separated; empty when none "
     "(instructors only; they never change a score)"),
    ("mistakes", "ids of the named mistakes the failed checks recognised, space-separated, "
     "each once (`extra_data.mistakes`)"),
    ("isolation", "the level student code ran at: `namespaces`, `landlock`, `user` or `none` "
     "(`autograder/GRADING.md`, \"Isolation\")"),
    ("seconds", "grading time of this submission (`execution_time`)"),
    ("memory_mb", "peak memory of the grading's process tree in MB (its cgroup's peak where the batch gave it one)"),
]

# results.json, Gradescope's format (https://gradescope-autograders.readthedocs.io/en/latest/specs/)
RESULTS_FIELDS = [
    ("score", "the total, all questions included. Gradescope shows a student the total only "
     "while every test is visible to them: the instructor notes never are, and a knowledge "
     "check is not until the due date"),
    ("execution_time", "seconds the grading took"),
    ("output", "shown to the student above the tests: the score without a knowledge check "
     "(until the due date), cells that failed, tests that did not finish, notes"),
    ("output_format", "`text`"),
    ("visibility", "`visible`: the default for tests; every test sets its own"),
    ("stdout_visibility", "`hidden`: the grader's own output is for instructors"),
    ("extra_data", "instructors only (fields below)"),
    ("tests", "one entry per question in the master's order, then \"Instructor notes\" "
     "(fields below)"),
    ("leaderboard", "always empty"),
]

TEST_FIELDS = [
    ("name", "`<question>: <title>` (the title from the master's question header), or "
     "`Instructor notes (hidden from students)`"),
    ("number", "the entry's position, from 1"),
    ("score", "points earned on the question (0 for the instructor notes)"),
    ("max_score", "the question's points"),
    ("status", "`passed` with full points, else `failed` (instructor notes: `failed` when "
     "there are tamper flags)"),
    ("output", "one line per test case: `public test <name>: passed` or `FAILED` with the "
     "check's full message; `hidden test <name>: passed` or `FAILED: ` and its author's fixed "
     "failure message (or the grader's fixed sentence when it did not finish, or when student "
     "code raised an exception on its inputs). Test cases are named `<question> - <n>`, the same in the instructor "
     "notes"),
    ("output_format", "`text`"),
    ("tags", "always empty"),
    ("visibility", "`visible`; `after_due_date` for a question whose points all come from "
     "hidden tests (the knowledge check); `hidden` for the instructor notes"),
    ("extra_data", "always empty"),
]

EXTRA_FIELDS = [
    ("status", "as the `status` column of grades.csv"),
    ("summary", "as the `message` column of grades.csv"),
    ("max_score", "the points of all questions"),
    ("isolation", "as the `isolation` column of grades.csv, or `unavailable` when student "
     "code did not run"),
    ("isolation_uid", "the user id student code ran as, when it had one of its own, else null"),
    ("flags", "tamper flags with reasons (the `flags` column)"),
    ("internal", "the grader's own diagnostics (an internal error, why isolation failed)"),
    ("notes", "notes also shown to the student (a kernel other than Python 3, grading "
     "stopped early)"),
    ("error", "why the upload could not be graded (status `error`), else null"),
    ("restarts", "how many times the worker running student code was restarted"),
    ("questions", "points per question, by id (the per-question columns)"),
    ("cells", "every code cell the grader ran, in order (fields below)"),
    ("cases", "every test case, public and hidden, in the test files' order (fields below)"),
    ("mistakes", "each named mistake once per question (fields below)"),
    ("grading_secret", "the secret q6's graded MNIST run was drawn from (batch order, probed "
     "steps, probe weights); `BACKPROP_GRADING_SECRET=<it>` regrades with the same run"),
]

CELL_FIELDS = [
    ("number", "\"cell N\": the N-th cell from the top of the uploaded notebook, text cells "
     "included, as Jupyter's status bar counts"),
    ("status", "`ok`, `error`, `timeout`, `crashed` or `skipped`"),
    ("message", "what went wrong, as the student sees it; empty when `ok`"),
]

CASE_FIELDS = [
    ("question", "the question's id"),
    ("name", "`<question> - <n>`, the n-th case of the question's test file"),
    ("hidden", "true for a hidden test"),
    ("points", "the points it is worth"),
    ("passed", "true when it passed"),
    ("message", "the full message; for a hidden test the one the student saw (the "
     "instructor notes hold the full one)"),
    ("safe_message", "what a student may see of a hidden test: its author's fixed text"),
    ("seconds", "time spent in the case"),
    ("timed_out", "true when a time limit stopped it"),
    ("crashed", "true when the worker died during it"),
    ("mistake", "the id of the mistake the check recognised, else null"),
    ("mistake_title", "that mistake's title, else null"),
]

MISTAKE_FIELDS = [
    ("id", "the mistake's stable id (`MISTAKES` in the checks)"),
    ("title", "its title"),
    ("question", "the question whose check recognised it"),
    ("test", "the first test case that recognised it"),
]

SECTIONS = [
    ("grades.csv columns", CSV_COLUMNS),
    ("results.json: top level", RESULTS_FIELDS),
    ("results.json: each entry of `tests`", TEST_FIELDS),
    ("results.json: `extra_data` (instructors only)", EXTRA_FIELDS),
    ("`extra_data.cells[]`", CELL_FIELDS),
    ("`extra_data.cases[]`", CASE_FIELDS),
    ("`extra_data.mistakes[]`", MISTAKE_FIELDS),
]


def table(rows: list[tuple[str, str]], head: str = "field") -> str:
    lines = [f"| {head} | meaning |", "| --- | --- |"]
    lines += [f"| {name if name.startswith('`') else f'`{name}`'} | {text} |"
              for name, text in rows]
    return "\n".join(lines)


def outputs_page() -> str:
    parts = [
        "# What grading writes",
        "",
        "<!-- Generated by `make assign` from tools/generated_prose.py: edit the tables there."
        " -->",
        "",
        "Gradescope receives one `results.json` per submission. `make grade` (or "
        "`python tools/grade_folder.py SUBMISSIONS --out results`) writes into `results/`:",
        "",
        table(FILES, head="file"),
    ]
    for title, rows in SECTIONS:
        parts += ["", f"## {title}", "", table(rows, head="column" if "csv" in title else "field")]
    return "\n".join(parts) + "\n"


def percent(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def sci(x: float) -> str:
    """1e-07 written as 1e-7."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def settings(root: Path = ROOT):
    """The settings module of the checks at ``root``, loaded from its file."""
    spec = importlib.util.spec_from_file_location("settings_of_" + str(abs(hash(root))),
                                                  root / SETTINGS)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def question_points(root: Path = ROOT) -> dict[str, float]:
    """``{id: points}`` from the master's ``BEGIN QUESTION`` configs, in the master's order."""
    found = re.findall(r"^# # BEGIN QUESTION\n# name: (\S+)\n# points: ([\d.]+)",
                       (root / MASTER).read_text(), re.M)
    return {name: float(points) for name, points in found}


def facts(root: Path = ROOT) -> dict[str, str]:
    """Every fact prose may quote, by name, as it is written in prose."""
    s = settings(root)
    g = s.MNIST_GRADING
    low, high = s.LOG_FLOOR_RANGE
    batch, n_in, n_out = s.LARGE_LAYER
    measured = json.loads((root / MEASURED).read_text()) if (root / MEASURED).exists() else {}
    out = {
        "mnist.n_train": f"{g['n_train']:,}", "mnist.epochs": f"{g['epochs']}",
        "mnist.lr": f"{g['lr']:g}", "mnist.batch_size": f"{g['batch_size']}",
        "mnist.threshold": percent(g["threshold"]),
        "mnist.time_budget": f"{g['time_budget_s']:g} s",
        "mnist.checked_steps": f"{g['checked_steps']}",
        "mnist.layers": "-".join(str(n) for n in g["layer_sizes"]),
        "log_floor.low": sci(low), "log_floor.high": sci(high),
        "large_layer": f"{n_in} x {n_out}", "large_layer.seconds": f"{s.LARGE_LAYER_SECONDS:g} s",
        "large_layer.batch": f"{batch}",
        "init.range": f"from {sci(s.INIT_STD_STATED[0])} to {s.INIT_STD_STATED[1]:g} x "
                      "sqrt(2 / n_in)",
    }
    for name, value in s.TOLERANCES.items():
        out[f"tolerance.{name}"] = sci(value)
    for run, m in measured.items():
        out[f"measured.{run}"] = f"{100 * m['min']:.1f}-{100 * m['max']:.1f} %"
        out[f"measured.{run}.runs"] = f"{m['runs']}"
        out[f"measured.{run}.seconds"] = f"{m['seconds_per_seed']:.1g} s"
    # every allowed initialisation (tools/mnist_threshold.py INITS) under every order measured
    inits = [m for run, m in measured.items() if run.startswith("init_")]
    if inits:
        out["measured.inits"] = (f"{100 * min(m['min'] for m in inits):.1f}-"
                                 f"{100 * max(m['max'] for m in inits):.1f} %")
        out["measured.inits.runs"] = f"{sum(m['runs'] for m in inits)}"
    points = question_points(root)
    out.update({f"points.{q}": f"{p:g}" for q, p in points.items()})
    out["points.total"] = f"{sum(points.values()):g}"
    return out


def expand(text: str, known: dict[str, str], where: str = "text") -> str:
    """``text`` with every ``{{name}}`` replaced by that fact."""
    def value(match: re.Match) -> str:
        if match.group(1) not in known:
            raise KeyError(f"{where}: unknown fact {{{{{match.group(1)}}}}} (known: "
                           f"{', '.join(sorted(known))})")
        return known[match.group(1)]
    return PLACEHOLDER.sub(value, text)


def refresh(text: str, known: dict[str, str], where: str = "text") -> str:
    """``text`` with every marked copy ``<!--{name}-->...<!--/-->`` rewritten from the fact."""
    def value(match: re.Match) -> str:
        if match.group(1) not in known:
            raise KeyError(f"{where}: unknown fact {match.group(1)!r}")
        return f"<!--{{{match.group(1)}}}-->{known[match.group(1)]}<!--/-->"
    return MARKED.sub(value, text)


def generated(root: Path = ROOT) -> dict[str, str]:
    """Every generated document: its path under ``root`` -> its content."""
    known = facts(root)
    out = {name: refresh((root / name).read_text(), known, name) for name in MARKED_FILES}
    out[OUTPUTS_PAGE] = outputs_page()
    return out


def stale(root: Path = ROOT) -> list[str]:
    """The generated documents under ``root`` that differ from a fresh generation."""
    return [name for name, text in generated(root).items()
            if not (root / name).exists() or (root / name).read_text() != text]


def write(root: Path = ROOT) -> list[Path]:
    """Write the generated documents that changed; return their paths."""
    written = []
    for name in stale(root):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(generated(root)[name])
        written.append(root / name)
    return written


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="list stale files, change nothing")
    args = parser.parse_args()
    if args.check:
        old = stale()
        if old:
            print("out of date (run `make assign`): " + ", ".join(old))
        return 1 if old else 0
    for path in write():
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
