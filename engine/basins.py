"""Basins of attraction: run one optimizer from every point of a grid and say where each run ends.

For the grid ``xs = linspace(x_range, nx)``, ``ys = linspace(y_range, ny)`` (default ranges: the
surface's domain), the run from ``(xs[col], ys[row])`` is the same descent as
``engine.trajectory.run_trajectory`` (same optimizer, schedule, clipping; no noise, no mini-batches),
except that it also **stops at the first step that comes within** ``minimum_tolerance``
(Euclidean, default 1e-3) **of a known minimum**. Then, per start, ``label[row, col]`` is

* ``k >= 0``: the index into ``minima`` of the minimum the run converged to: a known minimum it came
  within ``minimum_tolerance`` of, or a *discovered* stationary point (below);
* ``-1``: diverged (non-finite, or left the bound box: the domain scaled 100x about its centre);
* ``-2``: not converged within ``steps`` (or past the ``MAX_DISCOVERED`` discovered points),

and ``steps[row, col]`` is the number of steps it took (to reach the minimum, to converge, to
diverge, or ``steps``).

**Discovered points.** A run that stops because its gradient norm fell below ``tolerance`` away
from every known minimum ended at a stationary point the surface does not list (a local minimum of
Rastrigin, say, or a saddle reached along a symmetry line). Those end points are grouped greedily
in raster order (row by row, then column) by ``engine.descent.discover``: a point within
``dedupe_radius = max(10 * minimum_tolerance, 1e-6)`` of an earlier group joins it, otherwise it starts
a new group at its own position. Each group is appended to ``minima`` after the known ones
(``minima_known`` false) with its value and its ``kind`` from the Hessian's eigenvalues there
(``engine.critical.classify_hessian``: ``minimum``, ``maximum``, ``saddle`` or ``degenerate``). Points
are the runs' end points, not polished further. At most ``MAX_DISCOVERED`` groups are kept.

Runs are independent and go in parallel over grid rows.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Mapping, Sequence

import numpy as np

from .results import resultclass
from ._jit import kernel
from .descent import (
    CONVERGED, DEFAULT_OPTIMIZER, DEFAULT_TOLERANCE, MAX_DISCOVERED, MAX_STEPS, REACHED, Record, RunState,
    Setup, descend, discover, setup, with_discovered,
)
from .deadlines import run_chunked
from .errors import EngineInputError
from .optimizers import ResolvedOptimizer, new_state, reset_state, resolve_optimizer
from .registry import ParamSpec
from .schedules import lr_per_step
from .threads import block_threads
from .validate import Domain, Pair, Spec, check_int, check_interval

__all__ = ["Basins", "basin_map"]

DEFAULT_MINIMUM_TOLERANCE = 1e-3
DEFAULT_RESOLUTION = (100, 100)

RULE = (
    "label[row][col] (row = y, col = x): index into minima of the minimum the run from (x[col], y[row]) "
    "converged to (it came within minimum_tolerance of a known minimum, where it stops, or its gradient "
    "norm fell below tolerance at a discovered stationary point, deduplicated within max(10 * "
    "minimum_tolerance, 1e-6)); -1 diverged; -2 not converged within steps. steps[row][col]: steps taken."
)


@resultclass
@dataclass(frozen=True)
class Basins:
    surface: str
    optimizer: str
    x: np.ndarray  # (nx,)
    y: np.ndarray  # (ny,)
    minima: np.ndarray  # (m, 3) x, y, value: known minima first, then discovered points
    minima_known: np.ndarray  # (m,) bool
    minima_kind: tuple[str, ...]
    label: np.ndarray  # (ny, nx) int64
    steps: np.ndarray  # (ny, nx) int64
    final: np.ndarray  # (ny, nx, 2) where each run stopped (may be non-finite where it diverged)
    tolerance: float
    minimum_tolerance: float
    rule: str


@dataclass(frozen=True)
class BasinsPlan:
    """A basin-map request, validated and resolved: what ``basin_map`` runs (``plan_basins``)."""

    su: Setup
    opt: ResolvedOptimizer
    lrs: np.ndarray  # (steps,)
    xs: np.ndarray  # (nx,) grid of starts
    ys: np.ndarray  # (ny,)


def plan_basins(
    surface: str | Spec = "himmelblau",
    optimizer: Spec | None = None,
    x_range: Pair | None = None,
    y_range: Pair | None = None,
    resolution: Sequence[int] = DEFAULT_RESOLUTION,
    steps: int = 1000,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    minimum_tolerance: float = DEFAULT_MINIMUM_TOLERANCE,
    domain: Domain | None = None,
) -> BasinsPlan:
    """``basin_map``'s checks, without the run (it draws nothing at random)."""
    try:
        nx, ny = resolution
    except (TypeError, ValueError):
        raise EngineInputError("resolution", "must be a pair [nx, ny]") from None
    nx = check_int("resolution.0", nx, 2, "max_basin_axis")
    ny = check_int("resolution.1", ny, 2, "max_basin_axis")
    su = setup(surface, params, steps, runs=nx * ny, clip=clip, tolerance=tolerance, work_field="resolution",
               minimum_tolerance=minimum_tolerance, domain=domain)
    opt = resolve_optimizer(DEFAULT_OPTIMIZER if optimizer is None else optimizer)
    lrs = lr_per_step(schedule, opt.lr, su.steps)
    box = su.box
    (dx0, dx1), (dy0, dy1) = su.surface.domain
    xr = _range("x_range", x_range, (dx0, dx1), box[0], box[1])
    yr = _range("y_range", y_range, (dy0, dy1), box[2], box[3])
    xs = np.linspace(xr[0], xr[1], nx)
    ys = np.linspace(yr[0], yr[1], ny)
    return BasinsPlan(su, opt, lrs, xs, ys)


