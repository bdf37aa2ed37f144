from otter.test_files import test_case

OK_FORMAT = False

name = "q4"
points = 16

@test_case(points=None, hidden=False)
def test_network_backward_relu(network_backward, LinearLayer, relu_derivative):
    from gradekit import checks
    checks.check_network_backward(network_backward, LinearLayer, 'relu', seed=0, relu_derivative=relu_derivative)

@test_case(points=None, hidden=False)
def test_network_backward_sigmoid(network_backward, LinearLayer, sigmoid_derivative):
    from gradekit import checks
    checks.check_network_backward(network_backward, LinearLayer, 'sigmoid', seed=0, sigmoid_derivative=sigmoid_derivative)

@test_case(points=None, hidden=False)
def test_network_backward_vectorised(network_backward, LinearLayer, relu_derivative):
    from gradekit import checks
    checks.check_network_backward_vectorised(network_backward, LinearLayer, seed=0, relu_derivative=relu_derivative)

