"""Build everything students and Gradescope receive from the single master source.

    solutions/backprop_master.py  (jupytext percent: prompts, solutions, public + hidden tests)
        -> build/master/backprop.ipynb                  (jupytext)
        -> build/master/backprop_reference.py           (the solution code, for hidden tests)
        -> otter assign -> build/dist/{student,autograder}
        -> assignment/backprop.ipynb, assignment/tests/  (student notebook and public tests)
        -> solutions/backprop_solution.ipynb            (filled-in notebook, hidden)
        -> autograder/autograder.zip                    (Gradescope upload, stable name, with
                                                         setup.sh and the grading lock)
        -> assignment/backprop-student.zip              (what students download: one folder,
                                                         STUDENT_FOLDER)

Outputs are deterministic: fixed cell ids, sorted zip members with fixed timestamps, so
``make`` reproduces them byte for byte and the test suite can prove they are up to date.

Usage: python tools/build_assignment.py [--check]
"""

from __future__ import annotations

import argparse
import ast
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "autograder"))

from gradekit.python_version import IMAGE, dotted  # noqa: E402

import generated_prose  # noqa: E402
MASTER = ROOT / "solutions" / "backprop_master.py"
BUILD = Path(os.environ.get("BACKPROP_BUILD_DIR", ROOT / "build"))
NOTEBOOK_NAME = "backprop.ipynb"
DATA_FILE = ROOT / "data" / "mnist.npz"
GRADING_REQUIREMENTS = ROOT / "requirements" / "grading.in"
GRADING_LOCK = ROOT / "requirements" / "grading.txt"
STUDENT_REQUIREMENTS = ROOT / "assignment" / "requirements.txt"
STUDENT_README = ROOT / "assignment" / "README.md"
AUTOGRADER_DIR = ROOT / "autograder"
ZIP_EPOCH = (2020, 1, 1, 0, 0, 0)
# The student bundle unpacks into this one folder.
STUDENT_FOLDER = "backprop"

# Generated files (relative to ROOT) that are committed and must match a fresh build.
COMMITTED_OUTPUTS = [
    "assignment/backprop.ipynb",
    "solutions/backprop_solution.ipynb",
    "submissions/reference.ipynb",
    "submissions/blank.ipynb",
    "submissions/buggy_bias_gradient_mean.ipynb",
]

# otter's own entry point and its settings: grading runs gradekit (run_autograder), never them.
OTTER_RUNNER = ("run_otter.py", "otter_config.json")

# The bundled example of a buggy submission: the reference with one realistic mistake.
EXAMPLE_BUG = ("        self.db = grad_out.sum(axis=0)\n", "        self.db = grad_out.mean(axis=0)\n")


def support_files() -> list[str]:
    """The files students keep beside the notebook: the ``files:`` list of the master's
    assignment config, the one place it is written (otter ships them, the grader copies
    them into the worker from ``support_files.json``)."""
    names, inside = [], False
    for line in MASTER.read_text().split("# # ASSIGNMENT CONFIG\n", 1)[1].splitlines():
        if not line.startswith("#"):
            break
        entry = line[2:].rstrip()
        if entry.strip() == "files:":
            inside = True
        elif inside and entry.startswith("  - "):
            names.append(entry[4:].strip())
        elif inside:
            break
    return names


def support_paths() -> list[Path]:
    return [DATA_FILE if name == DATA_FILE.name else ROOT / "assignment" / name
            for name in support_files()]


# Modules of the checks the public copy beside the notebook leaves out: the reference maths
# (replaced by stored answers), the recorder of those answers and error carried forward (the
# correct network_backward and train_step, replaced by a stub that carries nothing).
GRADER_ONLY_CHECKS = ("reference.py", "stored.py", "carried.py")

# What the public copy's checks say where the grader would carry an error forward.
LOCAL_CARRY_NOTE = ("The check beside your notebook compares with the correct answers only. "
                    "If a check of a question this one builds on fails too, fix that one first: "
                    "Gradescope judges this question with your own functions from those "
                    "questions (error carried forward), where they run and return arrays of the "
                    "right shape that depend on their inputs.")


