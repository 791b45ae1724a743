"""Exact Hessian-vector products of an MLP's loss: Pearlmutter's R-operator (forward-over-reverse).

For a direction v in parameter space, R{·} = d/dε (·)(θ + εv) at ε = 0. Applying it to every line of
the forward and the backward pass (engine.mlp's equations) gives Hv = R{∇L} exactly, at the cost of
about two more gradients. Per layer (z = a_prev W + b, s = BN(z) or z, a = act(s) (+ a_prev)):

    forward   Rz = Ra_prev W + a_prev RW + Rb
              Rs = Rγ·x̂ + γ·Rx̂ + Rβ,  Rx̂ = (Rz − Rμ)·invstd + (z − μ)·Rinvstd      (batch norm)
                   Rμ = mean Rz,  Rinvstd = −invstd³·mean((z − μ)(Rz − Rμ))
              Ra = act'(s)·Rs (+ Ra_prev)
    loss      Rg_L = ∇²_ŷ L · Ra_L                                                   (engine.second_order)
    backward  Rds = Rg·act'(s) + g·act''(s)·Rs                      ds = g·act'(s)
              Rdz = Rds, or through batch norm's backward once more (R of dz = γ·invstd/n·(n·ds − Σds − x̂·Σds·x̂))
              (Hv)_W = Ra_prevᵀ dz + a_prevᵀ Rdz,   (Hv)_b = Σ_rows Rdz,   (Hv)_γ = Σ(Rds·x̂ + ds·Rx̂),   (Hv)_β = Σ Rds
              Rg_prev = Rdz Wᵀ + dz RWᵀ (+ Rg through a skip)

What the Hessian is of (stated, and the same everywhere in the engine): the loss of the whole batch
in mode ``EVAL_BATCH``: **no dropout** (a dropout net's loss with its masks resampled every step has
no single Hessian; this is the network it trains), **batch norm with the batch's own statistics**
(the loss full-batch training sees; the statistics depend on θ and are differentiated through). Every
activation and every loss of the registries is supported (their second derivatives in
engine.second_order, torch's double-backward conventions at kinks).

Kernels (arrays and NamedTuples only; allocate nothing)::

    loss = prepare_point(pt, running, grad)    # forward + backward, keeping what the R-pass reads
    mlp_hvp(pt, v, out, rwork)                 # out = H v; pt unchanged, so call it any number of times

``pt`` is an ``MLPPoint``: the net's layout, the parameters, the batch, the loss, and what
``prepare_point`` fills: the forward state (``work``), the backward record (``record``) and every
layer's act'(s), act''(s) (``derivs``: they depend on the point, not on v, so each HVP only multiplies;
1.45x one gradient on a 2-100-100-1 tanh net). ``rwork`` needs ``hvp_workspace_size(layout, n)`` entries.
``hessian_rows`` fills rows of the full Hessian (row j = H e_j); ``MLPHessian.matrix`` shares the rows out
over Python threads (the kernels release the GIL), each with its own v and rwork.

Any model gets the same spectra: engine.spectrum works on any object with ``n`` and ``hvp(v, out)``
(``MLPHessian`` here; a language model's loss later).
"""

from __future__ import annotations

import ctypes
import functools
import glob
import math
import os
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Mapping, NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from ._jit import as_int, kernel
from .deadlines import check as check_deadline
from .errors import EngineInputError, field_prefix
from .limits import check_max
from .losses import ResolvedLoss, loss_value_grad, resolve_loss
from .mlp import MLP, as_batch, build_mlp, check_net, init_params, new_running, set_blas_threads
from .mlp_kernels import (
    ACT, B_OFF, BETA_OFF, EVAL_BATCH, F_ACT, G_OFF, IN, OUT, SKIP, W_OFF, layer_state_size, mlp_backward,
    mlp_forward, record_size,
)
from .second_order import activation_derivs, loss_hvp
from .threads import block_threads


__all__ = ["HessianMatrix", "MLPHessian", "mlp_hessian"]


