"""The autograder zip run exactly the way Gradescope runs it, and its results.json checked
against Gradescope's documented format (``tests/hostile/gradescope.py``).

Gradescope unpacks the zip into /autograder/source, puts the upload in /autograder/submission,
runs /autograder/source/run_autograder and reads /autograder/results/results.json. Here the
root is a temporary folder (``AUTOGRADER_ROOT``) and the kit's Python is used
(``BACKPROP_PYTHON``). The last test grades a submission that owns its process at the
``namespaces`` level and at the ``landlock`` and ``user`` fallbacks (forced, as where a
container refuses namespaces). ``tests/test_container.py`` runs the same zip in a container
shaped like Gradescope's.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import AUTOGRADER_ZIP, ROOT, solution_notebook, visible_text
from hostile.escape import escaping
from hostile.gradescope import gradescope_problems


def run_like_gradescope(tmp_path: Path, upload_name: str, content: bytes,
                        python: str = sys.executable, **extra_env: str) -> tuple[dict, str, int]:
    """(results.json, the script's output, the source folder's mode afterwards) for one
    upload, graded as on Gradescope."""
    root = tmp_path / "autograder"
    for folder in ("source", "submission", "results"):
        (root / folder).mkdir(parents=True)
    with zipfile.ZipFile(AUTOGRADER_ZIP) as zf:
        zf.extractall(root / "source")
    script = root / "source" / "run_autograder"
    script.chmod(0o755)
    (root / "submission" / upload_name).write_bytes(content)
    env = {**os.environ, "AUTOGRADER_ROOT": str(root), "BACKPROP_PYTHON": python, **extra_env}
    proc = subprocess.run([str(script)], cwd=root, env=env, capture_output=True, text=True,
                          timeout=900)
    assert proc.returncode == 0, f"run_autograder failed:\n{proc.stdout}\n{proc.stderr}"
    results = root / "results" / "results.json"
    assert results.exists(), f"run_autograder wrote no results.json:\n{proc.stdout}\n{proc.stderr}"
    data = json.loads(results.read_text(encoding="utf-8"))
    source_mode = (root / "source").stat().st_mode & 0o777
    shutil.rmtree(root, ignore_errors=True)
    return data, proc.stdout, source_mode


def test_reference_graded_like_gradescope_follows_the_format(tmp_path, questions):
    content = nbformat.writes(solution_notebook()).encode()
    results, stdout, _ = run_like_gradescope(tmp_path, "backprop.ipynb", content)
    assert gradescope_problems(results) == [], "results.json breaks Gradescope's format"
    assert results["score"] == 100 and "score 100 / 100" in stdout, stdout
    questions_shown = [t for t in results["tests"] if t["visibility"] != "hidden"]
    assert [t["name"].split(":")[0] for t in questions_shown] == list(questions), \
        "every question should be one visible test, in order"
    # the knowledge check is graded by hidden tests only: its score is shown after the due date
    assert [t["name"].split(":")[0] for t in questions_shown
            if t["visibility"] == "after_due_date"] == ["q7"], questions_shown
    assert all(t["status"] == "passed" for t in questions_shown), questions_shown
    instructor = [t for t in results["tests"] if t["visibility"] == "hidden"]
    assert len(instructor) == 1 and instructor[0]["max_score"] == 0, \
        "the instructor notes should be one hidden test worth no points"
    assert results["extra_data"]["flags"] == [], results["extra_data"]["flags"]


@pytest.mark.parametrize("upload_name, content", [
    ("backprop.ipynb", b""),
    ("backprop.ipynb", b"{\"cells\": 7}"),
    ("notes.txt", b"I could not do the assignment"),
])
def test_unreadable_uploads_still_give_a_valid_gradescope_result(tmp_path, upload_name,
                                                                 content):
    results, _, _ = run_like_gradescope(tmp_path, upload_name, content)
    assert gradescope_problems(results) == [], "results.json breaks Gradescope's format"
    assert results["score"] == 0 and results["extra_data"]["status"] == "error", results
    assert "could not be graded" in visible_text(results), visible_text(results)


@pytest.mark.parametrize("level", ["namespaces", "landlock", "user"])
def test_gradescope_entry_point_isolates_a_submission_that_owns_its_process(tmp_path, level):
    """The Gradescope path at each level (the fallbacks forced, as where a container refuses
    namespaces): the escape attempt, with the in-process policy off, reads nothing hidden,
    the level is recorded, and the autograder's folder is left unreadable to other users."""
    if level != "namespaces" and os.geteuid() != 0:
        pytest.skip(f"the {level} level needs root")
    token = f"no-such-grader-{os.getpid()}"
    content = nbformat.writes(escaping(str(ROOT), str(tmp_path / "mark"), 9, token)).encode()
    results, _, source_mode = run_like_gradescope(tmp_path, "backprop.ipynb", content,
                                                  BACKPROP_ISOLATION=level,
                                                  BACKPROP_TEST_WITHOUT_POLICY="1")
    assert results["extra_data"]["isolation"] == level, results["extra_data"]
    notes = next(t["output"] for t in results["tests"] if t["visibility"] == "hidden")
    assert f"isolation: {level}" in notes, notes
    if os.geteuid() == 0:
        assert source_mode == 0o700, f"the autograder's folder was left {oct(source_mode)}"
    report = next(c["message"] for c in results["extra_data"]["cells"]
                  if "ESCAPE {" in c["message"])
    attempts = json.loads(report.split("ESCAPE ", 1)[1])
    for attack in ("read_hidden_tests", "read_reference", "read_zip", "write_outside",
                   "network_internet", "kill_other_graders"):
        assert attempts[attack].startswith("refused"), f"{attack}: {attempts[attack]}"
    assert results["score"] == 0, f"the escape attempt scored {results['score']}"
    assert not (tmp_path / "mark").exists(), "it wrote outside its work directory"
