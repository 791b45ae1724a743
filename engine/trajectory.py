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

The whole loop runs inside one compiled kernel; ``_descend`` is shared with ``engine.race``,
``engine.lr_sweep`` and ``engine.basins``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._jit import kernel
from .clipping import clip_grad_norm, clip_grad_value
from .errors import EngineInputError
from .limits import LIMITS, check_max
from .optimizers import new_state, optimizer_step_inline, resolve_optimizer
from .schedules import lr_schedule
from .surfaces import LINEAR_REGRESSION, resolve_surface, surface_grad

# -- run outcomes (kernel codes) ----------------------------------------------------------------
MAX_STEPS = 0  # all steps taken
CONVERGED = 1  # gradient norm below tolerance
REACHED = 2  # within minimum_tolerance of a known minimum (basins only: trajectories pass no minima)
NONFINITE = 3  # a non-finite position, loss or gradient (not recorded)
OUT_OF_BOUNDS = 4  # left the bound box (recorded)

STATUS = {MAX_STEPS: "max_steps", CONVERGED: "converged", REACHED: "converged", NONFINITE: "diverged",
          OUT_OF_BOUNDS: "diverged"}

CLIP_NONE, CLIP_NORM, CLIP_VALUE = 0, 1, 2

BOUND_FACTOR = 100.0  # the bound box is the domain scaled by this about its centre
DEFAULT_TOLERANCE = 1e-6  # gradient-norm tolerance
DEFAULT_OPTIMIZER = {"name": "sgd", "lr": 1e-3}
SAMPLES_PER_WORK_UNIT = 64  # linear_regression: a step over n samples counts ceil(n / 64) toward max_descent_work

STATUS_MEANINGS = {
    "converged": "the gradient norm fell below `tolerance` (basins and race: or the point came within "
    "`minimum_tolerance` of a known minimum)",
    "diverged": "a non-finite position/loss/gradient (not recorded), or the position left the bound box: "
    "the domain scaled 100x about its centre (recorded)",
    "max_steps": "every requested step was taken without converging or diverging",
}

ALIGNMENT = (
    "path[i] is the position after i steps (path[0] = start); loss[i] and gradient[i] are the exact "
    "loss and gradient at path[i]; update[i] = path[i+1] - path[i]; lr[i] is the learning rate of "
    "that step; step_gradient[i] is the (noisy / mini-batch / clipped) gradient it used. "
    "len(path) = len(loss) = len(gradient) = steps_taken + 1, len(update) = len(lr) = steps_taken."
)


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


@dataclass(frozen=True)
class Setup:
    """Everything a descent kernel needs, resolved and validated once (shared by race, sweep, basins)."""

    surface: object  # engine.surfaces.Surface
    steps: int
    noise: np.ndarray  # (steps, 2) standard normals, or (0, 2) without noise
    noise_scale: float
    order: np.ndarray  # int64 (epochs * n,) concatenated epoch permutations, or (0,) without batches
    batch: int  # 0 = exact gradient
    clip_kind: int
    clip_arg: float
    tolerance: float
    box: np.ndarray  # (4,) xlo, xhi, ylo, yhi


# -- input resolution shared by the descent modules ----------------------------------------------


