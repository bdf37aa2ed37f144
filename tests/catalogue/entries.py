"""The catalogue table: one row per graded variant of the reference solution notebook.

A row is ``bug(name, what, loses, words, *edits)``, ``shortcut(...)`` (the same fields: a
submission that gets its results without backpropagation, which must not earn the points
that need it) or ``correct(name, what, *edits)``:

* ``what``: the mistake (or the different-but-correct choice) in a student's words;
* ``loses``: the questions that must lose points, space separated; exactly these, since the
  grader is deterministic, including every question the mistake cascades into;
* ``words``: phrases the student-visible feedback must contain (case-insensitive), the ones
  that name the mistake;
* ``local``: whether a public check (``grader.check`` in the notebook) fails with a message
  holding those words, so the student sees the mistake named before submitting;
* ``edits``: ``(old, new)`` or ``(old, new, count)`` replacements in the notebook's code,
  applied in order with ``conftest.mutate`` (``old`` must occur exactly ``count`` times);
* ``own``: the questions whose code holds the mistake (default: the first listed in
  ``loses``);
* ``spans``: why the mistake also costs points on another of Questions 1 to 5, where it does
  (``cross_question_loss``); empty for a mistake that must cost points only on its own.
"""

from __future__ import annotations

from dataclasses import dataclass

import nbformat

from conftest import mutate, solution_notebook

Edit = tuple  # (old, new) or (old, new, count)


@dataclass(frozen=True)
class Entry:
    name: str
    what: str
    loses: frozenset[str]
    words: tuple[str, ...]
    edits: tuple[Edit, ...]
    kind: str = "bug"          # bug | shortcut | correct
    local: bool = True         # a public check (grader.check) names it before submission
    own: frozenset[str] = frozenset()
    spans: str = ""

    @property
    def is_bug(self) -> bool:
        return bool(self.loses)


# Error carried forward: a mistake costs points only on its own question, except on these:
# the MNIST training of Question 6 may lose points for any mistake that stops it learning,
# and the knowledge check builds on nothing.
WHOLE_NETWORK_QUESTIONS = ("q6", "q7")


def cross_question_loss(entry: Entry, scores: dict, questions: dict) -> float:
    """Points lost outside the entry's own questions (and ``WHOLE_NETWORK_QUESTIONS``)."""
    return sum(spec["points"] - scores.get(q, 0.0) for q, spec in questions.items()
               if q not in WHOLE_NETWORK_QUESTIONS and q not in entry.own)


def _own(loses: str, own: str | None) -> frozenset[str]:
    return frozenset((own or loses.split()[0]).split())


def bug(name: str, what: str, loses: str, words: list[str], *edits: Edit,
        local: bool = True, own: str | None = None, spans: str = "") -> Entry:
    return Entry(name, what, frozenset(loses.split()), tuple(words), edits, local=local,
                 own=_own(loses, own), spans=spans)


def shortcut(name: str, what: str, loses: str, words: list[str], *edits: Edit) -> Entry:
    """Without backpropagation no question that needs it earns points: all are its own."""
    return Entry(name, what, frozenset(loses.split()), tuple(words), edits, kind="shortcut",
                 own=frozenset(loses.split()))


def correct(name: str, what: str, *edits: Edit) -> Entry:
    return Entry(name, what, frozenset(), (), edits, kind="correct")


def notebook_for(entry: Entry, base: nbformat.NotebookNode | None = None) -> nbformat.NotebookNode:
    """The reference solution notebook with ``entry``'s edits applied."""
    nb = base if base is not None else solution_notebook()
    for edit in entry.edits:
        old, new, *count = edit
        nb = mutate(nb, old, new, *count)
    return nb


# Pieces of the reference solution that several rows edit.
UPDATE_LOOP = ("    for layer in model.layers:\n"
               "        layer.W -= lr * layer.dW\n"
               "        layer.b -= lr * layer.db\n")
SIGMOID_DERIVATIVE = "    s = sigmoid(z)\n    return s * (1 - s)\n"
MASK_LINE = "        grad = grad * derivative(model.pre_activations[i])\n"
CE_RETURN = "return float(-np.mean(np.sum(y * log_probs, axis=-1)))"
HE_INIT = "rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out))"

