"""Error carried forward: what a correct ``network_backward`` or ``train_step`` gives with the
student's own functions of the questions below it, as an exam marker grades a later part
with the student's own earlier results. Grader only: each function here is the correct
algorithm of a question, so the copy beside the notebook has a stub answering None.

A check first compares the student's function with the reference maths. Only when that
fails does it ask this module what a correct function would have given with the student's
own lower-level functions (``Own``); when the student's function agrees with that, any mistake
belongs to the lower questions and this one passes (``networks.carry``, which also retries on
shapes where the lower functions can run).

Nothing is carried forward from lower-level functions that give nothing to judge with: an
exception, nan or inf, an array of the wrong shape where it flows on (a returned gradient,
a derivative) or a constant one (all zeros, or ones plus 1e-12 * z: any function would "agree"
with it), stored gradients that are what the layers held before the call (``networks.sentinel``)
or an SGD step too small to see (a train_step that never updates would agree with it).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np

from . import networks
from .calling import call_student, kit_function, read_attribute
from .compare import CheckFailed, expect_array, relative_error, tolerance_for
from .settings import TOLERANCES

# Shown beside the notebook, where nothing is carried forward (the stub sets it; here none).
NOTE = ""


class Unusable(Exception):
    """The student's lower-level functions gave nothing to carry forward."""


@dataclass
class Own:
    """What a correct function gives with the student's own lower-level functions."""

    uses: str                 # "your own LinearLayer and relu_derivative", for messages
    values: dict              # name -> float64 array or float, as the check names them
    differs: bool             # whether any value differs from the correct one (for messages)
    tol: float | None = None  # relative tolerance of arrays (default: by the student's dtype)

    def mismatch(self, got: dict) -> str | None:
        """The first of ``got``'s values that disagrees with this, or that this cannot judge
        (None: all agree)."""
        for name, value in got.items():
            if name not in self.values:
                return name
            want = self.values[name]
            if isinstance(want, float) and not np.isfinite(want):
                # the student's own functions give no finite loss here: a correct train_step
                # returns none either
                ok = value is not None and not np.isfinite(value)
            elif isinstance(want, float):
                ok = value is not None and np.isfinite(value) and abs(
                    value - want) <= TOLERANCES["loss"] * max(1.0, abs(want))
            else:
                tol = self.tol or max(TOLERANCES["float64"], tolerance_for(value))
                ok = (value is not None and np.shape(value) == want.shape
                      and bool(np.all(np.isfinite(value))) and relative_error(value, want) <= tol)
            if not ok:
                return name
        return None


def _constant(arr: np.ndarray) -> bool:
    """Every entry the same to within the loosest tolerance an array is compared with: a
    function that leaves it out (or multiplies by it) agrees with one that uses it."""
    return bool(np.ptp(arr) <= TOLERANCES["float32"] * np.max(np.abs(arr), initial=0.0))


def _flowing(what: str, value: Any, shape: tuple) -> np.ndarray:
    """A value the next step computes with: right shape, finite, not constant."""
    try:
        arr = expect_array(what, value, shape)
    except CheckFailed:
        raise Unusable(what) from None
    if not np.all(np.isfinite(arr)) or _constant(arr):
        raise Unusable(what)
    return arr


def _stored(layer, name: str) -> np.ndarray:
    """A gradient a layer stored, whatever its shape (bounded size), as float64, finite."""
    arr = networks.raw(read_attribute(layer, name, name, ""))
    if arr is None or not np.all(np.isfinite(arr)):
        raise Unusable(name)
    return arr


def _informative(grads: list, seed: int) -> list:
    """``grads`` (``(dW, db)`` per layer), unless every dW or every db is constant or still
    the sentinel the layer held before the call (``networks.network``): a ``backward`` that
    stores only zeros, or nothing, or the same arrays whatever its input, would let a function
    that never calls it agree."""
    def idle(k: int, which: int, grad: np.ndarray) -> bool:
        held = networks.sentinel(seed, k, ("dW", "db")[which], grad.shape)
        return _constant(grad) or relative_error(grad, held) <= TOLERANCES["float32"]

    for which in (0, 1):
        if all(idle(k, which, pair[which]) for k, pair in enumerate(grads)):
            raise Unusable("uninformative stored gradients")
    return grads


