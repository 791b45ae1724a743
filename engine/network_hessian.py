"""The Hessian spectrum of a network's loss, at initialization or after full-batch training steps.

``run_network_hessian`` builds the problem (engine.full_batch: an MLP, a dataset's training split as
one batch, a loss that fits), draws the weights (``init``, seed ``seed``), optionally takes
``train_steps`` full-batch optimizer steps, and then reports, for H = ∇²L of the full-batch loss
(engine.hvp: exact HVPs; no dropout, batch-norm batch statistics):

* ``top`` / ``bottom``: the ``top_k`` largest and ``bottom_k`` smallest eigenvalues (eigsh, 'LA' and
  'SA', tolerance ``tol``, at most ``MAXITER`` restarts each, fewer when the work budget leaves less:
  ``method.maxiter`` says how many); ``method`` counts the HVPs each took (``iterations``: both together)
  and how many eigenvalues converged (the converged ones are returned);
* ``trace``: Hutchinson with ``trace_samples`` Rademacher probes, and its standard error;
* ``density`` (when asked): SLQ with ``density_steps`` Lanczos steps × ``density_probes`` probes,
  Gaussian smoothing σ = ``sigma`` × the nodes' spread;
* ``exact``: for at most ``EXACT_MAX`` parameters, the full matrix's eigenvalues and trace (P more
  HVPs and LAPACK's eigh), so a page can set the estimates beside the truth.

Work (``_work``, in estimated multiply-adds, within ``max_hessian_work``): every HVP costs ~8 per
(row, parameter) — one Lanczos pass (ncv HVPs) per end of the spectrum, the trace probes, the SLQ
steps, the exact spectrum's P columns; a training step ~4; the SLQ reorthogonalization 4·steps²·P per
probe. Calibrated at the slowest rate measured here with one BLAS thread (0.3 ns a multiply-add; the
computation runs under ``engine.hvp.single_threaded_blas``: with BLAS threads contending under load the
same requests ran up to 65× slower).
"""

from __future__ import annotations

import inspect
from typing import Any, Mapping, Sequence

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from .results import resultclass
from .errors import EngineInputError
from .full_batch import resolve_problem, train_full_batch
from .hvp import hvp_work, mlp_hessian, single_threaded_blas
from .limits import LIMITS, check_max
from .validate import check_int
from .init import resolve_init
from .mlp import init_params
from .optimizers import resolve_optimizer
from .spectrum import (
    DEFAULT_SIGMA, DEFAULT_TOL, SINGLE_PAIR_METHOD, eigenpairs, hutchinson_trace, spectral_density,
)

EXACT_MAX = 500  # parameters up to which the exact spectrum comes along
MAXITER = 20  # eigsh restarts per end at most (each ≤ ncv HVPs); tol 1e-6 takes 3 or 4 on the defaults
NCV = 20
EIGSH_METHOD = "scipy.sparse.linalg.eigsh (implicitly restarted Lanczos)"

__all__ = ["HessianPlan", "NetworkHessian", "plan_network_hessian", "run_network_hessian"]


@resultclass
@dataclass(frozen=True, eq=False)
class NetworkHessian:
    n_params: int
    top: np.ndarray  # largest eigenvalues, largest first (fewer if eigsh did not converge on all)
    bottom: np.ndarray  # smallest eigenvalues, smallest first
    trace: float  # Hutchinson estimate
    trace_stderr: float
    trace_samples: int
    density: dict | None  # {"x", "y", "sigma", "steps", "probes", "mean", "mean_stderr", "matvecs"}
    method: dict  # {"name": "lanczos", "iterations", "tolerance", ...}
    exact: dict | None  # {"eigenvalues", "trace", "asymmetry"} for n_params <= EXACT_MAX
    loss: float  # full-batch loss at the parameters analysed
    grad_norm: float
    training: dict  # {"steps", "status", "loss", "optimizer"}
    settings: dict
    top_vectors: np.ndarray  # [n_params, len(top)] (Python only: not sent over HTTP)
    params: np.ndarray  # the parameters analysed (Python only)


