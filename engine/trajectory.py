"""One descent: a surface, an optimizer, a learning-rate schedule and a start point, step by step.

``run_trajectory(...)`` returns every step's position, loss, gradient, update and learning rate, and
stops early, saying why:

* ``converged``: the gradient norm ``||grad f(path[i])||_2`` fell below ``tolerance`` (a stationary
  point: a minimum, or a saddle reached exactly along a symmetry line);
* ``diverged``: the step produced a non-finite position, loss or gradient (that point is *not*
  recorded), or the position left the **bound box**: the surface's domain scaled 100x about its
  centre, ``|x - cx| > 100 * (xmax - xmin) / 2`` or ``|y - cy| > 100 * (ymax - ymin) / 2``
  (that point is finite and recorded; the next step is not taken);
* ``max_steps``: ``steps`` steps were taken.

Alignment of the arrays (``n = steps_taken``)::

    path[i]          position after i steps, i = 0..n (path[0] is the start)
    loss[i]          f(path[i]), the exact (full-batch) loss,          i = 0..n
    gradient[i]      grad f(path[i]), the exact (full-batch) gradient, i = 0..n
    update[i]        path[i+1] - path[i],                              i = 0..n-1
    lr[i]            the learning rate of the step path[i] -> path[i+1] (schedule value lr[t-1] of step t)
    step_gradient[i] the gradient the optimizer consumed for that step: the exact gradient, or a
                     mini-batch gradient, plus noise, then clipped

Every array holds finite values only.

Stochastic gradients, two ways (both seeded, both reproducible):

* **gradient noise**: ``step_gradient = grad f + noise_scale * z_t``, ``z_t ~ N(0, I_2)`` drawn up front
  as ``rng_noise.standard_normal((steps, 2))``;
* **mini-batches** (``linear_regression`` only, whose parameters are the dataset): step ``t`` uses the
  MSE gradient over ``batch_size`` samples. Each epoch is a fresh permutation of the ``n`` samples
  (``rng_batch.permutation(n)``), cut into ``ceil(n / batch_size)`` consecutive batches; the last one
  is smaller when ``batch_size`` does not divide ``n`` (torch ``DataLoader(shuffle=True,
  drop_last=False)``). The gradient of ``mean_i (w x_i + b - y_i)^2`` over a batch B is
  ``(2/|B|) sum_{i in B} r_i (x_i, 1)``, ``r_i = w x_i + b - y_i``.

``rng_noise, rng_batch = np.random.default_rng(seed).spawn(2)``: changing the noise scale does not
change the batches. Gradient clipping (torch ``clip_grad_norm_`` / ``clip_grad_value_``) is applied
to the stochastic gradient, after noise, as in ``loss.backward(); clip(...); opt.step()``.

Work: a request may take ``runs x steps x cost <= max_descent_work`` steps, ``cost = ceil(n / 64)`` on
``linear_regression`` (every evaluation loops over its n samples) and 1 elsewhere (``step_cost``).

The whole loop runs inside one compiled kernel, ``engine.descent.descend``, shared with
``engine.race``, ``engine.lr_sweep`` and ``engine.basins``.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import Mapping, Sequence

import numpy as np

from .results import resultclass
from .descent import (
    ALIGNMENT, BOUND_FACTOR, DEFAULT_OPTIMIZER, DEFAULT_TOLERANCE, SAMPLES_PER_WORK_UNIT, STATUS, STATUS_MEANINGS,
    Setup, check_start, descend, new_run, record_arrays, setup, stop_reason,
)
from .optimizers import ResolvedOptimizer, resolve_optimizer
from .registry import ParamSpec
from .schedules import lr_per_step
from .validate import Domain, Pair, Spec

__all__ = ["Trajectory", "run_trajectory"]


@resultclass(columns=("x", "y"))
@dataclass(frozen=True)
class Trajectory:
    """One descent. Arrays are aligned as the module docstring says; all values finite."""

    surface: str
    optimizer: str
    path: np.ndarray  # (n+1, 2)
    loss: np.ndarray  # (n+1,)
    gradient: np.ndarray  # (n+1, 2)
    update: np.ndarray  # (n, 2)
    lr: np.ndarray  # (n,)
    step_gradient: np.ndarray  # (n, 2)
    status: str  # converged | diverged | max_steps
    reason: str  # why it stopped, with the numbers
    steps_taken: int
    tolerance: float
    bound: tuple  # ((xlo, xhi), (ylo, yhi)): leaving it is divergence


def trajectory_of(su, opt, lrs: np.ndarray, rec, n: int, status: int) -> Trajectory:
    """The ``Trajectory`` of a run that took ``n`` steps, from its record (views, not copies)."""
    return Trajectory(
        surface=su.surface.name, optimizer=opt.name,
        path=rec.path[: n + 1], loss=rec.loss[: n + 1], gradient=rec.grad[: n + 1], update=rec.update[:n],
        lr=lrs[:n].copy(), step_gradient=rec.used[:n], status=STATUS[status],
        reason=stop_reason(status, n, su, rec.grad[n]), steps_taken=int(n), tolerance=su.tolerance,
        bound=su.bound(),
    )


@dataclass(frozen=True)
class TrajectoryPlan:
    """A trajectory request, validated and resolved: what ``run_trajectory`` runs (``plan_trajectory``)."""

    su: Setup
    opt: ResolvedOptimizer
    lrs: np.ndarray  # (steps,) the learning rate of each step
    start: tuple[float, float]


def plan_trajectory(
    surface: str | Spec = "rosenbrock",
    start: Pair = (-1.5, 2.0),
    steps: int = 1000,
    optimizer: Spec | None = None,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    draw: bool = True,
    domain: Domain | None = None,
) -> TrajectoryPlan:
    """``run_trajectory``'s checks, without the run; ``draw=False``: without its random draws either
    (``engine.descent.setup``), so a check costs little whatever the steps."""
    su = setup(surface, params, steps, noise_scale=noise_scale, seed=seed, batch_size=batch_size,
               clip=clip, tolerance=tolerance, draw=draw, domain=domain)
    opt = resolve_optimizer(DEFAULT_OPTIMIZER if optimizer is None else optimizer)
    lrs = lr_per_step(schedule, opt.lr, su.steps)
    return TrajectoryPlan(su, opt, lrs, check_start(su, start))


def run_trajectory(
    surface: str | Spec = "rosenbrock",
    start: Pair = (-1.5, 2.0),
    steps: int = 1000,
    optimizer: Spec | None = None,
    schedule: Spec | None = None,
    params: Mapping[str, float] | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: Spec | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
    domain: Domain | None = None,
) -> Trajectory:
    """Descend ``surface`` from ``start`` with ``optimizer`` (a spec dict, e.g. ``{"name": "adam", "lr": 0.01}``).

    ``schedule`` (``{"name": "cosine", ...}``, see ``engine.schedules``) scales the optimizer's lr per
    step; without one the lr is constant. ``noise_scale``/``seed``/``batch_size`` make the gradient
    stochastic and ``clip`` clips it (module docstring). ``tolerance`` is the gradient-norm tolerance
    for ``converged`` (0 disables it).

    >>> t = engine.run_trajectory("rosenbrock", start=(-1.5, 2.0), steps=2000,
    ...                           optimizer={"name": "adam", "lr": 0.05})
    >>> t.status, t.path.shape, t.path[-1].round(3).tolist()
    ('max_steps', (2001, 2), [1.0, 1.0])
    """
    p = plan_trajectory(surface, start, steps, optimizer, schedule, params, noise_scale, seed, batch_size, clip,
                        tolerance, domain=domain)
    rec = record_arrays(p.su.steps)
    n, status, _, _ = descend(p.su.surface.args, p.su.rules, p.opt.args(p.lrs), new_run(p.opt, p.start), rec)
    return trajectory_of(p.su, p.opt, p.lrs, rec, n, status)


def describe() -> list[dict]:
    """The ``descent`` catalog entry of one trajectory: statuses, alignment, bound, defaults, stochastic rules."""
    return [{
        "name": "trajectory",
        "title": "One descent, step by step",
        "parameters": [ParamSpec("tolerance", DEFAULT_TOLERANCE, 0.0, None,
                                 doc="converged when the gradient norm falls below this (0: never)").to_dict()],
        "statuses": STATUS_MEANINGS,
        "alignment": ALIGNMENT,
        "bound": f"the domain scaled {BOUND_FACTOR:g}x about its centre; leaving it is divergence",
        "defaults": {"optimizer": DEFAULT_OPTIMIZER, "tolerance": DEFAULT_TOLERANCE, "schedule": None},
        "stochastic": {
            "noise": "exact gradient + scale * N(0, I), drawn with np.random.default_rng(seed).spawn(2)[0]",
            "batch_size": "linear_regression only: MSE gradient over a mini-batch; a fresh permutation each "
            "epoch (spawn(2)[1]), consecutive batches, last batch smaller (drop_last=False)",
        },
        "clip": {"max_norm": "torch clip_grad_norm_ (coef = max_norm / (norm + 1e-6), at most 1)",
                 "max_value": "torch clip_grad_value_"},
        "limits": ["max_steps", "max_descent_work", "max_batch_work"],
        "work": f"runs x steps x (ceil(n/{SAMPLES_PER_WORK_UNIT}) on linear_regression, else 1) <= max_descent_work",
    }]


def _warmup() -> None:
    run_trajectory("quadratic", (1.0, 1.0), 3, {"name": "sgd", "lr": 0.1})
    run_trajectory("linear_regression", (0.0, 0.0), 3, {"name": "sgd", "lr": 0.1}, noise_scale=0.1, batch_size=2,
                   clip={"max_norm": 1.0})
