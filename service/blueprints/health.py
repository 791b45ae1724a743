"""Liveness and readiness."""

from flask import current_app
from flask_smorest import Blueprint
from marshmallow import Schema, fields

blp = Blueprint("health", __name__, description="Service health")


class HealthSchema(Schema):
    status = fields.String(metadata={"description": "'ok' once every kernel is warm, 'warming' before (HTTP 503)"})
    ready = fields.Boolean(metadata={"description": "true once every kernel is compiled or loaded from the cache"})


@blp.route("/healthz", methods=["GET"])
@blp.response(200, HealthSchema)
@blp.alt_response(503, schema=HealthSchema, description="still warming up")
def healthz():
    """Ready once every kernel has been compiled or loaded from the cache."""
    ready = bool(current_app.extensions.get("descentlab_ready"))
    if not ready:
        return {"status": "warming", "ready": False}, 503
    return {"status": "ok", "ready": True}
