"""Fast JSON for Flask via orjson, numpy arrays included.

orjson writes numpy arrays natively (no per-number Python call) and refuses NaN/Infinity
when parsing. A non-finite float in a response would be written as ``null``; the engine
reports divergence as a status instead, so well-formed responses never contain one.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import orjson
from flask.json.provider import JSONProvider

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
