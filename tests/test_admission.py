"""Deadlines (engine.deadlines), admission (service.admission) and the response cache (service.cache),
in process: chunked kernels give the same numbers, a passed deadline stops them, a long request without a
heavy slot gets 503 + Retry-After, and cached answers are the computed ones, byte for byte.
"""

from __future__ import annotations

import ast
import time
from pathlib import Path

import numpy as np
import pytest

import engine
from engine.deadlines import CHUNKED as LISTED, check, deadline, run_chunked
from service import create_app
from service.config import TestConfig


def _app(**over):
    cfg = {k: getattr(TestConfig, k) for k in dir(TestConfig) if k.isupper()}
    cfg.update(over)
    return create_app(cfg)


# -- engine deadlines -------------------------------------------------------------------------------

def test_run_chunked_covers_the_range_once_in_order():
    seen = []
    with deadline(60):
        run_chunked(1000, lambda a, b: seen.append((a, b)), "x")
    assert seen[0] == (0, 1) and seen[-1][1] == 1000
    assert all(b == a2 for (_, b), (a2, _) in zip(seen, seen[1:]))
    seen.clear()
    run_chunked(1000, lambda a, b: seen.append((a, b)), "x")  # no deadline: one call
    assert seen == [(0, 1000)]


def test_a_passed_deadline_stops_and_extend_is_asked_once():
    asked = []
    with deadline(at=time.monotonic() - 1, extend=lambda: asked.append(1) or time.monotonic() + 60):
        check("x")  # extended
        check("x")
    assert asked == [1]
    with deadline(at=time.monotonic() - 1, extend=lambda: None):
        with pytest.raises(engine.DeadlineExceeded):
            check("x")


CHUNKED = [
    ("basins", lambda: engine.basin_map("himmelblau", {"name": "adam", "lr": 0.05}, resolution=(30, 25), steps=200),
     lambda r: (r.label, r.steps, r.final)),
    ("race", lambda: engine.run_race("himmelblau", (0.5, 0.5), 300, [{"name": "sgd", "lr": 0.01}] * 5
                                     + [{"name": "adam", "lr": 0.05}] * 4),
     lambda r: [t.path for t in r.runs]),
    ("training", lambda: engine.train(dataset={"name": "moons", "n_train": 64, "n_val": 32}, model={"layers": [2, 8, 1]},
                                      optimizer={"name": "adam", "lr": 0.01}, epochs=40, batch_size=8,
                                      early_stopping={"patience": 5}),
     lambda r: (r.history.train_loss, r.history.val_loss, r.params, r.stopped_epoch)),
    ("compare", lambda: engine.compare(variants=[{"name": "a"}, {"name": "b", "regularization": {"dropout": 0.2}}],
                                       dataset={"name": "sine", "n_train": 20, "n_val": 10}, model={"layers": [1, 8, 1]},
                                       epochs=30, batch_size=4),
     lambda r: [v.result.history.val_loss for v in r.runs] + [v.result.params for v in r.runs]),
    ("network landscape", lambda: engine.run_network_landscape(layers=[2, 4, 1], resolution=15, train_steps=40),
     lambda r: (r.loss, r.train_loss)),
    ("gradient profile", lambda: engine.run_gradient_profile(depth=4, width=8, training={"steps": 30, "every": 7}),
     lambda r: (r.training.loss, r.training.weight_grad_norm, r.weight_grad_norm)),
]


@pytest.mark.parametrize("name, run, arrays", CHUNKED, ids=[c[0] for c in CHUNKED])
def test_chunked_under_a_deadline_gives_the_same_numbers(name, run, arrays, monkeypatch):
    whole = arrays(run())
    monkeypatch.setattr("engine.deadlines.CHUNK_S", 1e-9)  # the smallest chunks: one unit each
    with deadline(600):
        chunked = arrays(run())
    for a, b in zip(whole if isinstance(whole, (list, tuple)) else [whole],
                    chunked if isinstance(chunked, (list, tuple)) else [chunked]):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.mark.parametrize("name, run, arrays", CHUNKED, ids=[c[0] for c in CHUNKED])
