"""The descent core: one kernel that runs a descent on a 2-D surface, and the inputs every descent shares.

``engine.trajectory`` (one recorded run), ``engine.race`` (several optimizers), ``engine.lr_sweep``
(several learning rates, the range test) and ``engine.basins`` (one run per grid start) all validate
their inputs through ``setup`` and run ``descend``, which takes four NamedTuples and a record::

    descend(surface: SurfaceArgs, rules: Rules, opt: OptimizerArgs, run: RunState, rec: Record)
        -> (steps_taken, status, minimum_label, reversals)

* ``SurfaceArgs`` (``engine.surfaces``): the surface, evaluated through its one dispatch;
* ``Rules``: the stochastic gradient (noise, mini-batch order), clipping, the stopping rules
  (gradient-norm tolerance, bound box, known minima);
* ``OptimizerArgs`` (``engine.optimizers``): code, packed hyperparameters, per-step learning rates;
* ``RunState``: the position (updated in place), a gradient buffer and the optimizer's state;
* ``Record``: where each step is written (zero-row arrays record nothing).

What each step does, and how the recorded arrays align: ``ALIGNMENT`` and ``STATUS_MEANINGS``
below (the catalog and the HTTP schemas quote them). Stochastic gradients: ``setup`` draws the
noise and the mini-batch order up front from ``np.random.default_rng(seed).spawn(2)``; step t uses
``noise[t-1]`` and the batch ``order[e*n + j*b : e*n + j*b + m]`` with ``e, j = divmod(t-1, nb)``,
``nb = ceil(n / b)``, ``m = min(b, n - j*b)`` (torch ``DataLoader(shuffle=True, drop_last=False)``).

Also here, because race and basins share them: ``run_many`` (R descents in parallel, over threads:
``engine.threads``) and ``discover`` (grouping the stationary points runs ended at, classified by
``engine.critical.classify_hessian``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from ._jit import as_bool, kernel
from .clipping import clip_gradient, resolve_clip
from .critical import kind_at
from .deadlines import run_chunked
from .errors import EngineInputError
from .limits import LIMITS, check_max
from .optimizers import OptimizerArgs, new_state, optimizer_step_inline
from .surfaces import (
    FORMULA, LINEAR_REGRESSION, NODES_PER_WORK_UNIT, Surface, formula_nodes, resolve_surface, surface_grad,
    surface_value,
)
from .threads import block_threads
from .validate import check_float, check_int, check_point

# -- run outcomes (kernel codes) ----------------------------------------------------------------
MAX_STEPS = 0  # all steps taken
CONVERGED = 1  # gradient norm below tolerance
REACHED = 2  # within minimum_tolerance of a known minimum (basins only: trajectories pass no minima)
NONFINITE = 3  # a non-finite position, loss or gradient (not recorded)
OUT_OF_BOUNDS = 4  # left the bound box (recorded)

STATUS = {MAX_STEPS: "max_steps", CONVERGED: "converged", REACHED: "converged", NONFINITE: "diverged",
          OUT_OF_BOUNDS: "diverged"}

BOUND_FACTOR = 100.0  # the bound box is the domain scaled by this about its centre
DEFAULT_TOLERANCE = 1e-6  # gradient-norm tolerance
DEFAULT_OPTIMIZER = {"name": "sgd", "lr": 1e-3}
SAMPLES_PER_WORK_UNIT = 64  # linear_regression: a step over n samples counts ceil(n / 64) toward max_descent_work
DEDUPE_FACTOR = 10.0  # discovered stationary points closer than max(10 * minimum_tolerance, 1e-6) are one
MAX_DISCOVERED = 100

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


class Rules(NamedTuple):
    """How each step's gradient is formed and when a run stops (``Setup.rules``)."""

    noise: np.ndarray  # (steps, 2) standard normals, or (0, 2) without noise
    noise_scale: float
    order: np.ndarray  # int64 (epochs * n,) concatenated epoch permutations, or (0,) without batches
    batch: int  # 0 = exact gradient
    clip_kind: int  # engine.clipping code
    clip_arg: float
    tolerance: float  # stop when the gradient norm falls below it
    box: np.ndarray  # (4,) xlo, xhi, ylo, yhi: leaving it is divergence
    minima: np.ndarray  # (k, 3) known minima that stop a run within min_tol (k = 0: none)
    min_tol: float


