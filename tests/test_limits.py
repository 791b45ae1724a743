"""Hard limits: every request is bounded, and every bound is enforced where it is documented.

1. Each ``engine.limits.LIMITS`` entry (table: ``tests/limit_cases.py``): a request exactly at
   the limit passes (200); one over gets a 422 whose message names the limit and whose
   ``errors`` name the field. Every limit must have a row.
2. Every bound the OpenAPI document states on a request field (``minimum``/``maximum``,
   ``minItems``/``maxItems``, ``enum``), for every documented operation (base bodies from
   the load-test table, ``loadtests/scenarios.py``): one step past the bound gets a 422 naming
   the field, and the bound itself is accepted (200, or a 422 from a work budget that spans
   several fields).
3. The body: ``Config.MAX_CONTENT_LENGTH`` (a 413 naming ``max_body_bytes``) and bodies that
   are not finite JSON (deep nesting, NaN, 1e999, bad UTF-8: 400, never a 500).
"""

from __future__ import annotations

import copy
import json
import math
import random
import sys
from pathlib import Path

import pytest

from engine.limits import LIMITS
from service import create_app

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
from limit_cases import CASES, UNREACHABLE  # noqa: E402
from scenarios import SCENARIOS  # noqa: E402


@pytest.fixture(scope="module")
def doc(app):
    return app.test_client().get("/openapi.json").get_json()


def _ops(doc) -> set[tuple[str, str]]:
    return {(m.upper(), p) for p, o in doc["paths"].items() for m in o}


def flat_errors(body: dict) -> set[str]:
    """Dotted paths of every field named under ``errors.json`` (nested or already dotted)."""
    out = set()

    def walk(prefix, e):
        if isinstance(e, dict):
            for k, v in e.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out.add(prefix)

    walk("", (body.get("errors") or {}).get("json", {}))
    return out


def names(errors: set[str], field: str) -> bool:
    return any(e == field or e.startswith(field + ".") for e in errors)


# --- 1. every LIMITS entry ---------------------------------------------------------------
def test_every_limit_has_a_row():
    covered = {c.limit for c in CASES} | set(UNREACHABLE)
    missing = sorted(set(LIMITS) - covered)
    assert not missing, f"add a LimitCase row to tests/limit_cases.py for: {missing}"
    assert not (covered - set(LIMITS)), f"rows for limits that no longer exist: {sorted(covered - set(LIMITS))}"


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_at_the_limit_passes_one_over_is_refused(case, client, doc, monkeypatch):
    assert (case.method, case.path) in _ops(doc), f"{case.method} {case.path} is not in /openapi.json"
    if case.scale is not None:
        monkeypatch.setitem(LIMITS, case.limit, case.scale)
    n = LIMITS[case.limit]

    r = client.open(case.path, method=case.method, json=case.body(n))
    assert r.status_code == 200, f"at the limit ({case.limit}={n}): {r.status_code} {r.get_data(as_text=True)[:300]}"

    r = client.open(case.path, method=case.method, json=case.body(n + 1))
    body = r.get_json()
    assert r.status_code == 422, f"just over ({case.limit}={n}): {r.status_code} {r.get_data(as_text=True)[:300]}"
    assert set(body) >= {"code", "status", "message", "errors"} and body["code"] == 422
    assert case.limit in json.dumps(body), f"the 422 does not name {case.limit}: {body}"
    assert names(flat_errors(body), case.field), f"the 422 does not name field {case.field!r}: {body['errors']}"


# --- 2. every bound stated in the OpenAPI document --------------------------------------
def _resolve(doc, schema: dict) -> dict:
    while "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        schema = doc["components"]["schemas"][name]
    return schema


def _request_schema(doc, path, method) -> dict | None:
    body = doc["paths"][path][method.lower()].get("requestBody")
    if not body:
        return None
    return _resolve(doc, body["content"]["application/json"]["schema"])


def _sample(doc, schema: dict, base=None):
    """A valid-looking element for an array item (from the base body when it has one)."""
    if isinstance(base, list) and base:
        return base[0]
    s = _resolve(doc, schema or {})
    if "enum" in s:
        return s["enum"][0]
    t = s.get("type")
    if t == "integer":
        return max(int(s.get("minimum", 1)), 1)
    if t == "number":
        lo, hi = s.get("minimum"), s.get("maximum")
        return (lo + hi) / 2 if lo is not None and hi is not None else (lo if lo is not None else 0.5)
    if t == "string":
        return "x"
    if t == "array":
        return [_sample(doc, s.get("items"))] * max(1, s.get("minItems", 1))
    return 0.5


