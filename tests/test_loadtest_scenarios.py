"""The load test's table (loadtests/scenarios.py) stays true to the API it loads.

Every row is sent once to the in-process app: its endpoint must exist, answer 200 and pass the
row's own content check, so `make loadtest` never measures error responses. A renamed route
fails here instead of being skipped.
"""

from __future__ import annotations

import random
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
import scenarios  # noqa: E402
from scenarios import CLIENTS, SCENARIOS, keep, verdict  # noqa: E402


@pytest.fixture(scope="module")
def ops(app):
    doc = app.test_client().get("/openapi.json").get_json()
    return {(m.upper(), p) for p, o in doc["paths"].items() for m in o}


@pytest.mark.parametrize("row", SCENARIOS, ids=[f"{s.client}:{s.name}" for s in SCENARIOS])
def test_row_is_answered_and_passes_its_check(row, client, ops):
    assert (row.method, row.path) in ops, f"{row.method} {row.path} is not in /openapi.json"
    body = row.make_body(random.Random(0))
    r = client.open(row.path, method=row.method, json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert row.check(row.decode(r.get_data())) is None


def test_checks_reject_wrong_bodies():
    for row in SCENARIOS:
        wrong = [[], [{"event": "epoch", "data": {}}]] if row.stream else [{}, {"code": 422, "status": "x", "message": "x"}]
        for body in wrong:
            assert row.check(body) is not None, row.name


def test_parse_sse():
    raw = b'event: epoch\ndata: {"epoch": 1}\n\nevent: summary\ndata: {"a": [1, 2]}\n\n'
    assert scenarios.parse_sse(raw) == [{"event": "epoch", "data": {"epoch": 1}}, {"event": "summary", "data": {"a": [1, 2]}}]


def test_table_is_well_formed():
    assert {s.client for s in SCENARIOS} <= set(CLIENTS) == set(scenarios.THINK_S)
    for s in SCENARIOS:
        assert s.method in ("GET", "POST") and s.path.startswith("/") and s.weight >= 1
        assert (s.body is None) == (s.method == "GET")
    # one budget per (method, name): rows sharing a name must agree
    budgets = {}
    for s in SCENARIOS:
        assert budgets.setdefault((s.method, s.name), s.p95_ms) == s.p95_ms, s.name


def test_keep_splits_on_documented_operations():
    have, missing = keep(SCENARIOS, {("GET", "/healthz")})
    assert [s.path for s in have] == ["/healthz"]
    assert len(missing) == len(SCENARIOS) - 1


class _Entry:
    def __init__(self, n, fails, p95):
        self.num_requests, self.num_failures, self._p95 = n, fails, p95

    def get_response_time_percentile(self, q):
        assert q == 0.95
        return self._p95


class _Stats:
    def __init__(self, entries):
        self.entries = entries
        self.total = _Entry(sum(e.num_requests for e in entries.values()), sum(e.num_failures for e in entries.values()), 0)


def test_verdict_flags_failures_and_slow_rows():
    ok = _Stats({("/api/v1/catalog", "GET"): _Entry(100, 0, scenarios.LIGHT_P95_MS)})
    assert verdict(ok) == []
    slow = _Stats({("/api/v1/catalog", "GET"): _Entry(100, 0, scenarios.LIGHT_P95_MS + 1)})
    assert verdict(slow) == [f"GET /api/v1/catalog: p95 {scenarios.LIGHT_P95_MS + 1} ms > budget {scenarios.LIGHT_P95_MS} ms"]
    failed = _Stats({("/healthz", "GET"): _Entry(10, 1, 1)})
    assert verdict(failed) == ["1 of 10 requests failed"]
    assert verdict(_Stats({})) == ["no requests were made"]
