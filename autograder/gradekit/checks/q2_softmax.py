"""Question 2: softmax and cross_entropy."""

from __future__ import annotations

import numpy as np

from backprop_support import one_hot

from . import reference as ref
from .calling import call_student
from .compare import (CheckFailed, assert_close, close_number, expect_array, expect_finite,
                      expect_python_float, require_defined)
from .settings import LOG_FLOOR_RANGE, TOLERANCES


def check_softmax(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    rng = np.random.default_rng(seed)
    z = rng.normal(0, 3, size=(4, 3))
    got = call_student("softmax(z)", softmax, z.copy())
    arr = expect_array("softmax(z) for z of shape (4, 3)", got, z.shape)
    expect_finite("softmax(z)", arr)
    sums = arr.sum(axis=-1)
    if not np.allclose(sums, 1.0, atol=TOLERANCES["row_sums"]):
        if np.allclose(arr.sum(axis=0), 1.0, atol=TOLERANCES["row_sums"]):
            raise CheckFailed("softmax normalises over the wrong axis: columns sum to 1, rows "
                              "should (normalise along the last axis).",
                              mistake="softmax_wrong_axis")
        if np.isclose(arr.sum(), 1.0, atol=TOLERANCES["row_sums"]):
            raise CheckFailed("softmax rows should each sum to 1, but the whole array sums to "
                              "1: normalise each row separately.", mistake="softmax_whole_array")
        raise CheckFailed("softmax rows should each sum to 1, but they do not.\n"
                          f"  row sums: {np.round(sums, 4).tolist()}")
    assert_close("softmax(z)", got, ref.softmax_rows(z))
    check_softmax_batch_axes(softmax, rng.normal(0, 3, size=(2, 3, 4)))


def check_softmax_batch_axes(softmax, z: np.ndarray) -> None:
    """A batch with more than two axes (the notebook: any number of leading axes): a softmax
    over axis 1, right for a 2-D batch, is named here."""
    what = f"softmax(z) for z of shape {z.shape}"
    got = call_student(what, softmax, z.copy())
    arr = expect_array(what, got, z.shape)
    expect_finite(what, arr)
    if not np.allclose(arr.sum(axis=-1), 1.0, atol=TOLERANCES["row_sums"]) \
            and np.allclose(arr.sum(axis=1), 1.0, atol=TOLERANCES["row_sums"]):
        raise CheckFailed(f"{what} sums to 1 along axis 1, not along the last axis: normalise "
                          "along the last axis (axis=-1), which is the rows of a 2-D batch and "
                          "stays right for any number of axes.", mistake="softmax_wrong_axis")
    assert_close(what, got, ref.softmax_rows(z))


def check_softmax_extreme(softmax, seed: int = 0) -> None:
    require_defined("softmax", softmax)
    z = np.array([[1000.0, 999.0, 998.0], [-1000.0, 0.0, 1000.0]])
    with np.errstate(all="ignore"):
        got = call_student("softmax(z) for logits of magnitude 1000", softmax, z.copy())
    arr = expect_array("softmax(z) for logits of magnitude 1000", got, z.shape)
    expect_finite("softmax(z) for logits of magnitude 1000", arr,
                  ": np.exp overflows; subtract each row's maximum before np.exp",
                  mistake="softmax_overflow")
    assert_close("softmax(z) for logits of magnitude 1000", got, ref.softmax_rows(z),
                 mistake="softmax_overflow")


def check_cross_entropy(cross_entropy, seed: int = 0) -> None:
    """The value on probabilities without exact zeros (those are ``check_cross_entropy_zeros``'s,
    so that a missing log guard fails only that check)."""
    require_defined("cross_entropy", cross_entropy)
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(5, 4))
    probs = ref.softmax_rows(logits)
    y = one_hot(rng.integers(0, 4, size=5), 4, np.float64)
    what = "cross_entropy(probs, y)"
    got = expect_python_float(what, call_student(what, cross_entropy, probs.copy(), y.copy()))
    expected, total = ref.cross_entropy_answers(probs, y)
    numbers = f"\n  got {got:.6f}, expected {expected:.6f}"
    if not np.isfinite(got):
        raise CheckFailed(f"cross_entropy returned {got}, not a finite number." + numbers,
                          mistake="non_finite")
    if not close_number(got, expected, TOLERANCES["cross_entropy"]):
        if close_number(got, total, TOLERANCES["cross_entropy"]):
            raise CheckFailed("cross_entropy returns the sum over the batch; it should be the "
                              "mean (divide by the batch size)." + numbers,
                              mistake="cross_entropy_sum")
        if close_number(got, -expected, TOLERANCES["cross_entropy"]):
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


def check_cross_entropy_zeros(cross_entropy,
                              probs: np.ndarray | None = None, y: np.ndarray | None = None) -> None:
    """Finite, and right for any allowed log floor, when probabilities are exactly 0."""
    require_defined("cross_entropy", cross_entropy)
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
    low, high = ref.cross_entropy_range(probs, y, LOG_FLOOR_RANGE)
    if not low * (1 - TOLERANCES["float64"]) <= got <= high * (1 + TOLERANCES["float64"]):
        raise CheckFailed(f"{what} is finite but not what a floor between "
                          f"{LOG_FLOOR_RANGE[0]:g} and {LOG_FLOOR_RANGE[1]:g} gives: clip the "
                          "probabilities to a tiny positive minimum such as 1e-12, not a large "
                          f"constant.\n  got {got:.6f}, allowed {low:.6f} to {high:.6f}",
                          mistake="cross_entropy_large_floor")