class MLPPoint(NamedTuple):
    """One network at one parameter vector on one batch: what the R-operator kernels read."""

    layout: np.ndarray  # int64 [L, NCOL] (engine.mlp)
    fparams: np.ndarray  # float64 [L, NF]
    params: np.ndarray  # θ, float64 [P]
    X: np.ndarray  # inputs [n, w_0]
    Y: np.ndarray  # targets [n, w_L]
    loss_code: int  # engine.losses code
    lparams: np.ndarray  # the loss's packed parameters
    work: np.ndarray  # mlp_forward's state (mode EVAL_BATCH), filled by prepare_point
    record: np.ndarray  # mlp_backward's ∂L/∂z_ℓ and ∂L/∂a_ℓ per layer, filled by prepare_point
    dy: np.ndarray  # ∂L/∂ŷ [n, w_L]
    derivs: np.ndarray  # act'(s_ℓ) and act''(s_ℓ), [n, w_ℓ] each, per layer: filled by prepare_point


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------
@kernel
def _r_block(layout, l, n):
    """Entries of layer l's R-state in rwork: Rs, Ra [n, w]; with batch norm also Rx̂ [n, w], Rinvstd [w]."""
    w = layout[l, OUT]
    size = 2 * n * w
    if layout[l, G_OFF] >= 0:
        size += n * w + w
    return size


@kernel
def _widest(layout, n):
    """(max width, scratch size): the scratch holds an [n, w] block or a whole W [fan_in, fan_out]."""
    mw = 0
    mt = 0
    for l in range(layout.shape[0]):
        mw = max(mw, layout[l, OUT])
        mt = max(mt, layout[l, IN] * layout[l, OUT])
    return mw, max(mt, n * mw)


@kernel
def hvp_workspace_size(layout, n):
    """Entries of ``rwork`` a batch of n rows needs: the R-states, 4 [n, max w] buffers and a scratch."""
    total = 0
    for l in range(layout.shape[0]):
        total += _r_block(layout, l, n)
    mw, mt = _widest(layout, n)
    return total + 4 * n * mw + mt


@kernel
def prepare_point(pt, running, grad):
    """Forward and backward at ``pt.params`` in mode EVAL_BATCH, keeping the state (and every layer's
    act' and act'' for the HVPs); returns L, writes ∇L."""
    layout, fparams = pt.layout, pt.fparams
    yhat = mlp_forward(layout, fparams, pt.params, pt.X, as_int(EVAL_BATCH), as_int(0), as_int(0), running,
                       pt.work)
    loss = loss_value_grad(pt.loss_code, yhat, pt.Y, pt.lparams, pt.dy)
    mlp_backward(layout, fparams, pt.params, pt.X, pt.dy, as_int(EVAL_BATCH), grad, pt.work, pt.record)
    n = pt.X.shape[0]
    off = 0
    doff = 0
    for l in range(layout.shape[0]):
        w = layout[l, OUT]
        s = pt.work[off:off + n * w].reshape((n, w))
        if layout[l, G_OFF] >= 0:
            s = pt.work[off + 2 * n * w:off + 3 * n * w].reshape((n, w))
        activation_derivs(layout[l, ACT], fparams[l, F_ACT], s, pt.derivs[doff:doff + n * w].reshape((n, w)),
                          pt.derivs[doff + n * w:doff + 2 * n * w].reshape((n, w)))
        off += layer_state_size(layout, fparams, l, n)
        doff += 2 * n * w
    return loss


@kernel
def _bn_r_forward(Z, mean, invstd, RZ, gam, beta_dir, gam_dir, rmu, RX, rinv, RS):
    """Batch norm's R-forward: Rx̂ into RX (RZ may be RX), Rinvstd into rinv, Rs into RS."""
    n, w = Z.shape
    for j in range(w):
        rmu[j] = 0.0
        rinv[j] = 0.0
    for i in range(n):
        for j in range(w):
            rmu[j] += RZ[i, j]
    for j in range(w):
        rmu[j] /= n
    for i in range(n):
        for j in range(w):
            rinv[j] += (Z[i, j] - mean[j]) * (RZ[i, j] - rmu[j])
    for j in range(w):
        rinv[j] = -invstd[j] ** 3 * rinv[j] / n  # R(v + eps)^(-1/2) = −½ invstd³ · R(var), R(var) = 2/n Σ(z − μ)Rz
    for i in range(n):
        for j in range(w):
            d = Z[i, j] - mean[j]
            RX[i, j] = (RZ[i, j] - rmu[j]) * invstd[j] + d * rinv[j]
            RS[i, j] = gam_dir[j] * d * invstd[j] + gam[j] * RX[i, j] + beta_dir[j]


