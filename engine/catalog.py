"""Everything a frontend can choose, described from the registries themselves.

Each concept module exposes ``describe() -> list[dict]``; this module gathers them under
one key each, plus the hard limits. The service's ``/api/v1/catalog`` returns it as is.
"""

from __future__ import annotations

import importlib

from .limits import LIMITS
from .sweeps import SWEEP_LIMITS

# key in the catalog -> module whose describe() lists its entries
SECTIONS: dict[str, str] = {
    "surfaces": "engine.landscape",
    "losses": "engine.losses",
    "datasets": "engine.datasets",
    "regularizers": "engine.regularization",
    "optimizers": "engine.optimizers",
    "schedules": "engine.schedules",
    "descent": "engine.trajectory",
    "activations": "engine.activations",
    "initializations": "engine.init",
    "networks": "engine.mlp",  # mlp conventions; backprop, gradient_profile, network_landscape below
    "backprop": "engine.backprop",
    "gradient_profile": "engine.gradient_profile",
    "network_landscape": "engine.network_landscape",  # trajectory, race, lr_sweep, lr_range_test, basins: rules and statuses
    "sweeps": "engine.sweeps",  # sweepable kinds: metrics, seed fields
}


def build_catalog() -> dict:
    out = {key: importlib.import_module(mod).describe() for key, mod in SECTIONS.items()}
    out["limits"] = dict(LIMITS)
    out["sweep_limits"] = dict(SWEEP_LIMITS)
    return out
