"""Tools for finding your own bugs (not used for grading): gradient checks against numerical
derivatives, and the debugging checklist that tests the usual suspects one by one.

Everything here compares your code with itself. A gradient is checked against central
differences of *your* forward passes (``LinearLayer.forward``, ``softmax``, ``cross_entropy``,
through the kit's ``MLP.forward``); an SGD step against those numerical gradients. This file
holds no second implementation of anything you write.
"""

from __future__ import annotations

import contextlib
import io
import linecache
import math
import traceback
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

import backprop_support
from backprop_support import MLP, _layer_output, load_mnist, one_hot

# Central differences with step H on float64 inputs of a few entries each. Measured with the
# reference solution over 2,000 seeds each of gradient_check_layer and gradient_check on ReLU
# and sigmoid networks [5, 4, 4, 3]: the largest relative error was 2.8e-9 (layer), 8.1e-8
# (ReLU), 1.2e-7 (sigmoid, whose lower layers get small gradients); TOLERANCE, 80x above,
# failed none of the 6,000 runs (false-failure rate 0; tests/test_diagnostics.py re-measures).
H = 1e-6
TOLERANCE = 1e-5
# A layer that computes in float32 (allowed) rounds every loss to 7 digits: a larger step and a
# looser tolerance. Measured on the catalogue's float32 variant over 1,000 seeds of each check:
# largest relative error 5.3e-4 (layer), 2.0e-2 (ReLU), 2.2e-2 (sigmoid), none of 3,000 failed.
# The looser tolerance can miss a bug that changes a gradient by less than 10 %, never a
# factor of the batch size, a sign or a transpose.
H_FLOAT32, TOLERANCE_FLOAT32 = 1e-3, 1e-1
# Hidden pre-activations closer than this to 0 are redrawn: no step (at most H_FLOAT32 times an
# input of a few units) may cross ReLU's kink, where the numerical gradient is meaningless.
KINK_MARGIN = 1e-2
DERIVATIVE_ITEM = "the derivative is taken at the right cached tensor"


class ChecklistFailure(Exception):
    """A checklist item failed; the message says why."""


