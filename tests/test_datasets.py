"""engine.datasets: shapes, seeding, and each generator against its closed-form construction."""

import numpy as np
import pytest

from engine.datasets import DATASETS, describe, make_dataset
from engine.errors import EngineInputError
from engine.limits import LIMITS


@pytest.mark.parametrize("name", sorted(DATASETS))
def test_shapes_dtypes_and_seeding(name):
    d = make_dataset(name, {"n_train": 40, "n_val": 24, "seed": 3})
    spec = DATASETS[name]
    assert d.task == spec.task and d.n_inputs == spec.n_inputs
    for a, n in ((d.X_train, 40), (d.Y_train, 40), (d.X_val, 24), (d.Y_val, 24)):
        assert a.dtype == np.float64 and a.flags.c_contiguous and a.shape[0] == n
    assert d.Y_train.shape[1] == 1 and d.domain.shape == (spec.n_inputs, 2)
    again = make_dataset(name, {"n_train": 40, "n_val": 24, "seed": 3})
    np.testing.assert_array_equal(d.X_train, again.X_train)
    np.testing.assert_array_equal(d.Y_val, again.Y_val)
    other = make_dataset(name, {"n_train": 40, "n_val": 24, "seed": 4})
    assert not np.array_equal(d.X_train, other.X_train)
    # the training split does not depend on the size of the validation split
    bigger_val = make_dataset(name, {"n_train": 40, "n_val": 100, "seed": 3})
    np.testing.assert_array_equal(d.X_train, bigger_val.X_train)
    if d.task == "classification":
        counts = np.bincount(d.Y_train[:, 0].astype(int), minlength=d.n_classes)
        assert counts.max() - counts.min() <= 1 and d.Y_train.min() >= 0
    else:
        assert d.n_classes == 0


def test_sine_noise_is_gaussian_with_the_stated_std():
    d = make_dataset("sine", {"n_train": 10_000, "n_val": 10, "noise": 0.3, "frequency": 2.0, "seed": 1})
    r = d.Y_train[:, 0] - np.sin(2.0 * d.X_train[:, 0])
    assert abs(r.mean()) < 4 * 0.3 / 100 and abs(r.std() - 0.3) < 0.3 * 0.04
    assert d.X_train.min() >= -np.pi and d.X_train.max() <= np.pi


def test_polynomial_is_chebyshev():
    d = make_dataset("polynomial", {"degree": 4, "noise": 0.0, "n_train": 50})
    x = d.X_train[:, 0]
    np.testing.assert_allclose(d.Y_train[:, 0], np.cos(4 * np.arccos(x)), atol=1e-12)


def test_moons_and_circles_lie_on_their_curves_without_noise():
    d = make_dataset("moons", {"noise": 0.0, "n_train": 100})
    x, y, lab = d.X_train[:, 0], d.X_train[:, 1], d.Y_train[:, 0]
    up, lo = lab == 0, lab == 1
    np.testing.assert_allclose(x[up] ** 2 + y[up] ** 2, 1.0, atol=1e-12)
    assert y[up].min() >= 0
    np.testing.assert_allclose((x[lo] - 1) ** 2 + (y[lo] - 0.5) ** 2, 1.0, atol=1e-12)
    assert y[lo].max() <= 0.5
    c = make_dataset("circles", {"noise": 0.0, "factor": 0.3})
    r = np.hypot(c.X_train[:, 0], c.X_train[:, 1])
    np.testing.assert_allclose(r, np.where(c.Y_train[:, 0] == 0, 1.0, 0.3), atol=1e-12)


def test_xor_spirals_blobs_constructions():
    d = make_dataset("xor", {"noise": 0.0})
    np.testing.assert_array_equal(d.Y_train[:, 0], (d.X_train[:, 0] * d.X_train[:, 1] < 0).astype(float))
    s = make_dataset("spirals", {"noise": 0.0, "n_classes": 3, "turns": 1.0, "n_train": 90})
    r = np.hypot(s.X_train[:, 0], s.X_train[:, 1])
    ang = np.arctan2(s.X_train[:, 1], s.X_train[:, 0])
    expect = 2 * np.pi * r + 2 * np.pi * s.Y_train[:, 0] / 3
    np.testing.assert_allclose(np.cos(ang), np.cos(expect), atol=1e-9)
    np.testing.assert_allclose(np.sin(ang), np.sin(expect), atol=1e-9)
    b = make_dataset("blobs", {"n_classes": 4, "noise": 0.2, "n_train": 4000})
    for k in range(4):
        centre = 2 * np.array([np.cos(np.pi * k / 2), np.sin(np.pi * k / 2)])
        pts = b.X_train[b.Y_train[:, 0] == k]
        np.testing.assert_allclose(pts.mean(axis=0), centre, atol=4 * 0.2 / np.sqrt(len(pts)))
        np.testing.assert_allclose(pts.std(axis=0), 0.2, rtol=0.1)


@pytest.mark.parametrize(
    "name, params, field",
    [
        ("nope", {}, "name"),
        ("sine", {"bogus": 1}, "params.bogus"),
        ("sine", {"noise": -1.0}, "params.noise"),
        ("sine", {"n_train": 2.5}, "params.n_train"),
        ("sine", {"n_train": LIMITS["max_train_samples"] + 1}, "params.n_train"),
        ("moons", {"n_val": LIMITS["max_val_samples"] + 1}, "params.n_val"),
        ("blobs", {"n_classes": 9}, "params.n_classes"),
        ("blobs", {"n_classes": 5, "n_train": 4}, "params.n_train"),
    ],
)
def test_bad_input_names_the_field(name, params, field):
    with pytest.raises(EngineInputError) as e:
        make_dataset(name, params)
    assert e.value.field == field


def test_limit_message_names_the_limit():
    with pytest.raises(EngineInputError, match="max_train_samples"):
        make_dataset("sine", {"n_train": LIMITS["max_train_samples"] + 1})


def test_describe_lists_every_dataset_with_parameters():
    entries = {e["name"]: e for e in describe()}
    assert set(entries) == set(DATASETS)
    for e in entries.values():
        names = [p["name"] for p in e["parameters"]]
        assert names[:4] == ["n_train", "n_val", "noise", "seed"]
        assert e["task"] in ("regression", "classification")
