"""Question 5: train_step (one SGD step, a large layer, the loss falling)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from backprop_support import one_hot

from . import carried, reference as ref
from .calling import call_student, call_within
from .compare import (CheckFailed, assert_close, close_number, expect_python_float, relative_error,
                      require_defined, tolerance_for)
from .networks import (carry, draw_weights, lower_fails, network, per_layer, read_weights,
                       stored_per_layer)
from .q2_softmax import (check_cross_entropy, check_cross_entropy_zeros, check_softmax,
                         check_softmax_extreme)
from .q3_linear import check_linear_backward, check_linear_forward
from .q4_network import check_network_backward
from .settings import LARGE_LAYER, LARGE_SQUARE, LOG_FLOOR_RANGE, TOLERANCES
from .timed import large_case, require_backprop_speed, timed_answers


def check_returned_loss(loss: Any, expected: float, after: float, n_batch: int,
                        rtol: float = TOLERANCES["loss"]) -> float:
    """The loss train_step returned against the trusted loss before the update."""
    what = "train_step(model, x, y, lr)"
    loss = expect_python_float(what, loss)
    if close_number(loss, expected, rtol):
        return loss
    numbers = f"\n  got {loss:.6f}; the mean cross-entropy before the update is {expected:.6f}."
    if not np.isfinite(loss):
        raise CheckFailed(f"train_step returned {loss}, not a finite loss." + numbers,
                          mistake="non_finite")
    if close_number(loss, after, rtol):
        raise CheckFailed("train_step returned the loss after the update: compute the loss "
                          "before changing any parameter." + numbers, mistake="loss_after_update")
    if close_number(loss, n_batch * expected, rtol):
        raise CheckFailed("train_step returned the sum over the batch instead of the mean."
                          + numbers, mistake="cross_entropy_sum")
    if close_number(loss, -expected, rtol):
        raise CheckFailed("train_step returned the loss with the wrong sign." + numbers,
                          mistake="cross_entropy_sign")
    raise CheckFailed("train_step returned the wrong loss: it should be cross_entropy(softmax("
                      "model.forward(x)), y) before the update; if that is what you return, "
                      "check softmax, cross_entropy and LinearLayer.forward." + numbers,
                      mistake="loss_wrong")


def check_train_step(train_step, LinearLayer, activation: str = "relu", seed: int = 0,
                     sizes: Sequence[int] = (4, 5, 3), lr: float = 0.5,
                     show_values: bool = True, softmax=None, cross_entropy=None,
                     network_backward=None, saturated: bool = False,
                     parts: str = "all") -> None:
    """One SGD step: the returned loss and every updated parameter, against float64 maths.

    A wrong parameter is compared with what typical mistakes give, to name the mistake.
    ``saturated``: logits about 1000 apart, so the probability of some true classes is exactly
    0; the loss must then be what a log floor from ``LOG_FLOOR_RANGE`` gives. Where the
    student's lower-level functions are wrong, train_step is judged with them (``carried.py``).
    ``parts``: "all", "loss" (the returned loss only) or "update" (the parameters only).
    """
    require_defined("train_step", train_step)
    what = "train_step(model, x, y, lr)" + (" when some true classes have probability 0"
                                           if saturated else "")

    def run(sizes, batch, repaired=False):
        weights, x = draw_weights(sizes, activation, seed, batch)
        labels = np.random.default_rng(seed + 7).integers(0, sizes[-1], size=len(x))
        if saturated:
            weights, labels = saturating(weights, x, activation)
        y = one_hot(labels, sizes[-1], np.float64)
        model, layers = network(LinearLayer, sizes, activation, weights, seed, repaired,
                                True)
        loss = call_student(what, train_step, model, x.copy(), y.copy(), lr,
                            context="parameters")
        return weights, x, y, layers, loss

    case = None
    try:
        case = weights, x, y, layers, loss = run(sizes, 4)
        expected_loss, expected, after, mistakes = ref.train_step_answers(weights, x, y,
                                                                           activation, lr)
        if parts != "update" and saturated:
            check_saturated_loss(loss, _floor_range(weights, x, y, activation), what)
        elif parts != "update":
            check_returned_loss(loss, expected_loss, after, len(x))
        new_weights = read_weights(layers, sizes, "after one step") if parts != "loss" else []
        if loss is None and all(np.array_equal(a, b) for new, old in zip(new_weights, weights)
                                for a, b in zip(new, old)):
            # a blank stub, not a step that forgets to update
            expect_python_float(what, loss)
        for k in range(len(new_weights)):
            for name, which in (("W", 0), ("b", 1)):
                value = new_weights[k][which]
                assert_close(f"layers[{k}].{name} after one step", value, expected[k][which],
                             tol=max(TOLERANCES["float64"], tolerance_for(value)),
                             show_values=show_values, mistake="update_wrong",
                             wrong_answers=[(d, new[k][which], m) for d, new, m in mistakes])
    except CheckFailed as failure:
        def own(case, repaired):
            weights, x, y = case[:3]
            expected_loss, expected = ref.train_step_answers(weights, x, y, activation, lr)[:2]
            correct = {"loss": _floor_range(weights, x, y, activation) if saturated
                       else expected_loss, **per_layer(expected, ("W", "b"))}
            return carried.own_train_step(LinearLayer, softmax, cross_entropy, network_backward,
                                          _sizes(weights), activation, weights, x, y, lr, seed,
                                          correct, repaired=repaired, loss_only=parts == "loss")

        carry(failure, case, own, lambda case: _got(case, parts), "train_step",
              lambda n: run([n] * len(sizes), n, True), max(sizes),
              lower_q5(LinearLayer, softmax, cross_entropy, network_backward, activation))
    require_backprop_speed(_large_train_step, train_step, LinearLayer, softmax, cross_entropy,
                           network_backward, 0)


def lower_q5(LinearLayer, softmax, cross_entropy, network_backward, activation: str = "relu"):
    """``lower`` for ``networks.carry``: the own checks of what train_step builds on (in a
    network of ``activation``)."""
    return lambda: lower_fails(
        lambda seed: check_linear_forward(LinearLayer, seed),
        lambda seed: check_linear_backward(LinearLayer, seed),
        lambda seed: check_softmax(softmax, seed),
        lambda seed: check_softmax_extreme(softmax, seed),
        lambda seed: check_cross_entropy(cross_entropy, seed),
        lambda seed: check_cross_entropy_zeros(cross_entropy),
        lambda seed: check_network_backward(network_backward, LinearLayer, activation, seed))


def _sizes(weights) -> list[int]:
    return [len(weights[0][0]), *(len(b) for _, b in weights)]


def _floor_range(weights, x, y, activation: str) -> tuple[float, float]:
    """The losses of the lowest and highest allowed log floor (some probabilities are 0)."""
    probs = ref.softmax_rows(ref.forward_with(weights, x, activation)[0])
    return ref.cross_entropy_range(probs, y, LOG_FLOOR_RANGE)


def _got(case, parts: str = "all") -> dict:
    """What train_step returned and left in the layers of ``case``."""
    values = {"loss": _number(case[4])} if parts != "update" else {}
    return values if parts == "loss" else {**values, **stored_per_layer(case[3], ("W", "b"))}


def saturating(weights, x: np.ndarray, activation: str) -> tuple[list, np.ndarray]:
    """The last layer scaled so every row's logits are at least 1000 apart, and each row's
    label the class of its smallest logit: its softmax probability is exactly 0 (exp(-1000)
    underflows)."""
    logits = ref.forward_with(weights, x, activation)[0]
    gap = float(np.min(logits.max(axis=1) - logits.min(axis=1)))
    scale = 1000.0 / max(gap, 1e-3)
    W, b = weights[-1]
    scaled = [*weights[:-1], (W * scale, b * scale)]
    return scaled, np.argmin(ref.forward_with(scaled, x, activation)[0], axis=1)


def check_saturated_loss(loss: Any, allowed: tuple[float, float], what: str) -> None:
    """The loss train_step returned when some true classes have probability exactly 0."""
    loss = expect_python_float(what, loss)
    low, high = allowed
    if not np.isfinite(loss):
        raise CheckFailed(f"{what} returned the loss {loss}: the log of a probability of 0 "
                          "is -inf (and 0 * -inf is nan). Compute the loss with your "
                          "cross_entropy, which clips the probabilities first.",
                          mistake="cross_entropy_log_of_zero")
    if not low * (1 - TOLERANCES["float64"]) <= loss <= high * (1 + TOLERANCES["float64"]):
        raise CheckFailed(f"{what} returned a loss that no log floor between "
                          f"{LOG_FLOOR_RANGE[0]:g} and {LOG_FLOOR_RANGE[1]:g} gives: compute it "
                          "with your cross_entropy, before the update.\n  got "
                          f"{loss:.6f}, allowed {low:.6f} to {high:.6f}", mistake="loss_wrong")


def _number(value: Any) -> float | None:
    """A loss train_step returned, as a float (None if it is not a number)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (float, int, np.ndarray)):
        return None
    return float(np.asarray(value, dtype=np.float64).reshape(-1)[0]) if np.size(value) == 1 \
        else None


