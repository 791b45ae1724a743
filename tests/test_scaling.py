"""engine.scaling: the fitters recover the parameters of data generated from known laws.

Oracles: the generating parameters themselves (noiseless data must be recovered to ~1e-6), the
reference's Chinchilla constants (shared/reference/curvature-and-scaling.md), and scipy's
``curve_fit`` (an independent least-squares solver) on noisy data.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import curve_fit

from engine import EngineInputError, fit_power_law, fit_scaling_law

# Hoffmann et al. 2022 and the Besiroglu et al. 2024 refit (reference)
CHINCHILLA = dict(E=1.69, A=406.4, B=410.7, alpha=0.34, beta=0.28)
REFIT = dict(E=1.82, A=482.0, B=2085.4, alpha=0.348, beta=0.366)


def _grid(points=7):
    N, D = np.meshgrid(np.logspace(7, 10, points), np.logspace(9, 12, points))
    return N.ravel(), D.ravel()


def _law(p, N, D):
    return p["E"] + p["A"] * N ** -p["alpha"] + p["B"] * D ** -p["beta"]


@pytest.mark.parametrize("truth", [CHINCHILLA, REFIT], ids=["chinchilla", "refit"])
@pytest.mark.parametrize("loss", ["l2", "huber"])
def test_noiseless_law_is_recovered(truth, loss):
    N, D = _grid()
    fit = fit_scaling_law(N, D, _law(truth, N, D), loss=loss, bootstrap=0)
    for k, v in truth.items():
        assert getattr(fit, k) == pytest.approx(v, rel=2e-5), k
    assert fit.rmse < 1e-8


def test_noisy_law_intervals_cover_the_truth():
    rng = np.random.default_rng(3)
    N, D = _grid(6)
    N, D = np.repeat(N, 4), np.repeat(D, 4)  # four "seeds" per design point
    L = _law(CHINCHILLA, N, D) * np.exp(rng.normal(0.0, 0.01, N.size))
    fit = fit_scaling_law(N, D, L, bootstrap=100, seed=1)
    assert fit.bootstrap == 100 and set(fit.intervals) == {"E", "A", "B", "alpha", "beta"}
    for k in ("E", "alpha", "beta"):
        lo, hi = fit.intervals[k]
        assert lo < getattr(fit, k) < hi
        assert lo < CHINCHILLA[k] < hi, (k, lo, hi)
    # the l2 optimum agrees with an independent least-squares solver started at the truth
    popt, _ = curve_fit(lambda X, E, A, B, a, b: E + A * X[0] ** -a + B * X[1] ** -b, np.stack([N, D]), L,
                        p0=[CHINCHILLA[k] for k in ("E", "A", "B", "alpha", "beta")], maxfev=20000)
    mine = [fit.E, fit.A, fit.B, fit.alpha, fit.beta]
    np.testing.assert_allclose(mine, popt, rtol=2e-3)
    assert np.sum((fit.predict(N, D) - L) ** 2) <= np.sum((_law(dict(zip(CHINCHILLA, popt)), N, D) - L) ** 2) * (1 + 1e-9)


def test_power_law_with_and_without_offset():
    x = np.array([10, 20, 40, 80, 160, 320, 640.0])
    fit = fit_power_law(x, 0.05 + 3.0 * x ** -0.7, bootstrap=0)
    assert (fit.E, fit.B, fit.beta) == pytest.approx((0.05, 3.0, 0.7), rel=1e-6)
    fit = fit_power_law(x, 3.0 * x ** -0.7, offset=False, bootstrap=0)
    assert fit.E == 0.0 and (fit.B, fit.beta) == pytest.approx((3.0, 0.7), rel=1e-6)


def test_power_law_bootstrap_over_seeds():
    rng = np.random.default_rng(0)
    x = np.repeat([20, 40, 80, 160, 320.0], 8)
    y = 2.0 * x ** -0.5 + rng.normal(0, 0.003, x.size)
    fit = fit_power_law(x, y, offset=False, bootstrap=200, seed=0)
    lo, hi = fit.intervals["beta"]
    assert lo < 0.5 < hi and hi - lo < 0.1
    popt, _ = curve_fit(lambda v, B, b: B * v ** -b, x, y, p0=[1.0, 1.0])
    assert (fit.B, fit.beta) == pytest.approx(tuple(popt), rel=1e-4)
    again = fit_power_law(x, y, offset=False, bootstrap=200, seed=0)
    assert again.intervals == fit.intervals  # deterministic


@pytest.mark.parametrize("kwargs, field", [
    (dict(x=[1, 2, -3], y=[1, 2, 3]), "x"),
    (dict(x=[1, 2, 3], y=[1, 2]), "x"),
    (dict(x=[1, 1, 2], y=[1, 2, 3]), "x"),  # two distinct points: too few for E, B, β
    (dict(x=[1, 2, 3], y=[1, float("nan"), 3]), "y"),
    (dict(x=[1, 2, 3], y=[1, -2, 3], loss="huber"), "y"),  # log of a negative value
    (dict(x=[1, 2, 3], y=[1, 2, 3], loss="l1"), "loss"),
    (dict(x=[1, 2, 3], y=[1, 2, 3], bootstrap=-1), "bootstrap"),
])
def test_bad_input_names_the_argument(kwargs, field):
    with pytest.raises(EngineInputError) as e:
        fit_power_law(**kwargs)
    assert e.value.field == field


def test_scaling_law_needs_five_design_points():
    with pytest.raises(EngineInputError) as e:
        fit_scaling_law([1, 2, 3, 4], [1, 2, 3, 4], [1, 1, 1, 1])
    assert e.value.field == "N"
