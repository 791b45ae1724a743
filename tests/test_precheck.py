"""Bounded cost before validation (service.precheck) and bounded error bodies (service.errors).

Each refusal here is checked for what it says (the field, the limit) and for what it must not do:
walk a list it has already judged too long, or echo a huge key back.
"""

from __future__ import annotations

import orjson
import pytest
from marshmallow import ValidationError

from service import precheck
from service.errors import MAX_ERRORS
from service.schemas.descent import RaceRequest
from service.schemas.training import RunRequest


class Untouchable(list):
    """A list whose items must not be looked at (only its length may be)."""

    def __iter__(self):
        raise AssertionError("the pre-check walked a list it should have refused by its length")

    def __getitem__(self, i):
        raise AssertionError("the pre-check read an item of a list it should have refused by its length")


def test_an_over_long_list_is_refused_by_its_length_alone():
    data = {"surface": "himmelblau", "optimizers": Untouchable([{}] * 1_000_000)}
    with pytest.raises(ValidationError) as e:
        precheck.check(RaceRequest(), data)
    assert e.value.messages == {"optimizers": ["must hold between 1 and 16 optimizers (limit max_race_runs)"]}


def test_a_list_with_a_declared_length_speaks_with_its_own_message():
    data = {"surface": "himmelblau", "optimizers": [{"name": "sgd"}], "start": Untouchable([0.0] * 11)}
    with pytest.raises(ValidationError) as e:
        precheck.check(RaceRequest(), data)
    assert e.value.messages == {"start": ["Length must be 2."]}


def test_a_list_without_a_declared_maximum_gets_the_global_cap():
    from service.schemas.networks import BackpropRequest

    budget = precheck.Budget(max_list_items=10)
    data = {"layers": [2, 1], "inputs": [[0, 0]], "targets": [[0]],
            "path": {"input": 0, "unit": 0, "output": 0, "sample": 0, "through": Untouchable([0] * 11)}}
    with pytest.raises(ValidationError) as e:
        precheck.check(BackpropRequest(), data, budget)
    assert e.value.messages == {"path": {"through": ["11 items exceed limit max_list_items=10"]}}


def test_nested_lists_are_bounded_at_every_level():
    body = {"dataset": {"name": "sine"}, "model": {"layers": [1, 4, 1]}, "epochs": 2,
            "variants": [{"name": "a" * 5000}]}
    from service.schemas.training import CompareRequest

    with pytest.raises(ValidationError) as e:
        precheck.check(CompareRequest(), body)
    assert e.value.messages == {"variants": {0: {"name": ["at most 64 characters (5000 given)"]}}}


@pytest.mark.parametrize("value", [7.9, "7", -0.5, True, None])
def test_scalars_must_already_be_their_json_type(value):
    body = {"dataset": {"name": "sine", "seed": value}, "model": {"layers": [1, 4, 1]}}
    if value is None:
        precheck.check(RunRequest(), body)  # null is marshmallow's to judge (allow_none), cheaply
        return
    with pytest.raises(ValidationError) as e:
        precheck.check(RunRequest(), body)
    assert list(e.value.messages) == ["dataset"] and list(e.value.messages["dataset"]) == ["seed"]


def test_many_unknown_keys_are_counted_and_cut():
    body = {"surface": "himmelblau", "optimizers": [{"name": "sgd"}]}
    body.update({f"k{i}" * 50: 1 for i in range(1000)})
    with pytest.raises(ValidationError) as e:
        precheck.check(RaceRequest(), body)
    msgs = e.value.messages
    assert len(msgs) == precheck.Budget().named + 1
    assert all(len(k) < 80 for k in msgs)
    assert "1000 unknown fields in all" in msgs["_schema"][0]


# -- over HTTP -------------------------------------------------------------------------------------

def error_paths(body: dict) -> set[str]:
    """Dotted field paths an error body names: marshmallow's nested tree and the engine's dotted keys alike
    (a Dict value's error ends in ``.value`` in marshmallow; that suffix is dropped)."""
    out = set()

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else str(k), v)
        else:
            out.add(prefix.removesuffix(".value"))

    walk("", body.get("errors", {}).get("json", {}))
    return out


def _post(client, path, raw: bytes):
    return client.post(path, data=raw, content_type="application/json")


def _race_with(n: int) -> bytes:
    return b'{"surface": "himmelblau", "optimizers": [' + b",".join([b"{}"] * n) + b"]}"


def test_a_million_empty_objects_are_refused_before_parsing(client):
    r = _post(client, "/api/v1/descent/race", _race_with(1_000_000))
    assert r.status_code == 422
    assert len(r.data) < 64 * 1024
    assert r.get_json()["errors"]["json"]["_body"] == ["1000001 JSON objects exceed limit max_body_objects=10000"]


def test_thousands_of_empty_objects_are_refused_naming_the_field(client):
    r = _post(client, "/api/v1/descent/race", _race_with(5_000))
    assert r.status_code == 422
    assert r.get_json()["errors"]["json"] == {
        "optimizers": ["must hold between 1 and 16 optimizers (limit max_race_runs)"]}


