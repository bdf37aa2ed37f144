"""Justify the MNIST threshold: train the reference solution, and initialisations at the ends
of the range the notebook allows, exactly as graded, over many seeds and batch orders.

The reference ``train_step`` and ``LinearLayer`` (``backprop_reference.py`` from the autograder
zip) train the network as ``gradekit.checks.check_mnist_accuracy`` does, with the grading
settings (``gradekit.checks.settings.MNIST_GRADING``):
- ``grading``: the reference over ``--seeds`` seeds, each changing the initial weights and the
  batch order (the order of a run without a grading secret: the public check's, for seed 0);
- ``init_*``: the reference's first draw with ``W`` rescaled to a standard deviation the
  notebook allows (1e-4 to 2 x He; float32, biases zero) under ``--orders`` grading secrets
  (the graded runs' batch orders) plus the public order (the check beside the notebook).
Every step of a graded run is verified as a true SGD step, so its accuracy depends only on
the initial weights and the batch order: these runs are what correct code can reach.
Prints min / median / max test accuracy and the margin of the minimum over the threshold,
and writes the figures as JSON with the settings they were measured with: by default the
record ``autograder/mnist_measured.json`` that the notebook's and READMEs' claims are built
from (``tools/generated_prose.py``); run this again after changing a setting.

Usage: python tools/mnist_threshold.py [--seeds 24] [--orders 30] [--zip autograder.zip]
                                       [--json autograder/mnist_measured.json]
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

# The ends of the initialisations the notebook allows (W's standard deviation from n_in), and
# common choices inside: CS231n's 1e-4, d2l's 0.01, the reference's He, twice He.
INITS = {
    "init_std_0_0001": ("W std 1e-4", lambda n_in: 1e-4),
    "init_std_0_01": ("W std 0.01", lambda n_in: 0.01),
    "init_he": ("W std sqrt(2/n_in) (He, the reference)", lambda n_in: (2 / n_in) ** 0.5),
    "init_2he": ("W std 2 sqrt(2/n_in)", lambda n_in: 2 * (2 / n_in) ** 0.5),
}


def load_kit(files_dir: Path) -> tuple[ModuleType, ModuleType]:
    """``(gradekit.checks, backprop_reference)`` imported from the unpacked autograder zip
    (``files_dir`` is its ``files/``)."""
    for folder in (files_dir, files_dir.parent):
        if str(folder) not in sys.path:
            sys.path.insert(0, str(folder))
    import backprop_reference
    from gradekit import checks

    return checks, backprop_reference


def secrets(count: int) -> list[str]:
    """Fixed grading secrets, so a measurement can be repeated."""
    return [f"{i:032x}" for i in range(1, count + 1)]


def scaled_layer(LinearLayer, std):
    """``LinearLayer`` whose initial ``W`` is its own draw rescaled to ``std(n_in)``."""
    class Layer(LinearLayer):
        def __init__(self, n_in, n_out, rng):
            super().__init__(n_in, n_out, rng)
            self.W = (self.W * (std(n_in) / (2 / n_in) ** 0.5)).astype(self.W.dtype)
    return Layer


def accuracies(files_dir: Path, settings: dict, seeds: list[int],
               orders: list[str | None] | None = None, LinearLayer=None) -> list[float]:
    """Test accuracy of the reference (or its ``train_step`` with ``LinearLayer``) trained with
    ``settings`` (threshold ignored), per seed, or per grading secret of ``orders`` at the first
    seed (``None``: no secret, the public order)."""
    checks, ref = load_kit(files_dir)
    layer = LinearLayer or ref.LinearLayer
    runs = [(seed, None) for seed in seeds] if orders is None else [(seeds[0], o) for o in orders]
    accs = []
    for seed, secret in runs:
        checks.draws._secret = secret
        try:
            accs.append(checks.check_mnist_accuracy(ref.train_step, layer,
                                                    **{**settings, "seed": seed,
                                                       "threshold": 0.0}))
        finally:
            checks.draws._secret = None
    return accs


def summary(accs: list[float], threshold: float) -> dict:
    ordered = sorted(accs)
    mid = len(ordered) // 2
    median = ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2
    return {"runs": len(accs), "min": ordered[0], "median": median, "max": ordered[-1],
            "threshold": threshold, "margin_of_min": ordered[0] - threshold}


def measured_with(settings: dict) -> dict:
    """The settings the accuracy depends on: the network, the data and the training (not the
    seed, which the runs vary, nor the threshold, time budget or checked steps)."""
    return {k: v for k, v in settings.items()
            if k in ("layer_sizes", "n_train", "epochs", "lr", "batch_size")}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=24, help="how many seeds (reference)")
    parser.add_argument("--orders", type=int, default=30,
                        help="how many grading secrets per initialisation (plus the public order)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--zip", type=Path, default=DEFAULT_ZIP)
    parser.add_argument("--json", type=Path, default=ROOT / "autograder" / "mnist_measured.json")
    args = parser.parse_args(argv)
    seeds = list(range(args.first_seed, args.first_seed + args.seeds))
    orders = [None, *secrets(args.orders)]
    figures = {}
    with tempfile.TemporaryDirectory(prefix="backprop-mnist-") as tmp:
        with zipfile.ZipFile(args.zip) as zf:
            zf.extractall(tmp, [n for n in zf.namelist() if n.startswith(("files/", "gradekit/"))])
        files_dir = Path(tmp) / "files"
        checks, ref = load_kit(files_dir)
        settings = checks.MNIST_GRADING
        runs = {"grading": ("the reference, initial weights and batch order from the seed",
                            {"seeds": seeds})}
        runs.update({name: (what, {"seeds": seeds[:1], "orders": orders,
                                   "LinearLayer": scaled_layer(ref.LinearLayer, std)})
                     for name, (what, std) in INITS.items()})
        for name, (what, how) in runs.items():
            start = time.perf_counter()
            accs = accuracies(files_dir, settings, **how)
            f = figures[name] = {
                "what": what, **summary(accs, settings["threshold"]),
                "settings": measured_with(settings),
                "seconds_per_seed": (time.perf_counter() - start) / len(accs),
                "accuracies": [round(a, 4) for a in accs]}
            if "orders" in how:   # the first is the public order, then one per secret
                f["orders"] = ["public", *how["orders"][1:]]
            print(f"{name:16s} {what} ({settings['n_train']} images, {settings['epochs']} "
                  f"epochs, {len(accs)} runs): min {f['min']:.2%}  median {f['median']:.2%}  "
                  f"max {f['max']:.2%}  threshold {f['threshold']:.0%}  margin of the minimum "
                  f"{100 * f['margin_of_min']:+.1f} points  ({f['seconds_per_seed']:.1f} s/run)",
                  flush=True)
    args.json.parent.mkdir(parents=True, exist_ok=True)
    args.json.write_text(json.dumps(figures, indent=2) + "\n")
    print(f"wrote {args.json}")
    return 0 if all(f["margin_of_min"] > 0 for f in figures.values()) else 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main())
