"""Public checks stay fast on a student's machine: each question's public tests, run on the
reference as ``grader.check`` runs them, use under 5 s of CPU on one core. CPU time, in a
process with one BLAS thread, so other work on the machine does not change the figure."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from conftest import ROOT

LIMIT_CPU_SECONDS = 5.0

SCRIPT = r"""
import json, sys, time
from pathlib import Path
files, tests = Path(sys.argv[1]), Path(sys.argv[2])
sys.path.insert(0, str(files))
import backprop_reference as ref
from otter.test_files import ExceptionTestFile
env = vars(ref)
env.update({k: v for k, v in {"q7_1": "b", "q7_2": "b", "q7_3": "b", "q7_4": "a"}.items()})
seconds = {}
for path in sorted(tests.glob("q*.py")):
    test_file = ExceptionTestFile.from_file(str(path))
    start = time.process_time()
    for case in test_file.test_cases:
        if not case.hidden:
            case.body.call_func(env)
    seconds[path.stem] = time.process_time() - start
print(json.dumps(seconds))
"""


def test_each_questions_public_checks_use_under_five_cpu_seconds(source_dir):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1",
           "MKL_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(source_dir / "files"),
                           str(ROOT / "assignment" / "tests")], capture_output=True, text=True,
                          env=env, cwd=source_dir / "files", timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    seconds = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(seconds) == 7, seconds
    slow = {q: round(s, 2) for q, s in seconds.items() if s >= LIMIT_CPU_SECONDS}
    assert not slow, f"public checks over {LIMIT_CPU_SECONDS} CPU s: {slow} (all: {seconds})"
