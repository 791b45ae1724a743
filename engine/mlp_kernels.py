"""The MLP's kernels on ONE flat float64 parameter vector: forward, backward and loss of a batch.

The architecture, the modes and how a network is built are ``engine.mlp``'s; this module is what other
kernels call (training epochs, gradient profiles, landscapes, backprop records).

Flat parameter vector ``params`` (what the optimizers update unchanged), layer by layer:
``W_1`` (row-major [w_0, w_1]), ``b_1``, [``γ_1``, ``β_1``], ``W_2``, ``b_2``, ... — offsets in ``layout``.

Kernels (arrays and scalars only; no allocation; callable inside other kernels and from several threads at once):

    yhat = mlp_forward(layout, fparams, params, X, mode, seed, step, running, work)     # view into work
    mlp_backward(layout, fparams, params, X, dyhat, mode, grad, work, record)
    loss = mlp_loss_grad(layout, fparams, params, X, Y, loss_code, lparams, mode, seed, step, running, grad, work)
    loss = mlp_loss(layout, fparams, params, X, Y, loss_code, lparams, mode, seed, step, running, work)
    mlp_predict(layout, fparams, params, X, mode, seed, step, running, work, out)

* ``layout`` int64 [L, NCOL], ``fparams`` float64 [L, NF]: from ``build_mlp(...)`` (columns below);
* ``X`` float64 [n, w_0] and ``Y`` [n, w_L], C-contiguous; ``params``/``grad`` float64 [n_params];
* ``running`` float64 [n_running] (``new_running``; pass a 0-length array when BN is off);
* ``work`` float64 with at least ``workspace_size(layout, fparams, n)`` entries (a buffer sized for
  the largest batch serves every smaller one); ``record`` float64 [record_size(layout, n)] to keep
  every layer's ∂L/∂z and ∂L/∂a, or ``work[:0]`` to skip;
* ``seed``, ``step`` non-negative ints: dropout masks are a function of (seed, step, layer, unit);
* ``loss_code``, ``lparams`` from ``engine.losses.resolve_loss`` (torch reductions).

``mlp_loss_grad`` overwrites ``grad`` (no accumulation) and returns the loss.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np

from ._jit import kernel
from .activations import SIGMOID, TANH, activate, activate_backward, activate_backward_from_output
from .losses import loss_value_grad
from .rng import key_uniform, stream_key

# layout columns (int64 [L, NCOL])
IN = 0  # fan_in w_{ℓ−1}
OUT = 1  # fan_out w_ℓ
W_OFF = 2  # offset of W_ℓ in params
B_OFF = 3  # offset of b_ℓ
G_OFF = 4  # offset of γ_ℓ (−1: no batch norm on this layer)
BETA_OFF = 5  # offset of β_ℓ (−1: none)
RUN_OFF = 6  # offset of [running mean (w_ℓ), running var (w_ℓ)] in ``running`` (−1: none)
SKIP = 7  # 1: residual connection a_ℓ = a_{ℓ−1} + ...
ACT = 8  # activation code of this layer
NCOL = 9

# fparams columns (float64 [L, NF])
F_ACT = 0  # the activation's parameter (leaky slope / elu α)
F_DROP = 1  # dropout probability of this layer's output (0: none)
F_EPS = 2  # batch-norm eps
F_MOM = 3  # batch-norm momentum for the running statistics
NF = 4

# modes
TRAIN = 0
TRAIN_UPDATE = 1
EVAL_BATCH = 2
EVAL_RUNNING = 3
MODES = {"train": TRAIN, "train_update": TRAIN_UPDATE, "eval_batch": EVAL_BATCH, "eval_running": EVAL_RUNNING}

BN_EPS = 1e-5
BN_MOMENTUM = 0.1


# ---------------------------------------------------------------------------------------------
# Workspace layout. Per layer ℓ, in order: Z [n, w], A [n, w], then if batch norm S [n, w],
# mean [w], invstd [w], then if dropout M [n, w] (the mask times 1/(1 − p)). After all layers:
# three scratch blocks of n·max(w) for the backward pass (two ping-pong ∂L/∂a, one ∂L/∂z).
# ---------------------------------------------------------------------------------------------
@kernel
def _block(layout, fparams, l, n):
    w = layout[l, OUT]
    size = 2 * n * w
    if layout[l, G_OFF] >= 0:
        size += n * w + 2 * w
    if fparams[l, F_DROP] > 0.0:
        size += n * w
    return size


@kernel
def layer_state_size(layout, fparams, l, n):
    """Entries of ``work`` layer l's forward state takes (the block above), for kernels that read that
    state after ``mlp_forward``: engine.hvp's R-operator walks the layers with it."""
    return _block(layout, fparams, l, n)


