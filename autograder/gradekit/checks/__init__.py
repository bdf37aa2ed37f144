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

The public checks take a ``seed`` so the kit's own test suite can run them on the reference
solution with hundreds of seeds and prove they never fail correct code.
"""

from .calling import call_student  # noqa: F401
from .compare import (CheckFailed, assert_close, expect_array, expect_finite,  # noqa: F401
                      relative_error)
from .mistakes import MISTAKES  # noqa: F401
from .settings import MNIST_GRADING, MNIST_PUBLIC, TOLERANCES  # noqa: F401
from .q1_derivatives import (check_relu_derivative, check_sigmoid_derivative)  # noqa: F401
from .q2_softmax import (check_softmax, check_softmax_extreme, check_cross_entropy, check_cross_entropy_zeros)  # noqa: F401
from .q3_linear import (check_linear_init, check_linear_forward, check_linear_backward, check_linear_backward_vectorised)  # noqa: F401
from .q4_network import (check_network_backward, check_network_backward_vectorised)  # noqa: F401
from .q5_train_step import (check_returned_loss, check_train_step, check_train_step_large, check_loss_falls)  # noqa: F401
from .mnist import (check_mnist_accuracy, check_sgd_step, check_mnist_speed)  # noqa: F401
from .q7_quiz import (check_answer_format, check_answers)  # noqa: F401
