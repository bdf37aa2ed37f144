"""The benchmark's own pieces: memory sampling, stage arithmetic, submissions, verdicts, and
one instrumented grading run through the built zip (so a gradekit change that the stage probe
no longer matches fails here, not only in `make bench`)."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from conftest import ROOT, AUTOGRADER_ZIP

sys.path.insert(0, str(ROOT / "bench"))

import grading  # noqa: E402
import report  # noqa: E402
import submissions  # noqa: E402
import training  # noqa: E402
from procmem import TreeSampler, descendants  # noqa: E402

SUBMISSIONS = AUTOGRADER_ZIP.parent.parent / "submissions"


def test_tree_sampler_adds_up_a_grandchild():
    """A child that starts a grandchild holding 200 MB: the tree peak must include it."""
    grandchild = ("import time; b = bytearray(200 * 2**20); b[::4096] = b'x' * len(b[::4096]); "
                  "time.sleep(1.0)")
    child = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {grandchild!r}])"
    proc = subprocess.Popen([sys.executable, "-c", child])
    with TreeSampler(proc.pid, interval=0.02) as sampler:
        proc.wait()
    peak = sampler.peak
    assert peak.processes >= 2, f"the sampler saw {peak.processes} process(es), expected 2"
    assert peak.rss_mb >= 200, f"tree RSS peak {peak.rss_mb:.0f} MB misses the 200 MB grandchild"
    assert peak.pss_mb >= 190, f"tree PSS peak {peak.pss_mb:.0f} MB misses the grandchild"
    assert any(mb >= 200 for mb in peak.by_process.values()), \
        f"no process reported a 200 MB high-water mark: {peak.by_process}"


def test_descendants_of_a_finished_process_is_just_itself():
    proc = subprocess.run([sys.executable, "-c", "pass"])
    assert proc.returncode == 0
    assert descendants(2**22 + 7) == [2**22 + 7], "a pid with no children should list only itself"


def test_stage_split_accounts_for_the_whole_wall_time():
    timings = {"probe_s": 5.0, "import_gradekit_s": 0.5, "worker_start_s": [0.4],
               "cells": [{"index": 0, "seconds": 0.1}, {"index": 1, "seconds": 0.2}],
               "run_tests_s": [3.0]}
    results = {"extra_data": {"cases": [
        {"question": "q1", "name": "q1 - 1", "seconds": 0.5},
        {"question": "q6", "name": "q6 - 2", "seconds": 2.0}]}}
    split = grading.stage_split(6.0, timings, results, {("q6", "q6 - 2")})
    expected = {"startup": 1.5, "worker_start": 0.4, "cells": 0.3, "test_loading": 0.5,
                "tests": 0.5, "mnist": 2.0}
    for key, value in expected.items():
        assert split[key] == pytest.approx(value), f"stage {key}: {split[key]} != {value}"
    assert sum(split.values()) == pytest.approx(6.0), f"stages do not add up to wall: {split}"
    assert grading.question_split(results) == {"q1": 0.5, "q6": 2.0}


def test_mutations_apply_once_and_fail_loudly_when_stale(tmp_path):
    variants = submissions.write_variants(SUBMISSIONS, tmp_path)
    reference = (tmp_path / "reference.ipynb").read_text()
    for name in submissions.MUTATIONS:
        text = variants[name].read_text()
        assert text != reference, f"mutation {name} left the reference unchanged"
    nb = nbformat.read(variants["reference"], as_version=4)
    with pytest.raises(ValueError, match="expected exactly 1"):
        submissions.mutated(nb, [("this text is not in the notebook", "x")])


def test_batch_folder_composition(tmp_path):
    variants = submissions.write_variants(SUBMISSIONS, tmp_path / "v")
    counts = submissions.batch_folder(variants, tmp_path / "b", 100)
    assert counts["reference"] == 70 and counts["blank"] == 10, f"composition {counts}"
    assert sum(counts.values()) == 100 == len(list((tmp_path / "b").iterdir())), \
        f"expected 100 files for composition {counts}"


def test_summary_and_verdicts():
    assert report.summary([3, 1, 2, None]) == {"median": 2, "min": 1, "max": 3, "runs": 3}
    assert report.summary([None]) is None
    data = {"single": {"reference": {"summary": {"wall_s": report.summary([16.0]),
                                                 "peak_rss_mb": report.summary([250.0])}}},
            "batch": {"2": {"size": 10, "wall_s": report.summary([14.0])}},
            "training": {"numpy_over_torch": report.summary([2.0])}}
    verdicts = {v["what"].split(",")[0]: v["verdict"] for v in report.verdicts(data)}
    assert list(verdicts.values()) == ["MISSED", "met", "met", "MISSED"], \
        f"wrong verdicts: {verdicts}"


def test_flop_count_of_the_grading_mlp():
    # forward + dW + dx of 784x128 and 128x10, 2 FLOPs per multiply-add, 20,000 images
    assert training.matmul_flops_per_epoch([784, 128, 10], 20_000) == \
        6 * (784 * 128 + 128 * 10) * 20_000


def test_instrumented_grading_of_the_blank_notebook(source_dir):
    """The stage probe still matches gradekit: every stage is timed."""
    result = grading.grade_timed(SUBMISSIONS / "blank.ipynb", source_dir)
    assert result["score"] == 0, f"the blank notebook scored {result['score']}"
    stages = result["stages_s"]
    for key in ("worker_start", "cells", "test_loading", "mnist"):
        assert stages[key] > 0, f"stage {key} was not timed: {stages}"
    assert len(result["cell_seconds"]) > 5, "the notebook's cells were not timed"
    assert result["peak_rss_mb"] > 100 and result["processes"] >= 2, \
        f"the memory sampler missed the process tree: {result['peak_rss_mb']} MB, " \
        f"{result['processes']} processes"
