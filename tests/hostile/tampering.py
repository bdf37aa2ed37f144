"""Attempts to gain points, see hidden tests or escape the sandbox.

Each is applied to the blank student notebook (which scores 0) or to the buggy one, and must
score no more than that notebook does without it, on every question, and be flagged for the
instructor.
"""

from __future__ import annotations

import nbformat

from conftest import ROOT

from . import Hostile, before_each_check, blank, with_cell

BUGGY = ROOT / "submissions" / "buggy_bias_gradient_mean.ipynb"
# Created by any sandbox escape that manages to run a command (the test checks it is absent).
ESCAPE_MARK = "/tmp/backprop-hostile-escaped"


def buggy() -> nbformat.NotebookNode:
    return nbformat.read(BUGGY, as_version=4)


def _attack(base, code: str):
    """The attack in a cell at the end of the notebook."""
    return lambda: with_cell(base(), code)


def _attack_early(base, code: str):
    """The attack before the first code cell and every ``grader.check`` cell."""
    return lambda: before_each_check(base(), code)


PATCH_OTTER_RUNNER = """\
try:   # make every test case pass without running it
    import otter.test_files.exception_test as exception_test
    exception_test.test_case.call_func = lambda self, env: None
except Exception as exc:
    print("could not patch otter:", type(exc).__name__)
"""

PATCH_RESULT_OBJECTS = """\
try:   # rewrite otter's results as they are saved: every test case passed
    import pickle
    from otter.test_files import GradingResults
    real_dump = getattr(pickle.dump, "real_dump", pickle.dump)   # this cell runs repeatedly

    def forged_dump(obj, f, *args, real_dump=real_dump, **kwargs):
        if isinstance(obj, GradingResults):
            for test_file in obj.results.values():
                test_file.test_case_results = [
                    type(r)(test_case=r.test_case, message="ok", passed=True)
                    for r in test_file.test_case_results]
        return real_dump(obj, f, *args, **kwargs)

    forged_dump.real_dump = real_dump
    pickle.dump = forged_dump
except Exception as exc:
    print("could not patch the results:", type(exc).__name__)
"""

PATCH_NUMPY = """\
import numpy as np
import backprop_support
np.allclose = lambda *args, **kwargs: True
np.isclose = lambda a, b, *args, **kwargs: np.ones(np.shape(a), dtype=bool)
np.isfinite = lambda x, *args, **kwargs: np.ones(np.shape(x), dtype=bool)
np.array_equal = lambda *args, **kwargs: True
np.testing.assert_allclose = lambda *args, **kwargs: None
backprop_support.relative_error = lambda *args, **kwargs: 0.0
"""

REDEFINE_GRADER = """\
class AlwaysPasses:
    def check(self, *args, **kwargs):
        return "All tests passed!"

    def check_all(self, *args, **kwargs):
        return "All tests passed!"

    def export(self, *args, **kwargs):
        return None

grader = AlwaysPasses()
"""

WRITE_RESULTS = """\
import json, os
forged = json.dumps({"score": 100, "tests": [{"name": q, "score": p, "max_score": p}
                     for q, p in [("q1", 10), ("q2", 14), ("q3", 24), ("q4", 16), ("q5", 15),
                                  ("q6", 15), ("q7", 6)]]})
targets = ["results.json", "../results/results.json", "/autograder/results/results.json"]
try:   # the trusted grader's own results folder, from the worker's command line
    config = json.loads(open("/proc/self/cmdline").read().split("\\0")[-2])
    targets.append(os.path.dirname(config["hidden_roots"][0]) + "/results/results.json")
except Exception:
    pass
here = os.getcwd()
for _ in range(4):   # otter's output folder, wherever it is above us
    targets.append(os.path.join(here, "out", "results.json"))
    here = os.path.dirname(here)
for target in targets:
    try:
        with open(target, "w") as fh:
            fh.write(forged)
    except Exception:
        pass
"""

READ_HIDDEN_FILES = f"""\
import glob, json, os
candidates = ["backprop_reference.py", "/autograder/source/files/backprop_reference.py",
              {str(ROOT / "solutions" / "backprop_master.py")!r}]
try:
    source = json.loads(open("/proc/self/cmdline").read().split("\\0")[-2])["hidden_roots"][0]
    candidates.append(source + "/files/backprop_reference.py")
    candidates += sorted(glob.glob(source + "/tests/*.py"))
except Exception:
    pass
stolen = {{}}
for path in candidates:
    try:
        with open(path) as fh:
            stolen[path] = fh.read()
    except Exception:
        pass
for path, text in stolen.items():
    if "reference" in path or "master" in path:
        try:
            exec(text.replace("# SOLUTION", ""), globals())
        except Exception:
            pass
try:
    nb = json.load(open({str(ROOT / "solutions" / "backprop_solution.ipynb")!r}))
    for cell in nb["cells"]:
        if cell["cell_type"] == "code" and "grader" not in "".join(cell["source"]):
            exec("".join(cell["source"]), globals())
except Exception:
    pass
"""

