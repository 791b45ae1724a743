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
in raster order (row by row, then column): a point within ``dedupe_radius = max(10 *
minimum_tolerance, 1e-6)`` of an earlier group joins it, otherwise it starts a new group at its own
position. Each group is appended to ``minima`` after the known ones (``minima_known`` false) with
its value and its ``kind`` from the Hessian's eigenvalues there: ``minimum`` (both > 0), ``maximum``
(both < 0), ``saddle`` (opposite signs), ``degenerate`` (one is ~0 relative to the other). Points are
the runs' end points, not polished further. At most ``MAX_DISCOVERED`` groups are kept.

Runs are independent and go in parallel over grid rows.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._jit import as_int, kernel, parallel_kernel, prange
from .errors import EngineInputError
from .deadlines import run_chunked
from .limits import check_max
from .optimizers import new_state, reset_state
from .surfaces import surface_hessian, surface_value
from .trajectory import (
    CONVERGED, DEFAULT_TOLERANCE, MAX_STEPS, REACHED, _descend, check_float, check_int, resolve_opt,
    schedule_lrs, setup,
)

DEFAULT_MINIMUM_TOLERANCE = 1e-3
DEDUPE_FACTOR = 10.0
MAX_DISCOVERED = 100
DEFAULT_RESOLUTION = (100, 100)

RULE = (
    "label[row][col] (row = y, col = x): index into minima of the minimum the run from (x[col], y[row]) "
    "converged to (it came within minimum_tolerance of a known minimum, where it stops, or its gradient "
    "norm fell below tolerance at a discovered stationary point, deduplicated within max(10 * "
    "minimum_tolerance, 1e-6)); -1 diverged; -2 not converged within steps. steps[row][col]: steps taken."
)


def dedupe_radius(min_tol: float) -> float:
    return max(DEDUPE_FACTOR * min_tol, 1e-6)


@dataclass(frozen=True)
class Discovered:
    points: np.ndarray  # (d, 3) x, y, value
    kind: tuple[str, ...]
    assign: np.ndarray  # (m,) group of each input point, -1 past MAX_DISCOVERED


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


def classify(surface, x: float, y: float) -> str:
    """``minimum`` | ``maximum`` | ``saddle`` | ``degenerate`` from the Hessian's eigenvalues at (x, y)."""
    hxx, hxy, hyy = surface_hessian(surface.code, surface.p, float(x), float(y))
    mean, rad = 0.5 * (hxx + hyy), float(np.hypot(0.5 * (hxx - hyy), hxy))
    lo, hi = mean - rad, mean + rad
    scale = max(abs(lo), abs(hi))
    if scale == 0.0 or min(abs(lo), abs(hi)) <= 1e-9 * scale:
        return "degenerate"
    if lo > 0:
        return "minimum"
    if hi < 0:
        return "maximum"
    return "saddle"


def discover(surface, points: np.ndarray, min_tol: float) -> Discovered:
    """Group stationary end points (m, 2) into distinct points (module docstring)."""
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 2)
    centers = np.empty((min(pts.shape[0], MAX_DISCOVERED), 2))
    assign = np.empty(pts.shape[0], dtype=np.int64)
    d = _dedupe(pts, dedupe_radius(min_tol), centers, assign)
    out = np.empty((d, 3))
    kinds = []
    for i in range(d):
        x, y = centers[i]
        out[i] = x, y, surface_value(surface.code, surface.p, float(x), float(y))
        kinds.append(classify(surface, x, y))
    return Discovered(out, tuple(kinds), assign)


