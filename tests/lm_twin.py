"""The torch twin of engine.lm_models: the same models written with torch ops, autograd for gradients.

Built from an engine model's layout so both read the same flat vector: each block becomes a leaf
tensor (float64) viewed with the engine's shapes ([inputs, outputs] matrices: ``x @ W``). The
forward follows nanoGPT's ``model.py`` (``F.layer_norm`` eps 1e-5, ``F.gelu(approximate="tanh")``,
causal softmax attention with ``masked_fill(-inf)``, tied head ``x @ wte.T``) and makemore's MLP.
Dropout masks, when used, are taken from the engine (the twin multiplies by the same masks).
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F


def leaves(model, params: np.ndarray) -> dict[str, torch.Tensor]:
    """One float64 leaf tensor per layout block (requires_grad), named as the engine names it."""
    out = {}
    for b in model.blocks:
        t = torch.tensor(params[b.offset:b.offset + b.size].reshape(b.shape), dtype=torch.float64)
        out[b.name] = t.requires_grad_(True)
    return out


def flat_grad(model, P: dict[str, torch.Tensor]) -> np.ndarray:
    g = np.zeros(model.n_params)
    for b in model.blocks:
        if P[b.name].grad is not None:
            g[b.offset:b.offset + b.size] = P[b.name].grad.detach().numpy().reshape(-1)
    return g


def windows(stream, starts, T):
    """(inputs [B, T], targets [B, T], target index [B, T]) of the windows."""
    idx = np.asarray(starts)[:, None] + np.arange(T)[None, :]
    s = np.asarray(stream)
    return torch.tensor(s[idx]), torch.tensor(s[idx + 1]), idx + 1


def loss(model, P, stream, starts, T, weights=None, masks=None) -> torch.Tensor:
    """The weighted mean next-token cross-entropy of the windows (masks: engine dropout multipliers)."""
    x, y, tidx = windows(stream, starts, T)
    logits = logits_of(model, P, stream, starts, T, x, masks)
    nll = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="none")
    w = torch.ones_like(nll) if weights is None else torch.tensor(np.asarray(weights)[tidx].reshape(-1))
    return (nll * w).sum() / w.sum()


def logits_of(model, P, stream, starts, T, x, masks=None) -> torch.Tensor:
    cfg = model.cfg
    if model.name == "bigram":
        return P["table"][x]
    if model.name == "mlp":
        k = cfg.context
        s = np.asarray(stream)
        idx = np.asarray(starts)[:, None, None] + np.arange(T)[None, :, None] - (k - 1 - np.arange(k))[None, None, :]
        ctx = torch.tensor(np.where(idx >= 0, s[np.maximum(idx, 0)], 0))
        e = P["emb"][ctx].reshape(len(starts), T, k * cfg.C)
        h = torch.tanh(e @ P["w_hidden"] + P["b_hidden"])
        return h @ P["w_out"] + P["b_out"]
    return gpt_logits(model, P, x, masks)


def _drop(v, masks, l, s, B, T):
    if masks is None:
        return v
    return v * torch.tensor(masks[l, s, :B * T].reshape(B, T, -1))


def gpt_logits(model, P, x, masks=None) -> torch.Tensor:
    cfg = model.cfg
    B, T = x.shape
    C, NH = cfg.C, cfg.NH
    hd = C // NH
    h = P["wte"][x] + P["wpe"][:T]
    h = _drop(h, masks, cfg.L, 0, B, T)
    causal = torch.tril(torch.ones(T, T, dtype=torch.bool))
    for l in range(cfg.L):
        p = f"h{l}."
        a = F.layer_norm(h, (C,), P[p + "ln_1.g"], P[p + "ln_1.b"], eps=1e-5)
        q, k, v = (a @ P[p + "attn.w_qkv"] + P[p + "attn.b_qkv"]).split(C, dim=2)
        q, k, v = (t.view(B, T, NH, hd).transpose(1, 2) for t in (q, k, v))
        att = (q @ k.transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = F.softmax(att.masked_fill(~causal, float("-inf")), dim=-1)
        y = (att @ v).transpose(1, 2).contiguous().view(B, T, C)
        branch = _drop(y @ P[p + "attn.w_proj"] + P[p + "attn.b_proj"], masks, l, 0, B, T)
        h = h + branch if cfg.residual else branch
        m = F.layer_norm(h, (C,), P[p + "ln_2.g"], P[p + "ln_2.b"], eps=1e-5)
        u = F.gelu(m @ P[p + "mlp.w_fc"] + P[p + "mlp.b_fc"], approximate="tanh")
        branch = _drop(u @ P[p + "mlp.w_proj"] + P[p + "mlp.b_proj"], masks, l, 1, B, T)
        h = h + branch if cfg.residual else branch
    h = F.layer_norm(h, (C,), P["ln_f.g"], P["ln_f.b"], eps=1e-5)
    return h @ P["wte"].T


def loss_and_grad(model, params, stream, starts, T, weights=None, masks=None) -> tuple[float, np.ndarray]:
    P = leaves(model, params)
    L = loss(model, P, stream, starts, T, weights, masks)
    L.backward()
    return float(L.detach()), flat_grad(model, P)
