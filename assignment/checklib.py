"""The graded checks: what the notebook's tests (public and hidden) call.

Clear messages, tolerant of every correct answer, believing only what they compute.

Every failure raises ``CheckFailed``. Its first line is a summary that never contains test
data (the grader shows only that line for hidden tests); later lines add the numbers.

The public checks here take a ``seed`` so the kit's own test suite can run them on the
reference solution with hundreds of seeds and prove they never fail correct code.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from backprop_maths import (ACTS, BACKPROP_MISTAKES, DERIVATIVES, backprop,  # noqa: F401
                            backprop_input, backprop_mistakes, eager_update, forward_with,
                            mean_cross_entropy, relative_error, softmax_rows)
from backprop_support import one_hot, sigmoid
from grading_settings import (LARGE_LAYER, LARGE_LAYER_SECONDS, LOG_FLOOR_RANGE,  # noqa: F401
                              MIN_SECONDS_BEFORE_STOP, MNIST_GRADING, MNIST_PUBLIC)

# Every mistake a check can name: a stable id (instructors' class reports count these) and a
# short title. A check that recognises one raises ``CheckFailed(message, mistake=id)``.
MISTAKES = {
    "not_implemented": "a graded function returns None (not implemented yet)",
    "not_defined": "a graded name is not defined",
    "wrong_type": "a result has the wrong type",
    "wrong_shape": "a result has the wrong shape",
    "non_finite": "a result holds nan or inf",
    "matmul_shapes": "matrix product with shapes that do not fit (a missing transpose)",
    "broadcast_shapes": "arrays of different shapes combined",
    "missing_attribute": "an attribute read before it was set",
    "index_out_of_range": "an index out of range",
    "raised_exception": "a graded function raised another exception",
    "relu_derivative_returns_relu": "relu_derivative returns ReLU itself",
    "relu_mask_inverted": "relu_derivative masks z < 0 instead of z > 0",
    "sigmoid_derivative_returns_sigmoid": "sigmoid_derivative returns the sigmoid itself",
    "sigmoid_formula_on_z": "sigmoid_derivative applies s(1 - s) to z itself",
    "sigmoid_derivative_twice": "sigmoid_derivative evaluated at sigmoid(z)",
    "sigmoid_derivative_overflow": "sigmoid_derivative overflows for large |z|",
    "softmax_wrong_axis": "softmax normalised over the wrong axis",
    "softmax_whole_array": "softmax normalised over the whole array",
    "softmax_overflow": "softmax without subtracting the row maximum",
    "cross_entropy_sum": "cross-entropy summed over the batch instead of averaged",
    "cross_entropy_sign": "cross-entropy with the wrong sign",
    "cross_entropy_hardcoded": "cross-entropy returns a hard-coded number",
    "cross_entropy_log_of_zero": "cross-entropy takes the log of 0",
    "cross_entropy_large_floor": "cross-entropy clips probabilities at a large floor",
    "loss_not_float": "a loss returned as an array instead of a float",
    "init_zero": "all-zero initial weights",
    "init_ignores_rng": "initial weights not drawn from the rng argument",
    "init_scale": "initial weights far from the He scale",
    "init_bias_large": "large initial biases",
    "forward_without_bias": "forward forgets the bias",
    "forward_forgets_input": "forward does not keep its input for backward",
    "dx_reshape": "dX computed with a reshape instead of a transpose",
    "dx_not_transposed": "dX computed with W instead of W.T",
    "backward_returns_dw": "backward returns dW instead of dX",
    "dw_transposed": "dW transposed",
    "dw_reshape": "dW computed with a reshape instead of a transpose",
    "dw_mean": "dW averaged over the batch (divided by B twice)",
    "db_mean": "db averaged over the batch instead of summed",
    "db_wrong_axis": "db summed over the wrong axis",
    "db_keepdims": "db kept as a 2-D array",
    "backward_changes_parameters": "backward changes W or b",
    "gradients_accumulated": "gradients accumulated with += and never reset",
    "backward_not_vectorised": "backward not analytic and vectorised (too slow on a large layer)",
    "derivative_missing": "network_backward without the activation derivative",
    "derivative_at_activation": "derivative taken at the activation instead of the "
                                "pre-activation",
    "derivative_wrong_layer": "derivative taken at another layer's pre-activation",
    "derivative_wrong_activation": "the derivative of the other activation function",
    "first_layer_skipped": "network_backward stops before the first layer",
    "input_gradient_wrong": "network_backward returns a wrong gradient for the input",
    "loss_after_update": "train_step returns the loss after the update",
    "loss_wrong": "train_step returns a wrong loss",
    "update_wrong_sign": "SGD update with the wrong sign",
    "not_updated": "parameters not updated",
    "no_batch_divide": "output gradient not divided by the batch size",
    "batch_divide_twice": "output gradient divided by the batch size twice",
    "probs_instead_of_residual": "backpropagating probs instead of probs - y",
    "update_before_all_gradients": "a layer updated before the gradients below it were computed",
    "update_wrong": "parameters updated wrongly",
    "not_backprop_update": "training updates are not SGD steps with backpropagated gradients",
    "loss_does_not_fall": "repeated training steps do not reduce the loss",
    "training_diverged": "the loss became nan or inf during training",
    "training_too_slow": "training too slow (not vectorised)",
    "mnist_accuracy_low": "MNIST accuracy below the threshold",
    "quiz_format": "knowledge-check answer not one of a, b, c, d",
    "quiz_wrong": "a knowledge-check answer is wrong",
}


class CheckFailed(AssertionError):
    """A check failed; ``mistake`` is the id (in ``MISTAKES``) of the mistake it recognised.

    The message is for the student of a public check; a hidden test shows only its own
    fixed failure message.
    """

    def __init__(self, message: str = "", mistake: str | None = None):
        super().__init__(message)
        if mistake is not None and mistake not in MISTAKES:
            raise KeyError(f"unknown mistake id {mistake!r}")
        self.mistake = mistake

    @property
    def mistake_title(self) -> str | None:
        return MISTAKES.get(self.mistake) if self.mistake else None


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
        raise CheckFailed(f"`{name}` is not defined: the cell that defines it has not run to "
                          "the end (an error in that cell, a SyntaxError for example, stops "
                          "the whole cell: fix it and run the cell again), or it was renamed.",
                          mistake="not_defined")


def expect_array(what: str, value: Any, shape: tuple | None = None, *,
                 floating: bool = True,
                 shape_hints: Sequence[tuple[tuple, str]] = ()) -> np.ndarray:
    """Check that ``value`` is a numpy array of ``shape``; return it as a float64 copy.

    ``shape_hints`` are ``(wrong shape, explanation)`` pairs for shapes a typical mistake gives.
    """
    hint = not_implemented_hint(what, value)
    if hint:
        raise CheckFailed(hint, mistake="not_implemented")
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should return a numpy array, but it returned "
                          f"{type_name(value)}.", mistake="wrong_type")
    if shape is not None and tuple(value.shape) != tuple(shape):
        got = tuple(value.shape)
        explanations = [(text, mistake) for wrong, text, *mistake in shape_hints
                        if tuple(wrong) == got]
        if len(shape) == 2 and got == tuple(shape)[::-1]:
            explanations.append(("it is transposed.", []))
        text, mistake = explanations[0] if explanations else ("", [])
        raise CheckFailed(f"{what} has the wrong shape: expected {tuple(shape)}, got {got}"
                          + (f": {text}" if text else "."),
                          mistake=(mistake or ["wrong_shape"])[0])
    if not (np.issubdtype(value.dtype, np.floating) or value.dtype == bool
            or (not floating and np.issubdtype(value.dtype, np.integer))):
        raise CheckFailed(f"{what} should hold floating-point numbers, but its dtype is "
                          f"{value.dtype}.", mistake="wrong_type")
    return np.array(value, dtype=np.float64)


def expect_finite(what: str, value: np.ndarray, context: str = "",
                  mistake: str = "non_finite") -> None:
    if not np.all(np.isfinite(value)):
        bad = int(np.size(value) - np.count_nonzero(np.isfinite(value)))
        raise CheckFailed(f"{what} contains {bad} nan/inf value(s){context}.",
                          mistake=mistake)


def expect_python_float(what: str, value: Any) -> float:
    """A Python ``float`` (numpy float64 is one too); not an array, not None."""
    hint = not_implemented_hint(what, value)
    if hint:
        raise CheckFailed(hint, mistake="not_implemented")
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, int)):
        array = isinstance(value, np.ndarray)
        extra = " Use float(loss) or loss.item() to return a plain number." if array else ""
        raise CheckFailed(f"{what} should be a Python float, but it is {type_name(value)}.{extra}",
                          mistake="loss_not_float" if array else "wrong_type")
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
                 wrong_answers: Sequence[tuple] = (), tol: float | None = None,
                 show_values: bool = True, mistake: str | None = None,
                 floating: bool = True) -> None:
    """Compare an array with the expected one; name the mistake if it matches a known one.

    ``wrong_answers`` are ``(description, array, mistake id)`` triples for what a typical bug
    produces; when ``got`` matches one, the summary line says which. A non-finite entry always
    fails (``relative_error`` of nan compares False with every tolerance). ``mistake`` is the
    id reported when no wrong answer matches. ``floating=False`` also accepts integer arrays.
    """
    expected = np.asarray(expected, dtype=np.float64)
    arr = expect_array(what, got, expected.shape, floating=floating)
    tol = tolerance_for(got) if tol is None else tol
    expect_finite(what, arr)
    err = relative_error(arr, expected)
    if err <= tol:
        return
    summary = f"{what} has the wrong values (relative error {err:.2g}, tolerance {tol:.0e})."
    for description, wrong, *ids in wrong_answers:
        wrong = np.asarray(wrong, dtype=np.float64)
        if wrong.shape == arr.shape and relative_error(arr, wrong) <= max(tol, 1e-4):
            summary = f"{what} matches what {description} gives."
            mistake = ids[0] if ids else mistake
            break
    if not show_values:
        raise CheckFailed(summary, mistake=mistake)
    worst = np.unravel_index(np.argmax(np.abs(arr - expected)), arr.shape) if arr.ndim else ()
    worst = tuple(int(i) for i in worst)
    raise CheckFailed(f"{summary}\n  relative error {err:.2g} (tolerance {tol:.0e}); worst "
                      f"entry {worst}: got {arr[worst]:.6g}, expected {expected[worst]:.6g}",
                      mistake=mistake)


def close_number(got: float, expected: float, rtol: float) -> bool:
    """``got`` within ``rtol`` (relative, floor 1) of ``expected``; never true for nan/inf."""
    return bool(np.isfinite(got) and abs(got - expected) <= rtol * max(1.0, abs(expected)))


# ---------------------------------------------------------------------------
# Calling student code
# ---------------------------------------------------------------------------

MATMUL_HINT = ("the shapes in a matrix product do not fit: check each product of equations 2 "
               "and 4 against the shapes in their table; a missing or extra transpose (.T) is "
               "the usual cause.")
BROADCAST_HINT = ("arrays of different shapes meet: every gradient must have the shape of what "
                  "it belongs to (dW like W, db like b, dX like the layer's input x), and each "
                  "layer must be updated with its own dW and db.")
LAYER_INDEX_HINT = ("in network_backward, the gradient out of layers[i + 1].backward has the "
                    "shape of pre_activations[i], the output of layers[i]: an index off by one "
                    "takes the derivative of the wrong layer.")
ATTRIBUTE_HINT = ("it reads an attribute that was never set: forward must keep its input for "
                  "backward (e.g. self.x = x), and backward must set self.dW and self.db.")
SCALAR_HINT = ("an array was used where a single number is needed: cross_entropy and "
               "train_step must return a Python float.")
INDEX_HINT = "an index is out of range: check the loop bounds and the indices of the layers."
# Student code that runs out of time or crashes the grader's worker is reported as such.
PASS_THROUGH = ("Timeout", "WorkerDied")


def explain_error(detail: str, context: str = "") -> tuple[str, str | None]:
    """``(hint, mistake id)`` for a typical error message from student code (``""``, None
    when none applies). ``context`` is "network" inside network_backward, "parameters" where
    gradients meet parameters (backward, train_step), else ""."""
    text = detail.lower()
    if any(p in text for p in ("matmul", "not aligned", "core dimension")):
        return MATMUL_HINT, "matmul_shapes"
    if "could not be broadcast" in text:
        if context == "network":
            return LAYER_INDEX_HINT, "derivative_wrong_layer"
        if context == "parameters":
            return BROADCAST_HINT, "broadcast_shapes"
        return "arrays of different shapes meet (check the shapes in the docstring).", \
            "broadcast_shapes"
    if "object has no attribute" in text:
        return ATTRIBUTE_HINT, "missing_attribute"
    if any(p in text for p in ("0-dimensional", "size-1", "length-1")):
        return SCALAR_HINT, "loss_not_float"
    if "index" in text and ("out of range" in text or "out of bounds" in text):
        return INDEX_HINT, "index_out_of_range"
    return "", None


def call_student(what: str, fn: Callable, *args: Any, context: str = "") -> Any:
    """``fn(*args)``; an exception it raises becomes a ``CheckFailed`` that says what failed.

    The first line names ``what``, the error type, where it happened (in the grader: the
    notebook cell and line) and a hint for typical shape mistakes; the error's own message
    follows on the next line. Timeouts and worker crashes in the grader pass through.
    """
    if fn is None:
        raise CheckFailed(f"{what}: a name it needs is not defined: the cell that defines it "
                          "has not run to the end (an error in that cell, a SyntaxError for "
                          "example, stops the whole cell), or it was renamed.",
                          mistake="not_defined")
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
        hint, mistake = explain_error(detail, context)
        raise CheckFailed(f"{what} raised {type_name}{where}" + (f": {hint}" if hint else ".")
                          + f"\n  {type_name}: {detail}",
                          mistake=mistake or "raised_exception") from exc


# ---------------------------------------------------------------------------
# Inputs
# ---------------------------------------------------------------------------


def away_from_zero(rng: np.random.Generator, shape: tuple, margin: float = 0.1,
                   scale: float = 1.0) -> np.ndarray:
    """Normal samples with ``|value| >= margin`` (keeps ReLU inputs off the kink)."""
    z = rng.normal(0, scale, size=shape)
    return np.where(np.abs(z) < margin, np.sign(z + 1e-12) * margin + z, z)


def snapshot(what: str, value: Any, shape: tuple) -> np.ndarray:
    """A float64 copy of an array held by student code, after its shape and dtype are checked
    (nothing of another size is ever converted)."""
    return expect_array(what, value, shape)


def read_attribute(obj: Any, name: str, what: str, hint: str) -> Any:
    """``obj.name``; a clear failure when it was never set (a blank stub)."""
    try:
        value = getattr(obj, name)
    except Exception as exc:  # noqa: BLE001 - AttributeError here, or through the grader
        if getattr(exc, "type_name", "") in PASS_THROUGH:
            raise
        value = None
    if value is None:
        raise CheckFailed(f"{what} is not set: {hint}", mistake="not_implemented")
    return value


def call_within(seconds: float, what: str, fn: Callable, *args: Any) -> Any:
    """``call_student(what, fn, *args)`` that must finish within ``seconds``.

    In the grader the call gets that as its own time limit (``call_limited``); in the
    notebook an alarm stops it. Used where finite differences (millions of forward passes)
    instead of the backprop equations cannot finish in time.
    """
    import signal
    import threading
    import time

    class TooSlow(Exception):
        pass

    def alarm(signum, frame):
        raise TooSlow()

    slow = CheckFailed(f"{what} did not finish within {seconds:g} s (a correct one needs well "
                       "under a second): compute the gradients with the backpropagation "
                       "equations 2 to 4 as whole-batch matrix products, not numerically "
                       "(finite differences need millions of forward passes here) and not "
                       "with a Python loop over the entries.", mistake="backward_not_vectorised")
    limited = getattr(fn, "call_limited", None)
    local = (limited is None and threading.current_thread() is threading.main_thread()
             and hasattr(signal, "setitimer"))
    start = time.perf_counter()
    previous = signal.signal(signal.SIGALRM, alarm) if local else None
    if local:
        signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        if limited is not None:
            result = call_student(what, lambda *a: limited(seconds, *a), *args)
        else:
            result = call_student(what, fn, *args)
    except TooSlow:
        raise slow from None
    except Exception as exc:  # noqa: BLE001 - the grader's limit for this call
        if getattr(exc, "type_name", "") == "Timeout" and "its own time limit" in str(exc):
            raise slow from None
        raise
    finally:
        if local:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    if time.perf_counter() - start > seconds:
        raise slow
    return result


# ---------------------------------------------------------------------------
# Networks the checks build: the kit's MLP around layers made with the graded LinearLayer.
# The layer count and shapes come from the check; afterwards the check reads the
# parameters and gradients only from its own list of layers.
# ---------------------------------------------------------------------------


def network(LinearLayer, sizes: Sequence[int], activation: str,
            weights: Sequence[tuple[np.ndarray, np.ndarray]] | None = None, seed: int = 0):
    """``(model, layers)``: layers built by ``LinearLayer`` holding ``weights`` (if given)."""
    from backprop_support import MLP

    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = call_student(f"LinearLayer({n_in}, {n_out}, rng)", LinearLayer, n_in, n_out,
                             np.random.default_rng(seed + k))
        if weights is not None:
            layer.W = np.array(weights[k][0])
            layer.b = np.array(weights[k][1])
        layers.append(layer)
    return MLP.from_layers(layers, sizes, activation), layers


def read_weights(layers: Sequence[Any], sizes: Sequence[int], when: str) -> list:
    """Every layer's ``(W, b)`` as float64, shapes checked against ``sizes``."""
    return [(snapshot(f"layers[{k}].W {when}",
                      read_attribute(layer, "W", f"layers[{k}].W", "LinearLayer.__init__ must "
                                     "set self.W."), (n_in, n_out)),
             snapshot(f"layers[{k}].b {when}",
                      read_attribute(layer, "b", f"layers[{k}].b", "LinearLayer.__init__ must "
                                     "set self.b."), (n_out,)))
            for k, (layer, n_in, n_out) in enumerate(zip(layers, sizes[:-1], sizes[1:]))]


