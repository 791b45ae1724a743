"""Train an MLP (engine.mlp) on a synthetic dataset: epochs of shuffled mini-batches inside one kernel.

One call of ``train(...)`` runs every epoch in the compiled epoch kernel (no Python per step). ``stream(...)`` runs the same kernel one epoch per call, with all state carried in arrays,
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

Modules, at the seams: ``engine.training_setup`` validates and resolves a request (``prepare``),
``engine.training_epochs`` holds the epoch kernel and its NamedTuple arguments, ``engine.training_report``
turns a run's arrays into a ``TrainingResult``; this module runs them (``train``) and streams them
(``TrainingStream``). ``engine.regularization`` trains variants of one request with the same pieces.
"""

from __future__ import annotations

from typing import Iterator

import numpy as np

from .deadlines import run_chunked
from .registry import ParamSpec
from .tasks import TASK_LOSSES, fitting_losses
from .training_epochs import COLUMNS, ES_STATUS, RUNNING, SPARSITY_THRESHOLD, STOP_REASONS, new_run, run_epochs, shuffle
from .training_report import TrainingResult, epoch_record, result
from .training_setup import (
    EARLY_STOPPING_PARAMS, PREDICTION_PARAMS, REGULARIZATION_PARAMS, TrainingSetup, prepare, seeds,
)

__all__ = ["TrainingResult", "TrainingStream", "epoch_order", "train", "train_stream"]


def train(**request) -> TrainingResult:
    """Train as ``request`` says (the keyword arguments of ``prepare``); every epoch in one kernel call, or
    under a deadline (``engine.deadline``) epochs [a, b) per call, as the stream does one by one."""
    s = prepare(**request)
    run, scratch = new_run(s)
    run_chunked(s.epochs, lambda a, b: run_epochs(s, run, scratch, a, b) == 0 or run.es[ES_STATUS] != RUNNING,
                "training epochs")
    return result(s, run, scratch)


class TrainingStream:
    """An iterator over a run's epoch records, one kernel call per epoch, then ``.result``.

    ``for rec in TrainingStream(setup): ...`` yields ``History.record`` dicts as epochs complete;
    after the last one ``.result`` holds the ``TrainingResult`` (identical to ``train``'s). Stop
    iterating (or call ``close()``) and no further epoch is computed; ``epochs_computed`` says how
    many were.
    """

    def __init__(self, setup: TrainingSetup):
        self.setup = setup
        self._run, self._scratch = new_run(setup)
        self._e = 0
        self.epochs_computed = 0
        self.result: TrainingResult | None = None
        self._closed = False

    def __iter__(self) -> Iterator[dict]:
        return self

    def __next__(self) -> dict:
        s, run = self.setup, self._run
        if self._closed or self.result is not None:
            raise StopIteration
        while self._e < s.epochs and run.es[ES_STATUS] == RUNNING:
            e = self._e
            done = run_epochs(s, run, self._scratch, e, e + 1)
            self._e += 1
            self.epochs_computed += 1
            if done == 1:
                return epoch_record(s, run.hist[e], e)
        self.result = result(s, run, self._scratch)
        raise StopIteration

    def close(self) -> None:
        self._closed = True


def stream(**request) -> TrainingStream:
    """``train``'s run as an iterator of per-epoch records (validation happens here, before any epoch)."""
    return TrainingStream(prepare(**request))


train_stream = stream  # the name engine re-exports


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch ``epoch`` (0-based) of a run with ``seed`` visits the n training rows."""
    _, shuffle_seed, _ = seeds(int(seed))
    order = np.zeros(int(n), dtype=np.int64)
    shuffle(shuffle_seed, int(epoch), order)
    return order


_LOSS_LABELS = {"regression, 1 output": "regression", "classification, 1 output": "binary (1 output)",
                "classification, n_classes outputs": "multiclass (n_classes outputs)"}


def describe() -> list[dict]:
    """Catalog entry for training: conventions, parameters, allowed losses, history columns."""
    return [{
        "name": "training",
        "title": "Train an MLP on a synthetic dataset",
        "parameters": [p.to_dict() for p in REGULARIZATION_PARAMS + EARLY_STOPPING_PARAMS + PREDICTION_PARAMS]
        + [ParamSpec("epochs", 100, 1, None, "int", "passes over the training split (limit max_epochs)").to_dict(),
           ParamSpec("batch_size", 32, 1, None, "int", "rows per mini-batch (limit max_batch)").to_dict()],
        "schedule_stepping": "per epoch: epoch e uses lr[e] of engine.schedules (steps = epochs)",
        "l1_l2": "added to each mini-batch loss, on weight matrices only (not biases, not BN): "
                 "loss + l1*sum|W| + l2*sum W^2",
        "early_stopping": "Keras EarlyStopping(monitor='val_loss'): improvement = val < best - min_delta; "
                          "stop when wait >= patience; restore_best_weights at the end",
        "regularization": [p.to_dict() for p in REGULARIZATION_PARAMS],
        "early_stopping_params": [p.to_dict() for p in EARLY_STOPPING_PARAMS],
        "prediction": [p.to_dict() for p in PREDICTION_PARAMS],
        "losses": {_LOSS_LABELS[f"{task}, {h}"]: list(fitting_losses(task, h)) for task, h in TASK_LOSSES},
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
