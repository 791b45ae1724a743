"""Spectra of a Hessian known only through Hessian-vector products: extreme eigenpairs, trace, density.

Everything here takes an **operator**: any object with ``n`` (the dimension) and ``hvp(v, out=None)``
(returns H v for a float64 vector of length n). ``engine.hvp.MLPHessian`` is one; ``hessian_operator(n,
fn)`` wraps any function (a language model's loss later); ``scaled_operator(op, d)`` is D H D for a
diagonal D (Adam's preconditioned sharpness λ_max(P⁻¹H) = λ_max(P^(-1/2) H P^(-1/2))).

* ``eigenpairs(op, k, which)``: the k largest ('LA') or smallest ('SA') eigenpairs by Lanczos. Seeded
  start vector; the result says the tolerance (the relative accuracy of each eigenvalue), the Lanczos
  basis size, and how many operator applications it took.
  - k ≥ 2: implicitly restarted Lanczos, ``scipy.sparse.linalg.eigsh`` on a ``LinearOperator`` (the
    edge-of-stability authors' choice).
  - k = 1 (sharpness, λ_max): our own Lanczos with full reorthogonalization that tests convergence
    after every product, with eigsh's test (‖r‖ = |β_j s_j| ≤ tol · max(ε^(2/3), |θ|)), and a thick
    restart (the ncv/2 best Ritz vectors kept) after ``ncv`` steps. eigsh only tests after filling
    all ``ncv`` vectors: on the 10k-parameter MLPs of ``bench curvature`` it took 21 products where 9
    already meet tol = 1e-6 (the eigenvalue is then right to ~1e-13, the error being ~‖r‖²/gap). It is
    also bit-reproducible (ARPACK is not: engine.sweeps' tests).
  - k ≥ n − 1, where eigsh cannot run: the full matrix (n HVPs) goes to LAPACK's eigh instead, and
    says so.
* ``hutchinson_trace(op, samples)``: tr H ≈ mean of zᵀHz over Rademacher z (seeded), with the standard
  error of that mean (sample standard deviation / √samples).
* ``spectral_density(op, steps, probes)``: stochastic Lanczos quadrature. Per probe, ``steps`` of
  Lanczos (our own, the same steps as k = 1's, because eigsh does not expose its tridiagonal
  matrix T) from a normalized Rademacher vector; the quadrature's nodes are T's eigenvalues, its
  weights the squared first components of T's eigenvectors (they sum to 1). The density averages the
  probes' nodes smoothed by a Gaussian of width σ: φ(t) = (1/probes) Σ_p Σ_j w_pj N(t; θ_pj, σ²). It
  integrates to 1 and its mean Σ w θ = mean over probes of zᵀHz/n, an unbiased estimate of tr H / n.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable

from numpy.typing import ArrayLike

import numpy as np
import scipy.linalg
from scipy.linalg.lapack import dsyev as _dsyev
from scipy.sparse.linalg import ArpackNoConvergence, LinearOperator, eigsh

from .results import resultclass
from .errors import EngineInputError
from .limits import check_max
from .validate import check_array, check_int, check_name, check_seed

Operator = Any  # anything with an integer ``n`` and ``hvp(v, out=None)`` (MLPHessian, hessian_operator(...))

WHICH = {"LA": "largest (algebraic)", "SA": "smallest (algebraic)"}
DEFAULT_TOL = 1e-6
DEFAULT_SIGMA = 0.01  # density smoothing: σ = sigma × (largest node − smallest node)
# how eigenpairs(op, 1, ...) works, as the catalog and the responses that report it say
SINGLE_PAIR_METHOD = ("engine.spectrum's Lanczos (full reorthogonalization, eigsh's convergence test after every "
                      "product, thick restarts)")

__all__ = ["Eigenpairs", "SpectralDensity", "TraceEstimate", "eigenpairs", "hessian_operator", "hutchinson_trace",
           "lanczos", "scaled_operator", "spectral_density"]


# ---------------------------------------------------------------------------------------------
# Operators
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class FunctionOperator:
    """An operator from any ``fn(v, out)`` that writes H v into ``out`` (float64 vectors of length n)."""

    n: int
    fn: Callable[[np.ndarray, np.ndarray], object]

    def hvp(self, v, out: np.ndarray | None = None) -> np.ndarray:
        out = np.empty(self.n) if out is None else out
        self.fn(np.ascontiguousarray(v, dtype=np.float64), out)
        return out


def hessian_operator(n: int, fn: Callable[[np.ndarray, np.ndarray], object]) -> FunctionOperator:
    """Wrap ``fn(v, out)`` (out = H v) as an operator of dimension ``n`` (at most ``max_network_parameters``:
    the functions below keep several vectors of length n) for the functions below.

    >>> op = engine.hessian_operator(3, lambda v, out: np.multiply([1.0, 2.0, 3.0], v, out=out))
    >>> engine.eigenpairs(op, 1).values.tolist()
    [3.0]
    """
    n = check_int("n", n, 1, "max_network_parameters", integral_floats=False)
    if not callable(fn):
        raise EngineInputError("fn", "must be a function fn(v, out) writing H v into out")
    return FunctionOperator(n, fn)


@dataclass(frozen=True, eq=False)
class ScaledOperator:
    """D H D with D = diag(d): a symmetric operator with the eigenvalues of D² H."""

    op: object
    d: np.ndarray

    @property
    def n(self) -> int:
        return self.op.n

    def hvp(self, v, out: np.ndarray | None = None) -> np.ndarray:
        out = self.op.hvp(self.d * np.asarray(v, dtype=np.float64), out)
        out *= self.d
        return out


def scaled_operator(op: Operator, d: ArrayLike) -> ScaledOperator:
    """D H D (D = diag(d), d finite, length n): e.g. d = 1/√(√v̂ + ε) for Adam's P⁻¹H spectrum.

    >>> op = engine.hessian_operator(2, lambda v, out: np.multiply([1.0, 4.0], v, out=out))
    >>> engine.scaled_operator(op, [2.0, 0.5]).hvp(np.ones(2)).tolist()
    [4.0, 1.0]
    """
    _check_op(op)
    d = check_array("d", d, shape=(op.n,), ndim=(1,))
    return ScaledOperator(op, d)


def _check_op(op) -> None:
    n = getattr(op, "n", None)
    if (isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1
            or not callable(getattr(op, "hvp", None))):
        raise EngineInputError("op", "must have an integer n >= 1 and a method hvp(v, out=None)")


class _Counted(LinearOperator):
    """scipy's view of an operator, counting the products eigsh asks for."""

    def __init__(self, op):
        super().__init__(np.float64, (op.n, op.n))
        self.op = op
        self.calls = 0

    def _matvec(self, x):
        self.calls += 1
        return self.op.hvp(np.ascontiguousarray(x, dtype=np.float64).reshape(-1)).copy()

    def _rmatvec(self, x):  # symmetric
        return self._matvec(x)


