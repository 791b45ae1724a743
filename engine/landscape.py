"""Loss landscapes: a surface sampled on a grid, its critical points, and 1-D slices through it.

Three public functions, each returning a frozen dataclass of numpy arrays::

    import engine
    g = engine.landscape_grid("rosenbrock", (-2, 2), (-1, 3), resolution=(200, 200))
    g.z[row, col]                                  # row ↔ y[row], column ↔ x[col]
    cp = engine.critical_points("himmelblau")      # 4 minima, 1 maximum, 4 saddles
    s = engine.landscape_slice("valley", point=(-1, 0.5), direction=(1, 0), t_range=(0, 2))

``surface`` is a registry name (see ``engine.surfaces.SURFACES``) with ``params``, or an
already resolved ``engine.surfaces.Surface``.

Evaluation of ``linear_regression``: its value is a mean over n ≤ 10⁴ samples, which would
make a 1000×1000 grid cost 10¹⁰ operations. The MSE is exactly quadratic in (w, b), so
every function here evaluates it as f* + ½ dᵀ H d with d = (w − w*, b − b*), the least-
squares solution (w*, b*), its MSE f* (computed from the residuals, so no cancellation) and
the constant Hessian H = 2 [[mean x², mean x], [mean x, 1]], all computed once per call in
O(n). The two expressions agree to rounding (tested against the per-sample mean).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._jit import kernel, parallel_kernel, prange
from .errors import EngineInputError
from .limits import LIMITS, check_int
from .surfaces import (
    ACKLEY,
    BEALE,
    BOOTH,
    GOLDSTEIN_PRICE,
    HIMMELBLAU,
    LINEAR_REGRESSION,
    MATYAS,
    MONKEY_SADDLE,
    QUADRATIC,
    RASTRIGIN,
    ROSENBROCK,
    SADDLE,
    SIX_HUMP_CAMEL,
    VALLEY,
    Surface,
    describe as _describe_surfaces,
    regression_solution,
    resolve_surface,
    ackley_fg_trig,
    beale_fg,
    booth_fg,
    goldstein_price_fg,
    himmelblau_fg,
    matyas_fg,
    monkey_saddle_fg,
    quadratic_fg,
    rastrigin_fg_trig,
    rosenbrock_fg,
    saddle_fg,
    six_hump_camel_fg,
    surface_grad,
    surface_hessian,
    valley_fg,
)

# Classification of a critical point by its Hessian eigenvalues λ₁ ≤ λ₂
MINIMUM, MAXIMUM, SADDLE, DEGENERATE = 0, 1, 2, 3
KINDS = ("minimum", "maximum", "saddle", "degenerate")
# |λ| ≤ EIGEN_TOL·max(1, |λ|max) counts as zero → "degenerate"
EIGEN_TOL = 1e-6
# Newton has converged once its step is below STEP_TOL·(1 + |x| + |y|) ...
STEP_TOL = 1e-12
# ... or, if ‖∇f‖ can no longer decrease (rounding floor), below STALL_TOL·(1 + |x| + |y|).
STALL_TOL = 1e-7
MAX_NEWTON_ITER = 100
# two converged points closer than DEDUP_TOL·max(width, height) of the rectangle are one point
DEDUP_TOL = 1e-6

_FMAX = float(np.finfo(np.float64).max)
_TWO_PI = 2.0 * math.pi


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class LandscapeGrid:
    """f sampled on a rectangle: ``z[i, j] = f(x[j], y[i])`` (row = y, column = x).

    ``z_min``/``z_max`` are over finite cells only. A cell whose value overflows float64
    (only reachable with huge ranges, e.g. Goldstein–Price beyond ~1e38) is clamped to
    ±1.7976931348623157e308 (NaN to +max) and counted in ``n_overflow``, so the arrays hold
    only finite numbers; the same applies to ``grad_norm``.
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
    n_overflow: int


