"""Error carried forward gives credit for the student's own later work, never for work not
done (``gradekit/checks/carried.py``), graded through the autograder zip.

The catalogue proves the credit (each bug costs points only on its own question, or records
why it spans others: ``make report``'s cross-question column). These submissions try to earn
that credit without the work: lower-level functions that give nothing to judge with (zeros,
a constant, an exception) never make a later question pass.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from catalogue.entries import UPDATE_LOOP
from conftest import mutate, question_scores, solution_notebook

BACKWARD = ("        self.dW = self.x.T @ grad_out\n"
            "        self.db = grad_out.sum(axis=0)\n")
NETWORK_BACKWARD_BODY = ("    grad = model.layers[-1].backward(grad_logits)\n"
                         "    for i in range(len(model.layers) - 2, -1, -1):\n")

# name -> (edits, the question whose points it must not earn)
ATTEMPTS = {
    # backward stores zeros (it keeps the right dX), and train_step never updates: with
    # all-zero gradients "update by lr * dW" and "no update" would agree
    "zero_gradients_no_update": ([(BACKWARD, "        self.dW = np.zeros_like(self.W)\n"
                                              "        self.db = np.zeros_like(self.b)\n"),
                                  (UPDATE_LOOP, "")], "q5"),
    # the same, and network_backward calls nothing but the top layer's backward
    "zero_gradients_no_walk": ([(BACKWARD, "        self.dW = np.zeros_like(self.W)\n"
                                            "        self.db = np.zeros_like(self.b)\n"),
                                (NETWORK_BACKWARD_BODY,
                                 "    return model.layers[-1].backward(grad_logits)\n"
                                 "    for i in range(len(model.layers) - 2, -1, -1):\n")],
                               "q4"),
    # both derivatives return ones (no derivative at all), and network_backward leaves the
    # derivative out: with such "derivatives" both agree
    "ones_derivative_no_mask": ([("return (z > 0).astype(z.dtype)", "return np.ones_like(z)"),
                                 ("    s = sigmoid(z)\n    return s * (1 - s)\n",
                                  "    return np.ones_like(z)\n"),
                                 ("        grad = grad * derivative(model.pre_activations[i])\n",
                                  "")], "q4"),
    # softmax raises, and train_step returns a made-up loss without any step
    "raising_softmax_no_step": ([("    shifted = z - np.max(z, axis=-1, keepdims=True)\n",
                                  "    raise ValueError('not yet')\n"),
                                 ("    probs = softmax(model.forward(x))\n"
                                  "    loss = cross_entropy(probs, y)\n",
                                  "    loss = 1.0\n    probs = y\n")], "q5"),
}


@pytest.fixture(scope="module")
def graded(grade) -> dict[str, dict]:
    def build(edits):
        nb = solution_notebook()
        for old, new in edits:
            nb = mutate(nb, old, new)
        return nb

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = {name: pool.submit(grade, build(edits), f"{name}.ipynb")
                   for name, (edits, _) in ATTEMPTS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_nothing_to_judge_with_carries_no_credit(graded, name, questions):
    question = ATTEMPTS[name][1]
    got = question_scores(graded[name])[question]
    assert got < questions[question]["points"] - 1e-9, \
        f"{name}: {question} scored {got} of {questions[question]['points']}"
