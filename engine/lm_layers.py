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

from ._jit import as_bool, inline_kernel, kernel
from .vecmath import exp_nonpositive, exp_small, tanh

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
@inline_kernel
def _tanh_via_exp(u):
    """tanh u = sign(u)·(1 − e)/(1 + e), e = e^(−2|u|) (|u| capped at 20, where tanh rounds to ±1).

    Within ~1e-16 of tanh u in absolute terms (not relative: near 0 the quotient loses digits), which
    is what GELU needs (it uses ½(1 + t) and 1 − t²), and about twice as fast as a ≤ 2 ulp tanh."""
    e = exp_small(-2.0 * min(abs(u), 20.0))
    return math.copysign((1.0 - e) / (1.0 + e), u)


@kernel
def gelu_forward(out, th, inp):
    """GELU, tanh form: out = ½x(1 + tanh(√(2/π)(x + 0.044715x³))); saves the tanh in ``th``."""
    for n in range(inp.shape[0]):
        x_ = inp[n]
        t_ = th[n]
        o_ = out[n]
        for j in range(inp.shape[1]):
            x = x_[j]
            t = _tanh_via_exp(GELU_C * (x + GELU_A * x * x * x))
            t_[j] = t
            o_[j] = 0.5 * x * (1.0 + t)


@kernel
def gelu_backward(d, inp, th):
    """In place: d ← d·gelu'(x), gelu'(x) = ½(1 + t) + ½x(1 − t²)·√(2/π)(1 + 3·0.044715x²)."""
    for n in range(inp.shape[0]):
        x_ = inp[n]
        t_ = th[n]
        d_ = d[n]
        for j in range(inp.shape[1]):
            x = x_[j]
            t = t_[j]
            d_[j] *= 0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * GELU_C * (1.0 + 3.0 * GELU_A * x * x)


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
# Every window has the same causal pattern, so the attention runs with the windows as the vector
# lanes: q, k, v are first copied into ``xt[t, c, b]`` (window b innermost), and every innermost loop
# below is over b, B independent lanes with contiguous loads. Per window and head that leaves loops
# of length hd or t (8..64), too short for the vector units and each a reduction that float64 without
# fast-math flags may not reassociate; across windows nothing is reassociated: each score still adds its
# terms in order d = 0..hd−1, each softmax sum in order j = 0..t. ``att`` is kept as [h, t, j, b].
@kernel
def _to_lanes(xt, x, B, T):
    """xt[t, c, b] = x[b·T + t, c]."""
    for b in range(B):
        for t in range(T):
            row = x[b * T + t]
            for c in range(x.shape[1]):
                xt[t, c, b] = row[c]


@kernel
def _from_lanes(x, xt, B, T):
    """x[b·T + t, c] = xt[t, c, b]."""
    for b in range(B):
        for t in range(T):
            row = x[b * T + t]
            for c in range(x.shape[1]):
                row[c] = xt[t, c, b]


@kernel
def attention_forward(out, att, qkv, B, T, NH, xt, ot, lanes):
    """Per window and head: s = q·kᵀ/√hd over keys j ≤ t (causal), p = softmax(s), out = p·v.

    ``qkv`` rows are [q | k | v], each C wide, head h at columns h·hd..(h+1)·hd. ``att`` (flat
    [h, t, j, b], entries j > t are 0) is kept for the backward pass; ``xt`` [T, 3C, B], ``ot``
    [T, C, B] and ``lanes`` [≥ 3, B] are scratch.
    """
    C = out.shape[1]
    hd = C // NH
    scale = 1.0 / math.sqrt(hd)
    _to_lanes(xt, qkv, B, T)
    mx = lanes[0]
    tot = lanes[1]
    acc = lanes[2]  # sums build up here, not in att/ot: a store there might alias the loads, forcing reloads
    for h in range(NH):
        qo = h * hd
        for t in range(T):
            a = att[(h * T + t) * T * B:(h * T + t + 1) * T * B].reshape((T, B))  # p[t, :, :]
            q = xt[t, qo:qo + hd]
            for j in range(t + 1):
                k = xt[j, C + qo:C + qo + hd]
                for b in range(B):
                    acc[b] = 0.0
                for d in range(hd):
                    for b in range(B):
                        acc[b] += q[d, b] * k[d, b]
                for b in range(B):
                    a[j, b] = acc[b] * scale
            for b in range(B):
                mx[b] = a[0, b]
                tot[b] = 0.0
            for j in range(1, t + 1):
                for b in range(B):
                    mx[b] = max(mx[b], a[j, b])
            for j in range(t + 1):
                for b in range(B):
                    e = exp_nonpositive(a[j, b] - mx[b])
                    a[j, b] = e
                    tot[b] += e
            for b in range(B):
                tot[b] = 1.0 / tot[b]
            for j in range(t + 1):
                for b in range(B):
                    a[j, b] *= tot[b]
            for j in range(t + 1, T):
                for b in range(B):
                    a[j, b] = 0.0
            o = ot[t, qo:qo + hd]
            for d in range(hd):
                for b in range(B):
                    acc[b] = 0.0
                for j in range(t + 1):
                    v = xt[j, 2 * C + qo + d]
                    for b in range(B):
                        acc[b] += a[j, b] * v[b]
                for b in range(B):
                    o[d, b] = acc[b]
    _from_lanes(out, ot, B, T)