@dataclass(frozen=True, eq=False)
class CriticalPoints:
    """All critical points Newton's method found in a rectangle, classified by Hessian eigenvalues.

    Sorted: minima (global first), then saddles, maxima and degenerate points, each by value.
    """

    surface: str
    params: dict
    x: np.ndarray  # (k,)
    y: np.ndarray  # (k,)
    value: np.ndarray  # (k,)
    kind: np.ndarray  # (k,) int codes into KINDS
    eigenvalues: np.ndarray  # (k, 2) ascending
    is_global: np.ndarray  # (k,) bool: a minimum with the lowest value found
    grad_norm: np.ndarray  # (k,) ‖∇f‖ at the point (0 at a kink, by convention)
    x_range: tuple[float, float]
    y_range: tuple[float, float]
    seeds: int  # seeds per axis
    n_converged: int  # seeds whose Newton run converged (before de-duplication)
    eigen_tol: float

    @property
    def points(self) -> list[dict]:
        """One dict per point: x, y, value, kind, eigenvalues, global, grad_norm."""
        return self.records()

    def records(self) -> list[dict]:
        return [
            {
                "x": float(self.x[i]), "y": float(self.y[i]), "value": float(self.value[i]),
                "kind": KINDS[int(self.kind[i])], "eigenvalues": [float(v) for v in self.eigenvalues[i]],
                "global": bool(self.is_global[i]), "grad_norm": float(self.grad_norm[i]),
            }
            for i in range(self.x.size)
        ]

    def count(self, kind: str) -> int:
        return int(np.count_nonzero(self.kind == KINDS.index(kind)))


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
    n_overflow: int


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def landscape_grid(
    surface: str | Surface,
    x_range=None,
    y_range=None,
    resolution=(200, 200),
    params: dict | None = None,
    gradient: bool = False,
) -> LandscapeGrid:
    """Sample ``surface`` on an ``nx × ny`` grid over ``x_range × y_range`` (default: its domain).

    ``resolution`` is ``(nx, ny)`` or one int for both; each axis 2..max_grid_axis.
    With ``gradient=True`` also returns ‖∇f‖ per cell.
    """
    su = _surface(surface, params)
    (x0, x1), (y0, y1) = _rectangle(su, x_range, y_range)
    nx, ny = _resolution(resolution)
    if not isinstance(gradient, bool):
        raise EngineInputError("gradient", "must be true or false")
    xs = np.linspace(x0, x1, nx)
    ys = np.linspace(y0, y1, ny)
    z = np.empty((ny, nx))
    gn = np.empty((ny, nx) if gradient else (1, 1))
    zstats = np.empty((ny, 3))  # per row: finite min, finite max, non-finite count
    gstats = np.empty((ny if gradient else 1, 3))
    trig = np.empty((3, nx))  # cos 2πx, sin 2πx, exp(½ cos 2πx) per column (trigonometric surfaces)
    _grid_kernel(su.code, su.p, _shortcut(su), xs, ys, trig, z, gn, zstats, gstats, gradient)
    n_over, z_min, z_max = _reduce_stats(z, zstats)
    gmax = None
    if gradient:
        g_over, _, gmax = _reduce_stats(gn, gstats)
        n_over += g_over
    return LandscapeGrid(su.name, su.params, xs, ys, z, z_min, z_max, gn if gradient else None, gmax, n_over)


