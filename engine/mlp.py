"""Multilayer perceptron on ONE flat float64 parameter vector, with batched forward/backward kernels.

Architecture (``layers`` = widths from input to output, ``L = len(layers) − 1`` weight layers;
layer ℓ = 1..L maps a_{ℓ−1} [n, w_{ℓ−1}] to a_ℓ [n, w_ℓ], a_0 = X)::

    z_ℓ = a_{ℓ−1} @ W_ℓ + b_ℓ                      W_ℓ [w_{ℓ−1}, w_ℓ], b_ℓ [w_ℓ]   (torch: x @ weight.T + bias)
    s_ℓ = γ_ℓ·(z_ℓ − μ)/√(σ² + eps) + β_ℓ           batch_norm on (hidden layers), else s_ℓ = z_ℓ
    f_ℓ = act(s_ℓ)                                  hidden: ``activation``; output: ``output_activation``
    d_ℓ = f_ℓ·m_ℓ,  m_ℓ ∈ {0, 1/(1 − p)}           dropout p > 0, training modes, hidden layers only
    a_ℓ = a_{ℓ−1} + d_ℓ                             residual on and w_{ℓ−1} = w_ℓ, hidden layers ℓ ≥ 2
    a_ℓ = d_ℓ                                       otherwise

* **Batch normalization** sits after the linear map and before the activation (Ioffe & Szegedy's
  placement, ``Linear → BatchNorm1d → act``), on every hidden layer, never on the output layer.
  Training modes use the batch's statistics with the *biased* variance and eps = 1e-5 (torch);
  γ = 1, β = 0 at init, learnable. The linear bias b_ℓ stays (torch's Linear keeps it), although
  batch statistics cancel it: its gradient is 0 up to rounding in training mode.
  Running statistics (mean 0 / var 1 at init) are updated only in mode ``TRAIN_UPDATE``:
  r_μ ← (1 − m)·r_μ + m·μ, r_σ² ← (1 − m)·r_σ² + m·σ²·n/(n − 1) (unbiased), momentum m = 0.1.
* **Residual connections** skip exactly one hidden layer: a_ℓ = a_{ℓ−1} + dropout(act(BN(z_ℓ))), on
  hidden layers ℓ ≥ 2 whose input and output widths are equal (the first layer's input is the data,
  the output layer is never skipped); layers of unequal width get no skip (``layout[:, SKIP]`` says
  which).
* **Dropout** is inverted dropout (torch): kept units are scaled by 1/(1 − p) in training so eval is
  the identity; p = 1 drops everything. Masks come from ``engine.rng`` (a splitmix64 hash of
  (seed, step, layer, row·width + unit)), not numpy's Generator, so a jitted training loop draws them
  without Python and recomputing a step (finite differences) gives the same mask: see engine/rng.py.
* **Modes** (``mode`` argument): ``TRAIN`` (0) dropout on, BN batch statistics; ``TRAIN_UPDATE`` (1)
  the same and the running statistics updated; ``EVAL_BATCH`` (2) no dropout, BN with the batch's
  statistics (torch's ``model.eval()`` with ``track_running_stats=False``); ``EVAL_RUNNING`` (3) no
  dropout, BN with the running statistics (torch's ``model.eval()`` default). Backward is exact in
  every mode (in ``EVAL_RUNNING`` BN is the affine map γ(z − r_μ)/√(r_σ² + eps) + β).

Flat parameter vector ``params`` (what the optimizers update unchanged), layer by layer:
``W_1`` (row-major [w_0, w_1]), ``b_1``, [``γ_1``, ``β_1``], ``W_2``, ``b_2``, ... — offsets in ``layout``.

Kernels (arrays and scalars only; no allocation; callable inside other kernels and ``prange``):

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
from dataclasses import dataclass

import numpy as np

from ._jit import kernel
from .activations import (
    ACTIVATIONS, SIGMOID, TANH, activate, activate_backward, activate_backward_from_output, resolve_activation,
)
from .errors import EngineInputError
from .init import init_layer, resolve_init
from .limits import LIMITS, check_max
from .losses import LOSSES, loss_value_grad, resolve_loss
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
def _output_view(layout, fparams, n, work):
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



# ---------------------------------------------------------------------------------------------
# Public API: build, initialise, pack/unpack, evaluate
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True, eq=False)
class MLP:
    """An architecture: widths, activations, switches, and the kernels' ``layout``/``fparams``."""

    widths: tuple[int, ...]
    activation: str
    activation_params: dict
    output_activation: str
    output_activation_params: dict
    residual: bool
    batch_norm: bool
    dropout: float
    layout: np.ndarray  # int64 [L, NCOL]
    fparams: np.ndarray  # float64 [L, NF]
    n_params: int
    n_running: int

    @property
    def n_layers(self) -> int:
        return len(self.widths) - 1

    @property
    def skips(self) -> tuple[int, ...]:
        """1-based indices of the layers with a residual connection."""
        return tuple(int(l) + 1 for l in np.flatnonzero(self.layout[:, SKIP]))

    def workspace_size(self, n: int) -> int:
        return int(workspace_size(self.layout, self.fparams, int(n)))

    def record_size(self, n: int) -> int:
        return int(record_size(self.layout, int(n)))


