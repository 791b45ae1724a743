"""Schemas of /api/v1/descent: trajectories, optimizer races, learning-rate sweeps and range tests, basins.

Requests share the descent fields (surface, params, steps, optimizer, schedule, noise, batch_size,
clip, tolerance); the engine re-checks everything and names the same fields (``optimizers.2.lr``,
``noise.seed``, ...). Per-step arrays are numpy arrays dumped through ``NumberArray``.
"""

from __future__ import annotations

from marshmallow import Schema, fields, post_load, validate, validates_schema

from engine.basins import RULE as BASINS_RULE
from engine.descent import ALIGNMENT, DEFAULT_TOLERANCE, STATUS_MEANINGS
from engine.limits import LIMITS
from engine.lr_sweep import RANGE_RULE, VERDICT_RULE, VERDICTS

from ..fields import FiniteFloat, Interval, NumberArray, Pair, Seed, limit_range
from .common import ClipSchema, MinimumSchema, OptimizerSchema, ScheduleSchema, SurfaceRequest, WithMinima

def _positive(**kwargs):
    """A finite float > 0 (apispec does not render ``min_inclusive=False``; say it in the metadata)."""
    meta = {"exclusiveMinimum": True, **kwargs.pop("metadata", {})}
    return FiniteFloat(validate=validate.Range(min=0.0, min_inclusive=False), metadata={"minimum": 0, **meta},
                       **kwargs)


_STEPS_DOC = "optimizer steps (limit max_steps; steps x runs limit max_descent_work)"


def _steps(default: int, low: int = 1):
    return fields.Integer(strict=True, load_default=default, validate=limit_range("max_steps", low, LIMITS["max_steps"]),
                          metadata={"description": _STEPS_DOC})


class NoiseSchema(Schema):
    scale = FiniteFloat(load_default=0.0, validate=validate.Range(0.0, 1e6),
                        metadata={"description": "std of the Gaussian noise added to each gradient coordinate"})
    seed = Seed(load_default=0, metadata={"description": "seeds the noise and the mini-batch shuffle (independent streams)"})


class _DescentRequest(SurfaceRequest):
    noise = fields.Nested(NoiseSchema, load_default=None, allow_none=True,
                          metadata={"description": "stochastic gradient: exact gradient + scale * N(0, I)"})
    # no schema minimum: whether a batch size applies at all depends on the surface (the engine checks
    # 1 <= batch_size <= n and names the field)
    batch_size = fields.Integer(strict=True, load_default=None, allow_none=True,
                                metadata={"description": "linear_regression only, 1..n: MSE gradient over mini-batches "
                                          "of this size, reshuffled each epoch (limit max_batch_work)"})
    clip = fields.Nested(ClipSchema, load_default=None, allow_none=True,
                         metadata={"description": "clip each step's gradient after noise (torch order); omit for none"})

    @post_load
    def _flatten_noise(self, data, **kwargs):
        """``noise: {scale, seed}`` -> the engine's ``noise_scale``, ``seed`` keyword arguments."""
        noise = data.pop("noise", None) or {}
        data["noise_scale"] = noise.get("scale", 0.0)
        data["seed"] = noise.get("seed", 0)
        return data


_START = dict(metadata={"description": "[x, y]; default: 20% along x and 80% along y of the surface's domain"})


def _tolerance():
    return FiniteFloat(load_default=DEFAULT_TOLERANCE, validate=validate.Range(min=0.0),
                       metadata={"description": "converged when the gradient norm falls below this (0: never)"})


# -- trajectory -----------------------------------------------------------------------------------


class TrajectoryRequest(_DescentRequest):
    start = Pair(required=True, metadata={"description": "[x, y] where the descent starts (path[0])"})
    steps = _steps(1000)
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "default {'name': 'sgd', 'lr': 0.001}"})
    schedule = fields.Nested(ScheduleSchema, load_default=None, allow_none=True,
                             metadata={"description": "learning-rate schedule; none = the optimizer's lr throughout"})
    tolerance = _tolerance()


class TrajectoryResponse(Schema):
    """One descent; arrays aligned as ``engine.descent.ALIGNMENT`` says (the catalog's ``descent`` entries)."""

    surface = fields.String(metadata={"description": "the surface's name"})
    optimizer = fields.String(metadata={"description": "the optimizer's name"})
    path = NumberArray(ndim=2, metadata={"description": "path[i] = position after i steps; path[0] = start"})
    loss = NumberArray(metadata={"description": "loss[i] = f(path[i]) (exact, full batch)"})
    gradient = NumberArray(ndim=2, metadata={"description": "gradient[i] = grad f(path[i]) (exact, full batch)"})
    update = NumberArray(ndim=2, metadata={"description": "update[i] = path[i+1] - path[i]"})
    lr = NumberArray(metadata={"description": "lr[i] = learning rate of the step path[i] -> path[i+1]"})
    step_gradient = NumberArray(ndim=2, metadata={
        "description": "step_gradient[i] = the gradient that step used (noise / mini-batch / clipping applied)"})
    status = fields.String(metadata={"description": "; ".join(f"{k}: {v}" for k, v in STATUS_MEANINGS.items()),
                                     "enum": list(STATUS_MEANINGS)})
    reason = fields.String(metadata={"description": "why it stopped, with the numbers"})
    steps_taken = fields.Integer(metadata={"description": ALIGNMENT})
    tolerance = fields.Float(metadata={"description": "the gradient-norm tolerance used (0: never converges)"})
    bound = fields.List(fields.List(fields.Float()), metadata={
        "description": "[[xlo, xhi], [ylo, yhi]]: the domain scaled 100x; leaving it is divergence"})


