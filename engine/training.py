"""Train an MLP (engine.mlp) on a synthetic dataset: epochs of shuffled mini-batches inside one kernel.

One call of ``train(...)`` runs every epoch in the compiled ``_train_epochs`` kernel (no Python per
step). ``stream(...)`` runs the same kernel one epoch per call, with all state carried in arrays,
so it yields each epoch's record as it is computed and stops when its consumer stops asking; its
numbers are identical to ``train``'s for the same request.

What one epoch does (torch's loop, ``model.train()`` then ``model.eval()``)::

    order = permutation(n_train)                     # counter-based (engine.rng), seeded, per epoch
    for each mini-batch B of batch_size rows (the last one smaller; DataLoader drop_last=False):
        loss = data_loss(B) + l1·Σ|W| + l2·ΣW²       # mlp_loss_grad in mode TRAIN_UPDATE (dropout on,
        loss.backward()                              #   BN batch statistics, running stats updated)
        clip_grad_norm_ / clip_grad_value_           # engine.clipping, if asked
        opt.step()                                   # engine.optimizers, step t (1-based), lr = lr[epoch]
    evaluate train and validation sets               # mode EVAL_RUNNING: no dropout, BN running stats

Conventions, stated:

* **Learning-rate schedule: stepped per epoch.** Epoch e (0-based) trains every batch with
  ``lr[e] = engine.schedules.lr_schedule(schedule, lr, epochs)[e]`` (torch's ``sched.step()`` once
  per epoch after the epoch's ``opt.step()`` calls), so ``history.lr`` equals what
  ``POST /api/v1/schedules`` returns for ``steps = epochs``. Step counts in the schedule
  (``warmup_steps``, ``T_max``, ``step_size``...) are therefore epochs. The optimizer's own step
  count ``t`` (bias corrections) counts mini-batches, as torch's does.
* **L1 and L2 act on the weight matrices only** (every dense layer's W, the output layer's too;
  not biases, not batch-norm γ/β), added to each mini-batch's loss exactly as a torch user writes
  ``loss = crit(out, y) + l1 * sum(W.abs().sum() for W in weights) + l2 * sum((W**2).sum() for W in
  weights)``; gradients ``l1·sign(W)`` (sign(0) = 0, torch's abs backward) and ``2·l2·W``. So
  ``l2`` is half of an equivalent coupled ``weight_decay`` (which torch applies to every parameter,
  biases included). Decoupled weight decay is the optimizer's (``adamw``, or any optimizer's
  ``decoupled_weight_decay``); ``regularization.weight_decay``, when given, replaces the optimizer's
  ``weight_decay``.
* **Dropout** is the MLP's inverted dropout on every hidden layer (masks from engine.rng, a function
  of (dropout seed, optimizer step, layer, unit)).
* **Recorded per epoch** (1-based epochs; ``history`` row e is epoch e + 1), after the epoch's last step:
  ``train_loss`` / ``val_loss``: the data loss (no penalty) on the whole split in eval mode, so the
  two are comparable (Keras' ``loss`` is instead the running mean during the epoch: that is
  ``batch_loss`` here, which includes the penalty and dropout); ``train_accuracy`` /
  ``val_accuracy`` (classification; empty arrays for regression); ``lr``; ``grad_norm``: the mean
  over the epoch's steps of the 2-norm of the full gradient (data + penalty) before clipping;
  ``weight_norm``: the 2-norm of all weight matrices; ``sparsity``: the fraction of weight-matrix
  entries with ``|w| < SPARSITY_THRESHOLD`` (1e-3); ``penalty``: ``l1·Σ|W| + l2·ΣW²``.
* **Early stopping follows Keras' ``EarlyStopping(monitor="val_loss", mode="min")``** (torch has
  none): an epoch improves when ``val_loss < best − min_delta``; ``wait`` counts epochs since the
  last improvement; training stops at the end of the first epoch with ``wait >= patience`` (never
  the first epoch), so it stops exactly ``patience`` epochs after the best one; with
  ``restore_best_weights`` (default true) the weights of the best epoch are restored when training
  ends, whether it stopped early or ran out of epochs (Keras 3's ``on_train_end``).
* **Divergence**: a non-finite mini-batch loss or gradient, or a non-finite epoch-end loss, stops the
  run with ``stop_reason = "diverged"``; the history keeps only the completed epochs (all finite),
  and the returned weights are those at the end of the last completed epoch (or the best epoch's
  when weights are being restored).
* ``stopped_epoch``: the epoch training stopped in (= epochs run, except after divergence, when it
  is the epoch that diverged); ``best_epoch``: the epoch of the lowest ``val_loss`` (Keras'
  improvement rule when early stopping is on, so min_delta applies).

Randomness, all from ``seed``: ``np.random.SeedSequence(seed)`` gives three 32-bit seeds, for the
initial weights (``engine.mlp.init_params``), the shuffles (``epoch_order``) and dropout. Variants of
a comparison (``engine.regularization``) share all three.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Iterator, Mapping

import numpy as np

from ._jit import as_bool, as_int, kernel
from .clipping import clip_grad_norm, clip_grad_value, grad_norm
from .datasets import CLASSIFICATION, Dataset, make_dataset
from .errors import EngineInputError
from .deadlines import run_chunked
from .limits import LIMITS, check_max, check_int
from .losses import loss_value_grad, resolve_loss
from .mlp import (
    EVAL_RUNNING, IN, OUT, TRAIN_UPDATE, W_OFF, MLP, build_mlp, init_params, mlp_forward,
    mlp_loss_grad, new_running, workspace_size,
)
from .optimizers import new_state, optimizer_step, resolve_optimizer
from .registry import ParamSpec, resolve_params
from .rng import key_uniform, stream_key
from .schedules import schedule_values

SPARSITY_THRESHOLD = 1e-3  # |w| below this counts as "near zero" in history.sparsity
EVAL_CHUNK = 256  # rows per forward pass when evaluating a whole split or the prediction grid
WORK_SAMPLE_FLOOR = 256  # a sample costs at least this many "parameters" of work (loop overheads)
STEP_WORK = 4096  # fixed work of one mini-batch step (see _work)

# history columns (kernel layout of hist[e, :])
COLUMNS = ("train_loss", "val_loss", "train_accuracy", "val_accuracy", "lr", "grad_norm", "weight_norm",
           "sparsity", "batch_loss", "penalty")
H_TRAIN, H_VAL, H_TRAIN_ACC, H_VAL_ACC, H_LR, H_GRAD, H_WNORM, H_SPARSE, H_BATCH, H_PEN = range(len(COLUMNS))
NCOLS = len(COLUMNS)

# run status (es[ES_STATUS])
RUNNING, COMPLETED, EARLY_STOPPED, DIVERGED = 0, 1, 2, 3
STOP_REASONS = {COMPLETED: "completed", EARLY_STOPPED: "early_stopping", DIVERGED: "diverged"}

# early-stopping state es[:] (float64)
ES_BEST, ES_WAIT, ES_BEST_EPOCH, ES_STOPPED, ES_STATUS, ES_EPOCHS, ES_HAVE_BEST = range(7)
ES_SIZE = 7

# accuracy rule
ACC_NONE, ACC_SIGN, ACC_ARGMAX = 0, 1, 2

# clipping
CLIP_NONE, CLIP_NORM, CLIP_VALUE = 0, 1, 2

REGRESSION_LOSSES = ("mse", "mae", "huber", "smooth_l1", "log_cosh")
BINARY_LOSSES = ("bce_with_logits", "hinge")  # one output unit: a logit / a score
MULTICLASS_LOSSES = ("cross_entropy_with_logits",)  # n_classes output units: logits

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


# =============================================================================================
# Kernels
# =============================================================================================
@kernel
def _shuffle(seed, epoch, order):
    """order = a permutation of 0..n-1 for ``epoch``: Fisher–Yates driven by engine.rng's uniforms."""
    n = order.shape[0]
    for i in range(n):
        order[i] = i
    key = stream_key(seed, epoch, as_int(0))
    for i in range(n - 1, 0, -1):
        j = int(key_uniform(key, i) * (i + 1))
        if j > i:  # u < 1 always; guard against rounding anyway
            j = i
        tmp = order[i]
        order[i] = order[j]
        order[j] = tmp


