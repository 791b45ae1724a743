"""An optimizer race: several optimizers, each with its own hyperparameters and schedule, from one start.

Every run is exactly ``engine.trajectory.run_trajectory`` with the same surface, start, steps, noise,
batches, clipping and tolerance (the runs share one noise sequence and one batch order: common
random numbers, so differences come from the optimizers). The runs go in parallel, one per thread.

Summary per run (``minimum_tolerance`` is a Euclidean distance in the plane, default 1e-3):

* ``minimum``: the index, into ``Race.minima``, of the minimum the run **ended in**: the first
  known minimum within ``minimum_tolerance`` of its last point; else, if the run converged (gradient
  norm below ``tolerance``) somewhere else, a *discovered* stationary point appended after the known
  ones (``engine.descent.discover``); ``-1`` if it diverged; ``-2`` if it ended elsewhere;
* ``steps_to_minimum``: the first path index within ``minimum_tolerance`` of that minimum (``None``
  when ``minimum < 0``);
* ``final_loss`` (the loss at the last recorded point), ``status``, ``steps_taken``.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Mapping, Sequence

import numpy as np

from .results import resultclass
from .descent import (
    DEFAULT_OPTIMIZER, DEFAULT_TOLERANCE, Record, Setup, check_start, dedupe_radius, default_start, discover, run_many,
    setup, with_discovered,
)
from .errors import EngineInputError
from .limits import check_max
from .optimizers import ResolvedOptimizer, resolve_optimizer
from .registry import ParamSpec
from .schedules import lr_per_step
from .trajectory import Trajectory, trajectory_of
from .validate import Domain, Pair, Spec, check_float

__all__ = ["Race", "RaceSummary", "run_race"]

DEFAULT_MINIMUM_TOLERANCE = 1e-3

RULE = (
    "minimum = index into minima of the first known minimum within minimum_tolerance (Euclidean) of the "
    "run's last point; else a discovered stationary point if the run converged (gradient norm < tolerance); "
    "-1 if diverged; -2 otherwise. steps_to_minimum = first path index within minimum_tolerance of it."
)

# optimizers=None races these two (the same pair as engine.race_function's default)
DEFAULT_RACE = ({"name": "sgd", "lr": 1e-3}, {"name": "adam", "lr": 1e-2})


@resultclass
@dataclass(frozen=True)
class RaceSummary:
    optimizer: str
    status: str
    steps_taken: int
    final_loss: float
    minimum: int  # index into Race.minima; -1 diverged; -2 ended in no minimum
    steps_to_minimum: int | None


@resultclass
@dataclass(frozen=True)
class Race:
    runs: tuple[Trajectory, ...]  # request order
    summary: tuple[RaceSummary, ...]
    minima: np.ndarray  # (m, 3) x, y, value: the surface's known minima, then discovered points
    minima_known: np.ndarray  # (m,) bool
    minima_kind: tuple[str, ...]  # minimum | saddle | maximum | degenerate
    minimum_tolerance: float
    rule: str


@dataclass(frozen=True)
class RacePlan:
    """A race request, validated and resolved: what ``run_race`` runs (``plan_race``)."""

    su: Setup
    opts: tuple[ResolvedOptimizer, ...]
    lrs: np.ndarray  # (R, steps) each racer's learning rate per step
    start: tuple[float, float]
    min_tol: float


def plan_race(
    surface: str | Spec = "rosenbrock",
    start: Pair | None = None,
    steps: int = 1000,
    optimizers: Sequence[Spec | None] | None = None,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    minimum_tolerance: float = DEFAULT_MINIMUM_TOLERANCE,
    draw: bool = True,
    domain: Domain | None = None,
) -> RacePlan:
    """``run_race``'s checks, without the run; ``draw=False``: without its random draws either."""
    if optimizers is None:
        optimizers = DEFAULT_RACE
    if not isinstance(optimizers, (list, tuple)) or not optimizers:
        raise EngineInputError("optimizers", "must be a non-empty list of optimizer specs")
    R = len(optimizers)
    check_max("optimizers", R, "max_race_runs")
    su = setup(surface, params, steps, runs=R, noise_scale=noise_scale, seed=seed, batch_size=batch_size,
               clip=clip, tolerance=tolerance, work_field="steps", draw=draw, domain=domain)
    check_max("steps", R * su.steps, "max_race_work")
    min_tol = check_float("minimum_tolerance", minimum_tolerance, 0.0)
    opts, lrs = [], np.empty((R, su.steps))
    for i, spec in enumerate(optimizers):
        field = f"optimizers.{i}"
        own = None
        if isinstance(spec, dict) and "schedule" in spec:
            spec = dict(spec)
            own = spec.pop("schedule")
        opt = resolve_optimizer(DEFAULT_OPTIMIZER if spec is None else spec, field)
        opts.append(opt)
        if own is not None:
            lrs[i] = lr_per_step(own, opt.lr, su.steps, f"{field}.schedule", f"{field}.lr")
        else:
            lrs[i] = lr_per_step(schedule, opt.lr, su.steps, lr_field=f"{field}.lr")
    x, y = check_start(su, default_start(su.surface) if start is None else start)
    return RacePlan(su, tuple(opts), lrs, (x, y), min_tol)


