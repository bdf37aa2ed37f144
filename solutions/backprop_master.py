# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [raw]
# # ASSIGNMENT CONFIG
# name: backprop
# init_cell: true
# check_all_cell: false
# export_cell:
#   pdf: false
#   run_tests: false
#   instructions: "Upload the .zip file this cell writes (or just the .ipynb) to Gradescope."
# generate:
#   pdf: false
#   zips: false
#   show_stdout: false
#   show_hidden: false
# files:
#   - backprop_support.py
#   - checklib.py
#   - mnist.npz
# autograder_files:
#   - backprop_reference.py
# tests:
#   files: true
#   ok_format: false
# solutions_pdf: false
# template_pdf: false
# run_tests: false
# requirements: requirements.txt
# overwrite_requirements: false

# %% [markdown]
# # Backpropagation from scratch
#
# In this assignment you build the learning machinery of a neural network with nothing but
# NumPy: activation derivatives, a numerically safe softmax and cross-entropy, a linear layer
# that can send gradients backwards, the backward pass through a whole network, and one step of
# stochastic gradient descent. Then you train your network on MNIST and look at what it learned.
#
# **Set-up (once).** In the folder you downloaded, run `pip install -r requirements.txt`, then
# `jupyter lab backprop.ipynb` (or open the notebook in VS Code). Keep `backprop_support.py`,
# `checklib.py`, `mnist.npz` and the `tests/` folder beside the notebook.
#
# **How you work.** Write code only where you see `...` inside the functions and the class.
# Every stub has a docstring with the shapes of its arguments and results, and an estimate of
# how many lines it takes. Right after each question, a cell runs `grader.check("qN")`: it runs
# the public tests and tells you what is wrong (the shape it expected and the one it got, which
# gradient is off and by how much). Gradescope runs further hidden tests; it shows you which
# question lost points.
#
# **Rules.** Do not rename the functions, the class or its attributes, and do not edit the
# course's cells (the ones that train or draw). The grader ignores anything the notebook prints:
# it calls your functions itself.
#
# **Submitting.** Run the last cell; it saves a `.zip` you upload to Gradescope.
#
# Shapes are *batch-first*: a batch of $B$ inputs with $n$ features is an array of shape $(B, n)$.

# %%
import numpy as np

from backprop_support import (MLP, accuracy, gradient_check, load_mnist, make_two_moons,
                              one_hot, plot_confusion_matrix, plot_decision_boundary,
                              plot_first_layer_weights, plot_history, plot_misclassified, relu,
                              sigmoid, train)

# %% [markdown]
# ## The maths you need
#
# A network with layers $\ell = 1, \dots, L$ computes, for an input batch $X = A_0$ of shape $(B, n_0)$,
#
# $$Z_\ell = A_{\ell-1} W_\ell + b_\ell \quad (B, n_\ell), \qquad A_\ell = f(Z_\ell), \qquad
# \hat Y = \operatorname{softmax}(Z_L), \qquad \mathcal L = -\frac1B \sum_{i}\sum_k Y_{ik} \log \hat Y_{ik}.$$
#
# Write $G_\ell = \partial \mathcal L / \partial Z_\ell$ (same shape as $Z_\ell$). The chain rule
# gives the **four backpropagation equations**, all in batch-first layout:
#
# 1. output layer: $G_L = (\hat Y - Y) / B$ $\quad (B, n_L)$
# 2. weights: $\partial \mathcal L / \partial W_\ell = A_{\ell-1}^\top G_\ell$ $\quad (n_{\ell-1}, n_\ell)$, the sum over the batch happens inside the product
# 3. biases: $\partial \mathcal L / \partial b_\ell = \sum_i G_{\ell, i}$ (sum over the batch axis 0) $\quad (n_\ell,)$
# 4. going down: $\partial \mathcal L / \partial A_{\ell-1} = G_\ell W_\ell^\top$ $\quad (B, n_{\ell-1})$, then
#    $G_{\ell-1} = \partial \mathcal L / \partial A_{\ell-1} \odot f'(Z_{\ell-1})$ (elementwise).
#
# Check any equation by its shapes: $(n_{\ell-1}, B) \times (B, n_\ell)$ is the only product that
# gives a $(n_{\ell-1}, n_\ell)$ weight gradient.

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 10

