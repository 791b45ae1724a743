"""What a sweep can run: one registry entry per computable kind, read by everything that sweeps.

``KINDS["training/run"]`` says how to run one request of that kind (the engine function its endpoint
calls), how to check one without computing it (the endpoint's own checks: ``prepare``, ``plan_compare``,
``plan_trajectory``, ``plan_race``, ... without their random draws, so a sweep is refused before
anything is submitted), how much of the kind's single-request budget it uses, which request fields take
a sweep's seed, which metrics a finished run yields, and a tiny example request (the warm-up runs it,
the catalog shows it). The service reads the same entry to find the endpoint's own
marshmallow request schema (``request_schema``, imported by the service only: the engine never
imports it), so a sweep's base request is validated exactly like the endpoint's. Adding a kind is one
``SweepKind`` entry in ``KINDS`` (plus its metrics and rows), as ``lm/train`` and ``networks/hessian`` are.

A kind's ``rows(result)`` turns one result into one or more rows of metrics, each with the extra
coordinates that tell them apart: a regularization comparison gives one row per variant
(``{"variant": "l2"}``), a race one per racer, an lr sweep one per learning rate. A metric is a
``number`` (aggregated as mean, std and a t-interval), a ``category`` (aggregated as counts) or a
``curve`` (a list, aggregated index by index: seed bands).
"""

from __future__ import annotations

import copy
import inspect
import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .basins import basin_map, plan_basins
from .errors import EngineInputError
from .init import resolve_init
from .limits import LIMITS
from .lm_train import RUN_PARAMS as LM_RUN_PARAMS, prepare_lm, train_lm
from .lr_sweep import plan_lr_sweep, run_lr_sweep
from .network_hessian import plan_network_hessian, run_network_hessian
from .race import plan_race, run_race
from .regularization import DEFAULT_VARIANTS, compare, plan_compare
from .trajectory import plan_trajectory, run_trajectory
from .training import train
from .training_setup import prepare

__all__ = ["SWEEP_KINDS", "SweepKind"]

NUMBER, CATEGORY, CURVE = "number", "category", "curve"


@dataclass(frozen=True)
class Metric:
    name: str
    kind: str  # number | category | curve
    doc: str


@dataclass(frozen=True)
class SweepKind:
    name: str  # also the endpoint's path under /api/v1/
    title: str
    doc: str
    run: Callable[..., Any]  # the engine function the endpoint calls, with the request's keyword arguments
    check: Callable[[dict], float]  # the endpoint's own checks without computing (its plan_*); returns the
    #                                 request's work as a fraction of the kind's largest single request
    rows: Callable[[Any], list[tuple[dict, dict]]]  # result -> [(extra coordinates, {metric: value})]
    metrics: tuple[Metric, ...]
    default_metrics: tuple[str, ...]
    seed_fields: Mapping[str, str]  # request body path (HTTP) -> engine argument path it loads into
    request_schema: str  # "module:Class" of the endpoint's request schema, for the service
    example: Mapping  # a tiny request (engine arguments): the warm-up runs it, the catalog shows it
    size: Callable[[dict], tuple[int, int]] = lambda req: (1, 0)  # request -> (rows, points of each curve metric)
    arguments: tuple[str, ...] = ()  # the engine's top-level argument names (a Python axis path's first
    #                                  segment); default: ``run``'s own parameters
    seconds: tuple[float, float] = (0.005, 2.0)  # a run's expected time on one core here: fixed + share x full
    #   (``check``'s share of the largest request; the fixed part is a small run's setup and report). Only
    #   for cutting a sweep into tasks of ~0.1 s (``engine.sweep_tasks``): a wrong guess costs speed, never numbers

    def __post_init__(self):
        if not self.arguments:
            object.__setattr__(self, "arguments", _names(self.run))

    def run_seconds(self, share: float) -> float:
        """Expected seconds of a run that uses ``share`` of the kind's largest single request."""
        return self.seconds[0] + share * self.seconds[1]

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


def _prepare(req: dict):
    model = req.get("model")
    if isinstance(model, Mapping) and model.get("init") is not None:
        resolve_init(model["init"], "model.init")
    return prepare(**req, params0=_NO_WEIGHTS)


def _check_run(req: dict) -> float:
    return _prepare(req).work / LIMITS["max_training_work"]


def _check_compare(req: dict) -> float:
    """``compare``'s own checks (``plan_compare``); the work counts every variant."""
    req = dict(req)
    model = req.get("model")
    if isinstance(model, Mapping) and model.get("init") is not None:
        resolve_init(model["init"], "model.init")
    _, setups = plan_compare(req.pop("variants", None), **req, params0=_NO_WEIGHTS)
    return setups[0].work / LIMITS["max_training_work"]


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


