"""Generating text from a language model: temperature and top-k sampling, seeded.

::

    text = sample_text(model, params, corpus.tokenizer, prompt="\\n", length=80, temperature=1.0, top_k=0, seed=0)

Each new token is drawn from the model's next-token distribution at the last position (a gpt sees
the last ``block_size`` tokens, an mlp its ``context``, a bigram the last token): with temperature
τ the probabilities become p^(1/τ) renormalised (softmax(logits/τ)); ``top_k`` > 0 keeps the k most
likely tokens (ties with the k-th kept, as nanoGPT's ``logits < v[:, [-1]]``); τ = 0 is greedy
(the most likely token, the lowest id on a tie). The uniform for token i is ``engine.rng``'s
``hash_uniform(seed, stream_id, 0, i)``: a sample depends only on (parameters, prompt, settings, seed).
"""

from __future__ import annotations

import math

import numpy as np
from numpy.typing import ArrayLike

from ._jit import kernel
from .errors import EngineInputError
from .limits import check_max
from .lm_layout import GPT, new_buffers
from .lm_models import LMModel, build_lm_model, init_lm_params, lm_forward
from .rng import hash_uniform
from .tokenizer import CharTokenizer
from .validate import check_array, check_float, check_int, check_seed

__all__ = ["sample_text"]


@kernel
def _pick(p, temperature, top_k, u, q):
    """A token from probabilities p: greedy when temperature is 0, else p^(1/τ) over the top k."""
    V = p.shape[0]
    if temperature == 0.0:
        best = 0
        for v in range(1, V):
            if p[v] > p[best]:
                best = v
        return best
    cut = -1.0
    if 0 < top_k < V:
        for v in range(V):
            q[v] = p[v]
        q.sort()
        cut = q[V - top_k]
    mx = -math.inf
    for v in range(V):
        lq = math.log(p[v]) / temperature if p[v] > 0.0 and p[v] >= cut else -math.inf
        q[v] = lq
        if lq > mx:
            mx = lq
    tot = 0.0
    for v in range(V):
        e = math.exp(q[v] - mx) if q[v] > -math.inf else 0.0
        q[v] = e
        tot += e
    acc = 0.0
    last = 0
    for v in range(V):
        if q[v] > 0.0:
            last = v
            acc += q[v] / tot
            if u < acc:
                return v
    return last  # u within rounding of 1


def _generate(model: LMModel, params, seq, n0: int, temperature: float, top_k: int, seed: int, stream_id: int, buf):
    """Fill seq[n0:] token by token after the prompt seq[:n0] (n0 >= 1): a forward pass over the last
    window, then ``_pick`` (a Python loop around two kernels, as engine.lm_train's steps)."""
    cfg = model.cfg
    weights = np.zeros(seq.size)
    starts = np.zeros(1, dtype=np.int64)
    q = np.zeros(cfg.V)
    for i in range(n0, seq.size):
        s = max(0, i - cfg.block) if cfg.kind == GPT else i - 1
        T = i - s
        starts[0] = s
        lm_forward(cfg, model.off, params, seq, starts, T, weights, buf, False, 0, 0)
        seq[i] = _pick(buf.probs[T - 1], temperature, top_k, hash_uniform(seed, stream_id, 0, i), q)


def sample_tokens(model: LMModel, params: np.ndarray, prompt: np.ndarray, length: int, temperature: float = 1.0,
                  top_k: int = 0, seed: int = 0, stream_id: int = 0, buf=None) -> np.ndarray:
    """``length`` token ids generated after ``prompt`` (ids; at least one)."""
    if prompt.size < 1:
        raise EngineInputError("sampling.prompt", "needs at least one token to start from")
    seq = np.zeros(prompt.size + int(length), dtype=np.int64)
    seq[:prompt.size] = prompt
    cfg = model.cfg
    if buf is None:
        buf = new_buffers(cfg, 1, cfg.block if cfg.kind == GPT else 1)
    _generate(model, params, seq, prompt.size, float(temperature), int(top_k), int(seed), int(stream_id), buf)
    return seq[prompt.size:]


def sample_text(model: LMModel, params: ArrayLike, tokenizer: CharTokenizer, prompt: str, length: int,
                temperature: float = 1.0, top_k: int = 0, seed: int = 0, stream_id: int = 0) -> str:
    """``length`` tokens generated after ``prompt``, as text (the prompt itself not included); ``temperature`` 0
    is greedy, ``top_k`` > 0 keeps the k most likely tokens; draws are a function of (seed, stream_id, position).

    >>> tok = engine.build_tokenizer("ab")
    >>> m = engine.build_lm_model({"name": "bigram"}, tok.size)
    >>> engine.sample_text(m, np.array([0.0, 5.0, 5.0, 0.0]), tok, "a", 4, temperature=0)   # a->b, b->a
    'baba'
    """
    if not isinstance(model, LMModel):
        raise EngineInputError("model", "must be an LMModel from engine.build_lm_model")
    p = check_array("params", params, shape=(model.n_params,), ndim=(1,))
    if not isinstance(tokenizer, CharTokenizer):
        raise EngineInputError("tokenizer", "must be a CharTokenizer (engine.build_tokenizer, or a corpus's)")
    if tokenizer.size != model.cfg.V:
        raise EngineInputError("tokenizer", f"has {tokenizer.size} tokens; the model's vocabulary has {model.cfg.V}")
    if not isinstance(prompt, str) or not prompt:
        raise EngineInputError("prompt", "must be a non-empty string")
    check_max("prompt", len(prompt), "max_lm_prompt_chars")
    length = check_int("length", length, 0, "max_lm_sample_chars", integral_floats=False)
    temperature = check_float("temperature", temperature, 0.0, 10.0)
    top_k = min(check_int("top_k", top_k, 0, integral_floats=False), model.cfg.V)
    seed, stream_id = check_seed("seed", seed), check_seed("stream_id", stream_id)
    ids = tokenizer.encode(prompt, "prompt")
    return tokenizer.decode(sample_tokens(model, p, ids, length, temperature, top_k, seed, stream_id))


def _warmup() -> None:
    for spec in ({"name": "bigram"}, {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 4, "block_size": 3}):
        m = build_lm_model(spec, 4)
        sample_tokens(m, init_lm_params(m), np.array([0]), 4, 1.0, 2)
        sample_tokens(m, init_lm_params(m), np.array([0]), 2, 0.0)
