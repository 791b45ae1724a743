"""Analyses of a finished sweep: heatmaps, scaling curves with power-law fits, a scaling-law fit, seed bands.

Each takes a ``SweepResult`` and names what it reads: axes by their path (``optimizer.lr``), metrics by
name. A quantity on the x side may be an axis with numeric values or a number metric every row
carries (``n_params``: model scaling over ``model.layers``). Coordinates the analysis does not use
(another axis, a comparison's ``variant``) split the result into panels, one per value, so a data-
scaling sweep of a regularization comparison gives one fitted curve per regularizer.

* ``heatmap(res, metric, x, y)``: the mean over seeds on the x × y grid (lr × batch size, lr × warmup);
* ``scaling_curves(res, metric, x)``: the mean and t-interval of ``metric`` at each x, and ``y = E + B / x^β``
  fitted to every run (``engine.scaling.fit_power_law``; ``offset=False`` for a quantity that falls to 0,
  such as the generalization gap); bootstrap intervals resample runs within each x;
* ``scaling_law_fits(res, metric, n, d)``: ``L(N, D) = E + A / N^α + B / D^β`` (``engine.scaling.fit_scaling_law``);
* ``seed_bands(res, metric)``: a curve metric's seed band per group (mean and 95% t-interval per index).

``check_analysis`` validates an analysis request against a sweep's spec before it is submitted, and
``run_analyses`` computes the requested ones, reporting a fit that cannot be made as an error entry.
"""

from __future__ import annotations

import math
from typing import Mapping

import numpy as np

from . import scaling as fits
from .errors import EngineInputError
from .sweep_kinds import CURVE, KINDS, NUMBER
from .sweep_results import SweepResult, t_interval
from .sweep_tasks import sweep
from .validate import check_bool, check_int, check_name, check_seed

__all__ = ["heatmap", "scaling_curves", "scaling_law_fits", "seed_bands"]

ANALYSES = ("heatmap", "scaling", "scaling_law")
MAX_ANALYSIS_BOOTSTRAP = 1000


def _value(row: dict, name: str, field: str) -> float | None:
    v = row["coords"][name] if name in row["coords"] else row["metrics"].get(name)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise EngineInputError(field, f"{name} must be a number in every run, got {v!r}")
    return float(v)


def _used(res: SweepResult, names: tuple[str, ...]) -> tuple[str, ...]:
    """The axes a quantity stands for: itself if it is an axis; for a metric (``n_params``), every axis its
    value depends on (``model.layers``), so those do not split the analysis into panels."""
    out = []
    for name in names:
        if name in dict(res.spec.axes):
            out.append(name)
            continue
        for axis, values in res.spec.axes:
            seen = [sorted({repr(r["metrics"].get(name)) for r in res.rows if r["coords"].get(axis) == v}) for v in values]
            if any(x != seen[0] for x in seen):
                out.append(axis)
    return tuple(out)


def _panels(res: SweepResult, used: tuple[str, ...]) -> list[tuple[dict, list[dict]]]:
    """Rows grouped by the coordinates ``used`` leaves over (one group when none vary)."""
    groups: dict[str, tuple[dict, list[dict]]] = {}
    for r in res.rows:
        rest = {k: v for k, v in r["coords"].items() if k not in used}
        key = repr(sorted(rest.items()))
        groups.setdefault(key, (rest, []))[1].append(r)
    return list(groups.values())


def _with_fit(entry: dict, analysis: str, fit) -> dict:
    """``entry`` with ``fit``'s result as ``fit``, or ``fit: None`` and the error naming its field."""
    try:
        return {**entry, "fit": fits.to_dict(fit())}
    except EngineInputError as err:
        return {**entry, "fit": None, "error": {"field": f"analysis.{analysis}.{err.field}", "message": err.message}}


# -- the Python functions: arguments checked under their own names, then the shared cores below ---------------
def _check_res(res) -> SweepResult:
    if not isinstance(res, SweepResult):
        raise EngineInputError("res", "must be a SweepResult from engine.sweep")
    return res


