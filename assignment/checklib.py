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
    "threshold": 0.90,      # the reference reaches 93.1-93.7 % over seeds; see tests/
    "time_budget_s": 60.0,  # the reference needs about 1 s
}


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
                 floating: bool = True) -> np.ndarray:
    """Check that ``value`` is a numpy array of ``shape``; return it as a float64 copy."""
    hint = not_implemented_hint(what, value)
    if hint:
        raise CheckFailed(hint)
    if not isinstance(value, np.ndarray):
        raise CheckFailed(f"{what} should return a numpy array, but it returned {type_name(value)}.")
    if shape is not None and tuple(value.shape) != tuple(shape):
        raise CheckFailed(f"{what} has the wrong shape: expected {tuple(shape)}, got "
                          f"{tuple(value.shape)}.")
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
    model = MLP_cls(list(sizes), LinearLayer, np.random.default_rng(seed), activation=activation)
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
    got = expect_array("relu_derivative(z)", relu_derivative(z.copy()), z.shape)
    assert_close("relu_derivative(z)", got, (z > 0).astype(np.float64), wrong_answers=[
        ("ReLU itself, max(z, 0)", np.maximum(z, 0)),
        ("a mask of z < 0 (inverted)", (z < 0).astype(np.float64)),
    ])


def check_sigmoid_derivative(sigmoid_derivative, seed: int = 0) -> None:
    require_defined("sigmoid_derivative", sigmoid_derivative)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, size=(3, 4))
    got = sigmoid_derivative(z.copy())
    s = sigmoid(z)
    numeric = np.array([[(sigmoid(v + 1e-6) - sigmoid(v - 1e-6)) / 2e-6 for v in row]
                        for row in z])
    assert_close("sigmoid_derivative(z)", got, numeric, tol=max(1e-6, tolerance_for(got)),
                 wrong_answers=[
                     ("the sigmoid itself, sigmoid(z)", s),
                     ("z * (1 - z): the formula applied to z instead of sigmoid(z)", z * (1 - z)),
                     ("the derivative evaluated at the activation, sigma'(sigmoid(z))",
                      sigmoid(s) * (1 - sigmoid(s))),
                 ])


def check_softmax(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(4, 3))
    got = softmax(z.copy())
    arr = expect_array("softmax(z) for z of shape (4, 3)", got, z.shape)
    expect_finite("softmax(z)", arr)
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=1e-5):
        if np.allclose(arr.sum(axis=0), 1.0, atol=1e-5):
            raise CheckFailed("softmax normalises over the wrong axis: columns sum to 1, rows "
                              "should (use axis=-1 with keepdims=True).")
        raise CheckFailed(f"softmax rows should each sum to 1; they sum to "
                          f"{np.round(sums, 4).tolist()}.")
    e = np.exp(z - z.max(axis=1, keepdims=True))
    assert_close("softmax(z)", got, e / e.sum(axis=1, keepdims=True))


