"""engine.basins: labels and steps agree with single trajectories; discovered points; limits."""

from __future__ import annotations

import numpy as np
import pytest

from engine.basins import basin_map
from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.surfaces import resolve_surface
from engine.trajectory import run_trajectory

ADAM = {"name": "adam", "lr": 0.05}


@pytest.fixture(scope="module")
def himmelblau_map():
    return basin_map("himmelblau", ADAM, resolution=(41, 41), steps=2000)


def test_starts_near_each_minimum_are_labelled_with_it(himmelblau_map):
    b = himmelblau_map
    minima = resolve_surface("himmelblau").minima
    np.testing.assert_array_equal(b.minima, minima)  # all four known, nothing discovered
    assert b.minima_known.all() and b.minima_kind == ("minimum",) * 4
    X, Y = np.meshgrid(b.x, b.y)  # [row = y][col = x]
    for k, (mx, my, _) in enumerate(minima):
        near = np.hypot(X - mx, Y - my) < 0.6
        assert near.sum() >= 4
        assert (b.label[near] == k).all(), k
    # every start settles somewhere on Himmelblau with Adam
    assert set(np.unique(b.label)) == {0, 1, 2, 3}


def test_labels_and_steps_agree_with_single_trajectories(himmelblau_map):
    b = himmelblau_map
    tol = b.minimum_tolerance
    for row, col in [(0, 0), (5, 33), (20, 20), (40, 7), (13, 2), (37, 39)]:
        start = (b.x[col], b.y[row])
        tr = run_trajectory("himmelblau", start, 2000, ADAM, tolerance=b.tolerance)
        lab, n = b.label[row, col], b.steps[row, col]
        d = np.hypot(tr.path[:, 0] - b.minima[lab, 0], tr.path[:, 1] - b.minima[lab, 1])
        # the basin run stops at the first point within tolerance of a known minimum
        first = int(np.argmax(d <= tol))
        assert d[first] <= tol and n == first, (row, col)
        np.testing.assert_array_equal(b.final[row, col], tr.path[n])
        dk = np.hypot(*(b.minima[:, :2] - tr.path[n]).T)
        assert (dk[np.arange(4) != lab] > tol).all()


def test_discovered_stationary_points_and_divergence():
    # x^2 - y^2: starts on y = 0 slide into the saddle (discovered); the others run off (-1)
    b = basin_map("saddle", {"name": "sgd", "lr": 0.1}, x_range=(-1.0, 1.0), y_range=(-1.0, 1.0),
               resolution=(5, 5), steps=500)
    assert b.minima.shape == (1, 3) and not b.minima_known[0] and b.minima_kind == ("saddle",)
    assert np.hypot(*b.minima[0, :2]) < 1e-6
    expected = np.full((5, 5), -1)
    expected[2] = 0  # the row y = 0
    np.testing.assert_array_equal(b.label, expected)
    assert (b.steps[[0, 1, 3, 4]] < 500).all()


def test_rastrigin_local_minima_are_discovered_and_deduplicated():
    b = basin_map("rastrigin", {"name": "sgd", "lr": 0.002}, x_range=(-1.3, 1.3), y_range=(-1.3, 1.3),
               resolution=(9, 9), steps=3000)
    disc = b.minima[~b.minima_known]
    assert b.minima_known[0] and len(disc) >= 4
    assert set(b.minima_kind[1:]) == {"minimum"}
    # the local minima of the product lattice near (±0.995, 0), (0, ±0.995), (±0.995, ±0.995)
    for x, y, v in disc:
        assert min(abs(abs(x) - 0.9949586), abs(x)) < 1e-4 and min(abs(abs(y) - 0.9949586), abs(y)) < 1e-4
        assert v == pytest.approx(resolve_surface("rastrigin").value(x, y))
    # pairwise distinct by more than the dedupe radius
    d = np.hypot(*(disc[:, None, :2] - disc[None, :, :2]).transpose(2, 0, 1))
    assert (d[~np.eye(len(disc), dtype=bool)] > 1e-2).all()
    assert (b.label >= 0).all()


def test_not_converged_is_minus_two():
    b = basin_map("rosenbrock", {"name": "sgd", "lr": 1e-4}, resolution=(3, 3), steps=5)
    assert (b.label == -2).all() and (b.steps == 5).all()


@pytest.mark.parametrize(
    "kwargs,field,limit",
    [
        (dict(resolution=(LIMITS["max_basin_axis"] + 1, 10)), "resolution.0", "max_basin_axis"),
        (dict(resolution=(10, 10), steps=LIMITS["max_steps"] + 1), "steps", "max_steps"),
        (dict(resolution=(500, 500), steps=201), "resolution", "max_descent_work"),
        (dict(resolution=(1, 10)), "resolution.0", ""),
        (dict(x_range=(1.0, -1.0)), "x_range", ""),
        (dict(y_range=(0.0, 1e6)), "y_range", "bound box"),
        (dict(surface="nope"), "surface", ""),
    ],
)
def test_limits_and_bad_input(kwargs, field, limit):
    base = dict(surface="himmelblau", optimizer=ADAM, resolution=(4, 4), steps=10)
    with pytest.raises(EngineInputError) as e:
        basin_map(**{**base, **kwargs})
    assert e.value.field.startswith(field) and limit in str(e.value)
