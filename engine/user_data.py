"""The user's own data for training: inline rows (JSON or numpy) or CSV text, checked and split.

Two kinds, by ``dataset.name`` (``USER_DATASETS``), wherever a training run names a dataset::

    {"name": "inline", "x": [[0.1], [0.4], ...], "y": [[0.2], [0.9], ...],       # regression
     "validation": {"x": [[...]], "y": [[...]]}}                                 # or val_fraction + seed
    {"name": "inline", "x": [[...]], "labels": [0, 2, 1, ...], "val_fraction": 0.25, "seed": 0}
    {"name": "csv", "csv": "x1,x2,label\\n0.1,0.3,1\\n...", "target": "label", "val_fraction": 0.25}

Rules, stated:

* ``x``: rows of features, all of one length (1..``max_data_features``); a flat list of numbers is one
  feature per row. ``y``: one target per row (``[[0.2], ...]`` or ``[0.2, ...]``): regression.
  ``labels``: one class index per row, integers 0..``max_data_classes``-1: classification with
  ``n_classes = max label + 1`` over both splits (at least 2). Exactly one of ``y`` and ``labels``.
* Every value must be a finite number (JSON numbers; booleans and strings are refused). A refusal names
  the field and the 0-based row and column: ``dataset.x: row 12, column 1: not a finite number (got
  NaN)``; a ragged row: ``dataset.x: row 7 has 3 columns; row 0 has 2``.
* Validation: either ``validation`` (the same keys, same feature count) or a seeded split of ``x``:
  ``val_fraction`` (default 0.25) of the rows, ``n_val = round(val_fraction * n)`` clamped to 1..n-1,
  are ``np.random.default_rng(seed).permutation(n)[:n_val]``; both splits keep the rows' given order.
* CSV: comma-separated, one row per line, an optional header (present when the first line has a field
  that is not a number); ``target`` names the target column by header name or 0-based index (default: the
  last column); the other columns are the features. ``task`` is ``regression`` or ``classification``;
  by default classification when every target value is an integer >= 0 (scikit-learn's
  ``type_of_target``: integral values are classes), else regression. Refusals name ``dataset.csv``, the
  1-based line and the column. Blank lines are skipped.
* Sizes: ``n_train <= max_train_samples``, ``n_val <= max_val_samples``, features <= ``max_data_features``,
  classes <= ``max_data_classes``, CSV text <= ``max_csv_chars``: each is checked before the data is read
  further, so a refusal costs little whatever the size.
* Drawing domain (where the fitted curve or decision surface is drawn): per feature ``[min, max]`` over both
  splits, widened by 10% of its span on each side (by 1 when the span is 0).

The same rows given as numpy arrays (``inline_dataset(x, y)``) or as JSON give the same ``Dataset`` to the bit.
"""

from __future__ import annotations

import csv as csvlib
import io
import math
from typing import Any, Mapping

from numpy.typing import ArrayLike

import numpy as np

from .datasets import Dataset
from .errors import EngineInputError
from .limits import LIMITS
from .tasks import CLASSIFICATION, REGRESSION, TASKS
from .validate import check_float, check_int, check_mapping

__all__ = ["USER_DATASETS", "csv_dataset", "inline_dataset", "user_dataset"]

DEFAULT_VAL_FRACTION = 0.25
INLINE_KEYS = ("name", "x", "y", "labels", "validation", "val_fraction", "seed")
CSV_KEYS = ("name", "csv", "target", "task", "val_fraction", "seed")
USER_DATASETS = {"inline": INLINE_KEYS, "csv": CSV_KEYS}


# -- reading rows -------------------------------------------------------------------------------


def _what(v) -> str:
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, str):
        return f"a string ({v[:20]!r})"
    if v is None:
        return "null"
    if isinstance(v, (list, tuple, dict)):
        return f"a{'n object' if isinstance(v, dict) else ' list'}"
    return repr(v)


def _first_bad(field: str, rows, d: int) -> EngineInputError:
    """The first row/column that made ``rows`` fail the fast path, located and named (slow, only on refusal)."""
    for i, row in enumerate(rows):
        cells = row if isinstance(row, (list, tuple, np.ndarray)) else None
        if cells is None:
            return EngineInputError(field, f"row {i}: must be a list of {d} number{'s' * (d != 1)}, got {_what(row)}")
        if len(cells) != d:
            return EngineInputError(field, f"row {i} has {len(cells)} columns; row 0 has {d}")
        for j, v in enumerate(cells):
            if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, float, np.integer, np.floating)):
                return EngineInputError(field, f"row {i}, column {j}: not a number (got {_what(v)})")
            if not math.isfinite(v):
                return EngineInputError(field, f"row {i}, column {j}: not a finite number (got {v})")
    return EngineInputError(field, "must be rows of numbers")


