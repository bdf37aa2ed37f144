from otter.test_files import test_case

OK_FORMAT = False

name = "q2"
points = 14

@test_case(points=None, hidden=False)
def test_softmax(softmax):
    from gradekit import checks
    checks.check_softmax(softmax, seed=0)

@test_case(points=None, hidden=False)
def test_softmax_large_logits(softmax):
    from gradekit import checks
    checks.check_softmax_extreme(softmax)

@test_case(points=None, hidden=False)
def test_cross_entropy(cross_entropy):
    from gradekit import checks
    checks.check_cross_entropy(cross_entropy, seed=0)

@test_case(points=None, hidden=False)
def test_cross_entropy_zero_probabilities(cross_entropy):
    from gradekit import checks
    checks.check_cross_entropy_zeros(cross_entropy)

