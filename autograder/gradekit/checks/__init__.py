"""The graded checks, on the grader's side only: what the notebook's tests (public and hidden)
call. Clear messages, tolerant of every correct answer, believing only what they compute.

One concern per module:

    settings.py        MNIST settings, time limits and the tolerance table (``TOLERANCES``)
    mistakes.py        ``MISTAKES``: every mistake id a check can name
    compare.py         comparisons and their messages (``CheckFailed``, ``assert_close``)
    calling.py         calling student code: error hints, time limits, typed grader errors
    reference.py       the reference maths (float64, from explicit weights)
    networks.py        inputs the checks draw and networks they build
    q1_derivatives.py  ... q7_quiz.py: the checks of each question; mnist.py: question 6
    stored.py          (build) records the answers the public tests need, on their inputs
    answers.py         looks those answers up, in the public copy beside the notebook

The student bundle carries these modules except ``reference.py`` and ``stored.py``, with a
generated ``reference.py`` that answers from ``tests/answers.npz`` (see ``answers.py``);
the grader runs the same test files with this package, recomputing.

The public checks take a ``seed`` so the kit's own test suite can run them on the reference
solution with hundreds of seeds and prove they never fail correct code.
"""

from .calling import call_student
from .compare import CheckFailed, assert_close, expect_array, expect_finite, relative_error
from .mistakes import MISTAKES
from .mnist import check_mnist_accuracy
from .q1_derivatives import (check_relu_derivative, check_sigmoid_derivative,
                             check_sigmoid_derivative_large_z)
from .q2_softmax import (check_cross_entropy, check_cross_entropy_zeros, check_softmax,
                         check_softmax_batch_axes, check_softmax_extreme)
from .q3_linear import (check_linear_backward, check_linear_backward_fresh_gradients,
                        check_linear_backward_keeps_parameters, check_linear_backward_shapes,
                        check_linear_backward_values, check_linear_backward_vectorised,
                        check_linear_forward, check_linear_init, check_linear_init_bias,
                        check_linear_init_scale)
from .q4_network import check_network_backward, check_network_backward_vectorised
from .q5_train_step import (check_loss_falls, check_returned_loss, check_train_step,
                            check_train_step_large)
from .q7_quiz import check_answer_format, check_answers
from .settings import MNIST_GRADING, TOLERANCES

__all__ = [
    "CheckFailed", "MISTAKES", "MNIST_GRADING", "TOLERANCES", "assert_close",
    "call_student", "check_answer_format", "check_answers", "check_cross_entropy",
    "check_cross_entropy_zeros", "check_linear_backward", "check_linear_backward_fresh_gradients",
    "check_linear_backward_keeps_parameters", "check_linear_backward_shapes",
    "check_linear_backward_values", "check_linear_backward_vectorised", "check_linear_forward",
    "check_linear_init", "check_linear_init_bias", "check_linear_init_scale", "check_loss_falls",
    "check_mnist_accuracy", "check_network_backward",
    "check_network_backward_vectorised", "check_relu_derivative", "check_returned_loss",
    "check_sigmoid_derivative", "check_sigmoid_derivative_large_z", "check_softmax",
    "check_softmax_batch_axes", "check_softmax_extreme", "check_train_step", "check_train_step_large",
    "expect_array", "expect_finite", "relative_error",
]
