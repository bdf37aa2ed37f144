"""The autograder zip run exactly the way Gradescope runs it, and its results.json checked
against Gradescope's documented format (``tests/hostile/gradescope.py``).

Gradescope unpacks the zip into /autograder/source, puts the upload in /autograder/submission,
runs /autograder/source/run_autograder and reads /autograder/results/results.json. Here the
root is a temporary folder (``AUTOGRADER_ROOT``) and the kit's Python is used
(``BACKPROP_PYTHON``). When the tests run as root, the last test also takes Gradescope's path
of running student code as the unprivileged sandbox user.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat
import pytest

from conftest import AUTOGRADER_ZIP, solution_notebook, visible_text
from hostile import ALL
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
    questions_shown = [t for t in results["tests"] if t["visibility"] == "visible"]
    assert [t["name"].split(":")[0] for t in questions_shown] == list(questions), \
        "every question should be one visible test, in order"
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


@pytest.fixture
def sandbox_python():
    """A Python with this environment's packages that ``nobody`` can start (else skip).

    Gradescope's run script makes its Python reachable for the sandbox user; here /root may
    not be, so a virtual environment over the system's Python of the same version is made in
    a folder ``nobody`` can enter, reading this environment's packages through a .pth file.
    """
    version = f"{sys.version_info.major}.{sys.version_info.minor}"
    system = Path(f"/usr/bin/python{version}")
    if os.geteuid() != 0 or not system.exists():
        pytest.skip("needs root and a system Python of the same version")
    folder = Path(tempfile.mkdtemp(prefix="backprop-venv-"))
    try:
        folder.chmod(0o755)
        subprocess.run([str(system), "-m", "venv", "--without-pip", str(folder)], check=True)
        packages = [p for p in sys.path if p.endswith("site-packages")]
        (folder / "lib" / f"python{version}" / "site-packages" / "kit.pth").write_text(
            "\n".join(packages) + "\n")
        python = folder / "bin" / "python"
        probe = subprocess.run(["su", "nobody", "-s", "/bin/sh", "-c",
                                f"{python} -I -c 'import numpy, otter, ipykernel'"],
                               capture_output=True)
        if probe.returncode != 0:
            pytest.skip("the sandbox user cannot run this environment's packages")
        yield str(python)
    finally:
        shutil.rmtree(folder, ignore_errors=True)


def test_as_root_student_code_runs_as_the_sandbox_user(tmp_path, sandbox_python):
    """The Gradescope path: grading as root drops student code to ``nobody``, hides the
    autograder's files from it, and an attempt to read them is refused and flagged."""
    content = nbformat.writes(ALL["read_hidden_files"].build()).encode()
    results, _, source_mode = run_like_gradescope(tmp_path, "backprop.ipynb", content,
                                                  python=sandbox_python,
                                                  BACKPROP_EXCLUSIVE_USER="1")
    notes = next(t["output"] for t in results["tests"] if t["visibility"] == "hidden")
    assert "student code ran as an unprivileged user" in notes, notes
    assert source_mode == 0o700, f"the autograder's folder was left {oct(source_mode)}"
    assert results["score"] == 0, f"reading the reference scored {results['score']}"
    assert any("read grader files" in f for f in results["extra_data"]["flags"]), \
        results["extra_data"]["flags"]
