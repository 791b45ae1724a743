"""Gradient profiles: the vanishing/exploding claims, the remedies, clipping, norms recomputed
independently from the MLP's backward record, overflow as data, training, limits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.gradient_profile import DEFAULT_INIT, EXPLODING, OVERFLOW_CAP, VANISHING, run_gradient_profile
from engine.losses import resolve_loss
from engine.mlp_kernels import TRAIN
from engine.mlp import build_mlp, init_params, layer_views, mlp_backward, mlp_forward, new_running, \
    new_workspace, record_views, unpack
from engine.losses import loss_value_grad


def test_sigmoid_ten_layers_with_the_default_normal_init_vanishes():
    """10 layers, sigmoid, N(0, 0.25²) (the profile's default init), width 32, batch 64, seed 0."""
    assert DEFAULT_INIT == {"name": "normal", "std": 0.25}
    p = run_gradient_profile()
    assert (p.depth, p.width, p.activation, p.init) == (10, 32, "sigmoid", {"name": "normal", "mean": 0.0, "std": 0.25})
    assert p.verdict == "vanishing" and p.status == "ok"
    assert p.first_over_last < 0.01  # the first layer's error signal is under 1% of the last layer's
    assert p.weight_grad_norm[0] < 0.01 * p.weight_grad_norm[-1]  # and so is its weight gradient
    assert np.all(np.diff(p.preactivation_grad_norm) > 0)  # shrinking layer after layer towards the input


@pytest.mark.parametrize("remedy", [
    {"residual": True},
    {"batch_norm": True},
    {"activation": "relu", "init": {"name": "kaiming_normal", "nonlinearity": "relu"}},
], ids=["residual", "batch_norm", "relu+he"])
def test_remedies_bring_the_ratio_within_10x(remedy):
    p = run_gradient_profile(**remedy)
    assert p.verdict == "stable"
    assert 1 / 10 <= p.first_over_last <= 10


@pytest.mark.parametrize("activation", ["relu", "tanh"])
def test_a_deep_net_with_large_sigma_explodes(activation):
    p = run_gradient_profile(depth=20, activation=activation, init={"name": "normal", "std": 1.0})
    assert p.verdict == "exploding" and p.status == "ok"
    assert p.first_over_last > 100


def _reference(depth, width, activation, init, batch, seed, **kw):
    """The documented recipe, recomputed: X, Y ~ N(0, 1) from default_rng([seed, 1]), MSE, training mode."""
    net = build_mlp([width] * (depth + 1), activation, **kw)
    params = init_params(net, init, seed)
    rng = np.random.default_rng([seed, 1])
    X, Y = rng.standard_normal((batch, width)), rng.standard_normal((batch, width))
    work, record, grad = new_workspace(net, batch), np.zeros(net.record_size(batch)), np.zeros(net.n_params)
    yhat = mlp_forward(net.layout, net.fparams, params, X, TRAIN, 0, 0, new_running(net), work)
    dy = np.empty_like(yhat)
    r = resolve_loss("mse")
    loss = loss_value_grad(r.code, yhat, Y, r.lparams, dy)
    mlp_backward(net.layout, net.fparams, params, X, dy, TRAIN, grad, work, record)
    return net, loss, unpack(net, grad), record_views(net, record, batch), layer_views(net, work, batch)


def test_norms_match_an_independent_recomputation():
    p = run_gradient_profile(depth=4, width=6, activation="tanh", init={"name": "xavier_normal"}, batch=5, seed=3,
                             residual=True)
    net, loss, g, rec, views = _reference(4, 6, "tanh", {"name": "xavier_normal"}, 5, 3, residual=True)
    assert p.loss == pytest.approx(loss, rel=1e-14)
    np.testing.assert_allclose(p.weight_grad_norm, [np.linalg.norm(x.W) for x in g], rtol=1e-13)
    np.testing.assert_allclose(p.bias_grad_norm, [np.linalg.norm(x.b) for x in g], rtol=1e-13)
    np.testing.assert_allclose(p.preactivation_grad_norm, [np.linalg.norm(v["dz"]) for v in rec], rtol=1e-13)
    np.testing.assert_allclose(p.activation_grad_norm, [np.linalg.norm(v["da"]) for v in rec], rtol=1e-13)
    np.testing.assert_allclose(p.activation_mean, [v["a"].mean() for v in views], rtol=1e-12)
    np.testing.assert_allclose(p.activation_std, [v["a"].std() for v in views], rtol=1e-12)
    assert p.first_over_last == pytest.approx(np.linalg.norm(rec[0]["dz"]) / np.linalg.norm(rec[-1]["dz"]), rel=1e-13)
    assert p.parameters == net.n_params
    assert str(VANISHING) in p.rule and str(int(EXPLODING)) in p.rule


def test_clipping_caps_the_global_norm():
    p = run_gradient_profile(depth=20, activation="tanh", init={"name": "normal", "std": 1.0}, clip={"max_norm": 1.0})
    c = p.clip
    assert c.kind == "max_norm" and c.global_norm_before > 1.0
    assert c.global_norm_after <= 1.0 and c.global_norm_after == pytest.approx(1.0, rel=1e-6)  # torch: /(norm + 1e-6)
    coef = c.global_norm_after / c.global_norm_before
    np.testing.assert_allclose(c.weight_grad_norm_after, p.weight_grad_norm * coef, rtol=1e-12)
    assert p.verdict == "exploding"  # clipping rescales every layer alike: the ratio stays
    small = run_gradient_profile(depth=3, width=4, clip={"max_norm": 1e6})
    assert small.clip.global_norm_after == small.clip.global_norm_before  # under the threshold: untouched
    v = run_gradient_profile(depth=3, width=4, activation="relu", init={"name": "normal", "std": 3.0},
                             clip={"max_value": 1e-3})
    assert np.all(v.clip.weight_grad_norm_after <= 1e-3 * 4 + 1e-15)  # every entry of a 2x2 block is within ±1e-3


def _all_finite(obj) -> bool:
    import dataclasses
    if dataclasses.is_dataclass(obj):
        return all(_all_finite(getattr(obj, f.name)) for f in dataclasses.fields(obj))
    if isinstance(obj, (list, tuple)):
        return all(_all_finite(v) for v in obj)
    if isinstance(obj, np.ndarray) and obj.dtype.kind == "f":
        return bool(np.isfinite(obj).all())
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


def test_overflow_is_reported_as_data():
    p = run_gradient_profile(depth=64, width=32, activation="identity", init={"name": "normal", "std": 100.0},
                             clip={"max_norm": 1.0})
    assert p.status == "overflow" and p.verdict == "exploding"
    assert p.overflow.any() and np.all(p.weight_grad_norm[p.overflow] <= OVERFLOW_CAP)
    assert _all_finite(p)


def test_profile_during_training():
    p = run_gradient_profile(depth=4, width=8, activation="tanh", init={"name": "xavier_normal"},
                             training={"optimizer": {"name": "adam", "lr": 0.01}, "steps": 50, "every": 10})
    t = p.training
    np.testing.assert_array_equal(t.steps, [0, 10, 20, 30, 40, 50])
    assert t.status == "ok" and t.weight_grad_norm.shape == (6, 4)
    assert t.loss[0] == pytest.approx(p.loss, rel=1e-14)
    np.testing.assert_allclose(t.weight_grad_norm[0], p.weight_grad_norm, rtol=1e-13)
    assert t.loss[-1] < t.loss[0]
    assert len(t.verdict) == 6 and t.first_over_last[0] == pytest.approx(p.first_over_last, rel=1e-13)


def test_limits_are_named():
    with pytest.raises(EngineInputError) as e:
        run_gradient_profile(depth=65)
    assert e.value.field == "depth" and "max_layers" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_gradient_profile(width=1025)
    assert e.value.field == "width" and "max_width" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_gradient_profile(width=1024)
    assert "max_network_work" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_gradient_profile(depth=2, width=1024, batch=1)
    assert e.value.field == "width" and "max_network_parameters" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_gradient_profile(training={"steps": 1001})
    assert e.value.field == "training.steps" and "max_profile_steps" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_gradient_profile(clip={"max_norm": -1.0})
    assert e.value.field == "clip.max_norm"
