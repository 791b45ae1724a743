"""Why saddles outnumber minima in high dimension: random matrices, and the critical points of a real network.

**GOE** (``goe_minimum_probability``). A critical point is a minimum when every Hessian eigenvalue is
positive. For a random symmetric N×N matrix of the Gaussian orthogonal ensemble (H_ij = H_ji ~ N(0, 1)
off the diagonal, H_ii ~ N(0, 2): density ∝ exp(−tr H²/4)) that probability is 1/2 for N = 1,
(2 − √2)/4 ≈ 0.146 for N = 2, and falls like exp(−(ln 3/4)·N²), far faster than the 2^(−N) of N
independent coin flips. Seeded Monte Carlo: ``samples`` matrices per N (generator
``np.random.default_rng([seed, N])``), each tested for positive definiteness by a Cholesky
factorization that stops at the first non-positive pivot (exactly "all eigenvalues > 0", and most
matrices fail in the first pivots). Reported per N: the fraction p, its standard error √(p(1 − p)/S),
the one-sided 95% Clopper–Pearson upper bound (useful when no sample was a minimum: then ≈ 3/S),
2^(−N) and the exact value where one is known.

**A real network** (``network_critical_points``). Critical points of the full-batch objective
L(θ) + (wd/2)‖θ‖² of a small MLP (engine.full_batch's problem; default 1-4-1 tanh on 20 points of
sin x + N(0, 0.3²), MSE, wd = 1e-3), found from many starts: start s is drawn from the init with seed
(seed, s), trained by plain full-batch GD for ``train_steps`` × s/(starts − 1) steps (so the starts
spread over the loss levels of a training run), then moved by Newton-MR on φ(θ) = ½‖∇L(θ)‖² (Roosta
et al.; the method Frye et al. analyse), with the exact Hessian H = Q diag(λ) Qᵀ (P HVPs per step)::

    d = −H⁺ ∇L = −Σ_{|λ_i| > 1e-10·max|λ|} q_i (q_iᵀ∇L)/λ_i,     θ ← θ + α d,

α = 1, ½, ¼, ... until φ falls by the Armijo amount (d/dα φ = −‖∇L projected on H's range‖² < 0).
Near a non-degenerate critical point of any index this is Newton's step: it converges quadratically
to saddles as readily as to minima (gradient descent would flee the saddles). It stops when
‖∇L‖ ≤ 1e-13, after ``iterations``, when the line search fails, or when ∇L has no component in H's
range. Why the weight decay: without it a tanh unit can sharpen toward a step function as its
weights grow, the loss falls forever, and the search (measured on this default: most starts) runs
off toward infinity with ‖∇L‖ stuck near 1e-3; with it every minimum is attained.

Each point is reported with its loss, ‖∇L‖, the index (fraction of Hessian eigenvalues below
−``eig_tol``·max|λ|), the counts of negative / near-zero eigenvalues, and a classification
(Frye et al. 2021: minimizing ‖∇L‖² also stops in "gradient-flat" regions that are not critical):

* ``critical``: ‖∇L‖ ≤ ``grad_tol`` (default 1e-8; converged points reach ~1e-14);
* ``gradient_flat``: not critical, but ∇L lies (almost) in H's null space — the flatness
  ‖H∇L‖/(max|λ|·‖∇L‖) ≤ ``flat_tol`` (default 1e-3) — so φ is stationary without ∇L = 0;
* ``not_converged``: neither (the search ran out of iterations).

``fit`` is the least-squares line index ≈ slope·loss + intercept over the critical points, with the
correlation r (Dauphin et al. 2014: the index falls roughly linearly as the loss approaches the minimum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike
# the beta quantile (scipy.stats.beta.ppf) without importing scipy.stats: ~0.3 s of a warm start
from scipy.special import betaincinv

from .results import resultclass
from ._jit import kernel
from .deadlines import check as check_deadline
from .errors import EngineInputError
from .full_batch import full_batch_steps, resolve_problem
from .hvp import MLPPoint, hessian_rows, hvp_workspace_size, prepare_point, single_threaded_blas
from .limits import LIMITS, check_max
from .mlp import init_params, new_running
from .optimizers import new_state, resolve_optimizer
from .threads import map_threads, thread_count
from .validate import check_array, check_int

GRAD_TOL = 1e-8
FLAT_TOL = 1e-3
EIG_TOL = 1e-9
STOP_TOL = 1e-13
RCOND = 1e-10  # eigenvalues below RCOND·max|λ| count as H's null space in the Newton-MR step
ARMIJO = 1e-4
MAX_BACKTRACKS = 40
WEIGHT_DECAY = 1e-3
EXACT = {1: 0.5, 2: (2.0 - math.sqrt(2.0)) / 4.0}
DRAW_CHUNK = 4_000_000  # normal draws held at once (32 MB)
KINDS = ("critical", "gradient_flat", "not_converged")
DEFAULT_DATASET = {"name": "sine", "n_train": 20, "noise": 0.3, "seed": 0}

__all__ = ["GOEStatistics", "NetworkCriticalPoints", "goe_minimum_probability", "network_critical_points"]


# ---------------------------------------------------------------------------------------------
# GOE
# ---------------------------------------------------------------------------------------------
@kernel
def _positive_definite(d, A):
    """Whether the symmetric matrix packed in d (row by row, upper triangle, diagonal first in each row)
    is positive definite: Cholesky, stopping at the first pivot ≤ 0. A: [N, N] scratch."""
    N = A.shape[0]
    k = 0
    for i in range(N):
        A[i, i] = math.sqrt(2.0) * d[k]  # diagonal variance 2: GOE
        k += 1
        for j in range(i + 1, N):
            A[i, j] = d[k]
            A[j, i] = d[k]
            k += 1
    for j in range(N):
        s = A[j, j]
        for q in range(j):
            s -= A[j, q] * A[j, q]
        if not s > 0.0:
            return False
        r = math.sqrt(s)
        A[j, j] = r
        for i in range(j + 1, N):
            t = A[i, j]
            for q in range(j):
                t -= A[i, q] * A[j, q]
            A[i, j] = t / r
    return True


@kernel
def _count_minima(draws, buf):
    """How many of the matrices (rows of draws) are positive definite. Serial: ``goe_minimum_probability``
    runs one call per thread on its share of the rows (the kernels release the GIL)."""
    count = 0
    for s in range(draws.shape[0]):
        if _positive_definite(draws[s], buf):
            count += 1
    return count


@resultclass
@dataclass(frozen=True, eq=False)
class GOEStatistics:
    dims: np.ndarray  # N
    p_minimum: np.ndarray  # fraction of the samples with every eigenvalue > 0
    stderr: np.ndarray  # √(p(1 − p)/samples)
    upper_95: np.ndarray  # one-sided 95% Clopper–Pearson upper bound of the probability
    two_pow_minus_n: np.ndarray
    exact: list  # the exact probability where known (N = 1, 2), else None
    counts: np.ndarray  # samples that were minima
    samples: int
    seed: int


def _dims(dims) -> list[int]:
    if isinstance(dims, (str, bytes, dict)) or not hasattr(dims, "__len__") or not 1 <= len(dims) <= 100:
        raise EngineInputError("dims", "must be a list of 1 to 100 matrix sizes")
    out = [check_int("dims", d, 1, "max_goe_dim") for d in dims]
    if len(set(out)) != len(out):
        raise EngineInputError("dims", "must not repeat a size")
    return out


def goe_minimum_probability(dims: Sequence[int] = tuple(range(1, 11)), samples: int = 100_000,
                            seed: int = 0) -> GOEStatistics:
    """Monte Carlo P(all N eigenvalues of a GOE matrix > 0) for each N in ``dims`` (limits max_goe_*).

    >>> g = engine.goe_minimum_probability([1], samples=1000)      # N = 1: a Gaussian's sign, p = 1/2
    >>> g.dims.tolist(), bool(abs(g.p_minimum[0] - 0.5) < 0.1)
    ([1], True)
    """
    dims = _dims(dims)
    samples = check_int("samples", samples, 1, "max_goe_samples")
    seed = check_int("seed", seed, 0)
    check_max("samples", samples * sum(N * (N + 1) // 2 for N in dims), "max_goe_work")
    threads = thread_count()
    counts = []
    for N in dims:
        m = N * (N + 1) // 2
        rng = np.random.default_rng([seed, N])
        bufs = np.zeros((threads, N, N))
        count = 0
        left = samples
        while left:
            take = min(left, max(1, DRAW_CHUNK // m))
            shares = np.array_split(rng.standard_normal((take, m)), threads)  # contiguous row blocks
            count += sum(map_threads(lambda c: _count_minima(shares[c], bufs[c]), range(threads)))
            left -= take
        counts.append(int(count))
    k = np.array(counts, dtype=np.int64)
    p = k / samples
    upper = np.where(k < samples, betaincinv(k + 1, np.maximum(samples - k, 1), 0.95), 1.0)
    return GOEStatistics(np.array(dims, dtype=np.int64), p, np.sqrt(p * (1.0 - p) / samples), upper,
                         2.0 ** -np.array(dims, dtype=np.float64), [EXACT.get(N) for N in dims], k, samples, seed)


# ---------------------------------------------------------------------------------------------
# Critical points of a network
# ---------------------------------------------------------------------------------------------
class _Search:
    """One network's objective L(θ) + (wd/2)‖θ‖² and its exact Hessian at a point, on reused buffers.

    The Newton-MR loop below is Python around two kernels (``prepare_point``: L, ∇L and the state the HVPs
    read; ``hessian_rows``: P HVPs) and LAPACK's eigh: a jitted loop cost ~8 s of CPU to compile (eigh's
    bindings, the line search) for no measurable gain — each iteration is dominated by P HVPs and eigh."""

    def __init__(self, problem, wd: float):
        net = problem.net
        n, P = problem.X.shape[0], net.n_params
        self.wd = wd
        self.pt = MLPPoint(net.layout, net.fparams, np.zeros(P), problem.X, problem.Y, int(problem.loss.code),
                           problem.loss.lparams, np.zeros(net.workspace_size(n)), np.zeros(net.record_size(n)),
                           np.zeros((n, problem.Y.shape[1])), np.zeros(net.record_size(n)))
        self.running = np.zeros(net.n_running)
        self.grad = np.zeros(P)
        self.H = np.zeros((P, P))
        self.v = np.zeros(P)
        self.rwork = np.zeros(int(hvp_workspace_size(net.layout, n)))

    def objective(self, theta: np.ndarray) -> tuple[float, float]:
        """(objective, ½‖∇objective‖²) at ``theta``; ∇ in ``self.grad``; the HVPs' state prepared there."""
        self.pt.params[:] = theta
        loss = float(prepare_point(self.pt, self.running, self.grad))
        self.grad += self.wd * theta
        return loss + 0.5 * self.wd * float(theta @ theta), 0.5 * float(self.grad @ self.grad)

    def hessian(self) -> np.ndarray:
        """∇²(objective) at the last point ``objective`` prepared, symmetrized."""
        H = self.H
        hessian_rows(self.pt, self.v, self.rwork, H, 0, H.shape[0])
        H += H.T
        H *= 0.5
        H[np.diag_indices_from(H)] += self.wd
        return H


