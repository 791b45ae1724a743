"""Argument checks every public engine function shares: numbers, integers, pairs, ranges, objects, arrays.

Each returns the value in the type the kernels want (``float``, ``int``, a C-contiguous float64 array)
or raises ``EngineInputError`` naming ``field``; limits are checked with ``engine.limits.check_max``
so the error names the limit too. Kernels never see unchecked input: this module is the layer above.
"""

from __future__ import annotations

import math
from typing import Any, Mapping, Sequence

import numpy as np

from .errors import EngineInputError
from .limits import check_max

_REAL = (int, float, np.integer, np.floating)


def check_int(field: str, value, low: int, limit: str | None = None, *, integral_floats: bool = True) -> int:
    """An integer >= ``low`` (and within ``LIMITS[limit]`` when given). ``integral_floats``: 3.0 counts as 3."""
    integral = isinstance(value, (int, np.integer)) or (
        integral_floats and isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise EngineInputError(field, "must be an integer")
    value = int(value)
    if value < low:
        raise EngineInputError(field, f"must be >= {low}")
    if limit is not None:
        check_max(field, value, limit)
    return value


def check_float(field: str, value, low: float | None = None, high: float | None = None, strict: bool = False) -> float:
    """A finite number in ``[low, high]`` (``(low, high]`` when ``strict``)."""
    if isinstance(value, bool) or not isinstance(value, _REAL):
        raise EngineInputError(field, "must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise EngineInputError(field, "must be finite")
    if low is not None and (value <= low if strict else value < low):
        raise EngineInputError(field, f"must be {'>' if strict else '>='} {low}")
    if high is not None and value > high:
        raise EngineInputError(field, f"must be <= {high}")
    return value


def check_bool(field: str, value) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise EngineInputError(field, "must be true or false")
    return bool(value)


def check_pair(field: str, value, what: str = "a pair of numbers [a, b]", indexed: bool = False) -> tuple[float, float]:
    """Two finite numbers; ``indexed`` names a bad entry ``field.0`` / ``field.1``."""
    if isinstance(value, (str, bytes, dict)) or not hasattr(value, "__len__") or len(value) != 2:
        raise EngineInputError(field, f"must be {what}")
    return (check_float(f"{field}.0" if indexed else field, value[0]),
            check_float(f"{field}.1" if indexed else field, value[1]))


def check_point(field: str, value) -> tuple[float, float]:
    """A point ``[x, y]`` of the plane (a bad coordinate is named ``field.0`` / ``field.1``)."""
    return check_pair(field, value, "a pair [x, y]", indexed=True)


def check_interval(field: str, value, indexed: bool = False) -> tuple[float, float]:
    """``[low, high]`` with finite low < high and a finite width."""
    lo, hi = check_pair(field, value, "[low, high]", indexed)
    if not lo < hi:
        raise EngineInputError(field, "must be [low, high] with low < high")
    if not math.isfinite(hi - lo):
        raise EngineInputError(field, "width must be finite")
    return lo, hi


def check_mapping(field: str, value) -> dict:
    """An object (``None`` is the empty one), copied."""
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EngineInputError(field, "must be an object")
    return dict(value)


def check_spec(field: str, spec: Any, example: str) -> dict:
    """A registry spec ``{"name": ..., **params}`` (copied): an object with a name."""
    if not isinstance(spec, Mapping):
        raise EngineInputError(field, f"must be an object with a name, e.g. {example}")
    return dict(spec)


def check_array(field: str, values, shape: tuple[int, ...] | None = None, ndim: tuple[int, ...] = (1, 2),
                max_abs: float | None = None, limit: str | None = None) -> np.ndarray:
    """A C-contiguous float64 array of finite numbers (a copy), of ``shape`` or one of ``ndim`` dimensions.

    ``max_abs`` bounds every value; ``limit`` bounds the element count (``LIMITS[limit]``).
    """
    if isinstance(values, (str, bytes, dict)) or values is None:
        raise EngineInputError(field, "must be numbers (rows of equal length)")
    try:
        arr = np.array(values, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise EngineInputError(field, "must be numbers (rows of equal length)") from None
    if shape is not None and arr.shape != shape:
        raise EngineInputError(field, f"shape {list(arr.shape)} does not match the expected {list(shape)}")
    if shape is None and arr.ndim not in ndim:
        raise EngineInputError(field, f"must be {' or '.join(f'{d}-D' for d in ndim)}, got {arr.ndim}-D")
    if arr.size == 0 and shape is None:
        raise EngineInputError(field, "must not be empty")
    if limit is not None:
        check_max(field, int(arr.size), limit)
    if not np.isfinite(arr).all():
        raise EngineInputError(field, "values must be finite numbers")
    if max_abs is not None and arr.size and np.abs(arr).max() > max_abs:
        raise EngineInputError(field, f"values must lie within ±{max_abs:g}")
    return np.ascontiguousarray(arr)


# Type hints the public signatures share (what a caller may pass; each function checks it).
Pair = Sequence[float]  # two numbers (a, b): a range [low, high], a point [x, y], a resolution [nx, ny]
Domain = Mapping[str, Sequence[float]] | Sequence[Sequence[float]]  # {"x": [lo, hi], "y": [lo, hi]} or ((lo, hi), (lo, hi))
Spec = Mapping[str, Any]  # a registry spec {"name": ..., **params}


# --- helpers added for the networks/data/training/LM/curvature/sweep surface (helper B) ---

def check_seed(field: str, value) -> int:
    """A seed: an integer in [0, 2**63) (the kernels' counters are int64; numpy's SeedSequence takes any)."""
    value = check_int(field, value, 0, integral_floats=False)
    if value >= 2**63:
        raise EngineInputError(field, "must be < 2**63")
    return value


def check_name(field: str, value, choices) -> str:
    """One of ``choices`` (a str; a list, dict or number is refused by name, never hashed)."""
    if not isinstance(value, str) or value not in choices:
        raise EngineInputError(field, f"unknown name {value!r}; choose one of: {', '.join(map(str, choices))}")
    return value


def check_optional_mapping(field: str, value) -> dict | None:
    """``None`` or an object (copied)."""
    return None if value is None else check_mapping(field, value)


def as_array(field: str, values, message: str, ragged: str | None = None, kinds: str | None = None) -> np.ndarray:
    """``np.asarray(values)`` for an argument that must be numbers, refused before numpy guesses: a string,
    bytes, a dict or None with ``message``; what numpy cannot make one array of (rows of unequal length), or
    an array whose dtype kind is not in ``kinds`` (numpy's letters, e.g. ``"biuf"``; None: any), with
    ``ragged`` (default ``message``). The caller checks shape and values."""
    if isinstance(values, (str, bytes, dict)) or values is None:
        raise EngineInputError(field, message)
    try:
        arr = np.asarray(values)
    except (TypeError, ValueError):
        raise EngineInputError(field, ragged or message) from None
    if kinds is not None and arr.dtype.kind not in kinds:
        raise EngineInputError(field, ragged or message)
    return arr


def check_int_array(field: str, values, ndim: int = 1, limit: str | None = None) -> np.ndarray:
    """A C-contiguous int64 array (a copy) of ``ndim`` dimensions: integer dtypes, or floats that are whole
    numbers; strings, booleans, objects and fractions are refused (a float is never truncated silently)."""
    arr = as_array(field, values, "must be integers", "must be integers (rows of equal length)")
    if arr.ndim != ndim:
        raise EngineInputError(field, f"must be {ndim}-D, got {arr.ndim}-D")
    if limit is not None:
        check_max(field, int(arr.size), limit)
    if arr.dtype.kind in "iu":
        if arr.dtype.kind == "u" and arr.size and arr.max() > np.iinfo(np.int64).max:
            raise EngineInputError(field, "values must fit in int64")
        return np.ascontiguousarray(arr, dtype=np.int64)
    if arr.dtype.kind == "f" and np.isfinite(arr).all() and (arr == np.round(arr)).all() \
            and (np.abs(arr) < 2.0**62).all():
        return np.ascontiguousarray(arr, dtype=np.int64)
    raise EngineInputError(field, "must be integers")