class RunState(NamedTuple):
    """One run's buffers: ``p`` is the position, updated in place."""

    p: np.ndarray  # (2,)
    g: np.ndarray  # (2,) the step's gradient
    state: np.ndarray  # (N_SLOTS, 2) optimizer state
    scal: np.ndarray  # (N_SCALARS,)


class Record(NamedTuple):
    """Where a run writes its steps (ALIGNMENT); zero-row ``path`` / zero-length ``loss`` record nothing."""

    path: np.ndarray  # (steps+1, 2)
    loss: np.ndarray  # (steps+1,)
    grad: np.ndarray  # (steps+1, 2)
    update: np.ndarray  # (steps, 2)
    used: np.ndarray  # (steps, 2) the gradient each step used


@dataclass(frozen=True)
class Setup:
    """Everything a descent kernel needs, resolved and validated once (shared by every descent module)."""

    surface: Surface
    steps: int
    rules: Rules
    runs: int = 1

    @property
    def work(self) -> int:
        """The request's steps as counted against ``max_descent_work``: runs x steps x ``step_cost``."""
        return self.runs * self.steps * step_cost(self.surface)

    @property
    def tolerance(self) -> float:
        return self.rules.tolerance

    @property
    def box(self) -> np.ndarray:
        return self.rules.box

    def bound(self) -> tuple:
        b = self.rules.box
        return (float(b[0]), float(b[1])), (float(b[2]), float(b[3]))


# -- input resolution shared by the descent modules ----------------------------------------------


