"""Tools for finding your own bugs (not used for grading): gradient checks against numerical
derivatives, and the debugging checklist that tests the usual suspects one by one.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from backprop_maths import (DERIVATIVES, backprop, eager_update, forward_with,
                            mean_cross_entropy, relative_error, softmax_rows)
from backprop_support import MLP, _layer_output, one_hot


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
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


def _largest_differences(analytic: np.ndarray, numeric: np.ndarray, k: int) -> list[str]:
    """The ``k`` entries where the two gradients disagree most, as printable strings."""
    diff = np.abs(analytic - numeric).ravel()
    lines = []
    for flat in np.argsort(-diff, kind="stable")[:k]:
        index = [int(i) for i in np.unravel_index(flat, analytic.shape)]
        lines.append(f"{index}: analytic {analytic.flat[flat]:+.6g}, "
                     f"numerical {numeric.flat[flat]:+.6g}")
    return lines


def _pattern_hint(analytic: np.ndarray, numeric: np.ndarray) -> str:
    """Name a simple distortion (all zeros, flipped sign, constant factor) of a wrong gradient."""
    if not np.any(analytic):
        return "the analytic gradient is all zeros: is it computed and stored?"
    norm = float(np.vdot(numeric, numeric))
    if norm == 0.0:
        return ""
    factor = float(np.vdot(analytic, numeric)) / norm
    if relative_error(analytic, factor * numeric) > 1e-4:
        return ""
    if abs(factor + 1) < 1e-3:
        return "analytic = -numerical everywhere: a sign is flipped."
    return (f"analytic = {factor:.4g} x numerical everywhere: a missing or extra factor "
            "(the batch size?).")


def compare_gradients(name: str, analytic, numeric: np.ndarray, tolerance: float = 1e-5,
                      verbose: bool = True) -> float:
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
            print(f"{label}FAIL: the gradient has shape {analytic.shape}, it should have the "
                  f"parameter's shape {numeric.shape}")
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
        hint = "" if ok else _pattern_hint(analytic, numeric)
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


def gradient_check_layer(layer: Any, x: np.ndarray | None = None, *, batch: int = 6,
                         seed: int = 0, params: Sequence[str] = ("W", "b"),
                         tolerance: float = 1e-5, verbose: bool = True) -> dict[str, float]:
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
    grad_out = rng.normal(size=np.shape(out))
    dx = layer.backward(grad_out.copy())
    analytic = {"dX": None if dx is None else np.array(dx, dtype=np.float64)}
    for name in params:
        grad = getattr(layer, f"d{name}", None)
        analytic[f"d{name}"] = None if grad is None else np.array(grad, dtype=np.float64)

    x_probe = x.copy()

    def loss() -> float:
        return float(np.sum(np.asarray(layer.forward(x_probe), dtype=np.float64) * grad_out))

    numeric = {"dX": numerical_gradient(loss, x_probe)}
    for name in params:
        numeric[f"d{name}"] = numerical_gradient(loss, getattr(layer, name))
    if verbose:
        print(f"gradient check of {type(layer).__name__}: loss = sum(forward(x) * G), "
              f"x {x.shape}, G {grad_out.shape}")
    return {key: compare_gradients(f"{key} (returned)" if key == "dX" else key,
                                   analytic[key], numeric[key], tolerance, verbose)
            for key in numeric}


def gradient_check(model: MLP, network_backward: Callable, softmax: Callable,
                   cross_entropy: Callable, *, batch: int = 6, seed: int = 0,
                   tolerance: float = 1e-5, verbose: bool = True) -> dict[str, float]:
    """Compare your analytic gradients with numerical ones for every parameter of ``model``.

    Runs ``network_backward(model, (softmax(logits) - y) / B)`` on a small random float64
    batch and compares every layer's ``dW`` and ``db`` and the returned ``dL/dx`` with central
    differences of ``cross_entropy(softmax(model.forward(x)), y)``: your own softmax and
    cross-entropy, so finish Question 2 first. Keep the model small (e.g. ``[5, 4, 3]``):
    each parameter costs two forward passes. The model's parameters become float64 and its
    biases small random numbers: with zero biases, a ReLU input can be exactly 0, where ReLU
    has no derivative and the numerical gradient disagrees with any analytic one.

    Returns:
        ``{"layers[0].W": error, "layers[0].b": error, ..., "dL/dx": error}``; prints one line
        per parameter with the tolerance beside it and the entries that disagree most.
    """
    rng = np.random.default_rng(seed)
    for i, layer in enumerate(model.layers):
        _float64_parameters(layer, ("W", "b"), f"layers[{i}]")
        layer.b = rng.normal(0.0, 0.1, size=np.shape(layer.b))
    n_in, n_out = model.layer_sizes[0], model.layer_sizes[-1]
    x = rng.normal(size=(batch, n_in))
    y = one_hot(rng.integers(0, n_out, size=batch), n_out, np.float64)
    x_probe = x.copy()

    def loss() -> float:
        return float(cross_entropy(softmax(model.forward(x_probe)), y))

    probs = softmax(model.forward(x.copy()))
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
    numeric = {f"layers[{i}].{name}": numerical_gradient(loss, getattr(layer, name))
               for i, layer in enumerate(model.layers) for name in ("W", "b")}
    numeric["dL/dx (returned)"] = numerical_gradient(loss, x_probe)
    if verbose:
        print(f"gradient check of a {model.activation} network {model.layer_sizes} on a batch "
              f"of {batch}")
    return {key: compare_gradients(key, analytic[key], numeric[key], tolerance, verbose)
            for key in numeric}


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

    import backprop_maths
    import backprop_support
    import checklib
    from backprop_support import load_mnist
    from checklib import (CheckFailed, assert_close, check_linear_backward, draw_weights,
                          expect_array, expect_finite, expect_python_float)

    kit_files = {Path(p).resolve() for p in (__file__, backprop_support.__file__,
                                             backprop_maths.__file__, checklib.__file__)}

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

    def wrong_factors(activation):
        """(description, factor) pairs for the usual mistakes between two layers (the
        ``factor`` argument of ``backprop_maths.backprop``)."""
        other = "sigmoid" if activation == "relu" else "relu"
        return [
            ("taking the derivative at the activations A = f(Z) (model.activations[i]) "
             "instead of the pre-activations Z (model.pre_activations[i])",
             lambda i, pre, act, d: d(act[i])),
            ("never multiplying by the activation's derivative", None),
            ("using the pre-activation of the layer above (an index off by one)",
             lambda i, pre, act, d: d(pre[min(i + 1, len(pre) - 1)])),
            (f"using the {other} derivative in a {activation} network (choose it from "
             "model.activation)", lambda i, pre, act, d: DERIVATIVES[other](pre[i])),
        ]

    def small_model(sizes, activation, seed, batch=3):
        weights, x = draw_weights(sizes, activation, seed, batch)
        model = MLP(list(sizes), LinearLayer, np.random.default_rng(seed), activation=activation)
        for layer, (W, b) in zip(model.layers, weights):
            layer.W, layer.b = W.copy(), b.copy()
        return model, x, weights

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
        kit = mean_cross_entropy(np.asarray(logits, dtype=np.float64), y.astype(np.float64))
        ln10 = float(np.log(10))
        if not ln10 - 0.6 < kit < ln10 + 0.9:
            raise CheckFailed(
                f"the mean cross-entropy of a fresh network is {kit:.3f}; with 10 classes and "
                f"small random weights every class gets about 1/10, so it should be near "
                f"ln(10) = {ln10:.3f}. The logits have standard deviation "
                f"{np.std(logits):.2f}: the initial weights are too large.")
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
                    hint = (" It is transposed: dW has the shape of W, (n_in, n_out); check the "
                            "order of the product in equation 2.")
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
            model, x, weights = small_model(sizes, activation, seed=11)
            g = np.random.default_rng(12).normal(size=(x.shape[0], sizes[-1]))
            model.forward(x.copy())
            network_backward(model, g.copy())
            expected = backprop(weights, x, g, activation)
            wrong = [(d, grads) for d, f in wrong_factors(activation)
                     if (grads := backprop(weights, x, g, activation, f)) is not None]
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
        model, x, weights = small_model(sizes, "relu", seed=21, batch=batch)
        y = one_hot(np.random.default_rng(22).integers(0, 3, size=batch), 3, np.float64)
        logits, _ = forward_with(weights, x, "relu")
        before = mean_cross_entropy(logits, y)
        g = (softmax_rows(logits) - y) / batch
        grads = backprop(weights, x, g, "relu")
        eager = eager_update(weights, x, g, "relu", lr)
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
