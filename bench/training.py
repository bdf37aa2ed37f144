"""Training throughput of the reference ``train_step``, against the machine and PyTorch.

Run as a script (``tools/bench.py`` starts it pinned to one core with one BLAS thread):

    python bench/training.py SOURCE_FILES_DIR RUNS  ->  one JSON object on stdout

SOURCE_FILES_DIR is the autograder's ``files/`` folder: the reference solution
(``backprop_reference.py``), the kit's support code, ``gradekit.checks.settings.MNIST_GRADING`` and the data.
One epoch is one pass over the grading subset (``n_train`` images, batches of
``batch_size``) with the same loop as ``gradekit.checks.check_mnist_accuracy`` (shuffle, slice,
one-hot, ``train_step``), but in-process: no sandbox round trips.

FLOPs count the matrix products only: per layer ``(n_in, n_out)`` and batch ``B``, forward
``2 B n_in n_out``, and backward twice that (``dW`` and ``dx``; the reference computes ``dx``
for the first layer too). Element-wise work (softmax, ReLU, update) is left out, so the
achieved rate slightly understates the work done.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np


def matmul_flops_per_epoch(layer_sizes: list[int], n: int) -> float:
    """Matrix-product FLOPs of one epoch of ``n`` examples (forward, dW and dx)."""
    per_example = 6.0 * sum(a * b for a, b in zip(layer_sizes[:-1], layer_sizes[1:]))
    return per_example * n


def sgemm_rate(m: int, k: int, n: int, seconds: float = 0.5) -> float:
    """float32 FLOP/s of ``(m, k) @ (k, n)``, best of repeated timed batches."""
    rng = np.random.default_rng(0)
    a = rng.random((m, k), dtype=np.float32)
    b = rng.random((k, n), dtype=np.float32)
    a @ b
    reps = max(1, int(2e8 / (2 * m * k * n)))
    best, end = float("inf"), time.perf_counter() + seconds
    while time.perf_counter() < end:
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        best = min(best, (time.perf_counter() - t) / reps)
    return 2.0 * m * k * n / best


def numpy_epoch(ref, support, x, labels, cfg: dict, dtype=np.float32) -> float:
    """Seconds for one epoch of the reference ``train_step`` (fresh model, same order)."""
    model = support.MLP(cfg["layer_sizes"], ref.LinearLayer, np.random.default_rng(cfg["seed"]))
    for layer in model.layers:
        layer.W, layer.b = layer.W.astype(dtype), layer.b.astype(dtype)
    x = x.astype(dtype, copy=False)
    order = np.random.default_rng(cfg["seed"]).permutation(len(x))
    bs = cfg["batch_size"]
    start = time.perf_counter()
    for i in range(0, len(x), bs):
        idx = order[i:i + bs]
        ref.train_step(model, x[idx], support.one_hot(labels[idx], 10, dtype), cfg["lr"])
    return time.perf_counter() - start


def torch_epoch(torch, x, labels, cfg: dict) -> float:
    """Seconds for one epoch of the same MLP in PyTorch (CPU, float32, SGD, cross-entropy)."""
    torch.manual_seed(cfg["seed"])
    sizes = cfg["layer_sizes"]
    layers = []
    for k, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if k < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(model.parameters(), lr=cfg["lr"])
    loss_fn = torch.nn.CrossEntropyLoss()
    xt, yt = torch.from_numpy(x), torch.from_numpy(labels)
    order = torch.from_numpy(np.random.default_rng(cfg["seed"]).permutation(len(x)))
    bs = cfg["batch_size"]
    start = time.perf_counter()
    for i in range(0, len(x), bs):
        idx = order[i:i + bs]
        opt.zero_grad()
        loss = loss_fn(model(xt[idx]), yt[idx])
        loss.backward()
        opt.step()
        loss.item()
    return time.perf_counter() - start


def measure(files: Path, runs: int) -> dict:
    sys.path[:0] = [str(files), str(files.parent)]
    import backprop_reference as ref
    import backprop_support as support
    from gradekit.checks.settings import MNIST_GRADING

    cfg = dict(MNIST_GRADING)
    x, labels, _, _ = support.load_mnist(files / "mnist.npz", n_train=cfg["n_train"])
    try:
        import torch

        torch.set_num_threads(1)
        torch_info = {"version": torch.__version__}
    except ImportError:
        torch, torch_info = None, {"version": None}
    numpy_s, numpy64_s, torch_s = [], [], []
    numpy_epoch(ref, support, x[:2048], labels[:2048], cfg)          # warm-up
    if torch is not None:
        torch_epoch(torch, x[:2048], labels[:2048], cfg)
    for _ in range(runs):
        numpy_s.append(numpy_epoch(ref, support, x, labels, cfg))
        numpy64_s.append(numpy_epoch(ref, support, x, labels, cfg, np.float64))
        if torch is not None:
            torch_s.append(torch_epoch(torch, x, labels, cfg))
    sizes, bs = cfg["layer_sizes"], cfg["batch_size"]
    return {
        "images": len(x), "batch_size": bs, "layer_sizes": sizes, "lr": cfg["lr"],
        "flops_per_epoch": matmul_flops_per_epoch(sizes, len(x)),
        "numpy_epoch_s": numpy_s, "numpy_float64_epoch_s": numpy64_s,
        "torch_epoch_s": torch_s, "torch": torch_info,
        "sgemm_1024_flops": sgemm_rate(1024, 1024, 1024),
        "sgemm_batch_flops": sgemm_rate(bs, sizes[0], sizes[1]),
        "numpy_version": np.__version__,
    }


if __name__ == "__main__":
    print(json.dumps(measure(Path(sys.argv[1]), int(sys.argv[2]))))
