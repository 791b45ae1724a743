"""Second derivatives of the activations and the losses: what a Hessian-vector product adds to backprop.

The R-operator (engine.hvp) differentiates the backward pass once more along a direction. Through an
activation that needs f''(s); through a loss it needs the loss's Hessian with respect to the
predictions applied to a vector. Both follow torch's double-backward formulas (what
``torch.autograd.grad(grad(L)·v)`` computes), kinks included:

=============  ==============================================  ==========================================
activation     f'(x)                                           f''(x)
=============  ==============================================  ==========================================
identity       1                                               0
sigmoid        σ(1 − σ)                                        σ(1 − σ)(1 − 2σ)
tanh           1 − t²                                          −2t(1 − t²)
relu           1 if x > 0 else 0                               0 (the kink has measure zero; torch: 0)
leaky_relu     1 if x > 0 else slope                           0
elu            1 if x > 0 else α·e^x                           0 if x > 0 else α·e^x  (torch's x <= 0 branch)
gelu           Φ(x) + x·φ(x)                                   φ(x)(2 − x²)
softplus       σ(βx); 1 where βx > 20                          β·σ(βx)(1 − σ(βx)); 0 where βx > 20
=============  ==============================================  ==========================================

Losses: ``loss_hvp`` writes (∂²L/∂x²)·r with the same reduction as ``engine.losses.loss_value_grad``
(1/N for elementwise losses, 1/B for row-wise ones); d = x − y::

    mse                        2·r
    mae, hinge, kl_div         0            (piecewise linear, or linear in the log-probabilities)
    huber (δ)                  r where |d| < δ, else 0        (torch: |d| = δ is the linear branch)
    smooth_l1 (β)              r/β where |d| < β, else 0      (β = 0: L1, 0)
    log_cosh                   (1 − tanh² d)·r
    bce                        (x² − 2xy + y)/((x + ε)²(1 − x + ε)²)·r, ε = 1e-12   (torch's double backward)
    bce_with_logits            σ(x)(1 − σ(x))·r
    cross_entropy              y/x²·r where x > 1e-12, else 0   (the gradient's floor is flat)
    cross_entropy_with_logits  Q·(p ∘ r − p·(p·r)) per row, p = softmax(x), Q = Σ_k q'_k   (Q = 1 for one-hot)
"""

from __future__ import annotations

import math

from ._jit import kernel
from .activations import ELU, GELU, SIGMOID, SOFTPLUS, SOFTPLUS_BETA, SOFTPLUS_THRESHOLD, TANH, activation_deriv
from .losses import (
    BCE, BCE_EPS, BCE_WITH_LOGITS, CROSS_ENTROPY, CROSS_ENTROPY_WITH_LOGITS, HUBER, KL_DIV, LOG_COSH, MSE,
    SMOOTH_L1,
)
from .vecmath import sigmoid as vec_sigmoid
from .vecmath import tanh as vec_tanh

_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
TORCH_BCE_DOUBLE_EPS = 1e-12  # torch's binary_cross_entropy_double_backward adds this (a double) to x and 1 − x


@kernel
def activation_second(code, x, a):
    """f''(x) of activation ``code`` (``a``: elu's α; the other parameters do not enter f'')."""
    if code == SIGMOID:
        s = vec_sigmoid(x)
        return s * (1.0 - s) * (1.0 - 2.0 * s)
    if code == TANH:
        t = vec_tanh(x)
        return -2.0 * t * (1.0 - t * t)
    if code == ELU:
        return 0.0 if x > 0.0 else a * math.exp(x)
    if code == GELU:
        return _INV_SQRT_2PI * math.exp(-0.5 * x * x) * (2.0 - x * x)
    if code == SOFTPLUS:
        bx = SOFTPLUS_BETA * x
        if bx > SOFTPLUS_THRESHOLD:
            return 0.0
        s = vec_sigmoid(bx)
        return SOFTPLUS_BETA * s * (1.0 - s)
    return 0.0


@kernel
def activation_derivs(code, a, s, d1, d2):
    """d1 = f'(s) and d2 = f''(s) over 2-D blocks: computed once per point, read by every HVP there."""
    n, m = s.shape
    if code == TANH:
        for i in range(n):
            for j in range(m):
                t = vec_tanh(s[i, j])
                d1[i, j] = 1.0 - t * t
                d2[i, j] = -2.0 * t * d1[i, j]
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                t = vec_sigmoid(s[i, j])
                d1[i, j] = t * (1.0 - t)
                d2[i, j] = d1[i, j] * (1.0 - 2.0 * t)
    else:
        for i in range(n):
            for j in range(m):
                d1[i, j] = activation_deriv(code, s[i, j], a)
                d2[i, j] = activation_second(code, s[i, j], a)


@kernel
def _pointwise_second(code, x, y, a):
    """∂²ℓ/∂x² of one element of an elementwise loss, before the reduction; ``a`` = lparams[0]."""
    if code == MSE:
        return 2.0
    if code == HUBER:
        return 1.0 if abs(x - y) < a else 0.0
    if code == SMOOTH_L1:
        return 1.0 / a if abs(x - y) < a else 0.0  # β = 0 never takes the first branch
    if code == LOG_COSH:
        t = vec_tanh(x - y)
        return 1.0 - t * t
    if code == BCE:
        xp = x + TORCH_BCE_DOUBLE_EPS
        xm = 1.0 - x + TORCH_BCE_DOUBLE_EPS
        return (x * x - 2.0 * x * y + y) / (xp * xp * xm * xm)
    if code == BCE_WITH_LOGITS:
        s = vec_sigmoid(x)
        return s * (1.0 - s)
    return 0.0  # mae, hinge


@kernel
def loss_hvp(code, pred, target, lparams, rpred, out):
    """out = (∂²L/∂pred²)·rpred for loss ``code`` with torch's reduction (rows = samples).

    The Hessian is block diagonal over rows (elementwise losses: diagonal), so ``out`` may not
    alias ``rpred`` only for cross_entropy_with_logits, which reads a whole row first.
    """
    n, k = pred.shape
    if code == CROSS_ENTROPY_WITH_LOGITS:
        eps = lparams[0]
        scale = 1.0 / n
        for i in range(n):
            m = pred[i, 0]
            for j in range(1, k):
                if pred[i, j] > m:
                    m = pred[i, j]
            total = 0.0
            for j in range(k):
                total += math.exp(pred[i, j] - m)
            q = 0.0
            pr = 0.0
            for j in range(k):
                q += (1.0 - eps) * target[i, j] + eps / k
                pr += math.exp(pred[i, j] - m) / total * rpred[i, j]
            for j in range(k):
                p = math.exp(pred[i, j] - m) / total
                out[i, j] = scale * q * p * (rpred[i, j] - pr)
    elif code == CROSS_ENTROPY:
        scale = 1.0 / n
        for i in range(n):
            for j in range(k):
                x = pred[i, j]
                out[i, j] = scale * target[i, j] / (x * x) * rpred[i, j] if x > BCE_EPS else 0.0
    elif code == KL_DIV:
        for i in range(n):
            for j in range(k):
                out[i, j] = 0.0
    else:
        scale = 1.0 / (n * k)
        a = lparams[0]
        for i in range(n):
            for j in range(k):
                out[i, j] = scale * _pointwise_second(code, pred[i, j], target[i, j], a) * rpred[i, j]
