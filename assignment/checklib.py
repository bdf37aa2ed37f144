"""Checks shared by the notebook's tests: clear messages, tolerant of every correct answer.

Every failure raises ``CheckFailed``. Its first line is a summary that never contains test
data (the grader shows only that line for hidden tests); later lines add the numbers.

The public checks here take a ``seed`` so the kit's own test suite can run them on the
reference solution with hundreds of seeds and prove they never fail correct code.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from backprop_support import one_hot, relative_error, sigmoid

# Grading settings for the MNIST question (the grader trains *your* code with these).
MNIST_GRADING = {
    "layer_sizes": [784, 128, 10],
    "n_train": 20_000,      # first 20,000 training images
    "epochs": 3,
    "lr": 0.1,
    "batch_size": 64,
    "seed": 0,
    "threshold": 0.90,      # the reference: 92.7-93.6 % over 24 seeds (tools/mnist_threshold.py)
    "time_budget_s": 60.0,  # the reference needs about 1 s
}

# The quick public MNIST check: a small slice, one epoch. Its accuracy depends much more on
# the initial weights (the reference: 69-82 % over 30 seeds), so its bar is lower.
MNIST_PUBLIC = {"n_train": 2000, "epochs": 1, "threshold": 0.60}


# MNIST training is stopped as too slow only once it has run this long (and is projected to
# exceed the time budget); a correct implementation needs about 0.002 s per batch.
MIN_SECONDS_BEFORE_STOP = 2.0


class CheckFailed(AssertionError):
    """A check failed. ``str(e).splitlines()[0]`` is safe to show for hidden tests."""


# ---------------------------------------------------------------------------
# Values and types
# ---------------------------------------------------------------------------


def type_name(value: Any) -> str:
    """Readable type of a value (works for the grader's remote objects too)."""
    remote = getattr(type(value), "remote_type_name", None)
    if remote is not None:
        return value.remote_type_name()
    if isinstance(value, np.ndarray):
        return f"numpy array of shape {value.shape} and dtype {value.dtype}"
    return type(value).__name__


def not_implemented_hint(what: str, value: Any) -> str:
    if value is None or value is Ellipsis:
        return f"{what} returned None: it is not implemented yet, or it is missing a `return`."
    return ""


def require_defined(name: str, value: Any) -> None:
    if value is None:
        raise CheckFailed(f"`{name}` is not defined: run the cell that defines it "
                          "(and check that you did not rename it).")


def expect_array(what: str, value: Any, shape: tuple | None = None, *,
                 floating: bool = True,
                 shape_hints: Sequence[tuple[tuple, str]] = ()) -> np.ndarray:
    """Check that ``value`` is a numpy array of ``shape``; return it as a float64 copy.

    ``shape_hints`` are ``(wrong shape, explanation)`` pairs for shapes a typical mistake gives.
    """
    hint = not_implemented_hint(what, value)
    if hint:
        raise CheckFailed(hint)
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should return a numpy array, but it returned {type_name(value)}.")
    if shape is not None and tuple(value.shape) != tuple(shape):
        got = tuple(value.shape)
        explanations = [text for wrong, text in shape_hints if tuple(wrong) == got]
        if len(shape) == 2 and got == tuple(shape)[::-1]:
            explanations.append("it is transposed.")
        raise CheckFailed(f"{what} has the wrong shape: expected {tuple(shape)}, got {got}"
                          + (f": {explanations[0]}" if explanations else "."))
    if floating and not (np.issubdtype(value.dtype, np.floating) or value.dtype == bool):
        raise CheckFailed(f"{what} should hold floating-point numbers, but its dtype is "
                          f"{value.dtype}.")
    return np.array(value, dtype=np.float64)


def expect_finite(what: str, value: np.ndarray, context: str = "") -> None:
    if not np.all(np.isfinite(value)):
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise CheckFailed(f"{what} contains {bad} nan/inf value(s){context}.")


def expect_python_float(what: str, value: Any) -> float:
    """A Python ``float`` (numpy float64 is one too); not an array, not None."""
    hint = not_implemented_hint(what, value)
    if hint:
        raise CheckFailed(hint)
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, int)):
        extra = " Use float(loss) or loss.item() to return a plain number." if isinstance(
            value, np.ndarray) else ""
        raise CheckFailed(f"{what} should be a Python float, but it is {type_name(value)}.{extra}")
    return float(value)


def tolerance_for(value: np.ndarray | Any) -> float:
    """Relative tolerance: tight for float64 results, looser for float32/float16 ones."""
    dtype = getattr(value, "dtype", np.dtype(np.float64))
    if dtype == np.float16:
        return 1e-2
    if dtype == np.float32:
        return 1e-4
    return 1e-6


def assert_close(what: str, got: Any, expected: np.ndarray, *,
                 wrong_answers: Sequence[tuple[str, np.ndarray]] = (), tol: float | None = None,
                 show_values: bool = True) -> None:
    """Compare an array with the expected one; name the mistake if it matches a known one.

    ``wrong_answers`` are ``(description, array)`` pairs that a typical bug produces; when
    ``got`` matches one, the summary line says which.
    """
    expected = np.asarray(expected, dtype=np.float64)
    arr = expect_array(what, got, expected.shape)
    tol = tolerance_for(got) if tol is None else tol
    expect_finite(what, arr)
    err = relative_error(arr, expected)
    if err <= tol:
        return
    summary = f"{what} has the wrong values (relative error {err:.2g}, tolerance {tol:.0e})."
    for description, wrong in wrong_answers:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == arr.shape and relative_error(arr, wrong) <= max(tol, 1e-4):
            summary += f" It matches what {description} gives."
            break
    if not show_values:
        raise CheckFailed(summary)
    worst = np.unravel_index(np.argmax(np.abs(arr - expected)), arr.shape) if arr.ndim else ()
    raise CheckFailed(f"{summary}\n  worst entry {worst}: got {arr[worst]:.6g}, expected "
                      f"{expected[worst]:.6g}")


