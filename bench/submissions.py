"""The notebooks the benchmark grades: the reference, the blank notebook and mutations of the
reference (realistic bugs, and the slowest correct pattern: a per-example Python loop).

Every mutation is a set of exact text replacements in the reference's code cells; each
``old`` text must occur exactly once, so a change to the master notebook makes the benchmark
fail loudly instead of silently grading an unmutated copy.
"""

from __future__ import annotations

import json
from pathlib import Path

import nbformat

REFERENCE_TRAIN_STEP = """\
    probs = softmax(model.forward(x))
    loss = cross_entropy(probs, y)
    network_backward(model, (probs - y) / x.shape[0])
    for layer in model.layers:
        layer.W -= lr * layer.dW
        layer.b -= lr * layer.db
    return float(loss)
"""

# Correct, but one forward/backward pass per example: ~60x the reference's time per batch.
PER_EXAMPLE_TRAIN_STEP = """\
    sums = [(np.zeros_like(layer.W), np.zeros_like(layer.b)) for layer in model.layers]
    total = 0.0
    for i in range(x.shape[0]):
        probs = softmax(model.forward(x[i:i + 1]))
        total += cross_entropy(probs, y[i:i + 1])
        network_backward(model, (probs - y[i:i + 1]) / x.shape[0])
        for (dW, db), layer in zip(sums, model.layers):
            dW += layer.dW
            db += layer.db
    for (dW, db), layer in zip(sums, model.layers):
        layer.W -= lr * dW
        layer.b -= lr * db
    return float(total / x.shape[0])
"""

MUTATIONS: dict[str, list[tuple[str, str]]] = {
    "per_example_loop": [(REFERENCE_TRAIN_STEP, PER_EXAMPLE_TRAIN_STEP)],
    "bias_gradient_mean": [("self.db = grad_out.sum(axis=0)", "self.db = grad_out.mean(axis=0)")],
    "softmax_no_shift": [("shifted = z - np.max(z, axis=-1, keepdims=True)", "shifted = z")],
    "relu_derivative_is_relu": [("return (z > 0).astype(z.dtype)", "return np.maximum(z, 0)")],
    "update_uphill": [("layer.W -= lr * layer.dW", "layer.W += lr * layer.dW")],
    "log_without_clip": [("np.log(np.clip(probs, 1e-12, None))", "np.log(probs)")],
}
BUGS = ("bias_gradient_mean", "softmax_no_shift", "relu_derivative_is_relu", "update_uphill",
        "log_without_clip")


def mutated(reference: nbformat.NotebookNode, edits: list[tuple[str, str]]) -> nbformat.NotebookNode:
    """A copy of ``reference`` with every ``(old, new)`` applied to its code cells."""
    nb = nbformat.from_dict(json.loads(json.dumps(reference)))
    for old, new in edits:
        found = sum(c.source.count(old) for c in nb.cells if c.cell_type == "code")
        if found != 1:
            raise ValueError(f"the reference notebook holds {found} copies of {old[:60]!r}, "
                             "expected exactly 1: update bench/submissions.py")
        for cell in nb.cells:
            if cell.cell_type == "code":
                cell.source = cell.source.replace(old, new)
    return nb


def write_variants(submissions: Path, into: Path) -> dict[str, Path]:
    """Write reference, blank and every mutation into ``into``; return name -> path."""
    into.mkdir(parents=True, exist_ok=True)
    reference = nbformat.read(submissions / "reference.ipynb", as_version=4)
    paths = {}
    for name in ("reference", "blank"):
        paths[name] = into / f"{name}.ipynb"
        paths[name].write_bytes((submissions / f"{name}.ipynb").read_bytes())
    for name, edits in MUTATIONS.items():
        paths[name] = into / f"{name}.ipynb"
        nbformat.write(mutated(reference, edits), paths[name])
    return paths


def batch_folder(variants: dict[str, Path], into: Path, size: int) -> dict[str, int]:
    """A class of ``size`` submissions: 70 % reference, 10 % blank, 20 % spread over the bugs.

    Returns how many copies of each variant were written.
    """
    into.mkdir(parents=True, exist_ok=True)
    n_blank = max(1, size // 10) if size > 1 else 0
    n_bugs = size // 5
    counts = {"blank": n_blank}
    for i in range(n_bugs):
        name = BUGS[i % len(BUGS)]
        counts[name] = counts.get(name, 0) + 1
    counts["reference"] = size - n_blank - n_bugs
    number = 0
    for name, count in counts.items():
        for _ in range(count):
            number += 1
            (into / f"{number:03d}_{name}.ipynb").write_bytes(variants[name].read_bytes())
    return counts
