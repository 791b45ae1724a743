"""Activation functions: value and derivative side by side, with torch's conventions.

=============  ==========================================  =========================================  ==========
name           value f(x)                                  derivative f'(x)                           f'(0)
=============  ==========================================  =========================================  ==========
identity       x                                           1                                          1
sigmoid        σ(x) = 1/(1 + e^(−x))                       σ(x)(1 − σ(x))                             0.25
tanh           tanh x                                      1 − tanh² x                                1
relu           max(x, 0)                                   1 if x > 0 else 0                          0
leaky_relu     x if x > 0 else slope·x   (slope 0.01)      1 if x > 0 else slope                      slope
elu            x if x > 0 else α(e^x − 1)   (α 1)          1 if x > 0 else α·e^x                      α
gelu           x·Φ(x) = ½x(1 + erf(x/√2))   (exact)        Φ(x) + x·φ(x), φ(x) = e^(−x²/2)/√(2π)      0.5
softplus       log(1 + e^(βx))/β; x if βx > 20  (β 1)      σ(βx); 1 if βx > 20                        0.5
=============  ==========================================  =========================================  ==========

Derivatives at the kinks are torch's (``aten`` backward formulas): relu' (0) = 0,
leaky_relu'(0) = slope (the negative branch), elu'(0) = α·e⁰ = α (torch's ``x <= 0`` branch),
softplus switches to the identity strictly above the threshold (``βx > 20``), as torch.
gelu is torch's default ``approximate='none'`` form with ``math.erf``.

Kernels (called by the MLP's kernels; scalars in, scalars out, or arrays in place):

* ``activation_value(code, x, a)`` / ``activation_deriv(code, x, a)``: one element; ``a`` is the
  activation's one parameter (leaky_relu's slope, elu's α; ignored by the others).
* ``activate(code, a, s, out)``: out = f(s) over a 2-D block; ``activate_backward(code, a, s, g, out)``:
  out = g·f'(s), the chain rule through the activation; ``activate_backward_from_output(code, y, g, out)``
  the same for tanh/sigmoid from the saved output y = f(s) (1 − y², y(1 − y): f is not evaluated
  again, as torch's backward does). The common activations loop on their own there,
  so those loops vectorize (the MLP's forward+backward time halves for ReLU nets).

The registry ``ACTIVATIONS`` lists each with its formula and torch.nn.init's ``calculate_gain``
(None where torch has no gain for it: elu, gelu, softplus; init schemes then take a gain or
nonlinearity explicitly).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Mapping

import numpy as np
from numpy.typing import ArrayLike

from ._jit import kernel
from .errors import EngineInputError
from .registry import ParamSpec, lookup, resolve_params
from .validate import check_array
from .vecmath import sigmoid as vec_sigmoid
from .vecmath import tanh as vec_tanh

# activation_value / activation_deriv are kernels for the MLP's loops (unchecked input): internal.
__all__ = ["ACTIVATIONS", "evaluate_activation", "resolve_activation"]

# Integer codes (stable: the MLP's kernels dispatch on them)
IDENTITY = 0
SIGMOID = 1
TANH = 2
RELU = 3
LEAKY_RELU = 4
ELU = 5
GELU = 6
SOFTPLUS = 7

SOFTPLUS_BETA = 1.0  # torch.nn.Softplus defaults
SOFTPLUS_THRESHOLD = 20.0
_INV_SQRT2 = 1.0 / math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)


# ---------------------------------------------------------------------------------------------
# One function per activation: value and derivative next to each other
# ---------------------------------------------------------------------------------------------
@kernel
def sigmoid_value(x):
    # 1/(1 + e^(−x)) without overflow for either sign, in vecmath's arithmetic so loops vectorize
    return vec_sigmoid(x)


@kernel
def sigmoid_deriv(x):
    # σ(1 − σ)
    s = sigmoid_value(x)
    return s * (1.0 - s)


@kernel
def tanh_value(x):
    # vecmath's tanh (≤ 2 ulp from libm's) so that loops over it vectorize; see engine/vecmath.py
    return vec_tanh(x)


@kernel
def tanh_deriv(x):
    # 1 − tanh²
    t = vec_tanh(x)
    return 1.0 - t * t


@kernel
def relu_value(x):
    return x if x > 0.0 else 0.0


@kernel
def relu_deriv(x):
    # 0 at the kink, as torch (threshold_backward: x <= 0 → 0)
    return 1.0 if x > 0.0 else 0.0


@kernel
def leaky_relu_value(x, slope):
    return x if x > 0.0 else slope * x


@kernel
def leaky_relu_deriv(x, slope):
    # slope at the kink, as torch (x > 0 ? 1 : slope)
    return 1.0 if x > 0.0 else slope


@kernel
def elu_value(x, alpha):
    # α(e^x − 1) for x ≤ 0, via expm1 for accuracy near 0
    return x if x > 0.0 else alpha * math.expm1(x)


@kernel
def elu_deriv(x, alpha):
    # α·e^x for x ≤ 0 (torch's branch includes 0), 1 above
    return 1.0 if x > 0.0 else alpha * math.exp(x)


@kernel
def gelu_value(x):
    # x·Φ(x) = ½x(1 + erf(x/√2))
    return 0.5 * x * (1.0 + math.erf(x * _INV_SQRT2))


@kernel
def gelu_deriv(x):
    # Φ(x) + x·φ(x)
    return 0.5 * (1.0 + math.erf(x * _INV_SQRT2)) + x * _INV_SQRT_2PI * math.exp(-0.5 * x * x)


@kernel
def softplus_value(x):
    # log(1 + e^(βx))/β, the identity where βx > threshold (torch)
    bx = SOFTPLUS_BETA * x
    if bx > SOFTPLUS_THRESHOLD:
        return x
    return math.log1p(math.exp(bx)) / SOFTPLUS_BETA


@kernel
def softplus_deriv(x):
    # σ(βx); 1 where βx > threshold
    bx = SOFTPLUS_BETA * x
    if bx > SOFTPLUS_THRESHOLD:
        return 1.0
    return sigmoid_value(bx)


# ---------------------------------------------------------------------------------------------
# Dispatch on the integer code
# ---------------------------------------------------------------------------------------------
@kernel
def activation_value(code, x, a):
    """f(x) for activation ``code``; ``a`` = slope (leaky_relu) or α (elu), ignored otherwise."""
    if code == IDENTITY:
        return x
    if code == SIGMOID:
        return sigmoid_value(x)
    if code == TANH:
        return tanh_value(x)
    if code == RELU:
        return relu_value(x)
    if code == LEAKY_RELU:
        return leaky_relu_value(x, a)
    if code == ELU:
        return elu_value(x, a)
    if code == GELU:
        return gelu_value(x)
    if code == SOFTPLUS:
        return softplus_value(x)
    return math.nan


@kernel
def activation_deriv(code, x, a):
    """f'(x) for activation ``code`` (see the table above for the kinks)."""
    if code == IDENTITY:
        return 1.0
    if code == SIGMOID:
        return sigmoid_deriv(x)
    if code == TANH:
        return tanh_deriv(x)
    if code == RELU:
        return relu_deriv(x)
    if code == LEAKY_RELU:
        return leaky_relu_deriv(x, a)
    if code == ELU:
        return elu_deriv(x, a)
    if code == GELU:
        return gelu_deriv(x)
    if code == SOFTPLUS:
        return softplus_deriv(x)
    return math.nan