def critical_points(
    surface: str | Surface,
    x_range=None,
    y_range=None,
    seeds: int = 41,
    params: dict | None = None,
) -> CriticalPoints:
    """Every critical point (∇f = 0) found in the rectangle, classified by Hessian eigenvalues.

    Method: from a ``seeds × seeds`` grid of starts over the rectangle (in parallel), a
    safeguarded Newton iteration on ∇f = 0 with the analytic Hessian: each step solves
    (H² + μI) d = −H ∇f (Levenberg–Marquardt on the residual ∇f; μ = 0 is the plain Newton
    step) and is accepted only if it lowers ‖∇f‖, μ growing ×10 on rejection and shrinking
    ×0.3 on acceptance; steps are capped at half the rectangle's larger side. A run has
    converged when the undamped Newton step is below 1e-12·(1 + |x| + |y|) (or below 1e-7·(…)
    once ‖∇f‖ stops decreasing at the rounding floor). Converged points are de-duplicated
    (within 1e-6 × the rectangle's larger side, keeping the smaller ‖∇f‖) and kept if they
    lie in the rectangle. The surface's known kinks (Ackley's origin, where the kernels
    return the subgradient 0) are added as candidates, since Newton cannot converge onto a
    cone point.

    Classification with λ₁ ≤ λ₂ and tol = 1e-6·max(1, |λ|max): degenerate if min |λ| ≤ tol,
    else minimum (both > 0), maximum (both < 0) or saddle. Minima within 1e-9·max(1, |f|)
    of the lowest minimum found are flagged global.
    """
    su = _surface(surface, params)
    (x0, x1), (y0, y1) = _rectangle(su, x_range, y_range)
    n = check_int("seeds", seeds, 1, "max_critical_seeds_axis")
    sx = np.linspace(x0, x1, n) if n > 1 else np.array([0.5 * (x0 + x1)])
    sy = np.linspace(y0, y1, n) if n > 1 else np.array([0.5 * (y0 + y1)])
    seed_x = np.tile(sx, n)  # row-major seed grid: seed (i, j) = (sx[j], sy[i])
    seed_y = np.repeat(sy, n)
    kinks = [(kx, ky) for kx, ky in su.spec.kinks if x0 <= kx <= x1 and y0 <= ky <= y1]
    if kinks:
        seed_x = np.concatenate([seed_x, [k[0] for k in kinks]])
        seed_y = np.concatenate([seed_y, [k[1] for k in kinks]])
    is_kink = np.zeros(seed_x.size, dtype=np.bool_)
    is_kink[seed_x.size - len(kinks):] = True

    q = _shortcut(su)
    wx, wy = x1 - x0, y1 - y0
    out = np.empty((seed_x.size, 4))  # x, y, ‖∇f‖, converged
    _newton_kernel(su.code, su.p, q, seed_x, seed_y, is_kink, out,
                   x0 - wx, x1 + wx, y0 - wy, y1 + wy, 0.5 * max(wx, wy), MAX_NEWTON_ITER)
    ok = out[:, 3] > 0.0
    pad_x, pad_y = 1e-9 * wx, 1e-9 * wy
    inside = ok & (out[:, 0] >= x0 - pad_x) & (out[:, 0] <= x1 + pad_x) & (out[:, 1] >= y0 - pad_y) & (out[:, 1] <= y1 + pad_y)
    cand = np.ascontiguousarray(out[inside, :3])
    keep = np.empty(cand.shape[0], dtype=np.int64)
    m = _dedup_kernel(cand, DEDUP_TOL * max(wx, wy), keep)
    pts = cand[keep[:m]]

    k = pts.shape[0]
    info = np.empty((k, 4))  # value, hxx, hxy, hyy
    _classify_kernel(su.code, su.p, q, pts, info)
    value = info[:, 0]
    a, b, c = info[:, 1], info[:, 2], info[:, 3]
    mid = 0.5 * (a + c)
    rad = np.hypot(0.5 * (a - c), b)
    eig = np.stack([mid - rad, mid + rad], axis=1)
    tol = EIGEN_TOL * np.maximum(1.0, np.abs(eig).max(axis=1) if k else np.ones(0))
    kind = np.where(
        np.abs(eig).min(axis=1, initial=np.inf) <= tol, DEGENERATE,
        np.where(eig[:, 0] > 0, MINIMUM, np.where(eig[:, 1] < 0, MAXIMUM, SADDLE)),
    ).astype(np.int64)
    is_global = np.zeros(k, dtype=bool)
    mins = kind == MINIMUM
    if mins.any():
        best = value[mins].min()
        is_global = mins & (value <= best + 1e-9 * max(1.0, abs(best)))
    order = np.lexsort((value, kind, ~is_global))
    return CriticalPoints(
        su.name, su.params, pts[order, 0].copy(), pts[order, 1].copy(), value[order].copy(), kind[order],
        eig[order], is_global[order], pts[order, 2].copy(), (x0, x1), (y0, y1), n, int(ok.sum()), EIGEN_TOL,
    )


