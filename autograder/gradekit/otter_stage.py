"""Run ``otter run`` on a submission, contained: time limits, memory limits, no escape.

Otter executes the notebook and its test files in one Jupyter kernel, together with the
student's code, and has no timeout of its own. Here it runs in a child process group with:

* a per-cell timeout (nbconvert's ``ExecutePreprocessor``, interrupting the kernel) and an
  overall deadline after which the whole group is killed;
* the ``backprop-sandbox`` kernel (``sandbox_kernel.py``): a memory limit and the audit-hook
  policy, so the notebook cannot write outside its scratch directory or read the grader;
* an unprivileged user when grading as root and that user can run Python.

Its scores are *untrusted* (student code shares the kernel, and otter unpickles results the
kernel wrote): the grader uses them only to cross-check the trusted scores and flag tampering.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

from .sandbox import Limits, limit_resources, sandbox_env, sandbox_user

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "backprop-sandbox"

LAUNCHER = """
import json, sys
config = json.loads(sys.argv[1])
import nbconvert.preprocessors as preprocessors
from traitlets import Bool, Integer
class TimedExecutePreprocessor(preprocessors.ExecutePreprocessor):
    timeout = Integer(config["cell_timeout"], allow_none=True).tag(config=True)
    interrupt_on_timeout = Bool(True).tag(config=True)
    startup_timeout = Integer(120).tag(config=True)
preprocessors.ExecutePreprocessor = TimedExecutePreprocessor
from otter.run import main
main(config["submission"], autograder=config["autograder"], output_dir=config["output_dir"],
     no_logo=True)
"""


@dataclass
class OtterOutcome:
    status: str                                   # ok | timeout | error
    scores: dict[str, float] = field(default_factory=dict)   # question -> points (untrusted)
    seconds: float = 0.0
    message: str = ""
    violations: list[dict] = field(default_factory=list)


def _kernel_spec(kernels_dir: Path, support_dir: Path) -> None:
    spec_dir = kernels_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    bootstrap = (f"import sys; sys.path.insert(0, {str(support_dir)!r}); "
                 "from gradekit.sandbox_kernel import main; main()")
    spec = {"argv": [sys.executable, "-B", "-c", bootstrap, "-f", "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


def run(notebook: nbformat.NotebookNode, autograder_zip: Path, hidden_roots: list[str],
        limits: Limits, deadline_seconds: float = 600.0) -> OtterOutcome:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="backprop-otter-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        support = tmp / "support"
        (support / "gradekit").mkdir(parents=True)
        for name in ("__init__.py", "policy.py", "sandbox_kernel.py"):
            shutil.copy(HERE / name, support / "gradekit" / name)
        _kernel_spec(tmp / "jupyter" / "kernels", support)
        scratch = tmp / "scratch"
        scratch.mkdir()
        submission = scratch / "backprop.ipynb"
        nbformat.write(notebook, submission)
        shutil.copy(autograder_zip, scratch / "autograder.zip")
        out = scratch / "out"
        out.mkdir()
        report = tmp / "kernel-report.jsonl"
        report.touch()
        user = sandbox_user()
        if user is not None:
            for path in [tmp, *tmp.rglob("*")]:
                os.chown(path, *user)
        env = sandbox_env(str(scratch))
        env.update(JUPYTER_PATH=str(tmp / "jupyter"), JUPYTER_CONFIG_DIR=str(tmp / "jupyter"),
                   JUPYTER_DATA_DIR=str(tmp / "jupyter"), JUPYTER_RUNTIME_DIR=str(scratch),
                   IPYTHONDIR=str(scratch / ".ipython"), JUPYTER_PLATFORM_DIRS="1",
                   BACKPROP_KERNEL_POLICY=json.dumps({
                       "memory_bytes": limits.memory_bytes,
                       "writable_roots": [str(scratch), "/dev/shm"],
                       "hidden_roots": hidden_roots,
                       "report_path": str(report)}))
        config = {"cell_timeout": int(limits.cell_seconds), "submission": str(submission),
                  "autograder": str(scratch / "autograder.zip"), "output_dir": str(out)}
        otter_limits = Limits(memory_bytes=4 * 2**30, cpu_seconds=limits.cpu_seconds,
                              file_bytes=limits.file_bytes)
        proc = subprocess.Popen(
            [sys.executable, "-B", "-c", LAUNCHER, json.dumps(config)], cwd=scratch, env=env,
            stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            preexec_fn=limit_resources(otter_limits, user))
        try:
            log, _ = proc.communicate(timeout=deadline_seconds)
            status = "ok" if proc.returncode == 0 else "error"
        except subprocess.TimeoutExpired:
            status = "timeout"
            log = b""
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
        outcome = OtterOutcome(status, seconds=time.perf_counter() - start)
        outcome.violations = _read_report(report)
        results = out / "results.json"
        if status == "ok" and results.exists():
            try:
                data = json.loads(results.read_text())
                for test in data.get("tests", []):
                    if "max_score" in test and isinstance(test.get("score"), (int, float)):
                        outcome.scores[str(test.get("name"))] = float(test["score"])
            except (ValueError, AttributeError, TypeError):
                outcome.status, outcome.message = "error", "otter wrote unreadable results"
        elif status == "ok":
            outcome.status = "error"
        if outcome.status == "error" and not outcome.message:
            text = log.decode("utf-8", "replace").strip().splitlines()
            outcome.message = (text[-1] if text else "otter run failed")[:300]
        if outcome.status == "timeout":
            outcome.message = f"otter run did not finish within {deadline_seconds:.0f} s"
        return outcome


def _read_report(path: Path) -> list[dict]:
    events = []
    try:
        lines = path.read_text(errors="replace").splitlines()[:50]
    except OSError:
        return events
    for line in lines:
        try:
            event = json.loads(line)
        except ValueError:
            continue
        if isinstance(event, dict):
            events.append({"kind": str(event.get("kind", ""))[:100],
                           "detail": str(event.get("detail", ""))[:300]})
    return events