@kernel
def activate(code, a, s, out):
    """out[i, j] = f(s[i, j]) over 2-D blocks of the same shape (``out`` may be ``s``)."""
    # The common activations get loops of their own: a loop over the dispatching
    # ``activation_value`` does not vectorize (too large to inline since tanh is inlined
    # arithmetic), and costs ReLU nets about half their forward+backward time.
    n, m = s.shape
    if code == IDENTITY:
        for i in range(n):
            for j in range(m):
                out[i, j] = s[i, j]
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                out[i, j] = relu_value(s[i, j])
    elif code == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                out[i, j] = leaky_relu_value(s[i, j], a)
    elif code == TANH:
        for i in range(n):
            for j in range(m):
                out[i, j] = vec_tanh(s[i, j])
    elif code == SIGMOID:
        for i in range(n):
            for j in range(m):
                out[i, j] = vec_sigmoid(s[i, j])
    else:
        for i in range(n):
            for j in range(m):
                out[i, j] = activation_value(code, s[i, j], a)


@kernel
def activate_backward(code, a, s, g, out):
    """out[i, j] = g[i, j]·f'(s[i, j]): the gradient with respect to the activation's input
    (``out`` may be ``g``). Common activations loop on their own, as in ``activate``."""
    n, m = s.shape
    if code == IDENTITY:
        for i in range(n):
            for j in range(m):
                out[i, j] = g[i, j]
    elif code == RELU:
        for i in range(n):
            for j in range(m):
                out[i, j] = g[i, j] * relu_deriv(s[i, j])
    elif code == LEAKY_RELU:
        for i in range(n):
            for j in range(m):
                out[i, j] = g[i, j] * leaky_relu_deriv(s[i, j], a)
    else:
        for i in range(n):
            for j in range(m):
                out[i, j] = g[i, j] * activation_deriv(code, s[i, j], a)


