"""Compile (or load from the on-disk cache) every kernel by calling each on tiny inputs.

The service calls ``warmup()`` before it takes traffic, so no user pays for compilation.
Each concept module exposes ``_warmup()``; list it here.
"""

from __future__ import annotations

import importlib
import time

MODULES: tuple[str, ...] = (
    "engine.landscape",
    "engine.losses",
    "engine.datasets",
    "engine.doctor",
    "engine.training",
    "engine.regularization",
    "engine.optimizers",
    "engine.clipping",
    "engine.schedules",
    "engine.trajectory",
    "engine.race",
    "engine.lr_sweep",
    "engine.basins",
    "engine.rng",
    "engine.activations",
    "engine.init",
    "engine.mlp",
    "engine.backprop",
    "engine.gradient_profile",
    "engine.network_landscape",
)


def warmup() -> dict[str, float]:
    """Warm every kernel; returns seconds spent per module."""
    spent = {}
    for name in MODULES:
        t0 = time.perf_counter()
        importlib.import_module(name)._warmup()
        spent[name] = time.perf_counter() - t0
    return spent