def carried_stub() -> bytes:
    """The public copy's ``carried.py``: its functions, each answering None (nothing carried)."""
    import ast

    tree = ast.parse((AUTOGRADER_DIR / "gradekit" / "checks" / "carried.py").read_text())
    names = [node.name for node in tree.body
             if isinstance(node, ast.FunctionDef) and not node.name.startswith("_")]
    lines = ['"""Beside the notebook nothing is carried forward (the grader\'s carried.py '
             'judges with the\nstudent\'s own lower-level functions)."""', "",
             f"NOTE = {LOCAL_CARRY_NOTE!r}", ""]
    for name in names:
        lines += ["", f"def {name}(*args, **kwargs):", "    return None", ""]
    return "\n".join(lines).encode()


def public_check_files(stub: Path) -> dict[str, Path | bytes]:
    """What the public tests import beside the notebook (``from gradekit import checks``): the
    checks, with ``stub`` (stored answers, see ``gradekit/checks/stored.py``) as their
    ``reference.py``."""
    files: dict[str, Path | bytes] = {"gradekit/__init__.py": b""}
    files.update({name: path for name, path in files_under(
        AUTOGRADER_DIR / "gradekit" / "checks", "gradekit/checks/").items()
        if Path(name).name not in GRADER_ONLY_CHECKS})
    files["gradekit/checks/reference.py"] = stub
    files["gradekit/checks/carried.py"] = carried_stub()
    return files


def record_answers(work: Path, tests: Path) -> Path:
    """Run the public tests on the reference (in ``work``, beside the support files) and store
    every answer they ask the reference maths for in ``tests/answers.npz``; returns the public
    copy's ``reference.py``."""
    stub = work / "public_reference.py"
    env = {**os.environ, "PYTHONPATH": str(AUTOGRADER_DIR), "OMP_NUM_THREADS": "1",
           "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    run([sys.executable, "-m", "gradekit.checks.stored", str(tests), str(tests / "answers.npz"),
         str(stub)], cwd=work, env=env)
    return stub


def run(cmd: list[str], **kwargs) -> None:
    subprocess.run(cmd, check=True, **kwargs)


def master_notebook(out_dir: Path) -> Path:
    """Convert the jupytext master to .ipynb (otter assign reads only notebooks), with each
    ``{{fact}}`` of its text written out (``generated_prose.py``)."""
    import jupytext

    text = generated_prose.expand(MASTER.read_text(), generated_prose.facts(), MASTER.name)
    nb = jupytext.reads(text, fmt="py:percent")
    path = out_dir / NOTEBOOK_NAME
    jupytext.write(nb, path, fmt="ipynb")
    return path


def reference_module(nb_path: Path) -> str:
    """The solution code as a module: every import, function and class outside test cells."""
    nb = nbformat.read(nb_path, as_version=4)
    chunks, in_tests = [], False
    for cell in nb.cells:
        source = cell.source
        if cell.cell_type == "raw":
            if "# BEGIN TESTS" in source:
                in_tests = True
            elif "# END TESTS" in source:
                in_tests = False
            continue
        if cell.cell_type != "code" or in_tests or "otter_ignore" in cell.metadata.get("tags", []):
            continue
        for node in ast.parse(source).body:
            if isinstance(node, ast.ImportFrom) and node.module == "diagnostics":
                continue   # the students' debugging tools: no graded code uses them
            if isinstance(node, (ast.Import, ast.ImportFrom, ast.FunctionDef, ast.ClassDef)):
                chunks.append(ast.unparse(node))
    header = ('"""Reference solution, generated from solutions/backprop_master.py by '
              '`make`. Do not edit.\n\nShipped only inside the autograder zip, where hidden '
              'tests compare against it."""\n')
    return header + "\n\n\n".join(chunks) + "\n"


