"""/api/v1/landscapes: grid, critical points and slice, happy paths and refusals."""

from __future__ import annotations

import numpy as np
import pytest

from engine import LIMITS
from engine.surfaces import resolve_surface

from surface_reference import reference_value

GRID = "/api/v1/landscapes/grid"
CRIT = "/api/v1/landscapes/critical-points"
SLICE = "/api/v1/landscapes/slice"


def _fields(body):
    return set(body["errors"]["json"])


def test_grid_contract(client):
    r = client.post(GRID, json={"surface": "rosenbrock", "x_range": [-2, 2], "y_range": [-1, 3],
                                "resolution": [30, 20], "params": {"b": 50}})
    assert r.status_code == 200
    body = r.get_json()
    assert len(body["x"]) == 30 and len(body["y"]) == 20
    z = np.array(body["z"])
    assert z.shape == (20, 30)  # [row = y][column = x]
    X, Y = np.meshgrid(body["x"], body["y"])
    np.testing.assert_allclose(z, reference_value("rosenbrock", {"a": 1.0, "b": 50.0}, X, Y), rtol=1e-12)
    assert body["z_min"] == z.min() and body["z_max"] == z.max()
    assert body["params"] == {"a": 1.0, "b": 50.0} and body["n_overflow"] == 0
    assert "grad_norm" not in body


def test_grid_defaults_and_gradient(client):
    r = client.post(GRID, json={"surface": "valley", "gradient": True})
    assert r.status_code == 200
    body = r.get_json()
    (x0, x1), (y0, y1) = resolve_surface("valley").domain
    assert len(body["x"]) == len(body["y"]) == 200
    assert (body["x"][0], body["x"][-1], body["y"][0], body["y"][-1]) == (x0, x1, y0, y1)
    gn = np.array(body["grad_norm"])
    assert gn.shape == (200, 200) and body["grad_norm_max"] == gn.max()


def test_grid_overflow_stays_finite_json(client):
    r = client.post(GRID, json={"surface": "goldstein_price", "x_range": [-1e6, 1e6], "y_range": [-1e6, 1e6],
                                "resolution": [3, 3]})
    assert r.status_code == 200
    body = r.get_json()
    assert b"NaN" not in r.data and b"Infinity" not in r.data and b"null" not in r.data
    assert body["z"][1][1] == 600.0


def test_critical_points_contract(client):
    r = client.post(CRIT, json={"surface": "himmelblau", "x_range": [-5, 5], "y_range": [-5, 5]})
    assert r.status_code == 200
    pts = r.get_json()["points"]
    kinds = [p["kind"] for p in pts]
    assert kinds.count("minimum") == 4 and kinds.count("maximum") == 1 and kinds.count("saddle") == 4
    for p in pts:
        assert set(p) >= {"x", "y", "value", "kind", "eigenvalues", "global"} and len(p["eigenvalues"]) == 2
        assert p["global"] == (p["kind"] == "minimum")
    mx = next(p for p in pts if p["kind"] == "maximum")
    assert mx["x"] == pytest.approx(-0.270845, abs=1e-6) and mx["value"] == pytest.approx(181.617, abs=1e-3)


def test_critical_points_valley_with_params(client):
    r = client.post(CRIT, json={"surface": "valley", "params": {"tilt": 1.0}, "seeds": 21})
    assert r.status_code == 200
    pts = r.get_json()["points"]
    assert [(p["kind"], p["global"]) for p in pts] == [("minimum", True), ("minimum", False), ("saddle", False)]


def test_slice_contract(client):
    r = client.post(SLICE, json={"surface": "booth", "point": [1, 3], "direction": [1, 0],
                                 "t_range": [-2, 2], "points": 5})
    assert r.status_code == 200
    body = r.get_json()
    assert body["t"] == [-2.0, -1.0, 0.0, 1.0, 2.0]
    # along x through the minimum (1, 3): f = 5 t², df/dt = 10 t
    np.testing.assert_allclose(body["value"], [20.0, 5.0, 0.0, 5.0, 20.0], atol=1e-12)
    np.testing.assert_allclose(body["derivative"], [-20.0, -10.0, 0.0, 10.0, 20.0], atol=1e-12)
    r = client.post(SLICE, json={"surface": "saddle", "point": [0, 0], "direction": [0, 1]})
    assert r.status_code == 200 and len(r.get_json()["t"]) == 201