def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max(|a|, |b|)``: 0 for equal arrays, about 1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-12)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = H) -> np.ndarray:
    """Central-difference gradient of the scalar ``f()`` with respect to ``x``, changed in place.

    ``x`` must be a float64 array that ``f`` reads; it is restored afterwards.
    """
    grad = np.zeros_like(x, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        f_plus = f()
        x[i] = old - h
        f_minus = f()
        x[i] = old
        grad[i] = (f_plus - f_minus) / (2 * h)
    return grad


def _precision(out) -> tuple[float, float, str]:
    """(step, tolerance, note) for code whose float64 inputs gave the output ``out``."""
    if np.asarray(out).dtype == np.float64:
        return H, TOLERANCE, ""
    return (H_FLOAT32, TOLERANCE_FLOAT32, f" (your code computes in {np.asarray(out).dtype}: "
            f"step {H_FLOAT32:g}, tolerance {TOLERANCE_FLOAT32:g})")


def _largest_differences(analytic: np.ndarray, numeric: np.ndarray, k: int) -> list[str]:
    """The ``k`` entries where the two gradients disagree most, as printable strings."""
    diff = np.abs(analytic - numeric).ravel()
    lines = []
    for flat in np.argsort(-diff, kind="stable")[:k]:
        index = [int(i) for i in np.unravel_index(flat, analytic.shape)]
        lines.append(f"{index}: analytic {analytic.flat[flat]:+.6g}, "
                     f"numerical {numeric.flat[flat]:+.6g}")
    return lines


def _close(a: np.ndarray, b: np.ndarray) -> bool:
    return a.shape == b.shape and relative_error(a, b) < 1e-3


def _pattern_hint(analytic: np.ndarray, numeric: np.ndarray, batch: int | None = None,
                  others: dict[str, np.ndarray] | None = None) -> str:
    """Name a simple distortion of a wrong gradient, from the two arrays alone.

    ``others`` are the numerical gradients of the other parameters, so a gradient that belongs
    to another parameter is recognised.
    """
    if analytic.shape != numeric.shape:
        if analytic.shape == numeric.T.shape:
            return "it has the transposed shape: check the order of the matrix product."
        for name, other in (others or {}).items():
            if analytic.shape == other.shape:
                same = " and the values" if _close(analytic, other) else ""
                return f"it has the shape{same} of {name}."
        if batch is not None and analytic.shape == (batch,):
            return "one entry per example: sum over axis 0 (the batch), not axis 1."
        if analytic.size == numeric.size:
            return "the right number of entries in another shape: drop keepdims or a reshape."
        return ""
    if not np.all(np.isfinite(analytic)):
        return "the analytic gradient contains nan or inf."
    if not np.any(analytic):
        return "the analytic gradient is all zeros: is it computed and stored?"
    for name, other in (others or {}).items():
        if _close(analytic, other):
            return f"it equals the numerical gradient of {name}."
    if analytic.ndim == 2 and analytic.shape[0] == analytic.shape[1] and _close(analytic.T, numeric):
        return "analytic = numerical transposed: check the order of the matrix product."
    if analytic.ndim == 2 and _close(analytic, numeric.T.reshape(numeric.shape)):
        return ("the right numbers in the wrong places: a reshape where a transpose belongs.")
    norm = float(np.vdot(numeric, numeric))
    if norm > 0.0:
        factor = float(np.vdot(analytic, numeric)) / norm
        if relative_error(analytic, factor * numeric) < 1e-3:
            if abs(factor + 1) < 1e-2:
                return "analytic = -numerical everywhere: a sign is flipped."
            if batch is not None and (abs(factor * batch - 1) < 1e-2
                                      or abs(factor / batch - 1) < 1e-2):
                return (f"analytic = {factor:.4g} x numerical everywhere: a factor of the batch "
                        f"size ({batch}) too many or too few.")
            return f"analytic = {factor:.4g} x numerical everywhere: a missing or extra factor."
    scale = max(np.max(np.abs(analytic)), np.max(np.abs(numeric)))
    agree = np.abs(analytic - numeric) <= 1e-3 * scale
    if agree.any():
        return (f"{int(agree.sum())} of {agree.size} entries agree: a factor that is right in "
                "some places (a mask or a derivative?) and wrong in others.")
    return ""


def compare_gradients(name: str, analytic, numeric: np.ndarray, tolerance: float = TOLERANCE,
                      verbose: bool = True, *, batch: int | None = None,
                      others: dict[str, np.ndarray] | None = None) -> float:
    """Relative error of an analytic gradient against a numerical one, printed.

    Prints the name, shape, relative error with the tolerance beside it and ok/FAIL, then the
    entry that disagrees most (the three worst entries and a hint when it fails). Returns the
    error: ``inf`` when the gradient is missing, not finite or has the wrong shape.
    """
    numeric = np.asarray(numeric, dtype=np.float64)
    label = f"{name:<17}{str(numeric.shape):<9}"
    if analytic is None:
        if verbose:
            print(f"{label}FAIL: the gradient is None (not returned or not stored)")
        return float("inf")
    analytic = np.asarray(analytic, dtype=np.float64)
    if analytic.shape != numeric.shape:
        if verbose:
            hint = _pattern_hint(analytic, numeric, batch, others)
            print(f"{label}FAIL: the gradient has shape {analytic.shape}, it should have the "
                  f"parameter's shape {numeric.shape}" + (f"\n    hint: {hint}" if hint else ""))
        return float("inf")
    error = relative_error(analytic, numeric)
    if not np.all(np.isfinite(analytic)):
        error = float("inf")
    if verbose:
        ok = error <= tolerance
        print(f"{label}relative error {error:.1e} (tolerance {tolerance:.0e})  "
              f"{'ok' if ok else 'FAIL'}")
        prefix = "    largest difference: " if ok else "    largest differences: "
        worst = _largest_differences(analytic, numeric, 1 if ok else 3)
        print(prefix + ("\n" + " " * len(prefix)).join(worst))
        hint = "" if ok else _pattern_hint(analytic, numeric, batch, others)
        if hint:
            print(f"    hint: {hint}")
    return error


def _float64_parameters(owner: Any, names: Sequence[str], what: str) -> None:
    """Convert ``owner.<name>`` to float64 in place (numerical gradients need the precision)."""
    for name in names:
        value = getattr(owner, name, None)
        if value is None:
            raise NotImplementedError(
                f"{what} has no `{name}`: LinearLayer.__init__ is not implemented yet "
                "(Question 3). Finish it, run its cell, then run this cell again.")
        setattr(owner, name, np.array(value, dtype=np.float64))


def _others(numeric: dict[str, np.ndarray], key: str) -> dict[str, np.ndarray]:
    """The numerical gradients of every parameter but ``key`` (for the hints)."""
    return {k: v for k, v in numeric.items() if k != key}


def gradient_check_layer(layer: Any, x: np.ndarray | None = None, *, batch: int = 6,
                         seed: int = 0, params: Sequence[str] = ("W", "b"),
                         tolerance: float = TOLERANCE, verbose: bool = True) -> dict[str, float]:
    """Gradient check of one layer: the ``dX`` its ``backward`` returns and each ``d<param>``.

    The loss is ``L = sum(layer.forward(x) * G)`` for a fixed random ``G`` shaped like the
    output, so ``backward(G)`` must give exactly ``dL/dx`` and store ``dL/dW``, ``dL/db``.
    Works for any layer with ``forward(x)``, ``backward(grad_out)`` returning ``dL/dx`` and
    gradients stored as ``d<name>`` for each parameter name in ``params``.

    Args:
        layer: a small layer, e.g. ``LinearLayer(4, 3, np.random.default_rng(0))``. Its
            parameters are converted to float64 in place.
        x: the input batch ``(B, n_in)``; by default random with ``B = batch`` and
            ``n_in = layer.W.shape[0]``.
    Returns:
        ``{"dX": error, "dW": error, "db": error}`` (relative errors; ``inf`` when missing
        or wrongly shaped). Prints one line per gradient.
    """
    _float64_parameters(layer, params, "the layer")
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(batch, layer.W.shape[0])) if x is None else np.array(x, np.float64)
    out = _layer_output("layer.forward(x)", layer.forward(x.copy()))
    step, tol_dtype, note = _precision(out)
    tolerance = max(tolerance, tol_dtype)
    grad_out = rng.normal(size=np.shape(out))
    dx = layer.backward(grad_out.copy())
    analytic = {"dX": None if dx is None else np.array(dx, dtype=np.float64)}
    for name in params:
        grad = getattr(layer, f"d{name}", None)
        analytic[f"d{name}"] = None if grad is None else np.array(grad, dtype=np.float64)

    x_probe = x.copy()

    def loss() -> float:
        return float(np.sum(np.asarray(layer.forward(x_probe), dtype=np.float64) * grad_out))

    numeric = {"dX": numerical_gradient(loss, x_probe, step)}
    for name in params:
        numeric[f"d{name}"] = numerical_gradient(loss, getattr(layer, name), step)
    if verbose:
        print(f"gradient check of {type(layer).__name__}: loss = sum(forward(x) * G), "
              f"x {x.shape}, G {grad_out.shape}{note}")
    return {key: compare_gradients(f"{key} (returned)" if key == "dX" else key,
                                   analytic[key], numeric[key], tolerance, verbose,
                                   batch=x.shape[0], others=_others(numeric, key))
            for key in numeric}


