"""The student's diagnostics (assignment/diagnostics.py): finite differences of the student's own
code only, passing the reference, pointing at the layer and parameter a catalogued bug breaks."""

from __future__ import annotations

import contextlib
import io
import re
import subprocess
import sys

import numpy as np
import pytest

from catalogue.entries import ENTRIES, notebook_for
from conftest import ROOT

ASSIGNMENT = ROOT / "assignment"
CHECKED = ("LinearLayer", "network_backward", "softmax", "cross_entropy", "train_step")


def namespace_of(nb) -> dict:
    """The definitions of a solution notebook (code cells without the grader and the demos)."""
    namespace: dict = {}
    for cell in nb.cells:
        if (cell.cell_type == "code" and "grader" not in cell.source
                and "otter_ignore" not in cell.metadata.get("tags", [])):
            exec(compile(cell.source, "<cell>", "exec"), namespace)
    return namespace


@pytest.fixture()
def diagnostics(monkeypatch):
    monkeypatch.syspath_prepend(str(ASSIGNMENT))
    # the checks' settings, found beside the student's notebook in the public copy
    monkeypatch.syspath_prepend(str(ROOT / "autograder"))
    monkeypatch.chdir(ROOT / "data")   # load_mnist finds mnist.npz here
    import diagnostics as module

    return module


def entry(name: str):
    return next(e for e in ENTRIES if e.name == name)


def run(function, *args, **kwargs):
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        result = function(*args, **kwargs)
    return result, out.getvalue()