def step_cost(surface: Surface) -> int:
    """Work units of one descent step: 1 on the analytic surfaces; ``ceil(n / SAMPLES_PER_WORK_UNIT)`` on
    ``linear_regression``, whose every loss and gradient evaluation loops over its n samples (~1 ns
    each, against ~60-100 ns for an analytic surface plus an optimizer step); ``ceil(nodes /
    NODES_PER_WORK_UNIT)`` on a formula, whose every evaluation runs its program's instructions."""
    if surface.code == LINEAR_REGRESSION:
        return -(-(surface.p.size // 2) // SAMPLES_PER_WORK_UNIT)
    if surface.code == FORMULA:
        return -(-formula_nodes(surface) // NODES_PER_WORK_UNIT)
    return 1


def _cost_reason(surface: Surface) -> tuple[str, str]:
    """(the step cost's formula, why) for the work limit's message."""
    if surface.code == FORMULA:
        return f"ceil(nodes/{NODES_PER_WORK_UNIT})", f"each step runs the formula's {formula_nodes(surface)} nodes"
    return (f"ceil(n/{SAMPLES_PER_WORK_UNIT})",
            f"each linear_regression step loops over its n={surface.p.size // 2} samples")


def bound_box(surface: Surface) -> np.ndarray:
    """The domain scaled ``BOUND_FACTOR`` times about its centre: ``[xlo, xhi, ylo, yhi]``."""
    (x0, x1), (y0, y1) = surface.domain
    cx, cy = 0.5 * (x0 + x1), 0.5 * (y0 + y1)
    hx, hy = 0.5 * BOUND_FACTOR * (x1 - x0), 0.5 * BOUND_FACTOR * (y1 - y0)
    return np.array([cx - hx, cx + hx, cy - hy, cy + hy], dtype=np.float64)


def batch_order(n: int, batch_size: int, steps: int, rng: np.random.Generator) -> np.ndarray:
    """The sample order of every epoch a run of ``steps`` mini-batch steps touches, concatenated
    (step t's batch: module docstring)."""
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


_NO_MINIMA = np.zeros((0, 3))


def setup(surface, params, steps: int, *, runs: int = 1, noise_scale: float = 0.0, seed: int = 0,
          batch_size: int | None = None, clip=None, tolerance: float = DEFAULT_TOLERANCE,
          work_field: str = "steps", minimum_tolerance: float | None = None, domain=None,
          draw: bool = True) -> Setup:
    """Validate and resolve the inputs every descent shares; check limits before any kernel runs.

    ``surface`` is anything ``engine.surfaces.resolve_surface`` reads (a name, a formula, ``domain`` with it).
    ``minimum_tolerance`` (not None): stop a run at the first of the surface's known minima it comes
    within that distance of (the basin map's rule). ``draw=False`` checks everything but draws neither
    the noise nor the batch order (zero-length arrays in ``rules``: a check, never a run). A sweep checks
    a thousand requests before submitting them, and the draws (up to 40 MB of batch order each) are the
    runs' work."""
    steps = check_int("steps", steps, 1, "max_steps")
    check_max(work_field, runs * steps, "max_descent_work")
    surf = resolve_surface(surface, params, domain)
    cost = step_cost(surf)
    if cost > 1 and runs * steps * cost > LIMITS["max_descent_work"]:
        what, why = _cost_reason(surf)
        raise EngineInputError(
            work_field,
            f"{runs * steps * cost} exceeds limit max_descent_work={LIMITS['max_descent_work']} (runs x steps x "
            f"{what} = {runs} x {steps} x {cost}: {why})",
        )
    noise_scale = check_float("noise.scale", noise_scale, 0.0)
    seed = check_int("noise.seed", seed, 0)
    tolerance = check_float("tolerance", tolerance, 0.0)
    clip_kind, clip_arg = resolve_clip(clip)
    # the generators only when a draw is needed: building and spawning them takes ~30 us, as long as
    # ~500 descent steps (the streams are the same whenever they are made)
    streams = np.random.default_rng(seed).spawn(2) if draw and (noise_scale > 0 or batch_size is not None) else None
    if noise_scale > 0 and draw:
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
        if draw:
            order = batch_order(n, batch, steps, streams[1])
    known, min_tol = _NO_MINIMA, 0.0
    if minimum_tolerance is not None:
        min_tol = check_float("minimum_tolerance", minimum_tolerance, 0.0)
        known = np.ascontiguousarray(surf.minima, dtype=np.float64).reshape(-1, 3)
    rules = Rules(noise, noise_scale, order, batch, clip_kind, clip_arg, tolerance, bound_box(surf), known, min_tol)
    return Setup(surf, steps, rules, runs)


def default_start(surface: Surface) -> tuple[float, float]:
    """A start when none is given: the surface's own suggestion if its spec has one, else the point
    20% along x and 80% along y of its domain (upper left, away from the usual minima)."""
    start = getattr(getattr(surface, "spec", None), "start", None)
    if start is not None:
        return float(start[0]), float(start[1])
    (x0, x1), (y0, y1) = surface.domain
    return x0 + 0.2 * (x1 - x0), y0 + 0.8 * (y1 - y0)


def check_start(su: Setup, start, field: str = "start") -> tuple[float, float]:
    """``start`` inside the bound box, with a finite loss and gradient there."""
    x, y = check_point(field, start)
    b = su.box
    if not (b[0] <= x <= b[1] and b[2] <= y <= b[3]):
        raise EngineInputError(
            field, f"lies outside the bound box x in [{b[0]:g}, {b[1]:g}], y in [{b[2]:g}, {b[3]:g}] (100x the domain)"
        )
    f, gx, gy = surface_grad(su.surface.args, x, y)
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


def record_arrays(steps: int) -> Record:
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
    return Record(path, loss, grad, update, used)


def new_run(opt, start: tuple[float, float]) -> RunState:
    """A run's buffers at ``start`` with ``opt``'s fresh state."""
    state, scal = new_state(opt, 2)
    return RunState(np.array(start, dtype=np.float64), np.zeros(2), state, scal)


# -- many runs at once (race, lr sweep) -----------------------------------------------------------


@dataclass(frozen=True)
class Runs:
    """Raw outputs of ``run_many``: per run r, rows [r] of each array."""

    rec: Record  # arrays with a leading run axis (R, ...); path/grad/update/used have 0 rows unless recorded
    final: np.ndarray  # (R, 2) last position (may be non-finite after divergence)
    n: np.ndarray  # (R,) steps taken
    status: np.ndarray  # (R,) kernel status codes
    reversals: np.ndarray  # (R,) steps whose update reversed the previous one


def run_many(su: Setup, opts: list, lrs: np.ndarray, start: tuple[float, float], record: bool) -> Runs:
    """Run len(opts) descents from ``start`` in parallel, one thread per run. ``lrs`` is (R, steps)."""
    R, S = len(opts), su.steps
    hps = np.zeros((R, max(max(o.hp.size for o in opts), 1)))
    codes = np.empty(R, dtype=np.int64)
    st0, sc0 = new_state(opts[0], 2)
    state = np.empty((R,) + st0.shape)
    scal = np.empty((R,) + sc0.shape)
    for r, o in enumerate(opts):
        hps[r, : o.hp.size] = o.hp
        codes[r] = o.code
        state[r], scal[r] = new_state(o, 2)
    rows = S + 1 if record else 0
    rec = Record(np.empty((R, rows, 2)), np.empty((R, S + 1)), np.empty((R, rows, 2)),
                 np.empty((R, S if record else 0, 2)), np.empty((R, S if record else 0, 2)))
    p = np.empty((R, 2))
    p[:, 0], p[:, 1] = start
    run = RunState(p, np.zeros((R, 2)), state, scal)
    out = np.zeros((R, 3), dtype=np.int64)  # steps taken, status, reversals
    lrs = np.ascontiguousarray(lrs)

    def runs(a, b):  # runs [a, b), shared out over the threads (deadline checks between chunks)
        opt, part = (codes[a:b], hps[a:b], lrs[a:b]), RunState(*(x[a:b] for x in run))
        prec = Record(*(x[a:b] for x in rec))
        block_threads(b - a, lambda c, lo, hi: _runs_rows(su.surface.args, su.rules, opt, part, prec, out[a:b], lo,
                                                          hi))

    run_chunked(R, runs, "descent runs")
    return Runs(rec, p, out[:, 0], out[:, 1], out[:, 2])


# -- stationary points the runs ended at (race, basins) -------------------------------------------


def dedupe_radius(min_tol: float) -> float:
    return max(DEDUPE_FACTOR * min_tol, 1e-6)


@dataclass(frozen=True)
class Discovered:
    points: np.ndarray  # (d, 3) x, y, value
    kind: tuple[str, ...]  # engine.critical's classification of each
    assign: np.ndarray  # (m,) group of each input point, -1 past MAX_DISCOVERED


def discover(surface: Surface, points: np.ndarray, min_tol: float) -> Discovered:
    """Group stationary end points (m, 2) greedily in input order: a point within ``dedupe_radius`` of an
    earlier group joins it, else starts one at its own position (at most ``MAX_DISCOVERED`` groups)."""
    pts = np.ascontiguousarray(points, dtype=np.float64).reshape(-1, 2)
    centers = np.empty((min(pts.shape[0], MAX_DISCOVERED), 2))
    assign = np.empty(pts.shape[0], dtype=np.int64)
    d = _dedupe(pts, dedupe_radius(min_tol), centers, assign)
    out = np.empty((d, 3))
    kinds = []
    for i in range(d):
        x, y = centers[i]
        out[i] = x, y, surface_value(surface.args, float(x), float(y))
        kinds.append(kind_at(surface, x, y))
    return Discovered(out, tuple(kinds), assign)


def with_discovered(known: np.ndarray, disc: Discovered) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """``(minima, minima_known, minima_kind)``: the known minima, then the discovered points."""
    minima = np.concatenate([known, disc.points])
    is_known = np.concatenate([np.ones(known.shape[0], bool), np.zeros(disc.points.shape[0], bool)])
    return minima, is_known, ("minimum",) * known.shape[0] + disc.kind


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
def descend(surface, rules, opt, run, rec):
    """Run one descent from ``run.p`` (updated in place); return (steps_taken, status, minimum_label, reversals).

    Records into ``rec`` when its arrays have rows (module docstring). ``rules.minima`` with rows also
    stops the run at the first known minimum within ``rules.min_tol`` (status REACHED, label = its
    index). ``reversals`` counts steps whose update points against the previous one (u_t . u_{t-1} < 0).
    """
    # every field read once into a local: a NamedTuple field read in the loop is a new reference each time
    # (atomic reference counting per step)
    sp = surface.p
    lrs = opt.lrs
    p = run.p
    g = run.g
    state = run.state
    scal = run.scal
    path, loss, grad, update, used = rec.path, rec.loss, rec.grad, rec.update, rec.used
    noise = rules.noise
    order = rules.order
    steps = lrs.shape[0]
    rec_path = path.shape[0] > 0
    rec_loss = loss.shape[0] > 0
    minima = rules.minima
    k = minima.shape[0]
    tol2 = rules.min_tol * rules.min_tol
    gtol2 = rules.tolerance * rules.tolerance
    batch = rules.batch
    noise_scale = rules.noise_scale
    box = rules.box
    n_data = sp.shape[0] // 2
    nb = 1
    if batch > 0:
        nb = (n_data + batch - 1) // batch
    x = p[0]
    y = p[1]
    f, gx, gy = surface_grad(surface, x, y)
    if not (math.isfinite(f) and math.isfinite(gx) and math.isfinite(gy)):
        return 0, NONFINITE, -1, 0
    if rec_path:
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
        clip_gradient(rules.clip_kind, rules.clip_arg, g, as_bool(False))
        if rec_path:
            used[t - 1, 0] = g[0]
            used[t - 1, 1] = g[1]
        # 2) the optimizer's step, then the exact loss and gradient at the new point
        optimizer_step_inline(opt.code, opt.hp, p, g, state, scal, t, lrs[t - 1])
        nx = p[0]
        ny = p[1]
        dx = nx - x
        dy = ny - y
        f, gx, gy = surface_grad(surface, nx, ny)
        if not (math.isfinite(f) and math.isfinite(gx) and math.isfinite(gy)
                and math.isfinite(dx) and math.isfinite(dy)):
            return t - 1, NONFINITE, -1, rev
        if dx * pdx + dy * pdy < 0.0:
            rev += 1
        pdx = dx
        pdy = dy
        x = nx
        y = ny
        if rec_path:
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
def _runs_rows(surface, rules, opt, run, rec, out, lo, hi):
    """Runs r = lo..hi-1 (one thread's share): run r uses optimizer ``opt.code[r]`` with
    hyperparameters ``opt.hp[r]``, learning rates ``opt.lrs[r]`` and the buffers [r] of ``run`` and ``rec``.
    out[r] = (steps taken, status, reversals)."""
    codes, hps, lrs = opt
    p, g, state, scal = run.p, run.g, run.state, run.scal
    path, loss, grad, update, used = rec.path, rec.loss, rec.grad, rec.update, rec.used
    for r in range(lo, hi):
        n, st, lab, rev = descend(surface, rules, OptimizerArgs(codes[r], hps[r], lrs[r]),
                                  RunState(p[r], g[r], state[r], scal[r]),
                                  Record(path[r], loss[r], grad[r], update[r], used[r]))
        out[r, 0] = n
        out[r, 1] = st
        out[r, 2] = rev


@kernel
def _dedupe(points, radius, centers, assign):
    """Greedy grouping in input order: join the first group within ``radius``, else start one (if room)."""
    r2 = radius * radius
    m = 0
    for i in range(points.shape[0]):
        found = -1
        for c in range(m):
            dx = points[i, 0] - centers[c, 0]
            dy = points[i, 1] - centers[c, 1]
            if dx * dx + dy * dy <= r2:
                found = c
                break
        if found < 0 and m < centers.shape[0]:
            centers[m, 0] = points[i, 0]
            centers[m, 1] = points[i, 1]
            found = m
            m += 1
        assign[i] = found
    return m
