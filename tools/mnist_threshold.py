"""Justify the MNIST thresholds: train the reference solution over many seeds, as graded.

For each seed the reference ``train_step`` and ``LinearLayer`` (``backprop_reference.py`` from
the autograder zip) train the network exactly as ``gradekit.checks.check_mnist_accuracy`` does,
with the grading settings (``gradekit.checks.settings.MNIST_GRADING``) and with the quick public check's
settings (``gradekit.checks.settings.MNIST_PUBLIC``); the seed changes the initial weights and the batch order.
Prints min / median / max test accuracy and the margin of the minimum over each threshold, and
writes the figures as JSON.

Usage: python tools/mnist_threshold.py [--seeds 24] [--first-seed 0] [--zip autograder.zip]
                                       [--json build/mnist_threshold.json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import zipfile
from pathlib import Path
from types import ModuleType

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_ZIP = Path(os.environ.get("BACKPROP_AUTOGRADER_ZIP",
                                  ROOT / "autograder" / "autograder.zip"))


def load_kit(files_dir: Path) -> tuple[ModuleType, ModuleType]:
    """``(gradekit.checks, backprop_reference)`` imported from the unpacked autograder zip
    (``files_dir`` is its ``files/``)."""
    for folder in (files_dir, files_dir.parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import backprop_reference
    from gradekit import checks

    return checks, backprop_reference


def accuracies(files_dir: Path, settings: dict, seeds: list[int]) -> list[float]:
    """Test accuracy of the reference trained with ``settings`` (threshold ignored) per seed."""
    checks, ref = load_kit(files_dir)
    return [checks.check_mnist_accuracy(ref.train_step, ref.LinearLayer,
                                          **{**settings, "seed": seed, "threshold": 0.0})
            for seed in seeds]


def summary(accs: list[float], threshold: float) -> dict:
    ordered = sorted(accs)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"seeds": len(accs), "min": ordered[0], "median": median, "max": ordered[-1],
            "threshold": threshold, "margin_of_min": ordered[0] - threshold}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=24, help="how many seeds")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--json", type=Path, default=ROOT / "build" / "mnist_threshold.json")
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    figures = {}
    with tempfile.TemporaryDirectory(prefix="backprop-mnist-") as tmp:
        with zipfile.ZipFile(args.zip) as zf:
            zf.extractall(tmp, [n for n in zf.namelist() if n.startswith("files/")])
        files_dir = Path(tmp) / "files"
        checks, _ = load_kit(files_dir)
        for name, settings in (("grading", checks.MNIST_GRADING),
                               ("public", {**checks.MNIST_GRADING, **checks.MNIST_PUBLIC})):
            start = time.perf_counter()
            accs = accuracies(files_dir, settings, seeds)
            figures[name] = {**summary(accs, settings["threshold"]),
                             "n_train": settings["n_train"], "epochs": settings["epochs"],
                             "seconds_per_seed": (time.perf_counter() - start) / len(seeds),
                             "accuracies": [round(a, 4) for a in accs]}
            f = figures[name]
            print(f"{name:8s} ({f['n_train']} images, {f['epochs']} epoch(s), {len(seeds)} seeds): "
                  f"min {f['min']:.2%}  median {f['median']:.2%}  max {f['max']:.2%}  "
                  f"threshold {f['threshold']:.0%}  margin of the minimum "
                  f"{100 * f['margin_of_min']:+.1f} points  ({f['seconds_per_seed']:.1f} s/seed)")
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(f["margin_of_min"] > 0 for f in figures.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
