"""Vanishing and exploding gradients: per-layer gradient norms of a deep MLP at initialization.

The net: ``depth`` weight layers, every one ``width × width`` (inputs = outputs = width, so every
layer has the same shape and layer norms compare like with like); hidden layers use
``activation``, the output layer is linear; optional residual connections and batch
normalization (engine.mlp's placement); weights from ``init`` (engine.init, default
**normal with σ = 0.25**: N(0, 0.25²), biases 0). The batch: X ~ N(0, 1) of shape [batch, width],
targets Y ~ N(0, 1), loss MSE (mean), training-mode forward, all from ``seed``.

Per layer ℓ = 1 (nearest the input) .. depth: ‖∂L/∂W_ℓ‖_F, ‖∂L/∂b_ℓ‖, ‖∂L/∂z_ℓ‖_F (z = the layer's
pre-activation, the "error signal" δ_ℓ backprop carries), ‖∂L/∂a_ℓ‖_F (the layer's output), ‖W_ℓ‖_F
and the mean and standard deviation of a_ℓ (saturation shows there). Norms over the batch.

Verdict, stated in ``rule``: r = ‖∂L/∂z_1‖ / ‖∂L/∂z_depth‖ (``first_over_last``)::

    vanishing   r < 0.1    the first layer's error signal is over 10× weaker than the last's
    exploding   r > 10     over 10× stronger — or any value overflowed float64
    stable      otherwise  (within 10× either way)

Why δ and not ‖∂L/∂W‖: ∂L/∂W_ℓ = a_{ℓ−1}ᵀ δ_ℓ also carries the activations' scale, which can hide
the trend (a ReLU net with huge weights has huge activations forward and huge δ backward, and
every layer's weight gradient comes out alike) or invent one (sigmoid outputs have mean ½, so a
residual stream grows layer by layer). δ is the backward signal itself: it shrinks by
‖Wᵀ diag(act')‖ per layer. Both are reported.

Measured with this module (seed 0, width 32, batch 64; r, then ‖∂L/∂W_1‖/‖∂L/∂W_depth‖):

    sigmoid, 10 layers, N(0, 0.25²) (the default)     r = 4.9e-5   vanishing   (weights 2.1e-5)
    the same with residual connections                r = 0.50     stable      (weights 0.016)
    the same with batch normalization                 r = 0.22     stable      (weights 0.082)
    ReLU, kaiming_normal (He, nonlinearity relu)      r = 3.6      stable      (weights 0.61)
    sigmoid, N(0, 1) (torch's normal_ default)        r = 0.05     vanishing   (weights 0.010)
    tanh, 20 layers, N(0, 1)                          r = 4.4e4    exploding   (weights 2.0e4)
    ReLU, 20 layers, N(0, 1)                          r = 1.5e12   exploding   (weights 1.4: a_{ℓ−1}
                                                      grows with ℓ as fast as δ_ℓ shrinks)

Remedies are switches: ``residual``, ``batch_norm``, the ``init`` scheme, and gradient ``clip``
(torch ``clip_grad_norm_`` {"max_norm": c} or ``clip_grad_value_`` {"max_value": c} on the whole
gradient; reported: the global norm before and after and each layer's weight-gradient norm after.
Clipping rescales every layer alike (norm) or caps entries (value): it bounds the step, it does not
restore a vanishing first layer). The norms reported are computed without overflow (scaled); the clip
itself is torch's, which squares in float64: a global norm beyond ~1e154 overflows there, the
coefficient becomes 0 and the clipped gradient is 0, as in torch.

Optional ``training``: {"optimizer": {...}, "steps": S, "every": k} trains the same net on the same
batch with engine.optimizers' ``optimizer_step`` (and the clip) inside one jitted loop, recording the
per-layer norms and the loss at steps 0, k, 2k, …, S (before the update of that step).

Overflow: values that are not finite never leave. A layer whose gradient, activation or norm is not
finite reports ``OVERFLOW_CAP`` (1e308) for that number and ``overflow: true``; ``status`` is
``"overflow"`` and the verdict ``"exploding"``. Training stops at the first non-finite loss
(``training.status`` "diverged"; the recorded arrays end at the last finite record).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from typing import Any, Mapping, NamedTuple

from .results import resultclass
from ._jit import as_bool, as_int, kernel
from .clipping import CLIP_NONE, CLIP_NORM, clip_gradient, resolve_clip
from .deadlines import run_chunked
from .errors import EngineInputError
from .init import resolve_init
from .limits import LIMITS, check_max
from .losses import loss_value_grad, resolve_loss
from .mlp import as_batch, build_mlp, init_params, layer_views, new_running, unpack
from .mlp_kernels import TRAIN, Problem, mlp_backward, mlp_forward, safe_norm
from .optimizers import new_state, optimizer_step, resolve_optimizer
from .registry import ParamSpec
from .validate import check_int, check_seed

__all__ = ["GradientProfile", "run_gradient_profile"]

DEFAULT_INIT = {"name": "normal", "std": 0.25}
DEFAULT_TRAIN_OPTIMIZER = {"name": "sgd", "lr": 0.1}
VANISHING = 0.1
EXPLODING = 10.0
OVERFLOW_CAP = 1e308
RULE = (
    "first_over_last = ‖∂L/∂z_1‖ / ‖∂L/∂z_depth‖ (Frobenius norms over the batch of the gradient with respect "
    f"to each layer's pre-activation z = aW + b); vanishing if < {VANISHING:g}, exploding if > {EXPLODING:g} "
    "or if any value overflowed float64, stable otherwise (within 10x either way)"
)


# ---------------------------------------------------------------------------------------------
# Kernels
# ---------------------------------------------------------------------------------------------
@kernel
def _layer_norms(layout, n, grad, record, out):
    """out[ℓ] = (‖∂L/∂W_ℓ‖, ‖∂L/∂b_ℓ‖, ‖∂L/∂z_ℓ‖, ‖∂L/∂a_ℓ‖) from a gradient and a backward record."""
    off = 0
    for l in range(layout.shape[0]):
        fi = layout[l, 0]
        fo = layout[l, 1]
        wo = layout[l, 2]
        bo = layout[l, 3]
        out[l, 0] = safe_norm(grad[wo:wo + fi * fo])
        out[l, 1] = safe_norm(grad[bo:bo + fo])
        out[l, 2] = safe_norm(record[off:off + n * fo])
        out[l, 3] = safe_norm(record[off + n * fo:off + 2 * n * fo])
        off += 2 * n * fo


class Buffers(NamedTuple):
    """The parameters (updated in place) and the scratch of the passes."""

    params: np.ndarray
    running: np.ndarray
    grad: np.ndarray
    work: np.ndarray
    record: np.ndarray  # the backward record (every layer's dL/dz, dL/da)


@kernel
def _train_profile(b, buf, opt, ostate, clip_kind, clip_value, every, norms, losses, t0, t1, rec):
    """Passes t = t0 .. t1-1 of training on one batch for ``steps = len(opt.lrs)`` steps (t = 0 .. steps, one
    pass each); record norms and loss at t = 0, every, 2·every, ..., steps, from record number ``rec`` on
    (``opt.lrs`` empty: the record at t = 0 only, no update).

    Returns the records written so far, or -(records + 1) once the loss stops being finite (training over).
    Passes [0, steps + 1) in one call, or in consecutive pieces, give the same numbers.
    """
    n = b.X.shape[0]
    steps = opt.lrs.shape[0]
    # the forward and backward pass written out here, not as a kernel of its own: numba compiles a callee
    # on its own and LLVM optimizes it again inside its caller (2.5 s of the empty-cache warm-up)
    for t in range(t0, t1):
        keep = t % every == 0 or t == steps
        yhat = mlp_forward(b.layout, b.fparams, buf.params, b.X, as_int(TRAIN), as_int(0), as_int(0), buf.running,
                           buf.work)
        k = yhat.shape[1]
        dy = buf.work[buf.work.shape[0] - n * k:].reshape((n, k))  # the tail: past the backward scratch
        loss = loss_value_grad(b.loss_code, yhat, b.Y, b.lparams, dy)
        mlp_backward(b.layout, b.fparams, buf.params, b.X, dy, as_int(TRAIN), buf.grad, buf.work,
                     buf.record if keep else buf.record[:0])
        if not math.isfinite(loss):
            return -(rec + 1)
        if keep:
            _layer_norms(b.layout, n, buf.grad, buf.record, norms[rec])
            losses[rec] = loss
            rec += 1
        if t == steps:
            break
        clip_gradient(clip_kind, clip_value, buf.grad, as_bool(False))
        optimizer_step(opt.code, opt.hp, buf.params, buf.grad, ostate.state, ostate.scal, t + 1, opt.lrs[t])
    return rec


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------
@resultclass
@dataclass(frozen=True, eq=False)
class ClipReport:
    kind: str  # "max_norm" | "max_value"
    threshold: float
    global_norm_before: float
    global_norm_after: float
    weight_grad_norm_after: np.ndarray  # per layer


@resultclass(columns=True)
@dataclass(frozen=True, eq=False)
class TrainingProfile:
    optimizer: dict
    steps: np.ndarray  # the recorded steps (0 = before training)
    loss: np.ndarray
    weight_grad_norm: np.ndarray  # [records, depth]
    preactivation_grad_norm: np.ndarray  # [records, depth]
    first_over_last: np.ndarray  # per record
    verdict: list  # per record
    status: str  # "ok" | "diverged"


@resultclass
@dataclass(frozen=True, eq=False)
class GradientProfile:
    depth: int
    width: int
    activation: str
    init: dict
    residual: bool
    batch_norm: bool
    batch: int
    seed: int
    parameters: int
    loss: float  # at initialization (OVERFLOW_CAP when it overflowed)
    layer: np.ndarray  # 1..depth
    weight_grad_norm: np.ndarray
    bias_grad_norm: np.ndarray
    preactivation_grad_norm: np.ndarray
    activation_grad_norm: np.ndarray
    weight_norm: np.ndarray
    activation_mean: np.ndarray
    activation_std: np.ndarray
    overflow: np.ndarray  # bool per layer
    first_over_last: float
    verdict: str
    rule: str
    status: str  # "ok" | "overflow"
    clip: ClipReport | None
    training: TrainingProfile | None


def _cap(a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    bad = ~np.isfinite(a)
    return np.where(bad, OVERFLOW_CAP, a), bad


def _verdict(first: float, last: float) -> tuple[float, str]:
    if not (math.isfinite(first) and math.isfinite(last)):
        return OVERFLOW_CAP, "exploding"
    if last > 0.0:
        r = first / last
    else:
        r = 0.0 if first == 0.0 else math.inf
    if not math.isfinite(r):
        return OVERFLOW_CAP, "exploding"
    if r < VANISHING:
        return r, "vanishing"
    if r > EXPLODING:
        return r, "exploding"
    return r, "stable"


def run_gradient_profile(
    depth: int = 10,
    width: int = 32,
    activation: str = "sigmoid",
    init: Mapping[str, Any] | str | None = None,
    residual: bool = False,
    batch_norm: bool = False,
    clip: Mapping[str, Any] | None = None,
    batch: int = 64,
    seed: int = 0,
    activation_params: Mapping[str, Any] | None = None,
    training: Mapping[str, Any] | None = None,
) -> GradientProfile:
    """Per-layer gradient norms of a ``depth``-layer, ``width``-wide MLP at initialization, and a verdict.

    Limits: max_layers (depth), max_width, max_batch, max_network_parameters, max_network_work
    (batch × parameters), and for ``training`` max_profile_steps and max_profile_work.

    >>> g = engine.run_gradient_profile(depth=3, width=4, batch=8)
    >>> g.layer.tolist(), g.weight_grad_norm.shape
    ([1, 2, 3], (3,))
    """
    depth = check_int("depth", depth, 1, "max_layers")
    width = check_int("width", width, 1, "max_width")
    batch = check_int("batch", batch, 1, "max_batch")
    if batch_norm is True and batch < 2:
        raise EngineInputError("batch", "must be >= 2 with batch_norm (batch statistics need two rows, as in torch)")
    seed = check_seed("seed", seed)
    init = DEFAULT_INIT if init is None else init
    resolved_init = resolve_init(init)
    kind, threshold = resolve_clip(clip)
    # the work budget first: at the largest width the parameter count is over its limit too
    n_params = depth * (width * width + width) + (2 * width * (depth - 1) if batch_norm else 0)
    check_max("batch", batch * n_params, "max_network_work")
    check_max("width", n_params, "max_network_parameters")
    net = build_mlp([width] * (depth + 1), activation, "identity", residual, batch_norm, 0.0, activation_params)
    train = _resolve_training(training, batch, net.n_params)
    params = init_params(net, {"name": resolved_init.name, **resolved_init.params}, seed)
    data_rng = np.random.default_rng([seed, 1])
    X = data_rng.standard_normal((batch, width))
    Y = data_rng.standard_normal((batch, width))
    X, Y = as_batch(net, X, Y, "batch", "batch")
    r = resolve_loss("mse")
    n = batch
    work = np.zeros(net.workspace_size(n) + n * width)
    record = np.zeros(net.record_size(n))
    grad = np.zeros(net.n_params)
    running = new_running(net)
    # the profile at initialization is the training kernel's record at step 0 (no update is taken)
    norms3, losses = np.zeros((1, depth, 4)), np.zeros(1)
    batch_args = Problem(net.layout, net.fparams, X, Y, r.code, r.lparams)
    buf = Buffers(params, running, grad, work, record)
    opt0 = resolve_optimizer(DEFAULT_TRAIN_OPTIMIZER)  # no step is taken: lrs is empty
    k = _train_profile(batch_args, buf, opt0.args(np.zeros(0)), new_state(opt0, 1), CLIP_NONE, 0.0, 1, norms3, losses,
                       0, 1, 0)
    k = k if k >= 0 else -k - 1
    loss = float(losses[0]) if k == 1 else math.inf
    norms = norms3[0]
    if k == 0:  # the loss itself was not finite: the norms of that pass, for the overflow report
        _layer_norms(net.layout, n, grad, record, norms)
    views = layer_views(net, work, n)
    with np.errstate(all="ignore"):
        a_mean = np.array([v["a"].mean() for v in views])
        a_std = np.array([v["a"].std() for v in views])
    w_norm = np.array([float(safe_norm(np.ascontiguousarray(lp.W).ravel())) for lp in unpack(net, params)])
    bad = ~np.isfinite(norms).all(axis=1) | ~np.isfinite(a_mean) | ~np.isfinite(a_std)
    first, last = norms[0, 2], norms[-1, 2]
    ratio, verdict = _verdict(first, last)
    status = "ok"
    if bad.any() or not math.isfinite(loss):
        status, verdict = "overflow", "exploding"
    clip_report = None
    if kind != CLIP_NONE:
        g = grad.copy()
        before = float(safe_norm(g))
        clip_gradient(kind, threshold, g, False)
        after = float(safe_norm(g))
        per = np.array([float(safe_norm(np.ascontiguousarray(lp.W).ravel())) for lp in unpack(net, g)])
        clip_report = ClipReport("max_norm" if kind == CLIP_NORM else "max_value", threshold,
                                 _cap(np.array([before]))[0][0], _cap(np.array([after]))[0][0], _cap(per)[0])
    train_report = None
    if train is not None:
        train_report = _train(batch_args, buf, kind, threshold, train)
    wg, _ = _cap(norms[:, 0])
    return GradientProfile(
        depth, width, net.activation, {"name": resolved_init.name, **resolved_init.params}, bool(residual),
        bool(batch_norm), batch, seed, net.n_params, loss if math.isfinite(loss) else OVERFLOW_CAP,
        np.arange(1, depth + 1), wg, _cap(norms[:, 1])[0], _cap(norms[:, 2])[0], _cap(norms[:, 3])[0],
        _cap(w_norm)[0], _cap(a_mean)[0], _cap(a_std)[0], bad, ratio, verdict, RULE, status, clip_report,
        train_report,
    )


def _resolve_training(training, batch: int, n_params: int):
    if training is None:
        return None
    if not isinstance(training, Mapping):
        raise EngineInputError("training", "must be an object: {'optimizer': {...}, 'steps': S, 'every': k}")
    unknown = sorted(set(training) - {"optimizer", "steps", "every"})
    if unknown:
        raise EngineInputError(f"training.{unknown[0]}", "unknown field; accepted: optimizer, steps, every")
    given = {k: v for k, v in training.items() if v is not None}
    steps = check_int("training.steps", given.get("steps", 100), 1, "max_profile_steps")
    every = check_int("training.every", given.get("every", max(1, steps // 10)), 1)
    check_max("training.steps", (steps + 1) * batch * n_params, "max_profile_work")
    spec = given.get("optimizer", DEFAULT_TRAIN_OPTIMIZER)
    opt = resolve_optimizer(DEFAULT_TRAIN_OPTIMIZER if spec is None else spec, "training.optimizer")
    return opt, steps, every


def _train(b: Problem, buf: Buffers, clip_kind, clip_value, train) -> TrainingProfile:
    opt, steps, every = train
    n_rec = steps // every + 2
    norms = np.zeros((n_rec, b.layout.shape[0], 4))
    losses = np.zeros(n_rec)
    own = buf._replace(params=buf.params.copy())
    args, ostate = opt.args(np.full(steps, opt.lr)), new_state(opt, buf.params.shape[0])
    k = 0

    def passes(t0, t1):  # passes [t0, t1) of t = 0..steps (deadline checks between chunks)
        nonlocal k
        got = int(_train_profile(b, own, args, ostate, clip_kind, float(clip_value), every, norms, losses, t0, t1, k))
        k = got if got >= 0 else -got - 1
        return got < 0

    run_chunked(steps + 1, passes, "gradient profile training")
    recorded = [t for t in range(steps + 1) if t % every == 0 or t == steps][:k]
    norms = norms[:k]
    ok = np.isfinite(norms).all(axis=(1, 2))
    keep = int(np.argmin(ok)) if not ok.all() else k  # stop at the first record with a non-finite norm
    norms, losses, recorded = norms[:keep], losses[:keep], recorded[:keep]
    ratios, verdicts = [], []
    for rec in norms:
        ratio, v = _verdict(rec[0, 2], rec[-1, 2])
        ratios.append(ratio)
        verdicts.append(v)
    status = "ok" if keep == len([t for t in range(steps + 1) if t % every == 0 or t == steps]) else "diverged"
    return TrainingProfile({"name": opt.name, **opt.params}, np.array(recorded, dtype=np.int64), losses.copy(),
                           norms[:, :, 0].copy(), norms[:, :, 2].copy(), np.array(ratios), verdicts, status)


def describe() -> list[dict]:
    """The profile's network, data, verdict rule and defaults."""
    return [{
        "name": "gradient_profile",
        "title": "Vanishing and exploding gradients, layer by layer",
        "parameters": [ParamSpec("depth", 10, 1, None, "int", "weight layers (limit max_layers)").to_dict(),
                       ParamSpec("width", 32, 1, None, "int", "units per layer (limit max_width)").to_dict(),
                       ParamSpec("batch", 64, 1, None, "int", "samples (limit max_batch)").to_dict()],
        "network": "depth layers of width x width; hidden activation, linear output; MSE on X, Y ~ N(0, 1)",
        "default_init": DEFAULT_INIT,
        "rule": RULE,
        "thresholds": {"vanishing": VANISHING, "exploding": EXPLODING},
        "overflow_cap": OVERFLOW_CAP,
        "remedies": ["residual", "batch_norm", "init", "clip"],
        "limits": {k: LIMITS[k] for k in ("max_layers", "max_width", "max_batch", "max_profile_steps")},
    }]


def _warmup() -> None:
    run_gradient_profile(3, 2, batch=4, clip={"max_norm": 1.0},
                         training={"optimizer": {"name": "adam", "lr": 0.01}, "steps": 2, "every": 1})
    run_gradient_profile(3, 2, batch=4, batch_norm=True, residual=True, clip={"max_value": 0.1})
