"""The public checks beside the student's notebook (stored answers, no reference maths) say
what the grader's own checks say.

Every catalogue entry's graded code runs through the public test cases twice, in-process,
as ``grader.check`` runs them: in the unpacked student bundle (nothing of the grader
importable) and with the grader's ``gradekit.checks`` from the autograder zip (recomputing
every answer). The same questions must fail, except where the grader carries an error
forward (judging q4 and q5 with the student's own lower functions): there the student's copy
fails too, saying that it compares with the correct answers only. A bug whose words the
grader's public messages hold must be named by the student's copy too. (The cases on a 1024 x 1024 layer
compare values only on the grader, whose answers are too large to store: locally they check
the time limit and shapes, so a wrong value there fails only the smaller cases of the same
question.)

Question 6's quick MNIST check is left out: by design the public copy checks its speed and
accuracy only (the grader also verifies chosen steps against its own SGD step, an answer
that depends on the student's weights and is never stored).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest

import build_assignment
from catalogue import ENTRIES, notebook_for
from conftest import ROOT

# Runs each entry's code (a module per entry) through every public case of TESTS; prints
# {entry: {"q3 test_x": "passed" | message}}.
RUNNER = r"""
import importlib.util, json, sys
from pathlib import Path
tests, modules = Path(sys.argv[1]), Path(sys.argv[2])
from otter.test_files import ExceptionTestFile
files = [ExceptionTestFile.from_file(str(p)) for p in sorted(tests.glob("*.py"))
         if p.stem != "q6"]
out = {}
for path in sorted(modules.glob("*.py")):
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    env = dict(vars(module))
    results = out[path.stem] = {}
    for test_file in files:
        for case in test_file.test_cases:
            if case.hidden:
                continue
            try:
                case.body.call_func(env)
                results[f"{test_file.name} {case.name}"] = "passed"
            except Exception as exc:
                results[f"{test_file.name} {case.name}"] = f"{type(exc).__name__}: {exc}"
print(json.dumps(out))
"""

THREADS = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


def start(tests, modules, path: list, cwd) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env.update(THREADS, PYTHONPATH=os.pathsep.join(str(p) for p in path))
    return subprocess.Popen([sys.executable, "-c", RUNNER, str(tests), str(modules)], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def result(proc: subprocess.Popen) -> dict:
    out, err = proc.communicate(timeout=1800)
    assert proc.returncode == 0, err[-3000:]
    return json.loads(out.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def both_ways(source_dir, tmp_path_factory):
    tmp = tmp_path_factory.mktemp("public")
    with zipfile.ZipFile(ROOT / "assignment" / "backprop-student.zip") as zf:
        zf.extractall(tmp)
    bundle = tmp / build_assignment.STUDENT_FOLDER
    modules = tmp / "entries"
    modules.mkdir()
    for entry in ENTRIES:
        nb_path = tmp / f"{entry.name}.ipynb"
        nbformat.write(notebook_for(entry), nb_path)
        (modules / f"{entry.name}.py").write_text(build_assignment.reference_module(nb_path))
    student = start(bundle / "tests", modules, [bundle], bundle)
    grader = start(bundle / "tests", modules, [source_dir, source_dir / "files"],
                   source_dir / "files")
    return result(student), result(grader)


def failed(results: dict) -> set[str]:
    """The questions with a failed public case."""
    return {case.split()[0] for case, message in results.items() if message != "passed"}


@pytest.mark.parametrize("entry", ENTRIES, ids=lambda e: e.name)
def test_public_copy_fails_the_questions_the_grader_fails_and_names_the_bug(both_ways, entry):
    student, grader = (side[entry.name] for side in both_ways)
    assert failed(grader) <= failed(student), (student, grader)
    # beside the notebook nothing is carried forward: a question the grader judges with the
    # student's own lower functions may fail there, saying so
    for question in failed(student) - failed(grader):
        notes = [m for case, m in student.items() if case.split()[0] == question
                 and m != "passed"]
        assert all("error carried forward" in m for m in notes), (question, notes)
    grader_text = "\n".join(m for m in grader.values() if m != "passed").lower()
    student_text = "\n".join(m for m in student.values() if m != "passed").lower()
    words = [w.lower() for w in entry.words if not (len(w) == 2 and w[0] == "q")]
    if words and all(w in grader_text for w in words):
        assert all(w in student_text for w in words), (student, grader)
    assert "nostoredanswer" not in student_text, student