def _descent_check(plan: Callable[..., Any], **kw) -> Callable[[dict], float]:
    """The descent endpoint's own checks (``plan_*``), without the runs' random draws (``draw=False``:
    noise and batch orders are the runs' work); the work as a share of ``max_descent_work``."""
    def check(req: dict) -> float:
        return plan(**req, **kw).su.work / LIMITS["max_descent_work"]
    return check


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


# -- language models -------------------------------------------------------------------------------------
LM_METRICS = (
    Metric("final_val_loss", NUMBER, "validation loss (nats per token) at the last evaluation"),
    Metric("final_train_loss", NUMBER, "training loss at the last evaluation (fixed sample, no dropout)"),
    Metric("best_val_loss", NUMBER, "the lowest validation loss over the evaluations"),
    Metric("generalization_gap", NUMBER, "final_val_loss - final_train_loss"),
    Metric("gap_to_floor", NUMBER, "final_val_loss - the corpus's exact floor (null where the floor is unknown)"),
    Metric("bigram_gain", NUMBER, "the add-one bigram baseline's validation loss - final_val_loss"),
    Metric("steps_run", NUMBER, "optimizer steps completed"),
    Metric("n_params", NUMBER, "parameters of the model (model scaling's N)"),
    Metric("status", CATEGORY, "completed | diverged"),
    Metric("val_loss_curve", CURVE, "val_loss per evaluation"),
    Metric("train_loss_curve", CURVE, "train_loss per evaluation"),
)
# the run's seed (initial parameters, batches, dropout, samples) and the corpus's (its data and split; the
# user's own text has none: narrow seed_fields to ["seed"] for it)
LM_SEEDS = {"seed": "seed", "corpus.seed": "corpus.seed"}


def _lm_rows(r) -> list[tuple[dict, dict]]:
    h = r.history
    val = [v for v in h.val_loss.tolist() if math.isfinite(v)]
    final = _finite(r.final_val_loss)
    return [({}, {
        "final_val_loss": final, "final_train_loss": _finite(r.final_train_loss),
        "best_val_loss": min(val) if val else None,
        "generalization_gap": _diff(r.final_val_loss, r.final_train_loss),
        "gap_to_floor": _diff(final, r.floor), "bigram_gain": _diff(r.baselines["bigram"], final),
        "steps_run": r.steps_run, "n_params": r.n_params, "status": r.status,
        "val_loss_curve": _curve(h.val_loss), "train_loss_curve": _curve(h.train_loss)})]


def _lm_run_arg(req: dict, name: str) -> int:
    v = req.get(name)
    return next(p.default for p in LM_RUN_PARAMS if p.name == name) if v is None else int(v)


def _lm_size(req: dict) -> tuple[int, int]:
    steps, every = _lm_run_arg(req, "steps"), _lm_run_arg(req, "eval_every")
    return 1, len(set(range(0, steps, every)) | {steps})


# -- curvature -------------------------------------------------------------------------------------------
HESSIAN_METRICS = (
    Metric("top_eigenvalue", NUMBER, "the largest Hessian eigenvalue (sharpness; Lanczos)"),
    Metric("bottom_eigenvalue", NUMBER, "the smallest eigenvalue (negative: a descent direction of curvature)"),
    Metric("trace", NUMBER, "Hutchinson estimate of the trace"),
    Metric("trace_stderr", NUMBER, "its standard error"),
    Metric("loss", NUMBER, "full-batch loss at the parameters analysed"),
    Metric("grad_norm", NUMBER, "2-norm of the full-batch gradient there"),
    Metric("n_params", NUMBER, "parameters of the network"),
    Metric("negative_fraction", NUMBER, "fraction of negative eigenvalues of the exact spectrum (null beyond "
                                        "engine.network_hessian.EXACT_MAX parameters)"),
    Metric("training_status", CATEGORY, "none (train_steps 0) | ok | diverged"),
    Metric("top_eigenvalues", CURVE, "the top_k largest eigenvalues, largest first"),
)
HESSIAN_SEEDS = {"seed": "seed", "dataset.seed": "dataset.seed"}


def _hessian_rows(r) -> list[tuple[dict, dict]]:
    return [({}, {
        "top_eigenvalue": _finite(r.top[0]) if r.top.size else None,
        "bottom_eigenvalue": _finite(r.bottom[0]) if r.bottom.size else None,
        "trace": _finite(r.trace), "trace_stderr": _finite(r.trace_stderr), "loss": _finite(r.loss),
        "grad_norm": _finite(r.grad_norm), "n_params": r.n_params,
        "negative_fraction": None if r.exact is None else r.exact["negative_fraction"],
        "training_status": r.training["status"], "top_eigenvalues": _curve(r.top)})]


