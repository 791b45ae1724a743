"""engine.vecmath: the vectorizable tanh, exp and sigmoid against independent oracles.

Oracles: mpmath at 40 digits (the exact value, rounded once) and libm through ``math`` (itself
within 1 ulp). The ulp is the spacing of the exact value.
"""

from __future__ import annotations

import math

import mpmath
import numba
import numpy as np
import pytest

from engine.activations import SIGMOID, TANH, activate, activation_value
from engine.vecmath import TANH_SATURATE, exp_nonpositive, exp_small, sigmoid, tanh


def _over_array(fn):
    """A jitted loop applying the inline kernel ``fn`` element by element (as the MLP's loops do)."""

    @numba.njit(error_model="numpy")
    def apply(x, out):
        for i in range(x.shape[0]):
            out[i] = fn(x[i])

    return apply


_tanh_all = _over_array(tanh)
_exp_all = _over_array(exp_nonpositive)
_exp_small_all = _over_array(exp_small)
_sigmoid_all = _over_array(sigmoid)


def _apply(kernel, x):
    x = np.asarray(x, dtype=np.float64)
    out = np.empty_like(x)
    kernel(x, out)
    return out


def _ulps_exact(fn_mp, x: float, got: float) -> float:
    with mpmath.workdps(40):
        exact = fn_mp(mpmath.mpf(x))
        return float(abs(mpmath.mpf(got) - exact) / mpmath.mpf(float(np.spacing(abs(float(exact))))))


def _sample(rng) -> np.ndarray:
    return np.concatenate([
        rng.uniform(-1.0, 1.0, 400_000),
        rng.normal(0.0, 3.0, 400_000),
        rng.uniform(-25.0, 25.0, 200_000),
        rng.uniform(-1e-3, 1e-3, 100_000),
        np.linspace(0.6, 0.65, 50_001),  # both sides of the polynomial/exp switch at 0.625
        -np.linspace(0.6, 0.65, 50_001),
        np.linspace(18.0, 21.0, 10_001),  # the approach to saturation
    ])


def test_tanh_within_two_ulp_of_libm_everywhere_sampled():
    x = _sample(np.random.default_rng(0))
    got = _apply(_tanh_all, x)
    ref = np.tanh(x)  # numpy's float64 tanh is libm-accurate (≤ 1 ulp)
    ulps = np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), 1e-300))
    assert ulps.max() <= 2.0, (ulps.max(), x[ulps.argmax()])


def test_tanh_within_one_and_a_half_ulp_of_the_exact_value():
    rng = np.random.default_rng(1)
    x = _sample(rng)
    got = _apply(_tanh_all, x)
    ref = np.tanh(x)
    # the exact check is slow, so run it on the points farthest from libm plus a random draw
    far = np.argsort(-np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), 1e-300)))[:150]
    pick = np.concatenate([far, rng.integers(0, x.size, 350)])
    worst = max(_ulps_exact(mpmath.tanh, float(x[i]), float(got[i])) for i in pick)
    assert worst <= 1.5, worst


def test_tanh_special_values_and_symmetry():
    x = np.array([0.0, -0.0, np.inf, -np.inf, np.nan, 5e-324, -1e-300, 1e-8, TANH_SATURATE, 19.1, 700.0, -700.0])
    got = _apply(_tanh_all, x)
    assert got[0] == 0.0 and math.copysign(1.0, got[0]) == 1.0
    assert got[1] == 0.0 and math.copysign(1.0, got[1]) == -1.0  # tanh(−0) = −0, as torch
    assert got[2] == 1.0 and got[3] == -1.0
    assert math.isnan(got[4])
    assert got[5] == 5e-324 and got[6] == -1e-300  # tanh x = x below half an ulp of x³/3
    assert got[7] == math.tanh(1e-8)
    assert np.all(got[8:11] == 1.0) and got[11] == -1.0
    y = np.random.default_rng(2).normal(0.0, 2.0, 10_000)
    assert np.array_equal(_apply(_tanh_all, -y), -_apply(_tanh_all, y))


