"""Scaling-law fits: ``L(N, D) = E + A / N^α + B / D^β`` and its one-variable form ``y = E + B / x^β``.

The method of Hoffmann et al. (2022) and of the Besiroglu et al. (2024) refit, which the reference
(``shared/reference/curvature-and-scaling.md``) describes:

1. For fixed exponents the model is **linear** in its coefficients (E, A, B), so a grid over the
   exponents solves one non-negative linear least-squares problem per grid point (``scipy.optimize.nnls``:
   E, A, B ≥ 0, a loss does not fall below its floor) and keeps the best;
2. the best grid point is polished: ``loss="l2"`` (least squares on L) minimises the same profiled
   residual over the exponents with Nelder–Mead; ``loss="huber"`` minimises the Huber loss (δ = 1e-3)
   of ``log L̂ − log L`` over all parameters with L-BFGS-B, coefficients as logs (``L̂ = exp(e) +
   exp(a − α log N) + exp(b − β log D)``), started from the best few grid points, as the refit did;
3. **intervals**: bootstrap, ``bootstrap`` refits on resamples of the points, each polished from the
   full-data optimum; the interval is the 2.5th–97.5th percentile. When every design point (x, or
   (N, D)) has at least two observations (a sweep's seeds), points are resampled within their design
   point, so every refit sees the same design and only the run-to-run noise varies; otherwise whole
   points are resampled.

Fits are deterministic: the bootstrap draws from ``np.random.default_rng(seed)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from .errors import EngineInputError
from .validate import check_array, check_bool, check_float, check_int, check_name, check_seed

__all__ = ["PowerLawFit", "ScalingLawFit", "fit_power_law", "fit_scaling_law"]

HUBER_DELTA = 1e-3  # Hoffmann et al.'s δ for the Huber loss on log L
EXPONENT_RANGE = (1e-3, 4.0)  # exponents searched (and polished) within this range
GRID_1D = 200  # exponent grid points for one variable
GRID_2D = 40  # per exponent for two variables (1,600 NNLS solves)
MAX_POINTS = 100_000
MAX_BOOTSTRAP = 2_000
LOSSES = ("l2", "huber")


@resultclass
@dataclass(frozen=True)
class PowerLawFit:
    """``y = E + B / x^β`` (E = 0 when fitted without an offset)."""

    E: float
    B: float
    beta: float
    intervals: dict = field(default_factory=dict)  # name -> (lo, hi), bootstrap 95% percentile interval
    loss: str = "l2"
    offset: bool = True
    n: int = 0  # points fitted
    rmse: float = 0.0  # root mean square residual on y
    bootstrap: int = 0  # refits behind the intervals

    def predict(self, x) -> np.ndarray:
        return self.E + self.B * np.asarray(x, dtype=np.float64) ** -self.beta


@resultclass
@dataclass(frozen=True)
class ScalingLawFit:
    """``L(N, D) = E + A / N^α + B / D^β``."""

    E: float
    A: float
    B: float
    alpha: float
    beta: float
    intervals: dict = field(default_factory=dict)
    loss: str = "l2"
    n: int = 0
    rmse: float = 0.0
    bootstrap: int = 0

    def predict(self, N, D) -> np.ndarray:
        N = np.asarray(N, dtype=np.float64)
        D = np.asarray(D, dtype=np.float64)
        return self.E + self.A * N ** -self.alpha + self.B * D ** -self.beta


# -- the profiled problem ---------------------------------------------------------------------------------
def _design(logx: np.ndarray, exps, offset: bool) -> np.ndarray:
    """Columns [1?, x_1^-p_1, x_2^-p_2, ...] for ``logx`` of shape (n, k)."""
    cols = [np.exp(-p * logx[:, j]) for j, p in enumerate(exps)]
    if offset:
        cols.insert(0, np.ones(logx.shape[0]))
    return np.stack(cols, axis=1)


def _solve(logx, y, exps, offset):
    """Non-negative coefficients for fixed exponents, and the residual sum of squares."""
    from scipy.optimize import nnls  # at the first fit, not at import: _warmup says why

    coef, rnorm = nnls(_design(logx, exps, offset), y)
    return coef, rnorm * rnorm


def _grid(logx, y, offset, points) -> list[tuple[float, tuple]]:
    """(SSE, exponents) at every grid point, best first."""
    lo, hi = EXPONENT_RANGE
    axis = np.linspace(lo, hi, points)
    grids = np.meshgrid(*([axis] * logx.shape[1]), indexing="ij")
    out = []
    for exps in zip(*(g.ravel() for g in grids)):
        out.append((_solve(logx, y, exps, offset)[1], tuple(float(e) for e in exps)))
    out.sort(key=lambda t: t[0])
    return out


def _polish_l2(logx, y, offset, start) -> tuple[np.ndarray, tuple]:
    from scipy.optimize import minimize

    lo, hi = EXPONENT_RANGE
    res = minimize(lambda p: _solve(logx, y, p, offset)[1], np.asarray(start, dtype=np.float64),
                   method="Nelder-Mead", bounds=[(lo, hi)] * len(start),
                   options={"xatol": 1e-10, "fatol": 1e-14 * max(1.0, float(y @ y)), "maxiter": 4000})
    exps = tuple(float(e) for e in res.x)
    if _solve(logx, y, exps, offset)[1] > _solve(logx, y, start, offset)[1]:
        exps = tuple(start)
    return _solve(logx, y, exps, offset)[0], exps


def _huber(r: np.ndarray, delta: float) -> np.ndarray:
    a = np.abs(r)
    return np.where(a <= delta, 0.5 * r * r, delta * (a - 0.5 * delta))


def _huber_objective(theta, logx, logy, offset, delta):
    """Σ Huber(log L̂ − log L) and its gradient; theta = [log coefficients..., exponents...]."""
    k = logx.shape[1]
    c = theta[: k + offset]
    p = theta[k + offset:]
    terms = [c[offset + j] - p[j] * logx[:, j] for j in range(k)]
    if offset:
        terms.insert(0, np.full(logx.shape[0], c[0]))
    T = np.stack(terms, axis=1)
    m = T.max(axis=1, keepdims=True)
    w = np.exp(T - m)
    s = w.sum(axis=1)
    r = (m[:, 0] + np.log(s)) - logy
    dr = np.clip(r, -delta, delta)  # Huber's derivative
    soft = w / s[:, None]  # d log L̂ / d term
    g_c = soft.T @ dr
    g_p = np.array([-(soft[:, offset + j] * logx[:, j]) @ dr for j in range(k)])
    return float(_huber(r, delta).sum()), np.concatenate([g_c, g_p])


def _polish_huber(logx, y, offset, starts, delta) -> tuple[np.ndarray, tuple]:
    from scipy.optimize import minimize

    logy = np.log(y)
    k = logx.shape[1]
    lo, hi = EXPONENT_RANGE
    best = None
    for coef, exps in starts:
        scale = max(float(np.max(coef)), 1e-12)
        theta0 = np.concatenate([np.log(np.maximum(coef, 1e-9 * scale)), exps])
        bounds = [(None, None)] * (k + offset) + [(lo, hi)] * k
        res = minimize(_huber_objective, theta0, args=(logx, logy, offset, delta), jac=True, method="L-BFGS-B",
                       bounds=bounds, options={"maxiter": 500, "ftol": 1e-13, "gtol": 1e-10})
        if best is None or res.fun < best.fun:
            best = res
    return np.exp(best.x[: k + offset]), tuple(float(e) for e in best.x[k + offset:])


def _fit(logx, y, offset, loss, delta, starts=None):
    """Coefficients and exponents; ``starts`` (bootstrap) skips the grid."""
    if starts is None:
        points = GRID_1D if logx.shape[1] == 1 else GRID_2D
        ranked = _grid(logx, y, offset, points)[:5]
        starts = [(_solve(logx, y, e, offset)[0], e) for _, e in ranked]
    if loss == "huber":
        return _polish_huber(logx, y, offset, starts, delta)
    return _polish_l2(logx, y, offset, starts[0][1])


# -- validation and the bootstrap -------------------------------------------------------------------------
def _array(name: str, v, positive: bool) -> np.ndarray:
    a = check_array(name, v, ndim=(1,))
    if a.size > MAX_POINTS:
        raise EngineInputError(name, f"{a.size} points exceed {MAX_POINTS}")
    if positive and np.any(a <= 0):
        raise EngineInputError(name, "must be > 0")
    return a


def _checks(xs: dict, y, loss: str, bootstrap: int, min_points: int, seed, delta,
            y_name: str = "y") -> tuple[np.ndarray, np.ndarray]:
    check_name("loss", loss, LOSSES)
    if check_int("bootstrap", bootstrap, 0, integral_floats=False) > MAX_BOOTSTRAP:
        raise EngineInputError("bootstrap", f"must be <= {MAX_BOOTSTRAP}")
    check_seed("seed", seed)
    check_float("delta", delta, 0.0, strict=True)
    cols = [_array(k, v, True) for k, v in xs.items()]
    yv = _array(y_name, y, loss == "huber")
    for k, c in zip(xs, cols):
        if c.size != yv.size:
            raise EngineInputError(k, f"has {c.size} values, {y_name} has {yv.size}")
    design = {tuple(r) for r in np.stack(cols, axis=1)}
    if len(design) < min_points:
        raise EngineInputError(next(iter(xs)), f"needs at least {min_points} distinct design points, got {len(design)}")
    return np.log(np.stack(cols, axis=1)), yv


def _resamples(logx: np.ndarray, count: int, seed: int):
    rng = np.random.default_rng(seed)
    _, group = np.unique(logx, axis=0, return_inverse=True)
    group = group.ravel()
    members = [np.flatnonzero(group == g) for g in range(group.max() + 1)]
    within = all(m.size >= 2 for m in members)
    for _ in range(count):
        if within:
            yield np.concatenate([rng.choice(m, m.size) for m in members])
        else:
            yield rng.integers(0, logx.shape[0], logx.shape[0])


def _intervals(samples: dict[str, list[float]]) -> dict:
    return {k: (float(np.percentile(v, 2.5)), float(np.percentile(v, 97.5))) for k, v in samples.items() if v}


def _rmse(pred, y) -> float:
    return float(np.sqrt(np.mean((pred - y) ** 2)))


def fit_power_law(x: ArrayLike, y: ArrayLike, offset: bool = True, loss: str = "l2", bootstrap: int = 200,
                  seed: int = 0, delta: float = HUBER_DELTA) -> PowerLawFit:
    """Fit ``y = E + B / x^β`` (``offset=False``: ``E = 0``) to points ``(x, y)``, x > 0.

    E, B ≥ 0 and β in ``EXPONENT_RANGE``; ``loss`` "l2" on y, or "huber" on log y (y > 0).

    >>> x = np.array([1.0, 2.0, 4.0, 8.0, 16.0])
    >>> f = engine.fit_power_law(x, 0.5 + 2.0 / x**0.7, bootstrap=0)
    >>> round(f.E, 6), round(f.B, 6), round(f.beta, 6)
    (0.5, 2.0, 0.7)
    """
    offset = check_bool("offset", offset)
    logx, yv = _checks({"x": x}, y, loss, bootstrap, 3 if offset else 2, seed, delta)
    off = int(bool(offset))
    coef, (beta,) = _fit(logx, yv, off, loss, delta)
    E, B = (coef[0], coef[1]) if off else (0.0, coef[0])
    samples: dict[str, list[float]] = {"E": [], "B": [], "beta": []} if off else {"B": [], "beta": []}
    for idx in _resamples(logx, bootstrap, seed):
        if np.unique(logx[idx]).size < (3 if off else 2):
            continue
        c, (b,) = _fit(logx[idx], yv[idx], off, loss, delta, starts=[(coef, (beta,))])
        if off:
            samples["E"].append(float(c[0]))
        samples["B"].append(float(c[off]))
        samples["beta"].append(b)
    fit = PowerLawFit(float(E), float(B), float(beta), _intervals(samples), loss, bool(offset), int(yv.size), 0.0,
                      bootstrap)
    return PowerLawFit(**{**fit.__dict__, "rmse": _rmse(fit.predict(np.exp(logx[:, 0])), yv)})


def fit_scaling_law(N: ArrayLike, D: ArrayLike, L: ArrayLike, loss: str = "l2", bootstrap: int = 200, seed: int = 0,
                    delta: float = HUBER_DELTA) -> ScalingLawFit:
    """Fit ``L(N, D) = E + A / N^α + B / D^β`` to runs of ``N`` parameters on ``D`` samples (both > 0).

    >>> N, D = np.meshgrid([1e3, 1e4, 1e5], [1e4, 1e5, 1e6])
    >>> f = engine.fit_scaling_law(N.ravel(), D.ravel(), 1.7 + 400 / N.ravel()**0.34 + 410 / D.ravel()**0.28,
    ...                            bootstrap=0)
    >>> round(f.alpha, 3), round(f.beta, 3)
    (0.34, 0.28)
    """
    logx, yv = _checks({"N": N, "D": D}, L, loss, bootstrap, 5, seed, delta, y_name="L")
    coef, (alpha, beta) = _fit(logx, yv, 1, loss, delta)
    samples: dict[str, list[float]] = {"E": [], "A": [], "B": [], "alpha": [], "beta": []}
    for idx in _resamples(logx, bootstrap, seed):
        if np.unique(logx[idx], axis=0).shape[0] < 5:
            continue
        c, (a, b) = _fit(logx[idx], yv[idx], 1, loss, delta, starts=[(coef, (alpha, beta))])
        for k, v in zip(("E", "A", "B", "alpha", "beta"), (*c, a, b)):
            samples[k].append(float(v))
    fit = ScalingLawFit(float(coef[0]), float(coef[1]), float(coef[2]), float(alpha), float(beta),
                        _intervals(samples), loss, int(yv.size), 0.0, bootstrap)
    pred = fit.predict(np.exp(logx[:, 0]), np.exp(logx[:, 1]))
    return ScalingLawFit(**{**fit.__dict__, "rmse": _rmse(pred, yv)})


def to_dict(fit) -> dict:
    """A fit as plain JSON-safe numbers (intervals as [lo, hi]; non-finite values as None)."""
    def num(v):
        return float(v) if math.isfinite(v) else None

    out = {k: (num(v) if isinstance(v, float) else v) for k, v in fit.__dict__.items() if k != "intervals"}
    out["intervals"] = {k: [num(lo), num(hi)] for k, (lo, hi) in fit.intervals.items()}
    return out


def _warmup() -> None:
    """Nothing: no kernels here. scipy.optimize (and the scipy.spatial it pulls in) is imported by the
    first fit, ~0.12 s once per process, instead of at every start of the service, where it was the
    largest import left before traffic (python -X importtime)."""
