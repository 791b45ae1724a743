"""Counter-based random numbers for jitted loops: a splitmix64 hash of (seed, stream, counter).

Why not numpy's ``Generator`` here. Public engine functions draw their randomness (weights,
datasets, directions) with a seeded ``np.random.default_rng(seed)`` before any kernel runs.
Dropout masks are different: a jitted training loop needs a fresh mask per mini-batch step,
per layer and per unit, drawn *inside* the kernel, possibly on one of several threads that train
several variants at once. A stateful generator there would have to be threaded through every
call, shared state would make the masks depend on thread scheduling, and the draws would depend
on the order the loop visits units. A counter-based hash has no state: the number for
(seed, step, layer, unit) is a pure function of those integers, so

* the same mask comes back whenever the same step is recomputed (finite differences, a
  gradient check, a replay), in any order, on any number of threads;
* kernels take only integers, stay cacheable and allocate nothing;
* different seeds (variants) and steps give independent-looking streams.

``mix64`` is the splitmix64 output function (Steele, Lea & Flood 2014; the finaliser Java's
``SplittableRandom`` and numpy's ``SeedSequence`` helpers use), applied to a counter advanced by
the golden-ratio increment. Uniforms take the top 53 bits: ``u = (h >> 11)·2⁻⁵³ ∈ [0, 1)``.
These numbers are not numpy's stream and not torch's: masks match torch's *distribution*
(Bernoulli(1 − p) per unit), not its bits.
"""

from __future__ import annotations

import numpy as np

from ._jit import kernel

__all__: list[str] = []  # kernels other kernels call; engine re-exports none of them

_GAMMA = np.uint64(0x9E3779B97F4A7C15)  # 2^64 / golden ratio: splitmix64's increment
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_S30 = np.uint64(30)
_S27 = np.uint64(27)
_S31 = np.uint64(31)
_S11 = np.uint64(11)
_TO_UNIT = 1.0 / 9007199254740992.0  # 2^-53


@kernel
def mix64(z):
    """splitmix64's finaliser: a bijective avalanche mix of one uint64."""
    z = (z ^ (z >> _S30)) * _M1
    z = (z ^ (z >> _S27)) * _M2
    return z ^ (z >> _S31)


@kernel
def stream_key(seed, stream, sub):
    """A uint64 key for the sub-stream (seed, stream, sub), e.g. (seed, step, layer)."""
    k = mix64(np.uint64(seed) + _GAMMA)
    k = mix64(k + np.uint64(stream) * _GAMMA + _GAMMA)
    return mix64(k + np.uint64(sub) * _GAMMA + _GAMMA)


@kernel
def key_uniform(key, counter):
    """The counter-th uniform in [0, 1) of the sub-stream ``key``."""
    h = mix64(key + (np.uint64(counter) + np.uint64(1)) * _GAMMA)
    return float(h >> _S11) * _TO_UNIT


@kernel
def hash_uniform(seed, stream, sub, counter):
    """Uniform in [0, 1) as a pure function of four non-negative integers."""
    return key_uniform(stream_key(seed, stream, sub), counter)


@kernel
def fill_uniform(seed, stream, sub, out):
    """out[i] = hash_uniform(seed, stream, sub, i) for every i (used by tests and demos)."""
    key = stream_key(seed, stream, sub)
    for i in range(out.shape[0]):
        out[i] = key_uniform(key, i)


def uniforms(seed: int, stream: int, sub: int, n: int) -> np.ndarray:
    """``n`` counter-based uniforms of the sub-stream (seed, stream, sub)."""
    out = np.empty(int(n), dtype=np.float64)
    fill_uniform(int(seed), int(stream), int(sub), out)
    return out


def _warmup() -> None:
    uniforms(0, 0, 0, 4)
    hash_uniform(0, 0, 0, 0)