def _away_from_kinks(model: MLP, rng: np.random.Generator, batch: int) -> np.ndarray:
    """A random float64 batch whose hidden pre-activations all keep ``KINK_MARGIN`` from 0."""
    for _ in range(1000):
        x = rng.normal(size=(batch, model.layer_sizes[0]))
        model.forward(x.copy())
        if all(np.min(np.abs(z)) > KINK_MARGIN for z in model.pre_activations):
            return x
    return x


def _prepare_network(model: MLP, rng: np.random.Generator, batch: int) -> np.ndarray:
    """Make the model's parameters float64 with small random biases (zero biases put ReLU
    inputs exactly on the kink); return an input batch away from the kinks."""
    for i, layer in enumerate(model.layers):
        _float64_parameters(layer, ("W", "b"), f"layers[{i}]")
        layer.b = rng.normal(0.0, 0.1, size=np.shape(layer.b))
    return _away_from_kinks(model, rng, batch)


def _where_it_goes_wrong(failing: list[int], top: int) -> str:
    """Which layer to look at, from the layers whose dW or db fails (read from the top)."""
    if not failing:
        return ""
    k = max(failing)
    if k == top:
        return (f"the top layer, layers[{k}], already has a wrong gradient: look at "
                "LinearLayer.backward and at what network_backward passes to the top layer "
                "(grad_logits itself).")
    return (f"layers[{k}] is wrong although layers[{k + 1}] is right: the step between them "
            f"(times f'(Z) of hidden layer {k}) is wrong.")


