"""/api/v1/networks: happy paths of the three endpoints and bad input (limits named, shapes, names, NaN, non-JSON)."""

from __future__ import annotations

import math

import numpy as np
import pytest

BACKPROP = {"layers": [2, 4, 4, 1], "activation": "sigmoid", "init": {"name": "xavier_uniform"}, "loss": "mse",
            "inputs": [[0.5, -1.0], [1.0, 2.0], [0.0, 0.3]], "targets": [[1.0], [0.0], [0.5]], "seed": 0}
PROFILE = {"depth": 10, "width": 32, "activation": "sigmoid", "init": {"name": "normal", "std": 0.25},
           "residual": False, "batch_norm": False, "batch": 64, "seed": 0}
LANDSCAPE = {"layers": [2, 8, 1], "activation": "tanh", "dataset": {"name": "moons", "n": 50}, "dims": 2,
             "resolution": 5, "span": 1.0, "seed": 0, "train_steps": 20}


def _finite(obj) -> bool:
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, list):
        return all(_finite(v) for v in obj)
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def _errors(resp) -> dict:
    body = resp.get_json()
    assert resp.status_code == 422, body
    assert set(body) >= {"code", "status", "message", "errors"}
    return body["errors"]["json"]


def test_backprop_happy_path(client):
    r = client.post("/api/v1/networks/backprop", json=BACKPROP)
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    assert b["status"] == "ok" and b["widths"] == [2, 4, 4, 1] and b["parameters"] == 37
    assert len(b["weights"]) == len(b["forward"]) == len(b["backward"]) == 3
    assert np.shape(b["weights"][0]["W"]) == (2, 4) and np.shape(b["forward"][1]["z"]) == (3, 4)
    assert set(b["backward"][0]) == {"da", "dz", "dW", "db"}
    ch = b["chain_rule"]
    assert ch["all_paths_sum"] == pytest.approx(ch["backprop"], rel=1e-12)
    assert ch["backprop"] == b["backward"][0]["dW"][0][0]
    assert ch["product"] == pytest.approx(math.prod(f["value"] for f in ch["factors"]), rel=1e-14)
    assert b["gradcheck"]["max_rel_error"] < 1e-6
    assert set(b["cost"]) >= {"forward_s", "backward_s", "finite_difference_s", "backward_over_forward", "parameters"}
    assert _finite(b)


def test_backprop_with_given_weights_and_path(client):
    body = {**BACKPROP, "layers": [2, 2, 1],
            "weights": [{"W": [[0.5, -1.0], [0.25, 2.0]], "b": [0.1, 0.0]}, {"W": [[1.0], [-0.5]], "b": [0.3]}],
            "path": {"input": 1, "unit": 1, "output": 0, "sample": 2}, "activation": "tanh"}
    b = client.post("/api/v1/networks/backprop", json=body).get_json()
    assert b["weights"][1]["W"] == [[1.0], [-0.5]]
    assert b["chain_rule"]["path"] == {"input": 1, "unit": 1, "through": [], "output": 0, "sample": 2}
    z = 0.0 * -1.0 + 0.3 * 2.0 + 0.0  # sample 2 = [0, 0.3], unit 1
    assert b["forward"][0]["z"][2][1] == pytest.approx(z, rel=1e-15)


def test_gradient_profile_happy_path(client):
    r = client.post("/api/v1/networks/gradient-profile", json={**PROFILE, "clip": {"max_norm": 0.001}})
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    assert [l["layer"] for l in b["layers"]] == list(range(1, 11))
    assert {"weight_grad_norm", "activation_grad_norm", "preactivation_grad_norm"} <= set(b["layers"][0])
    assert b["verdict"] == "vanishing" and b["first_over_last"] < 0.01 and "vanishing if" in b["rule"]
    assert b["clip"]["global_norm_after"] <= 0.001 < b["clip"]["global_norm_before"]
    assert b["layers"][0]["weight_grad_norm_after_clip"] < b["layers"][0]["weight_grad_norm"]
    t = client.post("/api/v1/networks/gradient-profile",
                    json={"depth": 3, "width": 4, "training": {"optimizer": {"name": "sgd", "lr": 0.1}, "steps": 4,
                                                               "every": 2}}).get_json()
    assert t["training"]["steps"] == [0, 2, 4] and len(t["training"]["weight_grad_norm"]) == 3


def test_gradient_profile_overflow_stays_finite(client):
    b = client.post("/api/v1/networks/gradient-profile",
                    json={"depth": 64, "width": 32, "activation": "identity", "init": {"name": "normal", "std": 100}}
                    ).get_json()
    assert b["status"] == "overflow" and b["verdict"] == "exploding"
    assert any(l["overflow"] for l in b["layers"]) and _finite(b)


