"""Optimizers as in-place kernels over flat float64 parameter vectors, with torch.optim semantics.

Python users step with ``engine.Optimizer`` (``engine/optim.py``: ``opt = Optimizer("adam", lr=1e-2);
opt.step(params, grad)``), which owns its state and checks sizes and dtypes. Everything below the registry
(``optimizer_step``, ``reset_state``, ``new_state``) is the engine's internal kernel interface: unchecked,
so it is not exported.

One step function per optimizer, written the way ``torch/optim/<name>.py::_single_tensor_<name>``
writes it (torch 2.13, CPU single-tensor path): its per-step scalars, then one formula per
coordinate (``_<name>_coord``, scalars in and out). ONE dispatcher ``optimizer_step`` is what any
other kernel calls, with a small integer code::

    opt = resolve_optimizer({"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]})
    state, scal = new_state(opt, p.size)
    for t in range(1, steps + 1):               # t is 1-based: torch increments before the update
        optimizer_step(opt.code, opt.hp, p, g, state, scal, t, lrs[t - 1])

Shared interface (other modules code against it; keep it stable)
-----------------------------------------------------------------
* ``N_SLOTS = 3`` rows of per-coordinate state, ``N_SCALARS = 2`` scalar state entries,
  ``HP_SIZE = 8`` packed hyperparameters (unused entries are 0).
* ``resolve_optimizer(spec, field="optimizer") -> ResolvedOptimizer`` (frozen: ``name``, ``code``, ``hp``, ``lr``,
  ``params``); refusals are named under ``field`` (``optimizers.2.lr``).
* ``new_state(opt, n) -> (state float64[N_SLOTS, n], scal float64[N_SCALARS])``, initialised as torch
  does (Adagrad's sum = initial_accumulator_value, NAdam's mu_product = 1, everything else 0).
* ``reset_state(code, hp, state, scal)``: the same initialisation in place (jitted), so a kernel
  running many runs reuses its buffers.
* ``optimizer_step(code, hp, p, g, state, scal, t, lr)``: one torch.optim step in place on ``p``,
  ``state`` and ``scal``. ``t`` is the 1-based step count; ``lr`` is THIS step's learning rate (the
  caller applies any schedule: ``hp`` never holds lr). ``g`` is read only (coupled weight decay
  ``g + wd·p`` and ``maximize``'s ``-g`` are formed per element on the fly). It allocates nothing, so it
  can run inside other kernels' loops and on several threads at once. ``p``, ``g`` and each ``state`` row must
  have the same length n: whole arrays, rows of bigger C-contiguous arrays (one per run), or
  contiguous slices of one flat vector (``p[a:b]``, ``g[a:b]``, ``state[:, a:b]``: a model that steps
  some segments with other settings, e.g. weight decay on its matrices only, keeps one ``scal`` per
  segment).
* ``optimizer_step_inline(...)``: the same step (same arguments, same results to the bit) always
  computed inline, element by element, with no call out: the 2-D descents' per-step call.
* ``OptimizerArgs(code, hp, lrs)``: what a loop over steps takes of an optimizer, one NamedTuple.

State rows per optimizer (torch's state names)
----------------------------------------------
=========  ====================  ==================  ==============  ==========
code       state[0]              state[1]            state[2]        scal[0]
=========  ====================  ==================  ==============  ==========
sgd        momentum_buffer
adagrad    sum
rmsprop    square_avg            momentum_buffer     grad_avg
adadelta   square_avg            acc_delta
adam(w)    exp_avg               exp_avg_sq          max_exp_avg_sq
adamax     exp_avg               exp_inf
nadam      exp_avg               exp_avg_sq                          mu_product
radam      exp_avg               exp_avg_sq
lion       exp_avg (optax mu)
=========  ====================  ==================  ==============  ==========

Packed hyperparameters ``hp``: each optimizer's ONE ordering is its ``<NAME>_HP`` index tuple below
(``ADAM_HP = (beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay, maximize)``; AdamW
packs the same with decoupled_weight_decay = 1: torch 2.13's AdamW *is* Adam(decoupled_weight_decay=True)).
The registry packs by it and the kernels read by its names; booleans are 0.0/1.0.

Exactness notes. Moving averages that torch builds with ``lerp_`` use ATen's two-branch lerp
(``_lerp`` below), ``addcmul``/``addcdiv`` are evaluated in ATen's order ``self + (value·t1)·t2`` /
``self + (value·t1)/t2``, and powers use ``float ** float`` as torch's Python scalars do. The one
remaining difference is ATen's fused multiply-add inside its vectorised lerp, about 1 ulp per step.

Lion is not in torch 2.13: it follows optax ``scale_by_lion`` + ``add_decayed_weights`` (Chen et al.
2023): ``c = sign((1−β1)·g + β1·m); p ← p − lr·(c + wd·p); m ← (1−β2)·g + β2·m`` with lucidrains'
lion-pytorch defaults (lr 1e-4, betas (0.9, 0.99), weight_decay 0; optax's wd default is 1e-3).
"""

from __future__ import annotations

import math
from collections import namedtuple
from dataclasses import dataclass, field
from typing import Any, Mapping, NamedTuple

import numpy as np

from ._jit import inline_kernel, kernel
from .errors import EngineInputError, field_prefix
from .registry import ParamSpec, lookup, resolve_params

# optimizer_step, reset_state (kernels) and new_state (their state) are internal: engine code steps with them;
# users step with engine.Optimizer (engine.optim), which checks sizes and dtypes first.
__all__ = ["OPTIMIZERS", "Optimizer", "OptimizerArgs", "OptimizerState", "ResolvedOptimizer", "resolve_optimizer"]

N_SLOTS = 3  # rows of per-coordinate state (the most any optimizer keeps: Adam's m, v, vmax)
N_SCALARS = 2
HP_SIZE = 8

# Integer codes (stable: other kernels dispatch on them)
SGD = 0
ADAGRAD = 1
RMSPROP = 2
ADADELTA = 3
ADAM = 4
ADAMW = 5
ADAMAX = 6
NADAM = 7
RADAM = 8
LION = 9


