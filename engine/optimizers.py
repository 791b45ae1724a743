"""Optimizers as in-place kernels over flat float64 parameter vectors, with torch.optim semantics.

One step function per optimizer, written the way ``torch/optim/<name>.py::_single_tensor_<name>``
writes it (torch 2.13, CPU single-tensor path), plus ONE dispatcher ``optimizer_step`` that any
other kernel calls with a small integer code::

    opt = resolve_optimizer({"name": "adam", "lr": 0.01, "betas": [0.9, 0.999]})
    state, scal = new_state(opt, p.size)
    for t in range(1, steps + 1):               # t is 1-based: torch increments before the update
        optimizer_step(opt.code, opt.hp, p, g, state, scal, t, lrs[t - 1])

Shared interface (other modules code against it; keep it stable)
-----------------------------------------------------------------
* ``N_SLOTS = 4`` rows of per-coordinate state, ``N_SCALARS = 2`` scalar state entries,
  ``HP_SIZE = 8`` packed hyperparameters (unused entries are 0).
* ``resolve_optimizer(spec) -> Optimizer`` (frozen: ``name``, ``code``, ``hp``, ``lr``, ``params``).
* ``new_state(opt, n) -> (state float64[N_SLOTS, n], scal float64[N_SCALARS])``, initialised as torch
  does (Adagrad's sum = initial_accumulator_value, NAdam's mu_product = 1, everything else 0).
* ``reset_state(code, hp, state, scal)``: the same initialisation in place (jitted), so a kernel
  running many runs reuses its buffers.
* ``optimizer_step(code, hp, p, g, state, scal, t, lr)``: one torch.optim step in place on ``p``,
  ``state`` and ``scal``. ``t`` is the 1-based step count; ``lr`` is THIS step's learning rate (the
  caller applies any schedule: ``hp`` never holds lr). ``g`` is read only (coupled weight decay
  ``g + wd·p`` and ``maximize``'s ``-g`` are formed per element on the fly). It allocates nothing, so it
  can run inside other kernels' loops and ``prange`` bodies. Pass whole arrays: ``p``, ``g`` and each
  ``state`` row must have the same length n; ``state[r]`` / ``p[r]`` rows of bigger C-contiguous
  arrays (one per run) are fine.

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

Packed hyperparameters ``hp`` (in this order; booleans as 0.0/1.0)
-----------------------------------------------------------------
* sgd:      momentum, dampening, nesterov, weight_decay, maximize
* adagrad:  lr_decay, weight_decay, initial_accumulator_value, eps, maximize
* rmsprop:  alpha, eps, weight_decay, momentum, centered, maximize
* adadelta: rho, eps, weight_decay, maximize
* adam:     beta1, beta2, eps, weight_decay, amsgrad, decoupled_weight_decay, maximize
* adamw:    the same with decoupled_weight_decay = 1 (torch 2.13's AdamW *is* Adam(decoupled_weight_decay=True))
* adamax:   beta1, beta2, eps, weight_decay, maximize
* nadam:    beta1, beta2, eps, weight_decay, momentum_decay, decoupled_weight_decay, maximize
* radam:    beta1, beta2, eps, weight_decay, decoupled_weight_decay, maximize
* lion:     beta1, beta2, weight_decay

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
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np

from ._jit import inline_kernel, kernel
from .errors import EngineInputError
from .registry import ParamSpec, lookup, resolve_params

N_SLOTS = 4
N_SCALARS = 2
HP_SIZE = 8
SHORT = 8  # optimizer_step inlines the element loop up to this length (descents: 2)

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
def _bias_correction(beta, t, scal, k):
    """``1 − beta ** t`` exactly as torch computes it (``float ** float``), skipping the power once it
    has rounded to 1.

    ``beta ** t`` only decreases with t (beta in [0, 1)), so once ``1 − beta ** s == 1.0`` (beta ** s
    <= 2⁻⁵⁴) it stays 1.0 for every later step: ``scal[k] = −s`` records that, and steps ``t > s``
    return 1.0 without the ~15 ns power (after ~350 steps for beta1 = 0.9, ~37,000 for beta2 = 0.999).
    ``reset_state`` leaves ``scal[k] >= 0`` (nothing known); the result is bit-identical either way.
    """
    s = scal[k]
    if s < 0.0 and t > -s:
        return 1.0
    bc = 1.0 - beta ** float(t)
    if bc == 1.0:
        scal[k] = -float(t)
    return bc


@inline_kernel
def _sgd(p, g, buf, t, lr, momentum, dampening, nesterov, wd, maximize):
    """torch.optim.SGD.

    g ← g + wd·p;  if momentum: buf ← g at t = 1 (no dampening), else buf ← μ·buf + (1 − τ)·g;
    g ← g + μ·buf (nesterov) or buf;  p ← p − lr·g.
    """
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], wd, maximize)
        if momentum != 0.0:
            if t == 1:
                buf[i] = gi
            else:
                buf[i] = buf[i] * momentum + (1.0 - dampening) * gi
            if nesterov:
                gi = gi + momentum * buf[i]
            else:
                gi = buf[i]
        p[i] = p[i] + -lr * gi


@inline_kernel
def _adagrad(p, g, state_sum, t, lr, lr_decay, wd, eps, maximize):
    """torch.optim.Adagrad.

    g ← g + wd·p;  clr = lr / (1 + (t − 1)·lr_decay);  sum ← sum + g²;  p ← p − clr·g / (√sum + eps).
    """
    clr = lr / (1.0 + (t - 1) * lr_decay)
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], wd, maximize)
        state_sum[i] = state_sum[i] + 1.0 * gi * gi
        std = math.sqrt(state_sum[i]) + eps
        p[i] = p[i] + (-clr * gi) / std


@inline_kernel
def _rmsprop(p, g, square_avg, buf, grad_avg, lr, alpha, eps, wd, momentum, centered, maximize):
    """torch.optim.RMSprop (eps outside the square root, no bias correction).

    g ← g + wd·p;  v ← α·v + (1 − α)·g²;  centered: ḡ ← lerp(ḡ, g, 1 − α), avg = √(v − ḡ²) + eps,
    else avg = √v + eps;  momentum > 0: buf ← μ·buf + g/avg, p ← p − lr·buf;  else p ← p − lr·g/avg.
    """
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], wd, maximize)
        square_avg[i] = square_avg[i] * alpha + (1.0 - alpha) * gi * gi
        if centered:
            grad_avg[i] = _lerp(grad_avg[i], gi, 1.0 - alpha)
            avg = math.sqrt(square_avg[i] + -1.0 * grad_avg[i] * grad_avg[i]) + eps
        else:
            avg = math.sqrt(square_avg[i]) + eps
        if momentum > 0.0:
            buf[i] = buf[i] * momentum + 1.0 * gi / avg
            p[i] = p[i] + -lr * buf[i]
        else:
            p[i] = p[i] + (-lr * gi) / avg


@inline_kernel
def _adadelta(p, g, square_avg, acc_delta, lr, rho, eps, wd, maximize):
    """torch.optim.Adadelta (eps inside both square roots; the OLD acc_delta scales the step).

    g ← g + wd·p;  v ← ρ·v + (1 − ρ)·g²;  δ = √(u + eps)/√(v + eps)·g;  u ← ρ·u + (1 − ρ)·δ²;  p ← p − lr·δ.
    """
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], wd, maximize)
        square_avg[i] = square_avg[i] * rho + (1.0 - rho) * gi * gi
        std = math.sqrt(square_avg[i] + eps)
        delta = math.sqrt(acc_delta[i] + eps) / std * gi
        acc_delta[i] = acc_delta[i] * rho + (1.0 - rho) * delta * delta
        p[i] = p[i] + -lr * delta


@inline_kernel
def _adam(p, g, m, v, vmax, scal, t, lr, beta1, beta2, eps, wd, amsgrad, decoupled, maximize):
    """torch.optim.Adam / AdamW (AdamW = decoupled weight decay).

    decoupled: p ← p·(1 − lr·wd), else g ← g + wd·p;  m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;
    amsgrad: vmax ← max(vmax, v) (raw v) used for v below;  denom = √v/√(1 − β2^t) + eps;
    p ← p − lr/(1 − β1^t) · m/denom.
    """
    bias_correction1 = _bias_correction(beta1, t, scal, 1)
    bias_correction2 = _bias_correction(beta2, t, scal, 0)
    step_size = lr / bias_correction1
    bias_correction2_sqrt = math.sqrt(bias_correction2)
    for i in range(p.shape[0]):
        if decoupled:
            if wd != 0.0:
                p[i] = p[i] * (1.0 - lr * wd)
            gi = -g[i] if maximize else g[i]
        else:
            gi = _grad(g[i], p[i], wd, maximize)
        m[i] = _lerp(m[i], gi, 1.0 - beta1)
        v[i] = v[i] * beta2 + (1.0 - beta2) * gi * gi
        if amsgrad:
            if v[i] > vmax[i]:
                vmax[i] = v[i]
            denom = math.sqrt(vmax[i]) / bias_correction2_sqrt + eps
        else:
            denom = math.sqrt(v[i]) / bias_correction2_sqrt + eps
        p[i] = p[i] + (-step_size * m[i]) / denom


@inline_kernel
def _adamax(p, g, m, u, scal, t, lr, beta1, beta2, eps, wd, maximize):
    """torch.optim.Adamax (eps inside the max).

    g ← g + wd·p;  m ← lerp(m, g, 1 − β1);  u ← max(β2·u, |g| + eps);  p ← p − lr/(1 − β1^t) · m/u.
    """
    clr = lr / _bias_correction(beta1, t, scal, 1)
    for i in range(p.shape[0]):
        gi = _grad(g[i], p[i], wd, maximize)
        m[i] = _lerp(m[i], gi, 1.0 - beta1)
        u[i] = max(u[i] * beta2, abs(gi) + eps)
        p[i] = p[i] + (-clr * m[i]) / u[i]


@inline_kernel
def _nadam(p, g, m, v, scal, t, lr, beta1, beta2, eps, wd, momentum_decay, decoupled, maximize):
    """torch.optim.NAdam (Dozat's μ-schedule with torch's momentum_decay ψ; ``scal[0]`` = mu_product Π).

    μ_t = β1·(1 − ½·0.96^(t·ψ)), μ_{t+1} likewise;  Π ← Π·μ_t;  wd as in Adam (coupled by default);
    m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  denom = √(v/(1 − β2^t)) + eps;
    p ← p − lr·(1 − μ_t)/(1 − Π) · g/denom − lr·μ_{t+1}/(1 − Π·μ_{t+1}) · m/denom.
    """
    tf = float(t)
    bias_correction2 = _bias_correction(beta2, t, scal, 1)
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (tf * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((tf + 1.0) * momentum_decay)))
    scal[0] = scal[0] * mu
    mu_product = scal[0]
    mu_product_next = mu_product * mu_next
    c_grad = -lr * (1.0 - mu) / (1.0 - mu_product)
    c_avg = (-lr * mu_next) / (1.0 - mu_product_next)
    for i in range(p.shape[0]):
        if decoupled:
            if wd != 0.0:
                p[i] = p[i] * (1.0 - lr * wd)
            gi = -g[i] if maximize else g[i]
        else:
            gi = _grad(g[i], p[i], wd, maximize)
        m[i] = _lerp(m[i], gi, 1.0 - beta1)
        v[i] = v[i] * beta2 + (1.0 - beta2) * gi * gi
        denom = math.sqrt(v[i] / bias_correction2) + eps
        p[i] = p[i] + (c_grad * gi) / denom
        p[i] = p[i] + (c_avg * m[i]) / denom


@inline_kernel
def _radam(p, g, m, v, scal, t, lr, beta1, beta2, eps, wd, decoupled, maximize):
    """torch.optim.RAdam (rectified when ρ_t > 5, else an un-normalised momentum step).

    m ← lerp(m, g, 1 − β1);  v ← β2·v + (1 − β2)·g²;  m̂ = m/(1 − β1^t);  ρ∞ = 2/(1 − β2) − 1;
    ρ_t = ρ∞ − 2t·β2^t/(1 − β2^t);  ρ_t > 5: r = √((ρ_t − 4)(ρ_t − 2)ρ∞ / ((ρ∞ − 4)(ρ∞ − 2)ρ_t)),
    p ← p − lr·m̂·r·√(1 − β2^t)/(√v + eps);  else p ← p − lr·m̂.
    """
    tf = float(t)
    bias_correction1 = _bias_correction(beta1, t, scal, 1)
    bias_correction2 = 1.0 - beta2**tf
    rho_inf = 2.0 / (1.0 - beta2) - 1.0
    rho_t = rho_inf - 2.0 * tf * (beta2**tf) / bias_correction2
    rectified = rho_t > 5.0
    rect = 0.0
    if rectified:
        rect = math.sqrt((rho_t - 4.0) * (rho_t - 2.0) * rho_inf / ((rho_inf - 4.0) * (rho_inf - 2.0) * rho_t))
    sqrt_bc2 = math.sqrt(bias_correction2)
    for i in range(p.shape[0]):
        if decoupled:
            if wd != 0.0:
                p[i] = p[i] * (1.0 - lr * wd)
            gi = -g[i] if maximize else g[i]
        else:
            gi = _grad(g[i], p[i], wd, maximize)
        m[i] = _lerp(m[i], gi, 1.0 - beta1)
        v[i] = v[i] * beta2 + (1.0 - beta2) * gi * gi
        m_hat = m[i] / bias_correction1
        if rectified:
            p[i] = p[i] + -1.0 * (m_hat * lr * (sqrt_bc2 / (math.sqrt(v[i]) + eps)) * rect)
        else:
            p[i] = p[i] + -1.0 * (m_hat * lr)


@inline_kernel
def _lion(p, g, m, lr, beta1, beta2, wd):
    """Lion (Chen et al. 2023; optax ``lion``): c = sign((1 − β1)·g + β1·m), sign(0) = 0;
    p ← p − lr·(c + wd·p);  m ← (1 − β2)·g + β2·m (updated after, with β2)."""
    for i in range(p.shape[0]):
        c = (1.0 - beta1) * g[i] + beta1 * m[i]
        s = 0.0
        if c > 0.0:
            s = 1.0
        elif c < 0.0:
            s = -1.0
        elif c != c:  # NaN propagates, as jnp.sign does
            s = c
        p[i] = p[i] - lr * (s + wd * p[i])
        m[i] = (1.0 - beta2) * g[i] + beta2 * m[i]


@kernel
def sgd_step(p, g, buf, t, lr, momentum, dampening, nesterov, wd, maximize):
    """``_sgd`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _sgd(p, g, buf, t, lr, momentum, dampening, nesterov, wd, maximize)


@kernel
def adagrad_step(p, g, state_sum, t, lr, lr_decay, wd, eps, maximize):
    """``_adagrad`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _adagrad(p, g, state_sum, t, lr, lr_decay, wd, eps, maximize)