def landscape_slice(
    surface: str | Surface,
    point,
    direction,
    t_range=(-1.0, 1.0),
    points: int = 201,
    params: dict | None = None,
) -> LandscapeSlice:
    """f and d f/d t along (x, y) = point + t·direction for ``points`` values of t spanning ``t_range``."""
    su = _surface(surface, params)
    px, py = _pair("point", point)
    dx, dy = _pair("direction", direction)
    if dx == 0.0 and dy == 0.0:
        raise EngineInputError("direction", "must not be the zero vector")
    t0, t1 = _interval("t_range", t_range)
    n = check_int("points", points, 2, "max_slice_points")
    t = np.linspace(t0, t1, n)
    xs = px + t * dx
    ys = py + t * dy
    value = np.empty(n)
    deriv = np.empty(n)
    _slice_kernel(su.code, su.p, _shortcut(su), xs, ys, dx, dy, value, deriv)
    n_over = _clamp(value) + _clamp(deriv)
    return LandscapeSlice(su.name, su.params, (px, py), (dx, dy), t, xs, ys, value, deriv, n_over)


# ---------------------------------------------------------------------------------------------
# Validation helpers
# ---------------------------------------------------------------------------------------------


def _surface(surface, params) -> Surface:
    if isinstance(surface, Surface):
        if params:
            raise EngineInputError("params", "pass parameters to resolve_surface, not with a resolved Surface")
        return surface
    return resolve_surface(surface, params)


def _number(field: str, v) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        raise EngineInputError(field, "must be a number")
    v = float(v)
    if not math.isfinite(v):
        raise EngineInputError(field, "must be finite")
    return v


def _pair(field: str, v) -> tuple[float, float]:
    if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__") or len(v) != 2:
        raise EngineInputError(field, "must be a pair of numbers [a, b]")
    return _number(field, v[0]), _number(field, v[1])


def _interval(field: str, v) -> tuple[float, float]:
    lo, hi = _pair(field, v)
    if not lo < hi:
        raise EngineInputError(field, "must be [low, high] with low < high")
    if not math.isfinite(hi - lo):
        raise EngineInputError(field, "width must be finite")
    return lo, hi


def _rectangle(su: Surface, x_range, y_range):
    xr = su.domain[0] if x_range is None else _interval("x_range", x_range)
    yr = su.domain[1] if y_range is None else _interval("y_range", y_range)
    return (float(xr[0]), float(xr[1])), (float(yr[0]), float(yr[1]))


def _resolution(v) -> tuple[int, int]:
    if isinstance(v, (int, np.integer)) and not isinstance(v, bool):
        v = (v, v)
    if isinstance(v, (str, bytes, dict)) or not hasattr(v, "__len__") or len(v) != 2:
        raise EngineInputError("resolution", "must be [nx, ny] or one integer")
    return check_int("resolution", v[0], 2, "max_grid_axis"), check_int("resolution", v[1], 2, "max_grid_axis")


def _shortcut(su: Surface) -> np.ndarray:
    """[hxx, hxy, hyy, w*, b*, f*]: linear_regression as the exact quadratic it is (module docstring)."""
    q = np.zeros(6)
    if su.code == LINEAR_REGRESSION:
        n = su.p.size // 2
        w, b, f = regression_solution(su.p[:n], su.p[n:])
        q[:3] = surface_hessian(su.code, su.p, 0.0, 0.0)
        q[3:] = w, b, f
    return q


def _clamp(a: np.ndarray) -> int:
    """Replace non-finite entries in place (±inf → ±max float, NaN → +max float); return how many."""
    if np.isfinite(a).all():
        return 0
    bad = int(np.count_nonzero(~np.isfinite(a)))
    np.nan_to_num(a, copy=False, nan=_FMAX, posinf=_FMAX, neginf=-_FMAX)
    return bad


