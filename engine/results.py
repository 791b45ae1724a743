"""What every result of the engine can do besides hold numbers: ``@resultclass`` over ``@dataclass(frozen=True)``.

::

    @resultclass               # or @resultclass(columns=True) for histories and trajectories
    @dataclass(frozen=True)
    class Trajectory:
        ...

gives the class, and keeps ``dataclasses.fields`` / ``asdict`` / ``replace`` working:

* a short ``repr`` (under 500 characters): the type, its scalars first (status, steps, final values),
  arrays by dtype and shape with the last value of loss-like ones, containers by size;
* ``to_dict()``: plain lists, floats, ints, str, bool and None, nested results converted; JSON-ready:
  NaN and ±inf become ``None`` (``json.dumps(r.to_dict())`` always works), tuples become lists and
  mapping keys strings; ``to_json()`` is ``json.dumps(to_dict())``;
* read-only arrays: at construction every array field (and every array directly inside a list, tuple or
  dict field) is replaced by a read-only view of it, so ``r.loss[0] = 1`` raises ``ValueError``. A view,
  not the array itself: an array the caller passed in stays writable in the caller's hands;
* ``==`` by value: same type and equal fields, arrays by ``np.array_equal(equal_nan=True)``; never raises
  (values that cannot be compared are unequal). Results are unhashable, like numpy arrays;
* with ``columns=True``, ``to_columns(index=None)``: a dict of equal-length plain lists,
  ``pandas.DataFrame(r.to_columns())`` ready (see ``to_columns``).
"""

from __future__ import annotations

import dataclasses
import functools
import json
import math
from typing import Any

import numpy as np

from .errors import EngineInputError

__all__ = ["resultclass", "is_result", "plain"]

REPR_LIMIT = 499  # a repr is at most this many characters
# arrays whose last value is a headline (the final loss of a run), shown in the repr
_HEADLINE = ("loss", "train_loss", "val_loss", "batch_loss", "values", "eigenvalues")


def is_result(obj: Any) -> bool:
    """True for an instance or class built with ``@resultclass``."""
    return getattr(obj, "__engine_result__", False) is True


def resultclass(cls: type | None = None, *, columns: bool | tuple[str, ...] = False) -> Any:
    """Class decorator for a frozen result dataclass (apply it above ``@dataclass(frozen=True)``).

    ``columns``: give the class ``to_columns()``; a tuple names the columns of a 2-D array field's
    second axis (``("x", "y")``: ``path`` becomes ``path_x``, ``path_y``; default ``path_0``, ``path_1``).
    """
    if cls is None:
        return functools.partial(resultclass, columns=columns)
    if not dataclasses.is_dataclass(cls):
        raise TypeError(f"@resultclass goes above @dataclass: {cls.__name__} is not a dataclass")
    init = cls.__init__

    @functools.wraps(init)
    def __init__(self, *args, **kwargs):
        init(self, *args, **kwargs)
        for f in dataclasses.fields(self):
            value = self.__dict__.get(f.name)
            frozen = _read_only(value)
            if frozen is not value:
                object.__setattr__(self, f.name, frozen)

    cls.__init__ = __init__
    cls.__repr__ = _repr
    cls.__eq__ = _eq
    cls.__hash__ = None  # equal by value, arrays inside: unhashable like np.ndarray
    cls.to_dict = _to_dict
    cls.to_json = _to_json
    if columns:
        cls.to_columns = _to_columns
        cls.__column_names__ = tuple(columns) if isinstance(columns, tuple) else ()
    cls.__engine_result__ = True
    return cls


# -- read-only ---------------------------------------------------------------------------------------
def _read_only(value: Any) -> Any:
    if isinstance(value, np.ndarray):
        if not value.flags.writeable:
            return value
        view = value.view()
        view.flags.writeable = False
        return view
    if type(value) in (list, tuple):
        items = [_read_only(v) for v in value]
        if any(a is not b for a, b in zip(items, value)):
            return type(value)(items)
        return value
    if type(value) is dict:
        items = {k: _read_only(v) for k, v in value.items()}
        if any(items[k] is not value[k] for k in value):
            return items
        return value
    return value