# -- race -------------------------------------------------------------------------------------------


class RacerSchema(OptimizerSchema):
    """An optimizer spec plus, optionally, its own ``schedule``."""

    schedule = fields.Nested(ScheduleSchema, load_default=None, allow_none=True,
                             metadata={"description": "this racer's own schedule (else the request's)"})

    @validates_schema
    def _only_its_own_parameters(self, data, **kwargs):
        # the optimizer's own check, with this schema's extra key set aside
        super()._only_its_own_parameters({k: v for k, v in data.items() if k != "schedule"}, **kwargs)


class RaceRequest(_DescentRequest):
    start = Pair(load_default=None, allow_none=True, **_START)
    steps = _steps(1000)
    optimizers = fields.List(fields.Nested(RacerSchema), required=True,
                             validate=validate.Length(1, LIMITS["max_race_runs"],
                                                      error="must hold between {min} and {max} optimizers (limit max_race_runs)"),
                             metadata={"description": "each with its own hyperparameters and optional schedule"})
    schedule = fields.Nested(ScheduleSchema, load_default=None, allow_none=True,
                             metadata={"description": "schedule for racers without their own"})
    tolerance = _tolerance()
    minimum_tolerance = FiniteFloat(load_default=1e-3, validate=validate.Range(min=0.0),
                                    metadata={"description": "distance that counts as 'at a minimum'"})


class RaceSummarySchema(Schema):
    optimizer = fields.String(metadata={"description": "the optimizer's name"})
    status = fields.String(metadata={"description": "converged | diverged | max_steps"})
    steps_taken = fields.Integer(metadata={"description": "steps the run took"})
    final_loss = fields.Float(metadata={"description": "the loss at the run's last recorded point"})
    minimum = fields.Integer(metadata={"description": "index into minima; -1 diverged; -2 ended in none"})
    steps_to_minimum = fields.Integer(allow_none=True, metadata={
        "description": "first path index within minimum_tolerance of that minimum"})


class RaceResponse(WithMinima):
    runs = fields.List(fields.Nested(TrajectoryResponse), metadata={"description": "in request order"})
    summary = fields.List(fields.Nested(RaceSummarySchema), metadata={"description": "one per run, in request order"})
    minima = fields.List(fields.Nested(MinimumSchema), metadata={
        "description": "the surface's known minima, then stationary points that converged runs discovered"})
    minimum_tolerance = fields.Float(metadata={"description": "the distance that counted as 'at a minimum'"})
    rule = fields.String(metadata={"description": "how minimum and steps_to_minimum are assigned"})


# -- learning rates -------------------------------------------------------------------------------------


class SweepRequest(_DescentRequest):
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "its lr is replaced by each of lrs"})
    lrs = fields.List(_positive(), required=True,
                      validate=validate.Length(1, LIMITS["max_sweep_lrs"],
                                               error="must hold between {min} and {max} rates (limit max_sweep_lrs)"),
                      metadata={"description": "base learning rates, each > 0 (limit max_sweep_lrs; lrs x steps "
                                               "limit max_sweep_work)"})
    steps = _steps(200)
    start = Pair(load_default=None, allow_none=True, **_START)
    schedule = fields.Nested(ScheduleSchema, load_default=None, allow_none=True,
                             metadata={"description": "applied to every lr"})
    tolerance = _tolerance()


class SweepRunSchema(Schema):
    lr = fields.Float(metadata={"description": "this run's base learning rate"})
    loss = NumberArray(metadata={"description": "loss[i] at the position after i steps"})
    verdict = fields.String(metadata={"enum": list(VERDICTS), "description": "judged by the response's rule"})
    status = fields.String(metadata={"description": "converged | diverged | max_steps"})
    steps_taken = fields.Integer(metadata={"description": "steps the run took"})
    final_loss = fields.Float(metadata={"description": "the last value of loss"})
    gap_ratio = fields.Float(metadata={"description": "(final - f*) / (initial - f*)"})
    sign_change_fraction = fields.Float(metadata={
        "description": "fraction of consecutive loss differences that change sign"})
    reversal_fraction = fields.Float(metadata={
        "description": "fraction of consecutive update pairs pointing against each other (u_i · u_(i+1) < 0)"})


