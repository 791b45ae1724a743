"""Liveness, readiness and load: answered by the event loop itself, never queued behind computations.

``status`` is ``ok``, or ``busy`` when every heavy-work slot of the replica is taken (heavy requests
get 503 + Retry-After then; light ones are still served). Both are 200: the replica is alive. A dead
replica does not answer at all; a warming one answers 503.
"""

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("health", __name__, description="Service health")


class HeavySchema(Schema):
    running = fields.Integer(metadata={"description": "heavy requests computing now (all worker processes)"})
    slots = fields.Integer(metadata={"description": "heavy requests this replica runs at once (HEAVY_SLOTS)"})


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "'ok'; 'busy' when every heavy-work slot is taken (still 200: "
                                                    "alive); 'warming' before every kernel is ready (HTTP 503)"})
    ready = fields.Boolean(metadata={"description": "true once every kernel is compiled or loaded from the cache"})
    busy = fields.Boolean(metadata={"description": "every heavy-work slot is taken: heavy requests get 503 + "
                                                  "Retry-After, light ones are served"})
    computing = fields.Integer(metadata={"description": "requests computing now (all worker processes)"})
    heavy = fields.Nested(HeavySchema, metadata={"description": "heavy-work slots in use and available"})


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="still warming up")
def healthz():
    """Ready once every kernel has been compiled or loaded from the cache; says whether the replica is busy."""
    ready = bool(current_app.extensions.get("descentlab_ready"))
    if not ready:
        return {"status": "warming", "ready": False}, 503
    load = current_app.extensions["descentlab_admission"].snapshot()
    return {"status": "busy" if load["busy"] else "ok", "ready": True, **load}
