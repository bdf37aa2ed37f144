"""Run ``otter run`` on a submission, contained: time limits, memory limits, no escape.

Otter executes the notebook and its test files in one Jupyter kernel, together with the
student's code, and has no timeout of its own. Here it runs in a child process group with:

* a per-cell timeout (nbconvert's ``ExecutePreprocessor``, interrupting the kernel; a cell's
  own limit plus a test case's, as ``grader.check`` cells run tests) and an overall deadline
  after which the whole group is killed;
* the ``backprop-sandbox`` kernel (``sandbox_kernel.py``): a memory limit and the audit-hook
  policy, so the notebook cannot write outside its scratch directory or read the grader;
* ``otter_launcher.py`` for the otter process itself: what otter unpickles from the kernel
  (its results and log records) may only hold plain data and otter's own result classes;
* an unprivileged user when grading as root and that user can run Python, and every process
  of that user killed when the stage ends; the kernel dies with the otter process.

Its scores are *untrusted* (student code shares the kernel and can rewrite otter's results):
the grader uses them only to cross-check the trusted scores and flag tampering.
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

from . import policy
from .process import Limits, kill_user_processes, limit_resources, sandbox_env, sandbox_user

HERE = Path(__file__).resolve().parent
KERNEL_NAME = "backprop-sandbox"


# The otter process: ``otter_launcher.main`` from the support copy named in its config.
LAUNCHER = """
import json, sys
sys.path.insert(0, json.loads(sys.argv[1])["support"])
from gradekit.otter_launcher import main
main()
"""


@dataclass
class OtterOutcome:
    status: str                                   # ok | timeout | error
    scores: dict[str, float] = field(default_factory=dict)   # question -> points (untrusted)
    seconds: float = 0.0
    message: str = ""
    violations: list[dict] = field(default_factory=list)


def _bootstrap(support_dir: Path, module: str) -> str:
    return (f"import sys; sys.path.insert(0, {str(support_dir)!r}); "
            f"from gradekit.{module} import main; main()")


def _kernel_spec(kernels_dir: Path, support_dir: Path) -> None:
    spec_dir = kernels_dir / KERNEL_NAME
    spec_dir.mkdir(parents=True, exist_ok=True)
    spec = {"argv": [sys.executable, "-B", "-c", _bootstrap(support_dir, "sandbox_kernel"), "-f",
                     "{connection_file}"],
            "display_name": "Python 3 (grading sandbox)", "language": "python"}
    (spec_dir / "kernel.json").write_text(json.dumps(spec))


def run(notebook: nbformat.NotebookNode, autograder_zip: Path, hidden_roots: list[str],
        limits: Limits, deadline_seconds: float, warm: list[str] | None = None) -> OtterOutcome:
    """Run otter on ``notebook``; never raises (a failure is an outcome with status "error").

    ``warm``: the modules the notebook imports (``submission.imported_modules``), loaded in
    the kernel before the policy is in force.
    """
    start = time.perf_counter()
    try:
        return _run(notebook, autograder_zip, hidden_roots, limits, deadline_seconds, warm or [])
    except Exception as exc:  # noqa: BLE001 - the cross-check must never sink the grade
        return OtterOutcome("error", seconds=time.perf_counter() - start,
                            message=f"the cross-check failed: {type(exc).__name__}: "
                                    f"{str(exc)[:200]}")


def _run(notebook: nbformat.NotebookNode, autograder_zip: Path, hidden_roots: list[str],
         limits: Limits, deadline_seconds: float, warm: list[str]) -> OtterOutcome:
    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="backprop-otter-") as tmp_name:
        tmp = Path(tmp_name)
        os.chmod(tmp, 0o755)
        support = tmp / "support"
        (support / "gradekit").mkdir(parents=True)
        for name in ("__init__.py", "policy.py", "sandbox_kernel.py", "otter_launcher.py"):
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
                       "writable_roots": [str(scratch), os.devnull],
                       "readable_roots": [str(tmp)],
                       "hidden_roots": hidden_roots,
                       "report_path": str(report),
                       "warm": warm}))
        # a `grader.check` cell runs a whole question's tests inside the cell
        cell_timeout = int(limits.cell_seconds + limits.case_seconds)
        config = {"support": str(support), "cell_timeout": cell_timeout,
                  "submission": str(submission),
                  "autograder": str(scratch / "autograder.zip"), "output_dir": str(out)}
        otter_limits = Limits(memory_bytes=4 * 2**30, cpu_seconds=limits.cpu_seconds,
                              file_bytes=limits.file_bytes)
        log_file = (tmp / "otter.log").open("w+b")
        proc = subprocess.Popen(
            [sys.executable, "-I", "-B", "-c", LAUNCHER, json.dumps(config)], cwd=scratch, env=env,
            stdin=subprocess.DEVNULL, stdout=log_file, stderr=subprocess.STDOUT,
            preexec_fn=limit_resources(otter_limits, user))
        try:
            proc.wait(timeout=deadline_seconds)
            status = "ok" if proc.returncode == 0 else "error"
        except subprocess.TimeoutExpired:
            status = "timeout"
        finally:
            try:
                os.killpg(proc.pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
            proc.wait()
            kill_user_processes(user)
            log_file.seek(max(0, log_file.seek(0, os.SEEK_END) - 4096))
            log = log_file.read()
            log_file.close()
        outcome = OtterOutcome(status, seconds=time.perf_counter() - start)
        outcome.violations = _read_report(report)
        results = out / "results.json"
        if status == "ok" and results.exists():
            try:
                outcome.scores = _claimed_scores(json.loads(results.read_text()))
            except (ValueError, AttributeError, TypeError, RecursionError, OSError):
                outcome.status, outcome.message = "error", "otter wrote unreadable results"
        elif status == "ok":
            outcome.status = "error"
        if outcome.status == "error" and not outcome.message:
            text = log.decode("utf-8", "replace").strip().splitlines()
            outcome.message = (text[-1] if text else "otter run failed")[:300]
        if outcome.status == "timeout":
            outcome.message = f"otter run did not finish within {deadline_seconds:.0f} s"
        return outcome


def _claimed_scores(data) -> dict[str, float]:
    """question -> points from otter's results.json (written where student code can reach)."""
    scores = {}
    for test in data.get("tests", [])[:100]:
        if isinstance(test, dict) and "max_score" in test and \
                type(test.get("score")) in (int, float):
            scores[str(test.get("name"))[:50]] = float(test["score"])
    return scores


def _read_report(path: Path) -> list[dict]:
    try:
        with path.open("rb") as fh:
            data = fh.read(1 << 20)
    except OSError:
        return []
    return policy.read_reports(data)[:50]
