"""Gradescope's results.json format, as a JSON schema, and a check that a result follows it.

Field names, types and allowed values are those of Gradescope's autograder specification
("Output format", https://gradescope-autograders.readthedocs.io/en/latest/specs/). Every field
the kit writes is required here, so a result that drops one fails.
"""

from __future__ import annotations

import jsonschema

VISIBILITY = ["hidden", "after_due_date", "after_published", "visible"]
OUTPUT_FORMAT = ["text", "html", "simple_format", "md", "ansi"]

TEST_SCHEMA = {
    "type": "object",
    "required": ["score", "max_score", "status", "name", "number", "output", "output_format",
                 "tags", "visibility", "extra_data"],
    "properties": {
        "score": {"type": "number"},
        "max_score": {"type": "number", "minimum": 0},
        "status": {"enum": ["passed", "failed"]},
        "name": {"type": "string"},
        "name_format": {"enum": OUTPUT_FORMAT},
        "number": {"type": "string"},
        "output": {"type": "string"},
        "output_format": {"enum": OUTPUT_FORMAT},
        "tags": {"type": "array", "items": {"type": "string"}},
        "visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
    },
}

RESULTS_SCHEMA = {
    "type": "object",
    "required": ["score", "execution_time", "output", "output_format", "visibility",
                 "stdout_visibility", "extra_data", "tests", "leaderboard"],
    "properties": {
        "score": {"type": "number", "minimum": 0},
        "execution_time": {"type": "number", "minimum": 0},
        "output": {"type": "string"},
        "output_format": {"enum": OUTPUT_FORMAT},
        "test_output_format": {"enum": OUTPUT_FORMAT},
        "test_name_format": {"enum": OUTPUT_FORMAT},
        "visibility": {"enum": VISIBILITY},
        "stdout_visibility": {"enum": VISIBILITY},
        "extra_data": {"type": "object"},
        "tests": {"type": "array", "items": TEST_SCHEMA},
        "leaderboard": {"type": "array", "items": {
            "type": "object", "required": ["name", "value"],
            "properties": {"name": {"type": "string"}, "value": {"type": ["number", "string"]},
                           "order": {"enum": ["asc", "desc"]}}}},
    },
}


def gradescope_problems(results: dict) -> list[str]:
    """Everything in ``results`` that breaks Gradescope's format or adds up wrongly."""
    problems = [f"{'/'.join(map(str, e.absolute_path)) or '(top)'}: {e.message}"
                for e in jsonschema.Draft7Validator(RESULTS_SCHEMA).iter_errors(results)]
    if problems:
        return problems
    graded = [t for t in results["tests"] if t["max_score"] > 0]
    total = round(sum(t["score"] for t in graded), 4)
    if graded and abs(total - results["score"]) > 1e-6:
        problems.append(f"the tests add up to {total}, the top-level score is {results['score']}")
    for test in results["tests"]:
        if not 0 <= test["score"] <= test["max_score"]:
            problems.append(f"test {test['name']!r} scores {test['score']} of {test['max_score']}")
    return problems