@kernel
def _bn_r_backward(Z, mean, invstd, gam, gam_dir, ds, RX, rinv, sums, Rds, rgam, rbeta):
    """Batch norm's R-backward: (Hv)_γ into rgam, (Hv)_β into rbeta, and Rds → R(∂L/∂z) in place."""
    n, w = Z.shape
    dgam = sums[:w]
    dbet = sums[w:2 * w]
    for j in range(w):
        dgam[j] = 0.0
        dbet[j] = 0.0
        rgam[j] = 0.0
        rbeta[j] = 0.0
    for i in range(n):
        for j in range(w):
            xh = (Z[i, j] - mean[j]) * invstd[j]
            dgam[j] += ds[i, j] * xh
            dbet[j] += ds[i, j]
            rgam[j] += Rds[i, j] * xh + ds[i, j] * RX[i, j]
            rbeta[j] += Rds[i, j]
    for i in range(n):
        for j in range(w):
            xh = (Z[i, j] - mean[j]) * invstd[j]
            c = gam[j] * invstd[j] / n
            rc = (gam_dir[j] * invstd[j] + gam[j] * rinv[j]) / n
            Rds[i, j] = rc * (n * ds[i, j] - dbet[j] - xh * dgam[j]) \
                + c * (n * Rds[i, j] - rbeta[j] - RX[i, j] * dgam[j] - xh * rgam[j])


@kernel
def _add(a, b):
    """a += b over 2-D blocks of one shape."""
    n, m = a.shape
    for i in range(n):
        for j in range(m):
            a[i, j] += b[i, j]


