"""Sharpness during training: λ_max of the training objective's Hessian every k epochs, the optimizer's
preconditioned sharpness, and the stability threshold each is measured against (the edge of stability).

Gradient descent with step η on a quadratic is stable iff every Hessian eigenvalue is below 2/η. On a
network, full-batch GD first *sharpens* (λ_max rises while the loss falls) until λ_max reaches about
2/η, then hovers there while the loss keeps falling, non-monotonically (Cohen et al. 2021). Any training
run shows where it stands: ``engine.train(..., curvature={"every": k})`` (and ``training/run``,
``training/stream``) measures, after epochs k, 2k, ... and after the last epoch run:

* ``sharpness`` = λ_max(H), H = ∇² of the **training objective on the whole training split**: the data
  loss of the split as one batch, with dropout off and batch norm using that batch's statistics
  (engine.hvp's Hessian, exact HVPs), plus the request's penalty l1·Σ|W| + l2·ΣW² (l2 adds 2·l2 on the
  weight entries' diagonal; l1's Hessian is 0 wherever it exists). That is the loss full-batch GD
  descends. Mini-batch steps and dropout descend it on average, noisily; the threshold below is still
  full-batch GD's, which mini-batch SGD typically settles below (Cohen et al. 2021).
* ``preconditioned_sharpness`` = λ_max(P⁻¹H) for the adaptive optimizers (``PRECONDITIONED``), with P the
  optimizer's own preconditioner after its last step (its state, as torch holds it): Adam/AdamW/NAdam
  P = diag(√v̂ + ε), v̂ = v/(1 − β2^t), t the optimizer's step count (amsgrad: the running max of v);
  RMSprop P = diag(√v + ε) (centered: √(v − ḡ²) + ε). Computed as the top eigenvalue of the symmetric
  P^(-1/2) H P^(-1/2). An optimizer's coupled weight decay wd (not AdamW's decoupled one) is part of what
  it descends, so here H + wd·I. Empty for every other optimizer.
* ``threshold``: the stability threshold at the learning rate of the next step (the scheduled lr of the
  next epoch; after the last epoch, the last one's), in ``sharpness_lr``; ``settings.curvature.compare``
  says which of the two it bounds (Cohen et al. 2021, 2022):

  * SGD: 2/η; heavy-ball momentum β (torch's buffer, dampening d): (2 + 2β)/(η(1 − d)); Nesterov:
    2(1 + β)/(η(1 + 2β)) — each minus a coupled weight_decay (H + wd·I is what the steps see);
  * Adam / AdamW: (2 + 2β1)/((1 − β1)η) on λ_max(P⁻¹H) (38/η for β1 = 0.9);
  * RMSprop: 2/η on λ_max(P⁻¹H); with momentum β, (2 + 2β)/η;
  * none known (empty): NAdam, and adagrad, adadelta, adamax, radam, lion (sharpness only); any
    optimizer with ``maximize``.

Method: ``engine.spectrum.eigenpairs(op, 1, "LA")``: Lanczos on exact HVPs with full
reorthogonalization, eigsh's convergence test (relative tolerance ``tol``, default 1e-6) after every
product, a thick restart every ``NCV`` products, at most ``EIGSH_MAXITER`` restarts; each record
starts from the previous record's eigenvector (the first from a Gaussian seeded by the run's seed), so a
slowly moving λ_max costs a few products (``sharpness_matvecs`` counts the HVPs). Records are a
deterministic function of the run: ``train`` and the stream give the same numbers.

A record is only ever of the weights at the end of the epoch it names: after early stopping or
completion with ``restore_best_weights``, the returned weights are another epoch's, so no record is
taken at the stop (unless the best epoch is the last one); none at a divergence either (the weights go
back to the last completed epoch's, the optimizer state does not). A Hessian that overflows ends the
records (``settings.curvature.stopped``), not the run.

Work: each record is budgeted at its cap, EIGSH_MAXITER × NCV HVPs of 8 × n_train × P multiply-adds
(twice for the preconditioned one), against ``max_hessian_work``; records at most
``max_sharpness_evaluations``. The documented configuration that shows the edge of stability is
engine.edge_of_stability's (the catalog's ``presets.edge_of_stability``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from .errors import EngineInputError
from .hvp import hessian_of, hvp_work, single_threaded_blas
from .limits import LIMITS, check_max
from .mlp_kernels import IN, OUT, W_OFF
from .optimizers import ADAM_HP, NADAM_HP, RMSPROP_HP, SGD_HP
from .registry import ParamSpec, resolve_params
from .spectrum import SINGLE_PAIR_METHOD, eigenpairs, scaled_operator
from .validate import check_mapping

__all__ = ["Curvature"]  # the resolver and tracker are engine.training's (their arguments are its resolved objects); catalog: engine.edge_of_stability

CURVATURE_PARAMS = (
    ParamSpec("every", 10, 1, 100_000, "int", "measure after every k-th epoch, and after the last epoch run"),
    ParamSpec("tol", 1e-6, 0.0, 0.1, doc="relative tolerance on λ_max, eigsh's test (0: machine precision)"),
)
EIGSH_MAXITER = 10  # restarts per record at most (warm-started, the first cycle usually converges)
NCV = 20  # Lanczos vectors kept before a restart (eigsh's default for k = 1)
PRECONDITIONED = ("adam", "adamw", "nadam", "rmsprop")
# history fields of the option (engine.training_report.History), one entry per record
HISTORY = ("sharpness_epoch", "sharpness", "preconditioned_sharpness", "threshold", "sharpness_lr",
           "sharpness_matvecs")


@dataclass(frozen=True, eq=False)
class Curvature:
    """The resolved option: when to measure, how accurately, and the threshold that applies."""

    every: int
    tol: float
    preconditioned: bool  # λ_max(P⁻¹H) too
    rule: str  # the threshold's formula, e.g. "2/lr"
    compare: str  # what the threshold bounds: "sharpness" | "preconditioned_sharpness" | "none"
    threshold: Callable[[float], float] | None  # lr -> threshold; None when none is known
    coupled_wd: float  # the optimizer's coupled weight decay (in P⁻¹(H + wd·I))
    records: int  # records at most (the last epoch's included)

    def echo(self) -> dict:
        return {"every": self.every, "tol": self.tol, "threshold_rule": self.rule, "compare": self.compare,
                "method": f"{SINGLE_PAIR_METHOD}, largest algebraic, k=1, ncv={NCV}, maxiter={EIGSH_MAXITER}, "
                          "warm-started from the previous eigenvector",
                "hessian": "training objective on the whole training split: data loss (dropout off, batch norm "
                           "with the split's statistics) + l1/l2 penalty; exact HVPs"}


def _threshold(name: str, hp: np.ndarray) -> tuple[str, str, Callable[[float], float] | None, float]:
    """(rule, what it bounds, lr -> threshold or None, coupled weight decay in P⁻¹(H + wd·I))."""
    none = ("none known for this optimizer", "none", None, 0.0)
    if name == "sgd":
        h = SGD_HP
        beta, damp, wd = float(hp[h.momentum]), float(hp[h.dampening]), float(hp[h.weight_decay])
        if hp[h.maximize]:
            return none
        minus = " − weight_decay" if wd else ""
        if beta == 0.0:
            return "2/lr" + minus, "sharpness", lambda lr: 2.0 / lr - wd, 0.0
        if hp[h.nesterov]:
            return ("2(1 + momentum)/(lr(1 + 2·momentum))" + minus, "sharpness",
                    lambda lr: 2.0 * (1.0 + beta) / (lr * (1.0 + 2.0 * beta)) - wd, 0.0)
        if damp >= 1.0:
            return none
        return ("(2 + 2·momentum)/(lr(1 − dampening))" + minus, "sharpness",
                lambda lr: (2.0 + 2.0 * beta) / (lr * (1.0 - damp)) - wd, 0.0)
    if name in ("adam", "adamw", "nadam"):
        h = ADAM_HP if name != "nadam" else NADAM_HP
        wd = 0.0 if hp[h.decoupled_weight_decay] else float(hp[h.weight_decay])
        if hp[h.maximize] or name == "nadam":
            return "none known for this optimizer", "none", None, wd
        b1 = float(hp[h.beta1])
        return ("(2 + 2·beta1)/((1 − beta1)·lr) on λ_max(P⁻¹H)", "preconditioned_sharpness",
                lambda lr: (2.0 + 2.0 * b1) / ((1.0 - b1) * lr), wd)
    if name == "rmsprop":
        h = RMSPROP_HP
        beta, wd = float(hp[h.momentum]), float(hp[h.weight_decay])
        if hp[h.maximize]:
            return "none known for this optimizer", "none", None, wd
        if beta == 0.0:
            return "2/lr on λ_max(P⁻¹H)", "preconditioned_sharpness", lambda lr: 2.0 / lr, wd
        return ("(2 + 2·momentum)/lr on λ_max(P⁻¹H)", "preconditioned_sharpness",
                lambda lr: (2.0 + 2.0 * beta) / lr, wd)
    return none


def resolve_curvature(spec, optimizer, epochs: int, n_train: int, n_params: int) -> Curvature | None:
    """The ``curvature`` option of a training request (None: off); refusals name ``curvature.*``."""
    if spec is None:
        return None
    cv = resolve_params(CURVATURE_PARAMS, check_mapping("curvature", spec), "curvature")
    every, tol = int(cv["every"]), float(cv["tol"])
    records = -(-epochs // every)
    check_max("curvature.every", records, "max_sharpness_evaluations")
    rule, compare, thr, wd = _threshold(optimizer.name, optimizer.hp)
    pre = optimizer.name in PRECONDITIONED
    work = records * EIGSH_MAXITER * NCV * hvp_work(n_train, n_params) * (2 if pre else 1)
    if work > LIMITS["max_hessian_work"]:
        raise EngineInputError("curvature.every", f"the sharpness records' work {work:,} (records x {EIGSH_MAXITER} "
                                                  f"restarts x {NCV} HVPs x 8 x n_train x parameters, twice for the "
                                                  "preconditioned one) exceeds limit max_hessian_work="
                                                  f"{LIMITS['max_hessian_work']:,}; measure less often (a larger "
                                                  "every), or use fewer samples or parameters")
    return Curvature(every, tol, pre, rule, compare, thr, wd, records)


def _penalty_diagonal(layout: np.ndarray, n_params: int, l2: float) -> np.ndarray | None:
    """The penalty's Hessian diagonal: 2·l2 on every weight-matrix entry (None without l2)."""
    if l2 == 0.0:
        return None
    c = np.zeros(n_params)
    for row in layout:
        c[row[W_OFF]:row[W_OFF] + row[IN] * row[OUT]] = 2.0 * l2
    return c