def _search_one(search: _Search, theta: np.ndarray, iterations: int) -> tuple[int, float, float, np.ndarray]:
    """Newton-MR on ½‖∇L‖² from ``theta`` (moved in place): (iterations used, data loss, objective, eigenvalues
    of H ascending) at the final point; ∇ is left in ``search.grad``."""
    _, phi = search.objective(theta)
    used = 0
    for it in range(iterations):
        if math.sqrt(2.0 * phi) <= STOP_TOL or not math.isfinite(phi):
            break
        lam, Q = np.linalg.eigh(search.hessian())
        g = search.grad.copy()
        gq = Q.T @ g
        keep = np.abs(lam) > RCOND * max(abs(lam[0]), abs(lam[-1]))
        slope = -float(gq[keep] @ gq[keep])  # d/dα ½‖∇L(θ + αd)‖² at α = 0: −‖∇L projected on H's range‖²
        if not slope < 0.0:
            break  # ∇L in H's null space: gradient-flat
        d = Q[:, keep] @ (gq[keep] / lam[keep])
        alpha, accepted = 1.0, False
        for _ in range(MAX_BACKTRACKS):
            trial = theta - alpha * d
            _, phit = search.objective(trial)
            if math.isfinite(phit) and phit <= phi + ARMIJO * alpha * slope:
                theta[:] = trial
                phi, accepted = phit, True
                break
            alpha *= 0.5
        used = it + 1
        if not accepted:
            break
    objective, _ = search.objective(theta)  # the final point's state (a rejected trial overwrote it)
    eig = np.linalg.eigvalsh(search.hessian())
    return used, objective - 0.5 * search.wd * float(theta @ theta), objective, eig


