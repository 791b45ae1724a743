"""gunicorn settings for ``make serve``, the Docker image and the load test.

``gunicorn -c service/gunicorn_conf.py 'service:create_app()'``. Every setting reads the
environment, so one file serves a laptop, a container and CI:

==========================  ==============================  =====================================
variable                    default                         meaning
==========================  ==============================  =====================================
HOST, PORT                  127.0.0.1, 8000                 where to listen (``BIND`` overrides both)
WEB_CONCURRENCY             number of cores                 worker processes (gevent: many requests each)
GUNICORN_WORKER_CONNECTIONS 1000                            open connections per worker process
NUMBA_NUM_THREADS           number of cores                 OS threads of one request's pieces (engine.threads)
DESCENTLAB_COMPUTE_THREADS  16                              requests computing at once per process
NUMBA_CACHE_DIR             ``<repo>/.numba_cache``         compiled kernels on disk (must be writable)
DESCENTLAB_DEADLINE_S       10                              a computing request stops here (503)
GUNICORN_TIMEOUT            3 x DEADLINE_S                  seconds before a stuck worker is killed
GUNICORN_KEEPALIVE          15                              idle keep-alive; also the time to send headers
GUNICORN_MAX_REQUESTS       0 (never)                       requests before a worker is recycled
GUNICORN_ACCESS_LOG         ``-`` (stdout)                  access log target; ``off`` to disable
==========================  ==============================  =====================================

Why these choices (measured on the 2-core development machine, see README "Performance"):

* ``preload_app``: the master builds the app once (with the cyclic GC paused, and its heap frozen before
  the workers fork: ``service.serving.freeze_heap``), and the factory calls ``engine.warm_kernels()``,
  so every kernel is compiled (or loaded from ``NUMBA_CACHE_DIR``) **before the socket is
  bound and before workers fork**: no request ever pays for compilation, and workers share
  the compiled code copy-on-write. ``/healthz`` answers 200 only after that.
* ``worker_class = "gevent"``: a worker process serves many connections from one event loop, so a
  client sending its headers at a byte a second, or never reading a 37 MB answer, holds a greenlet
  (a few KB) and not a worker: headers must arrive within ``keepalive`` seconds (15), a body within
  ``service.front.BODY_TIMEOUT_S``, and a send making no progress for ``SEND_TIMEOUT_S`` drops the
  client. Computations run in OS threads (``service.admission``), so the loop keeps answering
  ``/healthz`` while kernels run; the kernels release the GIL. Measured against sync workers in the
  README ("Serving"). Behind nginx (docker-compose) the proxy buffers as well.
* no numba threading layer: no kernel is ``parallel=True`` (``tests/test_jit_conventions.py``), so none
  is ever launched, and several threads of a process (or workers forked after the warm-up) run kernels
  at once whatever ``NUMBA_THREADING_LAYER`` says. (``workqueue`` aborts when two threads launch
  parallel kernels, GNU OpenMP aborts workers forked after a parallel kernel ran: the service used to
  load TBB for that, and computed one request at a time per process without it.)
* numba threads = cores in each process: one heavy request may use the whole machine; with several
  at once the OS shares the cores. ``HEAVY_SLOTS`` bounds how many heavy ones run (service.config).
* the timeout is the backstop of the per-request deadline: a computing request stops at
  ``DEADLINE_S`` (engine deadlines, 503 + Retry-After); the event loop heartbeats while kernels run,
  so gunicorn kills only a truly stuck worker.
"""

from __future__ import annotations

import logging
import os
import sys
from pathlib import Path

_ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(_ROOT))
from service import serving  # noqa: E402  (standard library only: numba is not imported yet)

serving.pause_gc()  # until the workers fork (when_ready): see service.serving


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# The work limits (engine/limits.py) are sized so the largest request finishes within this on the
# reference 2-core machine; under load a computing request stops here (service.admission, 503).
# service.config.Config.DEADLINE_S reads the same variable.
DEADLINE_S = float(os.environ.get("DESCENTLAB_DEADLINE_S", 10))

