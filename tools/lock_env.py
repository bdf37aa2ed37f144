"""Virtual environments built from the grading lock, one per supported Python version.

Each holds exactly what Gradescope's image holds (``autograder/setup.sh`` installs the same
file with the same pip options), so grading with its Python is grading in the image's
environment. They are cached under build/venvs/ and rebuilt when the lock changes.

Usage: python tools/lock_env.py 3.13 [--lock requirements/grading.txt]
       (prints the environment's Python; exits 1 if that interpreter is not on this machine)
"""

from __future__ import annotations

import argparse
import hashlib
import os
import shutil
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VENVS = ROOT / "build" / "venvs"
LOCK = ROOT / "requirements" / "grading.txt"
# The options autograder/setup.sh installs the lock with: every file hash-checked, nothing
# resolved beyond the lock, no source builds.
INSTALL = ["-m", "pip", "install", "--quiet", "--disable-pip-version-check", "--require-hashes",
           "--no-deps", "--only-binary=:all:"]


def find_interpreter(version: str) -> Path | None:
    """A working ``python<version>``: on PATH, else in pyenv's versions; None if absent."""
    name = f"python{version}"
    pyenv_root = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates = [shutil.which(name)]
    candidates += sorted(pyenv_root.glob(f"versions/{version}.*/bin/{name}"), reverse=True)
    for candidate in filter(None, candidates):
        probe = subprocess.run([str(candidate), "-c", "import sys; print(sys.version_info[:2])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == str(tuple(map(int,
                                                                           version.split(".")))):
            return Path(candidate)
    return None


def lock_venv(version: str, lock: Path = LOCK) -> Path:
    """The Python of a virtual environment holding exactly ``lock``, for Python ``version``.

    Raises LookupError if that interpreter is not on this machine, CalledProcessError if the
    lock does not install (a hash or a wheel missing for this version).
    """
    interpreter = find_interpreter(version)
    if interpreter is None:
        raise LookupError(f"Python {version} is not installed here (looked for python{version} "
                          "on PATH and in pyenv's versions)")
    digest = hashlib.sha256(lock.read_bytes()).hexdigest()
    venv = VENVS / f"py{version}"
    python = venv / "bin" / "python"
    stamp = venv / ".lock-sha256"
    if stamp.exists() and stamp.read_text() == digest and python.exists():
        return python
    subprocess.run([str(interpreter), "-m", "venv", "--clear", str(venv)], check=True)
    subprocess.run([str(python), *INSTALL, "-r", str(lock)], check=True)
    stamp.write_text(digest)
    return python


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("version", help="a supported Python version, e.g. 3.13")
    parser.add_argument("--lock", type=Path, default=LOCK)
    args = parser.parse_args()
    try:
        print(lock_venv(args.version, args.lock))
    except LookupError as exc:
        raise SystemExit(str(exc)) from None


if __name__ == "__main__":
    main()
