"""engine.trajectory: one descent, checked against closed forms and plain-Python loops."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.surfaces import resolve_surface
from engine.trajectory import record_arrays, run_trajectory


def rosenbrock_grad(x, y):
    # formula sheet: (−2(1−x) − 400x(y−x²), 200(y−x²))
    return -2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)


def himmelblau(x, y):
    a, b = x * x + y - 11.0, x + y * y - 7.0
    return a * a + b * b, 4.0 * x * a + 2.0 * b, 2.0 * a + 4.0 * y * b


def assert_finite(tr):
    for name in ("path", "loss", "gradient", "update", "lr", "step_gradient"):
        assert np.isfinite(getattr(tr, name)).all(), name
    n = tr.steps_taken
    assert tr.path.shape == (n + 1, 2) and tr.loss.shape == (n + 1,) and tr.gradient.shape == (n + 1, 2)
    assert tr.update.shape == (n, 2) and tr.lr.shape == (n,) and tr.step_gradient.shape == (n, 2)


# -- gradient descent on the quadratic bowl: the 2/L threshold ---------------------------------


@pytest.mark.parametrize("condition,angle", [(10.0, 0.0), (25.0, 30.0)])
def test_gd_on_quadratic_converges_below_2_over_L_and_diverges_above(condition, angle):
    params = {"condition": condition, "scale": 1.0, "angle": angle}
    s = resolve_surface("quadratic", params)
    hxx, hxy, hyy = s.hessian(0.0, 0.0)
    L = float(np.linalg.eigvalsh([[hxx, hxy], [hxy, hyy]]).max())
    assert L == pytest.approx(condition)  # scale * condition
    below = run_trajectory("quadratic", (2.0, -1.5), 2000, {"name": "sgd", "lr": 0.95 * 2 / L}, params=params)
    assert below.status == "converged"
    assert np.hypot(*below.gradient[-1]) < below.tolerance
    assert np.hypot(*below.path[-1]) < 1e-5
    above = run_trajectory("quadratic", (2.0, -1.5), 2000, {"name": "sgd", "lr": 1.05 * 2 / L}, params=params)
    assert above.status == "diverged" and "bound box" in above.reason
    assert_finite(above)
    # the stiff component grows by |1 - lr L| = 1.1 per step: the loss ends far above its start
    assert above.loss[-1] > 1e3 * above.loss[0]


@pytest.mark.parametrize("steps", [1, 7, 10_000])
def test_record_arrays_are_disjoint_c_contiguous_views_of_one_block(steps):
    arrays = record_arrays(steps)
    shapes = [(steps + 1, 2), (steps + 1,), (steps + 1, 2), (steps, 2), (steps, 2)]
    assert [a.shape for a in arrays] == shapes
    assert all(a.flags.c_contiguous and a.dtype == np.float64 for a in arrays)
    assert len({id(a.base) for a in arrays}) == 1
    for k, a in enumerate(arrays):
        a[...] = k
    for k, a in enumerate(arrays):
        assert (a == k).all()  # no array overlaps another
    assert sum(a.size for a in arrays) == arrays[0].base.size


def test_sgd_equals_plain_python_loop():
    lr, x, y = 1e-3, -1.5, 2.0
    expected = [(x, y)]
    for _ in range(100):
        gx, gy = rosenbrock_grad(x, y)
        x, y = x - lr * gx, y - lr * gy
        expected.append((x, y))
    tr = run_trajectory("rosenbrock", (-1.5, 2.0), 100, {"name": "sgd", "lr": lr}, tolerance=0.0)
    assert tr.status == "max_steps" and tr.steps_taken == 100
    np.testing.assert_allclose(tr.path, np.array(expected), rtol=1e-12, atol=1e-12)


def test_recorded_values_equal_surface_evaluations_and_alignment():
    tr = run_trajectory("himmelblau", (0.5, -4.0), 300, {"name": "adam", "lr": 0.05}, noise_scale=2.0, seed=3)
    s = resolve_surface("himmelblau")
    for i in range(tr.steps_taken + 1):
        x, y = tr.path[i]
        f, gx, gy = himmelblau(x, y)
        assert tr.loss[i] == pytest.approx(f, rel=1e-12, abs=1e-12)
        np.testing.assert_allclose(tr.gradient[i], [gx, gy], rtol=1e-12, atol=1e-10)
        assert tr.loss[i] == s.value(x, y)
    np.testing.assert_array_equal(tr.update, np.diff(tr.path, axis=0))
    np.testing.assert_array_equal(tr.lr, np.full(tr.steps_taken, 0.05))
    assert tuple(tr.path[0]) == (0.5, -4.0)


def test_momentum_beats_sgd_on_ill_conditioned_bowl():
    params = {"condition": 100.0, "scale": 1.0}
    lr = 1.0 / 100.0  # 1/L
    sgd = run_trajectory("quadratic", (1.0, 1.0), 5000, {"name": "sgd", "lr": lr}, params=params)
    mom = run_trajectory("quadratic", (1.0, 1.0), 5000, {"name": "sgd", "lr": lr, "momentum": 0.9}, params=params)
    assert sgd.status == mom.status == "converged"
    # plain GD contracts the flat direction by 1 - lr = 0.99 per step (~1400 steps to 1e-6);
    # heavy ball with momentum 0.9 by about sqrt(0.9) = 0.949
    assert sgd.steps_taken > 1300
    assert mom.steps_taken < sgd.steps_taken / 3


# -- stochastic gradients ---------------------------------------------------------------------


def test_noisy_sgd_reproducible_seeded_and_exactly_gradient_plus_noise():
    kw = dict(surface="rosenbrock", start=(-1.0, 1.5), steps=200, optimizer={"name": "sgd", "lr": 1e-4})
    a = run_trajectory(**kw, noise_scale=5.0, seed=7)
    b = run_trajectory(**kw, noise_scale=5.0, seed=7)
    c = run_trajectory(**kw, noise_scale=5.0, seed=8)
    np.testing.assert_array_equal(a.path, b.path)
    np.testing.assert_array_equal(a.step_gradient, b.step_gradient)
    assert not np.allclose(a.path[1:], c.path[1:])
    z = np.random.default_rng(7).spawn(2)[0].standard_normal((200, 2))
    np.testing.assert_allclose(a.step_gradient, a.gradient[:-1] + 5.0 * z, rtol=1e-15, atol=1e-12)
    # exact gradient without noise
    d = run_trajectory(**kw)
    np.testing.assert_array_equal(d.step_gradient, d.gradient[:-1])


def test_minibatch_gradient_is_mean_of_per_sample_gradients():
    n, b, seed = 10, 4, 5
    params = {"n": n, "noise": 0.5, "seed": 1}
    s = resolve_surface("linear_regression", params)
    xs, ys = s.p[:n], s.p[n:]
    tr = run_trajectory("linear_regression", (0.0, 0.0), 7, {"name": "sgd", "lr": 0.05}, params=params,
                    batch_size=b, seed=seed, tolerance=0.0)
    # the documented scheme: a fresh permutation per epoch from spawn(2)[1]; batches of 4, 4, 2
    rng = np.random.default_rng(seed).spawn(2)[1]
    perms = [rng.permutation(n) for _ in range(3)]
    batches = []
    for perm in perms:
        batches += [perm[0:4], perm[4:8], perm[8:10]]
    for t in range(1, 8):
        w, bias = tr.path[t - 1]
        idx = batches[t - 1]
        r = w * xs[idx] + bias - ys[idx]
        per_sample = np.stack([2 * r * xs[idx], 2 * r], axis=1)  # d/d(w,b) of r_i^2
        np.testing.assert_allclose(tr.step_gradient[t - 1], per_sample.mean(axis=0), rtol=1e-13, atol=1e-14)
        assert not np.allclose(tr.step_gradient[t - 1], tr.gradient[t - 1])
        # and the step is SGD with it
        np.testing.assert_allclose(tr.path[t], tr.path[t - 1] - 0.05 * tr.step_gradient[t - 1], rtol=1e-14)
    # the recorded gradient is the full-batch one
    w, bias = tr.path[3]
    r = w * xs + bias - ys
    np.testing.assert_allclose(tr.gradient[3], [np.mean(2 * r * xs), np.mean(2 * r)], rtol=1e-12)
    # batch_size = n: every batch is the whole dataset (in shuffled order)
    full = run_trajectory("linear_regression", (0.0, 0.0), 5, {"name": "sgd", "lr": 0.05}, params=params, batch_size=n)
    np.testing.assert_allclose(full.step_gradient, full.gradient[:-1], rtol=1e-12, atol=1e-14)


def test_clipping_by_norm_and_by_value():
    kw = dict(surface="rosenbrock", start=(-1.5, 2.0), steps=50, optimizer={"name": "sgd", "lr": 1e-4},
              noise_scale=3.0, seed=1)
    raw = run_trajectory(**kw)
    normed = run_trajectory(**kw, clip={"max_norm": 2.0})
    # torch clip_grad_norm_: coef = min(1, max_norm / (norm + 1e-6)), applied to the noisy gradient
    g = normed.gradient[:-1] + 3.0 * np.random.default_rng(1).spawn(2)[0].standard_normal((50, 2))
    coef = np.minimum(1.0, 2.0 / (np.linalg.norm(g, axis=1) + 1e-6))
    np.testing.assert_allclose(normed.step_gradient, g * coef[:, None], rtol=1e-13)
    assert (np.linalg.norm(normed.step_gradient, axis=1) <= 2.0).all()
    valued = run_trajectory(**kw, clip={"max_value": 1.0})
    g = valued.gradient[:-1] + 3.0 * np.random.default_rng(1).spawn(2)[0].standard_normal((50, 2))
    np.testing.assert_allclose(valued.step_gradient, np.clip(g, -1.0, 1.0), rtol=1e-14)
    assert not np.allclose(raw.path, normed.path)


def test_schedule_sets_each_step_lr():
    from engine.schedules import lr_schedule

    spec = {"name": "step", "step_size": 10, "gamma": 0.5}
    tr = run_trajectory("quadratic", (1.0, 1.0), 40, {"name": "sgd", "lr": 0.1}, schedule=spec, tolerance=0.0)
    # StepLR: base * gamma ** floor(e / step_size), e = t - 1
    np.testing.assert_allclose(tr.lr, 0.1 * 0.5 ** (np.arange(40) // 10), rtol=1e-15)
    np.testing.assert_allclose(tr.lr, lr_schedule(spec, 0.1, 40), rtol=0)
    # and SGD used it: on f = ½xᵀHx, H = diag(1, 10): x_t = x_{t-1} (1 - lr_t λ)
    np.testing.assert_allclose(tr.path[1:, 0], np.cumprod(1 - tr.lr * 1.0), rtol=1e-12)
    np.testing.assert_allclose(tr.path[1:, 1], np.cumprod(1 - tr.lr * 10.0), rtol=1e-12)


# -- divergence as data -----------------------------------------------------------------------


def test_divergence_leaving_the_bound_box_is_recorded_finite():
    tr = run_trajectory("rosenbrock", (-1.5, 2.0), 1000, {"name": "sgd", "lr": 0.05})
    assert tr.status == "diverged" and "bound box" in tr.reason
    assert_finite(tr)
    (xlo, xhi), (ylo, yhi) = tr.bound
    assert (xlo, xhi) == (-200.0, 200.0) and (ylo, yhi) == (-199.0, 201.0)  # domain [-2,2]x[-1,3] x 100
    x, y = tr.path[-1]
    assert not (xlo <= x <= xhi and ylo <= y <= yhi)
    assert all(xlo <= p[0] <= xhi and ylo <= p[1] <= yhi for p in tr.path[:-1])


def test_non_finite_step_is_not_recorded():
    # lr 1e200: x jumps to ~1e202, where (y - x^2)^2 overflows to inf
    tr = run_trajectory("rosenbrock", (-1.5, 2.0), 10, {"name": "sgd", "lr": 1e200})
    assert tr.status == "diverged" and "non-finite" in tr.reason
    assert tr.steps_taken == 0
    assert tr.path.tolist() == [[-1.5, 2.0]] and tr.update.shape == (0, 2)
    assert_finite(tr)


def test_start_at_the_minimum_converges_in_zero_steps():
    tr = run_trajectory("booth", (1.0, 3.0), 10, {"name": "adam", "lr": 0.1})
    assert tr.status == "converged" and tr.steps_taken == 0 and tr.path.shape == (1, 2)


# -- refused input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs,field,text",
    [
        (dict(surface="nope"), "surface", "unknown"),
        (dict(optimizer={"name": "nope"}), "optimizer", ""),
        (dict(schedule={"name": "nope"}), "schedule", ""),
        (dict(steps=LIMITS["max_steps"] + 1), "steps", "max_steps"),
        (dict(steps=0), "steps", ""),
        (dict(start=(1.0, 2.0, 3.0)), "start", ""),
        (dict(start=(math.nan, 0.0)), "start", "finite"),
        (dict(start="ab"), "start", ""),
        (dict(start=(1e5, 0.0)), "start", "bound box"),
        (dict(batch_size=4), "batch_size", "linear_regression"),
        (dict(noise_scale=-1.0), "noise.scale", ""),
        (dict(clip={"max_norm": 0.0}), "clip.max_norm", ""),
        (dict(clip={"max_norm": 1.0, "max_value": 1.0}), "clip", ""),
        (dict(tolerance=-1.0), "tolerance", ""),
    ],
)
def test_bad_input_names_the_field(kwargs, field, text):
    base = dict(surface="rosenbrock", start=(-1.5, 2.0), steps=10, optimizer={"name": "sgd", "lr": 0.01})
    with pytest.raises(EngineInputError) as e:
        run_trajectory(**{**base, **kwargs})
    assert e.value.field.startswith(field)
    assert text in str(e.value)


def test_batch_size_limits():
    with pytest.raises(EngineInputError, match="n=64"):
        run_trajectory("linear_regression", (0.0, 0.0), 10, batch_size=65)
    with pytest.raises(EngineInputError, match="max_batch_work"):
        run_trajectory("linear_regression", (0.0, 0.0), LIMITS["max_steps"], batch_size=64)


def test_linear_regression_steps_count_their_samples_toward_the_work_limit(monkeypatch):
    monkeypatch.setitem(LIMITS, "max_descent_work", 10_000)
    # n = 640 samples: each step counts ceil(640 / 64) = 10 work units
    run_trajectory("linear_regression", (0.0, 0.0), 1000, params={"n": 640})
    with pytest.raises(EngineInputError, match="max_descent_work") as e:
        run_trajectory("linear_regression", (0.0, 0.0), 1001, params={"n": 640})
    assert e.value.field == "steps" and "1001 x 10" in str(e.value)
    run_trajectory("rosenbrock", (0.0, 0.0), 10_000)  # analytic surfaces: one unit per step


def test_adam_cosine_clipped_trajectory_matches_torch():
    torch = pytest.importorskip("torch")
    steps, lr = 100, 0.05
    p = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=lr, betas=(0.8, 0.99))
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, T_max=steps)
    path, lrs = [p.detach().clone().numpy()], []
    for _ in range(steps):
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        torch.nn.utils.clip_grad_norm_([p], max_norm=20.0)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
        path.append(p.detach().clone().numpy())
    tr = run_trajectory("rosenbrock", (-1.5, 2.0), steps, {"name": "adam", "lr": lr, "betas": [0.8, 0.99]},
                        {"name": "cosine"}, clip={"max_norm": 20.0}, tolerance=0.0)
    np.testing.assert_allclose(tr.lr, lrs, rtol=1e-13)
    np.testing.assert_allclose(tr.path, np.array(path), rtol=1e-10, atol=1e-12)