def _count(field: str, what: str, n: int, limit: str) -> None:
    if n > LIMITS[limit]:
        raise EngineInputError(field, f"{n:,} {what} exceed limit {limit}={LIMITS[limit]:,}")


def _matrix(field: str, value, limit_name: str, flat_ok: bool = True) -> np.ndarray:
    """``value`` (rows of numbers, or a flat list of numbers = one column) as a float64 (n, d) array."""
    if isinstance(value, (str, bytes, Mapping)) or not hasattr(value, "__len__"):
        raise EngineInputError(field, f"must be a list of rows of numbers, got {_what(value)}")
    n = len(value)
    if n == 0:
        raise EngineInputError(field, "must hold at least one row")
    _count(field, "rows", n, limit_name)
    first = value[0]
    flat = not isinstance(first, (list, tuple, np.ndarray)) and not (isinstance(value, np.ndarray) and value.ndim == 2)
    if flat and not flat_ok:
        raise EngineInputError(field, "must be a list of rows")
    d = 1 if flat else len(first)
    if d == 0:
        raise EngineInputError(field, "row 0 is empty")
    _count(field, "columns", d, "max_data_features")
    try:
        a = np.asarray(value)
    except (ValueError, TypeError):  # ragged rows
        raise _first_bad(field, [[v] for v in value] if flat else value, d) from None
    if not isinstance(value, np.ndarray) and a.dtype.kind in "iuf":  # JSON true/false become 1/0 in numpy
        rows = [value] if flat else value
        if any(v is True or v is False for row in rows for v in row):
            raise _first_bad(field, [[v] for v in value] if flat else value, d)
    if flat and a.ndim == 1:
        a = a.reshape(-1, 1)
    if a.ndim != 2 or a.shape != (n, d) or a.dtype.kind not in "iuf":
        raise _first_bad(field, [[v] for v in value] if flat else value, d)
    a = np.ascontiguousarray(a, dtype=np.float64)
    bad = ~np.isfinite(a)
    if bad.any():
        i, j = (int(k) for k in np.argwhere(bad)[0])
        raise EngineInputError(field, f"row {i}, column {j}: not a finite number (got {a[i, j]})")
    return a


def _labels(field: str, value, limit_name: str) -> np.ndarray:
    a = _matrix(field, value, limit_name)
    if a.shape[1] != 1:
        raise EngineInputError(field, f"one class index per row, got rows of {a.shape[1]}")
    bad = (a < 0) | (a != np.floor(a)) | (a >= LIMITS["max_data_classes"])
    if bad.any():
        i = int(np.argwhere(bad)[0, 0])
        raise EngineInputError(field, f"row {i}: a label must be an integer 0..{LIMITS['max_data_classes'] - 1} "
                                      f"(limit max_data_classes), got {a[i, 0]:g}")
    return a


def _targets(spec: dict, field: str, n_rows: int, limit_name: str) -> tuple[np.ndarray, str]:
    """(Y (n, 1), task) from ``y`` or ``labels`` of ``spec``, checked against ``n_rows``."""
    has_y, has_labels = spec.get("y") is not None, spec.get("labels") is not None
    if has_y == has_labels:
        raise EngineInputError(f"{field}.y", "give exactly one of y (regression targets) and labels (class indices)")
    key = "y" if has_y else "labels"
    Y = (_matrix(f"{field}.y", spec["y"], limit_name) if has_y
         else _labels(f"{field}.labels", spec["labels"], limit_name))
    if Y.shape[1] != 1:
        raise EngineInputError(f"{field}.y", f"one target per row, got rows of {Y.shape[1]} "
                                             "(a network here has one regression output)")
    if Y.shape[0] != n_rows:
        raise EngineInputError(f"{field}.{key}", f"has {Y.shape[0]} rows; x has {n_rows}")
    return Y, (REGRESSION if has_y else CLASSIFICATION)


# -- splitting and building ---------------------------------------------------------------------


