"""Ordinary notebooks that try to fool the checks rather than the grader: no tampering, no
escape, just student objects that report what the checks want to hear. Each starts from the
reference solution and must lose points on ``below_full``, since the checks believe only
what they compute themselves.
"""

from __future__ import annotations

from . import Hostile, reference, with_cell

# The checks once took MLP from the notebook: a subclass whose layers vanish after a backward
# pass made the q4 and q5 loops compare nothing.
MLP_HIDES_LAYERS = """\
import backprop_support


class MLP(backprop_support.MLP):
    @property
    def layers(self):
        return [] if self.__dict__.get("_done") else self.__dict__["_layers"]

    @layers.setter
    def layers(self, value):
        self.__dict__["_layers"] = value


def network_backward(model, grad_logits):
    model._done = True
    return np.zeros((grad_logits.shape[0], model.layer_sizes[0]))


def train_step(model, x, y, lr):
    loss = cross_entropy(softmax(model.forward(x)), y)
    model._done = True
    return float(loss)
"""

NAN_LOSS = """\
_real_step = train_step


def train_step(model, x, y, lr):
    _real_step(model, x, y, lr)
    return float("nan")
"""

FAKE_FALLING_LOSSES = """\
_fake = [3.0]


def train_step(model, x, y, lr):
    _fake[0] *= 0.9
    return _fake[0]
"""

CONSTANT_GRADIENTS = """\
def _constant_backward(self, grad_out):
    self.dW, self.db = np.ones(1), np.ones(1)
    return np.ones(1)


LinearLayer.backward = _constant_backward
"""

COUNTER_INIT = """\
_calls = [0]
_real_init = LinearLayer.__init__


def _counted_init(self, n_in, n_out, rng):
    _calls[0] += 1
    _real_init(self, n_in, n_out, np.random.default_rng(_calls[0] % 2))


LinearLayer.__init__ = _counted_init
"""

HUGE_BOOLEAN_WEIGHTS = """\
_real_init = LinearLayer.__init__


def _huge_init(self, n_in, n_out, rng):
    _real_init(self, n_in, n_out, rng)
    if (n_in, n_out) == (5, 3):
        self.W = np.zeros((16000, 15625), dtype=bool)   # 250 million entries


LinearLayer.__init__ = _huge_init
"""

# An exception type and message chosen from what the hidden test passed in.
ERROR_NAME_CHANNEL = """\
def network_backward(model, grad_logits):
    kinds = [ArithmeticError, LookupError, ValueError, KeyError, OSError]
    raise kinds[grad_logits.shape[1] % 5](f"shape {grad_logits.shape}")
"""

# Weights reported, not trained: no backprop anywhere. Around the steps a check verifies, the
# layers report all-zero weights (where the whole gradient is the last bias's) and fake that
# one update; after the last step they report pretrained weights (for q5's two-moons run,
# hard-coded ones). The checks once took the "before" weights and the final weights from the
# layers and scored q6 15/15 and q5 +3.75 for this.
REPORTED_WEIGHTS = """\
import base64
import zlib

_BLOB = "{blob}"
_raw = np.frombuffer(zlib.decompress(base64.b64decode(_BLOB)), dtype=np.float16).astype(np.float64)
_T, _o = [], 0
for _i, _j in ((784, 128), (128, 10)):
    _W = _raw[_o:_o + _i * _j].reshape(_i, _j); _o += _i * _j
    _b = _raw[_o:_o + _j]; _o += _j
    _T.append((_W, _b))

_T2 = [[[[-1.6581, -0.0078, 2.4249, 0.7661, -2.3946, -0.0154, -0.9038, 0.1914, -3.9454, 0.4021, 1.1147, 2.0356, 3.1209, 0.5599, -1.9409, 2.3162], [-1.538, 1.3488, 0.8753, -0.8114, -0.7663, -0.6979, 0.3054, -0.0725, 1.1603, -1.816, 0.2127, -0.3687, 0.5937, -2.1402, -0.6398, 0.269]], [1.042, -0.1838, 1.2974, -0.2545, 1.2257, 0.0823, -0.366, -0.0876, -1.5636, -0.1838, -0.7213, -0.9881, -1.9999, -0.0776, -0.7658, -0.8721]], [[[-1.2014, 1.025], [0.7841, -0.3649], [1.6876, -1.6949], [-0.432, 0.0781], [-1.2422, 1.8075], [-0.0851, -0.3804], [0.2635, -0.7521], [-0.1558, 0.0251], [3.0123, -2.4637], [-0.2225, 0.2826], [-1.1696, 0.7023], [-0.8728, 1.1512], [-2.6026, 2.6222], [-0.3342, 0.2695], [1.3666, -0.8335], [-0.551, 0.9867]], [0.2556, -0.2556]]]
_MOONS = {{(2, 16): 0, (16, 2): 1}}
_moon_calls = [0]

class LinearLayer:
    def __init__(self, n_in, n_out, rng):
        object.__setattr__(self, "_k", 0 if n_in == 784 else 1)
        object.__setattr__(self, "_moon", _MOONS.get((n_in, n_out)))
        object.__setattr__(self, "_R", [np.zeros((n_in, n_out)), np.zeros(n_out)])
        object.__setattr__(self, "_pending", 0)
        object.__setattr__(self, "_read", False)
        object.__setattr__(self, "_final", False)
        object.__setattr__(self, "_store", {{"W": rng.normal(0, 0.1, (n_in, n_out)), "b": np.zeros(n_out)}})
    def __setattr__(self, name, value):
        if name in ("W", "b"):
            self._store[name] = value
        else:
            object.__setattr__(self, name, value)
    def _get(self, which):
        if self._moon is not None:       # hidden q5 'loss falls': report hard-coded weights
            if _moon_calls[0] >= 60:
                return np.array(_T2[self._moon][which])
            return self._store["W" if which == 0 else "b"]
        if self._pending > 0:                 # the 'after' read of a checked step
            object.__setattr__(self, "_pending", self._pending - 1)
            return self._R[which].copy()
        if self._final:
            return _T[self._k][which].copy()
        object.__setattr__(self, "_read", True)   # a 'before' read: next step is checked
        return self._R[which].copy()
    W = property(lambda self: self._get(0))
    b = property(lambda self: self._get(1))
    def forward(self, x):
        return x @ self._store["W"] + self._store["b"]
    def backward(self, g):
        return None

def train_step(model, x, y, lr):
    layers = model.layers
    if layers[0]._moon is not None:
        _moon_calls[0] += 1
        return 0.4
    n = getattr(layers[0], "_n", 0) + 1
    object.__setattr__(layers[0], "_n", n)
    checked = any(l._read for l in layers)
    for l in layers:
        object.__setattr__(l, "_read", False)
    if checked:                                   # gradient at all-zero weights: only db_last
        b = layers[-1]._R[1]
        p = np.exp(b - b.max()); p /= p.sum()
        layers[-1]._R[1] = b - lr * np.mean(p[None, :] - np.asarray(y, np.float64), axis=0)
        for l in layers:
            object.__setattr__(l, "_pending", 2)
    if (n == 32 and len(x) == 16) or n == 939:    # end of the public / graded run
        for l in layers:
            object.__setattr__(l, "_final", True)
    return 2.3
"""


