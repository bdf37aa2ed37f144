"""Inputs the checks draw and networks they build: the kit's MLP around layers made with
the graded LinearLayer. The layer count and shapes come from the check; afterwards the check
reads the parameters and gradients only from its own list of layers."""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from backprop_support import relu, sigmoid

from . import carried, draws, reference as ref
from .calling import PASS_THROUGH, call_student, kit_function, read_attribute
from .compare import CheckFailed, snapshot

# the kit's activation functions (what MLP.forward applies)
ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid}


def away_from_zero(rng: np.random.Generator, shape: tuple, margin: float = 0.1,
                   scale: float = 1.0) -> np.ndarray:
    """Normal samples with ``|value| >= margin`` (keeps ReLU inputs off the kink)."""
    z = rng.normal(0, scale, size=shape)
    return np.where(np.abs(z) < margin, np.sign(z + 1e-12) * margin + z, z)



def network(LinearLayer, sizes: Sequence[int], activation: str,
            weights: Sequence[tuple[np.ndarray, np.ndarray]] | None = None, seed: int = 0,
            repaired: bool = False, sentinels: bool = False):
    """``(model, layers)``: layers built by ``LinearLayer`` holding ``weights`` (if given).
    ``repaired`` (where error is carried forward): each layer wrapped so that it keeps its input
    and its stored gradients take their parameters' shapes where it would not
    (``worker.RepairedLayer``). ``sentinels``: every layer's ``dW`` and ``db`` set to
    ``sentinel`` arrays first, so that gradients read afterwards come from the call judged, not
    from ``__init__`` (the run judged and the carried computation get the same ones)."""
    from backprop_support import MLP

    layers = []
    for k, (n_in, n_out) in enumerate(zip(sizes[:-1], sizes[1:])):
        layer = call_student(f"LinearLayer({n_in}, {n_out}, rng)", LinearLayer, n_in, n_out,
                             np.random.default_rng(seed + k))
        if repaired:
            layer = kit_function("repaired_layer", layer)(layer)
        if weights is not None:
            layer.W = np.array(weights[k][0])
            layer.b = np.array(weights[k][1])
        for name, shape in (("dW", (n_in, n_out)), ("db", (n_out,))) if sentinels else ():
            try:
                setattr(layer, name, sentinel(seed, k, name, shape))
            except PASS_THROUGH:
                raise
            except Exception:  # noqa: BLE001 - a layer that refuses it keeps its own
                pass
        layers.append(layer)
    return MLP.from_layers(layers, sizes, activation), layers


def sentinel(seed: int, k: int, name: str, shape: tuple) -> np.ndarray:
    """What layer ``k``'s ``name`` (dW or db) holds before the call judged (``network``)."""
    return np.random.default_rng([seed, k, int(name == "dW"), 7919]).normal(size=shape)


def read_weights(layers: Sequence[Any], sizes: Sequence[int], when: str) -> list:
    """Every layer's ``(W, b)`` as float64, shapes checked against ``sizes``."""
    return [(snapshot(f"layers[{k}].W {when}",
                      read_attribute(layer, "W", f"layers[{k}].W", "LinearLayer.__init__ must "
                                     "set self.W."), (n_in, n_out)),
             snapshot(f"layers[{k}].b {when}",
                      read_attribute(layer, "b", f"layers[{k}].b", "LinearLayer.__init__ must "
                                     "set self.b."), (n_out,)))
            for k, (layer, n_in, n_out) in enumerate(zip(layers, sizes[:-1], sizes[1:]))]


def draw_weights(sizes: Sequence[int], activation: str, seed: int, batch: int = 3):
    """Float64 ``(weights, x)`` with every hidden pre-activation at least 1e-3 from zero."""
    rng = np.random.default_rng(seed)
    for _ in range(100):
        weights = [(rng.normal(0, 1 / np.sqrt(n_in), size=(n_in, n_out)),
                    rng.normal(0, 0.5, size=n_out))
                   for n_in, n_out in zip(sizes[:-1], sizes[1:])]
        x = rng.normal(size=(batch, sizes[0]))
        pre = ref.pre_activations(weights, x, activation)
        if all(np.min(np.abs(p)) > 1e-3 for p in pre):
            return weights, x
    raise RuntimeError("could not draw inputs away from the ReLU kink")  # pragma: no cover


