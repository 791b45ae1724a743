"""Every leaf of every endpoint's example body, replaced by null, a string, a list, huge and tiny numbers.

The example bodies are the load test's (``loadtests/scenarios.py``): one request per row, so an
endpoint gets this test by getting a load-test row, and ``test_every_post_operation_has_an_example``
fails for a documented POST without one. For each body, every leaf (every scalar; in lists longer
than four, the first and last) is replaced in turn by each of ``HOSTILE``, and the answer must be

* never a 5xx, and always JSON (never a NaN: the answer parses with orjson, which refuses it);
* a 422 whose errors name the replaced leaf or a field containing it (``start`` for ``start.0``): the
  path in marshmallow's tree or the engine's dotted name; never another field;
* or a 200 only if the OpenAPI document allows that value there (``null`` only where it says
  ``nullable``, a string only where it says string, ...), and with ``null`` in the answer only where
  the response schema says ``nullable``: a silent NaN or overflow shows up as a ``null``.

The bodies are the load test's small ones, so what is accepted costs little; sizes given huge numbers
are refused by their limits.

A 422 "names" the leaf when its error tree holds the leaf's path or a field containing it, or, for a
rule relating two fields (``lr_max`` must exceed ``lr_min``), when the message names the leaf's field.
"""

from __future__ import annotations

import math
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import orjson
import pytest

from service import create_app
from service.config import TestConfig

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
from scenarios import SCENARIOS, parse_sse  # noqa: E402

HOSTILE = [None, "x", [1.0], 1e308, -1e308, 5e-324]

