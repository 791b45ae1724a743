"""Schema fields shared by every blueprint.

Large numeric results (grids, trajectories) are dumped through ``NumberArray``, which
passes numpy arrays straight to orjson: marshmallow's ``List`` would make one Python call
per number. The OpenAPI document still describes them as (nested) arrays of numbers. Loaded
number arrays (predictions, weights, loss curves) go through the same field, limits named.
"""

from __future__ import annotations

import math

import numpy as np
from marshmallow import ValidationError, fields, validate


class NumberArray(fields.Raw):
    """The one field for arrays of numbers, both ways.

    Dumped: a numpy array (any rank) written as nested JSON lists by orjson, untouched by marshmallow.
    Loaded: a list of ``ndim`` 1 numbers or ``ndim`` 2 equal-length rows (``ndim=(1, 2)``: either), every
    limit checked before anything is converted and named in the error (``max_items`` entries, or rows,
    ``max_row`` numbers per row, ``max_elements`` in all; each a ``(count, "limit_name")`` pair or None);
    ``nullable`` lets ``null`` stand for a NaN/inf a user's log recorded. Returns the lists, or a float64
    numpy array with ``as_array``.
    """

    def __init__(self, ndim: int | tuple[int, ...] = 1, item_type: str = "number", *, nullable: bool = False,
                 min_items: int = 1, max_items: tuple[int, str] | None = None, max_row: tuple[int, str] | None = None,
                 max_elements: tuple[int, str] | None = None, as_array: bool = False, **kwargs):
        self.ndims = (ndim,) if isinstance(ndim, int) else tuple(ndim)
        self.nullable, self.min_items, self.as_array = nullable, min_items, as_array
        self.max_items, self.max_row, self.max_elements = max_items, max_row, max_elements
        item: dict = {"type": item_type, **({"nullable": True} if nullable else {})}
        shapes = []
        for d in self.ndims:
            items = item
            for _ in range(d - 1):
                items = {"type": "array", "items": items}
            shapes.append({"type": "array", "items": items})
        metadata = shapes[0] if len(shapes) == 1 else {"oneOf": shapes}
        if max_items is not None:
            metadata = {**metadata, "maxItems": max_items[0]}
        super().__init__(metadata={**metadata, **kwargs.pop("metadata", {})}, **kwargs)

    def _numbers(self, values: list, what: str) -> None:
        for v in values:
            if v is None and self.nullable:
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)):
                raise ValidationError(f"{what} must contain only numbers" + (" (null for NaN/inf)" if self.nullable
                                                                                else ""))

    def _deserialize(self, value, attr, data, **kwargs):
        rows = 2 in self.ndims and isinstance(value, list) and bool(value) and isinstance(value[0], list)
        if not isinstance(value, list) or len(value) < self.min_items or (self.ndims == (2,) and not rows):
            kind = {(1,): "numbers", (2,): "rows of numbers"}.get(self.ndims, "numbers, or a list of rows of numbers")
            size = "non-empty list" if self.min_items == 1 else f"list of at least {self.min_items}"
            raise ValidationError(f"must be a {size} of {kind}")
        if self.max_items is not None and len(value) > self.max_items[0]:
            raise ValidationError(f"{len(value)} {'rows' if rows else 'values'} exceed limit "
                                  f"{self.max_items[1]}={self.max_items[0]}")
        if rows:
            width = len(value[0])
            if self.max_elements is not None and len(value) * width > self.max_elements[0]:
                raise ValidationError(f"{len(value) * width} elements exceed limit "
                                      f"{self.max_elements[1]}={self.max_elements[0]}")
            if self.max_row is not None and width > self.max_row[0]:
                raise ValidationError(f"rows of {width} numbers exceed limit {self.max_row[1]}={self.max_row[0]}")
            for row in value:
                if not isinstance(row, list) or not row or len(row) != width:
                    raise ValidationError("rows must be non-empty lists of numbers, all of the same length")
                self._numbers(row, "rows")
        else:
            for limit in (self.max_elements, self.max_row):
                if limit is not None and len(value) > limit[0]:
                    raise ValidationError(f"{len(value)} values exceed limit {limit[1]}={limit[0]}")
            self._numbers(value, "the list")
        return np.asarray(value, dtype=np.float64) if self.as_array else value


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
