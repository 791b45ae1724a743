"""engine.hvp: exact Hessian-vector products against torch's double backward and central differences.

Oracles: torch.autograd's grad(grad(L)·v) on a twin of the network built from the same flat parameter
vector (tests/torch_twin.py), in float64, to 1e-10 relative; central differences of the engine's own
gradient (engine.mlp.loss_and_grad, a different code path) to 1e-6; the full Hessian is symmetric to
1e-12 and its columns are the HVPs of the basis vectors.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.activations import ACTIVATIONS
from engine.errors import EngineInputError
from engine.hvp import mlp_hessian
from engine.losses import LOSSES, resolve_loss
from engine.mlp import build_mlp, init_params, loss_and_grad
from torch_twin import torch_hvp

N = 7
LOSS_PARAMS = {"huber": {"delta": 0.5}, "smooth_l1": {"beta": 0.3}, "cross_entropy_with_logits": {"label_smoothing": 0.1}}


def _targets(rng, loss: str, n: int, k: int) -> np.ndarray:
    if loss in ("bce", "bce_with_logits"):
        return rng.uniform(0, 1, (n, k))
    if loss == "hinge":
        return np.where(rng.uniform(size=(n, k)) < 0.5, -1.0, 1.0)
    if loss in ("cross_entropy", "cross_entropy_with_logits", "kl_div"):
        return rng.dirichlet(np.ones(k), n)
    return rng.standard_normal((n, k))


def _rel(a, b) -> float:
    return float(np.abs(a - b).max() / max(np.abs(b).max(), 1e-300))


def _case(widths, act, out_act="identity", loss="mse", residual=False, bn=False, seed=0):
    rng = np.random.default_rng(seed)
    net = build_mlp(widths, act, out_act, residual=residual, batch_norm=bn)
    params = init_params(net, None, seed) + 0.1 * rng.standard_normal(net.n_params)
    X = rng.standard_normal((N, widths[0]))
    Y = _targets(rng, loss, N, widths[-1])
    return net, params, X, Y, rng.standard_normal(net.n_params)


@pytest.mark.parametrize("bn", [False, True], ids=["plain", "batchnorm"])
@pytest.mark.parametrize("act", list(ACTIVATIONS))
def test_hvp_equals_torch_double_backward_for_every_activation(act, bn):
    torch = pytest.importorskip("torch")
    net, params, X, Y, v = _case([3, 5, 5, 2], act, residual=True, bn=bn)
    h = mlp_hessian(net, params, X, Y, "mse")
    value, grad, expected = torch_hvp(torch, net, params, X, Y, "mse", v)
    assert _rel(h.hvp(v), expected) < 1e-10
    assert h.loss == pytest.approx(value, rel=1e-12)
    assert _rel(h.grad, grad) < 1e-10


@pytest.mark.parametrize("loss", list(LOSSES))
def test_hvp_equals_torch_double_backward_for_every_loss(loss):
    torch = pytest.importorskip("torch")
    out = "sigmoid" if loss in ("bce", "cross_entropy") else "identity"
    net, params, X, Y, v = _case([3, 5, 5, 3], "tanh", out, loss, seed=1)
    lp = LOSS_PARAMS.get(loss)
    h = mlp_hessian(net, params, X, Y, loss, lp)
    _, _, expected = torch_hvp(torch, net, params, X, Y, loss, v, resolve_loss(loss, lp).lparams)
    if loss in ("mae", "hinge", "kl_div"):  # linear in the prediction: only the network's own curvature remains
        assert np.abs(expected).max() > 1e-3
    assert _rel(h.hvp(v), expected) < 1e-10


@pytest.mark.parametrize("arch", [
    ([2, 6, 6, 1], "tanh", False, False, "mse"),
    ([3, 4, 4, 4, 2], "gelu", True, True, "cross_entropy_with_logits"),
    ([2, 5, 1], "softplus", False, True, "bce_with_logits"),
    ([2, 4, 4, 1], "sigmoid", True, False, "log_cosh"),
], ids=["tanh", "gelu-res-bn", "softplus-bn", "sigmoid-res"])
def test_hvp_equals_central_differences_of_the_gradient(arch):
    widths, act, residual, bn, loss = arch
    net, params, X, Y, v = _case(widths, act, "identity", loss, residual, bn, seed=2)
    h = mlp_hessian(net, params, X, Y, loss)
    eps = 1e-5
    gp = loss_and_grad(net, params + eps * v, X, Y, loss, mode="eval_batch").grad
    gm = loss_and_grad(net, params - eps * v, X, Y, loss, mode="eval_batch").grad
    assert _rel(h.hvp(v), (gp - gm) / (2 * eps)) < 1e-6


def test_full_hessian_is_symmetric_and_its_columns_are_hvps():
    net, params, X, Y, v = _case([2, 8, 8, 2], "tanh", "identity", "cross_entropy_with_logits", True, True, seed=3)
    h = mlp_hessian(net, params, X, Y, "cross_entropy_with_logits")
    full = h.matrix()
    assert full.hvps == net.n_params
    assert full.asymmetry < 1e-12  # before symmetrizing: rounding only
    np.testing.assert_allclose(full.matrix @ v, h.hvp(v), rtol=0, atol=1e-12 * np.abs(full.matrix).max() * 10)
    e = np.zeros(net.n_params)
    e[5] = 1.0
    np.testing.assert_allclose(full.matrix[:, 5], h.hvp(e), atol=1e-13)
    serial = h.matrix(threads=1).matrix
    np.testing.assert_array_equal(serial, full.matrix)  # same products, whatever the thread count


def test_hvp_is_linear_and_repeatable():
    net, params, X, Y, v = _case([2, 5, 1], "elu", seed=4)
    h = mlp_hessian(net, params, X, Y, "huber", {"delta": 0.3})
    w = np.random.default_rng(9).standard_normal(net.n_params)
    a, b = h.hvp(v).copy(), h.hvp(w).copy()
    np.testing.assert_allclose(h.hvp(2.0 * v - 3.0 * w), 2.0 * a - 3.0 * b, rtol=1e-12, atol=1e-14)
    np.testing.assert_array_equal(h.hvp(v), a)
    out = np.empty(net.n_params)
    assert h.hvp(v, out) is out


def test_refusals_name_the_argument():
    net, params, X, Y, v = _case([2, 3, 1], "tanh", seed=5)
    with pytest.raises(EngineInputError, match="params"):
        mlp_hessian(net, params[:-1], X, Y)
    with pytest.raises(EngineInputError, match="params"):
        mlp_hessian(net, np.full(net.n_params, np.nan), X, Y)
    with pytest.raises(EngineInputError, match="X") as e:
        mlp_hessian(net, params, np.zeros((10_001, 2)), np.zeros((10_001, 1)))
    assert e.value.field == "X"
    with pytest.raises(EngineInputError, match="loss"):
        mlp_hessian(net, params, X, Y, "nope")
    h = mlp_hessian(net, params, X, Y)
    with pytest.raises(EngineInputError, match="^v"):
        h.hvp(v[:-1])
    with pytest.raises(EngineInputError, match="^out"):
        h.hvp(v, np.empty(3))
    big = build_mlp([2, 60, 60, 1], "tanh")  # 3,901 parameters: over max_dense_hessian_parameters
    hb = mlp_hessian(big, init_params(big, None, 0), X, Y)
    with pytest.raises(EngineInputError, match="max_dense_hessian_parameters"):
        hb.matrix()
    # bce outside its domain (an identity output gives negative "probabilities"): refused, not NaN
    with pytest.raises(EngineInputError, match="params"):
        mlp_hessian(net, params * 50, X, np.abs(Y) % 1, "bce")