def _hp_layout(*names: str):
    """Indices into ``hp`` by name, from ONE ordering per optimizer: ``SGD_HP.momentum == 0``, ... The
    registry packs ``hp`` in this order (``OptimizerSpec.hp_order``) and the kernels read it by these
    names, so the two cannot drift apart."""
    assert len(names) <= HP_SIZE
    return namedtuple("HpIndex", names)(*range(len(names)))


# Packed hyperparameters per optimizer (booleans as 0.0/1.0; hp never holds lr)
SGD_HP = _hp_layout("momentum", "dampening", "nesterov", "weight_decay", "maximize")
ADAGRAD_HP = _hp_layout("lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize")
RMSPROP_HP = _hp_layout("alpha", "eps", "weight_decay", "momentum", "centered", "maximize")
ADADELTA_HP = _hp_layout("rho", "eps", "weight_decay", "maximize")
ADAM_HP = _hp_layout("beta1", "beta2", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay", "maximize")
ADAMAX_HP = _hp_layout("beta1", "beta2", "eps", "weight_decay", "maximize")
NADAM_HP = _hp_layout("beta1", "beta2", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize")
RADAM_HP = _hp_layout("beta1", "beta2", "eps", "weight_decay", "decoupled_weight_decay", "maximize")
LION_HP = _hp_layout("beta1", "beta2", "weight_decay")


# ---------------------------------------------------------------------------------------------
# Kernels: one step per optimizer, as torch writes it; all update p and their state in place.
# ---------------------------------------------------------------------------------------------
@inline_kernel
def _lerp(a, b, w):
    """ATen's ``lerp(a, b, w)`` (``aten/src/ATen/native/Lerp.h``) = a + w·(b − a), two-branch for accuracy.

    torch builds ``exp_avg`` with ``exp_avg.lerp_(grad, 1 − β1)`` (= β1·m + (1 − β1)·g).
    """
    if abs(w) < 0.5:
        return a + w * (b - a)
    return b - (b - a) * (1.0 - w)


@inline_kernel
def _grad(g_i, p_i, wd, maximize):
    """The gradient torch's step sees for one coordinate: ``-g`` if maximize, then ``+ wd·p`` (coupled, L2).

    Scalars only: passing arrays to a helper costs a reference-count round trip per call.
    """
    gi = -g_i if maximize else g_i
    if wd != 0.0:
        gi = gi + wd * p_i
    return gi


@inline_kernel
def _bias_correction(beta, t, s):
    """``(1 − beta ** t, s')``: the bias correction exactly as torch computes it (``float ** float``),
    skipping the power once it has rounded to 1; ``s`` is the ``scal`` entry that remembers when.

    ``beta ** t`` only decreases with t (beta in [0, 1)), so once ``1 − beta ** s == 1.0`` (beta ** s
    <= 2⁻⁵⁴) it stays 1.0 for every later step: ``s' = −s`` records that, and steps ``t > s`` return
    1.0 without the ~15 ns power (after ~350 steps for beta1 = 0.9, ~37,000 for beta2 = 0.999).
    ``reset_state`` leaves ``s >= 0`` (nothing known); the result is bit-identical either way.
    Scalars in and out (the caller stores ``s'``): an array argument to an inlined helper that
    writes it on one branch costs atomic reference-count updates every step (see ``_grad``).
    """
    if s < 0.0 and t > -s:
        return 1.0, s
    bc = 1.0 - beta ** float(t)
    if bc == 1.0:
        return bc, -float(t)
    return bc, s


# Each optimizer below is three pieces, so that one formula serves both vector lengths:
#   _<name>_scalars(...)  the per-step scalars (bias corrections, step sizes) from t, lr and scal;
#   _<name>_coord(...)    the update of ONE coordinate, scalars in and out: (p, g, state..., h) -> (p, state...);
#   _<name>(p, g, ...)    the whole step on arrays, as torch writes it: the scalars, then a loop of _coord.
# ``<name>_step`` compiles ``_<name>`` on its own (long vectors); ``optimizer_step_inline`` runs the
# scalars and coordinate functions itself (short vectors, the 2-D descents: see there). SGD's,
# RMSprop's and Adam's array steps loop twice, so that state rows an option leaves unused
# (momentum buffer, centred average, AMSGrad max) are not read or written.
# ``h`` is the hyperparameter vector as a tuple of scalars (``_hp_tuple``), read by the names of each
# optimizer's ordering (``SGD_HP.momentum``...): a tuple is passed by value, with no reference counting.


@inline_kernel
def _hp_tuple(hp):
    """``hp`` (float64[HP_SIZE]) as a tuple of scalars: read once, in code common to every optimizer."""
    return hp[0], hp[1], hp[2], hp[3], hp[4], hp[5], hp[6], hp[7]


@inline_kernel
def _sgd_coord(p, g, buf, t, lr, h):
    """torch.optim.SGD on one coordinate: returns (p, buf).

    g ← g + wd·p;  if momentum: buf ← g at t = 1 (no dampening), else buf ← μ·buf + (1 − τ)·g;
    g ← g + μ·buf (nesterov) or buf;  p ← p − lr·g.
    """
    momentum = h[SGD_HP.momentum]
    gi = _grad(g, p, h[SGD_HP.weight_decay], h[SGD_HP.maximize] != 0.0)
    if momentum != 0.0:
        if t == 1:
            buf = gi
        else:
            buf = buf * momentum + (1.0 - h[SGD_HP.dampening]) * gi
        if h[SGD_HP.nesterov] != 0.0:
            gi = gi + momentum * buf
        else:
            gi = buf
    return p + -lr * gi, buf


@inline_kernel
def _sgd(p, g, buf, t, lr, h):
    """torch.optim.SGD (``_sgd_coord`` per coordinate; ``buf`` is touched only with momentum)."""
    if h[SGD_HP.momentum] != 0.0:
        for i in range(p.shape[0]):
            p[i], buf[i] = _sgd_coord(p[i], g[i], buf[i], t, lr, h)
    else:
        for i in range(p.shape[0]):
            p[i] = _sgd_coord(p[i], g[i], 0.0, t, lr, h)[0]


@inline_kernel
def _adagrad_scalars(t, lr, h):
    """Adagrad's decayed step size clr = lr / (1 + (t − 1)·lr_decay)."""
    return lr / (1.0 + (t - 1) * h[ADAGRAD_HP.lr_decay])


@inline_kernel
def _adagrad_coord(p, g, state_sum, clr, h):
    """torch.optim.Adagrad on one coordinate: returns (p, sum).

    g ← g + wd·p;  sum ← sum + g²;  p ← p − clr·g / (√sum + eps).
    """
    gi = _grad(g, p, h[ADAGRAD_HP.weight_decay], h[ADAGRAD_HP.maximize] != 0.0)
    state_sum = state_sum + 1.0 * gi * gi
    std = math.sqrt(state_sum) + h[ADAGRAD_HP.eps]
    return p + (-clr * gi) / std, state_sum


@inline_kernel
def _adagrad(p, g, state_sum, t, lr, h):
    """torch.optim.Adagrad: clr = lr / (1 + (t − 1)·lr_decay), then ``_adagrad_coord`` per coordinate."""
    clr = _adagrad_scalars(t, lr, h)
    for i in range(p.shape[0]):
        p[i], state_sum[i] = _adagrad_coord(p[i], g[i], state_sum[i], clr, h)


@inline_kernel
def _rmsprop_coord(p, g, square_avg, buf, grad_avg, lr, h):
    """torch.optim.RMSprop on one coordinate (eps outside the square root, no bias correction):
    returns (p, square_avg, buf, grad_avg).

    g ← g + wd·p;  v ← α·v + (1 − α)·g²;  centered: ḡ ← lerp(ḡ, g, 1 − α), avg = √(v − ḡ²) + eps,
    else avg = √v + eps;  momentum > 0: buf ← μ·buf + g/avg, p ← p − lr·buf;  else p ← p − lr·g/avg.
    """
    alpha = h[RMSPROP_HP.alpha]
    eps = h[RMSPROP_HP.eps]
    momentum = h[RMSPROP_HP.momentum]
    gi = _grad(g, p, h[RMSPROP_HP.weight_decay], h[RMSPROP_HP.maximize] != 0.0)
    square_avg = square_avg * alpha + (1.0 - alpha) * gi * gi
    if h[RMSPROP_HP.centered] != 0.0:
        grad_avg = _lerp(grad_avg, gi, 1.0 - alpha)
        avg = math.sqrt(square_avg + -1.0 * grad_avg * grad_avg) + eps
    else:
        avg = math.sqrt(square_avg) + eps
    if momentum > 0.0:
        buf = buf * momentum + 1.0 * gi / avg
        p = p + -lr * buf
    else:
        p = p + (-lr * gi) / avg
    return p, square_avg, buf, grad_avg


@inline_kernel
def _rmsprop(p, g, square_avg, buf, grad_avg, lr, h):
    """torch.optim.RMSprop (``_rmsprop_coord`` per coordinate; ``buf`` and ``grad_avg`` are touched only
    with momentum or centered)."""
    if h[RMSPROP_HP.momentum] > 0.0 or h[RMSPROP_HP.centered] != 0.0:
        for i in range(p.shape[0]):
            p[i], square_avg[i], buf[i], grad_avg[i] = _rmsprop_coord(p[i], g[i], square_avg[i], buf[i], grad_avg[i],
                                                                      lr, h)
    else:
        for i in range(p.shape[0]):
            p[i], square_avg[i], _, _ = _rmsprop_coord(p[i], g[i], square_avg[i], 0.0, 0.0, lr, h)


@inline_kernel
def _adadelta_coord(p, g, square_avg, acc_delta, lr, h):
    """torch.optim.Adadelta on one coordinate (eps inside both square roots; the OLD acc_delta scales
    the step): returns (p, square_avg, acc_delta).

    g ← g + wd·p;  v ← ρ·v + (1 − ρ)·g²;  δ = √(u + eps)/√(v + eps)·g;  u ← ρ·u + (1 − ρ)·δ²;  p ← p − lr·δ.
    """
    rho = h[ADADELTA_HP.rho]
    eps = h[ADADELTA_HP.eps]
    gi = _grad(g, p, h[ADADELTA_HP.weight_decay], h[ADADELTA_HP.maximize] != 0.0)
    square_avg = square_avg * rho + (1.0 - rho) * gi * gi
    std = math.sqrt(square_avg + eps)
    delta = math.sqrt(acc_delta + eps) / std * gi
    acc_delta = acc_delta * rho + (1.0 - rho) * delta * delta
    return p + -lr * delta, square_avg, acc_delta


@inline_kernel
def _adadelta(p, g, square_avg, acc_delta, lr, h):
    """torch.optim.Adadelta (``_adadelta_coord`` per coordinate)."""
    for i in range(p.shape[0]):
        p[i], square_avg[i], acc_delta[i] = _adadelta_coord(p[i], g[i], square_avg[i], acc_delta[i], lr, h)


@inline_kernel
def _adam_scalars(t, lr, h, s0, s1):
    """Adam's per-step scalars: (step_size = lr/(1 − β1^t), √(1 − β2^t), scal[0]', scal[1]')."""
    bias_correction1, s1 = _bias_correction(h[ADAM_HP.beta1], t, s1)
    bias_correction2, s0 = _bias_correction(h[ADAM_HP.beta2], t, s0)
    return lr / bias_correction1, math.sqrt(bias_correction2), s0, s1


@inline_kernel
def _adam_moments(p, g, m, v, lr, beta1, beta2, wd, decoupled, maximize):
    """The Adam family's shared start on one coordinate: returns (p, g, m, v).

    decoupled (AdamW): p ← p·(1 − lr·wd), else g ← g + wd·p (L2, after negating g if maximize);
    m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g².
    """
    if decoupled:
        if wd != 0.0:
            p = p * (1.0 - lr * wd)
        gi = -g if maximize else g
    else:
        gi = _grad(g, p, wd, maximize)
    return p, gi, _lerp(m, gi, 1.0 - beta1), v * beta2 + (1.0 - beta2) * gi * gi


@inline_kernel
def _adam_coord(p, g, m, v, vmax, lr, step_size, bias_correction2_sqrt, h):
    """torch.optim.Adam / AdamW on one coordinate: returns (p, m, v, vmax).

    decoupled: p ← p·(1 − lr·wd), else g ← g + wd·p;  m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;
    amsgrad: vmax ← max(vmax, v) (raw v) used for v below;  denom = √v/√(1 − β2^t) + eps;
    p ← p − lr/(1 − β1^t) · m/denom.
    """
    p, gi, m, v = _adam_moments(p, g, m, v, lr, h[ADAM_HP.beta1], h[ADAM_HP.beta2], h[ADAM_HP.weight_decay],
                                h[ADAM_HP.decoupled_weight_decay] != 0.0, h[ADAM_HP.maximize] != 0.0)
    if h[ADAM_HP.amsgrad] != 0.0:
        if v > vmax:
            vmax = v
        denom = math.sqrt(vmax) / bias_correction2_sqrt + h[ADAM_HP.eps]
    else:
        denom = math.sqrt(v) / bias_correction2_sqrt + h[ADAM_HP.eps]
    return p + (-step_size * m) / denom, m, v, vmax


@inline_kernel
def _adam(p, g, m, v, vmax, scal, t, lr, h):
    """torch.optim.Adam / AdamW (AdamW = decoupled weight decay): ``_adam_scalars``, then ``_adam_coord``
    per coordinate (``vmax`` is touched only with amsgrad)."""
    step_size, bias_correction2_sqrt, scal[0], scal[1] = _adam_scalars(t, lr, h, scal[0], scal[1])
    if h[ADAM_HP.amsgrad] != 0.0:
        for i in range(p.shape[0]):
            p[i], m[i], v[i], vmax[i] = _adam_coord(p[i], g[i], m[i], v[i], vmax[i], lr, step_size,
                                                    bias_correction2_sqrt, h)
    else:
        for i in range(p.shape[0]):
            p[i], m[i], v[i], _ = _adam_coord(p[i], g[i], m[i], v[i], 0.0, lr, step_size, bias_correction2_sqrt, h)


@inline_kernel
def _adamax_scalars(t, lr, h, s1):
    """Adamax's step size clr = lr/(1 − β1^t) and scal[1]'."""
    bias_correction1, s1 = _bias_correction(h[ADAMAX_HP.beta1], t, s1)
    return lr / bias_correction1, s1


@inline_kernel
def _adamax_coord(p, g, m, u, clr, h):
    """torch.optim.Adamax on one coordinate (eps inside the max): returns (p, m, u).

    g ← g + wd·p;  m ← lerp(m, g, 1 − β1);  u ← max(β2·u, |g| + eps);  p ← p − clr · m/u.
    """
    gi = _grad(g, p, h[ADAMAX_HP.weight_decay], h[ADAMAX_HP.maximize] != 0.0)
    m = _lerp(m, gi, 1.0 - h[ADAMAX_HP.beta1])
    u = max(u * h[ADAMAX_HP.beta2], abs(gi) + h[ADAMAX_HP.eps])
    return p + (-clr * m) / u, m, u


@inline_kernel
def _adamax(p, g, m, u, scal, t, lr, h):
    """torch.optim.Adamax: clr = lr/(1 − β1^t), then ``_adamax_coord`` per coordinate."""
    clr, scal[1] = _adamax_scalars(t, lr, h, scal[1])
    for i in range(p.shape[0]):
        p[i], m[i], u[i] = _adamax_coord(p[i], g[i], m[i], u[i], clr, h)


@inline_kernel
def _nadam_scalars(t, lr, h, mu_product, s1):
    """NAdam's per-step scalars: (1 − β2^t, c_grad, c_avg, Π', scal[1]').

    μ_t = β1·(1 − ½·0.96^(t·ψ)), μ_{t+1} likewise;  Π ← Π·μ_t;
    c_grad = −lr·(1 − μ_t)/(1 − Π);  c_avg = −lr·μ_{t+1}/(1 − Π·μ_{t+1}).
    """
    beta1 = h[NADAM_HP.beta1]
    momentum_decay = h[NADAM_HP.momentum_decay]
    tf = float(t)
    bias_correction2, s1 = _bias_correction(h[NADAM_HP.beta2], t, s1)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (tf * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((tf + 1.0) * momentum_decay)))
    mu_product = mu_product * mu
    mu_product_next = mu_product * mu_next
    c_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
    c_avg = (-lr * mu_next) / (1.0 - mu_product_next)
    return bias_correction2, c_grad, c_avg, mu_product, s1


@inline_kernel
def _nadam_coord(p, g, m, v, lr, bias_correction2, c_grad, c_avg, h):
    """torch.optim.NAdam on one coordinate: returns (p, m, v).

    wd as in Adam (coupled by default);  m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;
    denom = √(v/(1 − β2^t)) + eps;  p ← p + c_grad·g/denom + c_avg·m/denom.
    """
    p, gi, m, v = _adam_moments(p, g, m, v, lr, h[NADAM_HP.beta1], h[NADAM_HP.beta2], h[NADAM_HP.weight_decay],
                                h[NADAM_HP.decoupled_weight_decay] != 0.0, h[NADAM_HP.maximize] != 0.0)
    denom = math.sqrt(v / bias_correction2) + h[NADAM_HP.eps]
    p = p + (c_grad * gi) / denom
    return p + (c_avg * m) / denom, m, v


@inline_kernel
def _nadam(p, g, m, v, scal, t, lr, h):
    """torch.optim.NAdam (Dozat's μ-schedule with torch's momentum_decay ψ; ``scal[0]`` = mu_product Π):
    ``_nadam_scalars``, then ``_nadam_coord`` per coordinate."""
    bias_correction2, c_grad, c_avg, scal[0], scal[1] = _nadam_scalars(t, lr, h, scal[0], scal[1])
    for i in range(p.shape[0]):
        p[i], m[i], v[i] = _nadam_coord(p[i], g[i], m[i], v[i], lr, bias_correction2, c_grad, c_avg, h)


@inline_kernel
def _radam_scalars(t, h, s1):
    """RAdam's per-step scalars: (1 − β1^t, √(1 − β2^t), r_t (0 when not rectified), rectified, scal[1]').

    ρ∞ = 2/(1 − β2) − 1;  ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t);  rectified when ρ_t > 5, with
    r_t = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t)).
    """
    beta2 = h[RADAM_HP.beta2]
    tf = float(t)
    bias_correction1, s1 = _bias_correction(h[RADAM_HP.beta1], t, s1)
    bias_correction2 = 1.0 - beta2**tf
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * tf * (beta2**tf) / bias_correction2
    rectified = rho_t > 5.0
    rect = 0.0
    if rectified:
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
    return bias_correction1, math.sqrt(bias_correction2), rect, rectified, s1


@inline_kernel
def _radam_coord(p, g, m, v, lr, bias_correction1, sqrt_bc2, rect, rectified, h):
    """torch.optim.RAdam on one coordinate: returns (p, m, v).

    m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1^t);
    rectified: p ← p − lr·m̂·r_t·√(1 − β2^t)/(√v + eps);  else p ← p − lr·m̂.
    """
    p, gi, m, v = _adam_moments(p, g, m, v, lr, h[RADAM_HP.beta1], h[RADAM_HP.beta2], h[RADAM_HP.weight_decay],
                                h[RADAM_HP.decoupled_weight_decay] != 0.0, h[RADAM_HP.maximize] != 0.0)
    m_hat = m / bias_correction1
    if rectified:
        p = p + -1.0 * (m_hat * lr * (sqrt_bc2 / (math.sqrt(v) + h[RADAM_HP.eps])) * rect)
    else:
        p = p + -1.0 * (m_hat * lr)
    return p, m, v


@inline_kernel
def _radam(p, g, m, v, scal, t, lr, h):
    """torch.optim.RAdam (rectified when ρ_t > 5, else an un-normalised momentum step): ``_radam_scalars``,
    then ``_radam_coord`` per coordinate."""
    bias_correction1, sqrt_bc2, rect, rectified, scal[1] = _radam_scalars(t, h, scal[1])
    for i in range(p.shape[0]):
        p[i], m[i], v[i] = _radam_coord(p[i], g[i], m[i], v[i], lr, bias_correction1, sqrt_bc2, rect, rectified, h)


@inline_kernel
def _lion_coord(p, g, m, lr, h):
    """Lion (Chen et al. 2023; optax ``lion``) on one coordinate: returns (p, m).

    c = sign((1 − β1)·g + β1·m), sign(0) = 0;  p ← p − lr·(c + wd·p);  m ← (1 − β2)·g + β2·m (after, with β2).
    """
    beta1 = h[LION_HP.beta1]
    beta2 = h[LION_HP.beta2]
    c = (1.0 - beta1) * g + beta1 * m
    s = 0.0
    if c > 0.0:
        s = 1.0
    elif c < 0.0:
        s = -1.0
    elif c != c:  # NaN propagates, as jnp.sign does
        s = c
    return p - lr * (s + h[LION_HP.weight_decay] * p), (1.0 - beta2) * g + beta2 * m


@inline_kernel
def _lion(p, g, m, lr, h):
    """Lion (``_lion_coord`` per coordinate)."""
    for i in range(p.shape[0]):
        p[i], m[i] = _lion_coord(p[i], g[i], m[i], lr, h)


# Each optimizer's array step compiled on its own (its loop unswitched and vectorised for long vectors):
# the long-vector path of ``optimizer_step``. Same arguments for all: the step's views of the state rows.


@kernel
def sgd_step(p, g, state, scal, t, lr, h):
    _sgd(p, g, state[0], t, lr, h)


@kernel
def adagrad_step(p, g, state, scal, t, lr, h):
    _adagrad(p, g, state[0], t, lr, h)


@kernel
def rmsprop_step(p, g, state, scal, t, lr, h):
    _rmsprop(p, g, state[0], state[1], state[2], lr, h)


@kernel
def adadelta_step(p, g, state, scal, t, lr, h):
    _adadelta(p, g, state[0], state[1], lr, h)


@kernel
def adam_step(p, g, state, scal, t, lr, h):
    _adam(p, g, state[0], state[1], state[2], scal, t, lr, h)


@kernel
def adamax_step(p, g, state, scal, t, lr, h):
    _adamax(p, g, state[0], state[1], scal, t, lr, h)


@kernel
def nadam_step(p, g, state, scal, t, lr, h):
    _nadam(p, g, state[0], state[1], scal, t, lr, h)


@kernel
def radam_step(p, g, state, scal, t, lr, h):
    _radam(p, g, state[0], state[1], scal, t, lr, h)


@kernel
def lion_step(p, g, state, scal, t, lr, h):
    _lion(p, g, state[0], lr, h)


# Compiled once, here, and called (not inlined) by the network kernels (training, gradient profile,
# network landscape, user functions, language models): inlined, its ten optimizers compiled again inside
# every caller, ~10-20 s of empty-cache warm-up each; the call costs ~20 ns a step against a
# forward/backward pass of microseconds. It calls each optimizer's own compiled loop whatever the
# length: inlining ``optimizer_step_inline`` for vectors of up to 8 elements made its compile 4 s
# longer in each warm-up process, for the Python API's tiny vectors only (the 2-D descents inline
# ``optimizer_step_inline`` themselves; the networks' vectors are long).
@kernel
def optimizer_step(code, hp, p, g, state, scal, t, lr):
    """One torch.optim step of optimizer ``code`` in place on ``p``, ``state``, ``scal`` (module docstring).

    ``t`` is the 1-based step count, ``lr`` this step's learning rate; ``g`` is not modified and
    nothing is allocated. An unknown code does nothing (``resolve_optimizer`` only makes valid ones).
    ``p``, ``g`` and the state rows may be contiguous slices of longer vectors (a model that steps its
    parameters segment by segment).
    """
    h = _hp_tuple(hp)
    if code == SGD:
        sgd_step(p, g, state, scal, t, lr, h)
    elif code == ADAGRAD:
        adagrad_step(p, g, state, scal, t, lr, h)
    elif code == RMSPROP:
        rmsprop_step(p, g, state, scal, t, lr, h)
    elif code == ADADELTA:
        adadelta_step(p, g, state, scal, t, lr, h)
    elif code == ADAM or code == ADAMW:
        adam_step(p, g, state, scal, t, lr, h)
    elif code == ADAMAX:
        adamax_step(p, g, state, scal, t, lr, h)
    elif code == NADAM:
        nadam_step(p, g, state, scal, t, lr, h)
    elif code == RADAM:
        radam_step(p, g, state, scal, t, lr, h)
    elif code == LION:
        lion_step(p, g, state, scal, t, lr, h)


@inline_kernel
def optimizer_step_inline(code, hp, p, g, state, scal, t, lr):
    """``optimizer_step`` computed inline in the caller, element by element, for any length: the 2-D
    descents' step (``engine.descent`` calls it directly: its vectors always have 2 elements).

    Written so that every array is read and written in code common to all optimizers: ``hp`` and
    ``scal`` are read into scalars first, the optimizer's branch works on scalars only
    (``_<name>_scalars``, then ``_<name>_coord`` per coordinate), and each coordinate's ``p`` and
    ``state[0..2]`` (``N_SLOTS`` rows) are written back whatever the optimizer. An array
    used on one optimizer's branch alone (a row view, an argument of an inlined helper) is released
    on that branch, and numba's reference-count pruning cannot pair releases across branches; nor
    across a call that may raise, which is why the long-vector call stays out of this function. The
    atomic increments and decrements left per step cost ~15% of a 2-D descent step.
    """
    h = _hp_tuple(hp)
    c0 = scal[0]
    c1 = scal[1]
    # 1) the per-step scalars: a, b, c, d are each optimizer's own (named in its branch below)
    a = 0.0
    b = 0.0
    c = 0.0
    d = False
    if code == ADAGRAD:
        a = _adagrad_scalars(t, lr, h)  # clr
    elif code == ADAM or code == ADAMW:
        a, b, c0, c1 = _adam_scalars(t, lr, h, c0, c1)  # step_size, sqrt(bias_correction2)
    elif code == ADAMAX:
        a, c1 = _adamax_scalars(t, lr, h, c1)  # clr
    elif code == NADAM:
        a, b, c, c0, c1 = _nadam_scalars(t, lr, h, c0, c1)  # bias_correction2, c_grad, c_avg
    elif code == RADAM:
        a, b, c, d, c1 = _radam_scalars(t, h, c1)  # bias_correction1, sqrt(bc2), rect, rectified
    scal[0] = c0
    scal[1] = c1
    # 2) each coordinate: read, update by the optimizer's formula, write back
    for i in range(p.shape[0]):
        pi = p[i]
        gi = g[i]
        s0 = state[0, i]
        s1 = state[1, i]
        s2 = state[2, i]
        if code == SGD:
            pi, s0 = _sgd_coord(pi, gi, s0, t, lr, h)
        elif code == ADAGRAD:
            pi, s0 = _adagrad_coord(pi, gi, s0, a, h)
        elif code == RMSPROP:
            pi, s0, s1, s2 = _rmsprop_coord(pi, gi, s0, s1, s2, lr, h)
        elif code == ADADELTA:
            pi, s0, s1 = _adadelta_coord(pi, gi, s0, s1, lr, h)
        elif code == ADAM or code == ADAMW:
            pi, s0, s1, s2 = _adam_coord(pi, gi, s0, s1, s2, lr, a, b, h)
        elif code == ADAMAX:
            pi, s0, s1 = _adamax_coord(pi, gi, s0, s1, a, h)
        elif code == NADAM:
            pi, s0, s1 = _nadam_coord(pi, gi, s0, s1, lr, a, b, c, h)
        elif code == RADAM:
            pi, s0, s1 = _radam_coord(pi, gi, s0, s1, lr, a, b, c, d, h)
        elif code == LION:
            pi, s0 = _lion_coord(pi, gi, s0, lr, h)
        p[i] = pi
        state[0, i] = s0
        state[1, i] = s1
        state[2, i] = s2


@kernel
def reset_state(code, hp, state, scal):
    """Initialise optimizer state in place as torch does: zeros, except Adagrad's
    ``sum = initial_accumulator_value`` and NAdam's ``mu_product = 1`` (``scal[0] = 1`` for every code)."""
    fill = 0.0
    if code == ADAGRAD:
        fill = hp[ADAGRAD_HP.initial_accumulator_value]
    for k in range(state.shape[0]):
        for i in range(state.shape[1]):
            state[k, i] = fill if k == 0 else 0.0
    scal[0] = 1.0
    for k in range(1, scal.shape[0]):
        scal[k] = 0.0


# ---------------------------------------------------------------------------------------------
# Registry and public API
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OptimizerSpec:
    """One registry entry: torch-named parameters (with torch's defaults) and how they pack into ``hp``."""

    name: str
    code: int
    title: str
    torch_class: str
    formula: str
    params: tuple[ParamSpec, ...]
    hp_order: tuple[str, ...]  # names packed into hp (betas -> beta1, beta2), booleans as 0/1
    state: tuple[str, ...]  # state row names
    fixed: Mapping[str, Any] = field(default_factory=dict)  # packed values not exposed (AdamW's decoupling)
    note: str = ""


class OptimizerArgs(NamedTuple):
    """What a kernel looping over steps takes of an optimizer."""

    code: int  # which optimizer (codes above)
    hp: np.ndarray  # float64[HP_SIZE], packed by the optimizer's <NAME>_HP ordering
    lrs: np.ndarray  # float64: the learning rate of each step (or each epoch), schedule applied


class OptimizerState(NamedTuple):
    """An optimizer's state for one parameter vector (``new_state``); unpacks as ``state, scal``."""

    state: np.ndarray  # float64[N_SLOTS, n]: the rows of the table in the module docstring
    scal: np.ndarray  # float64[N_SCALARS]: bias-correction memory, NAdam's mu_product


@dataclass(frozen=True, eq=False)
class ResolvedOptimizer:
    """A resolved optimizer: what kernels need (``code``, ``hp``) and what to echo back (``params``)."""

    name: str
    code: int
    hp: np.ndarray  # float64[HP_SIZE], order in the module docstring; never holds lr
    lr: float  # the base learning rate (schedules scale it per step)
    params: dict  # resolved hyperparameters with torch names, including lr (betas as a 2-list)

    def args(self, lrs: np.ndarray) -> OptimizerArgs:
        """The kernel's view, with the per-step learning rates ``lrs``."""
        return OptimizerArgs(self.code, self.hp, np.ascontiguousarray(lrs, dtype=np.float64))


def _p(name, default, low=None, high=None, kind="float", doc=""):
    return ParamSpec(name, default, low, high, kind, doc)


def _lr(default):
    return _p("lr", default, 0.0, None, doc="learning rate (torch: lr >= 0); a schedule scales it per step")


def _wd(default=0.0, doc="L2 penalty added to the gradient (coupled): g + wd*p"):
    return _p("weight_decay", default, 0.0, None, doc=doc)


def _eps(default, doc):
    return _p("eps", default, 0.0, None, doc=doc)


_BETAS = _p("betas", (0.9, 0.999), 0.0, 1.0, "pair", "(beta1, beta2), each in [0, 1): moment decay rates")
_MAXIMIZE = _p("maximize", False, kind="bool", doc="ascend instead: use -g")
_AMSGRAD = _p("amsgrad", False, kind="bool", doc="normalise by the running max of the raw second moment")


def _decoupled(doc="decay the weights directly, p*(1 - lr*wd), instead of adding wd*p to g (AdamW style)"):
    return _p("decoupled_weight_decay", False, kind="bool", doc=doc)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(
        "sgd", SGD, "SGD (momentum, Nesterov)", "torch.optim.SGD",
        "g ← g + wd·p; buf ← g (t=1) else μ·buf + (1−τ)·g; g ← g + μ·buf (nesterov) or buf; p ← p − lr·g",
        (_lr(1e-3),
         _p("momentum", 0.0, 0.0, None, doc="momentum factor μ (torch: >= 0)"),
         _p("dampening", 0.0, 0.0, 1.0, doc="dampening τ on the new gradient (not applied at t=1); "
            "torch does not bound it, we keep it in [0, 1]"),
         _wd(),
         _p("nesterov", False, kind="bool", doc="Nesterov momentum (needs momentum > 0 and dampening = 0)"),
         _MAXIMIZE),
        SGD_HP._fields,
        ("momentum_buffer",),
    ),
    "adagrad": OptimizerSpec(
        "adagrad", ADAGRAD, "Adagrad", "torch.optim.Adagrad",
        "g ← g + wd·p; clr = lr/(1 + (t−1)·lr_decay); sum ← sum + g²; p ← p − clr·g/(√sum + eps)",
        (_lr(1e-2),
         _p("lr_decay", 0.0, 0.0, None, doc="learning-rate decay: lr/(1 + (t-1)*lr_decay)"),
         _wd(),
         _p("initial_accumulator_value", 0.0, 0.0, None, doc="starting value of the squared-gradient sum"),
         _eps(1e-10, "added to sqrt(sum) (outside the square root)"),
         _MAXIMIZE),
        ADAGRAD_HP._fields,
        ("sum",),
    ),
    "rmsprop": OptimizerSpec(
        "rmsprop", RMSPROP, "RMSprop", "torch.optim.RMSprop",
        "g ← g + wd·p; v ← α·v + (1−α)·g²; avg = √(v − ḡ²) (centered) or √v, + eps; "
        "buf ← μ·buf + g/avg, p ← p − lr·buf (momentum) or p ← p − lr·g/avg",
        (_lr(1e-2),
         _p("alpha", 0.99, 0.0, None, doc="smoothing constant of the squared-gradient average (torch: >= 0)"),
         _eps(1e-8, "added to the root mean square (outside the square root)"),
         _wd(),
         _p("momentum", 0.0, 0.0, None, doc="momentum factor on the normalised gradient (torch: >= 0)"),
         _p("centered", False, kind="bool", doc="normalise by an estimate of the gradient's variance"),
         _MAXIMIZE),
        RMSPROP_HP._fields,
        ("square_avg", "momentum_buffer", "grad_avg"),
    ),
    "adadelta": OptimizerSpec(
        "adadelta", ADADELTA, "Adadelta", "torch.optim.Adadelta",
        "g ← g + wd·p; v ← ρ·v + (1−ρ)·g²; δ = √(u + eps)/√(v + eps)·g; u ← ρ·u + (1−ρ)·δ²; p ← p − lr·δ",
        (_lr(1.0),
         _p("rho", 0.9, 0.0, 1.0, doc="decay of the squared-gradient and squared-update averages, in [0, 1]"),
         _eps(1e-6, "added inside both square roots"),
         _wd(),
         _MAXIMIZE),
        ADADELTA_HP._fields,
        ("square_avg", "acc_delta"),
    ),
    "adam": OptimizerSpec(
        "adam", ADAM, "Adam (AMSGrad)", "torch.optim.Adam",
        "g ← g + wd·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; vmax ← max(vmax, v) (amsgrad); "
        "p ← p − lr/(1−β1^t) · m/(√v/√(1−β2^t) + eps)",
        (_lr(1e-3), _BETAS, _eps(1e-8, "added after bias-correcting sqrt(v)"), _wd(), _AMSGRAD,
         _decoupled(), _MAXIMIZE),
        ADAM_HP._fields,
        ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    ),
    "adamw": OptimizerSpec(
        "adamw", ADAMW, "AdamW (decoupled weight decay)", "torch.optim.AdamW",
        "p ← p·(1 − lr·wd); then Adam without coupled decay",
        (_lr(1e-3), _BETAS, _eps(1e-8, "added after bias-correcting sqrt(v)"),
         _wd(1e-2, "decoupled decay: p*(1 - lr*wd) before the Adam step"), _AMSGRAD, _MAXIMIZE),
        ADAM_HP._fields,
        ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        fixed={"decoupled_weight_decay": True},
    ),
    "adamax": OptimizerSpec(
        "adamax", ADAMAX, "Adamax (infinity norm)", "torch.optim.Adamax",
        "g ← g + wd·p; m ← β1·m + (1−β1)·g; u ← max(β2·u, |g| + eps); p ← p − lr/(1−β1^t) · m/u",
        (_lr(2e-3), _BETAS, _eps(1e-8, "added to |g| inside the max"), _wd(), _MAXIMIZE),
        ADAMAX_HP._fields,
        ("exp_avg", "exp_inf"),
    ),
    "nadam": OptimizerSpec(
        "nadam", NADAM, "NAdam (Nesterov Adam)", "torch.optim.NAdam",
        "μ_t = β1(1 − ½·0.96^(tψ)); Π ← Π·μ_t; m, v as Adam; denom = √(v/(1−β2^t)) + eps; "
        "p ← p − lr(1−μ_t)/(1−Π)·g/denom − lr·μ_{t+1}/(1−Π·μ_{t+1})·m/denom",
        (_lr(2e-3), _BETAS, _eps(1e-8, "added after bias-correcting sqrt(v)"), _wd(),
         _p("momentum_decay", 4e-3, 0.0, None, doc="ψ in the momentum schedule μ_t = β1(1 − ½·0.96^(tψ))"),
         _decoupled(), _MAXIMIZE),
        NADAM_HP._fields,
        ("exp_avg", "exp_avg_sq"),
        note="scal[0] holds mu_product (starts at 1)",
    ),
    "radam": OptimizerSpec(
        "radam", RADAM, "RAdam (rectified Adam)", "torch.optim.RAdam",
        "m, v as Adam; ρ_t = ρ∞ − 2tβ2^t/(1−β2^t); ρ_t > 5: p ← p − lr·m̂·r_t·√(1−β2^t)/(√v + eps); "
        "else p ← p − lr·m̂",
        (_lr(1e-3), _BETAS, _eps(1e-8, "added to the raw sqrt(v)"), _wd(), _decoupled(), _MAXIMIZE),
        RADAM_HP._fields,
        ("exp_avg", "exp_avg_sq"),
    ),
    "lion": OptimizerSpec(
        "lion", LION, "Lion (sign momentum)", "optax.lion (not in torch)",
        "c = sign((1−β1)·g + β1·m); p ← p − lr·(c + wd·p); m ← (1−β2)·g + β2·m",
        (_lr(1e-4),
         _p("betas", (0.9, 0.99), 0.0, 1.0, "pair", "(beta1, beta2) in [0, 1]: interpolation for the sign, "
            "then momentum decay"),
         _wd(0.0, "decoupled decay inside the step: p - lr*(sign + wd*p) (lucidrains default 0; optax 1e-3)")),
        LION_HP._fields,
        ("exp_avg",),
        note="not in torch 2.13; optax/Chen et al. semantics with lion-pytorch defaults",
    ),
}