def dense_matrix(op) -> np.ndarray:
    """The n×n matrix of ``op`` (n HVPs, symmetrized): the operator's own ``matrix()`` when it has one."""
    _check_op(op)
    check_max("op.n", op.n, "max_dense_hessian_parameters")
    if callable(getattr(op, "matrix", None)):
        return op.matrix().matrix
    H = np.empty((op.n, op.n))
    e = np.zeros(op.n)
    for j in range(op.n):
        e[j] = 1.0
        op.hvp(e, H[j])
        e[j] = 0.0
    return 0.5 * (H + H.T)


# ---------------------------------------------------------------------------------------------
# Extreme eigenpairs
# ---------------------------------------------------------------------------------------------
@resultclass
@dataclass(frozen=True, eq=False)
class Eigenpairs:
    """k eigenpairs from one end of the spectrum (largest first for 'LA', smallest first for 'SA')."""

    values: np.ndarray  # [k]
    vectors: np.ndarray  # [n, k], unit columns
    which: str  # "LA" | "SA"
    method: str  # "lanczos" (k = 1: engine's; k ≥ 2: scipy eigsh) | "dense" (eigh of the full matrix)
    tolerance: float  # relative accuracy per eigenvalue, eigsh's test (0 = machine precision); dense: 0
    ncv: int  # Lanczos vectors kept (the restart length; dense: n)
    matvecs: int  # operator applications
    converged: int  # eigenpairs that met the tolerance (k when all did)


def _eig_args(op, k, which, tol, maxiter):
    _check_op(op)
    check_name("which", which, WHICH)
    k = check_int("k", k, 1, "max_hessian_top_k")
    if k > op.n:
        raise EngineInputError("k", f"must be <= n = {op.n}")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not (0.0 <= tol < 1.0):
        raise EngineInputError("tol", "must be a number in [0, 1)")
    maxiter = None if maxiter is None else check_int("maxiter", maxiter, 1)
    return k, float(tol), maxiter


