"""Student code that owns its whole Python process, against the operating system's sandbox.

``tests/hostile/escape.py`` is graded with the in-process policy switched off by the trusted
grader (``BACKPROP_TEST_WITHOUT_POLICY=1``), through ``tools/grade_folder.py`` (``make grade``)
and the built zip, at the ``namespaces`` level and at the ``landlock`` and ``user`` fallbacks
(forced with ``BACKPROP_ISOLATION``), first in a batch with a reference and a blank notebook,
with one and with two workers. Checked from outside wherever possible: files, processes, a listening
socket, the other submissions' grades and flags. ``make grade`` refuses the ``none`` level
unless told otherwise.
"""

from __future__ import annotations

import csv
import hashlib
import json
import os
import re
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest

from conftest import AUTOGRADER_ZIP, ROOT, solution_notebook, student_notebook, visible_text
from hostile import escape
from hostile.escape import escaping

sys.path.insert(0, str(ROOT / "autograder"))
from gradekit import isolation  # noqa: E402

LIMITS = {"BACKPROP_CELL_SECONDS": "20", "BACKPROP_CALL_SECONDS": "5",
          "BACKPROP_GRACE_SECONDS": "1", "BACKPROP_TOTAL_SECONDS": "300"}
WORK_MB = isolation.Limits().work_bytes >> 20
FILE_MB = isolation.Limits().file_bytes >> 20


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _sandbox_processes(uids: set[int]) -> list[str]:
    """Processes running as one of the batch's sandbox user ids (a surviving attacker)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        uid = int(re.search(r"^Uid:\s+(\d+)", status, re.M).group(1))
        if uid in uids:
            found.append(f"{pid} uid {uid}")
    return found


class Listener:
    """A TCP socket on the grader's loopback (or an abstract Unix socket); records every
    connection it accepts."""

    def __init__(self, abstract_name: str = ""):
        self.sock = socket.socket(socket.AF_UNIX if abstract_name else socket.AF_INET)
        self.sock.bind("\0" + abstract_name if abstract_name else ("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.5)
        self.port = None if abstract_name else self.sock.getsockname()[1]
        self.connections, self.stop = [], False
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop:
            try:
                conn, address = self.sock.accept()
                self.connections.append(address)
                conn.close()
            except OSError:
                pass

    def close(self):
        self.stop = True
        self.thread.join()
        self.sock.close()


def grade_batch(tmp_path: Path, level: str, jobs: int) -> dict:
    token = f"isolation-{level}-{jobs}-{os.getpid()}"
    folder, out = tmp_path / token / "submissions", tmp_path / token / "results"
    folder.mkdir(parents=True)
    mark = str(tmp_path / token / "escape-mark")
    listener, unix_listener = Listener(), Listener("backprop-escape-" + token)
    nbformat.write(escaping(str(ROOT), mark, listener.port, token), folder / "a_attacker.ipynb")
    nbformat.write(solution_notebook(), folder / "b_reference.ipynb")
    nbformat.write(student_notebook(), folder / "c_blank.ipynb")
    zip_before = _digest(AUTOGRADER_ZIP)
    env = {**os.environ, **LIMITS, "BACKPROP_ISOLATION": level,
           "BACKPROP_TEST_WITHOUT_POLICY": "1"}
    try:
        proc = subprocess.run(
            [sys.executable, str(ROOT / "tools" / "grade_folder.py"), str(folder), "--out",
             str(out), "--zip", str(AUTOGRADER_ZIP), "--jobs", str(jobs)],
            capture_output=True, text=True, timeout=900, env=env)
    finally:
        listener.close()
        unix_listener.close()
    assert proc.returncode == 0, f"grade_folder failed:\n{proc.stdout}\n{proc.stderr}"
    with (out / "grades.csv").open() as fh:
        rows = {row["file"]: row for row in csv.DictReader(fh)}
    results = {name: json.loads((out / f"{name}.json").read_text()) for name in rows}
    cells = results["a_attacker.ipynb"]["extra_data"]["cells"]
    report_text = next((c["message"] for c in cells if "ESCAPE {" in c["message"]), "")
    assert report_text, f"the attack did not run to its end: {cells[-3:]}"
    report = json.loads(report_text.split("ESCAPE ", 1)[1])
    return {"rows": rows, "results": results, "report": report, "mark": Path(mark),
            "connections": listener.connections + unix_listener.connections,
            "zip_unchanged": zip_before == _digest(AUTOGRADER_ZIP), "stdout": proc.stdout,
            "fills": _fills(cells), "token": token}


def _fills(cells: list[dict]) -> dict[str, dict]:
    """The outcome of each disk-fill cell (they come right before the attack cell)."""
    return dict(zip(escape.FILL_PLACES, cells[-1 - len(escape.FILL_PLACES):-1]))


LEVELS = [("namespaces", 1), ("namespaces", 2), ("landlock", 1), ("landlock", 2), ("user", 1),
          ("user", 2)]


@pytest.fixture(scope="module", params=LEVELS, ids=[f"{lv}-{j}jobs" for lv, j in LEVELS])
def batch(request, tmp_path_factory):
    level, jobs = request.param
    if level != "namespaces" and os.geteuid() != 0:
        pytest.skip(f"the {level} level needs root")
    if level == "landlock" and isolation.landlock_abi() < 1:
        pytest.skip("this kernel has no Landlock")
    return level, jobs, grade_batch(tmp_path_factory.mktemp("iso"), level, jobs)


def test_every_result_records_its_isolation_level(batch):
    level, _, graded = batch
    for name, row in graded["rows"].items():
        assert row["isolation"] == level, f"{name}: grades.csv says {row['isolation']}"
        extra = graded["results"][name]["extra_data"]
        assert extra["isolation"] == level, f"{name}: results.json says {extra['isolation']}"
        notes = next(t["output"] for t in graded["results"][name]["tests"]
                     if t["visibility"] == "hidden")
        assert f"isolation: {level}" in notes, notes


def test_attacker_reads_no_hidden_material(batch):
    level, _, graded = batch
    report = graded["report"]
    for attack in ("read_hidden_tests", "read_reference", "read_zip", "read_other_submissions"):
        assert report[attack].startswith("refused"), f"{attack}: {report[attack]}"
    if level != "user":   # at `user` what every user may read is readable (GRADING.md)
        assert report["read_checkout"].startswith("refused"), report["read_checkout"]
    shown = visible_text(graded["results"]["a_attacker.ipynb"])
    assert "def test_" not in shown and "backprop_reference" not in shown, shown[:2000]


def test_attacker_writes_nothing_outside_its_work_directory(batch):
    level, _, graded = batch
    assert graded["report"]["write_outside"].startswith("refused"), graded["report"]
    if level != "user":   # at `user` /tmp is writable: counted, and removed after (below)
        assert graded["report"]["write_shared_tmp"].startswith("refused"), graded["report"]
    for path in (graded["mark"], ROOT / "escape-mark", Path("/tmp/backprop-escape-mark"),
                 Path("/escape-mark"), ROOT / ".venv/lib/python3.11/site-packages/escape.pth"):
        assert not path.exists(), f"the attacker wrote {path}"
    assert graded["zip_unchanged"], "the autograder zip changed"


def test_attacker_stays_within_its_size_caps(batch):
    """Each disk fill either is refused by the file system within the cap or ends with the
    worker stopped by the grader's disk guard, having written at most the cap plus what one
    poll interval lets through; nothing it wrote is left afterwards."""
    level, _, graded = batch
    report = graded["report"]
    big = report["one_file_beyond_cap"]
    assert big.startswith("refused"), f"a {FILE_MB} MB file limit let through {big}"
    for where, cell in graded["fills"].items():
        filled = re.search(r"FILLED (\d+) MB", cell["message"])
        if filled:
            assert int(filled.group(1)) <= WORK_MB, f"{where}: {cell['message']}"
            assert level != "user" or where == ".", f"{where}: {cell['message']}"
        else:
            assert cell["status"] == "crashed" and f"more than {WORK_MB} MB to disk" in \
                cell["message"], f"{where}: {cell}"
            seen = int(re.search(r"(\d+) MB seen", cell["message"]).group(1))
            assert seen < escape.FILL_MB, f"{where}: the guard let {seen} MB through"
    left = [p for d in ("/tmp", "/dev/shm") for p in Path(d).glob("backprop-*")
            if p.name.startswith(("backprop-fill-", "backprop-escape-" + graded["token"]))]
    assert left == [], f"files left behind: {left}"


def test_attacker_reaches_no_network(batch):
    _, _, graded = batch
    report = graded["report"]
    for attack in ("network_loopback", "network_internet", "network_abstract_unix"):
        assert report[attack].startswith("refused"), f"{attack}: {report[attack]}"
    assert graded["connections"] == [], f"the grader's listeners got {graded['connections']}"


def test_attacker_gets_no_shared_memory_tracing_or_namespace(batch):
    level, _, graded = batch
    report = graded["report"]
    for attack in ("ptrace_grader", "memfd", "sysv_shared_memory", "new_namespace"):
        assert report[attack].startswith("refused"), f"{attack}: {report[attack]}"
    if level == "landlock":   # at `user` /dev/shm is shared: counted, removed (size caps test)
        assert report["posix_shared_memory"].startswith("refused"), report


def test_attacker_leaves_no_process_and_its_fork_bomb_is_capped(batch):
    _, _, graded = batch
    uids = {r["extra_data"]["isolation_uid"] for r in graded["results"].values()}
    if os.geteuid() == 0:
        assert all(uid and uid >= isolation.UID_BASE for uid in uids), uids
    left = _sandbox_processes(uids - {None})
    assert left == [], f"processes survived grading: {left}"
    assert graded["report"]["survivor"].startswith("DONE"), \
        f"the survivor attack did not start: {graded['report']['survivor']}"
    children = int(re.search(r"(\d+) children", graded["report"]["fork_bomb"]).group(1))
    assert children < isolation.Limits().processes, f"the fork bomb made {children} processes"


def test_attacker_changes_no_other_grade(batch):
    _, _, graded = batch
    assert graded["report"]["kill_other_graders"].startswith("refused"), graded["report"]
    rows = graded["rows"]
    assert float(rows["b_reference.ipynb"]["total"]) == 100, rows["b_reference.ipynb"]
    assert float(rows["c_blank.ipynb"]["total"]) == 0, rows["c_blank.ipynb"]
    for name in ("b_reference.ipynb", "c_blank.ipynb"):
        assert rows[name]["status"] == "ok" and rows[name]["flags"] == "", rows[name]
    assert float(rows["a_attacker.ipynb"]["total"]) == 0, rows["a_attacker.ipynb"]


def test_make_grade_refuses_to_grade_without_isolation(tmp_path):
    folder, out = tmp_path / "submissions", tmp_path / "results"
    folder.mkdir()
    nbformat.write(solution_notebook(), folder / "reference.ipynb")
    command = [sys.executable, str(ROOT / "tools" / "grade_folder.py"), str(folder), "--out",
               str(out), "--zip", str(AUTOGRADER_ZIP), "--jobs", "1"]
    env = {**os.environ, "BACKPROP_ISOLATION": "none"}
    refused = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "--allow-no-isolation" in refused.stderr and "bubblewrap" in refused.stderr, \
        refused.stderr
    assert not (out / "grades.csv").exists(), "it graded although it refused"
    allowed = subprocess.run(command + ["--allow-no-isolation"], capture_output=True, text=True,
                             timeout=600, env=env)
    assert allowed.returncode == 0, allowed.stdout + allowed.stderr
    with (out / "grades.csv").open() as fh:
        row = next(csv.DictReader(fh))
    assert row["isolation"] == "none" and float(row["total"]) == 100, row


def test_this_machine_isolates_with_namespaces():
    """On the kit's machines (and CI) bubblewrap works: grading never silently degrades."""
    found = isolation.detect([str(ROOT)])
    try:
        assert found.level == "namespaces", f"isolation here: {found.level} ({found.why})"
    finally:
        found.close()
