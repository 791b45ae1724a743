"""The language-model rows of the load test's table (``scenarios.py`` appends them to SCENARIOS).

The first row of each operation is also the base body of the bound checks in ``tests/test_limits.py``:
a markov stream and a bigram, so that every stated bound (block_size 2..64, steps up to 20,000) is a
request that runs in about a second."""

from __future__ import annotations

import math

from scenarios import HEAVY_P95_MS, LIGHT_P95_MS, Scenario


def _finite(values) -> bool:
    stack = [values]
    while stack:
        v = stack.pop()
        if isinstance(v, list):
            stack.extend(v)
        elif isinstance(v, dict):
            stack.extend(v.values())
        elif isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            return False
    return True


def check_lm_dataset(b) -> str | None:
    if not isinstance(b.get("vocab"), list) or not b["vocab"] or not isinstance(b.get("baselines"), dict):
        return "no vocabulary or baselines"
    base = b["baselines"]
    return None if base["uniform"] >= base["unigram"] > 0 else f"baselines out of order: {base}"


def check_lm_run(evals: int):
    def check(b) -> str | None:
        h = b.get("history") or {}
        if b.get("status") != "completed" or len(h.get("val_loss", ())) != evals:
            return f"expected a completed run with {evals} evaluations"
        if not _finite([h["train_loss"], h["val_loss"], h["lr"], h["grad_norm"]]):
            return "non-finite history"
        return None if len(b.get("samples", ())) == evals else "one sample per evaluation missing"

    return check


def check_lm_stream(evals: int):
    def check(events) -> str | None:
        if len(events) != evals + 1 or events[-1]["event"] != "summary":
            return f"expected {evals} eval events and a summary"
        if any(e["event"] != "eval" for e in events[:-1]):
            return "an event before the summary is not an eval"
        return check_lm_run(evals)(events[-1]["data"])

    return check


def check_lm_inspect(n: int):
    def check(b) -> str | None:
        pos = b.get("positions")
        if not isinstance(pos, list) or len(pos) != n:
            return f"expected {n} positions"
        if any(abs(sum(row) - 1.0) > 1e-9 for row in b.get("probs", [])):
            return "a next-token distribution does not sum to 1"
        return None

    return check


_MARKOV = {"name": "markov", "alphabet": 8, "order": 1, "n_train": 2000, "n_val": 1000}

LM_SCENARIOS: list[Scenario] = [
    Scenario("/api/v1/lm/datasets markov", "POST", "/api/v1/lm/datasets", "trainer", 1, check_lm_dataset,
             body=lambda rng: {"corpus": {**_MARKOV, "seed": rng.randrange(1000)}}),
    Scenario("/api/v1/lm/datasets names", "POST", "/api/v1/lm/datasets", "trainer", 1, check_lm_dataset,
             body={"corpus": {"name": "names"}}),
    Scenario("/api/v1/lm/train bigram markov x100", "POST", "/api/v1/lm/train", "trainer", 1, check_lm_run(2),
             body=lambda rng: {"corpus": _MARKOV, "model": {"name": "bigram"}, "steps": 100, "batch_size": 8,
                               "eval_every": 200, "seed": rng.randrange(1000), "sampling": {"length": 16}},
             p95_ms=LIGHT_P95_MS * 5),
    Scenario("/api/v1/lm/train gpt names x100", "POST", "/api/v1/lm/train", "trainer", 1, check_lm_run(3),
             body=lambda rng: {"corpus": {"name": "names"}, "model": {"name": "gpt"}, "steps": 100,
                               "eval_every": 50, "eval_tokens": 1024, "seed": rng.randrange(1000)},
             p95_ms=HEAVY_P95_MS),
    Scenario("/api/v1/lm/stream bigram markov x100", "POST", "/api/v1/lm/stream", "trainer", 1, check_lm_stream(2),
             body=lambda rng: {"corpus": _MARKOV, "model": {"name": "bigram"}, "steps": 100, "batch_size": 8,
                               "eval_every": 200, "seed": rng.randrange(1000), "sampling": {"length": 16}},
             p95_ms=LIGHT_P95_MS * 5, stream=True),
    Scenario("/api/v1/lm/inspect mlp names", "POST", "/api/v1/lm/inspect", "trainer", 2, check_lm_inspect(5),
             body=lambda rng: {"corpus": {"name": "names"}, "model": {"name": "mlp"}, "prompt": "\nmary",
                               "seed": rng.randrange(1000)}),
    Scenario("/api/v1/lm/inspect gpt names", "POST", "/api/v1/lm/inspect", "trainer", 2, check_lm_inspect(6),
             body={"corpus": {"name": "names"}, "model": {"name": "gpt"}, "prompt": "\nemma\n", "top_k": 5}),
]
