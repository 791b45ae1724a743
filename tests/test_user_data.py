"""The user's own data for training (engine.user_data): inline rows and CSV text, over HTTP and in Python.

The bar: 500 points of y = sin(3x) + noise sent inline to /training/run give the same history as the same
points passed to ``engine.train`` as numpy arrays, and as the split rebuilt by hand from the documented rule
(``default_rng(seed).permutation(n)[:round(val_fraction*n)]``) passed as an explicit validation set; bad rows
get a 422 naming the field, the row and the column.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

import engine
from engine.errors import EngineInputError
from engine.limits import LIMITS

URL = "/api/v1/training"
RUN = {"model": {"layers": [1, 16, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.01},
       "epochs": 40, "batch_size": 32, "seed": 7}


def sine_points(n=500, seed=11):
    rng = np.random.default_rng(seed)
    x = rng.uniform(-1.5, 1.5, n)
    return x.reshape(-1, 1), np.sin(3 * x) + 0.1 * rng.standard_normal(n)


def _errors(r) -> dict:
    """The 422's errors as {dotted field: messages} (the engine's are dotted already, marshmallow's nested)."""
    def flat(d, prefix=""):
        for k, v in d.items():
            key = f"{prefix}{k}"
            if isinstance(v, dict):
                yield from flat(v, key + ".")
            else:
                yield key, v
    return dict(flat(r.get_json()["errors"]["json"]))


def _history(body: dict) -> dict:
    return {k: np.asarray(v) for k, v in body["history"].items()}


def test_500_inline_points_over_http_train_exactly_as_numpy_arrays_in_python(client):
    X, y = sine_points()
    body = {**RUN, "dataset": {"name": "inline", "x": X.tolist(), "y": [[v] for v in y.tolist()],
                               "val_fraction": 0.2, "seed": 3}}
    r = client.post(f"{URL}/run", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    got = r.get_json()
    assert got["settings"]["dataset"] == {"name": "inline", "n_train": 400, "n_val": 100, "n_inputs": 1,
                                          "val_fraction": 0.2, "seed": 3}
    py = engine.train(**{**RUN, "dataset": {"name": "inline", "x": X, "y": y, "val_fraction": 0.2, "seed": 3}})
    # the documented split rebuilt independently, as an explicit validation set through the Python helper
    val = np.random.default_rng(3).permutation(500)[:100]
    keep = np.setdiff1d(np.arange(500), val)
    val.sort()
    by_hand = engine.train(**{**RUN, "dataset": engine.inline_dataset(X[keep], y[keep],
                                                                       validation={"x": X[val], "y": y[val]})})
    for run in (py, by_hand):
        for k, col in _history(got).items():
            np.testing.assert_array_equal(col, getattr(run.history, k), err_msg=k)
    h = got["history"]
    assert h["val_loss"][-1] < 0.5 * h["val_loss"][0]  # it learns the curve: the points were read right
    assert got["prediction"]["kind"] == "line" and len(got["prediction"]["x"]) == 200


def test_stream_and_compare_take_inline_data(client):
    X, y = sine_points(60)
    ds = {"name": "inline", "x": X.tolist(), "y": y.tolist()}
    run = client.post(f"{URL}/run", json={**RUN, "epochs": 5, "dataset": ds}).get_json()
    events = client.post(f"{URL}/stream", json={**RUN, "epochs": 5, "dataset": ds}).get_data(as_text=True)
    epochs = [json.loads(line[6:]) for line in events.splitlines() if line.startswith("data: ") and '"epoch"' in line]
    assert [e["val_loss"] for e in epochs] == run["history"]["val_loss"]
    cmp = client.post(f"{URL}/compare", json={**RUN, "epochs": 5, "dataset": ds,
                                             "variants": [{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.1}}]})
    assert cmp.status_code == 200
    assert cmp.get_json()["runs"][0]["history"]["val_loss"] == run["history"]["val_loss"]


