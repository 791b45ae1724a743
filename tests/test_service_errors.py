"""The error contract shared by every endpoint: one JSON shape, never HTML or a traceback."""

import pytest


def test_healthz_ready(client):
    r = client.get("/healthz")
    assert r.status_code == 200
    b = r.get_json()
    assert b["status"] == "ok" and b["ready"] is True and b["busy"] is False
    assert b["heavy"]["running"] == 0 and b["heavy"]["slots"] >= 1 and b["computing"] == 0


def test_unknown_route_is_json_404(client):
    r = client.get("/api/v1/nope")
    assert r.status_code == 404
    body = r.get_json()
    assert body["code"] == 404 and body["status"] == "Not Found" and body["message"]


def test_wrong_method_is_json_405(client):
    r = client.delete("/api/v1/catalog")
    assert r.status_code == 405
    assert r.get_json()["code"] == 405
    assert "GET" in r.headers["Allow"]


def test_body_over_limit_is_json_413(app):
    limit = app.config["MAX_CONTENT_LENGTH"]
    body = b'{"loss": "mse", "predictions": [' + b"0.5," * (limit // 4) + b'0.5], "targets": [0]}'
    r = app.test_client().post("/api/v1/losses/evaluate", data=body, content_type="application/json")
    assert r.status_code == 413
    assert "max_body_bytes" in r.get_json()["message"]


def test_point_near_float_max_is_refused_not_overflowed(client):
    # found by schemathesis: px + t*dx overflowed to inf and reached the body as null
    r = client.post("/api/v1/landscapes/slice", json={
        "surface": "matyas", "point": [-1.7976931348623157e308, 0.0], "direction": [-1.7976931348623157e308, 0.0]})
    assert r.status_code == 422
    assert set(r.get_json()["errors"]["json"]) == {"point", "direction"}


@pytest.mark.parametrize("high, status", [(1e6, 200), (1.000001e6, 422), (2e6, 422)])
def test_coordinates_are_bounded_at_one_million(client, high, status):
    r = client.post("/api/v1/landscapes/grid", json={
        "surface": "booth", "x_range": [-1e6, high], "y_range": [-1.0, 1.0], "resolution": [3, 3]})
    assert r.status_code == status
    if status == 422:
        assert r.get_json()["errors"]["json"] == {"x_range": ["each value must lie within [-1e6, 1e6]"]}


def test_openapi_document_and_docs(client):
    r = client.get("/openapi.json")
    assert r.status_code == 200
    doc = r.get_json()
    assert doc["openapi"].startswith("3.")
    assert "/healthz" in doc["paths"]
    assert client.get("/docs").status_code == 200


def test_cors_header_present(client):
    r = client.get("/api/v1/catalog", headers={"Origin": "http://example.test"})
    assert r.headers.get("Access-Control-Allow-Origin") in ("*", "http://example.test")


def test_catalog_lists_limits(client):
    body = client.get("/api/v1/catalog").get_json()
    assert body["limits"]["max_grid_axis"] == 1000
