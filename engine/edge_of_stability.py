"""The edge of stability: full-batch training with the loss's sharpness λ_max(H) measured every k steps.

Gradient descent with step η on a quadratic is stable iff every Hessian eigenvalue is below 2/η.
On a network, full-batch GD first *sharpens* (λ_max rises while the loss falls) until λ_max reaches
about 2/η, then hovers there while the loss keeps falling, non-monotonically (Cohen et al. 2021).
``run_edge_of_stability`` shows it on any full-batch ``training/run`` request: it takes the same body
(validated by ``engine.training.prepare``: same data, targets, initial weights, per-epoch learning
rates) plus ``curvature={"every": k}``, runs the steps in one kernel call per k steps
(``engine.full_batch.full_batch_steps``: torch.optim steps on the whole training split), and between
calls measures λ_max of the full-batch loss's Hessian (exact HVPs, engine.hvp; eigsh, engine.spectrum,
warm-started from the previous top eigenvector).

Thresholds (``threshold`` per record, from the lr of that step; Cohen et al. 2021 and 2022):

* SGD, no momentum: 2/η; coupled weight decay wd adds wd·I to the Hessian, so λ_max(H) < 2/η − wd.
* SGD with momentum β (torch's buffer b ← βb + (1 − d)g, p ← p − ηb, dampening d):
  (2 + 2β)/(η(1 − d)) − wd; Nesterov: 2(1 + β)/(η(1 + 2β)) − wd (where the 2×2 update matrix of a
  quadratic, [[1 − ηλ(1 + β), −ηβ²], [λ, β]], gets an eigenvalue −1).
* Adam / AdamW: the *preconditioned* sharpness λ_max(P⁻¹H), P = diag(√v̂ + ε), settles at
  (2 + 2β1)/((1 − β1)η) (38/η for β1 = 0.9); λ_max(H) itself has no fixed threshold then. P is the
  preconditioner of the step about to be taken: v̂ updated with the current gradient, so the record
  at step 0 is defined too (amsgrad: the running max). ``preconditioned_sharpness`` is empty for
  every other optimizer, and so is ``threshold`` for optimizers without a known one (rmsprop,
  adagrad, adadelta, adamax, nadam, radam, lion).

The Hessian is of the data loss on the whole training split (no penalty); so runs with l1/l2,
dropout, clipping or early stopping are refused, and the batch must be the whole split.

The documented configuration (``PRESET``; reproduce with ``python -m engine.edge_of_stability``):
a 1-hidden-layer tanh net, 100 units, N(0, 0.3²) weights, fitting 20 noise-free points of the
Chebyshev polynomial T_3 with MSE, GD for 10,000 steps, sharpness every 100 steps. Initial λ_max ≈ 23
(seed 0). Measured here, λ_max at the end over 2/η: lr 0.08 → 0.989, 0.07 → 0.982, 0.06 → 0.983, and
lr 0.006 (10× smaller) → 0.082: it sharpens only to ~27, far below 2/η = 333. Seeds 0–5 all end
within 3% of 2/η for the three rates (0.06–0.09 of it for the small one). A wider or larger-init net
(torch's default init here gives λ_max ≈ 46 at the start) begins above 2/η and only falls.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

import numpy as np

from .errors import EngineInputError
from .full_batch import Batch, OptState, full_batch_steps
from .hvp import hvp_work, mlp_hessian, single_threaded_blas
from .limits import LIMITS, check_max
from .optimizers import ADAM, ADAMW, SGD, new_state
from .registry import ParamSpec, resolve_params
from .spectrum import eigenpairs, scaled_operator
from .training_setup import prepare

__all__ = ["SharpnessTrace", "run_edge_of_stability"]

CURVATURE_PARAMS = (
    ParamSpec("every", 10, 1, 100_000, "int", "measure the sharpness every k steps (epochs), and after the last"),
    ParamSpec("tol", 1e-6, 0.0, 0.1, doc="eigsh's relative tolerance on λ_max"),
)

# The configuration that shows the edge of stability (a complete training/run body); see the docstring.
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
EIGSH_MAXITER = 10  # restarts per sharpness (warm-started: 1 or 2 are used)
PRESET_LRS = (0.08, 0.07, 0.06)  # each ends within 15% of 2/η; 0.006 (10× smaller) stays far below


@dataclass(frozen=True, eq=False)
class SharpnessTrace:
    """A full-batch run with its curvature records (arrays of one length per record) and every step's loss."""

    step: np.ndarray  # steps taken before each record: 0, k, 2k, ..., last
    loss: np.ndarray  # full-batch loss at the record
    sharpness: np.ndarray  # λ_max(H)
    preconditioned_sharpness: np.ndarray  # λ_max(P⁻¹H) (Adam, AdamW); empty otherwise
    threshold: np.ndarray  # the stability threshold for the record's lr (see the docstring); empty if none
    lr: np.ndarray  # the learning rate of the step after the record (the last record: of the last step)
    matvecs: np.ndarray  # Hessian-vector products per record
    train_loss: np.ndarray  # the loss before every step taken
    threshold_rule: str  # e.g. "2/lr", "(2 + 2·momentum)/lr", "(2 + 2·beta1)/((1 − beta1)·lr) on λ_max(P⁻¹H)"
    status: str  # "ok" | "diverged" (a non-finite loss or parameter stopped the run)
    steps: int  # steps taken
    every: int
    tolerance: float
    seconds: float  # wall time of the whole run
    settings: dict  # dataset, layers, loss, optimizer, n_params, ...