def gradient_check(model: MLP, network_backward: Callable, softmax: Callable,
                   cross_entropy: Callable, *, batch: int = 6, seed: int = 0,
                   tolerance: float = TOLERANCE, verbose: bool = True) -> dict[str, float]:
    """Compare your analytic gradients with numerical ones for every parameter of ``model``.

    Runs ``network_backward(model, (softmax(logits) - y) / B)`` on a small random float64
    batch and compares every layer's ``dW`` and ``db`` and the returned ``dL/dx`` with central
    differences of ``cross_entropy(softmax(model.forward(x)), y)``: your own softmax and
    cross-entropy, so finish Question 2 first. Keep the model small (e.g. ``[5, 4, 3]``):
    each parameter costs two forward passes. The model's parameters become float64 and its
    biases small random numbers, and the batch is drawn so that no ReLU input lies near 0,
    where ReLU has no derivative and a numerical gradient disagrees with any analytic one.

    Returns:
        ``{"layers[0].W": error, "layers[0].b": error, ..., "dL/dx": error}``; prints one line
        per parameter with the tolerance beside it and the entries that disagree most, and
        which layer to look at first when one fails.
    """
    rng = np.random.default_rng(seed)
    x = _prepare_network(model, rng, batch)
    n_out = model.layer_sizes[-1]
    y = one_hot(rng.integers(0, n_out, size=batch), n_out, np.float64)
    x_probe = x.copy()

    def loss() -> float:
        return float(cross_entropy(softmax(model.forward(x_probe)), y))

    logits = model.forward(x.copy())
    step, tol_dtype, note = _precision(logits)
    tolerance = max(tolerance, tol_dtype)
    probs = softmax(logits)
    if probs is None or cross_entropy(probs, y) is None:
        raise NotImplementedError("softmax or cross_entropy returned None: finish Question 2 "
                                  "first (the check uses them for the loss).")
    dx = network_backward(model, (np.asarray(probs) - y) / batch)
    analytic = {}
    for i, layer in enumerate(model.layers):
        for name in ("W", "b"):
            grad = getattr(layer, f"d{name}", None)
            analytic[f"layers[{i}].{name}"] = (None if grad is None
                                               else np.array(grad, dtype=np.float64))
    analytic["dL/dx (returned)"] = None if dx is None else np.array(dx, dtype=np.float64)
    numeric = {f"layers[{i}].{name}": numerical_gradient(loss, getattr(layer, name), step)
               for i, layer in enumerate(model.layers) for name in ("W", "b")}
    numeric["dL/dx (returned)"] = numerical_gradient(loss, x_probe, step)
    if verbose:
        print(f"gradient check of a {model.activation} network {model.layer_sizes} on a batch "
              f"of {batch}{note}")
    errors = {key: compare_gradients(key, analytic[key], numeric[key], tolerance, verbose,
                                     batch=batch, others=_others(numeric, key))
              for key in numeric}
    failing = [i for i in range(len(model.layers))
               if max(errors[f"layers[{i}].W"], errors[f"layers[{i}].b"]) > tolerance]
    if verbose and failing:
        print("where to look: " + _where_it_goes_wrong(failing, len(model.layers) - 1))
    return errors


# ---------------------------------------------------------------------------------------------
# The debugging checklist
# ---------------------------------------------------------------------------------------------

_KIT_FILES = {Path(__file__).resolve(), Path(backprop_support.__file__).resolve()}