@kernel
def _forward_size(layout, fparams, n):
    total = 0
    for l in range(layout.shape[0]):
        total += _block(layout, fparams, l, n)
    return total


@kernel
def _max_width(layout):
    m = 0
    for l in range(layout.shape[0]):
        if layout[l, OUT] > m:
            m = layout[l, OUT]
    return m


@kernel
def workspace_size(layout, fparams, n):
    """Entries of ``work`` a batch of n rows needs (monotone in n)."""
    return _forward_size(layout, fparams, n) + 3 * n * _max_width(layout)


@kernel
def record_size(layout, n):
    """Entries of ``record``: ∂L/∂z_ℓ and ∂L/∂a_ℓ, [n, w_ℓ] each, for every layer."""
    total = 0
    for l in range(layout.shape[0]):
        total += 2 * n * layout[l, OUT]
    return total


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------
@kernel
def _batch_norm_forward(layout, fparams, l, params, Z, S, mean, invstd, mode, running):
    """S = γ·(Z − μ)·invstd + β per column; μ/invstd from the batch (modes 0–2) or running stats (3)."""
    n, w = Z.shape
    go = layout[l, G_OFF]
    bo = layout[l, BETA_OFF]
    ro = layout[l, RUN_OFF]
    eps = fparams[l, F_EPS]
    if mode == EVAL_RUNNING:
        for j in range(w):
            mean[j] = running[ro + j]
            invstd[j] = 1.0 / math.sqrt(running[ro + w + j] + eps)
    else:
        for j in range(w):
            mean[j] = 0.0
            invstd[j] = 0.0
        for i in range(n):
            for j in range(w):
                mean[j] += Z[i, j]
        for j in range(w):
            mean[j] /= n
        for i in range(n):
            for j in range(w):
                d = Z[i, j] - mean[j]
                invstd[j] += d * d  # Σ (z − μ)², two-pass
        if mode == TRAIN_UPDATE:
            m = fparams[l, F_MOM]
            for j in range(w):
                running[ro + j] = (1.0 - m) * running[ro + j] + m * mean[j]
                unbiased = invstd[j] / (n - 1) if n > 1 else invstd[j]
                running[ro + w + j] = (1.0 - m) * running[ro + w + j] + m * unbiased
        for j in range(w):
            invstd[j] = 1.0 / math.sqrt(invstd[j] / n + eps)  # biased variance
    for i in range(n):
        for j in range(w):
            S[i, j] = params[go + j] * ((Z[i, j] - mean[j]) * invstd[j]) + params[bo + j]


@kernel
def mlp_forward(layout, fparams, params, X, mode, seed, step, running, work):
    """Forward pass of a batch; fills the workspace and returns ŷ [n, w_L] (a view into ``work``)."""
    n = X.shape[0]
    off = 0
    prev = X
    for l in range(layout.shape[0]):
        fi = layout[l, IN]
        fo = layout[l, OUT]
        wo = layout[l, W_OFF]
        bo = layout[l, B_OFF]
        W = params[wo:wo + fi * fo].reshape((fi, fo))
        Z = work[off:off + n * fo].reshape((n, fo))
        off += n * fo
        A = work[off:off + n * fo].reshape((n, fo))
        off += n * fo
        np.dot(prev, W, Z)
        for i in range(n):
            for j in range(fo):
                Z[i, j] += params[bo + j]
        S = Z
        if layout[l, G_OFF] >= 0:
            S = work[off:off + n * fo].reshape((n, fo))
            off += n * fo
            mean = work[off:off + fo]
            off += fo
            invstd = work[off:off + fo]
            off += fo
            _batch_norm_forward(layout, fparams, l, params, Z, S, mean, invstd, mode, running)
        activate(layout[l, ACT], fparams[l, F_ACT], S, A)
        p = fparams[l, F_DROP]
        if p > 0.0:
            M = work[off:off + n * fo].reshape((n, fo))
            off += n * fo
            if mode == TRAIN or mode == TRAIN_UPDATE:
                scale = 1.0 / (1.0 - p) if p < 1.0 else 0.0
                key = stream_key(seed, step, l)
                for i in range(n):
                    for j in range(fo):
                        M[i, j] = scale if key_uniform(key, i * fo + j) >= p else 0.0
                        A[i, j] *= M[i, j]
            else:
                for i in range(n):
                    for j in range(fo):
                        M[i, j] = 1.0
        if layout[l, SKIP] == 1:
            for i in range(n):
                for j in range(fo):
                    A[i, j] += prev[i, j]
        prev = A
    return prev