def _hessian_size(req: dict) -> tuple[int, int]:
    return 1, int(_defaults(plan_network_hessian, req)["top_k"])


def _names(*fns, drop=()) -> tuple[str, ...]:
    out = []
    for fn in fns:
        for p in inspect.signature(fn).parameters.values():
            if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in drop and p.name not in out:
                out.append(p.name)
    return tuple(out)


_TINY_TRAINING = {"dataset": {"name": "sine", "n_train": 6, "n_val": 4}, "model": {"layers": [1, 3, 1], "activation": "tanh"},
                  "optimizer": {"name": "sgd", "lr": 0.1}, "epochs": 2, "batch_size": 4, "prediction": {"points": 4}}
_DESCENT = DESCENT_METRICS + (Metric("loss_curve", CURVE, "loss[i] after i steps"),)

# One entry per sweepable kind: adding one is one more entry here.
KINDS: dict[str, SweepKind] = {k.name: k for k in (
    SweepKind(
        name="training/run", title="Training runs", doc="one training run (POST /api/v1/training/run)",
        run=train, check=_check_run, rows=lambda r: [({}, _training_metrics(r))], size=_run_size,
        metrics=TRAINING_METRICS, default_metrics=("final_val_loss", "best_val_loss", "generalization_gap", "stop_reason"),
        seed_fields=TRAINING_SEEDS, arguments=_names(prepare, drop=("params0", "variants")),
        request_schema="service.schemas.training:RunRequest", example=_TINY_TRAINING),
    SweepKind(
        name="training/compare", title="Regularization comparisons",
        doc="regularization variants side by side, one row per variant (POST /api/v1/training/compare)",
        run=compare, check=_check_compare, rows=_compare_rows, size=_compare_size,
        metrics=TRAINING_METRICS + (Metric("gap_at_best", NUMBER, "val_loss - train_loss at best_epoch"),),
        default_metrics=("final_val_loss", "generalization_gap", "val_loss_curve"), seed_fields=TRAINING_SEEDS,
        arguments=_names(compare, prepare, drop=("params0",)), request_schema="service.schemas.training:CompareRequest",
        example={**_TINY_TRAINING, "variants": [{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.01}}]}),
    SweepKind(
        name="descent/trajectory", title="Descents", doc="one descent (POST /api/v1/descent/trajectory)",
        run=run_trajectory, check=_descent_check(plan_trajectory, draw=False), rows=_trajectory_rows,
        size=_steps_size(run_trajectory, lambda r: 1), metrics=_DESCENT,
        default_metrics=("final_loss", "steps_to_converge", "status"), seed_fields=DESCENT_SEEDS,
        request_schema="service.schemas.descent:TrajectoryRequest",
        example={"surface": "quadratic", "start": [1.0, 1.0], "steps": 3, "optimizer": {"name": "sgd", "lr": 0.1}}),
    SweepKind(
        name="descent/race", title="Optimizer races",
        doc="an optimizer race, one row per racer (POST /api/v1/descent/race)",
        run=run_race, check=_descent_check(plan_race, draw=False), rows=_race_rows,
        size=lambda r: (len(r.get("optimizers") or ()), 0),
        metrics=DESCENT_METRICS + (Metric("optimizer", CATEGORY, "the racer's optimizer"),
                                   Metric("minimum", CATEGORY, "index of the minimum reached (-1 diverged, -2 none)"),
                                   Metric("steps_to_minimum", NUMBER, "first step within minimum_tolerance of it")),
        default_metrics=("final_loss", "steps_to_minimum", "status"), seed_fields=DESCENT_SEEDS,
        request_schema="service.schemas.descent:RaceRequest",
        example={"surface": "quadratic", "start": [1.0, 1.0], "steps": 3,
                 "optimizers": [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.1}]}),
    SweepKind(
        name="descent/lr-sweep", title="Learning-rate sweeps",
        doc="one optimizer at many learning rates, one row per lr (POST /api/v1/descent/lr-sweep)",
        run=run_lr_sweep, check=_descent_check(plan_lr_sweep, draw=False), rows=_lr_sweep_rows,
        size=_steps_size(run_lr_sweep, lambda r: len(r["lrs"])),
        metrics=DESCENT_METRICS + (Metric("verdict", CATEGORY, "too_small | good | oscillating | diverged"),
                                   Metric("gap_ratio", NUMBER, "(final - f*) / (initial - f*)"),
                                   Metric("loss_curve", CURVE, "loss[i] after i steps")),
        default_metrics=("final_loss", "verdict"), seed_fields=DESCENT_SEEDS,
        request_schema="service.schemas.descent:SweepRequest",
        example={"surface": "quadratic", "lrs": [0.01, 0.1], "steps": 3}),
    SweepKind(
        name="descent/basins", title="Basin maps", doc="a basin map (tile) of one optimizer (POST /api/v1/descent/basins)",
        run=basin_map, check=_descent_check(plan_basins), rows=_basins_rows, size=lambda r: (1, 0),
        metrics=(Metric("fraction_known_minimum", NUMBER, "fraction of starts that reached a known minimum"),
                 Metric("fraction_diverged", NUMBER, "fraction of starts that diverged"),
                 Metric("fraction_not_converged", NUMBER, "fraction that ended at no minimum"),
                 Metric("mean_steps", NUMBER, "mean steps taken over the grid"),
                 Metric("minima_found", NUMBER, "known minima plus discovered stationary points")),
        default_metrics=("fraction_known_minimum", "fraction_diverged", "mean_steps"), seed_fields={},
        request_schema="service.schemas.descent:BasinsRequest",
        example={"surface": "himmelblau", "resolution": [2, 2], "steps": 3, "optimizer": {"name": "sgd", "lr": 0.01}}),
    SweepKind(
        name="lm/train", title="Language-model training runs", doc="one language-model run (POST /api/v1/lm/train)",
        run=train_lm, check=lambda req: prepare_lm(**req).work / LIMITS["max_lm_work"], rows=_lm_rows,
        size=_lm_size, metrics=LM_METRICS, seed_fields=LM_SEEDS,
        default_metrics=("final_val_loss", "best_val_loss", "generalization_gap", "status"),
        arguments=_names(prepare_lm) + tuple(p.name for p in LM_RUN_PARAMS), seconds=(0.01, 10.0),  # max_lm_work: ~30 GFLOP/s here
        request_schema="service.schemas.lm:LMTrainRequest",
        example={"corpus": {"name": "reverse", "length": 2, "n_train": 8, "n_val": 4},
                 "model": {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 4}, "steps": 2, "batch_size": 2,
                 "eval_every": 1, "sampling": {"length": 2}}),
    SweepKind(
        name="networks/hessian", title="Hessian spectra",
        doc="a network's loss Hessian: extreme eigenvalues, trace (POST /api/v1/networks/hessian)",
        run=run_network_hessian, check=lambda req: plan_network_hessian(**req).work / LIMITS["max_hessian_work"],
        rows=_hessian_rows, size=_hessian_size, metrics=HESSIAN_METRICS, seed_fields=HESSIAN_SEEDS,
        default_metrics=("top_eigenvalue", "bottom_eigenvalue", "trace", "loss"),
        arguments=_names(plan_network_hessian), seconds=(0.01, 6.0),  # max_hessian_work: ~6 s here
        request_schema="service.schemas.curvature:HessianRequest",
        example={"layers": [2, 3, 1], "loss": "mse", "dataset": {"name": "moons", "n_train": 8}, "train_steps": 2,
                 "top_k": 1, "trace_samples": 2, "density": False}),
)}


