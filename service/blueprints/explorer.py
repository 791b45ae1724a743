"""The explorer page: one HTML page at ``/`` whose ten sections draw what the API computes.

The page and its assets are plain files under ``service/static/`` (``explorer/`` for the page,
``vendor/plotly/`` for the chart library), served by Flask's own ``/static/`` route, so the page
works with no internet. ``/`` is HTML, not part of the JSON API: it is registered with Flask only
(``flask.Blueprint.add_url_rule``), so it stays out of the OpenAPI document and out of the
schema-driven API tests.
"""

from __future__ import annotations

from pathlib import Path

import flask
from flask import send_from_directory
from flask_smorest import Blueprint

PAGE_DIR = Path(__file__).resolve().parent.parent / "static" / "explorer"

blp = Blueprint(
    "explorer",
    __name__,
    description="The explorer page at / (HTML, served outside this document): ten live pictures drawn from these endpoints",
)


def index():
    """The explorer page."""
    resp = send_from_directory(PAGE_DIR, "index.html", max_age=0)
    resp.headers["Cache-Control"] = "no-cache"
    return resp


# Registered on Flask alone: flask-smorest's add_url_rule would also document it.
flask.Blueprint.add_url_rule(blp, "/", "index", index, methods=["GET"])
