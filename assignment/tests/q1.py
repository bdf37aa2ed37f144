from otter.test_files import test_case

OK_FORMAT = False

name = "q1"
points = 10

@test_case(points=None, hidden=False)
def test_relu_derivative(relu_derivative):
    from gradekit import checks
    checks.check_relu_derivative(relu_derivative, seed=0)

@test_case(points=None, hidden=False)
def test_sigmoid_derivative(sigmoid_derivative):
    from gradekit import checks
    checks.check_sigmoid_derivative(sigmoid_derivative, seed=0)

@test_case(points=None, hidden=False)
def test_sigmoid_derivative_large_z(sigmoid_derivative):
    from gradekit import checks
    checks.check_sigmoid_derivative_large_z(sigmoid_derivative)

