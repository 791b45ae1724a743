"""Formula surfaces over HTTP: ``"surface": {"expression", "domain", "params"}`` on every landscape and descent
endpoint, refusals named ``surface.expression`` with the column, nulls for undefined grid cells, the catalog's
grammar, the OpenAPI ``oneOf``, and hypothesis fuzzing: arbitrary text and JSON only ever get a 200 or a 422."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine.expression import FUNCTIONS

ROSEN = {"expression": "(a - x)**2 + b*(y - x**2)**2", "params": {"a": 1, "b": 100},
         "domain": {"x": [-2, 2], "y": [-1, 3]}}
URL = "/api/v1"


def _json_errors(r) -> dict:
    return r.get_json()["errors"]["json"]


def _finite_json(data: bytes) -> bool:
    """Whether the body parses as strict JSON: no NaN or Infinity tokens (text inside strings is fine)."""
    def refuse(token):
        raise ValueError(token)
    try:
        json.loads(data, parse_constant=refuse)
    except ValueError:
        return False
    return True


ENDPOINTS = [
    ("landscapes/grid", {"resolution": [20, 10], "gradient": True}),
    ("landscapes/critical-points", {"seeds": 5}),
    ("landscapes/slice", {"point": [-1, 1], "direction": [1, 0], "points": 11}),
    ("descent/trajectory", {"start": [-1.5, 2], "steps": 300, "optimizer": {"name": "adam", "lr": 0.01},
                            "schedule": {"name": "cosine"}, "noise": {"scale": 0.5, "seed": 1},
                            "clip": {"max_norm": 10}}),
    ("descent/race", {"start": [-1.5, 2], "steps": 200, "optimizers": [{"name": "sgd", "lr": 1e-3},
                                                                       {"name": "adam", "lr": 0.05}]}),
    ("descent/lr-sweep", {"optimizer": {"name": "sgd"}, "lrs": [1e-4, 1e-3, 5e-3], "steps": 100}),
    ("descent/lr-range-test", {"optimizer": {"name": "adam"}, "steps": 50}),
    ("descent/basins", {"optimizer": {"name": "adam", "lr": 0.05}, "resolution": [6, 5], "steps": 200}),
]


@pytest.mark.parametrize("path, body", ENDPOINTS, ids=[p for p, _ in ENDPOINTS])
def test_every_surface_endpoint_takes_a_formula_and_answers_as_for_the_builtin(client, path, body):
    named = client.post(f"{URL}/{path}", json={"surface": "rosenbrock", **body})
    typed = client.post(f"{URL}/{path}", json={"surface": ROSEN, **body})
    assert named.status_code == typed.status_code == 200, typed.get_data(as_text=True)[:300]
    assert _finite_json(typed.data)
    a, b = named.get_json(), typed.get_json()
    assert set(b) == set(a)
    if "surface" in b:
        assert b["surface"] == ROSEN["expression"]
    if path == "landscapes/grid":
        np.testing.assert_allclose(b["z"], a["z"], rtol=1e-12)
    if path == "descent/trajectory":
        np.testing.assert_allclose(b["path"], a["path"], rtol=1e-12, atol=1e-12)
        assert b["status"] == a["status"]


def test_parse_error_is_a_422_naming_surface_expression_with_column_and_expectation(client):
    r = client.post(f"{URL}/descent/trajectory", json={"surface": {"expression": "(1 - x)**2 + 100*(y - x**2"},
                                                        "start": [0, 0]})
    assert r.status_code == 422
    (msg,) = _json_errors(r)["surface.expression"]
    assert msg == "column 27: expected ')' to close the '(' at column 18, found the end of the expression"
    r = client.post(f"{URL}/landscapes/grid", json={"surface": {"expression": "2x + y"}})
    assert _json_errors(r)["surface.expression"] == [
        "column 2: expected an operator after '2', found 'x' (products need *, e.g. 2*x)"]
    r = client.post(f"{URL}/landscapes/grid", json={"surface": {"expression": "__import__('os').system('ls')"}})
    assert r.status_code == 422 and "unknown function '__import__'" in _json_errors(r)["surface.expression"][0]


@pytest.mark.parametrize("surface, params, field", [
    ({"expression": "a*x"}, None, "surface.expression"),  # a is not given
    ({"expression": "a*x", "params": {"a": "one"}}, None, "surface.params.a"),
    ({"expression": "a*x", "params": {"x": 1}}, None, "surface.params.x"),
    ({"expression": "a*x", "params": {"a": 1}}, {"a": 2}, "params"),
    ({"expression": "x", "domain": {"x": [1, 0], "y": [0, 1]}}, None, "surface"),  # schema: x
    ({"expression": "x", "domain": {"x": [0, 1]}}, None, "surface"),
    ({"expression": "x", "colour": "red"}, None, "surface"),
    ({"expression": ""}, None, "surface"),
    ({}, None, "surface"),
    (["x"], None, "surface"),
    (3, None, "surface"),
    ("rosenbrok", None, "surface"),
])
def test_refusals_name_the_field(client, surface, params, field):
    body = {"surface": surface, "resolution": [3, 3], **({"params": params} if params is not None else {})}
    r = client.post(f"{URL}/landscapes/grid", json=body)
    assert r.status_code == 422
    fields = _json_errors(r)
    assert any(k == field or k.startswith(field) for k in fields), fields


def test_a_formulas_parameters_may_come_at_the_top_level(client):
    r = client.post(f"{URL}/landscapes/grid", json={"surface": {"expression": "a*x"}, "params": {"a": 2},
                                                    "resolution": [2, 2]})
    assert r.status_code == 200 and r.get_json()["z"] == [[-10.0, 10.0], [-10.0, 10.0]]
    assert r.get_json()["params"] == {"a": 2.0}


def test_undefined_grid_cells_are_null_and_counted(client):
    r = client.post(f"{URL}/landscapes/grid", json={"surface": {"expression": "log(x) + sqrt(y)",
                                                                "domain": {"x": [-1, 1], "y": [-1, 1]}},
                                                    "resolution": [3, 3], "gradient": True})
    assert r.status_code == 200 and _finite_json(r.data)
    b = r.get_json()
    assert b["z"][2] == [None, None, 1.0] and b["z"][0] == [None, None, None]
    nulls = sum(v is None for row in b["z"] + b["grad_norm"] for v in row)
    assert b["n_overflow"] == nulls and (b["z_min"], b["z_max"]) == (0.0, 1.0)


def test_divergence_on_a_formula_is_a_status(client):
    r = client.post(f"{URL}/descent/trajectory", json={"surface": {"expression": "exp(x**2) + y"}, "start": [2, 0],
                                                       "steps": 100, "optimizer": {"name": "sgd", "lr": 1}})
    assert r.status_code == 200 and _finite_json(r.data)
    assert r.get_json()["status"] == "diverged"


def test_catalog_documents_the_grammar(client):
    (entry,) = client.get(f"{URL}/catalog").get_json()["formulas"]
    assert entry["name"] == "formula" and "grammar" in entry and "precedence" in entry
    assert [f["name"] for f in entry["functions"]] == list(FUNCTIONS)
    assert {"max_expression_length", "max_expression_nodes", "max_formula_work"} <= set(entry["limits"])
    assert "surface" in entry["request"] and "expression" in json.dumps(entry["request"])


def test_openapi_documents_a_name_or_a_formula(client):
    doc = client.get("/openapi.json").get_json()
    prop = doc["components"]["schemas"]["TrajectoryRequest"]["properties"]["surface"]
    assert prop["oneOf"][0]["enum"][0] == "ackley" and prop["oneOf"][1] == {"$ref": "#/components/schemas/Formula"}
    assert set(doc["components"]["schemas"]["Formula"]["properties"]) == {"expression", "domain", "params"}


# ---------------------------------------------------------------------------------------------
# Fuzzing over HTTP: a 200 or a 422, nothing else
# ---------------------------------------------------------------------------------------------
FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
ALPHABET = "xyab()+-*/.,^[]=_'\"!<>%@&|~#:; \n\t0123456789eEpisnoqrtlgmhcdu" + "".join(FUNCTIONS)


def _only_200_or_422(r):
    assert r.status_code in (200, 422), r.get_data(as_text=True)[:300]
    assert _finite_json(r.data)
    if r.status_code == 422:
        assert r.get_json()["errors"]


@FUZZ
@given(st.one_of(st.text(max_size=200), st.text(alphabet=ALPHABET, max_size=60)))
def test_arbitrary_expressions_get_200_or_422_on_the_grid(client, text):
    _only_200_or_422(client.post(f"{URL}/landscapes/grid", json={
        "surface": {"expression": text, "params": {"a": 0.5, "b": -2}}, "resolution": [4, 3], "gradient": True}))


@FUZZ
@given(st.text(alphabet=ALPHABET, max_size=60), st.floats(-3, 3), st.floats(-3, 3))
def test_arbitrary_expressions_get_200_or_422_in_a_descent(client, text, x, y):
    _only_200_or_422(client.post(f"{URL}/descent/trajectory", json={
        "surface": {"expression": text, "params": {"a": 0.5, "b": -2}}, "start": [x, y], "steps": 20,
        "optimizer": {"name": "adam", "lr": 0.1}}))


JSON = st.recursive(st.none() | st.booleans() | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
                    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=10), inner, max_size=3),
                    max_leaves=8)


@FUZZ
@given(st.dictionaries(st.sampled_from(["expression", "domain", "params", "other"]), JSON, max_size=4))
def test_arbitrary_surface_objects_get_200_or_422(client, obj):
    _only_200_or_422(client.post(f"{URL}/landscapes/critical-points", json={"surface": obj, "seeds": 2}))


def test_numbers_in_expressions_are_finite_or_refused(client):
    r = client.post(f"{URL}/landscapes/grid", json={"surface": {"expression": "1e400*x"}})
    assert r.status_code == 422 and "out of the float64 range" in _json_errors(r)["surface.expression"][0]
    r = client.post(f"{URL}/landscapes/grid", json={"surface": {"expression": "x*10**400"}})
    assert r.status_code == 422 and "constants must be finite" in _json_errors(r)["surface.expression"][0]
