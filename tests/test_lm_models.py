"""engine.lm_models: every parameter block's gradient against torch autograd (float64, the twin in
tests/lm_twin.py) and central finite differences, for bigram, mlp and gpt (residual on and off,
n_layer 1-3, n_head 1-4, dropout); the layout, the initialisation and the input checks."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.lm_models import build_lm_model, init_lm_params, lm_loss_and_grad

sys.path.insert(0, str(Path(__file__).resolve().parent))

V = 11
GPTS = [
    {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 8, "block_size": 8},
    {"name": "gpt", "n_layer": 2, "n_head": 2, "d_model": 8, "block_size": 8},
    {"name": "gpt", "n_layer": 3, "n_head": 4, "d_model": 16, "block_size": 8},
    {"name": "gpt", "n_layer": 2, "n_head": 4, "d_model": 8, "block_size": 8, "residual": False},
    {"name": "gpt", "n_layer": 3, "n_head": 3, "d_model": 12, "block_size": 8, "residual": False},
]
MODELS = [{"name": "bigram"}, {"name": "mlp", "context": 4, "embedding": 3, "hidden": 6}] + GPTS
# windows long enough (T·head width >= ATT_BLAS_MIN) for the attention's per-head BLAS path
LONG = [{"name": "gpt", "n_layer": 2, "n_head": 2, "d_model": 32, "block_size": 32},
        {"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 16, "block_size": 24, "residual": False}]


def _ids(spec):
    return "-".join(str(v) for v in spec.values())


def _T(spec):
    return spec.get("block_size", 8) if spec in LONG else 8


def _case(spec, seed=0):
    rng = np.random.default_rng(seed)
    m = build_lm_model(spec, V)
    p = init_lm_params(m, 1) + rng.normal(0.0, 0.1, m.n_params)  # off the symmetric start
    stream = rng.integers(0, V, 300)
    weights = (rng.random(300) < 0.7).astype(float)  # some targets not counted, as reverse/sort do
    starts = np.array([0, 5, 40, 100, 3, 250])
    return m, p, stream, weights, starts


def _block_errors(m, got, want):
    """Relative error per block: ‖got − want‖ / ‖want‖ (blocks whose true gradient is 0 must be 0)."""
    out = {}
    for b in m.blocks:
        g, w = got[b.offset:b.offset + b.size], want[b.offset:b.offset + b.size]
        n = np.linalg.norm(w)
        out[b.name] = np.linalg.norm(g - w) / n if n > 0 else np.linalg.norm(g)
    return out


@pytest.mark.parametrize("spec", MODELS + LONG, ids=_ids)
def test_gradient_of_every_block_equals_torch_autograd(spec):
    pytest.importorskip("torch")
    import lm_twin

    from engine.lm_layers import ATT_BLAS_MIN

    m, p, stream, w, starts = _case(spec)
    T = _T(spec)
    if spec in LONG:
        assert T * m.cfg.C // m.cfg.NH >= ATT_BLAS_MIN  # the per-head BLAS attention
    loss, grad = lm_loss_and_grad(m, p, stream, starts, T, w)
    t_loss, t_grad = lm_twin.loss_and_grad(m, p, stream, starts, T, w)
    assert loss == pytest.approx(t_loss, rel=1e-13)
    errs = _block_errors(m, grad, t_grad)
    assert max(errs.values()) < 1e-10, errs
    assert {b.name for b in m.blocks} == set(errs)


def test_dropout_gradient_equals_torch_with_the_same_masks():
    pytest.importorskip("torch")
    import lm_twin

    from engine.lm_layout import new_buffers
    from engine.lm_models import lm_backward, lm_forward

    spec = {"name": "gpt", "n_layer": 2, "n_head": 2, "d_model": 8, "block_size": 8, "dropout": 0.3}
    m, p, stream, w, starts = _case(spec)
    loss, grad = lm_loss_and_grad(m, p, stream, starts, 8, w, train=True, seed=7, step=3)
    buf = new_buffers(m.cfg, starts.size, 8, dropout=True)  # the masks the engine drew for (7, 3)
    lm_forward(m.cfg, m.off, p, stream, starts, 8, w, buf, True, 7, 3)
    masks = buf.masks.copy()
    assert 0.2 < (masks[:, :, :, :] == 0).mean() < 0.4  # about p of the entries dropped
    t_loss, t_grad = lm_twin.loss_and_grad(m, p, stream, starts, 8, w, masks=masks)
    assert loss == pytest.approx(t_loss, rel=1e-13)
    assert max(_block_errors(m, grad, t_grad).values()) < 1e-10
    # without training, dropout is off: the loss of the plain forward
    plain, _ = lm_loss_and_grad(m, p, stream, starts, 8, w)
    assert plain == pytest.approx(lm_twin.loss_and_grad(m, p, stream, starts, 8, w)[0], rel=1e-13)
    assert plain != loss


@pytest.mark.parametrize("spec", MODELS + LONG, ids=_ids)
def test_gradient_equals_central_finite_differences(spec):
    m, p, stream, w, starts = _case(spec, seed=1)
    T = _T(spec)
    _, grad = lm_loss_and_grad(m, p, stream, starts, T, w)
    rng = np.random.default_rng(2)
    h = 1e-5
    worst = 0.0
    for b in m.blocks:  # three coordinates of every block
        for i in rng.choice(np.arange(b.offset, b.offset + b.size), size=min(3, b.size), replace=False):
            q = p.copy()
            q[i] += h
            up, _ = lm_loss_and_grad(m, q, stream, starts, T, w)
            q[i] -= 2 * h
            down, _ = lm_loss_and_grad(m, q, stream, starts, T, w)
            fd = (up - down) / (2 * h)
            worst = max(worst, abs(fd - grad[i]) / max(abs(grad[i]), 1e-4))
    assert worst < 1e-6


def test_bigram_gradient_is_softmax_minus_counts():
    # closed form: d/dtable[i, j] of the mean loss = (Σ_{t: x_t = i} softmax(table[i])_j − N[i, j]) / n
    m = build_lm_model({"name": "bigram"}, V)
    rng = np.random.default_rng(3)
    table = rng.normal(size=(V, V))
    stream = rng.integers(0, V, 500)
    _, grad = lm_loss_and_grad(m, table.ravel(), stream, [0], 499)
    counts = np.zeros((V, V))
    np.add.at(counts, (stream[:-1], stream[1:]), 1.0)
    sm = np.exp(table - table.max(axis=1, keepdims=True))
    sm /= sm.sum(axis=1, keepdims=True)
    want = (counts.sum(axis=1, keepdims=True) * sm - counts) / 499
    np.testing.assert_allclose(grad.reshape(V, V), want, rtol=1e-12, atol=1e-15)


def test_layout_puts_decayed_blocks_first_and_covers_the_vector():
    m = build_lm_model({"name": "gpt", "n_layer": 2, "n_head": 2, "d_model": 8, "block_size": 6}, V)
    offs = [b.offset for b in m.blocks]
    assert offs == sorted(offs) and offs[0] == 0
    assert all(a.offset + a.size == b.offset for a, b in zip(m.blocks, m.blocks[1:]))
    assert m.blocks[-1].offset + m.blocks[-1].size == m.n_params
    decay = [b.decay for b in m.blocks]
    assert decay == sorted(decay, reverse=True)  # True..., then False...
    assert sum(b.size for b in m.blocks if b.decay) == m.n_decay
    assert {b.name for b in m.blocks if b.decay} == {"wte", "wpe", *(f"h{l}.{n}" for l in range(2) for n in (
        "attn.w_qkv", "attn.w_proj", "mlp.w_fc", "mlp.w_proj"))}
    C = 8
    # nanoGPT's count: 12·C² per layer + 13·C (biases and LayerNorms) + embeddings + final LayerNorm
    assert m.n_params == V * C + 6 * C + 2 * (12 * C * C + 13 * C) + 2 * C


def test_gpt2_initialisation():
    m = build_lm_model({"name": "gpt", "n_layer": 4, "n_head": 4, "d_model": 64, "block_size": 32}, V)
    p = init_lm_params(m, seed=0)
    blocks = {b.name: p[b.offset:b.offset + b.size] for b in m.blocks}
    assert np.std(blocks["h0.attn.w_qkv"]) == pytest.approx(0.02, rel=0.05)
    assert np.std(np.concatenate([blocks[f"h{l}.mlp.w_proj"] for l in range(4)])) == pytest.approx(
        0.02 / math.sqrt(8), rel=0.05)
    assert np.all(blocks["h2.ln_1.g"] == 1.0) and np.all(blocks["ln_f.b"] == 0.0)
    assert np.all(blocks["h3.mlp.b_fc"] == 0.0)
    np.testing.assert_array_equal(p, init_lm_params(m, seed=0))
    assert not np.array_equal(p, init_lm_params(m, seed=1))


def test_bigram_starts_at_the_uniform_guess():
    m = build_lm_model({"name": "bigram"}, V)
    loss, _ = lm_loss_and_grad(m, init_lm_params(m), np.arange(50) % V, [0, 10], 8)
    assert loss == pytest.approx(math.log(V), rel=1e-15)


@pytest.mark.parametrize("spec, field", [
    ({"name": "gpt", "n_head": 3, "d_model": 32}, "model.n_head"),
    ({"name": "gpt", "block_size": 65}, "model.block_size"),
    ({"name": "gpt", "d_model": 256}, "model.d_model"),
    ({"name": "gpt", "n_layer": 5}, "model.n_layer"),
    ({"name": "transformer"}, "model.name"),
    ({"name": "mlp", "context": 8, "embedding": 200}, "model.embedding"),
    ({"name": "bigram", "n_layer": 2}, "model.n_layer"),
])
def test_bad_model_settings_name_the_field(spec, field):
    with pytest.raises(EngineInputError) as e:
        build_lm_model(spec, V)
    assert e.value.field == field


def test_bad_batches_are_refused():
    m = build_lm_model({"name": "gpt", "n_layer": 1, "n_head": 1, "d_model": 4, "block_size": 4}, V)
    p = init_lm_params(m)
    with pytest.raises(EngineInputError, match="params"):
        lm_loss_and_grad(m, p[:-1], np.arange(20) % V, [0], 4)
    with pytest.raises(EngineInputError, match="stream"):
        lm_loss_and_grad(m, p, np.arange(20), [0], 4)
    with pytest.raises(EngineInputError, match="starts"):
        lm_loss_and_grad(m, p, np.arange(20) % V, [16], 4)
    with pytest.raises(EngineInputError, match="block_size"):
        lm_loss_and_grad(m, p, np.arange(20) % V, [0], 5)
