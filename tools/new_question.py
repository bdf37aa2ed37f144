"""Scaffold a new graded question: every piece it needs, each in its one place.

    python tools/new_question.py tanh_derivative --title "the tanh derivative" \\
        --points 5 --take-from q3 --expression "1 - np.tanh(z) ** 2"
    (or: make question ID=tanh_derivative TITLE="the tanh derivative" POINTS=5 FROM=q3 \\
         EXPRESSION="1 - np.tanh(z) ** 2")

The question asks students for a function ``ID(z)`` of one array that returns an array of
the same shape, ``EXPRESSION`` computed elementwise (the shape of most small questions; edit
the pieces for anything else). It writes:

* ``solutions/backprop_master.py``: the question's cells after ``--after`` (default: the last
  question): its config (``name: ID``, ``points``), instructions, the stub with its solution,
  one public and one hidden test; ``--points`` are taken from ``--take-from``'s ``points:``
  so the total stays the same;
* ``autograder/gradekit/checks/ID.py``: ``check_ID(ID, seed)``, which compares the student's
  result with the reference's on drawn inputs and names the mistake ``ID_returns_input``;
  registered in ``checks/__init__.py`` (imported and in ``__all__``);
* ``autograder/gradekit/checks/reference.py``: ``ID(z)``, the reference maths (only the grader
  has it; the public check gets stored answers);
* ``autograder/gradekit/checks/mistakes.py``: the mistake id ``ID_returns_input``;
* ``tests/catalogue/entries.py``: a catalogue row for that mistake (the solution returning
  ``z``), which must lose exactly this question's points;
* ``tests/test_grading_properties.py``: the public check in ``PUBLIC_CHECKS``, so it is
  proven over 200 seeds never to fail the reference;
* ``tests/test_answer_key.py``: the check module on the student bundle's allow-list (the
  public copy of the checks carries it, with stored answers in place of the reference);
* ``README.md``: the question's row in "The graded surface".

The question's id is its label everywhere (``grader.check("ID")``, results, grades.csv): no
other question is renumbered. Then: write the instructions (search the master for ``TODO``),
run ``make assign`` and ``make test``; ``tests/test_registration.py`` names any piece that is
missing.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MASTER = "solutions/backprop_master.py"
CHECKS = "autograder/gradekit/checks"
CATALOGUE = "tests/catalogue/entries.py"
PROPERTIES = "tests/test_grading_properties.py"
ALLOW_LIST = "tests/test_answer_key.py"   # the reviewed files of the student bundle
README = "README.md"

QUESTION_CELLS = '''# %% [raw]
# # BEGIN QUESTION
# name: {id}
# points: {points:g}

# %% [markdown]
# ## Question {id}: {title} ({{{{points.{id}}}}} points)
#
# TODO: what `{id}(z)` computes and why, with the maths it needs. It works elementwise: the
# result has the shape of `z`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def {id}(z):
    """TODO: one line on what it returns.

    Args:
        z: array of any shape, e.g. ``(B, n)``.
    Returns:
        array of the same shape.
    About 1 line.
    """
    # BEGIN SOLUTION
    return {expression}
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_{id}({id}):
    from gradekit import checks
    checks.check_{id}({id}, seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: {id} differs from the expected result on other inputs.
""" # END TEST CONFIG
def test_{id}_hidden({id}):
    from gradekit import checks
    checks.check_{id}({id}, seed=303)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

'''

CHECK_MODULE = '''"""Question {id}: {title}."""

from __future__ import annotations

import numpy as np

from . import reference
from .calling import call_student
from .compare import assert_close, require_defined


def check_{id}({id}, seed: int = 0) -> None:
    """``{id}(z)`` on drawn inputs equals the reference's; names returning ``z`` itself."""
    require_defined("{id}", {id})
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, size=(3, 4))
    got = call_student("{id}(z)", {id}, z.copy())
    assert_close("{id}(z)", got, reference.{id}(z),
                 wrong_answers=[("returning z itself", z, "{id}_returns_input")])
'''

REFERENCE_FUNCTION = '''

def {id}(z: np.ndarray) -> np.ndarray:
    """Question {id}: {title}."""
    z = np.asarray(z, dtype=np.float64)
    return {expression}
'''

CATALOGUE_ROW = '''    # -- {id} {rule}
    bug("{id}_returns_input", "{id} returns its input z unchanged", "{id}",
        ["{id}(z)", "returning z itself"],
        ("    return {expression}\\n", "    return z\\n")),
