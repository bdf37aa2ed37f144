"""Each fact a TA edits lives in one place; the prose copies in the notebook and the READMEs
must agree with it: the MNIST settings and threshold (``autograder/gradekit/checks/settings.py``), the accepted
log floors, the points (the master's question headers) and the support files (the master's
``files:`` list)."""

from __future__ import annotations

import json
import re
import sys

import nbformat
import pytest

import build_assignment
from conftest import ROOT, STUDENT_NB

sys.path[:0] = [str(ROOT / "autograder"), str(ROOT / "assignment")]   # the checks, the kit
from gradekit.checks import settings as grading_settings  # noqa: E402


def flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


@pytest.fixture(scope="module")
def notebook_text() -> str:
    nb = nbformat.read(STUDENT_NB, as_version=4)
    return flat("\n".join(c.source for c in nb.cells if c.cell_type == "markdown"))


README = flat((ROOT / "README.md").read_text())
STUDENT_README = flat((ROOT / "assignment" / "README.md").read_text())


def sci(x: float) -> str:
    """1e-07 written as 1e-7."""
    mantissa, exponent = f"{x:e}".split("e")
    return f"{float(mantissa):g}e{int(exponent)}"


def percent(fraction: float) -> str:
    return f"{fraction * 100:g} %"


def test_mnist_settings_in_the_notebook_match_the_grading_settings(notebook_text):
    g = grading_settings.MNIST_GRADING
    phrase = (f"first {g['n_train']:,} training images ({g['epochs']} epochs, learning rate "
              f"{g['lr']:g}, batches of {g['batch_size']})")
    assert phrase in notebook_text, f"the notebook does not say: {phrase}"
    assert f"at least **{percent(g['threshold'])}**" in notebook_text


def test_mnist_settings_in_the_readmes_match_the_grading_settings():
    g = grading_settings.MNIST_GRADING
    phrase = (f"({g['n_train']:,} training images, {g['epochs']} epochs, learning rate "
              f"{g['lr']:g}, batch {g['batch_size']}, threshold {percent(g['threshold'])}")
    assert phrase in README, f"README.md does not say: {phrase}"
    assert f"needs {percent(g['threshold'])} test accuracy" in README
    assert f"needs {percent(g['threshold'])} test" in STUDENT_README


def test_accepted_log_floors_are_the_ones_the_notebook_states(notebook_text):
    low, high = grading_settings.LOG_FLOOR_RANGE
    assert f"Any floor from `{sci(low)}` to `{sci(high)}` is accepted" in notebook_text


def test_points_in_the_notebook_and_readme_match_the_master(source_dir, notebook_text):
    """questions.json holds the points of the master's question configs."""
    table = json.loads((source_dir / "questions.json").read_text())
    assert sum(q["points"] for q in table.values()) == 100
    for number, (name, q) in enumerate(table.items(), start=1):
        assert f"Question {number}: {q['title']} ({q['points']:g} points)" in notebook_text, \
            f"the notebook's header of {name} does not say {q['points']:g} points"
        assert re.search(rf"\| {name} \| {q['points']:g} \|", README), \
            f"README.md's table does not give {name} {q['points']:g} points"


def test_support_files_named_in_the_prose_are_the_shipped_ones(notebook_text):
    files = build_assignment.support_files()
    assert "backprop_support.py" in files and "mnist.npz" in files
    named = re.search(r"Keep (.+?) and the `tests/` folder beside the notebook", notebook_text)
    assert named, "the notebook no longer says which files to keep beside it"
    assert re.findall(r"`([^`]+)`", named.group(1)) == files, named.group(1)
    for name in files:
        assert f"`{name}`" in STUDENT_README, f"assignment/README.md does not list {name}"
        if name.endswith(".py"):
            assert f"`{name}`" in README, f"README.md's layout does not name {name}"