@kernel
def rmsprop_step(p, g, square_avg, buf, grad_avg, lr, alpha, eps, wd, momentum, centered, maximize):
    """``_rmsprop`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _rmsprop(p, g, square_avg, buf, grad_avg, lr, alpha, eps, wd, momentum, centered, maximize)


@kernel
def adadelta_step(p, g, square_avg, acc_delta, lr, rho, eps, wd, maximize):
    """``_adadelta`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _adadelta(p, g, square_avg, acc_delta, lr, rho, eps, wd, maximize)


@kernel
def adam_step(p, g, m, v, vmax, scal, t, lr, beta1, beta2, eps, wd, amsgrad, decoupled, maximize):
    """``_adam`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _adam(p, g, m, v, vmax, scal, t, lr, beta1, beta2, eps, wd, amsgrad, decoupled, maximize)


@kernel
def adamax_step(p, g, m, u, scal, t, lr, beta1, beta2, eps, wd, maximize):
    """``_adamax`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _adamax(p, g, m, u, scal, t, lr, beta1, beta2, eps, wd, maximize)


@kernel
def nadam_step(p, g, m, v, scal, t, lr, beta1, beta2, eps, wd, momentum_decay, decoupled, maximize):
    """``_nadam`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _nadam(p, g, m, v, scal, t, lr, beta1, beta2, eps, wd, momentum_decay, decoupled, maximize)


@kernel
def radam_step(p, g, m, v, scal, t, lr, beta1, beta2, eps, wd, decoupled, maximize):
    """``_radam`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _radam(p, g, m, v, scal, t, lr, beta1, beta2, eps, wd, decoupled, maximize)


