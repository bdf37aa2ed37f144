"""The student's environment: ``assignment/requirements.txt`` pins every package with its hashes
(``make lock`` from ``requirements/student.in``), and in an environment built from that file
alone, with the README's command, the reference notebook's local checks and export work."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import subprocess
import sys
import zipfile

import pytest

from conftest import ROOT, SOLUTION_NB

LOCK = ROOT / "assignment" / "requirements.txt"
README = ROOT / "assignment" / "README.md"
NOT_IMPORTED = ROOT / "requirements" / "student-not-imported.txt"
GRADING_LOCK = ROOT / "requirements" / "grading.txt"
STUDENT_ZIP = ROOT / "assignment" / "backprop-student.zip"
INSTALL_COMMAND = "python -m pip install -r requirements.txt --no-deps"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in map(REQUIREMENT.match, text.splitlines()) if m}


def names(path) -> set[str]:
    return {line.strip().lower() for line in path.read_text().splitlines()
            if line.strip() and not line.startswith("#")}


def test_every_student_package_is_pinned_with_hashes():
    text = LOCK.read_text()
    entries = re.split(r"\n(?=[A-Za-z0-9])", text.split("\n", 2)[2])
    assert len(entries) > 50, "assignment/requirements.txt looks unresolved: run `make lock`"
    for entry in entries:
        first = entry.splitlines()[0]
        assert REQUIREMENT.match(first), f"not pinned with ==: {first}"
        assert "--hash=sha256:" in entry, f"no hash for {first}"
    student = pins(text)
    assert not names(NOT_IMPORTED) & set(student), names(NOT_IMPORTED) & set(student)
    grading = pins(GRADING_LOCK.read_text())
    differ = {n: (v, grading[n]) for n, v in student.items() if n in grading and grading[n] != v}
    assert not differ, f"students and the grader would run other versions: {differ}"
    assert INSTALL_COMMAND in README.read_text(), (
        "assignment/README.md does not give the install command the lock needs")


def student_venv() -> str:
    """A virtual environment built from the student lock alone (cached in build/venvs/)."""
    digest = hashlib.sha256(LOCK.read_bytes()).hexdigest()
    venv = ROOT / "build" / "venvs" / "student"
    python, stamp = venv / "bin" / "python", venv / ".lock-sha256"
    if not (stamp.exists() and stamp.read_text() == digest and python.exists()):
        subprocess.run([sys.executable, "-m", "venv", "--clear", str(venv)], check=True)
        subprocess.run([str(python), *INSTALL_COMMAND.split()[1:], "--quiet",
                        "--disable-pip-version-check"], check=True, cwd=LOCK.parent)
        stamp.write_text(digest)
    return str(python)


def test_local_checks_pass_the_reference_in_the_student_environment(tmp_path):
    if not STUDENT_ZIP.exists():
        pytest.fail("assignment/backprop-student.zip is missing: run the tests with `make test`")
    try:
        python = student_venv()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"the student lock does not install with `{INSTALL_COMMAND}`: {exc}")
    with zipfile.ZipFile(STUDENT_ZIP) as zf:
        zf.extractall(tmp_path)
    notebook = next(tmp_path.rglob("backprop.ipynb"))
    shutil.copy(SOLUTION_NB, notebook)
    done = subprocess.run([python, "-m", "jupyter", "nbconvert", "--to", "notebook", "--execute",
                           "--ExecutePreprocessor.timeout=600", "--output", "executed.ipynb",
                           notebook.name], cwd=notebook.parent, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    cells = json.loads((notebook.parent / "executed.ipynb").read_text())["cells"]
    checks = {}
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "code" and 'grader.check("' in source:
            checks[source] = json.dumps(cell["outputs"])
    assert len(checks) == 7, list(checks)
    for source, output in checks.items():
        assert "All test cases passed" in output, (source, output)
    assert list(notebook.parent.glob("backprop_*.zip")), "grader.export wrote no zip"
