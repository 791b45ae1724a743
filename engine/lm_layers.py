"""The layers of the language models, each a forward/backward pair of kernels written side by side.

As in llm.c's ``train_gpt2.c``: a forward saves what its backward needs; a backward reads the saved
values and the gradient of its output. Arrays are float64 and C-contiguous; activations are
``(N, width)`` with one row per position, ``N = B·T`` and row ``n = b·T + t`` (window b, position t).

Windows. The models read their tokens straight from a token ``stream``: window b starts at
``starts[b]``; position t's input is ``stream[starts[b] + t]`` and its target the next token, whose
weight is ``weights[starts[b] + t + 1]`` (0: not counted).

Parameter gradients are added to (``+=``) where a parameter can be used twice in one pass (the tied
token embedding: the output head and the input lookup) and written (``=``) where it is used once
(a layer's matrix, by ``np.dot(..., out=)``); the caller zeroes the gradient before a backward pass.
Matrix products go to BLAS (numba's ``np.dot`` on contiguous float64 arrays).

Elementary functions use ``engine.vecmath`` (tanh within 2 ulp, exp within 1 ulp, both vectorizable):
libm's tanh called per element would cost more than the matrix products at d_model 32.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import kernel
from .vecmath import exp_nonpositive, tanh

LN_EPS = 1e-5  # torch.nn.LayerNorm's default, inside the square root
GELU_C = 0.7978845608028654  # sqrt(2/pi)
GELU_A = 0.044715


# ---- token and position embedding -------------------------------------------------------------
@kernel
def encoder_forward(out, stream, starts, T, wte, wpe):
    """out[b·T + t] = wte[x] + wpe[t], x = stream[starts[b] + t]."""
    C = out.shape[1]
    for b in range(starts.shape[0]):
        for t in range(T):
            x = stream[starts[b] + t]
            n = b * T + t
            for c in range(C):
                out[n, c] = wte[x, c] + wpe[t, c]


@kernel
def encoder_backward(dwte, dwpe, dout, stream, starts, T):
    """dwte[x] += dout[n] (repeated tokens scatter-add into one row), dwpe[t] += dout[n]."""
    C = dout.shape[1]
    for b in range(starts.shape[0]):
        for t in range(T):
            x = stream[starts[b] + t]
            n = b * T + t
            for c in range(C):
                dwte[x, c] += dout[n, c]
                dwpe[t, c] += dout[n, c]


# ---- layer normalisation -----------------------------------------------------------------------
@kernel
def layernorm_forward(out, mean, rstd, inp, g, b):
    """out = (x − mean)·rstd·g + b per row; rstd = 1/√(biased variance + 1e-5). Saves mean, rstd."""
    C = inp.shape[1]
    for n in range(inp.shape[0]):
        m = 0.0
        for c in range(C):
            m += inp[n, c]
        m /= C
        v = 0.0
        for c in range(C):
            d = inp[n, c] - m
            v += d * d
        s = 1.0 / math.sqrt(v / C + LN_EPS)
        mean[n] = m
        rstd[n] = s
        for c in range(C):
            out[n, c] = (inp[n, c] - m) * s * g[c] + b[c]


@kernel
def layernorm_backward(dinp, dg, db, dout, inp, g, mean, rstd, accumulate):
    """With n̂ = (x − mean)·rstd and ĝ = dout·g: dx = rstd·(ĝ − mean(ĝ) − n̂·mean(ĝ·n̂)),
    dg += Σ dout·n̂, db += Σ dout. ``accumulate``: dinp += dx (a residual stream), else dinp = dx."""
    C = inp.shape[1]
    for n in range(inp.shape[0]):
        m = mean[n]
        s = rstd[n]
        mg = 0.0
        mgn = 0.0
        for c in range(C):
            nh = (inp[n, c] - m) * s
            gh = dout[n, c] * g[c]
            mg += gh
            mgn += gh * nh
        mg /= C
        mgn /= C
        for c in range(C):
            nh = (inp[n, c] - m) * s
            gh = dout[n, c] * g[c]
            dx = s * (gh - mg - nh * mgn)
            dinp[n, c] = dinp[n, c] + dx if accumulate else dx
            dg[c] += dout[n, c] * nh
            db[c] += dout[n, c]


# ---- affine map ---------------------------------------------------------------------------------
@kernel
def matmul_forward(out, inp, w, bias):
    """out = inp @ w + bias (w is [in, out])."""
    np.dot(inp, w, out)
    for n in range(out.shape[0]):
        for j in range(out.shape[1]):
            out[n, j] += bias[j]


@kernel
def matmul_backward(dinp, dw, dbias, dout, inp, w):
    """dinp = dout @ wᵀ; dw = inpᵀ @ dout; dbias = Σ_rows dout (each written, not added)."""
    np.dot(dout, w.T, dinp)
    np.dot(inp.T, dout, dw)
    for j in range(dbias.shape[0]):
        dbias[j] = 0.0
    for n in range(dout.shape[0]):
        for j in range(dout.shape[1]):
            dbias[j] += dout[n, j]


# ---- activations --------------------------------------------------------------------------------
@kernel
def gelu_forward(out, th, inp):
    """GELU, tanh form: out = ½x(1 + tanh(√(2/π)(x + 0.044715x³))); saves the tanh in ``th``."""
    for n in range(inp.shape[0]):
        for j in range(inp.shape[1]):
            x = inp[n, j]
            t = tanh(GELU_C * (x + GELU_A * x * x * x))
            th[n, j] = t
            out[n, j] = 0.5 * x * (1.0 + t)


@kernel
def gelu_backward(d, inp, th):
    """In place: d ← d·gelu'(x), gelu'(x) = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)."""
    for n in range(inp.shape[0]):
        for j in range(inp.shape[1]):
            x = inp[n, j]
            t = th[n, j]
            d[n, j] *= 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * x * x)


@kernel
def tanh_forward(out, inp):
    """out = tanh(inp)."""
    for n in range(inp.shape[0]):
        for j in range(inp.shape[1]):
            out[n, j] = tanh(inp[n, j])


@kernel
def tanh_backward(d, out):
    """In place: d ← d·(1 − tanh²), from the saved output."""
    for n in range(out.shape[0]):
        for j in range(out.shape[1]):
            d[n, j] *= 1.0 - out[n, j] * out[n, j]


# ---- causal self-attention ----------------------------------------------------------------------
@kernel
def attention_forward(out, att, qkv, B, T, NH):
    """Per window and head: s = q·kᵀ/√hd over keys j ≤ t (causal), p = softmax(s), out = p·v.

    ``qkv`` rows are [q | k | v], each C wide, head h at columns h·hd..(h+1)·hd. ``att`` is flat
    [b, h, t, j] (T·T per head; entries j > t are 0) and is kept for the backward pass.
    """
    C = out.shape[1]
    hd = C // NH
    scale = 1.0 / math.sqrt(hd)
    for b in range(B):
        for h in range(NH):
            qo = h * hd
            for t in range(T):
                r = b * T + t
                base = ((b * NH + h) * T + t) * T
                mx = -math.inf
                for j in range(t + 1):
                    kr = b * T + j
                    s = 0.0
                    for d in range(hd):
                        s += qkv[r, qo + d] * qkv[kr, C + qo + d]
                    s *= scale
                    att[base + j] = s
                    if s > mx:
                        mx = s
                tot = 0.0
                for j in range(t + 1):
                    e = exp_nonpositive(att[base + j] - mx)
                    att[base + j] = e
                    tot += e
                inv = 1.0 / tot
                for j in range(t + 1):
                    att[base + j] *= inv
                for j in range(t + 1, T):
                    att[base + j] = 0.0
                for d in range(hd):
                    out[r, qo + d] = 0.0
                for j in range(t + 1):
                    p = att[base + j]
                    vr = b * T + j
                    for d in range(hd):
                        out[r, qo + d] += p * qkv[vr, 2 * C + qo + d]


@kernel
def attention_backward(dqkv, dp, dout, qkv, att, B, T, NH):
    """dv[j] += p[t,j]·dout[t]; dp = dout·vᵀ; ds = p·(dp − Σ p·dp) (softmax, per row);
    dq[t] += ds·k/√hd, dk[j] += ds·q/√hd (the scale applies to both). Masked entries get none.
    ``dqkv`` is written (zeroed first); ``dp`` is a scratch row of length ≥ T."""
    C = dout.shape[1]
    hd = C // NH
    scale = 1.0 / math.sqrt(hd)
    for n in range(B * T):
        for c in range(3 * C):
            dqkv[n, c] = 0.0
    for b in range(B):
        for h in range(NH):
            qo = h * hd
            for t in range(T):
                r = b * T + t
                base = ((b * NH + h) * T + t) * T
                sp = 0.0
                for j in range(t + 1):
                    vr = b * T + j
                    p = att[base + j]
                    s = 0.0
                    for d in range(hd):
                        s += dout[r, qo + d] * qkv[vr, 2 * C + qo + d]
                        dqkv[vr, 2 * C + qo + d] += p * dout[r, qo + d]
                    dp[j] = s
                    sp += p * s
                for j in range(t + 1):
                    kr = b * T + j
                    ds = att[base + j] * (dp[j] - sp) * scale
                    for d in range(hd):
                        dqkv[r, qo + d] += ds * qkv[kr, C + qo + d]
                        dqkv[kr, C + qo + d] += ds * qkv[r, qo + d]


# ---- residual stream ------------------------------------------------------------------------------
@kernel
def residual_forward(out, inp, branch, mask, residual):
    """out = inp + branch·mask (residual) or branch·mask (no residual); ``mask`` is dropout's
    0 or 1/(1 − p) per entry, or empty for none."""
    drop = mask.shape[0] > 0
    for n in range(out.shape[0]):
        for c in range(out.shape[1]):
            v = branch[n, c] * mask[n, c] if drop else branch[n, c]
            out[n, c] = inp[n, c] + v if residual else v


@kernel
def apply_mask(dst, src, mask):
    """dst = src·mask (dropout's backward, or the embedding's dropout); a plain copy when mask is empty."""
    drop = mask.shape[0] > 0
    for n in range(dst.shape[0]):
        for c in range(dst.shape[1]):
            dst[n, c] = src[n, c] * mask[n, c] if drop else src[n, c]


# ---- output: softmax cross-entropy ---------------------------------------------------------------
@kernel
def crossentropy_forward(probs, stream, starts, T, weights):
    """In place: logits → softmax probabilities per row. Returns (Σ w·(−ln p[target]), Σ w)."""
    V = probs.shape[1]
    total = 0.0
    wsum = 0.0
    for b in range(starts.shape[0]):
        for t in range(T):
            n = b * T + t
            mx = probs[n, 0]
            for v in range(1, V):
                if probs[n, v] > mx:
                    mx = probs[n, v]
            i = starts[b] + t + 1
            zy = probs[n, stream[i]] - mx
            tot = 0.0
            for v in range(V):
                e = exp_nonpositive(probs[n, v] - mx)
                probs[n, v] = e
                tot += e
            inv = 1.0 / tot
            for v in range(V):
                probs[n, v] *= inv
            w = weights[i]
            if w != 0.0:
                # −ln p = ln Σe^(z − max) − (z_y − max), torch's log_softmax: finite where p underflows
                total += w * (math.log(tot) - zy)
                wsum += w
    return total, wsum


@kernel
def crossentropy_backward(probs, stream, starts, T, weights, scale):
    """In place: probabilities → dlogits = w·(p − onehot(target))·scale (scale = 1/Σw of the batch)."""
    V = probs.shape[1]
    for b in range(starts.shape[0]):
        for t in range(T):
            n = b * T + t
            i = starts[b] + t + 1
            w = weights[i] * scale
            for v in range(V):
                probs[n, v] *= w
            if w != 0.0:
                probs[n, stream[i]] -= w
