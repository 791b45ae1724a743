"""Schemas of /api/v1/landscapes: grid sweeps, critical points and 1-D slices of the built-in surfaces.

Surface names are checked against ``engine.surfaces.SURFACES``; ``params`` is passed to the
engine, which refuses unknown names and out-of-range values naming ``params.<name>``.
Big outputs (grids, slices) are numpy arrays dumped through ``NumberArray``.
"""

from __future__ import annotations

from marshmallow import Schema, fields, post_dump, validate

from engine.critical import EIGEN_TOL, KINDS
from engine.limits import LIMITS

from ..fields import Interval, NumberArray, Pair, limit_range
from .common import SurfaceRequest


def _axis(limit: str, low: int, **kwargs):
    return fields.Integer(strict=True, validate=limit_range(limit, low, LIMITS[limit]), **kwargs)


class _RectangleRequest(SurfaceRequest):
    x_range = Interval(load_default=None, metadata={"description": "[xmin, xmax]; default: the surface's domain"})
    y_range = Interval(load_default=None, metadata={"description": "[ymin, ymax]; default: the surface's domain"})


class _Resolved(Schema):
    surface = fields.String(metadata={"description": "the surface's name"})
    params = fields.Dict(metadata={"description": "the parameters used, defaults included"})


# -- grid -----------------------------------------------------------------------------------------


class GridRequest(_RectangleRequest):
    resolution = fields.List(
        _axis("max_grid_axis", 2),
        validate=validate.Length(equal=2),
        load_default=lambda: [200, 200],
        metadata={"description": "[nx, ny] grid points per axis (limit max_grid_axis)"},
    )
    gradient = fields.Boolean(load_default=False, metadata={"description": "also return ‖∇f‖ per cell"})


class GridResponse(_Resolved):
    x = NumberArray(ndim=1, metadata={"description": "column coordinates (nx)"})
    y = NumberArray(ndim=1, metadata={"description": "row coordinates (ny)"})
    z = NumberArray(ndim=2, metadata={"description": "z[row][column] = f(x[column], y[row])"})
    z_min = fields.Float(metadata={"description": "smallest finite value"})
    z_max = fields.Float(metadata={"description": "largest finite value"})
    grad_norm = NumberArray(ndim=2, metadata={"description": "‖∇f‖ per cell, when gradient was true"})
    grad_norm_max = fields.Float(metadata={"description": "largest finite ‖∇f‖, when gradient was true"})
    n_overflow = fields.Integer(
        metadata={"description": "cells that overflowed float64, clamped to ±1.797e308 and left out of z_min/z_max"}
    )

    @post_dump
    def _drop_absent(self, data, **kwargs):
        return {k: v for k, v in data.items() if v is not None}


# -- critical points ------------------------------------------------------------------------------


class CriticalPointsRequest(_RectangleRequest):
    seeds = fields.Integer(
        strict=True,
        load_default=41,
        validate=limit_range("max_critical_seeds_axis", 1, LIMITS["max_critical_seeds_axis"]),
        metadata={"description": "Newton starts per axis (seeds × seeds in all)"},
    )


class CriticalPointSchema(Schema):
    x = fields.Float(metadata={"description": "x of the point"})
    y = fields.Float(metadata={"description": "y of the point"})
    value = fields.Float(metadata={"description": "f(x, y)"})
    kind = fields.String(metadata={"enum": list(KINDS), "description": "by the Hessian's eigenvalues"})
    eigenvalues = fields.List(fields.Float(), metadata={"description": "Hessian eigenvalues, ascending"})
    is_global = fields.Boolean(data_key="global", attribute="global", metadata={"description": "lowest minimum found"})
    grad_norm = fields.Float(metadata={"description": "‖∇f‖ at the point"})


class CriticalPointsResponse(_Resolved):
    points = fields.List(fields.Nested(CriticalPointSchema), attribute="points", metadata={
        "description": "global minima first, then by kind (minimum, maximum, saddle, degenerate), then by value"})
    x_range = fields.List(fields.Float(), metadata={"description": "[xmin, xmax] searched"})
    y_range = fields.List(fields.Float(), metadata={"description": "[ymin, ymax] searched"})
    seeds = fields.Integer(metadata={"description": "Newton starts per axis"})
    n_converged = fields.Integer(metadata={"description": "Newton runs that converged, before de-duplication"})
    eigen_tol = fields.Float(metadata={"description": f"|λ| ≤ eigen_tol·max(1, |λ|max) counts as 0 (degenerate); "
                                                      f"{EIGEN_TOL:g}"})


# -- slice ----------------------------------------------------------------------------------------


class SliceRequest(SurfaceRequest):
    point = Pair(required=True, metadata={"description": "[x, y] the line passes through (t = 0)"})
    direction = Pair(required=True, metadata={"description": "[dx, dy], not normalized; not [0, 0]"})
    t_range = Interval(load_default=lambda: [-1.0, 1.0], metadata={"description": "[t_min, t_max]"})
    points = _axis("max_slice_points", 2, load_default=201,
                   metadata={"description": "samples of t (limit max_slice_points)"})


class SliceResponse(_Resolved):
    point = fields.List(fields.Float(), metadata={"description": "[x, y] at t = 0"})
    direction = fields.List(fields.Float(), metadata={"description": "[dx, dy] as given (not normalized)"})
    t = NumberArray(ndim=1, metadata={"description": "points values of t, evenly spaced over t_range"})
    x = NumberArray(ndim=1, metadata={"description": "x = point[0] + t·dx at each t"})
    y = NumberArray(ndim=1, metadata={"description": "y = point[1] + t·dy at each t"})
    value = NumberArray(ndim=1, metadata={"description": "f(point + t·direction)"})
    derivative = NumberArray(ndim=1, metadata={"description": "d f / d t = ∇f · direction"})
    n_overflow = fields.Integer(
        metadata={"description": "values and derivatives that overflowed float64, clamped to ±1.797e308"}
    )