@kernel
def lion_step(p, g, m, lr, beta1, beta2, wd):
    """``_lion`` compiled on its own (its loop unswitched and vectorised for long vectors)."""
    _lion(p, g, m, lr, beta1, beta2, wd)


@kernel
def _optimizer_step_long(code, hp, p, g, state, scal, t, lr):
    """``optimizer_step`` for long vectors: a call into each optimizer's own compiled loop."""
    if code == SGD:
        sgd_step(p, g, state[0], t, lr, hp[0], hp[1], hp[2] != 0.0, hp[3], hp[4] != 0.0)
    elif code == ADAGRAD:
        adagrad_step(p, g, state[0], t, lr, hp[0], hp[1], hp[3], hp[4] != 0.0)
    elif code == RMSPROP:
        rmsprop_step(p, g, state[0], state[1], state[2], lr, hp[0], hp[1], hp[2], hp[3], hp[4] != 0.0, hp[5] != 0.0)
    elif code == ADADELTA:
        adadelta_step(p, g, state[0], state[1], lr, hp[0], hp[1], hp[2], hp[3] != 0.0)
    elif code == ADAM or code == ADAMW:
        adam_step(p, g, state[0], state[1], state[2], scal, t, lr, hp[0], hp[1], hp[2], hp[3],
                  hp[4] != 0.0, hp[5] != 0.0, hp[6] != 0.0)
    elif code == ADAMAX:
        adamax_step(p, g, state[0], state[1], scal, t, lr, hp[0], hp[1], hp[2], hp[3], hp[4] != 0.0)
    elif code == NADAM:
        nadam_step(p, g, state[0], state[1], scal, t, lr, hp[0], hp[1], hp[2], hp[3], hp[4],
                   hp[5] != 0.0, hp[6] != 0.0)
    elif code == RADAM:
        radam_step(p, g, state[0], state[1], scal, t, lr, hp[0], hp[1], hp[2], hp[3], hp[4] != 0.0, hp[5] != 0.0)
    elif code == LION:
        lion_step(p, g, state[0], lr, hp[0], hp[1], hp[2])



