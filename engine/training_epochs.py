"""Training's epoch kernel: epochs of shuffled mini-batches on one run's arrays, nothing allocated.

``train_epochs(model, data, opt, rules, run, scratch, e0, e1)`` runs epochs e0..e1-1 of one run; every
argument is one of the NamedTuples below (or an int), so ``engine.training`` runs a whole request in
one call, ``TrainingStream`` one epoch per call, and ``engine.regularization`` one run per thread
(``engine.threads`` over variants, each with its own rows). What one epoch does is ``engine.training``'s
docstring; the order inside the kernel:

    1) shuffle (``shuffle``: Fisher–Yates on engine.rng's counter-based uniforms, a function of
       (seed, epoch)); 2) each mini-batch: gather rows, ``mlp_loss_grad`` in mode TRAIN_UPDATE, the
       penalty, ``clip_gradient``, ``optimizer_step``; 3) the epoch's end: evaluate both splits in
       eval mode and write the history row ``hist[e]`` (columns ``COLUMNS``); 4) early stopping (Keras).

A new per-epoch quantity (say the sharpness: the top Hessian eigenvalue every k epochs) is a new entry
of ``COLUMNS``, a field of ``Rules`` (its period) and a few lines at the epoch's end in
``train_epochs``; the recording, the stream and the response schema follow ``COLUMNS``.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._jit import as_bool, as_int, kernel
from .clipping import clip_gradient
from .losses import loss_value_grad
from .mlp import new_running as new_running_stats
from .mlp_kernels import EVAL_RUNNING, IN, OUT, TRAIN_UPDATE, W_OFF, mlp_forward, mlp_loss_grad, workspace_size
from .optimizers import OptimizerArgs, new_state, optimizer_step
from .rng import key_uniform, stream_key
from .tasks import ACC_ARGMAX, ACC_NONE, ACC_SIGN

SPARSITY_THRESHOLD = 1e-3  # |w| below this counts as "near zero" in history.sparsity
EVAL_CHUNK = 256  # rows per forward pass when evaluating a whole split or the prediction grid

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


class Model(NamedTuple):
    """The network and how its outputs are scored."""

    layout: np.ndarray  # engine.mlp layout
    fparams: np.ndarray
    loss_code: int
    lparams: np.ndarray
    acc_kind: int  # engine.tasks ACC_*


class Data(NamedTuple):
    """Both splits: inputs, targets in the loss's format, class indices (float64; zeros for regression)."""

    X: np.ndarray
    Y: np.ndarray
    lab: np.ndarray
    Xv: np.ndarray
    Yv: np.ndarray
    labv: np.ndarray


class Rules(NamedTuple):
    """Per-step and per-epoch rules: penalty, clipping, batching, seeds, early stopping."""

    l1: float
    l2: float
    clip_kind: int  # engine.clipping code
    clip_arg: float
    batch: int
    shuffle_seed: int
    drop_seed: int
    patience: int  # < 0: no early stopping
    min_delta: float
    restore: int  # 1: restore the best epoch's weights at the end


class RunState(NamedTuple):
    """Everything a run carries from one epoch to the next (``engine.training`` allocates it)."""

    params: np.ndarray
    running: np.ndarray  # BN running statistics
    ostate: np.ndarray  # optimizer state rows
    oscal: np.ndarray
    best_params: np.ndarray
    best_running: np.ndarray
    snap_params: np.ndarray  # the weights at the start of the epoch (restored on divergence)
    snap_running: np.ndarray
    es: np.ndarray  # (ES_SIZE,) status and early-stopping state
    hist: np.ndarray  # (epochs, NCOLS)


class Scratch(NamedTuple):
    """Buffers the kernel overwrites: ``work`` sized for max(batch, EVAL_CHUNK) rows, ``Xb``/``Yb`` for
    ``batch`` rows, ``dy`` for EVAL_CHUNK rows."""

    order: np.ndarray
    grad: np.ndarray
    work: np.ndarray
    Xb: np.ndarray
    Yb: np.ndarray
    dy: np.ndarray