@pytest.mark.parametrize("kernel, low", [(_exp_small_all, -40.0), (_exp_all, -708.0)], ids=["exp_small", "exp_nonpositive"])
def test_exp_against_libm_and_exact(kernel, low):
    rng = np.random.default_rng(3)
    y = np.concatenate([rng.uniform(low, 0.0, 200_000), rng.uniform(-1.0, 0.0, 50_000),
                        [0.0, -0.0, low, -math.log(2.0), -1e-300]])
    got = _apply(kernel, y)
    ref = np.exp(y)
    ulps = np.abs(got - ref) / np.spacing(ref)
    assert ulps.max() <= 1.5, ulps.max()
    assert got[-5] == 1.0 and got[-4] == 1.0
    far = np.argsort(-ulps)[:100]
    assert max(_ulps_exact(mpmath.exp, float(y[i]), float(got[i])) for i in far) <= 1.0
    assert math.isnan(_apply(kernel, [np.nan])[0])


def test_exp_nonpositive_subnormal_range_and_limits():
    # below e^-708 the result is subnormal: within one of its ulps (2^-1074) of the exact value
    y = np.concatenate([np.linspace(-745.0, -708.0, 20_001), [-745.13, -745.2, -746.0, -800.0, -1e308, -np.inf]])
    got = _apply(_exp_all, y)
    with mpmath.workdps(40):
        exact = np.array([float(mpmath.exp(mpmath.mpf(v))) for v in y[:-1]] + [0.0])  # float() rounds once
    assert np.all(np.abs(got - exact) <= 2.0**-1074), np.abs(got - exact).max()
    assert got[-4:].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert np.all(np.diff(got[:20_001]) >= 0.0)  # monotone through the subnormals


def test_sigmoid_within_two_ulp_of_exact_everywhere():
    rng = np.random.default_rng(5)
    x = np.concatenate([rng.normal(0.0, 4.0, 200_000), rng.uniform(-745.0, 40.0, 50_000),
                        [0.0, -0.0, 36.8, 37.0, 50.0, 710.0, -710.0, 1e308, -1e308]])
    got = _apply(_sigmoid_all, x)
    ref = np.array([1.0 / (1.0 + math.exp(-v)) if v >= 0 else math.exp(v) / (1.0 + math.exp(v)) for v in x])
    ulps = np.abs(got - ref) / np.spacing(np.maximum(np.abs(ref), 1e-300))
    assert ulps.max() <= 2.0, (ulps.max(), x[ulps.argmax()])  # libm's own two-branch formula: a ≤ 1.5 ulp oracle
    far = np.argsort(-ulps)[:50]
    exact_sig = lambda v: 1 / (1 + mpmath.exp(-v))  # noqa: E731
    assert max(_ulps_exact(exact_sig, float(x[i]), float(got[i])) for i in far) <= 2.0
    assert got[-9:-7].tolist() == [0.5, 0.5] and got[-6] == 1.0 and got[-4] == 1.0 and got[-2] == 1.0
    assert 0.0 < got[-3] < 1e-300  # σ(−710) = e^−710/(1 + e^−710): subnormal, not flushed to 0
    assert got[-1] == 0.0
    assert math.isnan(_apply(_sigmoid_all, [np.nan])[0])


@pytest.mark.parametrize("code, std", [(TANH, 2.0), (SIGMOID, 5.0)], ids=["tanh", "sigmoid"])
@pytest.mark.parametrize("shape", [(1, 1), (3, 7), (32, 64), (5, 129)])
def test_activate_loop_is_the_scalar_function(code, std, shape):
    # the vectorized array loop and the scalar kernel give the same bits
    s = np.random.default_rng(4).normal(0.0, std, shape)
    out = np.empty_like(s)
    activate(code, 0.0, s, out)
    assert np.array_equal(out, np.array([[activation_value(code, v, 0.0) for v in row] for row in s]))
