"""Looking inside a language model, statelessly: its parameters as a portable blob, and what it
predicts at every position of a prompt.

Parameters travel as ``{"layout": [...], "data": "<base64>"}``: ``data`` is the base64 (RFC 4648,
standard alphabet, padded) of the flat parameter vector as little-endian IEEE float64, in the order
of ``layout`` (``engine.lm_layout``). The vector can be rebuilt anywhere with
``np.frombuffer(base64.b64decode(data), "<f8")``. ``decode_parameters`` checks the blob against the
model it is meant for (length; layout, when given) and refuses non-finite values.

``inspect_lm`` runs one forward pass over the prompt (no dropout) and returns, for each position t:
its token, the actual next token (the prompt's own, none at the last position), the probability
and loss (−ln p, nats) of that next token, the top-k next tokens with their probabilities and the
whole distribution over the vocabulary; for a gpt also the attention weights of every layer and
head, ``attention[layer][head][query][key]`` (rows sum to 1; keys after the query are 0). A gpt sees
at most ``block_size`` tokens, so longer prompts are refused; a bigram or mlp reads any prompt up
to ``max_lm_prompt_chars`` (before the prompt's start an mlp reads token 0).
"""

from __future__ import annotations

import base64
import binascii
import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from .corpora import make_corpus
from .errors import EngineInputError
from .limits import LIMITS, check_max
from .lm_layout import GPT, new_buffers
from .lm_models import LMModel, build_lm_model, init_lm_params, lm_forward
from .registry import ParamSpec
from .validate import check_array, check_int

__all__ = ["LMInspection", "decode_parameters", "encode_parameters", "inspect_lm"]

INSPECT_PARAMS = (
    ParamSpec("prompt", None, kind="string", doc="the text to read (limit max_lm_prompt_chars; a gpt: at most "
                                                  "block_size tokens)"),
    ParamSpec("top_k", 5, 1, LIMITS["max_lm_vocab"], "int", "next tokens listed per position (at most V)"),
    ParamSpec("seed", 0, 0, 2**32 - 1, "int", "initial parameters' seed, when no parameters are given"),
)
TINY = np.finfo(np.float64).tiny  # a probability that underflows to 0 is reported as this (loss ≤ 708.4)


def _check_model(model) -> LMModel:
    if not isinstance(model, LMModel):
        raise EngineInputError("model", "must be an LMModel from engine.build_lm_model")
    return model


def encode_parameters(model: LMModel, params: ArrayLike) -> dict:
    """The portable blob of a parameter vector (see the module docstring); ``decode_parameters`` reverses it.

    >>> m = engine.build_lm_model({"name": "bigram"}, 2)
    >>> blob = engine.encode_parameters(m, [1.0, 2.0, 3.0, 4.0])
    >>> engine.decode_parameters(m, blob).tolist()
    [1.0, 2.0, 3.0, 4.0]
    """
    _check_model(model)
    raw = check_array("params", params, shape=(model.n_params,), ndim=(1,)).astype("<f8").tobytes()
    return {"layout": model.layout(), "data": base64.b64encode(raw).decode("ascii"), "n_params": model.n_params,
            "dtype": "float64", "byteorder": "little", "encoding": "base64"}


