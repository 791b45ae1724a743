"""Built-in 2-D loss surfaces: value, analytic gradient and analytic Hessian, side by side.

Every surface is a function ``f(x, y)`` of the two plane coordinates plus a packed float64
parameter array ``p``. A kernel that evaluates a surface takes it whole, as one ``SurfaceArgs``
NamedTuple ``(code, p, ops, consts)``, and calls the three dispatchers below, which branch on the
small integer ``code``: no kernel takes a function argument, so every caller stays cacheable::

    s = resolve_surface("rosenbrock").args
    f, gx, gy = surface_grad(s, -1.0, 1.0)

**The one dispatch.** ``surface_value``, ``surface_grad`` and ``surface_hessian`` are the only
places that choose a formula from a code (the grid sweep in ``engine.landscape`` unrolls the same
table for speed and falls back to ``surface_grad`` for any other code). A new kind of surface (a
formula compiled to a bytecode program: ``ops`` int64 + ``consts`` float64, empty for the built-ins)
is one more code and one more branch in each of the three, and every descent, grid, Newton and basin
kernel evaluates it unchanged.

Each surface also has its own small kernels ``<name>_fg(p, x, y) -> (f, gx, gy)`` and
``<name>_h(p, x, y) -> (hxx, hxy, hyy)`` (``rastrigin`` and ``ackley`` add ``<name>_fg_trig``,
taking cos/sin of 2πx and 2πy precomputed); the three dispatchers call them. A loop that
calls one of them directly gets it inlined; the grid sweep in ``engine.landscape`` does so.

``resolve_surface(name, params)`` turns a registry name and user parameters into a
``Surface`` (code, packed ``p``, default plotting domain, known minima for those params).
The registry ``SURFACES`` describes each one (formula, parameters, domain, published
stationary points); ``describe()`` is its catalog section.

Conventions
-----------
* The plane coordinates are always called ``x`` (columns of a grid) and ``y`` (rows).
  For ``linear_regression`` they are the weight ``w`` and the bias ``b`` of ŷ = w·x + b.
* Gradients and Hessians are exact derivatives of the value (checked in
  ``tests/test_surfaces.py`` against centred finite differences). The Hessian is returned
  as its three distinct entries ``(hxx, hxy, hyy)``.
* Ackley is not differentiable at the origin (a cone point). There we return the
  subgradient 0 and, for the Hessian, only the curvature of the smooth cosine term (the
  cone's tangential curvature diverges like 1/r); so the origin classifies as the minimum
  it is. Points closer than 1e-150 to the origin are treated as the origin for the Hessian.
"""

from __future__ import annotations

import difflib
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, NamedTuple

import numpy as np

from ._jit import inline_kernel, kernel
from .errors import EngineInputError, field_prefix
from .expression import Formula, resolve_formula
from .formula import formula_grad, formula_hessian, formula_value
from .limits import LIMITS, check_max
from .registry import ParamSpec, lookup, resolve_params
from .validate import Domain as DomainArg, check_interval  # what a caller may pass; Domain below: resolved

# surface_value / surface_grad / surface_hessian are kernels for the engine's own loops (unchecked input);
# users evaluate a surface through landscape_grid / landscape_slice, which validate first.
__all__ = ["SURFACES", "Surface", "SurfaceArgs", "SurfaceSpec", "resolve_surface"]

# ---------------------------------------------------------------------------------------------
# Integer codes (stable: other kernels dispatch on them)
# ---------------------------------------------------------------------------------------------
QUADRATIC = 0
ROSENBROCK = 1
BEALE = 2
BOOTH = 3
MATYAS = 4
HIMMELBLAU = 5
RASTRIGIN = 6
ACKLEY = 7
GOLDSTEIN_PRICE = 8
SIX_HUMP_CAMEL = 9
SADDLE = 10
MONKEY_SADDLE = 11
VALLEY = 12
LINEAR_REGRESSION = 13
# Not in the registry: f* + ½ dᵀHd with d = (x − x*, y − y*), p = [hxx, hxy, hyy, x*, y*, f*]. The landscape
# evaluates linear_regression through it (exact, O(1) per point instead of O(n): see engine.landscape).
QUADRATIC_FORM = 14
# A formula typed by the user (``resolve_surface`` with any string that is not a registry name): ``ops`` and
# ``consts`` hold its program (``engine.expression``), ``p`` its parameter values; ``engine.formula`` runs it.
FORMULA = 15


class SurfaceArgs(NamedTuple):
    """A surface as every kernel receives it (``Surface.args``)."""

    code: int  # which formula: one of the codes above
    p: np.ndarray  # float64 packed parameters, C-contiguous, size >= 1 (table below)
    ops: np.ndarray  # int64 program of a FORMULA surface (engine.formula's layout); empty for the built-ins
    consts: np.ndarray  # float64 literals of that program; empty for the built-ins


_NO_OPS = np.zeros(0, dtype=np.int64)
_NO_CONSTS = np.zeros(0, dtype=np.float64)


def builtin_args(code: int, p: np.ndarray) -> SurfaceArgs:
    """``SurfaceArgs`` of a built-in formula (no program)."""
    return SurfaceArgs(int(code), np.ascontiguousarray(p, dtype=np.float64), _NO_OPS, _NO_CONSTS)

_TWO_PI = 2.0 * math.pi
_PI2 = math.pi * math.pi
_E = math.e
_SQRT_HALF = math.sqrt(0.5)


# ---------------------------------------------------------------------------------------------
# Kernels: one small function per surface returning (f, ∂f/∂x, ∂f/∂y), next to its Hessian
# (∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²). They are small so LLVM inlines them into the loops that call
# them (the grid sweep), where unused gradient terms are then dead code. The public
# ``surface_value/grad/hessian`` dispatch on the code.
#
# Packed parameters per code:
#   QUADRATIC          p = [hxx, hxy, hyy]            (the constant Hessian H; f = ½ [x y] H [x y]ᵀ)
#   ROSENBROCK         p = [a, b]
#   RASTRIGIN          p = [A]
#   VALLEY             p = [tilt, width, bend]
#   LINEAR_REGRESSION  p = [x_0 .. x_{n-1}, y_0 .. y_{n-1}]   (n = p.size // 2)
#   QUADRATIC_FORM     p = [hxx, hxy, hyy, x*, y*, f*]
#   every other code   p = [0.0] (unused)
# ---------------------------------------------------------------------------------------------


@kernel
def quadratic_fg(p, x, y):
    # f = ½(hxx x² + 2 hxy xy + hyy y²);  ∇f = H [x y]ᵀ
    gx = p[0] * x + p[1] * y
    gy = p[1] * x + p[2] * y
    return 0.5 * (gx * x + gy * y), gx, gy


@kernel
def quadratic_h(p, x, y):
    return p[0], p[1], p[2]


@kernel
def rosenbrock_fg(p, x, y):
    # f = (a − x)² + b (y − x²)²;  ∂x = −2(a − x) − 4b x (y − x²);  ∂y = 2b (y − x²)
    u = p[0] - x
    v = y - x * x
    return u * u + p[1] * v * v, -2.0 * u - 4.0 * p[1] * x * v, 2.0 * p[1] * v


