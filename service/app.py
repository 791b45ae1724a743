"""The app factory: config, JSON, CORS, OpenAPI, one error shape, one blueprint per topic."""

from __future__ import annotations

import importlib
import logging
import time

from flask import Flask
from flask_cors import CORS
from flask_smorest import Api

from . import errors
from .config import Config
from .jsonio import OrjsonProvider

# service.blueprints.<name> each define ``blp``; registered in this order.
MODULES: tuple[str, ...] = ("health", "catalog", "losses", "explorer", "training", "landscapes", "schedules", "descent", "networks",
                            "sweeps")


def create_app(config: type | dict | None = None) -> Flask:
    app = Flask(__name__)
    app.json = OrjsonProvider(app)
    app.config.from_object(Config)
    if isinstance(config, dict):
        app.config.update(config)
    elif config is not None:
        app.config.from_object(config)

    CORS(app, origins=app.config["CORS_ORIGINS"])
    api = Api(app)
    for name in MODULES:
        api.register_blueprint(importlib.import_module(f"service.blueprints.{name}").blp)
    errors.register(app)

    app.extensions["descentlab_ready"] = False
    if app.config["WARMUP"]:
        from engine import warm_kernels

        t0 = time.perf_counter()
        spent = warm_kernels()
        logging.getLogger("descentlab").info("kernels warm in %.2f s (seconds per module: %s)",
                                             time.perf_counter() - t0, spent)
    app.extensions["descentlab_ready"] = True
    return app
