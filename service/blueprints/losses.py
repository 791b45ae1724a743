"""Loss functions: one loss's value and gradient, and penalty curves of several."""

from __future__ import annotations

from dataclasses import replace

from flask_smorest import Blueprint

from engine import losses
from engine.errors import field_prefix

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
    given = loss_params(body)
    taken = _taken([body["loss"]])
    with field_prefix("", strip="params"):  # the request's delta/beta/label_smoothing sit at the top level
        r = losses.evaluate_loss(body["loss"], body["predictions"], body["targets"],
                                 params={k: v for k, v in given.items() if k in taken})
    return replace(r, ignored=tuple(k for k in given if k not in taken))


@blp.route("/curves", methods=["POST"])
@blp.arguments(CurvesRequest)
@blp.response(200, CurvesResponse)
def curves(body):
    """Penalty curves: each loss and its derivative against the error, or the true class's probability."""
    given = loss_params(body)
    taken = _taken(body["losses"])
    with field_prefix("", strip="params"):
        r = losses.loss_curves(body["losses"], body["points"], body["x_range"], body["p_range"],
                               params={k: v for k, v in given.items() if k in taken})
    return replace(r, ignored=tuple(k for k in given if k not in taken))


def _taken(names) -> set[str]:
    """The parameters the requested losses take: the HTTP contract sends every slider's value whatever the
    loss, and echoes the others back as ``ignored`` (Python callers get an error instead)."""
    return {p.name for n in names if n in losses.LOSSES for p in losses.LOSSES[n].params}
