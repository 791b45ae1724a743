"""Shared pieces of the per-concept registries (LOSSES, SURFACES, OPTIMIZERS, ...).

A registry is a plain ``dict[str, Spec]`` in its concept's module; the service's
schemas and ``/api/v1/catalog`` read the same dicts. ``ParamSpec`` describes one
tunable parameter so a frontend can build a control for it.
"""

from __future__ import annotations

from dataclasses import dataclass, asdict
from typing import Any, Mapping

from .errors import EngineInputError


@dataclass(frozen=True)
class ParamSpec:
    """One parameter: its default and the closed range it may take."""

    name: str
    default: Any
    low: float | None = None
    high: float | None = None
    kind: str = "float"  # float | int | bool | pair | list | choice
    doc: str = ""
    choices: tuple = ()

    def to_dict(self) -> dict:
        d = asdict(self)
        d["choices"] = list(self.choices)
        return d


def lookup(registry: Mapping[str, Any], name: str, field: str):
    """Resolve ``name`` in ``registry`` or raise an EngineInputError that lists the choices."""
    try:
        return registry[name]
    except (KeyError, TypeError):
        choices = ", ".join(sorted(registry))
        raise EngineInputError(field, f"unknown name {name!r}; choose one of: {choices}") from None


def resolve_params(specs: tuple[ParamSpec, ...], given: Mapping[str, Any] | None, field: str) -> dict:
    """Defaults overlaid with ``given``; unknown names and out-of-range values are refused."""
    given = dict(given or {})
    known = {p.name: p for p in specs}
    unknown = sorted(set(given) - set(known))
    if unknown:
        raise EngineInputError(
            f"{field}.{unknown[0]}",
            f"unknown parameter; accepted: {', '.join(known) or 'none'}",
        )
    out = {}
    for p in specs:
        v = given.get(p.name, p.default)
        if p.kind in ("float", "int") and v is not None:
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise EngineInputError(f"{field}.{p.name}", "must be a number")
            if p.kind == "int" and int(v) != v:
                raise EngineInputError(f"{field}.{p.name}", "must be an integer")
            if v != v or v in (float("inf"), float("-inf")):
                raise EngineInputError(f"{field}.{p.name}", "must be finite")
            if p.low is not None and v < p.low:
                raise EngineInputError(f"{field}.{p.name}", f"must be >= {p.low}")
            if p.high is not None and v > p.high:
                raise EngineInputError(f"{field}.{p.name}", f"must be <= {p.high}")
            v = int(v) if p.kind == "int" else float(v)
        elif p.kind == "bool" and not isinstance(v, bool):
            raise EngineInputError(f"{field}.{p.name}", "must be true or false")
        elif p.kind == "choice" and v not in p.choices:
            raise EngineInputError(f"{field}.{p.name}", f"must be one of: {', '.join(map(str, p.choices))}")
        out[p.name] = v
    return out
