"""/api/v1/networks/hessian and /api/v1/landscapes/saddle-statistics: the issue's contract, values checked
against the engine's independent pieces, and bad input (422 naming the field, limits named, no NaN)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.full_batch import resolve_problem
from engine.hvp import mlp_hessian
from engine.mlp import init_params
from test_service_networks import _errors, _finite  # the same 422 shape and no-NaN walk
from test_service_training import _sse

HESSIAN = {"layers": [2, 16, 1], "activation": "tanh", "loss": "mse",
           "dataset": {"name": "moons", "n_train": 200, "seed": 0}, "train_steps": 0,
           "optimizer": {"name": "sgd", "lr": 0.1}, "top_k": 5, "density": True, "seed": 0}
GOE = {"experiment": "goe", "dims": [1, 2, 3, 4, 5], "samples": 100000, "seed": 0}


@pytest.fixture(scope="module")
def hessian(app):
    r = app.test_client().post("/api/v1/networks/hessian", json=HESSIAN)
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_hessian_contract_and_values(hessian):
    b = hessian
    assert set(b) >= {"n_params", "top", "bottom", "trace", "density", "method"}
    assert b["n_params"] == 65 and len(b["top"]) == len(b["bottom"]) == 5
    assert set(b["density"]) >= {"x", "y"} and set(b["method"]) >= {"name", "iterations", "tolerance"}
    assert b["method"]["name"] == "lanczos" and b["method"]["iterations"] > 0 and b["method"]["tolerance"] == 1e-6
    # the truth, computed here from the same network: the full Hessian's eigenvalues
    pr = resolve_problem([2, 16, 1], "tanh", "mse", {"name": "moons", "n_train": 200, "seed": 0})
    H = mlp_hessian(pr.net, init_params(pr.net, None, 0), pr.X, pr.Y).matrix().matrix
    w = np.linalg.eigvalsh(H)
    np.testing.assert_allclose(b["top"], w[::-1][:5], rtol=1e-5)
    np.testing.assert_allclose(b["bottom"], w[:5], rtol=1e-5, atol=1e-8)
    np.testing.assert_allclose(b["exact"]["eigenvalues"], w, atol=1e-12)
    assert abs(b["trace"] - np.trace(H)) <= 4 * b["trace_stderr"]
    assert np.trapezoid(b["density"]["y"], b["density"]["x"]) == pytest.approx(1.0, abs=1e-5)
    assert b["training"]["status"] == "none" and _finite(b)


def test_hessian_after_training_steps_and_without_density(client):
    body = {**HESSIAN, "train_steps": 300, "density": False, "top_k": 2, "bottom_k": 0,
            "optimizer": {"name": "adam", "lr": 0.01}}
    b = client.post("/api/v1/networks/hessian", json=body).get_json()
    assert b["training"]["steps"] == 300 and b["training"]["status"] == "ok"
    assert b["training"]["loss"][-1] < b["training"]["loss"][0]
    assert b["density"] is None and len(b["top"]) == 2 and b["bottom"] == []
    assert b["training"]["optimizer"]["name"] == "adam"


def test_hessian_other_tasks(client):
    spirals = {"layers": [2, 8, 3], "dataset": {"name": "spirals", "n_train": 60, "n_classes": 3}, "top_k": 3,
               "density_steps": 16, "batch_norm": True, "activation": "gelu"}
    b = client.post("/api/v1/networks/hessian", json=spirals).get_json()
    assert b["settings"]["loss"] == "cross_entropy_with_logits" and len(b["top"]) == 3 and _finite(b)
    poly = {"layers": [1, 12, 1], "dataset": {"name": "polynomial", "degree": 3, "n_train": 20}, "loss": "huber",
            "loss_params": {"delta": 0.2}, "top_k": 1}
    b = client.post("/api/v1/networks/hessian", json=poly).get_json()
    assert b["settings"]["loss"] == "huber" and b["top"][0] > 0


@pytest.mark.parametrize("body, field", [
    ({"activation": "swish"}, "activation"),
    ({"top_k": 21}, "top_k"),
    ({"layers": [3, 4, 1]}, "layers"),
    ({"loss": "cross_entropy"}, "loss"),
    ({"loss": "bce"}, "loss"),
    ({"dataset": {"name": "moons", "n_train": 20_000}}, "dataset"),
    ({"density_steps": 500}, "density_steps"),
    ({"trace_samples": 0}, "trace_samples"),
    ({"sigma": 0}, "sigma"),
    ({"train_steps": -1}, "train_steps"),
    ({"optimizer": {"name": "sgd", "lr": -1}}, "optimizer"),
    ({"layers": [2, 1024, 1024, 1], "dataset": {"name": "moons", "n_train": 5000}}, "layers"),
    ({"top_k": 6, "layers": [2, 1, 1]}, "top_k"),
    ({"nope": 1}, "nope"),
])
def test_hessian_bad_input_is_a_422_naming_the_field(client, body, field):
    errors = _errors(client.post("/api/v1/networks/hessian", json={**HESSIAN, **body}))
    assert field in errors, errors


def test_hessian_limit_is_named(client):
    r = client.post("/api/v1/networks/hessian", json={**HESSIAN, "layers": [2, 512, 512, 1],
                                                       "dataset": {"name": "moons", "n_train": 10_000}})
    assert "max_" in r.get_json()["message"] and r.status_code == 422


def test_goe_contract_and_exact_values(client):
    r = client.post("/api/v1/landscapes/saddle-statistics", json=GOE)
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    assert set(b) >= {"dims", "p_minimum", "stderr", "two_pow_minus_n"}
    assert b["dims"] == [1, 2, 3, 4, 5] and b["two_pow_minus_n"] == [0.5, 0.25, 0.125, 0.0625, 0.03125]
    assert abs(b["p_minimum"][0] - 0.5) <= 3 * b["stderr"][0]
    assert abs(b["p_minimum"][1] - (2 - math.sqrt(2)) / 4) <= 3 * b["stderr"][1]
    assert b["exact"][2] is None and b["experiment"] == "goe" and _finite(b)


def test_network_experiment_contract(client):
    body = {"experiment": "network", "starts": 6, "train_steps": 3000, "seed": 1}
    r = client.post("/api/v1/landscapes/saddle-statistics", json=body)
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    assert len(b["points"]) == 6 and b["experiment"] == "network"
    for p in b["points"]:
        assert set(p) >= {"loss", "index", "grad_norm", "critical"} and p["critical"] == (p["grad_norm"] <= 1e-8)
        assert p["kind"] in ("critical", "gradient_flat", "not_converged") and 0.0 <= p["index"] <= 1.0
    assert sum(b["kinds"].values()) == 6 and b["n_params"] == 13 and _finite(b)


@pytest.mark.parametrize("body, field", [
    ({"experiment": "goe", "dims": [0]}, "dims"),
    ({"experiment": "goe", "dims": [101]}, "dims"),
    ({"experiment": "goe", "samples": 2_000_000}, "samples"),
    ({"experiment": "goe", "dims": list(range(1, 70)), "samples": 100_000}, "samples"),
    ({"experiment": "goe", "layers": [1, 0, 1]}, "layers"),
    ({"experiment": "network", "dims": [0]}, "dims"),
    ({"experiment": "network", "layers": [1, 30, 30, 1]}, "layers"),
    ({"experiment": "network", "starts": 0}, "starts"),
    ({"experiment": "network", "grad_tol": 0}, "grad_tol"),
    ({"experiment": "network", "dataset": {"name": "moons"}, "layers": [2, 3, 3]}, "layers"),
    ({"experiment": "saddle"}, "experiment"),
    ({}, "experiment"),
])
def test_saddle_bad_input_is_a_422_naming_the_field(client, body, field):
    errors = _errors(client.post("/api/v1/landscapes/saddle-statistics", json=body))
    assert field in errors, errors


def test_the_other_experiments_fields_are_checked_then_ignored_and_listed(client):
    b = client.post("/api/v1/landscapes/saddle-statistics", json={**GOE, "dims": [1], "samples": 1000,
                                                                   "layers": [1, 3, 1], "starts": 2}).get_json()
    assert b["ignored"] == ["layers", "starts"] and b["dims"] == [1]
    b = client.post("/api/v1/landscapes/saddle-statistics",
                    json={"experiment": "network", "starts": 2, "train_steps": 10, "samples": 5}).get_json()
    assert b["ignored"] == ["samples"] and len(b["points"]) == 2


def test_catalog_lists_the_curvature_sections(client):
    c = client.get("/api/v1/catalog").get_json()
    assert c["edge_of_stability"][0]["preset"]["curvature"] == {"every": 100}
    assert c["presets"]["edge_of_stability"] == c["edge_of_stability"][0]["preset"]
    assert c["hessian"][0]["defaults"]["top_k"] == 5
    assert [e["name"] for e in c["saddle_statistics"]] == ["goe", "network"]
    assert c["limits"]["max_hessian_top_k"] == 20


# -- the training option ------------------------------------------------------------------------------------
SMALL_RUN = {"dataset": {"name": "polynomial", "degree": 3, "n_train": 12, "n_val": 4, "noise": 0.0},
             "model": {"layers": [1, 8, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.01},
             "epochs": 12, "batch_size": 12, "curvature": {"every": 5}}


def test_training_run_with_curvature_gains_the_history_fields(client):
    r = client.post("/api/v1/training/run", json=SMALL_RUN)
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    h = b["history"]
    assert h["sharpness_epoch"] == [5, 10, 12] and len(h["sharpness"]) == len(h["preconditioned_sharpness"]) == 3
    assert h["threshold"] == pytest.approx([38.0 / 0.01] * 3)  # (2 + 2·0.9)/((1 − 0.9)·lr)
    assert b["settings"]["curvature"]["compare"] == "preconditioned_sharpness"
    _finite(b)
    # the engine's numbers (checked against dense Hessians in tests/test_edge_of_stability.py), unchanged by JSON
    from engine.training import train

    want = train(**SMALL_RUN).history
    assert h["sharpness"] == want.sharpness.tolist() and h["preconditioned_sharpness"] == want.preconditioned_sharpness.tolist()
    plain = client.post("/api/v1/training/run", json={**SMALL_RUN, "curvature": None}).get_json()
    assert plain["history"]["sharpness"] == [] and plain["history"]["train_loss"] == h["train_loss"]


def test_training_stream_sends_the_records_with_their_epochs(client):
    run = client.post("/api/v1/training/run", json=SMALL_RUN).get_json()
    events = _sse(client.post("/api/v1/training/stream", json=SMALL_RUN).data)
    recs = {rec["epoch"]: rec for kind, rec in events if kind == "epoch"}
    h = run["history"]
    for i, e in enumerate(h["sharpness_epoch"]):
        assert recs[e]["sharpness"] == h["sharpness"][i] and recs[e]["threshold"] == h["threshold"][i]
        assert recs[e]["preconditioned_sharpness"] == h["preconditioned_sharpness"][i]
    assert "sharpness" not in recs[1] and events[-1][1] == run


@pytest.mark.parametrize("over, field", [
    ({"curvature": {"every": 0}}, "curvature.every"),
    ({"curvature": {"every": 1.5}}, "curvature.every"),
    ({"curvature": {"tol": 1.0}}, "curvature.tol"),
    ({"curvature": {"often": 1}}, "curvature.often"),
    ({"curvature": 5}, "curvature"),
    ({"epochs": 2000, "curvature": {"every": 1}}, "curvature.every"),  # limit max_sharpness_evaluations
])
def test_training_curvature_bad_input_is_a_422_naming_the_field(client, over, field):
    errors = _errors(client.post("/api/v1/training/run", json={**SMALL_RUN, **over}))
    head, _, rest = field.partition(".")
    assert field in errors or (rest and rest in errors.get(head, {})), errors  # engine: dotted; schema: nested


def test_the_catalog_preset_replays_as_a_training_run(client):
    preset = client.get("/api/v1/catalog").get_json()["presets"]["edge_of_stability"]
    b = client.post("/api/v1/training/run", json=preset).get_json()
    h = b["history"]
    two_over_lr = 2.0 / preset["optimizer"]["lr"]
    assert len(h["sharpness"]) == preset["epochs"] // preset["curvature"]["every"]
    assert abs(h["sharpness"][-1] / two_over_lr - 1.0) < 0.15 and h["threshold"][-1] == pytest.approx(two_over_lr)
