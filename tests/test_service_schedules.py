"""/api/v1/schedules and the reusable optimizer/schedule/clip schemas: happy paths and refusals."""

from __future__ import annotations

import math

import pytest
from marshmallow import ValidationError

from engine import LIMITS
from service.schemas.common import ClipSchema, OptimizerSchema, ScheduleSchema

import naive

URL = "/api/v1/schedules"


def _errors(r):
    body = r.get_json()
    assert set(body) >= {"code", "status", "message", "errors"} and body["code"] == r.status_code
    return body["errors"]["json"]


def test_warmup_cosine_contract(client):
    r = client.post(URL, json={"schedule": {"name": "warmup_cosine", "warmup_steps": 2, "total_steps": 6},
                               "base_lr": 0.1, "steps": 7})
    assert r.status_code == 200
    body = r.get_json()
    want = [naive.schedule("warmup_cosine", 0.1, e, warmup_steps=2, total_steps=6) for e in range(7)]
    assert body["lr"] == pytest.approx(want, rel=1e-14, abs=1e-17)
    assert body["lr"][0] == 0.0 and body["lr"][2] == 0.1
    assert body["schedule"] == {"name": "warmup_cosine", "warmup_steps": 2, "total_steps": 6, "min_lr": 0.0,
                                "num_cycles": 0.5}


def test_defaults_are_echoed(client):
    r = client.post(URL, json={"schedule": {"name": "onecycle"}, "base_lr": 1.0, "steps": 10})
    assert r.status_code == 200
    body = r.get_json()
    assert body["schedule"]["total_steps"] == 10 and body["schedule"]["max_lr"] == 1.0
    assert body["lr"][0] == pytest.approx(0.04) and max(body["lr"]) == pytest.approx(1.0)


def test_multistep_and_limit_sized_request(client):
    r = client.post(URL, json={"schedule": {"name": "multistep", "milestones": [2, 4], "gamma": 0.5},
                               "base_lr": 1.0, "steps": 6})
    assert r.get_json()["lr"] == [1.0, 1.0, 0.5, 0.5, 0.25, 0.25]
    r = client.post(URL, json={"schedule": {"name": "cosine"}, "base_lr": 0.1, "steps": LIMITS["max_steps"]})
    assert r.status_code == 200 and len(r.get_json()["lr"]) == LIMITS["max_steps"]
    assert b"NaN" not in r.data and b"Infinity" not in r.data


@pytest.mark.parametrize("body,path", [
    ({"schedule": {"name": "cosin"}, "base_lr": 0.1, "steps": 5}, ("schedule", "name")),
    ({"schedule": {"T_max": 5}, "base_lr": 0.1, "steps": 5}, ("schedule", "name")),
    ({"schedule": {"name": "cosine", "gamma": 0.5}, "base_lr": 0.1, "steps": 5}, ("schedule", "gamma")),
    ({"schedule": {"name": "cosine", "T_max": 0}, "base_lr": 0.1, "steps": 5}, ("schedule", "T_max")),
    ({"schedule": {"name": "cosine", "T_max": "5"}, "base_lr": 0.1, "steps": 5}, ("schedule", "T_max")),
    ({"schedule": {"name": "cosine", "bogus": 1}, "base_lr": 0.1, "steps": 5}, ("schedule", "bogus")),
    ({"schedule": {"name": "onecycle", "anneal_strategy": "cosine"}, "base_lr": 0.1, "steps": 5},
     ("schedule", "anneal_strategy")),
    ({"schedule": {"name": "multistep", "milestones": [1, "x"]}, "base_lr": 0.1, "steps": 5},
     ("schedule", "milestones")),
    ({"schedule": {"name": "cosine"}, "base_lr": -1.0, "steps": 5}, ("base_lr",)),
    ({"schedule": {"name": "cosine"}, "base_lr": "fast", "steps": 5}, ("base_lr",)),
    ({"schedule": {"name": "cosine"}, "steps": 5}, ("base_lr",)),
    ({"schedule": {"name": "cosine"}, "base_lr": 0.1}, ("steps",)),
    ({"schedule": {"name": "cosine"}, "base_lr": 0.1, "steps": 0}, ("steps",)),
    ({"schedule": {"name": "cosine"}, "base_lr": 0.1, "steps": 2.5}, ("steps",)),
    ({"base_lr": 0.1, "steps": 5}, ("schedule",)),
    ({"schedule": "cosine", "base_lr": 0.1, "steps": 5}, ("schedule",)),
    ({"schedule": {"name": "cosine"}, "base_lr": 0.1, "steps": 5, "extra": 1}, ("extra",)),
])
def test_schema_refusals_name_the_field(client, body, path):
    r = client.post(URL, json=body)
    assert r.status_code == 422
    err = _errors(r)
    for key in path:
        err = err[key]
    assert err


