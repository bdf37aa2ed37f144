"""Question 1: relu_derivative and sigmoid_derivative."""

from __future__ import annotations

import numpy as np

from . import reference as ref
from .calling import call_student
from .compare import assert_close, expect_array, expect_finite, require_defined, tolerance_for
from .networks import away_from_zero
from .settings import TOLERANCES


def check_relu_derivative(relu_derivative, seed: int = 0) -> None:
    require_defined("relu_derivative", relu_derivative)
    rng = np.random.default_rng(seed)
    z = away_from_zero(rng, (4, 5))
    got = call_student("relu_derivative(z)", relu_derivative, z.copy())
    # a 0/1 mask of any numeric dtype (float, bool, int) is the derivative the instructions allow
    answers = ref.relu_derivative_answers(z)
    assert_close("relu_derivative(z)", got, answers["expected"], floating=False,
                 wrong_answers=[("ReLU itself instead of its derivative", answers["relu"],
                                 "relu_derivative_returns_relu"),
                                ("a mask of z < 0 (inverted)", answers["inverted"],
                                 "relu_mask_inverted")])


def check_sigmoid_derivative(sigmoid_derivative, seed: int = 0) -> None:
    """Values at moderate z (|z| below about 8, where no formula overflows)."""
    require_defined("sigmoid_derivative", sigmoid_derivative)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 2, size=(3, 4))
    got = call_student("sigmoid_derivative(z)", sigmoid_derivative, z.copy())
    answers = ref.sigmoid_derivative_answers(z)
    assert_close("sigmoid_derivative(z)", got, answers["expected"],
                 tol=max(TOLERANCES["float64"], tolerance_for(got)),
                 wrong_answers=[
                     ("the sigmoid itself, sigmoid(z)", answers["sigmoid"],
                      "sigmoid_derivative_returns_sigmoid"),
                     ("the derivative formula applied to z itself instead of to sigmoid(z)",
                      answers["on_z"], "sigmoid_formula_on_z"),
                     ("the derivative evaluated at the activation, sigma'(sigmoid(z)): the "
                      "derivative applied to an output that is already a sigmoid",
                      answers["twice"], "sigmoid_derivative_twice"),
                 ])


# Large |z| where exp(-z) overflows: a derivative written with exp(-z) gives nan or inf there.
LARGE_Z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])


def check_sigmoid_derivative_large_z(sigmoid_derivative, z: np.ndarray = LARGE_Z) -> None:
    """Finite and right where exp(-z) overflows (|z| up to 1000); a separate check from the
    values at moderate z, so that each failure names one cause."""
    require_defined("sigmoid_derivative", sigmoid_derivative)
    what = f"sigmoid_derivative(z) for |z| up to {np.max(np.abs(z)):g}"
    with np.errstate(all="ignore"):
        big = call_student(what, sigmoid_derivative, z.copy())
    arr = expect_array(what, big, z.shape)
    expect_finite(what, arr, ": np.exp(-z) overflows there; use the provided, overflow-safe "
                             "sigmoid", mistake="sigmoid_derivative_overflow")
    assert_close(what, big, ref.sigmoid_derivative_answers(z)["expected"],
                 mistake="sigmoid_derivative_overflow")