@kernel
def _penalty(layout, params, grad, l1, l2, add_grad):
    """l1·Σ|W| + l2·ΣW² over the weight matrices; adds l1·sign(W) + 2·l2·W to ``grad`` if asked."""
    total = 0.0
    for l in range(layout.shape[0]):
        off = layout[l, W_OFF]
        for i in range(off, off + layout[l, IN] * layout[l, OUT]):
            w = params[i]
            total += l1 * abs(w) + l2 * w * w
            if add_grad:
                s = 0.0
                if w > 0.0:
                    s = 1.0
                elif w < 0.0:
                    s = -1.0
                grad[i] += l1 * s + 2.0 * l2 * w
    return total


@kernel
def _weight_stats(layout, params, threshold):
    """(‖W‖₂ over every weight matrix, fraction of entries with |w| < threshold)."""
    s = 0.0
    small = 0
    count = 0
    for l in range(layout.shape[0]):
        off = layout[l, W_OFF]
        for i in range(off, off + layout[l, IN] * layout[l, OUT]):
            w = params[i]
            s += w * w
            if abs(w) < threshold:
                small += 1
            count += 1
    return math.sqrt(s), small / max(count, 1)


@kernel
def _evaluate(layout, fparams, params, running, X, Y, labels, loss_code, lparams, acc_kind, work, dy):
    """(mean data loss, accuracy) of a whole split in eval mode, EVAL_CHUNK rows per forward pass.

    Chunk losses are weighted by their rows (every loss here is a mean over rows, or over rows·K
    with K fixed), which is the loss of the whole split up to rounding.
    """
    n = X.shape[0]
    total = 0.0
    correct = 0
    ch = dy.shape[0]
    for s in range(0, n, ch):
        m = min(ch, n - s)
        yhat = mlp_forward(layout, fparams, params, X[s:s + m], as_int(EVAL_RUNNING), as_int(0), as_int(0),
                           running, work)
        total += loss_value_grad(loss_code, yhat, Y[s:s + m], lparams, dy[:m]) * m
        if acc_kind == ACC_SIGN:
            for i in range(m):
                if (yhat[i, 0] > 0.0) == (labels[s + i] > 0.5):
                    correct += 1
        elif acc_kind == ACC_ARGMAX:
            k = yhat.shape[1]
            for i in range(m):
                best = 0
                for j in range(1, k):
                    if yhat[i, j] > yhat[i, best]:
                        best = j
                if best == int(labels[s + i]):
                    correct += 1
    acc = correct / n if acc_kind != ACC_NONE else math.nan
    return total / n, acc


