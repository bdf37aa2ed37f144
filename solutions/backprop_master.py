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
#   - diagnostics.py
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
# A neural network learns by gradient descent, and backpropagation is how it gets its
# gradients: the chain rule, applied layer by layer from the loss back to the input. In this
# assignment you write that machinery yourself with nothing but NumPy (activation derivatives,
# a numerically safe softmax and cross-entropy, a linear layer that sends gradients backwards,
# the backward pass through a whole network and one step of stochastic gradient descent), then
# train your network on handwritten digits (MNIST) and look at what it learned.
#
# ### Set-up (once)
#
# Unzip the bundle, open a terminal in its folder and run this one command (inside a virtual
# environment: `README.md` gives the commands to create and activate one on each system; Google
# Colab is not supported):
#
#     python -m pip install -r requirements.txt --no-deps
#
# Then start `jupyter lab backprop.ipynb` (or open the notebook in VS Code). Keep
# `backprop_support.py`, `diagnostics.py`, `mnist.npz` and the `tests/` folder beside the
# notebook (with the `gradekit/` folder the tests import): it imports them.
#
# ### How you work
#
# 1. Run the cells from the top: the first one starts the local grader, the second imports the
#    course's code, the third keeps NumPy to one thread (several threads only wait for each
#    other on this network's small matrices).
# 2. Write code only where you see `...` inside the functions and the class. Each stub's
#    docstring gives the shapes of its arguments and results and about how many lines it
#    takes; the maths it needs is in the text right above it.
# 3. After each question, run its `grader.check("qN")` cell. It runs the public tests on your
#    code and says precisely what is wrong: which value, the shape it expected and the one it
#    got, which gradient is off and by how much, and which common mistake the result matches.
#    Gradescope also runs hidden tests on other inputs: passing every local check is
#    necessary, not sufficient.
# 4. Stuck? `gradient_check_layer` and `gradient_check` compare your gradients with numerical
#    ones, and the **debugging checklist** at the end tests the usual suspects one by one.
# 5. **A mistake costs points once, on its own question.** Gradescope grades `network_backward`
#    (Question 4) and `train_step` (Question 5) with your own functions from the questions
#    before them (error carried forward): with a wrong `LinearLayer.backward`, Question 3 loses
#    points and Question 4 is judged on what a correct `network_backward` does with *your* layer.
#    That needs your earlier functions to be wrong by their own question's checks (run again
#    on fresh inputs), to run, and to return finite arrays of the right shape where the result
#    flows on, arrays that depend on their inputs (not constant, not the same whatever the
#    gradient, not too small to change a weight); an error there stops the later questions too. The local checks compare with the correct answers only, so fix the earliest
#    failing question first.
#    Question 6 trains the whole network: any bug that stops it learning costs its points.
#
# **Rules.** Do not rename the functions, the class, its attributes or the `q7_*` variables, and
# do not edit the course's cells (imports, training, pictures). The grader calls your functions
# itself and ignores what the notebook prints or draws; the training and plotting cells do not
# run during grading.
#
# ### Submitting
#
# Save the notebook, then run the last cell: it writes a `.zip` next to the notebook. Upload
# that zip (or the `.ipynb` itself) to Gradescope.
#
# Notation: shapes are *batch-first*. A batch of $B$ examples with $n$ features is an array of
# shape $(B, n)$, one row per example. Compute in float32 or float64: a graded function's
# array in float16 fails its question (float16 keeps only about 3 significant digits).

# %%
import numpy as np

from backprop_support import (MLP, accuracy, load_mnist, make_two_moons, one_hot,
                              plot_confusion_matrix, plot_decision_boundary,
                              plot_first_layer_weights, plot_history, plot_misclassified, relu,
                              sigmoid, train)
from diagnostics import debugging_checklist, gradient_check, gradient_check_layer

# %% tags=["otter_ignore"]
# One thread for NumPy's matrix products: on this network's small matrices several threads
# only wait for each other, and on a busy computer training became 5 times slower.
from threadpoolctl import threadpool_limits

_ = threadpool_limits(1)

