"""Backprop laid open: the chain rule along paths (enumerated here, independently), the gradient
check for every activation and initialization, the cost record, overflow as data, limits.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from engine.activations import ACTIVATIONS, activation_deriv, resolve_activation
from engine.backprop import run_backprop
from engine.errors import EngineInputError
from engine.init import INITS

RNG = np.random.default_rng(42)
X4 = RNG.standard_normal((4, 2))
Y4 = RNG.standard_normal((4, 1))


def _d(name, z):
    act = resolve_activation(name)
    return activation_deriv(act.code, float(z), act.param)


def test_one_path_one_sample_product_is_the_gradient():
    r = run_backprop([1, 1, 1, 1], [[0.7]], [[0.2]], activation="sigmoid", init={"name": "normal", "std": 1.0}, seed=3)
    ch = r.chain_rule
    assert ch.n_paths == 1 and len(ch.factors) == 4
    assert [f["name"] for f in ch.factors] == ["∂L/∂ŷ_k", "∂ŷ_k/∂h2", "∂h2/∂h1", "∂h1/∂w"]
    assert ch.product == pytest.approx(math.prod(f["value"] for f in ch.factors), rel=1e-15)
    assert ch.product == pytest.approx(ch.backprop, rel=1e-14)
    assert ch.backprop == r.backward[0]["dW"][0, 0]
    # the factors by hand from the records: L = (ŷ − y)², ŷ = z3 (identity output)
    W = [w["W"][0, 0] for w in r.weights]
    z = [f["z"][0, 0] for f in r.forward]
    want = [2 * (r.output[0, 0] - 0.2), W[2], _d("sigmoid", z[1]) * W[1], _d("sigmoid", z[0]) * 0.7]
    np.testing.assert_allclose([f["value"] for f in ch.factors], want, rtol=1e-14)


@pytest.mark.parametrize("residual", [False, True])
def test_sum_over_every_path_and_sample_is_the_gradient(residual):
    widths = [2, 3, 3, 3, 2]
    rng = np.random.default_rng(1)
    X, Y = rng.standard_normal((3, 2)), rng.standard_normal((3, 2))
    r = run_backprop(widths, X, Y, activation="tanh", init={"name": "xavier_normal"}, residual=residual,
                     path={"input": 1, "unit": 2, "through": [0, 1], "output": 1, "sample": 2})
    ch = r.chain_rule
    W = [w["W"] for w in r.weights]
    z = [f["z"] for f in r.forward]
    dy = r.backward[-1]["da"]  # ∂L/∂ŷ
    skip = [False, residual, residual, False]  # hidden layers 2 and 3 have equal widths
    i, j = 1, 2
    total, n_paths = 0.0, 0
    for units in itertools.product(range(3), range(3), range(2)):  # u2, u3, k
        n_paths += 1
        for s in range(3):
            u = [j, *units]
            prod = dy[s, u[3]] * W[3][u[2], u[3]]  # identity output
            for l in (2, 1):  # layers 3 and 2 (0-based 2, 1)
                f = _d("tanh", z[l][s, u[l]]) * W[l][u[l - 1], u[l]]
                prod *= f + (1.0 if skip[l] and u[l - 1] == u[l] else 0.0)
            prod *= _d("tanh", z[0][s, j]) * X[s, i]
            total += prod
            if s == 2 and units == (0, 1, 1):
                assert ch.product == pytest.approx(prod, rel=1e-13)
    assert n_paths == ch.n_paths == 18
    assert total == pytest.approx(r.backward[0]["dW"][i, j], rel=1e-12)
    assert ch.all_paths_sum == pytest.approx(ch.backprop, rel=1e-12)
    assert ch.backprop == r.backward[0]["dW"][i, j]


def test_batch_norm_has_no_per_sample_chain_rule():
    r = run_backprop([2, 3, 1], X4, Y4, batch_norm=True)
    assert r.chain_rule is None and any("batch normalization" in n for n in r.notes)
    assert r.gradcheck.max_rel_error < 1e-6
    assert set(r.forward[0]) == {"z", "s", "a"} and set(r.backward[0]) >= {"dgamma", "dbeta"}


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
def test_gradcheck_every_activation(activation):
    # torch_default draws non-zero biases: with zero biases a sample whose units all died gives z = 0 exactly
    # downstream, a relu kink that a finite difference straddles
    r = run_backprop([2, 4, 4, 1], X4, Y4, activation=activation, init={"name": "torch_default"},
                     residual=True, measure_cost=False)
    assert r.status == "ok"
    assert r.gradcheck.max_rel_error < 1e-6
    np.testing.assert_allclose(r.gradcheck.finite_difference,
                               np.concatenate([np.r_[b["dW"].ravel(), b["db"]] for b in r.backward]),
                               rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize("init", list(INITS))
def test_gradcheck_every_initialization(init):
    spec = {"name": init, **({"std": 0.5} if init == "normal" else {}), **({"a": -0.5} if init == "uniform" else {})}
    r = run_backprop([2, 3, 3, 2], X4, np.c_[Y4, -Y4], activation="tanh", init=spec, batch_norm=init.startswith("k"),
                     loss="huber", measure_cost=False)
    assert r.gradcheck.max_rel_error < 1e-6


def test_given_weights_are_used_exactly_and_echoed():
    weights = [{"W": [[0.5, -1.0], [0.25, 2.0]], "b": [0.1, 0.0]}, {"W": [[1.0], [-0.5]], "b": [0.3]}]
    r = run_backprop([2, 2, 1], [[1.0, 2.0]], [[0.0]], activation="relu", weights=weights)
    np.testing.assert_array_equal(r.weights[0]["W"], weights[0]["W"])
    z1 = np.array([1.0 * 0.5 + 2.0 * 0.25 + 0.1, -1.0 + 4.0])
    np.testing.assert_allclose(r.forward[0]["z"][0], z1, rtol=1e-15)
    yhat = max(z1[0], 0) * 1.0 + max(z1[1], 0) * -0.5 + 0.3
    assert r.loss == pytest.approx(yhat**2, rel=1e-15)


def test_cost_is_measured_and_consistent():
    r = run_backprop([2, 16, 16, 1], RNG.standard_normal((8, 2)), RNG.standard_normal((8, 1)), activation="relu")
    c = r.cost
    assert c.parameters == r.parameters == 2 * 16 + 16 + 16 * 16 + 16 + 16 + 1
    assert c.forward_passes_fd == 2 * c.parameters
    assert c.forward_s > 0 and c.backward_s > 0 and c.finite_difference_s > 0
    assert c.backward_over_forward == pytest.approx(c.backward_s / c.forward_s)
    assert c.finite_difference_over_backprop == pytest.approx(c.finite_difference_s / (c.forward_s + c.backward_s))
    assert c.finite_difference_over_backprop > 10  # 2P = 642 forward passes against one forward + backward


def _finite(obj) -> bool:
    if isinstance(obj, dict):
        return all(_finite(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return all(_finite(v) for v in obj)
    if isinstance(obj, np.ndarray):
        return bool(np.isfinite(obj).all())
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def test_overflow_is_a_status_and_nothing_non_finite_leaves():
    eye = (1e5 * np.eye(5)).tolist()
    weights = [{"W": eye, "b": [0.0] * 5}] * 64  # z_l = 1e6·1e5^l: not finite from layer 61 on
    r = run_backprop([5] * 65, [[1e6] * 5, [-1e6] * 5], [[0.0] * 5] * 2, activation="identity", weights=weights,
                     measure_cost=False)
    assert r.status == "overflow"
    assert r.loss is None and r.backward == [] and r.chain_rule is None and r.gradcheck is None
    assert len(r.forward) == 60
    assert _finite(r.forward) and _finite(r.weights)


def test_limits_and_bad_paths():
    with pytest.raises(EngineInputError) as e:
        run_backprop([2, 64, 64, 1], X4, Y4)
    assert e.value.field == "layers" and "max_backprop_parameters" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_backprop([2, 2, 1], np.zeros((33, 2)), np.zeros((33, 1)))
    assert e.value.field == "inputs" and "max_backprop_samples" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_backprop([2, 2, 1], X4, Y4, path={"unit": 2})
    assert e.value.field == "path.unit"
    with pytest.raises(EngineInputError) as e:
        run_backprop([2, 2, 2, 1], X4, Y4, path={"through": [0, 0]})
    assert e.value.field == "path.through"
    with pytest.raises(EngineInputError) as e:
        run_backprop([2, 2, 1], X4, Y4, loss="bce")
    assert e.value.field == "output_activation"
    with pytest.raises(EngineInputError) as e:
        run_backprop([2, 2, 1], X4, Y4 + 5, loss="bce_with_logits")
    assert e.value.field == "targets"
