"""/api/v1/training: datasets, runs, streams, comparisons, the doctor; happy paths and bad input."""

import math

import numpy as np
import pytest

from engine.datasets import make_dataset
from engine.limits import LIMITS

URL = "/api/v1/training"


def _field_error(r, field):
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    assert set(body) >= {"code", "status", "message"} and body["code"] == 422
    assert field in str(body["errors"]) or field in body["message"], body
    return body


# -- /dataset -------------------------------------------------------------------------------------


def test_dataset_happy_path_matches_the_engine(client):
    r = client.post(f"{URL}/dataset", json={"name": "spirals", "n_train": 30, "n_val": 9, "n_classes": 3, "seed": 5})
    assert r.status_code == 200
    body = r.get_json()
    d = make_dataset("spirals", {"n_train": 30, "n_val": 9, "n_classes": 3, "seed": 5})
    np.testing.assert_array_equal(np.array(body["x_train"]), d.X_train)
    assert body["y_train"] == [int(v) for v in d.Y_train[:, 0]]
    assert body["task"] == "classification" and body["n_classes"] == 3
    assert body["params"]["turns"] == 0.75 and len(body["x_val"]) == 9


@pytest.mark.parametrize(
    "payload, field",
    [
        ({"name": "nope"}, "name"),
        ({}, "name"),
        ({"name": "sine", "n_train": "many"}, "n_train"),
        ({"name": "sine", "n_train": LIMITS["max_train_samples"] + 1}, "max_train_samples"),
        ({"name": "sine", "noise": -0.5}, "noise"),
        ({"name": "sine", "degree": 3}, "dataset.degree"),
        ({"name": "sine", "colour": "red"}, "colour"),
    ],
)
def test_dataset_bad_input(client, payload, field):
    _field_error(client.post(f"{URL}/dataset", json=payload), field)


def test_non_json_body_is_400(client):
    r = client.post(f"{URL}/dataset", data=b"not json", content_type="application/json")
    assert r.status_code == 400 and r.get_json()["code"] == 400


# -- /diagnose ------------------------------------------------------------------------------------


def test_diagnose_overfitting_curves(client):
    e = np.arange(1, 101)
    train = list(np.exp(-e / 20))
    val = list(0.2 + np.exp(-e / 20) + 0.004 * np.maximum(e - 40, 0))
    r = client.post(f"{URL}/diagnose", json={"train_loss": train, "val_loss": val})
    assert r.status_code == 200
    body = r.get_json()
    assert body["diagnosis"] == "overfitting"
    assert body["evidence"]["best_val_epoch"] == int(np.argmin(val)) + 1
    assert [n["node"] for n in body["tree"]][-1] == "overfitting" and body["tree"][-1]["answer"] is True
    assert "early" in body["action"].lower()


def test_diagnose_nulls_are_divergence(client):
    r = client.post(f"{URL}/diagnose", json={"train_loss": [1.0, 0.9, 0.8, None, None]})
    assert r.status_code == 200
    assert r.get_json()["diagnosis"] == "diverging"
    assert r.get_json()["evidence"]["first_non_finite_epoch"] == 4


@pytest.mark.parametrize(
    "payload, field",
    [
        ({}, "train_loss"),
        ({"train_loss": [1.0, 0.5]}, "train_loss"),
        ({"train_loss": "1,2,3"}, "train_loss"),
        ({"train_loss": [1, 0.5, True, 0.2, 0.1]}, "train_loss"),
        ({"train_loss": [1, 0.5, 0.3, 0.2, 0.1], "val_loss": [1, 0.5, 0.3, 0.2, 0.1, 0.1]}, "val_loss"),
        ({"train_loss": [1, 0.5, -0.3, 0.2, 0.1]}, "train_loss"),
        ({"train_loss": [1.0] * (LIMITS["max_doctor_epochs"] + 1)}, "max_doctor_epochs"),
        ({"train_loss": [1, 0.5, 0.3, 0.2, 0.1], "extra": 1}, "extra"),
    ],
)
def test_diagnose_bad_input(client, payload, field):
    _field_error(client.post(f"{URL}/diagnose", json=payload), field)


# -- /run, /compare, /stream ----------------------------------------------------------------------

RUN = {
    "dataset": {"name": "sine", "n_train": 30, "n_val": 50, "noise": 0.3, "seed": 0},
    "model": {"layers": [1, 16, 16, 1], "activation": "tanh", "init": {"name": "xavier_uniform", "gain": 1.0}},
    "optimizer": {"name": "adam", "lr": 0.01},
    "schedule": {"name": "warmup_cosine", "warmup_steps": 5},
    "regularization": {"l1": 0, "l2": 1e-4, "dropout": 0.1},
    "epochs": 30,
    "batch_size": 16,
    "early_stopping": {"patience": 20, "min_delta": 0},
    "seed": 0,
}


