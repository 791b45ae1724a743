"""engine.clipping: torch's clip_grad_norm_ / clip_grad_value_ on flat gradients."""

from __future__ import annotations

import numba
import numpy as np
import pytest

from engine.clipping import (
    CLIP_EPS,
    clip_by_norm,
    clip_by_value,
    clip_grad_norm,
    clip_grad_value,
    grad_norm,
)
from engine.errors import EngineInputError

import naive

VECTORS = [
    np.array([3.0, 4.0, 12.0]),
    np.random.default_rng(0).standard_normal(50) * 10.0,
    np.array([1e-3, -2e-3]),
    np.array([-7.0]),
    np.array([1e150, -1e150, 3e149]),
]


@pytest.mark.parametrize("g", VECTORS, ids=range(len(VECTORS)))
def test_grad_norm(g):
    assert grad_norm(g) == pytest.approx(np.linalg.norm(g), rel=1e-15)


@pytest.mark.parametrize("max_norm", [0.5, 1.0, 13.0, 1e3])
@pytest.mark.parametrize("g", VECTORS[:4], ids=range(4))
def test_clip_norm_matches_formula_sheet(g, max_norm):
    a = g.copy()
    total = clip_grad_norm(a, max_norm)
    want, want_total = naive.clip_norm(list(g), max_norm)
    assert total == pytest.approx(want_total, rel=1e-15)
    np.testing.assert_allclose(a, want, rtol=1e-15)
    if want_total + CLIP_EPS > max_norm:
        # clipped (even at total == max_norm: coef = max_norm/(total + 1e-6) < 1, as in torch);
        # the norm after is max_norm up to torch's +1e-6 in the denominator
        assert np.linalg.norm(a) == pytest.approx(max_norm, rel=1e-6)
        assert np.linalg.norm(a) < max_norm
    else:
        np.testing.assert_array_equal(a, g)  # coef clamps to exactly 1: untouched


def test_worked_example():
    """numerics-detailed.md §4: grads [3, 4], [12], max_norm 1 → total 13, coef 0.0769230710."""
    a = np.array([3.0, 4.0, 12.0])
    assert clip_grad_norm(a, 1.0) == 13.0
    np.testing.assert_allclose(a, [0.230769213, 0.307692284, 0.923076852], atol=5e-10)
    assert a[0] / 3.0 == pytest.approx(1.0 / (13.0 + CLIP_EPS), rel=1e-15)


@pytest.mark.parametrize("max_norm", [0.1, 2.0, 100.0])
@pytest.mark.parametrize("g", VECTORS[:4], ids=range(4))
def test_clip_norm_matches_torch(g, max_norm):
    torch = pytest.importorskip("torch")
    w = torch.zeros(g.size, dtype=torch.float64, requires_grad=True)
    w.grad = torch.from_numpy(g.copy())
    total = torch.nn.utils.clip_grad_norm_([w], max_norm, foreach=False)
    a = g.copy()
    ours = clip_grad_norm(a, max_norm)
    assert ours == pytest.approx(float(total), rel=1e-14)
    np.testing.assert_allclose(a, w.grad.numpy(), rtol=1e-14)


@pytest.mark.parametrize("c", [0.01, 1.0, 5.0])
@pytest.mark.parametrize("g", VECTORS[:4], ids=range(4))
def test_clip_value(g, c):
    a = g.copy()
    clip_grad_value(a, c)
    np.testing.assert_array_equal(a, naive.clip_value(list(g), c))
    np.testing.assert_array_equal(a, np.clip(g, -c, c))


def test_clip_value_matches_torch():
    torch = pytest.importorskip("torch")
    g = VECTORS[1]
    w = torch.zeros(g.size, dtype=torch.float64, requires_grad=True)
    w.grad = torch.from_numpy(g.copy())
    torch.nn.utils.clip_grad_value_([w], 3.0, foreach=False)
    a = g.copy()
    clip_grad_value(a, 3.0)
    np.testing.assert_array_equal(a, w.grad.numpy())


def test_nonfinite_norm_follows_torch():
    """error_if_nonfinite=False: torch multiplies by coef = max_norm/(inf + 1e-6) = 0, so inf·0 = NaN."""
    a = np.array([np.inf, 1.0])
    assert clip_grad_norm(a, 1.0) == np.inf
    assert np.isnan(a[0]) and a[1] == 0.0


@numba.njit(cache=False)
def _clip_rows(G, max_norm, c):
    norms = np.empty(G.shape[0])
    for r in range(G.shape[0]):
        norms[r] = clip_grad_norm(G[r], max_norm)
        clip_grad_value(G[r], c)
    return norms


def test_kernels_inside_another_kernel():
    G = np.stack([VECTORS[0], VECTORS[0] * 0.01])
    norms = _clip_rows(G, 1.0, 0.5)
    np.testing.assert_allclose(norms, [13.0, 0.13], rtol=1e-15)
    np.testing.assert_allclose(G[0], np.clip(np.array([3.0, 4.0, 12.0]) / (13.0 + CLIP_EPS), -0.5, 0.5), rtol=1e-15)
    np.testing.assert_allclose(G[1], [0.03, 0.04, 0.12], rtol=1e-15)


def test_public_wrappers_copy_and_report():
    g = [3.0, 4.0, 12.0]
    r = clip_by_norm(g, 1.0)
    assert g == [3.0, 4.0, 12.0]
    assert r.norm_before == 13.0 and r.clipped and r.norm_after == pytest.approx(1.0, rel=1e-6)
    r = clip_by_norm(g, 20.0)
    assert not r.clipped and list(r.grad) == g
    r = clip_by_value(g, 5.0)
    assert r.clipped and list(r.grad) == [3.0, 4.0, 5.0] and r.norm_after == pytest.approx(np.sqrt(50.0))


@pytest.mark.parametrize("g,arg,field", [
    ([], 1.0, "grad"),
    ([[1.0, 2.0]], 1.0, "grad"),
    (["a"], 1.0, "grad"),
    ([1.0, float("nan")], 1.0, "grad"),
    ([1.0], 0.0, "max_norm"),
    ([1.0], -1.0, "max_norm"),
    ([1.0], float("inf"), "max_norm"),
    ([1.0], "1", "max_norm"),
])
def test_wrappers_refuse_bad_input(g, arg, field):
    with pytest.raises(EngineInputError) as e:
        clip_by_norm(g, arg)
    assert e.value.field == field
    with pytest.raises(EngineInputError) as e:
        clip_by_value(g, arg)
    assert e.value.field == field.replace("max_norm", "clip_value")
