"""A gunicorn entry point for tests/test_serving.py: the real app factory with a slow warm-up.

``engine.warm_kernels`` is replaced by a sleep of ``SLOW_WARMUP_S`` seconds (default 2) so the test
can watch what a client sees while the master warms up (with ``preload_app`` it must see a
refused connection, never a request served by a cold app).
"""

import os
import time

import engine
from service import create_app


def create():
    delay = float(os.environ.get("SLOW_WARMUP_S", "2"))
    engine.warm_kernels = lambda: time.sleep(delay) or {"slow": delay}  # create_app imports it at call time
    return create_app({"WARMUP": True})
