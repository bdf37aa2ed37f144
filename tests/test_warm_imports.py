"""Which modules the grader loads before student code runs (``submission.imported_modules``).

Native modules cannot be loaded once the sandbox policy is in force, so everything a notebook
needs is imported up front; matplotlib (0.5 s and 30 MB) only for notebooks that draw. A
catalogue entry (``kit_plot_in_graded_cell``) grades a notebook that draws through the kit's
helpers end to end.
"""

from __future__ import annotations

import sys

import pytest


@pytest.fixture(scope="module")
def submission(source_dir):
    sys.path.insert(0, str(source_dir))
    from gradekit import submission
    return submission


IMPORTS = "import numpy as np\nfrom backprop_support import (plot_history, plot_confusion_matrix,\n    train)\n"


@pytest.mark.parametrize("cell", [
    IMPORTS + "history = train(model, x, y, train_step)\nplot_history(history)\n",
    IMPORTS + "import backprop_support as bs\nbs.plot_first_layer_weights(model)\n",
    "import matplotlib.pyplot as plt\n",
    "%matplotlib inline\nx = 1\n",
    "df.plot()\n",
    "fig = plt.figure()\n",
    "this cell does not parse, but it plots(\n",
])
def test_cells_that_draw_warm_matplotlib(submission, cell):
    assert submission.draws_figures(cell)
    assert "matplotlib.pyplot" in submission.imported_modules([cell])


@pytest.mark.parametrize("cell", [
    IMPORTS,
    "def softmax(z):\n    z = z - z.max(axis=-1, keepdims=True)\n    return np.exp(z)\n",
    "this cell does not parse (\n",
    "# a comment about plots that draws nothing\nx = 1\n",
])
def test_cells_that_do_not_draw_skip_matplotlib(submission, cell):
    assert not submission.draws_figures(cell)
    assert not any(m.startswith("matplotlib") for m in submission.imported_modules([cell]))


def test_the_example_notebooks_do_not_load_matplotlib(submission):
    from conftest import ROOT

    for name in ("reference", "blank"):
        sub = submission.load(ROOT / "submissions" / f"{name}.ipynb")
        assert "matplotlib.pyplot" not in submission.imported_modules(sub.code_cells), name