def _sse(data: bytes) -> list[tuple[str, dict]]:
    import orjson

    out = []
    for block in data.decode().strip().split("\n\n"):
        lines = dict(line.split(": ", 1) for line in block.split("\n"))
        out.append((lines["event"], orjson.loads(lines["data"])))
    return out


def test_run_happy_path(client):
    r = client.post(f"{URL}/run", json=RUN)
    assert r.status_code == 200, r.get_json()
    body = r.get_json()
    h = body["history"]
    n = body["epochs_run"]
    for c in ("train_loss", "val_loss", "lr", "grad_norm", "weight_norm", "sparsity"):
        assert len(h[c]) == n and all(isinstance(v, float) for v in h[c]), c
    assert h["val_accuracy"] == [] and body["final_val_accuracy"] is None
    assert body["stop_reason"] in ("completed", "early_stopping") and 1 <= body["best_epoch"] <= n
    assert body["prediction"]["kind"] == "line" and len(body["prediction"]["x"]) == 200
    assert body["settings"]["loss"] == "mse" and body["settings"]["schedule"]["total_steps"] == 30
    # the lr trace is what /api/v1/schedules says for the same settings (stepped per epoch)
    s = client.post("/api/v1/schedules", json={"schedule": RUN["schedule"], "base_lr": 0.01, "steps": 30})
    assert s.status_code == 200
    assert h["lr"] == s.get_json()["lr"][:n]
    # and the engine gives the same numbers
    from engine.training import train

    e = train(**{k: v for k, v in RUN.items()})
    np.testing.assert_array_equal(np.array(h["val_loss"]), e.history.val_loss)


def test_run_classification_grid(client):
    body = {**RUN, "dataset": {"name": "blobs", "n_classes": 3, "n_train": 60, "n_val": 30},
            "model": {"layers": [2, 8, 3], "activation": "relu"}, "schedule": None, "early_stopping": None,
            "prediction": {"grid": 12}, "epochs": 10}
    r = client.post(f"{URL}/run", json=body)
    assert r.status_code == 200, r.get_json()
    b = r.get_json()
    assert b["settings"]["loss"] == "cross_entropy_with_logits" and b["stop_reason"] == "completed"
    assert len(b["history"]["val_accuracy"]) == 10 and 0 <= b["final_val_accuracy"] <= 1
    p = b["prediction"]
    assert p["kind"] == "grid" and len(p["label"]) == 12 and len(p["label"][0]) == 12
    assert {v for row in p["label"] for v in row} <= {0, 1, 2}


def test_run_divergence_is_data_not_nan(client):
    body = {**RUN, "model": {"layers": [1, 16, 16, 1], "activation": "tanh"}, "schedule": None,
            "early_stopping": None, "regularization": {}, "optimizer": {"name": "sgd", "lr": 0.5, "momentum": 0.9},
            "dataset": {"name": "sine", "n_train": 30, "n_val": 50, "seed": 0}, "batch_size": 10, "epochs": 300}
    r = client.post(f"{URL}/run", json=body)
    assert r.status_code == 200
    assert b"NaN" not in r.data and b"Infinity" not in r.data
    b = r.get_json()
    for col in b["history"].values():  # orjson would write a non-finite float as null
        assert all(isinstance(v, float) and math.isfinite(v) for v in col)
    assert all(isinstance(v, float) and math.isfinite(v) for v in b["prediction"]["y"])
    assert math.isfinite(b["final_val_loss"]) and b["prediction"]["finite"]
    b = r.get_json()
    assert b["stop_reason"] == "diverged" and b["stopped_epoch"] == b["epochs_run"] + 1
    assert len(b["history"]["train_loss"]) == b["epochs_run"]
    # the doctor agrees, reading the engine's own curve
    d = client.post(f"{URL}/diagnose", json={"train_loss": b["history"]["train_loss"],
                                              "val_loss": b["history"]["val_loss"]})
    assert d.get_json()["diagnosis"] == "diverging"


def test_compare_happy_path(client):
    body = {**RUN, "early_stopping": None, "schedule": None, "variants": [
        {"name": "none"}, {"name": "l2", "regularization": {"l2": 1e-3}},
        {"name": "drop", "regularization": {"dropout": 0.3, "l2": 0}}]}
    r = client.post(f"{URL}/compare", json=body)
    assert r.status_code == 200, r.get_json()
    runs = r.get_json()["runs"]
    assert [x["name"] for x in runs] == ["none", "l2", "drop"]
    for x in runs:
        assert x["gap"] == pytest.approx(x["final_val_loss"] - x["final_train_loss"])
        assert len(x["history"]["val_loss"]) == 30
    # variants override the shared regularization key by key
    assert runs[0]["regularization"] == {"l1": 0.0, "l2": 1e-4, "dropout": 0.1, "weight_decay": 0.0}
    assert runs[2]["regularization"]["dropout"] == 0.3 and runs[2]["regularization"]["l2"] == 0.0


