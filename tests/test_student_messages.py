"""What the grader tells a student about their own notebook.

* Every cell is named the one way a student can find it: "cell N" is the N-th cell from the top,
  counting text and code cells from 1 ("Cell N of M" in the editor's status bar); "line L" is
  the L-th line of that cell. Ignored (``otter_ignore``) and text cells count too.
* A check that finds a name undefined because the cell defining it failed names that cell.
* A memory error states the limit that really applies, which on Gradescope is the container's.
"""

from __future__ import annotations

import re
import sys

import nbformat
import pytest

from conftest import mutate, solution_notebook, visible_text

RELU_BODY = "    return (z > 0).astype(z.dtype)"
RELU_RAISES = "    raise ValueError('relu_derivative is not finished')"


def position_of(nb: nbformat.NotebookNode, text: str) -> tuple[int, int]:
    """(cell number counting every cell from 1, line number in that cell) of ``text``."""
    hits = [(number, cell.source) for number, cell in enumerate(nb.cells, start=1)
            if text in cell.source]
    assert len(hits) == 1, f"expected one cell containing {text!r}, found {len(hits)}"
    number, source = hits[0]
    return number, source[:source.index(text)].count("\n") + 1


def test_cells_are_named_by_their_position_in_the_notebook(grade):
    nb = mutate(solution_notebook(), RELU_BODY, RELU_RAISES)
    # Cells that one or another counting would skip, in front of everything graded.
    nb.cells[1:1] = [nbformat.v4.new_markdown_cell("A note of my own."),
                     nbformat.v4.new_code_cell("print('scratch')",
                                               metadata={"tags": ["otter_ignore"]})]
    nb.cells.append(nbformat.v4.new_code_cell("scratch = 1\nscratch / 0\n"))
    raising_cell, raising_line = position_of(nb, RELU_RAISES)
    last_cell = len(nb.cells)

    results = grade(nb, "numbered.ipynb")
    text = visible_text(results)
    assert (f"cell {last_cell}: error: your code raised ZeroDivisionError "
            f"(cell {last_cell}, line 2)") in results["output"], results["output"]
    q1 = next(t["output"] for t in results["tests"] if t["name"].startswith("q1"))
    assert f"raised ValueError (cell {raising_cell}, line {raising_line})" in q1, q1
    named = {int(n) for n in re.findall(r"\bcell (\d+)", text)}
    assert named == {raising_cell, last_cell}, (
        f"the results name cells {sorted(named)}; the failing cells are {raising_cell} and "
        f"{last_cell} (counting every cell from 1):\n{text}")


def test_a_syntax_error_is_named_where_its_names_are_missing(grade):
    nb = mutate(solution_notebook(), "def softmax(z):", "def softmax(z)")
    cell, line = position_of(nb, "def softmax(z)")
    results = grade(nb, "syntax_error.ipynb")
    assert (f"cell {cell}: error: your code raised SyntaxError (cell {cell}, line {line})"
            in results["output"]), results["output"]
    q2 = next(t["output"] for t in results["tests"] if t["name"].startswith("q2"))
    assert (f"`softmax` is not defined because cell {cell}, which defines it, raised an error"
            in q2), q2
    assert "run the cell that defines it" not in visible_text(results), (
        "a check still tells the student to run a cell that did run and failed")


@pytest.fixture()
def isolation(source_dir):
    sys.path.insert(0, str(source_dir))
    from gradekit import isolation
    return isolation


def test_memory_message_states_the_containers_limit(isolation, tmp_path, monkeypatch):
    limits = isolation.Limits(memory_bytes=1536 * 2**20)
    cgroup = tmp_path / "memory.max"
    monkeypatch.setattr(isolation, "CGROUP_MEMORY_FILES", (str(cgroup),))
    cgroup.write_text("805306368\n")              # Gradescope's default: 768 MB
    text = isolation.memory_limit_text(limits)
    assert "768 MB" in text and "1536" not in text, text
    cgroup.write_text("max\n")                    # a container without a limit
    assert "1536 MB" in isolation.memory_limit_text(limits)
    monkeypatch.setattr(isolation, "CGROUP_MEMORY_FILES", (str(tmp_path / "absent"),))
    assert "1536 MB" in isolation.memory_limit_text(limits)
