"""Learning rates side by side: a sweep with a verdict per lr, and the learning-rate range test.

**Sweep.** ``lr_sweep`` runs one optimizer from one start with each learning rate in ``lrs`` (in
parallel; each run is ``engine.trajectory.run_trajectory`` with that base lr) and judges each loss curve
with this rule (``VERDICT_RULE``; ``verdict()`` applies it), first match wins. With ``L`` the
recorded loss curve (finite values), ``L0 = L[0]``, ``Lf = L[-1]``, ``f*`` the surface's lowest
known minimum value (without one: the lowest loss any run of the sweep recorded),
``gap0 = L0 - f*`` and ``gapf = Lf - f*``:

1. ``diverged``: the run diverged (non-finite, or left the bound box) or ``gapf > gap0`` (a run that
   starts at ``f*``, ``gap0 <= 0``, is ``good`` unless it diverged);
2. ``good``: the run converged (gradient norm below ``tolerance``) or ``gapf <= 1e-3 * gap0``;
3. ``oscillating``: the successive loss differences ``d_i = L[i+1] - L[i]`` change sign
   (``d_i * d_{i+1} < 0``) in at least 10% of consecutive pairs, or successive updates point
   against each other (``u_i . u_{i+1} < 0``: bouncing across a valley) in at least 50% of pairs;
4. ``too_small``: otherwise (steady but slow progress).

Gradient descent on a quadratic with largest Hessian eigenvalue ``L`` converges for ``lr < 2/L``
(the stiff coordinate is multiplied by ``1 - lr L`` each step) and diverges above it; between ``1/L``
and ``2/L`` it converges while bouncing.

**Range test** (Smith 2017, "Cyclical learning rates", section 3.3; the fastai ``lr_find``
procedure). ``lr_range_test`` takes ``steps`` steps with the exponential ramp
``lr_i = lr_min * (lr_max / lr_min) ** (i / (steps - 1))``, i = 0..steps-1, and pairs ``lr_i`` with
the loss **after** the step taken with it (``loss[i + 1]`` of the trajectory). The loss is smoothed
with a bias-corrected exponential moving average ``a_i = beta a_{i-1} + (1 - beta) loss_i``
(``a_{-1} = 0``), ``s_i = a_i / (1 - beta^(i+1))``, ``beta = 0.98``. The test stops at the first ``i``
where ``s_i - f_low > 4 (best_i - f_low)``, ``best_i = min_{j<=i} s_j``,
``f_low = min(0, lowest known minimum value)`` (so for losses >= 0 this is fastai's
``smooth_loss > 4 * best_loss``), or where the run diverged. The suggested lr is the one at the
steepest descent of the smoothed curve: ``argmin`` of ``np.gradient(s, log(lr))`` over the kept
points (the kept points include the stopping one). ``min_loss_lr``, the lr at the lowest smoothed
loss, is returned too (fastai's other rule of thumb is ``min_loss_lr / 10``). The loss is the exact
loss at each point (also with noise or mini-batches, where Smith plots the mini-batch loss).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from typing import Mapping, Sequence

import numpy as np

from .results import resultclass
from .descent import (
    DEFAULT_OPTIMIZER, DEFAULT_TOLERANCE, NONFINITE, OUT_OF_BOUNDS, STATUS, check_start, default_start, run_many,
    Setup, setup,
)
from .errors import EngineInputError
from .limits import check_max
from .optimizers import ResolvedOptimizer, resolve_optimizer
from .registry import ParamSpec
from .schedules import lr_per_step
from .validate import Domain, Pair, Spec, check_float, check_int

__all__ = ["LRRangeTest", "LRSweep", "SweepRun", "lr_range_test", "run_lr_sweep"]

GOOD_GAP = 1e-3  # rule 2: the gap to f* closed to 0.1% of where it started
OSC_SIGN_FRACTION = 0.10  # rule 3: loss differences change sign in >= 10% of pairs ...
OSC_REVERSAL_FRACTION = 0.50  # ... or updates reverse in >= 50% of pairs
VERDICTS = ("too_small", "good", "oscillating", "diverged")

VERDICT_RULE = (
    "First match wins. L = loss curve, L0 = L[0], Lf = L[-1], f* = lowest known minimum value of the surface "
    "(else the lowest loss any run recorded), gap0 = L0 - f*, gapf = Lf - f*. "
    "(1) diverged: status diverged (non-finite or left the bound box) or gapf > gap0 (a start at f*, gap0 <= 0, "
    "is good unless it diverged); "
    "(2) good: status converged (gradient norm < tolerance) or gapf <= 1e-3 * gap0; "
    "(3) oscillating: successive loss differences change sign in >= 10% of consecutive pairs, or successive "
    "updates point against each other (u_i . u_{i+1} < 0) in >= 50% of consecutive pairs; "
    "(4) too_small: otherwise."
)

RANGE_BETA = 0.98
RANGE_DIVERGENCE = 4.0
RANGE_PARAMS = (
    ParamSpec("lr_min", 1e-6, 0.0, None, doc="first lr of the ramp (> 0)"),
    ParamSpec("lr_max", 1.0, 0.0, None, doc="last lr of the ramp (> lr_min)"),
    ParamSpec("steps", 100, 2, None, "int", "steps of the ramp (limit max_steps)"),
    ParamSpec("beta", RANGE_BETA, 0.0, 0.999999, doc="smoothing of the loss (bias-corrected EMA)"),
    ParamSpec("divergence_factor", RANGE_DIVERGENCE, 1.0, None,
              doc="stop when the smoothed loss exceeds this x its best (> 1)"),
)
RANGE_RULE = (
    "Smith (2017) / fastai lr_find: lr_i = lr_min * (lr_max/lr_min)^(i/(steps-1)); loss_i = loss after the step "
    "taken with lr_i; smoothed s_i = a_i / (1 - 0.98^(i+1)), a_i = 0.98 a_{i-1} + 0.02 loss_i; stop at the first i "
    "with s_i - f_low > 4 (min_{j<=i} s_j - f_low), f_low = min(0, lowest known minimum value), or on divergence; "
    "suggested_lr = lr at argmin of d s / d log(lr) (np.gradient) over the kept points."
)


@resultclass(columns=True)
@dataclass(frozen=True)
class SweepRun:
    lr: float
    loss: np.ndarray  # (n+1,) loss[i] at the position after i steps
    verdict: str
    status: str
    steps_taken: int
    final_loss: float
    gap_ratio: float  # gapf / gap0 (0 when gap0 <= 0)
    sign_change_fraction: float
    reversal_fraction: float


@resultclass
@dataclass(frozen=True)
class LRSweep:
    surface: str
    optimizer: str
    start: tuple[float, float]
    reference_loss: float  # f*
    runs: tuple[SweepRun, ...]  # in the order of lrs
    rule: str


@resultclass(columns=True)
@dataclass(frozen=True)
class LRRangeTest:
    surface: str
    optimizer: str
    start: tuple[float, float]
    lrs: np.ndarray  # (m,) the ramp up to the stopping point
    loss: np.ndarray  # (m,) loss after the step with lrs[i]
    smoothed: np.ndarray  # (m,)
    suggested_lr: float
    min_loss_lr: float  # lr at the lowest smoothed loss
    stopped_at: int | None  # index of the last kept point when the test stopped early; None: whole ramp
    stop_reason: str
    beta: float
    divergence_factor: float
    rule: str


def verdict(loss: np.ndarray, status: str, f_ref: float, reversals: int = 0) -> tuple[str, float, float, float]:
    """Apply ``VERDICT_RULE``; returns (verdict, gap_ratio, sign_change_fraction, reversal_fraction)."""
    L = np.asarray(loss, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):  # losses near 1e308: inf compares correctly
        gap0, gapf = L[0] - f_ref, L[-1] - f_ref
        ratio = gapf / gap0 if gap0 > 0 else 0.0
        d = np.diff(L)
        signs = np.count_nonzero(np.sign(d[:-1]) * np.sign(d[1:]) < 0)
    pairs = max(d.size - 1, 1)
    signs = float(signs) / pairs if d.size > 1 else 0.0
    ratio = float(np.nan_to_num(ratio, nan=0.0, posinf=1e308, neginf=-1e308))  # reported: finite for JSON
    rev = reversals / pairs if d.size > 1 else 0.0
    if status == "diverged" or (gapf > gap0 and gap0 > 0):
        v = "diverged"
    elif gap0 <= 0:  # started at (or below) f*: nothing to descend
        v = "good"
    elif status == "converged" or gapf <= GOOD_GAP * gap0:
        v = "good"
    elif signs >= OSC_SIGN_FRACTION or rev >= OSC_REVERSAL_FRACTION:
        v = "oscillating"
    else:
        v = "too_small"
    return v, float(ratio), signs, float(rev)


@dataclass(frozen=True)
class LRSweepPlan:
    """An lr-sweep request, validated and resolved: what ``run_lr_sweep`` runs (``plan_lr_sweep``)."""

    su: Setup
    opt: ResolvedOptimizer
    lr_list: list[float]
    lr_rows: np.ndarray  # (R, steps) each run's learning rate per step
    start: tuple[float, float]


def plan_lr_sweep(
    surface: str | Spec = "quadratic",
    lrs: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
    optimizer: Spec | None = None,
    steps: int = 200,
    start: Pair | None = None,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    draw: bool = True,
    domain: Domain | None = None,
) -> LRSweepPlan:
    """``run_lr_sweep``'s checks, without the run; ``draw=False``: without its random draws either."""
    try:
        lr_list = list(lrs)
    except TypeError:
        raise EngineInputError("lrs", "must be a list of learning rates") from None
    if not lr_list:
        raise EngineInputError("lrs", "must not be empty")
    R = len(lr_list)
    check_max("lrs", R, "max_sweep_lrs")
    lr_list = [check_float(f"lrs.{i}", v, 0.0, strict=True) for i, v in enumerate(lr_list)]
    su = setup(surface, params, steps, runs=R, noise_scale=noise_scale, seed=seed, batch_size=batch_size,
               clip=clip, tolerance=tolerance, work_field="steps", draw=draw, domain=domain)
    check_max("steps", R * su.steps, "max_sweep_work")
    opt = resolve_optimizer(DEFAULT_OPTIMIZER if optimizer is None else optimizer)
    start = check_start(su, default_start(su.surface) if start is None else start)
    lr_rows = np.empty((R, su.steps))
    for r, lr in enumerate(lr_list):
        lr_rows[r] = lr_per_step(schedule, lr, su.steps, lr_field=f"lrs.{r}")
    return LRSweepPlan(su, opt, lr_list, lr_rows, start)