def _work(rows: int, P: int, hvps: int, train_steps: int, lanczos_steps2: int) -> int:
    """Estimated multiply-adds of a request (see the module docstring)."""
    return hvps * hvp_work(rows, P) + 4 * train_steps * rows * P + 4 * lanczos_steps2 * P


def _k(value, field: str, n: int) -> int:
    k = check_int(field, value, 0, "max_hessian_top_k")
    if k > n:
        raise EngineInputError(field, f"must be <= the number of parameters ({n})")
    return k


def _density_args(steps, probes, sigma, points):
    steps = check_int("density_steps", steps, 1, "max_lanczos_steps")
    probes = check_int("density_probes", probes, 1, "max_slq_probes")
    points = check_int("density_points", points, 16, "max_density_points")
    if isinstance(sigma, bool) or not isinstance(sigma, (int, float)) or not 0.0 < sigma <= 1.0:
        raise EngineInputError("sigma", "must be a number in (0, 1]")
    return steps, probes, float(sigma), points


def _compute(problem, init, seed, train_steps, optimizer, top_k, bottom_k, tol, maxiter, ncvs, trace_samples,
             density, slq):
    """Everything after validation: train, prepare the HVPs, then the estimators (see the module docstring)."""
    d_steps, d_probes, sigma, d_points = slq
    net, P = problem.net, problem.net.n_params
    try:
        params = init_params(net, init, seed)
    except EngineInputError as err:
        raise EngineInputError(err.field if err.field.startswith("init") else f"init.{err.field}", err.message) from None
    run = train_full_batch(problem, params, train_steps, optimizer)
    h = mlp_hessian(net, run.params, problem.X, problem.Y, problem.loss.name, problem.loss.params)
    method = {"name": "lanczos", "library": f"{EIGSH_METHOD}; k = 1: {SINGLE_PAIR_METHOD}",
              "tolerance": float(tol), "ncv": ncvs[top_k], "maxiter": maxiter, "iterations": 0}
    top = bottom = np.zeros(0)
    top_vectors = np.zeros((P, 0))
    for key, k, which in (("top", top_k, "LA"), ("bottom", bottom_k, "SA")):
        if k == 0:
            method[f"{key}_matvecs"], method[f"{key}_converged"] = 0, 0
            continue
        e = eigenpairs(h, k, which, tol=float(tol), maxiter=maxiter, seed=seed, ncv=ncvs[k])
        method[f"{key}_matvecs"], method[f"{key}_converged"] = e.matvecs, e.converged
        method["iterations"] += e.matvecs
        method[f"{key}_method"] = e.method
        if key == "top":
            top, top_vectors = e.values, e.vectors
        else:
            bottom = e.values
    tr = hutchinson_trace(h, trace_samples, seed)
    dens = None
    if density:
        sd = spectral_density(h, d_steps, d_probes, sigma, d_points, seed)
        dens = {"x": sd.x, "y": sd.y, "sigma": sd.sigma, "steps": sd.steps, "probes": sd.probes,
                "steps_taken": sd.steps_taken, "matvecs": sd.matvecs, "mean": sd.mean, "mean_stderr": sd.mean_stderr,
                "method": "stochastic Lanczos quadrature, full reorthogonalization, Rademacher probes"}
    exact = None
    if P <= EXACT_MAX:
        hm = h.matrix()
        w = scipy.linalg.eigvalsh(hm.matrix)
        exact = {"eigenvalues": w, "trace": float(np.trace(hm.matrix)), "asymmetry": hm.asymmetry,
                 "negative_fraction": float((w < -1e-9 * np.abs(w).max()).mean()) if w.size else 0.0}
    return params, run, h, top, bottom, top_vectors, tr, dens, exact, method


@dataclass(frozen=True, eq=False)
class HessianPlan:
    """A checked request: what ``run_network_hessian`` computes, and its work (``max_hessian_work``)."""

    problem: object  # engine.full_batch.Problem
    init: object
    seed: int
    train_steps: int
    optimizer: object
    top_k: int
    bottom_k: int
    tol: float
    maxiter: int
    ncvs: dict
    trace_samples: int
    density: bool
    slq: tuple  # (steps, probes, sigma, points)
    work: int