@kernel
def attention_backward(dqkv, dout, qkv, att, B, T, NH, xt, dxt, ot, dst, lanes):
    """dv[j] = Σ_t p[t,j]·dout[t]; dp = dout·vᵀ; ds = p·(dp − Σ p·dp) (softmax, per row);
    dq[t] = Σ_j ds·k/√hd, dk[j] = Σ_t ds·q/√hd (the scale applies to both). Masked entries get none.

    After ``attention_forward`` on the same windows (``att``). ``dqkv`` is written; ``xt`` (q, k, v in
    lanes again), ``dxt`` [T, 3C, B], ``ot`` (dout in lanes), ``dst`` [T·T·B] (ds of one head) and
    ``lanes`` are scratch."""
    C = dout.shape[1]
    hd = C // NH
    scale = 1.0 / math.sqrt(hd)
    _to_lanes(xt, qkv, B, T)
    _to_lanes(ot, dout, B, T)
    sp = lanes[0]
    acc = lanes[2]
    for h in range(NH):
        qo = h * hd
        for t in range(T):  # ds[t, j] for every key, then dq[t]
            a = att[(h * T + t) * T * B:(h * T + t + 1) * T * B].reshape((T, B))
            ds = dst[t * T * B:(t + 1) * T * B].reshape((T, B))
            g = ot[t, qo:qo + hd]
            for b in range(B):
                sp[b] = 0.0
            for j in range(t + 1):
                v = xt[j, 2 * C + qo:2 * C + qo + hd]
                for b in range(B):
                    acc[b] = 0.0
                for d in range(hd):
                    for b in range(B):
                        acc[b] += g[d, b] * v[d, b]
                for b in range(B):
                    ds[j, b] = acc[b]
                    sp[b] += a[j, b] * acc[b]
            for j in range(t + 1):
                for b in range(B):
                    ds[j, b] = a[j, b] * (ds[j, b] - sp[b]) * scale
            dq = dxt[t, qo:qo + hd]
            for d in range(hd):
                for b in range(B):
                    acc[b] = 0.0
                for j in range(t + 1):
                    k = xt[j, C + qo + d]
                    for b in range(B):
                        acc[b] += ds[j, b] * k[b]
                for b in range(B):
                    dq[d, b] = acc[b]
        for j in range(T):  # dk[j], dv[j]: sums over the queries t >= j that saw key j
            dk = dxt[j, C + qo:C + qo + hd]
            dv = dxt[j, 2 * C + qo:2 * C + qo + hd]
            for d in range(hd):
                for b in range(B):
                    acc[b] = 0.0
                for t in range(j, T):
                    ds = dst[(t * T + j) * B:(t * T + j + 1) * B]
                    q = xt[t, qo + d]
                    for b in range(B):
                        acc[b] += ds[b] * q[b]
                for b in range(B):
                    dk[d, b] = acc[b]
                for b in range(B):
                    acc[b] = 0.0
                for t in range(j, T):
                    p = att[((h * T + t) * T + j) * B:((h * T + t) * T + j + 1) * B]
                    g = ot[t, qo + d]
                    for b in range(B):
                        acc[b] += p[b] * g[b]
                for b in range(B):
                    dv[d, b] = acc[b]
    _from_lanes(dqkv, dxt, B, T)


# Longer windows and wider heads: per window and head the products are matrices worth a BLAS call
# (T×hd by hd×T), and the lanes above would loop T²·hd times over few windows. ``att`` is then kept as
# [b, h, t, j]; the same test (``attention_uses_blas``) picks the path forward and backward.
ATT_BLAS_MIN = 256  # T·hd from which per-head BLAS products beat the lanes (measured: T 32 x hd 8 2x faster)


@inline_kernel
def attention_uses_blas(T, hd):
    return T * hd >= ATT_BLAS_MIN