# Beyond the load-test rows: bodies that fill the parameter maps and optional blocks the rows leave out.
EXTRA = [
    ("/api/v1/landscapes/grid", {"surface": "rastrigin", "params": {"A": 10.0}, "x_range": [-2, 2], "y_range": [-2, 2],
                                 "resolution": [5, 5], "gradient": True}),
    ("/api/v1/landscapes/slice", {"surface": "rosenbrock", "params": {"a": 1.0, "b": 100.0}, "point": [0, 0],
                                  "direction": [1, 1], "t_range": [-1, 1], "points": 11}),
    ("/api/v1/landscapes/critical-points", {"surface": "himmelblau", "x_range": [-5, 5], "y_range": [-5, 5], "seeds": 5}),
    ("/api/v1/descent/trajectory", {"surface": "linear_regression", "params": {"n": 16, "noise": 0.5, "seed": 1},
                                    "start": [0, 0], "steps": 20,
                                    "optimizer": {"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]},
                                    "schedule": {"name": "multistep", "milestones": [5, 10], "gamma": 0.5},
                                    "noise": {"scale": 0.1, "seed": 1}, "batch_size": 4, "clip": {"max_norm": 1.0},
                                    "tolerance": 1e-6}),
    ("/api/v1/descent/race", {"surface": "himmelblau", "start": [0, 0], "steps": 20, "minimum_tolerance": 0.001,
                              "optimizers": [{"name": "sgd", "lr": 0.01, "momentum": 0.9,
                                              "schedule": {"name": "cosine", "T_max": 10}}]}),
    ("/api/v1/descent/basins", {"surface": "himmelblau", "resolution": [4, 4], "steps": 20,
                                "optimizer": {"name": "adam", "lr": 0.05}, "schedule": {"name": "onecycle", "max_lr": 0.1},
                                "clip": {"max_value": 1.0}, "x_range": [-5, 5], "y_range": [-5, 5]}),
    ("/api/v1/networks/backprop", {"layers": [2, 3, 1], "activation": "leaky_relu",
                                   "activation_params": {"negative_slope": 0.1}, "loss": "huber",
                                   "loss_params": {"delta": 1.0}, "inputs": [[0.5, -1], [1, 2]], "targets": [[1], [0]],
                                   "init": {"name": "normal", "std": 0.5}, "seed": 1,
                                   "path": {"input": 0, "unit": 0, "through": [], "output": 0, "sample": 0}}),
    ("/api/v1/networks/gradient-profile", {"depth": 3, "width": 4, "activation": "elu", "activation_params": {"alpha": 1.0},
                                           "init": {"name": "kaiming_normal", "mode": "fan_in", "nonlinearity": "relu"},
                                           "clip": {"max_norm": 1.0}, "batch": 8,
                                           "training": {"optimizer": {"name": "sgd", "lr": 0.1}, "steps": 3, "every": 1}}),
    ("/api/v1/networks/landscape", {"layers": [2, 4, 1], "activation": "leaky_relu",
                                    "activation_params": {"negative_slope": 0.2},
                                    "dataset": {"name": "circles", "n": 20, "noise": 0.05, "factor": 0.5}, "dims": 1,
                                    "resolution": 5, "span": 1.0, "train_steps": 3,
                                    "optimizer": {"name": "adam", "lr": 0.01}}),
    ("/api/v1/training/run", {"dataset": {"name": "spirals", "n_train": 30, "n_val": 10, "noise": 0.1, "seed": 1,
                                          "n_classes": 3, "turns": 1.0},
                              "model": {"layers": [2, 8, 3], "activation": "leaky_relu",
                                        "activation_params": {"negative_slope": 0.1},
                                        "init": {"name": "xavier_uniform", "gain": 1.0}, "batch_norm": True},
                              "optimizer": {"name": "adam", "lr": 0.01}, "schedule": {"name": "warmup_cosine", "warmup_steps": 2},
                              "regularization": {"l1": 0.001, "l2": 0.001, "dropout": 0.1, "weight_decay": 0.01},
                              "early_stopping": {"patience": 2, "min_delta": 0.0, "restore_best_weights": True},
                              "clip": {"max_norm": 1.0}, "loss": "cross_entropy_with_logits",
                              "loss_params": {"label_smoothing": 0.1}, "epochs": 5, "batch_size": 8, "seed": 1,
                              "prediction": {"grid": 8}}),
    ("/api/v1/training/run", {"dataset": {"name": "sine", "n_train": 20, "n_val": 10, "frequency": 2.0},
                              "model": {"layers": [1, 4, 1]}, "loss": "huber", "loss_params": {"delta": 0.5}, "epochs": 3,
                              "batch_size": 8, "prediction": {"points": 8}}),
    ("/api/v1/losses/evaluate", {"loss": "huber", "predictions": [[0.1, 0.2], [0.3, 0.4]], "targets": [[0, 1], [1, 0]],
                                 "delta": 0.5}),
    ("/api/v1/losses/curves", {"losses": ["smooth_l1", "cross_entropy_with_logits"], "points": 11, "beta": 0.5,
                               "label_smoothing": 0.1, "x_range": [-2, 2], "p_range": [0.1, 1.0]}),
    ("/api/v1/schedules", {"schedule": {"name": "onecycle", "max_lr": 0.1, "pct_start": 0.3, "anneal_strategy": "linear",
                                        "three_phase": True}, "base_lr": 0.01, "steps": 20}),
    ("/api/v1/training/dataset", {"name": "polynomial", "n_train": 10, "n_val": 5, "degree": 3, "noise": 0.1, "seed": 2}),
]


# Asynchronous jobs have no load-test row (each would start a job on the load test's cluster); their
# example bodies are here. This app has no Dask scheduler, so a body it accepts is answered 503.
ASYNC = [
    ("/api/v1/sweeps", {"kind": "training/run",
                        # (no base value where an axis sets one: each axis value replaces it, whatever it was)
                        "base": {"dataset": {"name": "sine", "n_val": 10},
                                 "model": {"layers": [1, 4, 1], "activation": "tanh"},
                                 "optimizer": {"name": "adam"}, "epochs": 3, "batch_size": 8},
                        "axes": {"optimizer.lr": [0.01, 0.1], "dataset.n_train": [10, 20]}, "seeds": [0, 1],
                        "metrics": ["final_val_loss", "best_val_loss"]}),
]


@dataclass(frozen=True)
class Example:
    name: str
    path: str
    body: dict
    stream: bool = False


ROWS = [Example(s.name, s.path, s.make_body(random.Random(0)), s.stream) for s in SCENARIOS if s.method == "POST"]
ROWS += [Example(f"{path} extra {i}", path, body) for i, (path, body) in enumerate(EXTRA)]

app = create_app(TestConfig)
DOC = app.test_client().get("/openapi.json").get_json()


# -- the OpenAPI document, walked ------------------------------------------------------------------

def _deref(node: dict) -> dict:
    while "$ref" in node:
        name = node["$ref"].rsplit("/", 1)[1]
        node = {**DOC["components"]["schemas"][name], **{k: v for k, v in node.items() if k != "$ref"}}
    return node


def _alternatives(node: dict) -> list[dict]:
    node = _deref(node)
    alts = node.get("anyOf") or node.get("oneOf") or node.get("allOf")
    if not alts:
        return [node]
    out = []
    for a in alts:
        for b in _alternatives(a):
            out.append({**{k: v for k, v in node.items() if k not in ("anyOf", "oneOf", "allOf")}, **b})
    return out


def _child(node: dict, key) -> list[dict]:
    out = []
    for alt in _alternatives(node):
        if isinstance(key, int) and alt.get("type") == "array":
            out.append(alt.get("items", {}))
        elif isinstance(key, str) and (alt.get("type") in (None, "object")):
            props = alt.get("properties", {})
            if key in props:
                out.append(props[key])
            elif isinstance(alt.get("additionalProperties"), dict):
                out.append(alt["additionalProperties"])
            elif alt.get("additionalProperties") is not False and "properties" not in alt:
                out.append({})
    return out


def _nodes(root: dict, path: tuple) -> list[dict]:
    nodes = [root]
    for key in path:
        nodes = [c for n in nodes for c in _child(n, key)]
    return nodes


def _accepts(node: dict, value) -> bool:
    for alt in _alternatives(node):
        t = alt.get("type")
        if value is None:
            if alt.get("nullable"):
                return True
            continue
        if t is None:
            return True
        if (t == "number" and isinstance(value, (int, float)) and not isinstance(value, bool)
                or t == "integer" and isinstance(value, int) and not isinstance(value, bool)
                or t == "string" and isinstance(value, str) or t == "boolean" and isinstance(value, bool)
                or t == "array" and isinstance(value, list) or t == "object" and isinstance(value, dict)):
            return True
    return False


def _nullable_somewhere(node: dict, path: tuple) -> bool:
    return any(alt.get("nullable") or alt.get("type") is None for n in _nodes(node, path) for alt in _alternatives(n))


# -- bodies ----------------------------------------------------------------------------------------

def _leaves(value, path=()):
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, (*path, k))
    elif isinstance(value, list) and value:
        idx = range(len(value)) if len(value) <= 4 else (0, len(value) - 1)
        for i in idx:
            yield from _leaves(value[i], (*path, i))
    else:
        yield path