def _int(value, field: str, low: int, limit: str | None = None) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        raise EngineInputError(field, "must be an integer")
    v = int(value)
    if v < low:
        raise EngineInputError(field, f"must be >= {low}")
    if limit is not None:
        check_max(field, v, limit)
    return v


def _prob(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise EngineInputError(field, "must be a number")
    if not 0.0 <= value <= 1.0:
        raise EngineInputError(field, "must lie in [0, 1]")
    return float(value)


def build_mlp(
    layers,
    activation: str = "relu",
    output_activation: str = "identity",
    residual: bool = False,
    batch_norm: bool = False,
    dropout: float = 0.0,
    activation_params: dict | None = None,
    output_activation_params: dict | None = None,
    bn_momentum: float = BN_MOMENTUM,
) -> MLP:
    """Validate an architecture (limits max_layers, max_width, max_network_parameters) and lay it out."""
    if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__len__"):
        raise EngineInputError("layers", "must be a list of layer widths, input first, output last")
    if len(layers) < 2:
        raise EngineInputError("layers", "needs at least an input and an output width")
    check_max("layers", len(layers) - 1, "max_layers")
    widths = tuple(_int(w, "layers", 1, "max_width") for w in layers)
    act = resolve_activation(activation, activation_params, "activation")
    out_act = resolve_activation(output_activation, output_activation_params, "output_activation")
    for name, v in (("residual", residual), ("batch_norm", batch_norm)):
        if not isinstance(v, (bool, np.bool_)):
            raise EngineInputError(name, "must be true or false")
    p = _prob(dropout, "dropout")
    m = _prob(bn_momentum, "bn_momentum")
    L = len(widths) - 1
    n_params = sum(widths[l] * widths[l + 1] + widths[l + 1] for l in range(L))
    if batch_norm:
        n_params += sum(2 * widths[l + 1] for l in range(L - 1))
    check_max("layers", n_params, "max_network_parameters")
    layout = np.zeros((L, NCOL), dtype=np.int64)
    fparams = np.zeros((L, NF), dtype=np.float64)
    off = 0
    run = 0
    for l in range(L):
        fi, fo = widths[l], widths[l + 1]
        hidden = l < L - 1
        layout[l, IN], layout[l, OUT] = fi, fo
        layout[l, W_OFF] = off
        off += fi * fo
        layout[l, B_OFF] = off
        off += fo
        layout[l, G_OFF] = layout[l, BETA_OFF] = layout[l, RUN_OFF] = -1
        if batch_norm and hidden:
            layout[l, G_OFF] = off
            layout[l, BETA_OFF] = off + fo
            off += 2 * fo
            layout[l, RUN_OFF] = run
            run += 2 * fo
        layout[l, SKIP] = 1 if (residual and hidden and l >= 1 and fi == fo) else 0
        layout[l, ACT] = act.code if hidden else out_act.code
        fparams[l, F_ACT] = act.param if hidden else out_act.param
        fparams[l, F_DROP] = p if hidden else 0.0
        fparams[l, F_EPS] = BN_EPS
        fparams[l, F_MOM] = m
    assert off == n_params
    return MLP(widths, act.name, act.params, out_act.name, out_act.params, bool(residual), bool(batch_norm), p,
               layout, fparams, int(n_params), int(run))


@dataclass(frozen=True, eq=False)
class LayerParams:
    """Views of one layer's parameters inside the flat vector."""

    W: np.ndarray  # [fan_in, fan_out]
    b: np.ndarray  # [fan_out]
    gamma: np.ndarray | None  # BN scale, [fan_out]
    beta: np.ndarray | None  # BN shift


def unpack(net: MLP, params: np.ndarray) -> list[LayerParams]:
    """Per-layer views (no copies) of W, b, γ, β inside ``params`` (or a gradient of the same layout)."""
    out = []
    for row in net.layout:
        fi, fo, wo, bo, go, beo = (int(v) for v in row[:6])
        out.append(LayerParams(
            params[wo:wo + fi * fo].reshape(fi, fo), params[bo:bo + fo],
            params[go:go + fo] if go >= 0 else None, params[beo:beo + fo] if beo >= 0 else None,
        ))
    return out


def init_params(net: MLP, init=None, seed: int = 0, field: str = "init") -> np.ndarray:
    """A flat parameter vector drawn layer by layer with ``init`` (engine.init), BN γ = 1, β = 0."""
    resolved = resolve_init(init if init is not None else {"name": "torch_default"}, field)
    rng = np.random.default_rng(seed)
    params = np.zeros(net.n_params, dtype=np.float64)
    for lp, (fi, fo) in zip(unpack(net, params), zip(net.widths[:-1], net.widths[1:])):
        W, b = init_layer(resolved, fi, fo, rng)
        lp.W[...] = W
        lp.b[...] = b
        if lp.gamma is not None:
            lp.gamma[...] = 1.0
    return params


def pack(net: MLP, weights, field: str = "weights") -> np.ndarray:
    """A flat vector from ``[{"W": [[...]], "b": [...], ("gamma", "beta")}, ...]``, shapes checked."""
    if not isinstance(weights, (list, tuple)) or len(weights) != net.n_layers:
        raise EngineInputError(field, f"must be a list of {net.n_layers} layers, one per weight layer")
    params = np.zeros(net.n_params, dtype=np.float64)
    for l, (lp, given) in enumerate(zip(unpack(net, params), weights)):
        f = f"{field}.{l}"
        if not isinstance(given, dict):
            raise EngineInputError(f, "must be an object with W and b")
        allowed = {"W", "b"} | ({"gamma", "beta"} if lp.gamma is not None else set())
        unknown = sorted(set(given) - allowed)
        if unknown:
            raise EngineInputError(f"{f}.{unknown[0]}", f"unknown key; accepted: {', '.join(sorted(allowed))}")
        for key, dst in (("W", lp.W), ("b", lp.b), ("gamma", lp.gamma), ("beta", lp.beta)):
            if dst is None:
                continue
            if key not in given:
                if key in ("W", "b"):
                    raise EngineInputError(f"{f}.{key}", "missing")
                dst[...] = 1.0 if key == "gamma" else 0.0
                continue
            dst[...] = _array(given[key], f"{f}.{key}", dst.shape)
    return params


MAX_ABS_VALUE = 1e6  # |input|, |target|, |weight| accepted from users


def _array(values, field: str, shape: tuple[int, ...]) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise EngineInputError(field, "must be numbers (rows of equal length)") from None
    if arr.shape != shape:
        raise EngineInputError(field, f"shape {list(arr.shape)} does not match the expected {list(shape)}")
    if not np.isfinite(arr).all():
        raise EngineInputError(field, "values must be finite numbers")
    if arr.size and np.abs(arr).max() > MAX_ABS_VALUE:
        raise EngineInputError(field, f"values must lie within ±{MAX_ABS_VALUE:g}")
    return arr


def as_batch(net: MLP, X, Y=None, x_field: str = "inputs", y_field: str = "targets",
             batch_limit: str = "max_batch") -> tuple[np.ndarray, np.ndarray | None]:
    """Validated C-contiguous float64 inputs [n, w_0] (and targets [n, w_L]); limits checked."""
    try:
        x = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise EngineInputError(x_field, "must be a list of rows of numbers (rows of equal length)") from None
    if x.ndim != 2 or x.shape[0] < 1:
        raise EngineInputError(x_field, "must be a non-empty list of rows")
    check_max(x_field, x.shape[0], batch_limit)
    x = np.ascontiguousarray(_array(x, x_field, (x.shape[0], net.widths[0])))
    check_max(x_field, x.shape[0] * net.n_params, "max_network_work")
    if net.batch_norm and x.shape[0] < 2:
        raise EngineInputError(x_field, "batch normalization needs at least 2 rows (torch: 'Expected more than 1 value per channel')")
    if Y is None:
        return x, None
    try:
        y = np.asarray(Y, dtype=np.float64)
    except (TypeError, ValueError):
        raise EngineInputError(y_field, "must be a list of rows of numbers (rows of equal length)") from None
    if y.ndim == 1 and net.widths[-1] == 1:
        y = y.reshape(-1, 1)
    y = np.ascontiguousarray(_array(y, y_field, (x.shape[0], net.widths[-1])))
    return x, y


def new_running(net: MLP) -> np.ndarray:
    """BN running statistics, torch's initial values: mean 0, var 1 (layer by layer)."""
    running = np.zeros(net.n_running, dtype=np.float64)
    for row in net.layout:
        ro, w = int(row[RUN_OFF]), int(row[OUT])
        if ro >= 0:
            running[ro + w:ro + 2 * w] = 1.0
    return running


def new_workspace(net: MLP, n: int) -> np.ndarray:
    return np.zeros(net.workspace_size(n), dtype=np.float64)


def layer_views(net: MLP, work: np.ndarray, n: int) -> list[dict]:
    """Per-layer views of the forward state in ``work`` (z, s, a, mean, invstd, mask), as the kernels lay it out."""
    out = []
    off = 0
    for l, row in enumerate(net.layout):
        w = int(row[OUT])
        v = {"z": work[off:off + n * w].reshape(n, w), "a": work[off + n * w:off + 2 * n * w].reshape(n, w)}
        off += 2 * n * w
        v["s"] = v["z"]
        if row[G_OFF] >= 0:
            v["s"] = work[off:off + n * w].reshape(n, w)
            v["mean"] = work[off + n * w:off + n * w + w]
            v["invstd"] = work[off + n * w + w:off + n * w + 2 * w]
            off += n * w + 2 * w
        if net.fparams[l, F_DROP] > 0.0:
            v["mask"] = work[off:off + n * w].reshape(n, w)
            off += n * w
        out.append(v)
    return out


def record_views(net: MLP, record: np.ndarray, n: int) -> list[dict]:
    """Per-layer views of a backward record: ∂L/∂z_ℓ ("dz") and ∂L/∂a_ℓ ("da")."""
    out = []
    off = 0
    for row in net.layout:
        w = int(row[OUT])
        out.append({"dz": record[off:off + n * w].reshape(n, w), "da": record[off + n * w:off + 2 * n * w].reshape(n, w)})
        off += 2 * n * w
    return out


def set_blas_threads(n: int | None = None) -> int | None:
    """Set (n) or read (None) the threads of the BLAS the kernels' matrix products call; returns the count.

    numba's ``np.dot`` calls scipy's OpenBLAS (``scipy.libs/libscipy_openblas*``), which starts its own
    threads for large products. Inside ``prange`` bodies, or with several worker processes per machine,
    those threads oversubscribe the cores (measured here under load: a 1×999 @ 999×999 product took
    8 ms with 2 BLAS threads, 0.8 ms with 1). ``OPENBLAS_NUM_THREADS`` in the environment sets the
    same before start-up. Returns None when that library is not found (then nothing is changed).
    """
    import ctypes
    import glob
    import os

    import scipy

    site = os.path.dirname(os.path.dirname(scipy.__file__))
    paths = sorted(glob.glob(os.path.join(site, "scipy.libs", "libscipy_openblas*.so*")))
    if not paths:
        return None
    lib = ctypes.CDLL(paths[0])
    if not (hasattr(lib, "scipy_openblas_set_num_threads") and hasattr(lib, "scipy_openblas_get_num_threads")):
        return None
    if n is not None:
        lib.scipy_openblas_set_num_threads(int(n))
    return int(lib.scipy_openblas_get_num_threads())


def _mode(mode: str) -> int:
    if mode not in MODES:
        raise EngineInputError("mode", f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return MODES[mode]


def _running(net: MLP, running) -> np.ndarray:
    if running is None:
        return new_running(net)
    r = np.ascontiguousarray(running, dtype=np.float64)
    if r.shape != (net.n_running,):
        raise EngineInputError("running", f"must have {net.n_running} entries")
    return r


@dataclass(frozen=True, eq=False)
class LossGrad:
    loss: float
    grad: np.ndarray  # ∂L/∂params, same layout as params
    output: np.ndarray  # ŷ [n, w_L]


def loss_and_grad(net: MLP, params: np.ndarray, X, Y, loss: str = "mse", loss_params: dict | None = None,
                  mode: str = "train", running=None, seed: int = 0, step: int = 0) -> LossGrad:
    """Loss of a batch and its gradient with respect to every parameter (one kernel call)."""
    x, y = as_batch(net, X, Y)
    r = resolve_loss(loss, loss_params)
    run = _running(net, running)
    work = new_workspace(net, x.shape[0])
    grad = np.empty(net.n_params)
    value = mlp_loss_grad(net.layout, net.fparams, _params(net, params), x, y, r.code, r.lparams, _mode(mode),
                          int(seed), int(step), run, grad, work)
    return LossGrad(float(value), grad, _output_view(net.layout, net.fparams, x.shape[0], work).copy())


def predict(net: MLP, params: np.ndarray, X, mode: str = "eval_batch", running=None, seed: int = 0,
            step: int = 0) -> np.ndarray:
    """ŷ of a batch (eval modes: no dropout; BN with batch or running statistics)."""
    x, _ = as_batch(net, X)
    yhat = mlp_forward(net.layout, net.fparams, _params(net, params), x, _mode(mode), int(seed), int(step),
                       _running(net, running), new_workspace(net, x.shape[0]))
    return yhat.copy()  # (mlp_predict does the same inside kernels; one compiled kernel fewer here)


def _params(net: MLP, params) -> np.ndarray:
    p = np.ascontiguousarray(params, dtype=np.float64)
    if p.shape != (net.n_params,):
        raise EngineInputError("params", f"must have {net.n_params} entries")
    return p


def describe() -> list[dict]:
    """The MLP's conventions for the catalog (one entry: layer formula, placements, modes, limits)."""
    return [{
        "name": "mlp",
        "layer": "z = a @ W + b (W [fan_in, fan_out]); s = BN(z); a' = dropout(act(s)) (+ a if residual)",
        "batch_norm": "after the linear map, before the activation, hidden layers; batch stats, biased var, eps 1e-5",
        "residual": "hidden layers 2..L−1 with equal input and output widths: a_l = a_{l−1} + dropout(act(BN(z_l)))",
        "dropout": "inverted (kept units × 1/(1 − p)), hidden layers, training modes; counter-based masks",
        "modes": list(MODES),
        "activations": list(ACTIVATIONS),
        "losses": list(LOSSES),
        "limits": {k: LIMITS[k] for k in ("max_layers", "max_width", "max_batch", "max_network_parameters",
                                          "max_network_work")},
    }]


def _warmup() -> None:
    for bn in (False, True):
        net = build_mlp([2, 3, 3, 1], "tanh", residual=True, batch_norm=bn, dropout=0.1)
        p = init_params(net, {"name": "xavier_uniform"}, 0)
        X = np.array([[0.1, 0.2], [0.3, -0.4]])
        loss_and_grad(net, p, X, [[1.0], [0.0]], mode="train_update")
        predict(net, p, X, mode="eval_running")
