"""Learning-rate schedules: pure functions of the scheduler step, with torch.optim.lr_scheduler's values.

``lr_schedule(spec, base_lr, steps)`` returns ``lr[e]`` for e = 0 .. steps−1, where e is torch's
``last_epoch`` after construction plus e calls of ``sched.step()``: e = 0 is the value right after
the scheduler is built. With torch's loop ``opt.step(); sched.step()`` the optimizer's step t (1-based)
uses ``lr[t−1]``, and so do our trajectory kernels. The whole array is computed before any kernel runs,
so kernels take arrays, not functions (numpy here: this is not hot)::

    lr = lr_schedule({"name": "warmup_cosine", "warmup_steps": 10}, 0.1, 100)

Each schedule is built by joining pieces (``_join`` selects, per step, the piece whose branch holds),
and its branches are numbered in the comments. torch's ``get_lr`` is recursive (it multiplies the
current lr); we use the closed forms, which agree with it to ~1e-14 (``tests/test_schedules.py`` checks
every schedule against torch when it is installed).

Conventions that differ from, or go beyond, torch (each stated in the schedule's docstring):

* step-count parameters that torch requires (``T_max``, ``total_steps``) default to ``steps`` (the run's
  length); OneCycle's ``max_lr`` defaults to ``base_lr``.
* ``constant`` is no scheduler at all (lr = base_lr), not torch's ``ConstantLR`` factor schedule.
* ``warmup_cosine`` is transformers' ``get_cosine_schedule_with_warmup`` (linear warmup from lr 0).
* ``onecycle`` schedules the lr only (torch also cycles momentum/beta1 unless cycle_momentum=False).
* a schedule whose values overflow float64 is refused (``schedule``), so no Infinity reaches JSON.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping

import numpy as np

from .results import resultclass
from .errors import EngineInputError, field_prefix
from .limits import check_max
from .registry import ParamSpec, lookup, resolve_params
from .validate import check_float, check_int

__all__ = ["SCHEDULES", "ScheduleValues", "lr_schedule", "schedule_values"]

_MAX_COUNT = 1_000_000_000  # bound on step-count parameters (keeps float conversions exact)


# ---------------------------------------------------------------------------------------------
# Pieces: each maps the step array e (float64) to lr values; schedules join them.
# ---------------------------------------------------------------------------------------------
def _join(e: np.ndarray, pieces: list[np.ndarray], conditions: list[np.ndarray]) -> np.ndarray:
    """Piece k where ``conditions[k]`` holds first (the last piece is the fallback)."""
    return np.select(conditions, pieces[:-1], default=pieces[-1]) if conditions else pieces[0]


def _cos_anneal(start: float, end: float, pct: np.ndarray) -> np.ndarray:
    """torch OneCycleLR ``_annealing_cos``: end + (start − end)/2 · (cos(π·pct) + 1)."""
    return end + (start - end) / 2.0 * (np.cos(math.pi * pct) + 1.0)


def _lin_anneal(start: float, end: float, pct: np.ndarray) -> np.ndarray:
    """torch OneCycleLR ``_annealing_linear``: (end − start)·pct + start."""
    return (end - start) * pct + start


def _cosine_between(base: float, eta_min: float, cur: np.ndarray, length: np.ndarray | float) -> np.ndarray:
    """The cosine-annealing closed form: η_min + (base − η_min)·(1 + cos(π·cur/length))/2."""
    return eta_min + (base - eta_min) * (1.0 + np.cos(math.pi * cur / length)) / 2.0


# ---------------------------------------------------------------------------------------------
# Schedules: (e, base_lr, params) -> lr[e]
# ---------------------------------------------------------------------------------------------
def constant(e, base, p):
    """lr = base_lr at every step (no scheduler)."""
    # 1) the base learning rate throughout
    return np.full(e.shape, base)


def step(e, base, p):
    """torch StepLR: base·γ^⌊e/step_size⌋."""
    # 1) decay by γ every step_size steps
    return base * p["gamma"] ** np.floor(e / p["step_size"])


def multistep(e, base, p):
    """torch MultiStepLR: base·γ^(number of milestones ≤ e), counting repeated milestones again (torch's Counter)."""
    # 1) one factor γ per milestone passed
    passed = np.searchsorted(np.sort(np.asarray(p["milestones"], dtype=np.float64)), e, side="right")
    return base * p["gamma"] ** passed.astype(np.float64)


def exponential(e, base, p):
    """torch ExponentialLR: base·γ^e."""
    # 1) decay by γ every step
    return base * p["gamma"] ** e


def linear(e, base, p):
    """torch LinearLR: base·(s + (f − s)·min(e, T)/T), s = start_factor, f = end_factor, T = total_iters."""
    s, f, T = p["start_factor"], p["end_factor"], p["total_iters"]
    return _join(e, [
        # 1) e < T: linear ramp of the factor from s towards f
        base * (s + (f - s) * e / T),
        # 2) e ≥ T: the end factor from then on
        np.full(e.shape, base * (s + (f - s))),
    ], [e < T])


def cosine(e, base, p):
    """torch CosineAnnealingLR: η_min + (base − η_min)·(1 + cos(π·e/T_max))/2 for every e.

    Past T_max it is not clamped: torch's recursive form keeps following the cosine, so the lr climbs
    back to base at 2·T_max (period 2·T_max); we return the same values.
    """
    # 1) half a cosine from base down to eta_min over T_max steps, then on along the cosine
    return _cosine_between(base, p["eta_min"], e, float(p["T_max"]))


def warmup_cosine(e, base, p):
    """Linear warmup from 0, then cosine decay: transformers' ``get_cosine_schedule_with_warmup``.

    With W = warmup_steps, T = total_steps, c = num_cycles (0.5 = half a cosine), m = min_lr:
    e < W: base·e/W (so **the first step's lr is 0**); else
    progress = (e − W)/max(1, T − W), lr = max(0, m + (base − m)·(1 + cos(2π·c·progress))/2)
    (transformers' ``min_lr`` variant: factor·(1 − m/base) + m/base). Like transformers, the cosine is
    not clamped past T: with c = 0.5 it climbs back after T.
    """
    W, T, m, c = p["warmup_steps"], p["total_steps"], p["min_lr"], p["num_cycles"]
    progress = (e - W) / max(1, T - W)
    return _join(e, [
        # 1) linear warmup: 0 → base over W steps
        base * e / max(1, W),
        # 2) cosine decay base → min_lr over the remaining T − W steps
        np.maximum(0.0, m + (base - m) * 0.5 * (1.0 + np.cos(math.pi * c * 2.0 * progress))),
    ], [e < W])


def cosine_warm_restarts(e, base, p):
    """torch CosineAnnealingWarmRestarts: cosine from base to η_min over T_i steps, then restart.

    Cycle lengths T_0, T_0·T_mult, T_0·T_mult², …; within a cycle T_cur = e − (cycle start) and
    lr = η_min + (base − η_min)(1 + cos(π·T_cur/T_i))/2, so η_min itself is never reached.
    Cycle starts are computed with integers (torch's stepping is integer-exact too).
    """
    T0, mult, eta_min = p["T_0"], p["T_mult"], p["eta_min"]
    n = int(e[-1]) + 1 if e.size else 0
    starts, lengths, s, L = [], [], 0, T0
    while s < n:
        starts.append(s)
        lengths.append(L)
        s += L
        L *= mult
    k = np.searchsorted(np.asarray(starts), e.astype(np.int64), side="right") - 1
    t_cur = e - np.asarray(starts, dtype=np.float64)[k]
    t_i = np.asarray(lengths, dtype=np.float64)[k]
    # 1) within cycle k: cosine from base (T_cur = 0) towards eta_min (T_cur → T_i)
    return _cosine_between(base, eta_min, t_cur, t_i)


def onecycle(e, base, p):
    """torch OneCycleLR (lr only): warm up to max_lr, then anneal to initial_lr/final_div_factor.

    initial = max_lr/div_factor, min = initial/final_div_factor. torch sets the lr itself: base_lr is
    ignored when max_lr is given (omitted, max_lr = base_lr). Phases end at the (float) steps
    pct_start·T − 1 and T − 1 (three_phase: pct_start·T − 1, 2·pct_start·T − 2, T − 1), each from the
    previous end, pct = (e − start)/(end − start), annealed by cos or linear. torch also cycles the
    optimizer's momentum (cycle_momentum=True); that is not modelled here. torch raises for
    e > total_steps; so do we (``schedule.total_steps``).
    """
    T, pct_start = p["total_steps"], p["pct_start"]
    max_lr = p["max_lr"]
    initial = max_lr / p["div_factor"]
    min_lr = initial / p["final_div_factor"]
    anneal = _cos_anneal if p["anneal_strategy"] == "cos" else _lin_anneal
    if p["three_phase"]:
        phases = [(float(pct_start * T) - 1, initial, max_lr), (float(2 * pct_start * T) - 2, max_lr, initial),
                  (T - 1, initial, min_lr)]
    else:
        phases = [(float(pct_start * T) - 1, initial, max_lr), (T - 1, max_lr, min_lr)]
    pieces, conds, start = [], [], 0.0
    for i, (end, a, b) in enumerate(phases):
        last = i == len(phases) - 1
        cond = np.ones(e.shape, bool) if last else e <= end
        used = cond & ~np.any(conds, axis=0) if conds else cond
        if np.any(used) and end == start:
            raise EngineInputError("schedule.pct_start", f"gives an empty phase {i + 1} (torch divides by zero)")
        with np.errstate(divide="ignore", invalid="ignore"):
            # 1) .. 3) phase i: anneal from a to b as pct goes 0 → 1
            pieces.append(anneal(a, b, (e - start) / (end - start)))
        if not last:
            conds.append(cond)
        start = end
    return _join(e, pieces, conds)


def polynomial(e, base, p):
    """torch PolynomialLR: base·(1 − min(e, T)/T)^power, T = total_iters (0 from T on)."""
    T, power = p["total_iters"], p["power"]
    return _join(e, [
        # 1) e < T: polynomial decay towards 0
        base * (1.0 - e / T) ** power,
        # 2) e ≥ T: the value at T (0 for power > 0, base for power = 0) from then on
        np.full(e.shape, base * (1.0 - 1.0) ** power),
    ], [e < T])


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ScheduleSpec:
    name: str
    title: str
    torch_class: str
    formula: str
    params: tuple[ParamSpec, ...]
    fn: Callable[[np.ndarray, float, dict], np.ndarray]


def _count(name, default, low=1, doc=""):
    return ParamSpec(name, default, low, _MAX_COUNT, "int", doc)


def _f(name, default, low=None, high=None, doc=""):
    return ParamSpec(name, default, low, high, "float", doc)


_GAMMA = _f("gamma", 0.1, 0.0, None, "multiplicative decay factor")
_ETA_MIN = _f("eta_min", 0.0, 0.0, None, "minimum learning rate (absolute)")
_RUN = "omitted: the run's number of steps"

SCHEDULES: dict[str, ScheduleSpec] = {
    "constant": ScheduleSpec("constant", "Constant", "(no scheduler)", "lr = base", (), constant),
    "step": ScheduleSpec(
        "step", "Step decay", "torch.optim.lr_scheduler.StepLR", "lr = base·γ^⌊e/step_size⌋",
        (_count("step_size", 30, doc="steps between decays"), _GAMMA), step),
    "multistep": ScheduleSpec(
        "multistep", "Multi-step decay", "torch.optim.lr_scheduler.MultiStepLR",
        "lr = base·γ^(#milestones ≤ e)",
        (ParamSpec("milestones", (30, 80), 1, _MAX_COUNT, "list", "steps at which lr is multiplied by γ"), _GAMMA),
        multistep),
    "exponential": ScheduleSpec(
        "exponential", "Exponential decay", "torch.optim.lr_scheduler.ExponentialLR", "lr = base·γ^e",
        (_f("gamma", 0.99, 0.0, None, "per-step factor (torch requires it; > 1 grows)"),), exponential),
    "linear": ScheduleSpec(
        "linear", "Linear ramp", "torch.optim.lr_scheduler.LinearLR",
        "lr = base·(s + (f − s)·min(e, T)/T)",
        (_f("start_factor", 1.0 / 3.0, 0.0, 1.0, "factor at e = 0 (torch: 0 < s <= 1)"),
         _f("end_factor", 1.0, 0.0, 1.0, "factor from e = total_iters on (torch: 0 <= f <= 1)"),
         _count("total_iters", 5, doc="steps of the ramp")), linear),
    "cosine": ScheduleSpec(
        "cosine", "Cosine annealing", "torch.optim.lr_scheduler.CosineAnnealingLR",
        "lr = η_min + (base − η_min)(1 + cos(π·e/T_max))/2 (continues past T_max)",
        (_count("T_max", None, doc="half-period in steps; " + _RUN), _ETA_MIN), cosine),
    "warmup_cosine": ScheduleSpec(
        "warmup_cosine", "Linear warmup + cosine decay", "transformers.get_cosine_schedule_with_warmup",
        "e < W: base·e/W; else m + (base − m)(1 + cos(2π·c·(e − W)/(T − W)))/2",
        (_count("warmup_steps", 0, low=0, doc="linear warmup steps, starting from lr 0"),
         _count("total_steps", None, doc="warmup + decay steps; " + _RUN),
         _f("min_lr", 0.0, 0.0, None, "learning rate at the end of the decay (absolute)"),
         _f("num_cycles", 0.5, 0.0, None, "cosine cycles over the decay (0.5 = one half-cosine down)")),
        warmup_cosine),
    "cosine_warm_restarts": ScheduleSpec(
        "cosine_warm_restarts", "Cosine with warm restarts (SGDR)",
        "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts",
        "lr = η_min + (base − η_min)(1 + cos(π·T_cur/T_i))/2; T_i = T_0·T_mult^k",
        (_count("T_0", 10, doc="steps in the first cycle"),
         _count("T_mult", 1, doc="cycle-length multiplier after each restart"), _ETA_MIN),
        cosine_warm_restarts),
    "onecycle": ScheduleSpec(
        "onecycle", "One-cycle", "torch.optim.lr_scheduler.OneCycleLR",
        "warm up max_lr/div → max_lr over pct_start·T, anneal to max_lr/(div·final_div) at T − 1",
        (_f("max_lr", None, 0.0, None, "peak learning rate (sets the lr itself); omitted: base_lr"),
         _count("total_steps", None, doc="steps in the cycle; " + _RUN),
         _f("pct_start", 0.3, 0.0, 1.0, "fraction of the cycle spent increasing the lr"),
         ParamSpec("anneal_strategy", "cos", kind="choice", choices=("cos", "linear"), doc="annealing shape"),
         _f("div_factor", 25.0, 0.0, None, "initial_lr = max_lr/div_factor (> 0)"),
         _f("final_div_factor", 1e4, 0.0, None, "min_lr = initial_lr/final_div_factor (> 0)"),
         ParamSpec("three_phase", False, kind="bool", doc="anneal back to initial_lr before the final decay")),
        onecycle),
    "polynomial": ScheduleSpec(
        "polynomial", "Polynomial decay", "torch.optim.lr_scheduler.PolynomialLR",
        "lr = base·(1 − min(e, T)/T)^power",
        (_count("total_iters", 5, doc="steps until the lr reaches 0"),
         _f("power", 1.0, 0.0, None, "power of the polynomial")), polynomial),
}


@resultclass(columns=True)
@dataclass(frozen=True)
class ScheduleValues:
    """A resolved schedule and its per-step learning rates."""

    name: str
    params: dict  # resolved parameters (defaults filled, run-length defaults made explicit)
    lr: np.ndarray  # float64 (steps,): lr[e] for e = 0..steps-1; step t uses lr[t-1]


def _resolve(s: ScheduleSpec, given: dict, base: float, steps: int) -> dict:
    f = "schedule"
    p = resolve_params(s.params, given, f)
    for key in ("T_max", "total_steps"):
        if key in p and p[key] is None:
            p[key] = steps
    if s.name == "multistep":
        ms = p["milestones"]
        if isinstance(ms, (str, bytes, Mapping)) or not hasattr(ms, "__iter__"):
            raise EngineInputError(f"{f}.milestones", "must be a list of step numbers")
        ms = list(ms)
        check_max(f"{f}.milestones", len(ms), "max_schedule_milestones")
        for m in ms:
            if isinstance(m, bool) or not isinstance(m, (int, float, np.integer, np.floating)) or int(m) != m:
                raise EngineInputError(f"{f}.milestones", "every milestone must be an integer")
            if not 1 <= m <= _MAX_COUNT:
                raise EngineInputError(f"{f}.milestones", f"every milestone must lie in [1, {_MAX_COUNT}]")
        p["milestones"] = sorted(int(m) for m in ms)
    if s.name == "linear" and p["start_factor"] <= 0.0:
        raise EngineInputError(f"{f}.start_factor", "must be > 0 and <= 1 (torch LinearLR)")
    if s.name == "onecycle":
        if p["max_lr"] is None:
            p["max_lr"] = base
        for key in ("div_factor", "final_div_factor"):
            if p[key] <= 0.0:
                raise EngineInputError(f"{f}.{key}", "must be > 0")
        if steps > p["total_steps"] + 1:
            raise EngineInputError(f"{f}.total_steps",
                                   f"OneCycleLR covers steps 0..{p['total_steps']} but {steps} were asked for "
                                   "(torch raises past total_steps); raise total_steps or omit it")
    return p


def schedule_values(schedule: Mapping[str, Any], base_lr: float, steps: int, lr_field: str = "base_lr") -> ScheduleValues:
    """Resolve ``spec`` (``{"name": ..., <params>}``) and compute ``lr[e]`` for e = 0..steps−1.

    ``lr_field`` names the base rate in refusals: a caller whose base rate is an optimizer's ``lr`` gets a
    base rate too large for the schedule (its values overflow) blamed on that ``lr``, not on the schedule."""
    spec = schedule
    if not isinstance(lr_field, str):
        raise EngineInputError("lr_field", "must be a string (the name refusals give the base rate)")
    if not isinstance(spec, Mapping):
        raise EngineInputError("schedule", "must be an object with a name, e.g. {'name': 'cosine'}")
    base = check_float(lr_field, base_lr, 0.0)
    n = check_int("steps", steps, 1, "max_steps", integral_floats=False)
    name = spec.get("name")
    if name is None:
        raise EngineInputError("schedule.name", "required; choose one of: " + ", ".join(SCHEDULES))
    s = lookup(SCHEDULES, name, "schedule.name")
    given = {k: v for k, v in spec.items() if k != "name" and v is not None}
    p = _resolve(s, given, base, n)
    e = np.arange(n, dtype=np.float64)
    with np.errstate(over="ignore", invalid="ignore"):
        lr = np.ascontiguousarray(s.fn(e, base, p), dtype=np.float64)
    if not np.all(np.isfinite(lr)):
        with np.errstate(over="ignore", invalid="ignore"):
            unit = s.fn(e, 1.0, {**p, "max_lr": 1.0} if s.name == "onecycle" and "max_lr" not in given else p)
        if np.all(np.isfinite(unit)):  # finite for base 1: the base itself is too large
            raise EngineInputError(lr_field, f"too large: the schedule's learning rates overflow float64 within {n} steps")
        raise EngineInputError("schedule", f"its learning rates overflow float64 within {n} steps")
    return ScheduleValues(s.name, p, lr)


def lr_schedule(schedule: Mapping[str, Any], base_lr: float, steps: int) -> np.ndarray:
    """float64 (steps,): ``lr[e]`` for e = 0..steps−1, as torch's scheduler gives (step t uses lr[t−1]).

    >>> engine.lr_schedule({"name": "step", "step_size": 2, "gamma": 0.5}, 0.1, 5).tolist()
    [0.1, 0.1, 0.05, 0.05, 0.025]
    """
    return schedule_values(schedule, base_lr, steps).lr


def lr_per_step(spec: Mapping[str, Any] | None, base_lr: float, steps: int, field: str = "schedule",
                lr_field: str = "optimizer.lr") -> np.ndarray:
    """The learning rate of each step: ``lr_schedule`` of ``spec``, or ``base_lr`` throughout when there is
    none. Refusals are named under ``field`` (a racer's own schedule: ``optimizers.2.schedule.T_max``); a
    base rate too large for the schedule is blamed on ``lr_field`` (a racer's ``optimizers.2.lr``)."""
    if spec is None:
        return np.full(int(steps), float(base_lr), dtype=np.float64)
    with field_prefix(field, strip="schedule", only=("schedule", "steps")):
        return schedule_values(spec, base_lr, steps, lr_field=lr_field).lr


def describe() -> list[dict]:
    """Catalog entries for ``"schedules"``: name, title, torch class, formula and parameters."""
    return [
        {"name": s.name, "title": s.title, "torch_class": s.torch_class, "formula": s.formula,
         "parameters": [p.to_dict() for p in s.params]}
        for s in SCHEDULES.values()
    ]


def _warmup() -> None:
    """No kernels here (numpy); evaluate each schedule once so import-time errors surface at startup."""
    for name in SCHEDULES:
        schedule_values({"name": name}, 0.1, 4)
