"""Network landscapes: filter normalization (Li et al. 2018), the parallel grid against direct
evaluation, the seeded datasets, training before slicing, limits.
"""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.losses import resolve_loss
from engine.datasets import DATASETS
from engine.mlp import build_mlp, mlp_loss, new_running, new_workspace, unpack
from engine.mlp_kernels import EVAL_BATCH
from engine.network_landscape import make_data, run_network_landscape
from engine.tasks import format_targets


def _targets(data, outputs, loss):
    return format_targets(DATASETS[data.name].task, loss, data.labels.reshape(-1, 1), outputs)[0]


@pytest.fixture(scope="module")
def moons():
    return run_network_landscape([2, 6, 6, 1], "tanh", {"name": "moons", "n": 60}, dims=2, resolution=5, span=0.8,
                                 seed=4, train_steps=30)


def _direct(res, net, dims_point):
    data = make_data({"name": res.dataset["name"], **res.dataset["params"]}, 4)
    Y = _targets(data, net.widths[-1], res.loss_name)
    r = resolve_loss(res.loss_name)
    theta = res.center + sum(c * d for c, d in zip(dims_point, res.directions))
    return mlp_loss(net.layout, net.fparams, np.ascontiguousarray(theta), data.X, Y, r.code, r.lparams, EVAL_BATCH, 0,
                    0, new_running(net), new_workspace(net, data.X.shape[0]))


def test_grid_values_are_the_loss_at_those_points(moons):
    net = build_mlp([2, 6, 6, 1], "tanh")
    assert moons.loss.shape == (5, 5) and moons.loss_name == "bce_with_logits"
    np.testing.assert_allclose(moons.alpha, np.linspace(-0.8, 0.8, 5))
    np.testing.assert_array_equal(moons.beta, moons.alpha)
    for r, c in [(0, 0), (1, 3), (4, 2), (3, 4)]:
        want = _direct(moons, net, (moons.alpha[c], moons.beta[r]))
        assert moons.loss[r, c] == pytest.approx(want, rel=1e-12)
    assert moons.loss[2, 2] == pytest.approx(moons.center_loss, rel=1e-12)  # α = β = 0 is θ*
    assert moons.loss_min <= moons.center_loss <= moons.loss_max
    assert moons.status == "ok" and moons.overflow == 0


def test_directions_are_filter_normalized_with_biases_zeroed(moons):
    net = build_mlp([2, 6, 6, 1], "tanh")
    for d in moons.directions:
        for ld, lc in zip(unpack(net, d), unpack(net, moons.center)):
            np.testing.assert_allclose(np.linalg.norm(ld.W, axis=0), np.linalg.norm(lc.W, axis=0), rtol=1e-12)
            assert not ld.b.any()
    assert abs(np.corrcoef(moons.directions[0], moons.directions[1])[0, 1]) < 0.5  # two different draws


def test_training_moves_to_lower_loss(moons):
    assert moons.train_steps == 30 and moons.train_status == "ok"
    assert moons.train_loss[-1] < moons.train_loss[0]
    assert moons.optimizer["name"] == "adam"


def test_one_dimensional_slice_and_determinism():
    a = run_network_landscape([1, 8, 1], "relu", {"name": "sine", "n": 40}, dims=1, resolution=7, seed=2, train_steps=0)
    b = run_network_landscape([1, 8, 1], "relu", {"name": "sine", "n": 40}, dims=1, resolution=7, seed=2, train_steps=0)
    assert a.beta.size == 0 and a.loss.shape == (1, 7) and a.directions.shape == (1, a.parameters)
    np.testing.assert_array_equal(a.loss, b.loss)
    assert a.loss[0, 3] == pytest.approx(a.center_loss, rel=1e-12) and a.loss_name == "mse"
    assert a.train_status == "none"


def test_datasets():
    m = make_data({"name": "moons", "n": 100, "noise": 0.0}, 0)
    assert m.X.shape == (100, 2) and m.labels.sum() == 50
    top = m.X[m.labels == 0]
    np.testing.assert_allclose(np.hypot(top[:, 0], top[:, 1]), 1.0, rtol=1e-12)  # the upper moon: unit circle
    c = make_data({"name": "circles", "n": 50, "noise": 0.0, "factor": 0.3}, 1)
    radii = np.sort(np.unique(np.round(np.hypot(c.X[:, 0], c.X[:, 1]), 12)))
    np.testing.assert_allclose(radii, [0.3, 1.0])
    s = make_data({"name": "sine", "n": 30, "noise": 0.0}, 2)
    np.testing.assert_allclose(s.labels, np.sin(s.X[:, 0]), rtol=1e-15)
    two = _targets(m, 2, "cross_entropy_with_logits")
    np.testing.assert_array_equal(two.argmax(1), m.labels)


def test_bad_requests_name_their_field():
    with pytest.raises(EngineInputError) as e:
        run_network_landscape([3, 4, 1], dataset={"name": "moons"})
    assert e.value.field == "layers"
    with pytest.raises(EngineInputError) as e:
        run_network_landscape([2, 4, 3], dataset={"name": "moons"})
    assert e.value.field == "layers"
    with pytest.raises(EngineInputError) as e:
        run_network_landscape([2, 4, 1], dataset={"name": "moons"}, loss="cross_entropy_with_logits")
    assert e.value.field == "loss"
    with pytest.raises(EngineInputError) as e:
        run_network_landscape(resolution=202)
    assert "max_landscape_axis" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_network_landscape(dataset={"name": "moons", "n": 2001})
    assert "max_landscape_samples" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_network_landscape([2, 256, 256, 1], resolution=101, dataset={"name": "moons", "n": 2000})
    assert e.value.field == "resolution" and "max_landscape_work" in e.value.message
    with pytest.raises(EngineInputError) as e:
        run_network_landscape(dataset={"name": "spiral"})
    assert e.value.field == "dataset.name"
