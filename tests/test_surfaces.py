"""engine.surfaces: values against a plain-numpy reference, analytic gradients and Hessians against
centred finite differences, published stationary points, the registry and its errors."""

from __future__ import annotations

import math

import numba
import numpy as np
import orjson
import pytest

from engine import EngineInputError, LIMITS
from engine import surfaces as S
from engine.surfaces import SURFACES, resolve_surface, surface_grad, surface_hessian, surface_value

from surface_reference import reference_value, regression_data

NAMES = sorted(SURFACES)


def _random_points(su, k=8, seed=0):
    rng = np.random.default_rng(seed)
    (x0, x1), (y0, y1) = su.domain
    return np.column_stack([rng.uniform(x0, x1, k), rng.uniform(y0, y1, k)])


def _resolve(name):
    # non-default parameters where a surface has them, so packing is exercised too
    params = {
        "quadratic": {"condition": 7.0, "scale": 0.5, "angle": 30.0},
        "rosenbrock": {"a": 1.5, "b": 20.0},
        "rastrigin": {"A": 4.0},
        "valley": {"tilt": 0.8, "width": 1.5, "bend": -0.4},
        "linear_regression": {"n": 50, "noise": 0.3, "seed": 7, "true_w": -1.0, "true_b": 0.5},
    }.get(name)
    return resolve_surface(name, params)


@pytest.mark.parametrize("name", NAMES)
def test_value_matches_numpy_reference(name):
    su = _resolve(name)
    data = regression_data(su.params) if name == "linear_regression" else None
    pts = _random_points(su)
    got = np.array([su.value(x, y) for x, y in pts])
    want = reference_value(name, su.params, pts[:, 0], pts[:, 1], data)
    np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    # surface_grad returns the same value
    np.testing.assert_allclose([su.grad(x, y)[0] for x, y in pts], got, rtol=1e-14, atol=1e-14)


@pytest.mark.parametrize("name", NAMES)
def test_gradient_matches_centred_differences(name):
    su = _resolve(name)
    for x, y in _random_points(su, seed=1):
        f, gx, gy = su.grad(x, y)
        h = 1e-5 * max(1.0, abs(x), abs(y))
        fd_x = (su.value(x + h, y) - su.value(x - h, y)) / (2 * h)
        fd_y = (su.value(x, y + h) - su.value(x, y - h)) / (2 * h)
        tol = 1e-6 * (1.0 + abs(f) + math.hypot(gx, gy))
        assert abs(gx - fd_x) <= tol, (x, y, gx, fd_x)
        assert abs(gy - fd_y) <= tol, (x, y, gy, fd_y)


@pytest.mark.parametrize("name", NAMES)
def test_hessian_matches_centred_differences_of_gradient(name):
    su = _resolve(name)
    for x, y in _random_points(su, seed=2):
        hxx, hxy, hyy = su.hessian(x, y)
        h = 1e-5 * max(1.0, abs(x), abs(y))
        _, gxp, gyp = su.grad(x + h, y)
        _, gxm, gym = su.grad(x - h, y)
        _, gxp2, gyp2 = su.grad(x, y + h)
        _, gxm2, gym2 = su.grad(x, y - h)
        fd_xx, fd_yx = (gxp - gxm) / (2 * h), (gyp - gym) / (2 * h)
        fd_xy, fd_yy = (gxp2 - gxm2) / (2 * h), (gyp2 - gym2) / (2 * h)
        tol = 1e-6 * (1.0 + abs(hxx) + abs(hxy) + abs(hyy) + math.hypot(*su.grad(x, y)[1:]))
        assert abs(hxx - fd_xx) <= tol, (x, y, hxx, fd_xx)
        assert abs(hyy - fd_yy) <= tol, (x, y, hyy, fd_yy)
        assert abs(hxy - fd_xy) <= tol and abs(hxy - fd_yx) <= tol, (x, y, hxy, fd_xy, fd_yx)


