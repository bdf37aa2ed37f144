from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 15

@test_case(points=None, hidden=False)
def test_train_step(train_step, LinearLayer):
    from gradekit import checks
    checks.check_train_step(train_step, LinearLayer, 'relu', seed=0, sizes=(4, 5, 5, 3))

@test_case(points=None, hidden=False)
def test_train_step_vectorised(train_step, LinearLayer):
    from gradekit import checks
    checks.check_train_step_large(train_step, LinearLayer, seed=0)