'''

PROPERTY_ROW = '''    "{id}": lambda c, r, s: c.check_{id}(r.{id}, seed=s),
'''

README_ROW = "| {id} | <!--{{points.{id}}}-->{points:g}<!--/--> | `{id}(z)`: TODO, same shape as `z` |\n"


class ScaffoldError(Exception):
    """The question cannot be added as asked (the message says why)."""


def questions(master: str) -> dict[str, float]:
    """``{id: points}`` in the master's order."""
    found = re.findall(r"^# # BEGIN QUESTION\n# name: (\S+)\n# points: ([\d.]+)", master, re.M)
    return {name: float(points) for name, points in found}


def insert_question(master: str, qid: str, after: str, text: str) -> str:
    start = re.search(rf"^# # BEGIN QUESTION\n# name: {re.escape(after)}\n", master, re.M)
    end = master.index("# # END QUESTION\n", start.end()) + len("# # END QUESTION\n")
    if master[end:end + 1] == "\n":
        end += 1
    return master[:end] + text + master[end:]


def take_points(master: str, qid: str, points: float) -> str:
    pattern = re.compile(rf"^(# # BEGIN QUESTION\n# name: {re.escape(qid)}\n# points: )([\d.]+)",
                         re.M)
    match = pattern.search(master)
    left = float(match.group(2)) - points
    if left <= 0:
        raise ScaffoldError(f"{qid} has {match.group(2)} points: it cannot give {points:g}")
    return pattern.sub(lambda m: f"{m.group(1)}{left:g}", master, count=1)


def before_last(text: str, closing: str, addition: str, where: str) -> str:
    """``text`` with ``addition`` inserted before the last ``closing`` line."""
    index = text.rfind(closing)
    if index < 0:
        raise ScaffoldError(f"{where}: no {closing.strip()!r} to insert before")
    return text[:index] + addition + text[index:]


def scaffold(root: Path, qid: str, title: str, points: float, take_from: str,
             expression: str, after: str | None = None) -> list[Path]:
    """Add the question to the repository at ``root``; return the files written."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", qid):
        raise ScaffoldError(f"{qid!r}: an id is lower-case letters, digits and _, a letter first")
    master = (root / MASTER).read_text()
    existing = questions(master)
    if qid in existing:
        raise ScaffoldError(f"{qid} is already a question")
    for name in filter(None, (take_from, after)):
        if name not in existing:
            raise ScaffoldError(f"{name} is not a question (questions: {', '.join(existing)})")
    check_module = root / CHECKS / f"{qid}.py"
    if check_module.exists():
        raise ScaffoldError(f"{check_module} exists already")

    fields = {"id": qid, "title": title, "points": points, "expression": expression,
              "rule": "-" * max(3, 86 - len(qid))}
    master = take_points(master, take_from, points)
    master = insert_question(master, qid, after or list(existing)[-1],
                             QUESTION_CELLS.format(**fields))
    writes = {MASTER: master}
    writes[f"{CHECKS}/{qid}.py"] = CHECK_MODULE.format(**fields)
    init = (root / CHECKS / "__init__.py").read_text()
    exports = init.find("\n__all__ = [")
    if exports < 0:
        raise ScaffoldError(f"{CHECKS}/__init__.py: no __all__ list")
    end = init.index("\n]", exports)
    writes[f"{CHECKS}/__init__.py"] = (init[:exports] + f"\nfrom .{qid} import check_{qid}\n"
                                       + init[exports:end] + f'\n    "check_{qid}",'
                                       + init[end:])
    reference = (root / CHECKS / "reference.py").read_text()
    writes[f"{CHECKS}/reference.py"] = reference.rstrip("\n") + "\n" + \
        REFERENCE_FUNCTION.format(**fields)
    writes[f"{CHECKS}/mistakes.py"] = before_last(
        (root / CHECKS / "mistakes.py").read_text(), "}\n",
        f'    "{qid}_returns_input": "{qid} returns its input unchanged",\n', "mistakes.py")
    catalogue = (root / CATALOGUE).read_text()
    bugs_end = catalogue.index("\n]\n", catalogue.index("BUGS = [")) + 1
    writes[CATALOGUE] = catalogue[:bugs_end] + CATALOGUE_ROW.format(**fields) + \
        catalogue[bugs_end:]
    properties = (root / PROPERTIES).read_text()
    table_end = properties.index("\n}\n", properties.index("PUBLIC_CHECKS = {")) + 1
    writes[PROPERTIES] = properties[:table_end] + PROPERTY_ROW.format(**fields) + \
        properties[table_end:]
    allowed = (root / ALLOW_LIST).read_text()
    modules = re.search(r'\*\(f"gradekit/checks/\{m\}\.py" for m in \[.*?(?=\]\))', allowed, re.S)
    if modules is None:
        raise ScaffoldError(f"{ALLOW_LIST}: no list of the checks' modules")
    writes[ALLOW_LIST] = allowed[:modules.end()] + f', "{qid}"' + allowed[modules.end():]
    readme = (root / README).read_text()
    last_row = re.search(rf"^\| {re.escape(after or list(existing)[-1])} \|.*\n", readme, re.M)
    if last_row is None:
        raise ScaffoldError("README.md: no row for that question in \"The graded surface\"")
    writes[README] = readme[:last_row.end()] + README_ROW.format(**fields) + \
        readme[last_row.end():]

    for name, text in writes.items():
        (root / name).write_text(text)
    return [root / name for name in writes]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("id", help="the question's id and the function students write")
    parser.add_argument("--title", required=True, help="shown in the notebook's header")
    parser.add_argument("--points", type=float, required=True)
    parser.add_argument("--take-from", required=True, help="the question giving the points")
    parser.add_argument("--expression", required=True,
                        help="the solution, a NumPy expression in z (e.g. '1 - np.tanh(z) ** 2')")
    parser.add_argument("--after", help="the question it follows (default: the last one)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        written = scaffold(args.root, args.id, args.title, args.points, args.take_from,
                           args.expression, args.after)
    except ScaffoldError as exc:
        print(f"new_question: {exc}", file=sys.stderr)
        return 2
    for path in written:
        print(f"wrote {path}")
    print(f"next: write the TODOs in {MASTER}, then `make assign` and `make test`")
    return 0


if __name__ == "__main__":
    sys.exit(main())
