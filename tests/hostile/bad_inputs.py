"""Broken submissions: each must get a valid result with a clear status and message.

Time limits in these tests are small (see ``LIMITS`` in ``tests/test_hostile.py``): a notebook
cell gets 6 s, one call into student code 2 s.
"""

from __future__ import annotations

import json

import nbformat

from . import Hostile, blank, copy_of, reference, replaced, with_cell

SOFTMAX_FIRST_LINE = "    shifted = z - np.max(z, axis=-1, keepdims=True)"
SIGMOID_DERIVATIVE_BODY = "    s = sigmoid(z)\n    return s * (1 - s)"
# A file outside every submission that the destructive notebook tries to change.
SENTINEL_DIR = "/tmp/backprop-hostile-sentinel"


def _one_question_raises():
    return replaced(reference(), SIGMOID_DERIVATIVE_BODY,
                    "    raise ValueError('sigmoid_derivative is not finished')")


def _loop_in_function():
    return replaced(reference(), SOFTMAX_FIRST_LINE,
                    "    while True:\n        pass\n" + SOFTMAX_FIRST_LINE)


UNSTOPPABLE = """\
# keeps running when interrupted: only killing the process stops it
while True:
    try:
        while True:
            pass
    except BaseException:
        pass
"""


def _memory_hog():
    nb = replaced(reference(), "    return (z > 0).astype(z.dtype)",
                  "    waste = np.ones((200_000, 100_000))\n    return (z > 0).astype(z.dtype)")
    return with_cell(nb, "hoard = []\nwhile True:   # 256 MB more each time, until refused\n"
                         "    hoard.append(np.empty(2**28, dtype=np.uint8))\n")


def _nan_and_inf():
    nb = replaced(reference(), "    return exp / np.sum(exp, axis=-1, keepdims=True)",
                  "    return np.full(z.shape, np.nan)")
    return replaced(nb, "    return float(-np.mean(np.sum(y * log_probs, axis=-1)))",
                    "    return float('inf')")


def _wrong_types():
    nb = replaced(reference(), "    return (z > 0).astype(z.dtype)",
                  "    return (z > 0).astype(z.dtype).tolist()")
    nb = replaced(nb, "    return float(-np.mean(np.sum(y * log_probs, axis=-1)))",
                  "    return np.array([-np.mean(np.sum(y * log_probs, axis=-1))])")
    nb = replaced(nb, "        return x @ self.W + self.b",
                  "        return (row for row in x @ self.W + self.b)")
    return replaced(nb, 'q7_1 = "b"', "q7_1 = 2")


def _other_kernel():
    nb = copy_of(reference())
    nb.metadata["kernelspec"] = {"name": "ir", "display_name": "R", "language": "R"}
    nb.metadata["language_info"] = {"name": "R", "version": "4.3.1"}
    return nb


def _without_otter_metadata():
    nb = copy_of(reference())
    del nb.metadata["otter"]
    return nb


def _enormous_output():
    nb = copy_of(reference())
    first_code = next(c for c in nb.cells if c.cell_type == "code")
    first_code.outputs = [nbformat.v4.new_output("stream", name="stdout", text="x" * 40_000_000)]
    return with_cell(nb, "for _ in range(30):\n    print('y' * 1_000_000)\n")


DESTRUCTIVE = f"""\
import json, os, shutil
SENTINEL = {SENTINEL_DIR!r}
attempts = []

def attempt(what, action):
    try:
        action()
        attempts.append(what + ": done")
    except Exception as exc:
        attempts.append(what + ": " + type(exc).__name__)

try:   # the grader's source folder, from the worker's own command line
    source = json.loads(open("/proc/self/cmdline").read().split("\\0")[-2])["hidden_roots"][0]
except Exception:
    source = "/autograder/source"
attempt("delete its own data", lambda: os.remove("mnist.npz"))
attempt("write the sentinel", lambda: open(SENTINEL + "/pwned.txt", "w").write("x"))
attempt("delete the sentinel", lambda: os.remove(SENTINEL + "/keep.txt"))
attempt("remove the sentinel folder", lambda: shutil.rmtree(SENTINEL))
attempt("delete the grader's data", lambda: os.remove(source + "/files/mnist.npz"))
attempt("change the grader's checks", lambda: open(source + "/gradekit/checks/reference.py", "a").write("#"))
attempt("empty a test", lambda: open(source + "/tests/q1.py", "w").close())
attempt("write to /tmp", lambda: open("/tmp/backprop-hostile-write.txt", "w").write("x"))
raise RuntimeError("; ".join(attempts))
"""