def basin_map(
    surface: str | Spec = "himmelblau",
    optimizer: Spec | None = None,
    x_range: Pair | None = None,
    y_range: Pair | None = None,
    resolution: Sequence[int] = DEFAULT_RESOLUTION,
    steps: int = 1000,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    minimum_tolerance: float = DEFAULT_MINIMUM_TOLERANCE,
    domain: Domain | None = None,
) -> Basins:
    """Label every start of an ``nx x ny`` grid with the minimum ``optimizer`` takes it to."""
    p = plan_basins(surface, optimizer, x_range, y_range, resolution, steps, schedule, params, clip, tolerance,
                    minimum_tolerance, domain=domain)
    su, opt, lrs, xs, ys, min_tol = p.su, p.opt, p.lrs, p.xs, p.ys, p.su.rules.min_tol
    nx, ny = xs.size, ys.size

    known = su.rules.minima
    st0, sc0 = new_state(opt, 2)
    run = RunState(np.empty((ny, 2)), np.zeros((ny, 2)), np.empty((ny,) + st0.shape), np.empty((ny,) + sc0.shape))
    label = np.empty((ny, nx), dtype=np.int64)
    nsteps = np.empty((ny, nx), dtype=np.int64)
    status = np.empty((ny, nx), dtype=np.int64)
    final = np.empty((ny, nx, 2))
    args = opt.args(lrs)

    def rows(a, b):  # grid rows [a, b), shared out over the threads (deadline checks between chunks)
        part, out = RunState(*(x[a:b] for x in run)), (label[a:b], nsteps[a:b], status[a:b], final[a:b])
        block_threads(b - a, lambda c, lo, hi: _basin_rows(su.surface.args, su.rules, args, xs, ys[a:b], part, out,
                                                           lo, hi))

    run_chunked(ny, rows, "basins")

    # known minima were labelled in the kernel; the rest by status
    out = np.where(status == REACHED, label, np.where(status == MAX_STEPS, -2, -1))
    stat = status == CONVERGED
    disc = discover(su.surface, final[stat], min_tol)
    out[stat] = np.where(disc.assign >= 0, known.shape[0] + disc.assign, -2)
    minima, is_known, kind = with_discovered(known, disc)
    return Basins(
        surface=su.surface.name, optimizer=opt.name, x=xs, y=ys, minima=minima, minima_known=is_known,
        minima_kind=kind, label=out.astype(np.int64), steps=nsteps,
        final=final, tolerance=su.tolerance, minimum_tolerance=min_tol, rule=RULE,
    )


def _range(field, value, default, lo, hi) -> tuple[float, float]:
    if value is None:
        return float(default[0]), float(default[1])
    a, b = check_interval(field, value, indexed=True)
    if a < lo or b > hi:
        raise EngineInputError(field, f"must lie within the bound box [{lo:g}, {hi:g}] (100x the domain)")
    return a, b


def describe() -> list[dict]:
    return [{
        "name": "basins",
        "title": "Basins of attraction",
        "parameters": [
            ParamSpec("minimum_tolerance", DEFAULT_MINIMUM_TOLERANCE, 0.0, None,
                      doc="a run stops within this distance of a known minimum").to_dict(),
        ],
        "rule": RULE,
        "labels": {"-1": "diverged", "-2": "not converged within steps"},
        "defaults": {"resolution": list(DEFAULT_RESOLUTION), "minimum_tolerance": DEFAULT_MINIMUM_TOLERANCE,
                     "tolerance": DEFAULT_TOLERANCE, "max_discovered": MAX_DISCOVERED},
        "limits": ["max_basin_axis", "max_steps", "max_descent_work"],
    }]


def _warmup() -> None:
    basin_map("himmelblau", {"name": "adam", "lr": 0.1}, resolution=(2, 2), steps=3)


@kernel
def _basin_rows(surface, rules, opt, xs, ys, run, out, lo, hi):
    """One descent per grid start (xs[col], ys[row]) for rows lo..hi-1 (one thread's share),
    with the row's buffers ``run[row]``; nothing recorded but the outcome per start."""
    p, g, state, scal = run.p, run.g, run.state, run.scal
    label, nsteps, status, final = out
    none2 = np.zeros((0, 2))
    none1 = np.zeros(0)
    for row in range(lo, hi):
        for col in range(xs.shape[0]):
            reset_state(opt.code, opt.hp, state[row], scal[row])
            p[row, 0] = xs[col]
            p[row, 1] = ys[row]
            n, st, lab, rev = descend(surface, rules, opt, RunState(p[row], g[row], state[row], scal[row]),
                                      Record(none2, none1, none2, none2, none2))
            label[row, col] = lab
            nsteps[row, col] = n
            status[row, col] = st
            final[row, col, 0] = p[row, 0]
            final[row, col, 1] = p[row, 1]
