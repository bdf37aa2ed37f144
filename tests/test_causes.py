"""One failure, one named cause: each of q1-q3's checks fails for its own cause only, the
initial-scale decision never depends on the seed, and float16 results are named as such.
The checks run here in-process (as in the notebook), from the autograder zip."""

from __future__ import annotations

import numpy as np
import pytest

import mnist_threshold

SEEDS = range(300)


@pytest.fixture(scope="module")
def kit(source_dir):
    return mnist_threshold.load_kit(source_dir / "files")


def failures(kit, checks_to_run: dict, *args) -> dict[str, str | None]:
    """name -> mistake id of the check's failure (None: passed)."""
    checks, _ = kit
    out = {}
    for name, check in checks_to_run.items():
        try:
            check(*args)
            out[name] = None
        except checks.CheckFailed as exc:
            out[name] = exc.mistake or "unnamed"
    return out


def layer_with_std(ref, std_of):
    """The reference LinearLayer with W drawn at ``std_of(n_in, n_out)``."""
    class Layer(ref.LinearLayer):
        def __init__(self, n_in, n_out, rng):
            super().__init__(n_in, n_out, rng)
            self.W = rng.normal(0.0, std_of(n_in, n_out), size=(n_in, n_out))
    return Layer


ALLOWED_SCALES = {
    "cs231n 1e-4": lambda n_in, n_out: 1e-4,
    "d2l 0.01": lambda n_in, n_out: 0.01,
    "lecun": lambda n_in, n_out: np.sqrt(1.0 / n_in),
    "xavier": lambda n_in, n_out: np.sqrt(2.0 / (n_in + n_out)),
    "he": lambda n_in, n_out: np.sqrt(2.0 / n_in),
    "2 x he": lambda n_in, n_out: 2 * np.sqrt(2.0 / n_in),
}


def rejected_scales(settings):
    low, high = settings.INIT_STD
    return {"half the admitted minimum": lambda n_in, n_out: low / 2,
            "1.5 x the admitted maximum": lambda n_in, n_out: 1.5 * high * np.sqrt(2.0 / n_in),
            "plain randn": lambda n_in, n_out: 1.0}


def test_the_admitted_range_is_wider_than_the_stated_one_by_a_margin(kit):
    from gradekit.checks import settings
    (low, high), (stated_low, stated_high) = settings.INIT_STD, settings.INIT_STD_STATED
    assert low <= stated_low / 2 and high >= 1.5 * stated_high
    n = settings.INIT_LAYER[0] * settings.INIT_LAYER[1]
    assert 1 / np.sqrt(2 * n) < 0.01, "the layer is too small for a seed-independent estimate"


@pytest.mark.parametrize("name", ALLOWED_SCALES)
def test_every_stated_scale_passes_at_every_seed(kit, name):
    checks, ref = kit
    layer = layer_with_std(ref, ALLOWED_SCALES[name])
    failed = []
    for seed in SEEDS:
        try:
            checks.check_linear_init_scale(layer, seed=seed)
        except checks.CheckFailed as exc:
            failed.append((seed, str(exc).splitlines()[0]))
    assert not failed, f"{name}: failed at {len(failed)} seeds: {failed[:3]}"


def test_scales_outside_the_admitted_range_fail_at_every_seed(kit):
    checks, ref = kit
    from gradekit.checks import settings
    for name, std_of in rejected_scales(settings).items():
        layer = layer_with_std(ref, std_of)
        passed = []
        for seed in SEEDS:
            try:
                checks.check_linear_init_scale(layer, seed=seed)
                passed.append(seed)
            except checks.CheckFailed as exc:
                assert exc.mistake == "init_scale", (name, str(exc))
        assert not passed, f"{name}: passed at seeds {passed[:5]}"


def test_the_stated_range_is_in_the_notebook(kit):
    import generated_prose
    from conftest import STUDENT_NB
    import nbformat
    text = " ".join(c.source for c in nbformat.read(STUDENT_NB, as_version=4).cells)
    stated = generated_prose.facts()["init.range"]
    assert stated == "from 1e-4 to 2 x sqrt(2 / n_in)"
    assert f"Any standard deviation of `W` {stated} is accepted" in " ".join(text.split())


def q1_checks(checks):
    return {"values": lambda f: checks.check_sigmoid_derivative(f, seed=101),
            "large_z": lambda f: checks.check_sigmoid_derivative_large_z(
                f, np.array([[-800.0, -60.0, 0.5], [45.0, 710.0, -709.0]]))}


def test_an_overflowing_sigmoid_derivative_fails_only_the_large_z_check(kit):
    checks, _ = kit

    def overflowing(z):
        e = np.exp(-z)
        return e / (1 + e) ** 2

    with np.errstate(all="ignore"):
        found = {name: failures(kit, {name: check}, overflowing)[name]
                 for name, check in q1_checks(checks).items()}
    assert found == {"values": None, "large_z": "sigmoid_derivative_overflow"}, found