def _replaced(body, path, new):
    body = orjson.loads(orjson.dumps(body))
    node = body
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return body


def _error_paths(body: dict) -> set[tuple]:
    out = set()

    def walk(prefix, node):
        if isinstance(node, dict):
            for k, v in node.items():
                parts = tuple(int(p) if p.isdigit() else p for p in str(k).split("."))
                walk((*prefix, *parts), v)
        else:
            out.add(prefix[:-1] if prefix and prefix[-1] in ("value", "_schema") else prefix)

    walk((), body.get("errors", {}).get("json", {}))
    return out


def _null_paths(value, path=()):
    if value is None:
        yield path
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _null_paths(v, (*path, k))
    elif isinstance(value, list):
        for i, v in enumerate(value[:3] + value[-3:] if len(value) > 6 else value):
            yield from _null_paths(v, (*path, i))


def _decode(row, data: bytes, status: int):
    if row.stream and status == 200:
        return [e["data"] for e in parse_sse(data)]
    return orjson.loads(data)


def _request_schema(row) -> dict:
    return DOC["paths"][row.path]["post"]["requestBody"]["content"]["application/json"]["schema"]


def _response_schema(row) -> dict | None:
    content = DOC["paths"][row.path]["post"]["responses"]["200"].get("content", {})
    return content.get("application/json", {}).get("schema")


