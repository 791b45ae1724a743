"""What a sweep can run: one registry entry per computable kind, read by everything that sweeps.

``KINDS["training/run"]`` says how to run one request of that kind (the engine function its endpoint
calls), how to check one without computing it (so a sweep is refused before anything is submitted),
how much of the kind's single-request budget it uses, which request fields take a sweep's seed, and
which metrics a finished run yields. The service reads the same entry to find the endpoint's own
marshmallow request schema (``request_schema``, imported by the service only: the engine never
imports it), so a sweep's base request is validated exactly like the endpoint's. Adding a kind, e.g.
``lm/train`` once it lands, is one ``SweepKind`` entry below.

A kind's ``rows(result)`` turns one result into one or more rows of metrics, each with the extra
coordinates that tell them apart: a regularization comparison gives one row per variant
(``{"variant": "l2"}``), a race one per racer, an lr sweep one per learning rate. A metric is a
``number`` (aggregated as mean, std and a t-interval), a ``category`` (aggregated as counts) or a
``curve`` (a list, aggregated index by index: seed bands).
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .basins import basin_map
from .errors import EngineInputError
from .init import resolve_init
from .limits import LIMITS, check_max
from .lr_sweep import run_lr_sweep
from .race import run_race
from .regularization import DEFAULT_VARIANTS, compare
from .trajectory import (
    bound_box, check_float, check_point, check_start, default_start, resolve_opt, run_trajectory, schedule_lrs, setup, step_cost,
)
from .training import prepare, train

NUMBER, CATEGORY, CURVE = "number", "category", "curve"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # number | category | curve
    doc: str


@dataclass(frozen=True)
class SweepKind:
    name: str  # also the endpoint's path under /api/v1/
    run: Callable[..., Any]  # the engine function the endpoint calls, with the request's keyword arguments
    check: Callable[[dict], float]  # validates like ``run`` without computing; returns the request's work as a
    #                                 fraction of the kind's largest single request (the sweep budget's unit)
    rows: Callable[[Any], list[tuple[dict, dict]]]  # result -> [(extra coordinates, {metric: value})]
    size: Callable[[dict], tuple[int, int]]  # request -> (rows of its result, points of each curve metric)
    metrics: tuple[Metric, ...]
    default_metrics: tuple[str, ...]
    seed_fields: Mapping[str, str]  # request body path (HTTP) -> engine argument path it loads into
    arguments: tuple[str, ...]  # the engine's top-level argument names (what a Python axis path starts with)
    request_schema: str  # "module:Class" of the endpoint's request schema, for the service
    doc: str

    def metric(self, name: str) -> Metric:
        for m in self.metrics:
            if m.name == name:
                return m
        raise KeyError(name)


def _finite(v) -> float | None:
    if v is None:
        return None
    v = float(v)
    return v if math.isfinite(v) else None


def _diff(a, b) -> float | None:
    return None if a is None or b is None else _finite(a - b)


def _curve(a) -> list:
    return [_finite(v) for v in np.asarray(a, dtype=np.float64).tolist()]


def _defaults(fn, req: dict) -> dict:
    """``req`` over ``fn``'s own defaults: a check sees what the engine function would."""
    return {**{n: p.default for n, p in inspect.signature(fn).parameters.items() if p.default is not p.empty}, **req}


# -- training ------------------------------------------------------------------------------------------
TRAINING_METRICS = (
    Metric("final_val_loss", NUMBER, "validation data loss of the returned weights (null if not finite)"),
    Metric("final_train_loss", NUMBER, "training data loss of the returned weights"),
    Metric("best_val_loss", NUMBER, "val_loss at best_epoch (the lowest, min_delta applying with early stopping)"),
    Metric("generalization_gap", NUMBER, "final_val_loss - final_train_loss (large and positive: overfitting)"),
    Metric("final_val_accuracy", NUMBER, "classification: validation accuracy of the returned weights"),
    Metric("final_train_accuracy", NUMBER, "classification: training accuracy of the returned weights"),
    Metric("best_epoch", NUMBER, "epoch (1-based) of the best val_loss: when training stopped improving"),
    Metric("epochs_run", NUMBER, "completed epochs"),
    Metric("n_params", NUMBER, "parameters of the network (model scaling's N)"),
    Metric("stop_reason", CATEGORY, "completed | early_stopping | diverged"),
    Metric("val_loss_curve", CURVE, "val_loss per epoch"),
    Metric("train_loss_curve", CURVE, "train_loss per epoch"),
)
TRAINING_SEEDS = {"seed": "seed", "dataset.seed": "dataset.seed"}


