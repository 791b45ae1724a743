"""descentlab's REST service: a thin, validated HTTP wrapper over ``engine``.

``create_app`` is imported on first use, so ``service.serving`` (read by gunicorn's config before any
worker exists, and before numba may be imported) does not pull in Flask and the engine.
"""

__all__ = ["create_app"]


def __getattr__(name):
    if name == "create_app":
        from .app import create_app

        return create_app
    raise AttributeError(f"module 'service' has no attribute {name!r}")
