"""The language-model rows of the limit table (``tests/limit_cases.py`` makes them LimitCase rows:
``(limit, path, field, body, scale)``, the fields of its ``LimitCase``).

Each row's request is small everywhere except in the limited quantity; products are reached by
rounding their free factor up (``body(n + 1)`` is then past the limit), at a scaled limit where the
real one would take seconds (see ``limit_cases``' docstring)."""

from __future__ import annotations

# a markov stream of 8 letters, windows of 2: the cheapest run (bigram, one window a step)
_MARKOV = {"name": "markov", "n_train": 200, "n_val": 100}
_TINY = {"corpus": _MARKOV, "model": {"name": "bigram", "block_size": 2}, "steps": 1, "batch_size": 1,
         "eval_tokens": 2, "sampling": {"length": 0}}


def _ceil(a: float) -> int:
    return -int(-a // 1)


def _tiny_gpt(**model) -> dict:
    return {**_TINY, "model": {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 4, "block_size": 2, **model}}


# the largest gpt, so that the real limit (bench_deadline) is reachable within max_lm_steps
_LARGEST = {"corpus": {"name": "markov", "alphabet": 16, "n_train": 2000, "n_val": 200},
            "model": {"name": "gpt", "n_layer": 4, "n_head": 4, "d_model": 128, "block_size": 64},
            "batch_size": 16, "eval_tokens": 64, "eval_every": 20_000, "sampling": {"length": 0}}


def _flops() -> tuple[int, int]:
    """(work per step, the rest) of _LARGEST, from the engine's own formula (2 evaluations of 1 window)."""
    from engine.corpora import make_corpus
    from engine.lm_models import build_lm_model
    from engine.lm_train import run_flops

    m = build_lm_model(_LARGEST["model"], make_corpus(_LARGEST["corpus"]).tokenizer.size)
    a, b = run_flops(m, 16, 64, 0, 2, 1, 0), run_flops(m, 16, 64, 1, 2, 1, 0)
    return b - a, a


def _work_run(n: int) -> dict:
    per, rest = _flops()
    return {**_LARGEST, "steps": _ceil((n - rest) / per)}


def _activation_unit() -> int:
    """Activation floats of one window of the mlp below (max_lm_activations is batch x this)."""
    from engine.corpora import make_corpus
    from engine.lm_models import build_lm_model
    from engine.lm_train import activation_floats

    return activation_floats(build_lm_model(_ACT_MODEL, make_corpus(_MARKOV).tokenizer.size), 1, 2)


_ACT_MODEL = {"name": "mlp", "context": 1, "embedding": 1, "hidden": 1, "block_size": 2}

# mlp over names (V = 27), context 1, embedding 1: (1 + 27 + 1)·hidden + 27 + 27 parameters
_PARAMS_PER_HIDDEN, _PARAMS_FIXED = 29, 54

LM_ROWS: list[tuple] = [
    ("max_lm_text_chars", "/api/v1/lm/datasets", "corpus.text",
     lambda n: {"corpus": {"name": "text", "text": ("to be or not to be\n" * (n // 19 + 1))[:n]}}),
    ("max_lm_corpus_tokens", "/api/v1/lm/datasets", "corpus.n_train",
     lambda n: {"corpus": {"name": "markov", "n_train": n, "n_val": 100}}, 200_000),
    ("max_lm_block_size", "/api/v1/lm/train", "model.block_size",
     lambda n: {**_tiny_gpt(block_size=n)}),
    ("max_lm_d_model", "/api/v1/lm/train", "model.d_model", lambda n: _tiny_gpt(d_model=n)),
    ("max_lm_layers", "/api/v1/lm/train", "model.n_layer", lambda n: _tiny_gpt(n_layer=n)),
    ("max_lm_heads", "/api/v1/lm/train", "model.n_head", lambda n: _tiny_gpt(n_head=n, d_model=n)),
    ("max_lm_width", "/api/v1/lm/train", "model.hidden",
     lambda n: {**_TINY, "model": {"name": "mlp", "hidden": n, "block_size": 2}}),
    ("max_lm_batch", "/api/v1/lm/train", "batch_size", lambda n: {**_TINY, "batch_size": n}),
    ("max_lm_activations", "/api/v1/lm/train", "batch_size",
     lambda n: {**_TINY, "model": _ACT_MODEL, "batch_size": _ceil(n / _activation_unit())},
     _activation_unit() * 40),
    ("max_lm_parameters", "/api/v1/lm/train", "model",
     lambda n: {**_TINY, "corpus": {"name": "names"}, "model": {
         "name": "mlp", "context": 1, "embedding": 1,
         "hidden": _ceil((n - _PARAMS_FIXED) / _PARAMS_PER_HIDDEN)}},
     _PARAMS_PER_HIDDEN * 100 + _PARAMS_FIXED),
    ("max_lm_steps", "/api/v1/lm/train", "steps",
     lambda n: {**_TINY, "steps": n, "eval_every": 20_000}),
    ("max_lm_evals", "/api/v1/lm/train", "eval_every",
     lambda n: {**_TINY, "steps": n - 1, "eval_every": 1}),
    ("max_lm_eval_tokens", "/api/v1/lm/train", "eval_tokens", lambda n: {**_TINY, "eval_tokens": n}),
    ("max_lm_sample_chars", "/api/v1/lm/train", "sampling.length",
     lambda n: {**_TINY, "sampling": {"length": n}}),
    ("max_lm_prompt_chars", "/api/v1/lm/inspect", "prompt",
     lambda n: {"corpus": {"name": "names"}, "model": {"name": "bigram"}, "prompt": ("anna\n" * n)[:n]}),
    ("max_lm_work", "/api/v1/lm/train", "steps", _work_run, _flops()[1] + 2 * _flops()[0]),
]

LM_UNREACHABLE = {
    "max_lm_vocab": "a cap, not a refusal: characters beyond it are written with byte-fallback tokens",
}