def run_lr_sweep(
    surface: str | Spec = "quadratic",
    lrs: Sequence[float] = (1e-3, 1e-2, 1e-1, 1.0),
    optimizer: Spec | None = None,
    steps: int = 200,
    start: Pair | None = None,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    domain: Domain | None = None,
) -> LRSweep:
    """Run ``optimizer`` (its own lr is replaced) with each base lr in ``lrs``; judge each curve."""
    p = plan_lr_sweep(surface, lrs, optimizer, steps, start, schedule, params, noise_scale, seed, batch_size, clip,
                      tolerance, domain=domain)
    su, opt, lr_list, lr_rows, start, R = p.su, p.opt, p.lr_list, p.lr_rows, p.start, len(p.lr_list)
    out = run_many(su, [opt] * R, lr_rows, start, record=False)
    curves = [out.rec.loss[r, : out.n[r] + 1].copy() for r in range(R)]
    known = np.asarray(su.surface.minima, dtype=np.float64).reshape(-1, 3)
    f_ref = float(known[:, 2].min()) if known.shape[0] else float(min(c.min() for c in curves))
    runs = []
    for r, lr in enumerate(lr_list):
        status = STATUS[int(out.status[r])]
        v, ratio, signs, rev = verdict(curves[r], status, f_ref, int(out.reversals[r]))
        runs.append(SweepRun(lr, curves[r], v, status, int(out.n[r]), float(curves[r][-1]), ratio, signs, rev))
    return LRSweep(su.surface.name, opt.name, start, f_ref, tuple(runs), VERDICT_RULE)


