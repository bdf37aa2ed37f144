"""Reading a submission: whatever arrives, either a clean notebook or a clear reason why not."""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import nbformat

MAX_SUBMISSION_BYTES = 100 * 2**20
MAX_CODE_CHARS = 2_000_000
IGNORE_TAG = "otter_ignore"
ASSIGNMENT_NAME = "backprop"


class SubmissionError(Exception):
    """The submission cannot be graded at all; the message is shown to the student."""


@dataclass
class Submission:
    path: Path
    notebook: nbformat.NotebookNode
    code_cells: list[str]
    notes: list[str] = field(default_factory=list)


def find_notebook(folder: Path) -> Path:
    """The one notebook in an upload folder (a single .zip holding one is unpacked first)."""
    notebooks = sorted(p for p in folder.rglob("*.ipynb")
                       if ".ipynb_checkpoints" not in p.parts and not p.name.startswith("._"))
    if not notebooks:
        zips = sorted(folder.glob("*.zip"))
        if len(zips) == 1:
            return notebook_from_zip(zips[0])
        others = sorted(p.name for p in folder.iterdir())[:5]
        raise SubmissionError("no .ipynb notebook found in the submission"
                              + (f" (found: {', '.join(others)})" if others else ""))
    if len(notebooks) > 1:
        names = ", ".join(p.name for p in notebooks[:5])
        raise SubmissionError(f"more than one notebook in the submission ({names}); upload one")
    return notebooks[0]


def notebook_from_zip(zip_path: Path) -> Path:
    try:
        with zipfile.ZipFile(zip_path) as zf:
            names = [n for n in zf.namelist() if n.endswith(".ipynb")
                     and "__MACOSX" not in n and ".ipynb_checkpoints" not in n]
            if len(names) != 1:
                raise SubmissionError(f"{zip_path.name} should hold exactly one notebook, "
                                      f"found {len(names)}")
            info = zf.getinfo(names[0])
            if info.file_size > MAX_SUBMISSION_BYTES:
                raise SubmissionError("the notebook inside the zip is larger than 100 MB")
            target = zip_path.parent / "_unzipped_submission.ipynb"
            target.write_bytes(zf.read(names[0]))
            return target
    except zipfile.BadZipFile:
        raise SubmissionError(f"{zip_path.name} is not a valid zip file") from None


def load(path: Path) -> Submission:
    """Parse and validate ``path``; raise ``SubmissionError`` with a student-facing reason."""
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError(f"{path.name} is empty (0 bytes): save the notebook and upload "
                              "it again")
    if size > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{path.name} is {size / 2**20:.0f} MB; clear the outputs "
                              "(Kernel > Restart & Clear Output), save and upload again")
    raw = path.read_bytes()
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise SubmissionError(f"{path.name} is not a Jupyter notebook (it is not valid "
                              "notebook JSON); upload the .ipynb file itself") from None
    if not isinstance(data, dict) or "cells" not in data:
        raise SubmissionError(f"{path.name} is not a Jupyter notebook (no cells)")
    try:
        nb = nbformat.reads(json.dumps(data), as_version=4)
    except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
        raise SubmissionError(f"{path.name} could not be read as a notebook: "
                              f"{str(exc)[:200]}") from None
    notes = []
    cells = []
    for cell in nb.cells:
        if cell.get("cell_type") != "code":
            continue
        if IGNORE_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        source = cell.get("source", "")
        cells.append(source if isinstance(source, str) else "".join(source))
    if sum(len(c) for c in cells) > MAX_CODE_CHARS:
        raise SubmissionError("the notebook holds more than 2 million characters of code")
    meta = nb.metadata.get("otter", {}) if isinstance(nb.metadata.get("otter"), dict) else {}
    if meta.get("assignment_name") not in (None, ASSIGNMENT_NAME):
        raise SubmissionError(f"this notebook belongs to assignment "
                              f"'{meta.get('assignment_name')}', not '{ASSIGNMENT_NAME}'")
    if not meta:
        notes.append("the notebook has no otter metadata (was it copied into a new notebook?); "
                      "graded anyway")
    kernel = nb.metadata.get("kernelspec", {}).get("name")
    if kernel not in (None, "python3"):
        notes.append(f"the notebook was saved with kernel '{kernel}'; graded with Python 3")
    return Submission(path, nb, cells, notes)


def normalised_for_otter(sub: Submission, kernel_name: str) -> nbformat.NotebookNode:
    """A copy otter can run: our kernel, otter metadata present, outputs cleared."""
    nb = nbformat.from_dict(json.loads(json.dumps(sub.notebook)))
    nb.metadata["kernelspec"] = {"name": kernel_name, "display_name": "Python 3 (grading)",
                                 "language": "python"}
    otter_meta = nb.metadata.get("otter")
    if not isinstance(otter_meta, dict):
        otter_meta = {}
    otter_meta["assignment_name"] = ASSIGNMENT_NAME
    nb.metadata["otter"] = otter_meta
    for cell in nb.cells:
        if cell.get("cell_type") == "code":
            cell["outputs"] = []
            cell["execution_count"] = None
    return nb