def decode_parameters(model: LMModel, parameters: Mapping[str, Any] | str) -> np.ndarray:
    """The parameter vector of the blob ``parameters`` (``{"data": ..., "layout": ...}`` or the base64 string
    itself; refusals name ``parameters.data`` / ``parameters.layout``, as a request's field of that name)."""
    _check_model(model)
    layout = None
    data = parameters
    if isinstance(parameters, Mapping):
        data, layout = parameters.get("data"), parameters.get("layout")
    if not isinstance(data, str) or not data:
        raise EngineInputError("parameters.data", "required: the base64 of the little-endian float64 vector")
    need = 8 * model.n_params
    if len(data) > 4 * (-(-need // 3)) + 4:  # refuse an oversized blob before decoding it
        raise EngineInputError("parameters.data", f"is {len(data)} characters; {model.name} with these settings "
                                                  f"has {model.n_params} parameters ({need} bytes)")
    try:
        raw = base64.b64decode(data.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise EngineInputError("parameters.data", "is not valid base64") from None
    if len(raw) != need:
        raise EngineInputError("parameters.data", f"decodes to {len(raw)} bytes; the model has {model.n_params} "
                                                  f"parameters ({need} bytes of float64)")
    if layout is not None and layout != model.layout():
        raise EngineInputError("parameters.layout", "does not match the model's layout (same model settings and "
                                                    "corpus vocabulary are needed)")
    p = np.frombuffer(raw, dtype="<f8").astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise EngineInputError("parameters.data", "contains NaN or infinity")
    return p


@resultclass
@dataclass(frozen=True)
class LMInspection:
    tokens: list  # the prompt's tokens (strings)
    positions: list  # one dict per position
    probs: np.ndarray  # [positions, V] next-token distribution at each position
    attention: list | None  # [layer][head][query][key] (gpt)
    mean_loss: float | None  # mean loss over the positions that have a next token
    vocab: list
    model: dict


def inspect_lm(corpus: Mapping[str, Any] | None = None, model: Mapping[str, Any] | None = None,
               parameters: Mapping[str, Any] | str | None = None, prompt: str | None = None, top_k: int = 5,
               seed: int = 0) -> LMInspection:
    """Next-token predictions (and attention) at every position of ``prompt`` (module docstring).
    Without ``parameters`` the model's initial parameters for ``seed`` are used.

    >>> r = engine.inspect_lm({"name": "reverse", "length": 2, "n_train": 8, "n_val": 4}, {"name": "bigram"},
    ...                       prompt="ab", top_k=2)
    >>> r.tokens, len(r.positions[0]["top"])
    (['a', 'b'], 2)
    """
    c = make_corpus(corpus if corpus is not None else {"name": "names"})
    m = build_lm_model(model if model is not None else {"name": "gpt"}, c.tokenizer.size)
    seed = check_int("seed", seed, 0, integral_floats=False)
    params = init_lm_params(m, seed) if parameters is None else decode_parameters(m, parameters)
    if not isinstance(prompt, str) or not prompt:
        raise EngineInputError("prompt", "required: a non-empty string")
    check_max("prompt", len(prompt), "max_lm_prompt_chars")
    ids = c.tokenizer.encode(prompt, "prompt")
    n = ids.size
    if m.cfg.kind == GPT and n > m.cfg.block:
        raise EngineInputError("prompt", f"is {n} tokens; the gpt sees at most block_size={m.cfg.block}")
    V = m.cfg.V
    k = min(check_int("top_k", top_k, 1, integral_floats=False), V)
    stream = np.append(ids, 0).astype(np.int64)
    weights = np.zeros(n + 1)
    buf = new_buffers(m.cfg, 1, n)
    lm_forward(m.cfg, m.off, params, stream, np.zeros(1, dtype=np.int64), n, weights, buf, False, 0, 0)
    probs = buf.probs[:n].copy()
    vocab = c.vocab
    positions, losses = [], []
    for t in range(n):
        p = probs[t]
        top = np.argsort(-p, kind="stable")[:k]
        rec = {"position": t, "token": vocab[ids[t]], "next": None, "p_next": None, "loss": None,
               "top": [{"token": vocab[j], "id": int(j), "p": float(p[j])} for j in top]}
        if t + 1 < n:
            pn = float(p[ids[t + 1]])
            rec.update(next=vocab[ids[t + 1]], p_next=pn, loss=-math.log(max(pn, TINY)))
            losses.append(rec["loss"])
        positions.append(rec)
    attention = None
    if m.cfg.kind == GPT:
        NH = m.cfg.NH
        attention = [buf.att[l, :NH * n * n].reshape(NH, n, n).tolist() for l in range(m.cfg.L)]  # [h, t, j, b], b = 1
    return LMInspection([vocab[i] for i in ids], positions, probs, attention,
                        float(np.mean(losses)) if losses else None, list(vocab), {"name": m.name, **m.params})


def describe() -> list[dict]:
    """Catalog entry: what ``inspect_lm`` (POST /api/v1/lm/inspect) takes and returns."""
    return [{"name": "lm_inspect", "title": "Looking inside a language model",
             "parameters": [p.to_dict() for p in INSPECT_PARAMS],
             "returns": {"positions": "per prompt position: token, next, p_next, loss (nats), top-k next tokens",
                         "attention": "[layer][head][query][key], rows sum to 1 (gpt only)"},
             "parameter_blob": "base64 of the little-endian float64 parameter vector, in layout order"}]


def _warmup() -> None:
    inspect_lm({"name": "reverse", "length": 2, "alphabet": 3, "n_train": 4, "n_val": 2},
               {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 4, "block_size": 4}, None, "ab", 2)
