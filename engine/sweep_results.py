"""A sweep's results: one row per run (or per variant / racer / learning rate of a run), and aggregates
over seeds.

Rows that share their coordinates (the axes' values plus a row's own extra coordinates, e.g.
``variant``) and differ only in seed form one group; each requested metric is aggregated per group:

* ``number``: ``n`` finite values, ``mean``, ``std`` (sample standard deviation, ddof 1) and ``ci95``,
  the **Student-t 95% interval of the mean over seeds**, ``mean ± t(0.975, n − 1) · std / √n``
  (null when n < 2); ``missing`` counts rows without a finite value (a diverged run's loss);
* ``category``: ``counts`` of each value (status counts: converged / diverged / ...);
* ``curve``: the same as a number, index by index over the rows long enough to have that index
  (early stopping shortens curves), so ``n`` is an array too: the seed bands of a loss curve.

``SweepResult.rows`` keeps every row exactly as its task returned it (plain floats: equal bit for bit
to running the same request alone); ``columns`` is the columnar view (numbers as float64 arrays with
NaN for missing values, categories as lists, curves as lists of arrays).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Mapping

import numpy as np
# Student t quantiles (scipy.stats.t.ppf) without importing scipy.stats: ~0.3 s of a warm start
from scipy.special import stdtrit

from .results import resultclass
from .sweep_kinds import CATEGORY, CURVE, KINDS, NUMBER

__all__ = ["Aggregate", "SweepResult"]

if TYPE_CHECKING:
    from .sweeps import SweepSpec


def _json_num(v) -> float | None:
    return float(v) if v is not None and math.isfinite(v) else None


def _json_list(a) -> list:
    return [_json_num(v) for v in np.asarray(a, dtype=np.float64).tolist()]


def t_interval(values: np.ndarray) -> tuple[int, float, float | None, tuple[float, float] | None]:
    """(n, mean, std, (lo, hi)) of the finite ``values``: Student-t 95% interval of the mean."""
    v = values[np.isfinite(values)]
    n = int(v.size)
    if n == 0:
        return 0, math.nan, None, None
    mean = float(v.mean())
    if n < 2:
        return n, mean, None, None
    std = float(v.std(ddof=1))
    half = float(stdtrit(n - 1, 0.975)) * std / math.sqrt(n)
    return n, mean, std, (mean - half, mean + half)


@resultclass
@dataclass(frozen=True)
class Aggregate:
    coords: dict
    metric: str
    kind: str  # number | category | curve
    n: Any  # int; an array for a curve
    mean: Any = None
    std: Any = None
    ci95: Any = None  # (lo, hi): floats, or arrays for a curve
    counts: dict | None = None  # category
    missing: int = 0  # rows without a finite value (number)

    def to_dict(self) -> dict:
        out: dict = {"coords": self.coords, "metric": self.metric, "kind": self.kind}
        if self.kind == CATEGORY:
            return {**out, "n": self.n, "counts": self.counts}
        if self.kind == CURVE:
            ci = None if self.ci95 is None else [_json_list(self.ci95[0]), _json_list(self.ci95[1])]
            return {**out, "n": [int(k) for k in self.n], "mean": _json_list(self.mean), "std": _json_list(self.std),
                    "ci95": ci}
        ci = None if self.ci95 is None else [_json_num(self.ci95[0]), _json_num(self.ci95[1])]
        return {**out, "n": self.n, "mean": _json_num(self.mean), "std": _json_num(self.std), "ci95": ci,
                "missing": self.missing}


def _curve_stats(curves: list[list]) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Index by index over the curves long enough: n, mean, std, and the t-interval's ends (NaN where n < 2)."""
    length = max((len(c) for c in curves), default=0)
    M = np.full((len(curves), length), np.nan)
    for r, c in enumerate(curves):
        M[r, : len(c)] = np.array([np.nan if v is None else v for v in c], dtype=np.float64)
    ok = np.isfinite(M)
    n = ok.sum(axis=0)
    X = np.where(ok, M, 0.0)
    mean = np.where(n > 0, X.sum(axis=0) / np.maximum(n, 1), np.nan)
    dev = np.where(ok, M - mean, 0.0)
    std = np.where(n >= 2, np.sqrt((dev * dev).sum(axis=0) / np.maximum(n - 1, 1)), np.nan)
    half = np.where(n >= 2, stdtrit(np.maximum(n - 1, 1), 0.975) * std / np.sqrt(np.maximum(n, 1)), np.nan)
    return n, mean, std, mean - half, mean + half