def bound_cases(doc, schema: dict, base: dict, prefix: str = "", depth: int = 0):
    """(field path, value, kind) for each stated bound: kind "over" must be refused, "at" accepted."""
    for name, prop in (schema.get("properties") or {}).items():
        if prop.get("readOnly"):
            continue
        field = f"{prefix}{name}"
        p = _resolve(doc, prop)
        t = p.get("type")
        if t in ("integer", "number"):
            step = (lambda v, d: v + d) if t == "integer" else (lambda v, d: math.nextafter(v, d * math.inf))
            if "maximum" in p:
                hi = p["maximum"]
                if p.get("exclusiveMaximum") is True:
                    yield field, hi, "over"
                else:
                    yield field, step(hi, 1), "over"
                    yield field, hi, "at"
            if "minimum" in p:
                lo = p["minimum"]
                if p.get("exclusiveMinimum") is True:
                    yield field, lo, "over"
                else:
                    yield field, step(lo, -1), "over"
                    yield field, lo, "at"
        elif t == "array":
            elem = _sample(doc, p.get("items"), (base or {}).get(name))
            items = _resolve(doc, p.get("items") or {})
            if items.get("type") in ("integer", "number"):  # bounds on each element: test the first
                rest = list((base or {}).get(name) or [elem] * max(1, p.get("minItems", 1)))[1:]
                one = (lambda v, d: v + d) if items["type"] == "integer" else (lambda v, d: math.nextafter(v, d * math.inf))
                if "maximum" in items and not items.get("exclusiveMaximum"):
                    yield field, [one(items["maximum"], 1)] + rest, "over"
                if "minimum" in items and not items.get("exclusiveMinimum"):
                    yield field, [one(items["minimum"], -1)] + rest, "over"
            if "maxItems" in p:
                yield field, [elem] * (p["maxItems"] + 1), "over"
            if p.get("minItems", 0) > 0:
                yield field, [elem] * (p["minItems"] - 1), "over"
        elif t == "string" and "enum" in p:
            yield field, "definitely-not-a-choice", "over"
        elif (t == "object" or "properties" in p) and depth < 2:
            sub = (base or {}).get(name)
            if isinstance(sub, dict):
                yield from bound_cases(doc, p, sub, f"{field}.", depth + 1)


def _set(body: dict, field: str, value) -> dict:
    out = copy.deepcopy(body)
    d = out
    *parents, last = field.split(".")
    for k in parents:
        d = d[k]
    d[last] = value
    return out


def _base_bodies() -> dict[tuple[str, str], dict]:
    bases = {}
    for s in SCENARIOS:
        if s.method == "POST":
            bases.setdefault((s.method, s.path), s.make_body(random.Random(0)))
    return bases


# Asynchronous jobs answer 202 and need a Dask cluster, so the load test does not send them; where
# their bounds are checked instead (a 422 needs no cluster).
ASYNC_JOBS: dict[tuple[str, str], str] = {("POST", "/api/v1/sweeps"): "tests/test_sweeps_service.py"}


def test_every_post_operation_has_a_base_body(doc):
    """The bound checks below start from the load test's request for each operation."""
    posts = {(m, p) for m, p in _ops(doc) if m == "POST"}
    missing = sorted(posts - set(_base_bodies()) - set(ASYNC_JOBS))
    assert not missing, f"add a Scenario row (loadtests/scenarios.py) for: {missing}"


# Bounds the document states as the union over variants (the engine applies the chosen
# variant's tighter range), so the base body's variant may refuse the stated bound itself.
UNION_BOUNDS: dict[tuple[str, str], str] = {
    ("/api/v1/training/dataset", "noise"): "0..2 over all datasets; moons, circles, spirals and xor take noise <= 1",
}


def test_stated_bounds_are_enforced(client, doc):
    bases = _base_bodies()
    checked, problems = 0, []
    for (method, path), base in sorted(bases.items()):
        if (method, path) not in _ops(doc):
            continue
        schema = _request_schema(doc, path, method)
        if schema is None:
            continue
        for field, value, kind in bound_cases(doc, schema, base):
            r = client.open(path, method=method, json=_set(base, field, value))
            checked += 1
            shown = value if not isinstance(value, list) else f"[{len(value)} items]"
            if kind == "over":
                if r.status_code != 422 or not names(flat_errors(r.get_json()), field):
                    problems.append(f"{path} {field}={shown}: want 422 naming it, got {r.status_code} {r.get_data(as_text=True)[:160]}")
            elif r.status_code != 200 and (path, field) not in UNION_BOUNDS:
                text = r.get_data(as_text=True)
                if not (r.status_code == 422 and any(k in text for k in LIMITS if "work" in k)):
                    problems.append(f"{path} {field}={shown} (the stated bound): got {r.status_code} {text[:160]}")
    assert checked > 0
    assert not problems, "\n".join(problems)


# --- 3. the body itself -------------------------------------------------------------------
def _first_post(doc):
    bases = _base_bodies()
    for key in sorted(bases):
        if key in _ops(doc):
            return key[1], bases[key]
    pytest.fail("no POST operation of the limit table is in /openapi.json")


def test_body_size_limit(doc):
    path, base = _first_post(doc)
    limit = 4096
    app = create_app({"TESTING": True, "WARMUP": False, "MAX_CONTENT_LENGTH": limit})
    c = app.test_client()
    raw = json.dumps(base).encode()
    assert len(raw) < limit
    at = raw + b" " * (limit - len(raw))  # trailing whitespace: still the same JSON document
    r = c.post(path, data=at, content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    r = c.post(path, data=at + b" ", content_type="application/json")
    assert r.status_code == 413
    body = r.get_json()
    assert body["code"] == 413 and f"max_body_bytes={limit}" in body["message"]


@pytest.mark.parametrize(
    "raw",
    [b"[" * 100_000, b'{"a": NaN}', b'{"a": Infinity}', b'{"a": 1e999}', b"\xff\xfe{}", b"{'a': 1}", b'{"a": 1'],
    ids=["deep-nesting", "nan", "infinity", "overflow", "bad-utf8", "single-quotes", "truncated"],
)
def test_bodies_that_are_not_finite_json_get_400(raw, client, doc):
    path, _ = _first_post(doc)
    r = client.post(path, data=raw, content_type="application/json")
    assert r.status_code == 400, r.get_data(as_text=True)[:300]
    assert r.get_json()["errors"] == {"json": ["Invalid JSON body."]}