def test_an_unguarded_log_fails_only_the_zeros_check(kit):
    checks, _ = kit

    def unguarded(probs, y):
        return float(-np.mean(np.sum(y * np.log(probs), axis=-1)))

    with np.errstate(all="ignore"):
        found = failures(kit, {"values": lambda f: checks.check_cross_entropy(f, seed=404),
                               "zeros": checks.check_cross_entropy_zeros}, unguarded)
    assert found == {"values": None, "zeros": "cross_entropy_log_of_zero"}, found


def test_a_softmax_over_axis_1_is_named_by_the_public_check(kit):
    checks, _ = kit

    def axis_1(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    with pytest.raises(checks.CheckFailed) as info:
        checks.check_softmax(axis_1, seed=0)
    assert info.value.mistake == "softmax_wrong_axis" and "axis=-1" in str(info.value)


def backward_checks(checks):
    return {"shapes": lambda L: checks.check_linear_backward_shapes(L, seed=505),
            "parameters": lambda L: checks.check_linear_backward_keeps_parameters(L, seed=505),
            "fresh": lambda L: checks.check_linear_backward_fresh_gradients(L, seed=505),
            "values": lambda L: checks.check_linear_backward_values(L, seed=505)}


def test_each_backward_mistake_fails_its_own_check(kit):
    checks, ref = kit

    class KeepDims(ref.LinearLayer):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.db = grad_out.sum(axis=0, keepdims=True)
            return dx

    class SumsFeatures(ref.LinearLayer):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.db = grad_out.sum(axis=1)
            return dx

    class Accumulates(ref.LinearLayer):
        def backward(self, grad_out):
            dW, db = self.dW, self.db
            dx = super().backward(grad_out)
            self.dW, self.db = dW + self.dW, db + self.db
            return dx

    class ChangesW(ref.LinearLayer):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.b = self.b - 0.1 * self.db
            return dx

    class MeanBias(ref.LinearLayer):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.db = grad_out.mean(axis=0)
            return dx

    expected = {KeepDims: ("shapes", "db_keepdims"), SumsFeatures: ("shapes", "db_wrong_axis"),
                Accumulates: ("fresh", "gradients_accumulated"),
                ChangesW: ("parameters", "backward_changes_parameters"),
                MeanBias: ("values", "db_mean")}
    assert set(failures(kit, backward_checks(checks), ref.LinearLayer).values()) == {None}
    for layer, (name, mistake) in expected.items():
        found = failures(kit, backward_checks(checks), layer)
        assert found == {n: (mistake if n == name else None) for n in found}, \
            (layer.__name__, found)


def test_init_mistakes_fail_one_init_check_each(kit):
    checks, ref = kit
    init = {"rng": lambda L: checks.check_linear_init(L, seed=707, n_in=200, n_out=50),
            "scale": lambda L: checks.check_linear_init_scale(L, seed=708),
            "bias": lambda L: checks.check_linear_init_bias(L, seed=709)}

    class Zeros(ref.LinearLayer):
        def __init__(self, n_in, n_out, rng):
            super().__init__(n_in, n_out, rng)
            self.W = np.zeros((n_in, n_out))

    class BigBias(ref.LinearLayer):
        def __init__(self, n_in, n_out, rng):
            super().__init__(n_in, n_out, rng)
            self.b = np.full(n_out, 5.0)

    assert set(failures(kit, init, ref.LinearLayer).values()) == {None}
    assert failures(kit, init, Zeros) == {"rng": "init_zero", "scale": None, "bias": None}
    assert failures(kit, init, BigBias) == {"rng": None, "scale": None,
                                            "bias": "init_bias_large"}


def test_a_float16_result_is_named_and_float32_is_not(kit):
    checks, ref = kit
    with pytest.raises(checks.CheckFailed) as info:
        checks.check_relu_derivative(lambda z: (z > 0).astype(np.float16))
    assert info.value.mistake == "low_precision" and "float16" in str(info.value)
    checks.check_relu_derivative(lambda z: (z > 0).astype(np.float32))
    checks.check_softmax(lambda z: ref.softmax(z.astype(np.float32)))
    assert "float16" not in checks.TOLERANCES


def test_an_in_place_update_of_another_shape_gets_the_broadcast_hint(kit):
    from gradekit.checks.calling import BROADCAST_HINT, explain_error
    a = np.zeros(3)
    try:
        a += np.ones((2, 3))
    except ValueError as exc:
        detail = str(exc)
    assert "non-broadcastable output operand" in detail
    assert explain_error(detail, "parameters") == (BROADCAST_HINT, "broadcast_shapes")


def test_a_blank_backward_passes_no_backward_check(kit):
    checks, _ = kit

    class Blank:
        def __init__(self, n_in, n_out, rng):
            ...

        def forward(self, x):
            ...

        def backward(self, grad_out):
            ...

    found = failures(kit, backward_checks(checks), Blank)
    assert set(found.values()) == {"not_implemented"}, found