def question_table(nb_path: Path) -> dict[str, dict]:
    """``{"q1": {"title": ..., "points": ...}, ...}`` from the master's question headers."""
    import re

    nb = nbformat.read(nb_path, as_version=4)
    table: dict[str, dict] = {}
    pending: str | None = None
    for cell in nb.cells:
        if cell.cell_type == "raw" and "# BEGIN QUESTION" in cell.source:
            config = dict(line.split(":", 1) for line in cell.source.splitlines()[1:] if ":" in line)
            pending = config["name"].strip()
            table[pending] = {"title": pending, "points": float(config["points"])}
        elif cell.cell_type == "markdown" and pending is not None:
            match = re.match(r"##\s*Question\s*[\w.]+:\s*(.+?)\s*\([\d.]+ points\)", cell.source)
            if match:
                table[pending]["title"] = match.group(1)
                pending = None
    return table


def environment_yml() -> str:
    """Gradescope's conda environment: only the Python version (with pip, which installs the
    grading lock; see autograder/setup.sh)."""
    return ("name: otter-env\nchannels:\n  - conda-forge\ndependencies:\n"
            f"  - python={dotted(IMAGE)}\n  - pip\n")


def stable_notebook(path: Path, prefix: str) -> None:
    """Rewrite a notebook with deterministic cell ids and no execution leftovers."""
    nb = nbformat.read(path, as_version=4)
    for i, cell in enumerate(nb.cells):
        cell["id"] = f"{prefix}-{i:03d}"
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    nbformat.write(nb, path)


