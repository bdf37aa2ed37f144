"""What a student reads: each message names the mistake first, says only what applies,
points to the equation instead of printing the answer, and holds up for blank stubs and
broken cells. The checks run here in-process (as in the notebook) on small wrong variants.
"""

from __future__ import annotations

import re

import numpy as np
import pytest

import mnist_threshold
from conftest import ROOT

import sys

sys.path.insert(0, str(ROOT / "autograder"))
from gradekit.results import shorten  # noqa: E402
from gradekit.verify import HIDDEN_RAISED, describe_failure  # noqa: E402

SOLUTIONS = ("x.T @ grad_out", "grad_out @ W.T", "grad_out @ self.W.T", "self.x.T @")


@pytest.fixture(scope="module")
def kit(source_dir):
    return mnist_threshold.load_kit(source_dir / "files")


def failure(check, *args, **kwargs) -> str:
    from gradekit.checks import CheckFailed
    with pytest.raises(CheckFailed) as info:
        check(*args, **kwargs)
    return str(info.value)


def test_indices_print_as_plain_numbers(kit):
    checks, _ = kit
    text = failure(checks.assert_close, "x", np.zeros((2, 4)), np.eye(2, 4) * [1, 1, 1, 1])
    assert re.search(r"worst entry \(\d+, \d+\)", text) and "np.int64" not in text, text


def test_the_named_mistake_comes_first(kit):
    checks, ref = kit

    class MeanBias(ref.LinearLayer):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.db = grad_out.mean(axis=0)
            return dx

    first = failure(checks.check_linear_backward, MeanBias).splitlines()[0]
    assert first.startswith("layer.db") and "mean over the batch instead of the sum" in first, \
        first


def test_softmax_without_keepdims_gets_no_gradient_sentence(kit):
    checks, _ = kit
    text = failure(checks.check_softmax, lambda z: np.exp(z) / np.exp(z).sum(axis=-1))
    assert "different shapes" in text and "dW like W" not in text, text


def test_network_backward_shape_error_names_the_layer_index(kit):
    checks, ref = kit

    def wrong_layer(model, grad_logits):
        grad = model.layers[-1].backward(grad_logits)
        for i in range(len(model.layers) - 2, -1, -1):
            grad = grad * ref.relu_derivative(model.pre_activations[i - 1])
            grad = model.layers[i].backward(grad)
        return grad

    text = failure(checks.check_network_backward, wrong_layer, ref.LinearLayer, "relu",
                   sizes=(4, 6, 5, 3))
    assert "index off by one" in text and "dW like W" not in text, text


def test_matrix_product_hint_points_to_the_equation_not_the_answer(kit):
    checks, ref = kit

    class NoTranspose(ref.LinearLayer):
        def backward(self, grad_out):
            super().backward(grad_out)
            return grad_out @ self.W

    text = failure(checks.check_linear_backward, NoTranspose)
    assert "equations 2" in text and not any(s in text for s in SOLUTIONS), text


def test_blank_layer_stub_says_it_is_not_implemented(kit):
    checks, _ = kit

    class LinearLayer:
        def __init__(self, n_in, n_out, rng):
            ...

        def forward(self, x):
            ...

        def backward(self, grad_out):
            ...

    text = failure(checks.check_linear_init, LinearLayer)
    assert "not implemented yet" in text and "AttributeError" not in text, text


def test_blank_train_step_says_it_returned_none(kit):
    checks, ref = kit
    text = failure(checks.check_mnist_accuracy, lambda model, x, y, lr: None, ref.LinearLayer)
    assert "returned None" in text and "nan" not in text, text


def test_an_undefined_name_points_to_an_error_in_its_cell(kit):
    checks, _ = kit
    text = failure(checks.check_train_step, None, None)
    assert "SyntaxError" in text and "has not run to the end" in text, text


def test_long_lines_are_never_cut_mid_word():
    text = "hint " + " ".join(["wordy"] * 100)
    short = shorten(text, 50)
    assert len(short) <= 50 and short.endswith("wordy…"), short


def test_hidden_tests_show_their_whole_fixed_message(kit):
    checks, _ = kit
    author = ("network_backward gives wrong gradients in networks of other shapes, "
              "which is a long sentence that must not be cut in the middle of a word at all.")
    exc = checks.CheckFailed("layers[1].dW (relu network [6, 5, 4, 3]) matches what the "
                               "derivative taken at the wrong layer's pre-activation gives.",
                               mistake="derivative_wrong_layer")
    full, safe = describe_failure(exc, author, checks.CheckFailed)
    assert safe == author and "layers[1]" in full


def test_a_hidden_test_that_raised_says_so_in_fixed_words(kit):
    checks, _ = kit

    def raises(z):
        raise ValueError("Leak_input [0.123] of type float64")

    with pytest.raises(checks.CheckFailed) as info:
        checks.check_sigmoid_derivative(raises)
    full, safe = describe_failure(info.value, "sigmoid_derivative gives wrong values.",
                                  checks.CheckFailed)
    assert safe == HIDDEN_RAISED and "ValueError" in full and "Leak_" in full
    assert "ValueError" not in safe and "Leak_" not in safe
    # a check's own verdict keeps the author's message
    wrong = checks.CheckFailed("sigmoid_derivative(z) has the wrong values.")
    assert describe_failure(wrong, "author", checks.CheckFailed)[1] == "author"


def test_every_named_mistake_is_in_the_registry(kit):
    checks, _ = kit
    source = "\n".join(p.read_text() for p in [*(ROOT / "assignment").glob("*.py"),
                                              *(ROOT / "autograder/gradekit/checks").glob("*.py")])
    source += (ROOT / "solutions" / "backprop_master.py").read_text()
    used = set(re.findall(r'mistake=["\'](\w+)["\']', source))
    used |= set(re.findall(r'"(\w+)"\)(?:,|\])', source)) & set(checks.MISTAKES)
    assert used <= set(checks.MISTAKES), used - set(checks.MISTAKES)
    with pytest.raises(KeyError):
        checks.CheckFailed("x", mistake="no_such_mistake")