def _forward(model, layers, sizes, weights, x):
    """The kit's ``MLP.forward(x)`` of ``model`` (around the student's ``layers``, given
    ``weights`` first) where the student's code runs: ``(the model there, logits,
    pre-activations)``; the model's caches are the arrays its layers kept, as in training."""
    for layer, (W, b) in zip(layers, weights):
        layer.W, layer.b = np.array(W), np.array(b)
    logits, pre, _, there = call_student("model.forward(x)", kit_function("forward_cached",
                                                                          layers[0]),
                                         model, np.array(x))
    n = len(x)
    pre = [_flowing("a pre-activation", z, (n, size)) for z, size in zip(pre, sizes[1:-1])]
    return there, _flowing("the logits", logits, (n, sizes[-1])), pre


def _backward(layers, derivative, sizes, pre, g) -> tuple[list, list]:
    """The correct walk down the layers with the student's ``backward`` and ``derivative``:
    ``(dW, db)`` and the returned gradient of every layer."""
    grads: list = [None] * len(layers)
    backs: list = [None] * len(layers)
    grad = g
    for k in range(len(layers) - 1, -1, -1):
        back = call_student(f"layers[{k}].backward", layers[k].backward, grad.copy())
        backs[k] = back = _flowing("a returned gradient", back, (len(g), sizes[k]))
        grads[k] = (_stored(layers[k], "dW"), _stored(layers[k], "db"))
        if k == 0:
            return grads, backs
        factor = _flowing("a derivative", call_student("the derivative", derivative,
                                                       pre[k - 1].copy()), pre[k - 1].shape)
        grad = back * factor


def _responds(twin, seed: int, grads: list, backs: list | None = None) -> None:
    """Unusable unless what the student's code computes depends on the gradient it is given:
    ``twin(rng)`` runs it again on a twin network (same weights and inputs) with other
    gradients drawn from ``rng``, returning its ``(dW, db)`` per layer and, with ``backs``,
    each layer's returned gradient. A returned gradient that stays the same, or stored
    gradients that all stay the same (arrays fixed in advance, or replayed), would let a
    function that passes any gradient, or none, agree."""
    other_grads, other_backs = twin(np.random.default_rng([seed, 4242]))

    def same(a, b) -> bool:
        return np.shape(a) == np.shape(b) and relative_error(a, b) <= TOLERANCES["float32"]

    if backs is not None and any(same(a, b) for a, b in zip(other_backs, backs)):
        raise Unusable("a returned gradient that does not depend on grad_out")
    for which in (0, 1):
        if all(same(a[which], b[which]) for a, b in zip(other_grads, grads)):
            raise Unusable("stored gradients that do not depend on grad_out")


def _differs(values: dict, correct: dict, tol: float = TOLERANCES["float32"]) -> bool:
    for name, want in correct.items():
        got = values[name]
        if isinstance(want, tuple):   # a loss at zero probabilities: any allowed log floor
            if not want[0] * (1 - TOLERANCES["loss"]) <= got <= want[1] * (1 + TOLERANCES["loss"]):
                return True
        elif isinstance(want, float):
            if not abs(got - want) <= TOLERANCES["loss"] * max(1.0, abs(want)):
                return True
        elif np.shape(got) != np.shape(want) or relative_error(got, want) > tol:
            return True
    return False


def _uses(*names: str) -> str:
    return "your own " + ", ".join(names[:-1]) + (" and " if len(names) > 1 else "") + names[-1]


def own_backprop(LinearLayer, derivative, derivative_name: str, sizes: Sequence[int],
                 activation: str, weights, x, g, seed: int, correct: dict,
                 repaired: bool = False) -> Own | None:
    """What a correct ``network_backward`` gives with the student's ``LinearLayer`` and
    ``derivative``: values ``layers[k].dW``, ``layers[k].db`` and ``dx`` (None: unusable).
    ``repaired``: layers as ``networks.network`` wraps them."""
    try:
        model, layers = networks.network(LinearLayer, sizes, activation, None, seed, repaired,
                                         True)
        _, _, pre = _forward(model, layers, sizes, weights, x)
        grads, backs = _backward(layers, derivative, sizes, pre, np.asarray(g, dtype=np.float64))
        _informative(grads, seed)

        def twin(rng):
            model, layers = networks.network(LinearLayer, sizes, activation, None, seed,
                                             repaired, True)
            _forward(model, layers, sizes, weights, x)
            results = []
            for k, layer in enumerate(layers):
                back = call_student(f"layers[{k}].backward", layer.backward,
                                    rng.normal(size=(len(x), sizes[k + 1])))
                results.append(_flowing("a returned gradient", back, (len(x), sizes[k])))
            return [(_stored(layer, "dW"), _stored(layer, "db")) for layer in layers], results

        _responds(twin, seed, grads, backs)
    except (Unusable, CheckFailed):
        return None
    values = {"dx": backs[0], **networks.per_layer(grads, ("dW", "db"))}
    return Own(_uses("LinearLayer", derivative_name), values, _differs(values, correct))