@kernel
def mlp_hvp(pt, v, out, rwork):
    """out = ∇²L(θ)·v at the point ``prepare_point`` prepared (v, out: float64 [P], not aliased)."""
    layout, fparams, params, X = pt.layout, pt.fparams, pt.params, pt.X
    work = pt.work
    n = X.shape[0]
    L = layout.shape[0]
    mw, mt = _widest(layout, n)
    rstates = 0
    for l in range(L):
        rstates += _r_block(layout, l, n)
    rg0 = rwork[rstates:rstates + n * mw]
    rg1 = rwork[rstates + n * mw:rstates + 2 * n * mw]
    rdsb = rwork[rstates + 2 * n * mw:rstates + 3 * n * mw]
    dsb = rwork[rstates + 3 * n * mw:rstates + 4 * n * mw]
    tmp = rwork[rstates + 4 * n * mw:rstates + 4 * n * mw + mt]

    # ---- R-forward: Rs, Ra per layer (and Rx̂, Rinvstd with batch norm) -------------------------------
    off = 0
    roff = 0
    doff = 0
    prev = X
    rprev = rwork[:0].reshape((n, 0))  # no R for the data (never read)
    for l in range(L):
        fi = layout[l, IN]
        fo = layout[l, OUT]
        wo = layout[l, W_OFF]
        bo = layout[l, B_OFF]
        go = layout[l, G_OFF]
        Z = work[off:off + n * fo].reshape((n, fo))
        A = work[off + n * fo:off + 2 * n * fo].reshape((n, fo))
        RS = rwork[roff:roff + n * fo].reshape((n, fo))
        RA = rwork[roff + n * fo:roff + 2 * n * fo].reshape((n, fo))
        W = params[wo:wo + fi * fo].reshape((fi, fo))
        RW = v[wo:wo + fi * fo].reshape((fi, fo))
        RZ = RS
        if go >= 0:
            RZ = rwork[roff + 2 * n * fo:roff + 3 * n * fo].reshape((n, fo))
        np.dot(prev, RW, RZ)
        if l > 0:
            T = tmp[:n * fo].reshape((n, fo))
            np.dot(rprev, W, T)
            _add(RZ, T)
        for i in range(n):
            for j in range(fo):
                RZ[i, j] += v[bo + j]
        if go >= 0:
            mean = work[off + 3 * n * fo:off + 3 * n * fo + fo]
            invstd = work[off + 3 * n * fo + fo:off + 3 * n * fo + 2 * fo]
            bo2 = layout[l, BETA_OFF]
            rinv = rwork[roff + 3 * n * fo:roff + 3 * n * fo + fo]
            _bn_r_forward(Z, mean, invstd, RZ, params[go:go + fo], v[bo2:bo2 + fo], v[go:go + fo], tmp[:fo], RZ,
                          rinv, RS)
        d1 = pt.derivs[doff:doff + n * fo].reshape((n, fo))
        for i in range(n):
            for j in range(fo):
                RA[i, j] = d1[i, j] * RS[i, j]  # Ra = act'(s)·Rs
        if layout[l, SKIP] == 1:
            _add(RA, rprev)
        prev = A
        rprev = RA
        off += layer_state_size(layout, fparams, l, n)
        roff += _r_block(layout, l, n)
        doff += 2 * n * fo

    # ---- the loss: Rg_L = ∇²_ŷ L · Ra_L -------------------------------------------------------------
    k = layout[L - 1, OUT]
    rg = rg0[:n * k].reshape((n, k))
    loss_hvp(pt.loss_code, prev, pt.Y, pt.lparams, rprev, rg)
    cur = 0

    # ---- R-backward, last layer first ----------------------------------------------------------------
    end = off
    rend = roff
    rec_end = record_size(layout, n)
    for l in range(L - 1, -1, -1):
        fi = layout[l, IN]
        fo = layout[l, OUT]
        wo = layout[l, W_OFF]
        bo = layout[l, B_OFF]
        go = layout[l, G_OFF]
        start = end - layer_state_size(layout, fparams, l, n)
        rstart = rend - _r_block(layout, l, n)
        rec = rec_end - 2 * n * fo
        Z = pt.work[start:start + n * fo].reshape((n, fo))
        doff -= 2 * n * fo
        d1 = pt.derivs[doff:doff + n * fo].reshape((n, fo))
        d2 = pt.derivs[doff + n * fo:doff + 2 * n * fo].reshape((n, fo))
        RS = rwork[rstart:rstart + n * fo].reshape((n, fo))
        dz = pt.record[rec:rec + n * fo].reshape((n, fo))
        g = pt.record[rec + n * fo:rec + 2 * n * fo].reshape((n, fo))
        if l > 0:
            fp = layout[l - 1, OUT]
            pstart = start - layer_state_size(layout, fparams, l - 1, n)
            prstart = rstart - _r_block(layout, l - 1, n)
            prev = work[pstart + n * fp:pstart + 2 * n * fp].reshape((n, fp))
            rprev = rwork[prstart + n * fp:prstart + 2 * n * fp].reshape((n, fp))
        else:
            prev = X
            rprev = rwork[:0].reshape((n, 0))
        rds = rdsb[:n * fo].reshape((n, fo))
        for i in range(n):
            for j in range(fo):
                rds[i, j] = rg[i, j] * d1[i, j] + g[i, j] * d2[i, j] * RS[i, j]  # Rg·act' + g·act''·Rs
        if go >= 0:
            bo2 = layout[l, BETA_OFF]
            mean = work[start + 3 * n * fo:start + 3 * n * fo + fo]
            invstd = work[start + 3 * n * fo + fo:start + 3 * n * fo + 2 * fo]
            RX = rwork[rstart + 2 * n * fo:rstart + 3 * n * fo].reshape((n, fo))
            rinv = rwork[rstart + 3 * n * fo:rstart + 3 * n * fo + fo]
            ds = dsb[:n * fo].reshape((n, fo))
            for i in range(n):
                for j in range(fo):
                    ds[i, j] = g[i, j] * d1[i, j]
            _bn_r_backward(Z, mean, invstd, params[go:go + fo], v[go:go + fo], ds, RX, rinv, tmp, rds,
                           out[go:go + fo], out[bo2:bo2 + fo])
        W = params[wo:wo + fi * fo].reshape((fi, fo))
        RW = v[wo:wo + fi * fo].reshape((fi, fo))
        HW = out[wo:wo + fi * fo].reshape((fi, fo))
        np.dot(prev.T, rds, HW)
        if l > 0:
            T = tmp[:fi * fo].reshape((fi, fo))
            np.dot(rprev.T, dz, T)
            _add(HW, T)
        for j in range(fo):
            out[bo + j] = 0.0
        for i in range(n):
            for j in range(fo):
                out[bo + j] += rds[i, j]
        if l > 0:
            nxt = rg1 if cur == 0 else rg0
            cur = 1 - cur
            rgn = nxt[:n * fi].reshape((n, fi))
            np.dot(rds, W.T, rgn)
            T = tmp[:n * fi].reshape((n, fi))
            np.dot(dz, RW.T, T)
            _add(rgn, T)
            if layout[l, SKIP] == 1:
                _add(rgn, rg)
            rg = rgn
        end = start
        rend = rstart
        rec_end = rec