@resultclass
@dataclass(frozen=True, eq=False)
class NetworkCriticalPoints:
    """One row per start (arrays of length starts), ordered by start."""

    loss: np.ndarray  # the objective L + (weight_decay/2)‖θ‖² at the point found (whose critical points these are)
    data_loss: np.ndarray  # L alone there
    index: np.ndarray  # fraction of Hessian eigenvalues < −eig_tol·max|λ|
    grad_norm: np.ndarray  # ‖∇L‖ there
    critical: np.ndarray  # bool: grad_norm <= grad_tol
    kind: list  # "critical" | "gradient_flat" | "not_converged"
    flatness: np.ndarray  # ‖H∇L‖ / (max|λ|·‖∇L‖) (0 where ∇L = 0)
    n_negative: np.ndarray
    n_zero: np.ndarray  # |λ| <= eig_tol·max|λ|
    min_eigenvalue: np.ndarray
    max_eigenvalue: np.ndarray
    iterations: np.ndarray  # Newton-MR iterations used
    start_loss: np.ndarray  # the objective where the search started
    start_steps: np.ndarray  # GD steps before the search
    eigenvalues: np.ndarray  # [starts, P], ascending
    params: np.ndarray  # [starts, P]: the points found (engine.mlp's flat layout)
    fit: dict  # index ≈ slope·loss + intercept over the critical points: {slope, intercept, r, points}
    n_params: int
    settings: dict


