"""Question 6: the MNIST harness (the graded run, which the public check runs too)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from backprop_support import one_hot

from . import draws, reference as ref
from .calling import StudentTimeout, call_student
from .compare import CheckFailed, relative_error, require_defined
from .networks import network, read_weights
from .settings import MIN_SECONDS_BEFORE_STOP, MNIST_GRADING, TOLERANCES


def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except Exception:  # noqa: BLE001 - any odd return value counts as "not a number"
        return float("nan")


# The outcome of the graded run, kept for the rest of a grading: the public and the hidden
# test of q6 make the same run (the grading's secret draws its order), so it is made once.
_runs: dict = {}


def check_mnist_accuracy(train_step, LinearLayer, **overrides: Any) -> float:
    """``train_and_check(train_step, LinearLayer, **overrides)``, made once per grading (and
    every time beside the notebook, where there is no secret)."""
    secret = draws.current_secret()
    if secret is None:
        return train_and_check(train_step, LinearLayer, **overrides)
    key = (secret, repr(sorted(overrides.items())), _identity(train_step),
           _identity(LinearLayer))
    if key not in _runs:
        try:
            outcome = (train_and_check(train_step, LinearLayer, **overrides), None)
        except CheckFailed as failure:
            outcome = (None, failure)
        _runs[key] = (*outcome, train_step, LinearLayer)   # alive: their ids stay theirs
    accuracy, failure = _runs[key][:2]
    if failure is not None:
        raise failure
    return accuracy


def _identity(student: Any) -> tuple:
    """The same student object, whichever proxy of the grader's stands for it."""
    return id(getattr(student, "_sandbox", None)), getattr(student, "_id", id(student))