class SweepResponse(Schema):
    surface = fields.String(metadata={"description": "the surface's name"})
    optimizer = fields.String(metadata={"description": "the optimizer's name"})
    start = fields.List(fields.Float(), metadata={"description": "[x, y] every run started from"})
    reference_loss = fields.Float(metadata={"description": "f*: lowest known minimum value (else lowest loss seen)"})
    runs = fields.List(fields.Nested(SweepRunSchema), metadata={"description": "one per lr, in the order of lrs"})
    rule = fields.String(metadata={"description": VERDICT_RULE})


class RangeTestRequest(_DescentRequest):
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "its lr is replaced by the ramp"})
    lr_min = _positive(load_default=1e-6, metadata={"description": "first lr of the ramp"})
    lr_max = _positive(load_default=1.0, metadata={"description": "last lr of the ramp (> lr_min)"})
    steps = _steps(100, low=2)
    start = Pair(load_default=None, allow_none=True, **_START)
    beta = FiniteFloat(load_default=0.98, validate=validate.Range(0.0, 0.999999),
                       metadata={"description": "smoothing of the loss (bias-corrected EMA)"})
    divergence_factor = FiniteFloat(load_default=4.0, validate=validate.Range(min=1.0, min_inclusive=False),
                                    metadata={"description": "stop when the smoothed loss exceeds this x its best",
                                              "minimum": 1, "exclusiveMinimum": True})


class RangeTestResponse(Schema):
    surface = fields.String(metadata={"description": "the surface's name"})
    optimizer = fields.String(metadata={"description": "the optimizer's name"})
    start = fields.List(fields.Float(), metadata={"description": "[x, y] the test started from"})
    lrs = NumberArray(metadata={"description": "the exponential ramp, up to where the test stopped"})
    loss = NumberArray(metadata={"description": "loss after the step taken with lrs[i]"})
    smoothed = NumberArray(metadata={"description": "bias-corrected EMA of loss with beta, at each lrs[i]"})
    suggested_lr = fields.Float(metadata={"description": "lr at the steepest descent of the smoothed loss"})
    min_loss_lr = fields.Float(metadata={"description": "lr at the lowest smoothed loss"})
    stopped_at = fields.Integer(allow_none=True, metadata={
        "description": "index of the last kept point when the test stopped early (null: it ran the whole ramp)"})
    stop_reason = fields.String(metadata={"description": "why the test stopped, with the numbers"})
    beta = fields.Float(metadata={"description": "the smoothing used"})
    divergence_factor = fields.Float(metadata={"description": "the stopping factor used"})
    rule = fields.String(metadata={"description": RANGE_RULE})


# -- basins -------------------------------------------------------------------------------------------------


class BasinsRequest(SurfaceRequest):
    optimizer = fields.Nested(OptimizerSchema, load_default=None, allow_none=True,
                              metadata={"description": "used from every start; default {'name': 'sgd', 'lr': 0.001}"})
    schedule = fields.Nested(ScheduleSchema, load_default=None, allow_none=True,
                             metadata={"description": "learning-rate schedule; none = the optimizer's lr throughout"})
    clip = fields.Nested(ClipSchema, load_default=None, allow_none=True,
                         metadata={"description": "clip each step's gradient; omit for none"})
    x_range = Interval(load_default=None, allow_none=True, metadata={"description": "default: the surface's domain"})
    y_range = Interval(load_default=None, allow_none=True, metadata={"description": "default: the surface's domain"})
    resolution = fields.List(
        fields.Integer(strict=True, validate=limit_range("max_basin_axis", 2, LIMITS["max_basin_axis"])),
        validate=validate.Length(equal=2), load_default=lambda: [100, 100],
        metadata={"description": "[nx, ny] starts per axis (limit max_basin_axis; nx*ny*steps limit max_descent_work)"})
    steps = _steps(1000)
    tolerance = _tolerance()
    minimum_tolerance = FiniteFloat(load_default=1e-3, validate=validate.Range(min=0.0),
                                    metadata={"description": "a run stops within this distance of a known minimum"})


class BasinsResponse(WithMinima):
    surface = fields.String(metadata={"description": "the surface's name"})
    optimizer = fields.String(metadata={"description": "the optimizer's name"})
    x = NumberArray(metadata={"description": "start x per column (nx)"})
    y = NumberArray(metadata={"description": "start y per row (ny)"})
    minima = fields.List(fields.Nested(MinimumSchema), metadata={
        "description": "the surface's known minima, then stationary points runs discovered (at most 100)"})
    label = NumberArray(ndim=2, item_type="integer", metadata={
        "description": "label[row = y][col = x]: index into minima; -1 diverged; -2 not converged"})
    steps = NumberArray(ndim=2, item_type="integer", metadata={"description": "steps[row][col]: steps taken"})
    tolerance = fields.Float(metadata={"description": "the gradient-norm tolerance used"})
    minimum_tolerance = fields.Float(metadata={"description": "the distance to a known minimum that stopped a run"})
    rule = fields.String(metadata={"description": BASINS_RULE})
