"""Public checks stay fast on a student's machine: each question's public tests, run on the
reference as ``grader.check`` runs them in the unpacked student bundle (nothing of the grader
importable), use under 5 s of CPU on one core. CPU time, in a
process with one BLAS thread, so other work on the machine does not change the figure."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile

import build_assignment
from conftest import ROOT

LIMIT_CPU_SECONDS = 5.0
# q6's public check is the graded MNIST training itself (without the grader's replay): 1.7 s of
# CPU for the reference, measured while two `yes > /dev/null` kept both cores busy (13 s of
# wall time); the common bound leaves it a margin of three.

SCRIPT = r"""
import json, sys, time
from pathlib import Path
bundle, reference = Path(sys.argv[1]), Path(sys.argv[2])
sys.path[:0] = [str(bundle), str(reference.parent)]
import backprop_reference as ref
tests = bundle / "tests"
from otter.test_files import ExceptionTestFile
env = vars(ref)
env.update({k: v for k, v in {"q7_1": "b", "q7_2": "b", "q7_3": "b", "q7_4": "a"}.items()})
seconds = {}
for path in sorted(tests.glob("*.py")):
    test_file = ExceptionTestFile.from_file(str(path))
    start = time.process_time()
    for case in test_file.test_cases:
        if not case.hidden:
            case.body.call_func(env)
    seconds[path.stem] = time.process_time() - start
print(json.dumps(seconds))
"""


def test_each_questions_public_checks_use_under_five_cpu_seconds(source_dir, questions,
                                                                 tmp_path):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    with zipfile.ZipFile(ROOT / "assignment" / "backprop-student.zip") as zf:
        zf.extractall(tmp_path)
    bundle = tmp_path / build_assignment.STUDENT_FOLDER
    # the reference solution alone, so nothing else of the autograder is importable
    shutil.copy(source_dir / "files" / "backprop_reference.py", tmp_path / "backprop_reference.py")
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(bundle),
                           str(tmp_path / "backprop_reference.py")], capture_output=True,
                          text=True, env=env, cwd=bundle, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])
    assert set(seconds) == set(questions), seconds
    slow = {q: round(s, 2) for q, s in seconds.items() if s >= LIMIT_CPU_SECONDS}
    assert not slow, f"public checks over {LIMIT_CPU_SECONDS} CPU s: {slow} (all: {seconds})"
