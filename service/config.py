"""Service settings: class attributes with environment-driven defaults (Flask's from_object)."""

from __future__ import annotations

import os


def _env_int(name: str, default: int) -> int:
    return int(os.environ.get(name, default))


def _env_float(name: str, default: float) -> float:
    return float(os.environ.get(name, default))


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


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
    # Bodies larger than this get a 413 (naming max_body_bytes) before they are parsed. 12 MiB: the
    # largest request the limits allow fits with room for formatting. That is /lm/inspect sending back
    # the largest language model's parameters (max_lm_parameters = 1M float64 = 10.7 MB of base64)
    # with the longest user text (max_lm_text_chars, up to 0.6 MB JSON-escaped); at 8 MiB the largest
    # trained model could not be inspected. Loss arrays (2 x max_loss_elements numbers) are ~4.1 MB.
    MAX_CONTENT_LENGTH = _env_int("DESCENTLAB_MAX_BODY_BYTES", 12 * 1024 * 1024)
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

    # Admission (service.admission): every computing request stops at arrival + DEADLINE_S (503 +
    # Retry-After); one still computing after HEAVY_AFTER_S needs one of HEAVY_SLOTS (per replica) to go
    # on. COMPUTE_THREADS requests compute at once per worker process (gunicorn_conf sets it: 1 without
    # a thread-safe numba threading layer), COMPUTE_QUEUE more may wait; beyond, 503 at once.
    DEADLINE_S = _env_float("DESCENTLAB_DEADLINE_S", 10.0)
    # one heavy request per two cores: the heaviest allowed (a 500x500 basin map) uses both cores of the
    # reference machine for ~2.3 s; two at once each took over 10 s under load and both ran out of time
    HEAVY_SLOTS = _env_int("DESCENTLAB_HEAVY_SLOTS", max(1, _cores() // 2))
    # Light requests take under 0.1 s on a quiet machine, but 0.5-1.2 s at load average 10 (the load
    # test's basins 60x60x300 and compare then got 503s at 0.5 s): 1 s keeps them light; a doomed heavy
    # request wastes at most this much before it stops, and is refused up front when repeated.
    HEAVY_AFTER_S = _env_float("DESCENTLAB_HEAVY_AFTER_S", 1.0)
    COMPUTE_THREADS = _env_int("DESCENTLAB_COMPUTE_THREADS", 16)
    COMPUTE_QUEUE = _env_int("DESCENTLAB_COMPUTE_QUEUE", 64)
    # Response cache (service.cache): per worker process, CACHE_MAX_BYTES of bodies, none above
    # CACHE_MAX_ENTRY; request bodies above CACHE_MAX_BODY are not looked up. DESCENTLAB_CACHE=0: off.
    CACHE = os.environ.get("DESCENTLAB_CACHE", "1") != "0"
    CACHE_MAX_BYTES = _env_int("DESCENTLAB_CACHE_MAX_BYTES", 128 * 1024 * 1024)
    CACHE_MAX_ENTRY = _env_int("DESCENTLAB_CACHE_MAX_ENTRY", 8 * 1024 * 1024)
    CACHE_MAX_BODY = _env_int("DESCENTLAB_CACHE_MAX_BODY", 256 * 1024)
    CACHE_MAX_AGE = _env_int("DESCENTLAB_CACHE_MAX_AGE", 3600)


class TestConfig(Config):
    TESTING = True
    WARMUP = False
    DASK_SCHEDULER = None  # tests that need a cluster start one (tests/dask_cluster.py)
    # tests run one request at a time on a loaded machine: no deadline, heavy-slot shedding or cache unless a
    # test asks (the explorer's browser tests load every section at once on 2 cores: a heavy request still
    # computing after 1 s while another held the one slot got a busy 503, which the page retries but the
    # browser logs, and the console-error assertions failed on a loaded CI run)
    DEADLINE_S = 600.0
    HEAVY_AFTER_S = 600.0
    CACHE = False