def plan_network_hessian(layers: Sequence[int] = (2, 16, 1), activation: str = "tanh", loss: str | None = None,
                         dataset: Mapping[str, Any] | None = None, train_steps: int = 0,
                         optimizer: Mapping[str, Any] | None = None, top_k: int = 5, bottom_k: int | None = None,
                         density: bool = True, seed: int = 0, tol: float = DEFAULT_TOL, trace_samples: int = 100,
                         density_steps: int = 64, density_probes: int = 4, sigma: float = DEFAULT_SIGMA,
                         density_points: int = 256, init: Mapping[str, Any] | str | None = None,
                         output_activation: str = "identity", residual: bool = False, batch_norm: bool = False,
                         dropout: float = 0.0, activation_params: Mapping[str, Any] | None = None,
                         loss_params: Mapping[str, Any] | None = None) -> HessianPlan:
    """Every check of ``run_network_hessian`` (its arguments), no computation: what a sweep runs before
    submitting anything (``engine.sweep_kinds``)."""
    seed = check_int("seed", seed, 0)
    if seed > 2**32 - 1:
        raise EngineInputError("seed", "must be < 2**32")
    if not isinstance(density, bool):
        raise EngineInputError("density", "must be true or false")
    if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0.0 <= tol <= 0.1:
        raise EngineInputError("tol", "must be a number in [0, 0.1]")
    train_steps = check_int("train_steps", train_steps, 0, "max_steps")
    trace_samples = check_int("trace_samples", trace_samples, 1, "max_hutchinson_samples")
    d_steps, d_probes, sigma, d_points = _density_args(density_steps, density_probes, sigma, density_points)
    problem = resolve_problem(layers, activation, loss, dataset, output_activation, residual, batch_norm, dropout,
                              activation_params, loss_params)
    net = problem.net
    P, n = net.n_params, problem.X.shape[0]
    check_max("layers", n * P, "max_network_work")  # rows x parameters of one pass, before any training
    top_k = _k(top_k, "top_k", P)
    bottom_k = top_k if bottom_k is None else _k(bottom_k, "bottom_k", P)
    ncvs = {k: min(P, max(NCV, 2 * k + 1)) for k in (top_k, bottom_k)}  # eigsh's default rule
    steps = min(d_steps, P) if density else 0
    check_max("layers", P * steps, "max_lanczos_memory")
    # one Lanczos pass per end is the least eigsh does; the restarts beyond it get what the budget leaves
    per_pass = sum(ncvs[k] for k in (top_k, bottom_k) if k > 0)
    hvps = per_pass + trace_samples + d_probes * steps + (P if P <= EXACT_MAX else 0)
    work = _work(n, P, hvps, train_steps, d_probes * steps * steps)
    maxiter = MAXITER
    if per_pass:
        spare = (LIMITS["max_hessian_work"] - work) // (hvp_work(n, P) * per_pass)
        maxiter = int(max(1, min(MAXITER, 1 + spare)))
    if work > LIMITS["max_hessian_work"]:
        raise EngineInputError("layers", f"the request's work {work:,} (estimated multiply-adds: {hvps} HVPs of "
                                         f"8 x {n} rows x {P} parameters, {train_steps} training steps, the Lanczos "
                                         f"reorthogonalization) exceeds limit max_hessian_work="
                                         f"{LIMITS['max_hessian_work']:,}; use fewer rows, parameters, probes or "
                                         "eigenvalues")
    if init is not None:  # what init_params checks, without drawing the weights
        resolve_init(init, "init")
    if train_steps > 0 and optimizer is not None:  # what train_full_batch checks before its steps
        resolve_optimizer(optimizer)
    return HessianPlan(problem, init, seed, train_steps, optimizer, top_k, bottom_k, tol, maxiter, ncvs,
                       trace_samples, density, (d_steps, d_probes, sigma, d_points), work)


