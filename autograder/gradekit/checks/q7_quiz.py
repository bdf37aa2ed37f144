"""Question 7: the knowledge check."""

from __future__ import annotations

from typing import Any

from .compare import CheckFailed


ANSWER_LETTERS = ("a", "b", "c", "d")


def check_answer_format(answers: dict[str, Any]) -> None:
    bad = [name for name, value in answers.items()
           if not (isinstance(value, str) and value.strip().lower() in ANSWER_LETTERS)]
    if bad:
        raise CheckFailed(f"set {', '.join(bad)} to one of the strings \"a\", \"b\", \"c\" or "
                          "\"d\".", mistake="quiz_format")


def check_answers(answers: dict[str, Any], key: dict[str, str]) -> None:
    """Hidden: every answer right. The message never says which or how many are wrong."""
    if not all(isinstance(answers.get(n), str) and answers[n].strip().lower() == want
               for n, want in key.items()):
        raise CheckFailed("at least one knowledge-check answer is wrong.", mistake="quiz_wrong")