def _where_in_your_code(exc: BaseException) -> str:
    """'in f, line n: source' for the innermost frame of the notebook's own code."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if (Path(frame.filename).resolve() in _KIT_FILES or "site-packages" in frame.filename
                or frame.filename.startswith("<frozen")):
            continue
        line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
        return f"in {frame.name}, line {frame.lineno}: {line}"
    return ""


def _array(what: str, value, shape: tuple[int, ...]) -> np.ndarray:
    """``value`` as a float64 array of ``shape``, or a ChecklistFailure saying what it is."""
    if value is None:
        raise ChecklistFailure(f"{what} is None: a `return` is missing or the stub is not "
                               "written yet.")
    arr = np.asarray(value)
    if arr.shape != shape:
        raise ChecklistFailure(f"{what} has shape {arr.shape}, expected {shape}.")
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise ChecklistFailure(f"{what} contains nan or inf.")
    return arr


def _number(what: str, value) -> float:
    """A loss as a float; a ChecklistFailure when it is None, an array or not finite."""
    if value is None:
        raise ChecklistFailure(f"{what} returned None: a `return` is missing.")
    if np.ndim(value) != 0:
        raise ChecklistFailure(f"{what} returned an array of shape {np.shape(value)}, not a "
                               "number: return a Python float, e.g. float(...).")
    number = float(value)
    if not np.isfinite(number):
        raise ChecklistFailure(f"{what} is {number}.")
    return number


def _network_case(LinearLayer, sizes, activation: str, seed: int, batch: int):
    """A small float64 ``MLP`` of the student's layers and a batch away from ReLU's kinks."""
    rng = np.random.default_rng(seed)
    model = MLP(list(sizes), LinearLayer, rng, activation=activation)
    return model, _prepare_network(model, rng, batch)


def _parameters(model: MLP) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.array(layer.W, dtype=np.float64), np.array(layer.b, dtype=np.float64))
            for layer in model.layers]


def _numerical_parameter_gradients(model: MLP, loss: Callable[[], float], step: float):
    """``[(dL/dW, dL/db) per layer]`` by central differences of ``loss()``."""
    return [(numerical_gradient(loss, layer.W, step), numerical_gradient(loss, layer.b, step))
            for layer in model.layers]


def debugging_checklist(LinearLayer, network_backward, softmax, cross_entropy,
                        train_step) -> dict[str, bool]:
    """Run the usual suspects against your code; print ok/FAIL and a precise reason for each.

    Items: forward values are sane; the loss at initialisation is about ln 10; gradient shapes
    equal parameter shapes; LinearLayer.backward passes a gradient check; the activation
    derivative is taken at the right cached tensor; the update comes after all gradients and
    goes downhill. Returns ``{item: passed}``. Everything runs on small, fixed inputs (< 1 s)
    and compares your code with numerical derivatives of your own forward passes.
    """

    def forward_values_sane():
        layer = LinearLayer(784, 128, np.random.default_rng(0))
        for name in ("W", "b"):
            if getattr(layer, name, None) is None:
                raise ChecklistFailure(f"LinearLayer.__init__ does not set self.{name} yet "
                                       "(Question 3).")
        W = _array("LinearLayer(784, 128, rng).W", layer.W, (784, 128))
        _array("LinearLayer(784, 128, rng).b", layer.b, (128,))
        he = np.sqrt(2 / 784)
        if not np.any(W):
            raise ChecklistFailure(
                "W is all zeros: every hidden unit would compute and learn the same thing. "
                f"Draw it with rng.normal(0, sqrt(2 / n_in)) (= {he:.4f}).")
        # the scales Question 3 allows, as the checks beside the notebook hold them
        from gradekit.checks.settings import INIT_STD_STATED
        low, high = INIT_STD_STATED[0], INIT_STD_STATED[1] * he
        if not low <= W.std() <= high:
            raise ChecklistFailure(
                f"W has standard deviation {W.std():.4g}; Question 3 allows {low:g} to "
                f"{INIT_STD_STATED[1]:g} x sqrt(2 / n_in) = {high:.4f} (He initialisation: "
                f"{he:.4f}). Much smaller weights make the signal vanish, much larger ones "
                "make it explode.")
        x = np.random.default_rng(1).random((8, 784)).astype(np.float32)
        out = _array("LinearLayer(784, 128).forward(x) for x of shape (8, 784)",
                     layer.forward(x.copy()), (8, 128))
        # Affine in x: forward(0) is b, forward(e_k) - forward(0) is row k of W, and any x
        # combines those. Checked on a small layer with a nonzero bias.
        small = LinearLayer(3, 2, np.random.default_rng(2))
        small.W = np.array(small.W, dtype=np.float64)
        small.b = np.random.default_rng(3).normal(size=2)
        at_zero = _array("forward(zeros((1, 3)))", small.forward(np.zeros((1, 3))), (1, 2))[0]
        if not np.allclose(at_zero, small.b, atol=1e-5):
            reason = (" It is 0 while b is not: the bias is missing (x @ W without + b)."
                      if np.allclose(at_zero, 0) else "")
            raise ChecklistFailure(f"LinearLayer.forward of a zero input gives {at_zero}, but "
                                   f"it should give the bias b = {small.b}.{reason}")
        for k in range(3):
            unit = np.eye(3)[k:k + 1]
            row = _array(f"forward(e_{k})", small.forward(unit), (1, 2))[0] - at_zero
            if not np.allclose(row, small.W[k], atol=1e-5):
                raise ChecklistFailure(
                    f"forward of the unit vector e_{k} minus forward(0) is {row}; for "
                    f"x @ W + b it is row {k} of W, {small.W[k]}.")
        return (f"output (8, 128), finite, standard deviation {out.std():.2f}; W has standard "
                f"deviation {W.std():.4f} (He: {he:.4f}); forward(0) = b and each input adds "
                "its row of W")

    def loss_at_initialisation():
        batch, ln10 = 4, math.log(10)
        labels = np.array([0, 3, 7, 9])
        y = one_hot(labels, 10, np.float64)
        probs = softmax(np.zeros((batch, 10)))
        p = _array("softmax(zeros((4, 10)))", probs, (batch, 10))
        if not np.allclose(p, 0.1, atol=1e-6):
            raise ChecklistFailure(f"softmax of all-zero logits should give 1/10 everywhere; "
                                   f"got rows summing to {p.sum(axis=1)} (grader.check(\"q2\")).")
        with np.errstate(all="ignore"):
            large = softmax(np.array([[1000.0, 0.0, -1000.0]]))
        if large is None or not np.allclose(np.asarray(large, np.float64), [[1, 0, 0]]):
            raise ChecklistFailure(f"softmax([[1000, 0, -1000]]) gives {large}, not [[1, 0, 0]]: "
                                   "exp overflows; subtract each row's maximum first.")
        uniform = _number("cross_entropy(probs, y) with every probability 1/10",
                          cross_entropy(np.full((batch, 10), 0.1), y.copy()))
        if abs(uniform - ln10) > 1e-6:
            reason = ""
            if abs(uniform - batch * ln10) < 1e-6 * batch:
                reason = (f" It is {batch} (the batch size) times too large: cross_entropy sums "
                          "over the batch; take the mean.")
            elif abs(uniform + ln10) < 1e-6:
                reason = " The sign is flipped: the loss is -mean(sum(y * log(probs)))."
            raise ChecklistFailure(f"cross_entropy with every probability 1/10 gives "
                                   f"{uniform:.6f}; it should be ln 10 = {ln10:.6f}.{reason}")
        with np.errstate(all="ignore"):
            perfect = cross_entropy(y.copy(), y.copy())
        if perfect is None or not np.isfinite(float(perfect)) or abs(float(perfect)) > 1e-6:
            raise ChecklistFailure(
                f"cross_entropy(y, y) (perfect predictions, zeros elsewhere) gives {perfect}; "
                "it should be 0. log(0) of the zero probabilities is -inf: put a floor under "
                "the probabilities before the log, e.g. clip them at 1e-12.")
        x, targets = load_mnist(n_train=512)[:2]
        model = MLP([784, 128, 10], LinearLayer, np.random.default_rng(0))
        logits = _array("model.forward(x) for 512 MNIST images", model.forward(x), (512, 10))
        loss = _number("cross_entropy(softmax(logits), y)",
                       cross_entropy(softmax(logits), one_hot(targets, 10)))
        if not ln10 - 0.6 < loss < ln10 + 0.9:
            raise ChecklistFailure(
                f"the loss of a fresh network is {loss:.3f}; with 10 classes and small random "
                f"weights every class gets about 1/10, so it should be near ln(10) = "
                f"{ln10:.3f}. The logits have standard deviation {np.std(logits):.2f}: the "
                "initial weights are too large.")
        return f"{loss:.3f} on 512 images (ln 10 = {ln10:.3f})"

    def gradient_shapes():
        rng = np.random.default_rng(0)
        model = MLP([6, 5, 4], LinearLayer, np.random.default_rng(0))
        model.forward(rng.normal(size=(3, 6)))
        dx = network_backward(model, rng.normal(size=(3, 4)) / 3)
        for i, layer in enumerate(model.layers):
            for name in ("W", "b"):
                want = tuple(np.shape(getattr(layer, name)))
                grad = getattr(layer, "d" + name, None)
                if grad is None:
                    raise ChecklistFailure(f"layers[{i}].d{name} is not set after "
                                           f"network_backward: LinearLayer.backward must store "
                                           f"self.d{name}.")
                got = tuple(np.shape(grad))
                if got == want:
                    continue
                hint = ""
                if name == "W" and got == want[::-1]:
                    hint = (" It is transposed: dW has the shape of W, (n_in, n_out); check the "
                            "order of the product in equation 2.")
                elif name == "b" and got == (3,):
                    hint = (" It has one entry per example: sum over axis 0 (the batch), "
                            "not axis 1.")
                elif name == "b" and got == (1,) + want:
                    hint = " Drop keepdims=True: db must be 1-D, like b."
                raise ChecklistFailure(f"layers[{i}].d{name} has shape {got} but {name} has "
                                       f"shape {want} (network [6, 5, 4], batch of 3).{hint}")
        _array("network_backward(model, grad_logits) (dL/dx for x of shape (3, 6))", dx, (3, 6))
        return "dW, db shaped like W, b in every layer; dL/dx (3, 6) like x"

    def linear_backward_gradient_check():
        layer = LinearLayer(4, 3, np.random.default_rng(0))
        report = io.StringIO()
        with contextlib.redirect_stdout(report):
            errors = gradient_check_layer(layer)
        tolerance = max(TOLERANCE, _precision(layer.forward(np.zeros((1, 4))))[1])
        if any(error > tolerance for error in errors.values()):
            failing = [k for k, e in errors.items() if e > tolerance]
            raise ChecklistFailure(f"{', '.join(failing)} {'does' if len(failing) == 1 else 'do'} "
                                   "not agree with central differences of your forward "
                                   f"(gradient_check_layer):\n{report.getvalue().rstrip()}")
        W, b = layer.W.copy(), layer.b.copy()
        rng = np.random.default_rng(1)
        x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
        layer.forward(x.copy())
        layer.backward(g.copy())
        first = np.array(layer.dW, dtype=np.float64), np.array(layer.db, dtype=np.float64)
        if not (np.array_equal(W, layer.W) and np.array_equal(b, layer.b)):
            raise ChecklistFailure("backward changed W or b: it must only compute gradients; "
                                   "train_step updates the parameters.")
        layer.forward(x.copy())
        layer.backward(g.copy())
        if not (np.allclose(layer.dW, first[0]) and np.allclose(layer.db, first[1])):
            raise ChecklistFailure("the same forward and backward twice give different dW or "
                                   "db: gradients accumulated with += across calls. Assign "
                                   "them (self.dW = ...), do not add to them.")
        return "dX, dW and db agree with central differences; backward twice gives the same"

    def depends_on(model, x, g, k, cache, index) -> bool:
        """Whether layers[k].dW changes when ``model.<cache>[index]`` is replaced by noise."""
        model.forward(x.copy())
        network_backward(model, g.copy())
        before = np.array(model.layers[k].dW, dtype=np.float64)
        model.forward(x.copy())
        tensors = getattr(model, cache)
        tensors[index] = np.random.default_rng(99).normal(size=np.shape(tensors[index]))
        try:
            network_backward(model, g.copy())
        except Exception:  # noqa: BLE001 - a crash on other values also shows a dependence
            return True
        return not np.allclose(model.layers[k].dW, before, rtol=1e-9, atol=1e-12)

    def derivative_at_right_tensor():
        sizes, batch = (4, 5, 5, 3), 3
        for activation in ("relu", "sigmoid"):
            model, x = _network_case(LinearLayer, sizes, activation, seed=11, batch=batch)
            g = np.random.default_rng(12).normal(size=(batch, sizes[-1]))
            probe = x.copy()

            def loss(model=model, probe=probe, g=g) -> float:
                return float(np.sum(np.asarray(model.forward(probe), np.float64) * g))

            step, tolerance, _ = _precision(model.forward(x.copy()))
            numeric = _numerical_parameter_gradients(model, loss, step)
            model.forward(x.copy())
            network_backward(model, g.copy())
            top = len(model.layers) - 1
            for k in range(top, -1, -1):
                dW = getattr(model.layers[k], "dW", None)
                if dW is not None and np.shape(dW) == numeric[k][0].shape and \
                        relative_error(dW, numeric[k][0]) <= tolerance:
                    continue
                where = _where_it_goes_wrong([k], top)
                if dW is not None and np.shape(dW) == numeric[k][0].shape:
                    hint = _pattern_hint(np.asarray(dW, np.float64), numeric[k][0], batch)
                    where += (f" layers[{k}].dW has relative error "
                              f"{relative_error(dW, numeric[k][0]):.1e} (tolerance "
                              f"{tolerance:.0e})" + (f"; {hint}" if hint else "."))
                if k < top:
                    reads_pre = depends_on(model, x, g, k, "pre_activations", k)
                    reads_act = depends_on(model, x, g, k, "activations", k)
                    lower = [j for j in range(k) if depends_on(model, x, g, k, "pre_activations", j)]
                    if reads_act and not reads_pre:
                        where += (f"\n  layers[{k}].dW follows model.activations[{k}] but not "
                                  f"model.pre_activations[{k}]: the derivative is taken at the "
                                  "activations A = f(Z) (model.activations[i]) instead of the "
                                  "pre-activations Z (model.pre_activations[i]).")
                    elif lower:
                        where += (f"\n  layers[{k}].dW follows model.pre_activations[{lower[0]}] "
                                  "of a lower layer: the derivative is taken at another layer's "
                                  "pre-activation (an index off by one).")
                    elif not reads_pre:
                        where += (f"\n  layers[{k}].dW does not depend on "
                                  f"model.pre_activations[{k}]: the activation's derivative is "
                                  "never multiplied in.")
                    else:
                        where += (f"\n  Check {activation}_derivative (grader.check(\"q1\")) "
                                  "and which cached tensor you pass to it.")
                raise ChecklistFailure(f"{activation} network {list(sizes)}: {where}")
        return "f'(Z) at model.pre_activations[i] in ReLU and sigmoid networks"

    def update_after_all_gradients():
        sizes, lr, batch = (4, 5, 5, 3), 0.5, 4
        model, x = _network_case(LinearLayer, sizes, "relu", seed=21, batch=batch)
        y = one_hot(np.random.default_rng(22).integers(0, 3, size=batch), 3, np.float64)
        probe = x.copy()

        def loss() -> float:
            return float(cross_entropy(softmax(model.forward(probe)), y))

        step, tolerance, _ = _precision(model.forward(x.copy()))
        before = loss()
        grads = _numerical_parameter_gradients(model, loss, step)
        old = _parameters(model)
        returned = _number("train_step(model, x, y, lr)",
                           train_step(model, x.copy(), y.copy(), lr))
        new = _parameters(model)
        after = loss()
        if abs(returned - before) > 1e-6 * max(1.0, before):
            hint = ""
            if abs(returned - after) < 1e-6 * max(1.0, after):
                hint = " That is the loss after the update: compute it before changing W and b."
            elif abs(returned - batch * before) < 1e-6 * batch * max(1.0, before):
                hint = f" That is {batch} (the batch size) times too large: a sum, not a mean."
            raise ChecklistFailure(f"train_step returned {returned:.6f}; the loss of your "
                                   f"softmax and cross_entropy before the update is "
                                   f"{before:.6f}.{hint}")
        top = len(sizes) - 2
        for k in range(top, -1, -1):
            for which, name in ((0, "W"), (1, "b")):
                moved = new[k][which] - old[k][which]
                downhill = -lr * grads[k][which]
                error = relative_error(moved, downhill)
                if error <= tolerance:
                    continue
                others = {f"layers[{j}].{n}": -lr * grads[j][w]
                          for j in range(len(grads)) for w, n in ((0, "W"), (1, "b"))
                          if (j, w) != (k, which)}
                hint = _pattern_hint(moved, downhill, batch, others)
                if not np.any(moved):
                    hint = "not updating this layer at all."
                elif hint.startswith("analytic = -numerical"):
                    hint = "moving uphill: + lr * gradient instead of -."
                elif hint.startswith("it equals the numerical gradient of"):
                    hint = (f"your step is -lr x the gradient of {hint.split()[-1][:-1]}: a "
                            "layer must move by its own gradient.")
                else:
                    hint = hint.replace("analytic", "your step").replace("numerical",
                                                                          "(-lr x gradient)")
                    top_right = all(relative_error(new[top][w] - old[top][w], -lr * grads[top][w])
                                    <= tolerance for w in (0, 1))
                    if k < top and top_right and results.get(DERIVATIVE_ITEM):
                        hint = (f"{hint} The top layer is right: is a layer updated before the "
                                "gradients of the layers below are computed from its W?").strip()
                raise ChecklistFailure(
                    f"layers[{k}].{name} after one step (lr {lr}) moved by something else than "
                    f"-lr x its numerical gradient: relative error {error:.1e} (tolerance "
                    f"{tolerance:.0e})." + (f" Hint: {hint}" if hint else ""))
        return f"every layer moves downhill once, by -{lr} x its gradient; the loss is the one before"

    results: dict[str, bool] = {}
    items = [
        ("forward values are sane", forward_values_sane),
        ("the loss at initialisation is about ln 10", loss_at_initialisation),
        ("gradient shapes equal parameter shapes", gradient_shapes),
        ("LinearLayer.backward passes a gradient check", linear_backward_gradient_check),
        (DERIVATIVE_ITEM, derivative_at_right_tensor),
        ("the update comes after all gradients and goes downhill", update_after_all_gradients),
    ]
    for number, (title, run) in enumerate(items, 1):
        try:
            with np.errstate(all="ignore"):
                evidence = run()
            results[title] = True
            print(f"ok    {number}. {title}: {evidence}")
        except Exception as exc:  # noqa: BLE001 - report every failure, keep going
            results[title] = False
            checked = isinstance(exc, ChecklistFailure)
            reason = str(exc) if checked else f"{type(exc).__name__}: {exc}"
            place = "" if checked else _where_in_your_code(exc)
            if place:
                reason += f"\n  raised {place}"
            print(f"FAIL  {number}. {title}\n      " + reason.replace("\n", "\n      "))
    failed = [t for t, ok in results.items() if not ok]
    print(f"\n{len(items) - len(failed)} of {len(items)} ok." + (
        " Fix the first FAIL first: later items often fail because of it." if failed else ""))
    return results