def basin_map(
    surface: str = "himmelblau",
    optimizer: dict | None = None,
    x_range=None,
    y_range=None,
    resolution=DEFAULT_RESOLUTION,
    steps: int = 1000,
    schedule: dict | None = None,
    params: dict | None = None,
    clip: dict | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    minimum_tolerance: float = DEFAULT_MINIMUM_TOLERANCE,
) -> Basins:
    """Label every start of an ``nx x ny`` grid with the minimum ``optimizer`` takes it to."""
    try:
        nx, ny = resolution
    except (TypeError, ValueError):
        raise EngineInputError("resolution", "must be a pair [nx, ny]") from None
    nx = check_int("resolution.0", nx, 2, "max_basin_axis")
    ny = check_int("resolution.1", ny, 2, "max_basin_axis")
    su = setup(surface, params, steps, runs=nx * ny, clip=clip, tolerance=tolerance, work_field="resolution")
    min_tol = check_float("minimum_tolerance", minimum_tolerance, 0.0)
    opt = resolve_opt(optimizer)
    lrs = schedule_lrs(schedule, opt.lr, su.steps)
    box = su.box
    (dx0, dx1), (dy0, dy1) = su.surface.domain
    xr = _range("x_range", x_range, (dx0, dx1), box[0], box[1])
    yr = _range("y_range", y_range, (dy0, dy1), box[2], box[3])
    xs = np.linspace(xr[0], xr[1], nx)
    ys = np.linspace(yr[0], yr[1], ny)

    known = np.ascontiguousarray(np.asarray(su.surface.minima, dtype=np.float64).reshape(-1, 3))
    st0, sc0 = new_state(opt, 2)
    state = np.empty((ny,) + st0.shape)
    scal = np.empty((ny,) + sc0.shape)
    p = np.empty((ny, 2))
    g = np.zeros((ny, 2))
    label = np.empty((ny, nx), dtype=np.int64)
    nsteps = np.empty((ny, nx), dtype=np.int64)
    status = np.empty((ny, nx), dtype=np.int64)
    final = np.empty((ny, nx, 2))

    def rows(a, b):  # grid rows [a, b): the kernel on row slices (deadline checks between chunks)
        _basin_kernel(su.surface.code, su.surface.p, opt.code, opt.hp, lrs, su.clip_kind, su.clip_arg, su.tolerance,
                      box, known, min_tol, xs, ys[a:b], p[a:b], g[a:b], state[a:b], scal[a:b], label[a:b],
                      nsteps[a:b], status[a:b], final[a:b])

    run_chunked(ny, rows, "basins")

    # known minima were labelled in the kernel; the rest by status
    out = np.where(status == REACHED, label, np.where(status == MAX_STEPS, -2, -1))
    stat = status == CONVERGED
    disc = discover(su.surface, final[stat], min_tol)
    out[stat] = np.where(disc.assign >= 0, known.shape[0] + disc.assign, -2)
    minima = np.concatenate([known, disc.points])
    is_known = np.concatenate([np.ones(known.shape[0], bool), np.zeros(disc.points.shape[0], bool)])
    return Basins(
        surface=su.surface.name, optimizer=opt.name, x=xs, y=ys, minima=minima, minima_known=is_known,
        minima_kind=("minimum",) * known.shape[0] + disc.kind, label=out.astype(np.int64), steps=nsteps,
        final=final, tolerance=su.tolerance, minimum_tolerance=min_tol, rule=RULE,
    )


def _range(field, value, default, lo, hi) -> tuple[float, float]:
    if value is None:
        return float(default[0]), float(default[1])
    try:
        a, b = value
    except (TypeError, ValueError):
        raise EngineInputError(field, "must be [low, high]") from None
    a, b = check_float(f"{field}.0", a), check_float(f"{field}.1", b)
    if not a < b:
        raise EngineInputError(field, "must be [low, high] with low < high")
    if a < lo or b > hi:
        raise EngineInputError(field, f"must lie within the bound box [{lo:g}, {hi:g}] (100x the domain)")
    return a, b


def describe() -> list[dict]:
    return [{
        "name": "basins",
        "title": "Basins of attraction",
        "rule": RULE,
        "labels": {"-1": "diverged", "-2": "not converged within steps"},
        "defaults": {"resolution": list(DEFAULT_RESOLUTION), "minimum_tolerance": DEFAULT_MINIMUM_TOLERANCE,
                     "tolerance": DEFAULT_TOLERANCE, "max_discovered": MAX_DISCOVERED},
        "limits": ["max_basin_axis", "max_steps", "max_descent_work"],
    }]


def _warmup() -> None:
    basin_map("himmelblau", {"name": "adam", "lr": 0.1}, resolution=(2, 2), steps=3)


@kernel
def _dedupe(points, radius, centers, assign):
    """Greedy grouping in input order: join the first group within ``radius``, else start one (if room)."""
    r2 = radius * radius
    m = 0
    for i in range(points.shape[0]):
        found = -1
        for c in range(m):
            dx = points[i, 0] - centers[c, 0]
            dy = points[i, 1] - centers[c, 1]
            if dx * dx + dy * dy <= r2:
                found = c
                break
        if found < 0 and m < centers.shape[0]:
            centers[m, 0] = points[i, 0]
            centers[m, 1] = points[i, 1]
            found = m
            m += 1
        assign[i] = found
    return m


@parallel_kernel
def _basin_kernel(surf, sp, opt, hp, lrs, clip_kind, clip_arg, grad_tol, box, minima, min_tol, xs, ys,
                  p, g, state, scal, label, nsteps, status, final):
    """One descent per grid point, prange over rows; row buffers p[row], g[row], state[row], scal[row]."""
    noise = np.zeros((0, 2))
    order = np.zeros(0, dtype=np.int64)
    none2 = np.zeros((0, 2))
    none1 = np.zeros(0)
    for row in prange(ys.shape[0]):
        for col in range(xs.shape[0]):
            reset_state(opt, hp, state[row], scal[row])
            p[row, 0] = xs[col]
            p[row, 1] = ys[row]
            n, st, lab, rev = _descend(surf, sp, opt, hp, lrs, noise, 0.0, order, as_int(0), clip_kind, clip_arg,
                                       grad_tol, box, minima, min_tol, p[row], g[row], state[row], scal[row],
                                       none2, none1, none2, none2, none2)
            label[row, col] = lab
            nsteps[row, col] = n
            status[row, col] = st
            final[row, col, 0] = p[row, 0]
            final[row, col, 1] = p[row, 1]
