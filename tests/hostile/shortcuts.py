"""Notebooks that earn gradient or MNIST points without doing what the questions ask.

``precomputed_q6``: a ``train_step`` with no gradient code and no training. It looks up the
steps the q6 check verifies in a table computed offline from what students once received
(the seeds of the check's run, the MNIST slice, how the check draws the weights it writes):
the SGD update at each verified step, keyed by a checksum of the weights and of the batch;
everywhere else it installs pretrained weights. Against those published draws it scored q6
15/15 with no flag.

``finite_differences``: ``LinearLayer.backward``, ``network_backward`` and ``train_step`` by
central differences of forward passes, never the chain rule's equations. Every difference
is taken with whole columns moved at once (rows of a batch are independent, and so are the
output columns of one layer), which is as cheap as finite differences get: about
``2 * n_in`` forward passes per layer instead of two matrix products.

Each is compared with ``blank_gradients``, the same notebook with those three functions
returning nothing (``tests/test_shortcuts.py``).
"""

from __future__ import annotations

import base64
import zlib

import numpy as np

from . import reference, with_cell
from .deception import pretrained_blob

# What the kit published before grading drew its own secret: q6's graded run and the quick
# public run it then had (2,000 images, one epoch), trained from these seeds.
PUBLISHED_RUNS = ({"n_train": 20_000, "epochs": 3},    # the graded run
                  {"n_train": 2_000, "epochs": 1})     # the quick public check
PUBLISHED = {"layer_sizes": [784, 128, 10], "lr": 0.1, "batch_size": 64, "seed": 0,
             "checked_steps": 4}


def published_draws(n_train: int, epochs: int) -> tuple[list, list, list]:
    """``(schedule, probed steps, probe weights)`` exactly as the published check drew them:
    batches from ``default_rng(seed)``, probed steps from ``seed + 1``, the weights written
    at those steps from ``seed + 2`` (``draw_probe``)."""
    seed, bs, sizes = PUBLISHED["seed"], PUBLISHED["batch_size"], PUBLISHED["layer_sizes"]
    rng = np.random.default_rng(seed)
    schedule = []
    for _ in range(epochs):
        order = rng.permutation(n_train)
        schedule += [order[i:i + bs] for i in range(0, n_train, bs)]
    total = len(schedule)
    probed = sorted({0} | set(np.random.default_rng(seed + 1).choice(
        np.arange(1, total - 1), size=min(total - 2, PUBLISHED["checked_steps"] - 2),
        replace=False).tolist()))
    probe_rng = np.random.default_rng(seed + 2)
    probes = [[(probe_rng.normal(0, np.sqrt(2 / n_in), size=(n_in, n_out)),
                probe_rng.normal(0, 0.1, size=n_out))
               for n_in, n_out in zip(sizes[:-1], sizes[1:])] for _ in probed]
    return schedule, probed, probes


def _sgd(weights, x, y, lr):
    """The attacker's offline SGD step (float64), from which only the update is stored."""
    (W1, b1), (W2, b2) = weights
    z = x @ W1 + b1
    h = np.maximum(z, 0)
    logits = h @ W2 + b2
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    r = (p / p.sum(axis=1, keepdims=True) - y) / len(x)
    dh = r @ W2.T * (z > 0)
    return [(-lr * (x.T @ dh), -lr * dh.sum(axis=0)), (-lr * (h.T @ r), -lr * r.sum(axis=0))]


def weight_key(W) -> float:
    return round(float(np.sum(np.asarray(W, dtype=np.float64))), 3)


def batch_key(x) -> float:
    return round(float(np.sum(np.asarray(x, dtype=np.float64))), 2)


def precomputed_table(blob: str) -> str:
    """The lookup table: base64 of zlib'd float16 updates, and the keys (in order) as text."""
    from conftest import ROOT

    raw = np.frombuffer(zlib.decompress(base64.b64decode(blob)), dtype=np.float16)
    pretrained, offset = [], 0
    for n_in, n_out in ((784, 128), (128, 10)):
        W = raw[offset:offset + n_in * n_out].astype(np.float64).reshape(n_in, n_out)
        offset += n_in * n_out
        pretrained.append((W, raw[offset:offset + n_out].astype(np.float64)))
        offset += n_out
    with np.load(ROOT / "data" / "mnist.npz") as data:
        x_all, y_all = data["x_train"][:20_000].reshape(-1, 784), data["y_train"][:20_000]
    keys, updates = [], []
    for run in PUBLISHED_RUNS:
        schedule, probed, probes = published_draws(**run)
        steps = list(zip(probed, probes)) + [(len(schedule) - 1, pretrained)]
        for step, weights in steps:
            x = x_all[schedule[step]].astype(np.float32)
            x /= np.float32(255.0)
            y = np.eye(10)[y_all[schedule[step]]]
            keys.append((weight_key(weights[0][0]), batch_key(x)))
            updates += [p for pair in _sgd(weights, x.astype(np.float64), y, PUBLISHED["lr"])
                        for p in pair]
    packed = b"".join(u.astype(np.float16).tobytes() for u in updates)
    return base64.b64encode(zlib.compress(packed, 9)).decode(), repr(keys)


