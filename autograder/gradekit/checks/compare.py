"""Comparisons and their messages: every failure is a ``CheckFailed`` whose first line is a
summary without test data (the grader shows only that line for hidden tests); later lines
add the numbers."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from .mistakes import MISTAKES
from .settings import TOLERANCES


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
        # set by ``calling.call_student`` when student code raised: a hidden test then says
        # only that (``verify.HIDDEN_RAISED``)
        self.student_raised = False

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
    # float16 keeps about 3 significant digits: its rounding error would fail (or be charged
    # to) the later questions that build on this result, so the notebook asks for float32/64
    if value.dtype == np.float16:
        raise CheckFailed(f"{what} is float16: compute in float32 or float64 (float16 keeps "
                          "only about 3 significant digits).", mistake="low_precision")
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

def relative_error(a: np.ndarray, b: np.ndarray) -> float:
    """``max|a - b| / max(|a|, |b|)``: 0 for equal arrays, about 1 for unrelated ones."""
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    scale = max(np.max(np.abs(a), initial=0.0), np.max(np.abs(b), initial=0.0), 1e-12)
    return float(np.max(np.abs(a - b), initial=0.0) / scale)


def tolerance_for(value: np.ndarray | Any) -> float:
    """Relative tolerance: tight for float64 results, looser for float32 ones (``expect_array``
    rejects float16)."""
    dtype = getattr(value, "dtype", np.dtype(np.float64))
    if dtype == np.float32:
        return TOLERANCES["float32"]
    return TOLERANCES["float64"]


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
        match = max(tol, TOLERANCES["mistake_match"])
        if wrong.shape == arr.shape and relative_error(arr, wrong) <= match:
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


def snapshot(what: str, value: Any, shape: tuple) -> np.ndarray:
    """A float64 copy of an array held by student code, after its shape and dtype are checked
    (nothing of another size is ever converted)."""
    return expect_array(what, value, shape)