def test_csv_classification_equals_the_same_rows_inline(client):
    rng = np.random.default_rng(0)
    X = rng.standard_normal((80, 2))
    labels = (X[:, 0] * X[:, 1] > 0).astype(int)
    text = "x1,x2,label\n" + "\n".join(f"{a!r},{b!r},{c}" for (a, b), c in zip(X.tolist(), labels))
    model = {"layers": [2, 8, 2]}
    common = {"model": model, "epochs": 10, "batch_size": 16, "seed": 1}
    via_csv = client.post(f"{URL}/run", json={**common, "dataset": {"name": "csv", "csv": text, "target": "label"}})
    inline = client.post(f"{URL}/run", json={**common, "dataset": {"name": "inline", "x": X.tolist(),
                                                                   "labels": labels.tolist()}})
    assert via_csv.status_code == inline.status_code == 200, via_csv.get_data(as_text=True)[:300]
    a, b = via_csv.get_json(), inline.get_json()
    assert a["history"] == b["history"] and a["settings"]["loss"] == "cross_entropy_with_logits"
    assert a["settings"]["dataset"]["features"] == ["x1", "x2"] and a["settings"]["dataset"]["task"] == "classification"
    assert a["prediction"]["kind"] == "grid"
    # no header, target by index, the same rows: the same run
    bare = "\n".join(f"{c},{x1!r},{x2!r}" for (x1, x2), c in zip(X.tolist(), labels))
    c = client.post(f"{URL}/run", json={**common, "dataset": {"name": "csv", "csv": bare, "target": 0}}).get_json()
    assert c["history"] == a["history"]


def test_csv_target_kind_follows_type_of_target_unless_told():
    d = engine.csv_dataset("a,t\n0,1\n1,2\n2,0\n3,1\n")
    assert d.task == "classification" and d.n_classes == 3
    assert engine.csv_dataset("a,t\n0,1.5\n1,2\n2,0\n3,1\n").task == "regression"
    d = engine.csv_dataset("a,t\n0,1\n1,2\n2,0\n3,1\n", task="regression")
    assert d.task == "regression" and d.n_classes == 0


def test_three_features_train_with_no_drawn_prediction(client):
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5])
    r = client.post(f"{URL}/run", json={"model": {"layers": [3, 1]}, "epochs": 3, "optimizer": {"name": "sgd", "lr": 0.01},
                                       "dataset": {"name": "inline", "x": X.tolist(), "y": y.tolist()}})
    assert r.status_code == 200 and r.get_json()["prediction"]["kind"] == "none"
    r = client.post(f"{URL}/run", json={"model": {"layers": [2, 1]}, "epochs": 1,
                                       "dataset": {"name": "inline", "x": X.tolist(), "y": y.tolist()}})
    assert r.status_code == 422 and "first width must be 3" in _errors(r)["model.layers"][0]


BAD = [
    ({"x": [[0.1], [0.2, 0.3], [0.4]], "y": [1, 2, 3]}, "dataset.x", "row 1 has 2 columns; row 0 has 1"),
    ({"x": [[0.1], [None], [0.4]], "y": [1, 2, 3]}, "dataset.x", "row 1, column 0: not a number (got null)"),
    ({"x": [[0.1, 1], [0.2, "3"], [0.4, 2]], "y": [1, 2, 3]}, "dataset.x", "row 1, column 1: not a number"),
    ({"x": [[0.1], [0.2], [True]], "y": [1, 2, 3]}, "dataset.x", "row 2, column 0: not a number (got a boolean"),
    ({"x": [[0.1], [0.2], [0.4]], "y": [1, None, 3]}, "dataset.y", "row 1, column 0"),
    ({"x": [[0.1], [0.2], [0.4]], "y": [1, 2]}, "dataset.y", "has 2 rows; x has 3"),
    ({"x": [[0.1], [0.2], [0.4]], "labels": [0, 1, -1]}, "dataset.labels", "row 2: a label must be an integer"),
    ({"x": [[0.1], [0.2], [0.4]], "y": [1, 2, 3], "labels": [0, 1, 1]}, "dataset.y", "exactly one"),
    ({"x": [[0.1], [0.2], [0.4]], "y": [1, 2, 3], "validation": {"x": [[1, 2]], "y": [1]}},
     "dataset.validation.x", "rows have 2 columns; x has 1"),
    ({"x": [[0.1], [0.2], [0.4]], "y": [1, 2, 3], "validation": {"x": [[1]], "y": [1]}, "val_fraction": 0.5},
     "dataset.val_fraction", "not both"),
    ({"x": [[0.1], [0.2], [0.4]], "y": [1, 2, 3], "colour": 1}, "dataset.colour", "Unknown field"),
    ({"x": "0.1,0.2", "y": [1, 2]}, "dataset.x", "must be a list of rows"),
    ({"x": [], "y": []}, "dataset.x", "at least one row"),
    ({"x": [[0.1], [0.2]], "y": [1, 2], "val_fraction": 1.0}, "dataset.val_fraction", ""),
    ({"x": [[0.1], [0.2]], "y": [1, 2], "seed": -1}, "dataset.seed", ""),
    ({"csv": "a,b\n1,2\n3,oops\n"}, "dataset.csv", "line 3, column 2 ('b'): 'oops' is not a number"),
    ({"csv": "a,b\n1,2\n3\n"}, "dataset.csv", "line 3 has 1 columns; expected 2"),
    ({"csv": "1,2\n3,inf\n"}, "dataset.csv", "line 2, column 2 ('1'): not a finite number"),
    ({"csv": "a,b\n1,2\n3,4\n", "target": "c"}, "dataset.target", "'c' is not a column"),
    ({"csv": "a\n1\n2\n"}, "dataset.csv", "at least 2 columns"),
    ({"csv": "a,b\n"}, "dataset.csv", "no data rows"),
    ({"csv": 12}, "dataset.csv", ""),
]