def step_cost(surface) -> int:
    """Work units of one descent step: 1 on the analytic surfaces; ``ceil(n / SAMPLES_PER_WORK_UNIT)`` on
    ``linear_regression``, whose every loss and gradient evaluation loops over its n samples (~1 ns
    each, against ~60-100 ns for an analytic surface plus an optimizer step)."""
    if surface.code == LINEAR_REGRESSION:
        return -(-(surface.p.size // 2) // SAMPLES_PER_WORK_UNIT)
    return 1


def check_int(field: str, value, low: int, limit: str | None = None) -> int:
    """An integer (or an integral float) >= ``low``, and within ``LIMITS[limit]`` when given."""
    integral = isinstance(value, (int, np.integer)) or (isinstance(value, float) and value.is_integer())
    if isinstance(value, bool) or not integral:
        raise EngineInputError(field, "must be an integer")
    value = int(value)
    if value < low:
        raise EngineInputError(field, f"must be >= {low}")
    if limit is not None:
        check_max(field, value, limit)
    return value


def check_float(field: str, value, low: float | None = None, high: float | None = None, strict: bool = False) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise EngineInputError(field, "must be a number")
    value = float(value)
    if not math.isfinite(value):
        raise EngineInputError(field, "must be finite")
    if low is not None and (value <= low if strict else value < low):
        raise EngineInputError(field, f"must be {'>' if strict else '>='} {low}")
    if high is not None and value > high:
        raise EngineInputError(field, f"must be <= {high}")
    return value


def check_point(field: str, value) -> tuple[float, float]:
    try:
        pair = list(value)
    except TypeError:
        raise EngineInputError(field, "must be a pair [x, y]") from None
    if len(pair) != 2:
        raise EngineInputError(field, "must be a pair [x, y]")
    return check_float(f"{field}.0", pair[0]), check_float(f"{field}.1", pair[1])


def bound_box(surface) -> np.ndarray:
    """The domain scaled ``BOUND_FACTOR`` times about its centre: ``[xlo, xhi, ylo, yhi]``."""
    (x0, x1), (y0, y1) = surface.domain
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    hx, hy = 0.5 * BOUND_FACTOR * (x1 - x0), 0.5 * BOUND_FACTOR * (y1 - y0)
    return np.array([cx - hx, cx + hx, cy - hy, cy + hy], dtype=np.float64)


def resolve_opt(spec, field: str = "optimizer"):
    """``resolve_optimizer`` with error fields re-rooted at ``field`` (e.g. ``optimizers.2.lr``)."""
    if spec is None:
        spec = DEFAULT_OPTIMIZER
    if not isinstance(spec, dict):
        raise EngineInputError(field, "must be an object with a name, e.g. {'name': 'adam', 'lr': 0.01}")
    try:
        return resolve_optimizer(spec)
    except EngineInputError as e:
        raise _reroot(e, "optimizer", field) from None


def schedule_lrs(schedule, base_lr: float, steps: int, field: str = "schedule",
                 lr_field: str = "optimizer.lr") -> np.ndarray:
    """The per-step learning rates: ``lr[t-1]`` for step t. No schedule = the optimizer's lr throughout.

    A base rate too large for the schedule (its values overflow) is blamed on ``lr_field``."""
    if schedule is None:
        return np.full(steps, float(base_lr), dtype=np.float64)
    if not isinstance(schedule, dict):
        raise EngineInputError(field, "must be an object with a name, e.g. {'name': 'cosine'}")
    try:
        lrs = lr_schedule(schedule, float(base_lr), steps)
    except EngineInputError as e:
        if e.field == "base_lr":
            raise EngineInputError(lr_field, e.message) from None
        raise _reroot(e, "schedule", field) from None
    return np.ascontiguousarray(lrs, dtype=np.float64)


def _reroot(e: EngineInputError, old: str, new: str) -> EngineInputError:
    f = e.field
    if old == new:
        return e
    if f == old or f.startswith(old + "."):
        f = new + f[len(old):]
    elif not f.startswith(new):
        f = f"{new}.{f}"
    return EngineInputError(f, e.message)


def resolve_clip(clip) -> tuple[int, float]:
    """``None``, ``{"max_norm": c}`` (torch clip_grad_norm_) or ``{"max_value": c}`` (clip_grad_value_)."""
    if clip is None:
        return CLIP_NONE, 0.0
    if not isinstance(clip, dict):
        raise EngineInputError("clip", "must be an object: {'max_norm': c} or {'max_value': c}")
    clip = {k: v for k, v in clip.items() if v is not None}
    unknown = sorted(set(clip) - {"max_norm", "max_value"})
    if unknown:
        raise EngineInputError(f"clip.{unknown[0]}", "unknown field; accepted: max_norm, max_value")
    if len(clip) > 1:
        raise EngineInputError("clip", "give one of max_norm or max_value, not both")
    if "max_norm" in clip:
        return CLIP_NORM, check_float("clip.max_norm", clip["max_norm"], 0.0, strict=True)
    if "max_value" in clip:
        return CLIP_VALUE, check_float("clip.max_value", clip["max_value"], 0.0, strict=True)
    return CLIP_NONE, 0.0


def batch_order(n: int, batch_size: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """The sample order of every epoch a run of ``steps`` mini-batch steps touches, concatenated.

    Step t (1-based) uses ``order[e*n + j*b : e*n + j*b + m]`` with ``e, j = divmod(t-1, nb)``,
    ``nb = ceil(n / b)``, ``m = min(b, n - j*b)`` (the kernel computes the same).
    """
    nb = -(-n // batch_size)
    epochs = -(-steps // nb)
    # row e is epoch e's permutation: the same draws as ``rng.permutation(n)`` once per epoch
    order = rng.permuted(np.tile(np.arange(n, dtype=np.int64), (epochs, 1)), axis=1)
    return np.ascontiguousarray(order.ravel())


def batch_indices(order: np.ndarray, n: int, batch_size: int, t: int) -> np.ndarray:
    """The sample indices of step ``t`` (1-based) under ``batch_order``."""
    nb = -(-n // batch_size)
    e, j = divmod(t - 1, nb)
    s = e * n + j * batch_size
    return order[s : s + min(batch_size, n - j * batch_size)]


def setup(surface: str, params, steps: int, *, runs: int = 1, noise_scale: float = 0.0, seed: int = 0,
          batch_size: int | None = None, clip=None, tolerance: float = DEFAULT_TOLERANCE,
          work_field: str = "steps") -> Setup:
    """Validate and resolve the inputs every descent shares; check limits before any kernel runs."""
    steps = check_int("steps", steps, 1, "max_steps")
    check_max(work_field, runs * steps, "max_descent_work")
    surf = resolve_surface(surface, params)
    cost = step_cost(surf)
    if cost > 1 and runs * steps * cost > LIMITS["max_descent_work"]:
        raise EngineInputError(
            work_field,
            f"{runs * steps * cost} exceeds limit max_descent_work={LIMITS['max_descent_work']} (runs x steps x "
            f"ceil(n/{SAMPLES_PER_WORK_UNIT}) = {runs} x {steps} x {cost}: each linear_regression step loops over "
            f"its n={surf.p.size // 2} samples)",
        )
    noise_scale = check_float("noise.scale", noise_scale, 0.0)
    seed = check_int("noise.seed", seed, 0)
    tolerance = check_float("tolerance", tolerance, 0.0)
    clip_kind, clip_arg = resolve_clip(clip)
    # the generators only when a draw is needed: building and spawning them takes ~30 us, as long as
    # ~500 descent steps (the streams are the same whenever they are made)
    streams = np.random.default_rng(seed).spawn(2) if noise_scale > 0 or batch_size is not None else None
    if noise_scale > 0:
        noise = np.ascontiguousarray(streams[0].standard_normal((steps, 2)))
    else:
        noise = np.zeros((0, 2), dtype=np.float64)
    batch = 0
    order = np.zeros(0, dtype=np.int64)
    if batch_size is not None:
        if surf.code != LINEAR_REGRESSION:
            raise EngineInputError(
                "batch_size", f"mini-batches need a dataset; only surface 'linear_regression' has one, not {surf.name!r}"
            )
        n = surf.p.size // 2
        batch = check_int("batch_size", batch_size, 1)
        if batch > n:
            raise EngineInputError("batch_size", f"must be <= the number of samples n={n}")
        check_max("batch_size", runs * steps * batch, "max_batch_work")
        order = batch_order(n, batch, steps, streams[1])
    return Setup(surf, steps, noise, noise_scale, order, batch, clip_kind, clip_arg, tolerance, bound_box(surf))


def default_start(surface) -> tuple[float, float]:
    """A start when none is given: the surface's own suggestion if its spec has one, else the point
    20% along x and 80% along y of its domain (upper left, away from the usual minima)."""
    start = getattr(getattr(surface, "spec", None), "start", None)
    if start is not None:
        return float(start[0]), float(start[1])
    (x0, x1), (y0, y1) = surface.domain
    return x0 + 0.2 * (x1 - x0), y0 + 0.8 * (y1 - y0)


def check_start(su: Setup, start, field: str = "start") -> tuple[float, float]:
    x, y = check_point(field, start)
    b = su.box
    if not (b[0] <= x <= b[1] and b[2] <= y <= b[3]):
        raise EngineInputError(
            field, f"lies outside the bound box x in [{b[0]:g}, {b[1]:g}], y in [{b[2]:g}, {b[3]:g}] (100x the domain)"
        )
    f, gx, gy = surface_grad(su.surface.code, su.surface.p, x, y)
    if not (math.isfinite(f) and math.isfinite(gx) and math.isfinite(gy)):
        raise EngineInputError(field, "the loss or gradient is not finite there")
    return x, y


def stop_reason(status: int, n: int, su: Setup, last_grad=None) -> str:
    b = su.box
    if status == CONVERGED:
        gn = float(np.hypot(*last_grad)) if last_grad is not None else float("nan")
        return f"gradient norm {gn:.3g} < tolerance {su.tolerance:g} after {n} steps"
    if status == REACHED:
        return f"within minimum_tolerance of a known minimum after {n} steps"
    if status == NONFINITE:
        return f"step {n + 1} produced a non-finite position, loss or gradient (not recorded)"
    if status == OUT_OF_BOUNDS:
        return (f"step {n} left the bound box x in [{b[0]:g}, {b[1]:g}], y in [{b[2]:g}, {b[3]:g}] "
                f"(the domain scaled {BOUND_FACTOR:g}x about its centre)")
    return f"took all {n} steps"


def record_arrays(steps: int) -> tuple[np.ndarray, ...]:
    """``path (steps+1, 2)``, ``loss (steps+1,)``, ``gradient (steps+1, 2)``, ``update (steps, 2)`` and
    ``step_gradient (steps, 2)``, uninitialised, C-contiguous views of ONE allocation.

    Five separate arrays of ~160 kB (10,000 steps) each came back as fresh pages from the OS on every
    call: glibc serves blocks above its mmap threshold with mmap and unmaps them when freed, and the
    threshold only rises to the largest block freed so far, so five mid-sized blocks keep being mapped,
    unmapped or trimmed. That was ~160 page faults, ~0.3 ms of a 0.9 ms 10,000-step descent whenever
    the previous result was still alive. One block raises the threshold once and is reused from the heap.
    """
    n1 = steps + 1
    block = np.empty(9 * steps + 5)
    path = block[: 2 * n1].reshape(n1, 2)
    grad = block[2 * n1 : 4 * n1].reshape(n1, 2)
    update = block[4 * n1 : 4 * n1 + 2 * steps].reshape(steps, 2)
    used = block[4 * n1 + 2 * steps : 4 * n1 + 4 * steps].reshape(steps, 2)
    loss = block[4 * n1 + 4 * steps :]
    return path, loss, grad, update, used


# -- public ---------------------------------------------------------------------------------------


def run_trajectory(
    surface: str = "rosenbrock",
    start=(-1.5, 2.0),
    steps: int = 1000,
    optimizer: dict | None = None,
    schedule: dict | None = None,
    params: dict | None = None,
    noise_scale: float = 0.0,
    seed: int = 0,
    batch_size: int | None = None,
    clip: dict | None = None,
    tolerance: float = DEFAULT_TOLERANCE,
) -> Trajectory:
    """Descend ``surface`` from ``start`` with ``optimizer`` (a spec dict, e.g. ``{"name": "adam", "lr": 0.01}``).

    ``schedule`` (``{"name": "cosine", ...}``, see ``engine.schedules``) scales the optimizer's lr per
    step; without one the lr is constant. ``noise_scale``/``seed``/``batch_size`` make the gradient
    stochastic and ``clip`` clips it (module docstring). ``tolerance`` is the gradient-norm tolerance
    for ``converged`` (0 disables it).
    """
    su = setup(surface, params, steps, noise_scale=noise_scale, seed=seed, batch_size=batch_size,
               clip=clip, tolerance=tolerance)
    opt = resolve_opt(optimizer)
    lrs = schedule_lrs(schedule, opt.lr, su.steps)
    x, y = check_start(su, start)
    S = su.steps
    path, loss, grad, update, used = record_arrays(S)
    p = np.array([x, y], dtype=np.float64)
    g = np.zeros(2)
    state, scal = new_state(opt, 2)
    n, status = _trajectory_kernel(
        su.surface.code, su.surface.p, opt.code, opt.hp, lrs, su.noise, su.noise_scale, su.order, su.batch,
        su.clip_kind, su.clip_arg, su.tolerance, su.box, p, g, state, scal, path, loss, grad, update, used,
    )
    return Trajectory(
        surface=su.surface.name, optimizer=opt.name,
        path=path[: n + 1], loss=loss[: n + 1], gradient=grad[: n + 1], update=update[:n], lr=lrs[:n].copy(),
        step_gradient=used[:n], status=STATUS[status], reason=stop_reason(status, n, su, grad[n]),
        steps_taken=int(n), tolerance=su.tolerance,
        bound=((float(su.box[0]), float(su.box[1])), (float(su.box[2]), float(su.box[3]))),
    )


def describe() -> list[dict]:
    """The ``descent`` catalog section: what each descent endpoint returns and the rules it applies."""
    from .basins import describe as basins_entries  # function imports: engine re-exports shadow module names
    from .lr_sweep import describe as lr_entries
    from .race import describe as race_entries

    entry = {
        "name": "trajectory",
        "title": "One descent, step by step",
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
    }
    return [entry] + race_entries() + lr_entries() + basins_entries()


def _warmup() -> None:
    run_trajectory("quadratic", (1.0, 1.0), 3, {"name": "sgd", "lr": 0.1})
    run_trajectory("linear_regression", (0.0, 0.0), 3, {"name": "sgd", "lr": 0.1}, noise_scale=0.1, batch_size=2,
               clip={"max_norm": 1.0})


# -- kernels --------------------------------------------------------------------------------------


@kernel
def _nearest_within(minima, x, y, tol2):
    """Index of the first known minimum within sqrt(tol2) of (x, y), else -1."""
    for k in range(minima.shape[0]):
        dx = x - minima[k, 0]
        dy = y - minima[k, 1]
        if dx * dx + dy * dy <= tol2:
            return k
    return -1


@kernel
def _batch_grad(sp, n, order, s, m, w, b):
    """MSE gradient of y^ = w x + b over samples order[s:s+m]: (2/m) sum r_i (x_i, 1), r_i = w x_i + b - y_i."""
    gw = 0.0
    gb = 0.0
    for q in range(s, s + m):
        i = order[q]
        r = w * sp[i] + b - sp[n + i]
        gw += r * sp[i]
        gb += r
    return 2.0 * gw / m, 2.0 * gb / m


@kernel
def _descend(surf, sp, opt, hp, lrs, noise, noise_scale, order, batch, clip_kind, clip_arg, grad_tol, box,
             minima, min_tol, p, g, state, scal, path, loss, grad, update, used):
    """Run one descent from ``p`` (updated in place); return (steps_taken, status, minimum_label, reversals).

    Records into ``path``/``grad``/``update``/``used`` when they have rows and into ``loss`` when it
    has entries (pass zero-row arrays to skip). ``minima`` (k, 3) with k > 0 also stops the run at
    the first known minimum within ``min_tol`` (status REACHED, label = its index). ``reversals``
    counts steps whose update points against the previous one (u_t . u_{t-1} < 0).
    """
    steps = lrs.shape[0]
    rec = path.shape[0] > 0
    rec_loss = loss.shape[0] > 0
    k = minima.shape[0]
    tol2 = min_tol * min_tol
    gtol2 = grad_tol * grad_tol
    n_data = sp.shape[0] // 2
    nb = 1
    if batch > 0:
        nb = (n_data + batch - 1) // batch
    x = p[0]
    y = p[1]
    f, gx, gy = surface_grad(surf, sp, x, y)
    if not (math.isfinite(f) and math.isfinite(gx) and math.isfinite(gy)):
        return 0, NONFINITE, -1, 0
    if rec:
        path[0, 0] = x
        path[0, 1] = y
        grad[0, 0] = gx
        grad[0, 1] = gy
    if rec_loss:
        loss[0] = f
    if k > 0:
        lab = _nearest_within(minima, x, y, tol2)
        if lab >= 0:
            return 0, REACHED, lab, 0
    if gx * gx + gy * gy < gtol2:
        return 0, CONVERGED, -1, 0
    pdx = 0.0
    pdy = 0.0
    rev = 0
    for t in range(1, steps + 1):
        # 1) the gradient this step uses: exact or mini-batch, plus noise, then clipped
        if batch > 0:
            e = (t - 1) // nb
            j = (t - 1) - e * nb
            m = min(batch, n_data - j * batch)
            sgx, sgy = _batch_grad(sp, n_data, order, e * n_data + j * batch, m, x, y)
        else:
            sgx = gx
            sgy = gy
        if noise_scale > 0.0:
            sgx += noise_scale * noise[t - 1, 0]
            sgy += noise_scale * noise[t - 1, 1]
        g[0] = sgx
        g[1] = sgy
        if clip_kind == CLIP_NORM:
            clip_grad_norm(g, clip_arg)
        elif clip_kind == CLIP_VALUE:
            clip_grad_value(g, clip_arg)
        if rec:
            used[t - 1, 0] = g[0]
            used[t - 1, 1] = g[1]
        # 2) the optimizer's step, then the exact loss and gradient at the new point
        optimizer_step_inline(opt, hp, p, g, state, scal, t, lrs[t - 1])
        nx = p[0]
        ny = p[1]
        dx = nx - x
        dy = ny - y
        f, gx, gy = surface_grad(surf, sp, nx, ny)
        if not (math.isfinite(f) and math.isfinite(gx) and math.isfinite(gy)
                and math.isfinite(dx) and math.isfinite(dy)):
            return t - 1, NONFINITE, -1, rev
        if dx * pdx + dy * pdy < 0.0:
            rev += 1
        pdx = dx
        pdy = dy
        x = nx
        y = ny
        if rec:
            path[t, 0] = x
            path[t, 1] = y
            grad[t, 0] = gx
            grad[t, 1] = gy
            update[t - 1, 0] = dx
            update[t - 1, 1] = dy
        if rec_loss:
            loss[t] = f
        # 3) stop?
        if x < box[0] or x > box[1] or y < box[2] or y > box[3]:
            return t, OUT_OF_BOUNDS, -1, rev
        if k > 0:
            lab = _nearest_within(minima, x, y, tol2)
            if lab >= 0:
                return t, REACHED, lab, rev
        if gx * gx + gy * gy < gtol2:
            return t, CONVERGED, -1, rev
    return steps, MAX_STEPS, -1, rev


@kernel
def _trajectory_kernel(surf, sp, opt, hp, lrs, noise, noise_scale, order, batch, clip_kind, clip_arg, grad_tol,
                       box, p, g, state, scal, path, loss, grad, update, used):
    """One recorded descent (no minima check); returns (steps_taken, status)."""
    minima = np.zeros((0, 3))
    n, status, lab, rev = _descend(surf, sp, opt, hp, lrs, noise, noise_scale, order, batch, clip_kind, clip_arg,
                                   grad_tol, box, minima, 0.0, p, g, state, scal, path, loss, grad, update, used)
    return n, status
