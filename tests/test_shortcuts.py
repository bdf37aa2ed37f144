"""Points without the work, graded through the real autograder zip (``tests/hostile/shortcuts.py``).

- A ``train_step`` that replays a table of the steps the q6 check verifies, computed offline
  from what students received, and installs pretrained weights everywhere else, gets nothing
  for q6.
- Gradients by central differences instead of the chain rule gain nothing on q3, q4 or q5
  over the same notebook with those functions blank.

Graded with the default per-call limit (30 s), so that only the checks' own time limits can
stop finite differences, as on Gradescope.
"""

from __future__ import annotations

import re
from concurrent.futures import ThreadPoolExecutor

import pytest

from conftest import environment, question_scores, visible_text
from hostile import shortcuts

LIMITS = {"BACKPROP_CELL_SECONDS": "20", "BACKPROP_CALL_SECONDS": "30",
          "BACKPROP_GRACE_SECONDS": "1", "BACKPROP_CASE_SECONDS": "120",
          "BACKPROP_TOTAL_SECONDS": "400"}
NOTEBOOKS = {"precomputed_q6": shortcuts.precomputed_q6,
             "finite_differences": shortcuts.finite_differences,
             "blank_gradients": shortcuts.blank_gradients}


@pytest.fixture(scope="module")
def graded(grade) -> dict[str, dict]:
    with environment(LIMITS), ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(grade, build(), f"{name}.ipynb")
                   for name, build in NOTEBOOKS.items()}
        return {name: future.result() for name, future in futures.items()}


def test_precomputed_checked_steps_earn_nothing_on_q6(graded):
    scores = question_scores(graded["precomputed_q6"])
    assert scores["q6"] == 0, f"q6 scored {scores['q6']} without gradients or training"


def test_each_grading_draws_its_own_secret_and_records_it(graded):
    secrets = [results["extra_data"]["grading_secret"] for results in graded.values()]
    assert all(re.fullmatch("[0-9a-f]{32}", s) for s in secrets), secrets
    assert len(set(secrets)) == len(secrets), secrets
    for results in graded.values():   # instructors only
        assert results["extra_data"]["grading_secret"] not in visible_text(results)


@pytest.mark.parametrize("question", ["q3", "q4", "q5"])
def test_finite_differences_gain_nothing_over_blank_gradients(graded, question):
    attack = question_scores(graded["finite_differences"])[question]
    blank = question_scores(graded["blank_gradients"])[question]
    assert attack <= blank, \
        f"{question}: {attack} with finite differences, {blank} with the functions blank"


def test_finite_differences_are_told_why(graded):
    shown = visible_text(graded["finite_differences"])
    assert "finite differences" in shown and "chain rule" in shown, shown[:3000]
