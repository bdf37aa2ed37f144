"""Question 1: relu_derivative and sigmoid_derivative."""

from __future__ import annotations

from typing import Any, Sequence  # noqa: F401

import numpy as np

from backprop_support import one_hot, sigmoid  # noqa: F401

from .calling import call_student, call_within, read_attribute  # noqa: F401
from .compare import (CheckFailed, assert_close, close_number, expect_array,  # noqa: F401
                      relative_error,
                      expect_finite, expect_python_float, require_defined, snapshot,
                      tolerance_for)
from .networks import away_from_zero, draw_weights, forward_layers, network, read_weights  # noqa: F401
from .reference import (ACTS, backprop, backprop_input, backprop_mistakes,  # noqa: F401
                        eager_update, forward_with, mean_cross_entropy,
                        sgd_reference, softmax_rows, updated)
from .settings import (LARGE_LAYER, LARGE_LAYER_SECONDS, LOG_FLOOR_RANGE,  # noqa: F401
                       MIN_SECONDS_BEFORE_STOP, MNIST_GRADING, MNIST_PUBLIC, TOLERANCES)


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
    assert_close("sigmoid_derivative(z)", got, expected, tol=max(TOLERANCES["float64"], tolerance_for(got)),
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
