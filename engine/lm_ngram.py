"""The two models that look back a fixed number of tokens: a bigram logit table and Bengio's MLP.

bigram (makemore part 1 as a network)::

    logits = table[x_t]                       one row per current token: V·V parameters
    loss = Σ w·(−ln softmax(logits)[x_{t+1}]) / Σ w

Its optimum on a training stream is in closed form: softmax(table[i]) = counts[i]/Σ counts[i]
(the log of the count matrix up to a constant per row), which the tests use as an oracle.

mlp (Bengio et al. 2003; makemore part 2)::

    e = [emb[x_{t−k+1}], ..., emb[x_t]]       k embeddings, oldest first, concatenated (k·E)
    h = tanh(e @ W_hidden + b_hidden)
    logits = h @ W_out + b_out

The context reaches back into the stream before the window (the stream is one text); before the
stream's start it reads token 0 (the boundary ``"\\n"`` in the line corpora).
"""

from __future__ import annotations

from ._jit import kernel
from .lm_layers import (
    crossentropy_backward, crossentropy_forward, matmul_backward, matmul_forward, tanh_backward, tanh_forward,
)
from .lm_layout import B_HID, B_OUT, EMB, TABLE, W_HID, W_OUT, mat, vec


@kernel
def bigram_forward(cfg, off, params, stream, starts, T, weights, buf):
    """Logits of every position from the table row of its token; returns (Σ w·loss, Σ w)."""
    V = cfg.V
    N = starts.shape[0] * T
    table = mat(params, off[0, TABLE], V, V)
    probs = buf.probs[:N]
    for b in range(starts.shape[0]):
        for t in range(T):
            x = stream[starts[b] + t]
            n = b * T + t
            for v in range(V):
                probs[n, v] = table[x, v]
    return crossentropy_forward(probs, stream, starts, T, weights)


@kernel
def bigram_backward(cfg, off, grad, stream, starts, T, weights, buf, scale):
    """dtable[x_t] += dlogits of position t (repeated tokens add into the same row)."""
    V = cfg.V
    N = starts.shape[0] * T
    dlogits = buf.probs[:N]
    crossentropy_backward(dlogits, stream, starts, T, weights, scale)
    dtable = mat(grad, off[0, TABLE], V, V)
    for b in range(starts.shape[0]):
        for t in range(T):
            x = stream[starts[b] + t]
            n = b * T + t
            for v in range(V):
                dtable[x, v] += dlogits[n, v]


@kernel
def _context(ctx, x, emb, stream, starts, T):
    """ctx[n] = the k tokens up to position n, oldest first (token 0 before the stream's start), and
    x[n] = their embeddings, concatenated."""
    E = emb.shape[1]
    k = ctx.shape[1]
    for b in range(starts.shape[0]):
        for t in range(T):
            for j in range(k):
                i = starts[b] + t - (k - 1 - j)
                ctx[b * T + t, j] = stream[i] if i >= 0 else 0
    for n in range(starts.shape[0] * T):
        for j in range(k):
            x[n, j * E:(j + 1) * E] = emb[ctx[n, j]]


@kernel
def mlp_forward(cfg, off, params, stream, starts, T, weights, buf):
    """Forward pass of the MLP over B windows of T positions; returns (Σ w·loss, Σ w)."""
    N = starts.shape[0] * T
    o = off[0]
    E, k, H, V = cfg.C, cfg.context, cfg.hidden, cfg.V
    x = buf.x[:N]
    h = buf.h[:N]
    _context(buf.ctx[:N], x, mat(params, o[EMB], V, E), stream, starts, T)
    matmul_forward(h, x, mat(params, o[W_HID], k * E, H), vec(params, o[B_HID], H))
    tanh_forward(h, h)
    probs = buf.probs[:N]
    matmul_forward(probs, h, mat(params, o[W_OUT], H, V), vec(params, o[B_OUT], V))
    return crossentropy_forward(probs, stream, starts, T, weights)


@kernel
def mlp_backward(cfg, off, params, grad, stream, starts, T, weights, buf, scale):
    """Backward pass after ``mlp_forward`` on the same windows; grad (zeroed by the caller) receives
    d(Σ w·loss · scale)/dparams."""
    N = starts.shape[0] * T
    o = off[0]
    E, k, H, V = cfg.C, cfg.context, cfg.hidden, cfg.V
    dlogits = buf.probs[:N]
    crossentropy_backward(dlogits, stream, starts, T, weights, scale)
    dh = buf.d2[:N]
    matmul_backward(dh, mat(grad, o[W_OUT], H, V), vec(grad, o[B_OUT], V), dlogits, buf.h[:N],
                    mat(params, o[W_OUT], H, V))
    tanh_backward(dh, buf.h[:N])
    dx = buf.d1[:N]
    matmul_backward(dx, mat(grad, o[W_HID], k * E, H), vec(grad, o[B_HID], H), dh, buf.x[:N],
                    mat(params, o[W_HID], k * E, H))
    demb = mat(grad, o[EMB], V, E)
    for n in range(N):  # scatter-add each context slot's gradient into its token's row
        for j in range(k):
            demb[buf.ctx[n, j]] += dx[n, j * E:(j + 1) * E]
