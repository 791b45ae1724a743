"""Schemas of /api/v1/schedules: a learning-rate schedule evaluated for a number of steps."""

from __future__ import annotations

from marshmallow import Schema, fields, validate

from engine.limits import LIMITS

from ..fields import FiniteFloat, NumberArray, limit_range
from .common import ScheduleSchema


class ScheduleRequest(Schema):
    schedule = fields.Nested(ScheduleSchema, required=True, metadata={"description": "name and parameters"})
    base_lr = FiniteFloat(
        required=True,
        validate=validate.Range(min=0.0),
        metadata={"description": "the optimizer's lr (OneCycle ignores it when max_lr is given)"},
    )
    steps = fields.Integer(
        required=True,
        strict=True,
        validate=limit_range("max_steps", 1, LIMITS["max_steps"]),
        metadata={"description": "number of values: lr[e] for e = 0..steps-1 (limit max_steps)"},
    )


class ScheduleResponse(Schema):
    lr = NumberArray(ndim=1, metadata={"description": "lr[e], e = 0..steps-1; optimizer step t uses lr[t-1]"})
    schedule = fields.Dict(metadata={"description": "the schedule's name and resolved parameters (defaults included)"})