@kernel
def activate_backward_from_output(code, y, g, out):
    """out = g·f'(s) for tanh (1 − y²) and sigmoid (y(1 − y)) from the saved output y = f(s), as
    torch's ``tanh_backward``/``sigmoid_backward`` do (``out`` may be ``g``)."""
    n, m = y.shape
    if code == TANH:
        for i in range(n):
            for j in range(m):
                out[i, j] = g[i, j] * (1.0 - y[i, j] * y[i, j])
    else:
        for i in range(n):
            for j in range(m):
                out[i, j] = g[i, j] * (y[i, j] * (1.0 - y[i, j]))


@kernel
def _curve(code, a, x, value, deriv):
    for i in range(x.shape[0]):
        value[i] = activation_value(code, x[i], a)
        deriv[i] = activation_deriv(code, x[i], a)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ActivationSpec:
    """One activation: formula, derivative, parameter, and torch.nn.init's gain for it."""

    name: str
    code: int
    title: str
    formula: str
    derivative: str
    torch: str
    gain: float | None  # torch.nn.init.calculate_gain(name) (default parameter); None if torch has none
    deriv_at_zero: float  # f'(0), the convention at a kink
    params: tuple[ParamSpec, ...] = ()
    notes: str = ""


ACTIVATIONS: dict[str, ActivationSpec] = {
    "identity": ActivationSpec(
        "identity", IDENTITY, "Identity (linear)", "x", "1", "nn.Identity", 1.0, 1.0,
    ),
    "sigmoid": ActivationSpec(
        "sigmoid", SIGMOID, "Sigmoid", "1/(1 + e^(−x))", "σ(x)(1 − σ(x)), at most 0.25", "nn.Sigmoid", 1.0, 0.25,
        notes="Its derivative never exceeds 0.25: the classic cause of vanishing gradients in deep nets.",
    ),
    "tanh": ActivationSpec(
        "tanh", TANH, "Hyperbolic tangent", "tanh x", "1 − tanh² x", "nn.Tanh", 5.0 / 3.0, 1.0,
    ),
    "relu": ActivationSpec(
        "relu", RELU, "ReLU", "max(x, 0)", "1 if x > 0 else 0 (0 at x = 0)", "nn.ReLU", math.sqrt(2.0), 0.0,
    ),
    "leaky_relu": ActivationSpec(
        "leaky_relu", LEAKY_RELU, "Leaky ReLU", "x if x > 0 else slope·x", "1 if x > 0 else slope (slope at 0)",
        "nn.LeakyReLU(negative_slope)", math.sqrt(2.0 / (1.0 + 0.01**2)), 0.01,
        params=(ParamSpec("negative_slope", 0.01, 0.0, 1.0, doc="slope for x ≤ 0 (torch default 0.01)"),),
        notes="Gain √(2/(1 + slope²)) for the default slope 0.01.",
    ),
    "elu": ActivationSpec(
        "elu", ELU, "ELU", "x if x > 0 else α(e^x − 1)", "1 if x > 0 else α·e^x (α at 0)", "nn.ELU(alpha)", None, 1.0,
        params=(ParamSpec("alpha", 1.0, 0.0, 10.0, doc="saturation value −α for x → −∞ (torch default 1)"),),
        notes="torch.nn.init.calculate_gain has no entry for elu.",
    ),
    "gelu": ActivationSpec(
        "gelu", GELU, "GELU (exact)", "x·Φ(x) = ½x(1 + erf(x/√2))", "Φ(x) + x·φ(x)", "nn.GELU() (approximate='none')",
        None, 0.5, notes="torch.nn.init.calculate_gain has no entry for gelu.",
    ),
    "softplus": ActivationSpec(
        "softplus", SOFTPLUS, "Softplus", "log(1 + e^x); x where x > 20", "σ(x); 1 where x > 20",
        "nn.Softplus(beta=1, threshold=20)", None, 0.5,
        notes="β = 1 and threshold 20 fixed (torch defaults); calculate_gain has no entry for softplus.",
    ),
}


