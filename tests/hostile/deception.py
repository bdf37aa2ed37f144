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
]
