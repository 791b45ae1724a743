"""An optimizer race: several optimizers, each with its own hyperparameters and schedule, from one start.

Every run is exactly ``engine.trajectory.run_trajectory`` with the same surface, start, steps, noise,
batches, clipping and tolerance (the runs share one noise sequence and one batch order: common
random numbers, so differences come from the optimizers). The runs go in parallel, one per thread.

Summary per run (``minimum_tolerance`` is a Euclidean distance in the plane, default 1e-3):

* ``minimum``: the index, into ``Race.minima``, of the minimum the run **ended in**: the first
  known minimum within ``minimum_tolerance`` of its last point; else, if the run converged (gradient
  norm below ``tolerance``) somewhere else, a *discovered* stationary point appended after the known
  ones (``engine.basins.discover``); ``-1`` if it diverged; ``-2`` if it ended elsewhere;
* ``steps_to_minimum``: the first path index within ``minimum_tolerance`` of that minimum (``None``
  when ``minimum < 0``);
* ``final_loss`` (the loss at the last recorded point), ``status``, ``steps_taken``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._jit import parallel_kernel, prange
from .errors import EngineInputError
from .deadlines import run_chunked
from .limits import check_max
from .optimizers import new_state
from .trajectory import (
    DEFAULT_TOLERANCE, STATUS, Trajectory, _descend, check_float, check_start, default_start, resolve_opt,
    schedule_lrs, setup, stop_reason,
)

DEFAULT_MINIMUM_TOLERANCE = 1e-3

RULE = (
    "minimum = index into minima of the first known minimum within minimum_tolerance (Euclidean) of the "
    "run's last point; else a discovered stationary point if the run converged (gradient norm < tolerance); "
    "-1 if diverged; -2 otherwise. steps_to_minimum = first path index within minimum_tolerance of it."
)


@dataclass(frozen=True)
class RaceSummary:
    optimizer: str
    status: str
    steps_taken: int
    final_loss: float
    minimum: int  # index into Race.minima; -1 diverged; -2 ended in no minimum
    steps_to_minimum: int | None


@dataclass(frozen=True)
class Race:
    runs: tuple[Trajectory, ...]  # request order
    summary: tuple[RaceSummary, ...]
    minima: np.ndarray  # (m, 3) x, y, value: the surface's known minima, then discovered points
    minima_known: np.ndarray  # (m,) bool
    minima_kind: tuple[str, ...]  # minimum | saddle | maximum | degenerate
    minimum_tolerance: float
    rule: str


def run_race(
    surface: str = "rosenbrock",
    start=None,
    steps: int = 1000,
    optimizers: list[dict] | None = None,
    schedule: dict | None = None,
    params: dict | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: dict | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    minimum_tolerance: float = DEFAULT_MINIMUM_TOLERANCE,
) -> Race:
    """Run each optimizer spec from ``start`` (default: ``default_start``) in parallel.

    An entry of ``optimizers`` may carry its own ``"schedule"``; otherwise ``schedule`` applies.
    """
    if not isinstance(optimizers, (list, tuple)) or not optimizers:
        raise EngineInputError("optimizers", "must be a non-empty list of optimizer specs")
    R = len(optimizers)
    check_max("optimizers", R, "max_race_runs")
    su = setup(surface, params, steps, runs=R, noise_scale=noise_scale, seed=seed, batch_size=batch_size,
               clip=clip, tolerance=tolerance, work_field="steps")
    check_max("steps", R * su.steps, "max_race_work")
    min_tol = check_float("minimum_tolerance", minimum_tolerance, 0.0)
    opts, lrs = [], np.empty((R, su.steps))
    for i, spec in enumerate(optimizers):
        field = f"optimizers.{i}"
        own = None
        if isinstance(spec, dict) and "schedule" in spec:
            spec = dict(spec)
            own = spec.pop("schedule")
        opt = resolve_opt(spec, field)
        opts.append(opt)
        if own is not None:
            lrs[i] = schedule_lrs(own, opt.lr, su.steps, f"{field}.schedule", f"{field}.lr")
        else:
            lrs[i] = schedule_lrs(schedule, opt.lr, su.steps, lr_field=f"{field}.lr")
    x, y = check_start(su, default_start(su.surface) if start is None else start)

    out = run_many(su, opts, lrs, (x, y), record=True)
    trajs = []
    for r, opt in enumerate(opts):
        n, st = int(out.n[r]), int(out.status[r])
        trajs.append(Trajectory(
            surface=su.surface.name, optimizer=opt.name,
            path=out.path[r, : n + 1], loss=out.loss[r, : n + 1], gradient=out.grad[r, : n + 1],
            update=out.update[r, :n], lr=lrs[r, :n].copy(), step_gradient=out.used[r, :n],
            status=STATUS[st], reason=stop_reason(st, n, su, out.grad[r, n]), steps_taken=n,
            tolerance=su.tolerance,
            bound=((float(su.box[0]), float(su.box[1])), (float(su.box[2]), float(su.box[3]))),
        ))
    minima, known, kind, labels = _label_runs(su, trajs, min_tol)
    summary = []
    for r, tr in enumerate(trajs):
        lab = int(labels[r])
        reach = None
        if lab >= 0:
            # known minima: within minimum_tolerance; discovered points: within the dedupe radius
            radius = min_tol if known[lab] else _dedupe_radius(min_tol)
            d = np.hypot(tr.path[:, 0] - minima[lab, 0], tr.path[:, 1] - minima[lab, 1])
            reach = int(np.argmax(d <= radius))
        summary.append(RaceSummary(tr.optimizer, tr.status, tr.steps_taken, float(tr.loss[-1]), lab, reach))
    return Race(tuple(trajs), tuple(summary), minima, known, kind, min_tol, RULE)


@dataclass(frozen=True)
class Runs:
    """Raw outputs of ``run_many``: per run r, rows [r] of each array."""

    path: np.ndarray  # (R, S+1, 2) or (R, 0, 2)
    loss: np.ndarray  # (R, S+1)
    grad: np.ndarray  # (R, S+1, 2) or (R, 0, 2)
    update: np.ndarray  # (R, S, 2) or (R, 0, 2)
    used: np.ndarray  # (R, S, 2) or (R, 0, 2)
    final: np.ndarray  # (R, 2) last position (may be non-finite after divergence)
    n: np.ndarray  # (R,) steps taken
    status: np.ndarray  # (R,) kernel status codes
    reversals: np.ndarray  # (R,) steps whose update reversed the previous one


def run_many(su, opts: list, lrs: np.ndarray, start: tuple[float, float], record: bool) -> Runs:
    """Run len(opts) descents in parallel (shared by race and lr_sweep). ``lrs`` is (R, steps)."""
    R, S = len(opts), su.steps
    H = max(o.hp.size for o in opts)
    hps = np.zeros((R, max(H, 1)))
    codes = np.empty(R, dtype=np.int64)
    st0, sc0 = new_state(opts[0], 2)
    state = np.empty((R,) + st0.shape)
    scal = np.empty((R,) + sc0.shape)
    for r, o in enumerate(opts):
        hps[r, : o.hp.size] = o.hp
        codes[r] = o.code
        state[r], scal[r] = new_state(o, 2)
    rows = S + 1 if record else 0
    path = np.empty((R, rows, 2))
    grad = np.empty((R, rows, 2))
    update = np.empty((R, S if record else 0, 2))
    used = np.empty((R, S if record else 0, 2))
    loss = np.empty((R, S + 1))
    p = np.empty((R, 2))
    p[:, 0], p[:, 1] = start
    g = np.zeros((R, 2))
    n = np.zeros(R, dtype=np.int64)
    status = np.zeros(R, dtype=np.int64)
    rev = np.zeros(R, dtype=np.int64)
    lrs = np.ascontiguousarray(lrs)

    def runs(a, b):  # runs [a, b) (deadline checks between chunks)
        _runs_kernel(su.surface.code, su.surface.p, codes[a:b], hps[a:b], lrs[a:b], su.noise, su.noise_scale,
                     su.order, su.batch, su.clip_kind, su.clip_arg, su.tolerance, su.box, p[a:b], g[a:b], state[a:b],
                     scal[a:b], path[a:b], loss[a:b], grad[a:b], update[a:b], used[a:b], n[a:b], status[a:b], rev[a:b])

    run_chunked(R, runs, "descent runs")
    return Runs(path, loss, grad, update, used, p, n, status, rev)


def _dedupe_radius(min_tol: float) -> float:
    from .basins import dedupe_radius

    return dedupe_radius(min_tol)


def _label_runs(su, trajs, min_tol):
    """Which minimum each run ended in (see the module docstring); discovered points appended."""
    from .basins import discover

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
    minima = np.concatenate([known, disc.points])
    is_known = np.concatenate([np.ones(known.shape[0], bool), np.zeros(disc.points.shape[0], bool)])
    kind = ("minimum",) * known.shape[0] + disc.kind
    return minima, is_known, kind, labels


def describe() -> list[dict]:
    return [{
        "name": "race",
        "title": "Optimizer race from one start",
        "rule": RULE,
        "defaults": {"minimum_tolerance": DEFAULT_MINIMUM_TOLERANCE, "tolerance": DEFAULT_TOLERANCE},
        "limits": ["max_race_runs", "max_steps", "max_descent_work", "max_race_work", "max_batch_work"],
    }]


def _warmup() -> None:
    run_race("quadratic", (1.0, 1.0), 3, [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.1}])


@parallel_kernel
def _runs_kernel(surf, sp, codes, hps, lrs, noise, noise_scale, order, batch, clip_kind, clip_arg, grad_tol, box,
                 p, g, state, scal, path, loss, grad, update, used, n_out, status_out, rev_out):
    """Run r uses optimizer codes[r] with hyperparameters hps[r] and learning rates lrs[r]; prange over runs."""
    minima = np.zeros((0, 3))
    for r in prange(codes.shape[0]):
        n, st, lab, rev = _descend(surf, sp, codes[r], hps[r], lrs[r], noise, noise_scale, order, batch, clip_kind,
                                   clip_arg, grad_tol, box, minima, 0.0, p[r], g[r], state[r], scal[r], path[r],
                                   loss[r], grad[r], update[r], used[r])
        n_out[r] = n
        status_out[r] = st
        rev_out[r] = rev