def draw_weights(sizes: Sequence[int], activation: str, seed: int, batch: int = 3):
    """Float64 ``(weights, x)`` with every hidden pre-activation at least 1e-3 from zero."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        weights = [(rng.normal(0, 1 / np.sqrt(n_in), size=(n_in, n_out)),
                    rng.normal(0, 0.5, size=n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        x = rng.normal(size=(batch, sizes[0]))
        _, pre = forward_with(weights, x, activation)
        if all(np.min(np.abs(p)) > 1e-3 for p in pre):
            return weights, x
    raise RuntimeError("could not draw inputs away from the ReLU kink")  # pragma: no cover


def forward_layers(model, layers, weights, x, activation: str) -> None:
    """Run every layer's own ``forward`` on the right input, so each keeps it for backward,
    and give the model the kit's pre-activations and activations (as ``MLP.forward`` does)."""
    _, pre = forward_with(weights, x, activation)
    acts = [ACTS[activation](z) for z in pre]
    for k, layer in enumerate(layers):
        out = call_student(f"layers[{k}].forward(x) (your LinearLayer.forward)", layer.forward,
                           (x if k == 0 else acts[k - 1]).copy())
        if out is None:
            raise CheckFailed(f"layers[{k}].forward(x) returned None: LinearLayer.forward is not "
                              "implemented yet (Question 3), or it is missing a `return`.",
                              mistake="not_implemented")
    model.pre_activations, model.activations = pre, acts