@pytest.mark.parametrize("dataset, field, words", BAD, ids=[f"{b[1]}-{i}" for i, b in enumerate(BAD)])
def test_bad_rows_get_a_422_naming_field_row_and_column(client, dataset, field, words):
    name = "csv" if "csv" in dataset else "inline"
    r = client.post(f"{URL}/run", json={**RUN, "epochs": 1, "dataset": {"name": name, **dataset}})
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    errs = _errors(r)
    assert field in errs and words in errs[field][0], errs


def test_python_refusals_name_the_argument():
    with pytest.raises(EngineInputError) as e:
        engine.inline_dataset(np.array([[0.0], [np.inf]]), y=np.zeros(2))
    assert e.value.field == "x" and "row 1, column 0: not a finite number (got inf)" in e.value.message
    with pytest.raises(EngineInputError) as e:
        engine.train(dataset={"name": "inline", "x": np.zeros((4, 2)), "labels": np.array([0, 1, 2.5, 0])},
                     model={"layers": [2, 3]}, epochs=1)
    assert e.value.field == "dataset.labels" and "row 2" in e.value.message
    with pytest.raises(EngineInputError) as e:
        engine.inline_dataset(np.zeros((3, LIMITS["max_data_features"] + 1)), y=np.zeros(3))
    assert e.value.field == "x" and "max_data_features" in e.value.message


def test_the_split_keeps_order_and_is_seeded():
    X = np.arange(20.0).reshape(-1, 1)
    d = engine.inline_dataset(X, y=X[:, 0] * 2, val_fraction=0.3, seed=5)
    val = np.sort(np.random.default_rng(5).permutation(20)[:6])
    np.testing.assert_array_equal(d.X_val[:, 0], val)
    np.testing.assert_array_equal(d.X_train[:, 0], np.setdiff1d(np.arange(20), val))
    np.testing.assert_array_equal(d.Y_train[:, 0], 2 * d.X_train[:, 0])
    assert engine.inline_dataset(X[:2], y=[0, 1], val_fraction=0.01).X_val.shape == (1, 1)  # at least one row
    np.testing.assert_allclose(d.domain, [[-1.9, 20.9]], rtol=1e-15)  # [0, 19] widened by 10% of the span


def test_a_huge_refusal_costs_little(client):
    n = LIMITS["max_user_rows"] + 1
    r = client.post(f"{URL}/run", json={**RUN, "dataset": {"name": "inline", "x": [[0.0]] * n, "y": [0.0] * n}})
    assert r.status_code == 422 and "max_user_rows" in _errors(r)["dataset.x"][0]


def test_catalog_and_openapi_document_user_data(client):
    entries = {e["name"]: e for e in client.get("/api/v1/catalog").get_json()["datasets"]}
    assert {"inline", "csv"} <= set(entries) and "max_user_rows" in entries["inline"]["limits"]
    ex = entries["csv"]["example"]
    r = client.post(f"{URL}/run", json={"model": {"layers": [2, 2]}, "epochs": 1, "dataset": ex})
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    doc = client.get("/openapi.json").get_json()
    prop = doc["components"]["schemas"]["RunRequest"]["properties"]["dataset"]
    assert [s["$ref"].rsplit("/", 1)[-1] for s in prop["oneOf"]] == ["Dataset", "UserDataset"]