def _split(field: str, X: np.ndarray, Y: np.ndarray, val_fraction, seed) -> tuple[np.ndarray, ...]:
    frac = check_float(f"{field}.val_fraction", DEFAULT_VAL_FRACTION if val_fraction is None else val_fraction,
                       0.0, 1.0, strict=True)
    if frac >= 1.0:
        raise EngineInputError(f"{field}.val_fraction", "must be < 1")
    seed = check_int(f"{field}.seed", 0 if seed is None else seed, 0)
    if seed > 2**32 - 1:
        raise EngineInputError(f"{field}.seed", "must be < 2**32")
    n = X.shape[0]
    if n < 2:
        raise EngineInputError(f"{field}.x", "a validation split needs at least 2 rows (or give validation)")
    n_val = min(max(int(round(frac * n)), 1), n - 1)
    is_val = np.zeros(n, dtype=bool)
    is_val[np.random.default_rng(seed).permutation(n)[:n_val]] = True
    return X[~is_val], Y[~is_val], X[is_val], Y[is_val]


def _domain(X: np.ndarray, Xv: np.ndarray) -> np.ndarray:
    both = np.concatenate([X, Xv])
    lo, hi = both.min(axis=0), both.max(axis=0)
    pad = np.where(hi > lo, 0.1 * (hi - lo), 1.0)
    return np.stack([lo - pad, hi + pad], axis=1)


def _build(name: str, field: str, task: str, X, Y, Xv, Yv, extra: dict) -> Dataset:
    _count(f"{field}.x", "training rows", X.shape[0], "max_train_samples")
    _count(f"{field}.val_fraction", "validation rows", Xv.shape[0], "max_val_samples")
    n_classes = 0
    if task == CLASSIFICATION:
        n_classes = int(max(Y.max(), Yv.max())) + 1
        if n_classes < 2:
            raise EngineInputError(f"{field}.labels", "classification needs at least 2 classes (labels 0 and 1)")
    X, Y, Xv, Yv = (np.ascontiguousarray(a, dtype=np.float64) for a in (X, Y, Xv, Yv))
    params = {"n_train": int(X.shape[0]), "n_val": int(Xv.shape[0]), "n_inputs": int(X.shape[1]), **extra}
    return Dataset(name=name, task=task, n_classes=n_classes, X_train=X, Y_train=Y, X_val=Xv, Y_val=Yv,
                   domain=_domain(X, Xv), params=params)


def _refuse_unknown(field: str, spec: Mapping, accepted: tuple[str, ...]) -> None:
    unknown = sorted(set(spec) - set(accepted))
    if unknown:
        raise EngineInputError(f"{field}.{unknown[0]}", f"unknown key; accepted: {', '.join(accepted)}")


def _public(err: EngineInputError, whole: str) -> EngineInputError:
    """A refusal of the request-shaped core (``dataset.x``) under the Python argument's name (``x``);
    one about the dataset as a whole names ``whole``."""
    if err.field == "dataset":
        return EngineInputError(whole, err.message)
    return err.rerooted("", strip="dataset")


def inline_dataset(x: ArrayLike, y: ArrayLike | None = None, labels: ArrayLike | None = None,
                   validation: Mapping[str, Any] | None = None, val_fraction: float | None = None,
                   seed: int | None = None) -> Dataset:
    """A training ``Dataset`` from the user's rows: ``x`` (n, d) with ``y`` (n,) or (n, 1) regression targets,
    or ``labels`` (n,) class indices; numpy arrays or nested lists (module docstring for every rule).

    >>> d = engine.inline_dataset([[0.0], [1.0], [2.0], [3.0]], y=[0.0, 1.0, 4.0, 9.0], val_fraction=0.25)
    >>> d.task, d.X_train.shape, d.X_val.shape
    ('regression', (3, 1), (1, 1))
    """
    try:
        return inline_rows(x, y, labels, validation, val_fraction, seed, "dataset")
    except EngineInputError as err:
        raise _public(err, "x") from None