def test_steps_over_limit_names_the_limit(client):
    r = client.post(URL, json={"schedule": {"name": "step"}, "base_lr": 0.1, "steps": LIMITS["max_steps"] + 1})
    assert r.status_code == 422
    assert "max_steps" in _errors(r)["steps"][0]


def test_milestones_over_limit(client):
    n = LIMITS["max_schedule_milestones"] + 1
    r = client.post(URL, json={"schedule": {"name": "multistep", "milestones": list(range(1, n + 1))},
                               "base_lr": 0.1, "steps": 5})
    assert r.status_code == 422
    assert "max_schedule_milestones" in _errors(r)["schedule"]["milestones"][0]


@pytest.mark.parametrize("schedule,field", [
    ({"name": "onecycle", "total_steps": 5}, "schedule.total_steps"),  # steps 8 > total_steps + 1
    ({"name": "onecycle", "total_steps": 10, "pct_start": 0.1}, "schedule.pct_start"),
    ({"name": "exponential", "gamma": 10.0}, "schedule"),  # overflows float64
    ({"name": "linear", "start_factor": 0.0}, "schedule.start_factor"),
])
def test_engine_refusals_name_the_field(client, schedule, field):
    r = client.post(URL, json={"schedule": schedule, "base_lr": 0.1, "steps": 8 if field != "schedule" else 400})
    assert r.status_code == 422
    assert list(_errors(r)) == [field]


def test_not_json(client):
    r = client.post(URL, data="{not json", content_type="application/json")
    assert r.status_code == 400


def test_catalog_has_optimizers_and_schedules(client):
    body = client.get("/api/v1/catalog").get_json()
    assert [e["name"] for e in body["optimizers"]][:3] == ["sgd", "adagrad", "rmsprop"]
    assert {e["name"] for e in body["schedules"]} >= {"cosine", "onecycle", "warmup_cosine"}
    assert body["limits"]["max_schedule_milestones"] == LIMITS["max_schedule_milestones"]


# -- the reusable schemas ---------------------------------------------------------------------------
def test_optimizer_schema():
    s = OptimizerSchema()
    assert s.load({"name": "adam", "lr": 0.01, "betas": [0.9, 0.99], "amsgrad": True}) == {
        "name": "adam", "lr": 0.01, "betas": [0.9, 0.99], "amsgrad": True}
    assert s.load({"name": "sgd", "momentum": 0.9, "nesterov": True}) == {"name": "sgd", "momentum": 0.9,
                                                                          "nesterov": True}
    for bad, key in [({"name": "adam", "momentum": 0.9}, "momentum"), ({"name": "adamx"}, "name"),
                     ({"lr": 0.1}, "name"), ({"name": "sgd", "lr": -1}, "lr"), ({"name": "adam", "betas": [0.9]}, "betas"),
                     ({"name": "sgd", "foo": 1}, "foo"), ({"name": "adam", "lr": math.inf}, "lr"),
                     ({"name": "adam", "betas": [0.9, 1.5]}, "betas")]:
        with pytest.raises(ValidationError) as e:
            s.load(bad)
        assert key in e.value.messages, bad


def test_schedule_schema():
    s = ScheduleSchema()
    assert s.load({"name": "cosine_warm_restarts", "T_0": 5, "T_mult": 2}) == {
        "name": "cosine_warm_restarts", "T_0": 5, "T_mult": 2}
    with pytest.raises(ValidationError) as e:
        s.load({"name": "step", "T_max": 3})
    assert "T_max" in e.value.messages


def test_clip_schema():
    s = ClipSchema()
    assert s.load({"max_norm": 1.0}) == {"max_norm": 1.0}
    assert s.load({"max_value": 0.5}) == {"max_value": 0.5}
    for bad in [{}, {"max_norm": 1.0, "max_value": 1.0}, {"max_norm": 0.0}, {"max_value": -1.0}, {"value": 1.0},
                {"max_norm": math.nan}]:
        with pytest.raises(ValidationError):
            s.load(bad)