def _training_metrics(res) -> dict:
    h = res.history
    best = _finite(h.val_loss[res.best_epoch - 1]) if res.best_epoch >= 1 else None
    return {
        "final_val_loss": res.final_val_loss,
        "final_train_loss": res.final_train_loss,
        "best_val_loss": best,
        "generalization_gap": _diff(res.final_val_loss, res.final_train_loss),
        "final_val_accuracy": res.final_val_accuracy,
        "final_train_accuracy": res.final_train_accuracy,
        "best_epoch": res.best_epoch,
        "epochs_run": res.epochs_run,
        "n_params": res.settings["n_params"],
        "stop_reason": res.stop_reason,
        "val_loss_curve": _curve(h.val_loss),
        "train_loss_curve": _curve(h.train_loss),
    }


# A check skips drawing the initial weights (up to 2M parameters, ~30 ms, per combination): prepare()
# takes them as given, and the init spec is checked on its own, as init_params would check it.
_NO_WEIGHTS = np.zeros(0)


def _prepare(req: dict, **kw):
    model = req.get("model")
    if isinstance(model, Mapping) and model.get("init") is not None:
        resolve_init(model["init"], "model.init")
    return prepare(**req, **kw, params0=_NO_WEIGHTS)


def _check_run(req: dict) -> float:
    return _prepare(req).work / LIMITS["max_training_work"]


def _check_compare(req: dict) -> float:
    """``compare``'s checks: every variant's run as ``prepare`` sees it (the work counts all variants)."""
    req = dict(req)
    variants = req.pop("variants", None)
    variants = DEFAULT_VARIANTS if variants is None else variants
    if not isinstance(variants, (list, tuple)) or not variants:
        raise EngineInputError("variants", "must be a non-empty list of {name, regularization}")
    check_max("variants", len(variants), "max_compare_variants")
    base = dict(req.pop("regularization", None) or {})
    work = 0
    for i, v in enumerate(variants):
        if not isinstance(v, Mapping) or not isinstance(v.get("name"), str) or not v["name"]:
            raise EngineInputError(f"variants.{i}.name", "each variant needs a name")
        try:
            work = _prepare(req, regularization={**base, **(v.get("regularization") or {})}, variants=len(variants)).work
        except EngineInputError as err:
            field = f"variants.{i}.{err.field}" if err.field.startswith("regularization") else err.field
            raise EngineInputError(field, err.message) from None
    return work / LIMITS["max_training_work"]


def _run_size(req: dict) -> tuple[int, int]:
    return 1, int(_defaults(prepare, req)["epochs"])


def _compare_size(req: dict) -> tuple[int, int]:
    return len(req.get("variants") or DEFAULT_VARIANTS), int(_defaults(prepare, req)["epochs"])


def _compare_rows(res) -> list[tuple[dict, dict]]:
    rows = []
    for v in res.runs:
        m = _training_metrics(v.result)
        m["gap_at_best"] = v.gap_at_best
        rows.append(({"variant": v.name}, m))
    return rows


# -- descent ---------------------------------------------------------------------------------------------
DESCENT_SEEDS = {"noise.seed": "seed"}


def _descent_setup(req: dict, runs: int, work_field: str = "steps"):
    """``setup``'s checks without drawing a run's noise and batch order (that is the run's work): with the
    real steps for the work limits, with one step for the noise and batch settings."""
    su = setup(req["surface"], req["params"], req["steps"], runs=runs, clip=req["clip"], tolerance=req["tolerance"],
               work_field=work_field)
    one = setup(req["surface"], req["params"], 1, noise_scale=req.get("noise_scale", 0.0), seed=req.get("seed", 0),
                batch_size=req.get("batch_size"))
    if one.batch:
        check_max("batch_size", runs * su.steps * one.batch, "max_batch_work")
    return su, runs * su.steps * step_cost(su.surface) / LIMITS["max_descent_work"]


def _start(su, req: dict) -> None:
    start = req.get("start")
    check_start(su, default_start(su.surface) if start is None else start)


def _check_trajectory(req: dict) -> float:
    req = _defaults(run_trajectory, req)
    su, work = _descent_setup(req, 1)
    opt = resolve_opt(req.get("optimizer"))
    schedule_lrs(req.get("schedule"), opt.lr, su.steps)
    check_start(su, req["start"])
    return work