def _threshold(name: str, hp, params: dict):
    """(rule, function lr → threshold) for optimizer ``name``; (rule, None) when there is none."""
    if name == "sgd":
        beta, damp, nesterov, wd = float(hp[0]), float(hp[1]), bool(hp[2]), float(hp[3])
        if beta == 0.0:
            return ("2/lr" + (" − weight_decay" if wd else ""), "plain"), lambda lr: 2.0 / lr - wd
        if nesterov:
            return ("2(1 + momentum)/(lr(1 + 2·momentum))" + (" − weight_decay" if wd else ""), "plain"), \
                lambda lr: 2.0 * (1.0 + beta) / (lr * (1.0 + 2.0 * beta)) - wd
        return ("(2 + 2·momentum)/(lr(1 − dampening))" + (" − weight_decay" if wd else ""), "plain"), \
            lambda lr: (2.0 + 2.0 * beta) / (lr * (1.0 - damp)) - wd if damp < 1.0 else math.inf
    if name in ("adam", "adamw"):
        b1 = float(hp[0])
        return ("(2 + 2·beta1)/((1 − beta1)·lr) on λ_max(P⁻¹H)", "preconditioned"), \
            lambda lr: (2.0 + 2.0 * b1) / ((1.0 - b1) * lr)
    return ("none known for this optimizer", "none"), None


def _preconditioner_scale(opt, state, scal, grad, params, t: int) -> np.ndarray:
    """d = P^(-1/2) of Adam's next step (t + 1): P = diag(√v̂ + ε), v updated with the current gradient."""
    beta1, beta2, eps, wd, amsgrad, decoupled = (float(x) for x in opt.hp[:6])
    g = grad if (decoupled or wd == 0.0) else grad + wd * params
    v = beta2 * state[1] + (1.0 - beta2) * g * g
    if amsgrad:
        v = np.maximum(v, state[2])
    vhat = v / (1.0 - beta2 ** (t + 1))
    return 1.0 / np.sqrt(np.sqrt(vhat) + eps)


def _track(s, batch, ostate, opt, kind, params, lrs, train_loss, every, tol, rec) -> tuple[int, str]:
    """The run: λ_max (and λ_max(P⁻¹H)) at steps 0, k, 2k, ..., one kernel call for the steps between."""
    net, epochs = s.net, s.epochs
    state, scal = ostate.state, ostate.scal
    v0 = v0p = None
    t, status = 0, "ok"
    while True:
        try:
            h = mlp_hessian(net, params, s.data.X_train, s.Y, s.loss_name, batch_limit="max_train_samples")
        except EngineInputError:  # the loss or its gradient overflowed: a diverged run, reported as such
            return t, "diverged"
        top = eigenpairs(h, 1, "LA", tol=tol, v0=v0, seed=s.seed, maxiter=EIGSH_MAXITER)
        v0 = top.vectors[:, 0]
        calls = top.matvecs
        rec["step"].append(t)
        rec["loss"].append(h.loss)
        rec["sharpness"].append(float(top.values[0]))
        rec["lr"].append(float(lrs[min(t, epochs - 1)]))
        if kind == "preconditioned":
            d = _preconditioner_scale(opt, state, scal, h.grad, params, t)
            pre = eigenpairs(scaled_operator(h, d), 1, "LA", tol=tol, v0=v0p, seed=s.seed, maxiter=EIGSH_MAXITER)
            v0p = pre.vectors[:, 0]
            rec["pre"].append(float(pre.values[0]))
            calls += pre.matvecs
        rec["matvecs"].append(calls)
        if t >= epochs:
            break
        k = min(every, epochs - t)
        taken = int(full_batch_steps(batch, ostate, params, t, lrs[t:t + k], s.dropout_seed, train_loss[t:t + k]))
        t += taken
        if taken < k:
            status = "diverged"
            break
    return t, status


