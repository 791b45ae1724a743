"""Loss functions: one loss's value and gradient, and penalty curves of several."""

from __future__ import annotations

from flask_smorest import Blueprint

from engine import losses

from ..schemas.losses import CurvesRequest, CurvesResponse, EvaluateRequest, EvaluateResponse, loss_params

blp = Blueprint(
    "losses",
    __name__,
    url_prefix="/api/v1/losses",
    description="Loss functions: value and gradient w.r.t. the predictions, penalty curves",
)


@blp.route("/evaluate", methods=["POST"])
@blp.arguments(EvaluateRequest)
@blp.response(200, EvaluateResponse)
def evaluate(body):
    """One loss of predictions against targets (torch's default reduction) and its gradient."""
    return losses.evaluate_loss(body["loss"], body["predictions"], body["targets"], **loss_params(body))


@blp.route("/curves", methods=["POST"])
@blp.arguments(CurvesRequest)
@blp.response(200, CurvesResponse)
def curves(body):
    """Penalty curves: each loss and its derivative against the error, or the true class's probability."""
    return losses.loss_curves(body["losses"], body["points"], body["x_range"], body["p_range"], **loss_params(body))
