"""The WSGI layer in front of Flask: bodies read and capped, the response cache, and admission.

For every request to an API route (``/api/...``), in this order:

1. **Body**: read whole here, before any thread is given to the request, with a time limit
   (``BODY_TIMEOUT_S``: a client trickling its body cannot hold a compute thread) and the byte cap
   (``MAX_CONTENT_LENGTH``): JSON 413 naming ``max_body_bytes``, for a declared length and for a
   chunked body alike (the cap is counted as the chunks arrive).
2. **Cache** (``service.cache``): If-None-Match → 304, or a stored 200, without touching the app.
3. **Admission** (``service.admission``): the app runs in a compute thread, under the request's
   deadline and heavy-slot rules; refusals are JSON 503 with ``Retry-After``.
4. The response goes back through the event loop; a client that stops reading is dropped after
   ``SEND_TIMEOUT_S`` without progress. Streams (``text/event-stream``) are passed through chunk by
   chunk, each chunk computed in a compute thread, never buffered or cached; a stream that asks for it
   (``service.sse``: ``coalesce``) is pulled in batches of the chunks that arrive within ~20 ms under
   gevent, one hand-off to a compute thread and one write per batch instead of per chunk.

Other routes (``/healthz``, ``/``, ``/docs``, ``/openapi.json``, ``/static``) are answered inline: the
health check is answered by the event loop itself, whatever the compute threads are doing.

A new endpoint gets all of this by being a route under ``/api/``; a POST opts out of caching with
``@uncached("why")``, a GET opts in with ``@cacheable("why")`` (``service.cache``).
"""

from __future__ import annotations

import contextlib
import io
import json
import time
from dataclasses import dataclass
from http import HTTPStatus

from werkzeug.exceptions import HTTPException

from . import cache as cache_mod
from .admission import Admission, Overloaded
from .sse import COALESCE_HEADER, BatchPuller

BODY_TIMEOUT_S = 30.0  # a whole request body must arrive within this
SEND_TIMEOUT_S = 60.0  # a send that makes no progress for this long drops the client
_COMPUTE_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
_HOP = frozenset({"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade"})


@dataclass(frozen=True)
class Route:
    compute: bool  # runs the app in a compute thread under admission
    cache: bool  # 200s are tagged, stored and revalidated


_INLINE = Route(False, False)


class _Refused(Exception):
    def __init__(self, code: int, message: str, headers: dict | None = None):
        self.code, self.message, self.headers = code, message, headers or {}


def json_error(start_response, code: int, message: str, headers: dict | None = None):
    body = json.dumps({"code": code, "status": HTTPStatus(code).phrase, "message": message}).encode()
    hdrs = [("Content-Type", "application/json"), ("Content-Length", str(len(body))), ("Cache-Control", "no-store")]
    hdrs += [(k, str(v)) for k, v in (headers or {}).items()]
    start_response(f"{code} {HTTPStatus(code).phrase}", hdrs)
    return [body]


