"""Shared pieces of the per-concept registries (LOSSES, SURFACES, OPTIMIZERS, ...).

A registry is a plain ``dict[str, Spec]`` in its concept's module; the service's
schemas and ``/api/v1/catalog`` read the same dicts. ``ParamSpec`` describes one
tunable parameter so a frontend can build a control for it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, asdict
from typing import Any, Mapping

import numpy as np

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


_KIND = {"float": "a number", "int": "an integer", "bool": "true or false", "pair": "a list of two numbers",
         "list": "a list of integers", "choice": "one of the choices"}


def _number(v, p: ParamSpec, where: str) -> float:
    """``v`` as a finite number within ``p``'s range (an integer for kind int), else EngineInputError."""
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise EngineInputError(where, f"must be {_KIND.get(p.kind, 'a number')}, not {_type_name(v)}")
    if not math.isfinite(v):
        raise EngineInputError(where, "must be finite")
    if p.kind in ("int", "list") and int(v) != v:
        raise EngineInputError(where, "must be an integer")
    if p.low is not None and v < p.low:
        raise EngineInputError(where, f"must be >= {p.low}")
    if p.high is not None and v > p.high:
        raise EngineInputError(where, f"must be <= {p.high}")
    return int(v) if p.kind in ("int", "list") else float(v)


def _type_name(v) -> str:
    return "null" if v is None else {str: "a string", list: "a list", tuple: "a list", dict: "an object"}.get(
        type(v), type(v).__name__)


def resolve_params(specs: tuple[ParamSpec, ...], given: Mapping[str, Any] | None, field: str) -> dict:
    """Defaults overlaid with ``given``; unknown names, wrong types and out-of-range values are refused.

    Every given value is checked against its spec's kind (a number, an integer, true/false, a pair of
    numbers, a list of integers, a choice), so ``null`` or a string where a number belongs is an
    ``EngineInputError`` naming ``<field>.<name>``, never a ``TypeError`` in a kernel or a NaN that
    turns into a page of overflowed values. ``null`` means "the default" only for parameters whose
    default is itself ``None`` (computed later, e.g. a schedule's ``T_max``).
    """
    if given is not None and not isinstance(given, Mapping):
        raise EngineInputError(field, f"must be an object of parameters, not {_type_name(given)}")
    given = dict(given or {})
    known = {p.name: p for p in specs}
    unknown = sorted(set(given) - set(known), key=str)
    if unknown:
        raise EngineInputError(
            f"{field}.{str(unknown[0])[:40]}",
            f"unknown parameter; accepted: {', '.join(known) or 'none'}",
        )
    out = {}
    for p in specs:
        where = f"{field}.{p.name}"
        v = given.get(p.name, p.default)
        if v is None:
            if p.default is not None:
                raise EngineInputError(where, f"must be {_KIND.get(p.kind, 'a value')}, not null")
        elif p.kind in ("float", "int"):
            v = _number(v, p, where)
        elif p.kind == "bool":
            if not isinstance(v, (bool, np.bool_)):
                raise EngineInputError(where, f"must be true or false, not {_type_name(v)}")
            v = bool(v)
        elif p.kind == "choice":
            if not isinstance(v, (str, int, float)) or v not in p.choices:
                raise EngineInputError(where, f"must be one of: {', '.join(map(str, p.choices))}")
        elif p.kind == "pair":
            if isinstance(v, (str, bytes, Mapping)) or not hasattr(v, "__len__") or len(v) != 2:
                raise EngineInputError(where, f"must be {_KIND['pair']}, not {_type_name(v)}")
            v = [_number(x, p, where) for x in v]
        elif p.kind == "list":
            if isinstance(v, (str, bytes, Mapping)) or not hasattr(v, "__iter__"):
                raise EngineInputError(where, f"must be {_KIND['list']}, not {_type_name(v)}")
        out[p.name] = v
    return out