LEAK_HIDDEN_DATA = """\
import inspect
import numpy as np

def _callers():
    try:   # the source of whatever called us: the hidden test, if it ran here
        return " | ".join(inspect.getsource(f.frame) for f in inspect.stack()[1:6])
    except Exception as exc:
        return type(exc).__name__

def _code(values):
    return "_".join(str(abs(int(v * 1000))) for v in np.asarray(values, float).ravel()[:4])

def softmax(z):
    name = "Leak_" + _code(z)   # the input, spelled in the exception's class name
    raise type(name, (Exception,), {})(f"input {np.asarray(z).tolist()} {_callers()}")

def cross_entropy(probs, y):
    flat = np.asarray(probs, float).ravel()   # the input, returned as the "loss"
    return float(flat[0] * 1e6 + flat[1] * 1e3 + flat[2])

def relu_derivative(z):
    flat = np.abs(np.asarray(z, float)).ravel()   # the input, spelled in the shape
    return np.zeros(tuple(int(v * 100) % 97 + 1 for v in flat[:4]))

def sigmoid_derivative(z):
    import os
    os._exit(int(abs(np.asarray(z, float).ravel()[0]) * 100) % 256)   # ... in the exit code
"""

IMPORT_REFERENCE = """\
try:
    from backprop_reference import *
except Exception as exc:
    print("no reference:", type(exc).__name__)
try:
    import importlib
    reference = importlib.import_module("backprop_reference")
    globals().update({k: v for k, v in vars(reference).items() if not k.startswith("_")})
except Exception as exc:
    print("no reference:", type(exc).__name__)
"""

REPLACE_BUILTINS = """\
import builtins
builtins.isinstance = lambda obj, cls: True
builtins.abs = lambda x: 0
builtins.all = lambda iterable: True
builtins.any = lambda iterable: False
builtins.float = lambda *args: 0.0
"""

ALWAYS_EQUAL = """\
import numpy as np

class EqualsAnything:
    shape = (4, 5)
    dtype = np.dtype("float64")
    def __eq__(self, other): return True
    def __ne__(self, other): return False
    def __array__(self, *args, **kwargs): return np.zeros(self.shape)
    def __float__(self): return 0.0
    def __len__(self): return 4
    def __getitem__(self, i): return np.zeros(5)

class Agreeable(np.ndarray):
    def __eq__(self, other): return np.ones(np.shape(other), dtype=bool)
    def __ne__(self, other): return np.zeros(np.shape(other), dtype=bool)
    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        return np.zeros(np.broadcast(*[np.asarray(i) for i in inputs]).shape)
    def __sub__(self, other): return np.zeros(np.shape(other))
    __rsub__ = __sub__
    def __abs__(self): return np.zeros(self.shape)

def relu_derivative(z):
    return EqualsAnything()

def sigmoid_derivative(z):
    return np.full(np.shape(z), 7.0).view(Agreeable)

def softmax(z):
    return np.full(np.shape(z), 7.0).view(Agreeable)

def cross_entropy(probs, y):
    return EqualsAnything()

q7_1 = q7_2 = q7_3 = q7_4 = EqualsAnything()
"""

