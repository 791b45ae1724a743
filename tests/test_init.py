"""Initializations: torch.nn.init's formulas for our W of shape [fan_in, fan_out].

References: the formulas of numerics.md "Initialization" written out here, torch.nn.init itself on
a tensor of torch's shape (fan_out, fan_in) (skipped without torch), and empirical statistics of
large draws (bounds exact, std within 1.5%).
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.init import INITS, calculate_gain, describe, init_layer, resolve_init, weight_stats

FAN_IN, FAN_OUT = 400, 50  # unequal, so fan_in/fan_out swaps show


def test_calculate_gain_table():
    assert calculate_gain("linear") == calculate_gain("sigmoid") == 1.0
    assert calculate_gain("tanh") == 5.0 / 3.0
    assert calculate_gain("relu") == math.sqrt(2.0)
    assert calculate_gain("leaky_relu") == math.sqrt(2.0 / (1.0 + 0.01**2))
    assert calculate_gain("leaky_relu", 0.2) == math.sqrt(2.0 / 1.04)
    assert calculate_gain("selu") == 0.75
    torch = pytest.importorskip("torch")
    for nl in ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu"):
        assert calculate_gain(nl) == pytest.approx(torch.nn.init.calculate_gain(nl), rel=1e-15)
    assert calculate_gain("leaky_relu", 0.2) == pytest.approx(torch.nn.init.calculate_gain("leaky_relu", 0.2), rel=1e-15)


# (spec, distribution, std, bound) from the formula sheet, fan_in = 400, fan_out = 50
CASES = [
    ({"name": "normal", "std": 0.3}, "normal", 0.3, None),
    ({"name": "uniform", "a": -0.2, "b": 0.6}, "uniform", 0.8 / math.sqrt(12), None),
    ({"name": "xavier_uniform", "gain": 2.0}, "uniform", 2.0 * math.sqrt(2 / 450), 2.0 * math.sqrt(6 / 450)),
    ({"name": "xavier_normal"}, "normal", math.sqrt(2 / 450), None),
    ({"name": "kaiming_uniform"}, "uniform", math.sqrt(2) / math.sqrt(400), math.sqrt(6 / 400)),
    ({"name": "kaiming_uniform", "mode": "fan_out", "nonlinearity": "relu"}, "uniform", math.sqrt(2 / 50),
     math.sqrt(6 / 50)),
    ({"name": "kaiming_normal", "a": 0.2, "nonlinearity": "leaky_relu"}, "normal",
     math.sqrt(2 / 1.04) / math.sqrt(400), None),
    ({"name": "kaiming_normal", "mode": "fan_out", "nonlinearity": "tanh"}, "normal", (5 / 3) / math.sqrt(50), None),
    ({"name": "torch_default"}, "uniform", 1 / math.sqrt(400) / math.sqrt(3), 1 / math.sqrt(400)),
]


@pytest.mark.parametrize("spec,dist,std,bound", CASES, ids=[f"{c[0]['name']}-{i}" for i, c in enumerate(CASES)])
def test_stats_follow_the_formulas_and_the_draws_follow_the_stats(spec, dist, std, bound):
    init = resolve_init(spec)
    st = weight_stats(init, FAN_IN, FAN_OUT)
    assert st.distribution == dist
    assert st.std == pytest.approx(std, rel=1e-14)
    if bound is not None:
        assert st.high == pytest.approx(bound, rel=1e-14) and st.low == pytest.approx(-bound, rel=1e-14)
    W, b = init_layer(init, FAN_IN, FAN_OUT, np.random.default_rng(0))
    assert W.shape == (FAN_IN, FAN_OUT) and b.shape == (FAN_OUT,)
    assert W.std() == pytest.approx(st.std, rel=0.015)
    assert W.mean() == pytest.approx(st.mean, abs=4 * st.std / math.sqrt(W.size))
    if dist == "uniform":
        assert st.low <= W.min() and W.max() <= st.high
        assert W.max() > st.high - 0.01 * (st.high - st.low)
    if spec["name"] == "torch_default":
        assert np.abs(b).max() <= 1 / math.sqrt(FAN_IN) and np.abs(b).max() > 0.9 / math.sqrt(FAN_IN)
    else:
        assert not b.any()


TORCH_FNS = {
    "normal": lambda nn, t, p: nn.init.normal_(t, **p),
    "uniform": lambda nn, t, p: nn.init.uniform_(t, **p),
    "xavier_uniform": lambda nn, t, p: nn.init.xavier_uniform_(t, **p),
    "xavier_normal": lambda nn, t, p: nn.init.xavier_normal_(t, **p),
    "kaiming_uniform": lambda nn, t, p: nn.init.kaiming_uniform_(t, **p),
    "kaiming_normal": lambda nn, t, p: nn.init.kaiming_normal_(t, **p),
}


@pytest.mark.parametrize("spec,dist,std,bound", CASES, ids=[f"{c[0]['name']}-{i}" for i, c in enumerate(CASES)])
def test_torch_draws_have_our_stats(spec, dist, std, bound):
    """torch.nn.init on torch's (fan_out, fan_in) tensor has the std/bound we compute for [fan_in, fan_out]."""
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    if spec["name"] == "torch_default":
        lin = torch.nn.Linear(FAN_IN, FAN_OUT, dtype=torch.float64)
        t, bias = lin.weight.detach(), lin.bias.detach()
        assert bias.abs().max().item() <= bound
    else:
        t = torch.empty(FAN_OUT, FAN_IN, dtype=torch.float64)
        params = {k: v for k, v in spec.items() if k != "name"}
        TORCH_FNS[spec["name"]](torch.nn, t, params)
    assert t.std().item() == pytest.approx(std, rel=0.015)
    if bound is not None:
        assert t.abs().max().item() <= bound and t.abs().max().item() > 0.99 * bound


def test_registry_and_errors():
    assert {e["name"] for e in describe()} == set(INITS)
    assert resolve_init("xavier_uniform").params == {"gain": 1.0}
    assert resolve_init({"name": "normal"}).params == {"mean": 0.0, "std": 1.0}  # torch's defaults
    with pytest.raises(EngineInputError) as e:
        resolve_init({"name": "glorot"})
    assert e.value.field == "init.name"
    with pytest.raises(EngineInputError) as e:
        resolve_init({"name": "normal", "gain": 2.0})
    assert e.value.field == "init.gain"
    with pytest.raises(EngineInputError) as e:
        resolve_init({"name": "uniform", "a": 1.0, "b": 0.5})
    assert e.value.field == "init.b"
    with pytest.raises(EngineInputError) as e:
        resolve_init({"name": "kaiming_normal", "mode": "fan_middle"})
    assert e.value.field == "init.mode"
