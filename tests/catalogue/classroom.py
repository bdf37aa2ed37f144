"""A synthetic class for the class report: independently written solutions, planted catalogue
mistakes, planted near-copies, a blank notebook and an unreadable upload.

The graded code is seven units (five cells of the notebook). Each unit has five independently
written versions: version 0 is the reference's, 1-4 are written here in other styles. Student
``(a, b)`` (a, b in 0..4) writes unit ``u`` as version ``(a + b * u) % 5``: two students agree on
the units with ``u = r (mod 5)`` for one ``r`` at most, so they share one unit, or two small ones
(the order below puts the small units at positions 0, 1, 5 and 6). That is how far apart real,
independent students are: the same one-line ``relu_derivative`` is common, whole copied
solutions are not.

A planted mistake replaces one unit with the catalogue's buggy version of it (the reference with
the catalogue's edit). A near-copy is another student's notebook with local variables renamed
and the functions of each cell in reverse order: the disguises that do not change a grade.
"""

from __future__ import annotations

import ast
import json

import nbformat

from conftest import solution_notebook, student_notebook

from .entries import BUGS, notebook_for

# position in the Latin square -> (unit, the notebook cell holding it)
UNITS = ["relu_derivative", "cross_entropy", "LinearLayer", "network_backward", "train_step",
         "sigmoid_derivative", "softmax"]
CELLS = [("relu_derivative", "sigmoid_derivative"), ("softmax", "cross_entropy"),
         ("LinearLayer",), ("network_backward",), ("train_step",)]