# --- where -----------------------------------------------------------------------------
bind = os.environ.get("BIND") or f"{os.environ.get('HOST', '127.0.0.1')}:{os.environ.get('PORT', '8000')}"

# --- how many ---------------------------------------------------------------------------
workers = int(os.environ.get("WEB_CONCURRENCY") or _cores())
worker_class = os.environ.get("GUNICORN_WORKER_CLASS", "gevent")
worker_connections = int(os.environ.get("GUNICORN_WORKER_CONNECTIONS", "1000"))
threads = 1  # gevent: computations get OS threads from service.admission, not gunicorn's

# Numba reads these when it is first imported, which happens after this file is executed
# (the app is loaded by the master, below). setdefault: an explicit environment wins.
os.environ.setdefault("NUMBA_NUM_THREADS", str(_cores()))
os.environ["DESCENTLAB_COMPUTE_THREADS"] = str(serving.compute_threads(os.environ.get("DESCENTLAB_COMPUTE_THREADS")))
# The MLP's matrix products go through scipy's OpenBLAS, which starts its own threads: with
# workers x BLAS threads > cores they contend (measured under load: one 999x999 product 8 ms with
# 2 BLAS threads vs 0.8 ms with 1). Same budget as numba's threads.
os.environ.setdefault("OPENBLAS_NUM_THREADS", str(max(1, _cores() // workers)))
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
# Idle keep-alive, and (gevent worker) the time a client has to send its headers. Longer than clients'
# pauses between requests: a request sent as the server closes an idle connection fails (one in 5,123
# in the load test with 5 s and users pausing 2-5 s); short enough that a slowloris is dropped soon.
keepalive = int(os.environ.get("GUNICORN_KEEPALIVE", "15"))
if os.path.isdir("/dev/shm"):
    worker_tmp_dir = "/dev/shm"  # heartbeat file off the (possibly overlay) disk

# --- request line / header limits (bodies are capped by Config.MAX_CONTENT_LENGTH) ------
limit_request_line = 4094
limit_request_fields = 100
limit_request_field_size = 8190
# gunicorn's own refusals (414, 431, 400, a crash's 500) in the service's JSON error shape
serving.json_error_pages({"line": limit_request_line, "fields": limit_request_fields,
                          "size": limit_request_field_size})

# --- logs -------------------------------------------------------------------------------
_access = os.environ.get("GUNICORN_ACCESS_LOG", "-")
accesslog = None if _access == "off" else _access
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# remote "request line" status bytes duration_ms pid
access_log_format = '%(h)s "%(r)s" %(s)s %(B)s %(M)sms pid=%(p)s'

# The app's own logger (warm-up times, unhandled errors) and the warm-up's progress (engine.warmup: a
# line per module and at least every 5 s while an empty cache compiles) go to stderr beside gunicorn's.
for _name in ("descentlab", "engine.warmup"):
    _app_log = logging.getLogger(_name)
    if not _app_log.handlers:
        _handler = logging.StreamHandler()
        _handler.setFormatter(logging.Formatter("[%(asctime)s] [%(process)d] [%(levelname)s] %(name)s: %(message)s"))
        _app_log.addHandler(_handler)
        _app_log.setLevel(logging.INFO)


def when_ready(server):
    # the master has loaded the app (preload_app) and bound; the workers fork next
    app = getattr(server.app, "callable", None)
    serving.freeze_heap(collect=app is None or app.extensions.get("descentlab_warmup_compiled", True))
    server.log.info(
        "descentlab ready: %d %s workers x %s computing threads x %s threads per request, cache %s",
        workers,
        worker_class,
        os.environ["DESCENTLAB_COMPUTE_THREADS"],
        os.environ["NUMBA_NUM_THREADS"],
        os.environ["NUMBA_CACHE_DIR"],
    )
