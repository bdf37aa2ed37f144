"""Broken and hostile submissions, each with what the grader must make of it.

``BAD_INPUTS`` (``bad_inputs.py``) are submissions that are broken rather than malicious: the
grader must give each a valid result with a clear status and message, and grade whatever can
be graded. ``TAMPERING`` (``tampering.py``) are attempts to gain points or see hidden tests:
each must score no more than the same notebook without the attack, and be flagged.

``tests/test_hostile.py`` grades every one through the built autograder zip.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Callable

import nbformat

from conftest import solution_notebook, student_notebook

Notebook = nbformat.NotebookNode


@dataclass(frozen=True)
class Hostile:
    """One submission and the result the grader must give it."""

    name: str
    what: str                          # one line: what the submission does
    build: Callable[[], Notebook | bytes]
    base: str                          # the notebook it starts from: reference | blank | buggy | -
    filename: str = ""                 # upload name (default: NAME.ipynb)
    status: str = "ok"                 # extra_data.status the grader must report
    message: str = ""                  # regex the instructor's one-line summary must match
    below_full: tuple[str, ...] = ()   # for a reference base: questions that must lose points
    flag: str = ""                     # regex one of the tamper flags must match ("" = none needed)
    tags: tuple[str, ...] = field(default_factory=tuple)

    @property
    def upload_name(self) -> str:
        return self.filename or f"{self.name}.ipynb"


def copy_of(nb: Notebook) -> Notebook:
    return nbformat.from_dict(json.loads(json.dumps(nb)))


def with_cell(nb: Notebook, source: str) -> Notebook:
    """A copy of ``nb`` with one more code cell at the end."""
    nb = copy_of(nb)
    nb.cells.append(nbformat.v4.new_code_cell(source))
    return nb


def before_each_check(nb: Notebook, source: str) -> Notebook:
    """A copy of ``nb`` with a code cell before the first code cell and before every
    ``grader.check`` cell."""
    nb = copy_of(nb)
    cells = []
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and ("grader.check(" in cell.source or index == 0):
            cells.append(nbformat.v4.new_code_cell(source))
        cells.append(cell)
    nb.cells = cells
    return nb


def replaced(nb: Notebook, old: str, new: str) -> Notebook:
    """A copy of ``nb`` with ``old`` (which must occur exactly once in its code) replaced."""
    nb = copy_of(nb)
    hits = [c for c in nb.cells if c.cell_type == "code" and old in c.source]
    assert len(hits) == 1 and hits[0].source.count(old) == 1, \
        f"expected exactly one occurrence of {old!r} in the notebook's code"
    hits[0].source = hits[0].source.replace(old, new)
    return nb


def reference() -> Notebook:
    return solution_notebook()


def blank() -> Notebook:
    return student_notebook()


from .bad_inputs import BAD_INPUTS  # noqa: E402
from .tampering import TAMPERING  # noqa: E402

ALL = {h.name: h for h in BAD_INPUTS + TAMPERING}
assert len(ALL) == len(BAD_INPUTS) + len(TAMPERING), "hostile submission names must be unique"