def _check_race(req: dict) -> float:
    req = _defaults(run_race, req)
    racers = req.get("optimizers")
    if not isinstance(racers, (list, tuple)) or not racers:
        raise EngineInputError("optimizers", "must be a non-empty list of optimizer specs")
    check_max("optimizers", len(racers), "max_race_runs")
    su, work = _descent_setup(req, len(racers))
    check_max("steps", len(racers) * su.steps, "max_race_work")
    check_float("minimum_tolerance", req["minimum_tolerance"], 0.0)
    for i, spec in enumerate(racers):
        own = spec.get("schedule") if isinstance(spec, dict) else None
        spec = {k: v for k, v in spec.items() if k != "schedule"} if isinstance(spec, dict) else spec
        opt = resolve_opt(spec, f"optimizers.{i}")
        if own is not None:
            schedule_lrs(own, opt.lr, su.steps, f"optimizers.{i}.schedule")
        else:
            schedule_lrs(req.get("schedule"), opt.lr, su.steps)
    _start(su, req)
    return work


def _check_lr_sweep(req: dict) -> float:
    req = _defaults(run_lr_sweep, req)
    lrs = req["lrs"]
    if not isinstance(lrs, (list, tuple)) or not lrs:
        raise EngineInputError("lrs", "must be a non-empty list of learning rates")
    check_max("lrs", len(lrs), "max_sweep_lrs")
    for i, v in enumerate(lrs):
        check_float(f"lrs.{i}", v, 0.0, strict=True)
    su, work = _descent_setup(req, len(lrs))
    check_max("steps", len(lrs) * su.steps, "max_sweep_work")
    resolve_opt(req.get("optimizer"))
    for lr in lrs:
        schedule_lrs(req.get("schedule"), lr, su.steps)
    _start(su, req)
    return work


def _check_basins(req: dict) -> float:
    req = _defaults(basin_map, req)
    res = req["resolution"]
    if not isinstance(res, (list, tuple)) or len(res) != 2:
        raise EngineInputError("resolution", "must be a pair [nx, ny]")
    for i, n in enumerate(res):
        check_max(f"resolution.{i}", n, "max_basin_axis")
    su, work = _descent_setup(req, int(res[0]) * int(res[1]), work_field="resolution")
    check_float("minimum_tolerance", req["minimum_tolerance"], 0.0)
    opt = resolve_opt(req.get("optimizer"))
    schedule_lrs(req.get("schedule"), opt.lr, su.steps)
    box = bound_box(su.surface)
    for k, name in enumerate(("x_range", "y_range")):
        r = None if req.get(name) is None else check_point(name, req[name])
        if r is not None and (r[0] < box[2 * k] or r[1] > box[2 * k + 1]):
            raise EngineInputError(name, f"must lie within the bound box [{box[2 * k]:g}, {box[2 * k + 1]:g}] "
                                         "(100x the domain)")
    return work


DESCENT_METRICS = (
    Metric("final_loss", NUMBER, "the loss at the run's last recorded point"),
    Metric("steps_taken", NUMBER, "steps the run took"),
    Metric("steps_to_converge", NUMBER, "steps_taken when the run converged, else null"),
    Metric("status", CATEGORY, "converged | diverged | max_steps"),
)


def _steps_size(fn, rows_of: Callable[[dict], int]) -> Callable[[dict], tuple[int, int]]:
    def size(req: dict) -> tuple[int, int]:
        req = _defaults(fn, req)
        return rows_of(req), int(req["steps"]) + 1
    return size


def _descent_metrics(status: str, steps: int, final_loss) -> dict:
    return {"final_loss": _finite(final_loss), "steps_taken": int(steps),
            "steps_to_converge": int(steps) if status == "converged" else None, "status": status}


def _trajectory_rows(t) -> list[tuple[dict, dict]]:
    return [({}, {**_descent_metrics(t.status, t.steps_taken, t.loss[-1]), "loss_curve": _curve(t.loss)})]


def _race_rows(race) -> list[tuple[dict, dict]]:
    return [({"racer": i}, {**_descent_metrics(s.status, s.steps_taken, s.final_loss), "optimizer": s.optimizer,
                            "minimum": s.minimum, "steps_to_minimum": s.steps_to_minimum})
            for i, s in enumerate(race.summary)]


def _lr_sweep_rows(sw) -> list[tuple[dict, dict]]:
    return [({"lr": r.lr}, {**_descent_metrics(r.status, r.steps_taken, r.final_loss), "verdict": r.verdict,
                            "gap_ratio": _finite(r.gap_ratio), "loss_curve": _curve(r.loss)})
            for r in sw.runs]


def _basins_rows(b) -> list[tuple[dict, dict]]:
    n = b.label.size
    known = int(b.minima_known.sum())
    return [({}, {"fraction_known_minimum": float(((b.label >= 0) & (b.label < known)).sum() / n),
                  "fraction_diverged": float((b.label == -1).sum() / n),
                  "fraction_not_converged": float((b.label == -2).sum() / n),
                  "mean_steps": float(b.steps.mean()), "minima_found": int(b.minima.shape[0])})]


