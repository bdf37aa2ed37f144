from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 15

@test_case(points=None, hidden=False)
def test_train_step(train_step, LinearLayer, softmax, cross_entropy, network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, 'relu', seed=0, sizes=(4, 5, 5, 3), softmax=softmax, cross_entropy=cross_entropy, network_backward=network_backward)

@test_case(points=None, hidden=False)
def test_train_step_saturated(train_step, LinearLayer, softmax, cross_entropy, network_backward):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, 'relu', seed=0, sizes=(4, 5, 3), softmax=softmax, cross_entropy=cross_entropy, network_backward=network_backward, saturated=True, parts='loss')

@test_case(points=None, hidden=False)
def test_train_step_vectorised(train_step, LinearLayer, softmax, cross_entropy, network_backward):
    from gradekit import checks
    checks.check_train_step_large(train_step, LinearLayer, seed=0, softmax=softmax, cross_entropy=cross_entropy, network_backward=network_backward)