def check_softmax_extreme(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    z = np.array([[1000.0, 999.0, 998.0], [-1000.0, 0.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise", under="ignore"):
        try:
            got = softmax(z.copy())
        except FloatingPointError as exc:
            raise CheckFailed("softmax overflows for logits of size 1000 "
                              f"(numpy raised '{exc}'): subtract each row's maximum before "
                              "np.exp.") from None
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
    got = expect_python_float("cross_entropy(probs, y)", cross_entropy(probs.copy(), y.copy()))
    expected = float(-np.mean(np.sum(y * np.log(probs), axis=1)))
    total = float(-np.sum(y * np.log(probs)))
    if abs(got - expected) <= 1e-5 * max(1.0, abs(expected)):
        return
    if abs(got - total) <= 1e-5 * abs(total):
        raise CheckFailed(f"cross_entropy returns the sum over the batch ({got:.6f}); it should "
                          f"be the mean, {expected:.6f} (divide by the batch size).")
    if abs(got + expected) <= 1e-5 * abs(expected):
        raise CheckFailed("cross_entropy has the wrong sign: the loss is -mean(sum(y * log p)).")
    raise CheckFailed(f"cross_entropy(probs, y) returned {got:.6f}; expected {expected:.6f} "
                      "(mean over the batch of -sum(y * log(probs))).")


def check_linear_init(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    layer = LinearLayer(5, 3, np.random.default_rng(seed))
    W = expect_array("LinearLayer(5, 3, rng).W", layer.W, (5, 3))
    expect_array("LinearLayer(5, 3, rng).b", layer.b, (3,))
    if np.all(W == 0):
        raise CheckFailed("W is all zeros: every hidden unit would learn the same thing. "
                          "Draw W from rng.normal(...) scaled by about sqrt(2 / n_in).")
    other = snapshot(LinearLayer(5, 3, np.random.default_rng(seed + 1)).W)
    if np.array_equal(W, other):
        raise CheckFailed("W does not depend on rng: use the rng argument "
                          "(e.g. rng.normal(0, scale, size=(n_in, n_out))).")


def check_linear_forward(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    layer = LinearLayer(4, 3, np.random.default_rng(seed))
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    layer.W, layer.b = W.copy(), b.copy()
    x = rng.normal(size=(2, 4))
    assert_close("LinearLayer.forward(x) for x of shape (2, 4)", layer.forward(x.copy()),
                 x @ W + b, wrong_answers=[("x @ W without the bias", x @ W)])


def check_linear_backward(LinearLayer, seed: int = 0) -> None:
    """Shapes, then a float64 gradient check of dX, dW, db against central differences."""
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    n_batch, n_in, n_out = 2, 4, 3
    layer = LinearLayer(n_in, n_out, np.random.default_rng(seed))
    W, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
    x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
    layer.W, layer.b = W.copy(), b.copy()
    layer.forward(x.copy())
    dx = layer.backward(g.copy())
    dx_arr = expect_array("LinearLayer.backward(grad_out) (the gradient dX)", dx, x.shape)
    dW = expect_array("layer.dW after backward", layer.dW, W.shape)
    db = expect_array("layer.db after backward", layer.db, b.shape)
    num_dx = numerical_gradient(lambda v: float(np.sum((v @ W + b) * g)), x)
    num_dW = numerical_gradient(lambda v: float(np.sum((x @ v + b) * g)), W)
    num_db = numerical_gradient(lambda v: float(np.sum((x @ W + v) * g)), b)
    del dx_arr
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
    model.forward(x.copy())
    dx = network_backward(model, g.copy())
    expect_array("network_backward(model, grad_logits) (the gradient w.r.t. the input)", dx,
                 x.shape)
    numeric = _network_gradients(weights, x, g, activation)
    for i, (layer, (num_dW, num_db)) in enumerate(zip(model.layers, numeric)):
        expect_array(f"layers[{i}].dW", layer.dW, num_dW.shape)
        assert_close(f"layers[{i}].dW ({activation} network {list(sizes)})", layer.dW, num_dW,
                     tol=max(1e-6, tolerance_for(layer.dW)))
        assert_close(f"layers[{i}].db ({activation} network {list(sizes)})", layer.db, num_db,
                     tol=max(1e-6, tolerance_for(layer.db)))


def check_train_step(train_step, LinearLayer, MLP, activation: str = "relu", seed: int = 0,
                     sizes: Sequence[int] = (4, 5, 3), lr: float = 0.5) -> None:
    """One SGD step: the returned loss and every updated parameter, against float64 maths."""
    require_defined("train_step", train_step)
    model, x, weights = small_model(MLP, LinearLayer, sizes, activation, seed, batch=4)
    y = one_hot(np.random.default_rng(seed + 7).integers(0, sizes[-1], size=4), sizes[-1],
                np.float64)
    expected_loss = mean_cross_entropy(forward_with(weights, x, activation)[0], y)
    loss = expect_python_float("train_step(model, x, y, lr)", train_step(model, x.copy(),
                                                                           y.copy(), lr))
    if abs(loss - expected_loss) > 1e-4 * max(1.0, expected_loss):
        raise CheckFailed(f"train_step returned loss {loss:.6f}; the mean cross-entropy before "
                          f"the update is {expected_loss:.6f}.")
    for k, (W, b) in enumerate(weights):
        def loss_of(v, k=k, which=0):
            w = [list(p) for p in weights]
            w[k][which] = v
            return mean_cross_entropy(forward_with(w, x, activation)[0], y)

        num_dW = numerical_gradient(lambda v: loss_of(v, which=0), W)
        num_db = numerical_gradient(lambda v: loss_of(v, which=1), b)
        layer = model.layers[k]
        assert_close(f"layers[{k}].W after one step", layer.W, W - lr * num_dW,
                     tol=max(1e-6, tolerance_for(layer.W)), wrong_answers=[
                         ("moving uphill (W + lr * dW: wrong sign)", W + lr * num_dW),
                         ("not updating W at all", W)])
        assert_close(f"layers[{k}].b after one step", layer.b, b - lr * num_db,
                     tol=max(1e-6, tolerance_for(layer.b)), wrong_answers=[
                         ("moving uphill (b + lr * db: wrong sign)", b + lr * num_db),
                         ("not updating b at all", b)])


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

    from backprop_support import load_mnist, predict_with_weights

    require_defined("train_step", train_step)
    require_defined("LinearLayer", LinearLayer)
    cfg = {**MNIST_GRADING, **overrides}
    x_train, y_train, x_test, y_test = load_mnist(n_train=cfg["n_train"])
    model = MLP(cfg["layer_sizes"], LinearLayer, np.random.default_rng(cfg["seed"]))
    rng = np.random.default_rng(cfg["seed"])
    n, bs = len(x_train), cfg["batch_size"]
    total_batches = cfg["epochs"] * -(-n // bs)
    done, start = 0, time.perf_counter()
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n)
        for i in range(0, n, bs):
            idx = order[i:i + bs]
            loss = train_step(model, x_train[idx], one_hot(y_train[idx], 10, np.float32),
                              cfg["lr"])
            done += 1
            if not np.isfinite(_as_float(loss)):
                raise CheckFailed(
                    f"training on MNIST: the loss became {_as_float(loss)} at epoch {epoch + 1}, "
                    f"batch {i // bs + 1} (or train_step did not return a number).")
            if done in (5, 20) or done % 100 == 0:
                elapsed = time.perf_counter() - start
                projected = elapsed / done * total_batches
                if projected > cfg["time_budget_s"]:
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
            f"MNIST test accuracy after training is {acc:.1%}; at least {cfg['threshold']:.0%} "
            f"is required ({cfg['n_train']} training images, {cfg['epochs']} epoch(s), "
            f"learning rate {cfg['lr']}).")
    return acc


def check_answer_format(answers: dict[str, Any]) -> None:
    bad = [name for name, value in answers.items()
           if not (isinstance(value, str) and value.strip().lower() in ("a", "b", "c", "d"))]
    if bad:
        raise CheckFailed(f"set {', '.join(bad)} to one of the strings \"a\", \"b\", \"c\" or "
                          "\"d\".")


def debugging_checklist(LinearLayer, network_backward, softmax, cross_entropy,
                        train_step) -> dict[str, bool]:
    """Run the usual suspects against your code and print which look wrong."""
    from backprop_support import MLP, load_mnist

    def loss_at_initialisation():
        x, labels = load_mnist(n_train=512)[:2]
        model = MLP([784, 128, 10], LinearLayer, np.random.default_rng(0))
        loss = expect_python_float("cross_entropy(...)", cross_entropy(
            softmax(model.forward(x)), one_hot(labels, 10)))
        if not 1.5 < loss < 3.5:
            raise CheckFailed(f"the loss of a fresh network is {loss:.3f}; with 10 classes it "
                              f"should be close to ln(10) = {np.log(10):.3f}")

    def forward_values_sane():
        layer = LinearLayer(784, 128, np.random.default_rng(0))
        out = expect_array("LinearLayer(784, 128).forward(x)",
                           layer.forward(np.random.default_rng(1).random((8, 784))), (8, 128))
        expect_finite("the layer's output", out)

    def gradient_shapes():
        model = MLP([6, 5, 4], LinearLayer, np.random.default_rng(0))
        model.forward(np.ones((3, 6)))
        network_backward(model, np.ones((3, 4)) / 3)
        for i, layer in enumerate(model.layers):
            expect_array(f"layers[{i}].dW", layer.dW, np.shape(layer.W))
            expect_array(f"layers[{i}].db", layer.db, np.shape(layer.b))

    items = [
        ("forward values are finite and shaped (B, n_out)", forward_values_sane),
        ("loss at initialisation is about ln 10", loss_at_initialisation),
        ("gradient shapes equal parameter shapes", gradient_shapes),
        ("LinearLayer.backward passes a gradient check",
         lambda: check_linear_backward(LinearLayer)),
        ("derivatives are taken at the right cached tensor (ReLU network)",
         lambda: check_network_backward(network_backward, LinearLayer, MLP, "relu")),
        ("derivatives are taken at the right cached tensor (sigmoid network)",
         lambda: check_network_backward(network_backward, LinearLayer, MLP, "sigmoid")),
        ("the update uses every gradient, downhill, after backward",
         lambda: check_train_step(train_step, LinearLayer, MLP)),
    ]
    results = {}
    for title, run in items:
        try:
            run()
            results[title] = True
            print(f"  ok    {title}")
        except Exception as exc:  # noqa: BLE001 - report every failure, keep going
            results[title] = False
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            print(f"  FAIL  {title}\n        {type(exc).__name__}: {first}")
    return results
