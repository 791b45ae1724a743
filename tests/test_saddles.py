"""engine.saddles: GOE minimum probabilities against their exact values, and a network's critical points.

Oracles: P(N = 1) = 1/2 and P(N = 2) = (2 − √2)/4 exactly (the reference sheet); numpy's eigvalsh for the
positive-definiteness test; the engine's plain gradient (engine.mlp.loss_and_grad) and torch's Hessian
for every reported ‖∇L‖ and index; a constructed gradient-flat point (mae: the loss is linear in the
output bias, so ∇L lies in the Hessian's null space without vanishing).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.full_batch import resolve_problem
from engine.mlp import build_mlp, loss_and_grad, unpack
from engine.saddles import _positive_definite, goe_minimum_probability, network_critical_points


@pytest.fixture(scope="module")
def goe():
    return goe_minimum_probability(list(range(1, 11)), 100_000, seed=0)


def test_goe_n1_and_n2_match_the_exact_values_within_monte_carlo_error(goe):
    p1, p2 = goe.p_minimum[0], goe.p_minimum[1]
    s1, s2 = goe.stderr[0], goe.stderr[1]
    # the error bars, stated: 100,000 samples give ±0.0016 (N = 1) and ±0.0011 (N = 2)
    assert s1 == pytest.approx(math.sqrt(0.25 / 100_000), rel=0.01) and s2 == pytest.approx(0.00112, rel=0.02)
    assert abs(p1 - 0.5) <= 3 * s1
    assert abs(p2 - (2 - math.sqrt(2)) / 4) <= 3 * s2
    assert goe.exact[:2] == [0.5, (2 - math.sqrt(2)) / 4] and goe.exact[2] is None


def test_goe_probability_falls_much_faster_than_two_to_the_minus_n(goe):
    p = goe.p_minimum
    assert (np.diff(p) <= 0).all()
    assert p[2] == pytest.approx(0.025, abs=0.003) and p[3] == pytest.approx(0.0025, abs=0.0006)  # reference MC
    assert (p[1:] < goe.two_pow_minus_n[1:]).all() and p[4] < goe.two_pow_minus_n[4] / 50
    assert goe.counts[-1] == 0 and goe.upper_95[-1] == pytest.approx(1 - 0.05 ** (1 / 100_000), rel=1e-6)
    assert (goe.upper_95 >= goe.p_minimum).all()


def test_goe_is_seeded_and_the_cholesky_test_agrees_with_eigvalsh():
    a = goe_minimum_probability([3, 4], 5000, seed=7)
    b = goe_minimum_probability([3, 4], 5000, seed=7)
    np.testing.assert_array_equal(a.counts, b.counts)
    rng = np.random.default_rng(1)
    for N in (1, 2, 3, 5):
        for _ in range(2000 if N < 5 else 300):
            d = rng.standard_normal(N * (N + 1) // 2)
            A = np.zeros((N, N))
            A[np.triu_indices(N)] = d
            A = A + np.triu(A, 1).T
            A[np.diag_indices(N)] *= math.sqrt(2.0)
            assert _positive_definite(d, np.zeros((N, N))) == bool(np.linalg.eigvalsh(A).min() > 0)


@pytest.fixture(scope="module")
def points():
    return network_critical_points()  # the documented default: 1-4-1 tanh, 20 noisy sine points, 24 starts


def _objective_grad(problem, theta, wd):
    lg = loss_and_grad(problem.net, theta, problem.X, problem.Y, problem.loss.name, mode="eval_batch")
    return lg.loss + 0.5 * wd * theta @ theta, lg.grad + wd * theta


def test_every_point_reports_its_gradient_norm_checked_independently(points):
    s = points.settings
    problem = resolve_problem(s["layers"], s["activation"], s["loss"], {"name": "sine", "n_train": 20, "noise": 0.3})
    for i in range(len(points.kind)):
        value, g = _objective_grad(problem, points.params[i], s["weight_decay"])
        assert points.loss[i] == pytest.approx(value, rel=1e-12)
        assert points.grad_norm[i] == pytest.approx(np.linalg.norm(g), rel=1e-6, abs=1e-14)
        assert points.critical[i] == (points.grad_norm[i] <= s["grad_tol"])
        expect = "critical" if points.critical[i] else ("gradient_flat" if points.flatness[i] <= s["flat_tol"]
                                                         else "not_converged")
        assert points.kind[i] == expect


def test_index_is_the_fraction_of_negative_eigenvalues_of_torchs_hessian(points):
    torch = pytest.importorskip("torch")
    from torch_twin import torch_loss

    s = points.settings
    problem = resolve_problem(s["layers"], s["activation"], s["loss"], {"name": "sine", "n_train": 20, "noise": 0.3})
    wd = s["weight_decay"]
    for i in np.flatnonzero(points.critical)[:6]:
        theta = torch.tensor(points.params[i])
        H = torch.autograd.functional.hessian(
            lambda t: torch_loss(torch, problem.net, t, problem.X, problem.Y, "mse") + 0.5 * wd * (t @ t), theta)
        w = np.linalg.eigvalsh(H.numpy())
        np.testing.assert_allclose(points.eigenvalues[i], w, atol=1e-10)
        assert points.index[i] == np.mean(w < -s["eig_tol"] * np.abs(w).max())


def test_index_falls_as_the_loss_approaches_the_minimum(points):
    crit = points.critical
    assert crit.sum() >= 12 and (points.grad_norm[crit] < 1e-12).all()  # Newton-MR converges to machine precision
    lo = points.loss[crit].min()
    assert (points.index[crit][points.loss[crit] == lo] == 0.0).all()  # the lowest critical point is a minimum
    assert points.index[crit].max() >= 0.2  # and the highest ones are saddles of high index
    assert points.fit["slope"] > 0 and points.fit["r"] > 0.6 and points.fit["points"] == crit.sum()
    assert np.isfinite(points.loss).all() and np.isfinite(points.flatness).all()


def test_a_gradient_flat_point_is_not_called_critical():
    net = build_mlp([1, 2, 1], "tanh")
    starts = np.zeros((2, net.n_params))
    unpack(net, starts[0])[1].b[:] = 3.0  # a dead hidden layer, the output far above every target
    starts[1] = np.random.default_rng(0).normal(size=net.n_params)
    r = network_critical_points([1, 2, 1], loss="mae", starts=2, train_steps=0, weight_decay=0.0,
                                start_params=starts)
    # mae is linear in the output: ∂L/∂b₂ = mean sign = 1 while H's b₂ column is 0, so ∇L ∈ ker H
    assert r.kind[0] == "gradient_flat" and not r.critical[0]
    assert r.grad_norm[0] == pytest.approx(1.0, abs=1e-12) and r.flatness[0] == 0.0


def test_refusals_name_the_argument():
    for kwargs, field in [
        ({"layers": [1, 40, 40, 1]}, "layers"),
        ({"starts": 129}, "starts"),
        ({"iterations": 501}, "iterations"),
        ({"lr": 0.0}, "lr"),
        ({"weight_decay": -1.0}, "weight_decay"),
        ({"grad_tol": 2.0}, "grad_tol"),
        ({"layers": [2, 3, 1]}, "layers"),  # sine has one input
        ({"loss": "cross_entropy_with_logits"}, "loss"),
        ({"starts": 128, "iterations": 500, "train_steps": 100_000, "layers": [1, 10, 1],
          "dataset": {"name": "sine", "n_train": 2000}}, "starts"),
        ({"start_params": np.zeros((3, 2)), "starts": 2}, "start_params"),
    ]:
        with pytest.raises(EngineInputError) as err:
            network_critical_points(**kwargs)
        assert err.value.field == field, kwargs
    for kwargs, field in [({"dims": [0]}, "dims"), ({"dims": [101]}, "dims"), ({"dims": [3, 3]}, "dims"),
                          ({"samples": 2_000_000}, "samples"), ({"dims": list(range(1, 60)), "samples": 100_000},
                                                                "samples")]:
        with pytest.raises(EngineInputError) as err:
            goe_minimum_probability(**kwargs)
        assert err.value.field == field, kwargs
