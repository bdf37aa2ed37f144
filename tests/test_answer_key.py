"""Nothing students receive, and nothing the grading worker can import, computes what the
questions ask.

* The student bundle and the worker's support files are exactly the allow-lists below: a
  file added to either fails here until it is reviewed and listed.
* No callable importable from the bundle computes a graded function's answer on fresh inputs
  (every module of the bundle tried, every function and method of matching arity).
* Delegation gains nothing: for each graded function, a submission whose version of it tries
  every callable importable in the worker or the bundle (matched by arity) scores no more,
  graded through the autograder zip, than the same notebook with that function left blank,
  on its own question and on every question not judged by error carried forward.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import nbformat
import pytest

import build_assignment
from conftest import ROOT, master_questions, question_scores, solution_notebook

FOLDER = build_assignment.STUDENT_FOLDER
# Every file of the student bundle, reviewed: the notebook, its support code and data, the
# public tests with their stored answers, and the public copy of the checks (whose
# reference.py only looks stored answers up, and whose carried.py carries nothing).
BUNDLE = {f"{FOLDER}/{name}" for name in [
    "README.md", "backprop.ipynb", "backprop_support.py", "diagnostics.py", "mnist.npz",
    "requirements.txt", "tests/answers.npz", *(f"tests/{q}.py" for q in master_questions()),
    "gradekit/__init__.py", *(f"gradekit/checks/{m}.py" for m in [
        "__init__", "answers", "calling", "compare", "draws", "mistakes", "mnist", "networks",
        "q1_derivatives", "q2_softmax", "q3_linear", "q4_network", "q5_train_step", "q7_quiz",
        "reference", "carried", "settings", "timed"])]}
# What the worker running the notebook gets: only what the notebook itself imports or reads.
WORKER = ["backprop_support.py", "diagnostics.py", "mnist.npz"]


def bundle_names() -> set[str]:
    with zipfile.ZipFile(ROOT / "assignment" / "backprop-student.zip") as zf:
        return set(zf.namelist())


def test_the_student_bundle_holds_only_the_reviewed_files():
    names = bundle_names()
    assert names - BUNDLE == set(), f"not on the allow-list: {sorted(names - BUNDLE)}"
    assert BUNDLE - names == set(), f"missing from the bundle: {sorted(BUNDLE - names)}"


def test_the_worker_gets_only_what_the_notebook_runs(source_dir):
    support = json.loads((source_dir / "support_files.json").read_text())
    assert support == WORKER, f"the worker's files changed: {support}"
    assert build_assignment.support_files() == WORKER


def test_the_public_copy_of_the_checks_holds_no_reference_maths():
    with zipfile.ZipFile(ROOT / "assignment" / "backprop-student.zip") as zf:
        stub = zf.read(f"{FOLDER}/gradekit/checks/reference.py").decode()
        texts = {n: zf.read(n).decode() for n in zf.namelist() if n.endswith(".py")}
    assert "import numpy" not in stub and "@" not in stub, stub
    for name, text in texts.items():
        for marker in ("def backprop(", "def sgd_reference(", "def softmax_rows(",
                       "def linear_gradients(", "backprop_maths", "backprop_reference"):
            assert marker not in text, f"{name} contains {marker!r}"


# Calls every callable of every module importable from the bundle on fresh inputs; prints
# the ones whose result equals a graded function's answer.
PROBE = r"""
import importlib, inspect, json, sys
import numpy as np
from pathlib import Path
bundle = Path(sys.argv[1])
modules = [p.relative_to(bundle).with_suffix("").as_posix().replace("/", ".")
           for p in sorted(bundle.rglob("*.py")) if "tests" not in p.parts]
modules = [m[:-len(".__init__")] if m.endswith(".__init__") else m for m in modules]
rng = np.random.default_rng(12345)
z = rng.normal(0, 2, size=(3, 4))
z = np.where(np.abs(z) < 0.1, 0.5, z)
probs = np.exp(z) / np.exp(z).sum(axis=1, keepdims=True)
y = np.eye(4)[rng.integers(0, 4, size=3)]
s = 1 / (1 + np.exp(-z))
answers = {
    1: {"relu_derivative": (z > 0).astype(float), "sigmoid_derivative": s * (1 - s),
        "softmax": probs},
    2: {"cross_entropy": -np.mean(np.sum(y * np.log(probs), axis=1))},
}
inputs = {1: (z,), 2: (probs, y)}
found, failed_imports, tried = [], {}, 0
for name in modules:
    try:
        module = importlib.import_module(name)
    except Exception as exc:
        failed_imports[name] = f"{type(exc).__name__}: {exc}"
        continue
    for obj in list(vars(module).values()):
        fns = [obj] + ([v for v in vars(obj).values() if callable(v)]
                       if inspect.isclass(obj) else [])
        for fn in fns:
            if not callable(fn):
                continue
            try:
                params = [p for p in inspect.signature(fn).parameters.values()
                          if p.default is p.empty and p.kind in (p.POSITIONAL_ONLY,
                                                                   p.POSITIONAL_OR_KEYWORD)]
            except (TypeError, ValueError):
                continue
            if len(params) not in inputs:
                continue
            tried += 1
            try:
                got = fn(*(a.copy() for a in inputs[len(params)]))
                got = np.asarray(got, dtype=float)
            except BaseException:
                continue
            for graded, want in answers[len(params)].items():
                if got.shape == np.shape(want) and np.allclose(got, want, rtol=1e-4, atol=1e-8):
                    found.append(f"{name}.{getattr(fn, '__qualname__', fn)} computes {graded}")
