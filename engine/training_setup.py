"""Training's request preparation: every argument of a run validated and resolved before any epoch.

``prepare(**request) -> TrainingSetup`` reads the dataset (``engine.datasets``), the model
(``engine.mlp``), the loss that fits the task (``engine.tasks``), the optimizer with an optional
weight-decay override, the per-epoch schedule, regularization, early stopping, clipping
(``engine.clipping``), the drawn prediction's resolution, and the request's work against
``max_training_work``. Refusals name the request's fields (``model.layers``, ``loss_params.delta``,
``regularization.dropout``): callee errors are re-rooted with ``engine.errors.field_prefix``.
The dataset is a synthetic one by name (``engine.datasets``), the user's own points
(``engine.user_data``: inline rows or CSV), or a ready ``Dataset``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .clipping import resolve_clip
from .datasets import CLASSIFICATION, Dataset, generate
from .sharpness import Curvature, resolve_curvature
from .errors import EngineInputError, field_prefix
from .limits import LIMITS, check_max
from .losses import ResolvedLoss, resolve_loss
from .mlp import MLP, build_mlp, init_params
from .optimizers import resolve_optimizer
from .registry import ParamSpec, resolve_params
from .schedules import schedule_values
from .tasks import fitting_losses, format_targets, head
from .user_data import USER_DATASETS, user_spec
from .validate import check_float, check_int, check_mapping

WORK_SAMPLE_FLOOR = 256  # a sample costs at least this many "parameters" of work (loop overheads)
STEP_WORK = 4096  # fixed work of one mini-batch step (see work)
MODEL_KEYS = ("layers", "activation", "activation_params", "output_activation", "residual", "batch_norm", "init")

REGULARIZATION_PARAMS = (
    ParamSpec("l1", 0.0, 0.0, 10.0, doc="loss + l1 * sum|W| over weight matrices (not biases)"),
    ParamSpec("l2", 0.0, 0.0, 10.0, doc="loss + l2 * sum W^2 over weight matrices (not biases)"),
    ParamSpec("dropout", 0.0, 0.0, 0.95, doc="inverted dropout probability on every hidden layer"),
    ParamSpec("weight_decay", None, 0.0, 10.0,
              doc="replaces the optimizer's weight_decay (coupled L2 on all parameters; decoupled in AdamW)"),
)
EARLY_STOPPING_PARAMS = (
    ParamSpec("patience", 10, 0, 100_000, "int", "epochs without improvement before stopping (0 acts as 1, as in Keras)"),
    ParamSpec("min_delta", 0.0, 0.0, 1e6, doc="an improvement must beat the best val_loss by more than this"),
    ParamSpec("restore_best_weights", True, kind="bool", doc="end with the best epoch's weights (Keras)"),
)
PREDICTION_PARAMS = (
    ParamSpec("points", 200, 2, None, "int", "points of the fitted curve (regression), limit max_prediction_axis"),
    ParamSpec("grid", 64, 2, None, "int", "points per axis of the decision surface, limit max_prediction_axis"),
)


@dataclass(frozen=True, eq=False)
class Regularization:
    l1: float
    l2: float
    dropout: float
    weight_decay: float | None  # None: the optimizer's own


@dataclass(frozen=True, eq=False)
class TrainingSetup:
    """A validated request: everything the kernel needs, before any epoch runs."""

    data: Dataset
    net: MLP
    loss: ResolvedLoss
    loss_name: str
    loss_code: int
    lparams: np.ndarray
    acc_kind: int
    Y: np.ndarray  # training targets in the loss's format [n_train, K]
    Yv: np.ndarray
    lab: np.ndarray  # class indices (float64) [n_train] (zeros for regression)
    labv: np.ndarray
    optimizer: Any  # engine.optimizers.ResolvedOptimizer (its weight_decay possibly replaced)
    lrs: np.ndarray  # lr per epoch
    schedule: dict | None
    reg: Regularization
    epochs: int
    batch_size: int
    clip_kind: int  # engine.clipping code
    clip_arg: float
    clip: dict | None
    early_stopping: dict | None  # resolved (patience, min_delta, restore_best_weights) or None
    seed: int
    init_seed: int
    shuffle_seed: int
    dropout_seed: int
    params0: np.ndarray  # initial weights
    prediction: dict  # resolved prediction settings
    work: int  # the request's work, counted against max_training_work
    curvature: Curvature | None = None  # sharpness records (engine.edge_of_stability); None: off


def seeds(seed: int) -> tuple[int, int, int]:
    """The three 32-bit seeds of a run: initial weights, shuffles, dropout (``np.random.SeedSequence(seed)``)."""
    init_seed, shuffle_seed, dropout_seed = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint32)
    return int(init_seed), int(shuffle_seed), int(dropout_seed)


def resolve_regularization(spec, field_: str = "regularization") -> Regularization:
    p = resolve_params(REGULARIZATION_PARAMS, check_mapping(field_, spec), field_)
    wd = p["weight_decay"]
    if wd is not None:
        wd = check_float(f"{field_}.weight_decay", wd, 0.0, 10.0)
    return Regularization(p["l1"], p["l2"], p["dropout"], wd)


def _loss_for(data: Dataset, n_out: int, loss: str | None, loss_params: Mapping | None):
    """The loss (default: the task's first) if it fits the task and the output width (``engine.tasks``)."""
    h = head(data.task, n_out, data.n_classes)
    if h is None:
        if data.task == CLASSIFICATION:
            raise EngineInputError("model.layers", f"the last width must be 1 (binary) or n_classes={data.n_classes} "
                                                   f"for dataset {data.name!r}")
        raise EngineInputError("model.layers", "a regression dataset needs 1 output unit")
    allowed = fitting_losses(data.task, h)
    name = allowed[0] if loss is None else loss
    if not isinstance(name, str) or name not in allowed:
        raise EngineInputError("loss", f"{name!r} does not fit this task and output width; choose one of: "
                                       f"{', '.join(allowed)}")
    with field_prefix("loss_params", strip="params", only=("params",)):  # the request's name for them
        return resolve_loss(name, loss_params)


def work(net: MLP, n_train: int, n_val: int, epochs: int, batch_size: int, pred_points: int,
          variants: int = 1) -> int:
    """The request's work, in parameter·sample units, summed over epochs and variants.

    A training sample costs ~4 passes (forward, backward ≈ 2, the epoch-end evaluation), a
    validation sample or a prediction point 1; a sample counts at least WORK_SAMPLE_FLOOR
    parameters, and each mini-batch step adds STEP_WORK (its fixed costs: gather, optimizer step
    over every parameter, loop overheads)::

        work = variants · (epochs · (n_batches · (STEP_WORK + P') + (4·n_train + n_val) · P') + points · P'),
        P' = max(n_params, WORK_SAMPLE_FLOOR)
    """
    per = max(net.n_params, WORK_SAMPLE_FLOOR)
    n_batches = -(-int(n_train) // int(batch_size))
    per_epoch = n_batches * (STEP_WORK + per) + (4 * int(n_train) + int(n_val)) * per
    return int(variants) * (int(epochs) * per_epoch + int(pred_points) * per)


def resolve_dataset(dataset) -> Dataset:
    """A request's dataset: a synthetic one by name, the user's own (``engine.user_data``), or a ``Dataset``."""
    if isinstance(dataset, Dataset):
        return dataset
    ds = check_mapping("dataset", dataset)
    if "name" not in ds:
        raise EngineInputError("dataset.name", "required")
    if isinstance(ds["name"], str) and ds["name"] in USER_DATASETS:
        return user_spec(ds)
    name = ds.pop("name")
    return generate(name, ds)


def prepare(dataset: Mapping | Dataset, model: Mapping, optimizer: Mapping | None = None, schedule: Mapping | None = None,
            regularization: Mapping | None = None, epochs: int = 100, batch_size: int = 32,
            early_stopping: Mapping | None = None, clip: Mapping | None = None, loss: str | None = None,
            loss_params: Mapping | None = None, seed: int = 0, prediction: Mapping | None = None,
            variants: int = 1, params0: np.ndarray | None = None, curvature: Mapping | None = None) -> TrainingSetup:
    """Validate a training request and build everything a run needs (no epoch runs here).

    ``model``: ``{"layers": [...], "activation", "output_activation", "residual", "batch_norm", "init",
    "activation_params"}`` (engine.mlp.build_mlp; dropout comes from ``regularization``).
    Refuses: unknown names, out-of-range values, a loss that does not fit the task, batch norm with a
    1-row last batch, and work above ``max_training_work``. ``curvature``: ``{"every": k, "tol": ...}``
    records the sharpness every k epochs (engine.edge_of_stability; its work against ``max_hessian_work``).
    """
    data = resolve_dataset(dataset)
    epochs = check_int("epochs", epochs, 1, "max_epochs")
    seed = check_int("seed", seed, 0)
    if seed > 2**32 - 1:
        raise EngineInputError("seed", "must be < 2**32")
    reg = resolve_regularization(regularization)
    m = check_mapping("model", model)
    unknown = sorted(set(m) - set(MODEL_KEYS))
    if unknown:
        raise EngineInputError(f"model.{unknown[0]}", f"unknown key; accepted: {', '.join(sorted(MODEL_KEYS))}")
    if "layers" not in m:
        raise EngineInputError("model.layers", "required")
    with field_prefix("model"):  # dropout comes from regularization, checked above
        net = build_mlp(m["layers"], m.get("activation", "relu"), m.get("output_activation", "identity"),
                        m.get("residual", False), m.get("batch_norm", False), reg.dropout,
                        m.get("activation_params"))
    if net.widths[0] != data.n_inputs:
        raise EngineInputError("model.layers", f"the first width must be {data.n_inputs} (inputs of {data.name!r})")
    batch_size = check_int("batch_size", batch_size, 1, "max_batch")
    n_train = data.X_train.shape[0]
    if net.batch_norm and n_train % batch_size == 1:
        raise EngineInputError("batch_size", "with batch_norm the last mini-batch would hold 1 row "
                                             "(torch: 'Expected more than 1 value per channel'); change batch_size")
    if net.batch_norm and n_train == 1:
        raise EngineInputError("dataset.n_train", "batch_norm needs at least 2 rows")
    r = _loss_for(data, net.widths[-1], loss, loss_params)
    Ytr, acc = format_targets(data.task, r.name, data.Y_train, net.widths[-1])
    Yv, _ = format_targets(data.task, r.name, data.Y_val, net.widths[-1])
    classes = data.task == CLASSIFICATION
    lab = np.ascontiguousarray(data.Y_train[:, 0]) if classes else np.zeros(n_train)
    labv = np.ascontiguousarray(data.Y_val[:, 0]) if classes else np.zeros(data.Y_val.shape[0])
    opt_spec = check_mapping("optimizer", optimizer) or {"name": "adam"}
    if reg.weight_decay is not None:
        opt_spec["weight_decay"] = reg.weight_decay
    opt = resolve_optimizer(opt_spec)
    sched_echo = None
    schedule = check_mapping("schedule", schedule)
    if schedule:
        with field_prefix("schedule", only=("schedule", "steps")):  # too large a base rate: optimizer.lr
            sv = schedule_values(dict(schedule), opt.lr, epochs, lr_field="optimizer.lr")
        lrs, sched_echo = sv.lr, {"name": sv.name, **sv.params}
    else:
        lrs = np.full(epochs, opt.lr)
    es = None
    if early_stopping is not None:
        es = resolve_params(EARLY_STOPPING_PARAMS, check_mapping("early_stopping", early_stopping), "early_stopping")
    clip_kind, clip_arg = resolve_clip(clip)
    pred = resolve_params(PREDICTION_PARAMS, check_mapping("prediction", prediction), "prediction")
    check_max("prediction.points", pred["points"], "max_prediction_axis")
    check_max("prediction.grid", pred["grid"], "max_prediction_axis")
    pred_points = pred["points"] if data.task != CLASSIFICATION else pred["grid"] ** 2
    w = work(net, n_train, data.X_val.shape[0], epochs, batch_size, pred_points, variants)
    if w > LIMITS["max_training_work"]:
        raise EngineInputError("epochs", f"the request's work {w:,} (epochs x samples x parameters x variants, "
                                         f"engine.training_setup.work) exceeds limit max_training_work="
                                         f"{LIMITS['max_training_work']:,}; use fewer epochs, samples or parameters")
    cv = resolve_curvature(curvature, opt, epochs, n_train, net.n_params)
    init_seed, shuffle_seed, dropout_seed = seeds(seed)
    if params0 is None:
        with field_prefix("model"):
            params0 = init_params(net, m.get("init"), init_seed)  # refusals: init.* -> model.init.*
    return TrainingSetup(
        data=data, net=net, loss=r, loss_name=r.name, loss_code=r.code, lparams=r.lparams, acc_kind=acc,
        Y=Ytr, Yv=Yv, lab=lab, labv=labv, optimizer=opt, lrs=lrs,
        schedule=sched_echo, reg=reg, epochs=epochs, batch_size=batch_size,
        clip_kind=clip_kind, clip_arg=clip_arg, clip=dict(clip) if clip else None, early_stopping=es, seed=seed,
        init_seed=init_seed, shuffle_seed=shuffle_seed, dropout_seed=dropout_seed, params0=params0,
        prediction=pred, work=w, curvature=cv,
    )