@kernel
def shuffle(seed, epoch, order):
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
def evaluate(layout, fparams, params, running, X, Y, labels, loss_code, lparams, acc_kind, work, dy):
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
def forward_chunks(layout, fparams, params, running, X, work, out):
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
def train_epochs(model, data, opt, rules, run, scratch, e0, e1):
    """Run epochs e0 .. e1-1 (0-based) of one training run, all state in ``run`` (module docstring).

    Returns the number of epochs completed in this call; ``run.es`` holds the status and the
    early-stopping state, ``run.hist[e]`` each epoch's record. Nothing is allocated.
    """
    X = data.X
    Y = data.Y
    es = run.es
    params = run.params
    running = run.running
    grad = scratch.grad
    Xb = scratch.Xb
    Yb = scratch.Yb
    order = scratch.order
    batch = rules.batch
    lrs = opt.lrs
    n = X.shape[0]
    nb = (n + batch - 1) // batch
    nin = X.shape[1]
    nout = Y.shape[1]
    done = 0
    for e in range(e0, e1):
        if es[ES_STATUS] != RUNNING:
            break
        _copy(params, run.snap_params)
        _copy(running, run.snap_running)
        shuffle(rules.shuffle_seed, e, order)
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
            loss = mlp_loss_grad(model.layout, model.fparams, params, Xb[:m], Yb[:m], model.loss_code, model.lparams,
                                 as_int(TRAIN_UPDATE), rules.drop_seed, t, running, grad, scratch.work)
            if rules.l1 != 0.0 or rules.l2 != 0.0:
                loss += _penalty(model.layout, params, grad, rules.l1, rules.l2, as_bool(True))
            gn = clip_gradient(rules.clip_kind, rules.clip_arg, grad, as_bool(True))
            if not (math.isfinite(loss) and math.isfinite(gn)):
                bad = True
                break
            loss_sum += loss
            gn_sum += gn
            optimizer_step(opt.code, opt.hp, params, grad, run.ostate, run.oscal, t, lr)
        if not bad:
            # epoch e's history row, both splits evaluated in eval mode; written out here, not as a kernel of
            # its own: numba compiles a callee on its own and LLVM optimizes it again in its caller (2.0 s of
            # the empty-cache warm-up)
            tr_loss, tr_acc = evaluate(model.layout, model.fparams, params, running, X, Y, data.lab, model.loss_code,
                                       model.lparams, model.acc_kind, scratch.work, scratch.dy)
            va_loss, va_acc = evaluate(model.layout, model.fparams, params, running, data.Xv, data.Yv, data.labv,
                                       model.loss_code, model.lparams, model.acc_kind, scratch.work, scratch.dy)
            wn, sp = _weight_stats(model.layout, params, SPARSITY_THRESHOLD)
            pen = _penalty(model.layout, params, scratch.grad, rules.l1, rules.l2, as_bool(False))
            bad = not (math.isfinite(tr_loss) and math.isfinite(va_loss) and math.isfinite(wn)
                       and math.isfinite(pen) and math.isfinite(loss_sum) and math.isfinite(gn_sum))
            if not bad:
                hist = run.hist
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
        if bad:
            # back to the end of the last completed epoch (or, when restoring, to the best epoch below)
            _copy(run.snap_params, params)
            _copy(run.snap_running, running)
            es[ES_STATUS] = DIVERGED
            es[ES_STOPPED] = e + 1
            break
        es[ES_EPOCHS] = e + 1
        done += 1
        # Keras EarlyStopping.on_epoch_end (mode "min"); best tracking also serves best_epoch
        va_loss = run.hist[e, H_VAL]
        es[ES_WAIT] += 1
        if va_loss + rules.min_delta < es[ES_BEST]:
            es[ES_BEST] = va_loss
            es[ES_BEST_EPOCH] = e + 1
            es[ES_WAIT] = 0
            if rules.restore:
                _copy(params, run.best_params)
                _copy(running, run.best_running)
                es[ES_HAVE_BEST] = 1
        elif rules.patience >= 0 and es[ES_WAIT] >= rules.patience and e > 0:
            es[ES_STATUS] = EARLY_STOPPED
            es[ES_STOPPED] = e + 1
            break
        if e == lrs.shape[0] - 1:
            es[ES_STATUS] = COMPLETED
            es[ES_STOPPED] = e + 1
    if es[ES_STATUS] != RUNNING and rules.restore and es[ES_HAVE_BEST] == 1:
        # Keras on_train_end: restore the best epoch's weights
        _copy(run.best_params, params)
        _copy(run.best_running, running)
    return done


# -- feeding the kernel from a prepared request (engine.training_setup.TrainingSetup) ------------


def kernel_args(s) -> tuple[Model, Data, OptimizerArgs, Rules]:
    """The kernel's read-only arguments for a prepared request ``s``."""
    d = s.data
    es = s.early_stopping
    patience, min_delta, restore = (-1, 0.0, 0) if es is None else (
        int(es["patience"]), float(es["min_delta"]), int(bool(es["restore_best_weights"])))
    model = Model(s.net.layout, s.net.fparams, s.loss_code, s.lparams, s.acc_kind)
    data = Data(d.X_train, s.Y, s.lab, d.X_val, s.Yv, s.labv)
    rules = Rules(s.reg.l1, s.reg.l2, s.clip_kind, s.clip_arg, s.batch_size, s.shuffle_seed, s.dropout_seed,
                  patience, min_delta, restore)
    return model, data, s.optimizer.args(s.lrs), rules


def new_run(s, copies: int | None = None, work_size: int | None = None) -> tuple[RunState, Scratch]:
    """A fresh run of ``s`` (initial weights, optimizer state, empty history) and its scratch buffers;
    ``copies`` = V gives every array a leading axis of V identical rows (one per variant), and
    ``work_size`` overrides the workspace's length (variants whose dropout differs need the largest)."""
    net = s.net
    n_out = net.widths[-1]
    es = np.zeros(ES_SIZE)
    es[ES_BEST] = math.inf
    running = new_running_stats(net)
    state, scal = new_state(s.optimizer, net.n_params)
    rows = max(s.batch_size, EVAL_CHUNK)
    run = RunState(s.params0.copy(), running, state, scal, s.params0.copy(), running.copy(), s.params0.copy(),
                   running.copy(), es, np.full((s.epochs, NCOLS), np.nan))
    scratch = Scratch(np.zeros(s.data.X_train.shape[0], dtype=np.int64), np.zeros(net.n_params),
                      np.zeros(int(workspace_size(net.layout, net.fparams, rows) if work_size is None else work_size)),
                      np.zeros((s.batch_size, net.widths[0])), np.zeros((s.batch_size, n_out)),
                      np.zeros((EVAL_CHUNK, n_out)))
    if copies is None:
        return run, scratch
    return (RunState(*(np.ascontiguousarray(np.stack([a] * copies)) for a in run)),
            Scratch(*(np.ascontiguousarray(np.stack([a] * copies)) for a in scratch)))


def run_epochs(s, run: RunState, scratch: Scratch, e0: int, e1: int) -> int:
    """Epochs e0..e1-1 of ``s`` on ``run``; the number completed."""
    model, data, opt, rules = kernel_args(s)
    return int(train_epochs(model, data, opt, rules, run, scratch, e0, e1))