@kernel
def rosenbrock_h(p, x, y):
    # hxx = 2 − 4b y + 12b x²;  hxy = −4b x;  hyy = 2b
    b = p[1]
    return 2.0 - 4.0 * b * y + 12.0 * b * x * x, -4.0 * b * x, 2.0 * b


@kernel
def beale_fg(p, x, y):
    # f = Σ tᵢ², t₁ = 1.5 − x + xy, t₂ = 2.25 − x + xy², t₃ = 2.625 − x + xy³
    # ∂ = 2 Σ tᵢ ∂tᵢ with ∂x tᵢ = yⁱ − 1, ∂y tᵢ = i x yⁱ⁻¹
    y2 = y * y
    y3 = y2 * y
    t1 = 1.5 - x + x * y
    t2 = 2.25 - x + x * y2
    t3 = 2.625 - x + x * y3
    gx = 2.0 * (t1 * (y - 1.0) + t2 * (y2 - 1.0) + t3 * (y3 - 1.0))
    gy = 2.0 * (t1 * x + t2 * 2.0 * x * y + t3 * 3.0 * x * y2)
    return t1 * t1 + t2 * t2 + t3 * t3, gx, gy


@kernel
def beale_h(p, x, y):
    # hxx = 2 Σ (∂x tᵢ)²;  hxy = 2 Σ (∂x tᵢ ∂y tᵢ + tᵢ ∂xy tᵢ);  hyy = 2 Σ ((∂y tᵢ)² + tᵢ ∂yy tᵢ)
    # with ∂xy t = (1, 2y, 3y²) and ∂yy t = (0, 2x, 6xy)
    y2 = y * y
    y3 = y2 * y
    t1 = 1.5 - x + x * y
    t2 = 2.25 - x + x * y2
    t3 = 2.625 - x + x * y3
    ax1 = y - 1.0
    ax2 = y2 - 1.0
    ax3 = y3 - 1.0
    ay1 = x
    ay2 = 2.0 * x * y
    ay3 = 3.0 * x * y2
    hxx = 2.0 * (ax1 * ax1 + ax2 * ax2 + ax3 * ax3)
    hxy = 2.0 * (ax1 * ay1 + t1 + ax2 * ay2 + t2 * 2.0 * y + ax3 * ay3 + t3 * 3.0 * y2)
    hyy = 2.0 * (ay1 * ay1 + ay2 * ay2 + t2 * 2.0 * x + ay3 * ay3 + t3 * 6.0 * x * y)
    return hxx, hxy, hyy


@kernel
def booth_fg(p, x, y):
    # f = u² + v², u = x + 2y − 7, v = 2x + y − 5;  ∂x = 2u + 4v;  ∂y = 4u + 2v
    u = x + 2.0 * y - 7.0
    v = 2.0 * x + y - 5.0
    return u * u + v * v, 2.0 * u + 4.0 * v, 4.0 * u + 2.0 * v


@kernel
def booth_h(p, x, y):
    return 10.0, 8.0, 10.0


@kernel
def matyas_fg(p, x, y):
    # f = 0.26 (x² + y²) − 0.48 xy;  ∂x = 0.52x − 0.48y;  ∂y = 0.52y − 0.48x
    return 0.26 * (x * x + y * y) - 0.48 * x * y, 0.52 * x - 0.48 * y, 0.52 * y - 0.48 * x


@kernel
def matyas_h(p, x, y):
    return 0.52, -0.48, 0.52


@kernel
def himmelblau_fg(p, x, y):
    # f = u² + v², u = x² + y − 11, v = x + y² − 7;  ∂x = 4x u + 2v;  ∂y = 2u + 4y v
    u = x * x + y - 11.0
    v = x + y * y - 7.0
    return u * u + v * v, 4.0 * x * u + 2.0 * v, 2.0 * u + 4.0 * y * v


@kernel
def himmelblau_h(p, x, y):
    # hxx = 12x² + 4y − 42;  hxy = 4(x + y);  hyy = 4x + 12y² − 26
    return 12.0 * x * x + 4.0 * y - 42.0, 4.0 * (x + y), 4.0 * x + 12.0 * y * y - 26.0


@kernel
def rastrigin_fg(p, x, y):
    # f = 2A + x² − A cos 2πx + y² − A cos 2πy;  ∂x = 2x + 2πA sin 2πx
    tx = _TWO_PI * x
    ty = _TWO_PI * y
    return rastrigin_fg_trig(p, x, y, math.cos(tx), math.sin(tx), math.cos(ty), math.sin(ty))


@kernel
def rastrigin_fg_trig(p, x, y, cx, sx, cy, sy):
    """rastrigin_fg from cx, sx = cos 2πx, sin 2πx and cy, sy = cos 2πy, sin 2πy (a grid sweep computes
    them once per column and once per row instead of once per cell)."""
    a = p[0]
    return 2.0 * a + x * x - a * cx + y * y - a * cy, 2.0 * x + _TWO_PI * a * sx, 2.0 * y + _TWO_PI * a * sy


@kernel
def rastrigin_h(p, x, y):
    # hxx = 2 + 4π²A cos 2πx;  hxy = 0
    k = 4.0 * _PI2 * p[0]
    return 2.0 + k * math.cos(_TWO_PI * x), 0.0, 2.0 + k * math.cos(_TWO_PI * y)


@kernel
def ackley_fg(p, x, y):
    # f = −20 e^{−0.2r} − e^{h} + e + 20, r = √(½(x² + y²)), h = ½(cos 2πx + cos 2πy)
    # ∂x = 2x e^{−0.2r}/r + π sin(2πx) e^{h}; the cone term contributes 0 at r = 0 (subgradient)
    tx = _TWO_PI * x
    ty = _TWO_PI * y
    cx = math.cos(tx)
    cy = math.cos(ty)
    return ackley_fg_trig(p, x, y, cx, math.sin(tx), math.exp(0.5 * cx), cy, math.sin(ty), math.exp(0.5 * cy))


@kernel
def ackley_fg_trig(p, x, y, cx, sx, ex, cy, sy, ey):
    """ackley_fg from cx, sx, ex = cos 2πx, sin 2πx, exp(½ cos 2πx) and the same for y
    (see rastrigin_fg_trig); e^{h} is computed as the product ex·ey."""
    s = x * x + y * y
    if s > 1e-300:
        r = math.sqrt(0.5 * s)
    else:  # x² may have underflowed next to the origin
        r = math.hypot(x, y) * _SQRT_HALF
    e1 = math.exp(-0.2 * r)
    e2 = ex * ey
    gx = math.pi * sx * e2
    gy = math.pi * sy * e2
    if r > 0.0:
        gx += 2.0 * x * e1 / r
        gy += 2.0 * y * e1 / r
    return -20.0 * e1 - e2 + _E + 20.0, gx, gy


