"""Schemas of /api/v1/losses: evaluate one loss (value and gradient) and draw penalty curves.

Loss names are checked against ``engine.losses.LOSSES``. Loss parameters (``delta``,
``beta``, ``label_smoothing``) sit beside the other fields; their ranges come from the
registry's ParamSpecs, and the engine refuses a parameter the chosen loss does not take,
naming it. Predictions and targets are loaded straight into numpy arrays (``NumericArray``);
gradients and curves are dumped through ``NumberArray``.
"""

from __future__ import annotations

import numpy as np
from marshmallow import Schema, ValidationError, fields, validate, validates

from engine.limits import LIMITS
from engine.losses import LOSSES, PARAMS

from ..fields import FiniteFloat, Interval, NumberArray, limit_range

_NAMES = sorted(LOSSES)


def _param_field(name: str) -> FiniteFloat:
    p = PARAMS[name]
    takers = [s for s in LOSSES.values() if any(q.name == name for q in s.params)]
    strict = any(name in s.strict_params for s in takers)  # low bound excluded (huber's delta > 0)
    metadata = {"description": f"{p.doc}; default {p.default}; used by: {', '.join(s.name for s in takers)} "
                               "(ignored, and listed in 'ignored', for other losses)"}
    if strict:
        metadata["exclusiveMinimum"] = True  # apispec does not state min_inclusive=False itself
    return FiniteFloat(
        load_default=None,
        validate=validate.Range(min=p.low, max=p.high, min_inclusive=not strict),
        metadata=metadata,
    )


class NumericArray(fields.Raw):
    """A 1-D list of numbers or a 2-D list of equal-length rows, loaded as a float64 numpy array."""

    def __init__(self, **kwargs):
        metadata = {
            "oneOf": [
                {"type": "array", "items": {"type": "number"}},
                {"type": "array", "items": {"type": "array", "items": {"type": "number"}}},
            ],
            **kwargs.pop("metadata", {}),
        }
        super().__init__(metadata=metadata, **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        limit = LIMITS["max_loss_elements"]
        if not isinstance(value, list) or not value:
            raise ValidationError("must be a non-empty list of numbers, or a list of rows of numbers")
        if isinstance(value[0], list):
            width = len(value[0])
            if len(value) * width > limit:
                raise ValidationError(f"{len(value) * width} elements exceed limit max_loss_elements={limit}")
            for row in value:
                if not isinstance(row, list) or len(row) != width or not row:
                    raise ValidationError("rows must be non-empty lists of numbers, all of the same length")
                _numbers(row)
        else:
            if len(value) > limit:
                raise ValidationError(f"{len(value)} elements exceed limit max_loss_elements={limit}")
            _numbers(value)
        return np.asarray(value, dtype=np.float64)


def _numbers(values: list) -> None:
    for v in values:
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ValidationError("must contain only numbers")


class _LossParams(Schema):
    delta = _param_field("delta")
    beta = _param_field("beta")
    label_smoothing = _param_field("label_smoothing")


def loss_params(body: dict) -> dict:
    """The loss parameters a request gave (absent ones are left to the loss's defaults)."""
    return {k: body[k] for k in PARAMS if body.get(k) is not None}


# -- evaluate -------------------------------------------------------------------------------------


class EvaluateRequest(_LossParams):
    loss = fields.String(
        required=True, validate=validate.OneOf(_NAMES),
        metadata={"description": "a loss name from the catalog's 'losses'"},
    )
    predictions = NumericArray(
        required=True,
        metadata={"description": "1-D or 2-D (rows = samples); for cross-entropy and kl_div a 1-D list is one "
                                 "sample of K classes (limit max_loss_elements)"},
    )
    targets = NumericArray(required=True, metadata={"description": "same shape as predictions"})


class EvaluateResponse(Schema):
    loss = fields.String(metadata={"description": "the loss's name, as requested"})
    value = fields.Float(metadata={"description": "the loss with torch's default reduction"})
    gradient = NumberArray(ndim=1, metadata={"description": "d value / d predictions, in the predictions' shape",
                                             # 2-D predictions (a batch of rows) give a 2-D gradient
                                             "items": {"anyOf": [{"type": "number"},
                                                                 {"type": "array", "items": {"type": "number"}}]}})
    params = fields.Dict(metadata={"description": "the loss parameters used, defaults included"})
    ignored = fields.List(fields.String(), metadata={"description": "parameters given that this loss does not take"})


# -- curves ---------------------------------------------------------------------------------------


def _probability_range(v):
    if not (0.0 < v[0] and v[1] <= 1.0):
        raise ValidationError("must lie within (0, 1]")


class CurvesRequest(_LossParams):
    losses = fields.List(
        fields.String(validate=validate.OneOf(_NAMES)),
        required=True,
        validate=validate.Length(min=1, max=LIMITS["max_curve_losses"],
                                 error="must name between {min} and {max} losses (limit max_curve_losses)"),
        metadata={"description": "loss names from the catalog's 'losses' (limit max_curve_losses)"},
    )
    points = fields.Integer(
        strict=True, load_default=201, validate=limit_range("max_curve_points", 2, LIMITS["max_curve_points"]),
        metadata={"description": "samples per curve (limit max_curve_points)"},
    )
    x_range = Interval(load_default=None,
                       metadata={"description": "[low, high] of the error for regression losses; default [-3, 3]"})
    p_range = Interval(load_default=None,
                       metadata={"description": "[low, high] ⊂ (0, 1] of the true class's probability for "
                                                "classification losses; default [0.01, 1]"})

    @validates("p_range")
    def _p_range(self, value, **kwargs):
        if value is not None:
            _probability_range(value)


class CurveSchema(Schema):
    loss = fields.String(metadata={"description": "the loss's name"})
    kind = fields.String(metadata={"description": "regression | classification"})
    x = NumberArray(ndim=1, metadata={"description": "regression: the error prediction − target over x_range; "
                                                     "classification: the true class's probability over p_range"})
    value = NumberArray(ndim=1, metadata={"description": "the loss at each x"})
    derivative = NumberArray(ndim=1, metadata={"description": "d value / d x at each x"})
    x_label = fields.String(metadata={"description": "what x is"})
    convention = fields.String(metadata={"description": "how x becomes the loss's prediction and target"})
    params = fields.Dict(metadata={"description": "the loss parameters used for this curve, defaults included"})
    omitted = fields.Integer(metadata={"description": "grid points left out: value or derivative not finite"})


class CurvesResponse(Schema):
    curves = fields.List(fields.Nested(CurveSchema),
                         metadata={"description": "one per requested loss, in request order"})
    points = fields.Integer(metadata={"description": "samples per curve requested (a curve holds fewer when some "
                                                     "were omitted)"})
    ignored = fields.List(fields.String(), metadata={"description": "parameters given that no requested loss takes"})
    x_range = fields.List(fields.Float(), metadata={"description": "error range of the regression curves"})
    p_range = fields.List(fields.Float(), metadata={"description": "probability range of the classification curves"})
