"""Everything a frontend can choose, described from the registries themselves.

The sections and the modules behind each are ``engine.concepts.SECTIONS``; each module's
``describe()`` gives its entries. The service's ``/api/v1/catalog`` returns ``build_catalog()`` as is.
"""

from __future__ import annotations

import importlib

from .concepts import SECTIONS
from .limits import LIMITS, SWEEP_LIMITS

__all__ = ["build_catalog"]


def build_catalog() -> dict:
    out = {s.key: [e for m in s.modules for e in importlib.import_module(m).describe()] for s in SECTIONS}
    out["limits"] = {**LIMITS, **SWEEP_LIMITS}
    return out
