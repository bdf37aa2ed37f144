"""The built zip graded where students wait: a container shaped like Gradescope's.

``tools/gradescope_container.py`` builds the image from the zip's own lock (cached in
``build/gradescope-sim/``) and runs ``run_autograder`` in a fresh runc container with Docker's
default capabilities and seccomp profile, 768 MiB and half a CPU, where bubblewrap cannot make
its namespaces. The reference gets full marks, the blank notebook nothing, at the strongest
level that container allows (and at `user`, forced, as where its kernel has no Landlock);
the escape attack (``tests/hostile/escape.py``, with its disk
fills, network, survivor and shared-memory attacks, the in-process policy off) gains
nothing, and nothing of it is left running or on the disk.

Skipped, with the reason, only where a container cannot be run (not root, no runc, no cgroup)
or the image's Python version is not installed; ``make test`` installs runc and debootstrap.
"""

from __future__ import annotations

import json
import re
import sys

import nbformat
import pytest

from conftest import AUTOGRADER_ZIP, ROOT, solution_notebook, student_notebook

from hostile import escape
from hostile.escape import escaping

sys.path.insert(0, str(ROOT / "tools"))
sys.path.insert(0, str(ROOT / "autograder"))

import gradescope_container  # noqa: E402
from gradekit import isolation  # noqa: E402

REASON = gradescope_container.unavailable()
pytestmark = pytest.mark.skipif(REASON is not None, reason=f"no container here: {REASON}")
# The strongest level Docker's defaults leave: Landlock where the kernel has it.
EXPECTED_LEVEL = "landlock" if isolation.landlock_abi() >= 1 else "user"
TOKEN, PORT = "container-escape", 47123


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("container")
    attacker = escaping("/nonexistent-checkout", "/autograder/escape-mark", PORT, TOKEN)
    # name -> (notebook, level forced or ""): "user" as in a container whose kernel has no
    # Landlock
    gradings = {"reference": (solution_notebook(), ""), "blank": (student_notebook(), ""),
                "attacker": (attacker, ""), "reference-user": (solution_notebook(), "user"),
                "attacker-user": (attacker, "user")}
    out = {}
    for name, (nb, level) in gradings.items():
        path = folder / f"{name}.ipynb"
        nbformat.write(nb, path)
        env = {"SIM_PORT": str(PORT), "SIM_TOKEN": TOKEN}
        if level:
            env["BACKPROP_ISOLATION"] = level
        if name.startswith("attacker"):
            env["BACKPROP_TEST_WITHOUT_POLICY"] = "1"
        try:
            out[name] = gradescope_container.grade(path, AUTOGRADER_ZIP, env)
        except LookupError as exc:   # the image's Python version is not on this machine
            pytest.skip(str(exc))
    return out


def _notes(results: dict) -> str:
    return next(t["output"] for t in results["tests"] if t["visibility"] == "hidden")


def test_reference_full_marks_and_blank_zero_at_the_strongest_level(graded):
    for name, score, level in (("reference", 100, EXPECTED_LEVEL), ("blank", 0, EXPECTED_LEVEL),
                               ("reference-user", 100, "user")):
        run = graded[name]
        results = run["results"]
        assert results.get("score") == score, (name, results.get("score"), run["stdout_tail"],
                                               run["stderr_tail"])
        assert results["extra_data"]["isolation"] == level, _notes(results)
        assert results["extra_data"]["flags"] == [], results["extra_data"]["flags"]
        assert run["memory_limit_mb"] == 768, run["memory_limit_mb"]
    assert "namespaces:" in _notes(graded["reference"]["results"]), \
        "the level should say why namespaces failed"


@pytest.mark.parametrize("name, level", [("attacker", EXPECTED_LEVEL), ("attacker-user", "user")])
def test_attacks_gain_nothing_in_the_container(graded, name, level):
    run = graded[name]
    results = run["results"]
    assert results["score"] == 0 and results["extra_data"]["isolation"] == level, \
        _notes(results)
    cells = results["extra_data"]["cells"]
    report = json.loads(cells[-1]["message"].split("ESCAPE ", 1)[1])
    for attack in ("read_hidden_tests", "read_reference", "read_zip", "write_outside",
                   "one_file_beyond_cap", "network_loopback", "network_internet",
                   "network_abstract_unix", "kill_other_graders", "ptrace_grader", "memfd",
                   "sysv_shared_memory", "new_namespace"):
        assert report[attack].startswith("refused"), f"{attack}: {report[attack]}"
    assert report["survivor"].startswith("DONE"), report["survivor"]
    assert run["listener_problems"] == [] and run["listener_hits"] == [], run
    fills = dict(zip(escape.FILL_PLACES, cells[-1 - len(escape.FILL_PLACES):-1]))
    work_mb = isolation.Limits().work_bytes >> 20
    for where, cell in fills.items():
        filled = re.search(r"FILLED (\d+) MB", cell["message"])
        assert (filled and int(filled.group(1)) <= work_mb) or (
            cell["status"] == "crashed" and f"more than {work_mb} MB to disk" in
            cell["message"]), f"{where}: {cell}"


def test_nothing_is_left_running_or_on_the_disk(graded):
    for name, run in graded.items():
        assert run["processes_left"] == [], f"{name}: {run['processes_left']}"
        assert run["sandbox_files_left"] == [], f"{name}: {run['sandbox_files_left']}"
        assert not run["container_left"], f"{name}: the container is still there"
    # the disk fills wrote hundreds of MB: nothing of them stays in the container's layer
    for name in ("attacker", "attacker-user"):
        assert graded[name]["upper_growth_mb"] < 50, (name, graded[name]["upper_growth_mb"])