@kernel
def _forward_chunks(layout, fparams, params, running, X, work, out):
    """out = ŷ of X in eval mode (EVAL_CHUNK rows per pass): the prediction a frontend draws."""
    n = X.shape[0]
    ch = EVAL_CHUNK
    for s in range(0, n, ch):
        m = min(ch, n - s)
        yhat = mlp_forward(layout, fparams, params, X[s:s + m], as_int(EVAL_RUNNING), as_int(0), as_int(0),
                           running, work)
        for i in range(m):
            for j in range(yhat.shape[1]):
                out[s + i, j] = yhat[i, j]


@kernel
def _copy(src, dst):
    for i in range(src.shape[0]):
        dst[i] = src[i]


@kernel
def _train_epochs(layout, fparams, loss_code, lparams, acc_kind, X, Y, lab, Xv, Yv, labv,
                  opt_code, hp, lrs, l1, l2, clip_kind, clip_arg, batch, shuffle_seed, drop_seed,
                  patience, min_delta, restore, e0, e1,
                  params, running, ostate, oscal, best_params, best_running, snap_params, snap_running,
                  es, hist, order, grad, work, Xb, Yb, dy):
    """Run epochs e0 .. e1-1 (0-based) of one training run, all state in the arrays passed.

    Returns the number of epochs completed in this call; ``es`` holds the status and the
    early-stopping state (``patience < 0`` disables early stopping), ``hist[e]`` each epoch's record.
    Nothing is allocated: the caller sizes ``work`` for max(batch, EVAL_CHUNK) rows, ``Xb``/``Yb`` for
    ``batch`` rows and ``dy`` for EVAL_CHUNK rows.
    """
    n = X.shape[0]
    nb = (n + batch - 1) // batch
    nin = X.shape[1]
    nout = Y.shape[1]
    done = 0
    for e in range(e0, e1):
        if es[ES_STATUS] != RUNNING:
            break
        _copy(params, snap_params)
        _copy(running, snap_running)
        _shuffle(shuffle_seed, e, order)
        lr = lrs[e]
        loss_sum = 0.0
        gn_sum = 0.0
        bad = False
        for b in range(nb):
            s = b * batch
            m = min(batch, n - s)
            for i in range(m):
                r = order[s + i]
                for j in range(nin):
                    Xb[i, j] = X[r, j]
                for j in range(nout):
                    Yb[i, j] = Y[r, j]
            t = e * nb + b + 1
            loss = mlp_loss_grad(layout, fparams, params, Xb[:m], Yb[:m], loss_code, lparams, as_int(TRAIN_UPDATE),
                                 drop_seed, t, running, grad, work)
            if l1 != 0.0 or l2 != 0.0:
                loss += _penalty(layout, params, grad, l1, l2, as_bool(True))
            if clip_kind == CLIP_NORM:
                gn = clip_grad_norm(grad, clip_arg)
            else:
                gn = grad_norm(grad)
                if clip_kind == CLIP_VALUE:
                    clip_grad_value(grad, clip_arg)
            if not (math.isfinite(loss) and math.isfinite(gn)):
                bad = True
                break
            loss_sum += loss
            gn_sum += gn
            optimizer_step(opt_code, hp, params, grad, ostate, oscal, t, lr)
        tr_loss = math.nan
        va_loss = math.nan
        tr_acc = math.nan
        va_acc = math.nan
        if not bad:
            tr_loss, tr_acc = _evaluate(layout, fparams, params, running, X, Y, lab, loss_code, lparams, acc_kind,
                                        work, dy)
            va_loss, va_acc = _evaluate(layout, fparams, params, running, Xv, Yv, labv, loss_code, lparams,
                                        acc_kind, work, dy)
            wn, sp = _weight_stats(layout, params, SPARSITY_THRESHOLD)
            pen = _penalty(layout, params, grad, l1, l2, as_bool(False))
            bad = not (math.isfinite(tr_loss) and math.isfinite(va_loss) and math.isfinite(wn)
                       and math.isfinite(pen) and math.isfinite(loss_sum) and math.isfinite(gn_sum))
        if bad:
            # back to the end of the last completed epoch (or, when restoring, to the best epoch below)
            _copy(snap_params, params)
            _copy(snap_running, running)
            es[ES_STATUS] = DIVERGED
            es[ES_STOPPED] = e + 1
            break
        hist[e, H_TRAIN] = tr_loss
        hist[e, H_VAL] = va_loss
        hist[e, H_TRAIN_ACC] = tr_acc
        hist[e, H_VAL_ACC] = va_acc
        hist[e, H_LR] = lr
        hist[e, H_GRAD] = gn_sum / nb
        hist[e, H_WNORM] = wn
        hist[e, H_SPARSE] = sp
        hist[e, H_BATCH] = loss_sum / nb
        hist[e, H_PEN] = pen
        es[ES_EPOCHS] = e + 1
        done += 1
        # Keras EarlyStopping.on_epoch_end (mode "min"); best tracking also serves best_epoch
        es[ES_WAIT] += 1
        if va_loss + min_delta < es[ES_BEST]:
            es[ES_BEST] = va_loss
            es[ES_BEST_EPOCH] = e + 1
            es[ES_WAIT] = 0
            if restore:
                _copy(params, best_params)
                _copy(running, best_running)
                es[ES_HAVE_BEST] = 1
        elif patience >= 0 and es[ES_WAIT] >= patience and e > 0:
            es[ES_STATUS] = EARLY_STOPPED
            es[ES_STOPPED] = e + 1
            break
        if e == lrs.shape[0] - 1:
            es[ES_STATUS] = COMPLETED
            es[ES_STOPPED] = e + 1
    if es[ES_STATUS] != RUNNING and restore and es[ES_HAVE_BEST] == 1:
        # Keras on_train_end: restore the best epoch's weights
        _copy(best_params, params)
        _copy(best_running, running)
    return done


