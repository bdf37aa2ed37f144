"""Question 3: LinearLayer (init, forward, backward)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from . import reference as ref
from .calling import call_student, call_within, read_attribute
from .compare import (CheckFailed, assert_close, expect_array, expect_finite, relative_error,
                      require_defined, snapshot, tolerance_for)
from .settings import INIT_BIAS_MAX, INIT_LAYER, INIT_STD, INIT_STD_STATED, LARGE_LAYER, TOLERANCES
from .timed import large_case, require_backprop_speed, timed_answers


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


def init_std_range(n_in: int) -> tuple[float, float]:
    """The standard deviations of W the checks admit for ``n_in`` inputs (``INIT_STD``)."""
    return INIT_STD[0], INIT_STD[1] * float(np.sqrt(2.0 / n_in))


def check_linear_init_scale(LinearLayer, seed: int = 0, n_in: int = INIT_LAYER[0],
                            n_out: int = INIT_LAYER[1]) -> None:
    """W's standard deviation, estimated on ``n_in * n_out`` weights, within ``INIT_STD``
    (settings.py: why no seed can change the decision). All-zero weights are left to
    ``check_linear_init`` (``init_zero``), so that they fail one check."""
    require_defined("LinearLayer", LinearLayer)
    what = f"LinearLayer({n_in}, {n_out}, rng).W"
    layer = _layer(LinearLayer, n_in, n_out, seed)
    W = snapshot(what, read_attribute(layer, "W", what, INIT_HINT), (n_in, n_out))
    expect_finite(what, W)
    if not np.any(W):
        return
    low, high = init_std_range(n_in)
    std = float(W.std())
    if not low <= std <= high:
        he = float(np.sqrt(2.0 / n_in))
        stated_low = np.format_float_scientific(INIT_STD_STATED[0], trim="-", exp_digits=1)
        raise CheckFailed(f"the initial weights' standard deviation is {std:.2g}, outside the "
                          f"allowed range from {stated_low} to "
                          f"{INIT_STD_STATED[1]:g} x sqrt(2 / n_in) (here {n_in} inputs, so "
                          f"He's scale is {he:.2g}): draw W with "
                          "rng.normal(0, sqrt(2 / n_in), ...).", mistake="init_scale")


def check_linear_init_bias(LinearLayer, seed: int = 0, n_in: int = INIT_LAYER[0],
                           n_out: int = INIT_LAYER[1]) -> None:
    """b starts at zero (any |b| up to ``INIT_BIAS_MAX`` trains as well)."""
    require_defined("LinearLayer", LinearLayer)
    what = f"LinearLayer({n_in}, {n_out}, rng).b"
    layer = _layer(LinearLayer, n_in, n_out, seed)
    b = snapshot(what, read_attribute(layer, "b", what, INIT_HINT), (n_out,))
    if not np.all(np.abs(b) <= INIT_BIAS_MAX):
        raise CheckFailed("the initial biases are large: start them at zero.",
                          mistake="init_bias_large")


def check_linear_forward(LinearLayer, seed: int = 0) -> None:
    require_defined("LinearLayer", LinearLayer)
    rng = np.random.default_rng(seed)
    layer = _layer(LinearLayer, 4, 3, seed)
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    layer.W, layer.b = W.copy(), b.copy()
    x = rng.normal(size=(2, 4))
    out = call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    answers = ref.linear_forward(x, W, b)
    assert_close("LinearLayer.forward(x) for x of shape (2, 4)", out, answers["expected"],
                 wrong_answers=[("x @ W without the bias", answers["no_bias"],
                                 "forward_without_bias")])


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


def compare_linear_gradients(dx, dW, db, answers: dict, sizes: str = "",
                             show_values: bool = True):
    """dX, dW, db against ``answers`` (``reference.linear_gradients``); typical mistakes are
    named."""
    a = answers
    assert_close(f"dX returned by backward{sizes}", dx, a["dx"], show_values=show_values,
                 wrong_answers=[
                     ("grad_out @ W.reshape(n_out, n_in) (a reshape instead of a transpose)",
                      a["dx_reshape"], "dx_reshape"),
                     ("grad_out @ W (W not transposed)", a["dx_not_transposed"],
                      "dx_not_transposed")])
    assert_close(f"layer.dW{sizes}", dW, a["dW"], show_values=show_values, wrong_answers=[
        ("the mean over the batch instead of the sum", a["dw_mean"], "dw_mean"),
        ("(grad_out.T @ x) reshaped instead of transposed", a["dw_reshape"], "dw_reshape"),
        ("grad_out.T @ x (dW transposed)", a["dw_transposed"], "dw_transposed")])
    assert_close(f"layer.db{sizes}", db, a["db"], show_values=show_values,
                 wrong_answers=[("the mean over the batch instead of the sum", a["db_mean"],
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
            answers = ref.linear_gradients(W, x, g)
            tol = TOLERANCES["float64"]
            if first is not None and (relative_error(dW, first[0] + answers["dW"]) < tol
                                      or relative_error(db, first[1] + answers["db"]) < tol):
                raise CheckFailed("the second backward adds its gradients to those of the first: "
                                  "dW and db are accumulated with += and never reset. Assign "
                                  "them (self.dW = ...) instead.",
                                  mistake="gradients_accumulated")
            compare_linear_gradients(dx, dW, db, answers, sizes + when, show_values)
            first = (dW, db)
    require_backprop_speed(_large_linear_backward, LinearLayer, 0)


# The hidden tests check LinearLayer.backward one cause at a time (each with its own fixed
# message): the shapes of dX, dW and db; W and b left unchanged; fresh gradients at every
# call; the values. Each check resets W and b before every call and judges only its cause.
# B differs from n_in and n_out, so that a sum over the wrong axis or dW in place of dX shows
# as a shape alone; the square layer shows a transpose that keeps the shape.
HIDDEN_SHAPES = ((5, 3, 4), (1, 6, 2), (6, 7, 7), (5, 4, 3))


def _backward_case(LinearLayer, seed: int, n_batch: int, n_in: int, n_out: int):
    """A layer with known W and b, and a batch: ``(layer, W, b, x, g)``."""
    rng = np.random.default_rng([seed, n_batch, n_in, n_out])
    layer = _layer(LinearLayer, n_in, n_out, seed)
    W, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
    x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
    return layer, W, b, x, g


def _run_backward(layer, W, b, x, g) -> Any:
    """forward(x) then backward(g) with W and b reset first; dX as returned."""
    layer.W, layer.b = W.copy(), b.copy()
    call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    return call_student("LinearLayer.backward(grad_out)", layer.backward, g.copy(),
                        context="parameters")


def _forward_backward(layer, W, b, x, g) -> tuple[Any, Any, Any]:
    """``_run_backward``, then ``(dX, dW, db)`` as returned and stored."""
    dx = _run_backward(layer, W, b, x, g)
    dW = read_attribute(layer, "dW", "layer.dW", "backward must store self.dW.")
    db = read_attribute(layer, "db", "layer.db", "backward must store self.db.")
    return dx, dW, db


def check_linear_backward_shapes(LinearLayer, seed: int = 0,
                                 shapes: Sequence[tuple[int, int, int]] = HIDDEN_SHAPES) -> None:
    """dX ``(B, n_in)``, dW ``(n_in, n_out)`` and db ``(n_out,)``, floating point."""
    require_defined("LinearLayer", LinearLayer)
    for n_batch, n_in, n_out in shapes:
        layer, W, b, x, g = _backward_case(LinearLayer, seed, n_batch, n_in, n_out)
        dx, dW, db = _forward_backward(layer, W, b, x, g)
        hints = linear_backward_shape_hints(n_batch, n_in, n_out)
        sizes = f"(B={n_batch}, n_in={n_in}, n_out={n_out})"
        expect_array(f"LinearLayer.backward(grad_out) {sizes}", dx, x.shape,
                     shape_hints=hints["dx"])
        expect_array(f"layer.dW after backward {sizes}", dW, W.shape)
        expect_array(f"layer.db after backward {sizes}", db, b.shape, shape_hints=hints["db"])
    require_backprop_speed(_large_linear_backward, LinearLayer, 0)


def check_linear_backward_keeps_parameters(LinearLayer, seed: int = 0,
                                           shapes: Sequence[tuple[int, int, int]] =
                                           HIDDEN_SHAPES) -> None:
    """W and b are exactly what they were after a backward that did something (returned dX
    or stored dW: a blank stub changes nothing, yet earns nothing here)."""
    require_defined("LinearLayer", LinearLayer)
    for n_batch, n_in, n_out in shapes:
        layer, W, b, x, g = _backward_case(LinearLayer, seed, n_batch, n_in, n_out)
        if _run_backward(layer, W, b, x, g) is None:
            read_attribute(layer, "dW", "layer.dW", "LinearLayer.backward returned None and "
                           "stored no dW: it is not implemented yet.")
        if not (np.array_equal(snapshot("layer.W after backward", layer.W, W.shape), W)
                and np.array_equal(snapshot("layer.b after backward", layer.b, b.shape), b)):
            raise CheckFailed("backward changed W or b: it must only compute gradients; "
                              "train_step updates the parameters once every gradient is known.",
                              mistake="backward_changes_parameters")
    require_backprop_speed(_large_linear_backward, LinearLayer, 0)


def check_linear_backward_fresh_gradients(LinearLayer, seed: int = 0,
                                          shapes: Sequence[tuple[int, int, int]] =
                                          HIDDEN_SHAPES) -> None:
    """After an earlier forward/backward on another batch, dW and db are what a fresh layer
    stores for this batch: nothing carried over from the earlier call (right or wrong as they
    may be, which the other checks judge)."""
    require_defined("LinearLayer", LinearLayer)
    for n_batch, n_in, n_out in shapes:
        used, W, b, x, g = _backward_case(LinearLayer, seed, n_batch, n_in, n_out)
        _forward_backward(used, W, b, 2 * x[::-1], g[::-1] - 1)
        again = _forward_backward(used, W, b, x, g)[1:]
        fresh = _forward_backward(_layer(LinearLayer, n_in, n_out, seed), W, b, x, g)[1:]
        for name, got, expected in zip(("dW", "db"), again, fresh):
            got = expect_array(f"layer.{name} after a second backward", got)
            expected = expect_array(f"layer.{name} after one backward", expected)
            if got.shape != expected.shape or not relative_error(got, expected) <= \
                    tolerance_for(got):
                raise CheckFailed("the second backward does not store the same gradients as "
                                  "a fresh layer's first: dW and db are accumulated with += "
                                  "and never reset. Assign them (self.dW = ...) instead.",
                                  mistake="gradients_accumulated")
    require_backprop_speed(_large_linear_backward, LinearLayer, 0)


def check_linear_backward_values(LinearLayer, seed: int = 0,
                                 shapes: Sequence[tuple[int, int, int]] = HIDDEN_SHAPES) -> None:
    """dX, dW and db of one backward against the equations. An array of another shape is
    ``check_linear_backward_shapes``'s failure, not compared here."""
    require_defined("LinearLayer", LinearLayer)
    for n_batch, n_in, n_out in shapes:
        layer, W, b, x, g = _backward_case(LinearLayer, seed, n_batch, n_in, n_out)
        got = _forward_backward(layer, W, b, x, g)
        answers = ref.linear_gradients(W, x, g)
        expected = (answers["dx"], answers["dW"], answers["db"])
        got = [value if not (isinstance(value, np.ndarray) and value.shape != want.shape)
               else want for value, want in zip(got, expected)]
        compare_linear_gradients(*got, answers, f" (B={n_batch}, n_in={n_in}, n_out={n_out})",
                                 show_values=False)
    require_backprop_speed(_large_linear_backward, LinearLayer, 0)