def _check_metric(res: SweepResult, metric, kinds: tuple[str, ...] = (NUMBER,)) -> str:
    k = KINDS[res.spec.kind]
    if not isinstance(metric, str) or metric not in res.spec.metrics or k.metric(metric).kind not in kinds:
        ok = [m for m in res.spec.metrics if k.metric(m).kind in kinds]
        raise EngineInputError("metric", f"{metric!r} is not a recorded {' or '.join(kinds)} metric of this sweep; "
                                         f"choose one of: {', '.join(ok) or 'none'}")
    return metric


def _check_quantity(res: SweepResult, field: str, name, axis_only: bool = False) -> str:
    axes = dict(res.spec.axes)
    if isinstance(name, str) and name in axes:
        if not axis_only and not _is_numeric_axis(axes[name]):
            raise EngineInputError(field, f"axis {name!r} must have numeric values here")
        return name
    numbers = [m for m in res.spec.metrics if KINDS[res.spec.kind].metric(m).kind == NUMBER]
    if axis_only or not isinstance(name, str) or name not in numbers:
        what = "an axis" if axis_only else "an axis with numeric values or a recorded number metric"
        raise EngineInputError(field, f"{name!r} is not {what} of this sweep; axes: {', '.join(axes) or 'none'}")
    return name


def _fit_options(offset, loss, bootstrap, seed) -> None:
    if offset is not None:
        check_bool("offset", offset)
    check_name("loss", loss, fits.LOSSES)
    if check_int("bootstrap", bootstrap, 0, integral_floats=False) > MAX_ANALYSIS_BOOTSTRAP:
        raise EngineInputError("bootstrap", f"must be <= {MAX_ANALYSIS_BOOTSTRAP}")
    check_seed("seed", seed)


def _python_fields(call):
    """``call()`` with the shared core's request fields (``analysis.scaling.x``) named as the argument (``x``)."""
    try:
        return call()
    except EngineInputError as err:
        parts = err.field.split(".")
        if parts[0] == "analysis" and len(parts) >= 3:
            raise EngineInputError(".".join(parts[2:]), err.message) from None
        raise


def heatmap(res: SweepResult, metric: str, x: str, y: str) -> list[dict]:
    """Per panel: ``x``/``y`` values (axis order), ``mean``/``n`` as [len(y)][len(x)] (None where no run).

    >>> base = {"surface": "quadratic", "start": [1.0, 1.0], "optimizer": {"name": "sgd", "lr": 0.1}}
    >>> res = engine.sweep("descent/trajectory", base, {"steps": [1, 2], "optimizer.lr": [0.1, 0.2]},
    ...                    metrics=["final_loss"], client="sync")
    >>> h = engine.heatmap(res, "final_loss", "steps", "optimizer.lr")
    >>> h[0]["x"], h[0]["y"], h[0]["n"]
    ([1, 2], [0.1, 0.2], [[1, 1], [1, 1]])
    """
    _check_res(res)
    _check_metric(res, metric)
    _check_quantity(res, "x", x, axis_only=True)
    _check_quantity(res, "y", y, axis_only=True)
    if x == y:
        raise EngineInputError("y", "must differ from x")
    return _python_fields(lambda: _heatmap(res, metric, x, y))


def scaling_curves(res: SweepResult, metric: str, x: str, offset: bool = True, loss: str = "l2", bootstrap: int = 200,
                   seed: int = 0) -> list[dict]:
    """Per panel: x values, mean / t-interval of ``metric`` at each, and the power-law fit to every run
    (``engine.fit_power_law``; a fit that cannot be made is ``fit: None`` with its ``error``)."""
    _check_res(res)
    _check_metric(res, metric)
    _check_quantity(res, "x", x)
    _fit_options(offset, loss, bootstrap, seed)
    return _python_fields(lambda: _scaling_curves(res, metric, x, offset, loss, bootstrap, seed))


