"""Every piece of a question is registered where the kit looks for it; a missing one fails
with a message that names it (``registration_problems``, also run on a scaffolded copy by
``tests/test_new_question.py``).

* a check the master's tests call is exported by ``gradekit.checks`` (``checks/__init__.py``:
  imported there and listed in ``__all__``);
* every mistake id a check can name is in ``MISTAKES`` (``checks/mistakes.py``);
* every check a public test runs with a ``seed`` is in ``PUBLIC_CHECKS``
  (``tests/test_grading_properties.py``), which proves it never fails the reference;
* every question has a hidden test and a catalogue entry that loses its points.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

from conftest import ROOT

CHECKS = "autograder/gradekit/checks"
MASTER = "solutions/backprop_master.py"
IDENTIFIER = re.compile(r"[a-z][a-z0-9_]*")


def master_tests(root: Path) -> dict[str, list[tuple[bool, str]]]:
    """``{question: [(hidden, test cell source), ...]}`` from the master."""
    text = (root / MASTER).read_text()
    found: dict[str, list[tuple[bool, str]]] = {}
    for block in text.split("# # BEGIN QUESTION\n")[1:]:
        name = re.match(r"# name: (\S+)", block).group(1)
        tests = block.split("# # BEGIN TESTS\n", 1)[1].split("# # END TESTS\n", 1)[0]
        cells = [c for c in tests.split("# %%") if "def test_" in c]
        found[name] = [("hidden: true" in c, c) for c in cells]
    return found


def exported(root: Path) -> set[str]:
    """Names ``checks/__init__.py`` imports and lists in ``__all__``."""
    tree = ast.parse((root / CHECKS / "__init__.py").read_text())
    imported = {alias.asname or alias.name for node in ast.walk(tree)
                if isinstance(node, ast.ImportFrom) for alias in node.names}
    listed = next((set(ast.literal_eval(n.value)) for n in tree.body if isinstance(n, ast.Assign)
                   and any(getattr(t, "id", "") == "__all__" for t in n.targets)), set())
    return imported & listed


def defined_checks(root: Path) -> dict[str, str]:
    """``{check_x: module file}`` for every top-level ``check_*`` function."""
    found = {}
    for path in sorted((root / CHECKS).glob("*.py")):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.FunctionDef) and node.name.startswith("check_"):
                found[node.name] = path.name
    return found


def named_mistakes(root: Path) -> dict[str, str]:
    """``{mistake id: module file}`` for every id a check passes as ``mistake=`` or as the
    last of a ``(description, value, id)`` triple."""
    found = {}
    for path in sorted((root / CHECKS).glob("*.py")):
        if path.name == "mistakes.py":
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            ids = []
            if isinstance(node, ast.keyword) and node.arg == "mistake":
                ids = [node.value]
            elif isinstance(node, ast.Tuple) and len(node.elts) == 3:
                first = node.elts[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str) \
                        and " " in first.value or isinstance(first, ast.JoinedStr):
                    ids = [node.elts[2]]
            for value in ids:
                if isinstance(value, ast.Constant) and isinstance(value.value, str) \
                        and IDENTIFIER.fullmatch(value.value):
                    found.setdefault(value.value, path.name)
    return found


def mistake_ids(root: Path) -> set[str]:
    tree = ast.parse((root / CHECKS / "mistakes.py").read_text())
    table = next(n.value for n in tree.body if isinstance(n, ast.Assign)
                 and any(getattr(t, "id", "") == "MISTAKES" for t in n.targets))
    return set(ast.literal_eval(table))


def public_checks_proven(root: Path) -> set[str]:
    text = (root / "tests" / "test_grading_properties.py").read_text()
    table = text.split("PUBLIC_CHECKS = {", 1)[1].split("\n}\n", 1)[0]
    return set(re.findall(r"\bc\.(check_\w+)", table))


def catalogue_losses(root: Path) -> set[str]:
    text = (root / "tests" / "catalogue" / "entries.py").read_text()
    lost = set()
    for call in re.finditer(r"\b(?:bug|shortcut)\(\s*\"[^\"]+\",\s*(?:\"[^\"]*\"\s*)+,\s*\"([^\"]+)\"",
                            text):
        lost.update(call.group(1).split())
    return lost


def registration_problems(root: Path) -> list[str]:
    problems = []
    tests = master_tests(root)
    registered, defined = exported(root), defined_checks(root)
    for question, cells in tests.items():
        for hidden, cell in cells:
            for check in re.findall(r"\bchecks\.(check_\w+)", cell):
                if check not in defined:
                    problems.append(f"{check} is called by {question}'s tests but defined in "
                                    f"no module of {CHECKS}")
                elif check not in registered:
                    problems.append(f"{check} is called by {question}'s tests but not registered "
                                    f"in {CHECKS}/__init__.py (imported and in __all__)")
                if not hidden and "seed=" in cell and check not in public_checks_proven(root):
                    problems.append(f"{check} runs in a public test of {question} but is not in "
                                    "PUBLIC_CHECKS (tests/test_grading_properties.py): nothing "
                                    "proves it never fails correct code")
        if not any(hidden for hidden, _ in cells):
            problems.append(f"{question} has no hidden test")
        if question not in catalogue_losses(root):
            problems.append(f"no catalogue entry (tests/catalogue/entries.py) loses {question}'s "
                            "points")
    known = mistake_ids(root)
    for mistake, module in named_mistakes(root).items():
        if mistake not in known:
            problems.append(f"mistake id {mistake!r} ({CHECKS}/{module}) is not in MISTAKES "
                            f"({CHECKS}/mistakes.py)")
    return problems


def test_every_piece_of_every_question_is_registered():
    problems = registration_problems(ROOT)
    assert not problems, "\n".join(problems)


def test_a_forgotten_registration_is_named(tmp_path):
    """Each kind of registration removed from a copy is reported by name."""
    for folder in (CHECKS, "tests/catalogue", "solutions"):
        (tmp_path / folder).mkdir(parents=True)
    for name in [*(f"{CHECKS}/{p.name}" for p in (ROOT / CHECKS).glob("*.py")),
                 "tests/catalogue/entries.py", "tests/test_grading_properties.py", MASTER]:
        (tmp_path / name).write_text((ROOT / name).read_text())
    init = tmp_path / CHECKS / "__init__.py"
    init.write_text(init.read_text().replace('"check_relu_derivative", ', ""))
    mistakes = tmp_path / CHECKS / "mistakes.py"
    mistakes.write_text(re.sub(r'\n    "relu_mask_inverted": .*', "", mistakes.read_text()))
    properties = tmp_path / "tests" / "test_grading_properties.py"
    properties.write_text(re.sub(r'\n    "sigmoid_derivative": lambda[^\n]*\n[^\n]*\n', "\n",
                                 properties.read_text()))
    text = "\n".join(registration_problems(tmp_path))
    for expected in ("check_relu_derivative is called by q1's tests but not registered",
                     "mistake id 'relu_mask_inverted'",
                     "check_sigmoid_derivative runs in a public test of q1 but is not in "
                     "PUBLIC_CHECKS"):
        assert expected in text, f"not reported: {expected}\n{text}"