@kernel
def ackley_h(p, x, y):
    # smooth term −e^{h}: hxx = e^{h}(2π² cos 2πx − π² sin² 2πx);  hxy = −π² sin 2πx sin 2πy e^{h}
    # cone term −20 e^{−0.2r}, with ρ² = x² + y²:
    #   hxx = 2e^{−0.2r}(y²/(ρ² r) − 0.2 x²/ρ²);  hxy = −2e^{−0.2r} xy/ρ² (0.2 + 1/r)
    # (diverges like 1/r: left out for r ≤ 1e-150, see the module docstring)
    sx = math.sin(_TWO_PI * x)
    sy = math.sin(_TWO_PI * y)
    cx = math.cos(_TWO_PI * x)
    cy = math.cos(_TWO_PI * y)
    e2 = math.exp(0.5 * (cx + cy))
    hxx = e2 * (2.0 * _PI2 * cx - _PI2 * sx * sx)
    hyy = e2 * (2.0 * _PI2 * cy - _PI2 * sy * sy)
    hxy = -_PI2 * sx * sy * e2
    rho2 = x * x + y * y
    r = math.sqrt(0.5 * rho2)
    if r > 1e-150:
        e1 = math.exp(-0.2 * r)
        hxx += 2.0 * e1 * (y * y / (rho2 * r) - 0.2 * x * x / rho2)
        hyy += 2.0 * e1 * (x * x / (rho2 * r) - 0.2 * y * y / rho2)
        hxy -= 2.0 * e1 * (x * y / rho2) * (0.2 + 1.0 / r)
    return hxx, hxy, hyy


@kernel
def goldstein_price_fg(p, x, y):
    # f = A(s)·C(w) with s = x + y, w = 2x − 3y:
    #   A = 1 + (s+1)² B, B = 19 − 14s + 3s²   (= 1 + (x+y+1)²(19 − 14x + 3x² − 14y + 6xy + 3y²))
    #   C = 30 + w² D,    D = 18 − 16w + 3w²   (= 30 + (2x−3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²))
    # ∂x = A'C + 2AC';  ∂y = A'C − 3AC'  with A' = 2(s+1)B + (s+1)²(6s − 14), C' = 2wD + w²(6w − 16)
    s = x + y
    w = 2.0 * x - 3.0 * y
    u = s + 1.0
    b = 19.0 - 14.0 * s + 3.0 * s * s
    d = 18.0 - 16.0 * w + 3.0 * w * w
    ca = 1.0 + u * u * b
    cc = 30.0 + w * w * d
    da = 2.0 * u * b + u * u * (6.0 * s - 14.0)
    dc = 2.0 * w * d + w * w * (6.0 * w - 16.0)
    return ca * cc, da * cc + 2.0 * ca * dc, da * cc - 3.0 * ca * dc


@kernel
def goldstein_price_h(p, x, y):
    # hxx = A''C + 4A'C' + 4AC'';  hxy = A''C − A'C' − 6AC'';  hyy = A''C − 6A'C' + 9AC''
    # A'' = 2B + 4(s+1)(6s − 14) + 6(s+1)²;  C'' = 2D + 4w(6w − 16) + 6w²
    s = x + y
    w = 2.0 * x - 3.0 * y
    u = s + 1.0
    b = 19.0 - 14.0 * s + 3.0 * s * s
    d = 18.0 - 16.0 * w + 3.0 * w * w
    ca = 1.0 + u * u * b
    cc = 30.0 + w * w * d
    da = 2.0 * u * b + u * u * (6.0 * s - 14.0)
    dc = 2.0 * w * d + w * w * (6.0 * w - 16.0)
    dda = 2.0 * b + 4.0 * u * (6.0 * s - 14.0) + 6.0 * u * u
    ddc = 2.0 * d + 4.0 * w * (6.0 * w - 16.0) + 6.0 * w * w
    return (dda * cc + 4.0 * da * dc + 4.0 * ca * ddc,
            dda * cc - da * dc - 6.0 * ca * ddc,
            dda * cc - 6.0 * da * dc + 9.0 * ca * ddc)


@kernel
def six_hump_camel_fg(p, x, y):
    # f = (4 − 2.1x² + x⁴/3) x² + xy + (−4 + 4y²) y²;  ∂x = 8x − 8.4x³ + 2x⁵ + y;  ∂y = x − 8y + 16y³
    x2 = x * x
    y2 = y * y
    f = (4.0 - 2.1 * x2 + x2 * x2 / 3.0) * x2 + x * y + (-4.0 + 4.0 * y2) * y2
    return f, 8.0 * x - 8.4 * x2 * x + 2.0 * x2 * x2 * x + y, x - 8.0 * y + 16.0 * y2 * y


@kernel
def six_hump_camel_h(p, x, y):
    # hxx = 8 − 25.2x² + 10x⁴;  hxy = 1;  hyy = −8 + 48y²
    x2 = x * x
    return 8.0 - 25.2 * x2 + 10.0 * x2 * x2, 1.0, -8.0 + 48.0 * y * y


@kernel
def saddle_fg(p, x, y):
    # f = x² − y²
    return x * x - y * y, 2.0 * x, -2.0 * y


@kernel
def saddle_h(p, x, y):
    return 2.0, 0.0, -2.0


@kernel
def monkey_saddle_fg(p, x, y):
    # f = x³ − 3xy²;  ∂x = 3x² − 3y²;  ∂y = −6xy
    return x * x * x - 3.0 * x * y * y, 3.0 * x * x - 3.0 * y * y, -6.0 * x * y


@kernel
def monkey_saddle_h(p, x, y):
    return 6.0 * x, -6.0 * y, -6.0 * x


@kernel
def valley_fg(p, x, y):
    # f = (x² − 1)² − tilt·x + width·u², u = y − bend·x²
    # ∂x = 4x(x² − 1) − tilt − 4·width·bend·x·u;  ∂y = 2·width·u
    q = x * x - 1.0
    u = y - p[2] * x * x
    return q * q - p[0] * x + p[1] * u * u, 4.0 * x * q - p[0] - 4.0 * p[1] * p[2] * x * u, 2.0 * p[1] * u


@kernel
def valley_h(p, x, y):
    # hxx = 12x² − 4 − 4·width·bend·u + 8·width·bend²·x²;  hxy = −4·width·bend·x;  hyy = 2·width
    w = p[1]
    k = p[2]
    u = y - k * x * x
    return 12.0 * x * x - 4.0 - 4.0 * w * k * u + 8.0 * w * k * k * x * x, -4.0 * w * k * x, 2.0 * w


@kernel
def linear_regression_fg(p, x, y):
    # f(w, b) = (1/n) Σ rᵢ², rᵢ = w xᵢ + b − yᵢ;  ∂w = (2/n) Σ rᵢ xᵢ;  ∂b = (2/n) Σ rᵢ
    n = p.size // 2
    acc = 0.0
    sw = 0.0
    sb = 0.0
    for i in range(n):
        xi = p[i]
        r = x * xi + y - p[n + i]
        acc += r * r
        sw += r * xi
        sb += r
    return acc / n, 2.0 * sw / n, 2.0 * sb / n


@kernel
def linear_regression_h(p, x, y):
    # hxx = (2/n) Σ xᵢ²;  hxy = (2/n) Σ xᵢ;  hyy = 2
    n = p.size // 2
    sxx = 0.0
    sx = 0.0
    for i in range(n):
        xi = p[i]
        sxx += xi * xi
        sx += xi
    return 2.0 * sxx / n, 2.0 * sx / n, 2.0


