from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 14

@test_case(points=None, hidden=False)
def test_softmax(softmax):
    import checklib
    checklib.check_softmax(softmax, seed=0)

@test_case(points=None, hidden=False)
def test_softmax_large_logits(softmax):
    import checklib
    checklib.check_softmax_extreme(softmax)

@test_case(points=None, hidden=False)
def test_cross_entropy(cross_entropy):
    import checklib
    checklib.check_cross_entropy(cross_entropy, seed=0)

