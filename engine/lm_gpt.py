"""The decoder-only transformer (GPT-2 layout, pre-LayerNorm), forward and backward, by hand.

The forward reads top to bottom like the paper's diagram; the backward is the same list upside down
(llm.c's ``gpt2_forward``/``gpt2_backward``)::

    h0 = drop(wte[x] + wpe[t])
    for each layer:
        a = LN1(h);  qkv = a @ Wqkv + bqkv;  y = causal_attention(qkv)
        h = h + drop(y @ Wproj + bproj)            (residual: false -> h = drop(...))
        m = LN2(h);  u = gelu_tanh(m @ Wfc + bfc)
        h = h + drop(u @ Wproj2 + bproj2)          (residual: false -> h = drop(...))
    logits = LNf(h) @ wteᵀ                           output head tied to the token embedding
    loss = Σ w·(−ln softmax(logits)[next]) / Σ w

Dropout (nanoGPT's ``transformer.drop`` and ``resid_dropout``; not attention-probability dropout) is
inverted dropout with masks from ``engine.rng``: a pure function of (seed, step, site, element), so a
step recomputed gives the same masks. It is on only in training.
"""

from __future__ import annotations

import numpy as np

from ._jit import as_bool, kernel
from .lm_layers import (
    apply_mask, attention_backward, attention_backward_blas, attention_forward, attention_forward_blas,
    attention_uses_blas, crossentropy_backward, crossentropy_forward,
    encoder_backward, encoder_forward, gelu_backward, gelu_forward, layernorm_backward, layernorm_forward,
    matmul_backward, matmul_forward, residual_forward,
)
from .lm_layout import (
    B_FC, B_FC2, B_PROJ, B_QKV, LN1_B, LN1_G, LN2_B, LN2_G, LNF_B, LNF_G, W_FC, W_FC2, W_PROJ, W_QKV, WPE, WTE,
    mat, vec,
)
from .rng import key_uniform, stream_key


@kernel
def _fill_masks(masks, N, C, p, seed, step):
    """masks[·, ·, :N] = 0 with probability p, else 1/(1 − p): uniforms of (seed, step, site)."""
    keep = 1.0 / (1.0 - p)
    for l in range(masks.shape[0]):
        for s in range(2):
            key = stream_key(seed, step, l * 2 + s)
            for n in range(N):
                for c in range(C):
                    masks[l, s, n, c] = 0.0 if key_uniform(key, n * C + c) < p else keep