# %% [markdown]
# ## The maths you need
#
# ### The chain rule
#
# If the loss $\mathcal L$ depends on $z$ only through $a = f(z)$, then
# $\dfrac{\partial \mathcal L}{\partial z} = \dfrac{\partial \mathcal L}{\partial a}\, f'(z)$.
# For arrays, entry by entry, sum over every path from $z$ to the loss:
# $\dfrac{\partial \mathcal L}{\partial z_{ij}} = \sum_{k,l} \dfrac{\partial \mathcal L}{\partial a_{kl}}\,
# \dfrac{\partial a_{kl}}{\partial z_{ij}}$. Backpropagation applies this rule once per layer,
# from the loss back to the input, and reuses each result for the layer below.
#
# ### The network, batch-first
#
# A batch is $X = A_0$ of shape $(B, n_0)$. For layers $\ell = 1, \dots, L$, with $W_\ell$ of
# shape $(n_{\ell-1}, n_\ell)$ and $b_\ell$ of shape $(n_\ell,)$ (added to every row):
#
# $$Z_\ell = A_{\ell-1} W_\ell + b_\ell \quad (B, n_\ell), \qquad
# A_\ell = f(Z_\ell) \quad (B, n_\ell) \text{ for } \ell < L,$$
#
# $$\hat Y = \operatorname{softmax}(Z_L) \quad (B, C), \qquad
# \mathcal L = -\frac1B \sum_{i=1}^{B} \sum_{k=1}^{C} Y_{ik} \log \hat Y_{ik},$$
#
# where $Y$ holds the one-hot targets and $C = n_L$ is the number of classes. $Z_\ell$ is the
# layer's *pre-activation*, $A_\ell = f(Z_\ell)$ its *activation*.
#
# ### The four backpropagation equations
#
# Write $G_\ell = \partial \mathcal L / \partial Z_\ell$; it has the shape of $Z_\ell$, $(B, n_\ell)$.
#
# | | equation | shapes |
# |---|---|---|
# | 1. output layer | $G_L = (\hat Y - Y) / B$ | $(B, n_L)$ |
# | 2. weights | $\partial \mathcal L / \partial W_\ell = A_{\ell-1}^\top G_\ell$ | $(n_{\ell-1}, B) \times (B, n_\ell) \to (n_{\ell-1}, n_\ell)$ |
# | 3. biases | $\partial \mathcal L / \partial b_\ell = \sum_{i=1}^{B} (G_\ell)_{i,:}$, the sum over axis 0 | $(n_\ell,)$ |
# | 4. one layer down | $G_{\ell-1} = \bigl(G_\ell W_\ell^\top\bigr) \odot f'(Z_{\ell-1})$ | $(B, n_\ell) \times (n_\ell, n_{\ell-1}) \to (B, n_{\ell-1})$ |
#
# ($\odot$ is the elementwise product.) Where they come from: entry by entry,
# $(Z_\ell)_{ij} = \sum_k (A_{\ell-1})_{ik} (W_\ell)_{kj} + (b_\ell)_j$, and the chain rule sums
# over every entry of $Z_\ell$ that a quantity touches.
#
# * $(W_\ell)_{kj}$ enters $(Z_\ell)_{ij}$ for every example $i$, with factor $(A_{\ell-1})_{ik}$:
#   $\partial \mathcal L / \partial (W_\ell)_{kj} = \sum_i (A_{\ell-1})_{ik} (G_\ell)_{ij}$, which
#   is $A_{\ell-1}^\top G_\ell$. The sum over the batch happens inside the matrix product.
# * $(b_\ell)_j$ enters $(Z_\ell)_{ij}$ for every example $i$, with factor 1: a sum over the batch.
# * $(A_{\ell-1})_{ik}$ enters $(Z_\ell)_{ij}$ for every unit $j$, with factor $(W_\ell)_{kj}$:
#   $\partial \mathcal L / \partial A_{\ell-1} = G_\ell W_\ell^\top$. Then $A_{\ell-1} = f(Z_{\ell-1})$
#   elementwise, so the chain rule multiplies by $f'(Z_{\ell-1})$ entry by entry.
#
# Nothing is divided by $B$ in equations 2 to 4: the $1/B$ of the mean loss is already in $G_L$.
#
# **Check every equation by its shapes.** $(n_{\ell-1}, B) \times (B, n_\ell)$ is the only
# product of $A_{\ell-1}$ and $G_\ell$ that gives an $(n_{\ell-1}, n_\ell)$ weight gradient. If
# your shapes do not fit, a transpose is missing or extra.

# %% [raw]
# # BEGIN QUESTION
# name: q1
# points: 10

# %% [markdown]
# ## Question 1: activation derivatives ({{points.q1}} points)
#
# Equation 4 needs $f'(Z)$: the derivative of the activation **at the pre-activation** $Z$, the
# value that went *into* $f$. That is what the chain rule gives for $A = f(Z)$:
# $\partial A_{ij} / \partial Z_{ij} = f'(Z_{ij})$, and it is why the network keeps $Z$ from its
# forward pass.
#
# * **ReLU**, $f(z) = \max(z, 0)$: $f'(z) = 1$ for $z > 0$ and $0$ for $z < 0$. At $z = 0$ there
#   is no derivative; use 0 (any value in $[0, 1]$ is a valid choice and exact zeros are rare).
#   Return floats (`1.0`/`0.0`), not booleans. Evaluated at $A = \max(Z, 0)$ instead of $Z$,
#   this mask happens to come out the same, which hides the mistake until you use a sigmoid.
# * **Sigmoid**, $\sigma(z) = 1/(1 + e^{-z})$:
#   $\sigma'(z) = \dfrac{e^{-z}}{(1 + e^{-z})^2} = \sigma(z)\,\bigl(1 - \sigma(z)\bigr)$.
#   Use the provided, overflow-safe `sigmoid`. `sigmoid_derivative` receives $z$, not
#   $\sigma(z)$: `z * (1 - z)` applies the formula to the wrong number, and so does
#   `sigmoid_derivative(activation)` later on.
#
# Both work elementwise: the result has the shape of `z`.

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
    from gradekit import checks
    checks.check_relu_derivative(relu_derivative, seed=0)


# %%
def test_sigmoid_derivative(sigmoid_derivative):
    from gradekit import checks
    checks.check_sigmoid_derivative(sigmoid_derivative, seed=0)


# %%
def test_sigmoid_derivative_large_z(sigmoid_derivative):
    from gradekit import checks
    checks.check_sigmoid_derivative_large_z(sigmoid_derivative)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: sigmoid_derivative gives wrong values for moderate inputs (|z| below about 8) of other shapes.
