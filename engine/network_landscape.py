"""A network's loss landscape: 1-D and 2-D slices through its parameters along random directions,
filter-normalized as in Li, Xu, Taylor, Studer & Goldstein, "Visualizing the Loss Landscape of
Neural Nets" (NeurIPS 2018).

    loss(α, β) = L(θ* + α·d₁ + β·d₂)        (1-D: β = 0, d₂ = 0)

* **The net and the data.** An MLP (engine.mlp) initialised with ``init`` from ``seed``, then
  trained full-batch for ``train_steps`` steps (default 200, Adam lr 0.01; 0 = slice at
  initialization) with engine.optimizers' ``optimizer_step`` inside one jitted loop; θ* is the
  result. The dataset is generated here from ``seed`` (self-contained, small):

  - ``sine``: x ~ U(−π, π), y = sin x + noise·N(0, 1)           (1 input, regression, MSE)
  - ``moons``: two interleaving half circles (scikit-learn's construction, angles drawn
    uniformly), labels 0/1, + noise·N(0, I)                      (2 inputs, classification)
  - ``circles``: a unit circle around one of radius ``factor`` (0.5), labels 0 (outer) / 1,
    + noise·N(0, I)                                               (2 inputs, classification)

  These are ``engine.datasets``' generators (the entries with ``landscape`` parameters), one sample
  of ``n`` points from ``default_rng([seed, 2])``. The loss is one that fits the task and the output
  width (``engine.tasks``): classification with 1 output defaults to ``bce_with_logits`` (targets
  0/1), with 2 outputs to ``cross_entropy_with_logits`` (one-hot targets), regression to ``mse``;
  ``mse`` on the class labels is allowed too (``engine.tasks.LABELS_AS_VALUES``).
* **Directions** d ~ N(0, I) (independent Gaussians, one per axis, from the seed), then
  filter-normalized: for every layer and every output unit j (a "filter" of a dense layer is a
  neuron: the column W[:, j] of our [fan_in, fan_out] W, torch's row weight[j, :]),
  d[:, j] ← d[:, j]·‖θ*[:, j]‖/‖d[:, j]‖. Biases (and BN γ, β) get direction 0: Li et al.'s
  ``ignore='biasbn'`` option, so the picture moves weights only, at the scale of each neuron.
  The two directions are not orthogonalised (random high-dimensional vectors nearly are).
* **The grid**: α, β = linspace(−span, span, resolution); the loss of the whole dataset at every
  point (eval mode: no dropout, BN with the dataset's statistics), computed by a parallel kernel
  over grid rows (each thread owns a parameter vector and a workspace). ``loss[r][c]`` is at
  (α = alpha[c], β = beta[r]); a 1-D slice has ``beta = []`` and one row.

Non-finite losses (far from θ*, an exploding net) are reported as ``OVERFLOW_CAP`` (1e308) and
counted in ``overflow``; training that stops being finite stops early (``train_status``
"diverged") and θ* is the last finite point.

Work: (grid points + 3 × train_steps) × samples × parameters ≤ max_landscape_work.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .results import resultclass
from ._jit import as_int, kernel
from .datasets import DATASETS, draw
from .deadlines import run_chunked
from .errors import EngineInputError
from .limits import LIMITS, check_max
from .losses import resolve_loss
from .mlp import MLP, build_mlp, init_params, new_running, unpack
from .mlp_kernels import EVAL_BATCH, TRAIN, Problem, mlp_loss, mlp_loss_grad
from .optimizers import new_state, optimizer_step, resolve_optimizer
from .registry import lookup, resolve_params
from .tasks import CLASSIFICATION, REGRESSION, fitting_losses, format_targets, head
from .threads import block_threads, threads_for
from .validate import check_float, check_int, check_seed

__all__ = ["NetworkLandscape", "run_network_landscape"]

OVERFLOW_CAP = 1e308
DEFAULT_OPTIMIZER = {"name": "adam", "lr": 0.01}
# the datasets offered here: those with landscape parameters, in the registry's order
LANDSCAPE_DATASETS = tuple(name for name, spec in DATASETS.items() if spec.landscape)


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------
@kernel
def train_full_batch(pb, running, opt, ostate, params, grad, work, last, losses, t0, t1):
    """Full-batch training steps t0 .. t1-1 of ``len(opt.lrs)`` from ``params`` (updated in place; ``last`` holds
    the previous step's); returns the steps taken so far: t1, or fewer when the loss or parameters stop being
    finite. Steps [0, S) in one call or in consecutive pieces give the same numbers."""
    P = params.shape[0]
    for t in range(t0, t1):
        loss = mlp_loss_grad(pb.layout, pb.fparams, params, pb.X, pb.Y, pb.loss_code, pb.lparams, as_int(TRAIN),
                             as_int(0), t, running, grad, work)
        if not math.isfinite(loss):
            for k in range(P):
                params[k] = last[k]
            return t
        losses[t] = loss
        for k in range(P):
            last[k] = params[k]
        optimizer_step(opt.code, opt.hp, params, grad, ostate.state, ostate.scal, t + 1, opt.lrs[t])
        for k in range(P):
            if not math.isfinite(params[k]):
                for q in range(P):
                    params[q] = last[q]
                return t + 1
    return t1


@kernel
def _grid_rows(pb, running, center, d1, d2, alphas, betas, theta, work, out, lo, hi):
    """out[r, c] = L(center + alphas[c]·d1 + betas[r]·d2) for rows r = lo..hi-1 (one thread's
    share, in its own ``theta`` and ``work``)."""
    P = center.shape[0]
    for r in range(lo, hi):
        b = betas[r]
        for i in range(alphas.shape[0]):
            a = alphas[i]
            for k in range(P):
                theta[k] = center[k] + a * d1[k] + b * d2[k]
            out[r, i] = mlp_loss(pb.layout, pb.fparams, theta, pb.X, pb.Y, pb.loss_code, pb.lparams,
                                 as_int(EVAL_BATCH), as_int(0), as_int(0), running, work)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class Data:
    name: str
    task: str
    X: np.ndarray  # [n, inputs]
    labels: np.ndarray  # [n] targets (regression) or class indices
    params: dict


def make_data(spec, seed: int, field: str = "dataset") -> Data:
    """Generate the seeded dataset ``{"name": ..., "n": ..., "noise": ...}`` (module docstring)."""
    if isinstance(spec, str):
        spec = {"name": spec}
    if spec is None:
        spec = {"name": "moons"}
    if not isinstance(spec, Mapping):
        raise EngineInputError(field, "must be an object with a name")
    given = dict(spec)
    name = given.pop("name", "moons")
    ds = lookup({k: DATASETS[k] for k in LANDSCAPE_DATASETS}, name, f"{field}.name")
    p = resolve_params(ds.landscape, given, field)
    check_max(f"{field}.n", p["n"], "max_landscape_samples")
    X, Y = draw(name, np.random.default_rng([seed, 2]), p["n"], p)
    return Data(name, ds.task, np.ascontiguousarray(X), np.ascontiguousarray(Y[:, 0]), p)


def filter_normalized_direction(net: MLP, center: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A Gaussian direction rescaled per neuron to ‖θ[:, j]‖ (Li et al.); biases and BN params 0."""
    d = rng.standard_normal(net.n_params)
    for lp_d, lp_c in zip(unpack(net, d), unpack(net, center)):
        dn = np.linalg.norm(lp_d.W, axis=0)
        cn = np.linalg.norm(lp_c.W, axis=0)
        lp_d.W[...] = lp_d.W * np.where(dn > 0, cn / np.where(dn > 0, dn, 1.0), 0.0)
        lp_d.b[...] = 0.0
        if lp_d.gamma is not None:
            lp_d.gamma[...] = 0.0
            lp_d.beta[...] = 0.0
    return d


@resultclass
@dataclass(frozen=True, eq=False)
class NetworkLandscape:
    dims: int
    alpha: np.ndarray
    beta: np.ndarray  # empty for a 1-D slice
    loss: np.ndarray  # [len(beta) or 1, len(alpha)]
    center_loss: float  # L(θ*)
    loss_min: float
    loss_max: float
    overflow: int  # grid points whose loss was not finite (reported as OVERFLOW_CAP)
    widths: tuple[int, ...]
    activation: str
    loss_name: str
    parameters: int
    dataset: dict  # {"name", "task", "n", "inputs", "params"}
    train_steps: int  # steps actually taken
    train_loss: np.ndarray  # loss before each step
    train_status: str  # "ok" | "diverged" | "none"
    optimizer: dict | None
    normalization: str
    status: str  # "ok" | "overflow"
    center: np.ndarray  # θ* (flat, engine.mlp layout)
    directions: np.ndarray  # [dims, parameters]: d₁ (and d₂)


def run_network_landscape(
    layers: Sequence[int] = (2, 16, 16, 1),
    activation: str = "tanh",
    dataset: Mapping[str, Any] | str | None = None,
    dims: int = 2,
    resolution: int = 41,
    span: float = 1.0,
    seed: int = 0,
    init: Mapping[str, Any] | str | None = None,
    loss: str | None = None,
    residual: bool = False,
    batch_norm: bool = False,
    train_steps: int = 200,
    optimizer: Mapping[str, Any] | None = None,
    activation_params: Mapping[str, Any] | None = None,
) -> NetworkLandscape:
    """Loss along filter-normalized random directions around a (briefly trained) network's parameters.

    >>> g = engine.run_network_landscape([2, 3, 1], dataset={"name": "moons", "n": 8}, dims=1, resolution=3,
    ...                                  train_steps=0)
    >>> g.loss.shape
    (1, 3)
    """
    seed = check_seed("seed", seed)
    if check_int("dims", dims, 1, integral_floats=False) > 2:
        raise EngineInputError("dims", "must be 1 or 2")
    resolution = check_int("resolution", resolution, 2, "max_landscape_axis")
    span = check_float("span", span, 0.0, 100.0, strict=True)
    train_steps = check_int("train_steps", train_steps, 0, "max_steps")
    data = make_data(dataset, seed)
    ds = DATASETS[data.name]
    net = build_mlp(layers, activation, "identity", residual, batch_norm, 0.0, activation_params)
    if net.widths[0] != ds.n_inputs:
        raise EngineInputError("layers", f"the first width must be {ds.n_inputs}: dataset {data.name} has "
                                         f"{ds.n_inputs} input(s)")
    outputs = net.widths[-1]
    h = head(ds.task, outputs, 2 if ds.task == CLASSIFICATION else 0)
    if h is None:
        want = "1" if ds.task == REGRESSION else "1 or 2"
        raise EngineInputError("layers", f"the last width must be {want} for a {ds.task} dataset")
    fits = fitting_losses(ds.task, h, labels_as_values=True)
    loss = fits[0] if loss is None else loss
    if not isinstance(loss, str) or loss not in fits:
        raise EngineInputError("loss", f"{loss!r} does not fit {ds.task} with {outputs} output(s); choose one of: "
                                       f"{', '.join(fits)}")
    r = resolve_loss(loss)
    n = data.X.shape[0]
    points = resolution ** dims
    check_max("resolution", (points + 3 * train_steps) * n * net.n_params, "max_landscape_work")
    opt = None
    if train_steps:
        opt = resolve_optimizer(DEFAULT_OPTIMIZER if optimizer is None else optimizer)
    X = data.X
    Y, _ = format_targets(ds.task, loss, data.labels.reshape(-1, 1), outputs)
    pb = Problem(net.layout, net.fparams, X, Y, r.code, r.lparams)
    rng_init, rng_dir = np.random.default_rng([seed, 0]), np.random.default_rng([seed, 1])
    center = init_params(net, init, int(rng_init.integers(2**63)))
    running = new_running(net)
    work = np.zeros(net.workspace_size(n))
    taken, train_loss, train_status = 0, np.zeros(0), "none"
    if train_steps:
        train_loss = np.zeros(train_steps)
        args, ostate = opt.args(np.full(train_steps, opt.lr)), new_state(opt, net.n_params)
        grad, last = np.zeros(net.n_params), center.copy()

        def steps_(t0, t1):  # training steps [t0, t1) (deadline checks between chunks)
            nonlocal taken
            taken = int(train_full_batch(pb, running, args, ostate, center, grad, work, last, train_loss, t0, t1))
            return taken < t1

        run_chunked(train_steps, steps_, "network landscape training")
        train_loss = train_loss[:taken].copy()
        train_status = "ok" if taken == train_steps and np.isfinite(center).all() else "diverged"
    d1 = filter_normalized_direction(net, center, rng_dir)
    d2 = filter_normalized_direction(net, center, rng_dir) if dims == 2 else np.zeros(net.n_params)
    alpha = np.linspace(-span, span, resolution)
    beta = alpha.copy() if dims == 2 else np.zeros(1)
    chunks = threads_for(beta.shape[0])
    thetas = np.zeros((chunks, net.n_params))
    works = np.zeros((chunks, work.shape[0]))
    out = np.zeros((beta.shape[0], resolution))

    def rows(a, b):  # grid rows [a, b), shared out over the threads (deadline checks between chunks)
        block_threads(b - a, lambda c, lo, hi: _grid_rows(pb, running, center, d1, d2, alpha, beta[a:b], thetas[c],
                                                          works[c], out[a:b], lo, hi), chunks)

    run_chunked(beta.shape[0], rows, "network landscape")
    center_loss = float(mlp_loss(net.layout, net.fparams, center, X, Y, r.code, r.lparams, EVAL_BATCH, 0, 0, running, work))
    bad = ~np.isfinite(out)
    overflow = int(bad.sum())
    out[bad] = OVERFLOW_CAP
    finite = out[~bad]
    return NetworkLandscape(
        dims, alpha, beta if dims == 2 else np.zeros(0), out,
        center_loss if math.isfinite(center_loss) else OVERFLOW_CAP,
        float(finite.min()) if finite.size else OVERFLOW_CAP, float(finite.max()) if finite.size else OVERFLOW_CAP,
        overflow, net.widths, net.activation, r.name, net.n_params,
        {"name": data.name, "task": data.task, "n": n, "inputs": ds.n_inputs, "params": data.params},
        taken, train_loss, train_status, ({"name": opt.name, **opt.params} if opt else None),
        "filter-wise (Li et al. 2018): per neuron ‖d[:, j]‖ = ‖θ[:, j]‖; biases and BN parameters 0",
        "overflow" if overflow else "ok", center, np.stack([d1, d2][:dims]),
    )


def describe() -> list[dict]:
    """Datasets, losses that fit, normalization and defaults of the network landscape."""
    fits = {}
    for task, outputs in ((REGRESSION, 1), (CLASSIFICATION, 1), (CLASSIFICATION, 2)):
        fits[f"{task}/{outputs} output(s)"] = list(fitting_losses(task, head(task, outputs, 2), labels_as_values=True))
    return [{
        "name": "network_landscape",
        "title": "A network's loss along random directions",
        "parameters": [],
        "datasets": [{"name": name, "title": DATASETS[name].title, "task": DATASETS[name].task,
                      "inputs": DATASETS[name].n_inputs, "parameters": [p.to_dict() for p in DATASETS[name].landscape]}
                     for name in LANDSCAPE_DATASETS],
        "losses": fits,
        "normalization": "filter-wise (Li et al. 2018), biases and BN parameters not perturbed",
        "defaults": {"layers": [2, 16, 16, 1], "activation": "tanh", "dims": 2, "resolution": 41, "span": 1.0,
                     "train_steps": 200, "optimizer": DEFAULT_OPTIMIZER},
        "limits": {k: LIMITS[k] for k in ("max_landscape_axis", "max_landscape_samples", "max_landscape_work")},
    }]


def _warmup() -> None:
    run_network_landscape([1, 2, 1], "tanh", {"name": "sine", "n": 4}, dims=2, resolution=2, train_steps=1)
    run_network_landscape([2, 2, 2], "relu", {"name": "moons", "n": 4}, dims=1, resolution=2, train_steps=0,
                          batch_norm=True)