@kernel
def gpt_forward(cfg, off, params, stream, starts, T, weights, buf, train, seed, step):
    """Forward pass over B = len(starts) windows of T positions; fills ``buf``; returns (Σ w·loss, Σ w)."""
    B = starts.shape[0]
    N = B * T
    C = cfg.C
    L = cfg.L
    g = off[L]
    wte = mat(params, g[WTE], cfg.V, C)
    wpe = mat(params, g[WPE], cfg.block, C)
    drop = train and cfg.dropout > 0.0 and buf.masks.shape[2] >= N
    if drop:
        _fill_masks(buf.masks, N, C, cfg.dropout, seed, step)
    rows = N if drop else 0
    x = buf.resid[0, :N]
    encoder_forward(x, stream, starts, T, wte, wpe)
    apply_mask(x, x, buf.masks[L, 0, :rows])
    for l in range(L):
        o = off[l]
        x = buf.resid[l, :N]
        ln1 = buf.ln1[l, :N]
        layernorm_forward(ln1, buf.ln1_stats[l, 0, :N], buf.ln1_stats[l, 1, :N], x, vec(params, o[LN1_G], C),
                          vec(params, o[LN1_B], C))
        qkv = buf.qkv[l, :N]
        matmul_forward(qkv, ln1, mat(params, o[W_QKV], C, 3 * C), vec(params, o[B_QKV], 3 * C))
        atty = buf.atty[l, :N]
        if attention_uses_blas(T, C // cfg.NH):
            attention_forward_blas(atty, buf.att[l], qkv, B, T, cfg.NH, buf.hb)
        else:
            attention_forward(atty, buf.att[l], qkv, B, T, cfg.NH, buf.xt, buf.ot, buf.lanes)
        matmul_forward(buf.branch[:N], atty, mat(params, o[W_PROJ], C, C), vec(params, o[B_PROJ], C))
        res2 = buf.res2[l, :N]
        residual_forward(res2, x, buf.branch[:N], buf.masks[l, 0, :rows], cfg.residual != 0)
        ln2 = buf.ln2[l, :N]
        layernorm_forward(ln2, buf.ln2_stats[l, 0, :N], buf.ln2_stats[l, 1, :N], res2, vec(params, o[LN2_G], C),
                          vec(params, o[LN2_B], C))
        fch = buf.fch[l, :N]
        matmul_forward(fch, ln2, mat(params, o[W_FC], C, 4 * C), vec(params, o[B_FC], 4 * C))
        fcg = buf.fcg[l, :N]
        gelu_forward(fcg, buf.fct[l, :N], fch)
        matmul_forward(buf.branch[:N], fcg, mat(params, o[W_FC2], 4 * C, C), vec(params, o[B_FC2], C))
        residual_forward(buf.resid[l + 1, :N], res2, buf.branch[:N], buf.masks[l, 1, :rows], cfg.residual != 0)
    lnf = buf.lnf[:N]
    layernorm_forward(lnf, buf.lnf_stats[0, :N], buf.lnf_stats[1, :N], buf.resid[L, :N], vec(params, g[LNF_G], C),
                      vec(params, g[LNF_B], C))
    probs = buf.probs[:N]
    np.dot(lnf, wte.T, probs)  # the tied output head: logits = LNf(h) @ wteᵀ
    return crossentropy_forward(probs, stream, starts, T, weights)


@kernel
def gpt_backward(cfg, off, params, grad, stream, starts, T, weights, buf, scale, train):
    """Backward pass after ``gpt_forward`` on the same windows: grad (zeroed by the caller) receives
    d(Σ w·loss · scale)/dparams; ``scale`` = 1/Σw gives the gradient of the mean loss."""
    B = starts.shape[0]
    N = B * T
    C = cfg.C
    L = cfg.L
    g = off[L]
    rows = N if (train and cfg.dropout > 0.0 and buf.masks.shape[2] >= N) else 0
    wte = mat(params, g[WTE], cfg.V, C)
    dwte = mat(grad, g[WTE], cfg.V, C)
    dlogits = buf.probs[:N]
    crossentropy_backward(dlogits, stream, starts, T, weights, scale)
    lnf = buf.lnf[:N]
    d1 = buf.d1[:N]
    d2 = buf.d2[:N]
    dres = buf.dres[:N]
    np.dot(dlogits, wte, d1)  # d LNf(h)
    np.dot(dlogits.T, lnf, dwte)  # the head's share of dwte (written; the lookup adds below)
    layernorm_backward(dres, vec(grad, g[LNF_G], C), vec(grad, g[LNF_B], C), d1, buf.resid[L, :N],
                       vec(params, g[LNF_G], C), buf.lnf_stats[0, :N], buf.lnf_stats[1, :N], as_bool(False))
    for l in range(L - 1, -1, -1):
        o = off[l]
        # h = res2 + drop(u @ Wproj2 + b): the branch's gradient is dres through the mask
        apply_mask(d2, dres, buf.masks[l, 1, :rows])
        dfc = buf.dfc[:N]
        matmul_backward(dfc, mat(grad, o[W_FC2], 4 * C, C), vec(grad, o[B_FC2], C), d2, buf.fcg[l, :N],
                        mat(params, o[W_FC2], 4 * C, C))
        gelu_backward(dfc, buf.fch[l, :N], buf.fct[l, :N])
        matmul_backward(d1, mat(grad, o[W_FC], C, 4 * C), vec(grad, o[B_FC], 4 * C), dfc, buf.ln2[l, :N],
                        mat(params, o[W_FC], C, 4 * C))
        layernorm_backward(dres, vec(grad, o[LN2_G], C), vec(grad, o[LN2_B], C), d1, buf.res2[l, :N],
                           vec(params, o[LN2_G], C), buf.ln2_stats[l, 0, :N], buf.ln2_stats[l, 1, :N],
                           cfg.residual != 0)
        # res2 = h + drop(y @ Wproj + b)
        apply_mask(d2, dres, buf.masks[l, 0, :rows])
        matmul_backward(d1, mat(grad, o[W_PROJ], C, C), vec(grad, o[B_PROJ], C), d2, buf.atty[l, :N],
                        mat(params, o[W_PROJ], C, C))
        dqkv = buf.dqkv[:N]
        if attention_uses_blas(T, C // cfg.NH):
            attention_backward_blas(dqkv, d1, buf.qkv[l, :N], buf.att[l], B, T, cfg.NH, buf.hb)
        else:
            attention_backward(dqkv, d1, buf.qkv[l, :N], buf.att[l], B, T, cfg.NH, buf.xt, buf.dxt, buf.ot, buf.dst,
                               buf.lanes)
        matmul_backward(d1, mat(grad, o[W_QKV], C, 3 * C), vec(grad, o[B_QKV], 3 * C), dqkv, buf.ln1[l, :N],
                        mat(params, o[W_QKV], C, 3 * C))
        layernorm_backward(dres, vec(grad, o[LN1_G], C), vec(grad, o[LN1_B], C), d1, buf.resid[l, :N],
                           vec(params, o[LN1_G], C), buf.ln1_stats[l, 0, :N], buf.ln1_stats[l, 1, :N],
                           cfg.residual != 0)
    apply_mask(d1, dres, buf.masks[L, 0, :rows])
    encoder_backward(dwte, mat(grad, g[WPE], cfg.block, C), d1, stream, starts, T)
