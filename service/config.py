"""Service settings: class attributes with environment-driven defaults (Flask's from_object)."""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


class Config:
    # flask-smorest / OpenAPI: the document and the docs page come from the marshmallow schemas
    API_TITLE = "descentlab"
    API_VERSION = "v1"
    OPENAPI_VERSION = "3.0.3"
    OPENAPI_URL_PREFIX = "/"
    OPENAPI_JSON_PATH = "openapi.json"
    OPENAPI_SWAGGER_UI_PATH = "/docs"
    # Swagger UI's files are vendored in service/static/swagger-ui/ so /docs works offline.
    OPENAPI_SWAGGER_UI_URL = os.environ.get("DESCENTLAB_SWAGGER_UI_URL", "/static/swagger-ui/")
    # Bodies larger than this get a 413 (naming max_body_bytes) before they are parsed. 8 MiB:
    # the largest request the limits allow (2 x max_loss_elements = 200k numbers, ~4.1 MB as
    # Python's json.dumps writes random floats) fits with room for formatting.
    MAX_CONTENT_LENGTH = _env_int("DESCENTLAB_MAX_BODY_BYTES", 8 * 1024 * 1024)
    # Frontends on other origins call the API directly.
    CORS_ORIGINS = os.environ.get("DESCENTLAB_CORS_ORIGINS", "*")
    # Compile/load every kernel before the first request (the health check says ready after).
    WARMUP = os.environ.get("DESCENTLAB_WARMUP", "1") != "0"
    JSON_SORT_KEYS = False
    # Sweeps (service/sweep_jobs.py): the Dask scheduler that runs them and keeps their state; make serve's
    # launcher starts one and sets this. Jobs are dropped SWEEP_TTL_S after submission; an events stream
    # holds a (sync) worker at most SWEEP_EVENTS_MAX_S, then the browser's EventSource reconnects.
    DASK_SCHEDULER = os.environ.get("DESCENTLAB_DASK_SCHEDULER") or None
    SWEEP_TTL_S = _env_int("DESCENTLAB_SWEEP_TTL_S", 6 * 3600)
    SWEEP_EVENTS_MAX_S = _env_int("DESCENTLAB_SWEEP_EVENTS_MAX_S", 20)


class TestConfig(Config):
    TESTING = True
    WARMUP = False
    DASK_SCHEDULER = None  # tests that need a cluster start one (tests/dask_cluster.py)