@kernel
def hessian_rows(pt, v, rwork, H, lo, hi):
    """H[j] = H e_j for j = lo..hi-1 (``v`` all-zero in and out; one caller per ``rwork``).

    Serial: ``MLPHessian.matrix`` runs one call per thread (kernels release the GIL), which costs no
    ``parallel=True`` compilation (a prange version of this loop took ~9 s of CPU to compile)."""
    for j in range(lo, hi):
        v[j] = 1.0
        mlp_hvp(pt, v, H[j], rwork)
        v[j] = 0.0


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------
@functools.lru_cache(maxsize=1)
def _numpy_blas():
    """(set, get) of numpy's own OpenBLAS (numpy.libs: numpy's matmul and linalg), or None when not found;
    looked up once (every sharpness record switches the threads)."""
    site = os.path.dirname(os.path.dirname(np.__file__))
    for path in sorted(glob.glob(os.path.join(site, "numpy.libs", "libscipy_openblas*.so*"))):
        lib = ctypes.CDLL(path)
        for setter, getter in (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                               ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                               ("openblas_set_num_threads", "openblas_get_num_threads")):
            if hasattr(lib, setter) and hasattr(lib, getter):
                return getattr(lib, setter), getattr(lib, getter)
    return None


@contextmanager
def single_threaded_blas():
    """Run the block with one BLAS thread — scipy's OpenBLAS (numba's np.dot and LAPACK) and numpy's own
    (numpy's matmul: the Lanczos reorthogonalization) — then restore both.

    For loops of small and mid-size products (every curvature computation here): BLAS threads only
    contend there, badly when other processes load the cores. Measured on this 2-core machine under
    load: the 199-parameter Hessian by the row-parallel kernel 34 s with the default threads, 0.05 s
    with one; a 199×199 eigh 1.1 s against 0.014 s; the /networks/hessian defaults on a 10k-parameter
    net 87 s against 1.3 s.
    """
    before = set_blas_threads()
    np_blas = _numpy_blas()
    np_before = int(np_blas[1]()) if np_blas else None
    if before is not None:
        set_blas_threads(1)
    if np_blas:
        np_blas[0](1)
    try:
        yield
    finally:
        if before is not None:
            set_blas_threads(before)
        if np_blas:
            np_blas[0](np_before)


def hvp_work(rows: int, n_params: int) -> int:
    """Multiply-adds of one HVP, for work budgets: ~8 per (row, parameter) (2 products forward, 4 backward,
    with the gradient's own 3 done once per point)."""
    return 8 * int(rows) * int(n_params)


@resultclass
@dataclass(frozen=True, eq=False)
class HessianMatrix:
    """The full Hessian, column by column from exact HVPs, symmetrized."""

    matrix: np.ndarray  # (H + Hᵀ)/2, float64 [P, P]
    asymmetry: float  # max|H − Hᵀ| / max|H| before symmetrizing (rounding only: ~1e-16)
    hvps: int  # Hessian-vector products computed (P)


@dataclass(frozen=True, eq=False)
class MLPHessian:
    """∇²L of an MLP's loss on one batch at one parameter vector, applied by exact HVPs (``hvp``).

    ``loss`` and ``grad`` are L and ∇L there (mode EVAL_BATCH: no dropout, batch-norm batch
    statistics). Not thread-safe (one ``rwork``): give each thread its own ``mlp_hessian``.
    """

    net: MLP
    loss_name: str
    loss: float
    grad: np.ndarray
    point: MLPPoint
    rwork: np.ndarray

    @property
    def n(self) -> int:
        """Dimension of the operator: the number of parameters."""
        return self.net.n_params

    @property
    def params(self) -> np.ndarray:
        return self.point.params

    def hvp(self, v, out: np.ndarray | None = None) -> np.ndarray:
        """H v (float64 [P]); writes into ``out`` when given (a C-contiguous float64 [P], not ``v``)."""
        x = np.ascontiguousarray(v, dtype=np.float64)
        if x.shape != (self.n,):
            raise EngineInputError("v", f"must have {self.n} entries (one per parameter)")
        if out is None:
            out = np.empty(self.n)
        elif out.shape != (self.n,) or out.dtype != np.float64 or not out.flags.c_contiguous or out is x:
            raise EngineInputError("out", f"must be a C-contiguous float64 array of {self.n} entries, not v")
        check_deadline("hessian-vector products")  # spectra take up to thousands: each is a place to stop
        mlp_hvp(self.point, x, out, self.rwork)
        return out

    def matrix(self, threads: int | None = None) -> HessianMatrix:
        """The full P×P Hessian (limit max_dense_hessian_parameters), rows shared out over ``threads``
        (default: ``engine.threads.thread_count()``) OS threads (``engine.threads``), each with its own direction and
        workspace."""
        P = self.n
        check_max("layers", P, "max_dense_hessian_parameters")
        H = np.empty((P, P))
        with single_threaded_blas():
            block_threads(P, lambda c, lo, hi: hessian_rows(self.point, np.zeros(P), np.empty_like(self.rwork), H, lo,
                                                            hi), threads or None)
        scale = float(np.abs(H).max())
        asym = float(np.abs(H - H.T).max()) / scale if scale > 0 else 0.0
        return HessianMatrix(0.5 * (H + H.T), asym, P)