ALTERNATIVES = {
    "relu_derivative": [
        "def relu_derivative(z):\n    return np.where(z > 0, 1.0, 0.0)\n",
        "def relu_derivative(z):\n    grad = np.zeros_like(z)\n    grad[z > 0] = 1\n"
        "    return grad\n",
        "def relu_derivative(z):\n    return np.heaviside(z, 0.0)\n",
        "def relu_derivative(z):\n    return 1.0 * (z > 0)\n",
    ],
    "sigmoid_derivative": [
        "def sigmoid_derivative(z):\n    p = np.exp(-np.logaddexp(0.0, -z))\n"
        "    return p - p * p\n",
        "def sigmoid_derivative(z):\n    return sigmoid(z) * sigmoid(-z)\n",
        "def sigmoid_derivative(z):\n    out = sigmoid(z)\n    one_minus = 1.0 - out\n"
        "    return out * one_minus\n",
        "def sigmoid_derivative(z):\n    t = np.tanh(z / 2)\n    return 0.25 * (1 - t ** 2)\n",
    ],
    "softmax": [
        "def softmax(z):\n    e = np.exp(z - z.max(axis=-1, keepdims=True))\n"
        "    return e / e.sum(axis=-1, keepdims=True)\n",
        "def softmax(z):\n    m = np.max(z, axis=-1, keepdims=True)\n"
        "    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))\n"
        "    return np.exp(z - lse)\n",
        "def softmax(z):\n    stable = z - np.amax(z, axis=-1)[..., None]\n"
        "    num = np.exp(stable)\n    den = np.sum(num, axis=-1)[..., None]\n"
        "    return num / den\n",
        "def softmax(z):\n    shifted = z - np.max(z, axis=z.ndim - 1, keepdims=True)\n"
        "    np.exp(shifted, out=shifted)\n"
        "    shifted /= shifted.sum(axis=z.ndim - 1, keepdims=True)\n    return shifted\n",
    ],
    "cross_entropy": [
        "def cross_entropy(probs, y):\n"
        "    return float(-np.sum(y * np.log(probs + 1e-12)) / probs.shape[0])\n",
        "def cross_entropy(probs, y):\n    picked = np.sum(probs * y, axis=-1)\n"
        "    return float(np.mean(-np.log(np.maximum(picked, 1e-12))))\n",
        "def cross_entropy(probs, y):\n    eps = 1e-15\n    clipped = np.clip(probs, eps, 1.0)\n"
        "    losses = -(y * np.log(clipped)).sum(axis=-1)\n    return float(losses.mean())\n",
        "def cross_entropy(probs, y):\n    n = len(probs)\n    total = 0.0\n"
        "    for p_row, y_row in zip(probs, y):\n"
        "        total -= np.dot(y_row, np.log(np.maximum(p_row, 1e-12)))\n"
        "    return float(total / n)\n",
    ],
    "LinearLayer": [
        """class LinearLayer:
    def __init__(self, n_in, n_out, rng):
        scale = np.sqrt(2.0 / n_in)
        self.W = (scale * rng.standard_normal((n_in, n_out))).astype(np.float32)
        self.b = np.zeros((n_out,), dtype=np.float32)
        self.dW = np.zeros((n_in, n_out), dtype=np.float32)
        self.db = np.zeros((n_out,), dtype=np.float32)

    def forward(self, x):
        self.cache = x
        out = np.dot(x, self.W)
        return out + self.b

    def backward(self, grad_out):
        inputs = self.cache
        self.dW = np.dot(inputs.T, grad_out)
        self.db = np.sum(grad_out, axis=0)
        return np.dot(grad_out, self.W.T)
""",
        """class LinearLayer:
    def __init__(self, n_in, n_out, rng):
        self.W = rng.normal(size=(n_in, n_out)) * np.sqrt(2 / n_in)
        self.b = np.zeros(n_out)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self.last_input = None

    def forward(self, x):
        self.last_input = x
        return np.matmul(x, self.W) + self.b

    def backward(self, grad_out):
        grad_in = np.matmul(grad_out, self.W.T)
        self.dW = np.matmul(self.last_input.T, grad_out)
        self.db = grad_out.sum(0)
        return grad_in
""",
        """class LinearLayer:
    def __init__(self, n_in, n_out, rng):
        std = (2.0 / n_in) ** 0.5
        self.W = rng.normal(0.0, std, (n_in, n_out)).astype(np.float32)
        self.b = np.zeros(n_out, np.float32)
        self.dW, self.db = np.zeros_like(self.W), np.zeros_like(self.b)

    def forward(self, x):
        self.x_saved = x
        return np.einsum("bi,io->bo", x, self.W, optimize=True) + self.b

    def backward(self, grad_out):
        self.dW = np.einsum("bi,bo->io", self.x_saved, grad_out, optimize=True)
        self.db = np.einsum("bo->o", grad_out)
        return np.einsum("bo,io->bi", grad_out, self.W, optimize=True)
""",
        """class LinearLayer:
    def __init__(self, n_in, n_out, rng):
        he = np.sqrt(2.0 / n_in)
        weights = rng.normal(0.0, he, size=(n_in, n_out))
        self.W = weights.astype(np.float32)
        self.b = np.zeros(n_out, dtype=np.float32)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)

    def forward(self, x):
        self.inp = np.asarray(x)
        z = self.inp @ self.W
        z = z + self.b
        return z

    def backward(self, grad_out):
        g = np.asarray(grad_out)
        dx = g @ self.W.T
        self.dW = self.inp.T @ g
        self.db = g.sum(axis=0, keepdims=True).reshape(-1)
        return dx
""",
    ],
    "network_backward": [
        """def network_backward(model, grad_logits):
    grad = grad_logits
    for i in reversed(range(len(model.layers))):
        grad = model.layers[i].backward(grad)
        if i > 0:
            if model.activation == "relu":
                grad = grad * relu_derivative(model.pre_activations[i - 1])
            else:
                grad = grad * sigmoid_derivative(model.pre_activations[i - 1])
    return grad
""",
        """def network_backward(model, grad_logits):
    deriv = {"relu": relu_derivative, "sigmoid": sigmoid_derivative}[model.activation]
    layers = model.layers
    g = layers[-1].backward(grad_logits)
    for layer, z in zip(layers[-2::-1], model.pre_activations[::-1]):
        g = layer.backward(g * deriv(z))
    return g
""",
        """def network_backward(model, grad_logits):
    n = len(model.layers)
    delta = model.layers[n - 1].backward(grad_logits)
    idx = n - 2
    while idx >= 0:
        act = model.activations[idx]
        local = act * (1 - act) if model.activation == "sigmoid" else (act > 0)
        delta = model.layers[idx].backward(delta * local)
        idx -= 1
    return delta
""",
        """def network_backward(model, grad_logits):
    upstream = grad_logits
    for position, layer in enumerate(reversed(model.layers)):
        if position > 0:
            z = model.pre_activations[len(model.layers) - 1 - position]
            if model.activation == "relu":
                upstream = upstream * relu_derivative(z)
            else:
                upstream = upstream * sigmoid_derivative(z)
        upstream = layer.backward(upstream)
    return upstream
""",
    ],
    "train_step": [
        """def sgd_update(layer, lr):
    layer.W = layer.W - lr * layer.dW
    layer.b = layer.b - lr * layer.db


def train_step(model, x, y, lr):
    logits = model.forward(x)
    probs = softmax(logits)
    loss = cross_entropy(probs, y)
    network_backward(model, (probs - y) / len(x))
    for layer in model.layers:
        sgd_update(layer, lr)
    return float(loss)
""",
        """def train_step(model, x, y, lr):
    batch = x.shape[0]
    p = softmax(model.forward(x))
    value = cross_entropy(p, y)
    network_backward(model, (p - y) / batch)
    for lay in model.layers:
        np.subtract(lay.W, lr * lay.dW, out=lay.W)
        np.subtract(lay.b, lr * lay.db, out=lay.b)
    return float(value)
""",
        """def train_step(model, x, y, lr):
    out = softmax(model.forward(x))
    loss_before = float(cross_entropy(out, y))
    grad = out - y
    grad = grad / len(y)
    network_backward(model, grad)
    for L in model.layers:
        L.W -= lr * L.dW
        L.b -= lr * L.db
    return loss_before
""",
        """def train_step(model, x, y, lr):
    scores = model.forward(x)
    probabilities = softmax(scores)
    current = cross_entropy(probabilities, y)
    model_grad = np.subtract(probabilities, y) / x.shape[0]
    network_backward(model, model_grad)
    for params in model.layers:
        params.W = params.W - lr * params.dW
        params.b -= lr * params.db
    return float(current)
""",
    ],
}