# =============================================================================================
# Public API: resolve a request, run it, report
# =============================================================================================
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
    loss_name: str
    loss_code: int
    lparams: np.ndarray
    acc_kind: int
    Y: np.ndarray  # training targets in the loss's format [n_train, K]
    Yv: np.ndarray
    lab: np.ndarray  # class indices (float64) [n_train] (zeros for regression)
    labv: np.ndarray
    optimizer: Any  # engine.optimizers.Optimizer (its weight_decay possibly replaced)
    lrs: np.ndarray  # lr per epoch
    schedule: dict | None
    reg: Regularization
    epochs: int
    batch_size: int
    clip_kind: int
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


@dataclass(frozen=True, eq=False)
class History:
    """Columnar per-epoch records (row e = epoch e + 1); accuracies are empty for regression."""

    train_loss: np.ndarray
    val_loss: np.ndarray
    train_accuracy: np.ndarray
    val_accuracy: np.ndarray
    lr: np.ndarray
    grad_norm: np.ndarray
    weight_norm: np.ndarray
    sparsity: np.ndarray
    batch_loss: np.ndarray
    penalty: np.ndarray

    def record(self, e: int) -> dict:
        """Epoch e's record (0-based row), as the stream sends it: ``{"epoch": e + 1, column: value}``."""
        out: dict = {"epoch": e + 1}
        for c in COLUMNS:
            col = getattr(self, c)
            if col.size:
                out[c] = float(col[e])
        return out

    def __len__(self) -> int:
        return int(self.train_loss.shape[0])