def _check_betas(spec: OptimizerSpec, betas) -> list[float]:
    field_ = "optimizer.betas"
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise EngineInputError(field_, "must be a list of two numbers [beta1, beta2]")
    out = []
    closed = spec.code == LION  # lion-pytorch asserts 0 <= beta <= 1; torch.optim needs 0 <= beta < 1
    for k, b in enumerate(betas):
        if isinstance(b, bool) or not isinstance(b, (int, float, np.floating, np.integer)):
            raise EngineInputError(field_, f"betas[{k}] must be a number")
        b = float(b)
        if not math.isfinite(b) or b < 0.0 or (b > 1.0 if closed else b >= 1.0):
            rng = "[0, 1]" if closed else "[0, 1)"
            raise EngineInputError(field_, f"Invalid beta parameter at index {k}: {b}; must lie in {rng}")
        out.append(b)
    return out


def resolve_optimizer(optimizer: Mapping[str, Any], field: str = "optimizer") -> ResolvedOptimizer:
    """``{"name": "adam", "lr": 0.01, ...}`` → ``ResolvedOptimizer`` with torch's defaults filled in and checked.

    Validation follows the torch constructors (lr, eps, weight_decay, momentum, ... >= 0; betas in
    [0, 1); rho in [0, 1]; Nesterov needs momentum > 0 and dampening 0), raising
    ``EngineInputError("<field>.<param>", ...)``. Keys whose value is None count as absent.
    """
    spec = optimizer
    if not isinstance(field, str):
        raise EngineInputError("field", "must be a string (the name refusals are given under)")
    if field == "optimizer":  # the callee's own root: no re-rooting (and no context manager per call)
        return _resolve(spec)
    with field_prefix(field, strip="optimizer"):
        return _resolve(spec)


