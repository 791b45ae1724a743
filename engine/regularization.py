"""Regularizers side by side: one call trains several variants of the same run in parallel.

``compare(variants=[{"name": "none"}, {"name": "l2", "regularization": {"l2": 1e-3}}, ...], **run)``
trains every variant on the **same data, initial weights, mini-batch order and dropout seed**
(everything in ``run`` is shared; only the variant's ``regularization`` differs), one variant per
thread (``engine.threads``; each variant's epoch loop is ``engine.training``'s kernel, called as it is).

The gap. For each variant ``gap = final_val_loss − final_train_loss``: the validation minus the
training data loss (no penalty) of the weights the run returns (the last epoch's, or the best
epoch's when early stopping restores them). ``gap_last_epoch`` is the same difference read from the
history's last row, and ``gap_at_best`` at the best validation epoch. A large positive gap is the
signature of overfitting.

``REGULARIZERS`` is the catalog's menu (key "regularizers"): each knob, its formula, what a torch
user writes, and a typical strength for a comparison.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from .results import resultclass
from .datasets import Dataset
from .deadlines import run_chunked
from .errors import EngineInputError, field_prefix
from .limits import check_max
from .mlp_kernels import workspace_size
from .optimizers import OptimizerArgs, new_state
from .registry import ParamSpec
from .training_epochs import EVAL_CHUNK, Model, Rules, RunState, Scratch, kernel_args, new_run, train_epochs
from .threads import map_threads
from .training_report import TrainingResult, result
from .training_setup import TrainingSetup, prepare

__all__ = ["REGULARIZERS", "Comparison", "compare"]


@dataclass(frozen=True)
class RegularizerSpec:
    name: str
    title: str
    param: ParamSpec | None
    formula: str
    torch: str
    typical: float | None


REGULARIZERS: dict[str, RegularizerSpec] = {
    "none": RegularizerSpec("none", "No regularization", None, "loss", "loss = crit(out, y)", None),
    "l1": RegularizerSpec(
        "l1", "L1 (lasso) penalty", ParamSpec("l1", 1e-3, 0.0, 10.0, doc="strength"),
        "loss + l1·Σ|W| (weight matrices only); gradient l1·sign(W): pushes weights to exactly 0",
        "loss = crit(out, y) + l1 * sum(m.weight.abs().sum() for m in linears)", 1e-3),
    "l2": RegularizerSpec(
        "l2", "L2 (ridge) penalty", ParamSpec("l2", 1e-3, 0.0, 10.0, doc="strength"),
        "loss + l2·ΣW² (weight matrices only); gradient 2·l2·W: shrinks weights proportionally",
        "loss = crit(out, y) + l2 * sum((m.weight ** 2).sum() for m in linears)", 1e-3),
    "dropout": RegularizerSpec(
        "dropout", "Dropout", ParamSpec("dropout", 0.2, 0.0, 0.95, doc="probability of dropping a hidden unit"),
        "hidden units zeroed with probability p in training, survivors ×1/(1−p); identity in eval",
        "nn.Dropout(p) after every hidden activation", 0.2),
    "weight_decay": RegularizerSpec(
        "weight_decay", "Weight decay (optimizer)", ParamSpec("weight_decay", 1e-2, 0.0, 10.0, doc="strength"),
        "the optimizer's weight_decay: coupled g + wd·p (SGD, Adam: every parameter) or decoupled "
        "p ← p·(1 − lr·wd) (AdamW)", "torch.optim.AdamW(params, weight_decay=wd)", 1e-2),
}

DEFAULT_VARIANTS = (
    {"name": "none", "regularization": {}},
    {"name": "l1", "regularization": {"l1": 1e-3}},
    {"name": "l2", "regularization": {"l2": 1e-3}},
    {"name": "dropout", "regularization": {"dropout": 0.2}},
)


def describe() -> list[dict]:
    """Catalog entries (key "regularizers")."""
    return [
        {"name": s.name, "title": s.title, "formula": s.formula, "torch": s.torch,
         "parameters": [s.param.to_dict()] if s.param else [],
         "parameter": s.param.to_dict() if s.param else None, "typical": s.typical}
        for s in REGULARIZERS.values()
    ]


@resultclass
@dataclass(frozen=True, eq=False)
class VariantResult:
    name: str
    regularization: dict  # the variant's resolved regularization
    result: TrainingResult
    gap: float | None  # final_val_loss − final_train_loss (returned weights)
    gap_last_epoch: float | None  # val_loss[-1] − train_loss[-1]
    gap_at_best: float | None  # val_loss − train_loss at best_epoch


@resultclass
@dataclass(frozen=True, eq=False)
class Comparison:
    runs: tuple[VariantResult, ...]  # in request order
    params0: np.ndarray  # the shared initial weights


def _train_variant(v: int, model: Model, data, opt: OptimizerArgs, rules: Rules, l1: np.ndarray, l2: np.ndarray,
                   run: RunState, scratch: Scratch, e0: int, e1: int) -> None:
    """Epochs e0..e1-1 of variant v with ``engine.training``'s kernel: row v of ``model.fparams`` (dropout),
    ``opt.hp`` (weight decay), ``l1``, ``l2`` and of every buffer (a stopped variant returns at once)."""
    train_epochs(model._replace(fparams=model.fparams[v]), data, opt._replace(hp=opt.hp[v]),
                        rules._replace(l1=l1[v], l2=l2[v]), RunState(*(a[v] for a in run)),
                        Scratch(*(a[v] for a in scratch)), e0, e1)


def _variants(variants) -> list[dict]:
    if variants is None:
        variants = DEFAULT_VARIANTS
    if isinstance(variants, (str, bytes, dict)) or not hasattr(variants, "__len__") or len(variants) == 0:
        raise EngineInputError("variants", "must be a non-empty list of {name, regularization}")
    check_max("variants", len(variants), "max_compare_variants")
    out, seen = [], set()
    for i, v in enumerate(variants):
        if not isinstance(v, dict) or not isinstance(v.get("name"), str) or not v["name"]:
            raise EngineInputError(f"variants.{i}.name", "each variant needs a name")
        unknown = sorted(set(v) - {"name", "regularization"})
        if unknown:
            raise EngineInputError(f"variants.{i}.{unknown[0]}", "unknown key; accepted: name, regularization")
        if v["name"] in seen:
            raise EngineInputError(f"variants.{i}.name", f"duplicate name {v['name']!r}")
        seen.add(v["name"])
        out.append({"name": v["name"], "regularization": dict(v.get("regularization") or {})})
    return out


def _gap(a, b) -> float | None:
    if a is None or b is None:
        return None
    g = a - b
    return float(g) if math.isfinite(g) else None


def plan_compare(variants=None, **run) -> tuple[list[dict], list[TrainingSetup]]:
    """``compare``'s checks, without the training: the variants and each one's ``prepare``d run (``run`` may
    pass ``params0``, e.g. an empty array to check without drawing the initial weights)."""
    if run.get("curvature") is not None:
        raise EngineInputError("curvature", "sharpness records are for single runs (training/run, training/stream), "
                                            "not comparisons")
    vs = _variants(variants)
    base = dict(run.pop("regularization", None) or {})
    setups = []
    for i, v in enumerate(vs):
        with field_prefix(f"variants.{i}", only=("regularization",)):
            setups.append(prepare(regularization={**base, **v["regularization"]}, variants=len(vs), **run))
    return vs, setups


def compare(variants: Sequence[Mapping[str, Any]] | None = None, *, dataset: Mapping[str, Any] | Dataset,
            model: Mapping[str, Any], optimizer: Mapping[str, Any] | None = None,
            schedule: Mapping[str, Any] | None = None, regularization: Mapping[str, Any] | None = None,
            epochs: int = 100, batch_size: int = 32, early_stopping: Mapping[str, Any] | None = None,
            clip: Mapping[str, Any] | None = None, loss: str | None = None,
            loss_params: Mapping[str, Any] | None = None, seed: int = 0,
            prediction: Mapping[str, Any] | None = None, curvature: Mapping[str, Any] | None = None) -> Comparison:
    """Train each variant of one run in parallel, on the same data, initial weights, batch order and dropout seed.

    ``variants``: ``[{"name": ..., "regularization": {...}}, ...]`` (default: ``DEFAULT_VARIANTS``); each
    variant's ``regularization`` overrides the shared ``regularization`` key by key. The other arguments are
    ``engine.train``'s; ``curvature`` is refused when given (sharpness records are for single runs), by name
    rather than as an unknown keyword.

    >>> c = engine.compare([{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.01}}],
    ...                    dataset={"name": "sine", "n_train": 8, "n_val": 4}, model={"layers": [1, 4, 1]},
    ...                    epochs=2, batch_size=4)
    >>> [v.name for v in c.runs], c.runs[0].result.epochs_run
    (['none', 'l2'], 2)
    """
    vs, setups = plan_compare(variants, dataset=dataset, model=model, optimizer=optimizer, schedule=schedule,
                              regularization=regularization, epochs=epochs, batch_size=batch_size,
                              early_stopping=early_stopping, clip=clip, loss=loss, loss_params=loss_params,
                              seed=seed, prediction=prediction, curvature=curvature)
    V = len(vs)
    s0 = setups[0]
    model, data, opt, rules = kernel_args(s0)
    fparams = np.ascontiguousarray(np.stack([s.net.fparams for s in setups]))
    model = model._replace(fparams=fparams)
    opt = opt._replace(hp=np.ascontiguousarray(np.stack([s.optimizer.hp for s in setups])))
    l1 = np.array([s.reg.l1 for s in setups])
    l2 = np.array([s.reg.l2 for s in setups])
    rows = max(s0.batch_size, EVAL_CHUNK)
    wsize = max(int(workspace_size(s0.net.layout, fp, rows)) for fp in fparams)
    state, scratch = new_run(s0, copies=V, work_size=wsize)
    for v, s in enumerate(setups):
        state.ostate[v], state.oscal[v] = new_state(s.optimizer, s0.net.n_params)
    def epochs(a: int, b: int) -> None:  # epochs [a, b) of every variant, one thread each (deadline checks between)
        map_threads(lambda v: _train_variant(v, model, data, opt, rules, l1, l2, state, scratch, a, b), range(V))

    run_chunked(s0.epochs, epochs, "training epochs")
    runs = []
    for v, (spec, s) in enumerate(zip(vs, setups)):
        res = result(s, RunState(*(a[v] for a in state)), Scratch(*(a[v] for a in scratch)), fparams[v])
        h = res.history
        last = _gap(float(h.val_loss[-1]), float(h.train_loss[-1])) if len(h) else None
        at_best = (_gap(float(h.val_loss[res.best_epoch - 1]), float(h.train_loss[res.best_epoch - 1]))
                   if res.best_epoch >= 1 else None)
        runs.append(VariantResult(spec["name"], res.settings["regularization"], res,
                                  _gap(res.final_val_loss, res.final_train_loss), last, at_best))
    return Comparison(tuple(runs), s0.params0.copy())


def _warmup() -> None:
    compare(variants=[{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.01, "dropout": 0.1}}],
            dataset={"name": "sine", "n_train": 6, "n_val": 4}, model={"layers": [1, 3, 1], "activation": "tanh"},
            optimizer={"name": "sgd", "lr": 0.1}, epochs=2, batch_size=4, early_stopping={"patience": 1},
            clip={"max_norm": 1.0}, prediction={"points": 4})