def _work(starts: int, train_steps: int, iterations: int, rows: int, P: int) -> int:
    """Units of work of a search, ~1 ns each on this machine (loaded): the GD steps before it (half of
    train_steps per start on average), then per Newton-MR iteration P HVPs, a dense eigh (~P³) and up to
    ~10 gradients of the line search. A step or an HVP costs 8 units per (row, parameter) and never less
    than its per-call overhead (8 µs a step, 2 µs an HVP: measured on the 1-4-1 default)."""
    step = max(8 * rows * P, 8000)
    hvp = max(8 * rows * P, 2000)
    return starts * (train_steps // 2 * step + (iterations + 1) * (P * hvp + P ** 3 + 10 * step))


def _fit(loss, index, critical) -> dict:
    x, y = loss[critical], index[critical]
    if x.size < 2 or np.ptp(x) == 0.0:
        return {"slope": 0.0, "intercept": float(y.mean()) if y.size else 0.0, "r": 0.0, "points": int(x.size)}
    slope, intercept = np.polyfit(x, y, 1)
    r = float(np.corrcoef(x, y)[0, 1]) if np.ptp(y) > 0 else 0.0
    return {"slope": float(slope), "intercept": float(intercept), "r": r, "points": int(x.size)}


def _tol(value, field: str, default: float) -> float:
    v = default if value is None else value
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 < v < 1.0:
        raise EngineInputError(field, "must be a number in (0, 1)")
    return float(v)


def _search_all(problem, thetas, steps, lr: float, wd: float, iterations: int, eigs, start_loss, out) -> None:
    """GD from each start (rows of thetas, in place), then Newton-MR, one start after the other."""
    net = problem.net
    gd = resolve_optimizer({"name": "sgd", "lr": lr, "weight_decay": wd})  # plain GD on the same objective
    pb, P = problem.kernel_args(), net.n_params
    work = np.zeros(net.workspace_size(problem.X.shape[0]))
    for s, k in enumerate(steps):
        check_deadline("saddle search")
        full_batch_steps(pb, new_running(net), gd.args(np.full(k, lr)), new_state(gd, P), thetas[s], np.zeros(P),
                         work, thetas[s].copy(), np.zeros(k), 0, k)
    search = _Search(problem, wd)
    for s in range(thetas.shape[0]):
        check_deadline("saddle search")
        if not np.isfinite(thetas[s]).all():
            return
        start_loss[s], _ = search.objective(thetas[s])
        used, data_loss, objective, eigs[s] = _search_one(search, thetas[s], iterations)
        g = search.grad  # ∇ and H at the point found (its last evaluation)
        out[s] = used, data_loss, objective, np.linalg.norm(g), np.linalg.norm(search.H @ g)


def network_critical_points(layers: Sequence[int] = (1, 4, 1), activation: str = "tanh", loss: str | None = None,
                            dataset: Mapping[str, Any] | None = None, starts: int = 24, train_steps: int = 20_000,
                            lr: float = 0.1, iterations: int = 200, weight_decay: float = WEIGHT_DECAY,
                            grad_tol: float | None = None, flat_tol: float | None = None,
                            eig_tol: float | None = None, seed: int = 0, init: Mapping[str, Any] | str | None = None,
                            output_activation: str = "identity", activation_params: Mapping[str, Any] | None = None,
                            start_params: ArrayLike | None = None) -> NetworkCriticalPoints:
    """Critical points of a small network's full-batch objective L + (weight_decay/2)‖θ‖² from ``starts``
    starts (see the module docstring). Default: 1-4-1 tanh on 20 points of sin x + N(0, 0.3²), MSE.

    ``start_params`` (Python only; float64 [starts, P], finite) replaces the drawn initial points."""
    if dataset is None:
        dataset = dict(DEFAULT_DATASET)
    problem = resolve_problem(layers, activation, loss, dataset, output_activation,
                              activation_params=activation_params)
    net = problem.net
    P, n = net.n_params, problem.X.shape[0]
    check_max("layers", P, "max_saddle_parameters")
    starts = check_int("starts", starts, 1, "max_saddle_starts")
    train_steps = check_int("train_steps", train_steps, 0, "max_steps")
    iterations = check_int("iterations", iterations, 1, "max_saddle_iterations")
    seed = check_int("seed", seed, 0)
    if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0.0 < lr <= 10.0:
        raise EngineInputError("lr", "must be a number in (0, 10]")
    if isinstance(weight_decay, bool) or not isinstance(weight_decay, (int, float)) or not 0.0 <= weight_decay <= 1.0:
        raise EngineInputError("weight_decay", "must be a number in [0, 1]")
    grad_tol, flat_tol = _tol(grad_tol, "grad_tol", GRAD_TOL), _tol(flat_tol, "flat_tol", FLAT_TOL)
    eig_tol = _tol(eig_tol, "eig_tol", EIG_TOL)
    work = _work(starts, train_steps, iterations, n, P)
    if work > LIMITS["max_saddle_work"]:
        raise EngineInputError("starts", f"the search's work {work:,} (engine.saddles._work: GD steps, then per Newton "
                                         f"step P HVPs, an eigh and the line search) exceeds limit max_saddle_work="
                                         f"{LIMITS['max_saddle_work']:,}; use fewer starts, iterations or steps")
    wd = float(weight_decay)
    steps = [int(round(train_steps * s / (starts - 1))) if starts > 1 else 0 for s in range(starts)]
    if start_params is None:
        thetas = np.stack([init_params(net, init, int(np.random.default_rng([seed, s]).integers(2**32)))
                           for s in range(starts)])
    else:
        thetas = check_array("start_params", start_params, shape=(starts, P))
    start_loss, eigs, out = np.zeros(starts), np.zeros((starts, P)), np.zeros((starts, 5))
    with single_threaded_blas():  # small products and eigh: BLAS threads only contend (see engine.hvp)
        _search_all(problem, thetas, steps, float(lr), wd, iterations, eigs, start_loss, out)
    if not (np.isfinite(out).all() and np.isfinite(eigs).all() and np.isfinite(thetas).all()):
        raise EngineInputError("lr", "gradient descent or the search overflowed; use a smaller lr")
    scale = np.abs(eigs).max(axis=1)
    tol = eig_tol * scale
    n_neg = (eigs < -tol[:, None]).sum(axis=1)
    n_zero = (np.abs(eigs) <= tol[:, None]).sum(axis=1)
    gnorm = out[:, 3]
    with np.errstate(divide="ignore", invalid="ignore"):
        flat = np.where((gnorm > 0) & (scale > 0), out[:, 4] / (scale * gnorm), 0.0)
    critical = gnorm <= grad_tol
    kind = [KINDS[0] if c else (KINDS[1] if f <= flat_tol else KINDS[2]) for c, f in zip(critical, flat)]
    objective = out[:, 2].copy()
    index = n_neg / P
    settings = {"layers": list(net.widths), "activation": net.activation, "loss": problem.loss.name,
                "dataset": problem.dataset, "starts": starts, "train_steps": train_steps, "lr": float(lr),
                "iterations": iterations, "weight_decay": wd, "grad_tol": grad_tol, "flat_tol": flat_tol,
                "eig_tol": eig_tol, "seed": seed,
                "method": "Newton-MR (pseudo-inverse step, Armijo backtracking) on ½‖∇L‖² with exact Hessians"}
    return NetworkCriticalPoints(objective, out[:, 1].copy(), index, gnorm.copy(), critical, kind, flat, n_neg,
                                 n_zero, eigs[:, 0].copy(), eigs[:, -1].copy(), out[:, 0].astype(np.int64),
                                 start_loss, np.array(steps, dtype=np.int64), eigs, thetas,
                                 _fit(objective, index, critical), P, settings)


def describe() -> list[dict]:
    """The two experiments of /landscapes/saddle-statistics (for the catalog)."""
    return [
        {"name": "goe", "title": "Random symmetric matrices: the probability that a critical point is a minimum",
         "parameters": [], "ensemble": "H_ij ~ N(0, 1), H_ii ~ N(0, 2) (GOE)", "test": "Cholesky: all eigenvalues > 0",
         "exact": {str(k): v for k, v in EXACT.items()}, "asymptotic": "exp(-(ln 3 / 4) N^2)",
         "defaults": {"dims": list(range(1, 11)), "samples": 100_000},
         "limits": {k: LIMITS[k] for k in ("max_goe_dim", "max_goe_samples", "max_goe_work")}},
        {"name": "network", "title": "A small network's critical points: index vs loss", "parameters": [],
         "method": "Newton-MR on ½‖∇L‖² with exact Hessians", "weight_decay": WEIGHT_DECAY,
         "grad_tol": GRAD_TOL, "flat_tol": FLAT_TOL, "eig_tol": EIG_TOL, "kinds": list(KINDS),
         "defaults": {"layers": [1, 4, 1], "activation": "tanh", "dataset": DEFAULT_DATASET, "starts": 24,
                      "train_steps": 20_000, "lr": 0.1, "iterations": 200},
         "limits": {k: LIMITS[k] for k in ("max_saddle_parameters", "max_saddle_starts", "max_saddle_iterations",
                                           "max_saddle_work")}},
    ]


def _warmup() -> None:
    goe_minimum_probability([1, 3], 100)
    network_critical_points([1, 2, 1], starts=2, train_steps=2, iterations=2,
                            dataset={"name": "sine", "n_train": 4, "noise": 0.0})
