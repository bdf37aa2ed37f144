"""``gradekit.checks.check_mnist_accuracy``, the q6 check, on its own (in-process, small settings).

The grader's sandbox proxies offer ``call_many`` (a chunk of training steps per round trip);
plain functions are called one batch at a time. Both must train identically and stop a
diverging or too slow ``train_step`` with the same messages.
"""

from __future__ import annotations

import time

import numpy as np
import pytest

import mnist_threshold

SMALL = {"n_train": 1280, "epochs": 2, "threshold": 0.5}   # 20 batches per epoch


@pytest.fixture(scope="module")
def kit(source_dir):
    """(checks, backprop_reference) from the autograder zip."""
    return mnist_threshold.load_kit(source_dir / "files")


class ChunkedProxy:
    """Stands in for a sandbox proxy: records the chunk sizes it is given."""

    def __init__(self, fn, reply=None):
        self.fn, self.reply, self.chunks = fn, reply, []

    def __call__(self, *args):
        raise AssertionError("a proxy with call_many should get whole chunks")

    def call_many(self, calls):
        self.chunks.append(len(calls))
        losses = [self.fn(*call) for call in calls]
        return self.reply(losses) if self.reply else losses


def test_chunked_and_plain_training_give_the_same_accuracy(kit):
    checks, ref = kit
    plain = checks.check_mnist_accuracy(ref.train_step, ref.LinearLayer, **SMALL)
    proxy = ChunkedProxy(ref.train_step)
    chunked = checks.check_mnist_accuracy(proxy, ref.LinearLayer, **SMALL)
    assert chunked == plain > 0.5
    # chunks end where the time is checked (after 5, 20, then every 20 batches) and around
    # every step the check verifies as an SGD step (the first, the last and two others); the
    # first and two others also run once from weights the check writes, before the real step
    assert sum(proxy.chunks) == 40 + 3 and max(proxy.chunks) <= 20 and proxy.chunks[0] == 1
    assert proxy.chunks.count(1) >= 7, proxy.chunks


class Batches:
    """Counts the distinct batches ``train_step`` is called on (a step the check verifies
    from its own weights sees its batch twice in a row)."""

    def __init__(self):
        self.last, self.count = None, 0

    def see(self, x) -> int:
        if self.last is None or not np.array_equal(self.last, x):
            self.last, self.count = np.array(x), self.count + 1
        return self.count


@pytest.mark.parametrize("chunked", [False, True])
def test_a_diverging_loss_names_the_epoch_and_batch(kit, chunked):
    checks, ref = kit
    batches = Batches()

    def train_step(model, x, y, lr):
        loss = ref.train_step(model, x, y, lr)
        return float("nan") if batches.see(x) == 27 else loss   # epoch 2, batch 7

    step = ChunkedProxy(train_step) if chunked else train_step
    with pytest.raises(checks.CheckFailed, match=r"loss became nan at epoch 2, batch 7"):
        checks.check_mnist_accuracy(step, ref.LinearLayer, **SMALL)


@pytest.mark.parametrize("chunked", [False, True])
def test_a_slow_train_step_is_stopped_after_five_batches(kit, chunked):
    checks, ref = kit
    batches = Batches()

    def slow_step(model, x, y, lr):
        batches.see(x)
        time.sleep(0.45)
        return ref.train_step(model, x, y, lr)

    step = ChunkedProxy(slow_step) if chunked else slow_step
    with pytest.raises(checks.CheckFailed, match=r"training is too slow: 5 batches took"):
        checks.check_mnist_accuracy(step, ref.LinearLayer, **SMALL, time_budget_s=5)
    assert batches.count == 5


def test_a_proxy_that_returns_the_wrong_number_of_losses_fails(kit):
    checks, ref = kit
    proxy = ChunkedProxy(ref.train_step, reply=lambda losses: losses[:-1])
    with pytest.raises(checks.CheckFailed, match="one loss per call"):
        checks.check_mnist_accuracy(proxy, ref.LinearLayer, **SMALL)


def test_mnist_subset_is_read_exactly(source_dir, kit):
    """``load_mnist`` reads only ``n_train`` rows; they equal the full array's first rows."""
    import backprop_support

    full = np.load(backprop_support.find_mnist())
    x, y, x_test, y_test = backprop_support.load_mnist(n_train=1000)
    assert x.dtype == np.float32 and x.shape == (1000, 784) and y.dtype == np.int64
    np.testing.assert_array_equal(x, full["x_train"][:1000].astype(np.float32) / 255.0)
    np.testing.assert_array_equal(y, full["y_train"][:1000])
    np.testing.assert_array_equal(x_test, full["x_test"].astype(np.float32) / 255.0)
    np.testing.assert_array_equal(y_test, full["y_test"])


def test_predictions_from_stored_pixels_equal_those_from_scaled_images(source_dir, kit):
    """``predict_with_weights`` scales uint8 images batch by batch, with the same values."""
    import backprop_support

    x = backprop_support.load_mnist_uint8(n_train=10)[2][:4500]
    rng = np.random.default_rng(0)
    weights = [(rng.normal(0, 0.05, (784, 32)), np.zeros(32)),
               (rng.normal(0, 0.2, (32, 10)), np.zeros(10))]
    from_pixels = backprop_support.predict_with_weights(weights, x)
    assert from_pixels.shape == (4500,)
    np.testing.assert_array_equal(
        from_pixels, backprop_support.predict_with_weights(weights, backprop_support.scale_pixels(x)))
