"""The large cases of q3-q5: a time limit that the backpropagation equations meet and finite
differences cannot, judged against the reference's own time in the same grading.

Finite differences need two forward passes per input of a layer (about 2,000 for the
1024-wide layer, however cleverly they are batched), the equations two or three matrix
products: measured on the 2-core machine, the cleverest finite differences took 800 to 1,600
times the reference's time, a correct implementation 0.5 to 2 times, einsum 4 times and a
Python loop over the examples 6 to 13 times. The limit is ``LARGE_LAYER_RATIO`` times the
reference's time for the same answers, measured just before the student's call, so a busy
machine slows both alike. Beside the notebook there is no reference to time: the local check
applies the fixed ``LARGE_LAYER_SECONDS``.

Every case of q3-q5 that grades a gradient also requires the large case's speed
(``require_backprop_speed``): gradients by finite differences earn nothing anywhere. The large
case runs once per grading and its verdict is shared.
"""

from __future__ import annotations

import time
from typing import Any, Callable

from . import draws
from .compare import CheckFailed
from .settings import LARGE_LAYER_MIN_SECONDS, LARGE_LAYER_RATIO, LARGE_LAYER_SECONDS


def timed_answers(reference: Callable, *args: Any) -> tuple[Any, float]:
    """``(reference(*args), the time limit for the student's call computing the same)``; the
    answers are None beside the notebook (stored answers hold none for these cases)."""
    start = time.perf_counter()
    answers = reference(*args)
    seconds = time.perf_counter() - start
    if answers is None:
        return None, LARGE_LAYER_SECONDS
    return answers, max(LARGE_LAYER_RATIO * seconds, LARGE_LAYER_MIN_SECONDS)


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
