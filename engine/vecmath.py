"""Elementary functions in plain arithmetic, so LLVM can run them 8 lanes wide.

Why this module exists: inside a jitted loop numba calls libm's ``tanh`` once per element (this
llvmlite has no SVML), ~10 ns each, while numpy's SIMD ``np.tanh`` takes ~2 ns. A tanh network spends
most of its forward pass there (measured: 53 of 89 ms of a 2-64-64-1 training step budget); libm's
``exp`` in a sigmoid layer likewise (256×1024 activations: 2.4 ms with libm, 0.65 ms here). The
functions below use only +, ×, ÷, comparisons and ``np.floor``, with no calls and no integer
casts, so after inlining a loop over them vectorizes (AVX2/AVX-512 on this machine).

Accuracy (``tests/test_vecmath.py`` checks it against ``math.tanh`` on millions of points and every
edge): ``tanh`` is within 2 ulp of the correctly rounded value everywhere (measured max: see
the test), odd, exactly ±1 for |x| ≥ 19.1, exact for ±0, NaN for NaN. torch's own vectorized
float64 tanh (Sleef, 1.0 ulp) differs from glibc's by ulps as well, so parity with torch stays at
rounding level; this is a deliberate difference from ``math.tanh``, not from torch's formula.

How (the classic construction, coefficients derived for this module with mpmath's ``chebyfit``,
near-minimax, at 40 digits):

* |x| < 0.625: tanh x = x + x·z·P(z), z = x², P a degree-11 fit of (tanh(√z)/√z − 1)/z on
  [0, 0.390625]; fit error × z < 1.6e-18, far below half an ulp.
* 0.625 ≤ |x|: e = exp(−2|x|) (|x| capped at 20, where tanh rounds to 1), tanh |x| = (1 − e)/(1 + e);
  e ≤ 0.287 so the subtraction loses under one bit.
* exp(y), y ≤ 0: y = n·ln2 + r with |r| ≤ ln2/2 (Cody–Waite: ln2 split so n·LN2_HI is exact),
  e^r by a degree-12 fit (error 4e-20), times 2^n built from n's binary digits by exact
  multiplications by powers of two (selects, not an integer cast, so NaN stays NaN without poison).
  ``exp_small`` takes the six digits that −40 ≤ y needs (tanh); ``exp_nonpositive`` all eleven, down
  to the subnormals (within one subnormal ulp there) and 0 below −745.13.
* sigmoid: t = e^(−|x|), then 1/(1 + t) for x ≥ 0 and t/(1 + t) below: the same two branches as
  the scalar formula with libm's exp, ≤ 2 ulp from the exact value (measured: see the test); like
  torch's 1/(1 + e^(−x)) it rounds to exactly 1 from x ≈ 36.7 up.
"""

from __future__ import annotations

import math

import numpy as np

from ._jit import inline_kernel

TANH_POLY_CUT = 0.625
TANH_SATURATE = 20.0  # tanh(20) = 1 − 8.5e-18, which rounds to 1.0
EXP_UNDERFLOW = -746.0  # e^y < 2^-1075 (half the least subnormal) below −745.14: rounds to 0

_INV_LN2 = 1.4426950408889634
_LN2_HI = 0.6931471805598903  # ln 2 with its low 11 bits zeroed: n·_LN2_HI is exact for |n| < 2^11
_LN2_LO = 5.497923018708371e-14  # ln 2 − _LN2_HI

# e^r on [−ln2/2, ln2/2], highest degree first (degree 12)
_E12 = 2.09215799649503e-09
_E11 = 2.5114869528657765e-08
_E10 = 2.7557251904174915e-07
_E9 = 2.7557224958392624e-06
_E8 = 2.4801587350110797e-05
_E7 = 0.000198412699092171
_E6 = 0.001388888888887189
_E5 = 0.008333333333309528
_E4 = 0.04166666666666669
_E3 = 0.16666666666666702

# (tanh(√z)/√z − 1)/z on [0, 0.625²], highest degree first (degree 11)
_T11 = 6.485163482793113e-06
_T10 = -3.12011014257974e-05
_T9 = 9.257116129556769e-05
_T8 = -0.0002375906496055562
_T7 = 0.0005896606577757043
_T6 = -0.0014557754120478055
_T5 = 0.0035921217511549622
_T4 = -0.008863235103240878
_T3 = 0.021869488519008305
_T2 = -0.05396825396789699
_T1 = 0.13333333333333042
_T0 = -0.3333333333333333