# ---------------------------------------------------------------------------
# Calling student code
# ---------------------------------------------------------------------------

MATMUL_HINT = ("the shapes in a matrix product do not fit. With x (B, n_in), W (n_in, n_out) "
               "and grad_out (B, n_out): dW = x.T @ grad_out and dX = grad_out @ W.T; a "
               "missing or extra transpose (.T) is the usual cause.")
BROADCAST_HINT = ("arrays of different shapes meet: every gradient must have the shape of what "
                  "it belongs to (dW like W, db like b, dX like the layer's input x), and each "
                  "layer must be updated with its own dW and db.")
LAYER_INDEX_HINT = (" In network_backward, the gradient out of layers[i + 1].backward has the "
                    "shape of pre_activations[i], the output of layers[i]: an index off by one "
                    "takes the derivative of the wrong layer.")
ATTRIBUTE_HINT = ("it reads an attribute that was never set: forward must keep its input for "
                  "backward (e.g. self.x = x), and backward must set self.dW and self.db.")
SCALAR_HINT = ("an array was used where a single number is needed: cross_entropy and "
               "train_step must return a Python float.")
INDEX_HINT = "an index is out of range: check the loop bounds and the indices of the layers."
# Student code that runs out of time or crashes the grader's worker is reported as such.
PASS_THROUGH = ("Timeout", "WorkerDied")


def explain_error(detail: str, in_network: bool = False) -> str:
    """A hint for a typical error message from student code ('' when none applies)."""
    text = detail.lower()
    if any(p in text for p in ("matmul", "not aligned", "core dimension")):
        return MATMUL_HINT
    if "could not be broadcast" in text:
        return BROADCAST_HINT + (LAYER_INDEX_HINT if in_network else "")
    if "object has no attribute" in text:
        return ATTRIBUTE_HINT
    if any(p in text for p in ("0-dimensional", "size-1", "length-1")):
        return SCALAR_HINT
    if "index" in text and ("out of range" in text or "out of bounds" in text):
        return INDEX_HINT
    return ""


def call_student(what: str, fn: Callable, *args: Any, in_network: bool = False) -> Any:
    """``fn(*args)``; an exception it raises becomes a ``CheckFailed`` that says what failed.

    The first line names ``what``, the error type, where it happened (in the grader: the
    notebook cell and line) and a hint for typical shape mistakes; the error's own message,
    which may hold test data, follows on the next line. Timeouts and worker crashes in the
    grader pass through unchanged.
    """
    try:
        return fn(*args)
    except CheckFailed:
        raise
    except Exception as exc:  # noqa: BLE001 - whatever student code raises
        type_name = getattr(exc, "type_name", type(exc).__name__)
        if type_name in PASS_THROUGH:
            raise
        detail = str(getattr(exc, "detail", exc))
        where = f" ({exc.line})" if getattr(exc, "line", "") else ""
        hint = explain_error(detail, in_network)
        raise CheckFailed(f"{what} raised {type_name}{where}" + (f": {hint}" if hint else ".")
                          + f"\n  {type_name}: {detail}") from exc


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray,
                       h: float = 1e-6) -> np.ndarray:
    """Central differences of the scalar ``f(x)`` (float64, ``x`` not modified)."""
    x = np.array(x, dtype=np.float64)
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        old = x[i]
        x[i] = old + h
        plus = f(x)
        x[i] = old - h
        minus = f(x)
        x[i] = old
        grad[i] = (plus - minus) / (2 * h)
    return grad


def away_from_zero(rng: np.random.Generator, shape: tuple, margin: float = 0.1,
                   scale: float = 1.0) -> np.ndarray:
    """Normal samples with ``|value| >= margin`` (keeps ReLU inputs off the kink)."""
    z = rng.normal(0, scale, size=shape)
    return np.where(np.abs(z) < margin, np.sign(z + 1e-12) * margin + z, z)


def snapshot(value: Any) -> np.ndarray:
    """A float64 copy of an array held by student code (it may change it later)."""
    return np.array(value, dtype=np.float64)


# ---------------------------------------------------------------------------
# Kit-side maths (independent of the student's code)
# ---------------------------------------------------------------------------

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
    ("network_backward without the activation derivative (no f' factor at all)", None),
    ("the derivative evaluated at model.activations[i] (after the activation) instead of "
     "model.pre_activations[i]", lambda i, pre, act, d: d(act[i])),
    ("the derivative taken at the wrong layer's pre-activation (an index off by one)",
     lambda i, pre, act, d: d(pre[i - 1])),
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


def backprop_mistakes(weights, x, g, activation) -> list[tuple[str, list]]:
    """``(description, [(dW, db) per layer])`` for each typical mistake that does not raise."""
    found = []
    for description, factor in BACKPROP_MISTAKES:
        grads = backprop(weights, x, g, activation, factor)
        if grads is not None:
            found.append((description, grads))
    return found


def model_weights(model: Any) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(snapshot(layer.W), snapshot(layer.b)) for layer in model.layers]


def set_model_weights(model: Any, weights: Sequence[tuple[np.ndarray, np.ndarray]]) -> None:
    for layer, (W, b) in zip(model.layers, weights):
        layer.W = np.array(W)
        layer.b = np.array(b)