# catalogue bug -> (mistake id the checks name, how many independent students plant it)
PLANTED = {"softmax_without_max": ("softmax_overflow", 6),
           "log_of_zero": ("cross_entropy_log_of_zero", 3),
           "sigmoid_derivative_nan_for_large_z": ("sigmoid_derivative_overflow", 3),
           "bias_never_updated": ("not_updated", 1),
           "relu_mask_missing": ("derivative_missing", 1)}
BUG_UNIT = {"softmax_without_max": "softmax", "log_of_zero": "cross_entropy",
            "sigmoid_derivative_nan_for_large_z": "sigmoid_derivative",
            "bias_never_updated": "train_step", "relu_mask_missing": "network_backward"}
# near-copy -> the student it copies (one correct, two with a planted mistake)
NEAR_COPIES = {"copy_of_s07": "s07", "copy_of_s13": "s13", "copy_of_s22": "s22"}


def unit_source(nb: nbformat.NotebookNode, name: str) -> str:
    """The source of the top-level function or class ``name`` in a notebook."""
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        try:
            tree = ast.parse(cell.source)
        except SyntaxError:
            continue
        for node in tree.body:
            if getattr(node, "name", None) == name:
                return ast.get_source_segment(cell.source, node) + "\n"
    raise KeyError(name)


def with_units(units: dict[str, str]) -> nbformat.NotebookNode:
    """The solution notebook with each graded cell rewritten from ``units``."""
    nb = solution_notebook()
    for names in CELLS:
        cell = next(c for c in nb.cells if c.cell_type == "code"
                    and c.source.lstrip().startswith(("def " + names[0], "class " + names[0])))
        cell.source = "\n\n".join(units[n] for n in names).rstrip("\n")
    return nb


