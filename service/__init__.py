"""descentlab's REST service: a thin, validated HTTP wrapper over ``engine``."""

from .app import create_app

__all__ = ["create_app"]