def test_every_post_operation_has_an_example():
    posts = {p for p, ops in DOC["paths"].items() if "post" in ops}
    have = {s.path for s in ROWS} | {p for p, _ in ASYNC}
    assert posts <= have, f"no load-test row (example body) for {sorted(posts - have)}"


@pytest.mark.parametrize("path, body", ASYNC, ids=[p for p, _ in ASYNC])
def test_every_leaf_of_an_async_job_refused_or_accepted_as_documented(path, body):
    """An accepted job is a 503 here (no cluster), checked before anything is submitted: a 422 naming the
    leaf, or a 503 only where the document allows the value."""
    client = app.test_client()
    assert client.post(path, json=body).status_code == 503
    req_schema = DOC["paths"][path]["post"]["requestBody"]["content"]["application/json"]["schema"]
    problems = []
    for leaf_path in _leaves(body):
        for new in HOSTILE:
            r = client.post(path, json=_replaced(body, leaf_path, new))
            where = f"{path} {'.'.join(map(str, leaf_path))}={new!r}"
            out = orjson.loads(r.get_data())
            if r.status_code == 422:
                named = _error_paths(out)
                leaf = next((k for k in reversed(leaf_path) if isinstance(k, str)), "")
                if not any(leaf_path[: len(p)] == p for p in named if p) and leaf not in out.get("message", ""):
                    problems.append(f"{where}: 422 names {sorted(map(str, named))}, not the leaf: {out['message']}")
            elif r.status_code != 503:
                problems.append(f"{where}: {r.status_code} {r.get_data(as_text=True)[:200]}")
            elif not any(_accepts(n, new) for n in _nodes(req_schema, leaf_path)):
                problems.append(f"{where}: accepted, but the document does not allow {new!r} there")
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


@pytest.mark.parametrize("path, body", EXTRA, ids=[f"{p} {i}" for i, (p, _) in enumerate(EXTRA)])
def test_the_extra_examples_are_valid(path, body):
    r = app.test_client().post(path, json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:400]


@pytest.mark.parametrize("row", ROWS, ids=[s.name for s in ROWS])
def test_every_leaf_refused_or_accepted_as_documented(row):
    client = app.test_client()
    base = row.body
    req_schema = _request_schema(row)
    resp_schema = _response_schema(row)
    problems = []
    for path in _leaves(base):
        for new in HOSTILE:
            body = _replaced(base, path, new)
            r = client.post(row.path, json=body)
            where = f"{row.path} {'.'.join(map(str, path))}={new!r}"
            if r.status_code >= 500 or r.status_code not in (200, 422):
                problems.append(f"{where}: {r.status_code} {r.get_data(as_text=True)[:200]}")
                continue
            try:
                out = _decode(row, r.get_data(), r.status_code)
            except (orjson.JSONDecodeError, ValueError) as e:
                problems.append(f"{where}: not JSON ({e})")
                continue
            if r.status_code == 422:
                named = _error_paths(out)
                leaf = next((k for k in reversed(path) if isinstance(k, str)), "")
                if not any(path[: len(p)] == p for p in named if p) and leaf not in out.get("message", ""):
                    problems.append(f"{where}: 422 names {sorted(map(str, named))}, not the leaf: {out['message']}")
                continue
            nodes = _nodes(req_schema, path)
            if not any(_accepts(n, new) for n in nodes):
                problems.append(f"{where}: 200, but the document does not allow {new!r} there")
            if resp_schema is not None and not row.stream:
                for np_ in _null_paths(out):
                    if not _nullable_somewhere(resp_schema, np_):
                        problems.append(f"{where}: 200 with null at {'.'.join(map(str, np_))} (NaN or overflow?)")
                        break
    assert not problems, "\n".join(problems[:40]) + f"\n({len(problems)} in all)"


def test_the_hostile_values_are_what_they_say():
    assert math.isinf(HOSTILE[3] * 10) and 0 < HOSTILE[5] < 1e-300