@dataclass(frozen=True, eq=False)
class _Shifted:
    """H + diag(c): the data loss's Hessian plus a diagonal (penalty, coupled weight decay)."""

    op: object
    c: np.ndarray

    @property
    def n(self) -> int:
        return self.op.n

    def hvp(self, v, out: np.ndarray | None = None) -> np.ndarray:
        out = self.op.hvp(v, out)
        out += self.c * v
        return out


@dataclass(eq=False)
class SharpnessTracker:
    """The records of one run: ``engine.training`` calls ``measure`` at the epochs ``due`` names."""

    setup: object  # engine.training_setup.TrainingSetup
    cv: Curvature
    rows: list = field(default_factory=list)  # (epoch, sharpness, preconditioned, lr, matvecs)
    stopped: str | None = None  # why records ended early
    _v0: np.ndarray | None = None
    _v0p: np.ndarray | None = None

    def next_stop(self, e: int) -> int:
        """The epoch count to train to from ``e``: the next multiple of ``every``, or the last epoch."""
        return min((e // self.cv.every + 1) * self.cv.every, self.setup.epochs)

    @property
    def last_epoch(self) -> int:
        return self.rows[-1][0] if self.rows else 0

    def due(self, done: int, finished: bool, restored_other: bool) -> bool:
        """Whether to measure after ``done`` completed epochs (see the module docstring)."""
        return (self.stopped is None and done > self.last_epoch and (done % self.cv.every == 0 or finished)
                and not restored_other)

    def _preconditioner(self, state: np.ndarray, t: int) -> np.ndarray:
        """d = P^(-1/2) of the optimizer's last step (t steps taken)."""
        opt = self.setup.optimizer
        hp = opt.hp
        if opt.name == "rmsprop":
            v = state[0] - state[2] ** 2 if hp[RMSPROP_HP.centered] else state[0]
            p = np.sqrt(np.maximum(v, 0.0)) + hp[RMSPROP_HP.eps]
        else:
            h = ADAM_HP if opt.name != "nadam" else NADAM_HP
            v = np.maximum(state[1], state[2]) if opt.name != "nadam" and hp[ADAM_HP.amsgrad] else state[1]
            p = np.sqrt(v / (1.0 - float(hp[h.beta2]) ** t)) + hp[h.eps]
        return 1.0 / np.sqrt(p)

    def measure(self, epoch: int, params: np.ndarray, state: np.ndarray, t: int) -> dict | None:
        """Record the weights after ``epoch`` epochs (``state``: the optimizer's rows after t steps); returns the
        stream's fields, or None when the Hessian overflowed (records end there)."""
        s, cv = self.setup, self.cv
        with single_threaded_blas():  # small products: BLAS threads only contend (engine.hvp)
            h = hessian_of(s.net, np.ascontiguousarray(params), s.data.X_train, s.Y, s.loss)
            if h is None:
                self.stopped = f"the loss or its gradient overflowed at epoch {epoch}"
                return None
            c = _penalty_diagonal(s.net.layout, s.net.n_params, s.reg.l2)
            op = h if c is None else _Shifted(h, c)
            top = eigenpairs(op, 1, "LA", tol=cv.tol, v0=self._v0, seed=s.seed, maxiter=EIGSH_MAXITER, ncv=NCV)
            calls, pre = top.matvecs, math.nan
            if top.converged and cv.preconditioned:
                if cv.coupled_wd:
                    op = _Shifted(h, cv.coupled_wd + (0.0 if c is None else c))
                d = self._preconditioner(state, t)
                ptop = eigenpairs(scaled_operator(op, d), 1, "LA", tol=cv.tol, v0=self._v0p, seed=s.seed,
                                  maxiter=EIGSH_MAXITER, ncv=NCV)
                calls += ptop.matvecs
                if ptop.converged:
                    pre, self._v0p = float(ptop.values[0]), ptop.vectors[:, 0]
        if not top.converged or (cv.preconditioned and not math.isfinite(pre)) or not math.isfinite(top.values[0]):
            self.stopped = f"Lanczos did not converge or overflowed at epoch {epoch}"
            return None
        self._v0 = top.vectors[:, 0]
        lr = float(s.lrs[min(epoch, s.epochs - 1)])
        self.rows.append((epoch, float(top.values[0]), pre, lr, calls))
        out = {"sharpness": float(top.values[0])}
        if cv.preconditioned:
            out["preconditioned_sharpness"] = pre
        if cv.threshold is not None:
            out["threshold"] = float(cv.threshold(lr))
        return out

    def history(self) -> dict:
        """The option's history fields (``HISTORY``): arrays with one entry per record."""
        rows = self.rows
        col = (lambda i, dtype=np.float64: np.array([r[i] for r in rows], dtype=dtype))
        lr = col(3)
        return {
            "sharpness_epoch": col(0, np.int64),
            "sharpness": col(1),
            "preconditioned_sharpness": col(2) if self.cv.preconditioned else np.zeros(0),
            "threshold": np.array([self.cv.threshold(x) for x in lr]) if self.cv.threshold else np.zeros(0),
            "sharpness_lr": lr,
            "sharpness_matvecs": col(4, np.int64),
        }

    def echo(self) -> dict:
        return {**self.cv.echo(), "records": len(self.rows), "stopped": self.stopped}
