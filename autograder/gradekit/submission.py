"""Reading a submission: whatever arrives, either a clean notebook or a clear reason why not.

Cells are named to students in one way everywhere: "cell N" is the N-th cell from the top of
the uploaded notebook, counting every cell (text and code) from 1: the number shown as
"Cell N of M" in the status bar of VS Code and of recent JupyterLab for the selected cell.
"line L" is the L-th line of that cell, as Jupyter numbers them (View > Show Line Numbers).

Every byte read here is untrusted, so each is counted before anything is built from it: the
file's size, then (on the raw bytes, in one pass) how many JSON values it holds outside strings
and how deeply they nest, so ``json.loads`` builds at most ``MAX_NOTEBOOK_VALUES`` small objects
plus the text itself; then the number of cells. A zip's members are counted and measured before
one is read, links in it are refused, and the notebook is read from it with a byte limit.
"""

from __future__ import annotations

import ast
import json
import re
import stat
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

MAX_SUBMISSION_BYTES = 100 * 2**20
MAX_NOTEBOOK_VALUES = 500_000   # JSON values outside strings (a 1,000-cell notebook has ~20,000)
MAX_NOTEBOOK_DEPTH = 64         # nesting of JSON containers (a notebook needs about 8)
MAX_CELLS = 5_000
MAX_ZIP_MEMBERS = 1_000
MAX_CODE_CHARS = 2_000_000
IGNORE_TAG = "otter_ignore"
ASSIGNMENT_NAME = "backprop"


class SubmissionError(Exception):
    """The submission cannot be graded at all; the message is shown to the student."""


@dataclass
class Submission:
    path: Path
    notebook: dict                 # the notebook's JSON (format 4), outputs dropped
    cells: dict[int, str]          # the code cells to grade, by their number ("cell N")
    notes: list[str] = field(default_factory=list)

    @property
    def code_cells(self) -> list[str]:
        return list(self.cells.values())


def find_notebook(folder: Path) -> Path:
    """The one notebook in an upload folder.

    A single .zip holding one notebook is unpacked first; a single file that is a notebook
    under another name (``backprop.json``, ``backprop.ipynb.txt``) is accepted. Links that
    point outside the upload are refused (they could name the grader's own files).
    """
    files = sorted(p for p in folder.rglob("*") if "__MACOSX" not in p.parts
                   and ".ipynb_checkpoints" not in p.parts and not p.name.startswith("._"))
    for path in files:
        if path.is_symlink() and not _inside(path, folder):
            raise SubmissionError(f"{path.name} is a link to a file outside the upload; upload "
                                  "the notebook file itself")
    files = [p for p in files if p.is_file()]
    notebooks = [p for p in files if p.suffix == ".ipynb"]
    if len(notebooks) > 1:
        names = ", ".join(p.name for p in notebooks[:5])
        raise SubmissionError(f"more than one notebook in the submission ({names}); upload one")
    if notebooks:
        return notebooks[0]
    zips = [p for p in files if p.suffix == ".zip"]
    if len(zips) == 1:
        return notebook_from_zip(zips[0])
    if len(files) == 1 and _looks_like_notebook(files[0]):
        return files[0]
    others = [p.name for p in files][:5]
    raise SubmissionError("no .ipynb notebook found in the submission"
                          + (f" (found: {', '.join(others)})" if others else ""))


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
        return True
    except (ValueError, OSError, RuntimeError):
        return False


def _looks_like_notebook(path: Path) -> bool:
    try:
        with path.open("rb") as fh:
            head = fh.read(4096).lstrip()
    except OSError:
        return False
    return head.startswith(b"{") and (b'"cells"' in head or b'"nbformat"' in head)


def _is_link(info: zipfile.ZipInfo) -> bool:
    return info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16)


