"""The reference maths: every answer a check compares with, float64, from explicit ``(W, b)``
pairs, independent of any student code. Only the grader has it.

The public tests beside the student's notebook run the same checks with stored answers in
place of this module (``stored.py`` records them on the public tests' own inputs). Answers
in ``NOT_STORED`` are not stored: they depend on the student's own results, or are too large
for the bundle (a 1024 x 1024 layer); there the stored copy returns None and the check
applies only what needs no answer (time limits, shapes), as the check's code says.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from backprop_support import sigmoid

NOT_STORED = ("large_linear_gradients", "large_backprop", "large_train_step", "loss_of",
              "sgd_step", "sgd_replay")

ACTS = {"relu": lambda z: np.maximum(z, 0), "sigmoid": sigmoid}


def forward_with(weights: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray,
                 activation: str) -> tuple[np.ndarray, list[np.ndarray]]:
    """Float64 logits and the hidden pre-activations for explicit ``(W, b)`` pairs."""
    h, pre = np.asarray(x, dtype=np.float64), []
    for k, (W, b) in enumerate(weights):
        h = h @ W + b
        if k < len(weights) - 1:
            pre.append(h)
            h = ACTS[activation](h)
    return h, pre


def mean_cross_entropy(logits: np.ndarray, y: np.ndarray) -> float:
    shifted = logits - logits.max(axis=1, keepdims=True)
    log_probs = shifted - np.log(np.exp(shifted).sum(axis=1, keepdims=True))
    return float(-np.mean(np.sum(y * log_probs, axis=1)))


def softmax_rows(logits: np.ndarray) -> np.ndarray:
    """Softmax along the last axis (the rows of a 2-D batch), for any number of axes."""
    e = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


DERIVATIVES = {"relu": lambda z: (z > 0).astype(np.float64),
               "sigmoid": lambda z: sigmoid(z) * (1 - sigmoid(z))}

# How typical network_backward mistakes pick the factor for hidden layer i:
# (description, factor(i, pre_activations, activations, derivative) or None for no factor).
BACKPROP_MISTAKES = [
    ("network_backward without the activation derivative (no f' factor at all)", None,
     "derivative_missing"),
    ("the derivative evaluated at model.activations[i] (after the activation) instead of "
     "model.pre_activations[i]", lambda i, pre, act, d: d(act[i]), "derivative_at_activation"),
    ("the derivative taken at the wrong layer's pre-activation (an index off by one)",
     lambda i, pre, act, d: d(pre[i - 1]), "derivative_wrong_layer"),
]


def backprop(weights: Sequence[tuple[np.ndarray, np.ndarray]], x: np.ndarray, g: np.ndarray,
             activation: str, factor=lambda i, pre, act, d: d(pre[i])):
    """Kit-side backward pass: ``[(dW, db) per layer]`` for ``g = dL/dlogits`` ``(B, n_out)``.

    ``factor`` gives the elementwise factor for hidden layer ``i`` (default: the derivative at
    its pre-activation); ``None`` leaves it out. Returns ``None`` when the shapes do not fit
    (that mistake would raise in student code instead).
    """
    _, pre = forward_with(weights, x, activation)
    act = [ACTS[activation](z) for z in pre]
    inputs = [np.asarray(x, dtype=np.float64)] + act
    grads: list = [None] * len(weights)
    grad = np.asarray(g, dtype=np.float64)
    for k in range(len(weights) - 1, -1, -1):
        grads[k] = (inputs[k].T @ grad, grad.sum(axis=0))
        if k == 0:
            break
        grad = grad @ weights[k][0].T
        if factor is not None:
            f = factor(k - 1, pre, act, DERIVATIVES[activation])
            if np.shape(f) != grad.shape:
                return None
            grad = grad * f
    return grads


def backprop_mistakes(weights, x, g, activation) -> list[tuple[str, list, str]]:
    """``(description, [(dW, db) per layer], mistake id)`` for each typical mistake that does
    not raise."""
    found = []
    for description, factor, mistake in BACKPROP_MISTAKES:
        grads = backprop(weights, x, g, activation, factor)
        if grads is not None:
            found.append((description, grads, mistake))
    return found


def backprop_input(weights, x, g, activation: str) -> np.ndarray:
    """dL/dx for ``g = dL/dlogits`` (float64)."""
    _, pre = forward_with(weights, x, activation)
    grad = np.asarray(g, dtype=np.float64)
    for k in range(len(weights) - 1, -1, -1):
        grad = grad @ weights[k][0].T
        if k > 0:
            grad = grad * DERIVATIVES[activation](pre[k - 1])
    return grad


def eager_update(weights, x, g, activation: str, lr: float) -> list:
    """What updating each layer as soon as its gradient is known gives: the layers below get a
    gradient computed with the already-updated weights."""
    _, pre = forward_with(weights, x, activation)
    acts = [ACTS[activation](z) for z in pre]
    new, grad = [None] * len(weights), np.asarray(g, dtype=np.float64)
    for k in range(len(weights) - 1, -1, -1):
        layer_input = x if k == 0 else acts[k - 1]
        new[k] = (weights[k][0] - lr * layer_input.T @ grad, weights[k][1] - lr * grad.sum(0))
        grad = grad @ new[k][0].T
        if k > 0:
            grad = grad * DERIVATIVES[activation](pre[k - 1])
    return new


def updated(weights, grads, lr: float, scale: float = 1.0) -> list:
    """``[(W - lr * scale * dW, b - lr * scale * db)]`` for every layer."""
    return [(W - lr * scale * dW, b - lr * scale * db)
            for (W, b), (dW, db) in zip(weights, grads)]


def sgd_reference(weights, x, y, activation: str, lr: float):
    """``(loss before, updated weights, gradients)`` of one SGD step, all float64."""
    logits = forward_with(weights, x, activation)[0]
    residual = (softmax_rows(logits) - y) / x.shape[0]
    grads = backprop(weights, x, residual, activation)
    return mean_cross_entropy(logits, y), updated(weights, grads, lr), grads


def relu_derivative_answers(z: np.ndarray) -> dict:
    """The 0/1 mask of z > 0, and what returning ReLU itself or an inverted mask gives."""
    return {"expected": (z > 0).astype(np.float64), "relu": np.maximum(z, 0),
            "inverted": (z < 0).astype(np.float64)}


def sigmoid_derivative_answers(z: np.ndarray) -> dict:
    """s(1 - s) for s = sigmoid(z), and what typical mistakes give."""
    s = sigmoid(z)
    t = sigmoid(s)
    return {"expected": s * (1 - s), "sigmoid": s, "on_z": z * (1 - z), "twice": t * (1 - t)}


def cross_entropy_answers(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(mean over the batch, sum over the batch) of -sum(y * log(probs))."""
    per_row = np.sum(y * np.log(probs), axis=1)
    return float(-np.mean(per_row)), float(-np.sum(per_row))


