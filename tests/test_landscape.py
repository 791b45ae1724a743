"""engine.landscape: grids against numpy, the critical-point finder against published stationary
points (and the valley's proof), slices against direct evaluation, overflow handling and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import LIMITS, EngineInputError
from engine.critical import KINDS, critical_points
from engine.landscape import landscape_grid, landscape_slice
from engine.surfaces import SURFACES, resolve_surface

from surface_reference import reference_value, regression_data

NAMES = sorted(SURFACES)


@pytest.mark.parametrize("name", NAMES)
def test_grid_equals_numpy_evaluation(name):
    su = resolve_surface(name)
    data = regression_data(su.params) if name == "linear_regression" else None
    g = landscape_grid(name, resolution=(13, 7), gradient=True)
    (x0, x1), (y0, y1) = su.domain
    np.testing.assert_array_equal(g.x, np.linspace(x0, x1, 13))
    np.testing.assert_array_equal(g.y, np.linspace(y0, y1, 7))
    X, Y = np.meshgrid(g.x, g.y)  # rows follow y, columns follow x
    want = reference_value(name, su.params, X, Y, data)
    assert g.z.shape == (7, 13)
    np.testing.assert_allclose(g.z, want, rtol=1e-12, atol=1e-12 * (1 + np.abs(want).max()))
    assert g.z_min == g.z.min() and g.z_max == g.z.max() and g.n_overflow == 0
    gn = np.array([[math.hypot(*su.grad(x, y)[1:]) for x in g.x] for y in g.y])
    np.testing.assert_allclose(g.grad_norm, gn, rtol=1e-11, atol=1e-11 * (1 + gn.max()))
    assert g.grad_norm_max == g.grad_norm.max()


def test_grid_without_gradient_and_custom_rectangle():
    g = landscape_grid("rosenbrock", x_range=(-1.5, 0.5), y_range=[0, 2], resolution=5)
    assert g.grad_norm is None and g.grad_norm_max is None
    assert g.z.shape == (5, 5) and g.x[0] == -1.5 and g.y[-1] == 2.0
    assert g.z[2, 0] == pytest.approx((1 + 1.5) ** 2 + 100 * (1 - 2.25) ** 2, rel=1e-15)  # f(-1.5, 1)


def test_grid_linear_regression_large_n_matches_per_sample_mean():
    """The grid uses the exact quadratic form; it must agree with the per-sample mean (module docstring)."""
    params = {"n": 5000, "noise": 2.0, "seed": 11, "true_w": -3.0, "true_b": 4.0}
    su = resolve_surface("linear_regression", params)
    g = landscape_grid(su, resolution=(9, 6), gradient=True)
    kernel_direct = np.array([[su.value(x, y) for x in g.x] for y in g.y])
    np.testing.assert_allclose(g.z, kernel_direct, rtol=1e-12)
    gn = np.array([[math.hypot(*su.grad(x, y)[1:]) for x in g.x] for y in g.y])
    np.testing.assert_allclose(g.grad_norm, gn, rtol=1e-10, atol=1e-12)


def test_grid_overflow_is_clamped_and_counted():
    g = landscape_grid("goldstein_price", x_range=(-1e300, 1e300), y_range=(-1e300, 1e300), resolution=5,
                       gradient=True)
    assert np.isfinite(g.z).all() and np.isfinite(g.grad_norm).all()
    assert g.n_overflow > 0
    assert g.z[2, 2] == 600.0  # the centre cell is f(0, 0)
    assert g.z_min == g.z_max == 600.0  # the finite cells only
    assert g.z.max() == np.finfo(np.float64).max


@pytest.mark.parametrize("kw,field", [
    (dict(resolution=(LIMITS["max_grid_axis"] + 1, 10)), "resolution"),
    (dict(resolution=(1, 10)), "resolution"),
    (dict(resolution=(10.5, 10)), "resolution"),
    (dict(resolution="big"), "resolution"),
    (dict(x_range=(1.0, -1.0)), "x_range"),
    (dict(y_range=(0.0, float("nan"))), "y_range"),
    (dict(x_range=(-1e308, 1e308)), "x_range"),
    (dict(x_range=(0, 1, 2)), "x_range"),
    (dict(gradient="yes"), "gradient"),
    (dict(params={"k": 1}), "params.k"),
])
def test_grid_bad_input(kw, field):
    with pytest.raises(EngineInputError) as e:
        landscape_grid("rosenbrock", **kw)
    assert e.value.field == field
    if "resolution" in kw and kw["resolution"][0] == LIMITS["max_grid_axis"] + 1:
        assert "max_grid_axis" in str(e.value)


def _match(cp, x, y, tol=1e-7):
    d = np.hypot(cp.x - x, cp.y - y)
    i = int(np.argmin(d))
    assert d[i] <= tol, (x, y, cp.x[i], cp.y[i])
    return i


def _check_published(name, **kw):
    """The finder's points equal the spec's published ones (same number of each kind, same places)."""
    spec = SURFACES[name]
    cp = critical_points(name, **kw)
    for kind, pts in (("minimum", spec.minima), ("saddle", spec.saddles), ("maximum", spec.maxima)):
        for x, y, v in pts:
            i = _match(cp, x, y)
            assert KINDS[cp.kind[i]] == kind and cp.value[i] == pytest.approx(v, rel=1e-9, abs=1e-9)
    return cp


def test_himmelblau_critical_points():
    cp = _check_published("himmelblau", x_range=(-5, 5), y_range=(-5, 5))
    assert (cp.count("minimum"), cp.count("maximum"), cp.count("saddle"), cp.count("degenerate")) == (4, 1, 4, 0)
    assert cp.x.size == 9
    mins = cp.kind == KINDS.index("minimum")
    assert np.all(cp.is_global[mins]) and not cp.is_global[~mins].any()
    np.testing.assert_allclose(cp.value[mins], 0.0, atol=1e-20)
    i = np.flatnonzero(cp.kind == KINDS.index("maximum"))[0]
    assert (cp.x[i], cp.y[i]) == (pytest.approx(-0.270845, abs=1e-6), pytest.approx(-0.923039, abs=1e-6))
    assert cp.value[i] == pytest.approx(181.617, abs=1e-3)
    assert np.all(cp.eigenvalues[i] < 0) and np.all(cp.grad_norm < 1e-9)
    assert [KINDS[k] for k in cp.kind[:4]] == ["minimum"] * 4  # minima (global) come first


@pytest.mark.parametrize("params", [None, {"tilt": 1.5, "width": 0.1, "bend": -1.0}, {"tilt": 0.05, "bend": 0.0}])
def test_valley_has_exactly_local_min_saddle_global_min(params):
    su = resolve_surface("valley", params)
    cp = critical_points(su, seeds=61)
    assert [KINDS[k] for k in cp.kind] == ["minimum", "minimum", "saddle"]
    assert cp.is_global.tolist() == [True, False, False]
    np.testing.assert_allclose(np.column_stack([cp.x[:2], cp.y[:2], cp.value[:2]]), su.minima, rtol=1e-10, atol=1e-12)
    # the saddle lies between the two minima on the valley floor y = bend·x²
    lo, hi = sorted(cp.x[:2])
    assert lo < cp.x[2] < hi and cp.y[2] == pytest.approx(su.params["bend"] * cp.x[2] ** 2, abs=1e-12)
    # and nothing else even in a rectangle twice as large
    (x0, x1), (y0, y1) = su.domain
    wide = critical_points(su, x_range=(2 * x0, 2 * x1), y_range=(2 * y0 - 2, 2 * y1 + 2), seeds=61)
    assert wide.x.size == 3


def test_monkey_saddle_single_degenerate_point():
    cp = critical_points("monkey_saddle")
    assert cp.x.size == 1 and KINDS[cp.kind[0]] == "degenerate" and not cp.is_global.any()
    assert abs(cp.x[0]) < 1e-9 and abs(cp.y[0]) < 1e-9 and abs(cp.value[0]) < 1e-20
    s = critical_points("saddle")
    assert s.x.size == 1 and KINDS[s.kind[0]] == "saddle" and s.eigenvalues[0].tolist() == [-2.0, 2.0]


def test_rastrigin_lattice_and_global_minimum():
    cp = critical_points("rastrigin")
    # separable: 21 roots of x + 10π sin 2πx = 0 per axis in [-5.12, 5.12] (11 minima, 10 maxima)
    assert (cp.count("minimum"), cp.count("maximum"), cp.count("saddle")) == (121, 100, 220)
    assert cp.is_global.sum() == 1
    g = np.flatnonzero(cp.is_global)[0]
    assert abs(cp.x[g]) < 1e-12 and abs(cp.y[g]) < 1e-12 and cp.value[g] == pytest.approx(0.0, abs=1e-12)
    i = _match(cp, 0.9949586377, 0.0)
    assert cp.value[i] == pytest.approx(0.9949590571, abs=1e-9)
    i = _match(cp, 0.5025460366, 0.5025460366)
    assert KINDS[cp.kind[i]] == "maximum" and cp.value[i] == pytest.approx(40.50254598, abs=1e-7)


def test_goldstein_price_and_six_hump_camel_complete():
    gp = _check_published("goldstein_price")
    assert gp.x.size == 9
    camel = _check_published("six_hump_camel")
    assert camel.x.size == 15 and camel.is_global.sum() == 2
    beale = _check_published("beale", seeds=61)
    assert beale.x.size == 3


def test_ackley_kink_and_published_points():
    cp = critical_points("ackley", x_range=(-1.6, 1.6), y_range=(-1.6, 1.6), seeds=60)  # even: no seed at 0
    i = _match(cp, 0.0, 0.0, tol=0.0)
    assert KINDS[cp.kind[i]] == "minimum" and cp.is_global[i] and cp.is_global.sum() == 1
    for x, y, v in SURFACES["ackley"].minima[1:]:
        assert cp.value[_match(cp, x, y)] == pytest.approx(v, rel=1e-9)
    sx, sy, sv = SURFACES["ackley"].saddles[0]
    for a, b in ((sx, sy), (-sx, sy), (sy, sx), (sy, -sx)):
        assert KINDS[cp.kind[_match(cp, a, b)]] == "saddle"
    assert (cp.count("minimum"), cp.count("maximum"), cp.count("saddle")) == (9, 4, 20)


@pytest.mark.parametrize("name", ["quadratic", "booth", "matyas", "rosenbrock", "linear_regression"])
def test_single_minimum_surfaces(name):
    su = resolve_surface(name)
    cp = critical_points(name, seeds=15)
    assert cp.x.size == 1 and KINDS[cp.kind[0]] == "minimum" and cp.is_global[0]
    np.testing.assert_allclose([cp.x[0], cp.y[0], cp.value[0]], su.minima[0], rtol=1e-10, atol=1e-12)


def test_critical_points_restricted_to_rectangle():
    cp = critical_points("himmelblau", x_range=(0, 5), y_range=(0, 5))
    assert cp.x.size == 3 and np.all(cp.x >= 0) and np.all(cp.y >= 0)  # (3, 2) and two saddles
    assert cp.count("minimum") == 1 and cp.count("saddle") == 2


def test_critical_points_records():
    rec = critical_points("booth", seeds=3).records()
    assert rec == [{"x": pytest.approx(1.0), "y": pytest.approx(3.0), "value": pytest.approx(0.0, abs=1e-20),
                    "kind": "minimum", "eigenvalues": [pytest.approx(2.0), pytest.approx(18.0)],
                    "global": True, "grad_norm": pytest.approx(0.0, abs=1e-12)}]


@pytest.mark.parametrize("kw,field", [
    (dict(seeds=LIMITS["max_critical_seeds_axis"] + 1), "seeds"),
    (dict(seeds=0), "seeds"),
    (dict(seeds=True), "seeds"),
    (dict(x_range=(2, 2)), "x_range"),
])
def test_critical_points_bad_input(kw, field):
    with pytest.raises(EngineInputError) as e:
        critical_points("himmelblau", **kw)
    assert e.value.field == field


@pytest.mark.parametrize("name", NAMES)
def test_slice_equals_direct_evaluation(name):
    su = resolve_surface(name)
    (x0, x1), (y0, y1) = su.domain
    p = (0.3 * x0 + 0.7 * x1, 0.6 * y0 + 0.4 * y1)
    d = (0.25 * (x1 - x0), -0.1 * (y1 - y0))
    s = landscape_slice(name, p, d, t_range=(-1, 1), points=41)
    np.testing.assert_array_equal(s.t, np.linspace(-1, 1, 41))
    vals = np.array([su.value(p[0] + t * d[0], p[1] + t * d[1]) for t in s.t])
    np.testing.assert_allclose(s.value, vals, rtol=1e-12, atol=1e-12 * (1 + np.abs(vals).max()))
    # derivative = d value / d t, checked by centred differences along the line
    h = 1e-6
    fd = np.array([(su.value(p[0] + (t + h) * d[0], p[1] + (t + h) * d[1])
                    - su.value(p[0] + (t - h) * d[0], p[1] + (t - h) * d[1])) / (2 * h) for t in s.t])
    np.testing.assert_allclose(s.derivative, fd, rtol=1e-5, atol=1e-5 * (1 + np.abs(vals).max()))


@pytest.mark.parametrize("kw,field", [
    (dict(direction=(0, 0)), "direction"),
    (dict(point=(0, "a")), "point"),
    (dict(point=(0,)), "point"),
    (dict(t_range=(1, 1)), "t_range"),
    (dict(points=LIMITS["max_slice_points"] + 1), "points"),
    (dict(points=1), "points"),
])
def test_slice_bad_input(kw, field):
    args = dict(point=(0, 0), direction=(1, 0))
    args.update(kw)
    with pytest.raises(EngineInputError) as e:
        landscape_slice("booth", **args)
    assert e.value.field == field


def test_describe_and_warmup():
    from engine import build_catalog, landscape

    landscape._warmup()
    names = [e["name"] for e in build_catalog()["surfaces"]]
    assert names == list(SURFACES)