# ---------------------------------------------------------------------------
# Public checks (also run by the kit on the reference with many seeds)
# ---------------------------------------------------------------------------


def check_relu_derivative(relu_derivative, seed: int = 0) -> None:
    require_defined("relu_derivative", relu_derivative)
    rng = np.random.default_rng(seed)
    z = away_from_zero(rng, (4, 5))
    got = call_student("relu_derivative(z)", relu_derivative, z.copy())
    # a 0/1 mask of any numeric dtype (float, bool, int) is the derivative the instructions allow
    assert_close("relu_derivative(z)", got, (z > 0).astype(np.float64), floating=False,
                 wrong_answers=[("ReLU itself instead of its derivative", np.maximum(z, 0),
                                 "relu_derivative_returns_relu"),
                                ("a mask of z < 0 (inverted)", (z < 0).astype(np.float64),
                                 "relu_mask_inverted")])


# Large |z| where exp(-z) overflows: a derivative written with exp(-z) gives nan or inf there.
LARGE_Z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])


def check_sigmoid_derivative(sigmoid_derivative, seed: int = 0) -> None:
    require_defined("sigmoid_derivative", sigmoid_derivative)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, size=(3, 4))
    got = call_student("sigmoid_derivative(z)", sigmoid_derivative, z.copy())
    s = sigmoid(z)
    expected = s * (1 - s)
    assert_close("sigmoid_derivative(z)", got, expected, tol=max(1e-6, tolerance_for(got)),
                 wrong_answers=[
                     ("the sigmoid itself, sigmoid(z)", s, "sigmoid_derivative_returns_sigmoid"),
                     ("the derivative formula applied to z itself instead of to sigmoid(z)",
                      z * (1 - z), "sigmoid_formula_on_z"),
                     ("the derivative evaluated at the activation, sigma'(sigmoid(z)): the "
                      "derivative applied to an output that is already a sigmoid",
                      sigmoid(s) * (1 - sigmoid(s)), "sigmoid_derivative_twice"),
                 ])
    with np.errstate(all="ignore"):
        big = call_student("sigmoid_derivative(z) for |z| up to 1000", sigmoid_derivative,
                           LARGE_Z.copy())
    arr = expect_array("sigmoid_derivative(z) for |z| up to 1000", big, LARGE_Z.shape)
    expect_finite("sigmoid_derivative(z) for |z| up to 1000", arr,
                  ": np.exp(-z) overflows there; use the provided, overflow-safe sigmoid",
                  mistake="sigmoid_derivative_overflow")
    s = sigmoid(LARGE_Z)
    assert_close("sigmoid_derivative(z) for |z| up to 1000", big, s * (1 - s),
                 mistake="sigmoid_derivative_overflow")


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
                              "should (normalise along the last axis).",
                              mistake="softmax_wrong_axis")
        if np.isclose(arr.sum(), 1.0, atol=1e-5):
            raise CheckFailed("softmax rows should each sum to 1, but the whole array sums to "
                              "1: normalise each row separately.", mistake="softmax_whole_array")
        raise CheckFailed("softmax rows should each sum to 1, but they do not.\n"
                          f"  row sums: {np.round(sums, 4).tolist()}")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close("softmax(z)", got, e / e.sum(axis=1, keepdims=True))


