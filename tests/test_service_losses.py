"""/api/v1/losses: evaluate and curves, happy paths and refusals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import LIMITS

EVAL = "/api/v1/losses/evaluate"
CURVES = "/api/v1/losses/curves"
PAGE = {"predictions": [0.7, 0.2, 0.1], "targets": [1, 0, 0]}


def _fields(body):
    return set(body["errors"]["json"])


def _refused(r, field, words=""):
    body = r.get_json()
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    assert set(body) >= {"code", "status", "message", "errors"} and body["code"] == 422
    assert field in _fields(body), body
    assert words in r.get_data(as_text=True), body
    return body


def test_evaluate_contract_page_example(client):
    r = client.post(EVAL, json={"loss": "mse", **PAGE})
    assert r.status_code == 200
    body = r.get_json()
    assert body["loss"] == "mse" and round(body["value"], 6) == 0.046667
    assert body["value"] == pytest.approx(0.14 / 3, rel=1e-14)
    np.testing.assert_allclose(body["gradient"], [-0.6 / 3, 0.4 / 3, 0.2 / 3], rtol=1e-14)
    assert body["params"] == {} and body["ignored"] == []
    r = client.post(EVAL, json={"loss": "cross_entropy", **PAGE})
    assert r.get_json()["value"] == pytest.approx(-math.log(0.7), rel=1e-15)
    assert round(r.get_json()["value"], 6) == 0.356675


def test_evaluate_two_d_with_parameters(client):
    logits = [[1, 2, 3], [1, 1, 1]]
    onehot = [[1, 0, 0], [0, 0, 1]]
    r = client.post(EVAL, json={"loss": "cross_entropy_with_logits", "predictions": logits, "targets": onehot,
                                "label_smoothing": 0.1})
    assert r.status_code == 200
    body = r.get_json()
    assert body["value"] == pytest.approx(1.7031091265562452, rel=1e-14)  # numerics-detailed.md §6
    assert np.array(body["gradient"]).shape == (2, 3)
    np.testing.assert_allclose(body["gradient"][1], [0.15, 0.15, -0.3], rtol=1e-12)
    assert body["params"] == {"label_smoothing": 0.1}
    r = client.post(EVAL, json={"loss": "huber", "predictions": [3.0, 0.1], "targets": [0, 0], "delta": 0.5,
                                "beta": 2.0})
    body = r.get_json()
    assert body["value"] == pytest.approx((0.5 * 2.75 + 0.005) / 2, rel=1e-14)
    assert body["params"] == {"delta": 0.5} and body["ignored"] == ["beta"]


def test_evaluate_extremes_give_finite_json(client):
    r = client.post(EVAL, json={"loss": "bce", "predictions": [0, 1], "targets": [1, 0]})
    assert r.status_code == 200 and r.get_json()["value"] == 100.0
    r = client.post(EVAL, json={"loss": "bce_with_logits", "predictions": [1000, -1000], "targets": [0, 1]})
    assert r.status_code == 200 and r.get_json()["value"] == 1000.0
    assert b"NaN" not in r.data and b"Infinity" not in r.data and b"null" not in r.data


def test_curves_contract(client):
    r = client.post(CURVES, json={"losses": ["mse", "mae", "huber"], "points": 201})
    assert r.status_code == 200
    body = r.get_json()
    assert [c["loss"] for c in body["curves"]] == ["mse", "mae", "huber"]
    for c in body["curves"]:
        assert len(c["x"]) == len(c["value"]) == len(c["derivative"]) == 201
        assert c["x"][0] == -3.0 and c["x"][-1] == 3.0 and "error" in c["x_label"]
    huber = body["curves"][2]
    x = np.array(huber["x"])
    np.testing.assert_allclose(huber["value"], np.where(np.abs(x) < 1, 0.5 * x**2, np.abs(x) - 0.5), rtol=1e-15)
    np.testing.assert_allclose(huber["derivative"], np.clip(x, -1, 1), rtol=1e-15)


def test_curves_classification_and_params(client):
    r = client.post(CURVES, json={"losses": ["cross_entropy", "cross_entropy_with_logits", "huber"], "points": 11,
                                  "p_range": [0.1, 1.0], "x_range": [-1, 1], "label_smoothing": 0.2, "delta": 0.5,
                                  "beta": 1.0})
    assert r.status_code == 200
    body = r.get_json()
    ce, cel, hub = body["curves"]
    np.testing.assert_allclose(ce["x"], np.linspace(0.1, 1, 11), rtol=1e-15)
    np.testing.assert_allclose(ce["value"], -np.log(ce["x"]), rtol=1e-14, atol=1e-300)
    assert "probability" in ce["x_label"] and ce["kind"] == "classification"
    assert cel["omitted"] == 1 and len(cel["x"]) == 10 and cel["params"] == {"label_smoothing": 0.2}
    assert hub["x"][0] == -1.0 and hub["params"] == {"delta": 0.5}
    assert body["ignored"] == ["beta"]
    assert b"NaN" not in r.data and b"Infinity" not in r.data and b"null" not in r.data


def test_catalog_has_the_losses_section(client):
    losses = client.get("/api/v1/catalog").get_json()["losses"]
    assert [e["name"] for e in losses][:3] == ["mse", "mae", "huber"]
    assert {p["name"] for e in losses for p in e["parameters"]} == {"delta", "beta", "label_smoothing"}


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({"predictions": [1.0], "targets": [1.0]}, "loss", "required"),
        ({"loss": "mse", "targets": [1.0]}, "predictions", "required"),
        ({"loss": "mse", "predictions": [1.0]}, "targets", "required"),
        ({"loss": "msee", **PAGE}, "loss", "mse"),
        ({"loss": 3, **PAGE}, "loss", ""),
        ({"loss": "mse", "predictions": "0.7", "targets": [1]}, "predictions", "list"),
        ({"loss": "mse", "predictions": [0.7, "a"], "targets": [1, 0]}, "predictions", "numbers"),
        ({"loss": "mse", "predictions": [0.7, True], "targets": [1, 0]}, "predictions", "numbers"),
        ({"loss": "mse", "predictions": [], "targets": []}, "predictions", "non-empty"),
        ({"loss": "mse", "predictions": [[1, 2], [3]], "targets": [[1, 2], [3]]}, "predictions", "same length"),
        ({"loss": "mse", "predictions": [[[1]]], "targets": [[[1]]]}, "predictions", "numbers"),
        ({"loss": "mse", "predictions": [0.7, 0.2, 0.1], "targets": [1, 0]}, "targets", "does not match"),
        ({"loss": "mse", "predictions": [[0.7, 0.2]], "targets": [0.7, 0.2]}, "targets", "does not match"),
        ({"loss": "bce", "predictions": [0.7, 1.2], "targets": [1, 0]}, "predictions", "[0, 1]"),
        ({"loss": "hinge", "predictions": [0.7, 1.2], "targets": [1, 0]}, "targets", "-1"),
        ({"loss": "kl_div", "predictions": [0.5, 0.5], "targets": [0.5, 0.5]}, "predictions", "log-probabilities"),
        ({"loss": "mse", "predictions": [1e300], "targets": [0]}, "predictions", "1e+100"),
        ({"loss": "huber", "delta": 0, **PAGE}, "delta", "greater than"),
        ({"loss": "huber", "delta": "one", **PAGE}, "delta", "valid number"),
        ({"loss": "huber", "delta": [1], **PAGE}, "delta", ""),
        ({"loss": "smooth_l1", "beta": -1, **PAGE}, "beta", ""),
        ({"loss": "cross_entropy_with_logits", "label_smoothing": 1.5, **PAGE}, "label_smoothing", ""),
        ({"loss": "mse", "reduction": "sum", **PAGE}, "reduction", "Unknown field"),
    ],
)
def test_evaluate_refuses(client, body, field, words):
    _refused(client.post(EVAL, json=body), field, words)


def test_evaluate_oversized_arrays(client):
    n = LIMITS["max_loss_elements"] + 1
    _refused(client.post(EVAL, json={"loss": "mse", "predictions": [0.5] * n, "targets": [0.0] * n}),
             "predictions", "max_loss_elements")
    rows = [[0.5] * 1001] * 100
    _refused(client.post(EVAL, json={"loss": "mse", "predictions": rows, "targets": rows}),
             "predictions", "max_loss_elements")


@pytest.mark.parametrize(
    "body, field, words",
    [
        ({}, "losses", "required"),
        ({"losses": "mse"}, "losses", ""),
        ({"losses": []}, "losses", "max_curve_losses"),
        ({"losses": ["mse"] * (LIMITS["max_curve_losses"] + 1)}, "losses", "max_curve_losses"),
        ({"losses": ["mse", "nope"]}, "losses", "Must be one of"),
        ({"losses": ["mse"], "points": 1}, "points", "max_curve_points"),
        ({"losses": ["mse"], "points": LIMITS["max_curve_points"] + 1}, "points", "max_curve_points"),
        ({"losses": ["mse"], "points": 2.5}, "points", ""),
        ({"losses": ["mse"], "x_range": [1, -1]}, "x_range", "low < high"),
        ({"losses": ["mse"], "x_range": [0]}, "x_range", ""),
        ({"losses": ["bce"], "p_range": [0, 1]}, "p_range", "(0, 1]"),
        ({"losses": ["bce"], "p_range": [0.5, 2]}, "p_range", "(0, 1]"),
        ({"losses": ["huber"], "delta": -0.5}, "delta", ""),
        ({"losses": ["huber"], "gamma": 2}, "gamma", "Unknown field"),
    ],
)
def test_curves_refuse(client, body, field, words):
    _refused(client.post(CURVES, json=body), field, words)


@pytest.mark.parametrize("path", [EVAL, CURVES])
def test_non_json_body_is_a_json_4xx(client, path):
    r = client.post(path, data=b"loss=mse", content_type="application/json")
    assert 400 <= r.status_code < 500 and r.get_json()["code"] == r.status_code
    r = client.post(path, data=b'{"loss": "mse", "predictions": [NaN], "targets": [1]}',
                    content_type="application/json")
    assert r.status_code == 400 and r.get_json()["code"] == 400
    r = client.post(path, data=b"hello", content_type="text/plain")
    assert 400 <= r.status_code < 500 and r.is_json
