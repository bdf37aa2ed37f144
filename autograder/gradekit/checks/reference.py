"""The reference maths: float64, from explicit ``(W, b)`` pairs, independent of any student
code. Only the grader has it."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from backprop_support import sigmoid



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
    e = np.exp(logits - logits.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


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