def cross_entropy_range(probs: np.ndarray, y: np.ndarray, floors) -> tuple[float, float]:
    """(lowest, highest) mean cross-entropy over the allowed log floors ``floors``."""
    values = [float(-np.mean(np.sum(y * np.log(np.maximum(probs, floor)), axis=1)))
              for floor in floors]
    return min(values), max(values)


def linear_forward(x: np.ndarray, W: np.ndarray, b: np.ndarray) -> dict:
    return {"expected": x @ W + b, "no_bias": x @ W}


def linear_gradients(W: np.ndarray, x: np.ndarray, g: np.ndarray) -> dict:
    """dX, dW, db of a linear layer for ``g = dL/d(output)``, and what typical mistakes give
    (an empty array where a mistake is indistinguishable by shape alone)."""
    n_batch, n_in = x.shape
    n_out = g.shape[1]
    square = n_in == n_out
    none = np.zeros(0)
    return {"dx": g @ W.T, "dW": x.T @ g, "db": g.sum(axis=0),
            "dx_reshape": g @ W.reshape(n_out, n_in),
            "dx_not_transposed": g @ W if square else none,
            "dw_mean": x.T @ g / n_batch, "dw_reshape": (g.T @ x).reshape(n_in, n_out),
            "dw_transposed": g.T @ x if square else none, "db_mean": g.mean(axis=0)}


large_linear_gradients = linear_gradients


def pre_activations(weights, x: np.ndarray, activation: str) -> list:
    """The pre-activation of every hidden layer."""
    return forward_with(weights, x, activation)[1]


large_backprop = backprop


