"""Language models on one flat float64 parameter vector: the registry, initialisation, and the
loss/gradient of a batch of windows.

::

    m = build_lm_model({"name": "gpt", "n_layer": 2, "n_head": 4, "d_model": 32, "block_size": 16}, V=27)
    p = init_lm_params(m, seed=0)
    loss, grad = lm_loss_and_grad(m, p, stream, starts, T=16)

Models (``LM_MODELS``; the layout of each vector is in ``engine.lm_layout``):

* ``bigram``: a V×V logit table (``engine.lm_ngram``). Initialised to 0: it starts as the uniform
  guess, loss ln V.
* ``mlp``: Bengio's MLP over the previous ``context`` tokens (``engine.lm_ngram``). makemore's
  initialisation: emb ~ N(0, 1), W_hidden ~ N(0, (5/3)/√(k·E)) (Kaiming for tanh), W_out ~ N(0, 0.01)
  (near-uniform first predictions), biases 0.
* ``gpt``: the GPT-2 block stack (``engine.lm_gpt``). GPT-2/nanoGPT initialisation: every matrix and
  both embeddings ~ N(0, 0.02), the two residual output projections (attn.w_proj, mlp.w_proj)
  ~ N(0, 0.02/√(2·n_layer)), biases 0, LayerNorm gains 1 and shifts 0.

Draws come from ``np.random.default_rng(seed)``, block after block in layout order.

Loss: the weighted mean of next-token cross-entropy over the B·T positions of the windows,
``Σ w·(−ln p[next]) / Σ w`` (``w`` from the corpus: 1 counted, 0 not), in nats.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np
from numpy.typing import ArrayLike

from .errors import EngineInputError
from .limits import LIMITS, check_max
from .lm_gpt import gpt_backward, gpt_forward
from .lm_layout import BIGRAM, GPT, KINDS, MLP, Block, LMBuffers, LMConfig, layout, new_buffers, step_flops
from .lm_ngram import bigram_backward, bigram_forward, mlp_backward, mlp_forward
from .registry import ParamSpec, lookup, resolve_params
from .validate import check_array, check_bool, check_int, check_int_array, check_seed, check_spec

__all__ = ["LM_MODELS", "LMModel", "build_lm_model", "init_lm_params", "lm_loss_and_grad"]



# The model kernels are the top-level compiled functions, chosen here in Python: a kernel that called
# them would link and optimize their whole code again (numba re-optimizes a callee's IR in each
# caller), which had cost ~60 s of cold compile for a dispatch that takes a microsecond.
def lm_forward(cfg: LMConfig, off, params, stream, starts, T: int, weights, buf: LMBuffers, train: bool, seed: int,
               step: int) -> tuple[float, float]:
    """(Σ w·loss, Σ w) over B = len(starts) windows of T positions; activations kept in ``buf``.
    ``train`` turns dropout on (gpt), with masks drawn from (seed, step)."""
    if cfg.kind == GPT:
        return gpt_forward(cfg, off, params, stream, starts, T, weights, buf, train, seed, step)
    if cfg.kind == MLP:
        return mlp_forward(cfg, off, params, stream, starts, T, weights, buf)
    return bigram_forward(cfg, off, params, stream, starts, T, weights, buf)


def lm_backward(cfg: LMConfig, off, params, grad, stream, starts, T: int, weights, buf: LMBuffers, scale: float,
                train: bool) -> None:
    """grad = d(scale·Σ w·loss)/dparams, after ``lm_forward`` on the same windows (zeroes grad first)."""
    grad[:] = 0.0
    if cfg.kind == GPT:
        gpt_backward(cfg, off, params, grad, stream, starts, T, weights, buf, scale, train)
    elif cfg.kind == MLP:
        mlp_backward(cfg, off, params, grad, stream, starts, T, weights, buf, scale)
    else:
        bigram_backward(cfg, off, grad, stream, starts, T, weights, buf, scale)


# ---------------------------------------------------------------------------------------------
# registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    name: str
    title: str
    formula: str
    params: tuple[ParamSpec, ...]
    limits: Mapping[str, str]  # parameter -> the LIMITS entry that bounds it


def _int(name, default, low, limit_or_high, doc):
    high = LIMITS[limit_or_high] if isinstance(limit_or_high, str) else limit_or_high
    return ParamSpec(name, default, low, high, "int", doc)


_BLOCK = _int("block_size", 16, 2, "max_lm_block_size",
              "positions per training window (gpt: also how far back it can see)")

LM_MODELS: dict[str, ModelSpec] = {
    "bigram": ModelSpec(
        "bigram", "Bigram logit table", "logits = table[x_t]", (_BLOCK,), {"block_size": "max_lm_block_size"}),
    "mlp": ModelSpec(
        "mlp", "MLP over the last k tokens (Bengio 2003)",
        "logits = tanh([emb(x_{t-k+1}) .. emb(x_t)] @ W_hidden + b_hidden) @ W_out + b_out",
        (_int("context", 3, 1, 16, "previous tokens the model sees (k)"),
         _int("embedding", 10, 1, 256, "embedding width E (k·E is limited by max_lm_width)"),
         _int("hidden", 128, 1, "max_lm_width", "tanh hidden units"),
         _BLOCK),
        {"hidden": "max_lm_width", "block_size": "max_lm_block_size"}),
    "gpt": ModelSpec(
        "gpt", "GPT (decoder-only transformer, pre-LayerNorm)",
        "h = wte[x] + wpe[t]; per layer: h += attn(LN1(h)); h += mlp(LN2(h)); logits = LNf(h) @ wteᵀ",
        (_int("n_layer", 2, 1, "max_lm_layers", "transformer blocks"),
         _int("n_head", 4, 1, "max_lm_heads", "attention heads (must divide d_model)"),
         _int("d_model", 32, 4, "max_lm_d_model", "width of the residual stream C"),
         _BLOCK,
         ParamSpec("residual", True, kind="bool", doc="residual connections (false: h = branch(h), to show why "
                                                        "they matter)"),
         ParamSpec("dropout", 0.0, 0.0, 0.9, "float", "dropout on the embedding and each residual branch "
                                                      "(training only)")),
        {"n_layer": "max_lm_layers", "n_head": "max_lm_heads", "d_model": "max_lm_d_model",
         "block_size": "max_lm_block_size"}),
}


@dataclass(frozen=True, eq=False)
class LMModel:
    """A resolved model: what kernels need (``cfg``, ``off``) and what to report (``blocks``)."""

    name: str
    params: dict  # resolved hyperparameters
    cfg: LMConfig
    off: np.ndarray  # int64 offset table (engine.lm_layout)
    blocks: tuple[Block, ...]
    n_params: int
    n_decay: int  # params[:n_decay] are the decayed blocks

    def step_flops(self, B: int, T: int) -> float:
        return step_flops(self.cfg, self.n_params, B, T)

    def layout(self) -> list[dict]:
        return [b.to_dict() for b in self.blocks]


def build_lm_model(model: Mapping[str, Any], V: int) -> LMModel:
    """``{"name": "gpt", ...}`` for a vocabulary of V tokens -> ``LMModel`` (defaults filled, limits checked);
    refusals name ``model.<key>`` (the argument, and a training request's field of the same name) or ``V``.

    >>> m = engine.build_lm_model({"name": "mlp", "context": 2, "embedding": 3, "hidden": 4}, 5)
    >>> m.name, m.n_params > 0
    ('mlp', True)
    """
    V = check_int("V", V, 1, "max_lm_vocab", integral_floats=False)
    spec = check_spec("model", model, "{'name': 'gpt'}")
    name = spec.get("name")
    if name is None:
        raise EngineInputError("model.name", "required; choose one of: " + ", ".join(LM_MODELS))
    s = lookup(LM_MODELS, name, "model.name")
    given = {k: v for k, v in spec.items() if k != "name" and v is not None}
    for key, limit in s.limits.items():  # name the limit before the generic range check does
        v = given.get(key)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            check_max(f"model.{key}", v, limit)
    p = resolve_params(s.params, given, "model")
    kind = KINDS[s.name]
    if kind == GPT:
        if p["d_model"] % p["n_head"]:
            raise EngineInputError("model.n_head", f"must divide d_model={p['d_model']} (n_head={p['n_head']})")
        cfg = LMConfig(GPT, int(V), p["d_model"], p["n_layer"], p["n_head"], p["block_size"], int(p["residual"]),
                       0, 0, float(p["dropout"]))
    elif kind == MLP:
        check_max("model.embedding", p["context"] * p["embedding"], "max_lm_width")
        cfg = LMConfig(MLP, int(V), p["embedding"], 0, 1, p["block_size"], 0, p["context"], p["hidden"], 0.0)
    else:
        cfg = LMConfig(BIGRAM, int(V), 1, 0, 1, p["block_size"], 0, 0, 0, 0.0)
    blocks, off = layout(cfg)
    n = blocks[-1].offset + blocks[-1].size
    check_max("model", n, "max_lm_parameters")
    n_decay = sum(b.size for b in blocks if b.decay)
    return LMModel(s.name, p, cfg, off, blocks, int(n), int(n_decay))


def init_lm_params(model: LMModel, seed: int = 0) -> np.ndarray:
    """The initial parameter vector (see the module docstring for each model's scheme).

    >>> engine.init_lm_params(engine.build_lm_model({"name": "bigram"}, 2)).tolist()     # a zero logit table
    [0.0, 0.0, 0.0, 0.0]
    """
    _check_model(model)
    rng = np.random.default_rng(check_seed("seed", seed))
    p = np.zeros(model.n_params)
    cfg = model.cfg
    for b in model.blocks:
        view = p[b.offset:b.offset + b.size]
        leaf = b.name.rsplit(".", 1)[-1]
        if model.name == "gpt":
            if b.decay:
                std = 0.02 / math.sqrt(2 * cfg.L) if leaf == "w_proj" else 0.02
                view[:] = rng.normal(0.0, std, b.size)
            elif leaf == "g":
                view[:] = 1.0
        elif model.name == "mlp":
            std = {"emb": 1.0, "w_hidden": (5.0 / 3.0) / math.sqrt(cfg.context * cfg.C), "w_out": 0.01}.get(b.name)
            if std is not None:
                view[:] = rng.normal(0.0, std, b.size)
    return p


# ---------------------------------------------------------------------------------------------
# public loss and gradient of a batch of windows
# ---------------------------------------------------------------------------------------------
def activation_floats(model: LMModel, B: int, T: int) -> int:
    """Floats of activations and scratch a step keeps for B windows of T positions (max_lm_activations)."""
    cfg = model.cfg
    if cfg.kind == GPT:
        per = cfg.L * (21 * cfg.C + cfg.NH * T) + 12 * cfg.C + cfg.V
    else:
        per = cfg.context * cfg.C * 2 + cfg.hidden * 2 + cfg.V
    return B * T * per


def _check_model(model) -> LMModel:
    if not isinstance(model, LMModel):
        raise EngineInputError("model", "must be an LMModel from engine.build_lm_model")
    return model


def _batch(model: LMModel, params, stream, starts, T, weights):
    _check_model(model)
    p = check_array("params", params, shape=(model.n_params,), ndim=(1,))
    s = check_int_array("stream", stream, limit="max_lm_corpus_tokens")
    st = check_int_array("starts", starts, limit="max_lm_corpus_tokens")
    T = check_int("T", T, 1, "max_lm_corpus_tokens", integral_floats=False)
    if st.size == 0:
        raise EngineInputError("starts", "needs at least one window start")
    check_max("starts", activation_floats(model, st.size, T), "max_lm_activations")  # what backward keeps
    if s.size and (s.min() < 0 or s.max() >= model.cfg.V):
        raise EngineInputError("stream", f"tokens must lie in [0, {model.cfg.V})")
    if st.min() < 0 or st.max() + T >= s.size:
        raise EngineInputError("starts", f"each window needs starts[b] + T < len(stream) = {s.size}")
    if model.cfg.kind == GPT and T > model.cfg.block:
        raise EngineInputError("T", f"exceeds the model's block_size {model.cfg.block}")
    w = np.ones(s.size) if weights is None else check_array("weights", weights, shape=s.shape, ndim=(1,))
    if (w < 0).any():
        raise EngineInputError("weights", "must be >= 0")
    return p, s, st, T, w


def lm_loss_and_grad(model: LMModel, params: ArrayLike, stream: ArrayLike, starts: ArrayLike, T: int,
                     weights: ArrayLike | None = None, *, train: bool = False, seed: int = 0,
                     step: int = 0) -> tuple[float, np.ndarray]:
    """(weighted mean loss, its gradient) over the windows ``stream[starts[b] : starts[b] + T + 1]``.

    ``train`` applies dropout (gpt) with masks of (seed, step). A batch without counted targets
    has loss 0 and gradient 0. ``weights``: one per stream token (its weight as a target).

    >>> m = engine.build_lm_model({"name": "bigram"}, 3)
    >>> loss, grad = engine.lm_loss_and_grad(m, engine.init_lm_params(m), [0, 1, 2, 0, 1], [0], 4)
    >>> round(loss, 12) == round(float(np.log(3)), 12), grad.shape     # zero logits: uniform over 3 tokens
    (True, (9,))
    """
    p, s, st, T, w = _batch(model, params, stream, starts, T, weights)
    train = check_bool("train", train)
    seed, step = check_seed("seed", seed), check_seed("step", step)
    buf = new_buffers(model.cfg, st.size, T, dropout=train)
    total, wsum = lm_forward(model.cfg, model.off, p, s, st, T, w, buf, bool(train), int(seed), int(step))
    grad = np.zeros(model.n_params)
    scale = 1.0 / wsum if wsum > 0 else 0.0
    lm_backward(model.cfg, model.off, p, grad, s, st, T, w, buf, scale, bool(train))
    return (total * scale, grad)


def describe() -> list[dict]:
    """Catalog entries: each model, its formula, parameters (defaults, ranges) and initialisation."""
    return [{"name": s.name, "title": s.title, "formula": s.formula,
             "parameters": [q.to_dict() for q in s.params], "limits": dict(s.limits)} for s in LM_MODELS.values()]


def _warmup() -> None:
    """Compile the forward/backward dispatchers once (one specialization serves every model)."""
    stream = np.arange(12, dtype=np.int64) % 5
    for spec in ({"name": "bigram"}, {"name": "mlp", "hidden": 4, "embedding": 2},
                 {"name": "gpt", "n_layer": 1, "n_head": 2, "d_model": 4, "block_size": 4, "dropout": 0.1}):
        m = build_lm_model(spec, 5)
        lm_loss_and_grad(m, init_lm_params(m), stream, [0, 3], 4, train=True)
