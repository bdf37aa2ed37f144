from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = 15

@test_case(points=None, hidden=False)
def test_mnist_small(train_step, LinearLayer):
    from gradekit import checks
    checks.check_mnist_speed(train_step, LinearLayer)

