"""One error shape for every failure: ``{"code", "status", "message", "errors"}``.

* 422: request validation (per field, under ``errors.json.<field>``) and engine refusals
  (``EngineInputError`` names its field the same way);
* 400: a body that is not JSON; 404, 405; 413 for a body over ``MAX_CONTENT_LENGTH``;
* 500: never a traceback or an HTML page; the exception is logged server-side.
"""

from __future__ import annotations

import logging
from http import HTTPStatus

from flask import Flask, jsonify
from werkzeug.exceptions import HTTPException, InternalServerError

from engine.errors import EngineInputError

log = logging.getLogger("descentlab")


def _body(code: int, message: str, errors: dict | None = None):
    body = {"code": code, "status": HTTPStatus(code).phrase, "message": message}
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
        fields = [f for f in _flatten("", messages)]
        message = "invalid request fields: " + ", ".join(sorted(set(fields)))
        resp = _body(code, message, messages)
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
    return _body(422, str(err), {"json": {err.field: [err.message]}})


def handle_unexpected(err: Exception):
    if isinstance(err, HTTPException):
        return handle_http_exception(err)
    log.exception("unhandled error")
    return _body(500, "internal error; it has been logged")


def register(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http_exception)
    app.register_error_handler(EngineInputError, handle_engine_input_error)
    app.register_error_handler(InternalServerError, handle_unexpected)
    app.register_error_handler(Exception, handle_unexpected)
