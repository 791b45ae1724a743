"""Gradient descent: trajectories, optimizer races, learning-rate sweeps and range tests, basins of attraction.

A trajectory's arrays are aligned as ``engine.descent.ALIGNMENT`` says (the catalog's ``descent``
entries quote it). Divergence is a ``status``, never a NaN: arrays stop at the last finite point.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from engine.basins import basin_map
from engine.lr_sweep import lr_range_test, run_lr_sweep
from engine.race import run_race
from engine.trajectory import run_trajectory

from ..schemas.descent import (
    BasinsRequest, BasinsResponse, RaceRequest, RaceResponse, RangeTestRequest, RangeTestResponse, SweepRequest,
    SweepResponse, TrajectoryRequest, TrajectoryResponse,
)

blp = Blueprint(
    "descent",
    __name__,
    url_prefix="/api/v1/descent",
    description="Gradient descent on the built-in surfaces: paths, races, learning rates, basins",
)


@blp.route("/trajectory", methods=["POST"])
@blp.arguments(TrajectoryRequest)
@blp.response(200, TrajectoryResponse)
def post_trajectory(body):
    """One descent, step by step: positions, losses, gradients, updates, learning rates, and why it stopped."""
    return run_trajectory(**body)


@blp.route("/race", methods=["POST"])
@blp.arguments(RaceRequest)
@blp.response(200, RaceResponse)
def post_race(body):
    """Several optimizers from one start, each a full trajectory, plus which minimum each reached and when."""
    return run_race(**body)


@blp.route("/lr-sweep", methods=["POST"])
@blp.arguments(SweepRequest)
@blp.response(200, SweepResponse)
def post_lr_sweep(body):
    """One optimizer at many learning rates: a loss curve and a verdict (too_small/good/oscillating/diverged) each."""
    return run_lr_sweep(**body)


@blp.route("/lr-range-test", methods=["POST"])
@blp.arguments(RangeTestRequest)
@blp.response(200, RangeTestResponse)
def post_lr_range_test(body):
    """The learning-rate range test (Smith 2017): exponential lr ramp, smoothed loss, suggested lr."""
    return lr_range_test(**body)


@blp.route("/basins", methods=["POST"])
@blp.arguments(BasinsRequest)
@blp.response(200, BasinsResponse)
def post_basins(body):
    """Basins of attraction: which minimum one optimizer reaches from every start of a grid, and in how many steps."""
    return basin_map(**body)
