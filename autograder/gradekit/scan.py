"""Static signs of tampering in a submission's code, reported to the instructor only.

These do not change a score (the trusted grader already ignores anything the notebook does
to its own process); they tell staff which submissions tried, so academic-integrity cases
do not depend on luck.
"""

from __future__ import annotations

import re

PATTERNS: list[tuple[str, str]] = [
    (r"\botter\.(test_files|execute|run|check)\b|\bGradingResults\b|\bTestCaseResult\b|\bChecker\b",
     "touches otter's grading internals"),
    (r"\bgrader\s*=(?!\s*otter\.Notebook\()", "redefines `grader`"),
    (r"results\.(json|pkl)", "mentions the results file"),
    (r"\bnp\.(allclose|isclose|isfinite|array_equal|testing)\s*=|numpy\.\w+\s*=",
     "replaces a numpy function"),
    (r"\bbuiltins\b|__builtins__", "changes Python's builtins"),
    (r"def\s+__eq__\s*\(|__array_priority__|__array_ufunc__",
     "defines objects that compare specially"),
    (r"backprop_reference|/autograder|\btests/\w+\.py\b", "reaches for grader files"),
    (r"\bsys\.modules\b|\bimportlib\b", "manipulates imported modules"),
    (r"\bctypes\b|_posixsubprocess|\bos\.(fork|exec|system|kill)", "escapes the Python sandbox"),
    (r"\bsys\.addaudithook\b|\bgc\.get_(objects|referrers)\b", "inspects the interpreter"),
    (r"\binspect\.(stack|currentframe|getouterframes|trace)\b|\bsys\._getframe\b|"
     r"\.f_back\b|\.tb_frame\b|\.f_locals\b", "inspects the caller's frames"),
]
_COMPILED = [(re.compile(p), why) for p, why in PATTERNS]


def suspicious(cells: dict[int, str]) -> list[str]:
    """Human-readable reasons, each with the first line that triggered it (``cells``: code
    cells by number, ``submission.Submission.cells``)."""
    reasons = []
    for regex, why in _COMPILED:
        for number, cell in cells.items():
            match = regex.search(cell)
            if match:
                line = cell[:match.start()].count("\n") + 1
                snippet = cell.splitlines()[line - 1].strip()[:80]
                reasons.append(f"{why} (cell {number}, line {line}: {snippet})")
                break
    return reasons
