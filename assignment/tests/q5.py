from otter.test_files import test_case

OK_FORMAT = False

name = "q5"
points = 15

@test_case(points=None, hidden=False)
def test_train_step(train_step, LinearLayer, MLP):
    import checklib
    checklib.check_train_step(train_step, LinearLayer, MLP, 'relu', seed=0)

