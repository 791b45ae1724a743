"""/api/v1/descent: every endpoint's happy path (against the engine) and its refusals (4xx JSON naming the field)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine.basins import basin_map
from engine.limits import LIMITS
from engine.trajectory import run_trajectory

API = "/api/v1/descent"


def post(client, path, body):
    r = client.post(f"{API}/{path}", json=body)
    return r.status_code, r.get_json()


def assert_refused(client, path, body, field, text="", code=422):
    status, b = post(client, path, body)
    assert status == code, b
    assert set(b) >= {"code", "status", "message", "errors"} and b["code"] == code
    flat = json.dumps(b["errors"])
    assert field in flat or field in b["message"], b
    assert text in json.dumps(b), b
    return b


# -- happy paths ------------------------------------------------------------------------------


def test_trajectory_matches_engine_and_contract(client):
    body = {"surface": "rosenbrock", "start": [-1.5, 2.0], "steps": 300,
            "optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]}, "schedule": {"name": "cosine"},
            "noise": {"scale": 0.5, "seed": 3}, "clip": {"max_norm": 100.0}, "tolerance": 1e-8}
    status, b = post(client, "trajectory", body)
    assert status == 200, b
    tr = run_trajectory("rosenbrock", (-1.5, 2.0), 300, {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]},
                        {"name": "cosine"}, noise_scale=0.5, seed=3, clip={"max_norm": 100.0}, tolerance=1e-8)
    assert b["status"] == tr.status and b["steps_taken"] == tr.steps_taken == len(b["path"]) - 1
    assert b["path"][0] == [-1.5, 2.0]
    for key in ("path", "loss", "gradient", "update", "lr", "step_gradient"):
        np.testing.assert_array_equal(np.array(b[key]), getattr(tr, key), err_msg=key)
    assert len(b["update"]) == len(b["lr"]) == b["steps_taken"]
    assert b["optimizer"] == "adam" and b["reason"] and b["bound"] == [[-200.0, 200.0], [-199.0, 201.0]]


def test_trajectory_minibatch_and_divergence_as_data(client):
    status, b = post(client, "trajectory", {"surface": "linear_regression", "start": [0, 0], "steps": 20,
                                            "optimizer": {"name": "sgd", "lr": 0.05}, "batch_size": 8})
    assert status == 200 and b["steps_taken"] == 20
    assert not np.allclose(b["step_gradient"], b["gradient"][:-1])
    status, b = post(client, "trajectory", {"surface": "rosenbrock", "start": [-1.5, 2.0], "steps": 100,
                                            "optimizer": {"name": "sgd", "lr": 1e200}})
    assert status == 200 and b["status"] == "diverged" and b["path"] == [[-1.5, 2.0]] and b["update"] == []


def test_race(client):
    body = {"surface": "himmelblau", "start": [0.0, 0.0], "steps": 400,
            "optimizers": [{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.05, "schedule": {"name": "cosine"}},
                           {"name": "sgd", "lr": 0.5}]}
    status, b = post(client, "race", body)
    assert status == 200, b
    assert [r["optimizer"] for r in b["runs"]] == ["sgd", "adam", "sgd"]
    assert [s["optimizer"] for s in b["summary"]] == ["sgd", "adam", "sgd"]
    first = run_trajectory("himmelblau", (0.0, 0.0), 400, {"name": "sgd", "lr": 0.01})
    np.testing.assert_array_equal(np.array(b["runs"][0]["path"]), first.path)
    assert b["summary"][0]["minimum"] == 0 and b["minima"][0] == {"x": 3.0, "y": 2.0, "value": 0.0, "known": True,
                                                                   "kind": "minimum"}
    assert b["summary"][2]["minimum"] == -1 and b["runs"][2]["status"] == "diverged"
    assert b["minimum_tolerance"] == 1e-3 and "minimum_tolerance" in b["rule"]


def test_race_default_start_and_shared_schedule(client):
    status, b = post(client, "race", {"surface": "rosenbrock", "steps": 10, "schedule": {"name": "step", "step_size": 5},
                                      "optimizers": [{"name": "sgd", "lr": 1e-4}]})
    assert status == 200
    assert b["runs"][0]["path"][0] == pytest.approx([-1.2, 2.2])  # 20% along x, 80% along y of [-2,2]x[-1,3]
    assert b["runs"][0]["lr"] == pytest.approx([1e-4] * 5 + [1e-5] * 5)


def test_lr_sweep(client):
    body = {"surface": "quadratic", "params": {"condition": 10}, "optimizer": {"name": "sgd"},
            "lrs": [0.001, 0.1, 0.21], "steps": 200, "start": [2.0, -1.5]}
    status, b = post(client, "lr-sweep", body)
    assert status == 200, b
    assert [r["lr"] for r in b["runs"]] == [0.001, 0.1, 0.21]
    assert [r["verdict"] for r in b["runs"]] == ["too_small", "good", "diverged"]
    assert "diverged" in b["rule"] and b["reference_loss"] == 0.0
    assert all(np.isfinite(r["loss"]).all() for r in b["runs"])


def test_lr_range_test(client):
    status, b = post(client, "lr-range-test", {"surface": "quadratic", "optimizer": {"name": "sgd"},
                                               "lr_min": 1e-4, "lr_max": 10, "steps": 200, "start": [2.0, -1.5]})
    assert status == 200, b
    assert len(b["lrs"]) == len(b["loss"]) == len(b["smoothed"]) == b["stopped_at"] + 1
    assert 0 < b["suggested_lr"] < 0.2 < b["lrs"][-1]  # 2/L = 0.2 on the default bowl
    assert "4" in b["rule"] and b["stop_reason"]


def test_basins(client):
    body = {"surface": "himmelblau", "optimizer": {"name": "adam", "lr": 0.05}, "x_range": [-5, 5],
            "y_range": [-4, 4], "resolution": [7, 5], "steps": 1000}
    status, b = post(client, "basins", body)
    assert status == 200, b
    eng = basin_map("himmelblau", {"name": "adam", "lr": 0.05}, (-5, 5), (-4, 4), (7, 5), 1000)
    assert np.array(b["label"]).shape == (5, 7)  # [row = y][col = x]
    np.testing.assert_array_equal(np.array(b["label"]), eng.label)
    np.testing.assert_array_equal(np.array(b["steps"]), eng.steps)
    assert b["x"] == pytest.approx(np.linspace(-5, 5, 7)) and b["y"] == pytest.approx(np.linspace(-4, 4, 5))
    assert [m["x"] for m in b["minima"]] == eng.minima[:, 0].tolist() and b["rule"]


def test_catalog_has_the_descent_section(client):
    cat = client.get("/api/v1/catalog").get_json()
    names = [e["name"] for e in cat["descent"]]
    assert names == ["trajectory", "race", "lr_sweep", "lr_range_test", "basins", "function"]
    assert set(cat["descent"][0]["statuses"]) == {"converged", "diverged", "max_steps"}
    for key in ("max_steps", "max_race_runs", "max_sweep_lrs", "max_basin_axis", "max_descent_work"):
        assert key in cat["limits"]


# -- refusals ---------------------------------------------------------------------------------

TRAJ = {"surface": "rosenbrock", "start": [-1.5, 2.0], "steps": 10, "optimizer": {"name": "sgd", "lr": 0.01}}


@pytest.mark.parametrize(
    "change,field,text",
    [
        ({"surface": "nope"}, "surface", "Must be one of"),
        ({"optimizer": {"name": "nope"}}, "optimizer", "name"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "momentum", "not a parameter"),
        ({"schedule": {"name": "nope"}}, "schedule", "name"),
        ({"steps": LIMITS["max_steps"] + 1}, "steps", "max_steps"),
        ({"steps": "ten"}, "steps", ""),
        ({"start": [1.0]}, "start", ""),
        ({"start": [1.0, "a"]}, "start", ""),
        ({"start": [1e5, 0.0]}, "start", "bound box"),
        ({"batch_size": 4}, "batch_size", "linear_regression"),
        ({"batch_size": 0}, "batch_size", ""),
        ({"noise": {"scale": -1}}, "noise", "scale"),
        ({"clip": {"max_norm": 1, "max_value": 1}}, "clip", ""),
        ({"tolerance": -1}, "tolerance", ""),
        ({"surprise": 1}, "surprise", "Unknown field"),
    ],
)
def test_trajectory_refusals(client, change, field, text):
    body = {**TRAJ, **change}
    assert_refused(client, "trajectory", body, field, text)


def test_missing_fields_and_non_json(client):
    assert_refused(client, "trajectory", {"surface": "rosenbrock"}, "start", "Missing data")
    assert_refused(client, "race", {"surface": "rosenbrock"}, "optimizers", "Missing data")
    assert_refused(client, "lr-sweep", {"surface": "rosenbrock"}, "lrs", "Missing data")
    assert_refused(client, "basins", {}, "surface", "Missing data")
    for path in ("trajectory", "race", "lr-sweep", "lr-range-test", "basins"):
        r = client.post(f"{API}/{path}", data="not json", content_type="application/json")
        assert r.status_code == 400 and r.get_json()["code"] == 400


def test_work_limits_name_the_budget(client):
    b = assert_refused(client, "basins", {"surface": "himmelblau", "resolution": [500, 500], "steps": 201},
                       "resolution", "max_descent_work")
    assert "max_descent_work" in b["message"]
    assert_refused(client, "basins", {"surface": "himmelblau", "resolution": [501, 10]}, "resolution", "max_basin_axis")
    assert_refused(client, "race", {"surface": "himmelblau", "steps": 60_000,
                                    "optimizers": [{"name": "sgd"}, {"name": "adam"}]}, "steps", "max_race_work")
    assert_refused(client, "race", {"surface": "himmelblau", "steps": 10,
                                    "optimizers": [{"name": "sgd"}] * (LIMITS["max_race_runs"] + 1)},
                   "optimizers", "max_race_runs")
    assert_refused(client, "lr-sweep", {"surface": "quadratic", "lrs": [0.1] * (LIMITS["max_sweep_lrs"] + 1)},
                   "lrs", "max_sweep_lrs")
    assert_refused(client, "lr-sweep", {"surface": "quadratic", "lrs": [0.1] * 10, "steps": 60_000},
                   "steps", "max_sweep_work")


def test_other_refusals(client):
    assert_refused(client, "race", {"surface": "himmelblau", "optimizers": []}, "optimizers", "")
    assert_refused(client, "race", {"surface": "himmelblau", "optimizers": [{"name": "sgd"}, {"name": "sgd", "nesterov": True}]},
                   "optimizers.1.nesterov", "Nesterov")
    assert_refused(client, "race", {"surface": "himmelblau", "optimizers": [{"name": "sgd", "schedule": {"name": "x"}}]},
                   "schedule", "")
    assert_refused(client, "lr-sweep", {"surface": "quadratic", "lrs": [0.1, 0.0]}, "lrs", "")
    assert_refused(client, "lr-range-test", {"surface": "quadratic", "lr_min": 1.0, "lr_max": 0.5}, "lr_max", "")
    assert_refused(client, "lr-range-test", {"surface": "quadratic", "steps": 1}, "steps", "max_steps")
    assert_refused(client, "basins", {"surface": "himmelblau", "x_range": [2, 1]}, "x_range", "")
    assert_refused(client, "basins", {"surface": "himmelblau", "y_range": [0, 1000]}, "y_range", "bound box")