def _names(*fns, drop=()) -> tuple[str, ...]:
    out = []
    for fn in fns:
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in drop and p.name not in out:
                out.append(p.name)
    return tuple(out)


KINDS: dict[str, SweepKind] = {
    "training/run": SweepKind(
        "training/run", train, _check_run, lambda r: [({}, _training_metrics(r))], _run_size, TRAINING_METRICS,
        ("final_val_loss", "best_val_loss", "generalization_gap", "stop_reason"), TRAINING_SEEDS,
        _names(prepare, drop=("params0", "variants")), "service.schemas.training:RunRequest",
        "one training run (POST /api/v1/training/run)"),
    "training/compare": SweepKind(
        "training/compare", compare, _check_compare, _compare_rows, _compare_size,
        TRAINING_METRICS + (Metric("gap_at_best", NUMBER, "val_loss - train_loss at best_epoch"),),
        ("final_val_loss", "generalization_gap", "val_loss_curve"), TRAINING_SEEDS,
        _names(compare, prepare, drop=("params0",)), "service.schemas.training:CompareRequest",
        "regularization variants side by side, one row per variant (POST /api/v1/training/compare)"),
    "descent/trajectory": SweepKind(
        "descent/trajectory", run_trajectory, _check_trajectory, _trajectory_rows,
        _steps_size(run_trajectory, lambda r: 1),
        DESCENT_METRICS + (Metric("loss_curve", CURVE, "loss[i] after i steps"),),
        ("final_loss", "steps_to_converge", "status"), DESCENT_SEEDS, _names(run_trajectory),
        "service.schemas.descent:TrajectoryRequest", "one descent (POST /api/v1/descent/trajectory)"),
    "descent/race": SweepKind(
        "descent/race", run_race, _check_race, _race_rows, lambda r: (len(r.get("optimizers") or ()), 0),
        DESCENT_METRICS + (Metric("optimizer", CATEGORY, "the racer's optimizer"),
                           Metric("minimum", CATEGORY, "index of the minimum reached (-1 diverged, -2 none)"),
                           Metric("steps_to_minimum", NUMBER, "first step within minimum_tolerance of it")),
        ("final_loss", "steps_to_minimum", "status"), DESCENT_SEEDS, _names(run_race),
        "service.schemas.descent:RaceRequest", "an optimizer race, one row per racer (POST /api/v1/descent/race)"),
    "descent/lr-sweep": SweepKind(
        "descent/lr-sweep", run_lr_sweep, _check_lr_sweep, _lr_sweep_rows,
        _steps_size(run_lr_sweep, lambda r: len(r["lrs"])),
        DESCENT_METRICS + (Metric("verdict", CATEGORY, "too_small | good | oscillating | diverged"),
                           Metric("gap_ratio", NUMBER, "(final - f*) / (initial - f*)"),
                           Metric("loss_curve", CURVE, "loss[i] after i steps")),
        ("final_loss", "verdict"), DESCENT_SEEDS, _names(run_lr_sweep), "service.schemas.descent:SweepRequest",
        "one optimizer at many learning rates, one row per lr (POST /api/v1/descent/lr-sweep)"),
    "descent/basins": SweepKind(
        "descent/basins", basin_map, _check_basins, _basins_rows, lambda r: (1, 0),
        (Metric("fraction_known_minimum", NUMBER, "fraction of starts that reached a known minimum"),
         Metric("fraction_diverged", NUMBER, "fraction of starts that diverged"),
         Metric("fraction_not_converged", NUMBER, "fraction that ended at no minimum"),
         Metric("mean_steps", NUMBER, "mean steps taken over the grid"),
         Metric("minima_found", NUMBER, "known minima plus discovered stationary points")),
        ("fraction_known_minimum", "fraction_diverged", "mean_steps"), {}, _names(basin_map),
        "service.schemas.descent:BasinsRequest", "a basin map (tile) of one optimizer (POST /api/v1/descent/basins)"),
}


def resolve_kind(name) -> SweepKind:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise EngineInputError("kind", f"unknown kind {name!r}; choose one of: {', '.join(KINDS)}") from None


def describe() -> list[dict]:
    """Catalog entries (key "sweeps"): each sweepable kind, its metrics and its seed fields."""
    return [{"kind": k.name, "doc": k.doc, "seed_fields": dict(k.seed_fields),
             "default_metrics": list(k.default_metrics),
             "metrics": [{"name": m.name, "kind": m.kind, "doc": m.doc} for m in k.metrics]}
            for k in KINDS.values()]