@inline_kernel
def _exp_reduced(y):
    """(p, m) with e^y = p·2^(−m): y = −m·ln2 + r, |r| ≤ ln2/2 (Cody–Waite), p = e^r by polynomial."""
    nf = np.floor(y * _INV_LN2 + 0.5)  # nearest n with y ≈ n·ln2
    r = (y - nf * _LN2_HI) - nf * _LN2_LO
    p = _E12
    p = p * r + _E11
    p = p * r + _E10
    p = p * r + _E9
    p = p * r + _E8
    p = p * r + _E7
    p = p * r + _E6
    p = p * r + _E5
    p = p * r + _E4
    p = p * r + _E3
    p = p * r + 0.5
    p = p * r + 1.0
    p = p * r + 1.0
    return p, -nf


@inline_kernel
def _pow2_neg_small(m):
    """2^(−m) for a whole m in [0, 63], from m's binary digits: exact products of powers of two."""
    s = 1.0
    if m >= 32.0:
        s *= 2.3283064365386963e-10  # 2^-32
        m -= 32.0
    if m >= 16.0:
        s *= 1.52587890625e-05  # 2^-16
        m -= 16.0
    if m >= 8.0:
        s *= 0.00390625
        m -= 8.0
    if m >= 4.0:
        s *= 0.0625
        m -= 4.0
    if m >= 2.0:
        s *= 0.25
        m -= 2.0
    if m >= 1.0:
        s *= 0.5
    return s


@inline_kernel
def exp_small(y):
    """e^y for −40 ≤ y ≤ 0 (the range tanh needs); within ~1 ulp. NaN in, NaN out."""
    p, m = _exp_reduced(y)  # m in [0, 58]
    return p * _pow2_neg_small(m)


@inline_kernel
def exp_nonpositive(y):
    """e^y for any y ≤ 0, within ~1 ulp (a subnormal result within one of its ulps); −inf → 0,
    NaN in, NaN out. Positive y is outside its contract."""
    if y < EXP_UNDERFLOW:
        y = EXP_UNDERFLOW  # e^y rounds to 0 below about −745.13; also maps −inf to a finite y
    p, m = _exp_reduced(y)  # m in [0, 1077]
    # the digits of m from 64 up; powers of two stay exact down to 2^-1074, then p·s rounds once
    s = 1.0
    if m >= 1024.0:
        s *= 5.562684646268003e-309  # 2^-1024
        m -= 1024.0
    if m >= 512.0:
        s *= 7.458340731200207e-155  # 2^-512
        m -= 512.0
    if m >= 256.0:
        s *= 8.636168555094445e-78  # 2^-256
        m -= 256.0
    if m >= 128.0:
        s *= 2.938735877055719e-39  # 2^-128
        m -= 128.0
    if m >= 64.0:
        s *= 5.421010862427522e-20  # 2^-64
        m -= 64.0
    return p * (s * _pow2_neg_small(m))


@inline_kernel
def sigmoid(x):
    """1/(1 + e^(−x)) without overflow for either sign: with t = e^(−|x|), 1/(1 + t) for x ≥ 0 and
    t/(1 + t) below (the same two branches as before, libm's exp replaced so loops vectorize)."""
    t = exp_nonpositive(-abs(x))
    if x >= 0.0:
        return 1.0 / (1.0 + t)
    return t / (1.0 + t)


@inline_kernel
def tanh(x):
    """tanh x within 2 ulp, vectorizable (see the module docstring for the construction)."""
    ax = abs(x)
    if ax < TANH_POLY_CUT:
        z = x * x
        p = _T11
        p = p * z + _T10
        p = p * z + _T9
        p = p * z + _T8
        p = p * z + _T7
        p = p * z + _T6
        p = p * z + _T5
        p = p * z + _T4
        p = p * z + _T3
        p = p * z + _T2
        p = p * z + _T1
        p = p * z + _T0
        t = ax + ax * (z * p)
    else:
        if ax > TANH_SATURATE:
            ax = TANH_SATURATE
        e = exp_small(-2.0 * ax)
        # 1 − 2e/(1+e), not (1 − e)/(1 + e): the rounding error of the small quotient (< 0.445)
        # reaches the result scaled down, so the whole stays within ~1 ulp
        t = 1.0 - 2.0 * e / (1.0 + e)
    return math.copysign(t, x)  # odd, and tanh(−0) = −0 as in torch
