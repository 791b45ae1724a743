"""Everything a frontend can choose, from the engine's registries."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

import engine

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="Menus for frontends")


class CatalogSchema(Schema):
    limits = fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={"description": "hard limits per request"})

    # one list of entries per engine registry (engine.catalog.SECTIONS); add a field per section


@blp.route("/catalog", methods=["GET"])
@blp.response(200, CatalogSchema)
def get_catalog():
    """Every loss, surface, optimizer, schedule, activation, init and dataset with parameters, defaults and limits."""
    return engine.catalog()
