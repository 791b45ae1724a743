"""/api/v1/lm over HTTP: the contract's shapes, the stream, parameters out and back in, the inspect
numbers against their definitions, and bad input answered with a 422 naming the field."""

from __future__ import annotations

import base64
import json
import math
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "loadtests"))
from scenarios import parse_sse  # noqa: E402

SMALL_GPT = {"name": "gpt", "n_layer": 1, "n_head": 2, "d_model": 8, "block_size": 16}
RUN = {"corpus": {"name": "names"}, "model": SMALL_GPT, "steps": 20, "batch_size": 4, "eval_every": 10,
       "eval_tokens": 120, "sampling": {"length": 12}}


def _finite_json(text: str) -> None:
    assert "NaN" not in text and "Infinity" not in text
    json.loads(text)


@pytest.fixture(scope="module")
def run(app):
    r = app.test_client().post("/api/v1/lm/train", json={**RUN, "return_parameters": True})
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    _finite_json(r.get_data(as_text=True))
    return r.get_json()


def test_datasets_describe_each_corpus(client):
    r = client.post("/api/v1/lm/datasets", json={"corpus": {"name": "markov", "alphabet": 4, "order": 2}})
    assert r.status_code == 200
    b = r.get_json()
    assert b["vocab"] == list("abcd") and b["floor"] == b["floor_by_context"][-1]
    assert b["floor"] < b["baselines"]["unigram"] <= b["baselines"]["uniform"] == pytest.approx(math.log(4))
    assert len(b["examples"]) == 3 and b["train_tokens"] == 20_000
    b = client.post("/api/v1/lm/datasets", json={"corpus": {"name": "names"}}).get_json()
    assert b["vocab"][0] == "\n" and len(b["vocab"]) == 27 and b["floor"] is None and b["doc_len"] == 13
    assert b["baselines"]["bigram"] < b["baselines"]["unigram"] < b["baselines"]["uniform"]


def test_train_follows_the_contract(run):
    assert run["vocab"][:2] == ["\n", "a"] and run["floor"] is None
    assert set(run["baselines"]) >= {"uniform", "unigram", "bigram"}
    h = run["history"]
    assert h["step"] == [0, 10, 20]
    for key in ("train_loss", "val_loss", "lr", "grad_norm"):
        assert len(h[key]) == 3 and all(math.isfinite(v) for v in h[key])
    assert h["val_loss"][0] == pytest.approx(math.log(27), abs=0.05)  # GPT-2 init: near-uniform predictions
    assert set(h["block_grad_norm"]) == {b["name"] for b in run["layout"]}
    assert [s["step"] for s in run["samples"]] == [0, 10, 20] and all(len(s["text"]) == 12 for s in run["samples"])
    assert len(run["batch_loss"]) == 20 and run["status"] == "completed"
    p = run["parameters"]
    assert p["layout"] == run["layout"] and len(base64.b64decode(p["data"])) == 8 * run["n_params"]
    # the per-block norms compose the global one
    total = math.sqrt(sum(v[-1] ** 2 for v in h["block_grad_norm"].values()))
    assert total == pytest.approx(h["grad_norm"][-1], rel=1e-12)


def test_stream_sends_the_same_numbers(client, run):
    r = client.post("/api/v1/lm/stream", json={**RUN, "return_parameters": True})
    assert r.status_code == 200 and r.mimetype == "text/event-stream"
    events = parse_sse(r.get_data())
    assert [e["event"] for e in events] == ["eval"] * 3 + ["summary"]
    assert [e["data"]["val_loss"] for e in events[:3]] == run["history"]["val_loss"]
    assert [e["data"]["sample"] for e in events[:3]] == [s["text"] for s in run["samples"]]
    summary = events[-1]["data"]
    assert summary["history"] == run["history"] and summary["parameters"]["data"] == run["parameters"]["data"]


