"""Activations: values and derivatives against closed forms, centered differences and torch.

References: the formulas written out here in plain Python (math/scipy), the derivative
conventions at the kinks from numerics-detailed.md §7, torch.nn.functional and autograd (skipped
when torch is absent), torch.nn.init.calculate_gain for the catalog's gains.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import ndtr

from engine.activations import (
    ACTIVATIONS, activate, activate_backward, activate_backward_from_output, activation_deriv, activation_value,
    describe, evaluate_activation, resolve_activation,
)
from engine.errors import EngineInputError

NAMES = list(ACTIVATIONS)
XS = np.array([-30.0, -5.0, -1.3, -0.2, 0.0, 0.4, 1.7, 6.0, 19.9, 20.0, 20.1, 35.0])


def _sig(x):
    return 1.0 / (1.0 + math.exp(-x)) if x >= 0 else math.exp(x) / (1.0 + math.exp(x))


# f, f' written from the formula sheet (default parameters: slope 0.01, alpha 1, softplus beta 1 threshold 20)
REF = {
    "identity": (lambda x: x, lambda x: 1.0),
    "sigmoid": (_sig, lambda x: _sig(x) * (1 - _sig(x))),
    "tanh": (math.tanh, lambda x: 1 - math.tanh(x) ** 2),
    "relu": (lambda x: max(x, 0.0), lambda x: 1.0 if x > 0 else 0.0),
    "leaky_relu": (lambda x: x if x > 0 else 0.01 * x, lambda x: 1.0 if x > 0 else 0.01),
    "elu": (lambda x: x if x > 0 else math.exp(x) - 1, lambda x: 1.0 if x > 0 else math.exp(x)),
    "gelu": (lambda x: x * ndtr(x), lambda x: ndtr(x) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi)),
    "softplus": (lambda x: x if x > 20 else math.log1p(math.exp(x)), lambda x: 1.0 if x > 20 else _sig(x)),
}


@pytest.mark.parametrize("name", NAMES)
def test_value_and_derivative_match_the_formulas(name):
    act = resolve_activation(name)
    f, df = REF[name]
    for x in XS:
        # abs 1e-15: gelu's ½x(1 + erf(x/√2)) (torch's form) is 0 where x·Φ(x) ~ 1e-196
        assert activation_value(act.code, x, act.param) == pytest.approx(f(x), rel=1e-14, abs=1e-15)
        assert activation_deriv(act.code, x, act.param) == pytest.approx(df(x), rel=1e-13, abs=1e-15)


def test_backward_from_the_saved_output_is_the_derivative():
    # tanh' = 1 − y², σ' = y(1 − y) from y = f(x) (torch's backward)
    for name in ("tanh", "sigmoid"):
        act = resolve_activation(name)
        x = np.ascontiguousarray(XS.reshape(1, -1))
        y = np.empty_like(x)
        activate(act.code, act.param, x, y)
        d = np.empty_like(x)
        activate_backward_from_output(act.code, y, np.ones_like(x), d)
        for xv, dv in zip(x[0], d[0]):
            assert dv == pytest.approx(activation_deriv(act.code, xv, act.param), rel=1e-13, abs=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_derivative_is_the_centered_difference_away_from_kinks(name):
    act = resolve_activation(name)
    h = 1e-6
    for x in (-2.3, -0.7, 0.31, 1.9, 4.2):
        fd = (activation_value(act.code, x + h, act.param) - activation_value(act.code, x - h, act.param)) / (2 * h)
        assert activation_deriv(act.code, x, act.param) == pytest.approx(fd, rel=1e-7, abs=1e-9)


def test_kink_conventions_are_torchs():
    # numerics-detailed.md §7: relu' (0) = 0, leaky 0.01, elu 1, gelu 0.5, softplus 0.5, sigmoid 0.25, tanh 1
    want = {"relu": 0.0, "leaky_relu": 0.01, "elu": 1.0, "gelu": 0.5, "softplus": 0.5, "sigmoid": 0.25, "tanh": 1.0,
            "identity": 1.0}
    for name, d0 in want.items():
        act = resolve_activation(name)
        assert activation_deriv(act.code, 0.0, act.param) == d0
        assert ACTIVATIONS[name].deriv_at_zero == d0


def test_parameters_reach_the_kernels():
    leaky = resolve_activation("leaky_relu", {"negative_slope": 0.2})
    assert activation_value(leaky.code, -2.0, leaky.param) == -0.4
    assert activation_deriv(leaky.code, -2.0, leaky.param) == 0.2
    elu = resolve_activation("elu", {"alpha": 2.0})
    assert activation_value(elu.code, -1.0, elu.param) == pytest.approx(2.0 * (math.exp(-1.0) - 1.0), rel=1e-15)
    assert activation_deriv(elu.code, 0.0, elu.param) == 2.0


@pytest.mark.parametrize("name", NAMES)
def test_array_kernels_apply_the_scalar_ones(name):
    act = resolve_activation(name)
    s = np.ascontiguousarray(XS.reshape(3, 4))
    g = np.arange(12.0).reshape(3, 4) - 5.0
    out = np.empty_like(s)
    activate(act.code, act.param, s, out)
    np.testing.assert_array_equal(out, [[activation_value(act.code, v, act.param) for v in row] for row in s])
    activate_backward(act.code, act.param, s, g, out)
    np.testing.assert_array_equal(
        out, [[gv * activation_deriv(act.code, v, act.param) for v, gv in zip(r, gr)] for r, gr in zip(s, g)])
    if name in ("tanh", "sigmoid"):
        y = np.empty_like(s)
        activate(act.code, act.param, s, y)
        activate_backward_from_output(act.code, y, g, out)
        np.testing.assert_array_equal(out, g * (1.0 - y * y) if name == "tanh" else g * (y * (1.0 - y)))
        np.testing.assert_allclose(out, [[gv * activation_deriv(act.code, v, act.param) for v, gv in zip(r, gr)]
                                         for r, gr in zip(s, g)], rtol=1e-14, atol=1e-300)


def test_array_kernels_use_the_layer_parameter():
    # closed forms below zero: leaky ReLU slope·x and slope; ELU α(e^x − 1) and α·e^x
    s = np.ascontiguousarray(XS.reshape(3, 4))
    neg = s < 0
    out = np.empty_like(s)
    for name, params, value, deriv in (
        ("leaky_relu", {"negative_slope": 0.3}, lambda x: 0.3 * x, lambda x: 0.3 + 0.0 * x),
        ("elu", {"alpha": 2.5}, lambda x: 2.5 * np.expm1(x), lambda x: 2.5 * np.exp(x)),
    ):
        act = resolve_activation(name, params)
        activate(act.code, act.param, s, out)
        np.testing.assert_allclose(out[neg], value(s[neg]), rtol=1e-15)
        np.testing.assert_array_equal(out[~neg], s[~neg])
        activate_backward(act.code, act.param, s, np.full_like(s, 2.0), out)
        np.testing.assert_allclose(out[neg], 2.0 * deriv(s[neg]), rtol=1e-15)


@pytest.mark.parametrize("name", NAMES)
def test_against_torch_autograd(name):
    torch = pytest.importorskip("torch")
    F = torch.nn.functional
    fns = {"identity": lambda t: t, "sigmoid": torch.sigmoid, "tanh": torch.tanh, "relu": F.relu,
           "leaky_relu": F.leaky_relu, "elu": F.elu, "gelu": F.gelu, "softplus": F.softplus}
    x = torch.tensor(XS, dtype=torch.float64, requires_grad=True)
    y = fns[name](x)
    y.sum().backward()
    curve = evaluate_activation(name, XS)
    np.testing.assert_allclose(curve.value, y.detach().numpy(), rtol=1e-14, atol=1e-300)
    # atol: 1 − tanh² cancels where tanh ≈ 1, so an ulp of difference in tanh itself shows at 1e-16 absolute
    np.testing.assert_allclose(curve.derivative, x.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_gains_are_torchs():
    torch = pytest.importorskip("torch")
    for entry in describe():
        if entry["gain"] is None:
            with pytest.raises(ValueError):
                torch.nn.init.calculate_gain(entry["name"])
            continue
        name = "linear" if entry["name"] == "identity" else entry["name"]
        assert entry["gain"] == pytest.approx(torch.nn.init.calculate_gain(name), rel=1e-15)


def test_bad_names_and_parameters_are_refused():
    with pytest.raises(EngineInputError) as e:
        resolve_activation("swish")
    assert e.value.field == "activation" and "relu" in e.value.message
    with pytest.raises(EngineInputError) as e:
        resolve_activation("leaky_relu", {"slope": 0.1})
    assert e.value.field == "params.slope"  # the Python argument's name
    with pytest.raises(EngineInputError) as e:  # a caller that took them as activation / activation_params (the MLP)
        resolve_activation("leaky_relu", {"slope": 0.1}, "activation")
    assert e.value.field == "activation_params.slope"
    with pytest.raises(EngineInputError):
        evaluate_activation("relu", [float("nan")])
