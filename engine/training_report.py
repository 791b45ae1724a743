"""Training's results: the columnar history, the drawn prediction, the settings echo, the result.

``result(setup, run)`` turns a finished (or stopped) run's arrays into a ``TrainingResult``: the
history columns of the completed epochs (``engine.training_epochs.COLUMNS``), the final losses of the
returned weights on both splits, the prediction a frontend draws, and the resolved request.
``epoch_record`` is one epoch's row as the stream sends it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .results import resultclass
from .datasets import CLASSIFICATION
from .tasks import ACC_NONE
from .training_epochs import (
    COLUMNS, ES_BEST_EPOCH, ES_EPOCHS, ES_HAVE_BEST, ES_STATUS, ES_STOPPED, SPARSITY_THRESHOLD, STOP_REASONS,
    RunState, Scratch, evaluate, forward_chunks,
)
from .training_setup import TrainingSetup


@resultclass(columns=True)
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
    # the curvature option's records (engine.edge_of_stability.HISTORY), one entry per record; empty without it
    sharpness_epoch: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # 1-based epoch
    sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0))  # λ_max(H)
    preconditioned_sharpness: np.ndarray = field(default_factory=lambda: np.zeros(0))  # λ_max(P⁻¹H); adaptive only
    threshold: np.ndarray = field(default_factory=lambda: np.zeros(0))  # stability threshold (empty: none known)
    sharpness_lr: np.ndarray = field(default_factory=lambda: np.zeros(0))  # lr of the step after the record
    sharpness_matvecs: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))  # HVPs per record

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


@resultclass
@dataclass(frozen=True, eq=False)
class Prediction:
    """What a frontend draws: the fitted curve (regression) or the decision surface (classification).

    ``kind == "line"``: ``x`` [P] and ``y`` [P] (the network's output on a line over the dataset's
    domain). ``kind == "grid"``: ``x`` [nx], ``y`` [ny] axes and, on the grid [ny, nx] (row = y),
    ``label`` (predicted class) and ``confidence``: the predicted class's probability (softmax for
    cross-entropy, sigmoid of the logit for bce_with_logits) or, for hinge, ``0.5 + 0.5·min(|s|, 1)``
    (1 at or beyond the margin). ``kind == "none"`` (empty arrays): the user's own data has more inputs
    than a line (regression, 1) or a plane (classification, 2) can show. Values are finite (a non-finite output would be flagged by
    ``finite = False`` and zeroed).
    """

    kind: str
    x: np.ndarray
    y: np.ndarray
    label: np.ndarray | None = None
    confidence: np.ndarray | None = None
    finite: bool = True


@resultclass
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


def history(s: TrainingSetup, hist: np.ndarray, n: int, extra: dict | None = None) -> History:
    cols = dict(extra or {})
    for k, c in enumerate(COLUMNS):
        col = np.ascontiguousarray(hist[:n, k])
        if c in ("train_accuracy", "val_accuracy") and s.acc_kind == ACC_NONE:
            col = np.zeros(0)
        cols[c] = col
    return History(**cols)


def epoch_record(s: TrainingSetup, row: np.ndarray, e: int) -> dict:
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
    if d.n_inputs != (2 if d.task == CLASSIFICATION else 1):  # the user's own data: nothing to draw on a plane
        return Prediction("none", np.zeros(0), np.zeros(0))
    if d.task != CLASSIFICATION:
        x = np.linspace(lo[0], hi[0], s.prediction["points"])
        out = np.empty((x.size, 1))
        forward_chunks(s.net.layout, fparams, params, running, np.ascontiguousarray(x.reshape(-1, 1)), work, out)
        y = out[:, 0]
        ok = bool(np.all(np.isfinite(y)))
        return Prediction("line", x, np.where(np.isfinite(y), y, 0.0), finite=ok)
    g = s.prediction["grid"]
    gx = np.linspace(lo[0], hi[0], g)
    gy = np.linspace(lo[1], hi[1], g)
    XX, YY = np.meshgrid(gx, gy)
    pts = np.ascontiguousarray(np.stack([XX.ravel(), YY.ravel()], axis=1))
    out = np.empty((pts.shape[0], s.net.widths[-1]))
    forward_chunks(s.net.layout, fparams, params, running, pts, work, out)
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


def result(s: TrainingSetup, st: RunState, scratch: Scratch, fparams: np.ndarray | None = None,
           tracker=None) -> TrainingResult:
    """``tracker``: the run's engine.edge_of_stability.SharpnessTracker, if it had the curvature option."""
    fp = s.net.fparams if fparams is None else fparams
    n = int(st.es[ES_EPOCHS])
    hist = history(s, st.hist, n, None if tracker is None else tracker.history())
    status = int(st.es[ES_STATUS])
    restore = s.early_stopping is not None and bool(s.early_stopping["restore_best_weights"])
    restored = bool(restore and st.es[ES_HAVE_BEST] == 1)
    d = s.data
    trl, tra = evaluate(s.net.layout, fp, st.params, st.running, d.X_train, s.Y, s.lab, s.loss_code, s.lparams,
                        s.acc_kind, scratch.work, scratch.dy)
    val, vaa = evaluate(s.net.layout, fp, st.params, st.running, d.X_val, s.Yv, s.labv, s.loss_code, s.lparams,
                        s.acc_kind, scratch.work, scratch.dy)
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
        prediction=_predict(s, fp, st.params, st.running, scratch.work),
        settings=_settings(s) if tracker is None else {**_settings(s), "curvature": tracker.echo()},
    )