def check_linear_backward_vectorised(LinearLayer, seed: int = 0) -> None:
    """backward of a 1024 x 1024 layer, correct and within the time limit (``timed.py``)."""
    large_case(_large_linear_backward, LinearLayer, seed)


def _large_linear_backward(LinearLayer, seed: int) -> None:
    require_defined("LinearLayer", LinearLayer)
    n_batch, n_in, n_out = LARGE_LAYER
    rng = np.random.default_rng(seed)
    layer = _layer(LinearLayer, n_in, n_out, seed)
    W, b = rng.normal(0, 0.05, size=(n_in, n_out)), rng.normal(size=n_out)
    x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
    layer.W, layer.b = W.copy(), b.copy()
    call_student("LinearLayer.forward(x)", layer.forward, x.copy())
    answers, limit = timed_answers(ref.large_linear_gradients, W, x, g, layer=(W, x))
    dx = call_within(limit, f"LinearLayer.backward(grad_out) for a {n_in} x {n_out} layer",
                     layer.backward, g.copy())
    sizes = f" (B={n_batch}, n_in={n_in}, n_out={n_out})"
    dx = expect_array("dX returned by backward" + sizes, dx, x.shape)
    dW = expect_array("layer.dW" + sizes, layer.dW, W.shape)
    db = expect_array("layer.db" + sizes, layer.db, b.shape)
    if answers is not None:   # None: the public copy beside the notebook checks time and shapes
        compare_linear_gradients(dx, dW, db, answers, sizes, show_values=False)