def forward_layers(model, layers, weights, x, activation: str) -> None:
    """Run every layer's own ``forward`` on the right input, so each keeps it for backward,
    and give the model the kit's pre-activations and activations (as ``MLP.forward`` does)."""
    pre = ref.pre_activations(weights, x, activation)
    acts = [ACTIVATIONS[activation](z) for z in pre]
    for k, layer in enumerate(layers):
        out = call_student(f"layers[{k}].forward(x) (your LinearLayer.forward)", layer.forward,
                           (x if k == 0 else acts[k - 1]).copy())
        if out is None:
            raise CheckFailed(f"layers[{k}].forward(x) returned None: LinearLayer.forward is not "
                              "implemented yet (Question 3), or it is missing a `return`.",
                              mistake="not_implemented")
    model.pre_activations, model.activations = pre, acts


# Gradients stored with a wrong shape (a mistake of Question 3) are still compared, up to a size.
MAX_STORED = 2_000_000   # a 1024 x 1024 layer's, and more


def raw(value: Any, limit: int = MAX_STORED) -> np.ndarray | None:
    """A float64 copy of an array of any shape (bounded size) student code returned or
    stored, for comparing with what the student's own functions give; None for anything else."""
    if not isinstance(value, np.ndarray) or value.size > limit:
        return None
    try:
        return np.array(value, dtype=np.float64)
    except (TypeError, ValueError):
        return None


def per_layer(pairs: Sequence, names: tuple[str, ...]) -> dict:
    """``{"layers[k].<name>": value}`` for every layer's pair (``(W, b)``, ``(dW, db)``; only
    the first with ``names`` of one): how the carried comparison names the values it compares
    (``carried.Own``)."""
    return {f"layers[{k}].{name}": value for k, pair in enumerate(pairs)
            for name, value in zip(names, pair)}


def stored_per_layer(layers: Sequence[Any], names: tuple[str, ...]) -> dict:
    """``per_layer`` of what the student's layers hold as ``names`` (``stored_raw``)."""
    return per_layer([[stored_raw(layer, name) for name in names] for layer in layers], names)


def stored_raw(layer: Any, name: str) -> np.ndarray | None:
    try:
        return raw(getattr(layer, name))
    except PASS_THROUGH:
        raise
    except Exception:  # noqa: BLE001 - never set, or unreadable through the grader
        return None


def lower_fails(*checks) -> bool:
    """Whether any of ``checks`` (each ``check(seed)``: a lower question's own check of a
    function the carried computation uses) fails on inputs drawn afresh for this grading. Error
    is carried forward only from a function that is wrong by its own question's standard, not
    from one that misbehaves only where a later question's check calls it."""
    seed = int(draws.rng(0, "carry").integers(1 << 30))
    for check in checks:
        try:
            check(seed)
        except CheckFailed:
            return True
    return False


def carry(failure: CheckFailed, case, own, got, function: str, square, width: int,
          lower) -> None:
    """After ``failure`` of ``case`` against the correct answer: pass when the student's
    results (``got(case)``) agree with what a correct ``function`` gives with their own
    lower-level functions (``own(case)``, from ``carried.py``); otherwise fail, saying what it
    was judged against where those functions differ from the correct ones.

    When those functions give nothing to judge with on the check's shapes (``case`` is None:
    the student's call raised; or ``own`` is None: they raise or give arrays of the wrong
    shape), the student's function runs again as ``square(width)``: layers and a batch all of
    one size, where a transposed or misplaced axis still runs, each layer repaired where it
    cannot run as written (``network(repaired=True)``: it keeps its input, its stored gradients
    take their parameters' shapes; ``own(case, True)`` likewise). A time limit is never
    carried, and nothing is unless ``lower()`` finds a lower function wrong by its own
    question's checks (``lower_fails``).
    """
    if failure.mistake == "backward_not_vectorised":
        raise failure
    if carried.NOTE:   # the copy beside the notebook carries nothing, and says so
        raise CheckFailed(f"{failure}\n  {carried.NOTE}", mistake=failure.mistake) from None
    mine = own(case, False) if case is not None else None
    if mine is None:
        try:
            case = square(width)
        except CheckFailed:
            case = None
        mine = own(case, True) if case is not None else None
    wrong = mine.mismatch(got(case)) if mine is not None else "everything"
    if wrong is None and lower():
        return
    if wrong is None or mine is None or not mine.differs:   # the lower ones are not to blame
        raise failure
    raise CheckFailed(f"{wrong} differs from what a correct {function} gives with {mine.uses}. "
                      "Those differ from the correct ones (their own questions' checks say "
                      "how), so this question is judged with them (error carried forward): "
                      f"the mistake is in {function} itself.\n  (against the correct answer: "
                      f"{str(failure).splitlines()[0]})", mistake="wrong_with_own_functions")
