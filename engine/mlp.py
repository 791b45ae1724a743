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

The kernels (forward, backward, loss of a batch on the flat parameter vector) are
``engine.mlp_kernels``'; this module builds a network, initialises, packs and unpacks its parameters and
evaluates it from Python (the kernels themselves are internal: they trust their arrays)::

    net = build_mlp([2, 16, 1], "tanh")
    params = init_params(net, {"name": "xavier_uniform"}, seed=0)
    loss_and_grad(net, params, X, Y, "mse").grad
"""

from __future__ import annotations

import ctypes
import functools
import glob
import os
from dataclasses import dataclass
from typing import Mapping, Sequence

import numpy as np
import scipy
from numpy.typing import ArrayLike

from .activations import ACTIVATIONS, resolve_activation
from .errors import EngineInputError, field_prefix
from .init import init_layer, resolve_init
from .limits import LIMITS, check_max
from .losses import LOSSES, resolve_loss
from .registry import ParamSpec
from .mlp_kernels import (
    ACT, B_OFF, BETA_OFF, BN_EPS, BN_MOMENTUM, F_ACT, F_DROP, F_EPS, F_MOM, G_OFF, IN, MODES, NCOL, NF, OUT, RUN_OFF,
    SKIP, W_OFF, Problem, mlp_backward, mlp_forward, mlp_loss, mlp_loss_grad, mlp_predict, output_view, record_size,
    workspace_size,
)
from .validate import check_array, check_bool, check_float, check_int, check_seed

# The kernels (mlp_forward, mlp_backward, mlp_loss, mlp_loss_grad, mlp_predict, record_size, workspace_size) are
# the engine's own: they trust their arrays (a wrong size writes out of bounds), so they are not exported; the
# checked functions below (loss_and_grad, predict) do the same work for users.
__all__ = ["MLP", "build_mlp", "init_params", "loss_and_grad", "new_running", "pack", "predict", "unpack"]


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


def build_mlp(
    layers: Sequence[int],
    activation: str = "relu",
    output_activation: str = "identity",
    residual: bool = False,
    batch_norm: bool = False,
    dropout: float = 0.0,
    activation_params: dict | None = None,
    output_activation_params: dict | None = None,
    bn_momentum: float = BN_MOMENTUM,
) -> MLP:
    """Validate an architecture (limits max_layers, max_width, max_network_parameters) and lay it out.

    ``layers``: widths from input to output, e.g. ``[2, 16, 1]``; ``activation`` on hidden layers,
    ``output_activation`` on the last; ``residual``, ``batch_norm``, ``dropout`` as the module docstring says.

    >>> net = engine.build_mlp([2, 8, 1], "tanh")
    >>> net.widths, net.n_params
    ((2, 8, 1), 33)
    """
    if isinstance(layers, (str, bytes, dict)) or not hasattr(layers, "__len__"):
        raise EngineInputError("layers", "must be a list of layer widths, input first, output last")
    if len(layers) < 2:
        raise EngineInputError("layers", "needs at least an input and an output width")
    check_max("layers", len(layers) - 1, "max_layers")
    widths = tuple(check_int("layers", w, 1, "max_width", integral_floats=False) for w in layers)
    act = resolve_activation(activation, activation_params, "activation")
    out_act = resolve_activation(output_activation, output_activation_params, "output_activation")
    check_bool("residual", residual)
    check_bool("batch_norm", batch_norm)
    p = check_float("dropout", dropout, 0.0, 1.0)
    m = check_float("bn_momentum", bn_momentum, 0.0, 1.0)
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
    """Per-layer views (no copies) of W, b, γ, β inside ``params`` (or a gradient of the same layout).

    ``params`` must be a float64 numpy vector of ``net.n_params`` entries (views of a list cannot exist).
    """
    check_net(net)
    if not (isinstance(params, np.ndarray) and params.dtype == np.float64 and params.shape == (net.n_params,)):
        raise EngineInputError("params", f"must be a float64 numpy vector of {net.n_params} entries")
    out = []
    for row in net.layout:
        fi, fo, wo, bo, go, beo = (int(v) for v in row[:6])
        out.append(LayerParams(
            params[wo:wo + fi * fo].reshape(fi, fo), params[bo:bo + fo],
            params[go:go + fo] if go >= 0 else None, params[beo:beo + fo] if beo >= 0 else None,
        ))
    return out


def init_params(net: MLP, init: Mapping | str | None = None, seed: int = 0) -> np.ndarray:
    """A flat parameter vector drawn layer by layer with ``init`` (engine.init, default torch's), BN γ = 1, β = 0.

    >>> net = engine.build_mlp([2, 3, 1])
    >>> p = engine.init_params(net, {"name": "xavier_uniform"}, seed=0)
    >>> p.shape, bool((p == engine.init_params(net, {"name": "xavier_uniform"}, seed=0)).all())   # seeded
    ((13,), True)
    """
    check_net(net)
    resolved = resolve_init(init if init is not None else {"name": "torch_default"}, "init")
    rng = np.random.default_rng(check_seed("seed", seed))
    params = np.zeros(net.n_params, dtype=np.float64)
    for lp, (fi, fo) in zip(unpack(net, params), zip(net.widths[:-1], net.widths[1:])):
        W, b = init_layer(resolved, fi, fo, rng)
        lp.W[...] = W
        lp.b[...] = b
        if lp.gamma is not None:
            lp.gamma[...] = 1.0
    return params


def pack(net: MLP, weights: Sequence[Mapping]) -> np.ndarray:
    """A flat vector from ``[{"W": [[...]], "b": [...], ("gamma", "beta")}, ...]``, shapes checked."""
    check_net(net)
    field = "weights"
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
            dst[...] = check_array(f"{f}.{key}", given[key], shape=dst.shape, max_abs=MAX_ABS_VALUE)
    return params


MAX_ABS_VALUE = 1e6  # |input|, |target|, |weight| accepted from users


def check_net(net, field: str = "net") -> MLP:
    """``net`` must be an ``MLP`` from ``build_mlp``."""
    if not isinstance(net, MLP):
        raise EngineInputError(field, "must be an MLP from engine.build_mlp")
    return net


def as_batch(net: MLP, X, Y=None, x_field: str = "X", y_field: str = "Y",
             batch_limit: str = "max_batch") -> tuple[np.ndarray, np.ndarray | None]:
    """Validated C-contiguous float64 inputs [n, w_0] (and targets [n, w_L]); limits checked."""
    try:
        x = np.asarray(X, dtype=np.float64)
    except (TypeError, ValueError):
        raise EngineInputError(x_field, "must be a list of rows of numbers (rows of equal length)") from None
    if x.ndim != 2 or x.shape[0] < 1:
        raise EngineInputError(x_field, "must be a non-empty list of rows")
    check_max(x_field, x.shape[0], batch_limit)
    x = check_array(x_field, x, shape=(x.shape[0], net.widths[0]), max_abs=MAX_ABS_VALUE)
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
    y = check_array(y_field, y, shape=(x.shape[0], net.widths[-1]), max_abs=MAX_ABS_VALUE)
    return x, y


def new_running(net: MLP) -> np.ndarray:
    """BN running statistics, torch's initial values: mean 0, var 1 (layer by layer)."""
    check_net(net)
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
    threads for large products. On several engine threads at once, or with several worker processes per machine,
    those threads oversubscribe the cores (measured here under load: a 1×999 @ 999×999 product took
    8 ms with 2 BLAS threads, 0.8 ms with 1). ``OPENBLAS_NUM_THREADS`` in the environment sets the
    same before start-up. Returns None when that library is not found (then nothing is changed).
    """
    lib = _scipy_openblas()
    if lib is None:
        return None
    if n is not None:
        lib.scipy_openblas_set_num_threads(int(n))
    return int(lib.scipy_openblas_get_num_threads())


@functools.lru_cache(maxsize=1)
def _scipy_openblas():
    """scipy's OpenBLAS, opened once (a sharpness-tracked run switches its threads around every record: the
    lookup cost ~0.8 ms a call); None when it is not found or lacks the thread setters."""
    site = os.path.dirname(os.path.dirname(scipy.__file__))
    paths = sorted(glob.glob(os.path.join(site, "scipy.libs", "libscipy_openblas*.so*")))
    if not paths:
        return None
    lib = ctypes.CDLL(paths[0])
    if not (hasattr(lib, "scipy_openblas_set_num_threads") and hasattr(lib, "scipy_openblas_get_num_threads")):
        return None
    return lib


def _mode(mode: str) -> int:
    if not isinstance(mode, str) or mode not in MODES:
        raise EngineInputError("mode", f"unknown mode {mode!r}; choose one of: {', '.join(MODES)}")
    return MODES[mode]


def _running(net: MLP, running) -> np.ndarray:
    """The BN running statistics to use: a float64 C-contiguous vector of the right size is used in place (mode
    ``train_update`` updates it, as torch updates the module's buffers); anything else is checked and copied."""
    if running is None:
        return new_running(net)
    if (isinstance(running, np.ndarray) and running.dtype == np.float64 and running.flags.c_contiguous
            and running.shape == (net.n_running,) and running.flags.writeable and np.isfinite(running).all()):
        return running
    return check_array("running", running, shape=(net.n_running,), ndim=(1,))


@dataclass(frozen=True, eq=False)
class LossGrad:
    loss: float
    grad: np.ndarray  # ∂L/∂params, same layout as params
    output: np.ndarray  # ŷ [n, w_L]


def loss_and_grad(net: MLP, params: ArrayLike, X: ArrayLike, Y: ArrayLike, loss: str = "mse",
                  loss_params: Mapping | None = None, mode: str = "train", running: ArrayLike | None = None,
                  seed: int = 0, step: int = 0) -> LossGrad:
    """Loss of a batch and its gradient with respect to every parameter (one kernel call).

    ``X`` [n, widths[0]], ``Y`` [n, widths[-1]] (a vector when there is one output); ``mode`` one of
    train, train_update, eval_batch, eval_running; ``running``: BN running statistics (``new_running``).

    >>> net = engine.build_mlp([1, 1])
    >>> r = engine.loss_and_grad(net, np.array([2.0, 0.0]), [[1.0]], [[0.0]])
    >>> r.loss, r.grad.tolist()
    (4.0, [4.0, 4.0])
    """
    p = _params(net, params)
    if Y is None:
        raise EngineInputError("Y", "required: the targets of the batch")
    x, y = as_batch(net, X, Y)
    with field_prefix("loss_params", strip="params", only=("params",)):
        r = resolve_loss(loss, loss_params)
    m = _mode(mode)
    run = _running(net, running)
    seed, step = check_seed("seed", seed), check_seed("step", step)
    work = new_workspace(net, x.shape[0])
    grad = np.empty(net.n_params)
    value = mlp_loss_grad(net.layout, net.fparams, p, x, y, r.code, r.lparams, m, seed, step, run, grad, work)
    return LossGrad(float(value), grad, output_view(net.layout, net.fparams, x.shape[0], work).copy())


def predict(net: MLP, params: ArrayLike, X: ArrayLike, mode: str = "eval_batch", running: ArrayLike | None = None,
            seed: int = 0, step: int = 0) -> np.ndarray:
    """ŷ of a batch ``X`` [n, widths[0]] (eval modes: no dropout; BN with batch or running statistics).

    >>> net = engine.build_mlp([1, 1])
    >>> engine.predict(net, np.array([2.0, 0.5]), [[1.0], [3.0]]).tolist()
    [[2.5], [6.5]]
    """
    p = _params(net, params)
    x, _ = as_batch(net, X)
    m = _mode(mode)
    run = _running(net, running)
    seed, step = check_seed("seed", seed), check_seed("step", step)
    yhat = mlp_forward(net.layout, net.fparams, p, x, m, seed, step, run, new_workspace(net, x.shape[0]))
    return yhat.copy()  # (mlp_predict does the same inside kernels; one compiled kernel fewer here)


def _params(net: MLP, params) -> np.ndarray:
    check_net(net)
    return check_array("params", params, shape=(net.n_params,), ndim=(1,))


def describe() -> list[dict]:
    """The MLP's conventions for the catalog (one entry: layer formula, placements, modes, limits)."""
    return [{
        "name": "mlp",
        "title": "Multilayer perceptron",
        "parameters": [
            ParamSpec("residual", False, kind="bool", doc="skip connections on equal-width hidden layers").to_dict(),
            ParamSpec("batch_norm", False, kind="bool", doc="BatchNorm1d before every hidden activation").to_dict(),
            ParamSpec("dropout", 0.0, 0.0, 1.0, doc="inverted dropout on every hidden layer").to_dict(),
        ],
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