def train_step_answers(weights, x: np.ndarray, y: np.ndarray, activation: str, lr: float):
    """(loss before, updated weights, loss after, [(description, weights, mistake id)]) of one
    SGD step, with what typical mistakes of train_step give."""
    n_batch = x.shape[0]
    loss, expected, grads = sgd_reference(weights, x, y, activation, lr)
    after = mean_cross_entropy(forward_with(expected, x, activation)[0], y)
    probs = softmax_rows(forward_with(weights, x, activation)[0])
    residual = (probs - y) / n_batch
    mistakes = [
        ("moving uphill (+ lr * gradient: wrong sign)", updated(weights, grads, -lr),
         "update_wrong_sign"),
        ("not updating the parameters at all", [(W, b) for W, b in weights], "not_updated"),
        ("not dividing probs - y by the batch size", updated(weights, grads, lr, n_batch),
         "no_batch_divide"),
        ("dividing by the batch size twice", updated(weights, grads, lr, 1 / n_batch),
         "batch_divide_twice"),
        ("backpropagating probs instead of probs - y",
         updated(weights, backprop(weights, x, probs / n_batch, activation), lr),
         "probs_instead_of_residual"),
        ("updating a layer before the gradient for the layers below is computed from its W",
         eager_update(weights, x, residual, activation, lr), "update_before_all_gradients"),
    ] + [(description, updated(weights, wrong, lr), mistake)
         for description, wrong, mistake in backprop_mistakes(weights, x, residual, activation)]
    return loss, expected, after, mistakes


def large_train_step(weights, x: np.ndarray, y: np.ndarray, lr: float):
    """(loss before, updated weights, loss after) of one SGD step of a ReLU network."""
    loss, expected, _ = sgd_reference(weights, x, y, "relu", lr)
    return loss, expected, mean_cross_entropy(forward_with(expected, x, "relu")[0], y)


def sgd_trajectory(weights, x: np.ndarray, y: np.ndarray, lr: float, steps: int):
    """(loss before, weights after ``steps`` SGD steps, loss after them), ReLU network."""
    replay = weights
    for _ in range(steps):
        replay = sgd_reference(replay, x, y, "relu", lr)[1]
    return loss_of(weights, x, y), replay, loss_of(replay, x, y)


def loss_of(weights, x: np.ndarray, y: np.ndarray) -> float:
    """Mean cross-entropy of a ReLU network with these weights."""
    return mean_cross_entropy(forward_with(weights, x, "relu")[0], y)


def sgd_step(before, x: np.ndarray, y: np.ndarray, lr: float):
    """(updated weights, gradients) of one SGD step of a ReLU network from ``before``."""
    _, new, grads = sgd_reference(before, x, y, "relu", lr)
    return new, grads


def sgd_replay(weights, batches, lr: float, tie: float = 1e-6) -> tuple[list, list, int]:
    """``(weights, slack, steps)``: one SGD step of a ReLU network on each ``(x, y)`` of
    ``batches`` in turn from ``weights``, stopping after the first step with a ReLU tie
    (``steps`` taken); and for every parameter how far a correct implementation may differ
    from the result because of that tie.

    Products in float32 (the batches' dtype, as the notebook trains), weights kept in
    float64: 0.45 s of CPU for the 939 steps of the graded run (float64 throughout: 0.74 s);
    float32 and float64 implementations stay within 2e-5 of it over 20 steps. A hidden
    pre-activation within ``tie`` of 0 (float32 rounding moves them by about 1e-7) may fall on
    either side of the kink in another implementation (in 3 of about 30 graded runs measured,
    between float32 and float64): that moves the unit's incoming weights by up to 10 % of a step, its outgoing
    ones slightly, and every later step chaotically; so the replay stops there and the unit's
    weights get as slack twice what they could move in that step.
    """
    new = [(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)) for W, b in weights]
    slack = [(np.zeros_like(W), np.zeros_like(b)) for W, b in new]
    for step, (x, y) in enumerate(batches, start=1):
        w32 = [(W.astype(np.float32), b.astype(np.float32)) for W, b in new]
        h, inputs, pre = np.asarray(x, dtype=np.float32), [], []
        for W, b in w32:
            inputs.append(h)
            pre.append(h @ W + b)
            h = np.maximum(pre[-1], 0)
        grad = (softmax_rows(pre[-1]) - np.asarray(y, dtype=np.float32)) / np.float32(len(h))
        tied = False
        for k in range(len(w32) - 1, -1, -1):
            dW, db = inputs[k].T @ grad, grad.sum(axis=0)
            if k > 0:
                back = grad @ w32[k][0].T
                units = np.any(np.abs(pre[k - 1]) < tie, axis=0)
                if units.any():   # the tied units' incoming and outgoing weights
                    tied, mass = True, np.abs(back[:, units])
                    slack[k - 1][0][:, units] += 2 * lr * (np.abs(inputs[k - 1]).T @ mass)
                    slack[k - 1][1][units] += 2 * lr * mass.sum(axis=0)
                    slack[k][0][units] += 2 * lr * (np.abs(inputs[k][:, units]).T @ np.abs(grad))
                grad = back * (pre[k - 1] > 0)
            new[k] = (new[k][0] - lr * dW, new[k][1] - lr * db)
        if tied:
            return new, slack, step
    return new, slack, len(batches)
