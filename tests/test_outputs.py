"""The outputs are as documented: a graded example's results.json and grades.csv have exactly
the fields and columns ``autograder/OUTPUTS.md`` lists (its tables live in
``tools/generated_prose.py``), under the file name it gives; hidden tests carry one name for
students and instructors; a mistake is counted once per question."""

from __future__ import annotations

import generated_prose as prose
import grade_folder
import pytest
from conftest import ROOT


def names(rows: list[tuple[str, str]]) -> list[str]:
    return [name for name, _ in rows]


def test_outputs_page_is_generated_from_the_field_tables():
    assert (ROOT / prose.OUTPUTS_PAGE).read_text() == prose.outputs_page(), \
        f"{prose.OUTPUTS_PAGE} is out of date: run `make assign`"


@pytest.fixture(scope="module")
def example(source_dir, tmp_path_factory):
    """(the bundled buggy example, its results.json, the folder grading wrote into)."""
    entry = ROOT / "submissions" / "buggy_bias_gradient_mean.ipynb"
    out = tmp_path_factory.mktemp("outputs")
    return entry, grade_folder.grade_one(entry, source_dir, out), out


def test_a_graded_example_has_exactly_the_documented_fields(example, questions):
    entry, data, out = example
    assert (out / prose.RESULTS_NAME.format(entry=entry.name)).exists(), \
        f"results are not written as {prose.RESULTS_NAME}: {sorted(out.iterdir())}"
    extra = data["extra_data"]
    assert extra["cells"] and extra["cases"] and extra["mistakes"], \
        "the example should run cells, run test cases and name mistakes"
    found = {
        "results.json": list(data),
        "tests[]": sorted({k for t in data["tests"] for k in t}),
        "extra_data": list(extra),
        "extra_data.cells[]": sorted({k for c in extra["cells"] for k in c}),
        "extra_data.cases[]": sorted({k for c in extra["cases"] for k in c}),
        "extra_data.mistakes[]": sorted({k for m in extra["mistakes"] for k in m}),
    }
    documented = {
        "results.json": prose.RESULTS_FIELDS, "tests[]": prose.TEST_FIELDS,
        "extra_data": prose.EXTRA_FIELDS, "extra_data.cells[]": prose.CELL_FIELDS,
        "extra_data.cases[]": prose.CASE_FIELDS, "extra_data.mistakes[]": prose.MISTAKE_FIELDS,
    }
    for where, fields in found.items():
        assert sorted(fields) == sorted(names(documented[where])), \
            f"{where}: written {sorted(fields)}, documented {sorted(names(documented[where]))}"

    row = grade_folder.csv_row(entry.name, data, questions)
    expected = []
    for column in names(prose.CSV_COLUMNS):
        expected += list(questions) if column == "<question>" else [column]
    assert list(row) == expected, f"grades.csv columns {list(row)}, documented {expected}"


def test_a_failed_grading_writes_only_documented_fields(questions):
    data = grade_folder.failed_result("the grader failed", questions, 1.0)
    assert set(data) <= set(names(prose.RESULTS_FIELDS)), set(data)
    assert set(data["extra_data"]) <= set(names(prose.EXTRA_FIELDS)), set(data["extra_data"])


def test_hidden_tests_have_one_name_for_students_and_instructors(example):
    _, data, _ = example
    notes = next(t["output"] for t in data["tests"] if t["visibility"] == "hidden")
    shown = "\n".join(t["output"] for t in data["tests"] if t["visibility"] != "hidden")
    failed_hidden = [c["name"] for c in data["extra_data"]["cases"]
                     if c["hidden"] and not c["passed"]]
    assert failed_hidden, "the example should fail a hidden test"
    for name in failed_hidden:
        assert f"hidden test {name}: FAILED" in shown, f"students do not see {name!r}"
        assert f"hidden test {name}: " in notes, f"the instructor notes do not name {name!r}"


def test_a_mistake_is_counted_once_per_question(example):
    _, data, _ = example
    recognised = [(c["question"], c["mistake"]) for c in data["extra_data"]["cases"]
                  if not c["passed"] and c["mistake"]]
    listed = [(m["question"], m["id"]) for m in data["extra_data"]["mistakes"]]
    assert len(recognised) > len(set(recognised)), \
        "the example should have one mistake recognised by several checks of a question"
    assert sorted(listed) == sorted(set(recognised)), listed
