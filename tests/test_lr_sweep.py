"""engine.lr_sweep: verdicts against the 2/L threshold, the stated rule, and the range test by hand."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.lr_sweep import lr_range_test, run_lr_sweep, verdict
from engine.trajectory import run_trajectory

BOWL = {"condition": 10.0, "scale": 1.0}  # H = diag(1, 10): L = 10, so GD diverges above lr = 0.2


def test_sweep_verdicts_follow_the_2_over_L_threshold():
    lrs = [1e-4, 0.01, 0.1, 0.19, 0.199, 0.21, 0.3, 1.0]
    res = run_lr_sweep("quadratic", lrs, {"name": "sgd"}, steps=200, start=(2.0, -1.5), params=BOWL)
    got = {r.lr: r.verdict for r in res.runs}
    assert [r.lr for r in res.runs] == lrs
    for lr, v in got.items():
        assert (v == "diverged") == (lr > 0.2), (lr, v)
    assert got[1e-4] == "too_small" and got[0.01] == "too_small"  # 0.99^200: far from the minimum
    assert got[0.1] == "good" and got[0.19] == "good"
    # 0.199: the stiff coordinate flips sign each step and shrinks only by 0.99: bouncing
    assert got[0.199] == "oscillating"
    assert res.reference_loss == 0.0
    assert "diverged" in res.rule and "2" in res.rule


def test_sweep_runs_equal_trajectories():
    lrs = [0.003, 0.05, 0.5]
    res = run_lr_sweep("rosenbrock", lrs, {"name": "adam", "betas": [0.8, 0.99]}, steps=300, start=(-1.0, 1.5),
                   noise_scale=1.0, seed=4)
    for r in res.runs:
        tr = run_trajectory("rosenbrock", (-1.0, 1.5), 300, {"name": "adam", "betas": [0.8, 0.99], "lr": r.lr},
                        noise_scale=1.0, seed=4)
        np.testing.assert_array_equal(r.loss, tr.loss)
        assert r.status == tr.status and r.steps_taken == tr.steps_taken
        v = verdict(tr.loss, tr.status, 0.0, int(np.sum(np.einsum("ij,ij->i", tr.update[1:], tr.update[:-1]) < 0)))
        assert r.verdict == v[0] and r.reversal_fraction == pytest.approx(v[3])


@pytest.mark.parametrize(
    "curve,status,expected",
    [
        (np.linspace(10, 9, 50), "max_steps", "too_small"),  # slow steady descent
        (10 * 0.5 ** np.arange(50), "max_steps", "good"),  # gap closed to < 1e-3
        (np.linspace(10, 9, 50), "converged", "good"),  # stationary point
        (10 + np.arange(50.0), "max_steps", "diverged"),  # ends above its start
        (np.linspace(10, 5, 50), "diverged", "diverged"),  # left the bound box
        (np.linspace(0, 1e-3, 50), "max_steps", "good"),  # started at f* = 0 (noise nudged it)
        (5 + np.cos(np.arange(50) * np.pi) + np.linspace(5, 0, 50), "max_steps", "oscillating"),  # up, down, up
    ],
)
def test_verdict_rule_on_synthetic_curves(curve, status, expected):
    assert verdict(curve, status, 0.0)[0] == expected


def test_verdict_rule_thresholds():
    # sign changes in exactly 10% of the pairs: oscillating; just under: too_small
    d = -np.ones(41)
    d[[5, 15, 25, 35]] = 0.1  # each flip makes 2 sign changes: 8 of 40 pairs = 20%
    L = 100 + np.concatenate([[0], np.cumsum(d)])
    assert verdict(L, "max_steps", 0.0)[0] == "oscillating"
    d = -np.ones(41)
    d[[5, 15]] = 0.1  # 4 of 40 = 10%
    assert verdict(100 + np.concatenate([[0], np.cumsum(d)]), "max_steps", 0.0)[0] == "oscillating"
    d = -np.ones(41)
    d[[5]] = 0.1  # 2 of 40 = 5%
    assert verdict(100 + np.concatenate([[0], np.cumsum(d)]), "max_steps", 0.0)[0] == "too_small"
    # updates reversing in half the pairs: oscillating even with a monotone loss
    assert verdict(np.linspace(10, 9, 41), "max_steps", 0.0, reversals=20)[0] == "oscillating"
    assert verdict(np.linspace(10, 9, 41), "max_steps", 0.0, reversals=19)[0] == "too_small"


def test_reference_loss_without_known_minima_is_lowest_recorded():
    res = run_lr_sweep("saddle", [0.01, 0.1], {"name": "sgd"}, steps=20, start=(1.0, 0.5))
    assert res.reference_loss == min(r.loss.min() for r in res.runs)


def test_range_test_by_hand_on_the_bowl():
    n, lo, hi = 200, 1e-4, 10.0
    res = lr_range_test("quadratic", {"name": "sgd"}, lo, hi, n, start=(2.0, -1.5), params=BOWL)
    ramp = lo * (hi / lo) ** (np.arange(n) / (n - 1))
    m = res.lrs.size
    np.testing.assert_allclose(res.lrs, ramp[:m], rtol=1e-15)
    # GD on diag(1, 10): each coordinate is multiplied by (1 - lr_i * lambda) at step i
    x = 2.0 * np.cumprod(1 - ramp * 1.0)
    y = -1.5 * np.cumprod(1 - ramp * 10.0)
    loss = 0.5 * (x**2 + 10 * y**2)
    np.testing.assert_allclose(res.loss, loss[:m], rtol=1e-12)
    # bias-corrected EMA, beta 0.98; stop at the first point above 4 x the best so far
    a, s, best, stop = 0.0, [], np.inf, None
    for i in range(n):
        a = 0.98 * a + 0.02 * loss[i]
        s.append(a / (1 - 0.98 ** (i + 1)))
        best = min(best, s[-1])
        if s[-1] > 4 * best:
            stop = i
            break
    assert res.stopped_at == stop and m == stop + 1
    np.testing.assert_allclose(res.smoothed, s, rtol=1e-12)
    steepest = ramp[int(np.argmin(np.gradient(np.array(s), np.log(ramp[:m]))))]
    assert res.suggested_lr == steepest
    # the physics: the loss blows up only once lr passes 2/L = 0.2; the steepest descent is below it
    assert res.lrs[-1] > 0.2 and res.suggested_lr < 0.2
    assert res.min_loss_lr == res.lrs[int(np.argmin(res.smoothed))]


@pytest.mark.parametrize(
    "kwargs,field,limit",
    [
        (dict(lrs=[0.1] * (LIMITS["max_sweep_lrs"] + 1)), "lrs", "max_sweep_lrs"),
        (dict(lrs=[0.1] * 64, steps=LIMITS["max_steps"]), "steps", "max_descent_work"),
        (dict(lrs=[0.1] * 10, steps=50_001), "steps", "max_sweep_work"),
        (dict(lrs=[0.1, -1.0]), "lrs.1", ""),
        (dict(lrs=[]), "lrs", ""),
        (dict(steps=LIMITS["max_steps"] + 1), "steps", "max_steps"),
    ],
)
def test_sweep_limits_and_bad_input(kwargs, field, limit, monkeypatch):
    monkeypatch.setitem(LIMITS, "max_descent_work", 1_000_000)
    with pytest.raises(EngineInputError) as e:
        run_lr_sweep(**{**dict(surface="quadratic", lrs=[0.1], optimizer={"name": "sgd"}, steps=10), **kwargs})
    assert e.value.field.startswith(field) and limit in str(e.value)


def test_range_test_bad_input():
    with pytest.raises(EngineInputError) as e:
        lr_range_test("quadratic", {"name": "sgd"}, 1.0, 0.1, 10)
    assert e.value.field == "lr_max"
    with pytest.raises(EngineInputError, match="max_steps"):
        lr_range_test("quadratic", {"name": "sgd"}, 1e-3, 1.0, LIMITS["max_steps"] + 1)


def test_range_test_stops_early_with_finite_arrays():
    res = lr_range_test("rosenbrock", {"name": "sgd"}, 1e-6, 1e3, 100, start=(-1.5, 2.0))
    assert res.stopped_at == res.lrs.size - 1 < 99 and res.stop_reason
    assert np.isfinite(res.loss).all() and np.isfinite(res.smoothed).all()
    assert res.lrs[0] <= res.suggested_lr <= res.lrs[-1]
