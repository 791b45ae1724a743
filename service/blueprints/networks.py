"""Networks: backpropagation laid open, vanishing/exploding gradient profiles, network loss landscapes.

Conventions: ``W`` has shape [inputs, outputs]; ``layers`` lists widths from input to output; a
profile's ``depth`` counts weight layers. Overflow (an exploding net) is a ``status`` and capped or
omitted values, never NaN or Infinity.
"""

from __future__ import annotations

from flask_smorest import Blueprint

from engine.backprop import run_backprop
from engine.gradient_profile import run_gradient_profile
from engine.network_landscape import run_network_landscape

from ..cache import uncached
from ..schemas.networks import (
    BackpropRequest, BackpropResponse, LandscapeRequest, LandscapeResponse, ProfileRequest, ProfileResponse,
)

blp = Blueprint(
    "networks",
    __name__,
    url_prefix="/api/v1/networks",
    description="Multilayer perceptrons: backprop records and the chain rule, gradient profiles, loss landscapes",
)


@blp.route("/backprop", methods=["POST"])
@blp.arguments(BackpropRequest)
@blp.response(200, BackpropResponse)
@uncached("its cost section is measured time, different on every run")
def post_backprop(body):
    """Forward and backward records of one batch, the chain rule along one path, a gradient check and the cost."""
    return run_backprop(**body)


@blp.route("/gradient-profile", methods=["POST"])
@blp.arguments(ProfileRequest)
@blp.response(200, ProfileResponse)
def post_gradient_profile(body):
    """Per-layer gradient norms of a deep net at initialization: vanishing, exploding or stable, and remedies."""
    return run_gradient_profile(**body)


@blp.route("/landscape", methods=["POST"])
@blp.arguments(LandscapeRequest)
@blp.response(200, LandscapeResponse)
def post_landscape(body):
    """A network's loss along one or two filter-normalized random directions around its parameters."""
    return run_network_landscape(**body)
