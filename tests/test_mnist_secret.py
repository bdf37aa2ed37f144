"""q6's run is drawn from a grading secret and every step of it is replayed
(``gradekit/checks/draws.py``, ``checks.mnist.check_replay``), in-process on the zip's checks.

Correct code passes under every secret with a margin (the grade of correct work does not
depend on the draw); the run differs from one secret to another and from the public one; a
step skipped, or weights installed between steps, fail.
"""

from __future__ import annotations

import numpy as np
import pytest

import mnist_threshold

SECRETS = ["0" * 32, "5eb2d1c7a04f9e3b6c8d7a1e2f3b4c5d", "ffeeddccbbaa99887766554433221100"]
# the tests here are about what is trained, not how fast
UNTIMED = {"time_budget_s": 1e9}


@pytest.fixture(scope="module")
def kit(source_dir):
    """The zip's checks and reference, with one BLAS thread as in the grader (several threads
    slow these small products down many times over on a busy machine)."""
    from threadpoolctl import threadpool_limits

    checks, ref = mnist_threshold.load_kit(source_dir / "files")
    with threadpool_limits(1):
        yield checks, ref
    checks.draws._secret = None


@pytest.fixture
def secret(kit):
    """Set a grading secret for one test (as the grader does once per grading)."""
    draws = kit[0].draws

    def use(value):
        draws._secret = value

    yield use
    draws._secret = None


def float64_step(ref):
    """A correct train_step whose layers compute in float64 (the notebook allows any dtype)."""
    def train_step(model, x, y, lr):
        for layer in model.layers:
            layer.W, layer.b = np.asarray(layer.W, np.float64), np.asarray(layer.b, np.float64)
        return ref.train_step(model, np.asarray(x, np.float64), np.asarray(y, np.float64), lr)
    return train_step


@pytest.mark.parametrize("value", [None, *SECRETS])
def test_correct_code_passes_under_every_secret_with_margin(kit, secret, value):
    """Under the graded runs' secrets and without one (the public check's order)."""
    checks, ref = kit
    secret(value)
    for name, step in (("reference", ref.train_step), ("float64", float64_step(ref))):
        graded = checks.check_mnist_accuracy(step, ref.LinearLayer, **UNTIMED)
        # the reference's He initialisation: 92.6-93.8 % over 31 orders (mnist_measured.json)
        assert graded >= checks.MNIST_GRADING["threshold"] + 0.05, (name, value, graded)


def test_the_run_depends_on_the_secret(kit, secret):
    """The graded run's batch order, the probed steps and the probe weights all change with the
    secret."""
    checks, _ = kit
    draws = checks.draws

    def run():
        return (draws.rng(0, "order").permutation(20), draws.rng(0, "probed").integers(1 << 30),
                draws.rng(0, "probe_weights").normal())

    public = run()
    seen = []
    for value in SECRETS:
        secret(value)
        seen.append(run())
    secret(None)
    assert all(np.array_equal(a, b) for a, b in zip(run(), public)), "no secret: public seeds"
    for i, a in enumerate([public] + seen):
        for b in ([public] + seen)[i + 1:]:
            assert not np.array_equal(a[0], b[0]) and a[1] != b[1] and a[2] != b[2], \
                "two runs share a draw"


class Every:
    """A correct train_step that does something else at every ``n``-th call."""

    def __init__(self, ref, n, instead):
        self.ref, self.n, self.instead, self.calls = ref, n, instead, 0

    def __call__(self, model, x, y, lr):
        self.calls += 1
        if self.calls % self.n == 0:
            return self.instead(model, x, y, lr)
        return self.ref.train_step(model, x, y, lr)


def test_a_skipped_step_fails(kit, secret):
    checks, ref = kit
    secret(SECRETS[1])

    def loss_only(model, x, y, lr):
        return float(ref.cross_entropy(ref.softmax(model.forward(x)), y))

    with pytest.raises(checks.CheckFailed, match="not what SGD steps") as failed:
        checks.check_mnist_accuracy(Every(ref, 97, loss_only), ref.LinearLayer, **UNTIMED)
    assert failed.value.mistake == "not_backprop_update"


def test_weights_installed_between_steps_fail(kit, secret):
    """Pretrained-looking weights written by train_step at one step (then real SGD)."""
    checks, ref = kit
    secret(SECRETS[2])

    def install(model, x, y, lr):
        loss = ref.train_step(model, x, y, lr)
        for layer in model.layers:
            layer.W = layer.W * 1.01
        return loss

    with pytest.raises(checks.CheckFailed, match="not what SGD steps"):
        checks.check_mnist_accuracy(Every(ref, 300, install), ref.LinearLayer, **UNTIMED)


def test_a_recorded_secret_grades_the_same_run_again(kit, monkeypatch):
    draws = kit[0].draws
    monkeypatch.setenv("BACKPROP_GRADING_SECRET", SECRETS[1])
    assert draws.new_grading_secret() == SECRETS[1]
    again = draws.rng(0, "order").permutation(50)
    monkeypatch.delenv("BACKPROP_GRADING_SECRET")
    fresh = draws.new_grading_secret()
    assert fresh != SECRETS[1] and len(fresh) == 32
    draws._secret = SECRETS[1]
    assert np.array_equal(draws.rng(0, "order").permutation(50), again)
    draws._secret = None