def test_diagnostics_hold_no_graded_maths():
    """Imported where backprop_maths and checklib cannot be imported, and free of the formulas."""
    code = ("import sys\n"
            "class Block:\n"
            "    def find_spec(self, name, path=None, target=None):\n"
            "        if name.split('.')[0] in ('backprop_maths', 'checklib'):\n"
            "            raise ImportError('blocked: ' + name)\n"
            "sys.meta_path.insert(0, Block())\n"
            f"sys.path.insert(0, {str(ASSIGNMENT)!r})\n"
            "import diagnostics\n"
            "print(sorted(m for m in sys.modules if m in ('backprop_maths', 'checklib')))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "[]", done.stderr + done.stdout
    source = (ASSIGNMENT / "diagnostics.py").read_text()
    for formula in ("np.exp", "np.log(", ".T @", "@ self.W.T", "* (1 -", "> 0).astype",
                    "-= lr", "- lr *", "backprop_maths", "checklib"):
        assert formula not in source, f"diagnostics.py contains {formula!r}"


def test_reference_passes_every_diagnostic(diagnostics):
    ns = namespace_of(notebook_for(entry("float64_weights")))
    errors, text = run(diagnostics.gradient_check_layer, ns["LinearLayer"](4, 3, np.random.default_rng(0)))
    assert max(errors.values()) < 1e-8 and "FAIL" not in text, text
    for activation in ("relu", "sigmoid"):
        model = ns["MLP"]([5, 4, 4, 3], ns["LinearLayer"], np.random.default_rng(0),
                          activation=activation)
        errors, text = run(diagnostics.gradient_check, model, ns["network_backward"],
                           ns["softmax"], ns["cross_entropy"])
        assert max(errors.values()) < 1e-8 and "FAIL" not in text, text
    results, text = run(diagnostics.debugging_checklist, *(ns[n] for n in CHECKED))
    assert all(results.values()) and "6 of 6 ok." in text, text


@pytest.mark.parametrize("name", ["float32_everywhere", "derivative_from_cached_activation",
                                  "loop_over_all_layers", "log_floor_1e7", "numpy_float_loss",
                                  "out_of_place_updates"])
def test_correct_variants_pass_the_checklist(diagnostics, name):
    ns = namespace_of(notebook_for(entry(name)))
    results, text = run(diagnostics.debugging_checklist, *(ns[n] for n in CHECKED))
    assert all(results.values()), text


def test_no_false_failures_over_many_seeds(diagnostics):
    """The tolerance never fails correct code: 200 seeds of each check (the module's comment
    gives the rate measured over 2,000)."""
    ns = namespace_of(notebook_for(entry("float64_weights")))
    worst = 0.0
    for seed in range(200):
        layer = ns["LinearLayer"](4, 3, np.random.default_rng(seed))
        worst = max(worst, *run(diagnostics.gradient_check_layer, layer, seed=seed)[0].values())
        for activation in ("relu", "sigmoid"):
            model = ns["MLP"]([5, 4, 4, 3], ns["LinearLayer"], np.random.default_rng(seed),
                              activation=activation)
            errors = run(diagnostics.gradient_check, model, ns["network_backward"],
                         ns["softmax"], ns["cross_entropy"], seed=seed)[0]
            worst = max(worst, *errors.values())
    assert worst < diagnostics.TOLERANCE / 10, worst


# (catalogue bug, what gradient_check_layer or gradient_check reports: parameter, hint words)
LAYER_BUGS = [
    ("db_mean_over_batch", "db", "factor of the batch size (6)"),
    ("dw_mean_over_batch", "dW", "factor of the batch size (6)"),
    ("dw_transposed", "dW", "transposed shape"),
    ("backward_returns_dw", "dX (returned)", "the shape and the values of dW"),
    ("db_summed_over_features", "db", "one entry per example"),
]


@pytest.mark.parametrize("name, parameter, words", LAYER_BUGS, ids=[b[0] for b in LAYER_BUGS])
def test_layer_check_names_the_parameter_and_the_pattern(diagnostics, name, parameter, words):
    ns = namespace_of(notebook_for(entry(name)))
    errors, text = run(diagnostics.gradient_check_layer, ns["LinearLayer"](4, 3, np.random.default_rng(0)))
    failing = [k for k, e in errors.items() if e > diagnostics.TOLERANCE]
    assert failing == [parameter.split()[0]], text
    report = text[text.index(parameter):]
    assert "FAIL" in report.splitlines()[0] and words in report, text


NETWORK_BUGS = [
    # (catalogue bug, activation, the first failing layer from the top, hint words)
    ("relu_mask_missing", "relu", "layers[1]", "layers[1] is wrong although layers[2] is right"),
    ("sigmoid_derivative_at_activation", "sigmoid", "layers[1]", "times f'(Z) of hidden layer 1"),
    ("first_layer_skipped", "relu", "layers[0]", "layers[0] is wrong although layers[1]"),
    ("db_mean_over_batch", "relu", "layers[2]", "the top layer, layers[2]"),
]


@pytest.mark.parametrize("name, activation, layer, words", NETWORK_BUGS,
                         ids=[b[0] for b in NETWORK_BUGS])
def test_network_check_names_the_layer(diagnostics, name, activation, layer, words):
    ns = namespace_of(notebook_for(entry(name)))
    model = ns["MLP"]([5, 4, 4, 3], ns["LinearLayer"], np.random.default_rng(0),
                      activation=activation)
    errors, text = run(diagnostics.gradient_check, model, ns["network_backward"], ns["softmax"],
                       ns["cross_entropy"])
    failing = sorted({k.split(".")[0] for k, e in errors.items()
                      if e > diagnostics.TOLERANCE and k.startswith("layers")})
    assert failing and failing[-1] == layer, text
    assert words in text, text


CHECKLIST_BUGS = [
    # (catalogue bug, the item that fails first, words of its reason)
    ("forward_without_bias", "1. forward values are sane", "the bias is missing"),
    ("zero_initialisation", "1. forward values are sane", "all zeros"),
    ("softmax_without_max", "2. the loss at initialisation", "subtract each row's maximum"),
    ("softmax_wrong_axis", "2. the loss at initialisation", "1/10 everywhere"),
    ("cross_entropy_sign", "2. the loss at initialisation", "sign is flipped"),
    ("log_of_zero", "2. the loss at initialisation", "log(0)"),
    ("dw_transposed", "3. gradient shapes", "It is transposed"),
    ("db_mean_over_batch", "4. LinearLayer.backward", "db does not agree"),
    ("gradients_accumulated", "4. LinearLayer.backward", "accumulated with +="),
    ("update_inside_backward", "4. LinearLayer.backward", "backward changed W or b"),
    ("relu_mask_missing", "5. the derivative", "never multiplied in"),
    ("mask_from_wrong_layer", "5. the derivative", "an index off by one"),
    ("sigmoid_derivative_at_activation", "5. the derivative", "at the activations A = f(Z)"),
    ("sigmoid_applied_twice", "5. the derivative", "Check sigmoid_derivative"),
    ("update_wrong_sign", "6. the update", "moving uphill"),
    ("bias_never_updated", "6. the update", "layers[2].b after one step (lr 0.5) moved by "
     "something else than -lr x its numerical gradient: relative error 1.0e+00 (tolerance "
     "1e-05). Hint: not updating this layer at all."),
    ("no_batch_divide", "6. the update", "factor of the batch size (4)"),
    ("loss_after_update", "6. the update", "the loss after the update"),
]


@pytest.mark.parametrize("name, item, words", CHECKLIST_BUGS, ids=[b[0] for b in CHECKLIST_BUGS])
def test_checklist_names_the_cause(diagnostics, name, item, words):
    ns = namespace_of(notebook_for(entry(name)))
    results, text = run(diagnostics.debugging_checklist, *(ns[n] for n in CHECKED))
    first = next(i for i, ok in enumerate(results.values(), 1) if not ok)
    assert item.startswith(f"{first}."), f"item {first} fails before {item!r}:\n{text}"
    block = re.split(r"\n(?:ok|FAIL) ", text.split(f"FAIL  {item}")[1])[0]
    assert words in block, f"the reason for {item!r} does not say {words!r}:\n{block}"