class _Renamer(ast.NodeTransformer):
    """Rename every local variable a function assigns (not its parameters)."""

    def visit_FunctionDef(self, node):
        params = {a.arg for a in node.args.args}
        assigned = {n.id for n in ast.walk(node) if isinstance(n, ast.Name)
                    and isinstance(n.ctx, ast.Store)} - params
        for n in ast.walk(node):
            if isinstance(n, ast.Name) and n.id in assigned:
                n.id = f"{n.id}_tmp" if len(n.id) > 2 else f"{n.id}{n.id}"
        return node


def near_copy(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """``nb`` with local variables renamed and each graded cell's definitions reversed."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    graded = {n for names in CELLS for n in names}
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        tree = ast.parse(cell.source)
        if not any(getattr(node, "name", None) in graded for node in tree.body):
            continue
        tree.body.reverse()
        cell.source = ast.unparse(_Renamer().visit(tree))
    return nb


def reference_units(nb: nbformat.NotebookNode) -> dict[str, str]:
    return {name: unit_source(nb, name) for name in UNITS}


def synthetic_class() -> tuple[dict[str, nbformat.NotebookNode | bytes], dict]:
    """(file name -> notebook or raw bytes, plan) for the whole class.

    The plan records, per planted mistake id, the students who show it, the three planted
    near-copy pairs and the independent students."""
    reference = reference_units(solution_notebook())
    buggy = {bug.name: unit_source(notebook_for(bug), BUG_UNIT[bug.name])
             for bug in BUGS if bug.name in PLANTED}
    students: dict[str, dict[str, str]] = {}
    for a in range(5):
        for b in range(5):
            students[f"s{5 * a + b:02d}"] = {
                unit: ([reference[unit]] + ALTERNATIVES[unit])[(a + b * u) % 5]
                for u, unit in enumerate(UNITS)}
    order = sorted(students)[1:]     # s00, the reference itself, stays correct
    mistakes: dict[str, list[str]] = {}
    for bug, (mistake, count) in PLANTED.items():
        for name in order[:count]:
            students[name][BUG_UNIT[bug]] = buggy[bug]
            mistakes.setdefault(mistake, []).append(name)
        order = order[count:]
    files: dict[str, nbformat.NotebookNode | bytes] = {
        name: with_units(units) for name, units in students.items()}
    for copy, original in NEAR_COPIES.items():
        files[copy] = near_copy(files[original])
        for names in mistakes.values():
            if original in names:
                names.append(copy)
    files["blank"] = student_notebook()
    files["unreadable"] = b"my answers are in the notebook I forgot to upload\n"
    plan = {"mistakes": mistakes, "independent": sorted(students),
            "pairs": {tuple(sorted(p)) for p in NEAR_COPIES.items()}}
    return files, plan


def random_class(size: int, seed: int = 0) -> list[tuple[str, str, nbformat.NotebookNode | None]]:
    """A large class for timing the report: ``(name, kind, notebook)`` where ``kind`` is
    "correct", a planted bug's name, "blank" or "unreadable" (notebook None). Each student picks
    every unit's version at random; 40 % plant one of the planted bugs."""
    import random
    rnd = random.Random(seed)
    reference = reference_units(solution_notebook())
    buggy = {bug.name: unit_source(notebook_for(bug), BUG_UNIT[bug.name])
             for bug in BUGS if bug.name in PLANTED}
    blank = student_notebook()
    out = []
    for k in range(size):
        roll = rnd.random()
        if roll < 0.01:
            out.append((f"r{k:04d}", "unreadable", None))
            continue
        if roll < 0.05:
            out.append((f"r{k:04d}", "blank", blank))
            continue
        units = {u: rnd.choice([reference[u]] + ALTERNATIVES[u]) for u in UNITS}
        kind = "correct"
        if roll < 0.45:
            kind = rnd.choice(sorted(PLANTED))
            units[BUG_UNIT[kind]] = buggy[kind]
        out.append((f"r{k:04d}", kind, with_units(units)))
    return out