def eigenpairs(op: Operator, k: int = 5, which: str = "LA", tol: float = DEFAULT_TOL, maxiter: int | None = None,
               seed: int = 0, ncv: int | None = None, v0: ArrayLike | None = None) -> Eigenpairs:
    """The ``k`` largest ('LA') or smallest ('SA') eigenpairs of the symmetric operator ``op``.

    ``v0`` (length n, not all zero) starts Lanczos there instead of at a seeded Gaussian vector: a
    previous eigenvector makes tracking a slowly moving λ_max cheap.

    >>> op = engine.hessian_operator(40, lambda v, out: np.multiply(np.arange(1.0, 41.0), v, out=out))
    >>> np.round(engine.eigenpairs(op, 2, "SA", tol=0).values, 8).tolist()
    [1.0, 2.0]
    """
    k, tol, maxiter = _eig_args(op, k, which, tol, maxiter)
    seed = check_seed("seed", seed)
    if ncv is not None:
        check_int("ncv", ncv, k + 1, integral_floats=False)
    if v0 is not None:
        v0 = check_array("v0", v0, shape=(op.n,), ndim=(1,))
        if not v0.any():
            raise EngineInputError("v0", "must not be all zero")
    n = op.n
    if k >= n - 1:  # eigsh needs k < n; the matrix is small then
        w, V = np.linalg.eigh(dense_matrix(op))
        idx = np.argsort(-w)[:k] if which == "LA" else np.argsort(w)[:k]
        return Eigenpairs(w[idx], V[:, idx], which, "dense", 0.0, n, n, k)
    if v0 is None:
        v0 = np.random.default_rng(seed).standard_normal(n)
    ncv = min(n, max(2 * k + 1, 20)) if ncv is None else check_int("ncv", ncv, k + 1)
    if k == 1:
        return _extreme_pair(op, which, tol, 10 * n if maxiter is None else maxiter, v0, min(ncv, n))
    A = _Counted(op)
    try:
        w, V = eigsh(A, k=k, which=which, tol=tol, maxiter=maxiter, v0=v0, ncv=min(ncv, n))
        converged = k
    except ArpackNoConvergence as err:  # report what did converge, and say how many
        w, V = err.eigenvalues, err.eigenvectors
        converged = int(w.shape[0])
    order = np.argsort(-w) if which == "LA" else np.argsort(w)
    return Eigenpairs(w[order], V[:, order], which, "lanczos", tol, min(ncv, n), A.calls, converged)


# Full reorthogonalization's second pass (DGKS, ARPACK's threshold): when even the projection on the whole
# basis cancels more than 1 − 1/√2 of w. Re-projecting only below 1e-1 compounded the orthogonality error
# (×3 a step) into a wrong eigenvalue after 60 restarts (tests/test_spectrum.py).
_REPROJECT = 0.717


def _extend(op, Q: np.ndarray, T: np.ndarray, j: int, lo: int, w: np.ndarray) -> float:
    """One Lanczos step on the orthonormal basis Q[:j+1]: w ← H q_j less its components along the basis,
    T[j, j] ← α_j = q_j·H q_j; returns ‖w‖ (β_j). ``T[lo:j, j]`` holds q_j's known couplings (β_{j-1}; after
    a thick restart, the arrow's).

    The recurrence's own terms come off first, so the projection on the whole basis only removes what
    rounding left (full reorthogonalization) and rarely needs its second pass. Projecting H q_j on the
    whole basis at once (α and β included) cancelled most of w at almost every step and needed the
    second pass 6 steps in 9 (bench curvature's MLP)."""
    op.hvp(Q[j], w)
    T[j, j] = Q[j] @ w
    w -= T[lo:j + 1, j] @ Q[lo:j + 1]
    Qj = Q[:j + 1]
    before = math.sqrt(w @ w)
    w -= (Qj @ w) @ Qj
    b = math.sqrt(w @ w)
    if b < _REPROJECT * before:
        w -= (Qj @ w) @ Qj
        b = math.sqrt(w @ w)
    return b


