from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 24

@test_case(points=None, hidden=False)
def test_linear_init(LinearLayer):
    from gradekit import checks
    checks.check_linear_init(LinearLayer, seed=0)
    checks.check_linear_init_scale(LinearLayer, seed=0)
    checks.check_linear_init_bias(LinearLayer, seed=0)

@test_case(points=None, hidden=False)
def test_linear_forward(LinearLayer):
    from gradekit import checks
    checks.check_linear_forward(LinearLayer, seed=0)

@test_case(points=None, hidden=False)
def test_linear_backward(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward(LinearLayer, seed=0)

@test_case(points=None, hidden=False)
def test_linear_backward_vectorised(LinearLayer):
    from gradekit import checks
    checks.check_linear_backward_vectorised(LinearLayer, seed=0)

