"""A torch twin of engine.mlp's network as a function of ONE flat float64 parameter tensor.

``torch_loss(torch, net, theta, X, Y, loss, lparams)`` rebuilds the forward pass from slices of
``theta`` laid out as engine.mlp's flat vector (W_ℓ row-major [fan_in, fan_out], b_ℓ, γ_ℓ, β_ℓ), in
mode EVAL_BATCH: no dropout, batch norm with the batch's statistics (``F.batch_norm(training=True)``).
``torch_hvp`` is torch's double backward: grad(grad(L)·v). Every loss of engine.losses is written
the way torch (or the textbook formula engine.losses names) computes it.
"""

from __future__ import annotations

import numpy as np


def _loss(torch, name, pred, target, lparams):
    F = torch.nn.functional
    a = float(lparams[0]) if lparams is not None and len(lparams) else 0.0
    if name == "mse":
        return F.mse_loss(pred, target)
    if name == "mae":
        return F.l1_loss(pred, target)
    if name == "huber":
        return F.huber_loss(pred, target, delta=a or 1.0)
    if name == "smooth_l1":
        return F.smooth_l1_loss(pred, target, beta=a)
    if name == "log_cosh":
        d = pred - target
        return (d.abs() + torch.log1p(torch.exp(-2.0 * d.abs())) - np.log(2.0)).mean()
    if name == "bce":
        return F.binary_cross_entropy(pred, target)
    if name == "bce_with_logits":
        return F.binary_cross_entropy_with_logits(pred, target)
    if name == "hinge":
        return torch.clamp(1.0 - target * pred, min=0.0).mean()
    if name == "cross_entropy":
        return -(target * torch.clamp(torch.log(pred), min=-100.0)).sum(dim=1).mean()
    if name == "cross_entropy_with_logits":
        return F.cross_entropy(pred, target, label_smoothing=a)
    if name == "kl_div":
        return F.kl_div(pred, target, reduction="batchmean")
    raise KeyError(name)


def torch_loss(torch, net, theta, X, Y, loss: str, lparams=None):
    F = torch.nn.functional
    fns = {"identity": lambda t: t, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu,
           "leaky_relu": lambda t: F.leaky_relu(t, net.activation_params.get("negative_slope", 0.01)),
           "elu": lambda t: F.elu(t, net.activation_params.get("alpha", 1.0)), "gelu": F.gelu,
           "softplus": F.softplus}
    a = torch.as_tensor(X)
    L = net.n_layers
    for l, row in enumerate(net.layout):
        fi, fo, wo, bo, go, beo, _, skip = (int(v) for v in row[:8])
        W = theta[wo:wo + fi * fo].reshape(fi, fo)
        z = a @ W + theta[bo:bo + fo]
        if go >= 0:
            z = F.batch_norm(z, None, None, theta[go:go + fo], theta[beo:beo + fo], training=True, eps=1e-5)
        f = fns[net.activation if l < L - 1 else net.output_activation](z)
        a = a + f if skip else f
    return _loss(torch, loss, a, torch.as_tensor(Y), lparams)


def torch_hvp(torch, net, params, X, Y, loss: str, v, lparams=None):
    """(loss, gradient, H v) by torch's autograd: double backward through the twin."""
    theta = torch.tensor(np.asarray(params, dtype=np.float64), requires_grad=True)
    value = torch_loss(torch, net, theta, X, Y, loss, lparams)
    (g,) = torch.autograd.grad(value, theta, create_graph=True)
    (hv,) = torch.autograd.grad(g @ torch.as_tensor(np.asarray(v, dtype=np.float64)), theta)
    return value.item(), g.detach().numpy(), hv.numpy()