def train_and_check(train_step, LinearLayer, **overrides: Any) -> float:
    """Train with the student's ``train_step`` and ``LinearLayer`` and measure MNIST accuracy.

    Settings come from ``MNIST_GRADING`` (tests override some). The loop stops early, with a
    clear message, when its projected time exceeds the time budget.

    The run cannot be known in advance and every step of it is checked:
    - The batch order, the probed steps and the weights written there come from the
      grading's secret (``draws.py``).
    - After each chunk of steps (at most 20) the check replays the same SGD steps from the
      weights the layers reported before the chunk (``reference.sgd_replay``); the weights
      they report after it must equal the replay. A skipped, altered or made-up step, or
      weights installed from elsewhere, fail.
    - At the first step and ``cfg["checked_steps"] - 2`` drawn ones, the check also writes
      weights it draws itself, takes the step and compares it with the SGD step from them,
      then writes back what the layers reported: the step must be SGD from any weights, not
      only along the student's own path.
    - The accuracy is that of the check's own replay.
    Beside the notebook (no reference maths, no secret) the same run is made with the public
    seed's batch order, and only time, losses and accuracy of the layers' own weights are
    checked.
    """
    import time

    from backprop_support import load_mnist_uint8, predict_with_weights, scale_pixels

    require_defined("train_step", train_step)
    require_defined("LinearLayer", LinearLayer)
    cfg = {**MNIST_GRADING, **overrides}
    sizes = cfg["layer_sizes"]
    x_train, y_train, x_test, y_test = load_mnist_uint8(n_train=cfg["n_train"])
    model, layers = network(LinearLayer, sizes, "relu", None, cfg["seed"])
    rng = draws.rng(cfg["seed"], "order")
    n, bs = len(x_train), cfg["batch_size"]
    schedule = []   # (epoch, batch, image indices) of every training step, in order
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n)
        schedule += [(epoch, i // bs, order[i:i + bs]) for i in range(0, n, bs)]
    total = len(schedule)
    probed = {0} | set(draws.rng(cfg["seed"], "probed").choice(
        np.arange(1, total - 1), size=min(total - 2, cfg["checked_steps"] - 2),
        replace=False).tolist())
    probe_rng = draws.rng(cfg["seed"], "probe_weights")
    # The grader's sandbox proxies run a chunk of calls in one round trip (``call_many``);
    # chunks end where the time is checked and before every probed step.
    run_steps = getattr(train_step, "call_many", None) or (
        lambda calls: [train_step(*call) for call in calls])
    what = "train_step(model, x, y, lr) during MNIST training"
    spent, done = 0.0, 0
    reported = trained = read_weights(layers, sizes, "after LinearLayer(n_in, n_out, rng)")

    def run(chunk, batches):
        nonlocal spent
        start = time.perf_counter()
        try:
            losses = call_student(what, run_steps, [(model, x, y, cfg["lr"]) for x, y in batches],
                                  context="parameters")
        except Exception as exc:  # noqa: BLE001 - one step over the grader's per-call limit
            if isinstance(exc, StudentTimeout) and "calls into your code" in str(exc):
                raise CheckFailed(f"training is too slow: {len(chunk)} training step(s) did not "
                                  "finish within the time limit for them. Use whole-batch "
                                  "matrix products and the backpropagation equations, not a "
                                  "Python loop over the examples or numerical gradients.",
                                  mistake="training_too_slow") from None
            raise
        spent += time.perf_counter() - start
        if type(losses) is not list or len(losses) != len(chunk):
            raise CheckFailed("training on MNIST: train_step did not return one loss per call.",
                              mistake="wrong_type")
        for (epoch, batch, _), loss in zip(chunk, losses):
            if loss is None:
                raise CheckFailed("training on MNIST: train_step returned None: it is not "
                                  "implemented yet, or it is missing a `return`.",
                                  mistake="not_implemented")
            if not np.isfinite(_as_float(loss)):
                raise CheckFailed(
                    f"training on MNIST: the loss became {_as_float(loss)} at epoch {epoch + 1}, "
                    f"batch {batch + 1} (or train_step did not return a number).",
                    mistake="training_diverged")

    while done < total:
        end = min(total, 5 if done < 5 else 20 if done < 20 else done + 20)
        end = done + 1 if done in probed else min([end] + [s for s in probed if done < s])
        chunk = schedule[done:end]
        batches = [(scale_pixels(x_train[idx]), one_hot(y_train[idx], 10, np.float32))
                   for _, _, idx in chunk]
        replay = ref.sgd_replay(reported, batches, cfg["lr"])   # None beside the notebook
        if replay is not None:   # the chunk ends at a ReLU tie (see sgd_replay)
            chunk, batches = chunk[:replay[2]], batches[:replay[2]]
        if done in probed:
            probe = draw_probe(sizes, probe_rng)
            write_weights(layers, probe)
            run(chunk, batches)
            check_sgd_step(probe, layers, sizes, batches[0], cfg["lr"])
            write_weights(layers, reported)
        run(chunk, batches)
        after = read_weights(layers, sizes, "during training")
        trained = after if replay is None else check_replay(reported, replay, after, chunk)
        reported = after
        done += len(chunk)
        projected = spent / done * total
        # a short burst of load on the grading machine must not stop correct code
        if projected > cfg["time_budget_s"] and (spent >= MIN_SECONDS_BEFORE_STOP
                                                 or done == total):
            raise CheckFailed(
                f"training is too slow: {done} batches took {spent:.1f} s, so the "
                f"{total} batches of the graded run would take about "
                f"{projected:.0f} s (budget {cfg['time_budget_s']:.0f} s). Use whole-batch "
                "matrix products, not a Python loop over the examples.",
                mistake="training_too_slow")
    acc = float(np.mean(predict_with_weights(trained, x_test) == y_test))
    if not acc >= cfg["threshold"]:
        raise CheckFailed(
            "MNIST test accuracy after training is below the required minimum: the network does "
            "not learn well enough (the checks of the gradient and update questions find most "
            f"causes).\n  accuracy {acc:.1%}, at least {cfg['threshold']:.0%} required "
            f"({cfg['n_train']} training images, {cfg['epochs']} epoch(s), learning rate "
            f"{cfg['lr']}). The check beside the notebook makes the graded run (same "
            "images, epochs, learning rate and threshold; only the batch order differs), so the "
            "graded test would fail too.", mistake="mnist_accuracy_low")
    return acc


def check_replay(before: list, replayed, after: list, chunk) -> list:
    """The weights the layers report ``after`` a chunk of steps are the check's replay of
    those SGD steps from the weights they reported ``before`` it (``reference.sgd_replay``):
    each entry's change within ``TOLERANCES["mnist_chunk"]`` of its parameter's largest
    change, plus the slack of a ReLU tie. Returns the replay."""
    replay, slack, _ = replayed
    for k in range(len(before)):
        for which in (0, 1):
            got, want = after[k][which] - before[k][which], replay[k][which] - before[k][which]
            scale = max(np.max(np.abs(got)), np.max(np.abs(want)), 1e-12)
            excess = np.abs(got - want) - slack[k][which]
            if not np.all(excess <= TOLERANCES["mnist_chunk"] * scale):   # nan fails too
                first, last = chunk[0], chunk[-1]
                raise CheckFailed(
                    "training on MNIST: the weights after a run of train_step calls are not "
                    "what SGD steps with the backpropagated gradient give (W -= lr * dW for "
                    "every layer at every step, dW from the weights before that step): points "
                    "for MNIST need every step to be that step (Question 5 checks it in "
                    f"detail).\n  epoch {first[0] + 1}, batches {first[1] + 1} to {last[1] + 1}, "
                    f"layers[{k}]: the change differs by up to {np.nanmax(excess) / scale:.2g} "
                    "of its largest entry", mistake="not_backprop_update")
    return replay


def draw_probe(sizes: Sequence[int], rng: np.random.Generator) -> list:
    """Weights the check chooses for a probed step: He-scaled W, non-zero b."""
    return [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), rng.normal(0, 0.1, size=n_out))
            for n_in, n_out in zip(sizes[:-1], sizes[1:])]


def write_weights(layers: Sequence[Any], weights: Sequence[tuple]) -> None:
    for layer, (W, b) in zip(layers, weights):
        layer.W, layer.b = np.array(W), np.array(b)


def check_sgd_step(before, layers, sizes, batch, lr: float) -> list:
    """The step just taken was SGD with backprop gradients from the weights ``before`` it
    (written into the layers by the check); returns the check's own updated weights. The
    public copy beside the notebook has no answer for it: there it returns the layers' own."""
    x, y = (np.asarray(a, dtype=np.float64) for a in batch)
    step = ref.sgd_step(before, x, y, lr)
    after = read_weights(layers, sizes, "during training")
    if step is None:
        return after
    updated, grads = step
    why = ("training on MNIST: a step of train_step is not one SGD step with the "
           "backpropagated gradient (W -= lr * dW for every layer, dW from the weights before "
           "the step): points for MNIST need that step (Question 5 checks it in detail).")
    for k in range(len(sizes) - 1):
        for which in (0, 1):
            moved = after[k][which] - before[k][which]
            want = -lr * grads[k][which]
            if not relative_error(moved, want) <= TOLERANCES["mnist_step"]:
                raise CheckFailed(why + f"\n  layers[{k}]: relative error of the update "
                                  f"{relative_error(moved, want):.2g}",
                                  mistake="not_backprop_update")
    return updated