@inline_kernel
def optimizer_step(code, hp, p, g, state, scal, t, lr):
    """One torch.optim step of optimizer ``code`` in place on ``p``, ``state``, ``scal`` (module docstring).

    ``t`` is the 1-based step count, ``lr`` this step's learning rate; ``g`` is not modified and
    nothing is allocated. An unknown code does nothing (``resolve_optimizer`` only makes valid ones).
    """
    if p.shape[0] > SHORT:
        _optimizer_step_long(code, hp, p, g, state, scal, t, lr)
        return
    if code == SGD:
        _sgd(p, g, state[0], t, lr, hp[0], hp[1], hp[2] != 0.0, hp[3], hp[4] != 0.0)
    elif code == ADAGRAD:
        _adagrad(p, g, state[0], t, lr, hp[0], hp[1], hp[3], hp[4] != 0.0)
    elif code == RMSPROP:
        _rmsprop(p, g, state[0], state[1], state[2], lr, hp[0], hp[1], hp[2], hp[3], hp[4] != 0.0, hp[5] != 0.0)
    elif code == ADADELTA:
        _adadelta(p, g, state[0], state[1], lr, hp[0], hp[1], hp[2], hp[3] != 0.0)
    elif code == ADAM or code == ADAMW:
        _adam(p, g, state[0], state[1], state[2], scal, t, lr, hp[0], hp[1], hp[2], hp[3],
              hp[4] != 0.0, hp[5] != 0.0, hp[6] != 0.0)
    elif code == ADAMAX:
        _adamax(p, g, state[0], state[1], scal, t, lr, hp[0], hp[1], hp[2], hp[3], hp[4] != 0.0)
    elif code == NADAM:
        _nadam(p, g, state[0], state[1], scal, t, lr, hp[0], hp[1], hp[2], hp[3], hp[4],
               hp[5] != 0.0, hp[6] != 0.0)
    elif code == RADAM:
        _radam(p, g, state[0], state[1], scal, t, lr, hp[0], hp[1], hp[2], hp[3], hp[4] != 0.0, hp[5] != 0.0)
    elif code == LION:
        _lion(p, g, state[0], lr, hp[0], hp[1], hp[2])


