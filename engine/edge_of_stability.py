"""The edge of stability: the documented configuration where full-batch GD sharpens up to 2/η and hovers there.

What a sharpness record is, and the thresholds, are engine.sharpness's (the ``curvature`` option of
``engine.train``, ``training/run`` and ``training/stream``); this module publishes the option in the catalog
and the configuration that shows it.

The documented configuration (``PRESET``, the catalog's ``presets.edge_of_stability``: a complete
``training/run`` body; reproduce with ``python -m engine.edge_of_stability``): a 1-hidden-layer tanh net,
100 units, N(0, 0.3²) weights, fitting 20 noise-free points of the Chebyshev polynomial T_3 with MSE,
full-batch GD (batch_size = n_train = 20) for 10,000 epochs, sharpness every 100. Initial λ_max ≈ 23
(seed 0), below 2/η for every preset rate: what carries it to 2/η is progressive sharpening. A wider or
larger-init net (torch's default init gives λ_max ≈ 46 at the start) begins above 2/η and only falls.
Measured (``python -m engine.edge_of_stability``, through engine.train), λ_max after the last epoch over
2/η: lr 0.08 → 0.993, 0.07 → 0.976, 0.06 → 0.976; lr 0.006 (10x smaller) → 0.082: it sharpens only to
~27, far below 2/η = 333. Each run 0.35-0.65 s with its 100 records (load average 1.9, 2 cores).
"""

from __future__ import annotations

import copy

from .limits import LIMITS
from .sharpness import CURVATURE_PARAMS, EIGSH_MAXITER, HISTORY, NCV, PRECONDITIONED
from .spectrum import SINGLE_PAIR_METHOD
from .training import train
from .validate import check_float

__all__ = ["edge_of_stability_preset"]

# The configuration that shows the edge of stability (a complete training/run body; module docstring).
PRESET = {
    "dataset": {"name": "polynomial", "degree": 3, "n_train": 20, "n_val": 20, "noise": 0.0, "seed": 0},
    "model": {"layers": [1, 100, 1], "activation": "tanh", "init": {"name": "normal", "std": 0.3}},
    "optimizer": {"name": "sgd", "lr": 0.07},
    "loss": "mse",
    "epochs": 10_000,
    "batch_size": 20,
    "seed": 0,
    "curvature": {"every": 100},
}
PRESET_LRS = (0.08, 0.07, 0.06)  # each ends within 15% of 2/η; 0.006 (10× smaller) stays far below
PRESETS = {"edge_of_stability": PRESET}  # engine.catalog publishes every module's PRESETS under "presets"


def edge_of_stability_preset(lr: float | None = None) -> dict:
    """A copy of the documented configuration (a complete ``training/run`` body), at learning rate ``lr``
    if given: ``engine.train(**engine.edge_of_stability_preset(0.08))``.

    >>> engine.edge_of_stability_preset(0.08)["optimizer"]["lr"]
    0.08
    """
    body = copy.deepcopy(PRESET)
    if lr is not None:
        body["optimizer"]["lr"] = check_float("lr", lr, 0.0, 10.0, strict=True)
    return body


def describe() -> list[dict]:
    """The curvature option of training runs: parameters, thresholds, what is measured (for the catalog)."""
    return [{
        "name": "edge_of_stability",
        "title": "Sharpness during training and the edge of stability",
        "parameters": [p.to_dict() for p in CURVATURE_PARAMS],
        "option": "training/run and training/stream: {'curvature': {'every': k, 'tol': 1e-6}}",
        "history": list(HISTORY),
        "thresholds": {
            "sgd": "2/lr; momentum: (2 + 2·momentum)/(lr(1 − dampening)); nesterov: 2(1 + momentum)/(lr(1 + "
                   "2·momentum)); each − weight_decay",
            "adam, adamw": "(2 + 2·beta1)/((1 − beta1)·lr) on λ_max(P⁻¹H), P = diag(√v̂ + eps)",
            "rmsprop": "2/lr on λ_max(P⁻¹H), P = diag(√v + eps); momentum: (2 + 2·momentum)/lr",
            "others": "none known: sharpness only (nadam: also λ_max(P⁻¹H))"},
        "preconditioned": list(PRECONDITIONED),
        "hessian": "data loss on the whole training split (dropout off, batch norm with the split's statistics) "
                   "+ l1/l2 penalty; exact HVPs (R-operator)",
        "method": {"name": "lanczos", "library": SINGLE_PAIR_METHOD, "k": 1, "ncv": NCV,
                   "maxiter": EIGSH_MAXITER},
        "preset": PRESET,
        "preset_learning_rates": list(PRESET_LRS),
        "limits": {k: LIMITS[k] for k in ("max_sharpness_evaluations", "max_hessian_work")},
    }]


def _warmup() -> None:
    """Compile what a sharpness-tracked run adds to training (HVPs, the operators), SGD and Adam."""
    body = dict(PRESET, epochs=4, curvature={"every": 2}, batch_size=6,
                dataset=dict(PRESET["dataset"], n_train=6, n_val=2), model=dict(PRESET["model"], layers=[1, 4, 1]))
    train(**body)
    train(**dict(body, optimizer={"name": "adam", "lr": 0.01}, regularization={"l2": 0.01}))


if __name__ == "__main__":
    import time

    for lr in PRESET_LRS + (PRESET_LRS[-1] / 10,):
        t0 = time.perf_counter()
        r = train(**dict(PRESET, optimizer={"name": "sgd", "lr": lr}))
        h = r.history
        print(f"lr {lr:g}: 2/lr = {2 / lr:.2f}, λ_max from {h.sharpness[0]:.2f} (epoch {h.sharpness_epoch[0]}, max "
              f"{h.sharpness.max():.2f}) to {h.sharpness[-1]:.2f} = {h.sharpness[-1] * lr / 2:.3f} × 2/lr; train loss "
              f"{h.train_loss[0]:.3g} → {h.train_loss[-1]:.3g}; {time.perf_counter() - t0:.2f} s, "
              f"{h.sharpness_matvecs.sum()} HVPs")
