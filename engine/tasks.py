"""Task kinds, which losses fit each, and the targets each loss reads: the one table training and the
network landscape (and any later model) share.

A dataset's ``task`` is ``regression`` (real targets) or ``classification`` (class indices
0..n_classes-1). A network's output *head* is either one unit (a value, a logit or a score) or one
unit per class (logits). ``TASK_LOSSES`` lists the losses that fit a task and a head, default first::

    regression,     1 output           mse (default), mae, huber, smooth_l1, log_cosh
    classification, 1 output           bce_with_logits (default), hinge          (2 classes)
    classification, n_classes outputs  cross_entropy_with_logits

``LABELS_AS_VALUES`` (mse) is regression on the class labels themselves (0/1, or one-hot rows): the
network landscape offers it on its classification sets as a picture of a poor loss choice; training
does not (its accuracy and drawn prediction read the outputs as logits).

``format_targets`` turns class indices into what each loss reads: hinge's labels -1/+1, one-hot rows
for a head with one unit per class, the indices (0/1) for bce_with_logits and mse; regression targets
pass through. It also says how accuracy is counted (``ACC_*``).
"""

from __future__ import annotations

import numpy as np

REGRESSION = "regression"
CLASSIFICATION = "classification"
TASKS = (REGRESSION, CLASSIFICATION)

SINGLE = "1 output"  # one output unit
PER_CLASS = "n_classes outputs"  # one output unit per class

TASK_LOSSES: dict[tuple[str, str], tuple[str, ...]] = {
    (REGRESSION, SINGLE): ("mse", "mae", "huber", "smooth_l1", "log_cosh"),
    (CLASSIFICATION, SINGLE): ("bce_with_logits", "hinge"),  # one logit / one score, two classes
    (CLASSIFICATION, PER_CLASS): ("cross_entropy_with_logits",),  # one logit per class
}
LABELS_AS_VALUES = ("mse",)  # classification read as regression on the labels (network landscape only)

# how accuracy is counted from the outputs (kernel codes)
ACC_NONE, ACC_SIGN, ACC_ARGMAX = 0, 1, 2


def head(task: str, n_outputs: int, n_classes: int) -> str | None:
    """``SINGLE`` or ``PER_CLASS`` for this task and output width, or None when the width fits neither."""
    if task == REGRESSION:
        return SINGLE if n_outputs == 1 else None
    if n_outputs == 1 and n_classes == 2:
        return SINGLE
    return PER_CLASS if n_outputs == n_classes else None


def fitting_losses(task: str, head_: str, labels_as_values: bool = False) -> tuple[str, ...]:
    """The losses that fit ``task`` with ``head_`` (default first); ``labels_as_values`` adds mse on labels."""
    fits = TASK_LOSSES[(task, head_)]
    if labels_as_values and task == CLASSIFICATION:
        fits = fits + tuple(n for n in LABELS_AS_VALUES if n not in fits)
    return fits


def all_fitting_losses() -> tuple[str, ...]:
    """Every loss some task takes (table order, no repeats)."""
    return tuple(dict.fromkeys(n for fits in TASK_LOSSES.values() for n in fits))


def format_targets(task: str, loss: str, Y: np.ndarray, n_outputs: int) -> tuple[np.ndarray, int]:
    """``(targets [n, n_outputs], accuracy kind)`` for ``loss`` from a dataset's ``Y`` [n, 1] (values or
    class indices), C-contiguous float64."""
    if task == REGRESSION:
        return np.ascontiguousarray(Y, dtype=np.float64), ACC_NONE
    lab = np.ascontiguousarray(Y[:, 0], dtype=np.float64)
    if n_outputs > 1:
        onehot = np.zeros((Y.shape[0], n_outputs))
        onehot[np.arange(Y.shape[0]), lab.astype(np.int64)] = 1.0
        return onehot, ACC_ARGMAX
    y = lab.reshape(-1, 1)
    return np.ascontiguousarray(2.0 * y - 1.0 if loss == "hinge" else y), ACC_SIGN