def _resolve(spec) -> ResolvedOptimizer:
    if not isinstance(spec, Mapping):
        raise EngineInputError("optimizer", "must be an object with a name, e.g. {'name': 'adam', 'lr': 0.01}")
    name = spec.get("name")
    if name is None:
        raise EngineInputError("optimizer.name", "required; choose one of: " + ", ".join(OPTIMIZERS))
    s = lookup(OPTIMIZERS, name, "optimizer.name")
    given = {k: v for k, v in spec.items() if k != "name" and v is not None}
    params = resolve_params(s.params, given, "optimizer")
    if "betas" in params:
        params["betas"] = _check_betas(s, params["betas"])
    if params.get("nesterov") and (params["momentum"] <= 0.0 or params["dampening"] != 0.0):
        raise EngineInputError("optimizer.nesterov", "Nesterov momentum requires a momentum and zero dampening")
    flat = dict(params)
    flat.update(s.fixed)
    if "betas" in flat:
        flat["beta1"], flat["beta2"] = flat.pop("betas")
    hp = np.zeros(HP_SIZE, dtype=np.float64)
    for k, key in enumerate(s.hp_order):
        hp[k] = float(flat[key])
    return ResolvedOptimizer(name=s.name, code=s.code, hp=hp, lr=float(params["lr"]), params=params)


