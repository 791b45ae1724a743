"""Loss landscapes: a surface sampled on a grid, and 1-D slices through it (critical points: ``engine.critical``).

Two public functions, each returning a frozen dataclass of numpy arrays::

    import engine
    g = engine.landscape_grid("rosenbrock", (-2, 2), (-1, 3), resolution=(200, 200))
    g.z[row, col]                                  # row ↔ y[row], column ↔ x[col]
    s = engine.landscape_slice("valley", point=(-1, 0.5), direction=(1, 0), t_range=(0, 2))

``surface`` is anything ``engine.surfaces.resolve_surface`` reads: a registry name (see
``engine.surfaces.SURFACES``) with ``params``, a formula in x and y (with ``params`` and ``domain``),
or an already resolved ``engine.surfaces.Surface``.

Cells where f (or ‖∇f‖) is not a finite number (overflow; outside a formula's domain: log of a
negative, 0/0) keep their value in the arrays (±inf, NaN), are counted in ``n_overflow`` and left out
of ``z_min``/``z_max``; JSON writes them as ``null`` (a gap in a plot).

Evaluation of ``linear_regression``: its value is a mean over n ≤ 10⁴ samples, which would
make a 1000×1000 grid cost 10¹⁰ operations. The MSE is exactly quadratic in (w, b), so
every function here evaluates it as f* + ½ dᵀ H d with d = (w − w*, b − b*), the least-
squares solution (w*, b*), its MSE f* (computed from the residuals, so no cancellation) and
the constant Hessian H = 2 [[mean x², mean x], [mean x, 1]], all computed once per call in
O(n) (``engine.surfaces.exact_args``). The two expressions agree to rounding (tested against the per-sample
mean). ``rectangle`` resolves the ranges every landscape function shares.

A formula's grid rows run ``engine.formula.formula_fill_row`` (the stack machine over blocks of columns);
its work, formula nodes x cells, is bounded by ``max_formula_work``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Mapping, Sequence

import numpy as np

from .results import resultclass
from ._jit import kernel
from .errors import EngineInputError
from .formula import formula_fill_row
from .surfaces import (
    ACKLEY, BEALE, BOOTH, FORMULA, GOLDSTEIN_PRICE, HIMMELBLAU, MATYAS, MONKEY_SADDLE, QUADRATIC, QUADRATIC_FORM,
    RASTRIGIN, ROSENBROCK, SADDLE, SIX_HUMP_CAMEL, VALLEY, Surface, ackley_fg_trig, beale_fg, booth_fg,
    check_formula_work, exact_args, goldstein_price_fg, himmelblau_fg, matyas_fg, monkey_saddle_fg, quadratic_fg,
    quadratic_form_fg, rastrigin_fg_trig, resolve_surface, rosenbrock_fg, saddle_fg, six_hump_camel_fg, surface_grad,
    valley_fg,
)
from .threads import block_threads
from .validate import Domain, Pair, Spec, check_int, check_interval, check_pair

__all__ = ["LandscapeGrid", "LandscapeSlice", "landscape_grid", "landscape_slice"]

_FMAX = float(np.finfo(np.float64).max)
_TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@resultclass
@dataclass(frozen=True, eq=False)
class LandscapeGrid:
    """f sampled on a rectangle: ``z[i, j] = f(x[j], y[i])`` (row = y, column = x).

    ``z_min``/``z_max`` are over finite cells only (±1.7976931348623157e308 if none is). A cell whose
    value is not finite (overflow, e.g. Goldstein–Price beyond ~1e38; outside a formula's domain) keeps
    it (±inf or NaN: a mask for numpy, ``null`` in JSON) and is counted in ``n_overflow``; the same
    applies to ``grad_norm``.
    """

    surface: str
    params: dict
    x: np.ndarray  # (nx,)
    y: np.ndarray  # (ny,)
    z: np.ndarray  # (ny, nx)
    z_min: float
    z_max: float
    grad_norm: np.ndarray | None  # (ny, nx) ‖∇f‖ when asked for, else None
    grad_norm_max: float | None
    n_overflow: int  # cells of z and grad_norm that are not finite


@resultclass
@dataclass(frozen=True, eq=False)
class LandscapeSlice:
    """f along the line (x, y) = point + t·direction; ``derivative`` = d f / d t = ∇f · direction.

    The direction is used as given (not normalized), so ``derivative`` is the slope of the
    ``value`` curve plotted against ``t``; pass a unit vector for the usual directional derivative.
    """

    surface: str
    params: dict
    point: tuple[float, float]
    direction: tuple[float, float]
    t: np.ndarray
    x: np.ndarray
    y: np.ndarray
    value: np.ndarray
    derivative: np.ndarray
    n_overflow: int  # entries of value and derivative that are not finite (kept: ±inf, NaN; null in JSON)


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def landscape_grid(
    surface: str | Spec | Surface,
    x_range: Pair | None = None,
    y_range: Pair | None = None,
    resolution: Sequence[int] = (200, 200),
    params: Mapping[str, float] | None = None,
    gradient: bool = False,
    domain: Domain | None = None,
) -> LandscapeGrid:
    """Sample ``surface`` (a name, or a formula with ``params`` and ``domain``) on an ``nx × ny`` grid over
    ``x_range × y_range`` (default: its domain).

    ``resolution`` is ``(nx, ny)`` or one int for both; each axis 2..max_grid_axis (a formula: nodes x
    nx x ny <= max_formula_work). With ``gradient=True`` also returns ‖∇f‖ per cell.

    >>> g = engine.landscape_grid("himmelblau", x_range=(-5, 5), y_range=(-5, 5), resolution=(11, 11))
    >>> g.z.shape, g.z_min, float(g.z[5, 5])   # row = y, column = x: the centre is f(0, 0)
    ((11, 11), 0.0, 170.0)
    >>> engine.landscape_grid("x**2 + a*y**2", resolution=3, params={"a": 2.0},
    ...                       domain={"x": [-1, 1], "y": [-1, 1]}).z.tolist()
    [[3.0, 2.0, 3.0], [1.0, 0.0, 1.0], [3.0, 2.0, 3.0]]
    """
    su = resolve_surface(surface, params, domain)
    (x0, x1), (y0, y1) = rectangle(su, x_range, y_range)
    nx, ny = _resolution(resolution)
    check_formula_work("resolution", su, nx * ny, "cells")
    if not isinstance(gradient, bool):
        raise EngineInputError("gradient", "must be true or false")
    xs = np.linspace(x0, x1, nx)
    ys = np.linspace(y0, y1, ny)
    z = np.empty((ny, nx))
    gn = np.empty((ny, nx) if gradient else (1, 1))
    zstats = np.empty((ny, 3))  # per row: finite min, finite max, non-finite count
    gstats = np.empty((ny if gradient else 1, 3))
    trig = np.empty((3, nx))  # cos 2πx, sin 2πx, exp(½ cos 2πx) per column (trigonometric surfaces)
    args = exact_args(su)
    _trig_columns(args, xs, trig)
    block_threads(ny, lambda c, lo, hi: _grid_rows(args, xs, ys, trig, z, gn, zstats, gstats, gradient, lo, hi))
    n_over, z_min, z_max = _reduce_stats(zstats)
    gmax = None
    if gradient:
        g_over, _, gmax = _reduce_stats(gstats)
        n_over += g_over
    return LandscapeGrid(su.name, su.params, xs, ys, z, z_min, z_max, gn if gradient else None, gmax, n_over)


def landscape_slice(
    surface: str | Spec | Surface,
    point: Pair,
    direction: Pair,
    t_range: Pair = (-1.0, 1.0),
    points: int = 201,
    params: Mapping[str, float] | None = None,
    domain: Domain | None = None,
) -> LandscapeSlice:
    """f and d f/d t along (x, y) = point + t·direction for ``points`` values of t spanning ``t_range``."""
    su = resolve_surface(surface, params, domain)
    px, py = check_pair("point", point)
    dx, dy = check_pair("direction", direction)
    if dx == 0.0 and dy == 0.0:
        raise EngineInputError("direction", "must not be the zero vector")
    t0, t1 = check_interval("t_range", t_range)
    n = check_int("points", points, 2, "max_slice_points")
    check_formula_work("points", su, n, "points")
    t = np.linspace(t0, t1, n)
    xs = px + t * dx
    ys = py + t * dy
    value = np.empty(n)
    deriv = np.empty(n)
    _slice_kernel(exact_args(su), xs, ys, dx, dy, value, deriv)
    n_over = int(np.count_nonzero(~np.isfinite(value)) + np.count_nonzero(~np.isfinite(deriv)))
    return LandscapeSlice(su.name, su.params, (px, py), (dx, dy), t, xs, ys, value, deriv, n_over)


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def rectangle(su: Surface, x_range, y_range):
    """``(x_range, y_range)`` checked, each defaulting to the surface's domain."""
    xr = su.domain[0] if x_range is None else check_interval("x_range", x_range)
    yr = su.domain[1] if y_range is None else check_interval("y_range", y_range)
    return (float(xr[0]), float(xr[1])), (float(yr[0]), float(yr[1]))


def _resolution(v) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = (v, v)
    if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__") or len(v) != 2:
        raise EngineInputError("resolution", "must be [nx, ny] or one integer")
    return check_int("resolution", v[0], 2, "max_grid_axis"), check_int("resolution", v[1], 2, "max_grid_axis")


def _reduce_stats(stats: np.ndarray) -> tuple[int, float, float]:
    """Combine per-row stats: (non-finite count, finite min, finite max; ±max float if none is finite)."""
    bad = int(stats[:, 2].sum())
    lo, hi = float(stats[:, 0].min()), float(stats[:, 1].max())
    if not math.isfinite(lo):  # no finite cell
        lo, hi = -_FMAX, _FMAX
    return bad, lo, hi


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@kernel
def _row_stats(row, stats):
    """stats = [min, max] over the finite entries of ``row`` (±inf if none) and how many are not finite."""
    lo = math.inf
    hi = -math.inf
    bad = 0
    for v in row:
        if math.isfinite(v):
            lo = min(lo, v)
            hi = max(hi, v)
        else:
            bad += 1
    stats[0] = lo
    stats[1] = hi
    stats[2] = bad


@kernel
def _trig_columns(s, xs, trig):
    """cos 2πx, sin 2πx, exp(½ cos 2πx) per column, which every row of the trigonometric surfaces reuses."""
    if s.code == RASTRIGIN or s.code == ACKLEY:
        for j in range(xs.size):
            trig[0, j] = math.cos(_TWO_PI * xs[j])
            trig[1, j] = math.sin(_TWO_PI * xs[j])
            trig[2, j] = math.exp(0.5 * trig[0, j])


@kernel
def _grid_rows(s, xs, ys, trig, z, gn, zstats, gstats, want_grad, lo, hi):
    """Rows lo..hi-1 of the grid (one thread's share): z[i, j] = f(xs[j], ys[i]) and, if asked,
    gn[i, j] = ‖∇f(xs[j], ys[i])‖, then each row's statistics.

    The dispatch on ``code`` sits outside the loop over columns so each surface's small kernel is
    inlined into its own loop (and its gradient dropped as dead code when not asked for). For the
    trigonometric surfaces, ``trig[:, j]`` = cos 2πx, sin 2πx, exp(½ cos 2πx) at x = xs[j] (filled
    once per grid), and the row's own are computed once per row. The branches unroll
    ``engine.surfaces.surface_grad``'s table; any other code goes through ``surface_grad`` itself.
    One kernel, not a row kernel called per row: numba compiles a callee on its own and LLVM then
    optimizes it again inside its caller (the row kernel took 2.8 s of the empty-cache warm-up, its
    caller 2.1 s more).
    """
    code = s.code
    p = s.p
    nx = xs.size
    for i in range(lo, hi):
        grow = gn[i] if want_grad else gn[0]
        zrow = z[i]
        y = ys[i]
        if code == QUADRATIC:
            for j in range(nx):
                f, gx, gy = quadratic_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == ROSENBROCK:
            for j in range(nx):
                f, gx, gy = rosenbrock_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == BEALE:
            for j in range(nx):
                f, gx, gy = beale_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == BOOTH:
            for j in range(nx):
                f, gx, gy = booth_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == MATYAS:
            for j in range(nx):
                f, gx, gy = matyas_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == HIMMELBLAU:
            for j in range(nx):
                f, gx, gy = himmelblau_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == RASTRIGIN:
            cy = math.cos(_TWO_PI * y)
            sy = math.sin(_TWO_PI * y)
            for j in range(nx):
                f, gx, gy = rastrigin_fg_trig(p, xs[j], y, trig[0, j], trig[1, j], cy, sy)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == ACKLEY:
            cy = math.cos(_TWO_PI * y)
            sy = math.sin(_TWO_PI * y)
            ey = math.exp(0.5 * cy)
            for j in range(nx):
                f, gx, gy = ackley_fg_trig(p, xs[j], y, trig[0, j], trig[1, j], trig[2, j], cy, sy, ey)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == GOLDSTEIN_PRICE:
            for j in range(nx):
                f, gx, gy = goldstein_price_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == SIX_HUMP_CAMEL:
            for j in range(nx):
                f, gx, gy = six_hump_camel_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == SADDLE:
            for j in range(nx):
                f, gx, gy = saddle_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == MONKEY_SADDLE:
            for j in range(nx):
                f, gx, gy = monkey_saddle_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == VALLEY:
            for j in range(nx):
                f, gx, gy = valley_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == QUADRATIC_FORM:
            for j in range(nx):
                f, gx, gy = quadratic_form_fg(p, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        elif code == FORMULA:  # the stack machine over blocks of columns (value and first derivatives only)
            formula_fill_row(s.ops, s.consts, p, xs, y, zrow, grow, want_grad)
        else:
            for j in range(nx):
                f, gx, gy = surface_grad(s, xs[j], y)
                zrow[j] = f
                if want_grad:
                    grow[j] = math.sqrt(gx * gx + gy * gy)
        _row_stats(zrow, zstats[i])
        if want_grad:
            _row_stats(grow, gstats[i])


@kernel
def _slice_kernel(s, xs, ys, dx, dy, value, deriv):
    for i in range(xs.size):
        f, gx, gy = surface_grad(s, xs[i], ys[i])
        value[i] = f
        deriv[i] = gx * dx + gy * dy


# ---------------------------------------------------------------------------------------------
# Catalog and warm-up
# ---------------------------------------------------------------------------------------------


def describe() -> list[dict]:
    """The ``landscapes`` catalog entries of the grid and the slice."""
    return [
        {"name": "grid", "title": "A surface on a grid", "parameters": [],
         "layout": "z[row][col] = f(x[col], y[row])",
         "non_finite": "a cell whose value or ‖∇f‖ is not finite (overflow; outside a formula's domain, e.g. "
                       "log of a negative) is null in z / grad_norm (NaN or ±inf in numpy), counted in n_overflow "
                       "and left out of z_min / z_max",
         "limits": ["max_grid_axis", "max_formula_work"]},
        {"name": "slice", "title": "A surface along a line", "parameters": [],
         "layout": "value[i] = f(point + t[i]·direction), derivative[i] = ∇f · direction (not normalized); "
                   "non-finite entries null, counted in n_overflow",
         "limits": ["max_slice_points", "max_formula_work"]},
    ]


def _warmup() -> None:
    landscape_grid("booth", resolution=(2, 2), gradient=False)
    landscape_grid("booth", resolution=(2, 2), gradient=True)
    landscape_grid("linear_regression", resolution=(2, 2), gradient=True)
    landscape_slice("booth", (0.0, 0.0), (1.0, 0.0), points=2)
    landscape_grid("x*y", resolution=(2, 2), gradient=True)  # a formula's rows (one compiled version, both modes)