def lr_range_test(
    surface: str | Spec = "rosenbrock",
    optimizer: Spec | None = None,
    lr_min: float = 1e-6,
    lr_max: float = 1.0,
    steps: int = 100,
    start: Pair | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    beta: float = RANGE_BETA,
    divergence_factor: float = RANGE_DIVERGENCE,
    domain: Domain | None = None,
) -> LRRangeTest:
    """The learning-rate range test (module docstring). The optimizer's own lr is ignored."""
    steps = check_int("steps", steps, 2, "max_steps")
    lr_min = check_float("lr_min", lr_min, 0.0, strict=True)
    lr_max = check_float("lr_max", lr_max, 0.0, strict=True)
    if not lr_max > lr_min:
        raise EngineInputError("lr_max", "must be greater than lr_min")
    beta = check_float("beta", beta, 0.0, 0.999999)
    divergence_factor = check_float("divergence_factor", divergence_factor, 1.0, strict=True)
    ramp = lr_min * (lr_max / lr_min) ** (np.arange(steps) / (steps - 1))
    su = setup(surface, params, steps, noise_scale=noise_scale, seed=seed, batch_size=batch_size, clip=clip,
               tolerance=0.0, domain=domain)  # the ramp never stops for a small gradient
    opt = resolve_optimizer(DEFAULT_OPTIMIZER if optimizer is None else optimizer)
    start = check_start(su, default_start(su.surface) if start is None else start)
    runs = run_many(su, [opt], ramp[None, :], start, record=False)
    n, status = int(runs.n[0]), int(runs.status[0])
    loss = runs.rec.loss[0, 1 : n + 1].copy()  # loss after the step with ramp[i], i = 0..n-1
    lrs = ramp[:n].copy()
    known = np.asarray(su.surface.minima, dtype=np.float64).reshape(-1, 3)
    f_low = min(0.0, float(known[:, 2].min())) if known.shape[0] else 0.0
    smoothed = np.empty(n)
    a, best, stop, overflow = 0.0, math.inf, None, False
    with np.errstate(over="ignore", invalid="ignore"):
        for i in range(n):
            a = beta * a + (1.0 - beta) * loss[i]
            smoothed[i] = a / (1.0 - beta ** (i + 1))
            if not math.isfinite(smoothed[i]):  # only for losses near 1e308: stop before it
                stop, overflow = i, True
                break
            best = min(best, smoothed[i])
            if smoothed[i] - f_low > divergence_factor * (best - f_low):
                stop = i
                break
    if overflow:
        m = stop
        stop = m - 1
        reason = f"the smoothed loss overflowed float64 at lr {lrs[stop]:.6g} (not kept)"
    elif stop is not None:
        m = stop + 1
        reason = (f"smoothed loss {smoothed[stop]:.6g} > {divergence_factor:g} x best {best:.6g} "
                  f"(relative to f_low={f_low:g}) at lr {lrs[stop]:.6g}")
    elif status == NONFINITE:
        m = n
        stop = n - 1
        reason = f"step {n + 1} (lr {ramp[n]:.6g}) produced a non-finite loss (not kept)"
    elif status == OUT_OF_BOUNDS:
        m = n
        stop = n - 1
        reason = f"step {n} (lr {ramp[n - 1]:.6g}) left the bound box (100x the domain)"
    else:
        m = n
        reason = f"ran the whole ramp without the smoothed loss exceeding {divergence_factor:g} x its best"
    lrs, loss, smoothed = lrs[:m], loss[:m], smoothed[:m]
    if m == 0:
        raise EngineInputError("lr_min", "the first step already diverged; lower lr_min")
    if m >= 2:
        slope = np.gradient(smoothed, np.log(lrs))
        suggested = float(lrs[int(np.argmin(slope))])
    else:
        suggested = float(lrs[0])
    return LRRangeTest(
        surface=su.surface.name, optimizer=opt.name, start=start, lrs=lrs, loss=loss, smoothed=smoothed,
        suggested_lr=suggested, min_loss_lr=float(lrs[int(np.argmin(smoothed))]), stopped_at=stop,
        stop_reason=reason, beta=beta, divergence_factor=divergence_factor, rule=RANGE_RULE,
    )


def describe() -> list[dict]:
    return [
        {"name": "lr_sweep", "title": "Learning-rate sweep", "parameters": [], "verdicts": list(VERDICTS),
         "rule": VERDICT_RULE,
         "limits": ["max_sweep_lrs", "max_steps", "max_descent_work", "max_sweep_work", "max_batch_work"]},
        {"name": "lr_range_test", "title": "Learning-rate range test (Smith 2017)",
         "parameters": [p.to_dict() for p in RANGE_PARAMS], "rule": RANGE_RULE,
         "defaults": {p.name: p.default for p in RANGE_PARAMS},
         "limits": ["max_steps"]},
    ]


def _warmup() -> None:
    run_lr_sweep("quadratic", [0.1, 0.2], {"name": "sgd", "lr": 0.1}, steps=3)
    lr_range_test("quadratic", {"name": "sgd", "lr": 0.1}, steps=3)