BUGS = [
    # -- LinearLayer (q3) ------------------------------------------------------------------
    bug("dx_missing_transpose", "backward returns grad_out @ W: the transpose of W is missing",
        "q3 q6", ["LinearLayer.backward", "matrix product", "transpose"],
        ("return grad_out @ self.W.T", "return grad_out @ self.W")),
    bug("dw_transposed", "dW computed as grad_out.T @ x, the transpose of the right answer",
        "q3 q6", ["layer.dW", "transposed"],
        ("self.dW = self.x.T @ grad_out", "self.dW = grad_out.T @ self.x")),
    bug("db_summed_over_features", "db summed over axis 1 (the features), not the batch",
        "q3 q6", ["layer.db", "sum grad_out over the batch"],
        ("self.db = grad_out.sum(axis=0)", "self.db = grad_out.sum(axis=1)")),
    bug("db_mean_over_batch", "db as the mean over the batch instead of the sum",
        "q3 q6", ["layer.db", "mean over the batch instead of the sum"],
        ("self.db = grad_out.sum(axis=0)", "self.db = grad_out.mean(axis=0)")),
    bug("dw_mean_over_batch", "dW divided by the batch size a second time",
        "q3 q6", ["layer.dW", "mean over the batch instead of the sum"],
        ("self.dW = self.x.T @ grad_out", "self.dW = self.x.T @ grad_out / grad_out.shape[0]")),
    # Error carried forward: with this layer, q4 and q5 are judged with its gradients (reshaped
    # to b's shape for the update by worker.RepairedLayer), so only q3 and q6 lose.
    bug("db_keepdims", "db summed with keepdims=True: a (1, n_out) array instead of (n_out,)",
        "q3 q6", ["layer.db", "drop keepdims=True"],
        ("self.db = grad_out.sum(axis=0)", "self.db = grad_out.sum(axis=0, keepdims=True)")),
    bug("backward_divides_by_batch", "backward divides dW and db by the batch size, as some "
        "courses write it, although grad_out already holds the 1/B", "q3 q6",
        ["layer.dW", "mean over the batch instead of the sum"],
        ("self.dW = self.x.T @ grad_out", "self.dW = self.x.T @ grad_out / len(self.x)"),
        ("self.db = grad_out.sum(axis=0)", "self.db = grad_out.sum(axis=0) / len(self.x)")),
    bug("backward_returns_dw", "backward returns dW instead of the gradient for its input",
        "q3 q6", ["backward", "dW instead of dX"],
        ("return grad_out @ self.W.T", "return self.dW")),
    bug("forward_forgets_x", "forward does not keep its input, so backward cannot use it",
        "q3 q6", ["forward must keep its input"],
        ("        self.x = x\n", "")),
    bug("forward_without_bias", "forward returns x @ W and forgets the bias",
        "q3 q6", ["LinearLayer.forward", "without the bias"],
        ("return x @ self.W + self.b", "return x @ self.W")),
    bug("update_inside_backward", "backward updates W and b (with a fixed step) before it "
        "computes dX; train_step no longer updates",
        "q3 q5 q6", ["changed W or b"],
        ("        self.db = grad_out.sum(axis=0)\n",
         "        self.db = grad_out.sum(axis=0)\n"
         "        self.W = self.W - 0.1 * self.dW\n"
         "        self.b = self.b - 0.1 * self.db\n"),
        (UPDATE_LOOP, "    # the layers update themselves in backward\n"), own="q3 q5"),
    bug("gradients_accumulated", "dW and db accumulated with += and never reset",
        "q3 q6", ["accumulated with +="],
        ("self.dW = self.x.T @ grad_out", "self.dW += self.x.T @ grad_out"),
        ("self.db = grad_out.sum(axis=0)", "self.db += grad_out.sum(axis=0)")),
    bug("zero_initialisation", "all-zero initial weights",
        "q3 q6", ["all zeros"],
        (f"{HE_INIT}.astype(np.float32)", "np.zeros((n_in, n_out), dtype=np.float32)")),
    bug("init_unit_std", "W drawn with rng.normal(0, 1): ten times He's scale for 200 inputs",
        "q3", ["standard deviation", "outside the allowed range"],
        (HE_INIT, "rng.normal(0.0, 1.0, size=(n_in, n_out))")),
    bug("init_ignores_rng", "weights drawn from the seeded global np.random instead of the "
        "rng argument", "q3", ["rng argument"],
        (HE_INIT, HE_INIT.replace("rng.normal", "np.random.normal")),
        ("class LinearLayer:", "np.random.seed(0)\n\n\nclass LinearLayer:")),
    # Loops over examples and input features: about 190 s of backward alone for the graded
    # 939 batches on the 2-core machine when idle (3x the 60 s budget; a loop over examples and
    # output units took 38 s, a grade that would depend on the machine), yet 0.2 s for the
    # 1024-wide layers of the q3-q5 speed checks (their limit is 10 s).
    bug("per_example_loop", "backward correct but written as Python loops over the examples "
        "and input features: too slow for the MNIST time budget", "q6", ["too slow"],
        ("        self.dW = self.x.T @ grad_out\n"
         "        self.db = grad_out.sum(axis=0)\n"
         "        return grad_out @ self.W.T\n",
         "        self.dW = np.zeros_like(self.W)\n"
         "        self.db = np.zeros_like(self.b)\n"
         "        dx = np.zeros_like(self.x)\n"
         "        for i in range(grad_out.shape[0]):\n"
         "            for k in range(self.x.shape[1]):\n"
         "                contribution = self.x[i, k] * grad_out[i]\n"
         "                self.dW[k] = self.dW[k] + contribution\n"
         "                dx[i, k] = np.sum(self.W[k] * grad_out[i])\n"
         "            self.db = self.db + grad_out[i]\n"
         "        return dx\n")),
    # -- activations, softmax, loss (q1, q2) -------------------------------------------------
    bug("relu_derivative_returns_relu", "relu_derivative returns max(z, 0), ReLU itself",
        "q1 q6", ["relu_derivative", "ReLU itself instead of its derivative"],
        ("return (z > 0).astype(z.dtype)", "return np.maximum(z, 0)")),
    bug("sigmoid_formula_on_z", "sigmoid_derivative returns z * (1 - z) as if z were already "
        "sigmoid(z)", "q1", ["sigmoid_derivative", "applied to z itself"],
        (SIGMOID_DERIVATIVE, "    return z * (1 - z)\n")),
    bug("sigmoid_applied_twice", "sigmoid_derivative applies the derivative formula to "
        "sigmoid(z), an output that is already a sigmoid",
        "q1", ["sigmoid_derivative", "at the activation"],
        ("    s = sigmoid(z)\n", "    s = sigmoid(sigmoid(z))\n")),
    bug("sigmoid_derivative_nan_for_large_z", "sigmoid_derivative as exp(-z) / (1 + exp(-z))**2, "
        "nan for large |z|", "q1", ["q1", "nan", "overflow-safe"],
        (SIGMOID_DERIVATIVE, "    e = np.exp(-z)\n    return e / (1 + e) ** 2\n")),
    bug("softmax_without_max", "softmax without subtracting the maximum: overflow for large "
        "logits", "q2", ["softmax", "subtract each row's maximum"],
        ("shifted = z - np.max(z, axis=-1, keepdims=True)", "shifted = z")),
    bug("softmax_wrong_axis", "softmax normalised over axis 0 (the batch)",
        "q2 q6", ["softmax", "wrong axis"],
        ("axis=-1, keepdims=True)", "axis=0, keepdims=True)", 2)),
    # right for the 2-D batches of q5 and q6; only a batch with more axes tells them apart
    bug("softmax_axis_1", "softmax takes the max and the sum over axis=1 instead of the last "
        "axis: right for (B, C), wrong for a batch with more axes",
        "q2", ["softmax", "axis 1", "axis=-1"],
        ("axis=-1, keepdims=True)", "axis=1, keepdims=True)", 2)),
    bug("relu_derivative_float16", "relu_derivative returns its 0/1 mask as float16",
        "q1", ["relu_derivative", "float16"],
        ("return (z > 0).astype(z.dtype)", "return (z > 0).astype(np.float16)")),
    bug("softmax_whole_array", "softmax divides by the sum of the whole array",
        "q2 q6", ["softmax", "rows should each sum to 1"],
        ("return exp / np.sum(exp, axis=-1, keepdims=True)", "return exp / np.sum(exp)")),
    bug("log_of_zero", "cross_entropy takes log(probs) without a guard: log(0)",
        "q2", ["q2", "log of zero"],
        ("np.log(np.clip(probs, 1e-12, None))", "np.log(probs)")),
    bug("cross_entropy_sum", "cross-entropy summed over the batch instead of averaged",
        "q2", ["cross_entropy", "sum over the batch"],
        (CE_RETURN, "return float(-np.sum(y * log_probs))")),
    bug("cross_entropy_sign", "cross-entropy without the minus sign",
        "q2", ["cross_entropy", "wrong sign"],
        (CE_RETURN, "return float(np.mean(np.sum(y * log_probs, axis=-1)))")),
    bug("loss_as_array", "cross_entropy returns a one-element array, not a float",
        "q2 q5 q6", ["cross_entropy", "Python float"],
        (CE_RETURN, "return -np.mean(np.sum(y * log_probs, axis=-1, keepdims=True), axis=0)"),
        spans="the one-element array cross_entropy returns makes train_step's float() raise: "
              "nothing to judge it by"),
    bug("hardcoded_public_loss", "cross_entropy returns the number the public check expects",
        "q2", ["cross_entropy"],
        ("    log_probs = np.log(np.clip(probs, 1e-12, None))\n    " + CE_RETURN,
         "    return 2.213976026808493")),
    # -- network_backward (q4) ---------------------------------------------------------------
    bug("relu_mask_missing", "network_backward never multiplies by the activation derivative",
        "q4 q6", ["network_backward", "without the activation derivative"],
        (MASK_LINE, "")),
    bug("mask_from_wrong_layer", "the derivative taken at pre_activations[i - 1], one layer "
        "off", "q4", ["q4", "wrong layer"],
        ("model.pre_activations[i]", "model.pre_activations[i - 1]")),
    bug("sigmoid_derivative_at_activation", "network_backward evaluates the derivative at "
        "model.activations[i] instead of the pre-activation", "q4",
        ["derivative evaluated at model.activations[i]"],
        ("derivative(model.pre_activations[i])", "derivative(model.activations[i])")),
    bug("first_layer_skipped", "network_backward's loop stops before the first layer",
        "q4 q6", ["layers[0].backward"],
        ("for i in range(len(model.layers) - 2, -1, -1):",
         "for i in range(len(model.layers) - 2, 0, -1):")),
    # The kit's MLP caches model.activations[i], the very array layers[i + 1] kept as its
    # input: masks made from it in place, before the walk down, corrupt that layer's dW.
    bug("masks_made_in_place", "network_backward turns the cached activations into derivative "
        "masks in place before walking down the layers", "q4 q6",
        ["network_backward changed model.activations", "in place"],
        ("    grad = model.layers[-1].backward(grad_logits)\n"
         "    for i in range(len(model.layers) - 2, -1, -1):\n" + MASK_LINE,
         "    masks = []\n"
         "    for a in model.activations:\n"
         "        if model.activation == 'relu':\n"
         "            a[a > 0] = 1.0\n"
         "        else:\n"
         "            a *= 1 - a\n"
         "        masks.append(a)\n"
         "    grad = model.layers[-1].backward(grad_logits)\n"
         "    for i in range(len(model.layers) - 2, -1, -1):\n"
         "        grad = grad * masks[i]\n")),
    # -- train_step (q5) ---------------------------------------------------------------------
    bug("train_step_own_log", "train_step computes the loss itself with an unguarded np.log "
        "instead of calling cross_entropy", "q5",
        ["train_step", "the log of a probability of 0"],
        ("    loss = cross_entropy(probs, y)\n",
         "    loss = -np.mean(np.sum(y * np.log(probs), axis=1))\n")),
    bug("no_batch_divide", "train_step passes probs - y without dividing by the batch size",
        "q5 q6", ["not dividing probs - y by the batch size"],
        ("(probs - y) / x.shape[0]", "(probs - y)")),
    bug("probs_instead_of_residual", "train_step backpropagates probs instead of probs - y",
        "q5 q6", ["train_step", "probs instead of probs - y"],
        ("(probs - y) / x.shape[0]", "probs / x.shape[0]")),
    bug("update_wrong_sign", "the SGD update adds the gradient (uphill)",
        "q5 q6", ["wrong sign"],
        ("layer.W -= lr * layer.dW", "layer.W += lr * layer.dW"),
        ("layer.b -= lr * layer.db", "layer.b += lr * layer.db")),
    bug("bias_never_updated", "train_step updates W but never b",
        "q5 q6", ["layers[0].b", "not updating"],
        ("        layer.b -= lr * layer.db\n", "")),
    bug("only_last_bias_updated", "the bias update is outside the loop: only the last layer's b "
        "moves", "q5 q6", ["layers[0].b", "not updating"],
        (UPDATE_LOOP, UPDATE_LOOP.replace("        layer.b", "    layer.b"))),
    bug("update_with_other_layers_gradient", "each layer updated with another layer's dW and db",
        "q5 q6", ["train_step", "its own dW"],
        (UPDATE_LOOP, "    for i, layer in enumerate(model.layers):\n"
                      "        grads = model.layers[i - 1]\n"
                      "        layer.W -= lr * grads.dW\n"
                      "        layer.b -= lr * grads.db\n")),
    bug("loss_after_update", "train_step returns the loss computed after the update",
        "q5", ["train_step", "after the update"],
        ("    loss = cross_entropy(probs, y)\n" + "    network_backward(model, (probs - y) / "
         "x.shape[0])\n" + UPDATE_LOOP,
         "    network_backward(model, (probs - y) / x.shape[0])\n" + UPDATE_LOOP
         + "    loss = cross_entropy(softmax(model.forward(x)), y)\n")),
    # -- knowledge check (q7) ----------------------------------------------------------------
    # graded only on Gradescope; the public check of q7 awards nothing, so nothing is lost there
    bug("wrong_quiz_answer", "7.3 answered (c)", "q7", ["q7", "knowledge-check answer is wrong"],
        ('q7_3 = "b"', 'q7_3 = "c"'), local=False),
]