SWEEP_KINDS = KINDS  # as ``engine`` exports it (``engine.KINDS`` would not say of what)


def resolve_kind(name) -> SweepKind:
    try:
        return KINDS[name]
    except (KeyError, TypeError):
        raise EngineInputError("kind", f"unknown kind {name!r}; choose one of: {', '.join(KINDS)}") from None


def describe() -> list[dict]:
    """Catalog entries (section "sweeps"): each sweepable kind, its metrics, seed fields and a tiny example
    (a valid request body of the kind's endpoint, and the base of a sweep)."""
    return [{"name": k.name, "title": k.title, "doc": k.doc, "parameters": [], "kind": k.name,
             "seed_fields": dict(k.seed_fields), "default_metrics": list(k.default_metrics),
             "metrics": [{"name": m.name, "kind": m.kind, "doc": m.doc} for m in k.metrics],
             "example": copy.deepcopy(dict(k.example))}
            for k in KINDS.values()]


def _warmup() -> None:
    """Every kind through its check, its engine function and its rows, on its tiny example (the kernels
    are their own modules'; this loads them and runs the sweep side's Python once)."""
    for k in KINDS.values():
        k.check(copy.deepcopy(dict(k.example)))
        k.rows(k.run(**copy.deepcopy(dict(k.example))))