def run_race(
    surface: str | Spec = "rosenbrock",
    start: Pair | None = None,
    steps: int = 1000,
    optimizers: Sequence[Spec | None] | None = None,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    minimum_tolerance: float = DEFAULT_MINIMUM_TOLERANCE,
    domain: Domain | None = None,
) -> Race:
    """Run each optimizer spec from ``start`` (default: ``default_start``) in parallel.

    An entry of ``optimizers`` may carry its own ``"schedule"``; otherwise ``schedule`` applies.
    ``optimizers=None`` races SGD (lr 1e-3) against Adam (lr 1e-2).

    >>> r = engine.run_race("himmelblau", start=(0.0, 0.0), steps=300,
    ...                     optimizers=[{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.1}])
    >>> [(s.optimizer, s.status, s.minimum) for s in r.summary]
    [('sgd', 'converged', 0), ('adam', 'max_steps', 0)]
    >>> r.minima[0].round(3).tolist()      # x, y, f of the minimum both reached
    [3.0, 2.0, 0.0]
    """
    p = plan_race(surface, start, steps, optimizers, schedule, params, noise_scale, seed, batch_size, clip, tolerance,
                  minimum_tolerance, domain=domain)
    su, opts, lrs, min_tol = p.su, p.opts, p.lrs, p.min_tol
    out = run_many(su, opts, lrs, p.start, record=True)
    rec = out.rec
    trajs = [trajectory_of(su, opt, lrs[r], Record(*(a[r] for a in rec)), int(out.n[r]), int(out.status[r]))
             for r, opt in enumerate(opts)]
    minima, known, kind, labels = _label_runs(su, trajs, min_tol)
    summary = []
    for r, tr in enumerate(trajs):
        lab = int(labels[r])
        reach = None
        if lab >= 0:
            # known minima: within minimum_tolerance; discovered points: within the dedupe radius
            radius = min_tol if known[lab] else dedupe_radius(min_tol)
            d = np.hypot(tr.path[:, 0] - minima[lab, 0], tr.path[:, 1] - minima[lab, 1])
            reach = int(np.argmax(d <= radius))
        summary.append(RaceSummary(tr.optimizer, tr.status, tr.steps_taken, float(tr.loss[-1]), lab, reach))
    return Race(tuple(trajs), tuple(summary), minima, known, kind, min_tol, RULE)


def _label_runs(su, trajs, min_tol):
    """Which minimum each run ended in (see the module docstring); discovered points appended."""
    known = np.asarray(su.surface.minima, dtype=np.float64).reshape(-1, 3)
    labels = np.full(len(trajs), -2, dtype=np.int64)
    stationary = []
    for r, tr in enumerate(trajs):
        if tr.status == "diverged":
            labels[r] = -1
            continue
        x, y = tr.path[-1]
        if known.shape[0]:
            d = np.hypot(known[:, 0] - x, known[:, 1] - y)
            j = int(np.argmin(d))
            if d[j] <= min_tol:
                labels[r] = j
                continue
        if tr.status == "converged":
            stationary.append(r)
    pts = np.array([trajs[r].path[-1] for r in stationary], dtype=np.float64).reshape(-1, 2)
    disc = discover(su.surface, pts, min_tol)
    for i, r in enumerate(stationary):
        if disc.assign[i] >= 0:
            labels[r] = known.shape[0] + disc.assign[i]
    minima, is_known, kind = with_discovered(known, disc)
    return minima, is_known, kind, labels


def describe() -> list[dict]:
    return [{
        "name": "race",
        "title": "Optimizer race from one start",
        "parameters": [ParamSpec("minimum_tolerance", DEFAULT_MINIMUM_TOLERANCE, 0.0, None,
                                 doc="distance (Euclidean) that counts as 'at a minimum'").to_dict()],
        "rule": RULE,
        "defaults": {"minimum_tolerance": DEFAULT_MINIMUM_TOLERANCE, "tolerance": DEFAULT_TOLERANCE},
        "limits": ["max_race_runs", "max_steps", "max_descent_work", "max_race_work", "max_batch_work"],
    }]


def _warmup() -> None:
    run_race("quadratic", (1.0, 1.0), 3, [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.1}])
