"""The process side of serving, read by ``service/gunicorn_conf.py`` before the app (and numba) load.

Standard library only, so importing it sets nothing in motion.

* ``choose_threading_layer``: kernels of several requests run at once in one worker process (the
  gevent worker hands each computing request to an OS thread; ``service.admission``). numba's
  ``workqueue`` layer aborts the process when two threads launch parallel kernels at once, so the
  TBB layer is used: thread-safe and fork-safe. The ``tbb`` wheel puts ``libtbb.so.12`` in
  ``<prefix>/lib``, which the dynamic loader does not search inside a venv; it is loaded here by its
  path first. Without TBB the layer stays ``workqueue`` and each process computes one request at a
  time (``compute_threads`` = 1): still correct, less fair (README "Serving").
* ``json_error_pages``: the errors gunicorn answers itself, before the app sees a request (414 request
  line too long, 431 header fields too large, 400 malformed request, 500 when the app crashed
  outside Flask's handlers), in the service's one JSON error shape instead of an HTML page.
"""

from __future__ import annotations

import ctypes
import importlib.metadata
import json
import os
from http import HTTPStatus
from pathlib import Path


def _libtbb() -> Path | None:
    try:
        files = importlib.metadata.files("tbb") or []
    except importlib.metadata.PackageNotFoundError:
        return None
    for f in files:
        if f.name == "libtbb.so.12":
            return Path(f.locate()).resolve()
    return None


def load_tbb() -> bool:
    """Load the ``tbb`` wheel's ``libtbb.so.12`` by its path, so numba's TBB layer finds it."""
    lib = _libtbb()
    if lib is None or not lib.exists():
        return False
    try:
        ctypes.CDLL(str(lib), mode=ctypes.RTLD_GLOBAL)
    except OSError:
        return False
    return True


def choose_threading_layer(env=None) -> str:
    """``NUMBA_THREADING_LAYER``: as given (TBB loaded for it), else ``tbb`` when it loads, else ``workqueue``."""
    env = os.environ if env is None else env
    wanted = env.get("NUMBA_THREADING_LAYER") or "tbb"
    if wanted == "tbb" and not load_tbb():
        wanted = "workqueue"
    env["NUMBA_THREADING_LAYER"] = wanted
    return wanted


def compute_threads(layer: str, requested: str | None) -> int:
    """Threads per worker process that may run kernels at once (1 unless the layer is thread-safe)."""
    if layer not in ("tbb", "omp"):
        return 1
    return max(1, int(requested)) if requested else 16


_MESSAGES = {
    400: "malformed HTTP request",
    414: "request line (method, path and query) too long; limit limit_request_line={line} bytes",
    431: "request header fields too large; limits limit_request_fields={fields}, "
         "limit_request_field_size={size} bytes",
    500: "internal error; it has been logged",
    501: "transfer coding not supported",
}


def json_error_pages(limits: dict) -> None:
    """Make gunicorn's own error responses JSON ``{"code", "status", "message"}`` (every worker class)."""
    import gunicorn.util

    def write_error(sock, status_int, reason, mesg):
        try:
            phrase = HTTPStatus(status_int).phrase
        except ValueError:
            phrase = reason
        message = _MESSAGES.get(status_int, reason).format(**limits)
        if status_int == 400 and mesg:
            message = f"{message}: {str(mesg)[:200]}"
        body = json.dumps({"code": status_int, "status": phrase, "message": message}).encode()
        head = (f"HTTP/1.1 {status_int} {phrase}\r\nConnection: close\r\nContent-Type: application/json\r\n"
                f"Content-Length: {len(body)}\r\n\r\n").encode("latin1")
        gunicorn.util.write_nonblock(sock, head + body)

    gunicorn.util.write_error = write_error