def check_softmax_extreme(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    z = np.array([[1000.0, 999.0, 998.0], [-1000.0, 0.0, 1000.0]])
    with np.errstate(all="ignore"):
        got = call_student("softmax(z) for logits of magnitude 1000", softmax, z.copy())
    arr = expect_array("softmax(z) for logits of magnitude 1000", got, z.shape)
    expect_finite("softmax(z) for logits of magnitude 1000", arr,
                  ": np.exp overflows; subtract each row's maximum before np.exp",
                  mistake="softmax_overflow")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close("softmax(z) for logits of magnitude 1000", got, e / e.sum(axis=1, keepdims=True),
                 mistake="softmax_overflow")


def cross_entropy_range(probs: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(lowest, highest) mean cross-entropy over every allowed log floor."""
    values = [float(-np.mean(np.sum(y * np.log(np.maximum(probs, floor)), axis=1)))
              for floor in LOG_FLOOR_RANGE]
    return min(values), max(values)


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
    if not np.isfinite(got):
        raise CheckFailed(f"cross_entropy returned {got}, not a finite number." + numbers,
                          mistake="non_finite")
    if not close_number(got, expected, 1e-5):
        if close_number(got, total, 1e-5):
            raise CheckFailed("cross_entropy returns the sum over the batch; it should be the "
                              "mean (divide by the batch size)." + numbers,
                              mistake="cross_entropy_sum")
        if close_number(got, -expected, 1e-5):
            raise CheckFailed("cross_entropy has the wrong sign: the loss is "
                              "-mean(sum(y * log p))." + numbers, mistake="cross_entropy_sign")
        other = expect_python_float(what, call_student(what, cross_entropy, probs[::-1].copy(),
                                                       np.roll(y, 1, axis=1)))
        if other == got:
            raise CheckFailed("cross_entropy returns the same number for different probs and "
                              "y: compute it from its arguments; a hard-coded value only "
                              "matches one check." + numbers, mistake="cross_entropy_hardcoded")
        raise CheckFailed("cross_entropy returns the wrong value: it should be the mean over "
                          "the batch of -sum(y * log(probs))." + numbers)
    check_cross_entropy_zeros(cross_entropy)


def check_cross_entropy_zeros(cross_entropy,
                              probs: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
    """Finite, and right for any allowed log floor, when probabilities are exactly 0."""
    if probs is None:
        probs = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.2, 0.8, 0.0]])
        y = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    what = "cross_entropy(probs, y) when some probabilities are exactly 0"
    with np.errstate(all="ignore"):
        got = expect_python_float(what, call_student(what, cross_entropy, probs.copy(),
                                                     y.copy()))
    if not np.isfinite(got):
        raise CheckFailed(f"{what} returned {got}: the log of zero is -inf, and 0 * -inf is "
                          "nan. Clip the probabilities to a tiny positive minimum before the "
                          "log (see Question 2).", mistake="cross_entropy_log_of_zero")
    low, high = cross_entropy_range(probs, y)
    if not low * (1 - 1e-6) <= got <= high * (1 + 1e-6):
        raise CheckFailed(f"{what} is finite but not what a floor between "
                          f"{LOG_FLOOR_RANGE[0]:g} and {LOG_FLOOR_RANGE[1]:g} gives: clip the "
                          "probabilities to a tiny positive minimum such as 1e-12, not a large "
                          f"constant.\n  got {got:.6f}, allowed {low:.6f} to {high:.6f}",
                          mistake="cross_entropy_large_floor")


def _layer(LinearLayer, n_in: int, n_out: int, rng_or_seed) -> Any:
    rng = rng_or_seed if isinstance(rng_or_seed, np.random.Generator) \
        else np.random.default_rng(rng_or_seed)
    return call_student(f"LinearLayer({n_in}, {n_out}, rng)", LinearLayer, n_in, n_out, rng)


INIT_HINT = "LinearLayer.__init__ is not implemented yet (Question 3), or does not set it."


def check_linear_init(LinearLayer, seed: int = 0, pattern: Sequence[int] = (0, 1, 1, 0, 2, 0),
                      n_in: int = 5, n_out: int = 3) -> None:
    """W and b of the right shapes, not all zero, and drawn from the rng argument: layers built
    from rngs in the states ``pattern`` (equal number = equal state) have equal W exactly when
    their rngs were equal (a counter or the global np.random cannot follow the pattern)."""
    require_defined("LinearLayer", LinearLayer)
    what = f"LinearLayer({n_in}, {n_out}, rng)"
    Ws = []
    for state in pattern:
        layer = _layer(LinearLayer, n_in, n_out, seed * 1000 + state)
        W = snapshot(f"{what}.W", read_attribute(layer, "W", f"{what}.W", INIT_HINT),
                     (n_in, n_out))
        snapshot(f"{what}.b", read_attribute(layer, "b", f"{what}.b", INIT_HINT), (n_out,))
        expect_finite(f"{what}.W", W)
        if not np.any(W):
            raise CheckFailed("W is all zeros: every hidden unit would learn the same thing. "
                              "Draw W from rng.normal(...) scaled by about sqrt(2 / n_in).",
                              mistake="init_zero")
        Ws.append(W)
    for i in range(len(pattern)):
        for j in range(i):
            if (pattern[i] == pattern[j]) != bool(np.array_equal(Ws[i], Ws[j])):
                raise CheckFailed("W does not follow the rng argument: layers built with equal "
                                  "rng states must get equal weights and others different ones. "
                                  "Draw W from the rng you are given (rng.normal(...)), not "
                                  "from np.random or a counter.", mistake="init_ignores_rng")


def check_linear_forward(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    layer = _layer(LinearLayer, 4, 3, seed)
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    layer.W, layer.b = W.copy(), b.copy()
    x = rng.normal(size=(2, 4))
    out = call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    assert_close("LinearLayer.forward(x) for x of shape (2, 4)", out, x @ W + b,
                 wrong_answers=[("x @ W without the bias", x @ W, "forward_without_bias")])


def linear_backward_shape_hints(n_batch: int, n_in: int, n_out: int) -> dict[str, list]:
    """Shapes typical LinearLayer.backward mistakes give, for ``expect_array``'s shape_hints."""
    return {
        "dx": [((n_in, n_out), "it has the shape of W: backward returns dW instead of dX, the "
                               "gradient for its input x, shape (B, n_in).",
                "backward_returns_dw")],
        "db": [((n_batch,), "one entry per example: sum grad_out over the batch (the first "
                            "axis) to get one entry per output unit.", "db_wrong_axis"),
               ((1, n_out), "db must be 1-D like b (drop keepdims=True).", "db_keepdims")],
    }


def linear_backward_once(LinearLayer, layer, W, b, x, g, when: str = ""):
    """forward(x), backward(g) on ``layer``; ``(dx, dW, db)`` checked for shape, as float64."""
    n_batch, n_in = x.shape
    n_out = g.shape[1]
    call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    dx = call_student("LinearLayer.backward(grad_out)", layer.backward, g.copy(),
                      context="parameters")
    hints = linear_backward_shape_hints(n_batch, n_in, n_out)
    sizes = f"(B={n_batch}, n_in={n_in}, n_out={n_out}){when}"
    dx = expect_array(f"LinearLayer.backward(grad_out) {sizes}", dx, x.shape,
                      shape_hints=hints["dx"])
    dW = expect_array(f"layer.dW after backward {sizes}",
                      read_attribute(layer, "dW", "layer.dW", "backward must store self.dW."),
                      W.shape)
    db = expect_array(f"layer.db after backward {sizes}",
                      read_attribute(layer, "db", "layer.db", "backward must store self.db."),
                      b.shape, shape_hints=hints["db"])
    if not (np.array_equal(snapshot("layer.W after backward", layer.W, W.shape), W)
            and np.array_equal(snapshot("layer.b after backward", layer.b, b.shape), b)):
        raise CheckFailed("backward changed W or b: it must only compute gradients; train_step "
                          "updates the parameters once every gradient is known.",
                          mistake="backward_changes_parameters")
    return dx, dW, db


def compare_linear_gradients(dx, dW, db, W, x, g, sizes: str = "", show_values: bool = True):
    """dX, dW, db against the backprop equations; typical mistakes are named."""
    n_batch, n_in = x.shape
    n_out = g.shape[1]
    square = n_in == n_out
    assert_close(f"dX returned by backward{sizes}", dx, g @ W.T, show_values=show_values,
                 wrong_answers=[
                     ("grad_out @ W.reshape(n_out, n_in) (a reshape instead of a transpose)",
                      g @ W.reshape(n_out, n_in), "dx_reshape"),
                     ("grad_out @ W (W not transposed)", g @ W if square else np.zeros(0),
                      "dx_not_transposed")])
    assert_close(f"layer.dW{sizes}", dW, x.T @ g, show_values=show_values, wrong_answers=[
        ("the mean over the batch instead of the sum", x.T @ g / n_batch, "dw_mean"),
        ("(grad_out.T @ x) reshaped instead of transposed", (g.T @ x).reshape(n_in, n_out),
         "dw_reshape"),
        ("grad_out.T @ x (dW transposed)", g.T @ x if square else np.zeros(0),
         "dw_transposed")])
    assert_close(f"layer.db{sizes}", db, g.sum(axis=0), show_values=show_values,
                 wrong_answers=[("the mean over the batch instead of the sum", g.mean(axis=0),
                                 "db_mean")])


def check_linear_backward(LinearLayer, seed: int = 0,
                          shapes: Sequence[tuple[int, int, int]] = ((2, 4, 3), (3, 3, 3)),
                          show_values: bool = True) -> None:
    """For each ``(B, n_in, n_out)``: shapes, values against the backprop equations, and a
    second forward/backward on another batch giving that batch's gradients (not a sum)."""
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    for n_batch, n_in, n_out in shapes:
        layer = _layer(LinearLayer, n_in, n_out, seed)
        W, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
        layer.W, layer.b = W.copy(), b.copy()
        sizes = f" (B={n_batch}, n_in={n_in}, n_out={n_out})"
        first = None
        for when in ("", ", called a second time"):
            x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
            dx, dW, db = linear_backward_once(LinearLayer, layer, W, b, x, g, when)
            if first is not None and (relative_error(dW, first[0] + x.T @ g) < 1e-6
                                      or relative_error(db, first[1] + g.sum(axis=0)) < 1e-6):
                raise CheckFailed("the second backward adds its gradients to those of the first: "
                                  "dW and db are accumulated with += and never reset. Assign "
                                  "them (self.dW = ...) instead.",
                                  mistake="gradients_accumulated")
            compare_linear_gradients(dx, dW, db, W, x, g, sizes + when, show_values)
            first = (dW, db)


def check_linear_backward_vectorised(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    n_batch, n_in, n_out = LARGE_LAYER
    rng = np.random.default_rng(seed)
    layer = _layer(LinearLayer, n_in, n_out, seed)
    W, b = rng.normal(0, 0.05, size=(n_in, n_out)), rng.normal(size=n_out)
    x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
    layer.W, layer.b = W.copy(), b.copy()
    call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    dx = call_within(LARGE_LAYER_SECONDS, f"LinearLayer.backward(grad_out) for a {n_in} x "
                     f"{n_out} layer", layer.backward, g.copy())
    sizes = f" (B={n_batch}, n_in={n_in}, n_out={n_out})"
    dx = expect_array("dX returned by backward" + sizes, dx, x.shape)
    dW = expect_array("layer.dW" + sizes, layer.dW, W.shape)
    db = expect_array("layer.db" + sizes, layer.db, b.shape)
    compare_linear_gradients(dx, dW, db, W, x, g, sizes, show_values=False)


def check_network_backward(network_backward, LinearLayer, activation: str = "relu",
                           seed: int = 0, sizes: Sequence[int] = (4, 5, 5, 3),
                           show_values: bool = True) -> None:
    """Every layer's dW and db and the returned dL/dx after ``network_backward`` on a small
    network, against the backprop equations; the first wrong layer (from the top) is named,
    with the typical mistake its values match."""
    require_defined("network_backward", network_backward)
    weights, x = draw_weights(sizes, activation, seed)
    model, layers = network(LinearLayer, sizes, activation, weights, seed)
    forward_layers(model, layers, weights, x, activation)
    g = np.random.default_rng(seed + 1000).normal(size=(x.shape[0], sizes[-1]))
    dx = call_student("network_backward(model, grad_logits)", network_backward, model, g.copy(),
                      context="network")
    where = f" ({activation} network {list(sizes)})"
    dx = expect_array("network_backward(model, grad_logits) (the gradient for the input)", dx,
                      x.shape, shape_hints=[(
                          (x.shape[0], sizes[1]), "that is the shape of the first hidden "
                          "layer's output: the gradient never went through layers[0].backward "
                          "(does the loop stop before layers[0]?).", "first_layer_skipped")])
    expected = backprop(weights, x, g, activation)
    mistakes = backprop_mistakes(weights, x, g, activation)
    per_example = [((x.shape[0],), "one entry per example: db must be summed over the batch "
                                   "(the first axis).", "db_wrong_axis")]
    for i in range(len(layers) - 1, -1, -1):
        n_in, n_out = sizes[i], sizes[i + 1]
        dW = expect_array(f"layers[{i}].dW", read_attribute(
            layers[i], "dW", f"layers[{i}].dW", "network_backward must call every layer's "
            "backward, which stores self.dW."), (n_in, n_out))
        db = expect_array(f"layers[{i}].db", read_attribute(
            layers[i], "db", f"layers[{i}].db", "backward must store self.db."), (n_out,),
            shape_hints=per_example)
        for name, value, which in (("dW", dW, 0), ("db", db, 1)):
            assert_close(f"layers[{i}].{name}{where}", value, expected[i][which],
                         tol=max(1e-6, tolerance_for(value)), show_values=show_values,
                         wrong_answers=[(d, grads[i][which], m) for d, grads, m in mistakes])
    assert_close(f"the value network_backward returns (dL/dx){where}", dx,
                 backprop_input(weights, x, g, activation), show_values=show_values,
                 tol=max(1e-6, tolerance_for(dx)), mistake="input_gradient_wrong")


def check_network_backward_vectorised(network_backward, LinearLayer, seed: int = 0) -> None:
    """network_backward on a 1024-1024-10 ReLU network within the time limit."""
    require_defined("network_backward", network_backward)
    sizes = (LARGE_LAYER[1], LARGE_LAYER[2], 10)
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), rng.normal(0, 0.1, n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(LARGE_LAYER[0], sizes[0]))
    g = rng.normal(size=(len(x), sizes[-1])) / len(x)
    model, layers = network(LinearLayer, sizes, "relu", weights, seed)
    forward_layers(model, layers, weights, x, "relu")
    call_within(LARGE_LAYER_SECONDS, "network_backward(model, grad_logits) for a 1024-1024-10 "
                "network", network_backward, model, g.copy())
    expected = backprop(weights, x, g, "relu")
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        dW = expect_array(f"layers[{k}].dW (1024-1024-10 network)", read_attribute(
            layers[k], "dW", f"layers[{k}].dW", "backward must store self.dW."), (n_in, n_out))
        assert_close(f"layers[{k}].dW (1024-1024-10 network)", dW, expected[k][0],
                     tol=max(1e-6, tolerance_for(dW)), show_values=False)


def _updated(weights, grads, lr: float, scale: float = 1.0) -> list:
    """``[(W - lr * scale * dW, b - lr * scale * db)]`` for every layer."""
    return [(W - lr * scale * dW, b - lr * scale * db)
            for (W, b), (dW, db) in zip(weights, grads)]


def sgd_reference(weights, x, y, activation: str, lr: float):
    """``(loss before, updated weights, gradients)`` of one SGD step, all float64."""
    logits = forward_with(weights, x, activation)[0]
    residual = (softmax_rows(logits) - y) / x.shape[0]
    grads = backprop(weights, x, residual, activation)
    return mean_cross_entropy(logits, y), _updated(weights, grads, lr), grads


def check_returned_loss(loss: Any, expected: float, after: float, n_batch: int,
                        rtol: float = 1e-4) -> float:
    """The loss train_step returned against the trusted loss before the update."""
    what = "train_step(model, x, y, lr)"
    loss = expect_python_float(what, loss)
    if close_number(loss, expected, rtol):
        return loss
    numbers = f"\n  got {loss:.6f}; the mean cross-entropy before the update is {expected:.6f}."
    if not np.isfinite(loss):
        raise CheckFailed(f"train_step returned {loss}, not a finite loss." + numbers,
                          mistake="non_finite")
    if close_number(loss, after, rtol):
        raise CheckFailed("train_step returned the loss after the update: compute the loss "
                          "before changing any parameter." + numbers, mistake="loss_after_update")
    if close_number(loss, n_batch * expected, rtol):
        raise CheckFailed("train_step returned the sum over the batch instead of the mean."
                          + numbers, mistake="cross_entropy_sum")
    if close_number(loss, -expected, rtol):
        raise CheckFailed("train_step returned the loss with the wrong sign." + numbers,
                          mistake="cross_entropy_sign")
    raise CheckFailed("train_step returned the wrong loss: it should be cross_entropy(softmax("
                      "model.forward(x)), y) before the update; if that is what you return, "
                      "check softmax, cross_entropy and LinearLayer.forward." + numbers,
                      mistake="loss_wrong")


def check_train_step(train_step, LinearLayer, activation: str = "relu", seed: int = 0,
                     sizes: Sequence[int] = (4, 5, 3), lr: float = 0.5,
                     show_values: bool = True) -> None:
    """One SGD step: the returned loss and every updated parameter, against float64 maths.

    A wrong parameter is compared with what typical mistakes give, to name the mistake.
    """
    require_defined("train_step", train_step)
    weights, x = draw_weights(sizes, activation, seed, batch=4)
    model, layers = network(LinearLayer, sizes, activation, weights, seed)
    n_batch = x.shape[0]
    y = one_hot(np.random.default_rng(seed + 7).integers(0, sizes[-1], size=n_batch), sizes[-1],
                np.float64)
    expected_loss, expected, grads = sgd_reference(weights, x, y, activation, lr)
    after = mean_cross_entropy(forward_with(expected, x, activation)[0], y)
    what = "train_step(model, x, y, lr)"
    loss = call_student(what, train_step, model, x.copy(), y.copy(), lr, context="parameters")
    check_returned_loss(loss, expected_loss, after, n_batch)
    new_weights = read_weights(layers, sizes, "after one step")
    probs = softmax_rows(forward_with(weights, x, activation)[0])
    residual = (probs - y) / n_batch
    mistakes = [
        ("moving uphill (+ lr * gradient: wrong sign)", _updated(weights, grads, -lr),
         "update_wrong_sign"),
        ("not updating the parameters at all", [(W, b) for W, b in weights], "not_updated"),
        ("not dividing probs - y by the batch size", _updated(weights, grads, lr, n_batch),
         "no_batch_divide"),
        ("dividing by the batch size twice", _updated(weights, grads, lr, 1 / n_batch),
         "batch_divide_twice"),
        ("backpropagating probs instead of probs - y",
         _updated(weights, backprop(weights, x, probs / n_batch, activation), lr),
         "probs_instead_of_residual"),
        ("updating a layer before the gradient for the layers below is computed from its W",
         eager_update(weights, x, residual, activation, lr), "update_before_all_gradients"),
    ] + [(description, _updated(weights, wrong, lr), mistake)
         for description, wrong, mistake in backprop_mistakes(weights, x, residual, activation)]
    for k in range(len(layers)):
        for name, which in (("W", 0), ("b", 1)):
            value = new_weights[k][which]
            assert_close(f"layers[{k}].{name} after one step", value, expected[k][which],
                         tol=max(1e-6, tolerance_for(value)), show_values=show_values,
                         mistake="update_wrong",
                         wrong_answers=[(d, new[k][which], m) for d, new, m in mistakes])


def check_train_step_large(train_step, LinearLayer, seed: int = 0) -> None:
    """One step on a 1024-1024-10 network within the time limit: backprop, not numerics."""
    require_defined("train_step", train_step)
    sizes, lr = (LARGE_LAYER[1], LARGE_LAYER[2], 10), 0.1
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), np.zeros(n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(LARGE_LAYER[0], sizes[0]))
    y = one_hot(rng.integers(0, 10, size=len(x)), 10, np.float64)
    model, layers = network(LinearLayer, sizes, "relu", weights, seed)
    expected_loss, expected, _ = sgd_reference(weights, x, y, "relu", lr)
    after = mean_cross_entropy(forward_with(expected, x, "relu")[0], y)
    loss = call_within(LARGE_LAYER_SECONDS, "train_step(model, x, y, lr) for a 1024-1024-10 "
                       "network", train_step, model, x.copy(), y.copy(), lr)
    check_returned_loss(loss, expected_loss, after, len(x), rtol=1e-3)
    for k, (W, b) in enumerate(read_weights(layers, sizes, "after one step")):
        assert_close(f"layers[{k}].W after one step of a 1024-1024-10 network", W, expected[k][0],
                     tol=1e-3, show_values=False, mistake="update_wrong")
        assert_close(f"layers[{k}].b after one step of a 1024-1024-10 network", b, expected[k][1],
                     tol=1e-3, show_values=False, mistake="update_wrong")


def check_loss_falls(train_step, LinearLayer, steps: int = 60) -> None:
    """Repeated steps on two moons reduce the loss.

    The verdict comes from the check's own float64 replay of the same SGD steps; the weights
    the layers report afterwards must equal that replay, so weights an object makes up at the
    end gain nothing. Reported weights only ever turn a pass into a failure.
    """
    from backprop_support import make_two_moons

    x, labels = make_two_moons(128, seed=3)
    y = one_hot(labels, 2, np.float64)
    sizes, lr = (2, 16, 2), 0.5
    rng = np.random.default_rng(4)
    weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), np.zeros(n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    model, layers = network(LinearLayer, sizes, "relu", weights)
    before = mean_cross_entropy(forward_with(weights, x, "relu")[0], y)
    replay = weights
    for _ in range(steps):
        call_student("train_step(model, x, y, lr)", train_step, model, x.copy(), y.copy(),
                     lr)
        replay = sgd_reference(replay, x, y, "relu", lr)[1]
    final = read_weights(layers, sizes, f"after {steps} steps")
    if not all(np.all(np.isfinite(p)) for pair in final for p in pair):
        raise CheckFailed("the weights became nan or inf while training on a toy problem.",
                          mistake="training_diverged")
    after = mean_cross_entropy(forward_with(final, x, "relu")[0], y)
    if not after < 0.8 * before:
        raise CheckFailed("repeated train_step calls on a toy problem do not reduce the loss "
                          "(measured from the weights): check the sign of the update and the "
                          f"gradients.\n  {steps} steps moved the loss from {before:.3f} to "
                          f"{after:.3f}.", mistake="loss_does_not_fall")
    # float32 arithmetic drifts from the replay by about 1e-5 in 60 steps
    err = max(relative_error(got, want) for pair, ref in zip(final, replay)
              for got, want in zip(pair, ref))
    if not err <= 1e-3:
        raise CheckFailed("repeated train_step calls on a toy problem do not give the weights "
                          f"that {steps} SGD steps give (relative error {err:.2g}): each step "
                          "must be W -= lr * dW with the backpropagated gradient, for every "
                          "layer.", mistake="not_backprop_update")
    replayed = mean_cross_entropy(forward_with(replay, x, "relu")[0], y)
    if not replayed < 0.8 * before:  # pragma: no cover - a property of the settings above
        raise RuntimeError("SGD does not reduce the two-moons loss with these settings")


def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except Exception:  # noqa: BLE001 - any odd return value counts as "not a number"
        return float("nan")


def check_mnist_accuracy(train_step, LinearLayer, **overrides: Any) -> float:
    """Train with the student's ``train_step`` and ``LinearLayer`` and measure MNIST accuracy.

    Settings come from ``MNIST_GRADING`` (overridable for the quick public check). The loop
    stops early, with a clear message, when its projected time exceeds the time budget;
    ``project_to`` (the public check) projects the time of the graded run instead.

    What the layers report is never believed on its own:
    - At the first step and ``cfg["checked_steps"] - 2`` steps drawn here, the check writes
      weights it draws itself into the layers, takes one step on the batch and compares the
      result with the SGD step it computes from those weights; then it writes back what the
      layers reported and takes the real training step. Points for accuracy need backprop
      (reported weights could make the gradient trivial: all zero, or every ReLU dead).
    - At the last step the check writes back what the layers report, takes the step, compares
      it with its own SGD step from those weights, and measures the accuracy of its own result
      (the kit's forward pass). Weights that were made up rather than trained (a degenerate
      state where the gradient is trivial, or pretrained weights) give either a low accuracy
      or a step only backprop can reproduce.
    """
    import time

    from backprop_support import load_mnist_uint8, predict_with_weights, scale_pixels

    require_defined("train_step", train_step)
    require_defined("LinearLayer", LinearLayer)
    cfg = {**MNIST_GRADING, **overrides}
    sizes = cfg["layer_sizes"]
    x_train, y_train, x_test, y_test = load_mnist_uint8(n_train=cfg["n_train"])
    model, layers = network(LinearLayer, sizes, "relu", None, cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    n, bs = len(x_train), cfg["batch_size"]
    schedule = []   # (epoch, batch, image indices) of every training step, in order
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n)
        schedule += [(epoch, i // bs, order[i:i + bs]) for i in range(0, n, bs)]
    total = len(schedule)
    probed = {0} | set(np.random.default_rng(cfg["seed"] + 1).choice(
        np.arange(1, total - 1), size=min(total - 2, cfg["checked_steps"] - 2),
        replace=False).tolist())
    probe_rng = np.random.default_rng(cfg["seed"] + 2)
    checked = probed | {total - 1}
    # The grader's sandbox proxies run a chunk of calls in one round trip (``call_many``);
    # chunks end where the time is checked and before every checked step.
    run_steps = getattr(train_step, "call_many", None) or (
        lambda calls: [train_step(*call) for call in calls])
    what = "train_step(model, x, y, lr) during MNIST training"
    spent, done, trained = 0.0, 0, None

    def run(chunk, batches):
        nonlocal spent
        start = time.perf_counter()
        try:
            losses = call_student(what, run_steps, [(model, x, y, cfg["lr"]) for x, y in batches],
                                  context="parameters")
        except Exception as exc:  # noqa: BLE001 - one step over the grader's per-call limit
            if getattr(exc, "type_name", "") == "Timeout" and "calls into your code" in str(exc):
                raise CheckFailed(f"training is too slow: {len(chunk)} training step(s) did not "
                                  "finish within the time limit for them. Use whole-batch "
                                  "matrix products and the backpropagation equations, not a "
                                  "Python loop over the examples or numerical gradients.",
                                  mistake="training_too_slow") from None
            raise
        spent += time.perf_counter() - start
        if type(losses) is not list or len(losses) != len(chunk):
            raise CheckFailed("training on MNIST: train_step did not return one loss per call.",
                              mistake="wrong_type")
        for (epoch, batch, _), loss in zip(chunk, losses):
            if loss is None:
                raise CheckFailed("training on MNIST: train_step returned None: it is not "
                                  "implemented yet, or it is missing a `return`.",
                                  mistake="not_implemented")
            if not np.isfinite(_as_float(loss)):
                raise CheckFailed(
                    f"training on MNIST: the loss became {_as_float(loss)} at epoch {epoch + 1}, "
                    f"batch {batch + 1} (or train_step did not return a number).",
                    mistake="training_diverged")

    while done < total:
        end = min(total, 5 if done < 5 else 20 if done < 20 else done + 20)
        end = min([end] + [s for s in checked if done < s])
        if done in checked:
            end = done + 1
        chunk = schedule[done:end]
        batches = [(scale_pixels(x_train[idx]), one_hot(y_train[idx], 10, np.float32))
                   for _, _, idx in chunk]
        if done in checked:
            reported = read_weights(layers, sizes, "during training")
            start = draw_probe(sizes, probe_rng) if done in probed else reported
            write_weights(layers, start)
            run(chunk, batches)
            trained = check_sgd_step(start, layers, sizes, batches[0], cfg["lr"])
            if done in probed:
                write_weights(layers, reported)
                run(chunk, batches)
        else:
            run(chunk, batches)
        done = end
        if done in (5, 20) or done % 100 == 0 or done == total:
            projected = spent / done * cfg.get("project_to", total)
            # a short burst of load on the grading machine must not stop correct code
            if projected > cfg["time_budget_s"] and (spent >= MIN_SECONDS_BEFORE_STOP
                                                     or done == total):
                raise CheckFailed(
                    f"training is too slow: {done} batches took {spent:.1f} s, so the "
                    f"{cfg.get('project_to', total)} batches of the graded run would take about "
                    f"{projected:.0f} s (budget {cfg['time_budget_s']:.0f} s). Use whole-batch "
                    "matrix products, not a Python loop over the examples.",
                    mistake="training_too_slow")
    acc = float(np.mean(predict_with_weights(trained, x_test) == y_test))
    if not acc >= cfg["threshold"]:
        raise CheckFailed(
            "MNIST test accuracy after training is below the required minimum: the network does "
            "not learn well enough (the checks of the gradient and update questions find most "
            f"causes).\n  accuracy {acc:.1%}, at least {cfg['threshold']:.0%} required "
            f"({cfg['n_train']} training images, {cfg['epochs']} epoch(s), learning rate "
            f"{cfg['lr']}).", mistake="mnist_accuracy_low")
    return acc


def draw_probe(sizes: Sequence[int], rng: np.random.Generator) -> list:
    """Weights the check chooses for a probed step: He-scaled W, non-zero b."""
    return [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), rng.normal(0, 0.1, size=n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def write_weights(layers: Sequence[Any], weights: Sequence[tuple]) -> None:
    for layer, (W, b) in zip(layers, weights):
        layer.W, layer.b = np.array(W), np.array(b)


def check_sgd_step(before, layers, sizes, batch, lr: float) -> list:
    """The step just taken was SGD with backprop gradients from the weights ``before`` it
    (written into the layers by the check); returns the check's own updated weights."""
    x, y = (np.asarray(a, dtype=np.float64) for a in batch)
    _, updated, grads = sgd_reference(before, x, y, "relu", lr)
    after = read_weights(layers, sizes, "during training")
    why = ("training on MNIST: a step of train_step is not one SGD step with the "
           "backpropagated gradient (W -= lr * dW for every layer, dW from the weights before "
           "the step): points for MNIST need that step (Question 5 checks it in detail).")
    for k in range(len(sizes) - 1):
        for which in (0, 1):
            moved = after[k][which] - before[k][which]
            want = -lr * grads[k][which]
            if not relative_error(moved, want) <= 2e-3:
                raise CheckFailed(why + f"\n  layers[{k}]: relative error of the update "
                                  f"{relative_error(moved, want):.2g}",
                                  mistake="not_backprop_update")
    return updated


def check_mnist_speed(train_step, LinearLayer) -> float:
    """The quick public check: a small slice, one epoch; fails when the graded run's number
    of steps would exceed its time budget at the speed measured here."""
    g = MNIST_GRADING
    steps = g["epochs"] * -(-g["n_train"] // g["batch_size"])
    return check_mnist_accuracy(train_step, LinearLayer, **MNIST_PUBLIC, project_to=steps)


ANSWER_LETTERS = ("a", "b", "c", "d")


def check_answer_format(answers: dict[str, Any]) -> None:
    bad = [name for name, value in answers.items()
           if not (isinstance(value, str) and value.strip().lower() in ANSWER_LETTERS)]
    if bad:
        raise CheckFailed(f"set {', '.join(bad)} to one of the strings \"a\", \"b\", \"c\" or "
                          "\"d\".", mistake="quiz_format")


def check_answers(answers: dict[str, Any], key: dict[str, str]) -> None:
    """Hidden: every answer right. The message never says which or how many are wrong."""
    if not all(isinstance(answers.get(n), str) and answers[n].strip().lower() == want
               for n, want in key.items()):
        raise CheckFailed("at least one knowledge-check answer is wrong.", mistake="quiz_wrong")


