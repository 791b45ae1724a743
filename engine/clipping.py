"""Gradient clipping as torch.nn.utils does it: ``clip_grad_norm_`` and ``clip_grad_value_``.

Kernels (call them inside other kernels, in place, no allocation)::

    total = clip_grad_norm(g, max_norm)   # g *= min(1, max_norm/(‖g‖₂ + 1e-6)); returns ‖g‖₂ BEFORE clipping
    clip_grad_value(g, clip_value)        # g = clamp(g, −clip_value, clip_value)
    n = grad_norm(g)                      # ‖g‖₂

torch semantics kept on purpose: the ``+ 1e-6`` leaves a clipped gradient's norm slightly below
``max_norm`` (optax's ``clip_by_global_norm`` has no epsilon); torch multiplies by the clamped
coefficient always, so a non-finite norm gives coef 0 (or NaN) and zeroes (or NaNs) the gradient,
as torch does with ``error_if_nonfinite=False``. Only the 2-norm of one flat vector is offered (a
flat vector's norm is torch's global norm over all parameter tensors).

Public wrappers ``clip_by_norm`` / ``clip_by_value`` validate, copy and return a ``ClippedGradient``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ._jit import kernel
from .errors import EngineInputError

CLIP_EPS = 1e-6  # torch clip_grad_norm_: coef = max_norm / (total_norm + 1e-6)


@kernel
def grad_norm(g):
    """‖g‖₂ = √(Σ g_i²)."""
    s = 0.0
    for i in range(g.shape[0]):
        s += g[i] * g[i]
    return math.sqrt(s)


@kernel
def clip_grad_norm(g, max_norm):
    """torch ``clip_grad_norm_`` on one flat gradient, in place; returns the total norm before clipping.

    total = ‖g‖₂;  coef = min(max_norm/(total + 1e-6), 1);  g ← g·coef.
    """
    total = grad_norm(g)
    coef = max_norm / (total + CLIP_EPS)
    if coef > 1.0:
        coef = 1.0
    for i in range(g.shape[0]):
        g[i] = g[i] * coef
    return total


@kernel
def clip_grad_value(g, clip_value):
    """torch ``clip_grad_value_``, in place: g ← clamp(g, −clip_value, clip_value) (NaN stays NaN)."""
    for i in range(g.shape[0]):
        if g[i] > clip_value:
            g[i] = clip_value
        elif g[i] < -clip_value:
            g[i] = -clip_value


@dataclass(frozen=True)
class ClippedGradient:
    """A clipped copy of a gradient and the norms around the clip."""

    grad: np.ndarray  # the clipped gradient (a new array)
    norm_before: float  # ‖g‖₂ before clipping (what clip_grad_norm_ returns)
    norm_after: float  # ‖g‖₂ after clipping
    clipped: bool  # whether any coordinate changed


def _vector(g, field: str) -> np.ndarray:
    try:
        a = np.array(g, dtype=np.float64, copy=True)
    except (TypeError, ValueError):
        raise EngineInputError(field, "must be a list of numbers") from None
    if a.ndim != 1 or a.size == 0:
        raise EngineInputError(field, "must be a non-empty 1-D list of numbers")
    if not np.all(np.isfinite(a)):
        raise EngineInputError(field, "values must be finite")
    return np.ascontiguousarray(a)


def _positive(value, field: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating, np.integer)):
        raise EngineInputError(field, "must be a number")
    v = float(value)
    if not math.isfinite(v) or v <= 0.0:
        raise EngineInputError(field, "must be a finite number > 0")
    return v


def clip_by_norm(g, max_norm: float) -> ClippedGradient:
    """``torch.nn.utils.clip_grad_norm_(…, max_norm)`` on a copy of ``g`` (2-norm)."""
    a = _vector(g, "grad")
    c = _positive(max_norm, "max_norm")
    before = clip_grad_norm(a, c)
    return ClippedGradient(a, float(before), float(grad_norm(a)), bool(before + CLIP_EPS > c))


def clip_by_value(g, clip_value: float) -> ClippedGradient:
    """``torch.nn.utils.clip_grad_value_(…, clip_value)`` on a copy of ``g``."""
    a = _vector(g, "grad")
    c = _positive(clip_value, "clip_value")
    before = grad_norm(a)
    clipped = bool(np.any(np.abs(a) > c))
    clip_grad_value(a, c)
    return ClippedGradient(a, float(before), float(grad_norm(a)), clipped)


def describe() -> list[dict]:
    """Catalog entries for the two clipping modes (the request key and torch's function)."""
    return [
        {"name": "max_norm", "title": "Clip the gradient norm", "torch": "torch.nn.utils.clip_grad_norm_",
         "formula": "coef = min(1, max_norm/(‖g‖₂ + 1e-6)); g ← g·coef", "low": 0.0, "exclusive_low": True},
        {"name": "max_value", "title": "Clip each gradient entry", "torch": "torch.nn.utils.clip_grad_value_",
         "formula": "g ← clamp(g, −c, c)", "low": 0.0, "exclusive_low": True},
    ]


def _warmup() -> None:
    g = np.array([3.0, 4.0])
    clip_grad_norm(g, 1.0)
    clip_grad_value(g, 0.1)
    grad_norm(g)

