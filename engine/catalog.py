"""Everything a frontend can choose, described from the registries themselves.

The sections and the modules behind each are ``engine.concepts.SECTIONS``; each module's
``describe()`` gives its entries. ``presets`` gathers the modules' ``PRESETS`` (name -> a complete request
body a frontend can replay, e.g. ``edge_of_stability``: a ``training/run`` body). The service's
``/api/v1/catalog`` returns ``build_catalog()`` as is.
"""

from __future__ import annotations

import importlib

from .concepts import MODULES, SECTIONS
from .limits import LIMITS, SWEEP_LIMITS

__all__ = ["build_catalog"]


def build_catalog() -> dict:
    out = {s.key: [e for m in s.modules for e in importlib.import_module(m).describe()] for s in SECTIONS}
    out["limits"] = {**LIMITS, **SWEEP_LIMITS}
    out["presets"] = {k: v for m in MODULES for k, v in getattr(importlib.import_module(m), "PRESETS", {}).items()}
    return out