CORRECT = [
    correct("float32_everywhere", "every array cast to float32 inside the layer and softmax",
            ("        self.x = x\n        return x @ self.W + self.b",
             "        self.x = np.asarray(x, dtype=np.float32)\n"
             "        return self.x @ self.W.astype(np.float32) + self.b.astype(np.float32)"),
            ("        self.dW = self.x.T @ grad_out\n"
             "        self.db = grad_out.sum(axis=0)\n"
             "        return grad_out @ self.W.T",
             "        g = np.asarray(grad_out, dtype=np.float32)\n"
             "        self.dW = self.x.T @ g\n"
             "        self.db = g.sum(axis=0)\n"
             "        return g @ self.W.astype(np.float32).T"),
            ("    shifted = z - np.max(", "    z = np.asarray(z, dtype=np.float32)\n"
                                        "    shifted = z - np.max(")),
    correct("dot_matmul_einsum", "np.dot, np.einsum and np.matmul instead of @",
            ("return x @ self.W + self.b", "return np.dot(x, self.W) + self.b"),
            ("self.dW = self.x.T @ grad_out", "self.dW = np.einsum('bi,bo->io', self.x, grad_out)"),
            ("return grad_out @ self.W.T", "return np.matmul(grad_out, self.W.T)")),
    correct("derivative_from_cached_activation", "network_backward uses model.activations[i]: "
            "a * (1 - a) for sigmoid, a > 0 for ReLU",
            (MASK_LINE, "        a = model.activations[i]\n"
                        "        if model.activation == 'sigmoid':\n"
                        "            grad = grad * a * (1 - a)\n"
                        "        else:\n"
                        "            grad = grad * (a > 0)\n")),
    correct("relu_np_where", "relu_derivative with np.where",
            ("return (z > 0).astype(z.dtype)", "return np.where(z > 0, 1.0, 0.0)")),
    correct("relu_boolean_mask", "relu_derivative returns the boolean mask z > 0",
            ("return (z > 0).astype(z.dtype)", "return z > 0")),
    correct("relu_integer_mask", "relu_derivative returns an integer 0/1 mask",
            ("return (z > 0).astype(z.dtype)", "return np.where(z > 0, 1, 0)")),
    correct("relu_heaviside", "relu_derivative with np.heaviside",
            ("return (z > 0).astype(z.dtype)", "return np.heaviside(z, 0.0)")),
    correct("log_sum_exp_softmax", "softmax as exp(z - logsumexp(z))",
            ("    shifted = z - np.max(z, axis=-1, keepdims=True)\n"
             "    exp = np.exp(shifted)\n"
             "    return exp / np.sum(exp, axis=-1, keepdims=True)",
             "    m = np.max(z, axis=-1, keepdims=True)\n"
             "    lse = m + np.log(np.sum(np.exp(z - m), axis=-1, keepdims=True))\n"
             "    return np.exp(z - lse)")),
    correct("out_of_place_updates", "W = W - lr * dW instead of -=",
            ("layer.W -= lr * layer.dW", "layer.W = layer.W - lr * layer.dW"),
            ("layer.b -= lr * layer.db", "layer.b = layer.b - lr * layer.db")),
    correct("np_subtract_in_place", "np.subtract(W, lr * dW, out=W)",
            ("layer.W -= lr * layer.dW", "np.subtract(layer.W, lr * layer.dW, out=layer.W)"),
            ("layer.b -= lr * layer.db", "np.subtract(layer.b, lr * layer.db, out=layer.b)")),
    correct("extra_helpers", "helper functions for the update and for the output gradient",
            ("def train_step(model, x, y, lr):",
             "def sgd_update(layer, lr):\n"
             "    \"\"\"Move one layer's parameters downhill.\"\"\"\n"
             "    layer.W = layer.W - lr * layer.dW\n"
             "    layer.b = layer.b - lr * layer.db\n\n\n"
             "def output_gradient(probs, y):\n"
             "    return (probs - y) / len(y)\n\n\n"
             "def train_step(model, x, y, lr):"),
            ("network_backward(model, (probs - y) / x.shape[0])",
             "network_backward(model, output_gradient(probs, y))"),
            (UPDATE_LOOP, "    for layer in model.layers:\n        sgd_update(layer, lr)\n")),
    correct("prints_and_plots", "debug prints in train_step and a plot in a graded cell",
            (SIGMOID_DERIVATIVE + "    # END SOLUTION",
             SIGMOID_DERIVATIVE + "    # END SOLUTION\n\n\n"
             "import matplotlib.pyplot as plt\n"
             "_z = np.linspace(-6, 6, 121)\n"
             "plt.plot(_z, sigmoid_derivative(_z), label=\"sigmoid'\")\n"
             "plt.plot(_z, relu_derivative(_z), label=\"relu'\")\n"
             "plt.legend()\n"
             "plt.show()\n"
             "print('derivatives at 0:', sigmoid_derivative(np.zeros(1)), "
             "relu_derivative(np.zeros(1)))\n"),
            ("    return float(loss)", "    print(f'loss {float(loss):.4f}')\n"
                                     "    return float(loss)")),
    correct("kit_plot_in_graded_cell", "a graded cell draws with one of the kit's plot helpers "
            "(which import matplotlib only when called)",
            ("def network_backward(model, grad_logits):",
             "plot_first_layer_weights(LinearLayer(784, 32, np.random.default_rng(0)).W)\n\n\n"
             "def network_backward(model, grad_logits):")),
    correct("log_plus_epsilon", "cross_entropy as log(probs + 1e-12) instead of clipping",
            ("np.log(np.clip(probs, 1e-12, None))", "np.log(probs + 1e-12)")),
    # every log floor from 1e-16 to 1e-7 is allowed (gradekit/checks/settings.py LOG_FLOOR_RANGE)
    correct("log_floor_scikit_learn", "cross_entropy clips at 1e-15, scikit-learn's floor, at "
            "both ends", ("np.clip(probs, 1e-12, None)", "np.clip(probs, 1e-15, 1 - 1e-15)")),
    correct("log_floor_1e16", "cross_entropy clips at 1e-16",
            ("np.clip(probs, 1e-12, None)", "np.clip(probs, 1e-16, None)")),
    correct("log_floor_1e7", "cross_entropy clips at 1e-7",
            ("np.clip(probs, 1e-12, None)", "np.maximum(probs, 1e-7)")),
    correct("numpy_float_loss", "cross_entropy and train_step return numpy float64 scalars",
            (CE_RETURN, "return -np.mean(np.sum(y * log_probs, axis=-1))"),
            ("    return float(loss)", "    return loss")),
    correct("float64_weights", "float64 initial weights (no float32 cast)",
            (f"{HE_INIT}.astype(np.float32)", HE_INIT),
            ("self.b = np.zeros(n_out, dtype=np.float32)", "self.b = np.zeros(n_out)")),
    # initial scales the notebook names as allowed (a standard deviation from 1e-4 to
    # 2 x He's, gradekit/checks/settings.py INIT_STD_STATED)
    correct("init_d2l_small_normal", "W ~ N(0, 0.01^2), as in d2l",
            (HE_INIT, "rng.normal(0.0, 0.01, size=(n_in, n_out))")),
    correct("init_cs231n_1e4", "W = 1e-4 * randn, as in CS231n",
            (HE_INIT, "(1e-4 * rng.standard_normal((n_in, n_out)))")),
    correct("init_lecun", "LeCun normal initialisation, std sqrt(1 / n_in)",
            (HE_INIT, "rng.normal(0.0, np.sqrt(1.0 / n_in), size=(n_in, n_out))")),
    correct("init_xavier_uniform", "Xavier (Glorot) uniform initialisation",
            (HE_INIT, "rng.uniform(-np.sqrt(6.0 / (n_in + n_out)), np.sqrt(6.0 / (n_in + n_out)), "
                      "size=(n_in, n_out))")),
    correct("loop_over_all_layers", "network_backward loops over every layer and applies the "
            "derivative below each one",
            ("    grad = model.layers[-1].backward(grad_logits)\n"
             "    for i in range(len(model.layers) - 2, -1, -1):\n" + MASK_LINE
             + "        grad = model.layers[i].backward(grad)\n",
             "    grad = grad_logits\n"
             "    for i in reversed(range(len(model.layers))):\n"
             "        grad = model.layers[i].backward(grad)\n"
             "        if i > 0:\n"
             "            grad = grad * derivative(model.pre_activations[i - 1])\n")),
    correct("quiz_answers_any_case", "knowledge-check answers in capitals or with spaces",
            ('q7_1 = "b"', 'q7_1 = "B"'), ('q7_4 = "a"', 'q7_4 = " a "')),
]

