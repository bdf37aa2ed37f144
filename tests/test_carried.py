"""Error carried forward gives credit for the student's own later work, never for work not
done (``gradekit/checks/carried.py``), graded through the autograder zip.

The catalogue proves the credit (each bug costs points only on its own question, or records
why it spans others: ``make report``'s cross-question column). These submissions try to earn
that credit without the work: a question's function with a mistake of its own, beside
lower-level functions crafted so that the mistake agrees with "a correct function with the
student's own functions". Each must earn no more on that question than the same mistake
earns beside the reference's lower-level functions (where nothing is carried).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from catalogue.entries import MASK_LINE, SIGMOID_DERIVATIVE, UPDATE_LOOP
from conftest import mutate, question_scores, solution_notebook

BACKWARD = ("        self.dW = self.x.T @ grad_out\n"
            "        self.db = grad_out.sum(axis=0)\n")
INIT_GRADIENTS = ("        self.dW = np.zeros_like(self.W)\n"
                  "        self.db = np.zeros_like(self.b)\n")
FORWARD = "        self.x = x\n        return x @ self.W + self.b\n"
RELU_DERIVATIVE = "return (z > 0).astype(z.dtype)"
SOFTMAX_SHIFT = "    shifted = z - np.max(z, axis=-1, keepdims=True)\n"
NETWORK_BACKWARD_BODY = ("    grad = model.layers[-1].backward(grad_logits)\n"
                         "    for i in range(len(model.layers) - 2, -1, -1):\n")
BACKWARD_CALL = "    network_backward(model, (probs - y) / x.shape[0])\n"
TRAIN_STEP_BODY = ("    probs = softmax(model.forward(x))\n"
                   "    loss = cross_entropy(probs, y)\n" + BACKWARD_CALL + UPDATE_LOOP
                   + "    return float(loss)\n")

ZERO_GRADIENTS = [(BACKWARD, "        self.dW = np.zeros_like(self.W)\n"
                             "        self.db = np.zeros_like(self.b)\n")]
# nonzero, but far below any tolerance
TINY_GRADIENTS = [(BACKWARD, "        self.dW = 1e-12 * (self.x.T @ grad_out)\n"
                             "        self.db = 1e-12 * grad_out.sum(axis=0)\n")]
# the same non-constant arrays whatever the input (set at initialisation too)
FIXED_GRADIENTS = [(INIT_GRADIENTS,
                    "        fixed = np.random.default_rng(1000 * n_in + n_out)\n"
                    "        self._C, self._c = fixed.normal(size=(n_in, n_out)), "
                    "fixed.normal(size=n_out)\n"
                    "        self.dW, self.db = self._C, self._c\n"),
                   (BACKWARD, "        self.dW, self.db = self._C, self._c\n")]
# the outputs of LinearLayer.forward, so that a function can tell the grader's calls of the
# error-carried-forward computation (on arrays the forward pass just returned) from others
SEEN = ("_SEEN = []\n"
        "def _seen(z):\n"
        "    return any(s.shape == np.shape(z) and np.array_equal(s, z) for s in _SEEN)\n"
        "def relu_derivative(z):\n")
RECORD_FORWARD = (FORWARD, "        self.x = x\n        out = x @ self.W + self.b\n"
                           "        _SEEN.append(np.array(out)); del _SEEN[:-8]\n"
                           "        return out\n")
NO_MASK = [(MASK_LINE, "")]
NO_UPDATE = [(UPDATE_LOOP, "")]

# name -> (edits of the lower-level functions, edits of the question's own function, the
# question); the attempt makes both edits
ATTEMPTS = {
    # backward stores zeros (it keeps the right dX), and train_step never updates: with
    # all-zero gradients "update by lr * dW" and "no update" would agree
    "zero_gradients_no_update": (ZERO_GRADIENTS, NO_UPDATE, "q5"),
    # the same, and network_backward calls nothing but the top layer's backward
    "zero_gradients_no_walk": (ZERO_GRADIENTS, [(
        NETWORK_BACKWARD_BODY, "    return model.layers[-1].backward(grad_logits)\n"
                               + NETWORK_BACKWARD_BODY)], "q4"),
    # both derivatives return ones (no derivative at all), and network_backward leaves the
    # derivative out: with such "derivatives" both agree
    "ones_derivative_no_mask": ([(RELU_DERIVATIVE, "return np.ones_like(z)"),
                                 (SIGMOID_DERIVATIVE, "    return np.ones_like(z)\n")],
                                NO_MASK, "q4"),
    # softmax raises, and train_step returns a made-up loss without any step
    "raising_softmax_no_step": ([(SOFTMAX_SHIFT, "    raise ValueError('not yet')\n")],
                                [("    probs = softmax(model.forward(x))\n"
                                  "    loss = cross_entropy(probs, y)\n",
                                  "    loss = 1.0\n    probs = y\n")], "q5"),
    # derivatives of ones plus a negligible term (not constant), and no derivative
    "near_ones_derivative_no_mask": ([(RELU_DERIVATIVE, "return np.ones_like(z) + 1e-12 * z"),
                                      (SIGMOID_DERIVATIVE,
                                       "    return np.ones_like(z) + 1e-12 * z\n")],
                                     NO_MASK, "q4"),
    # gradients far below the tolerance, and no update
    "tiny_gradients_no_update": (TINY_GRADIENTS, NO_UPDATE, "q5"),
    # a softmax of nan (the loss is then not judged), and a train_step that returns a constant
    "nan_softmax_constant_loss": ([(SOFTMAX_SHIFT, "    return np.full(np.shape(z), np.nan)\n")],
                                  [(TRAIN_STEP_BODY, "    return 1.0\n")], "q5"),
    # gradients that do not depend on the input, returning an array of grad_out's shape (so
    # the check's shapes fail and the square retry runs); network_backward calls only the top
    # layer's backward: the layers it skips keep what they stored at initialisation
    "fixed_gradients_no_walk": (FIXED_GRADIENTS[:1] + [(
        BACKWARD + "        return grad_out @ self.W.T\n",
        "        self.dW, self.db = self._C, self._c\n        return np.random.default_rng("
        "sum(grad_out.shape)).normal(size=grad_out.shape)\n")], [(
            NETWORK_BACKWARD_BODY, "    return model.layers[-1].backward(grad_logits)\n"
                                   + NETWORK_BACKWARD_BODY)], "q4"),
    # backward returns its input whatever grad_out is, and network_backward passes grad_logits
    # straight to the first layer: the returned dL/dx agrees with that of a correct walk
    "input_returned_first_layer_only": ([("        return grad_out @ self.W.T\n",
                                          "        return self.x\n")], [(
        NETWORK_BACKWARD_BODY, "    return model.layers[0].backward(grad_logits)\n"
                               + NETWORK_BACKWARD_BODY)], "q4"),
    # the same gradients, and train_step never calls network_backward: it applies the
    # gradients the layers hold from initialisation
    "fixed_gradients_no_backward_call": (FIXED_GRADIENTS, [(BACKWARD_CALL, "")], "q5"),
    # derivatives right everywhere (Question 1 passes) but on arrays LinearLayer.forward just
    # returned, where they give ones plus a negligible term; no derivative in network_backward
    "context_derivative_no_mask": ([
        ("def relu_derivative(z):\n", SEEN), RECORD_FORWARD,
        (RELU_DERIVATIVE, "return np.ones_like(z) + 1e-12 * z if _seen(z) else "
                          "(z > 0).astype(z.dtype)"),
        (SIGMOID_DERIVATIVE, "    if _seen(z):\n        return np.ones_like(z) + 1e-12 * z\n"
                             + SIGMOID_DERIVATIVE)], NO_MASK, "q4"),
    # sigmoid_derivative right everywhere but on arrays LinearLayer.forward just returned,
    # where it gives the derivative at sigmoid(z): the mistake network_backward makes
    "context_derivative_mirrors_mistake": ([
        ("def relu_derivative(z):\n", SEEN), RECORD_FORWARD,
        (SIGMOID_DERIVATIVE, "    if _seen(z):\n        z = sigmoid(z)\n" + SIGMOID_DERIVATIVE)],
        [("derivative(model.pre_activations[i])", "derivative(model.activations[i])")], "q4"),
    # train_step applies random "gradients" and records them under the weights it was given;
    # network_backward, given weights recorded there (the carried computation replays the
    # step from them), stores the recorded ones. Every other function is the reference's.
    "context_replay_random_update": ([
        ("    derivative = relu_derivative if",
         "    if _key(model) in _STEPS:\n"
         "        for layer, (dW, db) in zip(model.layers, _STEPS[_key(model)]):\n"
         "            layer.dW, layer.db = dW, db\n"
         "        return None\n"
         "    derivative = relu_derivative if")],
        [("def train_step(model, x, y, lr):\n",
          "_STEPS = {}\n"
          "def _key(model):\n"
          "    return tuple(np.asarray(layer.W).tobytes() for layer in model.layers)\n"
          "def train_step(model, x, y, lr):\n"),
         (BACKWARD_CALL + UPDATE_LOOP,
          "    rng = np.random.default_rng(len(_STEPS))\n"
          "    step = [(rng.normal(size=np.shape(layer.W)), rng.normal(size=np.shape(layer.b)))\n"
          "            for layer in model.layers]\n"
          "    if np.size(model.layers[0].W) < 2_000_000:\n"
          "        _STEPS[_key(model)] = step\n"
          "    for layer, (dW, db) in zip(model.layers, step):\n"
          "        layer.W -= lr * dW\n"
          "        layer.b -= lr * db\n")], "q5"),
}

def _notebook(edits):
    nb = solution_notebook()
    for old, new in edits:
        nb = mutate(nb, old, new)
    return nb


@pytest.fixture(scope="module")
def graded(grade) -> dict[str, tuple[dict, dict]]:
    """name -> (the attempt's results, the results of its own mistake alone)."""
    alone = {name: tuple(own) for name, (_, own, _) in ATTEMPTS.items()}
    with ThreadPoolExecutor(max_workers=2) as pool:
        attempts = {name: pool.submit(grade, _notebook(lower + own), f"{name}.ipynb")
                    for name, (lower, own, _) in ATTEMPTS.items()}
        mistakes = {own: pool.submit(grade, _notebook(list(own)), f"alone_{i}.ipynb")
                    for i, own in enumerate(set(alone.values()))}
        return {name: (attempts[name].result(), mistakes[alone[name]].result())
                for name in ATTEMPTS}


@pytest.mark.parametrize("name", sorted(ATTEMPTS))
def test_crafted_lower_functions_carry_no_credit(graded, name, questions):
    question = ATTEMPTS[name][2]
    attempt, alone = (question_scores(results)[question] for results in graded[name])
    assert alone < questions[question]["points"] - 1e-9, \
        f"{name}: the mistake alone loses nothing on {question}"
    assert attempt <= alone + 1e-9, \
        f"{name}: {question} scored {attempt}, the same mistake alone {alone}"
