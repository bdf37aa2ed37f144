"""Question 4: network_backward."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import reference as ref
from .calling import call_student, call_within, read_attribute
from .compare import assert_close, expect_array, require_defined, tolerance_for
from .networks import draw_weights, forward_layers, network
from .q3_linear import _layer  # noqa: F401
from .settings import LARGE_LAYER, TOLERANCES
from .timed import large_case, require_backprop_speed, timed_answers


def check_network_backward(network_backward, LinearLayer, activation: str = "relu",
                           seed: int = 0, sizes: Sequence[int] = (4, 5, 5, 3),
                           show_values: bool = True) -> None:
    """Every layer's dW and db and the returned dL/dx after ``network_backward`` on a small
    network, against the backprop equations; the first wrong layer (from the top) is named,
    with the typical mistake its values match."""
    require_defined("network_backward", network_backward)
    weights, x = draw_weights(sizes, activation, seed)
    model, layers = network(LinearLayer, sizes, activation, weights, seed)
    forward_layers(model, layers, weights, x, activation)
    g = np.random.default_rng(seed + 1000).normal(size=(x.shape[0], sizes[-1]))
    dx = call_student("network_backward(model, grad_logits)", network_backward, model, g.copy(),
                      context="network")
    where = f" ({activation} network {list(sizes)})"
    dx = expect_array("network_backward(model, grad_logits) (the gradient for the input)", dx,
                      x.shape, shape_hints=[(
                          (x.shape[0], sizes[1]), "that is the shape of the first hidden "
                          "layer's output: the gradient never went through layers[0].backward "
                          "(does the loop stop before layers[0]?).", "first_layer_skipped")])
    expected = ref.backprop(weights, x, g, activation)
    mistakes = ref.backprop_mistakes(weights, x, g, activation)
    per_example = [((x.shape[0],), "one entry per example: db must be summed over the batch "
                                   "(the first axis).", "db_wrong_axis")]
    for i in range(len(layers) - 1, -1, -1):
        n_in, n_out = sizes[i], sizes[i + 1]
        dW = expect_array(f"layers[{i}].dW", read_attribute(
            layers[i], "dW", f"layers[{i}].dW", "network_backward must call every layer's "
            "backward, which stores self.dW."), (n_in, n_out))
        db = expect_array(f"layers[{i}].db", read_attribute(
            layers[i], "db", f"layers[{i}].db", "backward must store self.db."), (n_out,),
            shape_hints=per_example)
        for name, value, which in (("dW", dW, 0), ("db", db, 1)):
            assert_close(f"layers[{i}].{name}{where}", value, expected[i][which],
                         tol=max(TOLERANCES["float64"], tolerance_for(value)),
                         show_values=show_values,
                         wrong_answers=[(d, grads[i][which], m) for d, grads, m in mistakes])
    assert_close(f"the value network_backward returns (dL/dx){where}", dx,
                 ref.backprop_input(weights, x, g, activation), show_values=show_values,
                 tol=max(TOLERANCES["float64"], tolerance_for(dx)), mistake="input_gradient_wrong")
    require_backprop_speed(_large_network_backward, network_backward, LinearLayer, 0)


def check_network_backward_vectorised(network_backward, LinearLayer, seed: int = 0) -> None:
    """network_backward on a 1024-1024-10 ReLU network within the time limit (``timed.py``)."""
    large_case(_large_network_backward, network_backward, LinearLayer, seed)


def _large_network_backward(network_backward, LinearLayer, seed: int) -> None:
    require_defined("network_backward", network_backward)
    sizes = (LARGE_LAYER[1], LARGE_LAYER[2], 10)
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), rng.normal(0, 0.1, n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(LARGE_LAYER[0], sizes[0]))
    g = rng.normal(size=(len(x), sizes[-1])) / len(x)
    model, layers = network(LinearLayer, sizes, "relu", weights, seed)
    forward_layers(model, layers, weights, x, "relu")
    expected, limit = timed_answers(ref.large_backprop, weights, x, g, "relu",
                                    layer=(weights[0][0], x))
    call_within(limit, "network_backward(model, grad_logits) for a 1024-1024-10 network",
                network_backward, model, g.copy())
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        dW = expect_array(f"layers[{k}].dW (1024-1024-10 network)", read_attribute(
            layers[k], "dW", f"layers[{k}].dW", "backward must store self.dW."), (n_in, n_out))
        if expected is not None:   # None: the public copy beside the notebook has no answer
                assert_close(f"layers[{k}].dW (1024-1024-10 network)", dW, expected[k][0],
                         tol=max(TOLERANCES["float64"], tolerance_for(dW)), show_values=False)