def notebook_from_zip(zip_path: Path) -> Path:
    """The one notebook of an uploaded zip, copied beside it (a zip inside is not opened)."""
    try:
        with zipfile.ZipFile(zip_path) as zf:
            members = zf.infolist()
            if len(members) > MAX_ZIP_MEMBERS:
                raise SubmissionError(f"{zip_path.name} holds more than {MAX_ZIP_MEMBERS} files; "
                                      "upload the notebook itself")
            found = [m for m in members if m.filename.endswith(".ipynb")
                     and "__MACOSX" not in m.filename and ".ipynb_checkpoints" not in m.filename
                     and not m.filename.rsplit("/", 1)[-1].startswith("._")]
            if len(found) != 1:
                raise SubmissionError(f"{zip_path.name} should hold exactly one notebook, "
                                      f"found {len(found)}")
            info = found[0]
            if _is_link(info):
                raise SubmissionError(f"the notebook in {zip_path.name} is a link; zip the "
                                      "notebook file itself")
            if info.file_size > MAX_SUBMISSION_BYTES:
                raise SubmissionError("the notebook inside the zip is larger than 100 MB")
            target = zip_path.parent / "_unzipped_submission.ipynb"
            # zipfile stops at the declared size and checks the CRC: a lying header is an error
            with zf.open(info) as src:
                target.write_bytes(src.read(info.file_size))
            return target
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, RuntimeError,
            NotImplementedError) as exc:
        raise SubmissionError(f"{zip_path.name} is not a zip file that can be read "
                              f"({type(exc).__name__})") from None


_JSON_STRING = re.compile(rb'"[^"]*"')
_NOT_BRACKET = re.compile(rb"[^\[\]{}]+")


def json_shape(raw: bytes) -> tuple[int, int]:
    """(an upper bound on the values outside strings, the deepest nesting) of JSON ``raw``,
    in linear time without building it: escaped backslashes and quotes are removed, then every
    string; what is left is punctuation, numbers and literals."""
    bare = _JSON_STRING.sub(b"", raw.replace(b"\\\\", b"").replace(b'\\"', b""))
    values = sum(bare.count(c) for c in (b",", b":", b"[", b"{")) + 1
    if values > MAX_NOTEBOOK_VALUES:
        return values, 0
    depth = deepest = 0
    for char in _NOT_BRACKET.sub(b"", bare):
        depth += 1 if char in b"[{" else -1
        deepest = max(deepest, depth)
    return values, deepest


def load(path: Path) -> Submission:
    """Parse and validate ``path``; raise ``SubmissionError`` with a student-facing reason."""
    size = path.stat().st_size
    if size == 0:
        raise SubmissionError(f"{path.name} is empty (0 bytes): save the notebook and upload "
                              "it again")
    if size > MAX_SUBMISSION_BYTES:
        raise SubmissionError(f"{path.name} is {size / 2**20:.0f} MB; clear the outputs "
                              "(Kernel > Restart & Clear Output), save and upload again")
    with path.open("rb") as fh:
        raw = fh.read(size)   # what stat measured: a file that grows meanwhile is cut
    not_json = SubmissionError(f"{path.name} is not a Jupyter notebook (it is not valid "
                               "notebook JSON); upload the .ipynb file itself")
    values, depth = json_shape(raw)
    if depth > MAX_NOTEBOOK_DEPTH:
        raise not_json
    if values > MAX_NOTEBOOK_VALUES:
        raise SubmissionError(f"{path.name} holds more than {MAX_NOTEBOOK_VALUES:,} JSON values "
                              "(saved outputs?); clear the outputs (Kernel > Restart & Clear "
                              "Output), save and upload again")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise not_json from None
    del raw
    if not isinstance(data, dict) or not isinstance(data.get("cells"), list):
        raise SubmissionError(f"{path.name} is not a Jupyter notebook (no cells)")
    if len(data["cells"]) > MAX_CELLS:
        raise SubmissionError(f"{path.name} has more than {MAX_CELLS} cells")
    for cell in data["cells"]:      # saved outputs are never graded: drop them unbuilt
        if isinstance(cell, dict) and "outputs" in cell:
            cell["outputs"] = []
    nb = data
    if nb.get("nbformat", 4) != 4:
        # nbformat (and the jsonschema it brings, 0.4 s of imports) only for the rare older
        # format, to convert it; a format 4 notebook is read as the JSON it is
        import nbformat
        try:
            nb = nbformat.reads(json.dumps(data), as_version=4)
        except Exception as exc:  # noqa: BLE001 - nbformat raises many kinds
            raise SubmissionError(f"{path.name} could not be read as a notebook: "
                                  f"{type(exc).__name__}") from None
    notes = []
    cells, unreadable = {}, 0
    for number, cell in enumerate(nb["cells"], start=1):
        if not isinstance(cell, dict) or cell.get("cell_type") != "code":
            continue
        metadata = cell.get("metadata") if isinstance(cell.get("metadata"), dict) else {}
        tags = metadata.get("tags") if isinstance(metadata.get("tags"), list) else []
        if IGNORE_TAG in tags:
            continue
        source = cell.get("source", "")
        if isinstance(source, list) and all(isinstance(line, str) for line in source):
            source = "".join(source)
        if not isinstance(source, str):
            unreadable += 1
            continue
        cells[number] = source
    if unreadable:
        notes.append(f"{unreadable} code cell(s) had no readable source and were skipped")
    if not cells:
        raise SubmissionError(f"{path.name} has no code cells")
    if sum(len(c) for c in cells.values()) > MAX_CODE_CHARS:
        raise SubmissionError("the notebook holds more than 2 million characters of code")
    metadata = nb.get("metadata") if isinstance(nb.get("metadata"), dict) else {}
    meta = metadata.get("otter") if isinstance(metadata.get("otter"), dict) else {}
    name = meta.get("assignment_name")
    if name not in (None, ASSIGNMENT_NAME):
        raise SubmissionError(f"this notebook belongs to assignment '{str(name)[:60]}', not "
                              f"'{ASSIGNMENT_NAME}'")
    if not meta:
        notes.append("the notebook has no otter metadata (was it copied into a new notebook?); "
                     "graded anyway")
    kernelspec = metadata.get("kernelspec") if isinstance(metadata.get("kernelspec"), dict) \
        else {}
    kernel = kernelspec.get("name")
    if kernel not in (None, "python3"):
        notes.append(f"the notebook was saved with kernel '{str(kernel)[:60]}'; graded with "
                     "Python 3")
    nb["metadata"] = metadata
    return Submission(path, nb, cells, notes)