def inline_rows(x, y=None, labels=None, validation: Mapping | None = None, val_fraction: float | None = None,
                seed: int | None = None, field: str = "dataset") -> Dataset:
    """``inline_dataset`` for a request's dataset object: errors name ``field.x``, ``field.labels``..."""
    limit = "max_train_samples" if validation is not None else "max_user_rows"
    X = _matrix(f"{field}.x", x, limit)
    Y, task = _targets({"y": y, "labels": labels}, field, X.shape[0], limit)
    if validation is not None:
        if val_fraction is not None:
            raise EngineInputError(f"{field}.val_fraction", "give validation or val_fraction, not both")
        v = check_mapping(f"{field}.validation", validation)
        _refuse_unknown(f"{field}.validation", v, ("x", "y", "labels"))
        vf = f"{field}.validation"
        Xv = _matrix(f"{vf}.x", v.get("x", []), "max_val_samples")
        if Xv.shape[1] != X.shape[1]:
            raise EngineInputError(f"{vf}.x", f"rows have {Xv.shape[1]} columns; x has {X.shape[1]}")
        Yv, vtask = _targets(v, vf, Xv.shape[0], "max_val_samples")
        if vtask != task:
            raise EngineInputError(f"{vf}.{'y' if task == REGRESSION else 'labels'}",
                                   "required: the validation set gives the same kind of targets as the training set")
        return _build("inline", field, task, X, Y, Xv, Yv, {"validation": "given"})
    parts = _split(field, X, Y, val_fraction, seed)
    return _build("inline", field, task, *parts, {"val_fraction": DEFAULT_VAL_FRACTION if val_fraction is None
                                                  else float(val_fraction), "seed": int(seed or 0)})


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _csv_rows(field: str, text) -> tuple[list[str] | None, list[tuple[int, list[str]]]]:
    """(header or None, [(1-based line, fields)]) of CSV ``text``."""
    if not isinstance(text, str):
        raise EngineInputError(field, f"must be CSV text, got {_what(text)}")
    _count(field, "characters", len(text), "max_csv_chars")
    _count(field, "lines beyond a header and a last newline (blank ones included)", max(0, text.count("\n") - 1),
           "max_user_rows")  # counted before any parsing
    rows = [(k + 1, r) for k, r in enumerate(csvlib.reader(io.StringIO(text))) if any(c.strip() for c in r)]
    if not rows:
        raise EngineInputError(field, "holds no rows")
    _count(field, "rows", len(rows) - 1, "max_user_rows")
    header = None
    if not all(_is_number(c) for c in rows[0][1]):
        header = [c.strip() for c in rows[0][1]]
        rows = rows[1:]
        if not rows:
            raise EngineInputError(field, "holds a header but no data rows")
    return header, rows


def csv_dataset(csv: str, target: str | int | None = None, task: str | None = None, val_fraction: float | None = None,
                seed: int | None = None) -> Dataset:
    """A training ``Dataset`` from CSV text: one column is the target, the others the features (module docstring).

    >>> d = engine.csv_dataset("a,b,label\\n0,1,0\\n1,0,1\\n1,1,0\\n0,0,1\\n2,2,0", target="label")
    >>> d.task, d.n_classes, d.X_train.shape[1]
    ('classification', 2, 2)
    """
    try:
        return csv_rows(csv, target, task, val_fraction, seed, "dataset")
    except EngineInputError as err:
        raise _public(err, "csv") from None


def csv_rows(csv: str, target=None, task: str | None = None, val_fraction: float | None = None,
             seed: int | None = None, field: str = "dataset") -> Dataset:
    """``csv_dataset`` for a request's dataset object: errors name ``field.csv``, ``field.target``..."""
    cf = f"{field}.csv"
    header, rows = _csv_rows(cf, csv)
    width = len(header) if header is not None else len(rows[0][1])
    if width < 2:
        raise EngineInputError(cf, "needs at least 2 columns: features and the target")
    _count(cf, "feature columns", width - 1, "max_data_features")
    names = header or [str(j) for j in range(width)]
    if target is None:
        t = width - 1
    elif isinstance(target, str) and header is not None and target in header:
        t = header.index(target)
    elif isinstance(target, (int, np.integer)) and not isinstance(target, bool) and 0 <= target < width:
        t = int(target)
    else:
        choices = f"one of {header}" if header is not None else f"a column index 0..{width - 1} (the CSV has no header)"
        raise EngineInputError(f"{field}.target", f"{target!r} is not a column; choose {choices}")
    values = np.empty((len(rows), width))
    for r, (line, cells) in enumerate(rows):
        if len(cells) != width:
            raise EngineInputError(cf, f"line {line} has {len(cells)} columns; expected {width}")
        for j, c in enumerate(cells):
            try:
                v = float(c)
            except ValueError:
                raise EngineInputError(cf, f"line {line}, column {j + 1} ({names[j]!r}): {c.strip()[:20]!r} "
                                           "is not a number") from None
            if not math.isfinite(v):
                raise EngineInputError(cf, f"line {line}, column {j + 1} ({names[j]!r}): not a finite number "
                                           f"(got {c.strip()[:20]!r})")
            values[r, j] = v
    y = values[:, t]
    if task is None:
        task = CLASSIFICATION if bool(np.all((y >= 0) & (y == np.floor(y)))) else REGRESSION
    elif not isinstance(task, str) or task not in TASKS:
        raise EngineInputError(f"{field}.task", f"must be one of: {', '.join(TASKS)}")
    X = np.ascontiguousarray(np.delete(values, t, axis=1))
    Y = np.ascontiguousarray(y.reshape(-1, 1))
    if task == CLASSIFICATION:
        Y = _labels(f"{field}.target", Y, "max_user_rows")
    parts = _split(field, X, Y, val_fraction, seed)
    return _build("csv", field, task, *parts, {
        "target": names[t], "features": [n for j, n in enumerate(names) if j != t], "task": task,
        "val_fraction": DEFAULT_VAL_FRACTION if val_fraction is None else float(val_fraction), "seed": int(seed or 0)})