def check_train_step_large(train_step, LinearLayer, seed: int = 0, softmax=None,
                           cross_entropy=None, network_backward=None) -> None:
    """One step on a 1024-1024-10 network within the time limit: backprop, not numerics
    (``timed.py``)."""
    large_case(_large_train_step, train_step, LinearLayer, softmax, cross_entropy,
               network_backward, seed)


def _large_train_step(train_step, LinearLayer, softmax, cross_entropy, network_backward,
                      seed: int) -> None:
    require_defined("train_step", train_step)
    sizes, lr = (LARGE_LAYER[1], LARGE_LAYER[2], 10), 0.1

    def run(sizes, batch, repaired=False):
        """One step within the time limit: ``(weights, x, y, layers, loss, answers)``."""
        rng = np.random.default_rng(seed)
        weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), np.zeros(n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        x = rng.normal(size=(batch, sizes[0]))
        y = one_hot(rng.integers(0, sizes[-1], size=len(x)), sizes[-1], np.float64)
        model, layers = network(LinearLayer, sizes, "relu", weights, seed, repaired, True)
        answers, limit = timed_answers(ref.large_train_step, weights, x, y, lr,
                                       layer=(weights[0][0], x))
        loss = call_within(limit, f"train_step(model, x, y, lr) for a "
                           f"{'-'.join(map(str, sizes))} network", train_step, model, x.copy(),
                           y.copy(), lr)
        return weights, x, y, layers, loss, answers

    case = None
    try:
        case = weights, x, y, layers, loss, answers = run(sizes, LARGE_LAYER[0])
        new_weights = read_weights(layers, sizes, "after one step")
        if answers is None:   # the public copy beside the notebook checks time and shapes only
            expect_python_float("train_step(model, x, y, lr)", loss)
            return
        expected_loss, expected, after = answers
        check_returned_loss(loss, expected_loss, after, len(x), rtol=TOLERANCES["large_layer"])
        for k, (W, b) in enumerate(new_weights):
            for name, value, want in (("W", W, expected[k][0]), ("b", b, expected[k][1])):
                assert_close(f"layers[{k}].{name} after one step of a 1024-1024-10 network",
                             value, want, tol=TOLERANCES["large_layer"], show_values=False,
                             mistake="update_wrong")
    except CheckFailed as failure:
        def own(case, repaired):
            weights, x, y, answers = case[0], case[1], case[2], case[5]
            correct = {"loss": answers[0], **per_layer(answers[1], ("W", "b"))}
            return carried.own_train_step(LinearLayer, softmax, cross_entropy, network_backward,
                                          _sizes(weights), "relu", weights, x, y, lr, seed,
                                          correct, tol=TOLERANCES["large_layer"], repaired=repaired)

        carry(failure, case, own, _got, "train_step", lambda n: run((n, n, n), n, True),
              LARGE_SQUARE, lower_q5(LinearLayer, softmax, cross_entropy, network_backward))


def check_loss_falls(train_step, LinearLayer, steps: int = 60, softmax=None,
                     cross_entropy=None, network_backward=None) -> None:
    """Repeated steps on two moons reduce the loss.

    The verdict comes from the check's own float64 replay of the same SGD steps; the weights
    the layers report afterwards must equal that replay, so weights an object makes up at the
    end gain nothing. Reported weights only ever turn a pass into a failure. Where the
    student's lower-level functions are wrong, the replay uses them (``carried.py``).
    """
    from backprop_support import make_two_moons

    lr = 0.5

    def run(x, y, sizes, repaired=False):
        rng = np.random.default_rng(4)
        weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), np.zeros(n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        model, layers = network(LinearLayer, sizes, "relu", weights, 0, repaired, True)
        for _ in range(steps):
            loss = call_student("train_step(model, x, y, lr)", train_step, model, x.copy(),
                                y.copy(), lr)
        return weights, x, y, layers, loss

    def square(n):
        rng = np.random.default_rng(5)
        return run(rng.normal(size=(n, n)), one_hot(rng.integers(0, n, size=n), n, np.float64),
                   (n, n, n), True)

    x, labels = make_two_moons(128, seed=3)
    case = None
    try:
        case = weights, x, y, layers, _ = run(x, one_hot(labels, 2, np.float64), (2, 16, 2))
        before, replay, replayed = ref.sgd_trajectory(weights, x, y, lr, steps)
        if not replayed < 0.8 * before:  # pragma: no cover - a property of the settings above
            raise RuntimeError("SGD does not reduce the two-moons loss with these settings")
        _judge_trajectory(layers, (2, 16, 2), steps, x, y, before, replay)
    except CheckFailed as failure:
        def own(case, repaired):
            weights, x, y = case[:3]
            _, replay, _ = ref.sgd_trajectory(weights, x, y, lr, steps)
            correct = per_layer(replay, ("W", "b"))
            return carried.own_train_step(LinearLayer, softmax, cross_entropy, network_backward,
                                          _sizes(weights), "relu", weights, x, y, lr, 0,
                                          correct, steps=steps, repaired=repaired)

        carry(failure, case, own, lambda case: _got(case, "update"), "train_step", square, 16,
              lower_q5(LinearLayer, softmax, cross_entropy, network_backward))
    require_backprop_speed(_large_train_step, train_step, LinearLayer, softmax, cross_entropy,
                           network_backward, 0)


def _judge_trajectory(layers, sizes, steps: int, x, y, before: float, replay) -> None:
    final = read_weights(layers, sizes, f"after {steps} steps")
    if not all(np.all(np.isfinite(p)) for pair in final for p in pair):
        raise CheckFailed("the weights became nan or inf while training on a toy problem.",
                          mistake="training_diverged")
    after = ref.loss_of(final, x, y)   # None in the public copy: the trajectory decides there
    if after is not None and not after < 0.8 * before:
        raise CheckFailed("repeated train_step calls on a toy problem do not reduce the loss "
                          "(measured from the weights): check the sign of the update and the "
                          f"gradients.\n  {steps} steps moved the loss from {before:.3f} to "
                          f"{after:.3f}.", mistake="loss_does_not_fall")
    err = max(relative_error(got, want) for pair, expected in zip(final, replay)
              for got, want in zip(pair, expected))
    if not err <= TOLERANCES["trajectory"]:
        raise CheckFailed("repeated train_step calls on a toy problem do not give the weights "
                          f"that {steps} SGD steps give (relative error {err:.2g}): each step "
                          "must be W -= lr * dW with the backpropagated gradient, for every "
                          "layer.", mistake="not_backprop_update")