def run_edge_of_stability(curvature=None, **request) -> SharpnessTrace:
    """Train as the full-batch ``training/run`` body ``request`` says, measuring λ_max every k steps."""
    t_start = time.perf_counter()
    if curvature is not None and not isinstance(curvature, dict):
        raise EngineInputError("curvature", "must be an object, e.g. {'every': 10}")
    cv = resolve_params(CURVATURE_PARAMS, curvature, "curvature")
    s = prepare(**request)
    net, n = s.net, s.data.X_train.shape[0]
    if s.batch_size < n:
        raise EngineInputError("batch_size", f"curvature tracking needs full-batch training: batch_size >= "
                                             f"n_train = {n}")
    for field, off in (("regularization", s.reg.l1 or s.reg.l2 or s.reg.dropout), ("clip", s.clip),
                       ("early_stopping", s.early_stopping)):
        if off:
            raise EngineInputError(field, "not with curvature tracking: the Hessian is of the plain data loss")
    every, tol, epochs = cv["every"], float(cv["tol"]), s.epochs
    records = epochs // every + 1 + (epochs % every > 0)
    check_max("curvature.every", records, "max_sharpness_evaluations")
    opt = s.optimizer
    (rule, kind), thr = _threshold(opt.name, opt.hp, opt.params)
    per_record = EIGSH_MAXITER * 20 * hvp_work(n, net.n_params) * (2 if kind == "preconditioned" else 1)
    check_max("epochs", records * per_record, "max_hessian_work")  # every eigsh at its cap
    state, scal = new_state(opt, net.n_params)
    batch = Batch(net.layout, net.fparams, s.data.X_train, s.Y, int(s.loss_code), s.lparams,
                  np.zeros(net.n_running), np.zeros(net.n_params), np.zeros(net.workspace_size(n)),
                  np.zeros(net.n_params))
    ostate = OptState(int(opt.code), opt.hp, state, scal)
    params = s.params0.copy()
    lrs = np.ascontiguousarray(s.lrs, dtype=np.float64)
    train_loss = np.zeros(epochs)
    rec = {k: [] for k in ("step", "loss", "sharpness", "pre", "lr", "matvecs")}
    with single_threaded_blas():  # small products: BLAS threads only contend (engine.hvp.single_threaded_blas)
        t, status = _track(s, batch, ostate, opt, kind, params, lrs, train_loss, every, tol, rec)
    lr = np.array(rec["lr"])
    threshold = np.array([thr(x) for x in lr]) if thr is not None else np.zeros(0)
    settings = {"dataset": {"name": s.data.name, **s.data.params}, "layers": list(net.widths),
                "activation": net.activation, "n_params": net.n_params, "loss": s.loss_name,
                "optimizer": {"name": opt.name, **opt.params}, "epochs": epochs, "batch_size": s.batch_size,
                "seed": s.seed, "hessian": "full training split, no dropout, batch-norm batch statistics"}
    return SharpnessTrace(
        np.array(rec["step"], dtype=np.int64), np.array(rec["loss"]), np.array(rec["sharpness"]),
        np.array(rec["pre"]), threshold, lr, np.array(rec["matvecs"], dtype=np.int64), train_loss[:t].copy(),
        rule, status, t, every, tol, time.perf_counter() - t_start, settings,
    )


def describe() -> list[dict]:
    """The curvature option's parameters, thresholds and the preset (for the catalog)."""
    return [{
        "name": "edge_of_stability",
        "title": "Sharpness during training and the edge of stability",
        "parameters": [p.to_dict() for p in CURVATURE_PARAMS],
        "thresholds": {"sgd": "2/lr; momentum: (2 + 2·momentum)/lr; nesterov: 2(1 + momentum)/(lr(1 + 2·momentum))",
                       "adam": "(2 + 2·beta1)/((1 − beta1)·lr) on λ_max(P⁻¹H), P = diag(√v̂ + eps)"},
        "preset": PRESET,
        "available": "from Python today: engine.run_edge_of_stability(**preset); the training/run option "
                     "'curvature' lands with the training refactor (issue 17 part 2)",
        "preset_learning_rates": list(PRESET_LRS),
        "limits": {k: LIMITS[k] for k in ("max_sharpness_evaluations", "max_hessian_work")},
    }]


def _warmup() -> None:
    body = dict(PRESET, epochs=4, curvature={"every": 2},
                dataset=dict(PRESET["dataset"], n_train=6, n_val=2), model=dict(PRESET["model"], layers=[1, 4, 1]))
    body["batch_size"] = 6
    run_edge_of_stability(**body)
    run_edge_of_stability(**dict(body, optimizer={"name": "adam", "lr": 0.01}))


if __name__ == "__main__":
    for lr in PRESET_LRS + (PRESET_LRS[-1] / 10,):
        tr = run_edge_of_stability(**dict(PRESET, optimizer={"name": "sgd", "lr": lr}))
        print(f"lr {lr:g}: 2/lr = {2 / lr:.2f}, λ_max from {tr.sharpness[0]:.2f} (max {tr.sharpness.max():.2f}) "
              f"to {tr.sharpness[-1]:.2f} = {tr.sharpness[-1] * lr / 2:.3f} × 2/lr; loss {tr.loss[0]:.3g} → "
              f"{tr.loss[-1]:.3g}; {tr.seconds:.2f} s, {tr.matvecs.sum()} HVPs")
