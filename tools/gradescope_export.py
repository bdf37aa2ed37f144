"""Read what Gradescope's "Export Submissions" produces, as a folder or as its zip.

The export holds ``submission_metadata.yml`` and one folder per submission (``submission_<id>/``
with the files the student uploaded); the zip wraps that in one top folder. The metadata maps
each folder to its ``:submitters`` (``:name``, ``:email``, ``:sid``). A plain folder of
submissions (no metadata) is read as before: one submission per entry.

Everything here is untrusted and bounded before it is used: the zip's member count, each
member's size and compression ratio and the total are checked against the central directory
(zipfile stops reading at the declared size and checks the CRC, so a lying header is an
error), links in the zip are never created, and a member over a bound is not unpacked: its
submission becomes a row saying why (``problems``). The metadata is read with PyYAML's safe
loader refusing aliases (``NoAliasLoader``: no alias bomb), after a size check; metadata that
cannot be read is reported and the folders are graded without names.
"""

from __future__ import annotations

import shutil
import stat
import sys
import zipfile
from pathlib import Path, PurePosixPath

import yaml

from safe_text import printable

METADATA = "submission_metadata.yml"
MAX_EXPORT_BYTES = 4 * 2**30      # all members together, as declared
MAX_MEMBERS = 100_000
MAX_MEMBER_BYTES = 100 * 2**20    # the grader's own upload limit (gradekit/submission.py)
MAX_RATIO = 200                   # uncompressed / compressed, for members over 1 MiB
MAX_METADATA_BYTES = 8 * 2**20    # about 5,000 students' entries


class ExportError(Exception):
    pass


class NoAliasLoader(yaml.SafeLoader):
    """PyYAML's safe loader, refusing aliases (``*name``): metadata never needs them, and a
    few nested aliases expand into billions of values for whatever walks the result."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            raise yaml.composer.ComposerError(None, None, "aliases are not accepted",
                                              self.peek_event().start_mark)
        return super().compose_node(parent, index)


def _member_problem(m: zipfile.ZipInfo) -> str | None:
    if m.create_system == 3 and stat.S_ISLNK(m.external_attr >> 16):
        return "is a link (links are never unpacked)"
    if m.file_size > MAX_MEMBER_BYTES:
        return f"is {m.file_size / 2**20:.0f} MB unpacked (the limit is " \
               f"{MAX_MEMBER_BYTES >> 20} MB)"
    if m.file_size > 2**20 and m.file_size > MAX_RATIO * max(m.compress_size, 1):
        return f"unpacks {m.file_size // max(m.compress_size, 1)} times larger than it is " \
               f"packed (the limit is {MAX_RATIO})"
    return None


def unpack(zip_path: Path, into: Path) -> dict[str, str]:
    """Extract an export zip into ``into``; return {member: why it was not unpacked}.

    Refuses the whole zip when a member would land outside ``into`` or when the members
    together are too many or too large."""
    refused = {}
    with zipfile.ZipFile(zip_path) as zf:
        members = zf.infolist()
        if len(members) > MAX_MEMBERS:
            raise ExportError(f"{zip_path} holds more than {MAX_MEMBERS} files")
        if sum(m.file_size for m in members) > MAX_EXPORT_BYTES:
            raise ExportError(f"{zip_path} unpacks to more than {MAX_EXPORT_BYTES >> 30} GiB")
        for m in members:
            parts = PurePosixPath(m.filename).parts
            if m.filename.startswith("/") or ".." in parts or "\\" in m.filename:
                raise ExportError(f"{zip_path}: member {m.filename!r} points outside the export")
        for m in members:
            target = into.joinpath(*PurePosixPath(m.filename).parts)
            if m.is_dir():
                target.mkdir(parents=True, exist_ok=True)
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            problem = _member_problem(m)
            if problem:
                refused[m.filename] = problem
                continue
            with zf.open(m) as src, open(target, "xb") as dst:
                shutil.copyfileobj(src, dst, 2**20)
    return refused


def export_root(folder: Path) -> Path | None:
    """The folder holding submission_metadata.yml: ``folder`` itself or its only sub-folder."""
    if (folder / METADATA).is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.is_symlink()
               and not p.name.startswith((".", "__"))]
    if len(subdirs) == 1 and (subdirs[0] / METADATA).is_file():
        return subdirs[0]
    return None


def submitters(metadata: dict, folder_name: str) -> list[str]:
    """The students of one submission folder; anything else than the documented shape (a
    folder mapped to a string, a submitter that is a list...) gives no name, never an error."""
    entry = metadata.get(folder_name)
    people = entry.get(":submitters") if isinstance(entry, dict) else None
    found = []
    for person in people if isinstance(people, list) else []:
        if isinstance(person, dict):
            name = str(person.get(":name") or "").strip()[:200]
            email = str(person.get(":email") or "").strip()[:200]
            found.append(f"{name} <{email}>" if name and email else name or email or "?")
    return found


def read_metadata(path: Path) -> dict:
    if path.stat().st_size > MAX_METADATA_BYTES:
        raise ExportError(f"{path} is over {MAX_METADATA_BYTES >> 20} MB")
    try:
        metadata = yaml.load(path.read_text(encoding="utf-8"), Loader=NoAliasLoader) or {}
    except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as err:
        why = " ".join(str(err).split())[:300]
        raise ExportError(f"{path} is not readable YAML: {why}") from None
    if not isinstance(metadata, dict):
        raise ExportError(f"{path} does not map submission folders to submitters")
    return metadata


def entries(path: Path, workdir: Path
            ) -> tuple[list[Path], dict[str, list[str]], dict[str, str]]:
    """(submissions to grade, entry name -> students, entry name -> why it cannot be graded)
    for a folder, an export or an export zip."""
    problems: dict[str, str] = {}
    refused: dict[str, str] = {}
    if path.is_file() and zipfile.is_zipfile(path):
        workdir.mkdir(parents=True, exist_ok=True)
        refused = unpack(path, workdir / "export")
        path = workdir / "export"
    elif not path.is_dir():
        raise ExportError(f"{path} is neither a folder nor a zip")
    root = export_root(path)
    metadata = None
    if root is not None:
        try:
            metadata = read_metadata(root / METADATA)
        except ExportError as err:   # grade the folders anyway, without names
            print(f"warning: {printable(str(err))}; students' names are not shown",
                  file=sys.stderr)
            path = root
    if metadata is None:
        found = sorted(p for p in path.iterdir() if not p.name.startswith(".")
                       and p.name != METADATA)
        students: dict[str, list[str]] = {}
    else:
        keys = {str(k) for k in metadata}
        found = sorted(p for p in root.iterdir() if p.name in keys)
        students = {p.name: submitters(metadata, p.name) for p in found}
    for member, why in refused.items():
        for p in found:
            relative = PurePosixPath(member).parts
            if p.name in relative:
                problems.setdefault(p.name, f"{relative[-1]} was not unpacked: it {why}")
    return found, students, problems