@pytest.mark.parametrize("name", NAMES)
def test_published_stationary_points(name):
    """Every listed minimum/saddle/maximum: its published value, ∇f ≈ 0, and the Hessian's signature."""
    su = resolve_surface(name)
    spec = su.spec
    groups = [("minimum", spec.minima), ("saddle", spec.saddles), ("maximum", spec.maxima)]
    assert spec.minima or name in ("saddle", "monkey_saddle")
    for kind, points in groups:
        for x, y, v in points:
            f, gx, gy = su.grad(x, y)
            hxx, hxy, hyy = su.hessian(x, y)
            assert f == pytest.approx(v, rel=1e-9, abs=1e-9), (kind, x, y)
            assert math.hypot(gx, gy) <= 1e-7 * (1.0 + abs(hxx) + abs(hxy) + abs(hyy)), (kind, x, y, gx, gy)
            lo, hi = np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]])
            if name == "monkey_saddle":
                assert lo == hi == 0.0  # degenerate
            elif kind == "minimum":
                assert lo > 0
            elif kind == "maximum":
                assert hi < 0
            else:
                assert lo < 0 < hi


def test_published_constants_by_hand():
    """A few values straight from the formula sheet, not from the registry."""
    assert resolve_surface("rosenbrock").value(-1, 1) == 4.0
    assert resolve_surface("goldstein_price").value(0, 0) == 600.0
    assert resolve_surface("goldstein_price").value(0, -1) == pytest.approx(3.0, rel=1e-15)
    assert resolve_surface("ackley").value(1, 1) == pytest.approx(3.6253849384, abs=1e-10)
    assert resolve_surface("ackley").value(0, 0) == pytest.approx(0.0, abs=1e-15)
    assert resolve_surface("beale").value(0, 1.7) == pytest.approx(14.203125, rel=1e-15)  # constant on x = 0
    assert resolve_surface("himmelblau").value(-0.2708445907, -0.9230385565) == pytest.approx(181.6165215, rel=1e-9)
    assert resolve_surface("rastrigin").value(0.9949586377, 0) == pytest.approx(0.9949590571, abs=1e-9)
    assert resolve_surface("six_hump_camel").value(0.0898420131, -0.712656403) == pytest.approx(-1.031628453, abs=1e-9)


def test_booth_hessian_eigenvalues_2_and_18():
    hxx, hxy, hyy = resolve_surface("booth").hessian(0.3, -7.0)
    np.testing.assert_allclose(np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]]), [2.0, 18.0], rtol=1e-15)


def test_matyas_hessian_eigenvalues():
    hxx, hxy, hyy = resolve_surface("matyas").hessian(1.0, 2.0)
    np.testing.assert_allclose(np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]]), [0.04, 1.0], rtol=1e-12)


@pytest.mark.parametrize("condition,scale,angle", [(10.0, 1.0, 0.0), (100.0, 0.25, 30.0), (1.0, 3.0, -120.0)])
def test_quadratic_eigenvalues_and_axis(condition, scale, angle):
    su = resolve_surface("quadratic", {"condition": condition, "scale": scale, "angle": angle})
    hxx, hxy, hyy = su.hessian(0.7, -0.2)
    lam, vec = np.linalg.eigh([[hxx, hxy], [hxy, hyy]])
    np.testing.assert_allclose(lam, [scale, scale * condition], rtol=1e-12)
    if condition > 1:
        th = math.radians(angle)
        assert abs(abs(vec[:, 0] @ [math.cos(th), math.sin(th)]) - 1.0) < 1e-12  # low curvature along angle
    assert su.value(0, 0) == 0.0 and su.minima.tolist() == [[0.0, 0.0, 0.0]]


def test_ackley_origin_convention():
    su = resolve_surface("ackley")
    assert su.grad(0.0, 0.0)[1:] == (0.0, 0.0)
    hxx, hxy, hyy = su.hessian(0.0, 0.0)
    assert hxy == 0.0 and hxx == hyy == pytest.approx(2 * math.pi**2 * math.e, rel=1e-14)
    # one ulp away the cone's gradient is there, finite, with norm 2·√2·e^0 (directional slope of 20·e^{-0.2r})
    _, gx, gy = su.grad(1e-300, 0.0)
    assert gx == pytest.approx(2.0 * math.sqrt(2.0), rel=1e-12) and gy == 0.0