@kernel
def quadratic_form_fg(p, x, y):
    # f = f* + ½ dᵀHd, d = (x − x*, y − y*);  ∇f = H d
    dx = x - p[3]
    dy = y - p[4]
    gx = p[0] * dx + p[1] * dy
    gy = p[1] * dx + p[2] * dy
    return p[5] + 0.5 * (gx * dx + gy * dy), gx, gy


@kernel
def quadratic_form_h(p, x, y):
    return p[0], p[1], p[2]


# The one dispatch (module docstring): a new code is one more branch in each of the three. Inlined into
# each caller: passing the SurfaceArgs NamedTuple (three arrays) to a call on every descent step cost ~8%.


@inline_kernel
def surface_grad(s, x, y):
    """(f, ∂f/∂x, ∂f/∂y) of surface ``s`` (a ``SurfaceArgs``) at (x, y)."""
    code = s.code
    p = s.p
    if code == QUADRATIC:
        return quadratic_fg(p, x, y)
    if code == ROSENBROCK:
        return rosenbrock_fg(p, x, y)
    if code == BEALE:
        return beale_fg(p, x, y)
    if code == BOOTH:
        return booth_fg(p, x, y)
    if code == MATYAS:
        return matyas_fg(p, x, y)
    if code == HIMMELBLAU:
        return himmelblau_fg(p, x, y)
    if code == RASTRIGIN:
        return rastrigin_fg(p, x, y)
    if code == ACKLEY:
        return ackley_fg(p, x, y)
    if code == GOLDSTEIN_PRICE:
        return goldstein_price_fg(p, x, y)
    if code == SIX_HUMP_CAMEL:
        return six_hump_camel_fg(p, x, y)
    if code == SADDLE:
        return saddle_fg(p, x, y)
    if code == MONKEY_SADDLE:
        return monkey_saddle_fg(p, x, y)
    if code == VALLEY:
        return valley_fg(p, x, y)
    if code == LINEAR_REGRESSION:
        return linear_regression_fg(p, x, y)
    if code == QUADRATIC_FORM:
        return quadratic_form_fg(p, x, y)
    if code == FORMULA:  # one call into the stack machine (not inlined: it is compiled once, in engine.formula)
        return formula_grad(s.ops, s.consts, p, x, y)
    return math.nan, math.nan, math.nan


@inline_kernel
def surface_value(s, x, y):
    """f(x, y) of surface ``s`` (the gradient terms are dead code once inlined)."""
    code = s.code
    p = s.p
    if code == QUADRATIC:
        return quadratic_fg(p, x, y)[0]
    if code == ROSENBROCK:
        return rosenbrock_fg(p, x, y)[0]
    if code == BEALE:
        return beale_fg(p, x, y)[0]
    if code == BOOTH:
        return booth_fg(p, x, y)[0]
    if code == MATYAS:
        return matyas_fg(p, x, y)[0]
    if code == HIMMELBLAU:
        return himmelblau_fg(p, x, y)[0]
    if code == RASTRIGIN:
        return rastrigin_fg(p, x, y)[0]
    if code == ACKLEY:
        return ackley_fg(p, x, y)[0]
    if code == GOLDSTEIN_PRICE:
        return goldstein_price_fg(p, x, y)[0]
    if code == SIX_HUMP_CAMEL:
        return six_hump_camel_fg(p, x, y)[0]
    if code == SADDLE:
        return saddle_fg(p, x, y)[0]
    if code == MONKEY_SADDLE:
        return monkey_saddle_fg(p, x, y)[0]
    if code == VALLEY:
        return valley_fg(p, x, y)[0]
    if code == LINEAR_REGRESSION:
        return linear_regression_fg(p, x, y)[0]
    if code == QUADRATIC_FORM:
        return quadratic_form_fg(p, x, y)[0]
    if code == FORMULA:
        return formula_value(s.ops, s.consts, p, x, y)
    return math.nan


@inline_kernel
def surface_hessian(s, x, y):
    """(∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²) of surface ``s`` at (x, y)."""
    code = s.code
    p = s.p
    if code == QUADRATIC:
        return quadratic_h(p, x, y)
    if code == ROSENBROCK:
        return rosenbrock_h(p, x, y)
    if code == BEALE:
        return beale_h(p, x, y)
    if code == BOOTH:
        return booth_h(p, x, y)
    if code == MATYAS:
        return matyas_h(p, x, y)
    if code == HIMMELBLAU:
        return himmelblau_h(p, x, y)
    if code == RASTRIGIN:
        return rastrigin_h(p, x, y)
    if code == ACKLEY:
        return ackley_h(p, x, y)
    if code == GOLDSTEIN_PRICE:
        return goldstein_price_h(p, x, y)
    if code == SIX_HUMP_CAMEL:
        return six_hump_camel_h(p, x, y)
    if code == SADDLE:
        return saddle_h(p, x, y)
    if code == MONKEY_SADDLE:
        return monkey_saddle_h(p, x, y)
    if code == VALLEY:
        return valley_h(p, x, y)
    if code == LINEAR_REGRESSION:
        return linear_regression_h(p, x, y)
    if code == QUADRATIC_FORM:
        return quadratic_form_h(p, x, y)
    if code == FORMULA:
        return formula_hessian(s.ops, s.consts, p, x, y)
    return math.nan, math.nan, math.nan


# The same dispatch compiled once, here, for kernels that need it in several places off the per-step
# hot path (critical points: four inlined copies of the sixteen-way dispatch in one parallel Newton
# kernel, three more in the classifier, each compiled again through the parfor passes).


@kernel
def surface_grad_call(s, x, y):
    """``surface_grad`` as a call."""
    return surface_grad(s, x, y)


@kernel
def surface_hessian_call(s, x, y):
    """``surface_hessian`` as a call."""
    return surface_hessian(s, x, y)


# ---------------------------------------------------------------------------------------------
# Registry
# ---------------------------------------------------------------------------------------------

Domain = tuple[tuple[float, float], tuple[float, float]]
Points = tuple[tuple[float, float, float], ...]


@dataclass(frozen=True)
class SurfaceSpec:
    """One built-in surface: what it is, its parameters and what is known about its stationary points.

    ``minima``/``saddles``/``maxima`` are (x, y, value) for the DEFAULT parameters, global
    minima first (``n_global`` of them). ``kinks`` are points where f is not differentiable
    (the kernels return a subgradient there). ``pack``, ``domain_for`` and ``minima_for``
    map resolved parameters to the kernel's ``p``, the plotting domain and the known minima.
    """

    name: str
    code: int
    title: str
    formula: str
    params: tuple[ParamSpec, ...]
    domain: Domain
    minima: Points
    n_global: int = 1
    saddles: Points = ()
    maxima: Points = ()
    notes: str = ""
    kinks: tuple[tuple[float, float], ...] = ()
    limits: tuple[tuple[str, str], ...] = ()  # (parameter, LIMITS key) checked before anything else
    pack: Callable[[dict], np.ndarray] | None = field(default=None, repr=False, compare=False)
    domain_for: Callable[[dict], Domain] | None = field(default=None, repr=False, compare=False)
    minima_for: Callable[[dict], tuple[Points, int]] | None = field(default=None, repr=False, compare=False)