def _aggregate(kind: str, metric: str, coords: dict, values: list) -> Aggregate:
    if kind == CATEGORY:
        counts: dict = {}
        for v in values:
            counts[str(v)] = counts.get(str(v), 0) + 1
        return Aggregate(coords, metric, kind, len(values), counts=counts)
    if kind == CURVE:
        n, mean, std, lo, hi = _curve_stats(values)
        return Aggregate(coords, metric, kind, n, mean, std, (lo, hi))
    arr = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    n, mean, std, ci = t_interval(arr)
    return Aggregate(coords, metric, kind, n, mean, std, ci, missing=len(values) - n)


@resultclass
@dataclass(frozen=True)
class SweepResult:
    spec: "SweepSpec"
    done: int  # tasks finished
    total: int  # tasks in the sweep
    rows: tuple[dict, ...]  # {"task", "coords", "seed", "metrics"} in task order
    aggregates: tuple[Aggregate, ...]
    errors: tuple[dict, ...] = ()  # {"task", "coords", "seed", "field", "message"}: runs the engine refused
    seconds: tuple[float, ...] = field(default=())  # wall time of each finished task inside its worker, task order
    cpu_seconds: tuple[float, ...] = field(default=())  # and the CPU time its thread used
    dask_tasks: int = 0  # the Dask tasks the runs travelled in (several runs each: engine.sweep_tasks)

    @cached_property
    def columns(self) -> dict:
        """``task``, ``seed`` (-1: the base's own), every coordinate, every metric, one entry per row."""
        k = KINDS[self.spec.kind]
        out: dict = {"task": np.array([r["task"] for r in self.rows], dtype=np.int64),
                     "seed": np.array([-1 if r["seed"] is None else r["seed"] for r in self.rows], dtype=np.int64)}
        names = list(dict.fromkeys(c for r in self.rows for c in r["coords"]))
        for c in names:
            out[c] = [r["coords"].get(c) for r in self.rows]
        for m in self.spec.metrics:
            values = [r["metrics"].get(m) for r in self.rows]
            kind = k.metric(m).kind
            if kind == NUMBER:
                out[m] = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
            elif kind == CURVE:
                out[m] = [np.array([np.nan if x is None else x for x in v], dtype=np.float64) for v in values]
            else:
                out[m] = values
        return out

    def records(self) -> list[dict]:
        """The rows as the HTTP API returns them: ``{"coords", "seed", "metrics"}``."""
        return [{"coords": r["coords"], "seed": r["seed"], "metrics": r["metrics"]} for r in self.rows]

    def aggregate(self, metric: str, **coords) -> Aggregate | None:
        """The aggregate of ``metric`` whose coordinates include ``coords`` (keys may be dotted paths:
        ``res.aggregate("final_val_loss", **{"dataset.n_train": 80})``)."""
        for a in self.aggregates:
            if a.metric == metric and all(a.coords.get(k) == v for k, v in coords.items()):
                return a
        return None

    def to_dict(self) -> dict:
        return {"kind": self.spec.kind, "done": self.done, "total": self.total, "results": self.records(),
                "aggregates": [a.to_dict() for a in self.aggregates], "errors": list(self.errors)}


def collect(spec: "SweepSpec", outputs: Mapping[int, dict], n_batches: int = 0) -> SweepResult:
    """Rows and aggregates from the task outputs finished so far (task index -> ``run_task``'s output)."""
    k = KINDS[spec.kind]
    rows, errors, seconds, cpu = [], [], [], []
    groups: dict[tuple, list[dict]] = {}
    for i in sorted(outputs):
        out = outputs[i]
        c, seed = spec.task(i)
        combo = spec.combination(c)
        seconds.append(float(out.get("seconds", 0.0)))
        cpu.append(float(out.get("cpu_seconds", 0.0)))
        if out.get("error"):
            errors.append({"task": i, "coords": combo, "seed": seed, **out["error"]})
        for row in out["rows"]:
            coords = {**combo, **row["coords"]}
            r = {"task": i, "coords": coords, "seed": seed, "metrics": row["metrics"]}
            rows.append(r)
            groups.setdefault((c, tuple(sorted((n, repr(v)) for n, v in row["coords"].items()))), []).append(r)
    aggregates = []
    for members in groups.values():
        coords = members[0]["coords"]
        for m in spec.metrics:
            aggregates.append(_aggregate(k.metric(m).kind, m, coords, [r["metrics"].get(m) for r in members]))
    return SweepResult(spec, len(outputs), spec.n_tasks, tuple(rows), tuple(aggregates), tuple(errors),
                       tuple(seconds), tuple(cpu), n_batches)


def _warmup() -> None:
    t_interval(np.array([1.0, 2.0, 4.0]))
