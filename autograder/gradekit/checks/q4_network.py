"""Question 4: network_backward."""

from __future__ import annotations

from typing import Sequence

import numpy as np

from . import carried, reference as ref
from .calling import PASS_THROUGH, call_student, call_within, kit_function, read_attribute
from .compare import CheckFailed, assert_close, expect_array, require_defined, tolerance_for
from .networks import (carry, draw_weights, forward_layers, lower_fails, network, per_layer,
                       raw, stored_per_layer)
from .q1_derivatives import check_relu_derivative, check_sigmoid_derivative
from .q3_linear import check_linear_backward, check_linear_forward
from .settings import LARGE_LAYER, LARGE_SQUARE, TOLERANCES
from .timed import large_case, require_backprop_speed, timed_answers


def check_network_backward(network_backward, LinearLayer, activation: str = "relu",
                           seed: int = 0, sizes: Sequence[int] = (4, 5, 5, 3),
                           show_values: bool = True, relu_derivative=None,
                           sigmoid_derivative=None, parts: str = "all") -> None:
    """Every layer's dW and db and the returned dL/dx after the kit's ``MLP.forward`` and
    ``network_backward`` on a small network, against the backprop equations; the first wrong
    layer (from the top) is named, with the typical mistake its values match. Where the
    student's LinearLayer or derivative is wrong, ``network_backward`` is judged with them
    (``carried.py``). ``parts``: "all", "layers" (every dW and db) or "input" (dL/dx only)."""
    require_defined("network_backward", network_backward)
    derivative = relu_derivative if activation == "relu" else sigmoid_derivative
    case = None
    try:
        case = _run(network_backward, LinearLayer, activation, seed, sizes, 3)
        weights, x, g, layers, dx, _ = case
        _compare_network(dx, layers, x, sizes, activation, ref.backprop(weights, x, g, activation),
                         ref.backprop_input(weights, x, g, activation),
                         ref.backprop_mistakes(weights, x, g, activation), show_values, parts)
    except CheckFailed as failure:
        if case is not None:
            _name_in_place(failure, case[-1])

        def own(case, repaired):
            weights, x, g = case[:3]
            correct = {"dx": ref.backprop_input(weights, x, g, activation),
                       **per_layer(ref.backprop(weights, x, g, activation), ("dW", "db"))}
            return carried.own_backprop(LinearLayer, derivative, f"{activation}_derivative",
                                        [len(x[0]), *(len(b) for _, b in weights)], activation,
                                        weights, x, g, seed, correct, repaired)

        def got(case):
            layers, dx = case[3], case[4]
            values = {} if parts == "layers" else {"dx": raw(dx)}
            return values if parts == "input" else {**values,
                                                    **stored_per_layer(layers, ("dW", "db"))}

        carry(failure, case, own, got, "network_backward",
              lambda n: _run(network_backward, LinearLayer, activation, seed, [n] * len(sizes), n,
                             repaired=True),
              max(sizes), lower_q4(LinearLayer, derivative, activation))
    require_backprop_speed(_large_network_backward, network_backward, LinearLayer,
                           relu_derivative, 0)


def lower_q4(LinearLayer, derivative, activation: str):
    """``lower`` for ``networks.carry``: the own checks of what network_backward builds on."""
    check_derivative = check_relu_derivative if activation == "relu" else \
        check_sigmoid_derivative
    return lambda: lower_fails(lambda seed: check_derivative(derivative, seed),
                               lambda seed: check_linear_forward(LinearLayer, seed),
                               lambda seed: check_linear_backward(LinearLayer, seed))


def _run(network_backward, LinearLayer, activation: str, seed: int, sizes, batch: int,
         repaired: bool = False):
    """The kit's forward, then the student's network_backward, on a fresh network:
    ``(weights, x, g, layers, returned value, cached arrays it changed in place)``."""
    weights, x = draw_weights(sizes, activation, seed, batch)
    model, layers = network(LinearLayer, sizes, activation, weights, seed, repaired, True)
    g = np.random.default_rng(seed + 1000).normal(size=(x.shape[0], sizes[-1]))
    try:
        # the kit's MLP.forward where the student's code runs: the arrays the model caches
        # are the ones the layers kept, so an in-place change of them shows as in training
        _, pre, acts, model = call_student("model.forward(x)", kit_function(
            "forward_cached", network_backward), model, x.copy())
    except CheckFailed:
        # a forward that MLP.forward cannot use (Question 3's mistake): the check gives each
        # layer its input and the model the caches
        forward_layers(model, layers, weights, x, activation)
        pre, acts = model.pre_activations, model.activations
    cached = {(kind, i): np.array(a, dtype=np.float64)
              for kind, arrays in (("activations", acts), ("pre_activations", pre))
              for i, a in enumerate(arrays)}
    dx = call_student("network_backward(model, grad_logits)", network_backward, model,
                      g.copy(), context="network")
    return weights, x, g, layers, dx, _changed(model, cached)


