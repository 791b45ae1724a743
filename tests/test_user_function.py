"""Descending the user's own Python function (engine.user_function) against two independent references:
the compiled 2-D descent on a built-in surface (the same function handed over as a callable gives the same
trajectory, to the bit), and torch.optim driving the same function in n dimensions."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.surfaces import resolve_surface, surface_grad


def builtin_as_callable(name: str):
    args = resolve_surface(name).args

    def fun(p):
        f, gx, gy = surface_grad(args, p[0], p[1])
        return f, np.array([gx, gy])
    fun.__name__ = name
    return fun


@pytest.mark.parametrize("optimizer, schedule, clip", [
    ({"name": "adam", "lr": 0.01}, None, None),
    ({"name": "sgd", "lr": 1e-3, "momentum": 0.9, "nesterov": True}, {"name": "cosine"}, {"max_norm": 10.0}),
    ({"name": "rmsprop", "lr": 0.01, "centered": True}, {"name": "step", "step_size": 100}, {"max_value": 5.0}),
])
def test_a_builtin_surface_as_a_callable_descends_exactly_as_the_builtin(optimizer, schedule, clip):
    kw = dict(steps=1500, optimizer=optimizer, schedule=schedule, clip=clip, tolerance=1e-9)
    want = engine.run_trajectory("rosenbrock", (-1.5, 2.0), **kw)
    got = engine.descend_function(builtin_as_callable("rosenbrock"), np.array([-1.5, 2.0]), **kw)
    assert (got.status, got.steps_taken) == (want.status, want.steps_taken)
    for f in ("path", "loss", "gradient", "update", "lr", "step_gradient"):
        np.testing.assert_array_equal(getattr(got, f), getattr(want, f), err_msg=f)
    assert got.surface == "rosenbrock" and got.optimizer == want.optimizer and got.bound == ()


def test_converged_status_matches_the_builtin():
    kw = dict(steps=5000, optimizer={"name": "sgd", "lr": 0.1}, tolerance=1e-6)
    want = engine.run_trajectory("booth", (0.0, 0.0), **kw)
    got = engine.descend_function(builtin_as_callable("booth"), [0.0, 0.0], **kw)
    assert got.status == want.status == "converged" and got.steps_taken == want.steps_taken
    np.testing.assert_array_equal(got.path, want.path)


torch = pytest.importorskip("torch")


def _torch_path(fun_torch, x0, opt_cls, opt_kw, steps, clip_norm=None):
    before = torch.get_default_dtype()
    torch.set_default_dtype(torch.float64)  # else torch keeps step counts and NAdam's mu_product in float32
    try:
        p = torch.tensor(x0, dtype=torch.float64, requires_grad=True)
        opt = opt_cls([p], **opt_kw)
        path = [p.detach().clone().numpy()]
        for _ in range(steps):
            opt.zero_grad()
            fun_torch(p).backward()
            if clip_norm is not None:
                torch.nn.utils.clip_grad_norm_([p], clip_norm)
            opt.step()
            path.append(p.detach().clone().numpy())
    finally:
        torch.set_default_dtype(before)
    return np.array(path)


def _rosen_nd(p):
    """n-dimensional Rosenbrock, value and gradient in numpy (closed form)."""
    a, b = p[:-1], p[1:]
    f = float(np.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2))
    g = np.zeros_like(p)
    g[:-1] += -400.0 * a * (b - a * a) - 2.0 * (1.0 - a)
    g[1:] += 200.0 * (b - a * a)
    return f, g


def _rosen_nd_torch(p):
    a, b = p[:-1], p[1:]
    return torch.sum(100.0 * (b - a * a) ** 2 + (1.0 - a) ** 2)


@pytest.mark.parametrize("name, opt_cls, spec", [
    ("adam", "Adam", {"lr": 1e-3, "betas": (0.9, 0.99), "amsgrad": True}),
    ("sgd", "SGD", {"lr": 1e-4, "momentum": 0.9}),
    ("nadam", "NAdam", {"lr": 2e-3}),
    ("adagrad", "Adagrad", {"lr": 0.05}),
])
def test_ten_dimensional_descent_matches_torch_optim(name, opt_cls, spec):
    x0 = np.linspace(-1.2, 1.1, 10)
    steps = 300
    want = _torch_path(_rosen_nd_torch, x0, getattr(torch.optim, opt_cls), spec, steps, clip_norm=50.0)
    ours = {k: list(v) if isinstance(v, tuple) else v for k, v in spec.items()}
    got = engine.descend_function(_rosen_nd, x0, steps, {"name": name, **ours}, clip={"max_norm": 50.0}, tolerance=0)
    assert got.path.shape == (steps + 1, 10) and got.status == "max_steps"
    # ATen's fused lerp and its summation order differ by ulps per step (engine.optimizers' exactness notes)
    np.testing.assert_allclose(got.path, want, rtol=1e-10, atol=1e-12)


def test_race_on_a_function_runs_each_optimizer_as_descend_function_would():
    x0 = np.full(5, -1.0)
    specs = [{"name": "sgd", "lr": 1e-4}, {"name": "adam", "lr": 0.05, "schedule": {"name": "cosine"}},
             {"name": "sgd", "lr": 1.0}]
    race = engine.race_function(_rosen_nd, x0, 400, specs, tolerance=0)
    assert [r.optimizer for r in race.runs] == ["sgd", "adam", "sgd"]
    alone = engine.descend_function(_rosen_nd, x0, 400, {"name": "adam", "lr": 0.05}, schedule={"name": "cosine"},
                                    tolerance=0)
    np.testing.assert_array_equal(race.runs[1].path, alone.path)
    assert race.runs[2].status == "diverged" and np.isfinite(race.runs[2].path).all()
    assert race.best == 1 and race.runs[1].loss[-1] < race.runs[0].loss[-1]


def test_overflow_is_a_diverged_status_with_finite_records():
    t = engine.descend_function(lambda p: (float(np.exp(p @ p)), 2 * p * np.exp(p @ p)), [1.0, 1.0], 100,
                                {"name": "sgd", "lr": 1.0})
    assert t.status == "diverged" and "non-finite" in t.reason
    assert np.isfinite(t.path).all() and np.isfinite(t.loss).all()


@pytest.mark.parametrize("call, field, words", [
    (lambda: engine.descend_function(3, [0.0]), "fun", "callable"),
    (lambda: engine.descend_function(lambda p: p, [0.0, 1.0]), "fun", "(value, gradient)"),
    (lambda: engine.descend_function(lambda p: (1.0, np.zeros(3)), [0.0, 1.0]), "fun", "shape (3,)"),
    (lambda: engine.descend_function(lambda p: ("a", p), [0.0]), "fun", "not numeric"),
    (lambda: engine.descend_function(_rosen_nd, [[0.0, 1.0]]), "x0", "1-D"),
    (lambda: engine.descend_function(_rosen_nd, [0.0, np.nan]), "x0", "coordinate 1"),
    (lambda: engine.descend_function(lambda p: (np.inf, p), [0.0]), "x0", "not finite"),
    (lambda: engine.descend_function(_rosen_nd, [0.0, 1.0], 0), "steps", ">= 1"),
    (lambda: engine.descend_function(_rosen_nd, [0.0, 1.0], 10, {"name": "adam", "lr": -1}), "optimizer.lr", ""),
    (lambda: engine.race_function(_rosen_nd, [0.0, 1.0], 10, [{"name": "sgd"}, {"name": "adam", "betas": [2, 0]}]),
     "optimizers.1.betas", ""),
    (lambda: engine.descend_function(_rosen_nd, np.zeros(LIMITS["max_function_record"] // 10), 10), "steps",
     "max_function_record"),
])
def test_refusals_name_the_argument(call, field, words):
    with pytest.raises(EngineInputError) as e:
        call()
    assert e.value.field == field and words in e.value.message, str(e.value)


def test_the_users_own_exception_reaches_the_caller():
    def broken(p):
        raise ZeroDivisionError("mine")
    with pytest.raises(ZeroDivisionError, match="mine"):
        engine.descend_function(broken, [0.0])