class Front:
    def __init__(self, flask_app, admission: Admission, cache: cache_mod.ResponseCache | None):
        self.flask = flask_app
        self.inner = flask_app.wsgi_app
        self.admission = admission
        self.cache = cache
        self._routes: dict[tuple[str, str], Route] = {}
        origins = flask_app.config.get("CORS_ORIGINS", "*")
        self._origins = origins if isinstance(origins, str) else tuple(origins)

    # -- routing ---------------------------------------------------------------------------------
    def route(self, method: str, path: str) -> Route:
        key = (method, path)
        r = self._routes.get(key)
        if r is None:
            r = self._lookup(method, path)
            if len(self._routes) < 4096:
                self._routes[key] = r
        return r

    def _lookup(self, method: str, path: str) -> Route:
        if method not in _COMPUTE_METHODS or not path.startswith("/api/"):
            return _INLINE
        try:
            endpoint, _ = self.flask.url_map.bind("localhost").match(path, method)
        except HTTPException:
            return _INLINE  # 404 / 405 / redirect: Flask answers at once
        view = self.flask.view_functions.get(endpoint)
        cacheable = self.cache is not None and cache_mod.is_cached(method, view)
        return Route(True, cacheable)

    # -- the request -----------------------------------------------------------------------------
    def __call__(self, environ, start_response):
        arrival = time.monotonic()
        method = environ.get("REQUEST_METHOD", "GET")
        path = environ.get("PATH_INFO", "")
        route = self.route(method, path)
        if not route.compute:
            return self.inner(environ, start_response)
        try:
            body = self._read_body(environ)
        except _Refused as r:
            return json_error(start_response, r.code, r.message, r.headers)
        query = environ.get("QUERY_STRING", "")
        tag = None
        if route.cache and len(body) <= self.cache.max_body:
            tag = self.cache.etag(method, f"{path}?{query}" if query else path, body)
        if tag is not None:
            if cache_mod.matches(environ.get("HTTP_IF_NONE_MATCH"), tag):
                self.cache.not_modified += 1
                start_response("304 Not Modified", self._tag_headers(environ, tag))
                return []
            entry = self.cache.get(tag)
            if entry is not None:
                headers = [("Content-Type", entry.content_type), ("Content-Length", str(len(entry.body))),
                           ("X-Cache", "HIT"), *self._tag_headers(environ, tag)]
                start_response("200 OK", headers)
                self._slow_reader_guard(environ)
                return [entry.body]
        key = tag or f"{method} {path}?{query} {hash(body)}"
        try:
            self.admission.admit()
        except Overloaded as e:
            return json_error(start_response, 503, e.message, {"Retry-After": e.retry_after})
        try:
            status, headers, out = self.admission.offload(lambda: self._run_app(environ, arrival, key))
        except Overloaded as e:
            return json_error(start_response, 503, e.message, {"Retry-After": e.retry_after})
        finally:
            self.admission.leave()
        ctype = _header(headers, "Content-Type") or ""
        if not isinstance(out, bytes):  # a stream: never buffered by a proxy, never stored
            coalesce = _header(headers, COALESCE_HEADER) == "1"
            headers = [h for h in headers if h[0].lower() != COALESCE_HEADER.lower()]
            for name, value in (("X-Accel-Buffering", "no"), ("Cache-Control", "no-cache")):
                if _header(headers, name) is None:
                    headers.append((name, value))
            start_response(status, headers)
            return self._stream(out, coalesce)
        if tag is not None and status.startswith("200") and ctype.startswith("application/json"):
            self.cache.put(tag, cache_mod.Entry(out, ctype))
            headers = [h for h in headers if h[0].lower() not in ("cache-control", "etag")]
            headers += [("X-Cache", "MISS"), *self._tag_headers(environ, tag, cors=False)]
        elif _header(headers, "Cache-Control") is None:
            headers.append(("Cache-Control", "no-store"))
        start_response(status, headers)
        self._slow_reader_guard(environ)
        return [out]

    def _run_app(self, environ, arrival: float, key: str):
        """In a compute thread: the Flask app, its whole body collected (streams returned as iterators)."""
        captured: dict = {}

        def start_response(status, headers, exc_info=None):
            captured["status"], captured["headers"] = status, list(headers)
            return captured.setdefault("writes", []).append

        def run():
            it = self.inner(environ, start_response)
            if (_header(captured.get("headers", []), "Content-Type") or "").startswith("text/event-stream"):
                return it
            try:
                return b"".join(captured.get("writes", [])) + b"".join(it)
            finally:
                if hasattr(it, "close"):
                    it.close()

        out = self.admission.compute(run, arrival, key)
        headers = [h for h in captured["headers"] if h[0].lower() not in _HOP]
        return captured["status"], headers, out

    def _stream(self, it, coalesce: bool = False):
        """Yield a streamed body chunk by chunk, each computed in a compute thread; with ``coalesce`` and
        a thread pool (gevent), batch by batch: 10,000 epoch events were 10,000 hand-offs and writes, and
        as many reads for the browser (the edge-of-stability preset's stream, read whole by urllib under
        load 10-15: median 8.7 s one by one, 4.1 s batched; README "Curvature")."""
        pull = BatchPuller(it) if coalesce and self.admission.pooled() else (lambda: next(it, None))
        try:
            while True:
                chunk = self.admission.offload(pull)
                if chunk is None:
                    return
                yield chunk
        finally:
            if hasattr(it, "close"):
                self.admission.offload(it.close)

    # -- pieces ------------------------------------------------------------------------------------
    def _read_body(self, environ) -> bytes:
        limit = self.flask.config["MAX_CONTENT_LENGTH"]
        too_large = _Refused(413, f"request body too large; limit max_body_bytes={limit}")
        length = environ.get("CONTENT_LENGTH")
        chunked = "chunked" in environ.get("HTTP_TRANSFER_ENCODING", "").lower()
        if length and not chunked:
            try:
                n = int(length)
            except ValueError:
                raise _Refused(400, "Content-Length is not a number") from None
            if n > limit:
                raise too_large
        elif not chunked:
            n = 0
        stream = environ["wsgi.input"]
        parts, got = [], 0
        try:
            with _timeout(BODY_TIMEOUT_S):
                while True:
                    want = 65536 if chunked else min(65536, n - got)
                    if want <= 0:
                        break
                    part = stream.read(want)
                    if not part:
                        break
                    got += len(part)
                    if got > limit:
                        raise too_large
                    parts.append(part)
        except _BodyTimeout:
            raise _Refused(408, f"request body not received within {BODY_TIMEOUT_S:g} s") from None
        body = b"".join(parts)
        environ["wsgi.input"] = io.BytesIO(body)
        environ["CONTENT_LENGTH"] = str(len(body))
        environ.pop("HTTP_TRANSFER_ENCODING", None)
        return body

    def _tag_headers(self, environ, tag: str, cors: bool = True) -> list[tuple[str, str]]:
        out = [("ETag", tag), ("Cache-Control", self.cache.cache_control)]
        if cors:  # answers built here skip flask-cors
            origin = environ.get("HTTP_ORIGIN")
            if origin and (self._origins == "*" or origin in self._origins):
                out += [("Access-Control-Allow-Origin", origin), ("Vary", "Origin")]  # as flask-cors answers
            elif self._origins == "*":
                out.append(("Access-Control-Allow-Origin", "*"))
        return out

    @staticmethod
    def _slow_reader_guard(environ) -> None:
        sock = environ.get("gunicorn.socket")
        if sock is not None:
            try:
                sock.settimeout(SEND_TIMEOUT_S)
            except OSError:
                pass


def _header(headers, name: str) -> str | None:
    name = name.lower()
    for k, v in headers:
        if k.lower() == name:
            return v
    return None


class _BodyTimeout(Exception):
    pass


def _timeout(seconds: float):
    """A ``gevent.Timeout`` raising ``_BodyTimeout`` when serving under gevent, else no limit."""
    try:
        from gevent import Timeout, monkey
    except ImportError:
        return contextlib.nullcontext()
    if not monkey.is_module_patched("socket"):
        return contextlib.nullcontext()
    return Timeout(seconds, _BodyTimeout)
