"""Weight initialization with torch.nn.init's formulas, for our W of shape [fan_in, fan_out].

torch stores a Linear weight as (out, in) and reads ``fan_in = size(1)``, ``fan_out = size(0)``;
our layer computes ``a @ W + b`` with W of shape [in, out], so here ``fan_in = W.shape[0]`` and
``fan_out = W.shape[1]``: the same numbers for the same layer.

=================  ======================================================  ==========================
name               W                                                       b
=================  ======================================================  ==========================
normal             N(mean, std²)                [mean 0, std 1]            0
uniform            U(a, b)                      [a 0, b 1]                 0
xavier_uniform     U(−B, B), B = gain·√(6/(fan_in + fan_out))  [gain 1]    0
xavier_normal      N(0, σ²), σ = gain·√(2/(fan_in + fan_out))  [gain 1]    0
kaiming_uniform    U(−B, B), B = √3·gain/√fan   [a 0, fan_in, leaky_relu]  0
kaiming_normal     N(0, σ²), σ = gain/√fan      [a 0, fan_in, leaky_relu]  0
torch_default      U(±1/√fan_in)  (nn.Linear: kaiming_uniform(a=√5))       U(±1/√fan_in)
=================  ======================================================  ==========================

``gain`` for the kaiming schemes is ``calculate_gain(nonlinearity, a)``: linear and sigmoid 1,
tanh 5/3, relu √2, leaky_relu √(2/(1 + a²)) (a = 0.01 when not given), selu 3/4 — torch's table.
``fan`` is fan_in or fan_out by ``mode``. Normals are not truncated (torch's aren't).

Biases: torch.nn.init functions initialise the tensor they are given; nn.Linear's own reset
draws its bias from U(±1/√fan_in) and that is what ``torch_default`` does. Every other scheme
here sets biases to 0 (the common convention when a scheme is chosen explicitly; Keras' Dense
default too). BatchNorm's γ = 1 and β = 0 always (torch's defaults).

Randomness: one seeded ``np.random.Generator`` for the whole network, layer by layer in order,
W (drawn as its [fan_in, fan_out] array, row-major) then b (torch_default only). The numbers
follow torch's distributions, not torch's random stream.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from .errors import EngineInputError
from .registry import ParamSpec, lookup, resolve_params
from .validate import check_float, check_int

__all__ = ["INITS", "calculate_gain", "init_layer", "resolve_init", "weight_stats"]

NONLINEARITIES = ("linear", "sigmoid", "tanh", "relu", "leaky_relu", "selu")
MODES = ("fan_in", "fan_out")


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """torch.nn.init.calculate_gain for the nonlinearities an MLP uses (conv* count as linear).

    >>> engine.calculate_gain("tanh"), round(engine.calculate_gain("leaky_relu", 0.2), 6)
    (1.6666666666666667, 1.38675)
    """
    if not isinstance(nonlinearity, str):
        raise EngineInputError("nonlinearity", f"must be a name; choose one of: {', '.join(NONLINEARITIES)}")
    if param is not None:
        param = check_float("param", param)
    if nonlinearity in ("linear", "identity", "sigmoid") or nonlinearity.startswith("conv"):
        return 1.0
    if nonlinearity == "tanh":
        return 5.0 / 3.0
    if nonlinearity == "relu":
        return math.sqrt(2.0)
    if nonlinearity == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if nonlinearity == "selu":
        return 3.0 / 4.0
    raise EngineInputError("nonlinearity", f"unsupported nonlinearity {nonlinearity!r}; choose one of: {', '.join(NONLINEARITIES)}")


def fans(shape: tuple[int, int]) -> tuple[int, int]:
    """(fan_in, fan_out) of our W of shape [fan_in, fan_out]."""
    return int(shape[0]), int(shape[1])


@dataclass(frozen=True)
class InitSpec:
    name: str
    title: str
    weight: str  # the distribution of W
    bias: str  # the distribution of b
    torch: str
    params: tuple[ParamSpec, ...] = ()


_GAIN = ParamSpec("gain", 1.0, 0.0, 100.0, doc="scale factor (calculate_gain of the activation, e.g. 5/3 for tanh)")
_A = ParamSpec("a", 0.0, 0.0, 100.0, doc="negative slope of the leaky_relu the gain is computed for")
_MODE = ParamSpec("mode", "fan_in", kind="choice", choices=MODES, doc="fan_in keeps forward variance, fan_out backward")
_NONLIN = ParamSpec("nonlinearity", "leaky_relu", kind="choice", choices=NONLINEARITIES,
                    doc="the activation the gain is computed for (torch default leaky_relu with a = 0 → √2)")

INITS: dict[str, InitSpec] = {
    "normal": InitSpec(
        "normal", "Normal", "N(mean, std²)", "0", "torch.nn.init.normal_",
        (ParamSpec("mean", 0.0, -100.0, 100.0, doc="mean"),
         ParamSpec("std", 1.0, 0.0, 100.0, doc="standard deviation (torch default 1)")),
    ),
    "uniform": InitSpec(
        "uniform", "Uniform", "U(a, b)", "0", "torch.nn.init.uniform_",
        (ParamSpec("a", 0.0, -100.0, 100.0, doc="lower bound"), ParamSpec("b", 1.0, -100.0, 100.0, doc="upper bound")),
    ),
    "xavier_uniform": InitSpec(
        "xavier_uniform", "Xavier/Glorot uniform", "U(−B, B), B = gain·√(6/(fan_in + fan_out))", "0",
        "torch.nn.init.xavier_uniform_", (_GAIN,),
    ),
    "xavier_normal": InitSpec(
        "xavier_normal", "Xavier/Glorot normal", "N(0, σ²), σ = gain·√(2/(fan_in + fan_out))", "0",
        "torch.nn.init.xavier_normal_", (_GAIN,),
    ),
    "kaiming_uniform": InitSpec(
        "kaiming_uniform", "Kaiming/He uniform", "U(−B, B), B = √3·gain/√fan, gain = calculate_gain(nonlinearity, a)",
        "0", "torch.nn.init.kaiming_uniform_", (_A, _MODE, _NONLIN),
    ),
    "kaiming_normal": InitSpec(
        "kaiming_normal", "Kaiming/He normal", "N(0, σ²), σ = gain/√fan, gain = calculate_gain(nonlinearity, a)",
        "0", "torch.nn.init.kaiming_normal_", (_A, _MODE, _NONLIN),
    ),
    "torch_default": InitSpec(
        "torch_default", "nn.Linear default", "U(±1/√fan_in) (kaiming_uniform with a = √5)", "U(±1/√fan_in)",
        "torch.nn.Linear.reset_parameters",
    ),
}


@dataclass(frozen=True)
class ResolvedInit:
    name: str
    params: dict  # resolved parameters, defaults included


def resolve_init(init: str | Mapping[str, Any], field: str = "init") -> ResolvedInit:
    """``{"name": ..., **params}`` (or a bare name) resolved against INITS; errors name ``init.<param>``
    (``field.<param>`` for a caller that took the spec under another name, e.g. ``model.init``).

    >>> engine.resolve_init({"name": "kaiming_normal", "nonlinearity": "relu"}).params["mode"]
    'fan_in'
    """
    if not isinstance(field, str):
        raise EngineInputError("field", "must be a string")
    spec = init
    if isinstance(spec, str):
        spec = {"name": spec}
    if not isinstance(spec, Mapping):
        raise EngineInputError(field, "must be an object with a 'name'")
    given = dict(spec)
    name = given.pop("name", None)
    if not isinstance(name, str):
        raise EngineInputError(f"{field}.name", f"must be an init name; choose one of: {', '.join(INITS)}")
    entry = lookup(INITS, name, f"{field}.name")
    params = resolve_params(entry.params, given, field)
    if name == "uniform" and not params["a"] < params["b"]:
        raise EngineInputError(f"{field}.b", "must be greater than a")
    return ResolvedInit(name, params)


@dataclass(frozen=True)
class InitStats:
    """What the scheme's distribution is for one layer: family, mean, std and (uniform) bounds."""

    distribution: str  # "normal" | "uniform"
    mean: float
    std: float
    low: float | None  # uniform only
    high: float | None
    bias_bound: float  # b ~ U(±bias_bound); 0 means zero biases