def run_network_hessian(*args, **kwargs) -> NetworkHessian:
    """Spectrum, trace and density of the full-batch loss Hessian of a (trained) MLP; see the module docstring.

    ``layers``/``activation``/``loss``/``dataset`` (default moons) give the problem, ``train_steps`` of
    ``optimizer`` train it first; ``top_k``/``bottom_k`` extreme eigenvalues (eigsh), ``trace_samples``
    Hutchinson probes, ``density`` a stochastic-Lanczos spectral density. Refusals name the argument.

    >>> h = engine.run_network_hessian([2, 3, 1], dataset={"name": "moons", "n_train": 8}, top_k=1,
    ...                                trace_samples=4, density=False)
    >>> h.top.shape, bool(abs(h.top[0] - h.exact["eigenvalues"][-1]) < 1e-8)   # eigsh = the dense spectrum
    ((1,), True)
    """
    pl = plan_network_hessian(*args, **kwargs)
    problem, seed, top_k, bottom_k = pl.problem, pl.seed, pl.top_k, pl.bottom_k
    net = problem.net
    P = net.n_params
    with single_threaded_blas():  # measured under load: BLAS threads made the 10k-parameter default 65x slower
        params, run, h, top, bottom, top_vectors, tr, dens, exact, method = _compute(
            problem, pl.init, seed, pl.train_steps, pl.optimizer, top_k, bottom_k, pl.tol, pl.maxiter, pl.ncvs,
            pl.trace_samples, pl.density, pl.slq)
    numbers = [top, bottom, np.array([tr.trace, tr.stderr, h.loss])]
    if dens is not None:
        numbers.append(dens["y"])
    if not all(np.isfinite(a).all() for a in numbers):
        raise EngineInputError("layers", "the Hessian overflowed float64 at these parameters")
    training = {"steps": run.steps, "status": run.status, "loss": run.losses, "optimizer": run.optimizer}
    settings = {"layers": list(net.widths), "activation": net.activation, "output_activation": net.output_activation,
                "loss": problem.loss.name, "dataset": problem.dataset, "seed": seed, "top_k": top_k,
                "bottom_k": bottom_k, "hessian": "full-batch loss on the training split; no dropout, batch-norm batch "
                                                "statistics; exact HVPs (R-operator)"}
    return NetworkHessian(P, top, bottom, tr.trace, tr.stderr, tr.samples, dens, method, exact, h.loss,
                          float(math.sqrt(float(h.grad @ h.grad))), training, settings, top_vectors, run.params)


run_network_hessian.__signature__ = inspect.signature(plan_network_hessian).replace(
    return_annotation=NetworkHessian)  # one argument list, read by help() and the sweep kinds


def describe() -> list[dict]:
    """Defaults, estimators and limits of the Hessian endpoint (for the catalog)."""
    return [{
        "name": "hessian",
        "title": "Hessian spectrum of a network's loss",
        "parameters": [],
        "defaults": {"layers": [2, 16, 1], "activation": "tanh", "dataset": {"name": "moons"}, "train_steps": 0,
                     "optimizer": {"name": "sgd", "lr": 0.1}, "top_k": 5, "density": True, "tol": DEFAULT_TOL,
                     "trace_samples": 100, "density_steps": 64, "density_probes": 4, "sigma": DEFAULT_SIGMA},
        "estimators": {"top/bottom": f"{EIGSH_METHOD} on a LinearOperator of exact HVPs ('LA'/'SA'); k = 1: "
                                      f"{SINGLE_PAIR_METHOD}",
                       "trace": "Hutchinson, Rademacher probes, standard error of the mean",
                       "density": "stochastic Lanczos quadrature (nodes: Ritz values; weights: squared first "
                                  "components), Gaussian smoothing"},
        "exact_spectrum_max_parameters": EXACT_MAX,
        "limits": {k: LIMITS[k] for k in ("max_train_samples", "max_hessian_top_k", "max_lanczos_steps",
                                          "max_slq_probes", "max_hutchinson_samples", "max_hessian_work")},
    }]


def _warmup() -> None:
    run_network_hessian([2, 3, 1], "tanh", "mse", {"name": "moons", "n_train": 8}, train_steps=2, top_k=1,
                        trace_samples=2, density_steps=4, density_probes=1, density_points=16)
