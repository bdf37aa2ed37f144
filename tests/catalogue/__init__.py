"""The catalogue of graded variants: realistic bugs and correct-but-different solutions.

Every entry is the reference solution notebook with a few text replacements (``edits``).
``loses`` is the exact set of questions that must lose points (empty for a correct variant)
and ``words`` are phrases the student-visible feedback must contain. The table itself is in
``entries.py``; ``notebook_for`` builds an entry's notebook.
"""

from __future__ import annotations

from .entries import (BUGS, CORRECT, ENTRIES, SHORTCUTS, Entry, cross_question_loss,
                      notebook_for)

__all__ = ["BUGS", "CORRECT", "ENTRIES", "SHORTCUTS", "Entry", "cross_question_loss",
           "notebook_for"]