def _flat(values, field: str, n: int) -> np.ndarray:
    try:
        a = np.ascontiguousarray(values, dtype=np.float64)
    except (TypeError, ValueError):
        raise EngineInputError(field, "must be a list of numbers") from None
    if a.shape != (n,):
        raise EngineInputError(field, f"must have {n} entries")
    if not np.isfinite(a).all():
        raise EngineInputError(field, "values must be finite numbers")
    return a


def mlp_hessian(net: MLP, params: ArrayLike, X: ArrayLike, Y: ArrayLike, loss: str = "mse",
                loss_params: Mapping[str, Any] | None = None) -> MLPHessian:
    """Prepare exact HVPs of ``loss`` of ``net`` at ``params`` on the batch (X, Y) (numpy in, numpy out).

    Refuses (EngineInputError naming the argument): a parameter vector of the wrong size or not
    finite, a batch over max_train_samples rows or over max_network_work (rows × parameters), a loss
    or gradient that is not finite at ``params`` (e.g. predictions outside the loss's domain).

    >>> net = engine.build_mlp([1, 1])                     # ŷ = w·x + b, mse: H = 2·mean([x², x; x, 1])
    >>> engine.mlp_hessian(net, [0.5, 0.0], [[1.0], [3.0]], [[0.0], [1.0]]).matrix().matrix.tolist()
    [[10.0, 4.0], [4.0, 2.0]]
    """
    check_net(net)
    p = _flat(params, "params", net.n_params)
    if Y is None:
        raise EngineInputError("Y", "required: the targets of the batch")
    x, y = as_batch(net, X, Y, batch_limit="max_train_samples")
    with field_prefix("loss_params", strip="params", only=("params",)):
        r = resolve_loss(loss, loss_params)
    h = hessian_of(net, p, x, y, r)
    if h is None:
        raise EngineInputError("params", f"the {r.name} loss or its gradient is not finite here (overflow, or "
                                         "predictions outside the loss's domain)")
    return h


def hessian_of(net: MLP, params: np.ndarray, X: np.ndarray, Y: np.ndarray, loss: ResolvedLoss) -> MLPHessian | None:
    """``mlp_hessian`` for inputs a caller has validated already (C-contiguous float64 ``params`` [P], X [n, w_0],
    Y [n, w_L]; a resolved loss), such as a training run's split; None where the loss or its gradient is not
    finite. ``params`` is copied."""
    n, k = Y.shape
    point = MLPPoint(net.layout, net.fparams, params.copy(), X, Y, int(loss.code), loss.lparams,
                     np.zeros(net.workspace_size(n)), np.zeros(net.record_size(n)), np.zeros((n, k)),
                     np.zeros(net.record_size(n)))
    grad = np.zeros(net.n_params)
    value = float(prepare_point(point, new_running(net), grad))
    if not (math.isfinite(value) and np.isfinite(grad).all()):
        return None
    rwork = np.zeros(int(hvp_workspace_size(net.layout, n)))
    return MLPHessian(net, loss.name, value, grad, point, rwork)


def _warmup() -> None:
    X = np.array([[0.1, 0.2], [0.3, -0.4], [0.5, 0.0]])
    for bn, act, out_act, loss, Y in ((False, "tanh", "identity", "mse", [[1.0], [0.0], [0.5]]),
                                      (True, "gelu", "identity", "cross_entropy_with_logits",
                                       [[1.0, 0.0], [0.0, 1.0], [1.0, 0.0]])):
        net = build_mlp([2, 3, 3, len(Y[0])], act, out_act, residual=True, batch_norm=bn)
        h = mlp_hessian(net, init_params(net, None, 0), X, Y, loss)
        h.hvp(np.ones(net.n_params))
        h.matrix()