BAD_INPUTS = [
    Hostile("syntax_error", "a cell with a syntax error", base="reference",
            build=lambda: with_cell(reference(), "def broken(:\n    pass\n"),
            message=r"\bcell \d+: error: your code raised SyntaxError"),
    Hostile("exception_in_one_question", "sigmoid_derivative raises", base="reference",
            build=_one_question_raises, below_full=("q1", "q4", "q5"),
            message=r"raised ValueError \(cell \d+, line \d+\)[\s\S]{0,300}sigmoid_derivative "
                    r"is not finished"),
    Hostile("endless_loop_cell", "`while True: pass` at top level", base="reference",
            build=lambda: with_cell(reference(), "while True:\n    pass\n"), status="timeout",
            message=r"\bcell \d+: timeout: .*did not finish within 6 s, the time limit for "
                    r"one notebook cell"),
    Hostile("endless_loop_in_function", "softmax never returns", base="reference",
            build=_loop_in_function, status="timeout", below_full=("q2", "q5", "q6"),
            message=r"q2: .*did not finish within 2 s, the time limit for one call into your "
                    r"code"),
    Hostile("unstoppable_loop", "a loop that swallows the interrupt", base="reference",
            build=lambda: with_cell(reference(), UNSTOPPABLE), status="timeout",
            message=r"\bcell \d+: timeout: .*did not finish within 6 s"),
    Hostile("memory_hog", "allocates without bound, in a cell and in relu_derivative",
            base="reference", build=_memory_hog, below_full=("q1", "q4", "q5", "q6"),
            message=r"\bcell \d+: error: your code raised MemoryError.*ran out of memory "
                    r"\(the limit is \d+ MB"),
    Hostile("sys_exit", "calls sys.exit()", base="reference",
            build=lambda: with_cell(reference(), "import sys\nsys.exit('bye')\n"),
            message=r"\bcell \d+: error: your code raised SystemExit"),
    Hostile("os_exit", "calls os._exit(3)", base="reference",
            build=lambda: with_cell(reference(), "import os\nos._exit(3)\n"), status="crashed",
            message=r"\bcell \d+: crashed: .*exited with code 3"),
    Hostile("abort_crash", "kills its process with os.abort()", base="reference",
            build=lambda: with_cell(reference(), "import os\nos.abort()\n"), status="crashed",
            message=r"\bcell \d+: crashed: .*SIGABRT"),
    # Comparing two deep lists recurses in C with no per-level search (repr's cycle check made
    # reaching the overflow take about 3 s on a busy machine): about 0.4 s on a loaded 2-core
    # machine, and 4x the depth that overflows an 8 MB stack.
    Hostile("deep_recursion", "recursion that overflows the C stack", base="reference",
            build=lambda: with_cell(reference(), "import sys\nsys.setrecursionlimit(10**8)\n"
                                    "a, b = [], []\nfor _ in range(2 * 10**5):\n"
                                    "    a, b = [a], [b]\na == b\n"),
            status="crashed", message=r"\bcell \d+: crashed: .*(SIGSEGV|crash)"),
    Hostile("nan_and_inf", "softmax returns nan, cross_entropy inf", base="reference",
            build=_nan_and_inf, below_full=("q2", "q5", "q6"), message=r"nan/inf"),
    Hostile("missing_function", "softmax renamed to soft_max", base="reference",
            build=lambda: replaced(reference(), "def softmax(z):", "def soft_max(z):"),
            below_full=("q2", "q5", "q6"), message=r"`softmax` is not defined"),
    Hostile("wrong_return_types", "a list, an array, a generator and an int", base="reference",
            # q4 keeps its points: its check feeds each layer itself and never uses the
            # generator the broken forward returns
            build=_wrong_types, below_full=("q1", "q2", "q3", "q5", "q6", "q7"),
            message=r"should return a numpy array, but it returned list"),
    Hostile("other_kernel_name", "saved from an R kernel", base="reference",
            build=_other_kernel, message=r"saved with kernel 'ir'; graded with Python 3"),
    Hostile("renamed_notebook", "uploaded under another name", base="reference",
            build=reference, filename="My Backprop FINAL (2).ipynb"),
    Hostile("wrong_extension", "a notebook uploaded as .json", base="reference",
            build=reference, filename="backprop.json"),
    Hostile("no_otter_metadata", "copied into a new notebook", base="reference",
            build=_without_otter_metadata, message=r"has no otter metadata"),
    Hostile("empty_file", "0 bytes", base="-", build=lambda: b"", status="error",
            message=r"is empty \(0 bytes\)"),
    Hostile("not_a_notebook", "a PDF named .ipynb", base="-",
            build=lambda: b"%PDF-1.4\n" + bytes(range(256)) * 4, status="error",
            message=r"is not a Jupyter notebook"),
    Hostile("deeply_nested_json", "JSON nested 100,000 levels deep", base="-",
            build=lambda: b"[" * 100_000 + b"]" * 100_000, status="error",
            message=r"is not a Jupyter notebook"),
    Hostile("broken_cells", "cells whose source is not text", base="blank",
            build=lambda: json.dumps({**json.loads(nbformat.writes(blank())), "cells": [
                {"cell_type": "code", "source": 42, "metadata": {}, "outputs": []},
                *json.loads(nbformat.writes(blank()))["cells"]]}).encode(),
            message=r"1 code cell\(s\) had no readable source"),
    Hostile("enormous_output", "40 MB of saved output, 30 MB printed", base="reference",
            build=_enormous_output),
    Hostile("destructive", "writes outside its folder, deletes the data", base="reference",
            build=lambda: with_cell(reference(), DESTRUCTIVE),
            message=r"delete its own data: done",
            flag=r"wrote outside its directory|changed files outside its directory"),
]