def test_a_passed_deadline_stops_the_long_computations(name, run, arrays):
    with deadline(at=time.monotonic() - 1):
        with pytest.raises(engine.DeadlineExceeded) as stopped:
            run()
    assert stopped.value.what in LISTED  # the catalog's 'deadlines' entry names it


def test_the_catalog_lists_every_chunked_computation():
    """Every ``run_chunked(n, run, what)`` in the engine names a ``what`` from ``engine.deadlines.CHUNKED``
    (the catalog's list of what stops at a deadline), and every listed one is used somewhere."""
    used = set()
    for path in Path(engine.__file__).parent.glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "run_chunked":
                what = node.args[2] if len(node.args) > 2 else next(k.value for k in node.keywords if k.arg == "what")
                assert isinstance(what, ast.Constant), f"{path.name}:{node.lineno}: name the computation literally"
                used.add(what.value)
    assert used - {"warm-up"} == set(LISTED)
    entry, = engine.build_catalog()["deadlines"]
    assert [c["what"] for c in entry["chunked"]] == list(LISTED)


# -- admission --------------------------------------------------------------------------------------

BASINS = {"surface": "rastrigin", "resolution": [120, 120], "steps": 300, "tolerance": 0.0,
          "optimizer": {"name": "adam", "lr": 0.01}}


def test_a_long_request_without_a_heavy_slot_gets_503_then_is_refused_before_work():
    app = _app(HEAVY_SLOTS=1, HEAVY_AFTER_S=0.01)
    adm = app.extensions["descentlab_admission"]
    slot = adm.acquire_heavy(time.monotonic() + 7.2)  # another request holds the only slot
    client = app.test_client()
    r = client.post("/api/v1/descent/basins", json=BASINS)
    assert r.status_code == 503
    assert "heavy-work slot" in r.get_json()["message"]
    assert 7 <= int(r.headers["Retry-After"]) <= 8  # when the holder must be done
    t0 = time.monotonic()
    r = client.post("/api/v1/descent/basins", json=BASINS)  # known heavy now: refused before any work
    assert r.status_code == 503 and "took" in r.get_json()["message"]
    assert time.monotonic() - t0 < 0.5
    assert client.get("/healthz").get_json()["busy"] is True
    adm.release_heavy(slot)
    r = client.post("/api/v1/descent/basins", json=BASINS)
    assert r.status_code == 200
    assert client.get("/healthz").get_json()["busy"] is False


def test_a_request_past_the_deadline_gets_503_with_retry_after():
    app = _app(DEADLINE_S=0.05, HEAVY_AFTER_S=0.01)
    client = app.test_client()
    # the first request of a process sets things up (~0.3 s): alone, it would wait past this deadline before
    # computing and get the other 503 ("waited ... for a compute thread"); this test is about stopping mid-work
    client.post("/api/v1/descent/basins", json={**BASINS, "resolution": [2, 2], "steps": 1})
    r = client.post("/api/v1/descent/basins", json=BASINS)
    assert r.status_code == 503
    assert "deadline" in r.get_json()["message"] and r.headers["Retry-After"] == "1"
    assert r.headers["Cache-Control"] == "no-store"


def test_light_requests_need_no_slot():
    app = _app(HEAVY_SLOTS=1, HEAVY_AFTER_S=0.25)
    adm = app.extensions["descentlab_admission"]
    adm.acquire_heavy(time.monotonic() + 30)
    r = app.test_client().post("/api/v1/losses/evaluate", json={"loss": "mse", "predictions": [1.0], "targets": [0.0]})
    assert r.status_code == 200


def test_a_slot_whose_holder_died_frees_itself():
    app = _app(HEAVY_SLOTS=1)
    adm = app.extensions["descentlab_admission"]
    assert adm.acquire_heavy(time.monotonic() - 5) == 0  # a holder whose deadline passed long ago
    assert adm.acquire_heavy(time.monotonic() + 5) == 0


# -- response cache ---------------------------------------------------------------------------------

EVAL = {"loss": "huber", "predictions": [0.5, 2.0], "targets": [0.0, 0.0], "delta": 1.0}