@dataclass(frozen=True, eq=False)
class Surface:
    """A surface resolved for given parameters: what the kernels need plus what a plot needs."""

    name: str
    code: int
    p: np.ndarray  # packed parameters, float64, C-contiguous, size >= 1
    domain: Domain  # ((xmin, xmax), (ymin, ymax)) default plotting rectangle
    minima: np.ndarray  # (k, 3) known minima (x, y, value), global ones first
    n_global: int  # how many leading rows of ``minima`` are global minima
    params: dict  # resolved parameters (defaults filled in)
    spec: SurfaceSpec
    args: SurfaceArgs  # what kernels take: (code, p, ops, consts)
    formula: Formula | None = None  # a FORMULA surface's parsed formula (its program, parameters, node count)

    def value(self, x: float, y: float) -> float:
        return float(surface_value(self.args, float(x), float(y)))

    def grad(self, x: float, y: float) -> tuple[float, float, float]:
        f, gx, gy = surface_grad(self.args, float(x), float(y))
        return float(f), float(gx), float(gy)

    def hessian(self, x: float, y: float) -> tuple[float, float, float]:
        hxx, hxy, hyy = surface_hessian(self.args, float(x), float(y))
        return float(hxx), float(hxy), float(hyy)


_NO_PARAMS = np.zeros(1)


def _pack_none(params: dict) -> np.ndarray:
    return _NO_PARAMS.copy()


def _pack_quadratic(params: dict) -> np.ndarray:
    # H = λ₁ v₁v₁ᵀ + λ₂ v₂v₂ᵀ with λ₁ = scale along v₁ = (cos θ, sin θ), λ₂ = scale·κ along v₂ ⊥ v₁
    lam1 = params["scale"]
    lam2 = params["scale"] * params["condition"]
    th = math.radians(params["angle"])
    c, s = math.cos(th), math.sin(th)
    return np.array([lam1 * c * c + lam2 * s * s, (lam1 - lam2) * c * s, lam1 * s * s + lam2 * c * c])


def _pack_rosenbrock(params: dict) -> np.ndarray:
    return np.array([params["a"], params["b"]], dtype=np.float64)


def _domain_rosenbrock(params: dict) -> Domain:
    a = params["a"]
    return ((min(-2.0, a - 1.0), max(2.0, a + 1.0)), (min(-1.0, a * a - 1.0), max(3.0, a * a + 1.0)))


def _minima_rosenbrock(params: dict):
    a = params["a"]
    return ((a, a * a, 0.0),), 1


def _pack_rastrigin(params: dict) -> np.ndarray:
    return np.array([params["A"]], dtype=np.float64)


def _pack_valley(params: dict) -> np.ndarray:
    return np.array([params["tilt"], params["width"], params["bend"]], dtype=np.float64)


def _valley_roots(tilt: float) -> np.ndarray:
    """The three real roots of g'(x) = 4x³ − 4x − tilt, ascending (closed form, Newton-polished).

    Trigonometric form of x³ − x − tilt/4 = 0: x_k = (2/√3) cos(⅓ arccos((3√3/8)·tilt) − 2πk/3).
    """
    phi = math.acos(3.0 * math.sqrt(3.0) / 8.0 * tilt) / 3.0
    roots = np.array([2.0 / math.sqrt(3.0) * math.cos(phi - _TWO_PI * k / 3.0) for k in range(3)])
    for _ in range(3):
        roots -= (4.0 * roots**3 - 4.0 * roots - tilt) / (12.0 * roots**2 - 4.0)
    return np.sort(roots)


def _valley_points(params: dict):
    t, k = params["tilt"], params["bend"]
    xs = _valley_roots(t)

    def pt(x):
        return (float(x), float(k * x * x), float((x * x - 1.0) ** 2 - t * x))

    left, mid, right = (pt(v) for v in xs)
    return (right, left), (mid,)  # tilt > 0: the right well (x ≈ +1) is the deeper one


def _minima_valley(params: dict):
    return _valley_points(params)[0], 1


def synthetic_regression(n: int, noise: float, seed: int, true_w: float, true_b: float) -> tuple[np.ndarray, np.ndarray]:
    """The seeded dataset behind ``linear_regression``: xᵢ ~ U(0, 2), yᵢ = true_w·xᵢ + true_b + noise·εᵢ.

    The feature is deliberately uncentred (mean 1), so the (w, b) valley is tilted and
    elongated (Hessian 2·[[E x², E x], [E x, 1]], condition ≈ 14), as with raw real data.
    x is drawn first, then ε ~ N(0, 1), from ``np.random.default_rng(seed)``.
    """
    rng = np.random.default_rng(seed)
    xs = rng.uniform(0.0, 2.0, n)
    eps = rng.standard_normal(n)
    return xs, true_w * xs + true_b + noise * eps


def _pack_regression(params: dict) -> np.ndarray:
    xs, ys = synthetic_regression(params["n"], params["noise"], params["seed"], params["true_w"], params["true_b"])
    return np.ascontiguousarray(np.concatenate([xs, ys]), dtype=np.float64)


def _domain_regression(params: dict) -> Domain:
    w, b = params["true_w"], params["true_b"]
    return ((w - 3.0, w + 3.0), (b - 3.0, b + 3.0))


def regression_solution(xs: np.ndarray, ys: np.ndarray) -> tuple[float, float, float]:
    """Closed-form least squares for ŷ = w·x + b: w = cov(x, y)/var(x), b = ȳ − w x̄; with its MSE."""
    mx, my = xs.mean(), ys.mean()
    dx = xs - mx
    w = float(np.dot(dx, ys - my) / np.dot(dx, dx))
    b = float(my - w * mx)
    r = w * xs + b - ys
    return w, b, float(np.dot(r, r) / xs.size)


def _minima_regression(params: dict):
    p = _pack_regression(params)
    n = p.size // 2
    return (regression_solution(p[:n], p[n:]),), 1


_F = "float"

SURFACES: dict[str, SurfaceSpec] = {}


def _add(spec: SurfaceSpec) -> None:
    SURFACES[spec.name] = spec


