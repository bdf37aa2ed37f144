"""Text from submissions made safe for the tools TAs read it with.

Names of uploads, student names and messages can hold anything: escape sequences that rewrite a
terminal, newlines that forge CSV lines, formula-leading cells a spreadsheet would run, bytes
that are not UTF-8. ``printable`` escapes every control character (and the bidirectional
overrides that reorder text on screen); ``csv_cell`` also neutralises a cell beginning with
``=``, ``+``, ``-``, ``@``, tab or carriage return by prefixing a single quote, as OWASP's
"CSV injection" page recommends; ``file_name`` shows any bytes of a file name as text.
"""

from __future__ import annotations

import os
import re

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e"
                      r"\u2066-\u2069\ud800-\udfff]")
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def _escape(match: re.Match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def printable(text: str, keep: str = "") -> str:
    """``text`` with every control character except those in ``keep`` written as ``\\xNN``."""
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else _escape(m), str(text))


def csv_cell(value):
    """A CSV cell: text escaped to one line and never read as a formula; numbers unchanged."""
    if not isinstance(value, str):
        return value
    if value.startswith(FORMULA_START):
        value = "'" + value
    return printable(value)


def file_name(name: str) -> str:
    """A file name as printable text: bytes that are not UTF-8 become ``\\xNN``."""
    return printable(os.fsencode(name).decode("utf-8", "backslashreplace"))