def test_cached_answers_are_the_computed_ones_and_revalidate():
    client = _app(CACHE=True).test_client()
    r1 = client.post("/api/v1/losses/evaluate", json=EVAL)
    assert r1.headers["X-Cache"] == "MISS" and r1.headers["ETag"].startswith('"')
    assert r1.headers["Cache-Control"].startswith("public, max-age=")
    reordered = '{"delta": 1.0, "targets": [0.0, 0.0],  "predictions": [0.5, 2.0], "loss": "huber"}'
    r2 = client.post("/api/v1/losses/evaluate", data=reordered, content_type="application/json")
    assert r2.headers["X-Cache"] == "HIT" and r2.headers["ETag"] == r1.headers["ETag"]
    assert r2.data == r1.data
    r3 = client.post("/api/v1/losses/evaluate", json=EVAL, headers={"If-None-Match": r1.headers["ETag"]})
    assert r3.status_code == 304 and r3.data == b"" and r3.headers["ETag"] == r1.headers["ETag"]
    r4 = client.post("/api/v1/losses/evaluate", json={**EVAL, "delta": 2.0})
    assert r4.headers["ETag"] != r1.headers["ETag"]


def test_every_scenario_answer_is_the_same_from_the_cache():
    import random
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
    from scenarios import SCENARIOS

    client = _app(CACHE=True).test_client()
    for row in SCENARIOS:
        body = row.make_body(random.Random(1))
        first = client.open(row.path, method=row.method, json=body)
        second = client.open(row.path, method=row.method, json=body)
        assert first.status_code == second.status_code == 200, row.name
        if row.path in ("/api/v1/networks/backprop", "/api/v1/training/stream") or row.path == "/healthz":
            assert "ETag" not in second.headers, row.name  # opted out: measured times, a stream, health
            continue
        assert second.headers["X-Cache"] == "HIT" and second.data == first.data, row.name


def test_errors_and_opted_out_routes_are_not_stored():
    client = _app(CACHE=True).test_client()
    bad = {"loss": "mse", "predictions": [1.0], "targets": [1.0, 2.0]}
    for _ in range(2):
        r = client.post("/api/v1/losses/evaluate", json=bad)
        assert r.status_code == 422 and "ETag" not in r.headers and r.headers["Cache-Control"] == "no-store"
    body = {"layers": [2, 1], "inputs": [[0.0, 1.0]], "targets": [[1.0]]}
    r = client.post("/api/v1/networks/backprop", json=body)
    assert r.status_code == 200 and "ETag" not in r.headers and r.headers["Cache-Control"] == "no-store"


def test_the_tag_changes_with_the_service_version(monkeypatch):
    a = _app(CACHE=True)
    tag_a = a.test_client().post("/api/v1/losses/evaluate", json=EVAL).headers["ETag"]
    monkeypatch.setattr("service.app.service_version", lambda: "9.9.9+other")
    b = _app(CACHE=True)
    assert b.test_client().post("/api/v1/losses/evaluate", json=EVAL).headers["ETag"] != tag_a


def test_the_lru_is_bounded():
    app = _app(CACHE=True, CACHE_MAX_BYTES=2000)
    client = app.test_client()
    for k in range(50):
        client.post("/api/v1/losses/evaluate", json={"loss": "mse", "predictions": [k * 0.5], "targets": [0.0]})
    stats = app.extensions["descentlab_cache"].stats()
    assert 0 < stats["bytes"] <= 2000 and stats["entries"] < 50


def test_a_get_route_is_cached_only_when_it_says_so():
    # a GET reads state (a job's status): answered anew each time unless its view is @cacheable
    app = _app(CACHE=True)
    calls = []

    @app.route("/api/v1/test-state", methods=["GET"])
    def state():
        calls.append(1)
        return {"calls": len(calls)}

    client = app.test_client()
    first, second = client.get("/api/v1/test-state"), client.get("/api/v1/test-state")
    assert (first.get_json()["calls"], second.get_json()["calls"]) == (1, 2)
    assert "ETag" not in second.headers and second.headers["Cache-Control"] == "no-store"
    catalog = [client.get("/api/v1/catalog") for _ in range(2)]
    assert catalog[1].headers["X-Cache"] == "HIT" and catalog[1].data == catalog[0].data