_add(SurfaceSpec(
    name="quadratic", code=QUADRATIC, title="Quadratic bowl",
    formula="f = ½ [x y] H [x y]ᵀ, H = R(angle) diag(scale, scale·condition) R(angle)ᵀ",
    params=(
        ParamSpec("condition", 10.0, 1.0, 1e4, _F, "condition number κ = largest / smallest curvature"),
        ParamSpec("scale", 1.0, 1e-2, 1e2, _F, "smallest curvature (Hessian eigenvalue); L = scale·κ"),
        ParamSpec("angle", 0.0, -180.0, 180.0, _F, "rotation of the low-curvature axis from +x, degrees"),
    ),
    domain=((-3.0, 3.0), (-3.0, 3.0)), minima=((0.0, 0.0, 0.0),),
    notes="Convex; the only stationary point is the minimum at the origin. "
          "Gradient descent converges for lr < 2/L with L = scale·condition.",
    pack=_pack_quadratic,
))
_add(SurfaceSpec(
    name="rosenbrock", code=ROSENBROCK, title="Rosenbrock's banana valley",
    formula="f = (a − x)² + b (y − x²)²",
    params=(
        ParamSpec("a", 1.0, -5.0, 5.0, _F, "minimum sits at (a, a²)"),
        ParamSpec("b", 100.0, 0.01, 1000.0, _F, "steepness of the valley walls"),
    ),
    domain=((-2.0, 2.0), (-1.0, 3.0)), minima=((1.0, 1.0, 0.0),),
    notes="The only stationary point is the global minimum (a, a²), f = 0; f(−1, 1) = 4 at defaults. "
          "The plotting domain widens to keep (a, a²) inside.",
    pack=_pack_rosenbrock, domain_for=_domain_rosenbrock, minima_for=_minima_rosenbrock,
))
_add(SurfaceSpec(
    name="beale", code=BEALE, title="Beale",
    formula="f = (1.5 − x + xy)² + (2.25 − x + xy²)² + (2.625 − x + xy³)²",
    params=(), domain=((-4.5, 4.5), (-4.5, 4.5)), minima=((3.0, 0.5, 0.0),),
    saddles=((0.0, 1.0, 14.203125), (0.1005379373, -2.644513585, 9.864512285)),
    notes="Not coercive: f is constant (14.203125) along x = 0.",
))
_add(SurfaceSpec(
    name="booth", code=BOOTH, title="Booth",
    formula="f = (x + 2y − 7)² + (2x + y − 5)²",
    params=(), domain=((-10.0, 10.0), (-10.0, 10.0)), minima=((1.0, 3.0, 0.0),),
    notes="Convex quadratic; Hessian [[10, 8], [8, 10]] with eigenvalues 2 and 18.",
))
_add(SurfaceSpec(
    name="matyas", code=MATYAS, title="Matyas",
    formula="f = 0.26 (x² + y²) − 0.48 xy",
    params=(), domain=((-10.0, 10.0), (-10.0, 10.0)), minima=((0.0, 0.0, 0.0),),
    notes="Convex quadratic; Hessian eigenvalues 0.04 and 1.0, so it is very flat along x = y.",
))
_add(SurfaceSpec(
    name="himmelblau", code=HIMMELBLAU, title="Himmelblau",
    formula="f = (x² + y − 11)² + (x + y² − 7)²",
    params=(), domain=((-5.0, 5.0), (-5.0, 5.0)),
    minima=((3.0, 2.0, 0.0), (-2.805118087, 3.1313125183, 0.0),
            (-3.7793102534, -3.2831859913, 0.0), (3.5844283403, -1.848126527, 0.0)),
    n_global=4,
    maxima=((-0.2708445907, -0.9230385565, 181.6165215),),
    saddles=((3.3851541836, 0.0738518798, 13.31192627), (0.0866775046, 2.8842547012, 67.71915009),
             (-3.0730257508, -0.0813530443, 104.0151629), (-0.1279613467, -1.9537149802, 178.3372392)),
    notes="Four global minima of value 0, one local maximum and four saddles.",
))
_add(SurfaceSpec(
    name="rastrigin", code=RASTRIGIN, title="Rastrigin",
    formula="f = 2A + Σᵢ (xᵢ² − A cos 2πxᵢ)",
    params=(ParamSpec("A", 10.0, 0.0, 100.0, _F, "height of the ripples"),),
    domain=((-5.12, 5.12), (-5.12, 5.12)), minima=((0.0, 0.0, 0.0),),
    saddles=((0.0, 0.5025460366, 20.25127299),),
    maxima=((0.5025460366, 0.5025460366, 40.50254598),),
    notes="Global minimum 0 at the origin for every A; with A = 10 a local minimum near every integer "
          "point, e.g. (±0.9949586377, 0) with f = 0.9949590571. Separable: its stationary points are "
          "the product lattice of the 1-D roots of x + πA sin 2πx = 0.",
    pack=_pack_rastrigin,
))
_add(SurfaceSpec(
    name="ackley", code=ACKLEY, title="Ackley",
    formula="f = −20 exp(−0.2 √(½(x² + y²))) − exp(½(cos 2πx + cos 2πy)) + e + 20",
    params=(), domain=((-5.0, 5.0), (-5.0, 5.0)),
    minima=((0.0, 0.0, 0.0),
            (0.952166546, 0.0, 2.579927557), (-0.952166546, 0.0, 2.579927557),
            (0.0, 0.952166546, 2.579927557), (0.0, -0.952166546, 2.579927557),
            (0.9684776587, 0.9684776587, 3.574451877), (-0.9684776587, 0.9684776587, 3.574451877),
            (0.9684776587, -0.9684776587, 3.574451877), (-0.9684776587, -0.9684776587, 3.574451877)),
    saddles=((0.6257806169, 0.0, 3.252469245), (0.5774125353, 0.8747620389, 4.558777135),
             (0.9458984927, 1.5950289241, 6.272351266)),
    maxima=((0.6730965201, 0.6730965201, 4.608932402),),
    kinks=((0.0, 0.0),),
    notes="Ackley's gradient is undefined at the origin (a cone point); we return the subgradient 0 "
          "there, and the Hessian of the smooth cosine term only. Stationary points listed are those "
          "in [−1.6, 1.6]² (saddles and maxima up to symmetry) from the reference sheet; our critical-point "
          "finder also finds 8 saddles there that the sheet omits, at (±0.9458984927, ±1.5950289241) and "
          "swapped, f = 6.272351266 (‖∇f‖ ≈ 3e-15, Hessian eigenvalues −20.70 and 19.51). "
          "f(1, 1) = 3.6253849384.",
))
_add(SurfaceSpec(
    name="goldstein_price", code=GOLDSTEIN_PRICE, title="Goldstein–Price",
    formula="f = [1 + (x+y+1)²(19 − 14x + 3x² − 14y + 6xy + 3y²)]·"
            "[30 + (2x−3y)²(18 − 32x + 12x² + 48y − 36xy + 27y²)]",
    params=(), domain=((-2.0, 2.0), (-2.0, 2.0)),
    minima=((0.0, -1.0, 3.0), (-0.6, -0.4, 30.0), (1.8, 0.2, 84.0), (1.2, 0.8, 840.0)),
    maxima=((0.8, 0.2, 1155.0),),
    saddles=((-0.4, -0.6, 35.0), (1.2, -0.2, 99.0), (1.4, 0.6, 980.0), (0.6, 0.4, 990.0)),
    notes="Values span six orders of magnitude over its domain (f(0, 0) = 600); plot it on a log scale.",
))
_add(SurfaceSpec(
    name="six_hump_camel", code=SIX_HUMP_CAMEL, title="Six-hump camel",
    formula="f = (4 − 2.1x² + x⁴/3) x² + xy + (−4 + 4y²) y²",
    params=(), domain=((-3.0, 3.0), (-2.0, 2.0)),
    minima=((0.0898420131, -0.712656403, -1.031628453), (-0.0898420131, 0.712656403, -1.031628453),
            (1.703606715, -0.7960835687, -0.2154638244), (-1.703606715, 0.7960835687, -0.2154638244),
            (1.6071047529, 0.5686514549, 2.10425031), (-1.6071047529, -0.5686514549, 2.10425031)),
    n_global=2,
    maxima=((1.2302298765, 0.1623345845, 2.496295351), (-1.2302298765, -0.1623345845, 2.496295351)),
    saddles=((0.0, 0.0, 0.0),
             (1.1092053368, -0.7682680925, 0.543718601), (-1.1092053368, 0.7682680925, 0.543718601),
             (1.6380679842, 0.228674069, 2.229357198), (-1.6380679842, -0.228674069, 2.229357198),
             (1.2960702672, 0.605084388, 2.229470818), (-1.2960702672, -0.605084388, 2.229470818)),
    notes="Two global minima, four local; zoom [−2, 2]×[−1, 1] to see them.",
))
_add(SurfaceSpec(
    name="saddle", code=SADDLE, title="Saddle",
    formula="f = x² − y²",
    params=(), domain=((-2.0, 2.0), (-2.0, 2.0)), minima=(), n_global=0,
    saddles=((0.0, 0.0, 0.0),),
    notes="No minimum (unbounded below); the origin is a non-degenerate saddle, Hessian diag(2, −2).",
))
_add(SurfaceSpec(
    name="monkey_saddle", code=MONKEY_SADDLE, title="Monkey saddle",
    formula="f = x³ − 3xy²",
    params=(), domain=((-2.0, 2.0), (-2.0, 2.0)), minima=(), n_global=0,
    saddles=((0.0, 0.0, 0.0),),
    notes="No minimum; the origin is a degenerate saddle (Hessian 0) with three descending valleys.",
))
_add(SurfaceSpec(
    name="valley", code=VALLEY, title="Two valleys: a local and a global minimum with a saddle between",
    formula="f = (x² − 1)² − tilt·x + width·(y − bend·x²)²",
    params=(
        ParamSpec("tilt", 0.5, 0.05, 1.5, _F, "how much deeper the right valley is; < 8/(3√3) keeps both"),
        ParamSpec("width", 2.0, 0.1, 10.0, _F, "curvature across the valley floor"),
        ParamSpec("bend", 0.5, -1.0, 1.0, _F, "the valley floor follows y = bend·x²"),
    ),
    domain=((-2.0, 2.0), (-1.5, 2.5)),
    minima=(), maxima=(),  # filled below from the closed form
    notes="Exactly three stationary points in the whole plane: ∂f/∂y = 2·width·(y − bend·x²) = 0 forces "
          "y = bend·x², and then ∂f/∂x = 4x³ − 4x − tilt, a cubic with three distinct real roots for "
          "0 < tilt < 8/(3√3) ≈ 1.5396. There det H = 2·width·g''(x) with g = (x² − 1)² − tilt·x, so the "
          "outer roots (g'' > 0, and hxx = g'' + 2·width·(2·bend·x)² > 0) are minima and the middle root "
          "(g'' < 0) is a saddle. tilt > 0 makes the right one (x ≈ +1) the global minimum.",
    pack=_pack_valley, minima_for=_minima_valley,
))
_add(SurfaceSpec(
    name="linear_regression", code=LINEAR_REGRESSION, title="Linear regression: MSE over (w, b)",
    formula="f(w, b) = (1/n) Σᵢ (w·xᵢ + b − yᵢ)², xᵢ ~ U(0, 2), yᵢ = true_w·xᵢ + true_b + noise·εᵢ",
    params=(
        ParamSpec("n", 64, 2, LIMITS["max_surface_samples"], "int", "number of samples (limit max_surface_samples)"),
        ParamSpec("noise", 0.5, 0.0, 10.0, _F, "standard deviation of the label noise"),
        ParamSpec("seed", 0, 0, 2**32 - 1, "int", "seed of the synthetic dataset"),
        ParamSpec("true_w", 2.0, -10.0, 10.0, _F, "slope that generated the data"),
        ParamSpec("true_b", -1.0, -10.0, 10.0, _F, "intercept that generated the data"),
    ),
    domain=((-1.0, 5.0), (-4.0, 2.0)), minima=(),
    notes="Convex quadratic in (w, b); its minimum is the least-squares fit (closed form). The plane "
          "coordinates are x = w and y = b. Kernels read the data from p = [x_0..x_{n−1}, y_0..y_{n−1}], "
          "so sample i is (p[i], p[n + i]).",
    limits=(("n", "max_surface_samples"),),
    pack=_pack_regression, domain_for=_domain_regression, minima_for=_minima_regression,
))


