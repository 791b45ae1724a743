"""Fast JSON for Flask via orjson, numpy arrays included, for responses and request bodies.

orjson writes numpy arrays natively (no per-number Python call) and refuses NaN/Infinity
when parsing. A non-finite float in a response would be written as ``null``; the engine
reports divergence as a status instead, so well-formed responses never contain one.

Request bodies reach the schemas through webargs, which parses with the standard library's
``json`` unless told otherwise: that accepts ``NaN``/``Infinity``/``1e999`` and overflows the C
stack on deeply nested input (``[[[[...``: a RecursionError, i.e. a 500). ``OrjsonParser``
makes every ``@blp.arguments`` body go through orjson instead (depth limit 1024, finite
numbers only): such bodies get a 400 that says where the document broke (line and column, as
``json`` counts them). Before marshmallow sees a parsed body, ``service.precheck`` bounds its size
against the schema (``pre_load``), so refusing any body costs time bounded by the schema's limits.
"""

from __future__ import annotations

from typing import Any

import flask_smorest
import numpy as np
import orjson
from flask import current_app
from flask_smorest import abort
from flask.json.provider import JSONProvider
from webargs import core as webargs_core
from webargs.flaskparser import FlaskParser, is_json_request

from . import precheck

_OPTIONS = orjson.OPT_SERIALIZE_NUMPY | orjson.OPT_NON_STR_KEYS


def _default(obj: Any):
    if isinstance(obj, np.generic):
        return obj.item()
    if isinstance(obj, np.ndarray):  # non-contiguous or unusual dtype
        return np.ascontiguousarray(obj, dtype=np.float64 if obj.dtype.kind == "f" else None).tolist()
    if isinstance(obj, (set, frozenset, tuple)):
        return list(obj)
    raise TypeError(f"not JSON serializable: {type(obj).__name__}")


def dumps_bytes(obj: Any) -> bytes:
    return orjson.dumps(obj, option=_OPTIONS, default=_default)


class OrjsonProvider(JSONProvider):
    mimetype = "application/json"

    def dumps(self, obj: Any, **kwargs: Any) -> str:
        return dumps_bytes(obj).decode()

    def loads(self, s: str | bytes, **kwargs: Any) -> Any:
        return orjson.loads(s)

    def response(self, *args: Any, **kwargs: Any):
        obj = self._prepare_response_obj(args, kwargs)
        return self._app.response_class(dumps_bytes(obj), mimetype=self.mimetype)


class OrjsonParser(FlaskParser):
    """webargs' Flask parser with request bodies decoded by orjson (see the module docstring)."""

    def _raw_load_json(self, req):
        if not is_json_request(req):
            return webargs_core.missing
        data = req.get_data(cache=True)
        if not data.strip():
            return webargs_core.missing  # no body: required fields are reported missing (422)
        precheck.check_raw(data, _budget())
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as exc:
            # orjson counts from 1 like json; its message is short and never echoes the body
            where = f"line {exc.lineno}, column {exc.colno}"
            abort(400, messages={"json": ["Invalid JSON body."]},
                  message=f"request body is not valid JSON: {exc.msg} at {where} (char {exc.pos}); "
                          "NaN and Infinity are not JSON")

    def pre_load(self, location_data, *, schema, req, location):
        if location == "json":
            precheck.check(schema, location_data, _budget())
        return location_data


def _budget() -> precheck.Budget:
    return current_app.config.get("PRECHECK_BUDGET") or precheck.Budget()


# @blp.arguments binds the parser when a blueprint module is imported; service.app imports
# this module before any blueprint, so every blueprint parses with orjson.
flask_smorest.Blueprint.ARGUMENTS_PARSER = OrjsonParser()