def test_linear_regression_minimum_is_least_squares():
    params = {"n": 200, "noise": 0.8, "seed": 3, "true_w": 1.5, "true_b": 2.0}
    su = resolve_surface("linear_regression", params)
    xs, ys = regression_data(su.params)
    n = su.p.size // 2
    assert n == 200 and su.p.flags.c_contiguous and su.p.dtype == np.float64
    np.testing.assert_array_equal(su.p[:n], xs)  # sample i is (p[i], p[n + i])
    np.testing.assert_array_equal(su.p[n:], ys)
    A = np.column_stack([xs, np.ones(n)])
    (w, b), res, *_ = np.linalg.lstsq(A, ys, rcond=None)
    (mw, mb, mv), = su.minima
    assert mw == pytest.approx(w, rel=1e-12) and mb == pytest.approx(b, rel=1e-12)
    assert mv == pytest.approx(res[0] / n, rel=1e-12)
    assert su.value(mw, mb) == pytest.approx(mv, rel=1e-12)
    _, gx, gy = su.grad(mw, mb)
    assert abs(gx) < 1e-12 and abs(gy) < 1e-12
    hxx, hxy, hyy = su.hessian(0.0, 0.0)
    np.testing.assert_allclose([hxx, hxy, hyy], [2 * np.mean(xs**2), 2 * np.mean(xs), 2.0], rtol=1e-13)
    (wx0, wx1), (by0, by1) = su.domain
    assert wx0 < mw < wx1 and by0 < mb < by1


def test_linear_regression_is_seeded():
    a = resolve_surface("linear_regression", {"seed": 5})
    b = resolve_surface("linear_regression", {"seed": 5})
    c = resolve_surface("linear_regression", {"seed": 6})
    np.testing.assert_array_equal(a.p, b.p)
    assert not np.array_equal(a.p, c.p)
    assert a.p.size == 2 * 64


@pytest.mark.parametrize("tilt,width,bend", [(0.5, 2.0, 0.5), (1.5, 0.1, -1.0), (0.05, 10.0, 0.0)])
def test_valley_closed_form_points(tilt, width, bend):
    """Docstring argument: stationary points are (r, bend·r²) for the 3 roots r of 4x³ − 4x − tilt."""
    su = resolve_surface("valley", {"tilt": tilt, "width": width, "bend": bend})
    roots = np.sort(np.roots([4.0, 0.0, -4.0, -tilt]).real)
    assert np.all(np.abs(np.roots([4.0, 0.0, -4.0, -tilt]).imag) == 0)
    (gx_, gy_, gv), (lx, ly, lv) = su.minima
    assert su.n_global == 1 and gv < lv
    np.testing.assert_allclose([gx_, lx], [roots[2], roots[0]], rtol=1e-12)
    for x in roots:
        _, gx, gy = su.grad(x, bend * x * x)
        assert math.hypot(gx, gy) < 1e-12
    (sx, sy, sv), = su.spec.saddles if (tilt, width, bend) == (0.5, 2.0, 0.5) else [(roots[1], bend * roots[1] ** 2, None)]
    hxx, hxy, hyy = su.hessian(sx, sy)
    assert hxx * hyy - hxy * hxy < 0  # the middle root is a saddle
    (x0, x1), (y0, y1) = su.domain
    for x, y, _ in su.minima:
        assert x0 < x < x1 and y0 < y < y1


def test_valley_tilt_range_keeps_three_roots():
    tilt_max = next(p.high for p in SURFACES["valley"].params if p.name == "tilt")
    assert tilt_max < 8 / (3 * math.sqrt(3))
    with pytest.raises(EngineInputError) as e:
        resolve_surface("valley", {"tilt": 1.6})
    assert e.value.field == "params.tilt"


