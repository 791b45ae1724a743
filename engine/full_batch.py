"""A full-batch problem (a network, a dataset's training split as ONE batch, a loss) and its training steps.

The curvature tools (engine.network_hessian, engine.saddles) ask questions about the loss of the whole
training split as a function of the parameters. ``resolve_problem`` turns a request's pieces into that
function's ingredients; ``train_full_batch`` moves the parameters by plain full-batch steps first.

* **Data**: ``engine.datasets.make_dataset`` (seeded; only the training split is used).
* **Targets per loss**: engine.tasks' table (first = default), with mse on class labels allowed (the
  page's classic "fit 0/1 by least squares", as the network landscape offers it) and two losses that
  take probabilities, ``bce`` (1 output) and ``cross_entropy`` (one output per class), which need
  ``output_activation: "sigmoid"``::

      regression / 1 output            mse, mae, huber, smooth_l1, log_cosh
      2 classes / 1 output             bce_with_logits, hinge (±1), mse (0/1), bce (0/1, sigmoid output)
      K classes / K outputs            cross_entropy_with_logits, mse (one-hot), cross_entropy (one-hot, sigmoid)

* **Training** (``train_full_batch``): the whole split is one batch; step t (1-based) is
  ``optimizer_step`` of engine.optimizers (torch.optim semantics) with the gradient of the loss in mode
  TRAIN. The loop is engine.network_landscape's kernel (one compiled loop for both): its dropout masks
  are a function of the step alone. A non-finite loss or parameter stops the loop at the last finite
  parameters (``status: "diverged"``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .datasets import DATASETS, generate
from .errors import EngineInputError, field_prefix
from .losses import ResolvedLoss, resolve_loss
from .mlp import MLP, build_mlp, new_running
from .mlp_kernels import Problem as KernelProblem
from .network_landscape import train_full_batch as full_batch_steps
from .optimizers import new_state, resolve_optimizer
from .registry import lookup
from .tasks import CLASSIFICATION, fitting_losses, format_targets, head
from .validate import check_int, check_mapping

__all__: list[str] = []  # a shared core of engine.network_hessian and engine.saddles (no kernels of its own)

PROBABILITY_LOSSES = ("bce", "cross_entropy")  # take probabilities: they need a sigmoid output layer


@dataclass(frozen=True, eq=False)
class Problem:
    """The loss of ``net`` on the training split (X, Y) as one batch."""

    net: MLP
    loss: ResolvedLoss
    X: np.ndarray  # [n, inputs], C-contiguous
    Y: np.ndarray  # [n, outputs] in the loss's format
    dataset: dict  # {"name", "task", "n_classes", "n", "params"}

    def kernel_args(self) -> KernelProblem:
        """What the MLP's loss kernels take (engine.mlp_kernels.Problem)."""
        return KernelProblem(self.net.layout, self.net.fparams, self.X, self.Y, int(self.loss.code),
                             self.loss.lparams)


def resolve_problem(layers, activation: str = "tanh", loss: str | None = None, dataset=None,
                    output_activation: str = "identity", residual: bool = False, batch_norm: bool = False,
                    dropout: float = 0.0, activation_params: dict | None = None,
                    loss_params: dict | None = None) -> Problem:
    """Validate a network, a dataset (``{"name": ..., "n_train": ..., "seed": ...}``, default moons)
    and a loss that fits them; errors name the request field (``layers``, ``loss``, ``dataset.n_train``...)."""
    ds = check_mapping("dataset", dataset) or {"name": "moons"}
    name = ds.pop("name", "moons")
    lookup(DATASETS, name, "dataset.name")
    ds.setdefault("n_val", 1)  # the validation split is not used: draw the least
    data = generate(name, ds)
    net = build_mlp(layers, activation, output_activation, residual, batch_norm, dropout, activation_params)
    if net.widths[0] != data.n_inputs:
        raise EngineInputError("layers", f"the first width must be {data.n_inputs}: dataset {name!r} has "
                                         f"{data.n_inputs} input(s)")
    k = net.widths[-1]
    h = head(data.task, k, data.n_classes)
    if h is None:
        want = "1" if data.task != CLASSIFICATION else ("1 or 2" if data.n_classes == 2 else str(data.n_classes))
        raise EngineInputError("layers", f"the last width must be {want} for dataset {name!r}")
    fits = fitting_losses(data.task, h, labels_as_values=True)
    if data.task == CLASSIFICATION:
        fits += (PROBABILITY_LOSSES[0] if k == 1 else PROBABILITY_LOSSES[1],)
    loss = fits[0] if loss is None else loss
    if loss not in fits:
        raise EngineInputError("loss", f"{loss!r} does not fit this task and output width; choose one of: "
                                       f"{', '.join(fits)}")
    if loss in PROBABILITY_LOSSES and output_activation != "sigmoid":
        raise EngineInputError("loss", f"{loss} takes probabilities: set output_activation to 'sigmoid'")
    with field_prefix("loss_params", strip="params", only=("params",)):
        r = resolve_loss(loss, loss_params)
    Y, _ = format_targets(data.task, loss, data.Y_train, k)
    info = {"name": name, "task": data.task, "n_classes": data.n_classes, "n": int(Y.shape[0]), "params": data.params}
    return Problem(net, r, np.ascontiguousarray(data.X_train), Y, info)


@dataclass(frozen=True, eq=False)
class FullBatchRun:
    params: np.ndarray  # after the steps taken
    losses: np.ndarray  # loss before each step taken
    steps: int  # steps taken
    status: str  # "ok" | "diverged" | "none" (no steps asked)
    optimizer: dict | None  # name and resolved hyperparameters


def train_full_batch(problem: Problem, params, steps: int, optimizer=None) -> FullBatchRun:
    """``steps`` full-batch optimizer steps from ``params`` (a copy is trained); see the module docstring."""
    steps = check_int("train_steps", steps, 0, "max_steps")
    p = np.array(params, dtype=np.float64)
    if steps == 0:
        return FullBatchRun(p, np.zeros(0), 0, "none", None)
    opt = resolve_optimizer(optimizer if optimizer is not None else {"name": "sgd", "lr": 0.1})
    net = problem.net
    losses = np.zeros(steps)
    taken = int(full_batch_steps(problem.kernel_args(), new_running(net), opt.args(np.full(steps, opt.lr)),
                                 new_state(opt, net.n_params), p, np.zeros(net.n_params),
                                 np.zeros(net.workspace_size(problem.X.shape[0])), p.copy(), losses, 0, steps))
    ok = taken == steps and bool(np.isfinite(p).all())
    return FullBatchRun(p, losses[:taken].copy(), taken, "ok" if ok else "diverged", {"name": opt.name, **opt.params})
