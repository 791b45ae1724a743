"""The process side of serving, read by ``service/gunicorn_conf.py`` before the app (and numba) load.

Standard library only, so importing it sets nothing in motion.

* ``compute_threads``: how many requests may compute at once in one worker process (the gevent worker
  hands each computing request to an OS thread; ``service.admission``). No kernel uses numba's
  threading layer (``tests/test_jit_conventions.py`` forbids ``parallel=True``; a request's own pieces
  run on OS threads, ``engine.threads``), so nothing limits it to one: it used to be 1 unless numba's
  TBB layer could be loaded (``workqueue`` aborts when two threads launch parallel kernels at once),
  and the service loaded the ``tbb`` wheel's library at every start for that.
* ``pause_gc`` / ``freeze_heap``: Python's recipe for a server that forks without exec (the ``gc.freeze``
  documentation): no cyclic collection in the master while it imports and loads the kernels, and what it
  built moved out of the collector's sight just before the workers fork. The master's startup ran three
  full collections over a growing heap (0.17-0.24 s of a 2 s warm start) that found ~360 objects to free;
  frozen, the workers share that heap copy-on-write and never rescan it. After a warm-up that compiled
  (an empty cache) the master collects once first: compiling leaves cycles behind (~240 MB measured).
* ``json_error_pages``: the errors gunicorn answers itself, before the app sees a request (414 request
  line too long, 431 header fields too large, 400 malformed request, 500 when the app crashed
  outside Flask's handlers), in the service's one JSON error shape instead of an HTML page.
"""

from __future__ import annotations

import gc
import json
from http import HTTPStatus


def compute_threads(requested: str | None) -> int:
    """Threads per worker process that may run kernels at once: ``DESCENTLAB_COMPUTE_THREADS`` or 16."""
    return max(1, int(requested)) if requested else 16


def pause_gc() -> None:
    """No cyclic collection until ``freeze_heap`` (the master's imports and warm-up)."""
    gc.disable()


def freeze_heap(collect: bool) -> None:
    """Before the workers fork: collect first if ``collect`` (the warm-up compiled), freeze what is there,
    and collect from here on as usual (the workers inherit this)."""
    if collect:
        gc.collect()
    gc.freeze()
    gc.enable()


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
