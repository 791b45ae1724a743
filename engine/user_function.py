"""Descend the user's own function: any Python callable over an n-dimensional numpy vector.

A notebook user races optimizers on a function of their own without writing the loop::

    def fun(p):                                   # p: float64 array (n,), a fresh copy each call
        return value, gradient                     # a number and an array of shape (n,)  (scipy's jac=True)

    t = engine.descend_function(fun, x0=np.zeros(10), steps=500, optimizer={"name": "adam", "lr": 0.01})
    r = engine.race_function(fun, np.zeros(10), 500, [{"name": "sgd", "lr": 1e-3, "momentum": 0.9},
                                                      {"name": "adam", "lr": 0.01}])

Each step is the one a 2-D descent takes (``engine.descent.descend``), in torch's order::

    g = gradient(p_t); clip(g); opt.step()         # engine.clipping, then engine.optimizers.optimizer_step
    value, gradient = fun(p_{t+1})                 # the next point's exact loss and gradient

with the same optimizer kernels (torch.optim semantics, 1-based t, a schedule's lr[t-1] for step t) and the same
stopping rules: ``converged`` when ``Σ g_i² < tolerance²`` at a recorded point, ``diverged`` when a step
produces a non-finite position, value or gradient (not recorded), ``max_steps`` otherwise. There is no bound
box: the function has no domain to scale. The result is the descents' ``Trajectory`` with rows of n numbers
(``path (k+1, n)``, ``gradient``, ``update``, ``step_gradient``; ``bound`` is empty).

Limits: ``steps <= max_steps``; the recorded numbers, ``(steps + 1) x n`` per run summed over a race's runs,
``<= max_function_record``. Refusals are ``EngineInputError`` naming the argument (``x0``, ``fun``,
``optimizers.1.lr``). An exception raised by ``fun`` itself reaches the caller unchanged: it is the user's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from .clipping import clip_gradient, resolve_clip
from .descent import DEFAULT_OPTIMIZER, DEFAULT_TOLERANCE
from .errors import EngineInputError, field_prefix
from .limits import LIMITS
from .optimizers import new_state, optimizer_step, resolve_optimizer
from .schedules import lr_per_step
from .trajectory import Trajectory
from .validate import check_float, check_int

__all__ = ["FunctionRace", "descend_function", "race_function"]


@resultclass
@dataclass(frozen=True)
class FunctionRace:
    """Optimizers raced on one function from one start: their trajectories in request order."""

    runs: tuple[Trajectory, ...]
    best: int  # the run with the lowest final loss that did not diverge (-1 if all diverged)


def _check_x0(x0) -> np.ndarray:
    try:
        p = np.array(x0, dtype=np.float64)
    except (TypeError, ValueError):
        raise EngineInputError("x0", "must be a vector of numbers") from None
    if p.ndim == 0:
        p = p.reshape(1)
    if p.ndim != 1 or p.size == 0:
        raise EngineInputError("x0", f"must be a non-empty vector (1-D), got shape {p.shape}")
    if not np.isfinite(p).all():
        raise EngineInputError("x0", f"coordinate {int(np.argmin(np.isfinite(p)))} is not finite")
    return p


def _caller(fun: Callable, n: int, name: str) -> Callable:
    """``fun`` checked to return (finite-or-not number, gradient (n,)), as (float, float64 array)."""
    if not callable(fun):
        raise EngineInputError("fun", f"must be callable: fun(p) -> (value, gradient), got {type(fun).__name__}")

    def call(p: np.ndarray):
        out = fun(p.copy())
        if not (isinstance(out, tuple) and len(out) == 2):
            raise EngineInputError("fun", f"{name} must return (value, gradient), got {type(out).__name__}")
        value, grad = out
        try:
            value = float(value)
            g = np.array(grad, dtype=np.float64).reshape(-1) if np.ndim(grad) <= 1 else None
        except (TypeError, ValueError):
            raise EngineInputError("fun", f"{name} returned a value or gradient that is not numeric") from None
        if g is None or g.size != n:
            raise EngineInputError("fun", f"{name} returned a gradient of shape {np.shape(grad)}; "
                                          f"x0 has shape ({n},)")
        return value, g
    return call


def _one_run(call, p0: np.ndarray, opt, lrs: np.ndarray, clip_kind: int, clip_arg: float, tolerance: float,
             name: str) -> Trajectory:
    steps, n = lrs.shape[0], p0.size
    path, grad = np.empty((steps + 1, n)), np.empty((steps + 1, n))
    loss, used = np.empty(steps + 1), np.empty((steps, n))
    p = p0.copy()
    state, scal = new_state(opt, n)
    f, g = call(p)
    if not (math.isfinite(f) and np.isfinite(g).all()):
        raise EngineInputError("x0", "the value or gradient of fun is not finite there")
    path[0], grad[0], loss[0] = p, g, f
    tol2 = tolerance * tolerance
    k, status = 0, "max_steps"
    if float(g @ g) < tol2:
        status = "converged"
    while status == "max_steps" and k < steps:
        t = k + 1
        used[k] = g
        clip_gradient(clip_kind, clip_arg, used[k], False)
        optimizer_step(opt.code, opt.hp, p, used[k], state, scal, t, lrs[k])
        f, g = call(p)
        if not (math.isfinite(f) and np.isfinite(g).all() and np.isfinite(p).all()):
            status = "diverged"
            break
        k = t
        path[k], grad[k], loss[k] = p, g, f
        if float(g @ g) < tol2:
            status = "converged"
    if status == "converged":
        reason = f"gradient norm {math.sqrt(float(grad[k] @ grad[k])):.3g} < tolerance {tolerance:g} after {k} steps"
    elif status == "diverged":
        reason = f"step {k + 1} produced a non-finite position, loss or gradient (not recorded)"
    else:
        reason = f"took all {k} steps"
    return Trajectory(surface=name, optimizer=opt.name, path=path[:k + 1], loss=loss[:k + 1], gradient=grad[:k + 1],
                      update=np.diff(path[:k + 1], axis=0), lr=lrs[:k].copy(), step_gradient=used[:k], status=status,
                      reason=reason, steps_taken=k, tolerance=tolerance, bound=())


def _common(fun, x0, steps, clip, tolerance, runs: int):
    p0 = _check_x0(x0)
    steps = check_int("steps", steps, 1, "max_steps")
    record = runs * (steps + 1) * p0.size
    if record > LIMITS["max_function_record"]:
        raise EngineInputError("steps", f"runs x (steps + 1) x len(x0) = {record:,} recorded numbers exceed limit "
                                        f"max_function_record={LIMITS['max_function_record']:,}")
    tolerance = check_float("tolerance", tolerance, 0.0)
    clip_kind, clip_arg = resolve_clip(clip)
    name = getattr(fun, "__name__", None) or type(fun).__name__
    return p0, steps, tolerance, clip_kind, clip_arg, _caller(fun, p0.size, name), name


def descend_function(fun: Callable[[np.ndarray], tuple[float, ArrayLike]], x0: ArrayLike, steps: int = 1000,
                     optimizer: Mapping[str, Any] | None = None, schedule: Mapping[str, Any] | None = None,
                     clip: Mapping[str, float] | None = None,
                     tolerance: float = DEFAULT_TOLERANCE) -> Trajectory:
    """Descend ``fun(p) -> (value, gradient)`` from ``x0`` with ``optimizer`` (a spec dict, torch.optim names and
    defaults; default SGD lr 1e-3), ``schedule`` (engine.schedules) and ``clip`` (``{"max_norm": c}`` or
    ``{"max_value": c}``). Returns a ``Trajectory`` with rows of ``len(x0)`` numbers (module docstring)."""
    p0, steps, tolerance, ck, ca, call, name = _common(fun, x0, steps, clip, tolerance, 1)
    opt = resolve_optimizer(DEFAULT_OPTIMIZER if optimizer is None else optimizer)
    lrs = lr_per_step(schedule, opt.lr, steps)
    with np.errstate(over="ignore", invalid="ignore"):  # a huge finite gradient: its squared norm may be inf
        return _one_run(call, p0, opt, lrs, ck, ca, tolerance, name)


def race_function(fun: Callable[[np.ndarray], tuple[float, ArrayLike]], x0: ArrayLike, steps: int = 1000,
                  optimizers: Sequence[Mapping[str, Any]] | None = None, schedule: Mapping[str, Any] | None = None,
                  clip: Mapping[str, float] | None = None,
                  tolerance: float = DEFAULT_TOLERANCE) -> FunctionRace:
    """Race ``optimizers`` (spec dicts; each may carry its own ``schedule``, else the shared one) on ``fun``
    from ``x0``: one ``descend_function`` run each, in order, with the same clip and tolerance."""
    if optimizers is not None and (isinstance(optimizers, (str, bytes, Mapping)) or not isinstance(optimizers, Sequence)):
        raise EngineInputError("optimizers", "must be a list of optimizer specs, e.g. [{'name': 'adam', 'lr': 0.01}]")
    specs = list(optimizers) if optimizers is not None else [DEFAULT_OPTIMIZER, {"name": "adam", "lr": 0.01}]
    if not 1 <= len(specs) <= LIMITS["max_race_runs"]:
        raise EngineInputError("optimizers", f"between 1 and {LIMITS['max_race_runs']} optimizers "
                                             "(limit max_race_runs)")
    p0, steps, tolerance, ck, ca, call, name = _common(fun, x0, steps, clip, tolerance, len(specs))
    plans = []
    for i, spec in enumerate(specs):
        if not isinstance(spec, Mapping):
            raise EngineInputError(f"optimizers.{i}", "must be an optimizer spec, e.g. {'name': 'adam', 'lr': 0.01}")
        own = dict(spec)
        sched = own.pop("schedule", schedule)
        with field_prefix(f"optimizers.{i}", strip="optimizer"):
            opt = resolve_optimizer(own)
        plans.append((opt, lr_per_step(sched, opt.lr, steps, field=f"optimizers.{i}.schedule")))
    with np.errstate(over="ignore", invalid="ignore"):  # a huge finite gradient: its squared norm may be inf
        runs = tuple(_one_run(call, p0, opt, lrs, ck, ca, tolerance, name) for opt, lrs in plans)
    finals = [r.loss[-1] if r.status != "diverged" else math.inf for r in runs]
    best = int(np.argmin(finals)) if math.isfinite(min(finals)) else -1
    return FunctionRace(runs, best)


def describe() -> list[dict]:
    """The ``descent`` catalog entry of the Python-only function descent (no HTTP request carries a callable)."""
    return [{
        "name": "function",
        "title": "Descend your own Python function (engine.descend_function, engine.race_function)",
        "parameters": [],
        "python": "fun(p) -> (value, gradient): p a float64 vector (a copy), gradient of the same shape",
        "step": "g = gradient(p_t); clip(g); optimizer step t (torch.optim semantics); value, gradient = fun(p_t+1)",
        "statuses": {"converged": "sum g_i^2 < tolerance^2 at a recorded point",
                     "diverged": "a non-finite position, value or gradient (not recorded)",
                     "max_steps": "all steps taken"},
        "limits": ["max_steps", "max_race_runs", "max_function_record"],
    }]


def _warmup() -> None:
    """The kernels are engine.optimizers' and engine.clipping's; one tiny race loads them from Python."""
    race_function(lambda p: (float(p @ p), 2.0 * p), [1.0, -1.0], 3,
                  [{"name": "sgd", "lr": 0.1}, {"name": "adam", "lr": 0.1}], clip={"max_norm": 1.0})