def test_parameters_go_back_in_and_inspect_reads_them(client, run):
    body = {"corpus": {"name": "names"}, "model": SMALL_GPT, "parameters": run["parameters"], "prompt": "\nmary",
            "top_k": 3}
    r = client.post("/api/v1/lm/inspect", json=body)
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    _finite_json(r.get_data(as_text=True))
    b = r.get_json()
    vocab = b["vocab"]
    assert b["tokens"] == ["\n", "m", "a", "r", "y"] and len(b["positions"]) == 5
    for t, pos in enumerate(b["positions"]):
        probs = np.array(b["probs"][t])
        assert probs.sum() == pytest.approx(1.0, abs=1e-12)
        assert [x["token"] for x in pos["top"]] == [vocab[i] for i in np.argsort(-probs, kind="stable")[:3]]
        if t < 4:
            assert pos["next"] == b["tokens"][t + 1]
            assert pos["p_next"] == pytest.approx(probs[vocab.index(pos["next"])], rel=1e-15)
            assert pos["loss"] == pytest.approx(-math.log(pos["p_next"]), rel=1e-15)
        else:
            assert pos["next"] is None and pos["p_next"] is None and pos["loss"] is None
    att = np.array(b["attention"])  # [layer][head][query][key]
    assert att.shape == (1, 2, 5, 5)
    np.testing.assert_allclose(att.sum(axis=-1), 1.0, rtol=1e-14)
    assert np.all(np.triu(att, k=1) == 0)  # causal: no weight on later positions
    # the parameters continue a run from where it stopped
    more = client.post("/api/v1/lm/train", json={**RUN, "parameters": run["parameters"], "steps": 10,
                                                 "eval_every": 10})
    assert more.status_code == 200
    assert more.get_json()["history"]["val_loss"][0] == pytest.approx(run["history"]["val_loss"][-1], rel=1e-12)


def test_catalog_lists_corpora_models_and_defaults(client):
    c = client.get("/api/v1/catalog").get_json()
    assert {e["name"] for e in c["lm_corpora"]} == {"names", "markov", "reverse", "sort", "text"}
    models = {e["name"]: e for e in c["lm_models"]}
    assert set(models) == {"bigram", "mlp", "gpt"}
    gpt = {p["name"]: p for p in models["gpt"]["parameters"]}
    assert gpt["d_model"]["default"] == 32 and gpt["d_model"]["high"] == c["limits"]["max_lm_d_model"]
    assert c["lm_training"][0]["model_defaults"]["gpt"]["lr"] > 0
    assert c["limits"]["max_lm_block_size"] == 64


def _fields(errors, prefix=""):
    """The dotted field names of a 422's nested ``errors`` (``{"corpus": {"text": [...]}}`` -> corpus.text)."""
    out = {}
    for k, v in errors.items():
        name = f"{prefix}.{k}" if prefix else k
        out.update(_fields(v, name) if isinstance(v, dict) else {name: v})
    return out


def _bad(client, path, body, field, says=""):
    r = client.post(path, json=body)
    assert r.status_code == 422, r.get_data(as_text=True)[:300]
    named = _fields(r.get_json()["errors"].get("json", {}))
    assert field in named, (field, r.get_json())
    assert says in json.dumps(named[field]), (says, named[field])
    return r.get_json()


