"""Schemas of /api/v1/losses: evaluate one loss (value and gradient) and draw penalty curves.

Loss names are checked against ``engine.losses.LOSSES``. Loss parameters (``delta``,
``beta``, ``label_smoothing``) sit beside the other fields; their ranges come from the
registry's ParamSpecs, and the engine refuses a parameter the chosen loss does not take,
naming it. Predictions and targets are loaded straight into numpy arrays and gradients and curves
dumped, both through ``NumberArray``.
"""

from __future__ import annotations

from marshmallow import Schema, ValidationError, fields, validate, validates

from engine.limits import LIMITS
from engine.losses import LOSSES, PARAMS

from ..fields import Interval, NumberArray, limit_range
from .common import LossParamsSchema

_NAMES = sorted(LOSSES)
_ELEMENTS = (LIMITS["max_loss_elements"], "max_loss_elements")


def loss_params(body: dict) -> dict:
    """The loss parameters a request gave (absent ones are left to the loss's defaults)."""
    return {k: body[k] for k in PARAMS if body.get(k) is not None}


# -- evaluate -------------------------------------------------------------------------------------


class EvaluateRequest(LossParamsSchema):
    loss = fields.String(
        required=True, validate=validate.OneOf(_NAMES),
        metadata={"description": "a loss name from the catalog's 'losses'"},
    )
    predictions = NumberArray(
        (1, 2), required=True, max_elements=_ELEMENTS, as_array=True,
        metadata={"description": "1-D or 2-D (rows = samples); for cross-entropy and kl_div a 1-D list is one "
                                 "sample of K classes (limit max_loss_elements)"},
    )
    targets = NumberArray((1, 2), required=True, max_elements=_ELEMENTS, as_array=True,
                          metadata={"description": "same shape as predictions"})


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
    # marshmallow runs this even when an item failed (and was dropped): only judge a whole pair
    if len(v) == 2 and not (0.0 < v[0] and v[1] <= 1.0):
        raise ValidationError("must lie within (0, 1]")


class CurvesRequest(LossParamsSchema):
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
