"""A full-batch problem (a network, a dataset's training split as ONE batch, a loss) and its training loop.

The curvature tools (engine.network_hessian, engine.saddles) ask questions about the loss of the whole
training split as a function of the parameters. ``resolve_problem`` turns a request's pieces into that
function's ingredients; ``train_full_batch`` moves the parameters by plain full-batch steps first.

* **Data**: ``engine.datasets.make_dataset`` (seeded; only the training split is used).
* **Targets per loss** (``LOSS_FITS``, first = default):

  =======================================  ==========================================================
  task / output units                      losses (targets)
  =======================================  ==========================================================
  regression / 1                           mse, mae, huber, smooth_l1, log_cosh (the values)
  classification, 2 classes / 1            bce_with_logits, mse, hinge (±1), bce (0/1; sigmoid output)
  classification, K classes / K            cross_entropy_with_logits, mse (one-hot),
                                           cross_entropy (one-hot; sigmoid output)
  =======================================  ==========================================================

  mse on class labels is allowed (the page's classic "fit 0/1 by least squares"); bce and
  cross_entropy need probabilities, so they require ``output_activation: "sigmoid"``.
* **Training** (``train_full_batch``): the whole split is one batch; step t (1-based) is
  ``optimizer_step`` of engine.optimizers (torch.optim semantics) with the gradient of the loss in
  mode TRAIN (dropout masks from (seed, step); batch norm with batch statistics). A non-finite loss
  or parameter stops the loop at the last finite parameters (``status: "diverged"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._jit import as_int, kernel
from .datasets import CLASSIFICATION, DATASETS, make_dataset
from .errors import EngineInputError
from .validate import check_int
from .losses import ResolvedLoss, resolve_loss
from .mlp import MLP, build_mlp, init_params
from .mlp_kernels import TRAIN, mlp_loss_grad
from .optimizers import Optimizer, new_state, optimizer_step, resolve_optimizer
from .registry import lookup

REGRESSION_FITS = ("mse", "mae", "huber", "smooth_l1", "log_cosh")
LOSS_FITS: dict[str, tuple[str, ...]] = {
    "regression": REGRESSION_FITS,
    "binary": ("bce_with_logits", "mse", "hinge", "bce"),  # classification, 1 output unit
    "multiclass": ("cross_entropy_with_logits", "mse", "cross_entropy"),  # one output unit per class
}
NEEDS_SIGMOID = ("bce", "cross_entropy")

__all__: list[str] = []


@dataclass(frozen=True, eq=False)
class Problem:
    """The loss of ``net`` on the training split (X, Y) as one batch."""

    net: MLP
    loss: ResolvedLoss
    X: np.ndarray  # [n, inputs], C-contiguous
    Y: np.ndarray  # [n, outputs] in the loss's format
    dataset: dict  # {"name", "task", "n_classes", "n", "params"}


def _mapping(value, field: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise EngineInputError(field, "must be an object")
    return dict(value)


def resolve_problem(layers, activation: str = "tanh", loss: str | None = None, dataset=None,
                    output_activation: str = "identity", residual: bool = False, batch_norm: bool = False,
                    dropout: float = 0.0, activation_params: dict | None = None,
                    loss_params: dict | None = None) -> Problem:
    """Validate a network, a dataset (``{"name": ..., "n_train": ..., "seed": ...}``, default moons)
    and a loss that fits them; errors name the request field (``layers``, ``loss``, ``dataset.n_train``...)."""
    ds = _mapping(dataset, "dataset") or {"name": "moons"}
    name = ds.pop("name", "moons")
    lookup(DATASETS, name, "dataset.name")
    ds.setdefault("n_val", 1)  # the validation split is not used: draw the least
    data = make_dataset(name, ds)
    net = build_mlp(layers, activation, output_activation, residual, batch_norm, dropout, activation_params)
    if net.widths[0] != data.n_inputs:
        raise EngineInputError("layers", f"the first width must be {data.n_inputs}: dataset {name!r} has "
                                         f"{data.n_inputs} input(s)")
    k = net.widths[-1]
    if data.task == CLASSIFICATION:
        if k == 1 and data.n_classes == 2:
            kind = "binary"
        elif k == data.n_classes:
            kind = "multiclass"
        else:
            want = "1 or 2" if data.n_classes == 2 else str(data.n_classes)
            raise EngineInputError("layers", f"the last width must be {want} for {data.n_classes} classes")
    else:
        if k != 1:
            raise EngineInputError("layers", "the last width must be 1 for a regression dataset")
        kind = "regression"
    fits = LOSS_FITS[kind]
    loss = fits[0] if loss is None else loss
    if loss not in fits:
        raise EngineInputError("loss", f"{loss!r} does not fit this task and output width; choose one of: "
                                       f"{', '.join(fits)}")
    if loss in NEEDS_SIGMOID and output_activation != "sigmoid":
        raise EngineInputError("loss", f"{loss} takes probabilities: set output_activation to 'sigmoid'")
    try:
        r = resolve_loss(loss, loss_params)
    except EngineInputError as err:
        raise EngineInputError(err.field.replace("params", "loss_params", 1), err.message) from None
    labels = data.Y_train[:, 0]
    n = labels.shape[0]
    if kind == "multiclass":
        Y = np.zeros((n, k))
        Y[np.arange(n), labels.astype(np.int64)] = 1.0
    elif loss == "hinge":
        Y = (2.0 * labels - 1.0).reshape(n, 1)
    else:
        Y = labels.reshape(n, 1)
    info = {"name": name, "task": data.task, "n_classes": data.n_classes, "n": n, "params": data.params}
    return Problem(net, r, np.ascontiguousarray(data.X_train), np.ascontiguousarray(Y), info)


# ---------------------------------------------------------------------------------------------
# Training
# ---------------------------------------------------------------------------------------------
class Batch(NamedTuple):
    """What a full-batch step reads: the network, the batch, the loss, and its buffers."""

    layout: np.ndarray
    fparams: np.ndarray
    X: np.ndarray
    Y: np.ndarray
    loss_code: int
    lparams: np.ndarray
    running: np.ndarray  # BN running statistics (updated by nothing here; mode TRAIN)
    grad: np.ndarray  # [P] scratch
    work: np.ndarray  # mlp workspace for n rows
    last: np.ndarray  # [P] scratch: the parameters before the step in progress


class OptState(NamedTuple):
    code: int
    hp: np.ndarray
    state: np.ndarray  # [N_SLOTS, P]
    scal: np.ndarray  # [N_SCALARS]


@kernel
def full_batch_steps(b, opt, params, t0, lrs, seed, losses):
    """Steps t0 + 1 .. t0 + len(lrs) (lr lrs[i] for step t0 + 1 + i); losses[i] = the loss before step i.

    Returns the steps taken: fewer when a loss or a parameter stops being finite, and then ``params``
    are the last finite ones (the step that produced non-finite values is undone).
    """
    P = params.shape[0]
    for i in range(lrs.shape[0]):
        t = t0 + i
        loss = mlp_loss_grad(b.layout, b.fparams, params, b.X, b.Y, b.loss_code, b.lparams, as_int(TRAIN), seed, t,
                             b.running, b.grad, b.work)
        if not math.isfinite(loss):
            return i
        losses[i] = loss
        for k in range(P):
            b.last[k] = params[k]
        optimizer_step(opt.code, opt.hp, params, b.grad, opt.state, opt.scal, t + 1, lrs[i])
        for k in range(P):
            if not math.isfinite(params[k]):
                for q in range(P):
                    params[q] = b.last[q]
                return i + 1
    return lrs.shape[0]


def new_batch(problem: Problem) -> Batch:
    net = problem.net
    n = problem.X.shape[0]
    return Batch(net.layout, net.fparams, problem.X, problem.Y, int(problem.loss.code), problem.loss.lparams,
                 np.zeros(net.n_running), np.zeros(net.n_params), np.zeros(net.workspace_size(n)),
                 np.zeros(net.n_params))


def resolve_opt(spec, field: str = "optimizer") -> Optimizer:
    """``engine.optimizers.resolve_optimizer`` with errors named under ``field``."""
    try:
        return resolve_optimizer(spec)
    except EngineInputError as err:
        raise EngineInputError(field + err.field.removeprefix("optimizer"), err.message) from None


@dataclass(frozen=True, eq=False)
class FullBatchRun:
    params: np.ndarray  # after the steps taken
    losses: np.ndarray  # loss before each step taken
    steps: int  # steps taken
    status: str  # "ok" | "diverged" | "none" (no steps asked)
    optimizer: dict | None  # name and resolved hyperparameters


def train_full_batch(problem: Problem, params, steps: int, optimizer=None, seed: int = 0) -> FullBatchRun:
    """``steps`` full-batch optimizer steps from ``params`` (a copy is trained); see the module docstring."""
    steps = check_int("train_steps", steps, 0, "max_steps")
    p = np.array(params, dtype=np.float64)
    if steps == 0:
        return FullBatchRun(p, np.zeros(0), 0, "none", None)
    opt = resolve_opt(optimizer if optimizer is not None else {"name": "sgd", "lr": 0.1})
    state, scal = new_state(opt, p.size)
    losses = np.zeros(steps)
    taken = int(full_batch_steps(new_batch(problem), OptState(int(opt.code), opt.hp, state, scal), p, 0,
                                 np.full(steps, opt.lr), int(seed), losses))
    ok = taken == steps and bool(np.isfinite(p).all()) and np.isfinite(losses).all()
    return FullBatchRun(p, losses[:taken].copy(), taken, "ok" if ok else "diverged",
                        {"name": opt.name, **opt.params})


def _warmup() -> None:
    pr = resolve_problem([2, 3, 1], "tanh", "mse", {"name": "moons", "n_train": 8})
    train_full_batch(pr, init_params(pr.net, None, 0), 2, {"name": "adam", "lr": 0.01})
