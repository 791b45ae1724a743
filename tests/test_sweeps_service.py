"""POST /api/v1/sweeps validation, without a cluster: every bad sweep is a 422 naming the field before
anything is submitted; a valid one gets as far as submission (503: no Dask scheduler configured).

The bounds the OpenAPI document states on the sweep body are checked the way tests/test_limits.py
checks every other operation's (over: 422 naming the field; at: accepted, here 503 for want of a
cluster); the sweep limits each get a request just over them.
"""

from __future__ import annotations

import time

import pytest

from engine import SWEEP_KINDS, SWEEP_LIMITS
from test_limits import _request_schema, _set, bound_cases, flat_errors, names

RUN = {"dataset": {"name": "sine", "n_train": 20}, "model": {"layers": [1, 8, 1], "activation": "tanh"},
       "optimizer": {"name": "adam", "lr": 0.01}, "epochs": 20}
VALID = {"kind": "training/run", "base": RUN, "axes": {"optimizer.lr": [0.01, 0.1]}, "seeds": [0, 1],
         "metrics": ["final_val_loss"]}
# one small valid sweep per kind (HTTP field names: noise.seed, optimizers.N...)
PER_KIND = {
    "training/run": VALID,
    "training/compare": {"kind": "training/compare", "base": {**RUN, "variants": [{"name": "none"}, {
        "name": "l2", "regularization": {"l2": 0.01}}]}, "axes": {"dataset.n_train": [10, 40]}, "seeds": [0, 1]},
    "descent/trajectory": {"kind": "descent/trajectory", "base": {"surface": "rosenbrock", "start": [-1, 1],
                                                                  "noise": {"scale": 0.3}},
                           "axes": {"noise.scale": [0.1, 0.2], "optimizer": [{"name": "sgd", "lr": 1e-3}]}, "seeds": [1]},
    "descent/race": {"kind": "descent/race", "base": {"surface": "himmelblau", "optimizers": [
        {"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.05}]}, "axes": {"optimizers.1.lr": [0.01, 0.1]}},
    "descent/lr-sweep": {"kind": "descent/lr-sweep", "base": {"surface": "quadratic", "lrs": [0.01, 0.1]},
                         "axes": {"steps": [50, 100]}},
    "descent/basins": {"kind": "descent/basins", "base": {"surface": "himmelblau", "resolution": [20, 20],
                                                          "optimizer": {"name": "adam", "lr": 0.05}},
                       "axes": {"optimizer.lr": [0.01, 0.05]}},
    "lm/train": {"kind": "lm/train", "base": {"corpus": {"name": "reverse", "length": 3, "n_train": 40, "n_val": 10},
                                              "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "d_model": 8},
                                              "optimizer": {"name": "adamw", "lr": 0.01}, "steps": 12,
                                              "batch_size": 4, "eval_every": 4},
                 "axes": {"model.d_model": [8, 16], "optimizer.lr": [0.01, 0.03]}, "seeds": [0, 1]},
    "networks/hessian": {"kind": "networks/hessian", "base": {"layers": [2, 4, 1], "dataset": {"name": "moons",
                                                                                            "n_train": 24},
                                                              "top_k": 2, "density": False},
                         "axes": {"train_steps": [0, 20], "layers": [[2, 4, 1], [2, 8, 1]]}, "seeds": [0, 1]},
}
LM_BODY, HESSIAN_BODY = PER_KIND["lm/train"], PER_KIND["networks/hessian"]


def _post(client, body):
    t0 = time.perf_counter()
    r = client.post("/api/v1/sweeps", json=body)
    return r, time.perf_counter() - t0


@pytest.mark.parametrize("kind", sorted(SWEEP_KINDS))
def test_a_valid_sweep_of_every_kind_passes_validation(client, kind):
    r, _ = _post(client, PER_KIND[kind])
    body = r.get_json()
    assert r.status_code == 503, body  # validated; no Dask scheduler in TestConfig
    assert body["code"] == 503 and "DESCENTLAB_DASK_SCHEDULER" in body["message"] and r.headers["Retry-After"]


# paths through fields of several shapes: a named dataset or the user's own; a surface name or a formula
@pytest.mark.parametrize("body, field", [
    ({**VALID, "axes": {"dataset.n_train": [10, 20]}}, None),
    ({**VALID, "axes": {"dataset.val_fraction": [0.2, 0.3]}}, None),  # only the user's own data has it
    ({**VALID, "axes": {"dataset.n_trains": [10, 20]}}, "axes.dataset.n_trains"),
    ({**PER_KIND["descent/trajectory"], "axes": {"surface": ["rosenbrock", "himmelblau"]}}, None),
    ({**PER_KIND["descent/trajectory"], "axes": {"surface.expression": ["x**2 + y**2", "x**2 + 3*y**2"]}}, None),
    ({**PER_KIND["descent/trajectory"], "axes": {"surface.formula": ["x"]}}, "axes.surface.formula"),
])
def test_axis_paths_through_fields_of_several_shapes(client, body, field):
    r, _ = _post(client, body)
    if field is None:
        assert r.status_code in (422, 503), r.get_json()
        if r.status_code == 422:  # the path is known: any refusal is the combination's own, not the path's
            assert "unknown parameter path" not in str(r.get_json())
    else:
        assert r.status_code == 422 and names(flat_errors(r.get_json()), field), r.get_json()
        assert "unknown parameter path" in str(r.get_json())


BAD = [
    ({**VALID, "kind": "training/nope"}, "kind", None),
    ({**VALID, "base": {**RUN, "epochs": 0}}, "base.epochs", "max_epochs"),
    ({**VALID, "base": {**RUN, "model": {"layers": [1, 8, 1], "colour": 1}}}, "base.model.colour", None),
    ({**VALID, "base": {k: v for k, v in RUN.items() if k != "dataset"}}, "base.dataset", None),
    ({**VALID, "axes": {"optimizer.lr": [0.1, -1]}}, "axes.optimizer.lr", None),
    ({**VALID, "axes": {"optimizer.nope": [1]}}, "axes.optimizer.nope", None),
    ({**VALID, "axes": {"learning_rate": [1]}}, "axes.learning_rate", None),
    ({**VALID, "axes": {"optimizer.lr": []}}, "axes.optimizer.lr", None),
    ({**VALID, "axes": {"model.layers": [[2, 8, 1]]}}, "axes.model.layers", None),
    ({**VALID, "axes": {"epochs": list(range(1, 300))}}, "axes.epochs", "max_sweep_axis_values"),
    ({**VALID, "axes": {"epochs": list(range(1, 101)), "batch_size": list(range(1, 12))}}, "axes",
     "max_sweep_combinations"),
    ({**VALID, "axes": {"epochs": list(range(1, 101))}, "seeds": list(range(50))}, "seeds", "max_sweep_tasks"),
    ({**VALID, "axes": {f"a{i}": [1] for i in range(7)}}, "axes", "max_sweep_axes"),
    ({**VALID, "seeds": [3, 3]}, "seeds", None),
    ({**VALID, "seeds": [-1]}, "seeds.0", None),
    ({**VALID, "metrics": ["nope"]}, "metrics.0", None),
    ({**VALID, "seed_fields": ["model.seed"]}, "seed_fields.0", None),
    ({**VALID, "analysis": {"heatmap": {"x": "optimizer.lr", "y": "batch_size", "metric": "final_val_loss"}}},
     "analysis.heatmap.y", None),
    ({**VALID, "analysis": {"scaling": {"x": "n_params", "metric": "stop_reason"}}}, "analysis.scaling.metric", None),
    ({**PER_KIND["descent/race"], "axes": {"optimizers.5.lr": [0.1]}}, "axes.optimizers.5.lr", None),
    ({**PER_KIND["descent/basins"], "seeds": [0, 1]}, "seeds", None),  # basins has no seed field to vary
    ({**VALID, "axes": {"seed": [0, 1], "dataset.seed": [0, 1]}}, "seeds", None),  # the axes set both already
    ({**PER_KIND["descent/basins"], "base": {**PER_KIND["descent/basins"]["base"], "resolution": [500, 500]},
      "axes": {"steps": [200, 100_000]}}, "base.resolution", "max_descent_work"),  # the field the endpoint names
    # the language-model and curvature kinds: their endpoints' own schemas and checks, named under axes / base
    ({**LM_BODY, "axes": {"model.d_model": [8, 1000]}}, "axes.model.d_model", None),
    ({**LM_BODY, "axes": {"model.dmodel": [8]}}, "axes.model.dmodel", None),
    ({**LM_BODY, "axes": {"steps": [10, 10**6]}}, "axes.steps", None),
    ({**LM_BODY, "base": {**LM_BODY["base"], "batch_size": 0}}, "base.batch_size", None),
    ({**LM_BODY, "base": {**LM_BODY["base"], "model": {"name": "gpt", "n_layer": 4, "d_model": 128, "n_head": 4,
                                                       "block_size": 64}, "corpus": {"name": "markov"},
                          "steps": 20000, "eval_every": 1000}, "axes": {}}, "base.steps", "max_lm_work"),
    ({**HESSIAN_BODY, "axes": {"top_k": [2, 50]}}, "axes.top_k", None),
    ({**HESSIAN_BODY, "axes": {"layers": [[2, 4, 1], [3, 4, 1]]}}, "axes.layers", None),
    ({**HESSIAN_BODY, "axes": {"train_step": [1]}}, "axes.train_step", None),
    ({**HESSIAN_BODY, "base": {**HESSIAN_BODY["base"], "trace_samples": 0}}, "base.trace_samples", None),
    ({**HESSIAN_BODY, "base": {**HESSIAN_BODY["base"], "layers": [2, 512, 512, 1],
                               "dataset": {"name": "moons", "n_train": 150}}, "axes": {}}, "base.layers",
     "max_hessian_work"),
    ({**VALID, "base": {**RUN, "dataset": {"name": "sine", "n_train": 1000, "n_val": 200},
                        "model": {"layers": [1, 64, 64, 1]}, "epochs": 200, "batch_size": 6},
      "axes": {"optimizer.lr": [0.001, 0.002, 0.003, 0.004, 0.005, 0.006]}, "seeds": list(range(64))}, "axes",
     "max_sweep_budget"),
]


@pytest.mark.parametrize("body, field, limit", BAD, ids=[f for _, f, _ in BAD])
def test_bad_sweeps_get_422_naming_the_field_before_anything_is_submitted(client, body, field, limit):
    r, seconds = _post(client, body)
    err = r.get_json()
    assert r.status_code == 422, err
    assert set(err) >= {"code", "status", "message", "errors"}
    assert names(flat_errors(err), field), (field, err["errors"])
    if limit:
        assert limit in str(err)
    assert seconds < 2.0  # refusing is cheap (validation only)


def test_stated_bounds_of_the_sweep_body(client, app):
    doc = app.test_client().get("/openapi.json").get_json()
    schema = _request_schema(doc, "/api/v1/sweeps", "POST")
    problems, checked = [], 0
    for field, value, kind in bound_cases(doc, schema, VALID):
        r = client.post("/api/v1/sweeps", json=_set(VALID, field, value))
        checked += 1
        if kind == "over" and (r.status_code != 422 or not names(flat_errors(r.get_json()), field)):
            problems.append(f"{field}: want 422 naming it, got {r.status_code} {r.get_data(as_text=True)[:200]}")
        if kind == "at" and r.status_code != 503:
            problems.append(f"{field} at its bound: want 503 (valid, no cluster), got {r.status_code}")
    assert checked >= 3 and not problems, "\n".join(problems)


def test_each_kind_is_validated_by_its_endpoints_own_schema(app):
    doc = app.test_client().get("/openapi.json").get_json()
    for kind, k in SWEEP_KINDS.items():
        ref = doc["paths"][f"/api/v1/{kind}"]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        assert ref.rsplit("/", 1)[1] == k.request_schema.rsplit(":", 1)[1], kind


def test_catalog_lists_every_sweepable_kind_and_the_sweep_limits(client):
    cat = client.get("/api/v1/catalog").get_json()
    assert [k["name"] for k in cat["sweeps"]] == list(SWEEP_KINDS)
    assert {k: cat["limits"][k] for k in SWEEP_LIMITS} == SWEEP_LIMITS
    run = cat["sweeps"][0]
    assert run["seed_fields"] == {"seed": "seed", "dataset.seed": "dataset.seed"}
    assert {"final_val_loss", "generalization_gap", "val_loss_curve"} <= {m["name"] for m in run["metrics"]}


def test_without_a_cluster_reads_are_503_not_500(client):
    for method in ("get", "delete"):
        r = getattr(client, method)("/api/v1/sweeps/0123456789abcdef")
        assert r.status_code == 503 and r.get_json()["code"] == 503
    assert client.get("/api/v1/sweeps/abc/events").status_code == 503


@pytest.mark.parametrize("kind", sorted(SWEEP_KINDS))
def test_each_kinds_example_is_a_valid_body_of_its_endpoint_and_a_valid_sweep(client, kind):
    """The catalog's example of each kind (the warm-up's request) is accepted by the endpoint itself and as a
    sweep's base (no cluster here: 503, not 422)."""
    cat = client.get("/api/v1/catalog").get_json()
    example = next(e["example"] for e in cat["sweeps"] if e["name"] == kind)
    r = client.post(f"/api/v1/{kind}", json=example)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    axis = {"descent": "steps", "lm": "steps", "networks": "train_steps"}.get(kind.split("/")[0], "epochs")
    r = client.post("/api/v1/sweeps", json={"kind": kind, "base": example, "axes": {axis: [2, 3]}})
    assert r.status_code == 503, r.get_data(as_text=True)[:300]