@dataclass(frozen=True, eq=False)
class Prediction:
    """What a frontend draws: the fitted curve (regression) or the decision surface (classification).

    ``kind == "line"``: ``x`` [P] and ``y`` [P] (the network's output on a line over the dataset's
    domain). ``kind == "grid"``: ``x`` [nx], ``y`` [ny] axes and, on the grid [ny, nx] (row = y),
    ``label`` (predicted class) and ``confidence``: the predicted class's probability (softmax for
    cross-entropy, sigmoid of the logit for bce_with_logits) or, for hinge, ``0.5 + 0.5·min(|s|, 1)``
    (1 at or beyond the margin). Values are finite (a non-finite output would be flagged by
    ``finite = False`` and zeroed).
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    label: np.ndarray | None = None
    confidence: np.ndarray | None = None
    finite: bool = True


@dataclass(frozen=True, eq=False)
class TrainingResult:
    history: History
    best_epoch: int  # 1-based; 0 if no epoch completed
    stopped_epoch: int
    epochs_run: int
    stop_reason: str  # completed | early_stopping | diverged
    restored_best: bool  # the returned weights are the best epoch's
    final_train_loss: float | None  # of the returned weights (None if not finite)
    final_val_loss: float | None
    final_train_accuracy: float | None
    final_val_accuracy: float | None
    params: np.ndarray  # the returned weights (flat, engine.mlp layout)
    prediction: Prediction
    settings: dict = field(default_factory=dict)  # the resolved request, for echoing


# -- resolving the request ----------------------------------------------------------------------


def _mapping(value, field_: str) -> dict:
    if value is None:
        return {}
    if not isinstance(value, Mapping):
        raise EngineInputError(field_, "must be an object")
    return dict(value)


def _seeds(seed: int) -> tuple[int, int, int]:
    init_seed, shuffle_seed, dropout_seed = np.random.SeedSequence(seed).generate_state(3, dtype=np.uint32)
    return int(init_seed), int(shuffle_seed), int(dropout_seed)


def resolve_regularization(spec, field_: str = "regularization") -> Regularization:
    p = resolve_params(REGULARIZATION_PARAMS, _mapping(spec, field_), field_)
    wd = p["weight_decay"]
    if wd is not None:
        if isinstance(wd, bool) or not isinstance(wd, (int, float)) or not math.isfinite(wd) or not 0 <= wd <= 10:
            raise EngineInputError(f"{field_}.weight_decay", "must be a number in [0, 10]")
        wd = float(wd)
    return Regularization(p["l1"], p["l2"], p["dropout"], wd)


def _with_weight_decay(opt_spec: dict, wd: float | None):
    spec = dict(opt_spec)
    if wd is not None:
        spec["weight_decay"] = wd
    return resolve_optimizer(spec)


def _targets(data: Dataset, n_out: int, loss: str | None, loss_params: dict | None):
    """Choose/validate the loss for the task and the output width; targets and labels in its format."""
    if data.task == CLASSIFICATION:
        k = data.n_classes
        if n_out == 1 and k == 2:
            allowed = BINARY_LOSSES
        elif n_out == k:
            allowed = MULTICLASS_LOSSES
        else:
            raise EngineInputError("model.layers", f"the last width must be 1 (binary) or n_classes={k} "
                                                   f"for dataset {data.name!r}")
    else:
        if n_out != 1:
            raise EngineInputError("model.layers", "a regression dataset needs 1 output unit")
        allowed = REGRESSION_LOSSES
    name = allowed[0] if loss is None else loss
    if name not in allowed:
        raise EngineInputError("loss", f"{name!r} does not fit this task and output width; choose one of: "
                                       f"{', '.join(allowed)}")
    try:
        r = resolve_loss(name, loss_params)
    except EngineInputError as err:
        raise EngineInputError(err.field.replace("params", "loss_params", 1), err.message) from None

    def fmt(Y):
        lab = np.ascontiguousarray(Y[:, 0], dtype=np.float64)
        if data.task != CLASSIFICATION:
            return np.ascontiguousarray(Y), np.zeros(Y.shape[0]), ACC_NONE
        if name == "hinge":
            return np.ascontiguousarray(2.0 * Y - 1.0), lab, ACC_SIGN
        if name == "bce_with_logits":
            return np.ascontiguousarray(Y), lab, ACC_SIGN
        onehot = np.zeros((Y.shape[0], n_out))
        onehot[np.arange(Y.shape[0]), lab.astype(np.int64)] = 1.0
        return onehot, lab, ACC_ARGMAX

    Ytr, lab, acc = fmt(data.Y_train)
    Yv, labv, _ = fmt(data.Y_val)
    return r, Ytr, lab, Yv, labv, acc


def _work(net: MLP, n_train: int, n_val: int, epochs: int, batch_size: int, pred_points: int,
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


def prepare(dataset: Mapping, model: Mapping, optimizer: Mapping | None = None, schedule: Mapping | None = None,
            regularization: Mapping | None = None, epochs: int = 100, batch_size: int = 32,
            early_stopping: Mapping | None = None, clip: Mapping | None = None, loss: str | None = None,
            loss_params: Mapping | None = None, seed: int = 0, prediction: Mapping | None = None,
            variants: int = 1, params0: np.ndarray | None = None) -> TrainingSetup:
    """Validate a training request and build everything a run needs (no epoch runs here).

    ``model``: ``{"layers": [...], "activation", "output_activation", "residual", "batch_norm", "init",
    "activation_params"}`` (engine.mlp.build_mlp; dropout comes from ``regularization``).
    Refuses: unknown names, out-of-range values, a loss that does not fit the task, batch norm with a
    1-row last batch, and work above ``max_training_work``.
    """
    ds = _mapping(dataset, "dataset")
    if "name" not in ds:
        raise EngineInputError("dataset.name", "required")
    name = ds.pop("name")
    data = make_dataset(name, ds)
    epochs = check_int("epochs", epochs, 1, "max_epochs")
    seed = check_int("seed", seed, 0)
    if seed > 2**32 - 1:
        raise EngineInputError("seed", "must be < 2**32")
    reg = resolve_regularization(regularization)
    m = _mapping(model, "model")
    allowed = {"layers", "activation", "activation_params", "output_activation", "residual", "batch_norm", "init"}
    unknown = sorted(set(m) - allowed)
    if unknown:
        raise EngineInputError(f"model.{unknown[0]}", f"unknown key; accepted: {', '.join(sorted(allowed))}")
    if "layers" not in m:
        raise EngineInputError("model.layers", "required")
    try:
        net = build_mlp(m["layers"], m.get("activation", "relu"), m.get("output_activation", "identity"),
                        m.get("residual", False), m.get("batch_norm", False), reg.dropout,
                        m.get("activation_params"))
    except EngineInputError as err:
        f = err.field if err.field.startswith("model.") or err.field == "dropout" else f"model.{err.field}"
        if err.field == "dropout":
            f = "regularization.dropout"
        raise EngineInputError(f, err.message) from None
    if net.widths[0] != data.n_inputs:
        raise EngineInputError("model.layers", f"the first width must be {data.n_inputs} (inputs of {data.name!r})")
    batch_size = check_int("batch_size", batch_size, 1, "max_batch")
    n_train = data.X_train.shape[0]
    if net.batch_norm and n_train % batch_size == 1:
        raise EngineInputError("batch_size", "with batch_norm the last mini-batch would hold 1 row "
                                             "(torch: 'Expected more than 1 value per channel'); change batch_size")
    if net.batch_norm and n_train == 1:
        raise EngineInputError("dataset.n_train", "batch_norm needs at least 2 rows")
    r, Ytr, lab, Yv, labv, acc = _targets(data, net.widths[-1], loss, loss_params)
    opt_spec = _mapping(optimizer, "optimizer") or {"name": "adam"}
    opt = _with_weight_decay(opt_spec, reg.weight_decay)
    sched_echo = None
    if schedule:
        try:
            sv = schedule_values(dict(schedule), opt.lr, epochs)
        except EngineInputError as err:
            f = ("optimizer.lr" if err.field == "base_lr"
                 else err.field if err.field.startswith("schedule") else "schedule")
            raise EngineInputError(f, err.message) from None
        lrs, sched_echo = sv.lr, {"name": sv.name, **sv.params}
    else:
        lrs = np.full(epochs, opt.lr)
    es = None
    if early_stopping is not None:
        es = resolve_params(EARLY_STOPPING_PARAMS, _mapping(early_stopping, "early_stopping"), "early_stopping")
    clip_kind, clip_arg = CLIP_NONE, 0.0
    c = _mapping(clip, "clip")
    if c:
        if set(c) - {"max_norm", "max_value"} or len(c) != 1:
            raise EngineInputError("clip", "give exactly one of max_norm or max_value")
        (key, val), = c.items()
        if isinstance(val, bool) or not isinstance(val, (int, float)) or not math.isfinite(val) or val <= 0:
            raise EngineInputError(f"clip.{key}", "must be a finite number > 0")
        clip_kind, clip_arg = (CLIP_NORM if key == "max_norm" else CLIP_VALUE), float(val)
    pred = resolve_params(PREDICTION_PARAMS, _mapping(prediction, "prediction"), "prediction")
    check_max("prediction.points", pred["points"], "max_prediction_axis")
    check_max("prediction.grid", pred["grid"], "max_prediction_axis")
    pred_points = pred["points"] if data.task != CLASSIFICATION else pred["grid"] ** 2
    work = _work(net, n_train, data.X_val.shape[0], epochs, batch_size, pred_points, variants)
    if work > LIMITS["max_training_work"]:
        raise EngineInputError("epochs", f"the request's work {work:,} (epochs x samples x parameters x variants, "
                                         f"engine.training._work) exceeds limit max_training_work="
                                         f"{LIMITS['max_training_work']:,}; use fewer epochs, samples or parameters")
    init_seed, shuffle_seed, dropout_seed = _seeds(seed)
    if params0 is None:
        try:
            params0 = init_params(net, m.get("init"), init_seed, field="model.init")
        except EngineInputError as err:
            f = err.field if err.field.startswith("model.") else f"model.{err.field}"
            raise EngineInputError(f, err.message) from None
    return TrainingSetup(
        data=data, net=net, loss_name=r.name, loss_code=r.code, lparams=r.lparams, acc_kind=acc,
        Y=Ytr, Yv=Yv, lab=lab, labv=labv, optimizer=opt, lrs=lrs,
        schedule=sched_echo, reg=reg, epochs=epochs, batch_size=batch_size,
        clip_kind=clip_kind, clip_arg=clip_arg, clip=dict(c) or None, early_stopping=es, seed=seed,
        init_seed=init_seed, shuffle_seed=shuffle_seed, dropout_seed=dropout_seed, params0=params0,
        prediction=pred, work=work,
    )


# -- run state ----------------------------------------------------------------------------------
@dataclass(eq=False)
class _RunState:
    """Every array one run's kernel reads and writes; carried between chunks of epochs."""

    params: np.ndarray
    running: np.ndarray
    ostate: np.ndarray
    oscal: np.ndarray
    best_params: np.ndarray
    best_running: np.ndarray
    snap_params: np.ndarray
    snap_running: np.ndarray
    es: np.ndarray
    hist: np.ndarray
    order: np.ndarray
    grad: np.ndarray
    work: np.ndarray
    Xb: np.ndarray
    Yb: np.ndarray
    dy: np.ndarray


