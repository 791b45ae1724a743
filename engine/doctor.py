"""The convergence doctor: read loss curves, walk a stated decision tree, prescribe one action.

Input: a training-loss curve (one value per epoch, from ``engine.training`` or from a user's own
logs) and optionally a validation-loss curve of the same length. Epochs are **1-based**: value
``i`` of a curve is epoch ``i + 1``.

Non-finite values: a NaN or ±inf anywhere (the service receives them as JSON ``null``) is taken as
evidence that the run blew up, i.e. *diverging*. They are never echoed back: the evidence names
the first non-finite epoch and the last finite value before it.

Losses must be ``>= 0`` (every loss in ``engine.losses`` is); a curve with a negative value is
refused rather than diagnosed with ratios that would mean nothing.

The decision tree, walked top to bottom; the first "yes" decides (thresholds are the module
constants below, shown in every node's numbers):

1. ``non_finite``  Is any value NaN or infinite?                             yes -> diverging
2. ``growth``      Does the train loss end (mean of the last w epochs, w = ``SMOOTH_WINDOW`` or
                   n // 10 for curves shorter than 50 epochs, at least 1) at
                   >= ``DIVERGE_RATIO`` x its epoch-1 value?                  yes -> diverging
3. ``spike``       Does the train loss ever jump, from one epoch to the next, by >= ``SPIKE_RATIO``
                   x the previous value and to >= ``SPIKE_RATIO`` x its running minimum?
                                                                              yes -> exploding
4. ``plateau``     Did the train loss fall by less than ``PLATEAU_DROP`` of its epoch-1 value
                   (best value vs epoch 1)?                                   yes -> plateau
5. ``noisy``       Over the tail (the last ``TAIL_FRACTION`` of epochs, at least ``MIN_TAIL``),
                   is the mean |epoch-to-epoch change| >= ``NOISY_JITTER`` x the tail's mean, with
                   >= ``NOISY_RISE_FRACTION`` of the tail's steps going up?    yes -> noisy
6. ``overfitting`` (only with a validation curve) With both curves smoothed by a trailing mean of
                   w epochs: has the validation loss risen >= ``OVERFIT_RISE``
                   above its minimum while the train loss kept falling after that epoch?
                                                                              yes -> overfitting
7. ``still_falling`` Did the (smoothed) train loss fall by >= ``STILL_FALLING_DROP`` across the
                   tail?                                                      yes -> underfitting
8. ``high_level``  Did the train loss level off above ``UNDERFIT_LEVEL`` x its epoch-1 value?
                                                                              yes -> underfitting
9. otherwise                                                                     -> converged
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Sequence

import numpy as np

from .results import resultclass
from .errors import EngineInputError
from .limits import check_max

__all__ = ["Diagnosis", "diagnose"]

# -- thresholds (documented above; every node reports the ones it used) -------------------------
MIN_EPOCHS = 5  # fewer points than this cannot show a trend
DIVERGE_RATIO = 2.0  # node 2: the loss ends at >= 2x where it started
SPIKE_RATIO = 5.0  # node 3: a one-epoch jump of >= 5x (and >= 5x the best so far)
PLATEAU_DROP = 0.05  # node 4: the best loss is within 5% of epoch 1's
TAIL_FRACTION = 0.25  # nodes 5 and 7: the tail is the last quarter of the run ...
MIN_TAIL = 5  # ... and at least 5 epochs
NOISY_JITTER = 0.05  # node 5: mean |step| >= 5% of the tail's level ...
NOISY_RISE_FRACTION = 0.3  # ... and >= 30% of the steps go up
SMOOTH_WINDOW = 5  # trailing mean used for end levels and the overfitting check (n // 10 if smaller, >= 1)
OVERFIT_RISE = 0.10  # node 6: validation ends >= 10% above its minimum
STILL_FALLING_DROP = 0.10  # node 7: the train loss fell >= 10% across the tail
UNDERFIT_LEVEL = 0.5  # node 8: the loss levelled off above half its starting value
_TINY = 1e-300  # denominators

DIAGNOSES = ("diverging", "exploding", "plateau", "noisy", "overfitting", "underfitting", "converged")

ACTIONS = {
    "diverging": "Lower the learning rate (try 10x smaller); add a warmup; clip the gradient norm.",
    "exploding": "Clip the gradient norm (e.g. max_norm=1); lower the learning rate or add a warmup.",
    "plateau": "Raise the learning rate or switch to Adam; check for saturated tanh/sigmoid units or "
    "dead ReLUs (change the init or activation); normalize the inputs.",
    "noisy": "Lower the learning rate or decay it with a schedule; use larger batches.",
    "overfitting": "Stop early at the best validation epoch (early stopping); regularize (L2 / weight "
    "decay, dropout); use more data or a smaller model.",
    "underfitting_falling": "Train longer, or raise the learning rate: the loss is still falling.",
    "underfitting_high": "Use a bigger model or less regularization; the loss levelled off high.",
    "converged": "Nothing to fix: the loss has levelled off low; more epochs will not help.",
}


@resultclass
@dataclass(frozen=True)
class Diagnosis:
    diagnosis: str  # one of DIAGNOSES
    evidence: dict  # epochs (1-based) and values that decided it; finite numbers only
    action: str  # the recommended next step
    tree: tuple  # the path taken: one dict per node visited {node, question, answer, numbers}


def _curve(values, field: str) -> np.ndarray:
    if isinstance(values, np.ndarray):
        a = np.array(values, dtype=np.float64)
        if a.ndim != 1:
            raise EngineInputError(field, "must be a flat list of numbers")
    else:
        if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__len__"):
            raise EngineInputError(field, "must be a list of numbers (null for NaN/inf)")
        if any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, float))) for v in values):
            raise EngineInputError(field, "must be a list of numbers (null for NaN/inf)")
        a = np.array([np.nan if v is None else v for v in values], dtype=np.float64)
    if a.size < MIN_EPOCHS:
        raise EngineInputError(field, f"needs at least {MIN_EPOCHS} values (one per epoch)")
    check_max(field, a.size, "max_doctor_epochs")
    if np.any(a[np.isfinite(a)] < 0):
        raise EngineInputError(field, "loss values must be >= 0")
    return a


def _trailing_mean(a: np.ndarray, w: int) -> np.ndarray:
    c = np.cumsum(np.concatenate(([0.0], a)))
    i = np.arange(1, a.size + 1)
    lo = np.maximum(i - w, 0)
    return (c[i] - c[lo]) / (i - lo)


def _f(x) -> float:
    """A finite float for JSON (values here are finite by construction; round-trip guard)."""
    x = float(x)
    return x if math.isfinite(x) else 0.0


def diagnose(train_loss: Sequence[float | None] | np.ndarray,
             val_loss: Sequence[float | None] | np.ndarray | None = None) -> Diagnosis:
    """Walk the decision tree in the module docstring over ``train_loss`` (and ``val_loss``)."""
    tr = _curve(train_loss, "train_loss")
    va = None
    if val_loss is not None:
        va = _curve(val_loss, "val_loss")
        if va.size != tr.size:
            raise EngineInputError("val_loss", f"must have the same length as train_loss ({tr.size})")
    n = tr.size
    tree: list[dict] = []

    def node(name, question, answer, **numbers):
        tree.append({"node": name, "question": question, "answer": bool(answer),
                     "numbers": {k: (_f(v) if isinstance(v, float) else v) for k, v in numbers.items()}})
        return answer

    def done(diag, evidence, action_key=None):
        return Diagnosis(diag, evidence, ACTIONS[action_key or diag], tuple(tree))

    # 1. non-finite values
    bad = []
    for name, c in (("train_loss", tr), ("val_loss", va)):
        if c is not None and not np.all(np.isfinite(c)):
            i = int(np.argmin(np.isfinite(c)))
            bad.append((i, name, c))
    if bad:
        i, name, c = min(bad, key=lambda b: b[0])
        last = _f(c[i - 1]) if i > 0 else None
        node("non_finite", "Is any loss value NaN or infinite?", True,
             first_non_finite_epoch=i + 1, curve=name)
        return done("diverging", {"curve": name, "first_non_finite_epoch": i + 1,
                                  "last_finite_epoch": i if i > 0 else None, "last_finite_value": last})
    node("non_finite", "Is any loss value NaN or infinite?", False)

    w = max(1, min(SMOOTH_WINDOW, n // 10))  # short curves (< 50 epochs) are smoothed less
    start = float(tr[0])
    end = float(np.mean(tr[-w:]))
    ratio = end / max(start, _TINY)
    if node("growth", f"Does the train loss end at >= {DIVERGE_RATIO}x its epoch-1 value?",
            ratio >= DIVERGE_RATIO, start=start, end=end, ratio=ratio, threshold=DIVERGE_RATIO):
        return done("diverging", {"epoch_1_loss": start, "final_loss": end, "ratio": ratio,
                                  "min_epoch": int(np.argmin(tr)) + 1, "min_loss": float(tr.min())})

    # 3. one-epoch spikes
    prev = np.maximum(tr[:-1], _TINY)
    run_min = np.maximum(np.minimum.accumulate(tr)[:-1], _TINY)
    jump = tr[1:] / prev
    spikes = (jump >= SPIKE_RATIO) & (tr[1:] / run_min >= SPIKE_RATIO)
    j = int(np.argmax(jump))
    if node("spike", f"Does the train loss ever jump >= {SPIKE_RATIO}x in one epoch (and >= {SPIKE_RATIO}x "
            "its best so far)?", spikes.any(), largest_jump=float(jump[j]), at_epoch=j + 2, threshold=SPIKE_RATIO):
        k = int(np.argmax(np.where(spikes, jump, 0.0)))
        return done("exploding", {"spike_epoch": k + 2, "loss_before": float(tr[k]), "loss_after": float(tr[k + 1]),
                                  "jump": float(jump[k]), "n_spikes": int(spikes.sum())})

    # 4. plateau
    best = float(tr.min())
    drop = (start - best) / max(start, _TINY)
    if node("plateau", f"Did the train loss fall by less than {PLATEAU_DROP:.0%} of its epoch-1 value?",
            drop < PLATEAU_DROP, epoch_1_loss=start, best_loss=best, relative_drop=drop, threshold=PLATEAU_DROP):
        return done("plateau", {"epoch_1_loss": start, "best_loss": best, "best_epoch": int(np.argmin(tr)) + 1,
                                "relative_drop": drop})

    # 5. noisy tail
    tail = min(n, max(MIN_TAIL, math.ceil(TAIL_FRACTION * n)))
    t = tr[-tail:]
    steps = np.diff(t)
    jitter = float(np.mean(np.abs(steps)) / max(float(np.mean(t)), _TINY))
    rises = float(np.mean(steps > 0))
    if node("noisy", f"Over the last {tail} epochs, is the mean |step| >= {NOISY_JITTER:.0%} of the level with "
            f">= {NOISY_RISE_FRACTION:.0%} of steps going up?", jitter >= NOISY_JITTER and rises >= NOISY_RISE_FRACTION,
            tail_epochs=tail, jitter=jitter, rise_fraction=rises,
            jitter_threshold=NOISY_JITTER, rise_threshold=NOISY_RISE_FRACTION):
        return done("noisy", {"tail_start_epoch": n - tail + 1, "jitter": jitter, "rise_fraction": rises,
                              "tail_min": float(t.min()), "tail_max": float(t.max())})

    # 6. overfitting
    trs = _trailing_mean(tr, w)
    if va is None:
        node("overfitting", "Has the validation loss risen while the train loss kept falling?", False,
             skipped="no validation curve")
    else:
        vas = _trailing_mean(va, w)
        b = int(np.argmin(vas))
        rise = (float(vas[-1]) - float(vas[b])) / max(float(vas[b]), _TINY)
        kept_falling = bool(trs[-1] < trs[b])
        if node("overfitting", f"Has the validation loss (trailing mean of {w}) risen >= {OVERFIT_RISE:.0%} above "
                "its minimum while the train loss kept falling?", rise >= OVERFIT_RISE and kept_falling,
                best_val_epoch=b + 1, best_val=float(vas[b]), final_val=float(vas[-1]), rise=rise,
                train_at_best=float(trs[b]), final_train=float(trs[-1]), threshold=OVERFIT_RISE):
            raw_best = int(np.argmin(va))
            return done("overfitting", {"best_val_epoch": raw_best + 1, "best_val_loss": float(va[raw_best]),
                                        "final_val_loss": float(va[-1]), "final_train_loss": float(tr[-1]),
                                        "val_rise": rise, "gap": float(va[-1] - tr[-1])})

    # 7. still falling
    t0, t1 = float(trs[n - tail]), float(trs[-1])
    fall = (t0 - t1) / max(t0, _TINY)
    if node("still_falling", f"Did the train loss fall by >= {STILL_FALLING_DROP:.0%} across the last {tail} epochs?",
            fall >= STILL_FALLING_DROP, tail_start=t0, tail_end=t1, relative_drop=fall, threshold=STILL_FALLING_DROP):
        return done("underfitting", {"tail_start_epoch": n - tail + 1, "tail_start_loss": t0, "final_loss": t1,
                                     "relative_drop": fall, "reason": "still falling"}, "underfitting_falling")

    # 8. levelled off high
    level = end / max(start, _TINY)
    if node("high_level", f"Did the train loss level off above {UNDERFIT_LEVEL:.0%} of its epoch-1 value?",
            level > UNDERFIT_LEVEL, epoch_1_loss=start, final_loss=end, ratio=level, threshold=UNDERFIT_LEVEL):
        return done("underfitting", {"epoch_1_loss": start, "final_loss": end, "ratio": level,
                                     "reason": "levelled off high"}, "underfitting_high")

    evidence = {"final_train_loss": end, "epoch_1_loss": start, "tail_relative_drop": fall}
    if va is not None:
        evidence["best_val_epoch"] = int(np.argmin(va)) + 1
        evidence["final_val_loss"] = float(va[-1])
    return done("converged", evidence)


_QUESTIONS = {
    "non_finite": "Is any loss value NaN or infinite?",
    "growth": "Does the train loss end at >= DIVERGE_RATIO x its epoch-1 value?",
    "spike": "Does the train loss ever jump >= SPIKE_RATIO x in one epoch (and x its best so far)?",
    "plateau": "Did the train loss fall by less than PLATEAU_DROP of its epoch-1 value?",
    "noisy": "Over the tail, is the mean |step| >= NOISY_JITTER of the level with >= NOISY_RISE_FRACTION going up?",
    "overfitting": "Has the validation loss risen >= OVERFIT_RISE above its minimum while the train loss kept falling?",
    "still_falling": "Did the train loss fall by >= STILL_FALLING_DROP across the tail?",
    "high_level": "Did the train loss level off above UNDERFIT_LEVEL of its epoch-1 value?",
    "otherwise": "None of the above",
}
_NODES = (
    ("non_finite", "diverging", {}),
    ("growth", "diverging", {"DIVERGE_RATIO": DIVERGE_RATIO, "SMOOTH_WINDOW": SMOOTH_WINDOW}),
    ("spike", "exploding", {"SPIKE_RATIO": SPIKE_RATIO}),
    ("plateau", "plateau", {"PLATEAU_DROP": PLATEAU_DROP}),
    ("noisy", "noisy", {"TAIL_FRACTION": TAIL_FRACTION, "MIN_TAIL": MIN_TAIL, "NOISY_JITTER": NOISY_JITTER,
                        "NOISY_RISE_FRACTION": NOISY_RISE_FRACTION}),
    ("overfitting", "overfitting", {"OVERFIT_RISE": OVERFIT_RISE, "SMOOTH_WINDOW": SMOOTH_WINDOW}),
    ("still_falling", "underfitting", {"STILL_FALLING_DROP": STILL_FALLING_DROP}),
    ("high_level", "underfitting", {"UNDERFIT_LEVEL": UNDERFIT_LEVEL}),
    ("otherwise", "converged", {}),
)


def describe() -> list[dict]:
    """The tree's nodes in order (the first "yes" decides) with their thresholds and diagnosis."""
    return [{"name": node, "title": _QUESTIONS[node], "parameters": [], "node": node, "diagnosis": diagnosis,
             "thresholds": thresholds} for node, diagnosis, thresholds in _NODES]


def _warmup() -> None:
    """No kernels (numpy only)."""
    diagnose([1.0, 0.5, 0.3, 0.2, 0.2])