def _layer(init, fan_in, fan_out) -> tuple[ResolvedInit, int, int]:
    if not isinstance(init, ResolvedInit):
        init = resolve_init(init)
    return (init, check_int("fan_in", fan_in, 1, "max_width", integral_floats=False),
            check_int("fan_out", fan_out, 1, "max_width", integral_floats=False))


def weight_stats(init: ResolvedInit | str | Mapping[str, Any], fan_in: int, fan_out: int) -> InitStats:
    """The distribution of W for a [fan_in, fan_out] layer under ``init`` (a name, a spec or a resolved
    init; torch's formulas).

    >>> round(engine.weight_stats("xavier_uniform", 1, 5).high, 12)   # gain·√(6/(fan_in + fan_out))
    1.0
    """
    init, fan_in, fan_out = _layer(init, fan_in, fan_out)
    p = init.params
    if init.name == "normal":
        return InitStats("normal", p["mean"], p["std"], None, None, 0.0)
    if init.name == "uniform":
        a, b = p["a"], p["b"]
        return InitStats("uniform", 0.5 * (a + b), (b - a) / math.sqrt(12.0), a, b, 0.0)
    if init.name in ("xavier_uniform", "xavier_normal"):
        std = p["gain"] * math.sqrt(2.0 / (fan_in + fan_out))
        if init.name == "xavier_normal":
            return InitStats("normal", 0.0, std, None, None, 0.0)
        bound = math.sqrt(3.0) * std  # = gain·√(6/(fan_in + fan_out))
        return InitStats("uniform", 0.0, std, -bound, bound, 0.0)
    if init.name in ("kaiming_uniform", "kaiming_normal"):
        fan = fan_in if p["mode"] == "fan_in" else fan_out
        std = calculate_gain(p["nonlinearity"], p["a"]) / math.sqrt(fan)
        if init.name == "kaiming_normal":
            return InitStats("normal", 0.0, std, None, None, 0.0)
        bound = math.sqrt(3.0) * std
        return InitStats("uniform", 0.0, std, -bound, bound, 0.0)
    if init.name == "torch_default":
        bound = 1.0 / math.sqrt(fan_in)
        return InitStats("uniform", 0.0, bound / math.sqrt(3.0), -bound, bound, bound)
    raise AssertionError(init.name)