def own_train_step(LinearLayer, softmax, cross_entropy, network_backward, sizes: Sequence[int],
                   activation: str, weights, x, y, lr: float, seed: int, correct: dict,
                   steps: int = 1, tol: float | None = None, repaired: bool = False,
                   loss_only: bool = False) -> Own | None:
    """What a correct ``train_step`` gives with the student's own ``LinearLayer``, ``softmax``,
    ``cross_entropy`` and ``network_backward``, over ``steps`` steps on the same batch with the
    same layers (their state, if any, carried from step to step): values ``loss`` (of the first
    step) and ``layers[k].W``, ``layers[k].b`` after the last (``loss_only``: the loss alone,
    nothing after it is called). Where the student's softmax gives no finite probabilities,
    only the loss is known: what their cross_entropy gives of them (nan, say: a train_step
    must then return a non-finite loss too)."""
    y = np.asarray(y, dtype=np.float64)
    current = [(np.array(W, dtype=np.float64), np.array(b, dtype=np.float64)) for W, b in weights]
    first_loss = None
    try:
        model, layers = networks.network(LinearLayer, sizes, activation, None, seed, repaired,
                                         True)
        for _ in range(steps):
            there, logits, _ = _forward(model, layers, sizes, current, x)
            probs = call_student("softmax", softmax, logits.copy())
            finite = np.all(np.isfinite(np.asarray(probs, dtype=np.float64)))
            if steps > 1 or finite:
                probs = _flowing("probabilities", probs, logits.shape)
            loss = call_student("cross_entropy", cross_entropy, np.array(probs), y.copy())
            if first_loss is None:
                first_loss = float(np.asarray(loss, dtype=np.float64).reshape(-1)[0]) \
                    if np.size(loss) == 1 else float("nan")
            if not finite:   # only the loss is known: what cross_entropy gives of them
                return Own(_uses("softmax", "cross_entropy"), {"loss": first_loss}, True)
            if loss_only:
                return Own(_uses("LinearLayer", "softmax", "cross_entropy"),
                           {"loss": first_loss}, _differs({"loss": first_loss},
                                                          {"loss": correct["loss"]}))
            call_student("network_backward", network_backward, there, (probs - y) / len(x))
            grads = _informative([(_stored(layer, "dW"), _stored(layer, "db"))
                                  for layer in layers], seed)

            def twin(rng, weights=current):
                model, layers = networks.network(LinearLayer, sizes, activation, None, seed,
                                                 repaired, True)
                there, logits, _ = _forward(model, layers, sizes, weights, x)
                call_student("network_backward", network_backward, there,
                             rng.normal(size=logits.shape) / len(x))
                return [(_stored(layer, "dW"), _stored(layer, "db")) for layer in layers], None

            _responds(twin, seed, grads)
            if any(dW.shape != W.shape or db.shape != b.shape
                   for (W, b), (dW, db) in zip(current, grads)):
                raise Unusable("a gradient of the wrong shape")
            new = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(current, grads)]
            for which in (0, 1):   # a step too small to see: "no update" would agree
                if all(relative_error(after[which], before[which]) <= TOLERANCES["float32"]
                       for before, after in zip(current, new)):
                    raise Unusable("an SGD step too small to see")
            current = new
    except (Unusable, CheckFailed, TypeError, ValueError):
        return None
    values = {"loss": first_loss, **networks.per_layer(current, ("W", "b"))}
    tol = tol or (TOLERANCES["trajectory"] if steps > 1 else None)
    return Own(_uses("LinearLayer", "softmax", "cross_entropy", "network_backward"), values,
               _differs(values, correct, max(tol or 0, TOLERANCES["float32"])), tol)