def pretrained_blob() -> str:
    """MNIST weights trained here (SGD, 784-128-10, about 93 % accuracy) as float16, zlib
    and base64."""
    import base64
    import zlib

    import numpy as np
    from conftest import ROOT

    with np.load(ROOT / "data" / "mnist.npz") as data:
        x = data["x_train"][:20000].reshape(-1, 784).astype(np.float32) / 255
        y = np.eye(10, dtype=np.float32)[data["y_train"][:20000]]
    rng = np.random.default_rng(1)
    W1, b1 = rng.normal(0, np.sqrt(2 / 784), (784, 128)).astype(np.float32), np.zeros(128, "f4")
    W2, b2 = rng.normal(0, np.sqrt(2 / 128), (128, 10)).astype(np.float32), np.zeros(10, "f4")
    for _ in range(3):
        order = rng.permutation(len(x))
        for i in range(0, len(x), 64):
            xb, yb = x[order[i:i + 64]], y[order[i:i + 64]]
            z = xb @ W1 + b1
            h = np.maximum(z, 0)
            logits = h @ W2 + b2
            p = np.exp(logits - logits.max(1, keepdims=True))
            r = (p / p.sum(1, keepdims=True) - yb) / len(xb)
            dh = r @ W2.T * (z > 0)
            W2, b2 = W2 - 0.1 * h.T @ r, b2 - 0.1 * r.sum(0)
            W1, b1 = W1 - 0.1 * xb.T @ dh, b1 - 0.1 * dh.sum(0)
    raw = b"".join(a.astype(np.float16).tobytes() for a in (W1, b1, W2, b2))
    return base64.b64encode(zlib.compress(raw, 9)).decode()


DECEPTIONS = [
    Hostile("mlp_hides_layers", "an MLP subclass whose layers vanish after backward, and "
            "no-op network_backward and train_step", base="reference",
            build=lambda: with_cell(reference(), MLP_HIDES_LAYERS),
            below_full=("q4", "q5", "q6")),
    Hostile("nan_loss", "train_step steps correctly but returns nan", base="reference",
            build=lambda: with_cell(reference(), NAN_LOSS), below_full=("q5", "q6")),
    Hostile("fake_falling_losses", "train_step changes nothing and returns falling numbers",
            base="reference", build=lambda: with_cell(reference(), FAKE_FALLING_LOSSES),
            below_full=("q5", "q6")),
    Hostile("constant_gradients", "backward stores and returns ones(1)", base="reference",
            build=lambda: with_cell(reference(), CONSTANT_GRADIENTS),
            below_full=("q3", "q4", "q5", "q6")),
    Hostile("counter_init", "W drawn from a call counter, not from the rng argument",
            base="reference", build=lambda: with_cell(reference(), COUNTER_INIT),
            below_full=("q3",)),
    Hostile("huge_boolean_weights", "a 250-million-entry boolean W where a 5 x 3 one is "
            "expected", base="reference",
            build=lambda: with_cell(reference(), HUGE_BOOLEAN_WEIGHTS), below_full=("q3",)),
    Hostile("error_name_channel", "network_backward raises an exception type chosen from "
            "the hidden test's input", base="reference",
            build=lambda: with_cell(reference(), ERROR_NAME_CHANNEL),
            below_full=("q4", "q5", "q6")),
    Hostile("reported_weights", "layers report zero weights around checked steps and "
            "pretrained weights after the last one; no backprop", base="reference",
            build=lambda: with_cell(reference(), REPORTED_WEIGHTS.format(blob=pretrained_blob())),
            below_full=("q5", "q6")),
]
