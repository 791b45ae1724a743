"""The MLP's kernels: forward by hand, gradients against centered differences and torch autograd,
batch norm against its formula and the worked example of numerics-detailed.md §7, dropout's
scaling and rate, residual placement, workspace reuse, calls from inside another jitted loop, limits.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.activations import ACTIVATIONS
from engine.errors import EngineInputError
from engine.losses import resolve_loss
from engine.mlp_kernels import EVAL_BATCH, TRAIN, Problem
from engine.mlp import (
    as_batch, build_mlp, init_params, layer_views, loss_and_grad,
    mlp_backward, mlp_forward, mlp_loss, mlp_loss_grad, mlp_predict, new_running, new_workspace, pack, predict, record_views, unpack,
)
from engine.optimizers import new_state, optimizer_step, resolve_optimizer

REL_FLOOR = 1e-3  # entries under 1e-3·max|g| are compared against that floor (float64 differences can't resolve them)


def fd_grad(net, params, X, Y, loss="mse", mode=TRAIN, seed=0, step=0, h=1e-5):
    """Centered differences of the loss, one parameter at a time (plain Python loop)."""
    r = resolve_loss(loss)
    work = new_workspace(net, X.shape[0])
    run = new_running(net)
    p = params.copy()
    g = np.empty_like(p)
    for i in range(p.size):
        old = p[i]
        p[i] = old + h
        up = mlp_loss(net.layout, net.fparams, p, X, Y, r.code, r.lparams, mode, seed, step, run, work)
        p[i] = old - h
        down = mlp_loss(net.layout, net.fparams, p, X, Y, r.code, r.lparams, mode, seed, step, run, work)
        p[i] = old
        g[i] = (up - down) / (2 * h)
    return g


def max_rel_error(a, b):
    floor = REL_FLOOR * np.abs(b).max()
    return float((np.abs(a - b) / np.maximum(np.maximum(np.abs(a), np.abs(b)), floor)).max())


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_forward_by_hand():
    net = build_mlp([2, 2, 1], "sigmoid")
    params = pack(net, [{"W": [[0.1, -0.2], [0.3, 0.4]], "b": [0.05, -0.1]}, {"W": [[0.7], [-0.5]], "b": [0.2]}])
    X = np.array([[1.0, 2.0], [-1.0, 0.5]])
    out = predict(net, params, X)
    kernel_out = np.empty_like(out)
    mlp_predict(net.layout, net.fparams, params, X, EVAL_BATCH, 0, 0, new_running(net), new_workspace(net, 2),
                kernel_out)
    np.testing.assert_array_equal(kernel_out, out)
    for row, x in enumerate(X):
        z1 = [x[0] * 0.1 + x[1] * 0.3 + 0.05, x[0] * -0.2 + x[1] * 0.4 - 0.1]
        a1 = [_sig(z) for z in z1]
        assert out[row, 0] == pytest.approx(a1[0] * 0.7 + a1[1] * -0.5 + 0.2, rel=1e-15)
    # the first sample's hidden layer: z = [0.75, 0.5]
    lg = loss_and_grad(net, params, X, [[1.0], [0.0]])
    r = resolve_loss("mse")
    work = new_workspace(net, 2)
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 0, 0, new_running(net), work)
    v = layer_views(net, work, 2)
    np.testing.assert_allclose(v[0]["z"][0], [0.75, 0.5], rtol=1e-15)
    np.testing.assert_allclose(v[0]["a"][0], [_sig(0.75), _sig(0.5)], rtol=1e-15)
    assert lg.loss == pytest.approx(((out[0, 0] - 1.0) ** 2 + out[1, 0] ** 2) / 2, rel=1e-15)
    assert r.code == 0


CONFIGS = [(False, False), (True, False), (False, True), (True, True)]


@pytest.mark.parametrize("activation", list(ACTIVATIONS))
@pytest.mark.parametrize("residual,batch_norm", CONFIGS, ids=["plain", "residual", "bn", "residual+bn"])
def test_gradient_equals_centered_differences(activation, residual, batch_norm):
    rng = np.random.default_rng(len(activation) + 7 * residual + 3 * batch_norm)
    net = build_mlp([3, 4, 4, 2], activation, residual=residual, batch_norm=batch_norm)
    params = init_params(net, {"name": "xavier_normal", "gain": 1.5}, seed=1)
    params += 0.05 * rng.standard_normal(params.size)  # γ ≠ 1, β ≠ 0, b ≠ 0
    X = rng.standard_normal((5, 3))
    Y = rng.standard_normal((5, 2))
    lg = loss_and_grad(net, params, X, Y, "mse")
    assert max_rel_error(fd_grad(net, params, X, Y), lg.grad) < 1e-6


ARCHS = [
    # widths, activation, output activation, loss, targets
    ([2, 6, 6, 6, 1], "tanh", "identity", "bce_with_logits", lambda rng, n: rng.uniform(0, 1, (n, 1))),
    ([2, 5, 1], "relu", "sigmoid", "bce", lambda rng, n: rng.integers(0, 2, (n, 1)).astype(float)),
    ([3, 7, 3], "gelu", "identity", "cross_entropy_with_logits", lambda rng, n: rng.dirichlet(np.ones(3), n)),
    ([4, 3, 3, 3, 2], "elu", "identity", "huber", lambda rng, n: 2 * rng.standard_normal((n, 2))),
    ([1, 8, 1], "softplus", "identity", "log_cosh", lambda rng, n: rng.standard_normal((n, 1))),
    ([2, 4, 4, 3], "leaky_relu", "identity", "kl_div", lambda rng, n: rng.dirichlet(np.ones(3), n)),
]


@pytest.mark.parametrize("arch", ARCHS, ids=[a[3] for a in ARCHS])
def test_gradient_for_other_architectures_and_losses(arch):
    widths, act, out_act, loss, targets = arch
    rng = np.random.default_rng(3)
    net = build_mlp(widths, act, out_act, residual=True, dropout=0.2)
    params = init_params(net, {"name": "torch_default"}, seed=2)
    X = rng.standard_normal((6, widths[0]))
    Y = np.ascontiguousarray(targets(rng, 6))
    lg = loss_and_grad(net, params, X, Y, loss, seed=5, step=9)  # training mode: dropout on, same masks for FD
    assert max_rel_error(fd_grad(net, params, X, Y, loss, seed=5, step=9), lg.grad) < 1e-6


def _torch_loss(F, loss, pred, target):
    return {"mse": F.mse_loss, "bce_with_logits": F.binary_cross_entropy_with_logits, "bce": F.binary_cross_entropy,
            "cross_entropy_with_logits": F.cross_entropy, "huber": F.huber_loss}[loss](pred, target)


@pytest.mark.parametrize("arch", [
    ([3, 5, 5, 2], "tanh", "identity", "mse", True, True, 0.0),
    ([2, 4, 4, 4, 1], "gelu", "identity", "bce_with_logits", True, False, 0.25),
    ([3, 6, 6, 3], "elu", "identity", "cross_entropy_with_logits", False, True, 0.25),
    ([2, 5, 5, 1], "leaky_relu", "sigmoid", "bce", True, True, 0.0),
    ([4, 3, 2], "softplus", "identity", "huber", False, False, 0.0),
], ids=["mse-res-bn", "bcelogits-res-drop", "ce-bn-drop", "bce-res-bn", "huber"])
def test_against_torch_autograd(arch):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    widths, act, out_act, loss, residual, bn, p = arch
    rng = np.random.default_rng(11)
    net = build_mlp(widths, act, out_act, residual=residual, batch_norm=bn, dropout=p)
    params = init_params(net, {"name": "kaiming_uniform", "a": 0.1}, seed=4)
    params += 0.05 * rng.standard_normal(params.size)
    n = 7
    X = rng.standard_normal((n, widths[0]))
    if loss == "cross_entropy_with_logits":
        Y = rng.dirichlet(np.ones(widths[-1]), n)
    elif loss in ("bce", "bce_with_logits"):
        Y = rng.uniform(0, 1, (n, widths[-1]))
    else:
        Y = rng.standard_normal((n, widths[-1]))
    lg = loss_and_grad(net, params, X, Y, loss, seed=1, step=2)
    work = new_workspace(net, n)
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 1, 2, new_running(net), work)
    masks = [v.get("mask") for v in layer_views(net, work, n)]  # torch's dropout masks differ: apply ours
    fns = {"identity": lambda t: t, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu,
           "leaky_relu": F.leaky_relu, "elu": F.elu, "gelu": F.gelu, "softplus": F.softplus}
    leaves = []
    a = torch.tensor(X)
    for l, lp in enumerate(unpack(net, params)):
        W = torch.tensor(lp.W.T.copy(), requires_grad=True)  # torch's (out, in)
        b = torch.tensor(lp.b.copy(), requires_grad=True)
        leaves += [(lp.W, W, True), (lp.b, b, False)]
        z = F.linear(a, W, b)
        if lp.gamma is not None:
            g = torch.tensor(lp.gamma.copy(), requires_grad=True)
            be = torch.tensor(lp.beta.copy(), requires_grad=True)
            leaves += [(lp.gamma, g, False), (lp.beta, be, False)]
            z = F.batch_norm(z, None, None, g, be, training=True, eps=1e-5)
        hidden = l < net.n_layers - 1
        f = fns[act if hidden else out_act](z)
        if hidden and masks[l] is not None:
            f = f * torch.tensor(masks[l])
        a = a + f if net.layout[l, 7] else f
    value = _torch_loss(F, loss, a, torch.tensor(Y))
    value.backward()
    assert lg.loss == pytest.approx(value.item(), rel=1e-12)
    np.testing.assert_allclose(lg.output, a.detach().numpy(), rtol=1e-12, atol=1e-14)
    grads = unpack(net, lg.grad)
    flat = [(lp.W, lp.b, lp.gamma, lp.beta) for lp in grads]
    k = 0
    for l, group in enumerate(flat):
        for ours in group:
            if ours is None:
                continue
            _, t, transposed = leaves[k]
            k += 1
            theirs = t.grad.numpy().T if transposed else t.grad.numpy()
            np.testing.assert_allclose(ours, theirs, rtol=1e-10, atol=1e-13)


def _one_unit_bn_net():
    """[1, 1, 1]: z = x (W = 1, b = 0), s = BN(z) (γ 1, β 0), identity, ŷ = s: the BN op alone."""
    net = build_mlp([1, 1, 1], "identity", batch_norm=True)
    params = pack(net, [{"W": [[1.0]], "b": [0.0], "gamma": [1.0], "beta": [0.0]}, {"W": [[1.0]], "b": [0.0]}])
    return net, params


def test_batch_norm_worked_example():
    """numerics-detailed.md §7: x = [1, 2, 3, 6], dy = [1, 0, 0, −2]."""
    net, params = _one_unit_bn_net()
    X = np.array([[1.0], [2.0], [3.0], [6.0]])
    running = new_running(net)
    np.testing.assert_array_equal(running, [0.0, 1.0])
    y = predict(net, params, X)  # eval_batch: batch statistics, running stats untouched
    np.testing.assert_allclose(y[:, 0], [-1.0690434404, -0.5345217202, 0.0, 1.6035651607], rtol=1e-9)
    # ∂L/∂ŷ = dy: mse with targets ŷ − dy·n/2 has gradient 2(ŷ − t)/n = dy
    dy = np.array([1.0, 0.0, 0.0, -2.0])
    T = y - (dy * 4 / 2).reshape(-1, 1)
    lg = loss_and_grad(net, params, X, T, "mse", mode="train_update", running=running)
    np.testing.assert_allclose(running, [0.3, 1.3666666667], rtol=1e-9)
    g = unpack(net, lg.grad)[0]
    assert g.gamma[0] == pytest.approx(-4.27617376, rel=1e-8)
    assert g.beta[0] == pytest.approx(-1.0, rel=1e-12)
    # dx = ∂L/∂z of layer 1 (the record of the backward pass)
    work, record = new_workspace(net, 4), np.zeros(net.record_size(4))
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 0, 0, new_running(net), work)
    mlp_backward(net.layout, net.fparams, params, X, dy.reshape(-1, 1), TRAIN, np.empty(net.n_params), work, record)
    dz = record_views(net, record, 4)[0]["dz"][:, 0]
    np.testing.assert_allclose(dz, [0.0572719297, -0.1718096802, 0.1336304301, -0.0190926795], rtol=1e-8)
    assert g.W[0, 0] == pytest.approx(float(X[:, 0] @ dz), rel=1e-12)
    assert abs(g.b[0]) < 1e-15  # Σ dx = 0: the bias before BN learns nothing
    # eval with the running statistics: γ(x − r_μ)/√(r_σ² + eps) + β
    out = predict(net, params, X, mode="eval_running", running=running)
    np.testing.assert_allclose(out[:, 0], (X[:, 0] - 0.3) / np.sqrt(1.3666666666666667 + 1e-5), rtol=1e-12)


def test_batch_norm_layer_matches_its_formula():
    rng = np.random.default_rng(0)
    net = build_mlp([3, 6, 2], "tanh", batch_norm=True)
    params = init_params(net, None, seed=0)
    lp = unpack(net, params)[0]
    lp.gamma[:] = rng.uniform(0.5, 2, 6)
    lp.beta[:] = rng.standard_normal(6)
    X = rng.standard_normal((9, 3))
    work = new_workspace(net, 9)
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 0, 0, new_running(net), work)
    v = layer_views(net, work, 9)[0]
    z = X @ lp.W + lp.b
    np.testing.assert_allclose(v["z"], z, rtol=1e-13)
    s = lp.gamma * (z - z.mean(0)) / np.sqrt(z.var(0) + 1e-5) + lp.beta  # biased variance
    np.testing.assert_allclose(v["s"], s, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(v["a"], np.tanh(s), rtol=1e-12, atol=1e-14)


def test_dropout_scaling_rate_and_determinism():
    p = 0.3
    net = build_mlp([2, 1000, 1], "identity", dropout=p)
    params = init_params(net, {"name": "normal", "std": 1.0}, seed=0)
    X = np.random.default_rng(0).standard_normal((100, 2))
    run = new_running(net)
    work = new_workspace(net, 100)
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 7, 3, run, work)
    v = layer_views(net, work, 100)[0]
    mask = v["mask"].copy()
    assert set(np.unique(mask)) == {0.0, 1.0 / (1.0 - p)}
    rate = float((mask == 0).mean())
    assert abs(rate - p) < 4 * math.sqrt(p * (1 - p) / mask.size)  # 4σ of a Binomial(100000, p) fraction
    np.testing.assert_array_equal(v["a"], v["z"] * mask)  # inverted dropout: kept units × 1/(1 − p)
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 7, 3, run, work)
    np.testing.assert_array_equal(layer_views(net, work, 100)[0]["mask"], mask)  # same (seed, step): same mask
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 7, 4, run, work)
    other = layer_views(net, work, 100)[0]["mask"]
    assert 0.5 < float((other == mask).mean()) < 0.65  # independent draws agree on p² + (1 − p)² = 0.58
    mlp_forward(net.layout, net.fparams, params, X, EVAL_BATCH, 7, 3, run, work)
    v = layer_views(net, work, 100)[0]
    np.testing.assert_array_equal(v["a"], v["z"])  # eval: identity


def test_residual_connections_skip_equal_width_hidden_layers():
    net = build_mlp([3, 4, 4, 5, 5, 2], "tanh", residual=True)
    assert net.skips == (2, 4)  # not the first layer, not 4→5, not the output layer
    params = init_params(net, {"name": "xavier_uniform"}, seed=0)
    X = np.random.default_rng(1).standard_normal((3, 3))
    work = new_workspace(net, 3)
    mlp_forward(net.layout, net.fparams, params, X, TRAIN, 0, 0, new_running(net), work)
    v = layer_views(net, work, 3)
    lps = unpack(net, params)
    prev = X
    for l in range(5):
        z = prev @ lps[l].W + lps[l].b
        np.testing.assert_allclose(v[l]["z"], z, rtol=1e-13, atol=1e-15)
        f = z if l == 4 else np.tanh(z)
        a = prev + f if (l + 1) in net.skips else f
        np.testing.assert_allclose(v[l]["a"], a, rtol=1e-13, atol=1e-15)
        prev = a


def test_workspace_for_a_larger_batch_serves_a_smaller_one_and_backward_is_repeatable():
    net = build_mlp([2, 5, 5, 1], "relu", residual=True, batch_norm=True, dropout=0.1)
    params = init_params(net, None, seed=3)
    rng = np.random.default_rng(2)
    X, Y = rng.standard_normal((4, 2)), rng.standard_normal((4, 1))
    r = resolve_loss("mse")
    big = new_workspace(net, 50)
    g1, g2 = np.empty(net.n_params), np.empty(net.n_params)
    l1 = mlp_loss_grad(net.layout, net.fparams, params, X, Y, r.code, r.lparams, TRAIN, 1, 1, new_running(net), g1, big)
    l2 = loss_and_grad(net, params, X, Y, seed=1, step=1)
    assert l1 == l2.loss
    np.testing.assert_array_equal(g1, l2.grad)
    dy = np.ones((4, 1)) / 4
    mlp_backward(net.layout, net.fparams, params, X, dy, TRAIN, g1, big, big[:0])
    mlp_backward(net.layout, net.fparams, params, X, dy, TRAIN, g2, big, big[:0])
    np.testing.assert_array_equal(g1, g2)


def test_kernels_run_inside_another_jitted_loop():
    """engine.network_landscape.train_full_batch: a cached kernel looping mlp_loss_grad + optimizer_step, against
    Python."""
    from engine.network_landscape import train_full_batch

    net = build_mlp([2, 8, 8, 1], "tanh", batch_norm=True, dropout=0.1)
    params = init_params(net, None, seed=0)
    rng = np.random.default_rng(0)
    X, Y = rng.standard_normal((16, 2)), rng.standard_normal((16, 1))
    r = resolve_loss("mse")
    opt = resolve_optimizer({"name": "adam", "lr": 0.01})
    p1, p2 = params.copy(), params.copy()
    losses = np.zeros(20)
    taken = train_full_batch(Problem(net.layout, net.fparams, X, Y, r.code, r.lparams), new_running(net),
                             opt.args(np.full(20, opt.lr)), new_state(opt, net.n_params), p1, np.empty(net.n_params),
                             new_workspace(net, 16), p1.copy(), losses, 0, 20)
    assert taken == 20
    state, scal = new_state(opt, net.n_params)
    for t in range(20):  # the kernel trains in mode TRAIN with seed 0 and step t
        lg = loss_and_grad(net, p2, X, Y, mode="train", step=t)
        assert lg.loss == losses[t]
        optimizer_step(opt.code, opt.hp, p2, lg.grad, state, scal, t + 1, opt.lr)
    np.testing.assert_array_equal(p1, p2)
    assert losses[-1] < losses[0]


def test_limits_and_shapes_are_refused_by_name():
    with pytest.raises(EngineInputError) as e:
        build_mlp([2] * 66)
    assert e.value.field == "layers" and "max_layers" in e.value.message
    with pytest.raises(EngineInputError) as e:
        build_mlp([2, 1025, 1])
    assert e.value.field == "layers" and "max_width" in e.value.message
    with pytest.raises(EngineInputError) as e:
        build_mlp([1024, 1024, 1024, 1])
    assert "max_network_parameters" in e.value.message
    with pytest.raises(EngineInputError) as e:
        build_mlp([2, 3, 1], "swish")
    assert e.value.field == "activation"
    net = build_mlp([2, 3, 1], batch_norm=True)
    with pytest.raises(EngineInputError) as e:
        as_batch(net, [[1.0, 2.0, 3.0]], [[1.0]])
    assert e.value.field == "X"  # the Python arguments' names (loss_and_grad, predict, mlp_hessian take X, Y)
    with pytest.raises(EngineInputError) as e:
        as_batch(net, [[1.0, 2.0]], [[1.0]])
    assert "batch normalization" in e.value.message
    with pytest.raises(EngineInputError) as e:
        as_batch(net, [[1.0, float("nan")], [0.0, 0.0]], [[1.0], [0.0]])
    assert e.value.field == "X"
    with pytest.raises(EngineInputError) as e:
        as_batch(net, [[1.0, 2.0]] * 1025)
    assert "max_batch" in e.value.message
    with pytest.raises(EngineInputError) as e:
        as_batch(net, [[1.0, 2.0], [0.0, 1.0]], [[1.0, 2.0], [0.0, 1.0]])
    assert e.value.field == "Y"
    with pytest.raises(EngineInputError) as e:
        pack(net, [{"W": [[1.0, 2.0, 3.0]], "b": [0, 0, 0]}, {"W": [[1.0]] * 3, "b": [0.0]}])
    assert e.value.field == "weights.0.W"


def test_pack_unpack_roundtrip_and_layout():
    net = build_mlp([3, 4, 2], "relu", batch_norm=True)
    assert net.n_params == 3 * 4 + 4 + 2 * 4 + 4 * 2 + 2
    params = init_params(net, {"name": "kaiming_normal"}, seed=1)
    layers = unpack(net, params)
    assert layers[0].W.shape == (3, 4) and layers[1].W.shape == (4, 2) and layers[1].gamma is None
    np.testing.assert_array_equal(layers[0].gamma, 1.0)
    np.testing.assert_array_equal(layers[0].beta, 0.0)
    again = pack(net, [{k: getattr(lp, k).tolist() for k in ("W", "b", "gamma", "beta") if getattr(lp, k) is not None}
                       for lp in layers])
    np.testing.assert_array_equal(again, params)
