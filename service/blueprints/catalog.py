"""Everything a frontend can choose, from the engine's registries."""

from flask_smorest import Blueprint
from marshmallow import Schema, fields

import engine
from engine.concepts import SECTIONS

from ..cache import cacheable

blp = Blueprint("catalog", __name__, url_prefix="/api/v1", description="Menus for frontends")

# one list of entries per section of the engine's concept index (each entry: name, title, parameters, ...)
CatalogSchema = Schema.from_dict({
    "limits": fields.Dict(keys=fields.String(), values=fields.Integer(), metadata={
        "description": "hard limits per request; max_sweep_*: per sweep (POST /api/v1/sweeps)"}),
    "presets": fields.Dict(keys=fields.String(), values=fields.Dict(), metadata={
        "description": "complete request bodies a frontend can replay, by name; edge_of_stability: a training/run "
                       "body whose sharpness rises to 2/lr and hovers there"}),
    **{s.key: fields.List(fields.Dict(), metadata={"description": s.doc}) for s in SECTIONS},
}, name="Catalog")


@blp.route("/catalog", methods=["GET"])
@blp.response(200, CatalogSchema)
@cacheable("built from the registries: it changes only with the code, and the version is in the ETag")
def get_catalog():
    """Every loss, surface, optimizer, schedule, activation, init and dataset with parameters, defaults and limits."""
    return engine.catalog()
