"""The numbers a TA may change, in one place: the MNIST settings, the time limits and every
tolerance the checks use. The checks (this package) read them; the build writes them into the
notebook's and the READMEs' prose (``tools/generated_prose.py``). What the reference reaches
with these settings is measured by ``tools/mnist_threshold.py`` (``autograder/mnist_measured.json``)."""

# Grading settings for the MNIST question (the grader trains *your* code with these).
MNIST_GRADING = {
    "layer_sizes": [784, 128, 10],
    "n_train": 20_000,      # the first n_train training images
    "epochs": 3,
    "lr": 0.1,
    "batch_size": 64,
    "seed": 0,
    # Every step is verified as a true SGD step, so the accuracy depends only on the initial
    # weights and the batch order: a lower bar admits no bug the replay does not already
    # reject. It sits below every allowed initialisation (W std 1e-4 to 2 x He) under every
    # order measured (autograder/mnist_measured.json, tools/mnist_threshold.py): the lowest,
    # std 1e-4, reached 87.9-91.0 % over 31 orders (median 90.5 %; 89.4-91.0 % over 28 more,
    # 89.6-91.0 % over 30 other initial draws); std 0.01 90.8-92.4 %, the reference 92.5-93.8 %.
    "threshold": 0.85,
    "time_budget_s": 60.0,  # far above the reference's time (seconds_per_seed in the same file)
    "checked_steps": 4,     # steps verified as SGD: the first, the last and two drawn
}

# MNIST training is stopped as too slow only once it has run this long (and is projected to
# exceed the time budget); a correct implementation needs about 0.002 s per batch.
MIN_SECONDS_BEFORE_STOP = 2.0


# The log guard: the instructions allow any floor from LOG_FLOOR_RANGE (1e-12 is suggested;
# scikit-learn uses 1e-15, log(p + eps) is the same to within eps). With a probability of 0 on
# the true class the loss is -log(floor)/B for that row, so checks with exact zeros accept
# every value between the losses of the two ends of the range.
LOG_FLOOR_RANGE = (1e-16, 1e-7)


# Initial weights: the notebook states that W's standard deviation may be anything from
# INIT_STD_STATED[0] to INIT_STD_STATED[1] x sqrt(2 / n_in) (He), which takes in sigma = 0.01
# (d2l), 1e-4 (CS231n), LeCun and Xavier scales. The checks admit INIT_STD, wider by a factor
# of 2 below and 1.5 above, and estimate the std on INIT_LAYER (10,000 weights: the relative
# standard error of the estimate is 1 / sqrt(2 * 10,000) = 0.7 %). A draw 50 % (70 standard
# errors) away from its true std never happens, so a stated scale always passes and one
# outside the admitted range always fails, whatever the seed (tests/test_causes.py).
INIT_STD_STATED = (1e-4, 2.0)
INIT_STD = (5e-5, 3.0)
INIT_LAYER = (200, 50)
# The notebook says to start b at zero; any |b| up to this trains as well.
INIT_BIAS_MAX = 1.0


# A layer this large separates the backprop equations from finite differences (two forward
# passes per input of a layer, over 2,000 here). The grader's limit is LARGE_LAYER_RATIO times
# the reference's forward pass through the layer, timed in the same grading (``timed.py``:
# correct code takes 7 to 20 such passes, a loop over examples and inputs up to 180, finite
# differences 4,600 to 7,500), and at least LARGE_LAYER_MIN_SECONDS; the check beside the
# notebook (no reference to time) allows LARGE_LAYER_SECONDS.
LARGE_LAYER = (16, 1024, 1024)
LARGE_LAYER_RATIO = 1000
LARGE_LAYER_MIN_SECONDS = 0.25
LARGE_LAYER_SECONDS = 10.0
# Where the student's own LinearLayer cannot run on the large case's shapes (a transposed
# gradient, say), q4 and q5 judge their function again with layers and a batch all this wide
# (error carried forward): finite differences would still need 2 x 256 x 256 forward passes.
LARGE_SQUARE = 256


# Every tolerance a check applies, and the correct variants it admits. Relative errors are
# max|got - expected| / max(|got|, |expected|) (``compare.relative_error``).
TOLERANCES = {
    # float64 arithmetic in any order (x @ W + b, sums in another order, s * (1 - s) from the
    # cached activation): differences of about 1e-15 (float16 results are rejected:
    # ``compare.expect_array``)
    "float64": 1e-6,
    # the same computed in float32 (the notebook's MNIST dtype): rounding of about 1e-7 per step
    "float32": 1e-4,
    # a result "matches" a catalogued mistake's output within this (or the comparison's own
    # tolerance if larger): float32 variants of a mistake still get its name
    "mistake_match": 1e-4,
    # softmax rows (or columns, for the wrong-axis hint) sum to 1: float32 softmax sums to 1
    # within about 1e-7 per entry
    "row_sums": 1e-5,
    # cross_entropy against the mean over the batch: float32 probabilities, log(p + eps) with
    # eps up to 1e-7 (LOG_FLOOR_RANGE), np.log of float32
    "cross_entropy": 1e-5,
    # the loss train_step returns: computed before the update in float32, any correct softmax
    # and cross-entropy
    "loss": 1e-4,
    # one step of a 1024-1024-10 network in float32: sums over 1024 terms, rounding about 1e-5
    "large_layer": 1e-3,
    # 60 two-moons steps replayed in float64 against a float32 implementation: drift about 1e-5
    "trajectory": 1e-3,
    # one MNIST step (784-128-10, batch 64) in float32 against the float64 SGD step
    "mnist_step": 2e-3,
    # the change of the weights over a chunk of up to 20 MNIST steps against the check's
    # replay (``reference.sgd_replay``): float32 and float64 implementations differ from it by
    # at most 2e-5 (measured over 3 secrets); skipping one step of a chunk gives 3e-2
    "mnist_chunk": 2e-3,
}