print(json.dumps({"found": found, "failed_imports": failed_imports, "tried": tried}))
"""


def probe(tmp_path, extra: dict[str, str] | None = None) -> dict:
    """PROBE's report on the unpacked bundle, with ``extra`` files added to it."""
    with zipfile.ZipFile(ROOT / "assignment" / "backprop-student.zip") as zf:
        zf.extractall(tmp_path)
    bundle = tmp_path / FOLDER
    for name, text in (extra or {}).items():
        (bundle / name).write_text(text)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["MPLBACKEND"] = "Agg"
    proc = subprocess.run([sys.executable, "-c", PROBE, str(bundle)], cwd=bundle, env=env,
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(proc.stdout.strip().splitlines()[-1])


def test_no_callable_in_the_bundle_computes_a_graded_answer(tmp_path):
    report = probe(tmp_path)
    assert report["failed_imports"] == {}, report   # a module not imported is not probed
    assert report["tried"] > 20, report
    assert report["found"] == [], report


LEAK = """
import numpy as np

class Maths:
    def softmax_rows(z):
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

def loss(p, y):
    return float(-np.mean(np.sum(y * np.log(p), axis=1)))
"""


def test_the_probe_finds_an_answer_key_when_there_is_one(tmp_path):
    found = probe(tmp_path, {"leak.py": LEAK})["found"]
    assert any("softmax_rows computes softmax" in f for f in found), found
    assert any("loss computes cross_entropy" in f for f in found), found


# --- delegation, graded through the zip ----------------------------------------------------

# Appended to the reference notebook: NAME's graded code replaced by a dispatcher over every
# callable of matching arity importable in the worker (the bundle's modules too, where they
# import), returning the first result that is not None.
DELEGATE = '''
import importlib as _importlib, inspect as _inspect

def _substitutes(arity):
    found = []
    for module_name in MODULES:
        try:
            module = _importlib.import_module(module_name)
        except Exception:
            continue
        for obj in list(vars(module).values()):
            fns = [obj] + ([v for v in vars(obj).values() if callable(v)]
                           if _inspect.isclass(obj) else [])
            for fn in fns:
                try:
                    params = [p for p in _inspect.signature(fn).parameters.values()
                              if p.default is p.empty
                              and p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
                except (TypeError, ValueError):
                    continue
                if len(params) == arity and fn not in found:
                    found.append(fn)
    return found

def _delegate(*args):
    for fn in _substitutes(len(args)):
        try:
            result = fn(*args)
        except Exception:
            continue
        if result is not None:
            return result
    return None
'''

BLANK = "def _delegate(*args):\n    return None\n"

# graded function -> (the cell that rebinds it to _delegate, the question it belongs to)
GRADED = {
    "relu_derivative": ("relu_derivative = _delegate", "q1"),
    "sigmoid_derivative": ("sigmoid_derivative = _delegate", "q1"),
    "softmax": ("softmax = _delegate", "q2"),
    "cross_entropy": ("cross_entropy = _delegate", "q2"),
    "LinearLayer.forward": ("LinearLayer.forward = _delegate", "q3"),
    "LinearLayer.backward": ("LinearLayer.backward = _delegate", "q3"),
    "network_backward": ("network_backward = _delegate", "q4"),
    "train_step": ("train_step = _delegate", "q5"),
}


def modules_to_try() -> list[str]:
    names = {n[len(FOLDER) + 1:] for n in BUNDLE if n.endswith(".py") and "/tests/" not in n}
    names |= {n for n in WORKER if n.endswith(".py")}
    modules = {n[:-3].replace("/", ".").removesuffix(".__init__") for n in names}
    return sorted(modules)


def with_cell(code: str) -> nbformat.NotebookNode:
    nb = solution_notebook()
    nb.cells.append(nbformat.v4.new_code_cell(code))
    return nb


@pytest.mark.parametrize("graded", sorted(GRADED))
def test_delegating_a_graded_function_gains_nothing(graded, grade):
    rebind, question = GRADED[graded]
    attack = grade(with_cell(f"MODULES = {modules_to_try()!r}\n{DELEGATE}\n{rebind}\n"))
    blank = grade(with_cell(f"{BLANK}\n{rebind}\n"))
    got, baseline = question_scores(attack), question_scores(blank)
    assert got[question] < 1e-9 or got[question] <= baseline[question], (graded, got, baseline)
    # q4 and q5 judge the student's own later functions with whatever the earlier ones give
    # (error carried forward): a delegated wrong-but-usable function there earns the credit
    # any such mistake earns, for the student's own correct network_backward and train_step
    gained = {q for q in got if got[q] > baseline[q] + 1e-9}
    assert gained <= {"q4", "q5"} - {question}, (graded, got, baseline)
