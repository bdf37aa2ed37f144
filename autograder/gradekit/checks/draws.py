"""Where the MNIST run's random choices come from: a secret drawn for each grading.

The batch order, the steps the check probes and the weights it writes there are drawn from
the secret, so nothing students receive (this code, the settings, the data) predicts the run
a grading will make: a table of precomputed steps cannot match it. The grader calls ``new_grading_secret`` once per grading and records
the secret in the instructor-only ``extra_data["grading_secret"]``; setting
``BACKPROP_GRADING_SECRET`` to a recorded value grades with that run again.

Beside the student's notebook no secret is set: the local check draws from the settings'
public ``seed`` (so its result is the same every time it runs).
"""

from __future__ import annotations

import hashlib
import os

import numpy as np

_secret: str | None = None

# Offsets of the public seeds, one per use (no secret: beside the notebook).
PURPOSES = {"order": 0, "probed": 1, "probe_weights": 2, "carry": 3}


def new_grading_secret() -> str:
    """Start a grading: a fresh secret (or ``BACKPROP_GRADING_SECRET``), returned as hex."""
    global _secret
    _secret = os.environ.get("BACKPROP_GRADING_SECRET") or os.urandom(16).hex()
    return _secret


def current_secret() -> str | None:
    return _secret


def rng(seed: int, purpose: str) -> np.random.Generator:
    """The generator for ``purpose`` (a key of ``PURPOSES``): from the grading's secret, or
    from ``seed`` plus the purpose's offset when there is none."""
    if _secret is None:
        return np.random.default_rng(seed + PURPOSES[purpose])
    digest = hashlib.sha256(f"{_secret}:{purpose}".encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "big"))