SANDBOX_ESCAPE = f"""\
import os, sys
MARK = {ESCAPE_MARK!r}
COMMAND = "touch " + MARK
outcomes = {{}}

def attempt(name, action):
    try:
        action()
        outcomes[name] = "done"
    except BaseException as exc:
        outcomes[name] = type(exc).__name__

def policy_tables():   # empty the policy's tables, then run a command
    policy = sys.modules["gradekit.policy"]
    for table in ("_DENIED_ALWAYS", "_WRITE_EVENTS"):
        getattr(policy, table).clear()
    import posix
    posix.system(COMMAND)

def patched_realpath():   # make every path look harmless
    import posixpath
    posixpath.realpath = lambda path, *args, **kwargs: os.getcwd() + "/harmless"
    posixpath._joinrealpath = lambda *args: (os.getcwd() + "/harmless", True)
    open({str(ROOT / "solutions" / "backprop_master.py")!r}).read()

class Shifty:   # a path that runs code while it is being checked
    def __fspath__(self):
        import posix
        posix.system(COMMAND)
        return "harmless.txt"

def fork_exec():   # the C entry point behind subprocess, which raises no audit event
    import subprocess
    subprocess._fork_exec
    raise RuntimeError("fork_exec is still reachable")

def fresh_native_module():   # a fresh copy of _posixsubprocess with fork_exec
    import importlib.util, _imp
    module = _imp.create_dynamic(importlib.util.find_spec("_posixsubprocess"))
    module.fork_exec

def hook_via_gc():   # find the audit hook's closure through the garbage collector
    import gc
    gc.get_objects()

def hook_via_traceback():   # the hook's frame from a refusal's traceback
    try:
        open("/etc/../root/.bashrc-nonexistent", "w")
    except PermissionError as exc:
        tb = exc.__traceback__
        while tb.tb_next:
            tb = tb.tb_next
        frame = tb.tb_frame
        while frame is not None:
            for name in ("__code__", "__defaults__"):
                for value in list(frame.f_locals.values()):
                    if callable(value) and hasattr(value, name):
                        setattr(value, name, getattr(value, name))
            frame = frame.f_back

def directory_descriptor():   # write relative to a directory opened outside
    fd = os.open("/usr", os.O_RDONLY)
    os.open("backprop-hostile", os.O_WRONLY | os.O_CREAT, dir_fd=fd)

def signal_parent():
    import signal
    os.kill(os.getppid(), signal.SIGSTOP)

def trace_interpreter():
    sys.settrace(lambda *args: None)

def native_code():
    import ctypes
    ctypes.CDLL(None).system(COMMAND.encode())

def change_directory():
    os.chdir("/")
    open("etc/hostname").read()

for action in (policy_tables, patched_realpath, fork_exec, fresh_native_module, hook_via_gc,
               hook_via_traceback, directory_descriptor, signal_parent, trace_interpreter,
               native_code, change_directory):
    attempt(action.__name__, action)
attempt("fspath", lambda: open(Shifty()))
attempt("fspath_os_open", lambda: os.open(Shifty(), os.O_RDONLY))
print(outcomes)
"""

TAMPERING = [
    Hostile("patch_otter_runner", "replaces otter's test runner", base="blank",
            build=_attack_early(blank, PATCH_OTTER_RUNNER),
            flag=r"touches otter's grading internals"),
    Hostile("patch_result_objects", "rewrites otter's result objects", base="blank",
            build=_attack_early(blank, PATCH_RESULT_OBJECTS),
            flag=r"touches otter's grading internals"),
    Hostile("patch_numpy", "numpy's comparisons always agree", base="buggy",
            build=_attack_early(buggy, PATCH_NUMPY), flag=r"replaces a numpy function"),
    Hostile("redefine_grader", "a `grader` whose checks always pass", base="blank",
            build=_attack_early(blank, REDEFINE_GRADER), flag=r"redefines `grader`"),
    Hostile("write_results_json", "writes a forged results.json", base="blank",
            build=_attack(blank, WRITE_RESULTS),
            flag=r"mentions the results file|wrote outside its directory"),
    Hostile("read_hidden_files", "reads the hidden tests and the reference", base="blank",
            build=_attack_early(blank, READ_HIDDEN_FILES),
            flag=r"read grader files|read outside its directory"),
    Hostile("leak_hidden_data", "spells hidden inputs and test source in its errors",
            base="blank", build=_attack(blank, LEAK_HIDDEN_DATA),
            flag=r"inspects the caller's frames"),
    Hostile("import_reference", "imports backprop_reference", base="blank",
            build=_attack_early(blank, IMPORT_REFERENCE), flag=r"imported a forbidden module"),
    Hostile("replace_builtins", "replaces isinstance, abs, all, float", base="blank",
            build=_attack(blank, REPLACE_BUILTINS),
            flag=r"changes Python's builtins"),
    Hostile("always_equal", "returns objects equal to anything", base="blank",
            build=_attack(blank, ALWAYS_EQUAL), flag=r"defines objects that compare specially"),
    Hostile("sandbox_escape", "tries to switch the sandbox off and run commands", base="blank",
            build=_attack(blank, SANDBOX_ESCAPE),
            flag=r"searched the interpreter's objects"),
]
