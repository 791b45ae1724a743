"""Loss functions: value and gradient with respect to the predictions, side by side.

Every loss follows ``torch.nn.functional`` (default ``reduction='mean'``) where torch has it;
log-cosh and hinge (the SVM hinge, not torch's ``hinge_embedding_loss``) and cross-entropy
from probabilities are written from their textbook formulas. Notation: ``x`` is a prediction,
``y`` its target, ``d = x − y``, ``N`` the number of elements, ``B`` the number of rows
(samples), ``K`` the number of columns (outputs / classes).

=========================  ============================================  =====================================
name                       value (before the reduction)                  reduction (torch's)
=========================  ============================================  =====================================
mse                        d²                                            mean over all N elements
mae                        |d|                                           mean over all N elements
huber (δ)                  ½d² if |d| < δ else δ(|d| − ½δ)               mean over all N elements
smooth_l1 (β)              ½d²/β if |d| < β else |d| − ½β                mean over all N elements
log_cosh                   log cosh d                                    mean over all N elements
bce                        −[y·max(log x, −100) + (1−y)·max(log(1−x), −100)]  mean over all N elements
bce_with_logits            max(x, 0) − x·y + log(1 + e^(−|x|))           mean over all N elements
hinge                      max(0, 1 − y·x), y ∈ {−1, +1}                  mean over all N elements
cross_entropy              −Σ_k y_k·max(log x_k, −100)  (per row)        mean over the B rows
cross_entropy_with_logits  −Σ_k q'_k·log softmax(x)_k, q' = (1−ε)q + ε/K  mean over the B rows
kl_div                     Σ_k y_k·(log y_k − x_k)  (x = log q)          'batchmean': sum / B
=========================  ============================================  =====================================

What the predictions are, per loss:

* regression losses (mse … log_cosh): any real numbers, same shape as the targets.
* ``bce``: probabilities x ∈ [0, 1]; targets y ∈ [0, 1] (soft labels allowed).
* ``bce_with_logits``: logits (any real); targets y ∈ [0, 1].
* ``hinge``: raw scores (any real); targets are labels −1 or +1 (map class 0 to −1 first).
* ``cross_entropy``: probabilities x_k ∈ [0, 1] per class; targets y_k ∈ [0, 1] (one-hot or soft).
  Rows need not sum to 1: the gradient treats every x_k as a free coordinate.
* ``cross_entropy_with_logits``: logits (any real); targets are class probabilities q_k ∈ [0, 1]
  (torch's "probability targets", same shape as the input; rows need not sum to 1, as in torch).
* ``kl_div``: predictions are **log-probabilities** log q_k (≤ 0), exactly torch's ``input``;
  targets are probabilities p_k ∈ [0, 1]. The value is KL(p ‖ q) per row, summed, divided by B.

The kernel ``loss_value_grad`` (rows = samples, columns = outputs) is what other kernels call
(the MLP's and the training loop's), dispatching on the integer codes below; the public
``evaluate_loss`` validates, allocates and calls it; ``loss_curves`` draws each loss as a
penalty curve (value and derivative against the error, or against the predicted probability
of the true class).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._jit import kernel
from .errors import EngineInputError
from .limits import check_max
from .registry import ParamSpec, lookup, resolve_params

# ---------------------------------------------------------------------------------------------
# Integer codes (stable: other kernels dispatch on them)
# ---------------------------------------------------------------------------------------------
MSE = 0
MAE = 1
HUBER = 2
SMOOTH_L1 = 3
LOG_COSH = 4
BCE = 5
BCE_WITH_LOGITS = 6
CROSS_ENTROPY = 7
CROSS_ENTROPY_WITH_LOGITS = 8
HINGE = 9
KL_DIV = 10

LOSS_CODES: dict[str, int] = {
    "mse": MSE,
    "mae": MAE,
    "huber": HUBER,
    "smooth_l1": SMOOTH_L1,
    "log_cosh": LOG_COSH,
    "bce": BCE,
    "bce_with_logits": BCE_WITH_LOGITS,
    "cross_entropy": CROSS_ENTROPY,
    "cross_entropy_with_logits": CROSS_ENTROPY_WITH_LOGITS,
    "hinge": HINGE,
    "kl_div": KL_DIV,
}

LOG_CLAMP = -100.0  # torch clamps each log of binary_cross_entropy at −100 (aten Loss.cpp)
# torch's binary_cross_entropy backward divides by max(x(1 − x), EPSILON) with EPSILON a C++ *float*
# 1e-12 (aten Loss.cpp), i.e. 9.999999960041972e-13 once widened to double; matched exactly here.
BCE_EPS = float(np.float32(1e-12))
_LOG2 = math.log(2.0)

# ---------------------------------------------------------------------------------------------
# Kernels. Pointwise losses: one small function per loss returning (value, ∂value/∂x) for one
# element, before the reduction. Row-wise losses (cross-entropy, KL) loop over one row.
#
# Packed parameters ``lparams`` per code (length ≥ 1; unused entries are ignored):
#   HUBER                      lparams = [delta]            (δ > 0)
#   SMOOTH_L1                  lparams = [beta]             (β ≥ 0; β = 0 is the L1 loss)
#   CROSS_ENTROPY_WITH_LOGITS  lparams = [label_smoothing]  (ε ∈ [0, 1])
#   every other code           lparams = [0.0]
# ---------------------------------------------------------------------------------------------


@kernel
def _sign(d):
    # sign(0) = 0, as torch.sign (so l1_loss's gradient at d = 0 is 0)
    if d > 0.0:
        return 1.0
    if d < 0.0:
        return -1.0
    return 0.0


@kernel
def mse_point(d):
    # d²;  ∂/∂x = 2d
    return d * d, 2.0 * d


@kernel
def mae_point(d):
    # |d|;  ∂/∂x = sign(d), sign(0) = 0
    return abs(d), _sign(d)


@kernel
def huber_point(d, delta):
    # ½d² if |d| < δ else δ(|d| − ½δ);  ∂/∂x = d or δ·sign(d)   (|d| = δ takes the linear branch)
    a = abs(d)
    if a < delta:
        return 0.5 * d * d, d
    return delta * (a - 0.5 * delta), delta * _sign(d)


@kernel
def smooth_l1_point(d, beta):
    # ½d²/β if |d| < β else |d| − ½β;  ∂/∂x = d/β or sign(d)   (β = 0: |d|, sign(d), i.e. l1_loss)
    a = abs(d)
    if a < beta:
        return 0.5 * d * d / beta, d / beta
    return a - 0.5 * beta, _sign(d)


@kernel
def log_cosh_point(d):
    # log cosh d = |d| + log(1 + e^(−2|d|)) − log 2  (no overflow);  ∂/∂x = tanh d
    a = abs(d)
    return a + math.log1p(math.exp(-2.0 * a)) - _LOG2, math.tanh(d)


@kernel
def bce_point(x, y):
    # −[y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)]
    # ∂/∂x = (x − y) / max(x(1 − x), 1e-12)   (torch's backward: finite at x = 0 and x = 1)
    lx = max(math.log(x), LOG_CLAMP)
    l1x = max(math.log1p(-x), LOG_CLAMP)
    return -(y * lx + (1.0 - y) * l1x), (x - y) / max(x * (1.0 - x), BCE_EPS)


@kernel
def _sigmoid(z):
    # σ(z) without overflow for either sign
    if z >= 0.0:
        return 1.0 / (1.0 + math.exp(-z))
    e = math.exp(z)
    return e / (1.0 + e)


@kernel
def bce_with_logits_point(z, y):
    # (1 − y)z − log σ(z) = max(z, 0) − z·y + log(1 + e^(−|z|));  ∂/∂z = σ(z) − y
    return max(z, 0.0) - z * y + math.log1p(math.exp(-abs(z))), _sigmoid(z) - y


@kernel
def hinge_point(s, y):
    # max(0, 1 − y·s), y = ±1;  ∂/∂s = −y where 1 − y·s > 0, else 0 (0 at the kink, as relu)
    m = 1.0 - y * s
    if m > 0.0:
        return m, -y
    return 0.0, 0.0


@kernel
def pointwise(code, x, y, a):
    """(value, ∂value/∂x) of one element of an elementwise loss; ``a`` = lparams[0]."""
    if code == MSE:
        return mse_point(x - y)
    if code == MAE:
        return mae_point(x - y)
    if code == HUBER:
        return huber_point(x - y, a)
    if code == SMOOTH_L1:
        return smooth_l1_point(x - y, a)
    if code == LOG_COSH:
        return log_cosh_point(x - y)
    if code == BCE:
        return bce_point(x, y)
    if code == BCE_WITH_LOGITS:
        return bce_with_logits_point(x, y)
    if code == HINGE:
        return hinge_point(x, y)
    return math.nan, math.nan


@kernel
def cross_entropy_row(p, y, g, scale):
    """One row of cross-entropy from probabilities; writes scale·∂/∂p into ``g``.

    .. math:: L = -\\sum_k y_k \\max(\\log p_k, -100),\\qquad
              \\partial L/\\partial p_k = -y_k / \\max(p_k, 10^{-12})

    The log clamp keeps p_k = 0 finite (as torch's binary_cross_entropy); the gradient's floor
    mirrors that loss's backward (its 1e-12), so it stays finite too.
    """
    loss = 0.0
    for k in range(p.shape[0]):
        loss -= y[k] * max(math.log(p[k]), LOG_CLAMP)
        g[k] = -y[k] / max(p[k], BCE_EPS) * scale
    return loss


@kernel
def cross_entropy_logits_row(z, q, eps, g, scale):
    """One row of torch's cross_entropy with probability targets and label smoothing ε.

    .. math:: q'_k = (1-\\varepsilon) q_k + \\varepsilon/K,\\quad
              L = -\\sum_k q'_k (z_k - \\mathrm{lse}(z)),\\quad
              \\partial L/\\partial z_k = \\mathrm{softmax}(z)_k \\sum_j q'_j - q'_k

    lse(z) = m + log Σ e^(z_k − m), m = max z: finite for logits of any size.
    """
    n = z.shape[0]
    m = z[0]
    for k in range(1, n):
        if z[k] > m:
            m = z[k]
    s = 0.0
    for k in range(n):
        s += math.exp(z[k] - m)
    lse = m + math.log(s)
    off = eps / n
    keep = 1.0 - eps
    loss = 0.0
    qsum = 0.0
    for k in range(n):
        qk = keep * q[k] + off
        loss -= qk * (z[k] - lse)
        qsum += qk
    for k in range(n):
        g[k] = (math.exp(z[k] - m) / s * qsum - (keep * q[k] + off)) * scale
    return loss


@kernel
def kl_div_row(logq, p, g, scale):
    """One row of torch's kl_div(input=log q, target=p): Σ_k xlogy(p_k, p_k) − p_k·log q_k.

    .. math:: L = \\sum_k p_k(\\log p_k - \\log q_k)\\ (0\\text{ where }p_k = 0),\\qquad
              \\partial L/\\partial \\log q_k = -p_k
    """
    loss = 0.0
    for k in range(logq.shape[0]):
        pk = p[k]
        if pk > 0.0:
            loss += pk * (math.log(pk) - logq[k])
        g[k] = -pk * scale
    return loss


@kernel
def loss_value_grad(code, pred, target, lparams, grad_out):
    """Loss ``code`` of a batch (rows = samples, columns = outputs) with torch's reduction.

    Returns the reduced loss and writes d loss / d pred into ``grad_out`` (same shape, the same
    reduction applied): elementwise losses (mse … hinge, bce, bce_with_logits) take the mean
    over all B·K elements; cross_entropy and cross_entropy_with_logits the mean over the B
    rows of the per-row loss; kl_div 'batchmean' (sum / B). ``lparams`` as packed above.
    Never raises: an unknown code gives NaN (the caller has validated everything else).
    """
    n = pred.shape[0]
    k = pred.shape[1]
    total = 0.0
    if code == CROSS_ENTROPY or code == CROSS_ENTROPY_WITH_LOGITS or code == KL_DIV:
        scale = 1.0 / n
        for i in range(n):
            if code == CROSS_ENTROPY:
                total += cross_entropy_row(pred[i], target[i], grad_out[i], scale)
            elif code == CROSS_ENTROPY_WITH_LOGITS:
                total += cross_entropy_logits_row(pred[i], target[i], lparams[0], grad_out[i], scale)
            else:
                total += kl_div_row(pred[i], target[i], grad_out[i], scale)
        return total / n
    count = n * k
    scale = 1.0 / count
    a = lparams[0]
    for i in range(n):
        for j in range(k):
            v, gv = pointwise(code, pred[i, j], target[i, j], a)
            total += v
            grad_out[i, j] = gv * scale
    return total / count


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

REGRESSION = "regression"
CLASSIFICATION = "classification"


@dataclass(frozen=True)
class LossSpec:
    """One loss: what it computes, what its predictions and targets are, and its parameters.

    ``params`` are packed into ``lparams`` in the order given (the kernel reads lparams[0], ...).
    ``pred_range``/``target_range`` are the closed intervals inputs must lie in (None = any real);
    ``target_values``, when set, is the finite set targets must come from.
    """

    name: str
    code: int
    title: str
    formula: str
    derivative: str
    kind: str  # regression | classification
    predictions: str
    targets: str
    torch: str
    params: tuple[ParamSpec, ...] = ()
    rowwise: bool = False  # cross-entropy / KL: a 1-D input is one sample of K classes
    pred_range: tuple[float, float] | None = None
    target_range: tuple[float, float] | None = None
    target_values: tuple[float, ...] = ()
    strict_params: tuple[str, ...] = ()  # parameters that must be > their low bound, not >=
    notes: str = ""


_REAL = "any real numbers"
_PROB = "probabilities in [0, 1]"

LOSSES: dict[str, LossSpec] = {
    "mse": LossSpec(
        "mse", MSE, "Mean squared error",
        "mean (x − y)²", "2(x − y)/N", REGRESSION, _REAL, _REAL, "F.mse_loss",
    ),
    "mae": LossSpec(
        "mae", MAE, "Mean absolute error (L1)",
        "mean |x − y|", "sign(x − y)/N, sign(0) = 0", REGRESSION, _REAL, _REAL, "F.l1_loss",
    ),
    "huber": LossSpec(
        "huber", HUBER, "Huber",
        "mean [½d² if |d| < δ else δ(|d| − ½δ)], d = x − y", "d/N or δ·sign(d)/N", REGRESSION, _REAL, _REAL,
        "F.huber_loss",
        params=(ParamSpec("delta", 1.0, 0.0, 1e6, doc="where the quadratic turns linear (> 0)"),),
        strict_params=("delta",),
        notes="|d| = δ takes the linear branch, as torch. huber(δ) = δ·smooth_l1(β = δ).",
    ),
    "smooth_l1": LossSpec(
        "smooth_l1", SMOOTH_L1, "Smooth L1",
        "mean [½d²/β if |d| < β else |d| − ½β], d = x − y", "(d/β)/N or sign(d)/N", REGRESSION, _REAL, _REAL,
        "F.smooth_l1_loss",
        params=(ParamSpec("beta", 1.0, 0.0, 1e6, doc="where the quadratic turns linear (β = 0 is L1)"),),
    ),
    "log_cosh": LossSpec(
        "log_cosh", LOG_COSH, "Log-cosh",
        "mean log cosh(x − y)", "tanh(x − y)/N", REGRESSION, _REAL, _REAL,
        "none (computed as |d| + log1p(e^(−2|d|)) − log 2)",
        notes="Not in torch; ≈ ½d² near 0 and ≈ |d| − log 2 far away.",
    ),
    "bce": LossSpec(
        "bce", BCE, "Binary cross-entropy (probabilities)",
        "−mean [y·max(log x, −100) + (1 − y)·max(log(1 − x), −100)]", "(x − y)/max(x(1 − x), 1e-12)/N",
        CLASSIFICATION, _PROB + " (predicted P(y = 1))", _PROB + " (soft labels allowed)",
        "F.binary_cross_entropy", pred_range=(0.0, 1.0), target_range=(0.0, 1.0),
        notes="Each log is clamped at −100 and the gradient's denominator at 1e-12, exactly as torch.",
    ),
    "bce_with_logits": LossSpec(
        "bce_with_logits", BCE_WITH_LOGITS, "Binary cross-entropy with logits",
        "mean [max(x, 0) − x·y + log(1 + e^(−|x|))]", "(σ(x) − y)/N",
        CLASSIFICATION, "logits (" + _REAL + ")", _PROB, "F.binary_cross_entropy_with_logits",
        target_range=(0.0, 1.0),
    ),
    "cross_entropy": LossSpec(
        "cross_entropy", CROSS_ENTROPY, "Cross-entropy (probabilities)",
        "mean over samples of −Σ_k y_k·max(log x_k, −100)", "−y_k/max(x_k, 1e-12)/B",
        CLASSIFICATION, "class probabilities in [0, 1] (rows need not sum to 1)",
        "class probabilities in [0, 1] (one-hot or soft)",
        "none (nll_loss of log x); the log clamp and gradient floor follow F.binary_cross_entropy",
        rowwise=True, pred_range=(0.0, 1.0), target_range=(0.0, 1.0),
        notes="The page's example: x = [0.7, 0.2, 0.1], y = [1, 0, 0] gives −ln 0.7 = 0.356675.",
    ),
    "cross_entropy_with_logits": LossSpec(
        "cross_entropy_with_logits", CROSS_ENTROPY_WITH_LOGITS, "Cross-entropy with logits (softmax)",
        "mean over samples of −Σ_k q'_k·log softmax(x)_k, q' = (1 − ε)·y + ε/K",
        "(softmax(x)_k·Σ_j q'_j − q'_k)/B",
        CLASSIFICATION, "logits (" + _REAL + ")", "class probabilities in [0, 1] (one-hot or soft)",
        "F.cross_entropy with probability targets", rowwise=True, target_range=(0.0, 1.0),
        params=(ParamSpec("label_smoothing", 0.0, 0.0, 1.0, doc="ε: mix the targets with the uniform 1/K"),),
    ),
    "hinge": LossSpec(
        "hinge", HINGE, "Hinge (SVM)",
        "mean max(0, 1 − y·x)", "−y/N where 1 − y·x > 0, else 0",
        CLASSIFICATION, "scores (" + _REAL + ")", "labels −1 or +1",
        "none (optax.hinge_loss; not torch's hinge_embedding_loss)", target_values=(-1.0, 1.0),
        notes="At the kink (y·x = 1) the gradient is 0, as relu's. Map class 0 to label −1 first.",
    ),
    "kl_div": LossSpec(
        "kl_div", KL_DIV, "KL divergence",
        "Σ y·(log y − x) / B, x = log q (0 where y = 0)", "−y/B",
        CLASSIFICATION, "log-probabilities log q (≤ 0), as torch's input", _PROB,
        "F.kl_div(input=log q, target=p, reduction='batchmean')",
        rowwise=True, pred_range=(-math.inf, 0.0), target_range=(0.0, 1.0),
        notes="A 1-D input is one sample (B = 1); torch would divide a 1-D input by its length.",
    ),
}

assert {s.name: s.code for s in LOSSES.values()} == LOSS_CODES


@dataclass(frozen=True, eq=False)
class ResolvedLoss:
    """A loss resolved for given parameters: what the kernel needs."""

    name: str
    code: int
    lparams: np.ndarray  # packed parameters, float64, C-contiguous, size >= 1
    params: dict  # resolved parameters (defaults filled in)
    spec: LossSpec


def resolve_loss(name: str, params: dict | None = None) -> ResolvedLoss:
    """Look up ``name`` in LOSSES and pack ``params`` (defaults filled, ranges checked).

    Raises EngineInputError naming ``loss`` (with the choices) or ``params.<name>`` (with the range).
    """
    if not isinstance(name, str):
        raise EngineInputError("loss", f"must be a loss name; choose one of: {', '.join(LOSSES)}")
    spec = lookup(LOSSES, name, "loss")
    if params is not None and not isinstance(params, dict):
        raise EngineInputError("params", "must be an object of parameter values")
    resolved = resolve_params(spec.params, params, "params")
    for pname in spec.strict_params:
        low = next(p.low for p in spec.params if p.name == pname)
        if not resolved[pname] > low:
            raise EngineInputError(f"params.{pname}", f"must be > {low}")
    values = [float(resolved[p.name]) for p in spec.params] or [0.0]
    return ResolvedLoss(spec.name, spec.code, np.ascontiguousarray(values, dtype=np.float64), resolved, spec)
