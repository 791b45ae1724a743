"""Server-sent events for streamed runs: one event per record as it is computed, then ``summary``.

The view validates the request and builds the engine's stream (so bad input is still a 422 before
any byte is sent), then returns ``event_stream(...)``; closing the connection closes the generator,
which closes the stream: no further step is computed."""

from __future__ import annotations

from typing import Callable

from flask import Response

from .jsonio import dumps_bytes


def event_stream(stream, event: str, dump_summary: Callable) -> Response:
    """``event`` events for the records of ``stream``, then ``summary`` = ``dump_summary(stream.result)``."""
    name = event.encode()

    def events():
        try:
            for record in stream:
                yield b"event: " + name + b"\ndata: " + dumps_bytes(record) + b"\n\n"
            yield b"event: summary\ndata: " + dumps_bytes(dump_summary(stream.result)) + b"\n\n"
        finally:
            stream.close()

    return Response(events(), mimetype="text/event-stream",
                    headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})


def event_stream_doc(event: str, description: str, data: str) -> dict:
    """The OpenAPI 200 response of a view returning ``event_stream`` (for ``@blp.doc(**...)``)."""
    return {"responses": {"200": {
        "description": description,
        "content": {"text/event-stream": {"schema": {  # one server-sent event
            "type": "object",
            "required": ["event", "data"],
            "properties": {
                "event": {"type": "string", "enum": [event, "summary"], "description": "the event's kind"},
                "data": {"type": "string", "contentMediaType": "application/json", "description": data},
            },
        }}},
    }}}