def _fill_defaults() -> None:
    """Store the param-dependent known points of the defaults in the spec (valley, linear_regression)."""
    for name in ("valley", "linear_regression"):
        spec = SURFACES[name]
        defaults = {p.name: p.default for p in spec.params}
        minima, n_global = spec.minima_for(defaults)
        extra = {}
        if name == "valley":
            extra["saddles"] = _valley_points(defaults)[1]
        SURFACES[name] = SurfaceSpec(**{**spec.__dict__, "minima": tuple(minima), "n_global": n_global, **extra})


_fill_defaults()


def resolve_surface(surface: str | Mapping[str, Any] | Surface, params: Mapping[str, float] | None = None,
                    domain: DomainArg | None = None) -> Surface:
    """A built-in surface by name, or a formula. How ``surface`` is read:

    1. a name in SURFACES: that surface, ``params`` resolved against its parameters (defaults filled,
       ranges checked); ``domain`` is refused (a built-in has its own; draw another rectangle with
       ``x_range``/``y_range``);
    2. any other string: a formula in x and y (``engine.expression``'s grammar; ``"(1 - x)**2 + y**2"``)
       with ``params`` as its named parameters and ``domain`` (``{"x": [lo, hi], "y": [lo, hi]}`` or
       ``((lo, hi), (lo, hi))``; default ``DEFAULT_FORMULA_DOMAIN``) as its plotting rectangle, the
       rectangle descents start in and whose 100x box bounds them;
    3. a mapping ``{"expression": ..., "domain": ..., "params": ...}``: the same formula (the service's
       request shape); refusals are named under ``surface.`` (``surface.expression``, ``surface.domain.x``);
    4. an already resolved ``Surface``: itself (then no ``params`` or ``domain``).

    Raises EngineInputError naming ``surface`` (an unknown name lists the choices; a formula that does not
    parse gives the column and what was expected), ``params.<name>`` or ``domain``.
    """
    if isinstance(surface, Surface):
        if params or domain is not None:
            raise EngineInputError("params" if params else "domain",
                                   "pass it to resolve_surface, not with an already resolved Surface")
        return surface
    if isinstance(surface, Mapping):
        return _formula_object(surface, params, domain)
    if isinstance(surface, str) and surface not in SURFACES:
        return _named_or_formula(surface, params, domain)
    if domain is not None:
        raise EngineInputError("domain", "only a formula takes a domain (a built-in surface has its own; "
                                         "use x_range / y_range to draw another rectangle)")
    name = surface
    spec = lookup(SURFACES, name, "surface")
    if params is not None and not isinstance(params, dict):
        raise EngineInputError("params", "must be an object of parameter values")
    for pname, limit in spec.limits:
        v = (params or {}).get(pname)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            check_max(f"params.{pname}", v, limit)
    resolved = resolve_params(spec.params, params, "params")
    p = spec.pack(resolved) if spec.pack else _pack_none(resolved)
    p = np.ascontiguousarray(p, dtype=np.float64)
    domain = spec.domain_for(resolved) if spec.domain_for else spec.domain
    if spec.minima_for:
        minima, n_global = spec.minima_for(resolved)
    else:
        minima, n_global = spec.minima, spec.n_global
    minima_arr = np.asarray(minima, dtype=np.float64).reshape(-1, 3)
    return Surface(spec.name, spec.code, p, domain, minima_arr, int(n_global), resolved, spec, builtin_args(spec.code, p))


