"""One error shape for every failure: ``{"code", "status", "message", "errors"}``.

* 422: request validation (per field, under ``errors.json.<field>``) and engine refusals
  (``EngineInputError`` names its field the same way);
* 400: a body that is not JSON; 404, 405; 413 for a body over ``MAX_CONTENT_LENGTH``;
* 500: never a traceback or an HTML page; the exception is logged server-side.

Error bodies are bounded whatever the request: at most ``MAX_ERRORS`` field errors (the rest are
counted in the message), field names cut to ``KEY_CHARS`` characters and
messages to ``MESSAGE_CHARS``, so a request full of mistakes cannot make a response larger than a
few kilobytes, and a huge unknown key is never echoed back. Errors gunicorn answers before the app
(414, 431, 400 on a malformed request, 500 on a crashed worker) have the same shape
(``service.serving``), as have nginx's own (``deploy/nginx.conf``).
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.errors import DeadlineExceeded, EngineInputError

from .admission import Overloaded, current_ticket

log = logging.getLogger("descentlab")

MAX_ERRORS = 20
KEY_CHARS = 40
MESSAGE_CHARS = 300


def cap_errors(messages) -> tuple[object, int]:
    """The first ``MAX_ERRORS`` leaves of a marshmallow error tree (keys and messages cut), and how many were left out."""
    kept = 0
    omitted = 0

    def walk(node):
        nonlocal kept, omitted
        if isinstance(node, dict):
            out = {}
            for k, v in node.items():
                sub = walk(v)
                if sub is not None:
                    out[_cut(str(k), KEY_CHARS)] = sub
            return out or None
        leaves = node if isinstance(node, list) else [node]
        if all(isinstance(x, (dict, list)) for x in leaves) and leaves:  # a list of sub-trees
            subs = [walk(x) for x in leaves]
            subs = [x for x in subs if x is not None]
            return subs or None
        take = leaves[: max(0, MAX_ERRORS - kept)]
        omitted += len(leaves) - len(take)
        kept += len(take)
        return [_cut(str(x), MESSAGE_CHARS) for x in take] or None

    return walk(messages) or {}, omitted


def _cut(text: str, limit: int) -> str:
    return text if len(text) <= limit else f"{text[:limit]}…({len(text)} chars)"


def _body(code: int, message: str, errors: dict | None = None):
    body = {"code": code, "status": HTTPStatus(code).phrase, "message": _cut(message, 4 * MESSAGE_CHARS)}
    if errors:
        body["errors"] = errors
    resp = jsonify(body)
    resp.status_code = code
    return resp


def _flatten(prefix: str, errors) -> list[str]:
    if isinstance(errors, dict):
        out = []
        for k, v in errors.items():
            out += _flatten(f"{prefix}.{k}" if prefix else str(k), v)
        return out
    return [prefix]


def handle_http_exception(err: HTTPException):
    code = err.code or 500
    data = getattr(err, "data", None) or {}
    messages = data.get("messages")
    if messages:  # webargs validation failure, keyed by location then field
        capped, omitted = cap_errors(messages)
        fields = sorted(set(_flatten("", capped)))
        message = data.get("message") or "invalid request fields: " + ", ".join(fields)
        if omitted:
            message += f" (and {omitted} more errors, not listed)"
        resp = _body(code, message, capped)
    else:
        message = data.get("message") or err.description or HTTPStatus(code).phrase
        if code == 413:
            from flask import current_app

            message = f"request body too large; limit max_body_bytes={current_app.config['MAX_CONTENT_LENGTH']}"
        resp = _body(code, message)
    for k, v in (data.get("headers") or {}).items():
        resp.headers[k] = v
    if code == 405 and getattr(err, "valid_methods", None):
        resp.headers["Allow"] = ", ".join(err.valid_methods)
    return resp


def handle_engine_input_error(err: EngineInputError):
    return _body(422, str(err), {"json": {_cut(err.field, 4 * KEY_CHARS): [_cut(err.message, MESSAGE_CHARS)]}})


def handle_deadline(err: DeadlineExceeded):
    from flask import current_app

    why = current_app.extensions["descentlab_admission"].stopped(current_ticket())
    return handle_overloaded(why)


def handle_overloaded(err: Overloaded):
    resp = _body(503, err.message)
    resp.headers["Retry-After"] = str(err.retry_after)
    resp.headers["Cache-Control"] = "no-store"
    return resp


def handle_unexpected(err: Exception):
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    log.exception("unhandled error")
    return _body(500, "internal error; it has been logged")


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(EngineInputError, handle_engine_input_error)
    app.register_error_handler(DeadlineExceeded, handle_deadline)
    app.register_error_handler(Overloaded, handle_overloaded)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