""" # END TEST CONFIG
def test_sigmoid_derivative_hidden(sigmoid_derivative):
    from gradekit import checks
    checks.check_sigmoid_derivative(sigmoid_derivative, seed=101)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: sigmoid_derivative overflows (nan, inf or wrong values) for inputs of large magnitude; use the provided, overflow-safe sigmoid.
""" # END TEST CONFIG
def test_sigmoid_derivative_large_z_hidden(sigmoid_derivative):
    from gradekit import checks
    import numpy as np
    z = np.array([[-800.0, -60.0, 0.5], [45.0, 710.0, -709.0]])
    checks.check_sigmoid_derivative_large_z(sigmoid_derivative, z)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: relu_derivative differs from the expected mask on other inputs.
""" # END TEST CONFIG
def test_relu_derivative_hidden(relu_derivative):
    from gradekit import checks
    checks.check_relu_derivative(relu_derivative, seed=202)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q2
# points: 14

# %% [markdown]
# ## Question 2: softmax and cross-entropy ({{points.q2}} points)
#
# **Softmax** turns each row of logits into probabilities, along the **last axis** (one row per
# example): $\operatorname{softmax}(z)_k = e^{z_k} / \sum_j e^{z_j}$.
#
# *Why subtract the maximum.* `np.exp(1000)` overflows to `inf`, and `inf / inf` is `nan`;
# `np.exp(-1000)` underflows to 0, and a row of zeros gives `0 / 0`. Softmax does not change
# when the same constant $c$ is subtracted from every logit of a row:
#
# $$\frac{e^{z_k - c}}{\sum_j e^{z_j - c}} = \frac{e^{-c}\, e^{z_k}}{e^{-c} \sum_j e^{z_j}}
# = \frac{e^{z_k}}{\sum_j e^{z_j}}.$$
#
# With $c = \max_j z_j$ every exponent is at most 0 (no overflow) and the largest term is
# $e^0 = 1$, so the denominator is at least 1 (no division by 0). Use `keepdims=True` so that the
# row maxima and row sums broadcast against `z`.
#
# **Cross-entropy** of predicted probabilities $\hat Y$ and one-hot targets $Y$, both $(B, C)$:
# the **mean over the batch** of $-\sum_k Y_{ik} \log \hat Y_{ik}$, returned as a Python `float`.
# The mean, not the sum, keeps the size of the loss and of a good learning rate independent of
# the batch size.
#
# *Why guard the log.* A probability can round to exactly 0 (when logits are far apart), and
# $\log 0 = -\infty$; worse, $0 \cdot \log 0$ is `nan` in floating point, even where $Y_{ik} = 0$
# should make the term vanish. Clip the probabilities to at least `1e-12` before the log
# (`np.clip` or `np.maximum` do it): such a tiny floor changes nothing for sensible predictions and
# caps the loss of a confidently wrong one at $-\log 10^{-12} \approx 27.6$. Any floor from
# `{{log_floor.low}}` to `{{log_floor.high}}` is accepted (scikit-learn uses `1e-15`;
# `log(probs + eps)` works too).
#
# **Why the gradient of softmax with cross-entropy is $(\hat Y - Y)/B$** (equation 1). Take one
# example: logits $z$, $p = \operatorname{softmax}(z)$, one-hot $y$ and loss
# $\ell = -\sum_k y_k \log p_k$. Since $\log p_k = z_k - \log \sum_j e^{z_j}$,
#
# $$\ell = -\sum_k y_k z_k + \Bigl(\sum_k y_k\Bigr) \log \sum_j e^{z_j}
# = -\sum_k y_k z_k + \log \sum_j e^{z_j},$$
#
# because a one-hot $y$ sums to 1. Differentiating with respect to $z_m$:
#
# $$\frac{\partial \ell}{\partial z_m} = -y_m + \frac{e^{z_m}}{\sum_j e^{z_j}} = p_m - y_m.$$
#
# The batch loss is the mean of $B$ such terms, and example $i$'s logits appear only in its own
# term, so $\partial \mathcal L / \partial Z_L = (\hat Y - Y) / B$. The log undoes the exp: no
# softmax Jacobian is ever needed. `train_step` (Question 5) uses exactly this.

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
    from gradekit import checks
    checks.check_softmax(softmax, seed=0)


# %%
def test_softmax_large_logits(softmax):
    from gradekit import checks
    checks.check_softmax_extreme(softmax)


# %%
def test_cross_entropy(cross_entropy):
    from gradekit import checks
    checks.check_cross_entropy(cross_entropy, seed=0)


# %%
def test_cross_entropy_zero_probabilities(cross_entropy):
    from gradekit import checks
    checks.check_cross_entropy_zeros(cross_entropy)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: softmax gives wrong probabilities for batches of other shapes, some with more than two axes (normalise along the last axis).
""" # END TEST CONFIG
def test_softmax_shapes_hidden(softmax):
    from gradekit import checks
    import numpy as np
    import backprop_reference as ref
    rng = np.random.default_rng(303)
    for shape in [(3, 3), (1, 5), (2, 3, 4), (3, 2, 2, 5)]:
        z = rng.normal(0, 4, size=shape)
        got = checks.call_student("softmax(z)", softmax, z.copy())
        checks.assert_close(f"softmax(z) for z of shape {shape}", got, ref.softmax(z),
                              show_values=False, wrong_answers=[
                                  ("normalising over axis 0 instead of the last axis",
                                   np.exp(z) / np.exp(z).sum(axis=0, keepdims=True),
                                   "softmax_wrong_axis"),
                                  ("normalising over axis 1 instead of the last axis",
                                   np.exp(z) / np.exp(z).sum(axis=1, keepdims=True),
                                   "softmax_wrong_axis"),
                                  ("normalising over the whole array instead of each row",
                                   np.exp(z) / np.exp(z).sum(), "softmax_whole_array")])


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: softmax is not numerically stable for very large or very negative logits.
""" # END TEST CONFIG
def test_softmax_extreme_hidden(softmax):
    from gradekit import checks
    import numpy as np
    import backprop_reference as ref
    z = np.array([[-1200.0, -1000.0, -1100.0], [5000.0, 5000.0, -5000.0], [0.0, 1e-9, 800.0]])
    with np.errstate(all="ignore"):
        got = checks.call_student("softmax(z)", softmax, z.copy())
    arr = checks.expect_array("softmax(z) for very large logits", got, z.shape)
    checks.expect_finite("softmax(z) for very large logits", arr, mistake="softmax_overflow")
    checks.assert_close("softmax(z) for very large logits", got, ref.softmax(z),
                          show_values=False, mistake="softmax_overflow")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: cross_entropy does not guard the log when a predicted probability is exactly 0; its result is not finite (the log of 0), or not what a floor from {{log_floor.low}} to {{log_floor.high}} gives.
""" # END TEST CONFIG
def test_cross_entropy_zero_probabilities_hidden(cross_entropy):
    from gradekit import checks
    import numpy as np
    probs = np.array([[0.0, 1.0, 0.0, 0.0], [0.25, 0.25, 0.5, 0.0], [0.0, 0.0, 0.0, 1.0]])
    y = np.array([[1.0, 0.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    checks.check_cross_entropy_zeros(cross_entropy, probs, y)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: cross_entropy gives the wrong value on other batches without zero probabilities (it should be the mean over the batch of -sum(y * log(probs))).
""" # END TEST CONFIG
def test_cross_entropy_hidden(cross_entropy):
    from gradekit import checks
    checks.check_cross_entropy(cross_entropy, seed=404)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q3
# points: 24

# %% [markdown]
# ## Question 3: a linear layer that learns ({{points.q3}} points)
#
# `LinearLayer(n_in, n_out, rng)` holds `W` of shape `(n_in, n_out)` and `b` of shape `(n_out,)`.
# It is equations 2 to 4 for one layer: given $G = \partial \mathcal L / \partial Z$ for its
# output, it computes the gradients of its own parameters and of its input.
#
# * **`__init__`**: draw `W` with `rng.normal(0, sqrt(2 / n_in), size=(n_in, n_out))` (He
#   initialisation: it keeps the size of the signal about the same from layer to layer of a ReLU
#   network; float32 is fine and faster, float64 too, not float16) and set `b` to zeros. Use the
#   `rng` you are given, so that runs are reproducible. Any standard deviation of `W`
#   {{init.range}} is accepted: the smaller textbook scales $\sigma = 0.01$ (d2l) and
#   $10^{-4}$ (CS231n), LeCun's and Xavier's pass too. Never all-zero weights: every hidden unit
#   would compute the same thing, get the same gradient and stay identical to the others
#   forever.
# * **`forward(x)`**: return `x @ W + b` for `x` of shape `(B, n_in)` (`b` broadcasts over the
#   rows), and keep `x` (e.g. `self.x = x`): `backward` needs it for equation 2.
# * **`backward(grad_out)`**: `grad_out` is $G$, shape `(B, n_out)`. Store `self.dW`
#   $= x^\top G$, shape `(n_in, n_out)`, and `self.db` $= \sum_i G_{i,:}$, shape `(n_out,)` (a
#   **sum** over axis 0, not a mean: the $1/B$ is already in $G$), and return
#   $\partial \mathcal L / \partial x = G W^\top$, shape `(B, n_in)`. Assign the gradients (`=`),
#   do not accumulate them (`+=`), and **do not change `W` or `b`** here: the training step
#   updates them once every gradient is known.
#
# **Backpropagation, not numerical gradients.** Questions 3 to 5 are about the chain rule, so
# their gradient checks count only at its speed. The grader also runs your `backward`,
# `network_backward` and `train_step` on a layer 1024 wide and allows each the time of 1,000
# forward passes through that layer, timed at the same moment (the local check allows 10 s).
# The equations cost a few forward passes; finite differences need two for every input of a
# layer, thousands here, and cannot finish in time.

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
    from gradekit import checks
    checks.check_linear_init(LinearLayer, seed=0)
    checks.check_linear_init_scale(LinearLayer, seed=0)
    checks.check_linear_init_bias(LinearLayer, seed=0)


# %%
def test_linear_forward(LinearLayer):
    from gradekit import checks
    checks.check_linear_forward(LinearLayer, seed=0)


# %%
def test_linear_backward(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward(LinearLayer, seed=0)


# %%
def test_linear_backward_vectorised(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward_vectorised(LinearLayer, seed=0)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer.backward gives wrong values of dX, dW or db for layers of other sizes.
""" # END TEST CONFIG
def test_linear_backward_values_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward_values(LinearLayer, seed=505)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer.backward gives dX, dW or db of the wrong shape for layers of other sizes (dX like x, dW like W, db like b).
""" # END TEST CONFIG
def test_linear_backward_shapes_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward_shapes(LinearLayer, seed=505)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer.backward changes W or b; it must only compute gradients.
""" # END TEST CONFIG
def test_linear_backward_keeps_parameters_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward_keeps_parameters(LinearLayer, seed=505)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer.backward adds its gradients to those of an earlier call; assign dW and db, do not accumulate them.
""" # END TEST CONFIG
def test_linear_backward_fresh_gradients_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward_fresh_gradients(LinearLayer, seed=505)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer's initial weights are all zero or not drawn from the rng argument.
""" # END TEST CONFIG
def test_linear_init_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_init(LinearLayer, seed=707, pattern=(0, 0, 1, 2, 1, 0, 3),
                               n_in=200, n_out=50)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer's initial weights have a standard deviation outside the allowed range ({{init.range}}).
""" # END TEST CONFIG
def test_linear_init_scale_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_init_scale(LinearLayer, seed=708)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: LinearLayer's initial biases are large; start them at zero.
""" # END TEST CONFIG
def test_linear_init_bias_hidden(LinearLayer):
    from gradekit import checks
    checks.check_linear_init_bias(LinearLayer, seed=709)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ### Check your layer numerically
#
# The public checks test a few fixed cases. `gradient_check_layer` tests *your* layer on random
# data against the definition of the derivative. For every entry $\theta$ of $x$, $W$ and $b$ it
# measures $\bigl(\mathcal L(\theta + h) - \mathcal L(\theta - h)\bigr) / 2h$ with
# $h = 10^{-6}$ (central differences, accurate to about $h^2$), for the loss
# $\mathcal L = \sum_{ij} \operatorname{forward}(x)_{ij}\, G_{ij}$ with a fixed random $G$: then
# $\partial \mathcal L / \partial Z = G$, so `backward(G)` must return exactly
# $\partial \mathcal L / \partial x$ and store $\partial \mathcal L / \partial W$ and
# $\partial \mathcal L / \partial b$.
#
# For each gradient it prints the relative error
# $\max \lvert \text{analytic} - \text{numerical} \rvert / \max(\lvert \text{analytic} \rvert, \lvert \text{numerical} \rvert)$
# with the tolerance beside it, and the entries that disagree most. About `1e-9` means correct;
# `1e-2` or more means a bug in that gradient, and a hint names simple patterns such as a
# missing factor (the batch size?) or a flipped sign. Call it on any layer while you debug.

# %% tags=["otter_ignore"]
_ = gradient_check_layer(LinearLayer(4, 3, np.random.default_rng(0)))

# %% [raw]
# # BEGIN QUESTION
# name: q4
# points: 16

# %% [markdown]
# ## Question 4: backward through the whole network ({{points.q4}} points)
#
# The course's `MLP` (in `backprop_support.py`) stacks your layers:
# `Linear -> f -> Linear -> f -> ... -> Linear`. Its `forward(x)` keeps, for each hidden layer
# `i` (every layer but the last):
#
# * `model.pre_activations[i]`: $Z$, the output of `model.layers[i]`, before $f$;
# * `model.activations[i]`: $f(Z)$, the input of `model.layers[i + 1]`.
#
# `model.activation` is `"relu"` or `"sigmoid"`: use `relu_derivative` or `sigmoid_derivative`
# accordingly.
#
# `network_backward(model, grad_logits)` receives $G_L = \partial \mathcal L / \partial Z_L$,
# shape `(B, n_out)`, and walks the layers from the last to the first:
#
# 1. `grad = model.layers[i].backward(grad)`: the layer stores its `dW` and `db` and returns
#    the gradient with respect to its input;
# 2. unless `i` is the first layer, multiply that elementwise by $f'$ of **the pre-activation
#    of the layer below**, `model.pre_activations[i - 1]` (equation 4): this turns
#    $\partial \mathcal L / \partial A$ into $G$ for layer `i - 1`.
#
# Return the gradient with respect to the network's input `x`, shape `(B, n_in)`. Two classic
# mistakes: $f'$ of `model.activations[...]` (that is $f'(f(Z))$: wrong for a sigmoid, silently
# harmless for ReLU) and an index off by one (the derivative of another layer's pre-activation;
# with equal hidden sizes the shapes still fit and only the values are wrong).
#
# The checks call `network_backward` right after the course's `model.forward(x)`, as training
# does. **Do not change the arrays the model caches in place** (`model.activations[i][...] = ...`,
# `*=`): `model.activations[i]` is the very array `model.layers[i + 1]` kept as its input, so
# its `backward` would see the changed values.

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
def test_network_backward_relu(network_backward, LinearLayer, relu_derivative):
    from gradekit import checks
    checks.check_network_backward(network_backward, LinearLayer, "relu", seed=0,
                                    relu_derivative=relu_derivative)


# %%
def test_network_backward_sigmoid(network_backward, LinearLayer, sigmoid_derivative):
    from gradekit import checks
    checks.check_network_backward(network_backward, LinearLayer, "sigmoid", seed=0,
                                    sigmoid_derivative=sigmoid_derivative)


# %%
def test_network_backward_vectorised(network_backward, LinearLayer, relu_derivative):
    from gradekit import checks
    checks.check_network_backward_vectorised(network_backward, LinearLayer, seed=0,
                                               relu_derivative=relu_derivative)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: network_backward leaves wrong dW or db in the layers of networks of other shapes.
""" # END TEST CONFIG
def test_network_backward_deep_hidden(network_backward, LinearLayer, relu_derivative,
                                      sigmoid_derivative):
    from gradekit import checks
    for activation in ("relu", "sigmoid"):
        for sizes in [(6, 5, 4, 3), (3, 4, 4, 4, 2)]:
            checks.check_network_backward(network_backward, LinearLayer, activation,
                                            seed=808, sizes=sizes, show_values=False,
                                            relu_derivative=relu_derivative,
                                            sigmoid_derivative=sigmoid_derivative,
                                            parts="layers")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: network_backward does not return the right gradient with respect to the network's input.
""" # END TEST CONFIG
def test_network_backward_returns_input_gradient_hidden(network_backward, LinearLayer,
                                                        sigmoid_derivative):
    from gradekit import checks
    checks.check_network_backward(network_backward, LinearLayer, "sigmoid", seed=909,
                                    sizes=(3, 4, 2), show_values=False,
                                    sigmoid_derivative=sigmoid_derivative, parts="input")


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q5
# points: 15

# %% [markdown]
# ## Question 5: one step of gradient descent ({{points.q5}} points)
#
# `train_step(model, x, y, lr)` does one step of stochastic gradient descent on a mini-batch:
#
# 1. forward: `probs = softmax(model.forward(x))`;
# 2. the loss: `cross_entropy(probs, y)`, **before** any parameter changes;
# 3. backward: `network_backward(model, (probs - y) / B)` with `B = x.shape[0]` (equation 1);
# 4. update **every** layer, once all gradients are known: `W -= lr * dW` and `b -= lr * db`
#    (minus: the gradient points uphill, so step against it);
# 5. return the loss from step 2 as a Python `float`.
#
# Updating a layer's `W` while gradients still have to flow through it would send the layers
# below a gradient computed with the new weights: finish the backward pass first.
#
# The checks also give `train_step` a batch whose logits are about 1000 apart, so that the
# probability of some true classes is exactly 0: the loss it returns must still be what
# `cross_entropy` with a floor from `{{log_floor.low}}` to `{{log_floor.high}}` gives (compute it
# with your `cross_entropy`, not with a log of your own).

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
def test_train_step(train_step, LinearLayer, softmax, cross_entropy, network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, "relu", seed=0, sizes=(4, 5, 5, 3),
                              softmax=softmax, cross_entropy=cross_entropy,
                              network_backward=network_backward)


# %%
def test_train_step_saturated(train_step, LinearLayer, softmax, cross_entropy,
                              network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, "relu", seed=0, sizes=(4, 5, 3),
                              softmax=softmax, cross_entropy=cross_entropy,
                              network_backward=network_backward, saturated=True, parts="loss")


# %%
def test_train_step_vectorised(train_step, LinearLayer, softmax, cross_entropy,
                               network_backward):
    from gradekit import checks
    checks.check_train_step_large(train_step, LinearLayer, seed=0, softmax=softmax,
                                    cross_entropy=cross_entropy,
                                    network_backward=network_backward)


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: train_step returns the wrong loss for a deeper sigmoid network (it should be the mean cross-entropy before the update).
""" # END TEST CONFIG
def test_train_step_loss_hidden(train_step, LinearLayer, softmax, cross_entropy,
                                network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, "sigmoid", seed=1001,
                              sizes=(5, 4, 4, 3), lr=0.3, show_values=False, softmax=softmax,
                              cross_entropy=cross_entropy, network_backward=network_backward,
                              parts="loss")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: train_step updates the parameters of a deeper sigmoid network incorrectly.
""" # END TEST CONFIG
def test_train_step_deep_hidden(train_step, LinearLayer, softmax, cross_entropy,
                                network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, "sigmoid", seed=1001,
                              sizes=(5, 4, 4, 3), lr=0.3, show_values=False, softmax=softmax,
                              cross_entropy=cross_entropy, network_backward=network_backward,
                              parts="update")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: train_step's loss is not finite, or not the mean cross-entropy, when the probability of a true class is exactly 0.
""" # END TEST CONFIG
def test_train_step_saturated_hidden(train_step, LinearLayer, softmax, cross_entropy,
                                     network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, "sigmoid", seed=1002,
                              sizes=(5, 4, 3), show_values=False, softmax=softmax,
                              cross_entropy=cross_entropy, network_backward=network_backward,
                              saturated=True, parts="loss")


# %%
""" # BEGIN TEST CONFIG
hidden: true
failure_message: repeated train_step calls on a small problem do not give the weights that SGD steps give.
""" # END TEST CONFIG
def test_train_step_loss_falls_hidden(train_step, LinearLayer, softmax, cross_entropy,
                                      network_backward):
    from gradekit import checks
    checks.check_loss_falls(train_step, LinearLayer, softmax=softmax,
                              cross_entropy=cross_entropy, network_backward=network_backward)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Check your gradients through the whole network
#
# `gradient_check(model, network_backward, softmax, cross_entropy)` does the same for a whole
# small network: it runs your `network_backward` on $(\hat Y - Y)/B$ for a random batch and
# compares every layer's `dW` and `db` and the returned $\partial \mathcal L / \partial x$ with
# numerical gradients of your loss, `cross_entropy(softmax(model.forward(x)), y)`. The cell
# checks a network with two hidden sigmoid layers (it goes through your `sigmoid_derivative`)
# and the same network with ReLU.
#
# Reading the result: if only the lower layers fail, the step *between* layers (equation 4) is
# wrong; if the top layer fails too, look at `LinearLayer.backward` or at Question 2.

# %% tags=["otter_ignore"]
for activation in ("sigmoid", "relu"):
    _ = gradient_check(MLP([5, 4, 4, 3], LinearLayer, np.random.default_rng(0),
                           activation=activation), network_backward, softmax, cross_entropy)
    print()

# %% [markdown]
# ## A sigmoid network on a toy problem
#
# Two interleaved half-moons cannot be separated by a straight line. The cell below trains two
# models with your `LinearLayer` and `train_step` on the same 400 points: one without hidden
# layers (`MLP([2, 2])`: its boundary is a straight line) and one with two hidden sigmoid
# layers. The hidden layers learn only through `sigmoid_derivative` inside your
# `network_backward`. With a correct derivative the network bends its boundary around the
# moons (about 98 % accuracy). With a wrong one ($\sigma(z)$ itself, $z(1 - z)$, $\sigma'$ of the
# activation, a missing derivative) it stays close to a straight line (about 88 %, no better
# than the model without hidden layers) or diverges, and the gradient check above fails for the
# lower layers.

# %% tags=["otter_ignore"]
x_moons, y_moons = make_two_moons(400, seed=0)
linear_model = MLP([2, 2], LinearLayer, np.random.default_rng(0))
moons_model = MLP([2, 16, 16, 2], LinearLayer, np.random.default_rng(0), activation="sigmoid")
for model in (linear_model, moons_model):
    train(model, x_moons, y_moons, train_step, epochs=200, lr=1.0, batch_size=32, n_classes=2,
          verbose=False)
gain = accuracy(moons_model, x_moons, y_moons) - accuracy(linear_model, x_moons, y_moons)
print(f"the hidden sigmoid layers add {gain:+.1%} accuracy"
      + (": good." if gain > 0.05 else ": far too little. Run the gradient checks above "
         "and check sigmoid_derivative."))
plot_decision_boundary({"no hidden layer": linear_model, "two hidden sigmoid layers": moons_model},
                       x_moons, y_moons);

# %% [raw]
# # BEGIN QUESTION
# name: q6
# points: 15

# %% [markdown]
# ## Question 6: train on MNIST ({{points.q6}} points)
#
# Nothing new to write: the grader builds `MLP([784, 128, 10], LinearLayer, rng)` with your
# layer, trains it with your `train_step` on the first {{mnist.n_train}} training images
# ({{mnist.epochs}} epochs, learning rate {{mnist.lr}}, batches of {{mnist.batch_size}}) and
# measures its accuracy on the 10,000 test images. You need at least **{{mnist.threshold}}**;
# the reference solution reaches {{measured.grading}} (over {{measured.grading.runs}} runs
# with different initial weights). The grader shuffles the batches in an order drawn for each
# grading and checks **every** step: it replays the SGD steps itself from the weights your
# layers hold and requires your `train_step` to arrive at the same weights (at a few steps it
# also writes weights of its own first). The points need backpropagation, not weights found
# another way. Training must also be vectorised: a Python loop over the examples of a batch is
# far too slow and is stopped (time budget {{mnist.time_budget}}).
#
# The local check runs the graded training itself: the same images, epochs, learning rate,
# threshold and time budget; only the batch order differs (the grader draws its own). With
# the initialisations Question 3 allows (W from std 1e-4 to twice He), the reference reached
# {{measured.inits}} over {{measured.inits.runs}} runs with different batch orders, so once the
# checks of Questions 3 to 5 pass, passing this one predicts passing the graded test. It
# cannot replay your steps (it has no reference solution): a wrong gradient may still train
# well enough here, but fails the grader's replay. It takes about as long as the graded run,
# a few seconds.
#
# The cells below train the same network on all 60,000 training images for 5 epochs (a few
# seconds) so that you can watch it learn; they do not run during grading. The left plot shows
# the mean training loss per epoch: it should start near 0.35 after the first epoch and keep
# falling. The right one shows the accuracy on training and test images; when the two stay
# close, the network is not yet overfitting. A loss that grows, jumps or stays near
# $\ln 10 \approx 2.3$ means the network is not learning: check the sign of the update and run
# the gradient checks.

# %% tags=["otter_ignore"]
x_train, y_train, x_test, y_test = load_mnist()
mnist_model = MLP([784, 128, 10], LinearLayer, np.random.default_rng(0))
history = train(mnist_model, x_train, y_train, train_step, epochs=5, lr=0.1, batch_size=64,
                x_val=x_test, y_val=y_test)
plot_history(history, "MNIST");

# %% [markdown]
# ### Which digits does it confuse?
#
# The confusion matrix counts the test images by true digit (row) and predicted digit (column).
# The diagonal holds the correct predictions; the largest numbers off the diagonal are the
# network's favourite mistakes, usually between digits whose strokes overlap, such as 4 and 9,
# 3 and 5, or 7 and 2.

# %% tags=["otter_ignore"]
plot_confusion_matrix(y_test, mnist_model.predict(x_test));

# %% [markdown]
# ### What do its mistakes look like?
#
# The first test digits the network gets wrong, with its prediction and the true label. Many
# would make a person hesitate too; others are plain mistakes that a convolutional network,
# which knows that neighbouring pixels belong together, would avoid.

# %% tags=["otter_ignore"]
plot_misclassified(x_test, y_test, mnist_model.predict(x_test));

# %% [markdown]
# ### What did the first layer learn?
#
# Each hidden unit computes a weighted sum of the 784 pixels, so its column of `W`, reshaped to
# 28 x 28, is a picture of what the unit looks for: ink on red pixels raises its input, ink on
# blue pixels lowers it. After a few epochs the random initialisation still shows as noise, but
# stroke-like blobs and edges appear: features the network found useful to tell digits apart.

# %% tags=["otter_ignore"]
plot_first_layer_weights(mnist_model);

# %% [raw]
# # BEGIN TESTS

# %%
def test_mnist_graded_run(train_step, LinearLayer):
    from gradekit import checks
    checks.check_mnist_accuracy(train_step, LinearLayer)


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 12
failure_message: the network trained with your train_step does not reach the required MNIST test accuracy with SGD steps that use the backpropagated gradients.
""" # END TEST CONFIG
def test_mnist_accuracy_hidden(train_step, LinearLayer):
    from gradekit import checks
    checks.check_mnist_accuracy(train_step, LinearLayer)


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [raw]
# # BEGIN QUESTION
# name: q7
# points: 6

# %% [markdown]
# ## Question 7: knowledge check ({{points.q7}} points)
#
# Set each variable to the letter of the best answer, as a lower-case string: `"a"`, `"b"`,
# `"c"` or `"d"`. The local check only verifies the format and awards no points; Gradescope
# grades the answers and shows that result after the due date.
#
# **7.1** What does `LinearLayer.backward(grad_out)` return?
#
# * (a) `dW`, the gradient of the loss with respect to the weights
# * (b) the gradient of the loss with respect to the layer's input `x`
# * (c) the updated weights
# * (d) the loss
#
# **7.2** What must `LinearLayer.forward` keep for `backward`?
#
# * (a) nothing: `grad_out` is all that `backward` needs
# * (b) its input `x`
# * (c) its output `x @ W + b`
# * (d) the loss
#
# **7.3** Which bug passes `gradient_check` but still stops the network from learning?
#
# * (a) a missing transpose in the returned gradient `grad_out @ W.T`
# * (b) `W += lr * dW` instead of `W -= lr * dW` in `train_step`
# * (c) softmax normalised over axis 0 instead of the last axis
# * (d) `db` summed over axis 1 instead of axis 0
#
# **7.4** In `network_backward` for a sigmoid network, the gradient arriving at the output of
# hidden layer `i` is multiplied elementwise by `sigmoid_derivative(...)` of:
#
# * (a) `model.pre_activations[i]`
# * (b) `model.activations[i]`
# * (c) the incoming gradient itself
# * (d) `model.layers[i].W`

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
""" # BEGIN TEST CONFIG
points: 0
""" # END TEST CONFIG
def test_answer_format(q7_1, q7_2, q7_3, q7_4):
    from gradekit import checks
    checks.check_answer_format({"q7_1": q7_1, "q7_2": q7_2, "q7_3": q7_3, "q7_4": q7_4})


# %%
""" # BEGIN TEST CONFIG
hidden: true
points: 6
failure_message: at least one knowledge-check answer is wrong.
""" # END TEST CONFIG
def test_answers_hidden(q7_1, q7_2, q7_3, q7_4):
    from gradekit import checks
    checks.check_answers({"q7_1": q7_1, "q7_2": q7_2, "q7_3": q7_3, "q7_4": q7_4},
                           {"q7_1": "b", "q7_2": "b", "q7_3": "b", "q7_4": "a"})


# %% [raw]
# # END TESTS

# %% [raw]
# # END QUESTION

# %% [markdown]
# ## Debugging checklist
#
# When a check fails and you cannot see why, run the cell below. It tests the usual suspects
# with your own code, in the order in which they break a network, and prints `ok` with what it
# measured or `FAIL` with the reason (and, when your code raised an error, the line):
#
# 1. **forward values are sane**: a fresh `LinearLayer(784, 128)` computes `x @ W + b`, shape
#    `(B, 128)`, finite, with weights of a scale Question 3 allows ({{init.range}}; He:
#    $\sqrt{2 / 784} \approx 0.05$);
# 2. **the loss at initialisation is about $\ln 10 \approx 2.303$**: small random weights give
#    every digit a probability near 1/10, and $-\log(1/10) = \ln 10$. Much more means the
#    initial weights are too large; 512 times more (on 512 images) means a sum instead of a mean;
# 3. **gradient shapes equal parameter shapes**: `dW` like `W`, `db` like `b`, and the returned
#    gradient like `x`;
# 4. **`LinearLayer.backward` passes a gradient check**;
# 5. **the derivative is taken at the right cached tensor**: $f'$ of the pre-activations, of the
#    right layer, in a ReLU and in a sigmoid network;
# 6. **the update comes after all gradients and goes downhill**: every layer moves by
#    $-\text{lr} \times$ its own gradient, computed before any weight changed, and `train_step`
#    returns the loss from before the update.
#
# Fix the first `FAIL` first: later items often fail because of an earlier one.

# %% tags=["otter_ignore"]
debugging_checklist(LinearLayer, network_backward, softmax, cross_entropy, train_step);
