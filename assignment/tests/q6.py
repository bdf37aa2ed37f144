from otter.test_files import test_case

OK_FORMAT = False

name = "q6"
points = 15

@test_case(points=None, hidden=False)
def test_mnist_graded_run(train_step, LinearLayer):
    from gradekit import checks
    checks.check_mnist_accuracy(train_step, LinearLayer)