_IMPORT_LINE = re.compile(r"^[ \t]*(?:from[ \t]+([\w.]+)[ \t]+import|import[ \t]+([\w., \t]+))",
                          re.MULTILINE)
_FIGURE_BACKENDS = {"pdf": "matplotlib.backends.backend_pdf",
                    "svg": "matplotlib.backends.backend_svg",
                    "eps": "matplotlib.backends.backend_ps"}


def imported_modules(code_cells: list[str]) -> list[str]:
    """Modules the code imports (plus matplotlib when it draws, and matplotlib's backends for
    the figure formats it mentions), so the grader can load their native parts before student
    code runs."""
    names = set()
    for cell in code_cells:
        for match in _IMPORT_LINE.finditer(cell):
            if match.group(1):
                names.add(match.group(1))
            else:
                names.update(part.split()[0] for part in match.group(2).split(",")
                             if part.split())
        names.update(module for fmt, module in _FIGURE_BACKENDS.items()
                     if f".{fmt}" in cell or f"'{fmt}'" in cell or f'"{fmt}"' in cell)
    if any(draws_figures(cell) for cell in code_cells):
        names.add("matplotlib.pyplot")
    return sorted(n for n in names if re.fullmatch(r"[A-Za-z_][\w.]*", n))[:100]


_PLOT_WORDS = re.compile(r"plot|plt|pylab|seaborn|imshow|savefig|figure")
_MAGIC_LINE = re.compile(r"^[ \t]*[%!].*$", re.MULTILINE)


def draws_figures(cell: str) -> bool:
    """Whether a cell may draw with matplotlib, for instance through the kit's ``plot_*``
    helpers, which import it only when called. Names in import statements do not count (the
    notebook imports every helper up front); a cell that does not parse counts when it
    mentions plotting at all."""
    if "matplotlib" in cell:
        return True
    if not _PLOT_WORDS.search(cell):
        return False
    try:
        tree = ast.parse(_MAGIC_LINE.sub("", cell))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return True
    for node in ast.walk(tree):
        word = node.id if isinstance(node, ast.Name) else \
            node.attr if isinstance(node, ast.Attribute) else None
        if word is not None and _PLOT_WORDS.search(word.lower()):
            return True
    return False

