"""The one index of the engine's concept modules: what the catalog lists, what the warm-up compiles,
what ``engine`` re-exports.

Every module named here exposes, with one shape:

* ``__all__``: its public names (``import engine; engine.<name>``);
* ``describe() -> list[dict]``: its catalog entries, each ``{"name", "title", "parameters": [ParamSpec
  dicts], ...}`` plus whatever else the concept has to say (formulas, rules, limits);
* ``_warmup()``: calls its kernels on tiny inputs, so the service compiles (or loads) them before
  traffic.

A catalog section lists the entries of its modules in order (``descent``: one trajectory, the race, the
learning-rate sweep and range test, the basin map). Adding a concept (a language model, curvature,
sweeps) is: write the module, add it here, and place it in a compile group of ``engine.warmup.GROUPS``
(a test says so when it is missing). Modules with kernels but no section (``SUPPORT``) are warmed
and re-exported the same way; shared cores whose kernels only run inside other kernels (``descent``,
``mlp_kernels``, ``training_epochs``, the language models' ``lm_layers``, ``lm_gpt``, ``lm_ngram``) are
compiled by their callers and need no entry.

``catalog()`` (``engine.catalog()``, and the service's ``GET /api/v1/catalog`` as is) lists every section's
entries, ``limits`` and ``presets``: the modules' ``PRESETS`` (name -> a complete request body a frontend can
replay, e.g. ``edge_of_stability``: a ``training/run`` body).
"""

from __future__ import annotations

import importlib
from typing import NamedTuple

from .limits import LIMITS, SWEEP_LIMITS


class Section(NamedTuple):
    key: str  # the catalog key (GET /api/v1/catalog)
    modules: tuple[str, ...]  # engine modules whose describe() entries it lists, in order
    doc: str  # what the section lists (the OpenAPI description of the catalog field)


SECTIONS: tuple[Section, ...] = (
    Section("losses", ("engine.losses",),
            "loss functions: formula, derivative, parameters, what predictions and targets mean"),
    Section("surfaces", ("engine.surfaces",), "2-D loss surfaces: formula, params, domain, known minima"),
    Section("formulas", ("engine.expression",),
            "formula surfaces: grammar, precedence, functions with their derivative rules at kinks, limits"),
    Section("landscapes", ("engine.landscape", "engine.critical"),
            "landscape endpoints: grid and slice layout, the critical-point finder and its Hessian classification"),
    Section("optimizers", ("engine.optimizers",),
            "torch.optim optimizers (and Lion): formula, parameters with torch defaults and ranges"),
    Section("schedules", ("engine.schedules",),
            "learning-rate schedules (torch.optim.lr_scheduler): formula, parameters"),
    Section("clipping", ("engine.clipping",), "gradient clipping modes (torch clip_grad_norm_ / clip_grad_value_)"),
    Section("descent", ("engine.trajectory", "engine.race", "engine.lr_sweep", "engine.basins",
                         "engine.user_function"),
            "descent endpoints: statuses, array alignment, verdict and basin rules, defaults"),
    Section("activations", ("engine.activations",),
            "activation functions: formula, derivative, torch.nn.init gain, derivative at 0"),
    Section("initializations", ("engine.init",),
            "weight initializations (torch.nn.init): distributions of W and b, parameters"),
    Section("networks", ("engine.mlp",),
            "MLP conventions: layer formula, batch norm, residual and dropout placement, modes"),
    Section("backprop", ("engine.backprop",), "what /networks/backprop returns and how"),
    Section("gradient_profile", ("engine.gradient_profile",), "the gradient profile's network, verdict rule and defaults"),
    Section("network_landscape", ("engine.network_landscape",),
            "network landscape datasets, losses, normalization, defaults"),
    Section("datasets", ("engine.datasets", "engine.user_data"),
            "synthetic training datasets, and the user's own data (inline rows or CSV)"),
    Section("training", ("engine.training",),
            "training conventions: schedule stepping, penalties, early stopping, losses per task, history columns"),
    Section("regularizers", ("engine.regularization",), "regularizers a training comparison can vary"),
    Section("doctor", ("engine.doctor",), "the convergence doctor's decision tree: nodes, thresholds, diagnoses"),
    Section("hessian", ("engine.network_hessian",), "/networks/hessian: defaults, estimators, limits"),
    Section("saddle_statistics", ("engine.saddles",),
            "/landscapes/saddle-statistics: the GOE and network experiments"),
    Section("edge_of_stability", ("engine.edge_of_stability",),
            "sharpness during training: thresholds and the edge-of-stability preset (a training/run body)"),
    Section("deadlines", ("engine.deadlines",),
            "deadlines: which long computations stop at one (chunked), and how late a stop may come"),
    Section("lm_corpora", ("engine.corpora",),
            "language-model corpora: parameters, train/validation split, what is known about the loss floor"),
    Section("lm_models", ("engine.lm_models",),
            "language models (bigram, mlp, gpt): formula, parameters with defaults and limits"),
    Section("lm_training", ("engine.lm_train", "engine.lm_inspect"),
            "language-model training (run and sampling parameters, per-model defaults, conventions) and inspection"),
    Section("sweeps", ("engine.sweep_kinds",),
            "what a sweep (POST /api/v1/sweeps) can run: each kind, its metrics, seed fields and an example request"),
)

# kernels (or operators) and a _warmup, no catalog section (the sweep modules: no kernels of their own, re-exported
# the same way)
SUPPORT: tuple[str, ...] = ("engine.rng", "engine.lm_sample", "engine.hvp", "engine.spectrum", "engine.sweeps",
                            "engine.sweep_tasks", "engine.sweep_results", "engine.sweep_analysis", "engine.scaling")

CONCEPT_MODULES: tuple[str, ...] = tuple(m for s in SECTIONS for m in s.modules)
MODULES: tuple[str, ...] = CONCEPT_MODULES + SUPPORT


def catalog() -> dict:
    """Everything a frontend can choose, described from the registries: one list of entries per section
    (``SECTIONS``), ``limits`` (every hard limit) and ``presets``. The same dict as ``GET /api/v1/catalog``.

    >>> import engine
    >>> [e["name"] for e in engine.catalog()["losses"]][:2]
    ['mse', 'mae']
    """
    out = {s.key: [e for m in s.modules for e in importlib.import_module(m).describe()] for s in SECTIONS}
    out["limits"] = {**LIMITS, **SWEEP_LIMITS}
    out["presets"] = {k: v for m in MODULES for k, v in getattr(importlib.import_module(m), "PRESETS", {}).items()}
    return out


build_catalog = catalog  # the name the service and older code use