@dataclass(frozen=True)
class ResolvedActivation:
    name: str
    code: int
    param: float  # the one parameter the kernels take (slope or α; 0 when the activation has none)
    params: dict  # resolved parameters by name, defaults included


def resolve_activation(activation: str, params: Mapping[str, float] | None = None,
                       field: str | None = None) -> ResolvedActivation:
    """Look ``activation`` up in ACTIVATIONS and resolve its parameter.

    Errors name ``activation`` and ``params.<name>``; a caller that took them under other names passes
    ``field`` (the MLP's ``output_activation``: its parameters are then ``output_activation_params``).

    >>> engine.resolve_activation("leaky_relu", {"negative_slope": 0.1}).param
    0.1
    """
    name = activation
    if field is not None and not isinstance(field, str):
        raise EngineInputError("field", "must be a string")
    pfield = "params" if field is None else f"{field}_params"
    field = "activation" if field is None else field
    if not isinstance(name, str):
        raise EngineInputError(field, f"must be an activation name; choose one of: {', '.join(ACTIVATIONS)}")
    spec = lookup(ACTIVATIONS, name, field)
    if params is not None and not isinstance(params, Mapping):
        raise EngineInputError(pfield, "must be an object of parameter values")
    resolved = resolve_params(spec.params, params, pfield)
    param = float(resolved[spec.params[0].name]) if spec.params else 0.0
    return ResolvedActivation(spec.name, spec.code, param, resolved)


@dataclass(frozen=True, eq=False)
class ActivationCurve:
    name: str
    x: np.ndarray
    value: np.ndarray
    derivative: np.ndarray
    params: dict


def evaluate_activation(activation: str, x: ArrayLike, params: Mapping[str, float] | None = None) -> ActivationCurve:
    """f(x) and f'(x) of one activation at the given points (a 1-D array of finite numbers).

    >>> c = engine.evaluate_activation("relu", [-1.0, 0.0, 2.0])
    >>> c.value.tolist(), c.derivative.tolist()
    ([0.0, 0.0, 2.0], [0.0, 0.0, 1.0])
    """
    act = resolve_activation(activation, params)
    xs = check_array("x", x, ndim=(1,), limit="max_curve_points")
    value = np.empty_like(xs)
    deriv = np.empty_like(xs)
    _curve(act.code, act.param, xs, value, deriv)
    return ActivationCurve(act.name, xs, value, deriv, act.params)


def describe() -> list[dict]:
    """Catalog entries: formula, derivative, torch module, init gain and the derivative at 0."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "formula": s.formula,
            "derivative": s.derivative,
            "derivative_at_zero": s.deriv_at_zero,
            "torch": s.torch,
            "gain": s.gain,
            "parameters": [p.to_dict() for p in s.params],
            "notes": s.notes,
        }
        for s in ACTIVATIONS.values()
    ]


def _warmup() -> None:
    s = np.array([[-1.0, 0.5]])
    out = np.empty_like(s)
    for spec in ACTIVATIONS.values():
        activate(spec.code, 0.01, s, out)
        activate_backward(spec.code, 0.01, s, s, out)
    evaluate_activation("gelu", [0.0, 1.0])