@kernel
def mlp_backward(layout, fparams, params, X, dyhat, mode, grad, work, record):
    """Backward pass after ``mlp_forward`` on the same X/params/mode: writes ∂L/∂params into ``grad``.

    ``dyhat`` = ∂L/∂ŷ [n, w_L] (may live in the workspace's first scratch block, as
    ``mlp_loss_grad`` puts it). When ``record`` is not empty, layer ℓ's ∂L/∂z_ℓ and ∂L/∂a_ℓ are
    copied into it (layer by layer, [n, w_ℓ] each, in forward order). Reads the forward state,
    never changes it: calling it twice gives the same gradient.
    """
    n = X.shape[0]
    L = layout.shape[0]
    fwd = _forward_size(layout, fparams, n)
    mw = _max_width(layout)
    keep = record.shape[0] > 0
    rec_end = record_size(layout, n) if keep else 0
    buf0 = work[fwd:fwd + n * mw]
    buf1 = work[fwd + n * mw:fwd + 2 * n * mw]
    dzbuf = work[fwd + 2 * n * mw:fwd + 3 * n * mw]
    g = dyhat
    cur = 0  # which ping-pong buffer g may occupy (dyhat may be buf0)
    end = fwd
    for l in range(L - 1, -1, -1):
        fi = layout[l, IN]
        fo = layout[l, OUT]
        start = end - _block(layout, fparams, l, n)
        off = start
        Z = work[off:off + n * fo].reshape((n, fo))
        A = work[off + n * fo:off + 2 * n * fo].reshape((n, fo))
        off += 2 * n * fo  # Z, A
        S = Z
        bn = layout[l, G_OFF] >= 0
        mean = work[off:off]
        invstd = work[off:off]
        if bn:
            S = work[off:off + n * fo].reshape((n, fo))
            off += n * fo
            mean = work[off:off + fo]
            off += fo
            invstd = work[off:off + fo]
            off += fo
        drop = fparams[l, F_DROP] > 0.0 and (mode == TRAIN or mode == TRAIN_UPDATE)
        M = Z
        if fparams[l, F_DROP] > 0.0:
            M = work[off:off + n * fo].reshape((n, fo))
        if l > 0:
            pstart = start - _block(layout, fparams, l - 1, n)
            fp = layout[l - 1, OUT]
            prev = work[pstart + n * fp:pstart + 2 * n * fp].reshape((n, fp))
        else:
            prev = X
        dZ = dzbuf[:n * fo].reshape((n, fo))
        code = layout[l, ACT]
        a = fparams[l, F_ACT]
        # ∂L/∂s = g·m·act'(s). A = act(s) exactly unless a dropout mask or a skip was applied to it:
        # then act'(s) comes from A (tanh 1 − A², sigmoid A(1 − A), as torch), else from s.
        if (code == TANH or code == SIGMOID) and not drop and layout[l, SKIP] == 0:
            activate_backward_from_output(code, A, g, dZ)
        elif drop:
            for i in range(n):
                for j in range(fo):
                    dZ[i, j] = g[i, j] * M[i, j]
            activate_backward(code, a, S, dZ, dZ)
        else:
            activate_backward(code, a, S, g, dZ)
        if bn:
            go = layout[l, G_OFF]
            bo = layout[l, BETA_OFF]
            dgam = grad[go:go + fo]
            dbet = grad[bo:bo + fo]
            for j in range(fo):
                dgam[j] = 0.0
                dbet[j] = 0.0
            for i in range(n):
                for j in range(fo):
                    xh = (Z[i, j] - mean[j]) * invstd[j]
                    dgam[j] += dZ[i, j] * xh  # ∂L/∂γ = Σ ds·x̂
                    dbet[j] += dZ[i, j]  # ∂L/∂β = Σ ds
            if mode == EVAL_RUNNING:
                for i in range(n):
                    for j in range(fo):
                        dZ[i, j] *= params[go + j] * invstd[j]
            else:
                # dz = γ·invstd/n · (n·ds − Σds − x̂·Σ ds·x̂)
                for i in range(n):
                    for j in range(fo):
                        xh = (Z[i, j] - mean[j]) * invstd[j]
                        dZ[i, j] = params[go + j] * invstd[j] / n * (n * dZ[i, j] - dbet[j] - xh * dgam[j])
        wo = layout[l, W_OFF]
        bo = layout[l, B_OFF]
        dW = grad[wo:wo + fi * fo].reshape((fi, fo))
        np.dot(prev.T, dZ, dW)  # ∂L/∂W = a_{ℓ−1}ᵀ ∂L/∂z
        for j in range(fo):
            grad[bo + j] = 0.0
        for i in range(n):
            for j in range(fo):
                grad[bo + j] += dZ[i, j]  # ∂L/∂b = Σ_rows ∂L/∂z
        if keep:
            rec_end -= 2 * n * fo
            rz = record[rec_end:rec_end + n * fo]
            ra = record[rec_end + n * fo:rec_end + 2 * n * fo]
            for i in range(n):
                for j in range(fo):
                    rz[i * fo + j] = dZ[i, j]
                    ra[i * fo + j] = g[i, j]
        if l > 0:
            nxt = buf1 if cur == 0 else buf0
            cur = 1 - cur
            gn = nxt[:n * fi].reshape((n, fi))
            W = params[wo:wo + fi * fo].reshape((fi, fo))
            np.dot(dZ, W.T, gn)  # ∂L/∂a_{ℓ−1} = ∂L/∂z Wᵀ
            if layout[l, SKIP] == 1:
                for i in range(n):
                    for j in range(fi):
                        gn[i, j] += g[i, j]  # the identity path of the skip connection
            g = gn
        end = start