@kernel
def _head(h, x, b, T, col, into_head):
    """h[t, :] = x[b·T + t, col : col + hd] (one head's q, k or v of window b, made contiguous), or
    back (``into_head`` false: x[b·T + t, col : col + hd] = h[t, :])."""
    hd = h.shape[1]
    for t in range(T):
        row = x[b * T + t, col:col + hd]
        r = h[t]
        for c in range(hd):
            if into_head:
                r[c] = row[c]
            else:
                row[c] = r[c]


@kernel
def attention_forward_blas(out, att, qkv, B, T, NH, hb):
    """``attention_forward`` by per-head matrix products: S = Q·Kᵀ (BLAS), causal softmax per row,
    O = P·V (BLAS). ``hb`` is scratch of at least 4·T·hd; ``att`` is [b, h, t, j]."""
    C = out.shape[1]
    hd = C // NH
    scale = 1.0 / math.sqrt(hd)
    Q = hb[0:T * hd].reshape((T, hd))
    K = hb[T * hd:2 * T * hd].reshape((T, hd))
    V = hb[2 * T * hd:3 * T * hd].reshape((T, hd))
    O = hb[3 * T * hd:4 * T * hd].reshape((T, hd))
    for b in range(B):
        for h in range(NH):
            qo = h * hd
            _head(Q, qkv, b, T, qo, as_bool(True))
            _head(K, qkv, b, T, C + qo, as_bool(True))
            _head(V, qkv, b, T, 2 * C + qo, as_bool(True))
            S = att[(b * NH + h) * T * T:(b * NH + h + 1) * T * T].reshape((T, T))
            np.dot(Q, K.T, S)
            for t in range(T):
                r = S[t]
                mx = r[0] * scale
                for j in range(t + 1):
                    r[j] *= scale
                    mx = max(mx, r[j])
                tot = 0.0
                for j in range(t + 1):
                    r[j] = exp_nonpositive(r[j] - mx)
                for j in range(t + 1):
                    tot += r[j]
                inv = 1.0 / tot
                for j in range(t + 1):
                    r[j] *= inv
                for j in range(t + 1, T):
                    r[j] = 0.0
            np.dot(S, V, O)
            _head(O, out, b, T, qo, as_bool(False))


@kernel
def attention_backward_blas(dqkv, dout, qkv, att, B, T, NH, hb):
    """``attention_backward`` by per-head matrix products: dP = dO·Vᵀ, dV = Pᵀ·dO, dS = P∘(dP − rowsum(P∘dP))/√hd,
    dQ = dS·K, dK = dSᵀ·Q. ``hb`` is scratch of at least 8·T·hd + T·T."""
    C = dout.shape[1]
    hd = C // NH
    scale = 1.0 / math.sqrt(hd)
    n = T * hd
    Q = hb[0:n].reshape((T, hd))
    K = hb[n:2 * n].reshape((T, hd))
    V = hb[2 * n:3 * n].reshape((T, hd))
    G = hb[3 * n:4 * n].reshape((T, hd))
    dQ = hb[4 * n:5 * n].reshape((T, hd))
    dK = hb[5 * n:6 * n].reshape((T, hd))
    dV = hb[6 * n:7 * n].reshape((T, hd))
    dS = hb[7 * n:7 * n + T * T].reshape((T, T))
    for b in range(B):
        for h in range(NH):
            qo = h * hd
            _head(Q, qkv, b, T, qo, as_bool(True))
            _head(K, qkv, b, T, C + qo, as_bool(True))
            _head(V, qkv, b, T, 2 * C + qo, as_bool(True))
            _head(G, dout, b, T, qo, as_bool(True))
            P = att[(b * NH + h) * T * T:(b * NH + h + 1) * T * T].reshape((T, T))
            np.dot(G, V.T, dS)
            np.dot(P.T, G, dV)
            for t in range(T):
                p = P[t]
                r = dS[t]
                sp = 0.0
                for j in range(t + 1):
                    sp += p[j] * r[j]
                for j in range(t + 1):
                    r[j] = p[j] * (r[j] - sp) * scale
                for j in range(t + 1, T):
                    r[j] = 0.0
            np.dot(dS, K, dQ)
            np.dot(dS.T, Q, dK)
            _head(dQ, dqkv, b, T, qo, as_bool(False))
            _head(dK, dqkv, b, T, C + qo, as_bool(False))
            _head(dV, dqkv, b, T, 2 * C + qo, as_bool(False))


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
            i = starts[b] + t + 1
            mx = probs[n, 0]
            for v in range(1, V):
                if probs[n, v] > mx:
                    mx = probs[n, v]
            zy = probs[n, stream[i]] - mx
            for v in range(V):
                probs[n, v] = exp_nonpositive(probs[n, v] - mx)
            tot = 0.0
            for v in range(V):
                tot += probs[n, v]
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