def _reduce_stats(a: np.ndarray, stats: np.ndarray) -> tuple[int, float, float]:
    """Combine per-row stats; clamp non-finite cells in place. Returns (non-finite count, min, max)."""
    bad = int(stats[:, 2].sum())
    if bad:
        _clamp(a)
    lo, hi = float(stats[:, 0].min()), float(stats[:, 1].max())
    if not math.isfinite(lo):  # every cell overflowed
        lo, hi = -_FMAX, _FMAX
    return bad, lo, hi


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@kernel
def _regression_fg(q, x, y):
    """linear_regression's MSE as the exact quadratic f* + ½ dᵀHd, d = (w − w*, b − b*) (module docstring)."""
    dx = x - q[3]
    dy = y - q[4]
    gx = q[0] * dx + q[1] * dy
    gy = q[1] * dx + q[2] * dy
    return q[5] + 0.5 * (gx * dx + gy * dy), gx, gy


@kernel
def _grad_at(code, p, q, x, y):
    if code == LINEAR_REGRESSION:
        return _regression_fg(q, x, y)
    return surface_grad(code, p, x, y)


@kernel
def _hessian_at(code, p, q, x, y):
    if code == LINEAR_REGRESSION:
        return q[0], q[1], q[2]
    return surface_hessian(code, p, x, y)


@kernel
def _fill_row(code, p, q, xs, trig, y, zrow, grow, want_grad):
    """One grid row: zrow[j] = f(xs[j], y) and, if asked, grow[j] = ‖∇f(xs[j], y)‖.

    The dispatch on ``code`` sits outside the loop so each surface's small kernel is inlined
    into its own loop (and its gradient dropped as dead code when not asked for). For the
    trigonometric surfaces, ``trig[:, j]`` = cos 2πx, sin 2πx, exp(½ cos 2πx) at x = xs[j] (filled
    once per grid), and the row's own are computed once per row.
    """
    nx = xs.size
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
    elif code == LINEAR_REGRESSION:
        for j in range(nx):
            f, gx, gy = _regression_fg(q, xs[j], y)
            zrow[j] = f
            if want_grad:
                grow[j] = math.sqrt(gx * gx + gy * gy)
    else:
        for j in range(nx):
            f, gx, gy = surface_grad(code, p, xs[j], y)
            zrow[j] = f
            if want_grad:
                grow[j] = math.sqrt(gx * gx + gy * gy)


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


@parallel_kernel
def _grid_kernel(code, p, q, xs, ys, trig, z, gn, zstats, gstats, want_grad):
    if code == RASTRIGIN or code == ACKLEY:
        for j in range(xs.size):
            trig[0, j] = math.cos(_TWO_PI * xs[j])
            trig[1, j] = math.sin(_TWO_PI * xs[j])
            trig[2, j] = math.exp(0.5 * trig[0, j])
    for i in prange(ys.size):
        grow = gn[i] if want_grad else gn[0]
        _fill_row(code, p, q, xs, trig, ys[i], z[i], grow, want_grad)
        _row_stats(z[i], zstats[i])
        if want_grad:
            _row_stats(grow, gstats[i])


@kernel
def _slice_kernel(code, p, q, xs, ys, dx, dy, value, deriv):
    for i in range(xs.size):
        f, gx, gy = _grad_at(code, p, q, xs[i], ys[i])
        value[i] = f
        deriv[i] = gx * dx + gy * dy