def user_dataset(spec: Mapping[str, Any]) -> Dataset:
    """``{"name": "inline" | "csv", ...}`` (a request's dataset object) as a ``Dataset``; errors name ``spec.<key>``.

    >>> engine.user_dataset({"name": "inline", "x": [[0.0], [1.0], [2.0]], "labels": [0, 1, 0]}).task
    'classification'
    """
    try:
        return user_spec(spec, "dataset")
    except EngineInputError as err:
        raise err.rerooted("spec", strip="dataset") from None


def user_spec(spec: Mapping, field: str = "dataset") -> Dataset:
    """``user_dataset`` for a request's dataset object (errors name ``field.<key>``)."""
    spec = check_mapping(field, spec)
    name = spec.get("name")
    if not (isinstance(name, str) and name in USER_DATASETS):
        raise EngineInputError(f"{field}.name", f"must be one of: {', '.join(USER_DATASETS)}")
    _refuse_unknown(field, spec, USER_DATASETS[name])
    if name == "csv":
        if "csv" not in spec:
            raise EngineInputError(f"{field}.csv", "required: the CSV text")
        return csv_rows(spec["csv"], spec.get("target"), spec.get("task"), spec.get("val_fraction"),
                        spec.get("seed"), field)
    if "x" not in spec:
        raise EngineInputError(f"{field}.x", "required: rows of features")
    return inline_rows(spec["x"], spec.get("y"), spec.get("labels"), spec.get("validation"),
                       spec.get("val_fraction"), spec.get("seed"), field)


def describe() -> list[dict]:
    """Catalog entries (section "datasets"): the two kinds of user data, their keys, rules and limits."""
    limits = {k: LIMITS[k] for k in ("max_user_rows", "max_train_samples", "max_val_samples", "max_data_features",
                                     "max_data_classes", "max_csv_chars")}
    rules = ("every value a finite number; refusals name the field and the 0-based row and column (CSV: the 1-based "
             "line and column)")
    split = (f"validation given, or val_fraction (default {DEFAULT_VAL_FRACTION}) of the rows by "
             "np.random.default_rng(seed).permutation(n)[:round(val_fraction*n)]; both splits keep the given order")
    return [
        {"name": "inline", "title": "Your own points", "task": "regression (y) or classification (labels)",
         "keys": list(INLINE_KEYS), "parameters": [],
         "example": {"name": "inline", "x": [[0.1], [0.4], [0.7], [0.9]], "y": [[0.2], [0.9], [0.6], [0.1]],
                     "val_fraction": 0.25, "seed": 0},
         "rules": rules, "validation": split, "limits": limits},
        {"name": "csv", "title": "CSV text", "task": "classification when every target value is an integer >= 0, "
                                                     "else regression (override with task)",
         "keys": list(CSV_KEYS), "parameters": [],
         "example": {"name": "csv", "csv": "x1,x2,label\n0.1,0.3,1\n0.5,0.2,0\n0.9,0.8,1\n0.4,0.4,0",
                     "target": "label", "val_fraction": 0.25},
         "rules": rules + "; header optional (present when the first line holds a non-number); target: a header "
                          "name or 0-based column index, default the last column",
         "validation": split, "limits": limits},
    ]


def _warmup() -> None:
    """No kernels (numpy only): read one tiny dataset of each kind so import costs are paid up front."""
    inline_dataset([[0.0], [1.0], [2.0]], y=[0.0, 1.0, 2.0])
    csv_dataset("a,b\n0,1\n1,0\n2,1")
