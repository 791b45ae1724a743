"""The app factory: config, JSON, CORS, OpenAPI, one error shape, one blueprint per topic, and the
WSGI front (bodies, response cache, admission: ``service.front``)."""

from __future__ import annotations

import importlib
import logging
import time

from flask import Flask, request
from flask_cors import CORS
from flask_smorest import Api

from . import errors
from .admission import Admission
from .cache import ResponseCache, service_version
from .config import Config
from .front import Front
from .jsonio import OrjsonProvider
from .schemas.common import surface_field2properties
from .schemas.training import dataset_field2properties

# service.blueprints.<name> each define ``blp``; registered in this order.
MODULES: tuple[str, ...] = ("health", "catalog", "losses", "explorer", "training", "landscapes", "schedules", "descent",
                            "networks", "curvature", "lm", "sweeps")


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    app.after_request(_preflight_lists_real_methods)  # registered before CORS: runs after flask-cors
    CORS(app, origins=app.config["CORS_ORIGINS"])
    api = Api(app)
    api.ma_plugin.converter.add_attribute_function(surface_field2properties)  # before any schema is documented
    api.ma_plugin.converter.add_attribute_function(dataset_field2properties)
    for name in MODULES:
        api.register_blueprint(importlib.import_module(f"service.blueprints.{name}").blp)
    errors.register(app)
    _front(app)

    app.extensions["descentlab_ready"] = False
    app.extensions["descentlab_warmup_compiled"] = False
    if app.config["WARMUP"]:
        from engine import warm_kernels
        from engine.concepts import MODULES as ENGINE_MODULES
        from engine.warmup import is_cached

        # gunicorn's master collects garbage before its workers fork only when something compiled
        app.extensions["descentlab_warmup_compiled"] = not all(map(is_cached, ENGINE_MODULES))
        t0 = time.perf_counter()
        spent = warm_kernels()
        logging.getLogger("descentlab").info("kernels warm in %.2f s (seconds per module: %s)",
                                             time.perf_counter() - t0, spent)
    app.extensions["descentlab_ready"] = True
    return app


def _preflight_lists_real_methods(resp):
    """CORS preflight: ``Access-Control-Allow-Methods`` names the route's own methods, not every verb."""
    if request.method == "OPTIONS" and "Access-Control-Request-Method" in request.headers:
        try:
            allowed = request.url_rule.methods if request.url_rule else set()
        except AttributeError:
            allowed = set()
        methods = sorted(set(allowed) - {"OPTIONS", "HEAD"})
        if methods:
            resp.headers["Access-Control-Allow-Methods"] = ", ".join(methods)
        else:
            resp.headers.pop("Access-Control-Allow-Methods", None)
    return resp


def _front(app: Flask) -> None:
    """Bodies, the response cache and admission in front of every route (``service.front``)."""
    c = app.config
    admission = Admission(c["DEADLINE_S"], c["HEAVY_SLOTS"], c["HEAVY_AFTER_S"], c["COMPUTE_THREADS"],
                          c["COMPUTE_QUEUE"])
    cache = (ResponseCache(service_version(), c["CACHE_MAX_BYTES"], c["CACHE_MAX_ENTRY"], c["CACHE_MAX_AGE"],
                           c["CACHE_MAX_BODY"]) if c["CACHE"] else None)
    app.extensions["descentlab_admission"] = admission
    app.extensions["descentlab_cache"] = cache
    app.wsgi_app = Front(app, admission, cache)