def new_state(opt: ResolvedOptimizer, n: int) -> OptimizerState:
    """Fresh state for ``n`` parameters: ``(float64[N_SLOTS, n] C-contiguous, float64[N_SCALARS])``."""
    state = np.empty((N_SLOTS, int(n)), dtype=np.float64)
    scal = np.empty(N_SCALARS, dtype=np.float64)
    reset_state(opt.code, opt.hp, state, scal)
    return OptimizerState(state, scal)


def describe() -> list[dict]:
    """Catalog entries for ``"optimizers"``: name, title, torch class, formula, parameters, state rows."""
    out = []
    for s in OPTIMIZERS.values():
        out.append({
            "name": s.name,
            "title": s.title,
            "torch_class": s.torch_class,
            "formula": s.formula,
            "parameters": [p.to_dict() for p in s.params],
            "state": list(s.state),
            "note": s.note,
        })
    return out


def _warmup() -> None:
    """Compile the dispatcher and reset kernel (one specialization serves every code)."""
    p = np.zeros(2)
    g = np.ones(2)
    for name in OPTIMIZERS:
        opt = resolve_optimizer({"name": name})
        state, scal = new_state(opt, 2)
        optimizer_step(opt.code, opt.hp, p, g, state, scal, 1, opt.lr)


# The checked object API (engine.Optimizer) lives in engine.optim and is re-exported here with the concept; imported
# last because it builds on everything above.
from .optim import Optimizer  # noqa: E402
