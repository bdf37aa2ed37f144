"""Read what Gradescope's "Export Submissions" produces, as a folder or as its zip.

The export holds ``submission_metadata.yml`` and one folder per submission (``submission_<id>/``
with the files the student uploaded); the zip wraps that in one top folder. The metadata maps
each folder to its ``:submitters`` (``:name``, ``:email``, ``:sid``). A plain folder of
submissions (no metadata) is read as before: one submission per entry.
"""

from __future__ import annotations

import zipfile
from pathlib import Path, PurePosixPath

import yaml

METADATA = "submission_metadata.yml"
MAX_EXPORT_BYTES = 4 * 2**30


class ExportError(Exception):
    pass


def unpack(zip_path: Path, into: Path) -> Path:
    """Extract an export zip, refusing members that would land outside ``into``."""
    with zipfile.ZipFile(zip_path) as zf:
        members = zf.infolist()
        if sum(m.file_size for m in members) > MAX_EXPORT_BYTES:
            raise ExportError(f"{zip_path} unpacks to more than {MAX_EXPORT_BYTES >> 30} GiB")
        for m in members:
            parts = PurePosixPath(m.filename).parts
            if m.filename.startswith("/") or ".." in parts:
                raise ExportError(f"{zip_path}: member {m.filename!r} points outside the export")
        zf.extractall(into)
    return into


def export_root(folder: Path) -> Path | None:
    """The folder holding submission_metadata.yml: ``folder`` itself or its only sub-folder."""
    if (folder / METADATA).is_file():
        return folder
    subdirs = [p for p in folder.iterdir() if p.is_dir() and not p.name.startswith((".", "__"))]
    if len(subdirs) == 1 and (subdirs[0] / METADATA).is_file():
        return subdirs[0]
    return None


def submitters(metadata: dict, folder_name: str) -> list[str]:
    people = (metadata.get(folder_name) or {}).get(":submitters") or []
    found = []
    for person in people if isinstance(people, list) else []:
        if isinstance(person, dict):
            name = str(person.get(":name") or "").strip()
            email = str(person.get(":email") or "").strip()
            found.append(f"{name} <{email}>" if name and email else name or email or "?")
    return found


def entries(path: Path, workdir: Path) -> tuple[list[Path], dict[str, list[str]]]:
    """(submissions to grade, entry name -> students) for a folder, an export or an export zip."""
    if path.is_file() and zipfile.is_zipfile(path):
        path = unpack(path, workdir / "export")
    elif not path.is_dir():
        raise ExportError(f"{path} is neither a folder nor a zip")
    root = export_root(path)
    if root is None:
        return sorted(p for p in path.iterdir() if not p.name.startswith(".")), {}
    try:
        metadata = yaml.safe_load((root / METADATA).read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as err:
        raise ExportError(f"{root / METADATA} is not readable YAML: {err}") from None
    if not isinstance(metadata, dict):
        raise ExportError(f"{root / METADATA} does not map submission folders to submitters")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and p.name in metadata)
    return folders, {p.name: submitters(metadata, p.name) for p in folders}