def _changed(model, cached: dict) -> list[str]:
    """The names of the cached arrays that are no longer what the forward pass left (the
    activations first: the layers above keep them as their inputs)."""
    changed = []
    for (kind, i), before in cached.items():
        try:
            now = raw(getattr(model, kind)[i])
        except PASS_THROUGH:
            raise
        except Exception:  # noqa: BLE001 - replaced by something else: changed
            now = None
        if now is None or now.shape != before.shape or not np.array_equal(now, before):
            changed.append(f"model.{kind}[{i}]")
    return changed


def _name_in_place(failure: CheckFailed, changed: list) -> None:
    """Wrong gradients after network_backward changed a cached array in place: say so."""
    if changed:
        raise CheckFailed(f"network_backward changed {changed[0]} in place, and the gradients "
                          "are wrong: the layers keep these arrays as their inputs "
                          "(model.activations[i] is what model.layers[i + 1] kept), so backward "
                          "sees the changed values. Compute new arrays instead (a * (1 - a), "
                          "not a *= 1 - a).\n  " + str(failure),
                          mistake="cache_changed_in_place") from None


def _compare_network(dx, layers, x, sizes, activation, expected, expected_dx, mistakes,
                     show_values: bool, parts: str) -> None:
    """The gradient for the input's shape, every layer's dW and db (from the top), then the
    gradient for the input's values: the named mistakes of the layers come first."""
    where = f" ({activation} network {list(sizes)})"
    if parts != "layers":
        expect_array("network_backward(model, grad_logits) (the gradient for the input)", dx,
                     x.shape, shape_hints=[(
                         (x.shape[0], sizes[1]), "that is the shape of the first hidden layer's "
                         "output: the gradient never went through layers[0].backward (does the "
                         "loop stop before layers[0]?).", "first_layer_skipped")])
    if parts != "input":
        _compare_layers(layers, x, sizes, expected, mistakes, where, show_values)
    if parts != "layers":
        assert_close(f"the value network_backward returns (dL/dx){where}", dx, expected_dx,
                     show_values=show_values, tol=max(TOLERANCES["float64"], tolerance_for(dx)),
                     mistake="input_gradient_wrong")


def _compare_layers(layers, x, sizes, expected, mistakes, where: str, show_values: bool) -> None:
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


def check_network_backward_vectorised(network_backward, LinearLayer, seed: int = 0,
                                      relu_derivative=None) -> None:
    """network_backward on a 1024-1024-10 ReLU network within the time limit (``timed.py``)."""
    large_case(_large_network_backward, network_backward, LinearLayer, relu_derivative, seed)


def _large_network_backward(network_backward, LinearLayer, relu_derivative, seed: int) -> None:
    require_defined("network_backward", network_backward)
    sizes = (LARGE_LAYER[1], LARGE_LAYER[2], 10)
    case = None
    try:
        case = _large_run(network_backward, LinearLayer, sizes, LARGE_LAYER[0], seed)
        weights, x, g, layers, expected = case
        for k, shape in enumerate(zip(sizes[:-1], sizes[1:])):
            what = f"layers[{k}].dW ({'-'.join(map(str, sizes))} network)"
            dW = read_attribute(layers[k], "dW", f"layers[{k}].dW", "backward must store self.dW.")
            if expected is None:   # the public copy beside the notebook has no answer
                expect_array(what, dW, shape)
            else:
                assert_close(what, dW, expected[k][0],
                             tol=max(TOLERANCES["float64"], tolerance_for(dW)), show_values=False)
    except CheckFailed as failure:
        def own(case, repaired):
            weights, x, g, _, expected = case
            return carried.own_backprop(
                LinearLayer, relu_derivative, "relu_derivative",
                [len(x[0]), *(len(b) for _, b in weights)], "relu", weights, x, g, seed,
                per_layer(expected, ("dW",)), repaired)

        def got(case):
            return stored_per_layer(case[3], ("dW",))

        # layers and a batch of LARGE_SQUARE: still far beyond finite differences' time
        carry(failure, case, own, got, "network_backward",
              lambda n: _large_run(network_backward, LinearLayer, (n, n, n), n, seed, True),
              LARGE_SQUARE, lower_q4(LinearLayer, relu_derivative, "relu"))


def _large_run(network_backward, LinearLayer, sizes, batch: int, seed: int,
               repaired: bool = False):
    """network_backward on a ReLU network of ``sizes`` within the time limit:
    ``(weights, x, g, layers, reference gradients or None beside the notebook)``."""
    rng = np.random.default_rng(seed)
    weights = [(rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)), rng.normal(0, 0.1, n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])]
    x = rng.normal(size=(batch, sizes[0]))
    g = rng.normal(size=(len(x), sizes[-1])) / len(x)
    model, layers = network(LinearLayer, sizes, "relu", weights, seed, repaired, True)
    forward_layers(model, layers, weights, x, "relu")
    expected, limit = timed_answers(ref.large_backprop, weights, x, g, "relu",
                                    layer=(weights[0][0], x))
    call_within(limit, f"network_backward(model, grad_logits) for a {'-'.join(map(str, sizes))} "
                "network", network_backward, model, g.copy())
    return weights, x, g, layers, expected
