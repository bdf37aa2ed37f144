"""Shared helpers: grade notebooks through the built autograder zip, exactly as `make grade`."""

from __future__ import annotations

import json
import os
import shutil
import sys
import zipfile
from contextlib import contextmanager
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))

import grade_folder  # noqa: E402

AUTOGRADER_ZIP = Path(os.environ.get("BACKPROP_AUTOGRADER_ZIP",
                                     ROOT / "autograder" / "autograder.zip"))
SOLUTION_NB = ROOT / "solutions" / "backprop_solution.ipynb"
STUDENT_NB = ROOT / "assignment" / "backprop.ipynb"


@pytest.fixture(scope="session")
def source_dir(tmp_path_factory) -> Path:
    """The autograder zip unpacked once (read-only), as Gradescope's /autograder/source."""
    if not AUTOGRADER_ZIP.exists():
        pytest.fail("autograder/autograder.zip is missing: run the tests with `make test`")
    return grade_folder.unpack_source(AUTOGRADER_ZIP, tmp_path_factory.mktemp("ag"))


@pytest.fixture(scope="session")
def questions(source_dir) -> dict:
    return grade_folder.questions_of(source_dir)


def master_questions() -> list[str]:
    """The question ids, in the master's order: count questions from here, never a constant."""
    import generated_prose
    return list(generated_prose.question_points(ROOT))


def solution_notebook() -> nbformat.NotebookNode:
    return nbformat.read(SOLUTION_NB, as_version=4)


def student_notebook() -> nbformat.NotebookNode:
    return nbformat.read(STUDENT_NB, as_version=4)


def mutate(nb: nbformat.NotebookNode, old: str, new: str, count: int = 1) -> nbformat.NotebookNode:
    """A copy of ``nb`` with ``old`` replaced by ``new`` in its code (must occur ``count`` times)."""
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    found = sum(cell.source.count(old) for cell in nb.cells if cell.cell_type == "code")
    assert found == count, f"expected {count} occurrence(s) of {old!r}, found {found}"
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.source = cell.source.replace(old, new)
    return nb


@contextmanager
def environment(extra: dict[str, str]):
    """Set environment variables (the grader's limits) for the gradings inside the block."""
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture(scope="session")
def grade(source_dir, tmp_path_factory):
    """grade(notebook_or_path, name=...) -> results.json dict."""
    counter = {"n": 0}

    def _grade(submission, name: str = "submission.ipynb") -> dict:
        counter["n"] += 1
        work = tmp_path_factory.mktemp(f"sub{counter['n']}")
        if isinstance(submission, nbformat.NotebookNode):
            path = work / name
            nbformat.write(submission, path)
        elif isinstance(submission, (bytes, str)):
            path = work / name
            path.write_bytes(submission if isinstance(submission, bytes) else submission.encode())
        else:
            path = work / name
            if Path(submission).is_dir():
                shutil.copytree(submission, path)
            else:
                shutil.copy(submission, path)
        out = work / "out"
        out.mkdir()
        return grade_folder.grade_one(path, source_dir, out)

    return _grade


def visible_text(results: dict) -> str:
    """Everything a student can see in a results.json."""
    parts = [results.get("output", "")]
    for test in results.get("tests", []):
        if test.get("visibility") != "hidden":
            parts += [test.get("name", ""), test.get("output", "")]
    return "\n".join(parts)


def public_failure_text(results: dict) -> str:
    """The messages of every failed public test (what `grader.check` shows a student)."""
    blocks, keep = [], False
    for test in results.get("tests", []):
        if test.get("visibility") == "hidden":
            continue
        for line in test.get("output", "").splitlines():
            if line.startswith(("public test", "hidden test")):
                keep = line.startswith("public test") and "FAILED" in line
            if keep:
                blocks.append(line)
    return "\n".join(blocks)


def caught_locally(words, results: dict) -> bool:
    """A public test failed with a message holding every feedback word (question names
    aside): a student running the public checks would have seen the mistake named."""
    text = public_failure_text(results).lower()
    return bool(text) and all(w.lower() in text for w in words
                              if not (len(w) == 2 and w[0] == "q" and w[1].isdigit()))


def question_scores(results: dict) -> dict[str, float]:
    return results["extra_data"]["questions"]


def read_zip_texts(path: Path) -> dict[str, str]:
    with zipfile.ZipFile(path) as zf:
        return {n: zf.read(n).decode("utf-8", "replace") for n in zf.namelist()
                if not n.endswith(".npz")}
