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

Every loop that clips (descent, training, gradient profiles) takes the request's ``clip`` through
``resolve_clip`` (``None``, ``{"max_norm": c}`` or ``{"max_value": c}`` -> a kernel code and its
threshold) and calls the one dispatch ``clip_gradient(kind, threshold, g, want_norm)`` in its loop.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from .results import resultclass
from ._jit import inline_kernel, kernel
from .errors import EngineInputError
from .registry import ParamSpec
from .validate import check_array, check_float

# clip_grad_norm / clip_grad_value / grad_norm are in-place kernels for the engine's loops (unchecked input);
# users call clip_by_norm / clip_by_value, which validate and return a new array.
__all__ = ["ClippedGradient", "clip_by_norm", "clip_by_value"]

CLIP_EPS = 1e-6  # torch clip_grad_norm_: coef = max_norm / (total_norm + 1e-6)

# kernel codes of a resolved clip, and the request key of each
CLIP_NONE, CLIP_NORM, CLIP_VALUE = 0, 1, 2
CLIP_KEYS = {"max_norm": CLIP_NORM, "max_value": CLIP_VALUE}


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


@inline_kernel
def clip_gradient(kind, threshold, g, want_norm):
    """Clip ``g`` in place as ``kind`` says (``CLIP_NONE`` / ``CLIP_NORM`` / ``CLIP_VALUE``); return ‖g‖₂
    BEFORE clipping (what ``clip_grad_norm_`` returns) when ``want_norm`` or when the clip computes it
    anyway, else 0. Pass ``want_norm`` as ``as_bool(...)``: a 2-D descent step that never reads the norm
    must not pay a square root for it (~10% of a step)."""
    if kind == CLIP_NORM:
        return clip_grad_norm(g, threshold)
    total = 0.0
    if want_norm:
        total = grad_norm(g)
    if kind == CLIP_VALUE:
        clip_grad_value(g, threshold)
    return total


def resolve_clip(clip, field: str = "clip") -> tuple[int, float]:
    """``None``, ``{"max_norm": c}`` (torch clip_grad_norm_) or ``{"max_value": c}`` (clip_grad_value_), c > 0,
    as ``(kind, threshold)`` for ``clip_gradient``. Keys whose value is None count as absent."""
    if clip is None:
        return CLIP_NONE, 0.0
    if not isinstance(clip, dict):
        raise EngineInputError(field, "must be an object: {'max_norm': c} or {'max_value': c}")
    clip = {k: v for k, v in clip.items() if v is not None}
    unknown = sorted(set(clip) - set(CLIP_KEYS))
    if unknown:
        raise EngineInputError(f"{field}.{unknown[0]}", "unknown field; accepted: max_norm, max_value")
    if len(clip) > 1:
        raise EngineInputError(field, "give exactly one of max_norm or max_value")
    if not clip:
        return CLIP_NONE, 0.0
    (key, value), = clip.items()
    return CLIP_KEYS[key], check_float(f"{field}.{key}", value, 0.0, strict=True)


@resultclass
@dataclass(frozen=True)
class ClippedGradient:
    """A clipped copy of a gradient and the norms around the clip."""

    grad: np.ndarray  # the clipped gradient (a new array)
    norm_before: float  # ‖g‖₂ before clipping (what clip_grad_norm_ returns)
    norm_after: float  # ‖g‖₂ after clipping
    clipped: bool  # whether any coordinate changed


def clip_by_norm(grad: ArrayLike, max_norm: float) -> ClippedGradient:
    """``torch.nn.utils.clip_grad_norm_(…, max_norm)`` on a copy of ``grad`` (a 1-D array; 2-norm).

    >>> engine.clip_by_norm(np.array([3.0, 4.0]), 1.0).grad.round(6).tolist()
    [0.6, 0.8]
    """
    a = check_array("grad", grad, ndim=(1,), limit="max_network_parameters")
    c = check_float("max_norm", max_norm, 0.0, strict=True)
    before = clip_grad_norm(a, c)
    return ClippedGradient(a, float(before), float(grad_norm(a)), bool(before + CLIP_EPS > c))


def clip_by_value(grad: ArrayLike, clip_value: float) -> ClippedGradient:
    """``torch.nn.utils.clip_grad_value_(…, clip_value)`` on a copy of ``grad`` (a 1-D array)."""
    a = check_array("grad", grad, ndim=(1,), limit="max_network_parameters")
    c = check_float("clip_value", clip_value, 0.0, strict=True)
    before = grad_norm(a)
    clipped = bool(np.any(np.abs(a) > c))
    clip_grad_value(a, c)
    return ClippedGradient(a, float(before), float(grad_norm(a)), clipped)


def describe() -> list[dict]:
    """Catalog entries for the two clipping modes (the request key and torch's function)."""
    return [
        {"name": "max_norm", "title": "Clip the gradient norm", "torch": "torch.nn.utils.clip_grad_norm_",
         "parameters": [ParamSpec("max_norm", None, 0.0, None, doc="the largest 2-norm kept (> 0)").to_dict()],
         "formula": "coef = min(1, max_norm/(‖g‖₂ + 1e-6)); g ← g·coef", "low": 0.0, "exclusive_low": True},
        {"name": "max_value", "title": "Clip each gradient entry", "torch": "torch.nn.utils.clip_grad_value_",
         "parameters": [ParamSpec("max_value", None, 0.0, None, doc="the largest |g_i| kept (> 0)").to_dict()],
         "formula": "g ← clamp(g, −c, c)", "low": 0.0, "exclusive_low": True},
    ]


def _warmup() -> None:
    for clip in ({"max_norm": 1.0}, {"max_value": 0.1}):
        kind, c = resolve_clip(clip)
        clip_by_norm([3.0, 4.0], c) if kind == CLIP_NORM else clip_by_value([3.0, 4.0], c)

