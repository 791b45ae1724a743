"""Loss functions: value and gradient with respect to the predictions, side by side.

Every loss follows ``torch.nn.functional`` (default ``reduction='mean'``) where torch has it;
log-cosh and hinge (the SVM hinge, not torch's ``hinge_embedding_loss``) and cross-entropy
from probabilities are written from their textbook formulas. Notation: ``x`` is a prediction,
``y`` its target, ``d = x − y``, ``N`` the number of elements, ``B`` the number of rows
(samples), ``K`` the number of columns (outputs / classes).

Per element (elementwise losses) or per row (row-wise ones), before the reduction::

    mse                        d²                                                   mean over all N elements
    mae                        |d|                                                  mean over all N elements
    huber (δ)                  ½d² if |d| < δ else δ(|d| − ½δ)                      mean over all N elements
    smooth_l1 (β)              ½d²/β if |d| < β else |d| − ½β                       mean over all N elements
    log_cosh                   log cosh d                                           mean over all N elements
    bce                        −[y·max(log x, −100) + (1−y)·max(log(1−x), −100)]    mean over all N elements
    bce_with_logits            max(x, 0) − x·y + log(1 + e^(−|x|))                  mean over all N elements
    hinge                      max(0, 1 − y·x), y ∈ {−1, +1}                         mean over all N elements
    cross_entropy              −Σ_k y_k·max(log x_k, −100)           (per row)      mean over the B rows
    cross_entropy_with_logits  −Σ_k q'_k·log softmax(x)_k, q' = (1−ε)y + ε/K        mean over the B rows
    kl_div                     Σ_k y_k·(log y_k − x_k), x = log q    (per row)      'batchmean': total / B

Deliberate choices where torch has no rule (or a different one):

* hinge is the SVM hinge (optax's ``hinge_loss``); its gradient at the kink y·x = 1 is 0 (relu's).
* cross_entropy from probabilities clamps each log at −100 like torch's binary_cross_entropy,
  and floors the gradient's denominator the same way: −y_k / max(x_k, 1e-12).
* kl_div: a 1-D input is ONE sample (B = 1); torch's 'batchmean' would divide a 1-D input by
  its length K. Pass rows to get torch's per-batch mean.
* inputs are bounded by ±1e100 (``MAX_ABS_INPUT``), so every value, sum and gradient is finite.

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
from typing import Mapping, Sequence

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from ._jit import kernel
from .errors import EngineInputError
from .limits import check_max
from .registry import ParamSpec, lookup, resolve_params
from .tasks import CLASSIFICATION, REGRESSION
from .validate import as_array, check_int

# loss_value_grad is the kernel other kernels call (unchecked input): internal; users call evaluate_loss.
__all__ = ["LOSS_CODES", "LOSSES", "CurvesResult", "LossCurve", "LossResult", "ResolvedLoss", "evaluate_loss",
           "loss_curves", "resolve_loss"]

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
    return (y - 1.0) * l1x - y * lx, (x - y) / max(x * (1.0 - x), BCE_EPS)  # torch's order: no −0.0


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
        e = math.exp(z[k] - m)
        g[k] = e  # kept for the gradient: one exp per element
        s += e
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
        g[k] = (g[k] / s * qsum - (keep * q[k] + off)) * scale
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
def elementwise_sum(code, x, y, a, g, scale):
    """Σ of an elementwise loss over the batch; writes scale·∂/∂x into ``g``.

    One loop per code: dispatching inside the loop costs ~4x (LLVM does not unswitch it).
    """
    n = x.shape[0]
    k = x.shape[1]
    total = 0.0
    if code == MSE:
        for i in range(n):
            for j in range(k):
                v, gv = mse_point(x[i, j] - y[i, j])
                total += v
                g[i, j] = gv * scale
    elif code == MAE:
        for i in range(n):
            for j in range(k):
                v, gv = mae_point(x[i, j] - y[i, j])
                total += v
                g[i, j] = gv * scale
    elif code == HUBER:
        for i in range(n):
            for j in range(k):
                v, gv = huber_point(x[i, j] - y[i, j], a)
                total += v
                g[i, j] = gv * scale
    elif code == SMOOTH_L1:
        for i in range(n):
            for j in range(k):
                v, gv = smooth_l1_point(x[i, j] - y[i, j], a)
                total += v
                g[i, j] = gv * scale
    elif code == LOG_COSH:
        for i in range(n):
            for j in range(k):
                v, gv = log_cosh_point(x[i, j] - y[i, j])
                total += v
                g[i, j] = gv * scale
    elif code == BCE:
        for i in range(n):
            for j in range(k):
                v, gv = bce_point(x[i, j], y[i, j])
                total += v
                g[i, j] = gv * scale
    elif code == BCE_WITH_LOGITS:
        for i in range(n):
            for j in range(k):
                v, gv = bce_with_logits_point(x[i, j], y[i, j])
                total += v
                g[i, j] = gv * scale
    elif code == HINGE:
        for i in range(n):
            for j in range(k):
                v, gv = hinge_point(x[i, j], y[i, j])
                total += v
                g[i, j] = gv * scale
    else:
        return math.nan
    return total


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
    if code == CROSS_ENTROPY or code == CROSS_ENTROPY_WITH_LOGITS or code == KL_DIV:
        scale = 1.0 / n
        total = 0.0
        for i in range(n):
            if code == CROSS_ENTROPY:
                total += cross_entropy_row(pred[i], target[i], grad_out[i], scale)
            elif code == CROSS_ENTROPY_WITH_LOGITS:
                total += cross_entropy_logits_row(pred[i], target[i], lparams[0], grad_out[i], scale)
            else:
                total += kl_div_row(pred[i], target[i], grad_out[i], scale)
        return total / n
    count = n * k
    return elementwise_sum(code, pred, target, lparams[0], grad_out, 1.0 / count) / count


@kernel
def loss_terms(code, pred, target, lparams, terms, grad_out):
    """The unreduced loss: ``terms[i, j]`` per element (elementwise losses and kl_div) or ``terms[i, 0]``
    per row (cross_entropy, cross_entropy_with_logits), and in ``grad_out`` the gradient of their SUM
    (torch's ``reduction='none'`` backward with ones). ``evaluate_loss``'s reduction='sum'/'none' path;
    mean stays on ``loss_value_grad`` (the kernel every training loop calls)."""
    n = pred.shape[0]
    k = pred.shape[1]
    for i in range(n):
        if code == CROSS_ENTROPY:
            terms[i, 0] = cross_entropy_row(pred[i], target[i], grad_out[i], 1.0)
        elif code == CROSS_ENTROPY_WITH_LOGITS:
            terms[i, 0] = cross_entropy_logits_row(pred[i], target[i], lparams[0], grad_out[i], 1.0)
        elif code == KL_DIV:
            for j in range(k):
                pk = target[i, j]
                # torch: xlogy(p, p) - p*log q, 0 where p = 0
                terms[i, j] = pk * (math.log(pk) - pred[i, j]) if pk > 0.0 else 0.0
                grad_out[i, j] = -pk
        else:
            for j in range(k):
                terms[i, j], grad_out[i, j] = pointwise(code, pred[i, j], target[i, j], lparams[0])


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

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

# Every loss parameter by name (a name means the same thing wherever it appears).
PARAMS: dict[str, ParamSpec] = {p.name: p for s in LOSSES.values() for p in s.params}
_STRICT_PARAMS = {name for s in LOSSES.values() for name in s.strict_params}


@dataclass(frozen=True, eq=False)
class ResolvedLoss:
    """A loss resolved for given parameters: what the kernel needs."""

    name: str
    code: int
    lparams: np.ndarray  # packed parameters, float64, C-contiguous, size >= 1
    params: dict  # resolved parameters (defaults filled in)
    spec: LossSpec


def _check_strict(resolved: dict, prefix: str) -> None:
    for pname in _STRICT_PARAMS & set(resolved):
        low = PARAMS[pname].low
        if not resolved[pname] > low:
            raise EngineInputError(f"{prefix}{pname}", f"must be > {low}")


def resolve_loss(loss: str, params: Mapping[str, float] | None = None) -> ResolvedLoss:
    """Look up ``loss`` in LOSSES and pack ``params`` (defaults filled, ranges checked): what the kernels take.

    Raises EngineInputError naming ``loss`` (with the choices) or ``params.<name>`` (with the range).

    >>> engine.resolve_loss("huber", {"delta": 0.5}).params
    {'delta': 0.5}
    """
    name = loss
    if not isinstance(name, str):
        raise EngineInputError("loss", f"must be a loss name; choose one of: {', '.join(LOSSES)}")
    spec = lookup(LOSSES, name, "loss")
    if params is not None and not isinstance(params, Mapping):
        raise EngineInputError("params", "must be an object of parameter values")
    resolved = resolve_params(spec.params, params, "params")
    _check_strict(resolved, "params.")
    values = [float(resolved[p.name]) for p in spec.params] or [0.0]
    return ResolvedLoss(spec.name, spec.code, np.ascontiguousarray(values, dtype=np.float64), resolved, spec)


# ---------------------------------------------------------------------------------------------
# Public API
# ---------------------------------------------------------------------------------------------

MAX_ABS_INPUT = 1e100  # |prediction|, |target| bound: every loss, its sum and gradient stay finite


@resultclass
@dataclass(frozen=True, eq=False)
class LossResult:
    """One evaluation: the reduced loss and d loss / d predictions (in the predictions' shape)."""

    loss: str
    value: float  # the reduced loss (reduction 'none': their sum, the same number as 'sum')
    gradient: np.ndarray  # d value / d predictions ('none': the gradient of the sum), predictions' shape
    params: dict  # the loss parameters used, defaults included
    ignored: tuple[str, ...]  # always empty: a parameter the loss does not take is refused (kept for the HTTP echo)
    reduction: str = "mean"  # mean | sum | none
    reduced: str = ""  # what was reduced, in words ("mean over all 6 elements", "sum over 2 rows", ...)
    values: np.ndarray | None = None  # reduction 'none': the unreduced losses (per element, or per row for CE)
    labels: bool = False  # targets were integer class labels (converted to one-hot)


def _as_array(field: str, values) -> np.ndarray:
    arr = as_array(field, values, "must be a 1-D or 2-D array of numbers",
                   "must be a 1-D or 2-D array of numbers (rows of equal length)", "biuf")
    if arr.ndim not in (1, 2):
        raise EngineInputError(field, f"must be 1-D or 2-D, got {arr.ndim}-D")
    if arr.size == 0:
        raise EngineInputError(field, "must not be empty")
    check_max(field, int(arr.size), "max_loss_elements")
    arr = np.ascontiguousarray(arr, dtype=np.float64)
    if not np.isfinite(arr).all():
        raise EngineInputError(field, "values must be finite numbers (no NaN or Infinity)")
    if np.abs(arr).max() > MAX_ABS_INPUT:
        raise EngineInputError(field, f"values must lie within ±{MAX_ABS_INPUT:g}")
    return arr


def _check_range(field: str, arr: np.ndarray, bounds: tuple[float, float] | None, what: str) -> None:
    if bounds is None:
        return
    lo, hi = bounds
    if arr.min() < lo or arr.max() > hi:
        raise EngineInputError(field, f"must be {what}: every value in [{lo:g}, {hi:g}]")


def _check_params(params, field: str = "params") -> dict:
    """Loss parameters checked against PARAMS (name and range); errors name ``params.<name>``."""
    if params is None:
        return {}
    if not isinstance(params, Mapping):
        raise EngineInputError(field, "must be a mapping of loss parameters, e.g. {'delta': 0.5}")
    unknown = sorted((k for k in params if k not in PARAMS), key=str)
    if unknown:
        raise EngineInputError(f"{field}.{str(unknown[0])[:40]}",
                               f"unknown loss parameter; accepted: {', '.join(sorted(PARAMS))}")
    out = resolve_params(tuple(PARAMS[k] for k in params), params, field)
    out = {k: out[k] for k in params}
    _check_strict(out, f"{field}.")
    return out


def _split_params(spec: LossSpec, params: dict) -> dict:
    return {p.name: params[p.name] for p in spec.params if p.name in params}


REDUCTIONS = ("mean", "sum", "none")
LABEL_LOSSES = ("cross_entropy", "cross_entropy_with_logits")  # torch F.cross_entropy / F.nll_loss take class indices


def _labels_to_onehot(spec: LossSpec, targets, pred: np.ndarray) -> np.ndarray | None:
    """Integer class labels (shape = predictions' without the class axis, values in [0, C)) as one-hot rows;
    None when ``targets`` are not labels (same shape as the predictions: class probabilities)."""
    if isinstance(targets, (str, bytes, dict)) or targets is None:
        return None
    try:
        arr = np.asarray(targets)
    except (TypeError, ValueError):
        return None
    if arr.shape != pred.shape[:-1] or arr.dtype.kind not in "biuf":
        return None
    if spec.name not in LABEL_LOSSES:
        raise EngineInputError("targets", f"{spec.name} takes targets of the predictions' shape {list(pred.shape)}; "
                                          f"class labels are accepted by {', '.join(LABEL_LOSSES)}")
    if arr.dtype.kind not in "iu":
        raise EngineInputError("targets", "class labels must be integers (as torch's class indices): "
                                          f"got {arr.dtype}; or give class probabilities of shape {list(pred.shape)}")
    C = pred.shape[-1]
    if arr.size and (arr.min() < 0 or arr.max() >= C):
        raise EngineInputError("targets", f"class labels must lie in [0, {C}) (the predictions have {C} classes)")
    return np.ascontiguousarray(np.eye(C, dtype=np.float64)[arr.astype(np.int64)])


def evaluate_loss(loss: str, predictions: ArrayLike, targets: ArrayLike, params: Mapping[str, float] | None = None,
                  reduction: str = "mean") -> LossResult:
    """Loss ``loss`` of ``predictions`` against ``targets``, and its gradient w.r.t. the predictions.

    Elementwise losses (mse, mae, huber, smooth_l1, log_cosh, bce, bce_with_logits, hinge) take
    any 1-D or 2-D arrays of one shape. cross_entropy, cross_entropy_with_logits and kl_div read a
    1-D array as ONE sample of K classes and a 2-D array as rows of samples. See the module
    docstring for what predictions and targets mean per loss.

    * ``targets`` of cross_entropy and cross_entropy_with_logits may be integer class labels, as
      torch's ``F.cross_entropy``: shape (B,) for (B, C) predictions (a scalar for one (C,) sample),
      values in [0, C); they mean the one-hot rows (``labels`` is then true in the result).
    * ``params``: the loss's own parameters (huber ``delta``, smooth_l1 ``beta``,
      cross_entropy_with_logits ``label_smoothing``); one the loss does not take is refused.
    * ``reduction``: ``"mean"`` (torch's default: over all elements, over rows for the row-wise
      losses, kl_div 'batchmean'), ``"sum"``, or ``"none"`` (``values`` holds the unreduced losses,
      per element, per row for cross-entropy; ``value`` and ``gradient`` are those of their sum).
      ``reduced`` says in words what was reduced.

    Raises EngineInputError naming ``loss``, ``predictions``, ``targets``, ``params.<name>`` or ``reduction``.

    >>> r = engine.evaluate_loss("cross_entropy_with_logits", np.array([[2.0, 0.5, -1.0]]), np.array([0]))
    >>> round(r.value, 6), r.labels, r.reduced
    (0.241311, True, 'mean over 1 rows')
    >>> engine.evaluate_loss("mse", [0.5, 2.0], [0.0, 0.0], reduction="sum").value
    4.25
    """
    if not isinstance(loss, str):
        raise EngineInputError("loss", f"must be a loss name; choose one of: {', '.join(LOSSES)}")
    spec = lookup(LOSSES, loss, "loss")
    given = _check_params(params)
    extra = [k for k in given if k not in {p.name for p in spec.params}]
    if extra:
        taken = ", ".join(p.name for p in spec.params) or "none"
        raise EngineInputError(f"params.{extra[0]}", f"{spec.name} takes no parameter {extra[0]!r} (it takes: {taken})")
    if not isinstance(reduction, str) or reduction not in REDUCTIONS:
        raise EngineInputError("reduction", f"must be one of: {', '.join(REDUCTIONS)}")
    r = resolve_loss(spec.name, given)
    pred = _as_array("predictions", predictions)
    onehot = _labels_to_onehot(spec, targets, pred) if spec.rowwise else None
    targ = onehot if onehot is not None else _as_array("targets", targets)
    if pred.shape != targ.shape:
        raise EngineInputError("targets", f"shape {list(targ.shape)} does not match predictions {list(pred.shape)}")
    _check_range("predictions", pred, spec.pred_range, spec.predictions)
    _check_range("targets", targ, spec.target_range, spec.targets)
    if spec.target_values and not np.isin(targ, spec.target_values).all():
        raise EngineInputError("targets", f"must be {spec.targets}: every value one of {list(spec.target_values)}")
    shape = pred.shape
    pred2 = pred.reshape(1, -1) if pred.ndim == 1 else pred
    targ2 = targ.reshape(1, -1) if targ.ndim == 1 else targ
    grad = np.empty_like(pred2)
    rows_only = spec.code in (CROSS_ENTROPY, CROSS_ENTROPY_WITH_LOGITS)
    values = None
    if reduction == "mean":
        value = float(loss_value_grad(r.code, pred2, targ2, r.lparams, grad))
        what = f"mean over {pred2.shape[0]} rows" if spec.rowwise else f"mean over all {pred2.size} elements"
        if spec.code == KL_DIV:
            what = f"batchmean: sum over all elements / {pred2.shape[0]} rows"
    else:
        terms = np.empty((pred2.shape[0], 1) if rows_only else pred2.shape)
        loss_terms(r.code, pred2, targ2, r.lparams, terms, grad)
        value = float(terms.sum())
        unit = f"{pred2.shape[0]} rows" if rows_only else f"{pred2.size} elements"
        if reduction == "sum":
            what = f"sum over {unit}"
        else:
            values = terms[:, 0].copy() if rows_only else terms.reshape(shape).copy()
            if rows_only and pred.ndim == 1:
                values = values.reshape(())
            what = f"none: one loss per {'row' if rows_only else 'element'} ({unit}); value and gradient are their sum's"
    if not (math.isfinite(value) and np.isfinite(grad).all()):  # not reachable within MAX_ABS_INPUT; kept as a guard
        raise EngineInputError("predictions", "the loss overflows float64 for these values")
    return LossResult(spec.name, value, grad.reshape(shape), r.params, (), reduction, what, values, onehot is not None)


# ---------------------------------------------------------------------------------------------
# Penalty curves: each loss as a function of one number
#
# Regression losses: x = error d = prediction − target, y = the loss of that one element
# (N = 1) and its derivative d loss / d d.
# Classification losses: x = p, the predicted probability of the true class, two classes,
# the true class labelled 1; y = the loss of that one sample and d loss / d p:
#   bce                         prediction p, target 1               −max(log p, −100)
#   bce_with_logits             logit z = log(p/(1 − p)), target 1   softplus(−z) = −log p
#   cross_entropy               probabilities [1 − p, p], one-hot [0, 1]     −max(log p, −100)
#   cross_entropy_with_logits   logits [0, z] (softmax = [1 − p, p]), targets [0, 1] smoothed to
#                               q' = [ε/2, 1 − ε/2]: −(1 − ε/2)·log p − (ε/2)·log(1 − p)
#   kl_div                      input log q = [log(1 − p), log p], target [0, 1]   −log p
#   hinge                       score s = z = log(p/(1 − p)), label +1   max(0, 1 − s)
# Points whose value or derivative is not finite (p = 1 with ε > 0) are left out of that curve.
# ---------------------------------------------------------------------------------------------


@kernel
def curve_point(code, p, a):
    """(loss, d loss / d p) of one sample whose true class has predicted probability p (see above)."""
    if code == BCE or code == CROSS_ENTROPY:
        lp = math.log(p)
        if lp > LOG_CLAMP:
            return 0.0 - lp, -1.0 / p  # 0.0 − lp: p = 1 gives 0.0, not −0.0
        return -LOG_CLAMP, 0.0  # the clamped log is flat
    if code == BCE_WITH_LOGITS or code == KL_DIV:
        # softplus(−z) with z = logit p, and KL([0, 1] ‖ [1 − p, p]), both equal −log p;  d/dp = −1/p
        return 0.0 - math.log(p), -1.0 / p
    if code == CROSS_ENTROPY_WITH_LOGITS:
        # −(1 − ε/2) log p − (ε/2) log(1 − p);  d/dp = −(1 − ε/2)/p + (ε/2)/(1 − p)
        w = 0.5 * a
        v = 0.0 - (1.0 - w) * math.log(p)
        g = -(1.0 - w) / p
        if w > 0.0:
            v -= w * math.log1p(-p)
            g += w / (1.0 - p)
        return v, g
    if code == HINGE:
        # s = log p − log(1 − p);  max(0, 1 − s);  d/dp = −ds/dp = −1/(p(1 − p)) where s < 1, else 0
        if p >= 1.0:
            return 0.0, 0.0
        v, gs = hinge_point(math.log(p) - math.log1p(-p), 1.0)
        return v, gs / (p * (1.0 - p))
    return math.nan, math.nan


@kernel
def loss_curve(code, lparams, x, value, deriv):
    """Fill value[i], deriv[i] for every x[i]: the error for regression codes, p for classification."""
    a = lparams[0]
    regression = code == MSE or code == MAE or code == HUBER or code == SMOOTH_L1 or code == LOG_COSH
    for i in range(x.shape[0]):
        if regression:
            value[i], deriv[i] = pointwise(code, x[i], 0.0, a)
        else:
            value[i], deriv[i] = curve_point(code, x[i], a)


_X_LABELS = {
    REGRESSION: "error (prediction − target)",
    CLASSIFICATION: "predicted probability of the true class",
}
_CONVENTIONS = {
    "mse": "loss of one element against its error d = prediction − target",
    "mae": "loss of one element against its error d = prediction − target",
    "huber": "loss of one element against its error d = prediction − target",
    "smooth_l1": "loss of one element against its error d = prediction − target",
    "log_cosh": "loss of one element against its error d = prediction − target",
    "bce": "prediction p, target 1",
    "bce_with_logits": "logit z = log(p/(1 − p)), target 1",
    "cross_entropy": "probabilities [1 − p, p], one-hot target [0, 1]",
    "cross_entropy_with_logits": "two classes: logits [0, z], z = log(p/(1 − p)); target [0, 1] smoothed by ε",
    "kl_div": "input log q = [log(1 − p), log p], target [0, 1]",
    "hinge": "score s = log(p/(1 − p)), label +1",
}


@resultclass(columns=True)
@dataclass(frozen=True, eq=False)
class LossCurve:
    """One penalty curve: value and derivative of one loss against one number x."""

    loss: str
    kind: str  # regression | classification
    x: np.ndarray
    value: np.ndarray
    derivative: np.ndarray  # d value / d x
    x_label: str
    convention: str  # how x becomes the loss's prediction and target
    params: dict
    omitted: int  # grid points left out because the value or derivative is not finite


@resultclass
@dataclass(frozen=True, eq=False)
class CurvesResult:
    curves: tuple[LossCurve, ...]
    points: int
    ignored: tuple[str, ...]  # always empty from the engine (refused); the service fills it for the HTTP echo
    x_range: tuple[float, float]  # regression curves
    p_range: tuple[float, float]  # classification curves


def _range(field: str, value, default, low: float, high: float, low_open: bool) -> tuple[float, float]:
    if value is None:
        return default
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise EngineInputError(field, "must be [low, high], two numbers") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and lo < hi):
        raise EngineInputError(field, "must be [low, high] with finite low < high")
    if (lo <= low if low_open else lo < low) or hi > high:
        raise EngineInputError(field, f"must lie within {'(' if low_open else '['}{low:g}, {high:g}]")
    return lo, hi


def loss_curves(
    losses: Sequence[str],
    points: int = 201,
    x_range: tuple[float, float] | None = None,
    p_range: tuple[float, float] | None = None,
    params: Mapping[str, float] | None = None,
) -> CurvesResult:
    """Penalty curves ("grading rubrics") of several losses, each with its own x axis.

    Regression losses are drawn against the error d = prediction − target over ``x_range``
    (default [−3, 3]); classification losses against the predicted probability of the true
    class p over ``p_range`` (default [0.01, 1], within (0, 1]); see the table above for how p
    becomes each loss's input. ``params`` (``delta``, ``beta``, ``label_smoothing``) go to
    every requested loss that takes them; one that no requested loss takes is refused.

    >>> c = engine.loss_curves(["mse", "huber"], points=3, params={"delta": 1.0})
    >>> c.curves[1].value.tolist()
    [2.5, 0.0, 2.5]
    """
    names = losses
    if isinstance(names, str) or not isinstance(names, (list, tuple)):
        raise EngineInputError("losses", "must be a list of loss names")
    if not names:
        raise EngineInputError("losses", "must name at least one loss")
    check_max("losses", len(names), "max_curve_losses")
    specs = [lookup(LOSSES, n, "losses") if isinstance(n, str) else lookup(LOSSES, None, "losses") for n in names]
    points = check_int("points", points, 2, "max_curve_points", integral_floats=False)
    xr = _range("x_range", x_range, (-3.0, 3.0), -1e6, 1e6, low_open=False)
    pr = _range("p_range", p_range, (0.01, 1.0), 0.0, 1.0, low_open=True)
    given = _check_params(params)
    taken = {p.name for s in specs for p in s.params}
    extra = [k for k in given if k not in taken]
    if extra:
        raise EngineInputError(f"params.{extra[0]}", f"none of the requested losses takes {extra[0]!r}")
    xs = {REGRESSION: np.linspace(xr[0], xr[1], int(points)), CLASSIFICATION: np.linspace(pr[0], pr[1], int(points))}
    curves = []
    for spec in specs:
        r = resolve_loss(spec.name, _split_params(spec, given))
        x = xs[spec.kind]
        value = np.empty_like(x)
        deriv = np.empty_like(x)
        loss_curve(r.code, r.lparams, x, value, deriv)
        keep = np.isfinite(value) & np.isfinite(deriv)
        omitted = int(x.size - keep.sum())
        if omitted:
            x, value, deriv = x[keep], value[keep], deriv[keep]
        curves.append(LossCurve(
            spec.name, spec.kind, x.copy(), value, deriv, _X_LABELS[spec.kind], _CONVENTIONS[spec.name],
            r.params, omitted,
        ))
    return CurvesResult(tuple(curves), int(points), (), xr, pr)


_REDUCTIONS = {
    CROSS_ENTROPY: "mean over rows of the per-row sum (a 1-D input is one sample)",
    CROSS_ENTROPY_WITH_LOGITS: "mean over rows of the per-row sum (a 1-D input is one sample)",
    KL_DIV: "batchmean: total sum / rows (a 1-D input is one sample)",
}


def describe() -> list[dict]:
    """Catalog entries: one per loss, with formula, derivative, parameters and input meanings."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "kind": s.kind,
            "formula": s.formula,
            "derivative": s.derivative,
            "parameters": [p.to_dict() for p in s.params],
            "predictions": s.predictions,
            "targets": s.targets,
            "reduction": _REDUCTIONS[s.code] if s.code in _REDUCTIONS else "mean over all elements",
            "torch": s.torch,
            "curve": {"x_label": _X_LABELS[s.kind], "convention": _CONVENTIONS[s.name]},
            "notes": s.notes,
        }
        for s in LOSSES.values()
    ]


def _warmup() -> None:
    for name, spec in LOSSES.items():
        pred = [[-0.5, -1.0]] if name == "kl_div" else [[0.25, 0.75]]
        targ = [[-1.0, 1.0]] if name == "hinge" else [[0.0, 1.0]]
        evaluate_loss(name, pred, targ)
        evaluate_loss(name, pred, targ, reduction="none")
    loss_curves(list(LOSSES), points=3)