def test_four_million_numbers_are_refused_before_parsing(client):
    raw = b'{"loss": "mse", "predictions": [' + b",".join([b"0"] * 4_000_000) + b'], "targets": [0]}'
    r = _post(client, "/api/v1/losses/evaluate", raw)
    assert r.status_code == 422
    assert "exceed limit max_body_values=400000" in r.get_json()["errors"]["json"]["_body"][0]


def test_a_huge_unknown_key_is_not_echoed(client):
    key = "x" * 1_000_000
    r = _post(client, "/api/v1/losses/evaluate",
              orjson.dumps({"loss": "mse", "predictions": [1.0], "targets": [1.0], key: 1}))
    assert r.status_code == 422
    assert len(r.data) < 2048
    assert "chars)" in r.get_data(as_text=True)  # named by its first characters and its length


def test_error_bodies_are_capped_and_count_the_rest(client):
    # 64 learning rates of the wrong type: marshmallow would report each; the body lists MAX_ERRORS
    body = {"surface": "quadratic", "lrs": ["x"] * 64, "steps": 10}
    r = client.post("/api/v1/descent/lr-sweep", json=body)
    assert r.status_code == 422
    b = r.get_json()
    listed = sum(len(v) for v in b["errors"]["json"]["lrs"].values())
    assert listed + 1 == MAX_ERRORS  # and one note
    assert b["errors"]["json"]["_schema"] == [f"stopped after {MAX_ERRORS} errors (limit max_errors); fix these and send again"]


def test_the_renderer_caps_any_error_tree():
    from service.errors import cap_errors

    tree = {"json": {"a": {i: ["bad " + "x" * 1000] for i in range(100)}, "k" * 500: ["Unknown field."]}}
    capped, omitted = cap_errors(tree)
    leaves = [m for v in capped["json"].values() for m in (v if isinstance(v, list) else sum(v.values(), []))]
    assert len(leaves) == MAX_ERRORS and omitted == 101 - MAX_ERRORS
    assert all(len(m) < 400 for m in leaves) and all(len(k) < 80 for k in capped["json"])


@pytest.mark.parametrize("raw, line, col", [
    (b'{"loss": NaN}', 1, 10),
    (b'{"loss": "mse",\n "predictions": [1, 2,]}', 2, 22),
    (b'{"loss": Infinity}', 1, 10),
])
def test_json_parse_errors_say_line_and_column(client, raw, line, col):
    r = _post(client, "/api/v1/losses/evaluate", raw)
    assert r.status_code == 400
    msg = r.get_json()["message"]
    assert f"line {line}, column {col}" in msg, msg


@pytest.mark.parametrize("path, body, field", [
    ("/api/v1/training/dataset", {"name": "moons", "seed": 7.9}, "seed"),
    ("/api/v1/training/dataset", {"name": "moons", "seed": "7"}, "seed"),
    ("/api/v1/training/dataset", {"name": "moons", "seed": -0.5}, "seed"),
    ("/api/v1/training/dataset", {"name": "moons", "n_train": "30"}, "n_train"),
    ("/api/v1/landscapes/grid", {"surface": "booth", "gradient": "yes"}, "gradient"),
    ("/api/v1/descent/trajectory", {"surface": "booth", "start": [0, 0], "noise": {"seed": 1.5}}, "noise"),
    ("/api/v1/networks/gradient-profile", {"seed": "3"}, "seed"),
])
def test_every_seed_and_scalar_is_strict(client, path, body, field):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.get_json()
    assert field in r.get_json()["errors"]["json"]


@pytest.mark.parametrize("path, body, where", [
    ("/api/v1/landscapes/grid", {"surface": "rastrigin", "params": {"A": None}, "resolution": [3, 3]}, ("params", "A")),
    ("/api/v1/landscapes/grid", {"surface": "rastrigin", "params": {"A": "10"}, "resolution": [3, 3]}, ("params", "A")),
    ("/api/v1/descent/trajectory", {"surface": "rosenbrock", "start": [0, 0], "params": {"a": None}},
     ("params", "a")),
    ("/api/v1/networks/backprop", {"layers": [2, 1], "inputs": [[0, 0]], "targets": [[0]],
                                   "activation": "leaky_relu", "activation_params": {"negative_slope": None}},
     ("activation_params", "negative_slope")),
])
def test_null_or_a_string_in_a_parameter_map_is_a_422_naming_it(client, path, body, where):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.get_data(as_text=True)
    assert ".".join(where) in error_paths(r.get_json()), r.get_json()


def test_cors_preflight_names_only_the_routes_methods(client):
    r = client.options("/api/v1/losses/evaluate",
                       headers={"Origin": "http://x.test", "Access-Control-Request-Method": "POST"})
    assert r.headers["Access-Control-Allow-Methods"] == "POST"
    r = client.options("/api/v1/catalog", headers={"Origin": "http://x.test", "Access-Control-Request-Method": "GET"})
    assert r.headers["Access-Control-Allow-Methods"] == "GET"
