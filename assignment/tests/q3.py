from otter.test_files import test_case

OK_FORMAT = False

name = "q3"
points = 24

@test_case(points=None, hidden=False)
def test_linear_init(LinearLayer):
    import checklib
    checklib.check_linear_init(LinearLayer, seed=0)

@test_case(points=None, hidden=False)
def test_linear_forward(LinearLayer):
    import checklib
    checklib.check_linear_forward(LinearLayer, seed=0)

@test_case(points=None, hidden=False)
def test_linear_backward(LinearLayer):
    import checklib
    checklib.check_linear_backward(LinearLayer, seed=0)

@test_case(points=None, hidden=False)
def test_linear_backward_vectorised(LinearLayer):
    import checklib
    checklib.check_linear_backward_vectorised(LinearLayer, seed=0)