def small_model(MLP_cls, LinearLayer, sizes: Sequence[int], activation: str, seed: int,
                batch: int = 3):
    """A tiny model with float64 weights and an input batch keeping ReLU off its kinks.

    Returns ``(model, x, weights)``; tries successive sub-seeds until every hidden
    pre-activation is at least 1e-3 away from zero.
    """
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    model = call_student("MLP(sizes, LinearLayer, rng) (it builds your LinearLayer)",
                         lambda: MLP_cls(list(sizes), LinearLayer, np.random.default_rng(seed),
                                         activation=activation))
    for _ in range(100):
        weights = [(rng.normal(0, 1 / np.sqrt(n_in), size=(n_in, n_out)),
                    rng.normal(0, 0.5, size=n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        x = rng.normal(size=(batch, sizes[0]))
        _, pre = forward_with(weights, x, activation)
        if all(np.min(np.abs(p)) > 1e-3 for p in pre):
            set_model_weights(model, weights)
            return model, x, weights
    raise RuntimeError("could not draw inputs away from the ReLU kink")  # pragma: no cover


# ---------------------------------------------------------------------------
# Public checks (also run by the kit on the reference with many seeds)
# ---------------------------------------------------------------------------


def check_relu_derivative(relu_derivative, seed: int = 0) -> None:
    require_defined("relu_derivative", relu_derivative)
    rng = np.random.default_rng(seed)
    z = away_from_zero(rng, (4, 5))
    got = expect_array("relu_derivative(z)",
                       call_student("relu_derivative(z)", relu_derivative, z.copy()), z.shape)
    assert_close("relu_derivative(z)", got, (z > 0).astype(np.float64), wrong_answers=[
        ("ReLU itself instead of its derivative", np.maximum(z, 0)),
        ("a mask of z < 0 (inverted)", (z < 0).astype(np.float64)),
    ])


def check_sigmoid_derivative(sigmoid_derivative, seed: int = 0) -> None:
    require_defined("sigmoid_derivative", sigmoid_derivative)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, size=(3, 4))
    got = call_student("sigmoid_derivative(z)", sigmoid_derivative, z.copy())
    s = sigmoid(z)
    numeric = np.array([[(sigmoid(v + 1e-6) - sigmoid(v - 1e-6)) / 2e-6 for v in row]
                        for row in z])
    assert_close("sigmoid_derivative(z)", got, numeric, tol=max(1e-6, tolerance_for(got)),
                 wrong_answers=[
                     ("the sigmoid itself, sigmoid(z)", s),
                     ("the derivative formula applied to z itself instead of to sigmoid(z)",
                      z * (1 - z)),
                     ("the derivative evaluated at the activation, sigma'(sigmoid(z)): the "
                      "derivative applied to an output that is already a sigmoid",
                      sigmoid(s) * (1 - sigmoid(s))),
                 ])


def check_softmax(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(4, 3))
    got = call_student("softmax(z)", softmax, z.copy())
    arr = expect_array("softmax(z) for z of shape (4, 3)", got, z.shape)
    expect_finite("softmax(z)", arr)
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-5):
        if np.allclose(arr.sum(axis=0), 1.0, atol=1e-5):
            raise CheckFailed("softmax normalises over the wrong axis: columns sum to 1, rows "
                              "should (use axis=-1 with keepdims=True).")
        whole = " (the whole array sums to 1: normalise each row separately, axis=-1)" \
            if np.isclose(arr.sum(), 1.0, atol=1e-5) else ""
        raise CheckFailed(f"softmax rows should each sum to 1, but they do not{whole}.\n"
                          f"  row sums: {np.round(sums, 4).tolist()}")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close("softmax(z)", got, e / e.sum(axis=1, keepdims=True))


def check_softmax_extreme(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    z = np.array([[1000.0, 999.0, 998.0], [-1000.0, 0.0, 1000.0]])

    def run():
        with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
            try:
                return softmax(z.copy())
            except FloatingPointError as exc:
                raise CheckFailed("softmax overflows for logits of size 1000 "
                                  f"(numpy raised '{exc}'): subtract each row's maximum before "
                                  "np.exp.") from None

    got = call_student("softmax(z) for logits of magnitude 1000", run)
    arr = expect_array("softmax(z) for logits of magnitude 1000", got, z.shape)
    if not np.all(np.isfinite(arr)):
        raise CheckFailed("softmax returns nan/inf for logits of magnitude 1000: subtract each "
                          "row's maximum before np.exp.")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close("softmax(z) for logits of magnitude 1000", got, e / e.sum(axis=1, keepdims=True))


def check_cross_entropy(cross_entropy, seed: int = 0) -> None:
    require_defined("cross_entropy", cross_entropy)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(5, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    y = one_hot(rng.integers(0, 4, size=5), 4, np.float64)
    what = "cross_entropy(probs, y)"
    got = expect_python_float(what, call_student(what, cross_entropy, probs.copy(), y.copy()))
    expected = float(-np.mean(np.sum(y * np.log(probs), axis=1)))
    total = float(-np.sum(y * np.log(probs)))
    numbers = f"\n  got {got:.6f}, expected {expected:.6f}"
    if abs(got - expected) <= 1e-5 * max(1.0, abs(expected)):
        return
    if abs(got - total) <= 1e-5 * abs(total):
        raise CheckFailed("cross_entropy returns the sum over the batch; it should be the mean "
                          "(divide by the batch size)." + numbers)
    if abs(got + expected) <= 1e-5 * abs(expected):
        raise CheckFailed("cross_entropy has the wrong sign: the loss is -mean(sum(y * log p))."
                          + numbers)
    other_probs, other_y = probs[::-1].copy(), np.roll(y, 1, axis=1)
    other = expect_python_float(what, call_student(what, cross_entropy, other_probs, other_y))
    if other == got:
        raise CheckFailed("cross_entropy returns the same number for different probs and y: "
                          "compute it from its arguments; a hard-coded value only matches one "
                          "check." + numbers)
    raise CheckFailed("cross_entropy returns the wrong value: it should be the mean over the "
                      "batch of -sum(y * log(probs))." + numbers)


def check_linear_init(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    what = "LinearLayer(5, 3, rng)"
    layer = call_student(what, LinearLayer, 5, 3, np.random.default_rng(seed))
    W = expect_array("LinearLayer(5, 3, rng).W", layer.W, (5, 3))
    expect_array("LinearLayer(5, 3, rng).b", layer.b, (3,))
    if np.all(W == 0):
        raise CheckFailed("W is all zeros: every hidden unit would learn the same thing. "
                          "Draw W from rng.normal(...) scaled by about sqrt(2 / n_in).")
    other = snapshot(call_student(what, LinearLayer, 5, 3, np.random.default_rng(seed + 1)).W)
    if np.array_equal(W, other):
        raise CheckFailed("W does not depend on rng: use the rng argument "
                          "(e.g. rng.normal(0, scale, size=(n_in, n_out))).")
    again = snapshot(call_student(what, LinearLayer, 5, 3, np.random.default_rng(seed)).W)
    if not np.array_equal(W, again):
        raise CheckFailed("two layers built with equal rng arguments got different weights: draw "
                          "W from the rng argument (rng.normal(...)), not from np.random, so the "
                          "same seed always gives the same network.")


def check_linear_forward(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    layer = call_student("LinearLayer(4, 3, rng)", LinearLayer, 4, 3, np.random.default_rng(seed))
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    layer.W, layer.b = W.copy(), b.copy()
    x = rng.normal(size=(2, 4))
    out = call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    assert_close("LinearLayer.forward(x) for x of shape (2, 4)", out, x @ W + b,
                 wrong_answers=[("x @ W without the bias", x @ W)])


def linear_backward_shape_hints(n_batch: int, n_in: int, n_out: int) -> dict[str, list]:
    """Shapes typical LinearLayer.backward mistakes give, for ``expect_array``'s shape_hints."""
    return {
        "dx": [((n_in, n_out), "it has the shape of W: backward returns dW instead of dX, the "
                               "gradient for its input x, shape (B, n_in).")],
        "db": [((n_batch,), "one entry per example: sum grad_out over the batch (the first "
                            "axis) to get one entry per output unit.")],
    }


def check_linear_backward(LinearLayer, seed: int = 0) -> None:
    """Shapes, then a float64 gradient check of dX, dW, db against central differences."""
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    n_batch, n_in, n_out = 2, 4, 3
    layer = call_student("LinearLayer(4, 3, rng)", LinearLayer, n_in, n_out,
                         np.random.default_rng(seed))
    W, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
    x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
    layer.W, layer.b = W.copy(), b.copy()
    call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    dx = call_student("LinearLayer.backward(grad_out)", layer.backward, g.copy())
    hints = linear_backward_shape_hints(n_batch, n_in, n_out)
    expect_array("LinearLayer.backward(grad_out) (the gradient dX)", dx, x.shape,
                 shape_hints=hints["dx"])
    dW = expect_array("layer.dW after backward", layer.dW, W.shape)
    db = expect_array("layer.db after backward", layer.db, b.shape, shape_hints=hints["db"])
    if not (np.array_equal(snapshot(layer.W), W) and np.array_equal(snapshot(layer.b), b)):
        raise CheckFailed("backward changed W or b: it must only compute gradients; train_step "
                          "updates the parameters once every gradient is known.")
    num_dx = numerical_gradient(lambda v: float(np.sum((v @ W + b) * g)), x)
    num_dW = numerical_gradient(lambda v: float(np.sum((x @ v + b) * g)), W)
    num_db = numerical_gradient(lambda v: float(np.sum((x @ W + v) * g)), b)
    tol = lambda a: max(1e-6, tolerance_for(a))  # noqa: E731
    assert_close("dX (returned by backward)", dx, num_dx, tol=tol(dx))
    assert_close("layer.dW", layer.dW, num_dW, tol=tol(dW), wrong_answers=[
        ("the mean over the batch instead of the sum", num_dW / n_batch)])
    assert_close("layer.db", layer.db, num_db, tol=tol(db), wrong_answers=[
        ("the mean over the batch instead of the sum", num_db / n_batch)])


def _network_gradients(weights, x, g, activation):
    """Numerical dW, db of sum(logits * g) for every layer (float64)."""
    grads = []
    for k, (W, b) in enumerate(weights):
        def f_W(v, k=k):
            w = list(weights)
            w[k] = (v, weights[k][1])
            return float(np.sum(forward_with(w, x, activation)[0] * g))

        def f_b(v, k=k):
            w = list(weights)
            w[k] = (weights[k][0], v)
            return float(np.sum(forward_with(w, x, activation)[0] * g))

        grads.append((numerical_gradient(f_W, W), numerical_gradient(f_b, b)))
    return grads


def check_network_backward(network_backward, LinearLayer, MLP, activation: str = "relu",
                           seed: int = 0, sizes: Sequence[int] = (4, 5, 3)) -> None:
    """Gradient check of every layer's dW and db after ``network_backward`` on a tiny MLP."""
    require_defined("network_backward", network_backward)
    model, x, weights = small_model(MLP, LinearLayer, sizes, activation, seed)
    g = np.random.default_rng(seed + 1000).normal(size=(x.shape[0], sizes[-1]))
    call_student("model.forward(x) (it calls your LinearLayer.forward)", model.forward, x.copy())
    dx = call_student("network_backward(model, grad_logits)", network_backward, model, g.copy(),
                      in_network=True)
    expect_array("network_backward(model, grad_logits) (the gradient w.r.t. the input)", dx,
                 x.shape, shape_hints=[(
                     (x.shape[0], sizes[1]), "that is the shape of the first hidden layer's "
                     "output: the gradient never went through layers[0].backward (does the loop "
                     "stop before layers[0]?).")])
    numeric = _network_gradients(weights, x, g, activation)
    mistakes = backprop_mistakes(weights, x, g, activation)
    per_example = [((x.shape[0],), "one entry per example: db must be summed over the "
                                   "batch (the first axis).")]
    for i, (layer, (num_dW, num_db)) in enumerate(zip(model.layers, numeric)):
        expect_array(f"layers[{i}].dW", layer.dW, num_dW.shape)
        expect_array(f"layers[{i}].db", layer.db, num_db.shape, shape_hints=per_example)
        for name, value, expected, which in (("dW", layer.dW, num_dW, 0),
                                             ("db", layer.db, num_db, 1)):
            assert_close(f"layers[{i}].{name} ({activation} network)", value,
                         expected, tol=max(1e-6, tolerance_for(value)),
                         wrong_answers=[(d, grads[i][which]) for d, grads in mistakes])


def _updated(weights, grads, lr: float, scale: float = 1.0) -> list:
    """``[(W - lr * scale * dW, b - lr * scale * db)]`` for every layer."""
    return [(W - lr * scale * dW, b - lr * scale * db)
            for (W, b), (dW, db) in zip(weights, grads)]


def check_train_step(train_step, LinearLayer, MLP, activation: str = "relu", seed: int = 0,
                     sizes: Sequence[int] = (4, 5, 3), lr: float = 0.5) -> None:
    """One SGD step: the returned loss and every updated parameter, against float64 maths.

    A wrong parameter is compared with what typical mistakes give, to name the mistake.
    """
    require_defined("train_step", train_step)
    model, x, weights = small_model(MLP, LinearLayer, sizes, activation, seed, batch=4)
    n_batch = x.shape[0]
    y = one_hot(np.random.default_rng(seed + 7).integers(0, sizes[-1], size=n_batch), sizes[-1],
                np.float64)
    logits = forward_with(weights, x, activation)[0]
    probs = softmax_rows(logits)
    expected_loss = mean_cross_entropy(logits, y)
    what = "train_step(model, x, y, lr)"
    loss = expect_python_float(what, call_student(what, train_step, model, x.copy(), y.copy(),
                                                  lr))
    numeric = []
    for k, (W, b) in enumerate(weights):
        def loss_of(v, k=k, which=0):
            w = [list(p) for p in weights]
            w[k][which] = v
            return mean_cross_entropy(forward_with(w, x, activation)[0], y)

        numeric.append((numerical_gradient(lambda v: loss_of(v, which=0), W),
                        numerical_gradient(lambda v: loss_of(v, which=1), b)))
    expected = _updated(weights, numeric, lr)
    if abs(loss - expected_loss) > 1e-4 * max(1.0, expected_loss):
        after = mean_cross_entropy(forward_with(expected, x, activation)[0], y)
        reason = ""
        if abs(loss - after) <= 1e-4 * max(1.0, after):
            reason = (" It matches the loss after the update: compute the loss before changing "
                      "any parameter.")
        elif abs(loss - n_batch * expected_loss) <= 1e-4 * n_batch * expected_loss:
            reason = " It matches the sum over the batch instead of the mean."
        elif abs(loss + expected_loss) <= 1e-4 * max(1.0, expected_loss):
            reason = " It has the wrong sign."
        else:
            reason = (" It should be cross_entropy(softmax(model.forward(x)), y) before the "
                      "update; if that is what you return, check softmax, cross_entropy and "
                      "LinearLayer.forward.")
        raise CheckFailed(f"train_step returned the wrong loss.{reason}\n  got {loss:.6f}; the "
                          f"mean cross-entropy before the update is {expected_loss:.6f}.")
    residual = (probs - y) / n_batch
    mistakes = [
        ("moving uphill (+ lr * gradient: wrong sign)", _updated(weights, numeric, -lr)),
        ("not updating the parameters at all", [(W, b) for W, b in weights]),
        ("not dividing probs - y by the batch size", _updated(weights, numeric, lr, n_batch)),
        ("dividing by the batch size twice", _updated(weights, numeric, lr, 1 / n_batch)),
        ("backpropagating probs instead of probs - y",
         _updated(weights, backprop(weights, x, probs / n_batch, activation), lr)),
    ] + [(description, _updated(weights, grads, lr))
         for description, grads in backprop_mistakes(weights, x, residual, activation)]
    for k, layer in enumerate(model.layers):
        for name, value, which in (("W", layer.W, 0), ("b", layer.b, 1)):
            assert_close(f"layers[{k}].{name} after one step", value, expected[k][which],
                         tol=max(1e-6, tolerance_for(value)),
                         wrong_answers=[(d, new[k][which]) for d, new in mistakes])


def _as_float(value: Any) -> float:
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except Exception:  # noqa: BLE001 - any odd return value counts as "not a number"
        return float("nan")


def check_mnist_accuracy(train_step, LinearLayer, MLP, **overrides: Any) -> float:
    """Train the kit's MLP with the student's ``train_step`` and measure MNIST test accuracy.

    Settings come from ``MNIST_GRADING`` (overridable for the quick public check). The loop
    stops early, with a clear message, when its projected time exceeds the time budget.
    Accuracy is computed from the trained weights by the kit's own forward pass.
    """
    import time

    from backprop_support import load_mnist_uint8, predict_with_weights, scale_pixels

    require_defined("train_step", train_step)
    require_defined("LinearLayer", LinearLayer)
    cfg = {**MNIST_GRADING, **overrides}
    # pixels stay uint8 until a batch is used: the float32 copy of the whole subset would
    # be the largest allocation of a grading
    x_train, y_train, x_test, y_test = load_mnist_uint8(n_train=cfg["n_train"])
    model = call_student("MLP([784, 128, 10], LinearLayer, rng) (it builds your LinearLayer)",
                         MLP, cfg["layer_sizes"], LinearLayer, np.random.default_rng(cfg["seed"]))
    rng = np.random.default_rng(cfg["seed"])
    n, bs = len(x_train), cfg["batch_size"]
    schedule = []   # (epoch, batch, image indices) of every training step, in order
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n)
        schedule += [(epoch, i // bs, order[i:i + bs]) for i in range(0, n, bs)]
    total_batches = len(schedule)
    # The grader's sandbox proxies run a chunk of calls in one round trip (``call_many``);
    # chunks end where the time is checked, so a slow train_step is stopped as early.
    run_steps = getattr(train_step, "call_many", None) or (
        lambda calls: [train_step(*call) for call in calls])
    done, start = 0, time.perf_counter()
    while done < total_batches:
        end = min(total_batches, 5 if done < 5 else 20 if done < 20 else done + 20)
        chunk = schedule[done:end]
        losses = call_student(
            "train_step(model, x, y, lr) during MNIST training", run_steps,
            [(model, scale_pixels(x_train[idx]), one_hot(y_train[idx], 10, np.float32),
              cfg["lr"]) for _, _, idx in chunk])
        if type(losses) is not list or len(losses) != len(chunk):
            raise CheckFailed("training on MNIST: train_step did not return one loss per call.")
        for (epoch, batch, _), loss in zip(chunk, losses):
            if not np.isfinite(_as_float(loss)):
                raise CheckFailed(
                    f"training on MNIST: the loss became {_as_float(loss)} at epoch {epoch + 1}, "
                    f"batch {batch + 1} (or train_step did not return a number).")
        done = end
        if done in (5, 20) or done % 100 == 0:
            elapsed = time.perf_counter() - start
            projected = elapsed / done * total_batches
            # a short burst of load on the grading machine must not stop correct code
            if projected > cfg["time_budget_s"] and elapsed >= MIN_SECONDS_BEFORE_STOP:
                raise CheckFailed(
                    f"training is too slow: {done} batches took {elapsed:.1f} s, so "
                    f"{total_batches} batches would take about {projected:.0f} s (budget "
                    f"{cfg['time_budget_s']:.0f} s). Use whole-batch matrix products, not a "
                    "Python loop over the examples.")
    weights = []
    for k, layer in enumerate(model.layers):
        n_in, n_out = cfg["layer_sizes"][k], cfg["layer_sizes"][k + 1]
        weights.append((expect_array(f"layers[{k}].W after training", layer.W, (n_in, n_out)),
                        expect_array(f"layers[{k}].b after training", layer.b, (n_out,))))
    acc = float(np.mean(predict_with_weights(weights, x_test) == y_test))
    if not acc >= cfg["threshold"]:
        raise CheckFailed(
            "MNIST test accuracy after training is below the required minimum: the network does "
            "not learn well enough (the checks of the gradient and update questions find most "
            f"causes).\n  accuracy {acc:.1%}, at least {cfg['threshold']:.0%} required "
            f"({cfg['n_train']} training images, {cfg['epochs']} epoch(s), learning rate "
            f"{cfg['lr']}).")
    return acc


def check_answer_format(answers: dict[str, Any]) -> None:
    bad = [name for name, value in answers.items()
           if not (isinstance(value, str) and value.strip().lower() in ("a", "b", "c", "d"))]
    if bad:
        raise CheckFailed(f"set {', '.join(bad)} to one of the strings \"a\", \"b\", \"c\" or "
                          "\"d\".")


def debugging_checklist(LinearLayer, network_backward, softmax, cross_entropy,
                        train_step) -> dict[str, bool]:
    """Run the usual suspects against your code; print ok/FAIL and a precise reason for each.

    Items: forward values are sane; the loss at initialisation is about ln 10; gradient shapes
    equal parameter shapes; LinearLayer.backward passes a gradient check; the activation
    derivative is taken at the right cached tensor; the update comes after all gradients and
    goes downhill. Returns ``{item: passed}``. Everything runs on small, fixed inputs (< 1 s).
    """
    import linecache
    import traceback
    from pathlib import Path

    import backprop_support
    from backprop_support import ACTIVATIONS, MLP, load_mnist

    derivatives = {"relu": lambda z: (z > 0).astype(np.float64),
                   "sigmoid": lambda z: sigmoid(z) * (1 - sigmoid(z))}
    kit_files = {Path(__file__).resolve(), Path(backprop_support.__file__).resolve()}

    def where_in_your_code(exc: BaseException) -> str:
        """'in f, line n: source' for the innermost frame of the notebook's own code."""
        for frame in reversed(traceback.extract_tb(exc.__traceback__)):
            path = Path(frame.filename)
            if (path.resolve() in kit_files or "site-packages" in frame.filename
                    or frame.filename.startswith("<frozen")):
                continue
            line = (frame.line or linecache.getline(frame.filename, frame.lineno)).strip()
            return f"in {frame.name}, line {frame.lineno}: {line}"
        return ""

    def backprop(weights, x, g, activation, multiplier):
        """Kit-side backprop of ``g = dL/dlogits``; ``multiplier(h, pre, acts)`` replaces f'(Z_h).

        Returns ``[(dW, db), ...]`` per layer and ``dL/dx``.
        """
        act, pre, acts, h = ACTIVATIONS[activation], [], [], np.asarray(x, np.float64)
        for k, (W, b) in enumerate(weights):
            h = h @ W + b
            if k < len(weights) - 1:
                pre.append(h)
                h = act(h)
                acts.append(h)
        grads, grad = [None] * len(weights), g
        for k in range(len(weights) - 1, -1, -1):
            layer_input = x if k == 0 else acts[k - 1]
            grads[k] = (layer_input.T @ grad, grad.sum(axis=0))
            grad = grad @ weights[k][0].T
            if k > 0:
                grad = grad * multiplier(k - 1, pre, acts)
        return grads, grad

    def wrong_multipliers(activation):
        """(description, multiplier) pairs for the usual mistakes between two layers."""
        other = "sigmoid" if activation == "relu" else "relu"
        return [
            ("taking the derivative at the activations A = f(Z) (model.activations[i]) "
             "instead of the pre-activations Z (model.pre_activations[i])",
             lambda h, pre, acts: derivatives[activation](acts[h])),
            ("never multiplying by the activation's derivative",
             lambda h, pre, acts: np.ones_like(pre[h])),
            ("using the pre-activation of the layer above (an index off by one)",
             lambda h, pre, acts: derivatives[activation](pre[min(h + 1, len(pre) - 1)])),
            (f"using the {other} derivative in a {activation} network (choose it from "
             "model.activation)", lambda h, pre, acts: derivatives[other](pre[h])),
        ]

    def correct(activation):
        return lambda h, pre, acts: derivatives[activation](pre[h])

    # -- the items -----------------------------------------------------------------------

    def forward_values_sane():
        layer = LinearLayer(784, 128, np.random.default_rng(0))
        for name in ("W", "b"):
            if getattr(layer, name, None) is None:
                raise CheckFailed(f"LinearLayer.__init__ does not set self.{name} yet "
                                  "(Question 3).")
        W = expect_array("LinearLayer(784, 128, rng).W", layer.W, (784, 128))
        b = expect_array("LinearLayer(784, 128, rng).b", layer.b, (128,))
        he = np.sqrt(2 / 784)
        if not np.any(W):
            raise CheckFailed("W is all zeros: every hidden unit would compute and learn the "
                              f"same thing. Draw it with rng.normal(0, sqrt(2 / n_in)) (= {he:.4f}).")
        if not he / 5 < W.std() < he * 5:
            raise CheckFailed(f"W has standard deviation {W.std():.4g}; He initialisation uses "
                              f"sqrt(2 / n_in) = {he:.4f}. Much smaller weights make the "
                              "signal vanish, much larger ones make it explode.")
        x = np.random.default_rng(1).random((8, 784)).astype(np.float32)
        out = layer.forward(x.copy())
        arr = expect_array("LinearLayer(784, 128).forward(x) for x of shape (8, 784)", out, (8, 128))
        expect_finite("the layer's output", arr)
        assert_close("LinearLayer.forward(x)", out, x @ W + b, tol=1e-4,
                     wrong_answers=[("x @ W without the bias", x @ W)])
        return (f"output (8, 128), finite, standard deviation {arr.std():.2f}; W has standard "
                f"deviation {W.std():.4f} (He: {he:.4f})")

    def loss_at_initialisation():
        x, labels = load_mnist(n_train=512)[:2]
        y = one_hot(labels, 10)
        model = MLP([784, 128, 10], LinearLayer, np.random.default_rng(0))
        logits = model.forward(x)
        expect_array("model.forward(x) for 512 MNIST images", logits, (512, 10))
        probs = softmax(logits)
        p = expect_array("softmax(logits)", probs, (512, 10))
        if not np.allclose(p.sum(axis=1), 1, atol=1e-4):
            raise CheckFailed("the rows of softmax(logits) do not sum to 1: fix softmax first "
                              "(grader.check(\"q2\")).")
        loss = expect_python_float("cross_entropy(probs, y)", cross_entropy(probs, y))
        kit = mean_cross_entropy(snapshot(logits), y.astype(np.float64))
        ln10 = float(np.log(10))
        if not ln10 - 0.6 < kit < ln10 + 0.9:
            raise CheckFailed(
                f"the mean cross-entropy of a fresh network is {kit:.3f}; with 10 classes and "
                f"small random weights every class gets about 1/10, so it should be near "
                f"ln(10) = {ln10:.3f}. The logits have standard deviation "
                f"{snapshot(logits).std():.2f}: the initial weights are too large.")
        if abs(loss - kit) > 1e-3 * max(1.0, kit):
            reason = ""
            if abs(loss - 512 * kit) < 1e-3 * 512 * kit:
                reason = " It is 512 times too large: cross_entropy sums over the batch; take the mean."
            elif abs(loss + kit) < 1e-3 * kit:
                reason = " The sign is flipped: the loss is -mean(sum(y * log(probs)))."
            raise CheckFailed(f"cross_entropy(softmax(logits), y) of a fresh network is "
                              f"{loss:.4f}, but the mean cross-entropy of those logits is "
                              f"{kit:.4f}.{reason}")
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
                    raise CheckFailed(f"layers[{i}].d{name} is not set after network_backward: "
                                      f"LinearLayer.backward must store self.d{name}.")
                got = tuple(np.shape(grad))
                if got == want:
                    continue
                hint = ""
                if name == "W" and got == want[::-1]:
                    hint = " It is transposed: dW = x.T @ grad_out has shape (n_in, n_out)."
                elif name == "b" and got == (3,):
                    hint = (" It has one entry per example: sum over axis 0 (the batch), "
                            "not axis 1.")
                elif name == "b" and got == (1,) + want:
                    hint = " Drop keepdims=True: db must be 1-D, like b."
                raise CheckFailed(f"layers[{i}].d{name} has shape {got} but {name} has shape "
                                  f"{want} (network [6, 5, 4], batch of 3).{hint}")
        expect_array("network_backward(model, grad_logits) (dL/dx for x of shape (3, 6))", dx,
                     (3, 6))
        return "dW, db shaped like W, b in every layer; dL/dx (3, 6) like x"

    def linear_backward_gradient_check():
        check_linear_backward(LinearLayer)
        return "dX, dW and db agree with central differences"

    def derivative_at_right_tensor():
        for activation in ("relu", "sigmoid"):
            sizes = (4, 5, 5, 3)
            model, x, weights = small_model(MLP, LinearLayer, sizes, activation, seed=11)
            g = np.random.default_rng(12).normal(size=(x.shape[0], sizes[-1]))
            model.forward(x.copy())
            network_backward(model, g.copy())
            expected, _ = backprop(weights, x, g, activation, correct(activation))
            wrong = [(d, backprop(weights, x, g, activation, m)[0])
                     for d, m in wrong_multipliers(activation)]
            top = len(weights) - 1
            for k in range(top, -1, -1):
                try:
                    assert_close(f"layers[{k}].dW", getattr(model.layers[k], "dW", None),
                                 expected[k][0], tol=1e-6, show_values=False,
                                 wrong_answers=[(d, w[k][0]) for d, w in wrong])
                except CheckFailed as exc:
                    if k == top:
                        where = (f"the top layer, layers[{k}], already has a wrong dW: look at "
                                 "LinearLayer.backward and at what network_backward passes to "
                                 "the top layer (grad_logits itself).")
                    else:
                        where = (f"layers[{k}] has a wrong dW although layers[{k + 1}] is right: "
                                 f"the step between them (times f'(Z) of hidden layer {k}) is "
                                 "wrong.")
                        if "It matches" not in str(exc):
                            where += (f" Check {activation}_derivative (grader.check(\"q1\")) "
                                      "and which cached tensor you pass to it.")
                    raise CheckFailed(f"{activation} network {list(sizes)}: {where}\n  {exc}"
                                      ) from None
        return "f'(Z) at model.pre_activations[i] in ReLU and sigmoid networks"

    def update_after_all_gradients():
        sizes, lr, batch = (4, 5, 5, 3), 0.5, 4
        model, x, weights = small_model(MLP, LinearLayer, sizes, "relu", seed=21, batch=batch)
        y = one_hot(np.random.default_rng(22).integers(0, 3, size=batch), 3, np.float64)
        logits, _ = forward_with(weights, x, "relu")
        before = mean_cross_entropy(logits, y)
        e = np.exp(logits - logits.max(axis=1, keepdims=True))
        g = (e / e.sum(axis=1, keepdims=True) - y) / batch
        grads, _ = backprop(weights, x, g, "relu", correct("relu"))
        # updating each layer as soon as its gradient is known sends the lower layers a
        # gradient computed with the already-updated weights
        eager, grad = [None] * len(weights), g
        _, pre = forward_with(weights, x, "relu")
        for k in range(len(weights) - 1, -1, -1):
            layer_input = x if k == 0 else np.maximum(pre[k - 1], 0)
            dW, db = layer_input.T @ grad, grad.sum(axis=0)
            eager[k] = (weights[k][0] - lr * dW, weights[k][1] - lr * db)
            grad = grad @ eager[k][0].T
            if k > 0:
                grad = grad * (pre[k - 1] > 0)
        loss = expect_python_float("train_step(model, x, y, lr)",
                                   train_step(model, x.copy(), y.copy(), lr))
        new = [(W - lr * dW, b - lr * db) for (W, b), (dW, db) in zip(weights, grads)]
        after = mean_cross_entropy(forward_with(new, x, "relu")[0], y)
        if abs(loss - before) > 1e-6 * max(1.0, before):
            hint = ""
            if abs(loss - after) < 1e-6 * max(1.0, after):
                hint = " That is the loss after the update: compute it before changing W and b."
            elif abs(loss - batch * before) < 1e-6 * batch * max(1.0, before):
                hint = f" That is {batch} (the batch size) times too large: a sum, not a mean."
            raise CheckFailed(f"train_step returned {loss:.6f}; the mean cross-entropy before "
                              f"the update is {before:.6f}.{hint}")
        for k in range(len(weights)):
            for which, name in ((0, "W"), (1, "b")):
                old, grad_k = weights[k][which], grads[k][which]
                assert_close(f"layers[{k}].{name} after one step (lr {lr})",
                             getattr(model.layers[k], name), new[k][which], tol=1e-6,
                             wrong_answers=[
                                 ("moving uphill: + lr * gradient instead of -", old + lr * grad_k),
                                 ("not updating this layer at all", old),
                                 ("updating a layer before the gradient for the layers below "
                                  "is computed from its W", eager[k][which]),
                                 (f"a gradient {batch} (the batch size) times too small: "
                                  "dividing by B twice", old - lr * grad_k / batch),
                                 (f"a gradient {batch} (the batch size) times too large: "
                                  "(probs - y) not divided by B", old - lr * grad_k * batch)])
        return f"every layer moves downhill once, by -{lr} x its gradient; the loss is the one before"

    items = [
        ("forward values are sane", forward_values_sane),
        ("the loss at initialisation is about ln 10", loss_at_initialisation),
        ("gradient shapes equal parameter shapes", gradient_shapes),
        ("LinearLayer.backward passes a gradient check", linear_backward_gradient_check),
        ("the derivative is taken at the right cached tensor", derivative_at_right_tensor),
        ("the update comes after all gradients and goes downhill", update_after_all_gradients),
    ]
    results = {}
    for number, (title, run) in enumerate(items, 1):
        try:
            with np.errstate(all="ignore"):
                evidence = run()
            results[title] = True
            print(f"ok    {number}. {title}: {evidence}")
        except Exception as exc:  # noqa: BLE001 - report every failure, keep going
            results[title] = False
            reason = str(exc) if isinstance(exc, CheckFailed) else f"{type(exc).__name__}: {exc}"
            place = "" if isinstance(exc, CheckFailed) else where_in_your_code(exc)
            if place:
                reason += f"\n  raised {place}"
            print(f"FAIL  {number}. {title}\n      " + reason.replace("\n", "\n      "))
    failed = [t for t, ok in results.items() if not ok]
    print(f"\n{len(items) - len(failed)} of {len(items)} ok." + (
        " Fix the first FAIL first: later items often fail because of it." if failed else ""))
    return results
