"""Question 6: the MNIST harness (the graded run and the quick public check)."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from backprop_support import one_hot

from . import reference as ref
from .calling import StudentTimeout, call_student
from .compare import CheckFailed, relative_error, require_defined
from .networks import network, read_weights
from .settings import MIN_SECONDS_BEFORE_STOP, MNIST_GRADING, MNIST_PUBLIC, TOLERANCES


def _as_float(value: Any) -> float:
    if value is None:
        return float("nan")
    try:
        return float(np.asarray(value, dtype=np.float64).reshape(-1)[0])
    except Exception:  # noqa: BLE001 - any odd return value counts as "not a number"
        return float("nan")


def check_mnist_accuracy(train_step, LinearLayer, **overrides: Any) -> float:
    """Train with the student's ``train_step`` and ``LinearLayer`` and measure MNIST accuracy.

    Settings come from ``MNIST_GRADING`` (overridable for the quick public check). The loop
    stops early, with a clear message, when its projected time exceeds the time budget;
    ``project_to`` (the public check) projects the time of the graded run instead.

    What the layers report is never believed on its own:
    - At the first step and ``cfg["checked_steps"] - 2`` steps drawn here, the check writes
      weights it draws itself into the layers, takes one step on the batch and compares the
      result with the SGD step it computes from those weights; then it writes back what the
      layers reported and takes the real training step. Points for accuracy need backprop
      (reported weights could make the gradient trivial: all zero, or every ReLU dead).
    - At the last step the check writes back what the layers report, takes the step, compares
      it with its own SGD step from those weights, and measures the accuracy of its own result
      (the kit's forward pass). Weights that were made up rather than trained (a degenerate
      state where the gradient is trivial, or pretrained weights) give either a low accuracy
      or a step only backprop can reproduce.
    """
    import time

    from backprop_support import load_mnist_uint8, predict_with_weights, scale_pixels

    require_defined("train_step", train_step)
    require_defined("LinearLayer", LinearLayer)
    cfg = {**MNIST_GRADING, **overrides}
    sizes = cfg["layer_sizes"]
    x_train, y_train, x_test, y_test = load_mnist_uint8(n_train=cfg["n_train"])
    model, layers = network(LinearLayer, sizes, "relu", None, cfg["seed"])
    rng = np.random.default_rng(cfg["seed"])
    n, bs = len(x_train), cfg["batch_size"]
    schedule = []   # (epoch, batch, image indices) of every training step, in order
    for epoch in range(cfg["epochs"]):
        order = rng.permutation(n)
        schedule += [(epoch, i // bs, order[i:i + bs]) for i in range(0, n, bs)]
    total = len(schedule)
    probed = {0} | set(np.random.default_rng(cfg["seed"] + 1).choice(
        np.arange(1, total - 1), size=min(total - 2, cfg["checked_steps"] - 2),
        replace=False).tolist())
    probe_rng = np.random.default_rng(cfg["seed"] + 2)
    checked = probed | {total - 1}
    # The grader's sandbox proxies run a chunk of calls in one round trip (``call_many``);
    # chunks end where the time is checked and before every checked step.
    run_steps = getattr(train_step, "call_many", None) or (
        lambda calls: [train_step(*call) for call in calls])
    what = "train_step(model, x, y, lr) during MNIST training"
    spent, done, trained = 0.0, 0, None

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
        end = min([end] + [s for s in checked if done < s])
        if done in checked:
            end = done + 1
        chunk = schedule[done:end]
        batches = [(scale_pixels(x_train[idx]), one_hot(y_train[idx], 10, np.float32))
                   for _, _, idx in chunk]
        if done in checked:
            reported = read_weights(layers, sizes, "during training")
            start = draw_probe(sizes, probe_rng) if done in probed else reported
            write_weights(layers, start)
            run(chunk, batches)
            trained = check_sgd_step(start, layers, sizes, batches[0], cfg["lr"])
            if done in probed:
                write_weights(layers, reported)
                run(chunk, batches)
        else:
            run(chunk, batches)
        done = end
        if done in (5, 20) or done % 100 == 0 or done == total:
            projected = spent / done * cfg.get("project_to", total)
            # a short burst of load on the grading machine must not stop correct code
            if projected > cfg["time_budget_s"] and (spent >= MIN_SECONDS_BEFORE_STOP
                                                     or done == total):
                raise CheckFailed(
                    f"training is too slow: {done} batches took {spent:.1f} s, so the "
                    f"{cfg.get('project_to', total)} batches of the graded run would take about "
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
            f"{cfg['lr']}).", mistake="mnist_accuracy_low")
    return acc


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


def check_mnist_speed(train_step, LinearLayer) -> float:
    """The quick public check: a small slice, one epoch; fails when the graded run's number
    of steps would exceed its time budget at the speed measured here."""
    g = MNIST_GRADING
    steps = g["epochs"] * -(-g["n_train"] // g["batch_size"])
    return check_mnist_accuracy(train_step, LinearLayer, **MNIST_PUBLIC, project_to=steps)