# -- repr -----------------------------------------------------------------------------------------------
def _short(value: Any, name: str = "") -> str:
    if isinstance(value, np.ndarray):
        text = f"<{value.dtype.name}{list(value.shape)}>"
        if name in _HEADLINE and value.ndim == 1 and value.size and value.dtype.kind in "fiu":
            text += f" last={_number(value[-1])}"
        return text
    if is_result(value):
        return f"{type(value).__name__}(…)"
    if isinstance(value, (bool, np.bool_)) or value is None:
        return repr(bool(value) if isinstance(value, np.bool_) else value)
    if isinstance(value, (int, float, np.integer, np.floating)):
        return _number(value)
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, (list, tuple, dict)):
        kind = {list: "list", tuple: "tuple", dict: "dict"}.get(type(value), type(value).__name__)
        if len(value) <= 4 and all(isinstance(v, (int, float, str, bool)) for v in value):
            text = repr(value)
            if len(text) <= 60:
                return text
        return f"<{kind} of {len(value)}>"
    if dataclasses.is_dataclass(value):
        return f"{type(value).__name__}(…)"
    return f"<{type(value).__name__}>"


def _number(x: Any) -> str:
    if isinstance(x, (bool, np.bool_)):
        return repr(bool(x))
    if isinstance(x, (int, np.integer)):
        return str(int(x))
    return f"{float(x):.6g}"


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, (str, bool, int, float, np.generic))


def _repr(self) -> str:
    fields = [(f.name, getattr(self, f.name)) for f in dataclasses.fields(self) if f.repr]
    # headline first: the scalars (status, counts, final values), then arrays and containers
    ordered = [kv for kv in fields if _is_scalar(kv[1])] + [kv for kv in fields if not _is_scalar(kv[1])]
    head = f"{type(self).__name__}("
    text = head + ", ".join(f"{k}={_short(v, k)}" for k, v in ordered) + ")"
    if len(text) > REPR_LIMIT:
        text = text[: REPR_LIMIT - 2] + "…)"
    return text


# -- equality ---------------------------------------------------------------------------------------------
def _eq(self, other: Any) -> bool:
    if other.__class__ is not self.__class__:
        return NotImplemented
    return all(_equal(getattr(self, f.name), getattr(other, f.name))
               for f in dataclasses.fields(self) if f.compare)


def _equal(a: Any, b: Any) -> bool:
    try:
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            if not (isinstance(a, np.ndarray) and isinstance(b, np.ndarray)) or a.shape != b.shape:
                return False
            try:
                return bool(np.array_equal(a, b, equal_nan=True))
            except TypeError:  # equal_nan needs a numeric dtype (strings, objects)
                return bool(np.array_equal(a, b))
        if type(a) in (list, tuple) and type(b) is type(a):
            return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b))
        if type(a) is dict and type(b) is dict:
            return a.keys() == b.keys() and all(_equal(a[k], b[k]) for k in a)
        if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
            return True
        return bool(a == b)
    except Exception:  # noqa: BLE001 - an uncomparable value makes the results unequal, never an error
        return False


# -- to_dict / to_json ---------------------------------------------------------------------------------------
def _to_dict(self) -> dict:
    """The result as plain JSON-ready values: lists, floats, ints, str, bool, None (NaN/±inf -> None)."""
    return {f.name: plain(getattr(self, f.name)) for f in dataclasses.fields(self)}


def _to_json(self, **kwargs: Any) -> str:
    """``json.dumps(self.to_dict(), **kwargs)``."""
    return json.dumps(self.to_dict(), allow_nan=False, **kwargs)


