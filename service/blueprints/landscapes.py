"""Loss landscapes: a surface on a grid, its critical points, and 1-D slices through it."""

from __future__ import annotations

from flask_smorest import Blueprint

from engine import critical, landscape

from ..schemas.landscapes import (
    CriticalPointsRequest,
    CriticalPointsResponse,
    GridRequest,
    GridResponse,
    SliceRequest,
    SliceResponse,
)

blp = Blueprint(
    "landscapes",
    __name__,
    url_prefix="/api/v1/landscapes",
    description="Built-in 2-D loss surfaces: grids, critical points, slices",
)


@blp.route("/grid", methods=["POST"])
@blp.arguments(GridRequest)
@blp.response(200, GridResponse)
def grid(body):
    """A surface's values (and optionally gradient norms) on a rectangle, z[row = y][column = x]."""
    return landscape.landscape_grid(
        body["surface"], body["x_range"], body["y_range"], body["resolution"], body["params"], body["gradient"]
    )


@blp.route("/critical-points", methods=["POST"])
@blp.arguments(CriticalPointsRequest)
@blp.response(200, CriticalPointsResponse)
def critical_points(body):
    """Every critical point in a rectangle (Newton from a grid of seeds), classified by Hessian eigenvalues."""
    return critical.critical_points(body["surface"], body["x_range"], body["y_range"], body["seeds"], body["params"])


@blp.route("/slice", methods=["POST"])
@blp.arguments(SliceRequest)
@blp.response(200, SliceResponse)
def slice_(body):
    """A surface along the line point + t·direction: values and d f/d t."""
    return landscape.landscape_slice(
        body["surface"], body["point"], body["direction"], body["t_range"], body["points"], body["params"]
    )