def _extreme_pair(op, which: str, tol: float, restarts: int, v0: np.ndarray, m: int) -> Eigenpairs:
    """The largest ('LA') or smallest ('SA') eigenpair: Lanczos steps (``_extend``), eigsh's convergence
    test after every product, a thick restart (Wu & Simon) every ``m`` steps.

    With full reorthogonalization H Q_j = Q_j T_j + r e_jᵀ holds for the basis Q_j kept so far, so a Ritz
    pair (θ, Q_jᵀ s) of T_j has residual norm ‖r‖·|s_j|: the test costs an eigh of T_j (j ≤ m), no product.
    A restart keeps the m/2 Ritz vectors nearest the wanted end and r: T becomes their Ritz values
    bordered by ‖r‖·s_j (an arrow), and Lanczos goes on from r. Keeping one Ritz vector only took 292
    products where eigsh took 51 (the bottom of a 65-parameter Hessian: tests/test_spectrum.py)."""
    n = op.n
    eps = np.finfo(np.float64).eps
    tol_eff = tol if tol > 0.0 else eps  # ARPACK's meaning of tol = 0
    Q = np.empty((m, n))
    T = np.zeros((m, m))
    w = np.empty(n)
    keep = max(1, m // 2)
    np.multiply(v0, 1.0 / np.linalg.norm(v0), out=Q[0])
    j0, calls = 0, 0
    for _ in range(restarts):
        for j in range(j0, m):
            b = _extend(op, Q, T, j, j - 1 if j > j0 else 0, w)
            calls += 1
            theta, S, info = _dsyev(T[:j + 1, :j + 1])
            if info != 0:  # LAPACK's QL did not converge: no pair to report
                return Eigenpairs(np.zeros(0), np.zeros((n, 0)), which, "lanczos", tol, m, calls, 0)
            pick = j if which == "LA" else 0
            th = float(theta[pick])
            if (b * abs(S[j, pick]) <= tol_eff * max(eps ** (2.0 / 3.0), abs(th))
                    or b <= eps * max(float(np.abs(theta).max()), 1.0)):  # or an invariant subspace: exact
                y = S[:, pick] @ Q[:j + 1]
                return Eigenpairs(np.array([th]), (y / np.linalg.norm(y))[:, None], which, "lanczos", tol, m, calls, 1)
            if j + 1 < m:
                T[j + 1, j] = T[j, j + 1] = b
                np.multiply(w, 1.0 / b, out=Q[j + 1])
        idx = np.arange(m - keep, m) if which == "LA" else np.arange(keep)
        Q[:keep] = S[:, idx].T @ Q
        T[:] = 0.0
        T[np.arange(keep), np.arange(keep)] = theta[idx]
        T[keep, :keep] = T[:keep, keep] = b * S[m - 1, idx]
        np.multiply(w, 1.0 / b, out=Q[keep])
        j0 = keep
    return Eigenpairs(np.zeros(0), np.zeros((n, 0)), which, "lanczos", tol, m, calls, 0)


# ---------------------------------------------------------------------------------------------
# Trace
# ---------------------------------------------------------------------------------------------
@resultclass
@dataclass(frozen=True, eq=False)
class TraceEstimate:
    trace: float  # mean of zᵀHz
    stderr: float  # its standard error: std(zᵀHz, ddof=1)/√samples (0 for one sample)
    samples: int  # Rademacher probes = operator applications
    seed: int
    values: np.ndarray  # zᵀHz per probe


def hutchinson_trace(op: Operator, samples: int = 100, seed: int = 0) -> TraceEstimate:
    """Hutchinson's estimate of tr H with Rademacher probes z ∈ {−1, +1}ⁿ drawn from ``seed``.

    >>> op = engine.hessian_operator(3, lambda v, out: np.multiply([1.0, 2.0, 3.0], v, out=out))
    >>> engine.hutchinson_trace(op, 5).trace      # exact for a diagonal H: zᵢ² = 1
    6.0
    """
    _check_op(op)
    samples = check_int("samples", samples, 1, "max_hutchinson_samples")
    seed = check_seed("seed", seed)
    rng = np.random.default_rng(seed)
    out = np.empty(op.n)
    vals = np.empty(samples)
    for s in range(samples):
        z = rng.integers(0, 2, op.n).astype(np.float64) * 2.0 - 1.0
        vals[s] = z @ op.hvp(z, out)
    se = float(vals.std(ddof=1) / math.sqrt(samples)) if samples > 1 else 0.0
    return TraceEstimate(float(vals.mean()), se, samples, seed, vals)


# ---------------------------------------------------------------------------------------------
# Spectral density (stochastic Lanczos quadrature)
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class LanczosResult:
    alpha: np.ndarray  # diagonal of T [m]
    beta: np.ndarray  # off-diagonal of T [m − 1]
    steps: int  # m: steps taken (fewer than asked when an invariant subspace was found)


def lanczos(op: Operator, v0: ArrayLike, steps: int) -> LanczosResult:
    """``steps`` Lanczos steps from v0 with full reorthogonalization (``_extend``, as ``eigenpairs`` with
    k = 1): T = QᵀHQ.

    >>> op = engine.hessian_operator(3, lambda v, out: np.multiply([1.0, 2.0, 3.0], v, out=out))
    >>> engine.lanczos(op, np.ones(3), 5).steps          # an invariant subspace after n steps
    3
    """
    _check_op(op)
    n = op.n
    q = check_array("v0", v0, shape=(n,), ndim=(1,))
    if not q.any():
        raise EngineInputError("v0", "must not be all zero")
    m = min(check_int("steps", steps, 1, "max_lanczos_steps"), n)
    check_max("steps", m * n, "max_lanczos_memory")
    Q = np.zeros((m, n))
    T = np.zeros((m, m))
    w = np.empty(n)
    Q[0] = q / np.linalg.norm(q)
    for j in range(m):
        b = _extend(op, Q, T, j, max(j - 1, 0), w)
        alpha = np.diag(T)[:j + 1]
        if j == m - 1 or b <= 1e-12 * max(1.0, abs(alpha).max()):
            return LanczosResult(alpha.copy(), np.diag(T, 1)[:j].copy(), j + 1)
        T[j + 1, j] = T[j, j + 1] = b
        np.multiply(w, 1.0 / b, out=Q[j + 1])
    raise AssertionError("unreachable")


@resultclass
@dataclass(frozen=True, eq=False)
class SpectralDensity:
    x: np.ndarray  # grid of eigenvalues
    y: np.ndarray  # smoothed density on x (integrates to 1)
    nodes: np.ndarray  # [probes, steps] quadrature nodes (Ritz values), NaN-free: padded with the last node
    weights: np.ndarray  # [probes, steps] their weights (a row sums to 1; padding weights are 0)
    sigma: float  # the Gaussian's standard deviation
    steps: int  # Lanczos steps asked per probe
    steps_taken: np.ndarray  # [probes] steps each probe took
    probes: int
    matvecs: int
    seed: int
    mean: float  # Σ w θ averaged over probes: the estimate of tr H / n
    mean_stderr: float  # its standard error over the probes


def spectral_density(op: Operator, steps: int = 64, probes: int = 4, sigma: float = DEFAULT_SIGMA, points: int = 256,
                     seed: int = 0) -> SpectralDensity:
    """Stochastic Lanczos quadrature: the eigenvalue density of H, smoothed with a Gaussian of width
    σ = ``sigma`` × (spread of the nodes); ``points`` grid points cover the nodes ± 5σ.

    >>> op = engine.hessian_operator(4, lambda v, out: np.multiply([1.0, 2.0, 3.0, 4.0], v, out=out))
    >>> round(engine.spectral_density(op, 4, 2).mean, 12)      # tr H / n
    2.5
    """
    _check_op(op)
    probes = check_int("probes", probes, 1, "max_slq_probes")
    points = check_int("points", points, 16, "max_density_points")
    seed = check_seed("seed", seed)
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0.0 < sigma <= 1.0:
        raise EngineInputError("sigma", "must be a number in (0, 1]: the smoothing width relative to the spread")
    m = min(check_int("steps", steps, 1, "max_lanczos_steps"), op.n)
    rng = np.random.default_rng(seed)
    nodes = np.zeros((probes, m))
    weights = np.zeros((probes, m))
    taken = np.zeros(probes, dtype=np.int64)
    for p in range(probes):
        z = rng.integers(0, 2, op.n).astype(np.float64) * 2.0 - 1.0
        t = lanczos(op, z, m)
        theta, S = scipy.linalg.eigh_tridiagonal(t.alpha, t.beta)
        k = t.steps
        nodes[p, :k], weights[p, :k] = theta, S[0] ** 2
        nodes[p, k:] = theta[-1]
        taken[p] = k
    lo, hi = float(nodes.min()), float(nodes.max())
    width = hi - lo if hi > lo else max(abs(hi), 1.0)
    s = float(sigma) * width
    x = np.linspace(lo - 5.0 * s, hi + 5.0 * s, points)
    y = np.zeros(points)
    for p in range(probes):
        y += (weights[p][None, :] * np.exp(-0.5 * ((x[:, None] - nodes[p][None, :]) / s) ** 2)).sum(axis=1)
    y /= probes * s * math.sqrt(2.0 * math.pi)
    per_probe = (weights * nodes).sum(axis=1)
    se = float(per_probe.std(ddof=1) / math.sqrt(probes)) if probes > 1 else 0.0
    return SpectralDensity(x, y, nodes, weights, s, m, taken, probes, int(taken.sum()), seed,
                           float(per_probe.mean()), se)


def _warmup() -> None:
    """No kernels of its own: eigsh, the trace and SLQ on a small diagonal operator (imports scipy's ARPACK)."""
    op = hessian_operator(30, lambda v, out: np.multiply(np.arange(1.0, 31.0), v, out=out))
    eigenpairs(op, 1)
    hutchinson_trace(op, 2)
    spectral_density(op, 4, 1)