def test_catalog_lists_surfaces(client):
    body = client.get("/api/v1/catalog").get_json()
    names = [s["name"] for s in body["surfaces"]]
    assert "linear_regression" in names and "valley" in names and len(names) == 14
    assert body["limits"]["max_critical_seeds_axis"] == LIMITS["max_critical_seeds_axis"]


@pytest.mark.parametrize("path,payload,field", [
    (GRID, {"surface": "bowl"}, "surface"),
    (GRID, {}, "surface"),
    (GRID, {"surface": "rosenbrock", "resolution": [1001, 10]}, "resolution"),
    (GRID, {"surface": "rosenbrock", "resolution": [10]}, "resolution"),
    (GRID, {"surface": "rosenbrock", "resolution": ["a", 10]}, "resolution"),
    (GRID, {"surface": "rosenbrock", "x_range": [2, -2]}, "x_range"),
    (GRID, {"surface": "rosenbrock", "y_range": "wide"}, "y_range"),
    (GRID, {"surface": "rosenbrock", "x_range": [0, 1e7]}, "x_range"),
    (GRID, {"surface": "rosenbrock", "gradient": "maybe"}, "gradient"),
    (GRID, {"surface": 3}, "surface"),
    (GRID, {"surface": "rosenbrock", "colour": "red"}, "colour"),
    (GRID, {"surface": "rosenbrock", "params": {"c": 1}}, "params.c"),
    (GRID, {"surface": "rosenbrock", "params": {"b": "x"}}, "params.b"),
    (GRID, {"surface": "rosenbrock", "params": {"b": -1}}, "params.b"),
    (GRID, {"surface": "linear_regression", "params": {"n": 10001}}, "params.n"),
    (GRID, {"surface": "rosenbrock", "params": [1]}, "params"),
    (CRIT, {"surface": "himmelblau", "seeds": 101}, "seeds"),
    (CRIT, {"surface": "himmelblau", "seeds": 2.5}, "seeds"),
    (CRIT, {"surface": "himmelblau", "y_range": [1, 1]}, "y_range"),
    (SLICE, {"surface": "booth", "direction": [1, 0]}, "point"),
    (SLICE, {"surface": "booth", "point": [0, 0], "direction": [0, 0]}, "direction"),
    (SLICE, {"surface": "booth", "point": [0, 0, 1], "direction": [1, 0]}, "point"),
    (SLICE, {"surface": "booth", "point": [0, 0], "direction": [1, 0], "points": 10002}, "points"),
    (SLICE, {"surface": "booth", "point": [0, 0], "direction": [1, 0], "t_range": [1, 0]}, "t_range"),
])
def test_bad_input_is_422_naming_the_field(client, path, payload, field):
    r = client.post(path, json=payload)
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert body["code"] == 422 and field in _fields(body), body


def test_resolution_over_limit_names_the_limit(client):
    r = client.post(GRID, json={"surface": "rosenbrock", "resolution": [10, 5000]})
    assert r.status_code == 422
    assert "max_grid_axis" in str(r.get_json()["errors"])


def test_unknown_surface_lists_choices(client):
    r = client.post(CRIT, json={"surface": "bowl"})
    assert r.status_code == 422 and "rosenbrock" in str(r.get_json()["errors"])


@pytest.mark.parametrize("path", [GRID, CRIT, SLICE])
def test_non_json_body(client, path):
    r = client.post(path, data=b"surface=rosenbrock", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["code"] == 400
    r = client.post(path, data=b"surface=rosenbrock", content_type="text/plain")
    assert r.status_code in (400, 415, 422) and r.get_json()["code"] == r.status_code


def test_get_is_405(client):
    assert client.get(GRID).status_code == 405