def _es_config(s: TrainingSetup) -> tuple[int, float, int]:
    if s.early_stopping is None:
        return -1, 0.0, 0
    return int(s.early_stopping["patience"]), float(s.early_stopping["min_delta"]), \
        int(bool(s.early_stopping["restore_best_weights"]))


def _new_state(s: TrainingSetup, fparams: np.ndarray | None = None) -> _RunState:
    net = s.net
    fp = net.fparams if fparams is None else fparams
    n_out = net.widths[-1]
    es = np.zeros(ES_SIZE)
    es[ES_BEST] = math.inf
    running = new_running(net)
    ostate, oscal = new_state(s.optimizer, net.n_params)
    rows = max(s.batch_size, EVAL_CHUNK)
    return _RunState(
        params=s.params0.copy(), running=running, ostate=ostate, oscal=oscal,
        best_params=s.params0.copy(), best_running=running.copy(),
        snap_params=s.params0.copy(), snap_running=running.copy(), es=es,
        hist=np.full((s.epochs, NCOLS), np.nan), order=np.zeros(s.data.X_train.shape[0], dtype=np.int64),
        grad=np.zeros(net.n_params), work=np.zeros(int(workspace_size(net.layout, fp, rows))),
        Xb=np.zeros((s.batch_size, net.widths[0])), Yb=np.zeros((s.batch_size, n_out)),
        dy=np.zeros((EVAL_CHUNK, n_out)),
    )