DEFAULT_FORMULA_DOMAIN: Domain = ((-5.0, 5.0), (-5.0, 5.0))
FORMULA_KEYS = ("expression", "domain", "params")
COORDINATE_BOUND = 1e6  # a domain's ends, as the service's intervals: its 100x bound box stays far from overflow
NODES_PER_WORK_UNIT = 16  # a formula's point evaluation costs ~ its instructions; 16 of them ~ one built-in step
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def formula_surface(expression: str, params: dict | None = None, domain=None) -> Surface:
    """A ``Surface`` of a formula (``resolve_surface`` rule 2): refusals name ``expression``, ``params.<name>``
    and ``domain.x`` / ``domain.y``."""
    dom = check_domain("domain", domain)
    f = resolve_formula(expression, params)
    spec = SurfaceSpec(name=expression, code=FORMULA, title="Formula", formula=expression, params=(), domain=dom,
                       minima=(), n_global=0, notes="typed by the user")
    args = SurfaceArgs(FORMULA, f.p, f.ops, f.consts)
    return Surface(expression, FORMULA, f.p, dom, np.zeros((0, 3)), 0, dict(f.params), spec, args, f)


def check_domain(field: str, domain) -> Domain:
    """``{"x": [lo, hi], "y": [lo, hi]}`` or ``((lo, hi), (lo, hi))``, ends within ±COORDINATE_BOUND
    (``None``: ``DEFAULT_FORMULA_DOMAIN``); a bad side is named ``field.x`` / ``field.y``."""
    if domain is None:
        return DEFAULT_FORMULA_DOMAIN
    if isinstance(domain, Mapping):
        extra = sorted(set(domain) - {"x", "y"})
        if extra or len(domain) != 2:
            raise EngineInputError(f"{field}.{extra[0]}" if extra else field,
                                   "must be {\"x\": [xmin, xmax], \"y\": [ymin, ymax]}")
        sides = (domain["x"], domain["y"])
    elif isinstance(domain, (list, tuple)) and len(domain) == 2:
        sides = tuple(domain)
    else:
        raise EngineInputError(field, "must be {\"x\": [xmin, xmax], \"y\": [ymin, ymax]}")
    out = []
    for axis, side in zip("xy", sides):
        lo, hi = check_interval(f"{field}.{axis}", side)
        if max(abs(lo), abs(hi)) > COORDINATE_BOUND:
            raise EngineInputError(f"{field}.{axis}", f"each value must lie within [-{COORDINATE_BOUND:g}, "
                                                      f"{COORDINATE_BOUND:g}]")
        out.append((lo, hi))
    return out[0], out[1]


def formula_nodes(surface: Surface) -> int:
    """Instructions of a formula surface's program (what each of its evaluations costs); 0 for a built-in."""
    return surface.formula.program.nodes if surface.formula is not None else 0


def check_formula_work(field: str, surface: Surface, evaluations: int, what: str) -> None:
    """Refuse ``evaluations`` of a formula surface when nodes x evaluations exceeds max_formula_work."""
    nodes = formula_nodes(surface)
    limit = LIMITS["max_formula_work"]
    if nodes * evaluations > limit:
        raise EngineInputError(field, f"{nodes * evaluations} exceeds limit max_formula_work={limit} (formula nodes "
                                      f"x {what} = {nodes} x {evaluations})")


def _named_or_formula(text: str, params, domain) -> Surface:
    """Rule 2, with an unknown registry name told apart from a formula that failed: a bare word that does
    not parse (``"rosenbrok"``) is reported as an unknown surface, with the closest name."""
    try:
        with field_prefix("surface", strip="expression", only=("expression",)):
            return formula_surface(text, params, domain)
    except EngineInputError as err:
        if err.field == "surface" and _NAME.fullmatch(text.strip()):
            close = difflib.get_close_matches(text.strip(), list(SURFACES), n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise EngineInputError("surface", f"unknown name {text!r}{hint}; choose one of: "
                                              f"{', '.join(sorted(SURFACES))}; or write a formula in x and y "
                                              f"(as a formula: {err.message})") from None
        raise


def _formula_object(obj: Mapping, params, domain) -> Surface:
    """Rule 3: ``{"expression", "domain", "params"}``, refusals named ``surface.<key>``."""
    extra = sorted(set(obj) - set(FORMULA_KEYS))
    if extra:
        raise EngineInputError(f"surface.{extra[0]}", f"unknown field; accepted: {', '.join(FORMULA_KEYS)}")
    if "expression" not in obj:
        raise EngineInputError("surface.expression", "required: the formula, e.g. \"(1 - x)**2 + y**2\"")
    inner = obj.get("params")
    if inner is not None and params:
        raise EngineInputError("params", "give a formula's parameters in one place: surface.params or params")
    if obj.get("domain") is not None and domain is not None:
        raise EngineInputError("domain", "give a formula's domain in one place: surface.domain or domain")
    own = tuple(k for k in FORMULA_KEYS if obj.get(k) is not None)  # refusals of these are named surface.<key>
    with field_prefix("surface", only=own):
        return formula_surface(obj["expression"], inner if inner is not None else params,
                               obj.get("domain") if obj.get("domain") is not None else domain)


def exact_args(surface: Surface) -> SurfaceArgs:
    """``surface.args``, except ``linear_regression`` as the exact quadratic it is (``QUADRATIC_FORM``:
    least-squares solution, its MSE from the residuals and the constant Hessian, O(n) once): the same
    values to rounding at O(1) per point, for kernels that evaluate it at many points."""
    if surface.code != LINEAR_REGRESSION:
        return surface.args
    n = surface.p.size // 2
    w, b, f = regression_solution(surface.p[:n], surface.p[n:])
    hxx, hxy, hyy = surface_hessian(surface.args, 0.0, 0.0)
    return builtin_args(QUADRATIC_FORM, np.array([hxx, hxy, hyy, w, b, f]))


def describe() -> list[dict]:
    """Catalog entries: one per surface, with parameters, default domain and published stationary points."""

    def pts(points):
        return [{"x": x, "y": y, "value": v} for x, y, v in points]

    out = []
    for spec in SURFACES.values():
        out.append({
            "name": spec.name,
            "title": spec.title,
            "formula": spec.formula,
            "parameters": [p.to_dict() for p in spec.params],
            "domain": {"x": list(spec.domain[0]), "y": list(spec.domain[1])},
            "minima": [dict(d, **{"global": i < spec.n_global}) for i, d in enumerate(pts(spec.minima))],
            "saddles": pts(spec.saddles),
            "maxima": pts(spec.maxima),
            "notes": spec.notes,
        })
    return out


def _warmup() -> None:
    """The three dispatchers (one compiled version serves every code), through each surface once."""
    for name in SURFACES:
        su = resolve_surface(name, {"n": 4} if name == "linear_regression" else None)
        su.value(0.5, 0.5), su.grad(0.5, 0.5), su.hessian(0.5, 0.5)
    exact_args(su)