@kernel
def output_view(layout, fparams, n, work):
    """ŷ [n, w_L] inside ``work`` after a forward pass of n rows."""
    off = _forward_size(layout, fparams, n) - _block(layout, fparams, layout.shape[0] - 1, n)
    k = layout[layout.shape[0] - 1, OUT]
    return work[off + n * k:off + 2 * n * k].reshape((n, k))


@kernel
def mlp_loss_grad(layout, fparams, params, X, Y, loss_code, lparams, mode, seed, step, running, grad, work):
    """Forward, loss (torch reduction) and backward of one batch: writes ∂L/∂params into ``grad``."""
    yhat = mlp_forward(layout, fparams, params, X, mode, seed, step, running, work)
    n, k = yhat.shape
    fwd = _forward_size(layout, fparams, n)
    dy = work[fwd:fwd + n * k].reshape((n, k))
    loss = loss_value_grad(loss_code, yhat, Y, lparams, dy)
    mlp_backward(layout, fparams, params, X, dy, mode, grad, work, work[:0])
    return loss


@kernel
def mlp_loss(layout, fparams, params, X, Y, loss_code, lparams, mode, seed, step, running, work):
    """Forward and loss of one batch (no backward)."""
    yhat = mlp_forward(layout, fparams, params, X, mode, seed, step, running, work)
    n, k = yhat.shape
    fwd = _forward_size(layout, fparams, n)
    dy = work[fwd:fwd + n * k].reshape((n, k))
    return loss_value_grad(loss_code, yhat, Y, lparams, dy)


@kernel
def mlp_predict(layout, fparams, params, X, mode, seed, step, running, work, out):
    """out = ŷ [n, w_L] of X."""
    yhat = mlp_forward(layout, fparams, params, X, mode, seed, step, running, work)
    n, k = yhat.shape
    for i in range(n):
        for j in range(k):
            out[i, j] = yhat[i, j]


@kernel
def safe_norm(x):
    """‖x‖₂ of a flat array, without overflow or underflow for finite entries; inf/NaN pass through.

    Σx² in one pass (four partial sums: no BLAS call, so no thread start-up for a norm) when it is a
    normal float64; otherwise the scaled form m·√Σ(x/m)², m = max|x|.
    """
    n = x.shape[0]
    s0 = s1 = s2 = s3 = 0.0
    i = 0
    while i + 4 <= n:
        s0 += x[i] * x[i]
        s1 += x[i + 1] * x[i + 1]
        s2 += x[i + 2] * x[i + 2]
        s3 += x[i + 3] * x[i + 3]
        i += 4
    while i < n:
        s0 += x[i] * x[i]
        i += 1
    s = (s0 + s1) + (s2 + s3)
    if math.isfinite(s) and s > 1e-290:
        return math.sqrt(s)
    m = 0.0
    for i in range(n):
        a = abs(x[i])
        if not a <= m:  # also true for NaN
            m = a
    if m == 0.0 or not math.isfinite(m):
        return m
    s = 0.0
    for i in range(x.shape[0]):
        r = x[i] / m
        s += r * r
    return m * math.sqrt(s)


class Problem(NamedTuple):
    """A network, one batch and its loss: what a kernel computing that loss or its gradient takes."""

    layout: np.ndarray  # int64 [L, NCOL]
    fparams: np.ndarray  # float64 [L, NF]
    X: np.ndarray  # float64 [n, w_0]
    Y: np.ndarray  # float64 [n, w_L] in the loss's format
    loss_code: int
    lparams: np.ndarray