def scaling_law_fits(res: SweepResult, metric: str, n: str, d: str, loss: str = "l2", bootstrap: int = 200,
                     seed: int = 0) -> list[dict]:
    """Per panel: ``L(N, D)`` fitted to every run (N from ``n``, D from ``d``: axes or number metrics)."""
    _check_res(res)
    _check_metric(res, metric)
    _check_quantity(res, "n", n)
    _check_quantity(res, "d", d)
    _fit_options(None, loss, bootstrap, seed)
    return _python_fields(lambda: _scaling_law_fits(res, metric, n, d, loss, bootstrap, seed))


def seed_bands(res: SweepResult, metric: str) -> list[dict]:
    """A curve metric's seed band per group: {coords, n, mean, lo, hi} (arrays; NaN where n < 2)."""
    _check_res(res)
    _check_metric(res, metric, (CURVE,))
    return [{"coords": a.coords, "n": a.n, "mean": a.mean, "lo": a.ci95[0], "hi": a.ci95[1]}
            for a in res.aggregates if a.metric == metric and a.kind == CURVE]


# -- the shared cores (the HTTP analyses call these with options check_analysis validated) ---------------------
def _heatmap(res: SweepResult, metric: str, x: str, y: str) -> list[dict]:
    axes = dict(res.spec.axes)
    xs, ys = list(axes[x]), list(axes[y])
    out = []
    for rest, rows in _panels(res, (x, y)):
        cells: dict[tuple[int, int], list] = {}
        for r in rows:
            i, j = ys.index(r["coords"][y]), xs.index(r["coords"][x])
            cells.setdefault((i, j), []).append(_value(r, metric, "analysis.heatmap.metric"))
        mean = [[None] * len(xs) for _ in ys]
        n = [[0] * len(xs) for _ in ys]
        for (i, j), vals in cells.items():
            k, m, _, _ = t_interval(np.array([np.nan if v is None else v for v in vals], dtype=np.float64))
            n[i][j] = k
            mean[i][j] = m if k else None
        out.append({"coords": rest, "x": xs, "y": ys, "mean": mean, "n": n})
    return out


def _scaling_curves(res: SweepResult, metric: str, x: str, offset: bool = True, loss: str = "l2",
                    bootstrap: int = 200, seed: int = 0) -> list[dict]:
    out = []
    for rest, rows in _panels(res, _used(res, (x,))):
        pts = [(_value(r, x, "analysis.scaling.x"), _value(r, metric, "analysis.scaling.metric")) for r in rows]
        pts = [(a, b) for a, b in pts if a is not None and b is not None]
        xs = sorted({a for a, _ in pts})
        stats = [t_interval(np.array([b for a, b in pts if a == v])) for v in xs]
        entry = {"coords": rest, "x": xs, "mean": [s[1] for s in stats], "n": [s[0] for s in stats],
                 "ci95": [None if s[3] is None else list(s[3]) for s in stats]}
        out.append(_with_fit(entry, "scaling", lambda: fits.fit_power_law(
            [a for a, _ in pts], [b for _, b in pts], offset=offset, loss=loss, bootstrap=bootstrap, seed=seed)))
    return out


def _scaling_law_fits(res: SweepResult, metric: str, n: str, d: str, loss: str = "l2", bootstrap: int = 200,
                      seed: int = 0) -> list[dict]:
    out = []
    for rest, rows in _panels(res, _used(res, (n, d))):
        pts = [(_value(r, n, "analysis.scaling_law.n"), _value(r, d, "analysis.scaling_law.d"),
                _value(r, metric, "analysis.scaling_law.metric")) for r in rows]
        pts = [p for p in pts if None not in p]
        out.append(_with_fit({"coords": rest, "points": len(pts)}, "scaling_law", lambda: fits.fit_scaling_law(
            *(zip(*pts) if pts else ([], [], [])), loss=loss, bootstrap=bootstrap, seed=seed)))
    return out


