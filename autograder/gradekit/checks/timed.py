"""The large cases of q3-q5: a time limit that the backpropagation equations meet and finite
differences cannot, judged against the reference's own time in the same grading.

The unit is the reference's forward pass through the case's 1024 x 1024 layer (float64,
``reference.forward_with``), timed just before the student's call, so a busy machine slows
both alike; the limit is ``LARGE_LAYER_RATIO`` such passes. Measured on the 2-core machine, in
those units: a correct implementation 7 to 20, einsum about 25, a Python loop over the
examples and input features 110 to 180; finite differences, batched as cleverly as they can
be (two forward passes per input of a layer: over 2,000 here), 4,600 to 7,500. Beside the
notebook there is no reference to time: the local check applies the fixed
``LARGE_LAYER_SECONDS``.

Every case of q3-q5 that grades a gradient also requires the large case's speed
(``require_backprop_speed``): gradients by finite differences earn nothing anywhere. The large
case runs once per grading and its verdict is shared.
"""

from __future__ import annotations

import time
from typing import Any, Callable

import numpy as np

from . import draws, reference as ref
from .compare import CheckFailed
from .settings import LARGE_LAYER_MIN_SECONDS, LARGE_LAYER_RATIO, LARGE_LAYER_SECONDS


def timed_answers(reference: Callable, *args: Any, layer: tuple) -> tuple[Any, float]:
    """``(reference(*args), the time limit for the student's call computing the same)``;
    ``layer`` is ``(W, x)`` of the case's large layer. The answers are None beside the
    notebook (stored answers hold none for these cases)."""
    answers = reference(*args)
    if answers is None:
        return None, LARGE_LAYER_SECONDS
    W, x = layer
    unit = min(_seconds(ref.forward_with, [(W, np.zeros(W.shape[1]))], x, "relu")
               for _ in range(3))
    return answers, max(LARGE_LAYER_RATIO * unit, LARGE_LAYER_MIN_SECONDS)


def _seconds(fn: Callable, *args: Any) -> float:
    start = time.perf_counter()
    fn(*args)
    return time.perf_counter() - start


# The outcome of each large case, kept for the rest of a grading (or, without a grading
# secret, for as long as the same functions are checked): ``{key: (args, CheckFailed | None)}``.
_outcomes: dict = {}


def large_case(check: Callable, *args: Any) -> None:
    """Run the large case ``check(*args)`` once and raise its failure, if any, every time."""
    outcome = _outcome(check, args)
    if outcome is not None:
        raise outcome


def require_backprop_speed(check: Callable, *args: Any) -> None:
    """A gradient earns points only at the speed of backpropagation: fail as the large case
    ``check(*args)`` does when it failed for its time limit (run once, shared with it)."""
    outcome = _outcome(check, args)
    if outcome is not None and outcome.mistake == "backward_not_vectorised":
        raise outcome


def _outcome(check: Callable, args: tuple):
    secret = draws.current_secret()
    key = (check.__name__, secret) if secret else (check.__name__, *map(id, args))
    if key not in _outcomes:
        try:
            check(*args)
            outcome = None
        except CheckFailed as exc:
            outcome = exc
        _outcomes[key] = (args, outcome)   # the arguments stay alive: their ids stay theirs
    return _outcomes[key][1]
