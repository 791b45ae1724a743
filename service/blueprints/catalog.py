"""Everything a frontend can choose, from the engine's registries."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

import engine

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="Menus for frontends")


class CatalogSchema(Schema):
    limits = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "hard limits per request"})

    losses = fields.List(fields.Dict(), metadata={"description": "loss functions: formula, derivative, parameters, what predictions and targets mean"})

    datasets = fields.List(fields.Dict(), metadata={"description": "synthetic training datasets"})
    regularizers = fields.List(fields.Dict(), metadata={"description": "regularizers a training comparison can vary"})

    surfaces = fields.List(fields.Dict(), metadata={"description": "2-D loss surfaces: formula, params, domain, known minima"})

    optimizers = fields.List(fields.Dict(), metadata={"description": "torch.optim optimizers (and Lion): formula, parameters with torch defaults and ranges"})

    schedules = fields.List(fields.Dict(), metadata={"description": "learning-rate schedules (torch.optim.lr_scheduler): formula, parameters"})

    descent = fields.List(fields.Dict(), metadata={"description": "descent endpoints: statuses, array alignment, verdict and basin rules, defaults"})

    activations = fields.List(fields.Dict(), metadata={"description": "activation functions: formula, derivative, torch.nn.init gain, derivative at 0"})

    initializations = fields.List(fields.Dict(), metadata={"description": "weight initializations (torch.nn.init): distributions of W and b, parameters"})

    networks = fields.List(fields.Dict(), metadata={"description": "MLP conventions: layer formula, batch norm, residual and dropout placement, modes"})

    backprop = fields.List(fields.Dict(), metadata={"description": "what /networks/backprop returns and how"})

    gradient_profile = fields.List(fields.Dict(), metadata={"description": "the gradient profile's network, verdict rule and defaults"})

    network_landscape = fields.List(fields.Dict(), metadata={"description": "network landscape datasets, losses, normalization, defaults"})

    sweeps = fields.List(fields.Dict(), metadata={"description": "what a sweep (POST /api/v1/sweeps) can run: kinds, "
                                                                  "their metrics and seed fields"})
    sweep_limits = fields.Dict(keys=fields.String(), values=fields.Integer(),
                               metadata={"description": "hard limits per sweep (each run also obeys 'limits')"})

    # one list of entries per engine registry (engine.catalog.SECTIONS); add a field per section


@blp.route("/catalog", methods=["GET"])
@blp.response(200, CatalogSchema)
def get_catalog():
    """Every loss, surface, optimizer, schedule, activation, init and dataset with parameters, defaults and limits."""
    return engine.build_catalog()