def _run(s: TrainingSetup, st: _RunState, e0: int, e1: int) -> int:
    d = s.data
    patience, min_delta, restore = _es_config(s)
    return int(_train_epochs(
        s.net.layout, s.net.fparams, s.loss_code, s.lparams, s.acc_kind, d.X_train, s.Y, s.lab, d.X_val, s.Yv,
        s.labv, s.optimizer.code, s.optimizer.hp, s.lrs, s.reg.l1, s.reg.l2, s.clip_kind, s.clip_arg,
        s.batch_size, s.shuffle_seed, s.dropout_seed, patience, min_delta, restore, e0, e1,
        st.params, st.running, st.ostate, st.oscal, st.best_params, st.best_running, st.snap_params,
        st.snap_running, st.es, st.hist, st.order, st.grad, st.work, st.Xb, st.Yb, st.dy))


# -- reporting ----------------------------------------------------------------------------------
def _history(s: TrainingSetup, hist: np.ndarray, n: int) -> History:
    cols = {}
    for k, c in enumerate(COLUMNS):
        col = np.ascontiguousarray(hist[:n, k])
        if c in ("train_accuracy", "val_accuracy") and s.acc_kind == ACC_NONE:
            col = np.zeros(0)
        cols[c] = col
    return History(**cols)


def _record(s: TrainingSetup, row: np.ndarray, e: int) -> dict:
    """Epoch e's record from its history row (what ``History.record(e)`` gives for the whole run)."""
    out: dict = {"epoch": e + 1}
    for k, c in enumerate(COLUMNS):
        if c in ("train_accuracy", "val_accuracy") and s.acc_kind == ACC_NONE:
            continue
        out[c] = float(row[k])
    return out


def _finite_or_none(v: float) -> float | None:
    return float(v) if math.isfinite(v) else None


def _predict(s: TrainingSetup, fparams: np.ndarray, params: np.ndarray, running: np.ndarray,
             work: np.ndarray) -> Prediction:
    d = s.data
    lo, hi = d.domain[:, 0], d.domain[:, 1]
    if d.task != CLASSIFICATION:
        x = np.linspace(lo[0], hi[0], s.prediction["points"])
        out = np.empty((x.size, 1))
        _forward_chunks(s.net.layout, fparams, params, running, np.ascontiguousarray(x.reshape(-1, 1)), work, out)
        y = out[:, 0]
        ok = bool(np.all(np.isfinite(y)))
        return Prediction("line", x, np.where(np.isfinite(y), y, 0.0), finite=ok)
    g = s.prediction["grid"]
    gx = np.linspace(lo[0], hi[0], g)
    gy = np.linspace(lo[1], hi[1], g)
    XX, YY = np.meshgrid(gx, gy)
    pts = np.ascontiguousarray(np.stack([XX.ravel(), YY.ravel()], axis=1))
    out = np.empty((pts.shape[0], s.net.widths[-1]))
    _forward_chunks(s.net.layout, fparams, params, running, pts, work, out)
    ok = bool(np.all(np.isfinite(out)))
    out = np.where(np.isfinite(out), out, 0.0)
    if s.loss_name == "cross_entropy_with_logits":
        z = out - out.max(axis=1, keepdims=True)
        p = np.exp(z)
        p /= p.sum(axis=1, keepdims=True)
        label = p.argmax(axis=1)
        conf = p.max(axis=1)
    else:
        z = out[:, 0]
        label = (z > 0).astype(np.int64)
        if s.loss_name == "hinge":
            conf = 0.5 + 0.5 * np.minimum(np.abs(z), 1.0)
        else:
            p1 = 0.5 * (1.0 + np.tanh(0.5 * z))  # σ(z) without overflow
            conf = np.maximum(p1, 1.0 - p1)
    return Prediction("grid", gx, gy, label.reshape(g, g).astype(np.int64), conf.reshape(g, g), ok)


def _settings(s: TrainingSetup) -> dict:
    out = {
        "dataset": {"name": s.data.name, **s.data.params},
        "layers": list(s.net.widths),
        "n_params": s.net.n_params,
        "loss": s.loss_name,
        "optimizer": {"name": s.optimizer.name, **s.optimizer.params},
        "schedule": s.schedule,
        "schedule_stepping": "per epoch",
        "regularization": {"l1": s.reg.l1, "l2": s.reg.l2, "dropout": s.reg.dropout,
                           "weight_decay": s.optimizer.params.get("weight_decay")},
        "early_stopping": s.early_stopping,
        "clip": s.clip,
        "epochs": s.epochs,
        "batch_size": s.batch_size,
        "seed": s.seed,
        "sparsity_threshold": SPARSITY_THRESHOLD,
        "work": s.work,
    }
    if "betas" in out["optimizer"]:
        out["optimizer"]["betas"] = list(out["optimizer"]["betas"])
    return out