@kernel
def _newton_step(hxx, hxy, hyy, gx, gy):
    """Undamped Newton step −H⁻¹∇f, or (inf, inf) if H is singular."""
    det = hxx * hyy - hxy * hxy
    if det == 0.0 or not math.isfinite(det):
        return math.inf, math.inf
    return -(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det


@parallel_kernel
def _newton_kernel(code, p, q, sx, sy, is_kink, out, xlo, xhi, ylo, yhi, step_cap, max_iter):
    for k in prange(sx.size):
        x = sx[k]
        y = sy[k]
        f, gx, gy = _grad_at(code, p, q, x, y)
        g2 = gx * gx + gy * gy
        converged = is_kink[k] or g2 == 0.0
        mu = 0.0
        it = 0
        while not converged and it < max_iter:
            it += 1
            hxx, hxy, hyy = _hessian_at(code, p, q, x, y)
            scale = 1.0 + abs(x) + abs(y)
            nx_, ny_ = _newton_step(hxx, hxy, hyy, gx, gy)
            nstep = math.sqrt(nx_ * nx_ + ny_ * ny_)
            if nstep <= STEP_TOL * scale:
                x += nx_
                y += ny_
                converged = True
                break
            # Levenberg–Marquardt on the residual ∇f: (H² + μI) d = −H ∇f
            a11 = hxx * hxx + hxy * hxy
            a12 = hxy * (hxx + hyy)
            a22 = hxy * hxy + hyy * hyy
            b1 = -(hxx * gx + hxy * gy)
            b2 = -(hxy * gx + hyy * gy)
            floor = 1e-14 * (a11 + a22) + 1e-300
            accepted = False
            for _ in range(40):
                m11 = a11 + mu
                m22 = a22 + mu
                det = m11 * m22 - a12 * a12
                if det > 0.0 and math.isfinite(det):
                    dx = (m22 * b1 - a12 * b2) / det
                    dy = (m11 * b2 - a12 * b1) / det
                    dl = math.sqrt(dx * dx + dy * dy)
                    if dl > step_cap:
                        dx *= step_cap / dl
                        dy *= step_cap / dl
                    f2, gx2, gy2 = _grad_at(code, p, q, x + dx, y + dy)
                    g2n = gx2 * gx2 + gy2 * gy2
                    if g2n < g2:
                        x += dx
                        y += dy
                        gx = gx2
                        gy = gy2
                        g2 = g2n
                        mu = 0.3 * mu if mu > floor else 0.0
                        accepted = True
                        break
                mu = max(10.0 * mu, floor)
            if g2 == 0.0:
                converged = True
            elif not accepted:
                converged = nstep <= STALL_TOL * scale
                break
            if not (xlo <= x <= xhi and ylo <= y <= yhi):
                break
        if not converged and it >= max_iter:
            hxx, hxy, hyy = _hessian_at(code, p, q, x, y)
            nx_, ny_ = _newton_step(hxx, hxy, hyy, gx, gy)
            converged = math.sqrt(nx_ * nx_ + ny_ * ny_) <= STALL_TOL * (1.0 + abs(x) + abs(y))
        if converged:
            f, gx, gy = _grad_at(code, p, q, x, y)
            g2 = 0.0 if is_kink[k] else gx * gx + gy * gy
        out[k, 0] = x
        out[k, 1] = y
        out[k, 2] = math.sqrt(g2)
        out[k, 3] = 1.0 if converged else 0.0


@kernel
def _dedup_kernel(cand, tol, keep):
    """Indices of distinct points (closer than ``tol`` = same; keep the smaller ‖∇f‖); returns how many."""
    m = 0
    for i in range(cand.shape[0]):
        dup = -1
        for j in range(m):
            k = keep[j]
            if abs(cand[i, 0] - cand[k, 0]) <= tol and abs(cand[i, 1] - cand[k, 1]) <= tol:
                dup = j
                break
        if dup < 0:
            keep[m] = i
            m += 1
        elif cand[i, 2] < cand[keep[dup], 2]:
            keep[dup] = i
    return m


@kernel
def _classify_kernel(code, p, q, pts, info):
    for i in range(pts.shape[0]):
        x = pts[i, 0]
        y = pts[i, 1]
        info[i, 0] = _grad_at(code, p, q, x, y)[0]
        hxx, hxy, hyy = _hessian_at(code, p, q, x, y)
        info[i, 1] = hxx
        info[i, 2] = hxy
        info[i, 3] = hyy


# ---------------------------------------------------------------------------------------------
# Catalog and warm-up
# ---------------------------------------------------------------------------------------------


def describe() -> list[dict]:
    """The ``surfaces`` catalog section (one entry per registered surface)."""
    return _describe_surfaces()


def _warmup() -> None:
    from . import surfaces

    surfaces._warmup()  # the three dispatchers, as the descent kernels call them
    landscape_grid("booth", resolution=(2, 2), gradient=False)
    landscape_grid("booth", resolution=(2, 2), gradient=True)
    critical_points("booth", seeds=2)
    landscape_slice("booth", (0.0, 0.0), (1.0, 0.0), points=2)
