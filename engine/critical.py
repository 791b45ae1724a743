"""Critical points of a surface: a Newton search from a grid of seeds, and the one Hessian classifier.

``critical_points(surface, x_range, y_range, seeds)`` finds every point with ∇f = 0 in a rectangle and
classifies each by the eigenvalues λ₁ ≤ λ₂ of its Hessian. ``classify_hessian`` is that classification,
the only one in the engine (the basin map and the optimizer race classify the stationary points their
runs discover with it too)::

    degenerate  min |λ| ≤ EIGEN_TOL·max(1, |λ|max)     (EIGEN_TOL = 1e-6)
    minimum     both > 0;   maximum  both < 0;   saddle  opposite signs

``surface`` is anything ``engine.surfaces.resolve_surface`` reads (a registry name with ``params``, a
formula with ``params`` and ``domain``, a resolved ``Surface``); ``linear_regression`` is evaluated as the
exact quadratic it is (``engine.surfaces.exact_args``). A formula's Hessian comes from the stack machine's
exact second-order jets; an infinite entry (a cone point: sqrt(x² + y²) at 0) counts as the largest float,
and a point whose value or Hessian is NaN is left out (nothing to classify). A formula's search costs at
most nodes x seeds² x MAX_NEWTON_ITER evaluations, bounded by ``max_formula_work``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Mapping, Sequence

import numpy as np

from .results import resultclass
from ._jit import kernel
from .errors import EngineInputError
from .landscape import rectangle
from .surfaces import (Surface, check_formula_work, exact_args, resolve_surface, surface_grad_call,
                       surface_hessian_call)
from .threads import block_threads
from .validate import Domain, Pair, Spec, as_array, check_int

__all__ = ["CriticalPoints", "critical_points", "classify_hessian"]

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


def _entries(field: str, v) -> np.ndarray:
    """Hessian entries: a number or an array of numbers (NaN and inf allowed: see classify_hessian)."""
    return as_array(field, v, "must be a number or an array of numbers", kinds="biuf").astype(np.float64)


def classify_hessian(hxx: float | np.ndarray, hxy: float | np.ndarray,
                     hyy: float | np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(kind codes into KINDS, eigenvalues [..., 2] ascending)`` of the Hessians [[hxx, hxy], [hxy, hyy]]
    (numbers or arrays of them), by the rule in the module docstring.

    An infinite entry counts as ±1.797e308 (the eigenvalues stay finite: a cone point of a formula is a
    minimum with huge curvature); Hessians with entries beyond 1e150 are scaled down for the eigenvalues
    and back, so nothing overflows; a NaN entry gives NaN eigenvalues and ``degenerate``."""
    a, b, c = (np.clip(_entries(name, v), -_FMAX, _FMAX) for name, v in (("hxx", hxx), ("hxy", hxy), ("hyy", hyy)))
    if not a.shape == b.shape == c.shape:
        raise EngineInputError("hxy" if b.shape != a.shape else "hyy",
                               f"shapes {list(a.shape)}, {list(b.shape)}, {list(c.shape)} of hxx, hxy, hyy differ")
    s = np.maximum(np.maximum(np.abs(a), np.abs(b)), np.abs(c))
    scale = np.where(s > 1e150, s, 1.0)  # 1.0 elsewhere: the usual path is exactly the plain formula
    a, b, c = a / scale, b / scale, c / scale
    mid = 0.5 * (a + c)
    rad = np.hypot(0.5 * (a - c), b)
    eig = np.clip(np.stack([mid - rad, mid + rad], axis=-1) * scale[..., None], -_FMAX, _FMAX)
    absmax = np.abs(eig).max(axis=-1, initial=0.0)
    tol = EIGEN_TOL * np.maximum(1.0, absmax)
    kind = np.where(np.isnan(eig).any(axis=-1) | (np.abs(eig).min(axis=-1, initial=np.inf) <= tol), DEGENERATE,
                    np.where(eig[..., 0] > 0, MINIMUM, np.where(eig[..., 1] < 0, MAXIMUM, SADDLE)))
    return kind.astype(np.int64), eig


def kind_at(surface: Surface, x: float, y: float) -> str:
    """The classification of ``surface``'s Hessian at (x, y), as a name."""
    kind, _ = classify_hessian(*surface_hessian_call(surface.args, float(x), float(y)))
    return KINDS[int(kind)]


@resultclass
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