@pytest.mark.parametrize("name", NAMES)
def test_resolved_surface_shape(name):
    su = resolve_surface(name)
    assert su.code == SURFACES[name].code and su.name == name
    assert su.p.dtype == np.float64 and su.p.flags.c_contiguous and su.p.size >= 1
    (x0, x1), (y0, y1) = su.domain
    assert x0 < x1 and y0 < y1
    assert su.minima.ndim == 2 and su.minima.shape[1] == 3
    assert 0 <= su.n_global <= len(su.minima)
    if su.n_global:
        assert np.all(su.minima[: su.n_global, 2] <= su.minima[:, 2].min() + 1e-12)
    for x, y, _ in su.minima:
        assert x0 <= x <= x1 and y0 <= y <= y1


def test_codes_are_distinct_and_stable():
    codes = {s.code for s in SURFACES.values()}
    assert len(codes) == len(SURFACES) == 14
    assert S.QUADRATIC == 0 and S.LINEAR_REGRESSION == 13
    assert math.isnan(surface_value(S.builtin_args(99, np.zeros(1)), 0.0, 0.0))


def test_errors_name_the_field():
    with pytest.raises(EngineInputError) as e:
        resolve_surface("bowl")
    assert e.value.field == "surface" and "rosenbrock" in e.value.message
    with pytest.raises(EngineInputError) as e:
        resolve_surface("rosenbrock", {"c": 1})
    assert e.value.field == "params.c"
    with pytest.raises(EngineInputError) as e:
        resolve_surface("rosenbrock", {"b": "steep"})
    assert e.value.field == "params.b"
    with pytest.raises(EngineInputError) as e:
        resolve_surface("quadratic", {"condition": 0.5})
    assert e.value.field == "params.condition"
    with pytest.raises(EngineInputError) as e:
        resolve_surface("linear_regression", {"n": LIMITS["max_surface_samples"] + 1})
    assert e.value.field == "params.n" and "max_surface_samples" in e.value.message
    with pytest.raises(EngineInputError) as e:
        resolve_surface("booth", [1, 2])
    assert e.value.field == "params"


def test_kernels_callable_from_another_njit_kernel():
    @numba.njit
    def descend(s, x, y, lr, steps):
        for _ in range(steps):
            f, gx, gy = surface_grad(s, x, y)
            x -= lr * gx
            y -= lr * gy
        hxx, hxy, hyy = surface_hessian(s, x, y)
        return x, y, surface_value(s, x, y), hxx

    su = resolve_surface("booth")
    x, y, f, hxx = descend(su.args, 0.0, 0.0, 0.05, 500)
    px, py = 0.0, 0.0
    for _ in range(500):
        _, gx, gy = su.grad(px, py)
        px, py = px - 0.05 * gx, py - 0.05 * gy
    assert (x, y) == (px, py)
    assert x == pytest.approx(1.0, abs=1e-12) and y == pytest.approx(3.0, abs=1e-12) and f < 1e-20 and hxx == 10.0


def test_describe_is_a_json_catalog_section():
    entries = S.describe()
    assert [e["name"] for e in entries] == list(SURFACES)
    orjson.dumps(entries)
    rb = next(e for e in entries if e["name"] == "rosenbrock")
    assert rb["domain"] == {"x": [-2.0, 2.0], "y": [-1.0, 3.0]}
    assert {p["name"]: p["default"] for p in rb["parameters"]} == {"a": 1.0, "b": 100.0}
    assert rb["minima"] == [{"x": 1.0, "y": 1.0, "value": 0.0, "global": True}]
    hb = next(e for e in entries if e["name"] == "himmelblau")
    assert sum(m["global"] for m in hb["minima"]) == 4 and len(hb["saddles"]) == 4 and len(hb["maxima"]) == 1
    ack = next(e for e in entries if e["name"] == "ackley")
    assert "origin" in ack["notes"]