# Results without backpropagation: no points for the questions that need it.
SHORTCUTS = [
    shortcut("finite_difference_backward", "LinearLayer.backward computes dW, db and dX by "
             "finite differences of forward instead of the backprop equations",
             "q3 q4 q5 q6", ["not numerically", "too slow"],
             ("        self.dW = self.x.T @ grad_out\n"
              "        self.db = grad_out.sum(axis=0)\n"
              "        return grad_out @ self.W.T\n",
              "        h = 1e-6\n"
              "        x, W, b = (np.array(a, dtype=np.float64) for a in (self.x, self.W, self.b))\n"
              "        loss = lambda: float(np.sum((x @ W + b) * grad_out))\n"
              "        grads = []\n"
              "        for p in (W, b, x):\n"
              "            g = np.zeros_like(p)\n"
              "            for i in np.ndindex(p.shape):\n"
              "                old = p[i]\n"
              "                p[i] = old + h\n"
              "                up = loss()\n"
              "                p[i] = old - h\n"
              "                down = loss()\n"
              "                p[i] = old\n"
              "                g[i] = (up - down) / (2 * h)\n"
              "            grads.append(g)\n"
              "        self.dW, self.db = grads[0], grads[1]\n"
              "        return grads[2]\n")),
    shortcut("installed_weights", "train_step installs weights trained elsewhere in the "
             "notebook when it sees the MNIST network (real SGD on any other network)",
             "q6", ["not one SGD step"],
             ("def train_step(model, x, y, lr):", "def _sgd_step(model, x, y, lr):"),
             ("    return float(loss)\n    # END SOLUTION",
              "    return float(loss)\n    # END SOLUTION\n\n\n"
              "_star = MLP([784, 128, 10], LinearLayer, np.random.default_rng(1))\n"
              "_x, _y, _, _ = load_mnist(n_train=20000)\n"
              "train(_star, _x, _y, _sgd_step, epochs=3, lr=0.1, batch_size=64, verbose=False)\n"
              "\n\n"
              "def train_step(model, x, y, lr):\n"
              "    if [np.shape(l.W) for l in model.layers] == [(784, 128), (128, 10)]:\n"
              "        loss = cross_entropy(softmax(model.forward(x)), y)\n"
              "        for layer, best in zip(model.layers, _star.layers):\n"
              "            layer.W, layer.b = best.W.copy(), best.b.copy()\n"
              "        return float(loss)\n"
              "    return _sgd_step(model, x, y, lr)")),
]

ENTRIES = BUGS + SHORTCUTS + CORRECT