@pytest.mark.parametrize("body, field, says", [
    ({"corpus": {"name": "text", "text": ""}, "model": {"name": "bigram"}}, "corpus.text", "non-empty"),
    ({"corpus": {"name": "text", "text": "x" * 100_001}, "model": {"name": "bigram"}}, "corpus.text",
     "max_lm_text_chars"),
    ({"corpus": {"name": "names"}, "model": {"name": "gpt", "block_size": 65}}, "model.block_size",
     "max_lm_block_size"),
    ({"corpus": {"name": "names"}, "model": {"name": "gpt", "d_model": 129}}, "model.d_model", "max_lm_d_model"),
    ({"corpus": {"name": "names"}, "model": {"name": "gpt", "n_head": 3, "d_model": 32}}, "model.n_head", "divide"),
    ({"corpus": {"name": "shakespeare"}, "model": {"name": "gpt"}}, "corpus.name", "names"),
    ({"corpus": {"name": "names"}, "model": {"name": "bigram", "n_head": 2}}, "model.n_head", "bigram"),
    ({"corpus": {"name": "names"}, "model": {"name": "gpt", "block_size": 8}}, "model.block_size", ""),
    ({"corpus": {"name": "names"}, "model": {"name": "bigram"}, "parameters": {"data": "AAAA"}}, "parameters.data",
     "bytes"),
    ({"corpus": {"name": "names"}, "model": {"name": "bigram"}, "parameters": {"data": "not base64!"}},
     "parameters.data", "base64"),
    ({"corpus": {"name": "names"}, "model": {"name": "gpt"}, "steps": 20_000, "batch_size": 64, "eval_every": 1000},
     "steps", "max_lm_work"),
    ({"corpus": {"name": "names"}, "model": {"name": "gpt"}, "sampling": {"prompt": "Zürich"}}, "sampling.prompt", ""),
])
def test_bad_train_requests_name_the_field(client, body, field, says):
    _bad(client, "/api/v1/lm/train", body, field, says)


def test_bad_inspect_requests_name_the_field(client, run):
    base = {"corpus": {"name": "names"}, "model": SMALL_GPT, "parameters": run["parameters"]}
    _bad(client, "/api/v1/lm/inspect", {**base, "prompt": "a" * 17}, "prompt")  # over block_size 16
    _bad(client, "/api/v1/lm/inspect", {**base, "prompt": ""}, "prompt")
    _bad(client, "/api/v1/lm/inspect", {**base, "prompt": "MARY"}, "prompt")  # not in the vocabulary
    wrong = {**base, "model": {**SMALL_GPT, "d_model": 16}, "prompt": "ab"}  # another model's blob
    _bad(client, "/api/v1/lm/inspect", wrong, "parameters.data", "bytes")


def test_a_diverging_run_is_a_status_not_nan(client):
    body = {"corpus": {"name": "names"}, "model": {"name": "mlp"}, "steps": 30, "eval_every": 5,
            "optimizer": {"name": "sgd", "lr": 1e307}, "clip": None, "eval_tokens": 100,
            "schedule": {"name": "constant"}}
    r = client.post("/api/v1/lm/train", json=body)
    assert r.status_code == 200
    _finite_json(r.get_data(as_text=True))
    b = r.get_json()
    assert b["status"] == "diverged" and b["steps_run"] < 30
    assert all(math.isfinite(v) for v in b["history"]["val_loss"] + b["batch_loss"])


def test_the_largest_model_allowed_can_be_inspected(client):
    # The largest gpt the limits allow has ~0.8M parameters: 8.6 MB of base64, more than the 8 MiB body limit
    # once was. Its parameters must fit back into /lm/inspect (the body limit is sized from max_lm_parameters).
    import engine

    big = {"name": "gpt", "n_layer": 4, "n_head": 8, "d_model": 128, "block_size": 64}
    corpus = engine.make_corpus({"name": "names"})
    model = engine.build_lm_model(big, len(corpus.vocab))
    blob = engine.encode_parameters(model, engine.init_lm_params(model, seed=0))
    body = {"corpus": {"name": "names"}, "model": big, "parameters": blob, "prompt": "\nmary", "top_k": 3}
    size = len(json.dumps(body))
    assert size > 8 * 1024 * 1024  # the case that was refused with 413 before
    r = client.post("/api/v1/lm/inspect", data=json.dumps(body), content_type="application/json")
    assert r.status_code == 200, r.get_data(as_text=True)[:300]
    assert r.get_json()["tokens"] == ["\n", "m", "a", "r", "y"]