# %% [markdown]
# ## Question 1: activation derivatives (10 points)
#
# The derivative of an activation is taken at the **pre-activation** $Z$ (the layer's output
# before $f$), because $A = f(Z)$ and the chain rule asks for $f'(Z)$.
#
# * ReLU: $f(z) = \max(z, 0)$ so $f'(z) = 1$ for $z > 0$ and $0$ for $z < 0$ (use 0 at $z = 0$).
# * Sigmoid: $\sigma(z) = 1/(1 + e^{-z})$ so $\sigma'(z) = \sigma(z)\,(1 - \sigma(z))$.
#   A classic mistake is to apply this formula to something that is already a sigmoid output:
#   `sigmoid_derivative` receives $z$, not $\sigma(z)$. `sigmoid` is provided.

# %% [raw]
# # BEGIN SOLUTION

# %%
def relu_derivative(z):
    """Derivative of ReLU at the pre-activation ``z``, elementwise.

    Args:
        z: array of any shape, e.g. ``(B, n)``.
    Returns:
        array of the same shape: 1.0 where ``z > 0``, 0.0 elsewhere.
    About 1 line.
    """
    # BEGIN SOLUTION
    return (z > 0).astype(z.dtype)
    # END SOLUTION


def sigmoid_derivative(z):
    """Derivative of the sigmoid at the pre-activation ``z``, elementwise.

    Args:
        z: array of any shape, e.g. ``(B, n)``.
    Returns:
        array of the same shape: ``sigmoid(z) * (1 - sigmoid(z))``.
    About 2 lines.
    """
    # BEGIN SOLUTION
    s = sigmoid(z)
    return s * (1 - s)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_relu_derivative(relu_derivative):
    import checklib
    checklib.check_relu_derivative(relu_derivative, seed=0)