def init_layer(init: ResolvedInit | str | Mapping[str, Any], fan_in: int, fan_out: int,
               rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Draw (W [fan_in, fan_out], b [fan_out]) for one layer from ``rng`` (W first, then b)."""
    init, fan_in, fan_out = _layer(init, fan_in, fan_out)
    if not isinstance(rng, np.random.Generator):
        raise EngineInputError("rng", "must be a numpy Generator, e.g. np.random.default_rng(0)")
    st = weight_stats(init, fan_in, fan_out)
    shape = (fan_in, fan_out)
    if st.distribution == "normal":
        W = rng.normal(st.mean, st.std, size=shape)
    else:
        W = rng.uniform(st.low, st.high, size=shape)
    if st.bias_bound > 0.0:
        b = rng.uniform(-st.bias_bound, st.bias_bound, size=fan_out)
    else:
        b = np.zeros(fan_out)
    return np.ascontiguousarray(W, dtype=np.float64), np.ascontiguousarray(b, dtype=np.float64)


def describe() -> list[dict]:
    """Catalog entries: weight and bias distributions, torch function, parameters with defaults."""
    return [
        {
            "name": s.name,
            "title": s.title,
            "weight": s.weight,
            "bias": s.bias,
            "torch": s.torch,
            "parameters": [p.to_dict() for p in s.params],
            "convention": "W has shape [fan_in, fan_out] (torch's Linear weight transposed; same fans)",
        }
        for s in INITS.values()
    ]


def _warmup() -> None:
    """No kernels (numpy draws only): each initialization once, so import-time errors surface at startup."""
    for name in INITS:
        init_layer(resolve_init({"name": name}), 2, 2, np.random.default_rng(0))
