"""Uploads and submissions built to exhaust the grader, stop the batch, blind the class report
or attack whoever reads the results; each graded through ``tools/grade_folder.py`` (what
``make grade`` runs), with the batch's own peak memory measured by ``/usr/bin/time -v`` and
each grading's from its cgroup (the ``memory_mb`` column of grades.csv).

For every attack: no point gained over the notebook it starts from, the grading's memory
within ``GRADING_BOUND_MB`` (the batch driver, the report and every grading process within
``BATCH_BOUND_MB`` of resident memory), one row per entry, grades.csv and the report written.
The bounds themselves are set in ``wire.py``, ``submission.py``, ``gradescope_export.py``,
``class_report.py`` and ``grading_group.py``.
"""

from __future__ import annotations

import csv
import json
import os
import re
import signal
import subprocess
import sys
import time
import tracemalloc
import zipfile
from pathlib import Path

import nbformat
import numpy as np
import pytest
import yaml

import class_report
import gradescope_export
import grading_group
from catalogue.classroom import synthetic_class
from conftest import ROOT, SOLUTION_NB, grade_folder, solution_notebook, student_notebook
from hostile import replaced, with_cell
from safe_text import csv_cell, printable

sys.path.insert(0, str(ROOT / "autograder"))
from gradekit import submission, wire  # noqa: E402

LIMITS = {"BACKPROP_CELL_SECONDS": "20", "BACKPROP_CALL_SECONDS": "5",
          "BACKPROP_GRACE_SECONDS": "1", "BACKPROP_TOTAL_SECONDS": "240",
          "BACKPROP_GRADING_MEMORY_MB": "1024"}
GRADING_BOUND_MB = 1024     # a grading's cgroup (BACKPROP_GRADING_MEMORY_MB above)
READING_BOUND_MB = 512      # a refused upload of up to 100 MB: about 4x its size (page cache too)
BATCH_BOUND_MB = 1200       # resident memory of the driver or any one process it waited for
ESC = "\x1b[2J\x1b]0;pwned\x07"
SCRIPT = "<script>alert(1)</script>"
ORIGINAL = "s20"            # an independent correct student of the synthetic class


def _write(nb, path: Path) -> None:
    nbformat.write(nb, path)