# %%
def test_sigmoid_derivative(sigmoid_derivative):
    import checklib
    checklib.check_sigmoid_derivative(sigmoid_derivative, seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: sigmoid_derivative differs from the expected derivative on other inputs.
""" # END TEST CONFIG
def test_sigmoid_derivative_hidden(sigmoid_derivative):
    import checklib
    import numpy as np
    checklib.check_sigmoid_derivative(sigmoid_derivative, seed=101)
    z = np.array([[-1000.0, -30.0, 0.0, 30.0, 1000.0]])
    with np.errstate(over="ignore"):
        got = sigmoid_derivative(z.copy())
    arr = checklib.expect_array("sigmoid_derivative(z) for |z| up to 1000", got, z.shape)
    checklib.expect_finite("sigmoid_derivative(z) for |z| up to 1000", arr,
                           ": use the provided (overflow-safe) sigmoid")
    checklib.assert_close("sigmoid_derivative(z) for |z| up to 1000", got,
                          [[0.0, 9.357622968839299e-14, 0.25, 9.357622968839299e-14, 0.0]],
                          show_values=False)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: relu_derivative differs from the expected mask on other inputs.
""" # END TEST CONFIG
def test_relu_derivative_hidden(relu_derivative):
    import checklib
    checklib.check_relu_derivative(relu_derivative, seed=202)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 14

# %% [markdown]
# ## Question 2: softmax and cross-entropy (14 points)
#
# $\operatorname{softmax}(z)_k = e^{z_k} / \sum_j e^{z_j}$ along the **last axis** (one row per
# example). For logits like 1000, $e^{1000}$ overflows to `inf` and the result becomes `nan`.
# Softmax does not change when you subtract the same number from every logit in a row, so
# subtract each row's maximum first: the largest exponent is then $e^0 = 1$.
#
# The cross-entropy of predicted probabilities $\hat Y$ and one-hot targets $Y$ (both $(B, C)$)
# is the **mean over the batch** of $-\sum_k Y_{ik} \log \hat Y_{ik}$, returned as a Python
# `float`. A probability can round to exactly 0, and $\log 0 = -\infty$ (and $0 \cdot \log 0$ is
# `nan`), so guard the log: clip the probabilities to at least `1e-12`.
#
# Why the output gradient is so simple: with $\hat Y = \operatorname{softmax}(Z)$ and the mean
# cross-entropy, $\partial \mathcal L / \partial Z = (\hat Y - Y)/B$. The $\log$ undoes the
# $\exp$, and because each row of $Y$ sums to 1 the normalising sum contributes exactly $\hat Y$.

# %% [raw]
# # BEGIN SOLUTION

# %%
def softmax(z):
    """Softmax along the last axis.

    Args:
        z: logits, shape ``(B, C)`` (any number of leading axes works the same way).
    Returns:
        probabilities of the same shape; each row sums to 1. No overflow, nan or warning for
        logits of magnitude 1000.
    About 3 lines.
    """
    # BEGIN SOLUTION
    shifted = z - np.max(z, axis=-1, keepdims=True)
    exp = np.exp(shifted)
    return exp / np.sum(exp, axis=-1, keepdims=True)
    # END SOLUTION


def cross_entropy(probs, y):
    """Mean cross-entropy between predicted probabilities and one-hot targets.

    Args:
        probs: ``(B, C)`` probabilities (rows sum to 1; entries may be exactly 0).
        y: ``(B, C)`` one-hot targets.
    Returns:
        a Python float: ``-mean over the batch of sum_k y * log(probs)``, finite even when a
        probability is 0.
    About 2 lines.
    """
    # BEGIN SOLUTION
    log_probs = np.log(np.clip(probs, 1e-12, None))
    return float(-np.mean(np.sum(y * log_probs, axis=-1)))
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_softmax(softmax):
    import checklib
    checklib.check_softmax(softmax, seed=0)


# %%
def test_softmax_large_logits(softmax):
    import checklib
    checklib.check_softmax_extreme(softmax)


# %%
def test_cross_entropy(cross_entropy):
    import checklib
    checklib.check_cross_entropy(cross_entropy, seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: softmax gives wrong probabilities for batches of other shapes.
""" # END TEST CONFIG
def test_softmax_shapes_hidden(softmax):
    import checklib
    import numpy as np
    import backprop_reference as ref
    rng = np.random.default_rng(303)
    for shape in [(3, 3), (1, 5), (2, 3, 4)]:
        z = rng.normal(0, 4, size=shape)
        got = softmax(z.copy())
        checklib.assert_close(f"softmax(z) for z of shape {shape}", got, ref.softmax(z),
                              show_values=False, wrong_answers=[
                                  ("normalising over axis 0 instead of the last axis",
                                   np.exp(z) / np.exp(z).sum(axis=0, keepdims=True)),
                                  ("normalising over the whole array instead of each row",
                                   np.exp(z) / np.exp(z).sum())])


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: softmax is not numerically stable for very large or very negative logits.
""" # END TEST CONFIG
def test_softmax_extreme_hidden(softmax):
    import checklib
    import numpy as np
    import backprop_reference as ref
    z = np.array([[-1200.0, -1000.0, -1100.0], [5000.0, 5000.0, -5000.0], [0.0, 1e-9, 800.0]])
    with np.errstate(all="ignore"):
        got = softmax(z.copy())
    arr = checklib.expect_array("softmax(z) for logits of magnitude 1000 and more", got, z.shape)
    checklib.expect_finite("softmax(z) for logits of magnitude 1000 and more", arr,
                           ": subtract each row's maximum before np.exp")
    checklib.assert_close("softmax(z) for logits of magnitude 1000 and more", got,
                          ref.softmax(z), show_values=False)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: cross_entropy is not finite when a predicted probability is exactly 0.
""" # END TEST CONFIG
def test_cross_entropy_zero_probabilities_hidden(cross_entropy):
    import checklib
    import numpy as np
    import backprop_reference as ref
    probs = np.array([[1.0, 0.0, 0.0], [0.0, 0.5, 0.5], [0.2, 0.8, 0.0]])
    y = np.array([[1.0, 0.0, 0.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    with np.errstate(all="ignore"):
        got = checklib.expect_python_float("cross_entropy(probs, y)", cross_entropy(probs, y))
    if not np.isfinite(got):
        raise checklib.CheckFailed(
            f"cross_entropy returned {got} when some probabilities are exactly 0: log(0) is -inf "
            "and 0 * log(0) is nan. Clip the probabilities (e.g. to at least 1e-12) before the log.")
    expected = ref.cross_entropy(probs, y)
    if abs(got - expected) > 0.05 * abs(expected):
        raise checklib.CheckFailed(
            "cross_entropy with some probabilities exactly 0 is finite but far from the expected "
            "value: clip the probabilities to a tiny minimum such as 1e-12, do not add a large "
            "constant.")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: cross_entropy gives the wrong value on other batches.
""" # END TEST CONFIG
def test_cross_entropy_hidden(cross_entropy):
    import checklib
    checklib.check_cross_entropy(cross_entropy, seed=404)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 24

# %% [markdown]
# ## Question 3: a linear layer that learns (24 points)
#
# `LinearLayer(n_in, n_out, rng)` holds `W` of shape `(n_in, n_out)` and `b` of shape `(n_out,)`.
#
# * **`__init__`**: draw `W` with `rng.normal(0, sqrt(2 / n_in), size=(n_in, n_out))` (He
#   initialisation; float32 is fine and faster) and set `b` to zeros. Never all-zero weights:
#   every hidden unit would then compute and learn the same thing.
# * **`forward(x)`**: return `x @ W + b` for `x` of shape `(B, n_in)`, and keep `x`: backward
#   needs it (equation 2).
# * **`backward(grad_out)`**: `grad_out` is $G = \partial\mathcal L/\partial Z$, shape
#   `(B, n_out)`. Store `self.dW` (equation 2) and `self.db` (equation 3, a **sum** over the
#   batch), and return $\partial\mathcal L/\partial x = G W^\top$ (equation 4). Assign the
#   gradients (`=`), do not accumulate them (`+=`), and **do not change `W` or `b`** here:
#   the training step updates them once every gradient is known.

# %% [raw]
# # BEGIN SOLUTION

# %%
class LinearLayer:
    """A fully connected layer ``Z = x @ W + b``.

    Attributes:
        W: ``(n_in, n_out)`` weights;  b: ``(n_out,)`` biases.
        dW, db: gradients of the loss with respect to W and b, same shapes, set by ``backward``.
    """

    def __init__(self, n_in, n_out, rng):
        """Initialise ``W`` (He: normal with std ``sqrt(2 / n_in)``, drawn from ``rng``) and ``b = 0``.

        Args:
            n_in, n_out: input and output sizes.  rng: a ``numpy.random.Generator``.
        About 4 lines.
        """
        # BEGIN SOLUTION
        self.W = rng.normal(0.0, np.sqrt(2.0 / n_in), size=(n_in, n_out)).astype(np.float32)
        self.b = np.zeros(n_out, dtype=np.float32)
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        # END SOLUTION

    def forward(self, x):
        """Return ``x @ W + b``.

        Args:
            x: ``(B, n_in)``.
        Returns:
            ``(B, n_out)``. Keeps ``x`` for ``backward``.
        About 2 lines.
        """
        # BEGIN SOLUTION
        self.x = x
        return x @ self.W + self.b
        # END SOLUTION

    def backward(self, grad_out):
        """Gradients of the loss given ``grad_out = dL/dZ``.

        Args:
            grad_out: ``(B, n_out)``.
        Returns:
            ``dL/dx``, shape ``(B, n_in)``. Sets ``self.dW`` ``(n_in, n_out)`` and ``self.db``
            ``(n_out,)`` (summed over the batch). Does not change ``W`` or ``b``.
        About 3 lines.
        """
        # BEGIN SOLUTION
        self.dW = self.x.T @ grad_out
        self.db = grad_out.sum(axis=0)
        return grad_out @ self.W.T
        # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_linear_init(LinearLayer):
    import checklib
    checklib.check_linear_init(LinearLayer, seed=0)


# %%
def test_linear_forward(LinearLayer):
    import checklib
    checklib.check_linear_forward(LinearLayer, seed=0)


# %%
def test_linear_backward_gradient_check(LinearLayer):
    import checklib
    checklib.check_linear_backward(LinearLayer, seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer.backward gives wrong gradients for layers of other sizes.
""" # END TEST CONFIG
def test_linear_backward_reference_hidden(LinearLayer):
    import checklib
    import numpy as np
    rng = np.random.default_rng(505)
    for n_batch, n_in, n_out in [(5, 3, 4), (1, 6, 2), (7, 7, 7)]:
        W, b = rng.normal(size=(n_in, n_out)), rng.normal(size=n_out)
        x, g = rng.normal(size=(n_batch, n_in)), rng.normal(size=(n_batch, n_out))
        layer = LinearLayer(n_in, n_out, np.random.default_rng(1))
        layer.W, layer.b = W.copy(), b.copy()
        layer.forward(x.copy())
        dx = layer.backward(g.copy())
        sizes = f"(B={n_batch}, n_in={n_in}, n_out={n_out})"
        checklib.assert_close(f"dX returned by backward {sizes}", dx, g @ W.T, show_values=False,
                              wrong_answers=[("grad_out @ W.reshape(n_out, n_in) (a reshape "
                                              "instead of a transpose)",
                                              g @ W.reshape(n_out, n_in)),
                                             ("grad_out @ W (W not transposed)",
                                              g @ W if n_in == n_out else np.zeros(0))])
        checklib.assert_close(f"layer.dW {sizes}", layer.dW, x.T @ g, show_values=False,
                              wrong_answers=[
                                  ("the mean over the batch instead of the sum", x.T @ g / n_batch),
                                  ("(grad_out.T @ x).T via a reshape instead of a transpose",
                                   (g.T @ x).reshape(n_in, n_out)),
                                  ("grad_out.T @ x (dW transposed)",
                                   g.T @ x if n_in == n_out else np.zeros(0))])
        checklib.assert_close(f"layer.db {sizes}", layer.db, g.sum(axis=0), show_values=False,
                              wrong_answers=[
                                  ("the mean over the batch instead of the sum", g.mean(axis=0))])


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer.backward must not change W or b, and calling it twice must give the same gradients.
""" # END TEST CONFIG
def test_linear_backward_is_pure_hidden(LinearLayer):
    import checklib
    import numpy as np
    rng = np.random.default_rng(606)
    layer = LinearLayer(4, 3, np.random.default_rng(2))
    W, b = rng.normal(size=(4, 3)), rng.normal(size=3)
    x, g = rng.normal(size=(5, 4)), rng.normal(size=(5, 3))
    layer.W, layer.b = W.copy(), b.copy()
    layer.forward(x.copy())
    dx1 = checklib.snapshot(layer.backward(g.copy()))
    if not (np.array_equal(checklib.snapshot(layer.W), W)
            and np.array_equal(checklib.snapshot(layer.b), b)):
        raise checklib.CheckFailed(
            "backward changed W or b: it must only compute gradients; the training step "
            "updates the parameters after every gradient is known.")
    dW1, db1 = checklib.snapshot(layer.dW), checklib.snapshot(layer.db)
    layer.forward(x.copy())
    dx2 = checklib.snapshot(layer.backward(g.copy()))
    dW2, db2 = checklib.snapshot(layer.dW), checklib.snapshot(layer.db)
    if np.allclose(dW2, 2 * dW1) or np.allclose(db2, 2 * db1):
        raise checklib.CheckFailed(
            "calling backward twice doubles dW/db: the gradients are accumulated with += and "
            "never reset. Assign them (self.dW = ...) instead.")
    if not (np.allclose(dx1, dx2) and np.allclose(dW1, dW2) and np.allclose(db1, db2)):
        raise checklib.CheckFailed("calling forward and backward twice on the same batch gives "
                                   "different gradients the second time.")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer's initial weights are not a usable random initialisation.
""" # END TEST CONFIG
def test_linear_init_hidden(LinearLayer):
    import checklib
    import numpy as np
    checklib.check_linear_init(LinearLayer, seed=707)
    layer = LinearLayer(200, 50, np.random.default_rng(8))
    W = checklib.expect_array("LinearLayer(200, 50, rng).W", layer.W, (200, 50))
    b = checklib.expect_array("LinearLayer(200, 50, rng).b", layer.b, (50,))
    std = float(W.std())
    if not 0.01 <= std <= 1.0:
        raise checklib.CheckFailed(
            f"the initial weights of a 200 -> 50 layer have standard deviation {std:.3g}; use "
            "about sqrt(2 / n_in) = 0.1 so activations neither vanish nor explode.")
    if np.any(np.abs(b) > 1.0):
        raise checklib.CheckFailed("the initial biases are large: start them at zero.")


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 16

# %% [markdown]
# ## Question 4: backward through the whole network (16 points)
#
# The course's `MLP` (in `backprop_support.py`) stacks your layers:
# `Linear -> f -> Linear -> f -> ... -> Linear`. Its `forward(x)` stores, for each hidden layer
# `i` (all layers but the last), `model.pre_activations[i]` ($Z$, before $f$) and
# `model.activations[i]` ($f(Z)$). `model.activation` is `"relu"` or `"sigmoid"`.
#
# `network_backward(model, grad_logits)` receives $G_L = \partial\mathcal L / \partial Z_L$ and
# walks the layers from last to first: call the layer's `backward` (it stores `dW`, `db` and
# returns the gradient for the layer below), then, unless you have reached the first layer,
# multiply elementwise by $f'$ of **that hidden layer's** pre-activation. Layer `i`'s output is
# `pre_activations[i]`: an index off by one silently uses the wrong mask. Return the gradient
# with respect to the network's input `x`.

# %% [raw]
# # BEGIN SOLUTION

# %%
def network_backward(model, grad_logits):
    """Backpropagate ``grad_logits`` through every layer of ``model``.

    Args:
        model: an ``MLP`` on which ``forward`` has just been called.
        grad_logits: ``dL/dZ_L``, shape ``(B, n_out)``.
    Returns:
        ``dL/dx``, shape ``(B, n_in)``. Afterwards every layer holds its ``dW`` and ``db``.
    About 7 lines.
    """
    # BEGIN SOLUTION
    derivative = relu_derivative if model.activation == "relu" else sigmoid_derivative
    grad = model.layers[-1].backward(grad_logits)
    for i in range(len(model.layers) - 2, -1, -1):
        grad = grad * derivative(model.pre_activations[i])
        grad = model.layers[i].backward(grad)
    return grad
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_network_backward_relu(network_backward, LinearLayer, MLP):
    import checklib
    checklib.check_network_backward(network_backward, LinearLayer, MLP, "relu", seed=0)


# %%
def test_network_backward_sigmoid(network_backward, LinearLayer, MLP):
    import checklib
    checklib.check_network_backward(network_backward, LinearLayer, MLP, "sigmoid", seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: network_backward gives wrong gradients in a network with two hidden layers.
""" # END TEST CONFIG
def test_network_backward_deep_hidden(network_backward, LinearLayer, MLP):
    import checklib
    for activation in ("relu", "sigmoid"):
        checklib.check_network_backward(network_backward, LinearLayer, MLP, activation,
                                        seed=808, sizes=(6, 5, 4, 3))


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: network_backward does not return the gradient with respect to the input.
""" # END TEST CONFIG
def test_network_backward_returns_input_gradient_hidden(network_backward, LinearLayer, MLP):
    import checklib
    import numpy as np
    model, x, weights = checklib.small_model(MLP, LinearLayer, (3, 4, 2), "sigmoid", seed=909)
    g = np.random.default_rng(1).normal(size=(x.shape[0], 2))
    model.forward(x.copy())
    dx = network_backward(model, g.copy())
    numeric = checklib.numerical_gradient(
        lambda v: float(np.sum(checklib.forward_with(weights, v, "sigmoid")[0] * g)), x)
    checklib.assert_close("the value network_backward returns (dL/dx)", dx, numeric,
                          tol=max(1e-6, checklib.tolerance_for(dx)), show_values=False)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 15

# %% [markdown]
# ## Question 5: one step of gradient descent (15 points)
#
# `train_step(model, x, y, lr)` does one SGD step on a mini-batch:
#
# 1. forward: `probs = softmax(model.forward(x))`;
# 2. the loss: `cross_entropy(probs, y)`, **before** any parameter changes;
# 3. backward: `network_backward(model, (probs - y) / B)` with `B = x.shape[0]`;
# 4. update **every** layer, once all gradients are known: `W -= lr * dW`, `b -= lr * db`
#    (minus: downhill);
# 5. return the loss from step 2 as a Python float.

# %% [raw]
# # BEGIN SOLUTION

# %%
def train_step(model, x, y, lr):
    """One SGD step of ``model`` on the batch ``(x, y)``.

    Args:
        model: an ``MLP``.  x: ``(B, n_in)`` inputs.  y: ``(B, n_out)`` one-hot targets.
        lr: the learning rate, a float.
    Returns:
        the mean cross-entropy before the update, as a Python float.
    About 7 lines.
    """
    # BEGIN SOLUTION
    probs = softmax(model.forward(x))
    loss = cross_entropy(probs, y)
    network_backward(model, (probs - y) / x.shape[0])
    for layer in model.layers:
        layer.W -= lr * layer.dW
        layer.b -= lr * layer.db
    return float(loss)
    # END SOLUTION


# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_train_step(train_step, LinearLayer, MLP):
    import checklib
    checklib.check_train_step(train_step, LinearLayer, MLP, "relu", seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: train_step updates the parameters of a deeper sigmoid network incorrectly.
""" # END TEST CONFIG
def test_train_step_deep_hidden(train_step, LinearLayer, MLP):
    import checklib
    checklib.check_train_step(train_step, LinearLayer, MLP, "sigmoid", seed=1001,
                              sizes=(5, 4, 4, 3), lr=0.3)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: repeated train_step calls do not reduce the loss on a small problem.
""" # END TEST CONFIG
def test_train_step_loss_falls_hidden(train_step, LinearLayer, MLP):
    import checklib
    import numpy as np
    from backprop_support import make_two_moons, one_hot
    x, labels = make_two_moons(128, seed=3)
    y = one_hot(labels, 2, np.float64)
    model = MLP([2, 16, 2], LinearLayer, np.random.default_rng(4))
    losses = [checklib.expect_python_float("train_step(...)", train_step(model, x, y, 0.5))
              for _ in range(60)]
    if not np.all(np.isfinite(losses)):
        raise checklib.CheckFailed("the loss became nan or inf during 60 training steps.")
    if not losses[-1] < 0.8 * losses[0]:
        raise checklib.CheckFailed(
            f"60 train_step calls on a toy problem moved the loss from {losses[0]:.3f} to "
            f"{losses[-1]:.3f}; it should fall clearly. Check the sign of the update.")


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Check your gradients
#
# `gradient_check` compares your analytic gradients with numerical ones on a tiny network and
# prints one line per parameter. Relative errors around `1e-8` or below mean correct; `1e-2`
# or more means a bug in that parameter's gradient.

# %% tags=["otter_ignore"]
_ = gradient_check(MLP([5, 4, 3], LinearLayer, np.random.default_rng(0), activation="sigmoid"),
                   network_backward, softmax, cross_entropy)

# %% [markdown]
# ## A sigmoid network on a toy problem
#
# Two interleaved half-moons cannot be separated by a straight line. A network with sigmoid
# hidden units learns a curved boundary, but only if `sigmoid_derivative` is right: a wrong
# derivative shows up as a wrong gradient above and a poor fit here.

# %% tags=["otter_ignore"]
x_moons, y_moons = make_two_moons(400, seed=0)
moons_model = MLP([2, 16, 16, 2], LinearLayer, np.random.default_rng(0), activation="sigmoid")
moons_history = train(moons_model, x_moons, y_moons, train_step, epochs=200, lr=1.0,
                      batch_size=32, n_classes=2, verbose=False)
print(f"two moons: final loss {moons_history['loss'][-1]:.3f}, "
      f"accuracy {accuracy(moons_model, x_moons, y_moons):.1%}")
plot_decision_boundary(moons_model, x_moons, y_moons, "Sigmoid MLP on two moons");

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 15

# %% [markdown]
# ## Question 6: train on MNIST (15 points)
#
# Nothing new to write: the grader builds `MLP([784, 128, 10], LinearLayer, rng)` with your
# layer, trains it with your `train_step` on the first 20,000 training images (3 epochs,
# learning rate 0.1, batches of 64) and measures accuracy on the 10,000 test images. You need
# at least **90 %**; a correct implementation reaches about 93 %. Training must also be
# vectorised: a loop over the examples of a batch is far too slow and is stopped.
#
# The cells below do the same on the full training set so you can watch it learn.

# %% tags=["otter_ignore"]
x_train, y_train, x_test, y_test = load_mnist()
mnist_model = MLP([784, 128, 10], LinearLayer, np.random.default_rng(0))
history = train(mnist_model, x_train, y_train, train_step, epochs=5, lr=0.1, batch_size=64,
                x_val=x_test, y_val=y_test)
plot_history(history, "MNIST");

# %% tags=["otter_ignore"]
test_preds = mnist_model.predict(x_test)
plot_confusion_matrix(y_test, test_preds);

# %% tags=["otter_ignore"]
plot_misclassified(x_test, y_test, test_preds);

# %% tags=["otter_ignore"]
plot_first_layer_weights(mnist_model.layers[0].W);

# %% [raw]
# # BEGIN TESTS

# %%
def test_mnist_small(train_step, LinearLayer, MLP):
    import checklib
    checklib.check_mnist_accuracy(train_step, LinearLayer, MLP, n_train=2000, epochs=1,
                                  threshold=0.75)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 12
failure_message: the network trained with your train_step does not reach the required MNIST test accuracy.
""" # END TEST CONFIG
def test_mnist_accuracy_hidden(train_step, LinearLayer, MLP):
    import checklib
    checklib.check_mnist_accuracy(train_step, LinearLayer, MLP)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q7
# points: 6

# %% [markdown]
# ## Question 7: knowledge check (6 points)
#
# Set each variable to the letter of the best answer (`"a"`, `"b"`, `"c"` or `"d"`).
#
# **7.1** What does `LinearLayer.backward` return?
# (a) `dW`  (b) the gradient of the loss with respect to the layer's input `x`
# (c) the updated weights  (d) the loss
#
# **7.2** What must `LinearLayer.forward` keep for `backward`?
# (a) nothing  (b) its input `x`  (c) its output  (d) the loss
#
# **7.3** Which bug passes a gradient check but still stops the network from learning?
# (a) a missing transpose in dX  (b) a `+` instead of `-` in the SGD update
# (c) softmax over the wrong axis  (d) the bias gradient summed over the wrong axis
#
# **7.4** In `network_backward`, a sigmoid network multiplies by `sigmoid_derivative(...)` of:
# (a) `model.pre_activations[i]`  (b) `model.activations[i]`  (c) the incoming gradient
# (d) `layer.W`

# %% [raw]
# # BEGIN SOLUTION

# %%
q7_1 = "b"  # SOLUTION
q7_2 = "b"  # SOLUTION
q7_3 = "b"  # SOLUTION
q7_4 = "a"  # SOLUTION

# %% [raw]
# # END SOLUTION

# %% [raw]
# # BEGIN TESTS

# %%
def test_answer_format(q7_1, q7_2, q7_3, q7_4):
    import checklib
    checklib.check_answer_format({"q7_1": q7_1, "q7_2": q7_2, "q7_3": q7_3, "q7_4": q7_4})


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: at least one knowledge-check answer is wrong.
""" # END TEST CONFIG
def test_answers_hidden(q7_1, q7_2, q7_3, q7_4):
    import checklib
    wrong = [name for name, got, want in [("7.1", q7_1, "b"), ("7.2", q7_2, "b"),
                                          ("7.3", q7_3, "b"), ("7.4", q7_4, "a")]
             if got != want]
    if wrong:
        raise checklib.CheckFailed(f"knowledge check: {len(wrong)} of 4 answers are wrong.")


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Debugging checklist
#
# If a check fails and you cannot see why, run this cell: it walks through the usual suspects
# with your own code and says which one looks wrong.

# %% tags=["otter_ignore"]
from checklib import debugging_checklist
debugging_checklist(LinearLayer, network_backward, softmax, cross_entropy, train_step)
