"""Calling student code: errors become ``CheckFailed`` with a hint for typical shape
mistakes; time limits and a stopped worker (typed exceptions of ``gradekit.sandbox``) pass
through unchanged."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np  # noqa: F401

from .compare import CheckFailed
from .settings import LARGE_LAYER_RATIO, LARGE_LAYER_SECONDS

try:
    from ..sandbox import OWN_LIMIT, StudentTimeout, WorkerDied
except ImportError:   # the copy beside the student's notebook runs without the grader
    OWN_LIMIT = None

    class StudentTimeout(Exception):
        """Never raised outside the grader."""

    class WorkerDied(Exception):
        """Never raised outside the grader."""

# Student code that runs out of time or crashes the grader's worker is reported as such.
PASS_THROUGH = (StudentTimeout, WorkerDied)

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


def explain_error(detail: str, context: str = "") -> tuple[str, str | None]:
    """``(hint, mistake id)`` for a typical error message from student code (``""``, None
    when none applies). ``context`` is "network" inside network_backward, "parameters" where
    gradients meet parameters (backward, train_step), else ""."""
    text = detail.lower()
    if any(p in text for p in ("matmul", "not aligned", "core dimension")):
        return MATMUL_HINT, "matmul_shapes"
    # numpy says "could not be broadcast" for a + b and "non-broadcastable output operand"
    # for a += b (an in-place update with a gradient of another shape)
    if "could not be broadcast" in text or "non-broadcastable output operand" in text:
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
    except (CheckFailed, *PASS_THROUGH):
        raise
    except Exception as exc:  # noqa: BLE001 - whatever student code raises
        type_name = getattr(exc, "type_name", type(exc).__name__)
        detail = str(getattr(exc, "detail", exc))
        where = f" ({exc.line})" if getattr(exc, "line", "") else ""
        hint, mistake = explain_error(detail, context)
        failed = CheckFailed(f"{what} raised {type_name}{where}" + (f": {hint}" if hint else ".")
                             + f"\n  {type_name}: {detail}",
                             mistake=mistake or "raised_exception")
        failed.student_raised = True
        raise failed from exc


def kit_function(name: str, like: Any) -> Callable:
    """The kit's function ``name`` (``backprop_support``) where ``like`` runs: in the
    grader's worker beside the student's objects, or here beside the notebook."""
    if hasattr(type(like), "kit_function"):   # a proxy for an object in the grader's worker
        return like.kit_function(name)
    import backprop_support
    if hasattr(backprop_support, name):
        return getattr(backprop_support, name)
    from ..worker import KIT_FUNCTIONS   # the grader's checks run in its own tests' process
    return KIT_FUNCTIONS[name]


def read_attribute(obj: Any, name: str, what: str, hint: str) -> Any:
    """``obj.name``; a clear failure when it was never set (a blank stub)."""
    try:
        value = getattr(obj, name)
    except PASS_THROUGH:
        raise
    except Exception:  # noqa: BLE001 - AttributeError here, or through the grader
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

    slow = CheckFailed(f"{what} is too slow: the grader allows the time of {LARGE_LAYER_RATIO} "
                       "forward passes through the same layer, timed at the same moment (the "
                       f"check beside your notebook allows {LARGE_LAYER_SECONDS:g} s), and every "
                       "gradient check of Questions 3 to 5 needs this speed. "
                       "Compute the gradients with the backpropagation equations 2 to 4 (the "
                       "chain rule) as whole-batch matrix products, not numerically: finite "
                       "differences need two forward passes per input of a layer (thousands "
                       "here), and a Python loop over the entries is as slow.",
                       mistake="backward_not_vectorised")
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
    except CheckFailed as exc:
        if isinstance(exc.__cause__, TooSlow):   # the alarm went off inside student code
            raise slow from None
        raise
    except Exception as exc:  # noqa: BLE001 - the grader's limit for this call
        if isinstance(exc, StudentTimeout) and OWN_LIMIT and OWN_LIMIT in str(exc):
            raise slow from None
        raise
    finally:
        if local:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
    if time.perf_counter() - start > seconds:
        raise slow
    return result