def _empty_objects_notebook(megabytes: int) -> bytes:
    count = megabytes * 2**20 // 3
    return b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [' + \
        b"{}," * count + b"{}]}"


FRAME_ATTACK = '''
import os, struct, sys, json, time

def relu_derivative(z):
    """Answers with a hand-written reply frame: one 8 MiB array named by 50,000 nodes."""
    blob = bytes(8 * 2**20)
    head = json.dumps({"value": [{"$nd": 0, "dtype": "|u1", "shape": [len(blob)]}] * 50_000,
                       "blobs": [len(blob)]}).encode()
    body = struct.pack(">I", len(head)) + head + blob
    os.write(int(sys.argv[2]), struct.pack(">Q", len(body)) + body)
    time.sleep(30)
'''

MEMFD_HOG = '''
import os
held = []
chunk = bytes(60 * 2**20)
for k in range(40):    # 2.4 GB that is not in the worker's address space
    fd = os.memfd_create(f"hog{k}")
    os.write(fd, chunk)
    held.append(fd)
'''


def _diluted(nb):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    cell = next(c for c in nb.cells if c.cell_type == "code" and "class LinearLayer" in c.source)
    cell.source += "".join(
        f"\n\ndef unused_{k}(values, scale={k}):\n    total = {k}\n"
        f"    for index, value in enumerate(values):\n        total += value * scale - index\n"
        f"    return total / {k + 1}\n" for k in range(40))
    return nb


def _padded(nb, megabytes: int = 55):
    nb = nbformat.from_dict(json.loads(json.dumps(nb)))
    first = next(c for c in nb.cells if c.cell_type == "code")
    first.outputs = [nbformat.v4.new_output("stream", name="stdout",
                                            text="padding " * (megabytes * 2**17))]
    return nb


def _zip(path: Path, members: list[tuple[str, bytes]]) -> None:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, data in members:
            zf.writestr(name, data)


def build_folder(folder: Path) -> dict[str, dict]:
    """The attack folder; returns entry name -> what its row must show."""
    folder.mkdir()
    reference, blank = solution_notebook(), student_notebook()
    original = synthetic_class()[0][ORIGINAL]
    expect: dict[str, dict] = {}

    def add(name, content, **what):
        path = folder / name
        if isinstance(content, bytes):
            path.write_bytes(content)
        elif content is not None:
            _write(content, path)
        expect[name] = what

    add("reference.ipynb", reference, score=100)
    add("blank.ipynb", blank, score=0)
    add(f"{ORIGINAL}.ipynb", original, score=100)
    # one bad entry must not stop the batch, and a link is never followed
    os.symlink(SOLUTION_NB, folder / "linked_to_solution.ipynb")
    expect["linked_to_solution.ipynb"] = {"score": 0, "status": "error", "message": "is a link"}
    os.symlink("/nonexistent/backprop.ipynb", folder / "dangling.ipynb")
    expect["dangling.ipynb"] = {"score": 0, "status": "error", "message": "is a link"}
    (folder / "folder_with_link").mkdir()
    os.symlink(SOLUTION_NB, folder / "folder_with_link" / "backprop.ipynb")
    expect["folder_with_link"] = {"score": 0, "status": "error", "message": "outside the upload"}
    os.mkfifo(folder / "pipe.ipynb")
    expect["pipe.ipynb"] = {"score": 0, "status": "error", "message": "not a regular file"}
    bad_name = os.fsdecode(b"bad\xff\xfename" + ESC.encode() + b".ipynb")
    add(bad_name, blank, score=0, shown="bad\\xff\\xfename\\x1b[2J\\x1b]0;pwned\\x07.ipynb")
    add('=HYPERLINK("https:example.com","x").ipynb', blank, score=0)
    add("+cmd|' -C calc'!A0.ipynb", blank, score=0)
    add("forged\n0,100,ok\r.ipynb", blank, score=0)
    # untrusted bytes read with bounded cost
    add("empty_objects.ipynb", _empty_objects_notebook(10), score=0, status="error",
        message="JSON values", bound=READING_BOUND_MB)
    _zip(folder / "bomb.zip", [("backprop.ipynb", _empty_objects_notebook(99))])
    expect["bomb.zip"] = {"score": 0, "status": "error", "message": "JSON values",
                          "bound": READING_BOUND_MB}
    add("frame_amplification.ipynb", replaced(
        reference, "def relu_derivative(z):", FRAME_ATTACK + "\ndef _replaced(z):"),
        below=100, bound=GRADING_BOUND_MB)
    add("memfd_hog.ipynb", with_cell(reference, MEMFD_HOG), at_most=100,
        bound=GRADING_BOUND_MB)
    add("escape_in_message.ipynb", with_cell(
        blank, f"raise RuntimeError({(ESC + SCRIPT)!r})"), score=0)
    # copies the class report must pair with the original whatever hides them
    add("copy_padded.ipynb", _padded(original), score=100, pairs_with=f"{ORIGINAL}.ipynb")
    add("copy_diluted.ipynb", _diluted(original), score=100, pairs_with=f"{ORIGINAL}.ipynb")
    (folder / "copy_checkpoint").mkdir()
    _write(original, folder / "copy_checkpoint" / "backprop.ipynb")
    (folder / "copy_checkpoint" / ".ipynb_checkpoints").mkdir()
    _write(blank, folder / "copy_checkpoint" / ".ipynb_checkpoints" / "backprop-checkpoint.ipynb")
    _write(blank, folder / "copy_checkpoint" / "._backprop.ipynb")
    expect["copy_checkpoint"] = {"score": 100, "pairs_with": f"{ORIGINAL}.ipynb"}
    _zip(folder / "copy_reordered.zip", [
        (".ipynb_checkpoints/backprop-checkpoint.ipynb", nbformat.writes(blank).encode()),
        ("__MACOSX/._backprop.ipynb", b"\x00\x05\x16\x07"),
        ("._backprop.ipynb", nbformat.writes(blank).encode()),
        ("backprop.ipynb", nbformat.writes(original).encode())])
    expect["copy_reordered.zip"] = {"score": 100, "pairs_with": f"{ORIGINAL}.ipynb"}
    return expect


def run_batch(folder: Path, out: Path) -> tuple[subprocess.CompletedProcess, int]:
    """Grade ``folder`` with grade_folder.py; (the process, its peak resident memory in MB)."""
    timed = ["/usr/bin/time", "-v"] if Path("/usr/bin/time").exists() else []
    proc = subprocess.run(
        [*timed, sys.executable, str(ROOT / "tools" / "grade_folder.py"),
         str(folder), "--out", str(out), "--zip", str(grade_folder.DEFAULT_ZIP), "--jobs", "2"],
        capture_output=True, timeout=1500, env={**os.environ, **LIMITS})
    peak = re.search(rb"Maximum resident set size \(kbytes\): (\d+)", proc.stderr)
    return proc, int(peak.group(1)) // 1024 if peak else -1


def read_rows(out: Path) -> dict[str, dict]:
    with (out / "grades.csv").open(newline="", encoding="utf-8") as fh:
        return {row["file"]: row for row in csv.DictReader(fh)}


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    work = tmp_path_factory.mktemp("bad-uploads")
    expect = build_folder(work / "submissions")
    proc, peak_mb = run_batch(work / "submissions", work / "results")
    result = {"expect": expect, "proc": proc, "peak_mb": peak_mb, "out": work / "results",
              "stdout": proc.stdout.decode("utf-8", "replace")}
    print(f"\nbatch peak resident memory: {peak_mb} MB")   # figures for the closing notes
    if (work / "results" / "grades.csv").exists():
        for name, row in read_rows(work / "results").items():
            print(f"  {name[:40]!r}: total {row['total']}, {row['status']}, "
                  f"grading peak {row['memory_mb']} MB")
    return result


def _row(rows: dict, name: str) -> dict:
    shown = csv_cell(printable(os.fsencode(name).decode("utf-8", "backslashreplace")))
    return rows[shown]


def test_batch_completes_with_one_row_per_entry(batch):
    assert batch["proc"].returncode == 0, batch["proc"].stderr.decode()[-3000:]
    rows = read_rows(batch["out"])
    assert len(rows) == len(batch["expect"]), sorted(rows)
    for name, what in batch["expect"].items():
        row = _row(rows, name)
        if "score" in what:
            assert float(row["total"]) == what["score"], (name, row)
        if "below" in what:
            assert float(row["total"]) < what["below"], (name, row)
        if "at_most" in what:
            assert float(row["total"]) <= what["at_most"], (name, row)
        if "status" in what:
            assert row["status"] == what["status"], (name, row)
        assert row["message"], (name, row)
        if "message" in what:
            assert what["message"] in row["message"], (name, row)
    for name in ("report.html", "report.json", "report-left-out.csv", "index.json"):
        assert (batch["out"] / name).exists(), name


def test_memory_stays_bounded(batch):
    rows = read_rows(batch["out"])
    if batch["peak_mb"] < 0:
        pytest.skip("/usr/bin/time is not installed (Debian: apt-get install time)")
    assert batch["peak_mb"] < BATCH_BOUND_MB, batch["peak_mb"]
    if os.geteuid() == 0 and grading_group._memory_base():
        for name, what in batch["expect"].items():
            row = _row(rows, name)
            if row["memory_mb"]:
                assert float(row["memory_mb"]) <= what.get("bound", GRADING_BOUND_MB), (name, row)
    else:
        pytest.skip("no memory cgroups on this machine: only the batch's peak is checked")


def test_names_and_messages_reach_no_reader_raw(batch):
    out = batch["out"]
    csv_text = (out / "grades.csv").read_text(encoding="utf-8")
    for raw in ("\x1b", "\x07"):
        assert raw not in csv_text and raw not in batch["stdout"], repr(raw)
    assert "\r" not in csv_text.replace("\r\n", ""), "a bare carriage return in grades.csv"
    for line in csv_text.splitlines()[1:]:
        assert not line.startswith(("=", "+", "-", "@", '"=', '"+', '"-', '"@')), line
    assert len(csv_text.splitlines()) == len(batch["expect"]) + 1, "a name forged a CSV line"
    for page in out.glob("report*"):
        text = page.read_text(encoding="utf-8")
        assert "\x1b" not in text and SCRIPT not in text, page.name
    for result in out.glob("*.json"):
        if not result.name.endswith(".code.json"):    # student code, not shown as text
            text = json.dumps(json.loads(result.read_text(encoding="utf-8")), ensure_ascii=False)
            assert "\x1b" not in text and "\x07" not in text, result.name
    for attention in csv.DictReader((out / "report-attention.csv").open(encoding="utf-8")):
        assert not attention["submission"].startswith(("=", "+", "-", "@")), attention


def test_report_pairs_hidden_copies_and_names_the_answer_key(batch):
    report = json.loads((batch["out"] / "report.json").read_text())
    pairs = {frozenset((p["a"], p["b"])) for p in report["similarity"]["pairs"]}
    for name, what in batch["expect"].items():
        if "pairs_with" in what:
            assert frozenset((name, what["pairs_with"])) in pairs, (name, sorted(map(sorted,
                                                                                     pairs)))
    answer_key = {p["a"] for p in report["similarity"]["answer_key"]}
    assert "reference.ipynb" in answer_key, report["similarity"]["answer_key"]
    assert report["similarity"]["left_out"] == [] or all(
        x["reason"] for x in report["similarity"]["left_out"])


# -- a Gradescope export with broken parts ----------------------------------------------------

def test_export_with_broken_parts_is_graded_row_by_row(tmp_path):
    blank = nbformat.writes(student_notebook()).encode()
    metadata = {"submission_1": ":not a mapping",
                "submission_2": {":submitters": [{":name": "+cmd|' /C calc'!A0",
                                                  ":email": "=HYPERLINK(1)"}]},
                "submission_3": {":submitters": [{":name": "a\nb" + ESC + SCRIPT}]},
                "submission_4": {":submitters": "nobody"}}
    with zipfile.ZipFile(tmp_path / "export.zip", "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("export/submission_metadata.yml", yaml.safe_dump(metadata))
        zf.writestr("export/submission_1/backprop.ipynb", blank)
        zf.writestr("export/submission_2/backprop.ipynb", b"not a notebook")
        zf.writestr("export/submission_3/backprop.ipynb", _empty_objects_notebook(60))
        link = zipfile.ZipInfo("export/submission_4/backprop.ipynb")
        link.create_system, link.external_attr = 3, (0o120777 << 16)
        zf.writestr(link, str(SOLUTION_NB))
    proc, peak_mb = run_batch(tmp_path / "export.zip", tmp_path / "results")
    assert proc.returncode == 0, proc.stderr.decode()[-3000:]
    rows = read_rows(tmp_path / "results")
    assert sorted(rows) == [f"submission_{k}" for k in range(1, 5)], rows
    assert rows["submission_3"]["status"] == "error" and "not unpacked" in \
        rows["submission_3"]["message"], rows["submission_3"]
    assert rows["submission_4"]["status"] == "error" and "link" in \
        rows["submission_4"]["message"], rows["submission_4"]
    assert all(float(r["total"]) == 0 for r in rows.values())
    page = (tmp_path / "results" / "report.html").read_text()
    assert SCRIPT not in page and "\x1b" not in page
    attention = (tmp_path / "results" / "report-attention.csv").read_text()
    assert "\n+cmd" not in attention and ",+cmd" not in attention and "\x1b" not in attention
    assert peak_mb < BATCH_BOUND_MB or peak_mb == -1, peak_mb


def test_metadata_alias_bomb_is_refused_quickly(tmp_path):
    bomb = "a: &a [x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{chr(98 + k)}: &{chr(98 + k)} [*{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, "
        f"*{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, *{chr(97 + k)}, "
        f"*{chr(97 + k)}]\n" for k in range(9))
    root = tmp_path / "export"
    (root / "submission_1").mkdir(parents=True)
    (root / gradescope_export.METADATA).write_text(bomb)
    start = time.perf_counter()
    tracemalloc.start()
    entries, students, problems = gradescope_export.entries(root, tmp_path / "work")
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert [p.name for p in entries] == ["submission_1"] and students == {}
    assert time.perf_counter() - start < 2 and peak < 20 * 2**20, peak


def test_export_zip_bomb_member_is_not_unpacked(tmp_path):
    _zip(tmp_path / "export.zip", [("export/submission_metadata.yml",
                                    b"submission_1: {}\nsubmission_2: {}\n"),
                                   ("export/submission_1/big.ipynb", bytes(90 * 2**20)),
                                   ("export/submission_2/ok.ipynb", b"{}")])
    start = time.perf_counter()
    entries, _, problems = gradescope_export.entries(tmp_path / "export.zip", tmp_path / "work")
    assert [p.name for p in entries] == ["submission_1", "submission_2"]
    assert "times larger" in problems["submission_1"] and "submission_2" not in problems
    assert not (tmp_path / "work" / "export" / "export" / "submission_1" / "big.ipynb").exists()
    assert time.perf_counter() - start < 5


# -- every grading dies with the batch ------------------------------------------------------

@pytest.mark.skipif(os.geteuid() != 0 or grading_group._memory_base() is None,
                    reason="needs root and a cgroup memory controller")
def test_killing_the_batch_driver_kills_every_grading(tmp_path):
    """SIGKILL the driver while a grading runs a long cell: every process of the grading is
    gone within seconds (parent-death signal and the watchdog), its cgroup removed."""
    folder = tmp_path / "subs"
    folder.mkdir()
    _write(with_cell(student_notebook(), "import time\ntime.sleep(120)\n"),
           folder / "sleeper.ipynb")
    env = {**os.environ, **LIMITS, "BACKPROP_CELL_SECONDS": "200"}
    driver = subprocess.Popen(
        [sys.executable, str(ROOT / "tools" / "grade_folder.py"), str(folder), "--out",
         str(tmp_path / "out"), "--zip", str(grade_folder.DEFAULT_ZIP), "--jobs", "1"],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    _, own = grading_group._memory_base()
    batch_dir = own / f"backprop-batch-{driver.pid}"
    deadline, pids = time.monotonic() + 120, []
    while time.monotonic() < deadline and len(pids) < 3:   # launcher/grader, bwrap, worker
        time.sleep(0.5)
        pids = [int(p) for g in batch_dir.glob("g*") for p in
                (g / "cgroup.procs").read_text().split()] if batch_dir.exists() else []
    assert len(pids) >= 3, f"the grading never started its worker: {pids}"
    time.sleep(2)
    pids = [int(p) for g in batch_dir.glob("g*") for p in (g / "cgroup.procs").read_text().split()]
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and (batch_dir.exists() or any(_alive(p) for p in pids)):
        time.sleep(0.2)
    assert not [p for p in pids if _alive(p)], f"processes outlived the batch: {pids}"
    assert not batch_dir.exists(), "the batch's cgroups were not removed"


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


# -- the pieces, without grading ------------------------------------------------------------

def test_a_reply_naming_one_blob_many_times_is_refused_before_it_is_copied():
    blob = bytes(8 * 2**20)
    head = {"value": [{"$nd": 0, "dtype": "|u1", "shape": [len(blob)]}] * 1000}
    frame = bytearray(wire.pack(head, [blob])[8:])
    tracemalloc.start()
    header, blobs = wire.unpack(frame)
    with pytest.raises(wire.WireError, match="referenced twice"):
        wire.decode(header["value"], blobs)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 2 * len(frame), peak


def test_a_reply_header_of_many_values_is_refused_unparsed():
    head = b'{"value":[' + b"{}," * 3_000_000 + b'{}],"blobs":[]}'
    tracemalloc.start()
    with pytest.raises(wire.WireError, match="values"):
        wire.unpack(bytearray(len(head).to_bytes(4, "big") + head))
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 3 * len(head), peak


def test_an_honest_reply_still_round_trips():
    value = {"w": np.arange(12.0).reshape(3, 4), "n": [1, 2.5, (3, "x")], "s": np.float32(2)}
    blobs: list[bytes] = []
    node = wire.encode(value, blobs)
    header, got = wire.unpack(bytearray(wire.pack({"value": node}, blobs)[8:]))
    back = wire.decode(header["value"], got)
    assert np.array_equal(back["w"], value["w"]) and back["n"] == [1, 2.5, (3, "x")]
    back["w"][0, 0] = 7.0    # a writable copy


def test_notebook_json_is_measured_before_it_is_built(tmp_path):
    path = tmp_path / "objects.ipynb"
    path.write_bytes(_empty_objects_notebook(10))
    tracemalloc.start()
    start = time.perf_counter()
    with pytest.raises(submission.SubmissionError, match="JSON values"):
        submission.load(path)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4 * path.stat().st_size and time.perf_counter() - start < 5, peak
    assert submission.json_shape(b'{"a": "x\\\\", "b": ["\\"[[{", {"c": [1]}]}') == (10, 4)
    # an honest notebook with long saved outputs is far from the bounds
    values, depth = submission.json_shape(SOLUTION_NB.read_bytes())
    assert values < submission.MAX_NOTEBOOK_VALUES / 20 and depth < 10, (values, depth)


def test_a_zip_with_a_link_or_too_many_members_is_refused(tmp_path):
    link = zipfile.ZipInfo("backprop.ipynb")
    link.create_system, link.external_attr = 3, (0o120777 << 16)
    with zipfile.ZipFile(tmp_path / "link.zip", "w") as zf:
        zf.writestr(link, str(SOLUTION_NB))
    with pytest.raises(submission.SubmissionError, match="is a link"):
        submission.notebook_from_zip(tmp_path / "link.zip")
    with zipfile.ZipFile(tmp_path / "many.zip", "w") as zf:
        for k in range(submission.MAX_ZIP_MEMBERS + 1):
            zf.writestr(f"f{k}.txt", b"")
    with pytest.raises(submission.SubmissionError, match="more than"):
        submission.notebook_from_zip(tmp_path / "many.zip")


def test_csv_cells_and_text_are_neutralised():
    assert csv_cell("=SUM(A1)") == "'=SUM(A1)" and csv_cell("@x") == "'@x"
    assert csv_cell("+1") == "'+1" and csv_cell("-1") == "'-1" and csv_cell(3.5) == 3.5
    assert csv_cell("\tx") == "'\\x09x" and csv_cell("a\nb") == "a\\x0ab"
    assert printable("ok\x1b[2J\u202e", keep="\n") == "ok\\x1b[2J\\u202e"


def test_report_escapes_student_code_at_every_threshold(tmp_path):
    code = tmp_path / "evil.code.json"
    cells = [f"def relu_derivative(z):\n    s = {SCRIPT!r}\n    return s\n"]
    code.write_text(json.dumps({"cells": {"1": cells[0]}}))
    twin = tmp_path / "twin.code.json"
    twin.write_text(json.dumps({"cells": {"1": cells[0]}}))
    result = {"score": 0, "extra_data": {"status": "ok", "questions": {}}}
    subs = [class_report.Submission(f"evil{SCRIPT}", result, code),
            class_report.Submission("twin", result, twin)]
    for threshold in (0.0, 0.75, 1.0):
        class_report.write(tmp_path, subs, {}, threshold=threshold)
        assert SCRIPT not in (tmp_path / "report.html").read_text(), threshold


def _dies_on_two(item):
    if item == 2:
        os._exit(9)
    return item * 10


def test_a_dead_report_worker_is_a_line_not_a_hang():
    start = time.perf_counter()
    out = class_report._pool_map(_dies_on_two, [0, 1, 2, 3], 2, "died")
    assert out == [0, 10, "died", 30] and time.perf_counter() - start < 60


def test_unused_helpers_do_not_dilute_the_graded_code():
    cells = ["def helper(v):\n    return v + 1\n\n"
             "def relu_derivative(z):\n    '''Doc.'''\n    # why\n    return helper(z) > 1\n",
             "def unused(x):\n    return [x] * 1000\n",
             "class LinearLayer:\n    def forward(self, x):\n        return scale(x)\n",
             "def scale(x):\n    return 2 * x\n"]
    code = class_report.graded_code(cells, {"relu_derivative", "LinearLayer"})
    assert "helper" in code and "scale" in code and "unused" not in code
    assert "Doc." not in code and "why" not in code


# -- the same uploads through Gradescope's entry point ----------------------------------------

@pytest.mark.skipif(not Path("/usr/bin/time").exists(), reason="/usr/bin/time is not installed")
@pytest.mark.parametrize("upload", ["empty_objects.ipynb", "bomb.zip"])
def test_gradescope_entry_point_reads_oversized_json_at_bounded_cost(tmp_path, upload):
    """``run_autograder`` as Gradescope runs it, its Python timed by ``/usr/bin/time -v``:
    refused with a message, every process of the grading within ``READING_BOUND_MB``."""
    from test_gradescope_contract import run_like_gradescope
    if upload.endswith(".zip"):
        _zip(tmp_path / upload, [("backprop.ipynb", _empty_objects_notebook(99))])
        content = (tmp_path / upload).read_bytes()
    else:
        content = _empty_objects_notebook(10)
    log = tmp_path / "time.log"
    python = tmp_path / "timed-python"
    python.write_text(f"#!/bin/sh\nexec /usr/bin/time -a -o {log} -v {sys.executable} \"$@\"\n")
    python.chmod(0o755)
    results, _, _ = run_like_gradescope(tmp_path, upload, content, python=str(python))
    peaks = [int(k) // 1024 for k in re.findall(r"Maximum resident set size \(kbytes\): (\d+)",
                                                 log.read_text())]
    print(f"\n{upload}: score {results['score']}, peak resident memory {max(peaks)} MB")
    assert results["score"] == 0 and results["extra_data"]["status"] == "error"
    assert "JSON values" in results["output"], results["output"]
    assert peaks and max(peaks) < READING_BOUND_MB, peaks


def test_a_listed_file_and_the_reference_are_compared_as_the_answer_key(tmp_path):
    """A submission holding last year's leaked solution (a listed .py file) plus more code is
    listed against it; an unrelated independent solution is not."""
    reference_cells = class_report.code_cells(json.loads(SOLUTION_NB.read_text()))
    leak = tmp_path / "leak.py"
    leak.write_text("\n\n".join(reference_cells))
    extra = "".join(f"\n\ndef more_{k}(x):\n    return train_step(x, x, x, {k})\n"
                    for k in range(5))
    copied = tmp_path / "copied.code.json"
    copied.write_text(json.dumps({"cells": {"1": "\n\n".join(reference_cells) + extra}}))
    original = tmp_path / "original.ipynb"
    _write(synthetic_class()[0][ORIGINAL], original)
    _, pairs, left_out = class_report.similarity(
        {"copied": copied, "original": original}, references={"leak": leak})
    keyed = {(p["a"], p["b"]) for p in pairs if p["answer_key"]}
    assert ("copied", "[leak]") in keyed and not any(a == "original" for a, _ in keyed), pairs
    assert left_out == {}, left_out