def plain(value: Any) -> Any:
    """``value`` with numpy arrays and scalars, tuples, dataclasses and non-finite floats made JSON-ready."""
    if value is None or isinstance(value, (str, bool)):
        return value
    if isinstance(value, np.ndarray):
        return _array(value)
    if isinstance(value, np.generic):
        return plain(value.item())
    if isinstance(value, int):
        return int(value)
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, complex):
        return [plain(value.real), plain(value.imag)]
    if is_result(value):
        return value.to_dict()
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, tuple) and hasattr(value, "_fields"):  # a NamedTuple
        return {k: plain(v) for k, v in zip(value._fields, value)}
    if isinstance(value, dict):
        return {k if isinstance(k, str) else str(plain(k)): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [plain(v) for v in value]
    if callable(value):  # a compiled function in a result: its name
        return getattr(value, "__name__", type(value).__name__)
    return str(value)


def _array(a: np.ndarray) -> Any:
    if a.dtype.kind == "f":
        if a.size and not np.isfinite(a).all():
            out = a.astype(object)
            out[~np.isfinite(a)] = None
            return out.tolist()
        return a.tolist()
    if a.dtype.kind in "iub":
        return a.tolist()
    if a.dtype.kind == "c":
        return plain(np.stack([a.real, a.imag], axis=-1))
    return [plain(v) for v in a.tolist()] if a.ndim == 1 else [_array(row) for row in a]


# -- columns ---------------------------------------------------------------------------------------
def _to_columns(self, index: str | None = None) -> dict[str, list]:
    """Equal-length plain columns for ``pandas.DataFrame(r.to_columns())`` (pandas is not needed).

    One row per entry of ``index`` (default: the first array field; for a trajectory, one row per point,
    for a history one per epoch or evaluation). A field becomes a column when its length matches:
    a 1-D array (or a list of numbers or strings) is one column, a 2-D array ``(rows, k)`` is ``k`` columns
    (a trajectory's ``path_x``, ``path_y``; elsewhere ``name_0``, ``name_1``, ...), a dict of arrays is one
    column per key (``name.key``).
    Arrays one shorter than the rows (a trajectory's per-step ``update``, ``lr``, ``step_gradient``:
    step i goes from point i to point i+1) get ``None`` in the last row. An optional column that was not
    recorded (empty, e.g. accuracies on a regression run) is dropped. Arrays recorded at other rows
    (a training history's ``sharpness*`` records, one per curvature record) make their own table:
    ``to_columns("sharpness_epoch")``. Non-finite values are ``None``.
    """
    fields = {f.name: getattr(self, f.name) for f in dataclasses.fields(self)}
    arrays = {k: v for k, v in fields.items() if isinstance(v, np.ndarray) and v.ndim >= 1}
    if index is None:
        index = next(iter(arrays), None)
    if index not in arrays:
        raise EngineInputError("index", f"must name an array field of {type(self).__name__}: one of "
                                        f"{', '.join(arrays)}")
    rows = int(arrays[index].shape[0])
    suffixes = type(self).__column_names__
    out: dict[str, list] = {}
    for name, value in fields.items():
        if isinstance(value, dict):
            for key, v in value.items():
                if isinstance(v, np.ndarray):
                    _add_column(out, f"{name}.{key}", v, rows, suffixes)
        elif isinstance(value, np.ndarray) and value.ndim >= 1:
            _add_column(out, name, value, rows, suffixes)
        elif (type(value) in (list, tuple) and value and len(value) in (rows, rows - 1)
              and all(_is_scalar(v) for v in value)):
            out[name] = [plain(v) for v in value] + [None] * (rows - len(value))
    return out


def _add_column(out: dict, name: str, a: np.ndarray, rows: int, suffixes: tuple[str, ...]) -> None:
    if a.size == 0 or a.ndim > 2 or a.shape[0] not in (rows, rows - 1):
        return
    pad = rows - a.shape[0]
    if a.ndim == 1:
        out[name] = _array(a) + [None] * pad
        return
    k = a.shape[1]
    names = [f"{name}_{c}" for c in (suffixes if len(suffixes) == k else range(k))]
    for j, col in enumerate(names):
        out[col] = _array(np.ascontiguousarray(a[:, j])) + [None] * pad
