"""Formula surfaces through every surface feature of the engine: grid, critical points, slices, trajectory
(noise, clipping, schedules), race, learning-rate sweep and range test, basins.

1. Every built-in surface typed as a formula (``tests/surface_reference.py``'s ``AS_FORMULA``, default parameters,
   the built-in's domain) gives the built-in's grid and ‖∇f‖ (to 1e-12 of the grid's largest magnitude),
   critical points (the same points and kinds; positions, values and Hessian eigenvalues to 1e-12) and
   Adam trajectory. The trajectory horizon, measured: the two evaluate the same formula with a different
   order of operations, so they differ by ulps, and Adam's normalised step carries an ulp difference on;
   from a start off the symmetry lines they agree to 1e-12 for the first 1,000 steps on every surface
   (beale drifts past 1e-12 at step 1,191, ackley at 4,740, rastrigin 5,273, monkey_saddle 5,996,
   six_hump_camel 7,432) and for all 10,000 steps on the other nine (five of them bitwise). From the
   default start of monkey_saddle, (-1.2, 1.2), the built-in gradient 3x² - 3y² is exactly 0 and the
   formula's 1e-16: Adam turns both into a full step (sign of the rounding), which is why the start
   is off that line.
2. Ackley's cone point: the built-in returns the smooth term's curvature there, the formula the cone's
   true (infinite) curvature, clamped to 1.797e308: both classify the origin as the global minimum.
3. Overflow and domain errors are statuses (``diverged``) in descents and kept cells (null in JSON) on grids.
4. How a string is read (a name in SURFACES is a name, anything else a formula), and what refusals name.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import engine
from engine.descent import step_cost
from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.surfaces import DEFAULT_FORMULA_DOMAIN, FORMULA, SURFACES, resolve_surface

from surface_reference import AS_FORMULA, regression_formula

RTOL = 1e-12
ADAM = {"name": "adam", "lr": 0.01}
HORIZON = 1_000  # steps every built-in and its formula agree to 1e-12 (module docstring)
DRIFTS = {"beale", "ackley", "rastrigin", "monkey_saddle", "six_hump_camel"}  # past 1e-12 before 10,000 steps


def as_formula(name: str) -> dict:
    """The built-in ``name`` (default parameters) as the formula object a request would send."""
    su = resolve_surface(name)
    if AS_FORMULA[name] is None:
        text, params = regression_formula(su)
    else:
        text, bind = AS_FORMULA[name]
        params = bind(su) if bind else {}
    return {"expression": text, "params": params, "domain": {"x": list(su.domain[0]), "y": list(su.domain[1])}}


def off_axis_start(name: str) -> tuple[float, float]:
    (x0, x1), (y0, y1) = resolve_surface(name).domain
    return x0 + 0.3 * (x1 - x0), y0 + 0.65 * (y1 - y0)


# ---------------------------------------------------------------------------------------------
# 1. Built-ins typed as formulas
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_builtin_typed_as_formula_gives_the_same_grid(name):
    want = engine.landscape_grid(name, resolution=(101, 99), gradient=True)
    got = engine.landscape_grid(as_formula(name), resolution=(101, 99), gradient=True)
    assert got.surface == as_formula(name)["expression"] and (got.x == want.x).all() and (got.y == want.y).all()
    assert np.abs(got.z - want.z).max() <= RTOL * np.abs(want.z).max()
    assert np.abs(got.grad_norm - want.grad_norm).max() <= RTOL * np.abs(want.grad_norm).max()
    assert got.z_min == pytest.approx(want.z_min, rel=RTOL, abs=RTOL * np.abs(want.z).max())
    assert got.n_overflow == want.n_overflow == 0


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_builtin_typed_as_formula_gives_the_same_critical_points(name):
    want = engine.critical_points(name)
    got = engine.critical_points(as_formula(name))
    assert got.x.size == want.x.size > 0
    assert sorted(got.kind.tolist()) == sorted(want.kind.tolist())
    assert got.is_global.sum() == want.is_global.sum()
    for i in range(want.x.size):  # the same point, matched by position (ties in value may sort either way)
        j = int(np.argmin(np.hypot(got.x - want.x[i], got.y - want.y[i])))
        scale = 1.0 + abs(want.x[i]) + abs(want.y[i])
        assert abs(got.x[j] - want.x[i]) <= RTOL * scale and abs(got.y[j] - want.y[i]) <= RTOL * scale
        assert got.kind[j] == want.kind[i] and got.is_global[j] == want.is_global[i]
        assert abs(got.value[j] - want.value[i]) <= RTOL * max(1.0, abs(want.value[i]))
        if name == "ackley" and want.x[i] == want.y[i] == 0.0:
            continue  # the cone point (module docstring, 2.)
        np.testing.assert_allclose(got.eigenvalues[j], want.eigenvalues[i], rtol=RTOL,
                                   atol=RTOL * max(1.0, np.abs(want.eigenvalues[i]).max()))


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_builtin_typed_as_formula_gives_the_same_adam_trajectory(name):
    kw = dict(start=off_axis_start(name), steps=10_000, optimizer=ADAM, tolerance=0.0)
    want = engine.run_trajectory(name, **kw)
    got = engine.run_trajectory(as_formula(name), **kw)
    assert got.steps_taken == want.steps_taken == 10_000 and got.status == want.status
    horizon = HORIZON + 1 if name in DRIFTS else 10_001
    for a, b in ((got.path, want.path), (got.loss, want.loss)):
        a, b = a[:horizon], b[:horizon]
        assert (np.abs(a - b) <= RTOL * np.maximum(1.0, np.abs(b))).all(), name
    g, h = got.gradient[:horizon], want.gradient[:horizon]  # norm-wise, as the grid's ‖∇f‖
    assert np.abs(g - h).max() <= RTOL * np.abs(h).max(), name


def test_ackley_cone_point_is_the_global_minimum_either_way():
    want = engine.critical_points("ackley", (-1, 1), (-1, 1), seeds=5)
    got = engine.critical_points(as_formula("ackley"), (-1, 1), (-1, 1), seeds=5)
    for cp in (want, got):
        origin = int(np.argmin(np.hypot(cp.x, cp.y)))
        assert cp.x[origin] == cp.y[origin] == 0.0 and cp.is_global[origin] and cp.kind[origin] == 0
        assert np.isfinite(cp.eigenvalues).all()
    origin = int(np.argmin(np.hypot(got.x, got.y)))
    assert (got.eigenvalues[origin] == np.finfo(np.float64).max).all()  # +inf curvature, clamped


# ---------------------------------------------------------------------------------------------
# Every descent feature on a formula equals the same feature on the built-in
# ---------------------------------------------------------------------------------------------
ROSEN = as_formula("rosenbrock")


def test_trajectory_with_noise_clipping_and_schedule_matches_the_builtin():
    kw = dict(start=(-1.5, 2.0), steps=HORIZON, optimizer={"name": "sgd", "lr": 1e-3, "momentum": 0.9},
              schedule={"name": "cosine"}, noise_scale=0.5, seed=3, clip={"max_norm": 10.0})
    want, got = engine.run_trajectory("rosenbrock", **kw), engine.run_trajectory(ROSEN, **kw)
    np.testing.assert_allclose(got.path, want.path, rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(got.step_gradient, want.step_gradient, rtol=RTOL, atol=RTOL)
    np.testing.assert_array_equal(got.lr, want.lr)
    assert got.bound == want.bound and got.reason == want.reason


def test_race_matches_the_builtin_run_by_run():
    opts = [{"name": "sgd", "lr": 1e-3}, {"name": "adam", "lr": 0.05, "schedule": {"name": "step", "step_size": 100}},
            {"name": "rmsprop", "lr": 0.01}]
    want = engine.run_race("rosenbrock", (-1.5, 2.0), 500, opts, clip={"max_value": 5.0})
    got = engine.run_race(ROSEN, (-1.5, 2.0), 500, opts, clip={"max_value": 5.0})
    for a, b in zip(got.runs, want.runs):
        np.testing.assert_allclose(a.path, b.path, rtol=RTOL, atol=RTOL)
        assert a.status == b.status
    # a formula lists no known minima: runs that converged are labelled with discovered points instead
    assert got.minima_known.sum() == 0 and want.minima_known.sum() == 1


def test_lr_sweep_and_range_test_match_the_builtin():
    sweep = dict(lrs=[1e-4, 1e-3, 2e-3, 5e-3], optimizer={"name": "sgd"}, steps=300, start=(-1.5, 2.0))
    want, got = engine.run_lr_sweep("rosenbrock", **sweep), engine.run_lr_sweep(ROSEN, **sweep)
    for a, b in zip(got.runs, want.runs):
        np.testing.assert_allclose(a.loss, b.loss, rtol=RTOL, atol=RTOL)
        assert a.status == b.status
    assert [r.verdict for r in got.runs][-1] == "diverged"  # overflow to inf is a status, not an error
    rt = dict(optimizer={"name": "adam"}, lr_min=1e-5, lr_max=1.0, steps=200, start=(-1.5, 2.0))
    want, got = engine.lr_range_test("rosenbrock", **rt), engine.lr_range_test(ROSEN, **rt)
    np.testing.assert_allclose(got.smoothed, want.smoothed, rtol=RTOL)
    assert got.suggested_lr == want.suggested_lr


def test_basins_on_a_formula_end_where_the_builtin_runs_end():
    kw = dict(optimizer={"name": "adam", "lr": 0.05}, resolution=(12, 10), steps=3000, tolerance=1e-8)
    want = engine.basin_map("himmelblau", **kw)
    got = engine.basin_map(as_formula("himmelblau"), **kw)
    # the built-in stops within 1e-3 of a known minimum; the formula (no known minima) runs to the tolerance
    reached = want.label >= 0
    assert reached.mean() > 0.9 and (got.label[reached] >= 0).all()
    ends = got.minima[got.label[reached], :2]
    assert (np.hypot(*(ends - want.minima[want.label[reached], :2]).T) < 1e-3).all()
    assert set(got.minima_kind) == {"minimum"} and got.minima.shape[0] == 4


def test_slice_of_a_formula_matches_the_builtin():
    want = engine.landscape_slice("valley", (-1, 0.5), (1, 0.3), (0, 2), 101)
    got = engine.landscape_slice(as_formula("valley"), (-1, 0.5), (1, 0.3), (0, 2), 101)
    np.testing.assert_allclose(got.value, want.value, rtol=RTOL, atol=RTOL)
    np.testing.assert_allclose(got.derivative, want.derivative, rtol=RTOL, atol=RTOL)


# ---------------------------------------------------------------------------------------------
# 3. Overflow and domain errors
# ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("expression, start, reason", [
    ("log(x) + y**2", (1.0, 1.0), "non-finite"),  # x steps below 0: log of a negative
    ("exp(x**2) + y", (2.0, 0.0), "non-finite"),  # climbs to overflow
    ("sqrt(x) + y**2", (0.5, 1.0), "non-finite"),
])
def test_overflow_and_domain_errors_are_diverged_statuses(expression, start, reason):
    t = engine.run_trajectory(expression, start, 1000, {"name": "sgd", "lr": 0.9})
    assert t.status == "diverged" and reason in t.reason
    assert np.isfinite(t.path).all() and np.isfinite(t.loss).all() and np.isfinite(t.gradient).all()
    race = engine.run_race(expression, start, 200, [{"name": "sgd", "lr": 0.9}, {"name": "sgd", "lr": 1e-4}])
    assert race.summary[0].status == "diverged" and race.summary[0].minimum == -1
    basins = engine.basin_map(expression, {"name": "sgd", "lr": 0.9}, resolution=(3, 3), steps=50)
    assert (basins.label == -1).any()


def test_a_start_outside_the_formulas_domain_is_refused_naming_start():
    with pytest.raises(EngineInputError) as e:
        engine.run_trajectory("log(x)", (-1.0, 0.0), 10)
    assert e.value.field == "start" and "not finite" in e.value.message


def test_grid_of_a_partly_undefined_formula_masks_cells():
    g = engine.landscape_grid("sqrt(x) * log(y)", (-1, 1), (-1, 1), (5, 5), gradient=True)
    undefined = (g.x[None, :] < 0) | (g.y[:, None] < 0)
    assert np.isnan(g.z[undefined]).all() and g.n_overflow >= undefined.sum()
    assert np.isfinite(g.z[(g.x[None, :] > 0) & (g.y[:, None] > 0)]).all()


# ---------------------------------------------------------------------------------------------
# 4. Reading a string; what refusals name; work limits
# ---------------------------------------------------------------------------------------------


def test_a_registry_name_is_a_name_anything_else_a_formula():
    assert resolve_surface("rosenbrock").code != FORMULA
    f = resolve_surface("rosenbrock + x", {"rosenbrock": 2.0})  # not a name: a formula (with a parameter)
    assert f.code == FORMULA and f.value(1.0, 0.0) == 3.0 and f.domain == DEFAULT_FORMULA_DOMAIN
    assert resolve_surface("x*y", domain={"x": [0, 1], "y": [-2, 2]}).domain == ((0.0, 1.0), (-2.0, 2.0))
    assert resolve_surface("x*y", domain=((0, 1), (-2, 2))).domain == ((0.0, 1.0), (-2.0, 2.0))
    t = engine.run_trajectory("(x - a)**2 + (y + a)**2", (0.0, 0.0), 2000, ADAM, params={"a": 1.5})
    assert t.status == "converged" and t.path[-1] == pytest.approx((1.5, -1.5), abs=1e-5)
    assert t.surface == "(x - a)**2 + (y + a)**2"


@pytest.mark.parametrize("call, field, words", [
    (lambda: resolve_surface("rosenbrok"), "surface", "did you mean 'rosenbrock'"),
    (lambda: resolve_surface("(1 - x"), "surface", "column 7: expected ')'"),
    (lambda: resolve_surface("x +* y"), "surface", "column 4: expected an operand after '+'"),
    (lambda: resolve_surface("a*x", {"a": math.nan}), "params.a", "finite"),
    (lambda: resolve_surface("x", domain={"x": [1, 0], "y": [0, 1]}), "domain.x", "low < high"),
    (lambda: resolve_surface("x", domain={"x": [0, 1]}), "domain", "\"y\""),
    (lambda: resolve_surface("x", domain={"x": [0, 1], "y": [0, 2e6]}), "domain.y", "1e+06"),
    (lambda: resolve_surface("rosenbrock", domain={"x": [0, 1], "y": [0, 1]}), "domain", "only a formula"),
    (lambda: resolve_surface({"expression": "x +"}), "surface.expression", "column 4"),
    (lambda: resolve_surface({"expression": "a*x", "params": {"a": "q"}}), "surface.params.a", "number"),
    (lambda: resolve_surface({"expression": "x", "domain": {"x": [0, 0], "y": [0, 1]}}), "surface.domain.x", "low"),
    (lambda: resolve_surface({"expression": "x", "color": 1}), "surface.color", "accepted"),
    (lambda: resolve_surface({"domain": None}), "surface.expression", "required"),
    (lambda: resolve_surface({"expression": "a*x", "params": {"a": 1}}, {"a": 2}), "params", "one place"),
    (lambda: engine.run_trajectory({"expression": "x*"}, (0, 0), 3), "surface.expression", "column 3"),
    (lambda: engine.critical_points("x +"), "surface", "column 4"),
])
def test_refusals_name_the_field(call, field, words):
    with pytest.raises(EngineInputError) as e:
        call()
    assert e.value.field == field and words in e.value.message, str(e.value)


def test_formula_work_is_bounded_by_nodes():
    big = "-x" + "+x" * 499  # 1000 nodes
    assert step_cost(resolve_surface(big)) == -(-1000 // 16) and step_cost(resolve_surface("x*y")) == 1
    with pytest.raises(EngineInputError) as e:
        engine.landscape_grid(big, resolution=(1000, 251))
    assert e.value.field == "resolution" and "max_formula_work" in e.value.message and "1000 x 251000" in e.value.message
    with pytest.raises(EngineInputError) as e:
        engine.critical_points(big, seeds=100)
    assert e.value.field == "seeds" and "max_formula_work" in e.value.message
    steps = LIMITS["max_descent_work"] // 63 // 10_000 + 1
    with pytest.raises(EngineInputError) as e:
        engine.basin_map(big, resolution=(100, 100), steps=steps)
    assert e.value.field == "resolution" and "max_descent_work" in e.value.message and "nodes" in e.value.message