@kernel
def reset_state(code, hp, state, scal):
    """Initialise optimizer state in place as torch does: zeros, except Adagrad's
    ``sum = initial_accumulator_value`` and NAdam's ``mu_product = 1`` (``scal[0] = 1`` for every code)."""
    fill = 0.0
    if code == ADAGRAD:
        fill = hp[2]
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


@dataclass(frozen=True, eq=False)
class Optimizer:
    """A resolved optimizer: what kernels need (``code``, ``hp``) and what to echo back (``params``)."""

    name: str
    code: int
    hp: np.ndarray  # float64[HP_SIZE], order in the module docstring; never holds lr
    lr: float  # the base learning rate (schedules scale it per step)
    params: dict  # resolved hyperparameters with torch names, including lr (betas as a 2-list)


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
        ("momentum", "dampening", "nesterov", "weight_decay", "maximize"),
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
        ("lr_decay", "weight_decay", "initial_accumulator_value", "eps", "maximize"),
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
        ("alpha", "eps", "weight_decay", "momentum", "centered", "maximize"),
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
        ("rho", "eps", "weight_decay", "maximize"),
        ("square_avg", "acc_delta"),
    ),
    "adam": OptimizerSpec(
        "adam", ADAM, "Adam (AMSGrad)", "torch.optim.Adam",
        "g ← g + wd·p; m ← β1·m + (1−β1)·g; v ← β2·v + (1−β2)·g²; vmax ← max(vmax, v) (amsgrad); "
        "p ← p − lr/(1−β1^t) · m/(√v/√(1−β2^t) + eps)",
        (_lr(1e-3), _BETAS, _eps(1e-8, "added after bias-correcting sqrt(v)"), _wd(), _AMSGRAD,
         _decoupled(), _MAXIMIZE),
        ("beta1", "beta2", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay", "maximize"),
        ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
    ),
    "adamw": OptimizerSpec(
        "adamw", ADAMW, "AdamW (decoupled weight decay)", "torch.optim.AdamW",
        "p ← p·(1 − lr·wd); then Adam without coupled decay",
        (_lr(1e-3), _BETAS, _eps(1e-8, "added after bias-correcting sqrt(v)"),
         _wd(1e-2, "decoupled decay: p*(1 - lr*wd) before the Adam step"), _AMSGRAD, _MAXIMIZE),
        ("beta1", "beta2", "eps", "weight_decay", "amsgrad", "decoupled_weight_decay", "maximize"),
        ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"),
        fixed={"decoupled_weight_decay": True},
    ),
    "adamax": OptimizerSpec(
        "adamax", ADAMAX, "Adamax (infinity norm)", "torch.optim.Adamax",
        "g ← g + wd·p; m ← β1·m + (1−β1)·g; u ← max(β2·u, |g| + eps); p ← p − lr/(1−β1^t) · m/u",
        (_lr(2e-3), _BETAS, _eps(1e-8, "added to |g| inside the max"), _wd(), _MAXIMIZE),
        ("beta1", "beta2", "eps", "weight_decay", "maximize"),
        ("exp_avg", "exp_inf"),
    ),
    "nadam": OptimizerSpec(
        "nadam", NADAM, "NAdam (Nesterov Adam)", "torch.optim.NAdam",
        "μ_t = β1(1 − ½·0.96^(tψ)); Π ← Π·μ_t; m, v as Adam; denom = √(v/(1−β2^t)) + eps; "
        "p ← p − lr(1−μ_t)/(1−Π)·g/denom − lr·μ_{t+1}/(1−Π·μ_{t+1})·m/denom",
        (_lr(2e-3), _BETAS, _eps(1e-8, "added after bias-correcting sqrt(v)"), _wd(),
         _p("momentum_decay", 4e-3, 0.0, None, doc="ψ in the momentum schedule μ_t = β1(1 − ½·0.96^(tψ))"),
         _decoupled(), _MAXIMIZE),
        ("beta1", "beta2", "eps", "weight_decay", "momentum_decay", "decoupled_weight_decay", "maximize"),
        ("exp_avg", "exp_avg_sq"),
        note="scal[0] holds mu_product (starts at 1)",
    ),
    "radam": OptimizerSpec(
        "radam", RADAM, "RAdam (rectified Adam)", "torch.optim.RAdam",
        "m, v as Adam; ρ_t = ρ∞ − 2tβ2^t/(1−β2^t); ρ_t > 5: p ← p − lr·m̂·r_t·√(1−β2^t)/(√v + eps); "
        "else p ← p − lr·m̂",
        (_lr(1e-3), _BETAS, _eps(1e-8, "added to the raw sqrt(v)"), _wd(), _decoupled(), _MAXIMIZE),
        ("beta1", "beta2", "eps", "weight_decay", "decoupled_weight_decay", "maximize"),
        ("exp_avg", "exp_avg_sq"),
    ),
    "lion": OptimizerSpec(
        "lion", LION, "Lion (sign momentum)", "optax.lion (not in torch)",
        "c = sign((1−β1)·g + β1·m); p ← p − lr·(c + wd·p); m ← (1−β2)·g + β2·m",
        (_lr(1e-4),
         _p("betas", (0.9, 0.99), 0.0, 1.0, "pair", "(beta1, beta2) in [0, 1]: interpolation for the sign, "
            "then momentum decay"),
         _wd(0.0, "decoupled decay inside the step: p - lr*(sign + wd*p) (lucidrains default 0; optax 1e-3)")),
        ("beta1", "beta2", "weight_decay"),
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


def resolve_optimizer(spec: Mapping[str, Any]) -> Optimizer:
    """``{"name": "adam", "lr": 0.01, ...}`` → ``Optimizer`` with torch's defaults filled in and checked.

    Validation follows the torch constructors (lr, eps, weight_decay, momentum, ... >= 0; betas in
    [0, 1); rho in [0, 1]; Nesterov needs momentum > 0 and dampening 0), raising
    ``EngineInputError("optimizer.<param>", ...)``. Keys whose value is None count as absent.
    """
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
    return Optimizer(name=s.name, code=s.code, hp=hp, lr=float(params["lr"]), params=params)


def new_state(opt: Optimizer, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Fresh state for ``n`` parameters: ``(float64[N_SLOTS, n] C-contiguous, float64[N_SCALARS])``."""
    state = np.empty((N_SLOTS, int(n)), dtype=np.float64)
    scal = np.empty(N_SCALARS, dtype=np.float64)
    reset_state(opt.code, opt.hp, state, scal)
    return state, scal


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
