from otter.test_files import test_case

OK_FORMAT = False

name = "q7"
points = 6

@test_case(points=0, hidden=False)
def test_answer_format(q7_1, q7_2, q7_3, q7_4):
    from gradekit import checks
    checks.check_answer_format({'q7_1': q7_1, 'q7_2': q7_2, 'q7_3': q7_3, 'q7_4': q7_4})