def test_landscape_happy_path(client):
    r = client.post("/api/v1/networks/landscape", json=LANDSCAPE)
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    assert len(b["alpha"]) == len(b["beta"]) == 5 and np.shape(b["loss"]) == (5, 5)
    assert b["loss"][2][2] == pytest.approx(b["center_loss"], rel=1e-12)
    assert b["train_status"] == "ok" and len(b["train_loss"]) == 20
    assert "center" not in b and "directions" not in b
    one = client.post("/api/v1/networks/landscape", json={**LANDSCAPE, "dims": 1, "resolution": 9}).get_json()
    assert one["beta"] == [] and np.shape(one["loss"]) == (1, 9)


@pytest.mark.parametrize("path,body,field,limit", [
    ("gradient-profile", {"depth": 65}, "depth", "max_layers"),
    ("gradient-profile", {"width": 1025}, "width", "max_width"),
    ("gradient-profile", {"batch": 1025}, "batch", "max_batch"),
    ("gradient-profile", {"width": 1024}, "batch", "max_network_work"),
    ("backprop", {**BACKPROP, "layers": [2] * 66 + [1]}, "layers", "max_layers"),
    ("backprop", {**BACKPROP, "layers": [2, 1025, 1]}, "layers", "max_width"),
    ("backprop", {**BACKPROP, "layers": [2, 50, 50, 1]}, "layers", "max_backprop_parameters"),
    ("backprop", {**BACKPROP, "inputs": [[0.0, 0.0]] * 33, "targets": [[0.0]] * 33}, "inputs", "max_backprop_samples"),
    ("landscape", {**LANDSCAPE, "resolution": 202}, "resolution", "max_landscape_axis"),
    ("landscape", {**LANDSCAPE, "dataset": {"name": "moons", "n": 2001}}, "dataset", "max_landscape_samples"),
])
def test_limits_are_named(client, path, body, field, limit):
    r = client.post(f"/api/v1/networks/{path}", json=body)
    errors = _errors(r)
    assert field in errors and limit in r.get_data(as_text=True)


@pytest.mark.parametrize("path,body,field", [
    ("backprop", {**BACKPROP, "inputs": [[1.0, 2.0, 3.0]] * 3}, "inputs"),  # layers[0] = 2
    ("backprop", {**BACKPROP, "targets": [[1.0, 0.0]] * 3}, "targets"),
    ("backprop", {**BACKPROP, "inputs": [[1.0, 2.0], [1.0]], "targets": [[1.0], [0.0]]}, "inputs"),  # ragged
    ("backprop", {**BACKPROP, "activation": "swish"}, "activation"),
    ("backprop", {**BACKPROP, "init": {"name": "glorot"}}, "init"),
    ("backprop", {**BACKPROP, "init": {"name": "normal", "gain": 1.0}}, "init"),
    ("backprop", {**BACKPROP, "loss": "cosine"}, "loss"),
    ("backprop", {**BACKPROP, "weights": [{"W": [[1.0]], "b": [0.0]}]}, "weights"),
    ("backprop", {**BACKPROP, "inputs": [["a", 1.0]] * 3}, "inputs"),
    ("backprop", {**BACKPROP, "path": {"unit": 9}}, "path.unit"),
    ("backprop", {**BACKPROP, "surprise": 1}, "surprise"),
    ("backprop", {k: v for k, v in BACKPROP.items() if k != "inputs"}, "inputs"),
    ("gradient-profile", {"depth": "ten"}, "depth"),
    ("gradient-profile", {"clip": {"max_norm": 0}}, "clip"),
    ("landscape", {**LANDSCAPE, "layers": [3, 8, 1]}, "layers"),
    ("landscape", {**LANDSCAPE, "dims": 3}, "dims"),
    ("landscape", {**LANDSCAPE, "dataset": {"name": "spirals"}}, "dataset"),
])
def test_bad_input_is_422_naming_the_field(client, path, body, field):
    errors = _errors(client.post(f"/api/v1/networks/{path}", json=body))
    assert any(k == field or k.startswith(field.split(".")[0]) for k in errors), errors


@pytest.mark.parametrize("raw", [b'{"layers": [2, 1], "inputs": [[NaN, 1]], "targets": [[1]]}', b"layers=2,1", b"{"])
def test_non_finite_or_non_json_bodies_are_400(client, raw):
    r = client.post("/api/v1/networks/backprop", data=raw, content_type="application/json")
    assert r.status_code == 400 and r.get_json()["code"] == 400


def test_catalog_lists_activations_and_initializations(client):
    b = client.get("/api/v1/catalog").get_json()
    assert {a["name"] for a in b["activations"]} >= {"sigmoid", "relu", "gelu", "softplus"}
    assert {i["name"] for i in b["initializations"]} >= {"xavier_uniform", "kaiming_normal", "torch_default"}
    assert b["limits"]["max_layers"] == 64 and b["limits"]["max_width"] == 1024