def test_stream_equals_run(client):
    run = client.post(f"{URL}/run", json=RUN).get_json()
    r = client.post(f"{URL}/stream", json=RUN)
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = _sse(r.data)
    kinds = [k for k, _ in events]
    assert kinds == ["epoch"] * run["epochs_run"] + ["summary"]
    h = run["history"]
    for e, (_, rec) in enumerate(events[:-1]):
        assert rec["epoch"] == e + 1
        for c in ("train_loss", "val_loss", "lr", "grad_norm", "weight_norm", "sparsity", "batch_loss", "penalty"):
            assert rec[c] == h[c][e], (e, c)
    assert events[-1][1] == run


def test_stream_stops_when_the_client_disconnects(client, monkeypatch):
    from engine import training

    made = []
    real = training.stream

    def spy(**kw):
        s = real(**kw)
        made.append(s)
        return s

    monkeypatch.setattr(training, "stream", spy)
    r = client.post(f"{URL}/stream", json={**RUN, "epochs": 500, "early_stopping": None}, buffered=False)
    assert r.status_code == 200
    it = iter(r.response)
    for _ in range(3):
        assert next(it).startswith(b"event: epoch")
    r.close()  # what the server does when the client goes away: the generator is closed
    s = made[0]
    assert s.epochs_computed == 3 and s.result is None
    assert list(s) == [] and s.epochs_computed == 3  # nothing more is computed


def test_stream_bad_input_is_a_json_422(client):
    r = client.post(f"{URL}/stream", json={**RUN, "model": {"layers": [2, 4, 1]}})
    _field_error(r, "model.layers")
    assert r.mimetype == "application/json"


@pytest.mark.parametrize(
    "change, field",
    [
        ({"dataset": None}, "dataset"),
        ({"model": {"layers": [1, "x", 1]}}, "layers"),
        ({"model": {"layers": [1]}}, "layers"),
        ({"model": {"layers": [1, 4, 1], "activation": "swish"}}, "activation"),
        ({"model": {"layers": [2, 4, 1]}}, "model.layers"),
        ({"model": {"layers": [1, 4, 1], "init": {"name": "uniform", "a": 1.0, "b": 0.0}}}, "model.init.b"),
        ({"optimizer": {"name": "adam", "momentum": 0.9}}, "momentum"),
        ({"optimizer": {"lr": 0.1}}, "name"),
        ({"epochs": LIMITS["max_epochs"] + 1}, "max_epochs"),
        ({"epochs": 1.5}, "epochs"),
        ({"batch_size": 0}, "batch_size"),
        ({"regularization": {"dropout": 1.5}}, "dropout"),
        ({"early_stopping": {"patience": "soon"}}, "patience"),
        ({"clip": {}}, "clip"),
        ({"loss": "bce_with_logits"}, "loss"),
        ({"loss": "kl_div"}, "loss"),
        ({"prediction": {"points": 10_000}}, "max_prediction_axis"),
        ({"dataset": {"name": "sine", "n_train": 5000, "n_val": 5000}, "epochs": 5000}, "max_training_work"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_run_bad_input(client, change, field):
    _field_error(client.post(f"{URL}/run", json={**RUN, **change}), field)


@pytest.mark.parametrize(
    "change, field",
    [
        ({}, "variants"),
        ({"variants": []}, "variants"),
        ({"variants": [{"name": str(i)} for i in range(LIMITS["max_compare_variants"] + 1)]}, "variants"),
        ({"variants": [{"name": "a"}, {"name": "a"}]}, "variants.1.name"),
        ({"variants": [{"regularization": {}}]}, "name"),
        ({"variants": [{"name": "a", "regularization": {"l9": 1}}]}, "l9"),
    ],
)
def test_compare_bad_input(client, change, field):
    _field_error(client.post(f"{URL}/compare", json={**RUN, **change}), field)


def test_catalog_has_datasets_and_regularizers(client):
    body = client.get("/api/v1/catalog").get_json()
    assert {d["name"] for d in body["datasets"]} == {"sine", "polynomial", "moons", "circles", "spirals", "xor", "blobs",
                                                    "inline", "csv"}
    assert {d["name"] for d in body["regularizers"]} >= {"none", "l1", "l2", "dropout"}
    assert body["limits"]["max_training_work"] == LIMITS["max_training_work"]
