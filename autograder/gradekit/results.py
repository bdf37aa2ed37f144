"""Turn graded test cases into Gradescope's ``results.json``.

Students see, per question: the score, every public test with its full message, and for each
hidden test only whether it passed and its author's fixed failure message. Instructors
additionally see (in a hidden entry and in ``extra_data``) the full hidden-test messages, the
tamper flags and the isolation level student code ran at (``isolation.py``).
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .sandbox import CellOutcome
from .verify import CaseResult


ISOLATION_MEANS = {
    "namespaces": "bubblewrap sandbox: own file view, no network, own processes",
    "user": "a user of its own in a chroot; network not blocked",
    "none": "the grading user's rights; only in-process checks, which code can switch off",
    "unavailable": "student code was not run",
}


# Control characters (but newline and tab) and the bidirectional overrides: student text (an
# exception message, a file name) must not rewrite the terminal or page that shows it.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


def printable(value):
    """``value`` (text, or lists and dicts of it) with control characters written ``\\xNN``."""
    if isinstance(value, str):
        return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}" if ord(m.group()) < 256
                            else f"\\u{ord(m.group()):04x}", value)
    if isinstance(value, list):
        return [printable(v) for v in value]
    if isinstance(value, dict):
        return {k: printable(v) for k, v in value.items()}
    return value


def shorten(text: str, limit: int) -> str:
    """``text`` cut to at most ``limit`` characters at a word boundary, marked with "…"."""
    if len(text) <= limit:
        return text
    cut = text[:limit - 1].rsplit(" ", 1)[0].rstrip(" ,;:")
    return cut + "…"


@dataclass
class Report:
    questions: dict[str, dict]
    cases: list[CaseResult] = field(default_factory=list)
    cells: list[CellOutcome] = field(default_factory=list)
    flags: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    restarts: int = 0
    error: str | None = None
    internal: list[str] = field(default_factory=list)   # instructor-only diagnostics
    isolation: str = "unavailable"   # namespaces | user | none (isolation.LEVELS)
    isolation_why: str = ""          # why no stronger level was available
    isolation_uid: int | None = None  # the user id student code ran as, if one of its own
    grading_secret: str = ""          # what q6's run was drawn from (BACKPROP_GRADING_SECRET)

    # -- inputs -----------------------------------------------------------
    def fail_submission(self, message: str) -> None:
        self.error = message

    def add_violations(self, violations: list[dict], where: str) -> None:
        for v in violations:
            flag = f"{where}: {v['kind']} ({v['detail']})"
            if flag not in self.flags:
                self.flags.append(flag)

    # -- derived ----------------------------------------------------------
    @property
    def max_score(self) -> float:
        return float(sum(q["points"] for q in self.questions.values()))

    def question_score(self, name: str) -> float:
        return round(sum(c.points for c in self.cases if c.question == name and c.passed), 4)

    @property
    def score(self) -> float:
        return round(sum(self.question_score(q) for q in self.questions), 4)

    @property
    def status(self) -> str:
        """ok | timeout (a time limit was hit) | crashed (the worker died) | error (not graded)."""
        if self.error is not None or not self.cases:
            return "error"
        if any(c.status == "timeout" for c in self.cells) or any(c.timed_out for c in self.cases):
            return "timeout"
        if any(c.status == "crashed" for c in self.cells) or any(c.crashed for c in self.cases):
            return "crashed"
        return "ok"

    def problems(self, leave_out: tuple[str, ...] = ()) -> list[str]:
        """Short student-facing lines: the notebook's own cells that failed, then the first
        test of each question (but ``leave_out``) that hit a time limit or stopped the worker
        (for a hidden test, its one fixed sentence)."""
        lines = []
        for cell in self.cells:
            if cell.status != "ok":
                first = cell.message.strip().splitlines()[0] if cell.message.strip() else ""
                lines.append(f"cell {cell.number}: {cell.status}: {first}"[:300])
        for name in (q for q in self.questions if q not in leave_out):
            stopped = [c for c in self.cases if c.question == name and (c.timed_out or c.crashed)]
            if stopped:   # a hidden case's safe message is one fixed sentence for any stop
                shown = stopped[0].safe_message if stopped[0].hidden else stopped[0].message
                lines.append(shorten(f"{name}: {shown.splitlines()[0]}", 300))
        return lines

    def summary(self) -> str:
        """One line for the instructor's grade table: why this result is what it is."""
        parts = [self.error] if self.error else []
        parts += self.problems()[:4] + self.notes[:2]
        lost = [f"{q} {self.question_score(q):g}/{v['points']:g}" for q, v in self.questions.items()
                if self.error is None and self.question_score(q) < v["points"] - 1e-9]
        if lost and len(lost) < len(self.questions):
            parts.append("points lost on " + ", ".join(lost))
        return shorten("; ".join(parts), 400) or "graded"

    def after_due_date(self, name: str) -> bool:
        """A question whose points all come from hidden tests (the knowledge check): its
        score would tell the hidden result, so students see it only after the due date."""
        cases = [c for c in self.cases if c.question == name]
        return bool(cases) and all(c.hidden or c.points == 0 for c in cases)

    def mistakes(self) -> list[dict]:
        """The mistakes the failed checks named (instructors' class reports count these), each
        once per question however many of its checks recognised it (``test``: the first)."""
        found: dict[tuple[str, str], dict] = {}
        for c in self.cases:
            if not c.passed and c.mistake and (c.question, c.mistake) not in found:
                found[c.question, c.mistake] = {"id": c.mistake, "title": c.mistake_title,
                                                "question": c.question, "test": c.name}
        return list(found.values())

    # -- output -----------------------------------------------------------
    def question_output(self, name: str) -> str:
        lines = []
        for case in (c for c in self.cases if c.question == name):
            mark = "passed" if case.passed else "FAILED"
            if case.hidden:   # named as in the instructor notes
                text = f"hidden test {case.name}: {mark}"
                if not case.passed:
                    text += f": {case.safe_message}"
            else:
                text = f"public test {case.name}: {mark}"
                if not case.passed:
                    text += "\n    " + case.message.replace("\n", "\n    ")
            lines.append(text)
        return "\n".join(lines) if lines else "not graded (see the summary above)"

    def to_gradescope(self, seconds: float) -> dict:
        """Gradescope's results, every text escaped (``printable``)."""
        tests = []
        for number, (name, q) in enumerate(self.questions.items(), start=1):
            score = self.question_score(name) if self.error is None else 0.0
            tests.append({
                "name": f"{name}: {q['title']}", "number": str(number), "score": score,
                "max_score": float(q["points"]),
                "status": "passed" if score >= q["points"] - 1e-9 else "failed",
                "output": self.error and "not graded" or self.question_output(name),
                "output_format": "text", "tags": [], "extra_data": {},
                "visibility": "after_due_date" if self.after_due_date(name) else "visible",
            })
        instructor = [f"status: {self.status}"]
        instructor += [f"FLAG: {f}" for f in self.flags] or ["no tamper flags"]
        instructor += [f"note: {n}" for n in self.notes + self.internal]
        instructor.append(f"isolation: {self.isolation} ({ISOLATION_MEANS.get(self.isolation, '')})"
                          + (f"; stronger levels unavailable: {self.isolation_why}"
                             if self.isolation_why else ""))
        for case in self.cases:
            if case.hidden and not case.passed:
                instructor.append(f"hidden test {case.name}: {case.message}")
        tests.append({
            "name": "Instructor notes (hidden from students)", "number": str(len(tests) + 1),
            "score": 0.0, "max_score": 0.0, "status": "failed" if self.flags else "passed",
            "output": "\n".join(instructor), "output_format": "text", "tags": [],
            "visibility": "hidden", "extra_data": {},
        })
        later = [n for n in self.questions if self.after_due_date(n)]
        if later and self.error is None:
            shown = [n for n in self.questions if n not in later]
            summary = [f"Score without {', '.join(later)} (shown after the due date): "
                       f"{sum(self.question_score(n) for n in shown):g} / "
                       f"{sum(self.questions[n]['points'] for n in shown):g}"]
        else:
            summary = [f"Score: {self.score if self.error is None else 0:g} / "
                       f"{self.max_score:g}"]
        if self.error is not None:
            summary.append(f"Your submission could not be graded: {self.error}")
        summary += self.problems(leave_out=tuple(later))   # its stops would tell its result
        summary += [f"Note: {n}" for n in self.notes]
        return printable({
            "score": self.score if self.error is None else 0.0,
            "execution_time": round(seconds, 2),
            "output": "\n".join(summary),
            "output_format": "text",
            "visibility": "visible",
            "stdout_visibility": "hidden",
            "extra_data": {
                "status": self.status, "summary": self.summary(), "max_score": self.max_score,
                "isolation": self.isolation, "isolation_uid": self.isolation_uid,
                "grading_secret": self.grading_secret,
                "flags": self.flags, "internal": self.internal,
                "notes": self.notes, "error": self.error, "restarts": self.restarts,
                "questions": {n: self.question_score(n) if self.error is None else 0.0
                              for n in self.questions},
                "cells": [asdict(c) for c in self.cells],
                "cases": [dict(asdict(c), message=c.safe_message) if c.hidden else asdict(c)
                          for c in self.cases],
                "mistakes": self.mistakes(),
            },
            "tests": tests,
            "leaderboard": [],
        })

    def write(self, path: Path, seconds: float) -> dict:
        data = self.to_gradescope(seconds)
        tmp = path.with_suffix(".tmp")
        # errors="replace": lone surrogates from student text must not make invalid JSON
        tmp.write_bytes(json.dumps(data, indent=2, ensure_ascii=False).encode("utf-8", "replace"))
        os.replace(tmp, path)
        return data