def deterministic_zip(zip_path: Path, files: dict[str, Path | bytes]) -> None:
    """Write ``files`` (archive name -> path or bytes) with sorted names and fixed times."""
    zip_path.parent.mkdir(parents=True, exist_ok=True)
    tmp = zip_path.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as zf:
        for name in sorted(files):
            src = files[name]
            data = src if isinstance(src, bytes) else src.read_bytes()
            info = zipfile.ZipInfo(name, ZIP_EPOCH)
            executable = name in ("run_autograder", "setup.sh")
            info.external_attr = (0o755 if executable else 0o644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    tmp.replace(zip_path)


def files_under(base: Path, prefix: str) -> dict[str, Path]:
    return {f"{prefix}{p.relative_to(base).as_posix()}": p for p in sorted(base.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def build(out_root: Path) -> dict[str, Path]:
    """Run the whole pipeline; write outputs under ``out_root`` (ROOT for a real build)."""
    if not DATA_FILE.exists():
        raise SystemExit(f"{DATA_FILE} is missing: run `make data` first")
    work = BUILD / "master"
    dist = BUILD / "dist"
    for d in (work, dist):
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir(parents=True)
    nb_path = master_notebook(work)
    (work / "backprop_reference.py").write_text(reference_module(nb_path))
    for f in support_paths():
        shutil.copy(f, work / f.name)
    shutil.copy(GRADING_REQUIREMENTS, work / "requirements.txt")
    print("running otter assign...", flush=True)
    run([sys.executable, "-m", "otter", "assign", "--no-run-tests", "--no-pdfs",
         str(nb_path), str(dist)], cwd=work, stdout=subprocess.DEVNULL)

    student_nb = dist / "student" / NOTEBOOK_NAME
    print("recording the public checks' answers...", flush=True)
    stub = record_answers(work, dist / "student" / "tests")
    solution_nb = dist / "autograder" / NOTEBOOK_NAME
    stable_notebook(student_nb, "student")
    stable_notebook(solution_nb, "solution")
    # The filled notebook should look like a student's finished copy, otter metadata included.
    solution = nbformat.read(solution_nb, as_version=4)
    solution.metadata["otter"] = nbformat.read(student_nb, as_version=4).metadata["otter"]
    nbformat.write(solution, solution_nb)

    outputs: dict[str, Path] = {}
    # Student side: notebook, public tests, support code, data, requirements.
    assignment = out_root / "assignment"
    (assignment / "tests").mkdir(parents=True, exist_ok=True)
    for old in (assignment / "tests").glob("*.py"):
        old.unlink()
    shutil.copy(student_nb, assignment / NOTEBOOK_NAME)
    for test in sorted((dist / "student" / "tests").glob("*.*")):
        shutil.copy(test, assignment / "tests" / test.name)
        outputs[f"assignment/tests/{test.name}"] = assignment / "tests" / test.name
    outputs["assignment/backprop.ipynb"] = assignment / NOTEBOOK_NAME
    solutions = out_root / "solutions"
    solutions.mkdir(parents=True, exist_ok=True)
    shutil.copy(solution_nb, solutions / "backprop_solution.ipynb")
    outputs["solutions/backprop_solution.ipynb"] = solutions / "backprop_solution.ipynb"

    examples = out_root / "submissions"
    examples.mkdir(parents=True, exist_ok=True)
    shutil.copy(solution_nb, examples / "reference.ipynb")
    shutil.copy(student_nb, examples / "blank.ipynb")
    buggy = nbformat.read(solution_nb, as_version=4)
    for cell in buggy.cells:
        cell.source = cell.source.replace(*EXAMPLE_BUG)
    nbformat.write(buggy, examples / "buggy_bias_gradient_mean.ipynb")
    for name in ("reference.ipynb", "blank.ipynb", "buggy_bias_gradient_mean.ipynb"):
        outputs[f"submissions/{name}"] = examples / name

    student_files = {NOTEBOOK_NAME: student_nb, "requirements.txt": STUDENT_REQUIREMENTS,
                     "README.md": STUDENT_README}
    student_files.update({f.name: f for f in support_paths()})
    student_files.update(files_under(dist / "student" / "tests", "tests/"))
    student_files.update(public_check_files(stub))
    student_files = {f"{STUDENT_FOLDER}/{name}": src for name, src in student_files.items()}
    student_zip = out_root / "assignment" / "backprop-student.zip"
    deterministic_zip(student_zip, student_files)
    outputs["assignment/backprop-student.zip"] = student_zip

    # Gradescope side: otter's zip contents, with the kit's trusted grading layer added.
    otter_zip = next((dist / "autograder").glob("*.zip"))
    ag_files: dict[str, Path | bytes] = {}
    with zipfile.ZipFile(otter_zip) as zf:
        for name in zf.namelist():
            if not name.endswith("/") and name not in OTTER_RUNNER:
                ag_files[name] = zf.read(name)
    ag_files["run_autograder"] = (AUTOGRADER_DIR / "run_autograder").read_bytes()
    # The image: the kit's Python version and grading lock instead of otter's generic set-up.
    ag_files["setup.sh"] = (AUTOGRADER_DIR / "setup.sh").read_bytes()
    ag_files["environment.yml"] = environment_yml().encode()
    ag_files["requirements.txt"] = GRADING_LOCK.read_bytes()
    ag_files["questions.json"] = (json.dumps(question_table(nb_path), indent=2) + "\n").encode()
    ag_files["support_files.json"] = (json.dumps(support_files()) + "\n").encode()
    ag_files.update(files_under(AUTOGRADER_DIR / "gradekit", "gradekit/"))
    ag_zip = out_root / "autograder" / "autograder.zip"
    deterministic_zip(ag_zip, ag_files)
    outputs["autograder/autograder.zip"] = ag_zip
    return outputs


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the student and autograder outputs.")
    parser.add_argument("--check", action="store_true",
                        help="build into a temporary directory and fail if committed outputs differ")
    parser.add_argument("--out-root", type=Path, default=ROOT,
                        help="write outputs under this directory instead of the repository")
    args = parser.parse_args()
    if not args.check:
        for path in [*build(args.out_root).values(), *generated_prose.write(args.out_root)]:
            print(f"wrote {path}")
        return
    with tempfile.TemporaryDirectory() as tmp:
        outputs = build(Path(tmp))
        # answers.npz is left out: its float64 answers may differ in the last bit on another
        # machine's BLAS (the public checks' tolerances are far wider)
        committed = COMMITTED_OUTPUTS + [n for n in outputs if n.startswith("assignment/tests/")
                                         and n.endswith(".py")]
        stale = [name for name in committed
                 if not (ROOT / name).exists()
                 or outputs[name].read_bytes() != (ROOT / name).read_bytes()]
    stale += generated_prose.stale()
    if stale:
        raise SystemExit("out of date (run `make assign`): " + ", ".join(stale))
    print("generated files are up to date")


if __name__ == "__main__":
    main()
