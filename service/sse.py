"""Server-sent events for streamed runs: one event per record as it is computed, then ``summary``.

The view validates the request and builds the engine's stream (so bad input is still a 422 before
any byte is sent), then returns ``event_stream(...)``; closing the connection closes the generator,
which closes the stream: no further step is computed.

Every record is its own event, whatever the transport does. A stream whose records are computed back to
back in well under a millisecond each (training epochs: the edge-of-stability preset sends 10,000 in
about half a second) says so with ``coalesce=True``: under gevent workers, where every pull from the
stream is a hand-off to a compute thread, ``service.front`` then pulls as many records as arrive within
``STREAM_BATCH_S`` (or ``STREAM_BATCH_BYTES``) per hand-off and sends them in one write. The events and
their order are unchanged; a client that goes away costs at most one batch of extra work. Streams whose
records come slowly or after waits (language-model evaluations, sweep progress) do not ask for it: a
batch would hold a ready record until the next one came."""

from __future__ import annotations

import time
from typing import Callable

from flask import Response

from .jsonio import dumps_bytes

COALESCE_HEADER = "X-Descentlab-Coalesce"  # read and removed by service.front: never reaches the client
STREAM_BATCH_S = 0.02  # a batch of records: at most this long in the making (plus one record's time) ...
STREAM_BATCH_BYTES = 64 * 1024  # ... and about this many bytes


def event_stream(stream, event: str, dump_summary: Callable, coalesce: bool = False) -> Response:
    """``event`` events for the records of ``stream``, then ``summary`` = ``dump_summary(stream.result)``;
    ``coalesce``: the records come back to back, fast (see the module's docstring)."""
    name = event.encode()

    def events():
        try:
            for record in stream:
                yield b"event: " + name + b"\ndata: " + dumps_bytes(record) + b"\n\n"
            yield b"event: summary\ndata: " + dumps_bytes(dump_summary(stream.result)) + b"\n\n"
        finally:
            stream.close()

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    if coalesce:
        headers[COALESCE_HEADER] = "1"
    return Response(events(), mimetype="text/event-stream", headers=headers)


class BatchPuller:
    """Pulls from a stream's chunks in batches: each call returns the chunks that arrived within
    ``budget_s`` (at least one) or ``max_bytes``, joined; None once the stream has ended.

    Runs in a compute thread (``service.front``). A chunk is never dropped: when the stream raises after
    some chunks of a batch, those are returned and the error is raised by the next call."""

    def __init__(self, it, budget_s: float = STREAM_BATCH_S, max_bytes: int = STREAM_BATCH_BYTES):
        self.it = iter(it)
        self.budget_s = float(budget_s)
        self.max_bytes = int(max_bytes)
        self._error: BaseException | None = None

    def __call__(self) -> bytes | None:
        if self._error is not None:
            err, self._error = self._error, None
            raise err
        parts: list[bytes] = []
        size = 0
        t0 = time.monotonic()
        try:
            for chunk in self.it:  # a for loop left by break does not close the iterator: the next call goes on
                parts.append(chunk)
                size += len(chunk)
                if size >= self.max_bytes or time.monotonic() - t0 >= self.budget_s:
                    break
        except Exception as err:  # noqa: BLE001 (re-raised by the next call, after what came before it is sent)
            if not parts:
                raise
            self._error = err
        return b"".join(parts) if parts else None


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
