"""Streams sent in batches (service.sse.BatchPuller, service.front under gevent): every event exactly once, in
order, the same bytes as one by one; a client that goes away stops the training at what it was sent."""

from __future__ import annotations

import json

import pytest

from service.sse import BatchPuller

URL = "/api/v1/training/stream"
RUN = {"dataset": {"name": "sine", "n_train": 24, "n_val": 8, "seed": 0},
       "model": {"layers": [1, 8, 1], "activation": "tanh"}, "optimizer": {"name": "sgd", "lr": 0.05},
       "epochs": 300, "batch_size": 8}


def _drain(pull) -> list[bytes]:
    out = []
    while (b := pull()) is not None:
        out.append(b)
    return out


def _sse(data: bytes) -> list[tuple[str, str]]:
    events = []
    for block in data.decode().split("\n\n"):
        if block:
            kind, payload = block.split("\n", 1)
            events.append((kind.removeprefix("event: "), payload.removeprefix("data: ")))
    return events


def test_batches_hold_every_chunk_once_in_order_and_close_nothing():
    chunks = [f"chunk {i}\n".encode() for i in range(1000)]
    closed = []

    def gen():
        try:
            yield from chunks
        finally:
            closed.append(True)

    g = gen()
    pull = BatchPuller(g, budget_s=1e9, max_bytes=100)  # only the byte cap ends a batch
    first = [pull() for _ in range(3)]
    assert not closed  # leaving a batch does not close the stream: its owner does (service.front)
    batches = first + _drain(pull)
    assert b"".join(batches) == b"".join(chunks)
    assert all(len(b) >= 100 for b in batches[:-1]) and all(len(b) < 100 + 10 for b in batches)
    assert len(batches) < len(chunks) / 9 and closed


def test_a_zero_budget_pulls_one_chunk_per_batch():
    chunks = [bytes([65 + i % 26]) * (i + 1) for i in range(50)]
    assert _drain(BatchPuller(iter(chunks), budget_s=0.0)) == chunks


def gen_fail():
    raise RuntimeError("at once")
    yield b""  # pragma: no cover  (makes this a generator)


def test_an_error_after_some_chunks_sends_them_first():
    def gen():
        yield b"a"
        yield b"b"
        raise RuntimeError("deadline")

    pull = BatchPuller(gen(), budget_s=1e9)
    assert pull() == b"ab"
    with pytest.raises(RuntimeError, match="deadline"):
        pull()
    with pytest.raises(RuntimeError):  # nothing before the error: raised at once
        BatchPuller(gen_fail())()


@pytest.fixture()
def pooled(app, monkeypatch):
    """The app's front as under gevent workers (``pooled``), its hand-offs run inline."""
    monkeypatch.setattr(app.wsgi_app.admission, "pooled", lambda: True)
    return app


def test_batched_stream_sends_every_epoch_once_in_order_and_equals_run(pooled, client):
    run = client.post("/api/v1/training/run", json=RUN).get_json()
    r = client.post(URL, json=RUN, buffered=False)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    assert "X-Descentlab-Coalesce" not in r.headers  # the front's own signal, never sent
    parts = list(r.response)
    r.close()
    assert len(parts) < RUN["epochs"] / 10  # batches, not an event per write
    events = _sse(b"".join(parts))
    assert [k for k, _ in events] == ["epoch"] * RUN["epochs"] + ["summary"]
    recs = [json.loads(d) for _, d in events[:-1]]
    assert [rec["epoch"] for rec in recs] == list(range(1, RUN["epochs"] + 1))
    assert [rec["train_loss"] for rec in recs] == run["history"]["train_loss"]
    assert json.loads(events[-1][1]) == run


def test_batched_stream_stops_at_what_was_sent_when_the_client_goes_away(pooled, client, monkeypatch):
    from engine import training

    made = []
    real = training.stream
    monkeypatch.setattr(training, "stream", lambda **kw: made.append(real(**kw)) or made[-1])
    r = client.post(URL, json={**RUN, "epochs": 10_000}, buffered=False)
    assert r.status_code == 200, r.get_data(as_text=True)
    it = iter(r.response)
    sent = b"".join(next(it) for _ in range(2))
    r.close()  # the client went away: the server closes the generator
    s = made[0]
    assert s.result is None and s.epochs_computed == sent.count(b"event: epoch") < 10_000
    assert list(s) == [] and s.epochs_computed == sent.count(b"event: epoch")  # nothing more is computed


def test_slow_streams_are_not_batched(pooled, client):
    """Only a view that asks (training/stream) is batched: /lm/stream's evaluations go one by one."""
    body = {"corpus": {"name": "names"}, "model": {"name": "bigram"}, "steps": 20, "batch_size": 4, "eval_every": 5,
            "eval_tokens": 120, "sampling": {"length": 12}}
    r = client.post("/api/v1/lm/stream", json=body, buffered=False)
    assert r.status_code == 200, r.get_data(as_text=True)
    parts = list(r.response)
    r.close()
    assert len(parts) == len(_sse(b"".join(parts))) > 2  # one write per event