PRECOMPUTED_Q6 = """\
import base64
import zlib

_raw = np.frombuffer(zlib.decompress(base64.b64decode("{blob}")), dtype=np.float16).astype(np.float64)
_PRETRAINED, _o = [], 0
for _i, _j in ((784, 128), (128, 10)):
    _W = _raw[_o:_o + _i * _j].reshape(_i, _j); _o += _i * _j
    _PRETRAINED.append((_W, _raw[_o:_o + _j])); _o += _j

_upd = np.frombuffer(zlib.decompress(base64.b64decode("{table}")), dtype=np.float16).astype(np.float64)
_TABLE, _o = {{}}, 0
for _key in {keys}:
    _step = []
    for _i, _j in ((784, 128), (128, 10)):
        _dW = _upd[_o:_o + _i * _j].reshape(_i, _j); _o += _i * _j
        _step.append((_dW, _upd[_o:_o + _j])); _o += _j
    _TABLE[_key] = _step


def train_step(model, x, y, lr):
    loss = cross_entropy(softmax(model.forward(x)), y)
    layers = model.layers
    key = (round(float(np.sum(np.asarray(layers[0].W, dtype=np.float64))), 3),
           round(float(np.sum(np.asarray(x, dtype=np.float64))), 2))
    if key in _TABLE:          # a step the check verifies: its stored update
        for layer, (dW, db) in zip(layers, _TABLE[key]):
            layer.W = np.asarray(layer.W, dtype=np.float64) + dW
            layer.b = np.asarray(layer.b, dtype=np.float64) + db
    else:                      # anywhere else: pretrained weights, no training
        for layer, (W, b) in zip(layers, _PRETRAINED):
            layer.W, layer.b = W.copy(), b.copy()
    return float(loss)
"""


def precomputed_q6():
    blob = pretrained_blob()
    table, keys = precomputed_table(blob)
    return with_cell(reference(), PRECOMPUTED_Q6.format(blob=blob, table=table, keys=keys))


BLANK_GRADIENTS = """\
def _no_backward(self, grad_out):
    return None


LinearLayer.backward = _no_backward


def network_backward(model, grad_logits):
    return None


def train_step(model, x, y, lr):
    return None
"""

FINITE_DIFFERENCES = """\
_H = 1e-6


def _columns(f, a):
    \"\"\"Central differences of ``f`` (an array (R, n) -> values (R,), each row of the result
    depending on that row of ``a`` only) for every entry of ``a``: column j of every row is
    moved at once.\"\"\"
    a = np.array(a, dtype=np.float64)
    out = np.empty_like(a)
    for j in range(a.shape[1]):
        keep = a[:, j].copy()
        a[:, j] = keep + _H
        up = f(a)
        a[:, j] = keep - _H
        down = f(a)
        a[:, j] = keep
        out[:, j] = (up - down) / (2 * _H)
    return out


def _layer_gradients(a, W, b, G):
    \"\"\"dW and db of L = sum((a @ W + b) * G) by central differences: each output column's
    share of L depends only on that column of W and b.\"\"\"
    dW = _columns(lambda Wt: np.sum((a @ Wt.T + b) * G, axis=0), W.T).T
    share = lambda bb: np.sum((a @ W + bb) * G, axis=0)
    return dW, (share(b + _H) - share(b - _H)) / (2 * _H)


def _fd_backward(self, grad_out):
    G = np.asarray(grad_out, dtype=np.float64)
    x = np.asarray(self.x, dtype=np.float64)
    W, b = np.asarray(self.W, dtype=np.float64), np.asarray(self.b, dtype=np.float64)
    self.dW, self.db = _layer_gradients(x, W, b, G)
    return _columns(lambda a: np.sum((a @ W + b) * G, axis=1), x)


LinearLayer.backward = _fd_backward


def network_backward(model, grad_logits):
    G = np.asarray(grad_logits, dtype=np.float64)
    f = (lambda z: np.maximum(z, 0)) if model.activation == "relu" else \\
        (lambda z: 1 / (1 + np.exp(-z)))
    params = [(np.asarray(l.W, dtype=np.float64), np.asarray(l.b, dtype=np.float64))
              for l in model.layers]
    inputs = [np.asarray(l.x, dtype=np.float64) for l in model.layers]

    def logits_from(k, z):        # the logits, given layer k's output z
        for W, b in params[k + 1:]:
            z = f(z) @ W + b
        return z

    for k, layer in enumerate(model.layers):
        W, b = params[k]
        dz = _columns(lambda z: np.sum(logits_from(k, z) * G, axis=1), inputs[k] @ W + b)
        layer.dW, layer.db = _layer_gradients(inputs[k], W, b, dz)
    x = inputs[0]
    if x.shape[1] > 64:           # the public large-network check reads only dW
        return np.zeros_like(x)
    W, b = params[0]
    return _columns(lambda a: np.sum(logits_from(0, a @ W + b) * G, axis=1), x)


def train_step(model, x, y, lr):
    logits = np.asarray(model.forward(x), dtype=np.float64)
    loss = cross_entropy(softmax(logits), y)
    y = np.asarray(y, dtype=np.float64)
    row_loss = lambda z: -np.sum(y * np.log(np.maximum(softmax(z), 1e-300)), axis=1) / len(z)
    network_backward(model, _columns(row_loss, logits))
    for layer in model.layers:
        layer.W = layer.W - lr * layer.dW
        layer.b = layer.b - lr * layer.db
    return float(loss)
"""


def blank_gradients():
    return with_cell(reference(), BLANK_GRADIENTS)


def finite_differences():
    return with_cell(reference(), FINITE_DIFFERENCES)
