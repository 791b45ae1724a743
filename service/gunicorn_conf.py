"""gunicorn settings for ``make serve``, the Docker image and the load test.

``gunicorn -c service/gunicorn_conf.py 'service:create_app()'``. Every setting reads the
environment, so one file serves a laptop, a container and CI:

=========================  ==============================  =====================================
variable                   default                         meaning
=========================  ==============================  =====================================
HOST, PORT                 127.0.0.1, 8000                 where to listen (``BIND`` overrides both)
WEB_CONCURRENCY            number of cores                 worker processes (sync: one request each)
NUMBA_NUM_THREADS          max(1, cores // workers)        threads of one worker's parallel kernels
NUMBA_THREADING_LAYER      workqueue                       the one layer that survives fork (below)
NUMBA_CACHE_DIR            ``<repo>/.numba_cache``         compiled kernels on disk (must be writable)
GUNICORN_TIMEOUT           30                              seconds before a stuck worker is killed
GUNICORN_MAX_REQUESTS      0 (never)                       requests before a worker is recycled
GUNICORN_ACCESS_LOG        ``-`` (stdout)                  access log target; ``off`` to disable
=========================  ==============================  =====================================

Why these choices (measured on the 2-core development machine, see README "Performance"):

* ``preload_app``: the master builds the app once, and the factory calls ``engine.warm_kernels()``,
  so every kernel is compiled (or loaded from ``NUMBA_CACHE_DIR``) **before the socket is
  bound and before workers fork**: no request ever pays for compilation, and workers share
  the compiled code copy-on-write. ``/healthz`` answers 200 only after that.
* ``NUMBA_THREADING_LAYER=workqueue``: numba's default on a pip install is GNU OpenMP, and
  warming a parallel kernel in the master then forking makes every child abort ("fork() called
  from a process already using GNU OpenMP"). workqueue is fork-safe; it is not thread-safe,
  which sync workers (one request per process at a time) never need.
* workers x numba threads ~= cores: a request's grid rows spread over the threads of its
  worker; with more threads than cores per worker, concurrent requests only contend.
* the timeout is the backstop of the per-request deadline: the work limits in
  ``engine/limits.py`` refuse (422) anything that would not finish within ``DEADLINE_S``; a
  worker that still runs past ``timeout`` is killed and replaced.
"""

from __future__ import annotations

import logging
import os
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Requests are refused up front (engine/limits.py work budgets) when they would run longer
# than this on the reference 2-core machine; documented, not enforced by a timer.
DEADLINE_S = 10

# --- where -----------------------------------------------------------------------------
bind = os.environ.get("BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# --- how many ---------------------------------------------------------------------------
workers = int(os.environ.get("WEB_CONCURRENCY") or _cores())
worker_class = "sync"  # numba kernels release the GIL but workqueue is not thread-safe
threads = 1

# Numba reads these when it is first imported, which happens after this file is executed
# (the app is loaded by the master, below). setdefault: an explicit environment wins.
os.environ.setdefault("NUMBA_NUM_THREADS", str(max(1, _cores() // workers)))
os.environ.setdefault("NUMBA_THREADING_LAYER", "workqueue")
# The MLP's matrix products go through scipy's OpenBLAS, which starts its own threads: with
# workers x BLAS threads > cores they contend (measured under load: one 999x999 product 8 ms with
# 2 BLAS threads vs 0.8 ms with 1). Same budget as numba's threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", os.environ["NUMBA_NUM_THREADS"])
os.environ.setdefault("NUMBA_CACHE_DIR", str(_ROOT / ".numba_cache"))
Path(os.environ["NUMBA_CACHE_DIR"]).mkdir(parents=True, exist_ok=True)

# --- start-up ---------------------------------------------------------------------------
preload_app = True  # build + warm the app in the master, before binding and forking
control_socket_disable = True  # gunicorn >= 25's control socket path would collide between replicas

# Recycle a worker after this many requests (a guard against slow leaks; 0 = never). The new
# worker is forked from the warm master, so it starts with every kernel compiled, but the
# master replaces exiting workers on its ~1 s tick: requests queued meanwhile wait (measured:
# 1.0 s once both of 2 workers recycled together). Off by default: no leak has been seen.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "0"))
max_requests_jitter = max_requests // 10

# --- deadlines --------------------------------------------------------------------------
timeout = int(os.environ.get("GUNICORN_TIMEOUT", 3 * DEADLINE_S))
graceful_timeout = 10
keepalive = 5  # behind nginx: keep upstream connections briefly
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat file off the (possibly overlay) disk

# --- request line / header limits (bodies are capped by Config.MAX_CONTENT_LENGTH) ------
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190

# --- logs -------------------------------------------------------------------------------
_access = os.environ.get("GUNICORN_ACCESS_LOG", "-")
accesslog = None if _access == "off" else _access
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# remote "request line" status bytes duration_ms pid
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms pid=%(p)s'

# The app's own logger (warm-up times, unhandled errors) goes to stderr beside gunicorn's.
_app_log = logging.getLogger("descentlab")
if not _app_log.handlers:
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
    _app_log.addHandler(_handler)
    _app_log.setLevel(logging.INFO)


def when_ready(server):
    server.log.info(
        "descentlab ready: %d workers x %s numba threads (%s), cache %s",
        workers,
        os.environ["NUMBA_NUM_THREADS"],
        os.environ["NUMBA_THREADING_LAYER"],
        os.environ["NUMBA_CACHE_DIR"],
    )
