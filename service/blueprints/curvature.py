"""Curvature: the Hessian spectrum of a network's loss, and why saddles outnumber minima in high dimension.

Two resources under the topics they belong to: ``/networks/hessian`` (a network's loss Hessian at
initialization or after training steps) and ``/landscapes/saddle-statistics`` (random matrices and a
real network's critical points). Exact Hessian-vector products, never NaN: see the engine modules.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from engine.network_hessian import run_network_hessian
from engine.saddles import goe_minimum_probability, network_critical_points

from ..schemas.curvature import HessianRequest, HessianResponse, SaddleRequest, SaddleResponse

blp = Blueprint(
    "curvature",
    __name__,
    url_prefix="/api/v1",
    description="Curvature: Hessian spectra of networks (top/bottom eigenvalues, trace, density); saddles vs minima",
)


@blp.route("/networks/hessian", methods=["POST"])
@blp.arguments(HessianRequest)
@blp.response(200, HessianResponse)
def post_hessian(body):
    """The loss Hessian's extreme eigenvalues (Lanczos), trace (Hutchinson) and density (SLQ), from exact HVPs."""
    return run_network_hessian(**body)


@blp.route("/landscapes/saddle-statistics", methods=["POST"])
@blp.arguments(SaddleRequest)
@blp.response(200, SaddleResponse)
def post_saddle_statistics(body):
    """P(all eigenvalues > 0) of random GOE matrices vs 2^-N, or a small network's critical points by index and loss."""
    experiment, ignored = body.pop("experiment"), body.pop("ignored")
    if experiment == "goe":
        return {"result": goe_minimum_probability(body["dims"], body["samples"], body["seed"]), "ignored": ignored}
    for key in ("dims", "samples"):
        body.pop(key)
    return {"result": network_critical_points(**body), "ignored": ignored}