def _result(s: TrainingSetup, st: _RunState, fparams: np.ndarray | None = None) -> TrainingResult:
    fp = s.net.fparams if fparams is None else fparams
    n = int(st.es[ES_EPOCHS])
    hist = _history(s, st.hist, n)
    status = int(st.es[ES_STATUS])
    _, _, restore = _es_config(s)
    restored = bool(restore and st.es[ES_HAVE_BEST] == 1)
    d = s.data
    trl, tra = _evaluate(s.net.layout, fp, st.params, st.running, d.X_train, s.Y, s.lab, s.loss_code, s.lparams,
                         s.acc_kind, st.work, st.dy)
    val, vaa = _evaluate(s.net.layout, fp, st.params, st.running, d.X_val, s.Yv, s.labv, s.loss_code, s.lparams,
                         s.acc_kind, st.work, st.dy)
    return TrainingResult(
        history=hist,
        best_epoch=int(st.es[ES_BEST_EPOCH]),
        stopped_epoch=int(st.es[ES_STOPPED]),
        epochs_run=n,
        stop_reason=STOP_REASONS.get(status, "completed"),
        restored_best=restored,
        final_train_loss=_finite_or_none(trl),
        final_val_loss=_finite_or_none(val),
        final_train_accuracy=_finite_or_none(tra) if s.acc_kind != ACC_NONE else None,
        final_val_accuracy=_finite_or_none(vaa) if s.acc_kind != ACC_NONE else None,
        params=st.params.copy(),
        prediction=_predict(s, fp, st.params, st.running, st.work),
        settings=_settings(s),
    )


def train(**request) -> TrainingResult:
    """Train as ``request`` says (the keyword arguments of ``prepare``); every epoch in one kernel call."""
    s = prepare(**request)
    st = _new_state(s)
    # epochs [a, b) per kernel call under a deadline (engine.deadline), as the stream does one by one
    run_chunked(s.epochs, lambda a, b: _run(s, st, a, b) == 0 or st.es[ES_STATUS] != RUNNING, "training epochs")
    return _result(s, st)


class TrainingStream:
    """An iterator over a run's epoch records, one kernel call per epoch, then ``.result``.

    ``for rec in TrainingStream(setup): ...`` yields ``History.record`` dicts as epochs complete;
    after the last one ``.result`` holds the ``TrainingResult`` (identical to ``train``'s). Stop
    iterating (or call ``close()``) and no further epoch is computed; ``epochs_computed`` says how
    many were.
    """

    def __init__(self, setup: TrainingSetup):
        self.setup = setup
        self._st = _new_state(setup)
        self._e = 0
        self.epochs_computed = 0
        self.result: TrainingResult | None = None
        self._closed = False

    def __iter__(self) -> Iterator[dict]:
        return self

    def __next__(self) -> dict:
        s, st = self.setup, self._st
        if self._closed or self.result is not None:
            raise StopIteration
        while self._e < s.epochs and st.es[ES_STATUS] == RUNNING:
            e = self._e
            done = _run(s, st, e, e + 1)
            self._e += 1
            self.epochs_computed += 1
            if done == 1:
                return _record(s, st.hist[e], e)
        self.result = _result(s, st)
        raise StopIteration

    def close(self) -> None:
        self._closed = True


def stream(**request) -> TrainingStream:
    """``train``'s run as an iterator of per-epoch records (validation happens here, before any epoch)."""
    return TrainingStream(prepare(**request))


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch ``epoch`` (0-based) of a run with ``seed`` visits the n training rows."""
    _, shuffle_seed, _ = _seeds(int(seed))
    order = np.zeros(int(n), dtype=np.int64)
    _shuffle(shuffle_seed, int(epoch), order)
    return order


def describe() -> list[dict]:
    """Catalog entry for training: conventions, parameters, allowed losses, history columns."""
    return [{
        "name": "training",
        "schedule_stepping": "per epoch: epoch e uses lr[e] of engine.schedules (steps = epochs)",
        "l1_l2": "added to each mini-batch loss, on weight matrices only (not biases, not BN): "
                 "loss + l1*sum|W| + l2*sum W^2",
        "early_stopping": "Keras EarlyStopping(monitor='val_loss'): improvement = val < best - min_delta; "
                          "stop when wait >= patience; restore_best_weights at the end",
        "regularization": [p.to_dict() for p in REGULARIZATION_PARAMS],
        "early_stopping_params": [p.to_dict() for p in EARLY_STOPPING_PARAMS],
        "prediction": [p.to_dict() for p in PREDICTION_PARAMS],
        "losses": {"regression": list(REGRESSION_LOSSES), "binary (1 output)": list(BINARY_LOSSES),
                   "multiclass (n_classes outputs)": list(MULTICLASS_LOSSES)},
        "history": list(COLUMNS),
        "sparsity_threshold": SPARSITY_THRESHOLD,
        "stop_reasons": list(STOP_REASONS.values()),
    }]


def _warmup() -> None:
    """Compile the training kernels once (one regression, one classification run on tiny data)."""
    train(dataset={"name": "sine", "n_train": 6, "n_val": 4}, model={"layers": [1, 3, 1], "activation": "tanh"},
          optimizer={"name": "sgd", "lr": 0.1}, epochs=2, batch_size=4, early_stopping={"patience": 1},
          regularization={"l1": 0.01, "dropout": 0.1}, clip={"max_norm": 1.0}, prediction={"points": 4})
    train(dataset={"name": "blobs", "n_train": 6, "n_val": 4, "n_classes": 3}, model={"layers": [2, 3, 3]},
          optimizer={"name": "adam"}, epochs=1, batch_size=4, prediction={"grid": 2})