# -- requests for analyses (HTTP) -------------------------------------------------------------------------------
def _is_numeric_axis(values) -> bool:
    return all(not isinstance(v, bool) and isinstance(v, (int, float)) and math.isfinite(v) for v in values)


def check_analysis(spec, analysis: Mapping | None) -> tuple[dict, tuple[str, ...]]:
    """Validate the requested analyses against ``spec``; returns them and the metrics they need beyond
    ``spec.metrics`` (e.g. ``n_params`` for model scaling), which the sweep must also record."""
    if not analysis:
        return {}, ()
    k = KINDS[spec.kind]
    axes = dict(spec.axes)
    numbers = {m.name for m in k.metrics if m.kind == NUMBER}
    extra: list[str] = []

    def quantity(field: str, name, axis_only: bool = False) -> None:
        if name in axes:
            if not _is_numeric_axis(axes[name]):
                raise EngineInputError(field, f"axis {name!r} must have numeric values here")
            return
        if axis_only or name not in numbers:
            what = "an axis" if axis_only else "an axis with numeric values or a number metric"
            raise EngineInputError(field, f"{name!r} is not {what} of this sweep")
        if name not in spec.metrics and name not in extra:
            extra.append(name)

    out = {}
    for name, opts in analysis.items():
        if name not in ANALYSES:
            raise EngineInputError(f"analysis.{name}", f"unknown analysis; choose from: {', '.join(ANALYSES)}")
        if opts is None:
            continue
        opts = dict(opts)
        quantity(f"analysis.{name}.metric", opts.get("metric"))
        if name == "heatmap":
            quantity("analysis.heatmap.x", opts.get("x"), axis_only=True)
            quantity("analysis.heatmap.y", opts.get("y"), axis_only=True)
            if opts["x"] == opts["y"]:
                raise EngineInputError("analysis.heatmap.y", "must differ from x")
        elif name == "scaling":
            quantity("analysis.scaling.x", opts.get("x"))
        else:
            quantity("analysis.scaling_law.n", opts.get("n"))
            quantity("analysis.scaling_law.d", opts.get("d"))
        b = opts.get("bootstrap", 200)
        if isinstance(b, bool) or not isinstance(b, int) or not 0 <= b <= MAX_ANALYSIS_BOOTSTRAP:
            raise EngineInputError(f"analysis.{name}.bootstrap", f"must be an integer in [0, {MAX_ANALYSIS_BOOTSTRAP}]")
        if opts.get("loss", "l2") not in fits.LOSSES:
            raise EngineInputError(f"analysis.{name}.loss", f"choose from: {', '.join(fits.LOSSES)}")
        out[name] = opts
    return out, tuple(extra)


def run_analyses(res: SweepResult, analysis: Mapping) -> dict:
    """Every requested analysis of ``res`` (options as ``check_analysis`` returned them)."""
    out = {}
    for name, o in analysis.items():
        try:
            if name == "heatmap":
                out[name] = _heatmap(res, o["metric"], o["x"], o["y"])
            elif name == "scaling":
                out[name] = _scaling_curves(res, o["metric"], o["x"], o.get("offset", True), o.get("loss", "l2"),
                                            o.get("bootstrap", 200))
            else:
                out[name] = _scaling_law_fits(res, o["metric"], o["n"], o["d"], o.get("loss", "l2"),
                                              o.get("bootstrap", 200))
        except EngineInputError as err:
            out[name] = {"error": {"field": err.field, "message": err.message}}
    return out


def _warmup() -> None:
    """A 6-run training sweep in this process, through the heatmap and the scaling fit."""
    res = sweep("training/run", KINDS["training/run"].example, {"dataset.n_train": [6, 8, 12], "optimizer.lr": [0.1, 0.2]},
                client="sync")
    heatmap(res, "final_val_loss", "dataset.n_train", "optimizer.lr")
    scaling_curves(res, "final_val_loss", "dataset.n_train", bootstrap=2)
