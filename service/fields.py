"""Schema fields shared by every blueprint.

Large numeric results (grids, trajectories) are dumped through ``NumberArray``, which
passes numpy arrays straight to orjson: marshmallow's ``List`` would make one Python call
per number. The OpenAPI document still describes them as (nested) arrays of numbers.
"""

from __future__ import annotations

import math

from marshmallow import ValidationError, fields, validate


class NumberArray(fields.Raw):
    """A numpy array (any rank) dumped as nested JSON lists of numbers, untouched by marshmallow."""

    def __init__(self, ndim: int = 1, item_type: str = "number", **kwargs):
        items: dict = {"type": item_type}
        for _ in range(ndim - 1):
            items = {"type": "array", "items": items}
        metadata = {"type": "array", "items": items, **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)


class FiniteFloat(fields.Float):
    """A float that refuses NaN and Infinity (marshmallow's default, stated for readers)."""

    def __init__(self, **kwargs):
        super().__init__(allow_nan=False, **kwargs)


def Seed(**kwargs) -> fields.Integer:
    """Every seed of every request: a JSON integer in [0, 2^32 - 1] (numpy's seed range).

    Strict: ``7.9``, ``"7"`` and ``-0.5`` are refused, not truncated to 7, 7 and 0.
    """
    meta = {"description": "seed", **kwargs.pop("metadata", {})}
    return fields.Integer(strict=True, validate=validate.Range(0, 2**32 - 1), metadata=meta, **kwargs)


class ParamValue(fields.Field):
    """One value of a parameter map: a finite number, true/false, a short string or a list of numbers.

    ``null`` is refused here (naming ``params.<name>``); the engine's ``resolve_params`` then checks the
    kind and range each parameter's ``ParamSpec`` declares.
    """

    def __init__(self, **kwargs):
        metadata = {"oneOf": [{"type": "number"}, {"type": "boolean"}, {"type": "string", "maxLength": 64},
                              {"type": "array", "items": {"type": "number"}, "maxItems": 1000}],
                    **kwargs.pop("metadata", {})}
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        if isinstance(value, bool) or (isinstance(value, str) and len(value) <= 64):
            return value
        if isinstance(value, (int, float)):
            if not math.isfinite(value):
                raise ValidationError("must be a finite number")
            return value
        if isinstance(value, list) and len(value) <= 1000 and all(
                isinstance(v, (int, float)) and not isinstance(v, bool) for v in value):
            return value
        raise ValidationError("must be a number, true/false, a short string or a list of numbers")


def ParamMap(**kwargs) -> fields.Dict:
    """A map of named parameters (``{"A": 10}``), checked against the named entry's ParamSpecs by the engine."""
    return fields.Dict(keys=fields.String(validate=validate.Length(1, 40)), values=ParamValue(), **kwargs)



def _increasing(v):
    if len(v) == 2 and not v[0] < v[1]:
        raise ValidationError("must be [low, high] with low < high")


def _bounded(v):
    if any(abs(x) > 1e6 for x in v):
        raise ValidationError("each value must lie within [-1e6, 1e6]")


def Pair(**kwargs) -> fields.List:
    """Two finite numbers within ±1e6, e.g. a start point ``[x, y]``.

    Bounded like ``Interval``: a coordinate near the float64 maximum overflows the first
    arithmetic done with it (``point + t·direction``), and no surface is drawn out there.
    """
    return fields.List(FiniteFloat(), validate=[validate.Length(equal=2), _bounded], **kwargs)


def Interval(**kwargs) -> fields.List:
    """``[low, high]`` with low < high, both finite and within ±1e6."""
    return fields.List(
        FiniteFloat(),
        validate=[validate.Length(equal=2), _increasing, _bounded],
        **kwargs,
    )


def limit_range(limit_name: str, low: float, high: float, **kwargs):
    """A ``validate.Range`` whose error names the engine limit it enforces."""
    return validate.Range(
        min=low,
        max=high,
        error=f"must be between {{min}} and {{max}} (limit {limit_name})",
        **kwargs,
    )


def finite_list_check(values) -> None:
    if any(not math.isfinite(v) for v in values):
        raise ValidationError("values must be finite numbers")