def critical_points(
    surface: str | Spec | Surface,
    x_range: Pair | None = None,
    y_range: Pair | None = None,
    seeds: int = 41,
    params: Mapping[str, float] | None = None,
    domain: Domain | None = None,
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
    su = resolve_surface(surface, params, domain)
    (x0, x1), (y0, y1) = rectangle(su, x_range, y_range)
    n = check_int("seeds", seeds, 1, "max_critical_seeds_axis")
    check_formula_work("seeds", su, n * n * MAX_NEWTON_ITER, f"seeds² x {MAX_NEWTON_ITER} Newton iterations")
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

    s = exact_args(su)
    wx, wy = x1 - x0, y1 - y0
    out = np.empty((seed_x.size, 4))  # x, y, ‖∇f‖, converged
    box, cap = np.array([x0 - wx, x1 + wx, y0 - wy, y1 + wy]), 0.5 * max(wx, wy)
    block_threads(seed_x.size, lambda c, lo, hi: _newton_rows(s, seed_x, seed_y, is_kink, out, box, cap,
                                                              MAX_NEWTON_ITER, lo, hi))
    ok = out[:, 3] > 0.0
    pad_x, pad_y = 1e-9 * wx, 1e-9 * wy
    inside = ok & (out[:, 0] >= x0 - pad_x) & (out[:, 0] <= x1 + pad_x) & (out[:, 1] >= y0 - pad_y) & (out[:, 1] <= y1 + pad_y)
    cand = np.ascontiguousarray(out[inside, :3])
    keep = np.empty(cand.shape[0], dtype=np.int64)
    m = _dedup_kernel(cand, DEDUP_TOL * max(wx, wy), keep)
    pts = cand[keep[:m]]

    k = pts.shape[0]
    info = np.empty((k, 4))  # value, hxx, hxy, hyy
    _classify_kernel(s, pts, info)
    kind, eig = classify_hessian(info[:, 1], info[:, 2], info[:, 3])
    keep = np.isfinite(info[:, 0]) & ~np.isnan(eig).any(axis=1)  # a NaN value or Hessian: nothing to classify
    pts, info, kind, eig = pts[keep], info[keep], kind[keep], eig[keep]
    k = pts.shape[0]
    value = info[:, 0]
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


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------


@kernel
def _newton_step(hxx, hxy, hyy, gx, gy):
    """Undamped Newton step −H⁻¹∇f, or (inf, inf) if H is singular."""
    det = hxx * hyy - hxy * hxy
    if det == 0.0 or not math.isfinite(det):
        return math.inf, math.inf
    return -(hyy * gx - hxy * gy) / det, -(hxx * gy - hxy * gx) / det


@kernel
def _newton_rows(s, sx, sy, is_kink, out, box, step_cap, max_iter, lo, hi):
    """Newton from seeds (sx[k], sy[k]), k = lo..hi-1 (one thread's share); stops a run that
    leaves ``box`` [xlo, xhi, ylo, yhi]; out[k] = x, y, ‖∇f‖, converged."""
    xlo, xhi, ylo, yhi = box[0], box[1], box[2], box[3]
    for k in range(lo, hi):
        x = sx[k]
        y = sy[k]
        f, gx, gy = surface_grad_call(s, x, y)
        g2 = gx * gx + gy * gy
        converged = is_kink[k] or g2 == 0.0
        mu = 0.0
        it = 0
        while not converged and it < max_iter:
            it += 1
            hxx, hxy, hyy = surface_hessian_call(s, x, y)
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
                    f2, gx2, gy2 = surface_grad_call(s, x + dx, y + dy)
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
            hxx, hxy, hyy = surface_hessian_call(s, x, y)
            nx_, ny_ = _newton_step(hxx, hxy, hyy, gx, gy)
            converged = math.sqrt(nx_ * nx_ + ny_ * ny_) <= STALL_TOL * (1.0 + abs(x) + abs(y))
        if converged:
            f, gx, gy = surface_grad_call(s, x, y)
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
def _classify_kernel(s, pts, info):
    for i in range(pts.shape[0]):
        x = pts[i, 0]
        y = pts[i, 1]
        info[i, 0] = surface_grad_call(s, x, y)[0]
        hxx, hxy, hyy = surface_hessian_call(s, x, y)
        info[i, 1] = hxx
        info[i, 2] = hxy
        info[i, 3] = hyy


def describe() -> list[dict]:
    """The ``landscapes`` catalog entry of the critical-point finder: method and classification rule."""
    return [{
        "name": "critical_points",
        "title": "Critical points, classified by the Hessian",
        "parameters": [],
        "method": "safeguarded Newton (Levenberg–Marquardt on ∇f) from a seeds × seeds grid; de-duplicated "
                  f"within {DEDUP_TOL:g} × the rectangle's larger side; known kinks added as candidates",
        "classification": f"eigenvalues λ1 <= λ2 of the Hessian; degenerate if min|λ| <= {EIGEN_TOL:g}·max(1, "
                          "|λ|max), else minimum (both > 0), maximum (both < 0) or saddle; an infinite Hessian "
                          "entry (a formula's cone point) counts as ±1.797e308, a point with a NaN value or "
                          "Hessian is left out",
        "kinds": list(KINDS),
        "limits": ["max_critical_seeds_axis", "max_formula_work"],
        "formula_work": f"formula nodes x seeds² x {MAX_NEWTON_ITER} (the Newton iteration cap)",
    }]


def _warmup() -> None:
    critical_points("booth", seeds=2)
    critical_points("linear_regression", seeds=2)
    kind_at(resolve_surface("booth"), 0.0, 0.0)
