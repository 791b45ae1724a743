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

**Sharpness** (``curvature={"every": k}``): λ_max of the training objective's Hessian after epochs k, 2k, ...
and the last, with the optimizer's preconditioned sharpness and stability threshold (engine.edge_of_stability,
whose docstring says what exactly is measured). ``train`` then runs the epochs in one kernel call per k
epochs and measures between calls; the stream measures after the epochs that are due; the records join
``history`` (``sharpness_epoch``, ``sharpness``, ``preconditioned_sharpness``, ``threshold``...) and the
stream's epoch records. Without the option nothing changes.

Modules, at the seams: ``engine.training_setup`` validates and resolves a request (``prepare``),
``engine.training_epochs`` holds the epoch kernel and its NamedTuple arguments, ``engine.training_report``
turns a run's arrays into a ``TrainingResult``; this module runs them (``train``) and streams them
(``TrainingStream``). ``engine.regularization`` trains variants of one request with the same pieces.
"""

from __future__ import annotations

from typing import Any, Iterator, Mapping

import numpy as np

from .datasets import Dataset
from .deadlines import check as check_deadline, run_chunked
from .errors import EngineInputError
from .registry import ParamSpec
from .validate import check_int
from .sharpness import SharpnessTracker
from .tasks import TASK_LOSSES, fitting_losses
from .training_epochs import (
    COLUMNS, DIVERGED, ES_BEST_EPOCH, ES_EPOCHS, ES_HAVE_BEST, ES_STATUS, RUNNING, SPARSITY_THRESHOLD, STOP_REASONS,
    RunState, new_run, run_epochs, shuffle,
)
from .training_report import TrainingResult, epoch_record, result
from .training_setup import (
    EARLY_STOPPING_PARAMS, PREDICTION_PARAMS, REGULARIZATION_PARAMS, TrainingSetup, prepare, seeds,
)

__all__ = ["TrainingResult", "TrainingStream", "epoch_order", "train", "train_stream"]


def train(dataset: Mapping[str, Any] | Dataset, model: Mapping[str, Any], optimizer: Mapping[str, Any] | None = None,
          schedule: Mapping[str, Any] | None = None, regularization: Mapping[str, Any] | None = None,
          epochs: int = 100, batch_size: int = 32, early_stopping: Mapping[str, Any] | None = None,
          clip: Mapping[str, Any] | None = None, loss: str | None = None, loss_params: Mapping[str, Any] | None = None,
          seed: int = 0, prediction: Mapping[str, Any] | None = None, curvature: Mapping[str, Any] | None = None) -> TrainingResult:
    """Train an MLP; every epoch in one kernel call, or under a deadline (``engine.deadline``) epochs [a, b)
    per call, as the stream does one by one.

    Arguments (every refusal is an ``EngineInputError`` naming the argument, dotted inside objects):

    * ``dataset``: ``{"name": "moons", "n_train": ..., ...}`` (engine.datasets), the user's own rows
      (``{"name": "inline" | "csv", ...}``, engine.user_data) or a ready ``Dataset``;
    * ``model``: ``{"layers": [...], "activation", "output_activation", "residual", "batch_norm", "init",
      "activation_params"}`` (engine.mlp.build_mlp; dropout comes from ``regularization``);
    * ``optimizer`` (default adam), ``schedule`` (stepped per epoch), ``regularization`` (l1, l2, dropout,
      weight_decay), ``early_stopping`` (patience, min_delta, restore_best_weights), ``clip``;
    * ``loss``/``loss_params``: default the task's first fitting loss; ``prediction``: resolution of the
      drawn fit; ``curvature``: ``{"every": k}`` records the sharpness every k epochs.

    >>> r = engine.train(dataset={"name": "sine", "n_train": 8, "n_val": 4}, model={"layers": [1, 4, 1]},
    ...                  optimizer={"name": "sgd", "lr": 0.1}, epochs=3, batch_size=4)
    >>> r.epochs_run, r.stop_reason, len(r.history.train_loss)
    (3, 'completed', 3)
    """
    s = prepare(dataset=dataset, model=model, optimizer=optimizer, schedule=schedule, regularization=regularization,
                epochs=epochs, batch_size=batch_size, early_stopping=early_stopping, clip=clip, loss=loss,
                loss_params=loss_params, seed=seed, prediction=prediction, curvature=curvature)
    run, scratch = new_run(s)
    if s.curvature is None:
        run_chunked(s.epochs, lambda a, b: _epochs(s, run, scratch, a, b), "training epochs")
        return result(s, run, scratch)
    tracker = SharpnessTracker(s, s.curvature)
    e = 0
    while e < s.epochs and run.es[ES_STATUS] == RUNNING:
        run_chunked(tracker.next_stop(e) - e, lambda a, b, e0=e: _epochs(s, run, scratch, e0 + a, e0 + b),
                    "training epochs")
        e = int(run.es[ES_EPOCHS])
        check_deadline("training epochs")  # a record costs up to EIGSH_MAXITER x NCV HVPs
        _measure_if_due(s, run, tracker)
    return result(s, run, scratch, tracker=tracker)


def _epochs(s: TrainingSetup, run: RunState, scratch, a: int, b: int) -> bool:
    """Epochs [a, b) of the run; True when it has stopped (``run_chunked``'s early exit)."""
    return run_epochs(s, run, scratch, a, b) == 0 or run.es[ES_STATUS] != RUNNING


def _measure_if_due(s: TrainingSetup, run: RunState, tracker: SharpnessTracker) -> dict | None:
    """The sharpness record due after the epochs ``run`` has completed (None if none is due)."""
    es = run.es
    done, status = int(es[ES_EPOCHS]), int(es[ES_STATUS])
    if status == DIVERGED:  # the weights went back to the last completed epoch's, the optimizer state did not
        return None
    finished = status != RUNNING
    restore = s.early_stopping is not None and bool(s.early_stopping["restore_best_weights"])
    restored_other = finished and restore and es[ES_HAVE_BEST] == 1 and int(es[ES_BEST_EPOCH]) != done
    if not tracker.due(done, finished, restored_other):
        return None
    steps = done * -(-s.data.X_train.shape[0] // s.batch_size)  # the optimizer's step count t
    return tracker.measure(done, run.params, run.ostate, steps)


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
        self._tracker = None if setup.curvature is None else SharpnessTracker(setup, setup.curvature)
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
            extra = None if self._tracker is None else _measure_if_due(s, run, self._tracker)
            if done == 1:
                rec = epoch_record(s, run.hist[e], e)
                return rec if extra is None else {**rec, **extra}
        self.result = result(s, run, self._scratch, tracker=self._tracker)
        raise StopIteration

    def close(self) -> None:
        self._closed = True


def stream(dataset: Mapping[str, Any] | Dataset, model: Mapping[str, Any], optimizer: Mapping[str, Any] | None = None,
          schedule: Mapping[str, Any] | None = None, regularization: Mapping[str, Any] | None = None,
          epochs: int = 100, batch_size: int = 32, early_stopping: Mapping[str, Any] | None = None,
          clip: Mapping[str, Any] | None = None, loss: str | None = None, loss_params: Mapping[str, Any] | None = None,
          seed: int = 0, prediction: Mapping[str, Any] | None = None, curvature: Mapping[str, Any] | None = None) -> TrainingStream:
    """``train``'s run as an iterator of per-epoch records (validation happens here, before any epoch);
    after the last record ``.result`` is the ``TrainingResult`` ``train`` would return. Arguments: ``train``'s.

    >>> st = engine.train_stream(dataset={"name": "sine", "n_train": 8, "n_val": 4}, model={"layers": [1, 4, 1]},
    ...                          epochs=2, batch_size=4)
    >>> [rec["epoch"] for rec in st], st.result.epochs_run
    ([1, 2], 2)
    """
    return TrainingStream(prepare(dataset=dataset, model=model, optimizer=optimizer, schedule=schedule, regularization=regularization,
                epochs=epochs, batch_size=batch_size, early_stopping=early_stopping, clip=clip, loss=loss,
                loss_params=loss_params, seed=seed, prediction=prediction, curvature=curvature))


train_stream = stream  # the name engine re-exports


def epoch_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which epoch ``epoch`` (0-based) of a run with ``seed`` visits the n training rows.

    >>> sorted(engine.epoch_order(0, 0, 5).tolist())
    [0, 1, 2, 3, 4]
    """
    seed = check_int("seed", seed, 0, integral_floats=False)
    if seed > 2**32 - 1:
        raise EngineInputError("seed", "must be < 2**32 (a training run's seed)")
    epoch = check_int("epoch", epoch, 0, "max_epochs", integral_floats=False)
    n = check_int("n", n, 1, "max_train_samples", integral_floats=False)
    _, shuffle_seed, _ = seeds(seed)
    order = np.zeros(n, dtype=np.int64)
    shuffle(shuffle_seed, epoch, order)
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
