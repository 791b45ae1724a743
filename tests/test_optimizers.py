"""engine.optimizers: every optimizer and option against the plain-Python formula sheet (tests/naive.py),
against torch.optim when installed, hand-checked first steps and worked examples, validation, and
the step kernel called from inside other jitted code."""

from __future__ import annotations

import inspect
import math

import numba
import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.optimizers import (
    HP_SIZE,
    N_SCALARS,
    N_SLOTS,
    OPTIMIZERS,
    describe,
    new_state,
    optimizer_step,
    optimizer_step_inline,
    reset_state,
    resolve_optimizer,
)

from naive import TORCH_CLASS, TORCH_DEFAULTS, NaiveOptimizer

STEPS = 120

# (name, hyperparameters, lr): every option of every optimizer, alone and combined
CASES = [
    ("sgd", {}, 0.01),
    ("sgd", {"momentum": 0.9}, 0.01),
    ("sgd", {"momentum": 0.9, "dampening": 0.5}, 0.01),
    ("sgd", {"momentum": 0.9, "nesterov": True}, 0.01),
    ("sgd", {"momentum": 0.5, "weight_decay": 0.1, "maximize": True}, 1e-4),
    ("adagrad", {}, 0.05),
    ("adagrad", {"lr_decay": 0.05, "weight_decay": 0.1}, 0.05),
    ("adagrad", {"initial_accumulator_value": 0.5, "eps": 1e-3, "maximize": True}, 0.01),
    ("rmsprop", {}, 0.002),
    ("rmsprop", {"centered": True}, 0.002),
    ("rmsprop", {"momentum": 0.9, "alpha": 0.9}, 0.001),
    ("rmsprop", {"centered": True, "momentum": 0.5, "weight_decay": 0.1, "eps": 1e-4}, 0.001),
    ("rmsprop", {"maximize": True}, 0.001),
    ("adadelta", {}, 1.0),
    ("adadelta", {"rho": 0.95, "eps": 1e-4, "weight_decay": 0.1}, 0.5),
    ("adadelta", {"maximize": True}, 1.0),
    ("adam", {}, 0.01),
    ("adam", {"amsgrad": True}, 0.01),
    ("adam", {"weight_decay": 0.1}, 0.01),
    ("adam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "amsgrad": True}, 0.01),
    ("adam", {"betas": [0.5, 0.9], "eps": 1e-4, "maximize": True}, 0.005),
    ("adamw", {}, 0.01),
    ("adamw", {"weight_decay": 0.2, "amsgrad": True}, 0.01),
    ("adamw", {"maximize": True, "betas": [0.8, 0.99]}, 0.005),
    ("adamax", {}, 0.01),
    ("adamax", {"betas": [0.8, 0.99], "eps": 1e-3, "weight_decay": 0.1}, 0.01),
    ("adamax", {"maximize": True}, 0.005),
    ("nadam", {}, 0.01),
    ("nadam", {"weight_decay": 0.1, "momentum_decay": 0.01}, 0.01),
    ("nadam", {"weight_decay": 0.1, "decoupled_weight_decay": True, "betas": [0.8, 0.99]}, 0.01),
    ("nadam", {"maximize": True, "eps": 1e-4}, 0.005),
    ("radam", {}, 0.01),
    ("radam", {"weight_decay": 0.1, "betas": [0.9, 0.99]}, 0.01),
    ("radam", {"weight_decay": 0.1, "decoupled_weight_decay": True}, 0.01),
    ("radam", {"maximize": True, "eps": 1e-4}, 0.005),
    ("lion", {}, 0.001),
    ("lion", {"weight_decay": 0.5, "betas": [0.95, 0.98]}, 0.001),
]
IDS = [f"{n}-{'-'.join(f'{k}={v}' for k, v in h.items()) or 'defaults'}" for n, h, _ in CASES]


# -- gradient fields: each returns g(p, t) ---------------------------------------------------------
def _rosenbrock(p, t):
    x, y = p
    return np.array([-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)])


_A = np.linspace(0.5, 5.0, 50)
_C = np.linspace(-1.0, 1.0, 50)


def _quadratic(p, t):
    return _A * (p - _C)


_NOISE = np.random.default_rng(7).standard_normal((STEPS + 1, 50))


def _random(p, t):
    """Random gradients that depend on the parameters: g_t = ξ_t + 0.3·p + 0.1·sin(3p)."""
    return _NOISE[t] + 0.3 * p + 0.1 * np.sin(3.0 * p)


FIELDS = {  # name: (g(p, t), p0, lr multiplier: Rosenbrock's curvature is ~1000 at the start)
    "rosenbrock": (_rosenbrock, np.array([-1.2, 1.0]), 0.05),
    "quadratic": (_quadratic, np.linspace(2.0, -2.0, 50), 1.0),
    "random": (_random, np.linspace(-1.0, 1.5, 50), 1.0),
}


def _lrs(lr, steps):
    """A varying per-step lr, so the test also checks that step t uses the lr it is given."""
    t = np.arange(1, steps + 1)
    return lr * (1.0 + 0.5 * np.sin(0.3 * t))


def _run_kernel(opt, field, p0, lrs):
    p = p0.copy()
    state, scal = new_state(opt, p.size)
    out = []
    for t in range(1, lrs.size + 1):
        g = field(p, t)
        g_before = g.copy()
        optimizer_step(opt.code, opt.hp, p, g, state, scal, t, float(lrs[t - 1]))
        assert np.array_equal(g, g_before, equal_nan=True), "the step must not modify g"
        out.append(p.copy())
    return np.array(out)


def _run_naive(name, hp, field, p0, lrs):
    ref = NaiveOptimizer(name, **hp)
    p = p0.copy()
    out = []
    for t in range(1, lrs.size + 1):
        g = field(p, t)
        p = np.array(ref.step(list(p), list(g), float(lrs[t - 1])))
        out.append(p.copy())
    return np.array(out)


@pytest.mark.parametrize("name,hp,lr", CASES, ids=IDS)
def test_matches_formula_sheet(name, hp, lr):
    opt = resolve_optimizer({"name": name, "lr": lr, **hp})
    for fname, (field, p0, k) in FIELDS.items():
        lrs = _lrs(lr * k, STEPS)
        got = _run_kernel(opt, field, p0, lrs)
        want = _run_naive(name, hp, field, p0, lrs)
        assert np.all(np.isfinite(got)), fname
        scale = np.max(np.abs(want), axis=1, keepdims=True)  # per step, for coordinates crossing 0
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * scale.max(), err_msg=fname)
        assert np.max(np.abs(got[-1] - p0)) > 1e-3, f"{fname}: the optimizer did not move"


# -- torch.optim as the oracle ----------------------------------------------------------------------
@pytest.mark.parametrize("name,hp,lr", [c for c in CASES if c[0] != "lion"],
                         ids=[i for i, c in zip(IDS, CASES) if c[0] != "lion"])
def test_matches_torch(torch64, name, hp, lr):
    torch = torch64
    opt = resolve_optimizer({"name": name, "lr": lr, **hp})
    for fname, (field, p0, k) in FIELDS.items():
        lrs = _lrs(lr * k, STEPS)
        got = _run_kernel(opt, field, p0, lrs)
        w = torch.tensor(p0.copy(), dtype=torch.float64, requires_grad=True)
        kw = dict(hp)
        if "betas" in kw:
            kw["betas"] = tuple(kw["betas"])
        topt = getattr(torch.optim, TORCH_CLASS[name])([w], lr=lr * k, foreach=False, **kw)
        want = []
        for t in range(1, STEPS + 1):
            for group in topt.param_groups:
                group["lr"] = float(lrs[t - 1])
            w.grad = torch.from_numpy(field(w.detach().numpy().copy(), t))
            topt.step()
            want.append(w.detach().numpy().copy())
        want = np.array(want)
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12 * np.abs(want).max(), err_msg=fname)


def test_defaults_are_torch_constructor_defaults():
    """The registry's defaults equal the plain-Python reference's, and torch's own signatures when installed."""
    for name, spec in OPTIMIZERS.items():
        ours = {p.name: (list(p.default) if p.kind == "pair" else p.default) for p in spec.params}
        ref = {k: (list(v) if isinstance(v, tuple) else v) for k, v in TORCH_DEFAULTS[name].items()}
        assert ours == ref, name
        assert resolve_optimizer({"name": name}).params == ref
    try:
        import torch
    except ImportError:
        return
    for name, cls in TORCH_CLASS.items():
        sig = inspect.signature(getattr(torch.optim, cls).__init__).parameters
        for p in OPTIMIZERS[name].params:
            d = sig[p.name].default
            assert (list(d) if isinstance(d, tuple) else d) == (list(p.default) if p.kind == "pair" else p.default), \
                (name, p.name)


# -- hand-checked steps ------------------------------------------------------------------------------
def _steps(name, hp, grads, p0=1.0):
    opt = resolve_optimizer({"name": name, **hp})
    p = np.array([p0])
    state, scal = new_state(opt, 1)
    out = []
    for t, gv in enumerate(grads, start=1):
        optimizer_step(opt.code, opt.hp, p, np.array([gv]), state, scal, t, opt.lr)
        out.append(p[0])
    return out, state


# numerics-detailed.md §2: θ0 = 1, g = 0.5 (torch 2.13 values)
WORKED = [
    ("sgd", {"lr": 0.1}, [0.5, 0.5], [0.95, 0.9]),
    ("sgd", {"lr": 0.1, "momentum": 0.9}, [0.5, 0.5], [0.95, 0.855]),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}, [0.5, 0.5], [0.905, 0.7695]),
    ("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.5}, [0.5, 0.5], [0.95, 0.88]),
    ("sgd", {"lr": 0.1, "weight_decay": 0.1}, [0.5, 0.5], [0.94, 0.8806]),
    ("adam", {"lr": 0.1}, [0.5, 0.5], [0.900000002, 0.800000004]),
    ("adam", {"lr": 0.1, "weight_decay": 0.1}, [0.5, 0.5], [0.900000001667, 0.800047340488]),
    ("adamw", {"lr": 0.1, "weight_decay": 0.1}, [0.5, 0.5], [0.890000002, 0.78110000398]),
    ("adam", {"lr": 0.1, "amsgrad": True}, [0.5, 0.1, 0.1], [0.900000002, 0.819695906, 0.746477617]),
    ("rmsprop", {"lr": 0.01}, [0.5, 0.5], [0.90000002, 0.829111909549]),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.9}, [0.5, 0.5], [0.899496238676, 0.737438701617]),
    ("adagrad", {"lr": 0.1}, [0.5, 0.5], [0.90000000002, 0.829289321911]),
    ("adadelta", {"lr": 1.0}, [0.5, 0.5], [0.996837785583, 0.993593423755]),
    ("adamax", {"lr": 0.1}, [0.5, 0.5], [0.900000002, 0.800000004]),
    ("nadam", {"lr": 0.1}, [0.5, 0.5], [0.894354824277, 0.815986390166]),
    ("radam", {"lr": 0.1}, [0.5] * 6, [0.95, 0.9, 0.85, 0.8, 0.75, 0.747417889387]),
    ("lion", {"lr": 0.1}, [0.5, 0.5], [0.9, 0.8]),
]


@pytest.mark.parametrize("name,hp,grads,want", WORKED, ids=[f"{w[0]}-{i}" for i, w in enumerate(WORKED)])
def test_worked_examples(name, hp, grads, want):
    got, _ = _steps(name, hp, grads)
    # the sheet prints 9 to 12 significant digits
    np.testing.assert_allclose(got, want, rtol=0, atol=1e-9 if name != "rmsprop" or len(hp) > 1 else 1e-8)


def test_adam_first_step_is_lr_times_sign():
    g = np.array([3.0, -0.02, 1e-3, -250.0, 0.0])
    opt = resolve_optimizer({"name": "adam", "lr": 0.05})
    p = np.zeros(5)
    state, scal = new_state(opt, 5)
    optimizer_step(opt.code, opt.hp, p, g, state, scal, 1, 0.05)
    # m̂ = g, √v̂ = |g| exactly, so Δ = −lr·g/(|g| + eps)
    np.testing.assert_allclose(p, -0.05 * g / (np.abs(g) + 1e-8), rtol=1e-15, atol=0)
    assert np.all(np.abs(np.abs(p[:4]) - 0.05) <= 0.05 * 1e-8 / 1e-3)
    assert p[4] == 0.0


def test_sgd_momentum_buffer_starts_at_g_without_dampening():
    _, state = _steps("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.7}, [0.5])
    assert state[0, 0] == 0.5
    _, state = _steps("sgd", {"lr": 0.1, "momentum": 0.9, "dampening": 0.7}, [0.5, 0.2])
    assert state[0, 0] == pytest.approx(0.9 * 0.5 + 0.3 * 0.2, rel=1e-15)


def test_radam_rectifies_from_step_6():
    """ρ_5 ≈ 4.99 < 5 < ρ_6 ≈ 5.99 with β2 = 0.999: steps 1–5 are plain momentum steps lr·m̂ = lr·g."""
    got, _ = _steps("radam", {"lr": 0.1}, [0.5] * 7)
    np.testing.assert_allclose(np.diff([1.0] + got)[:5], -0.05, rtol=1e-14)
    assert abs(got[5] - got[4]) < 0.01


def test_lion_moves_by_lr_per_coordinate():
    got, _ = _steps("lion", {"lr": 0.1, "weight_decay": 0.5}, [0.5, -0.5])
    # step 1: c = sign(0.1·0.5) = 1, p = 1 − 0.1(1 + 0.5) = 0.85; m = 0.005
    # step 2: c = sign(0.9·0.005 − 0.1·0.5) = −1, p = 0.85 − 0.1(−1 + 0.425) = 0.9075
    np.testing.assert_allclose(got, [0.85, 0.9075], rtol=1e-15)


# -- state ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_new_state_and_reset(name):
    hp = {"adagrad": {"initial_accumulator_value": 0.25}, "sgd": {"momentum": 0.9}}.get(name, {})
    opt = resolve_optimizer({"name": name, **hp})
    assert opt.hp.shape == (HP_SIZE,) and opt.hp.dtype == np.float64
    state, scal = new_state(opt, 7)
    assert state.shape == (N_SLOTS, 7) and state.flags.c_contiguous and state.dtype == np.float64
    assert scal.shape == (N_SCALARS,)
    want = np.zeros((N_SLOTS, 7))
    if name == "adagrad":
        want[0] = 0.25
    np.testing.assert_array_equal(state, want)
    np.testing.assert_array_equal(scal, [1.0, 0.0])  # NAdam's mu_product = 1 (unused elsewhere)
    p = np.linspace(-1, 1, 7)
    for t in (1, 2, 3):
        optimizer_step(opt.code, opt.hp, p, p + 1.0, state, scal, t, 0.01)
    assert np.any(state != want)
    reset_state(opt.code, opt.hp, state, scal)
    np.testing.assert_array_equal(state, want)
    np.testing.assert_array_equal(scal, [1.0, 0.0])


# -- inside other kernels -----------------------------------------------------------------------------
@numba.njit(cache=False)
def _descend_all(codes, hps, lrs, p, state, scal, g):
    """One run per row, gradient of ½‖p − 1‖² computed inline, state rows reused via reset_state."""
    for r in numba.prange(p.shape[0]):
        reset_state(codes[r], hps[r], state[r], scal[r])
        for t in range(1, lrs.shape[0] + 1):
            for i in range(p.shape[1]):
                g[r, i] = p[r, i] - 1.0
            optimizer_step(codes[r], hps[r], p[r], g[r], state[r], scal[r], t, lrs[t - 1])


def test_step_inside_another_kernel_matches_python_loop():
    names = list(OPTIMIZERS)
    opts = [resolve_optimizer({"name": n, "lr": 0.05}) for n in names]
    codes = np.array([o.code for o in opts], dtype=np.int64)
    hps = np.stack([o.hp for o in opts])
    n, steps = 3, 40
    p0 = np.linspace(-2.0, 3.0, n)
    p = np.tile(p0, (len(opts), 1))
    state = np.full((len(opts), N_SLOTS, n), 123.0)  # garbage: reset_state must clear it
    scal = np.full((len(opts), N_SCALARS), 9.0)
    g = np.zeros((len(opts), n))
    lrs = np.full(steps, 0.05)
    _descend_all(codes, hps, lrs, p, state, scal, g)
    for r, name in enumerate(names):
        ref = NaiveOptimizer(name)
        q = list(p0)
        for _ in range(steps):
            q = ref.step(q, [x - 1.0 for x in q], 0.05)
        np.testing.assert_allclose(p[r], q, rtol=1e-12, err_msg=name)


@numba.njit(cache=False)
def _run_both(code, hp, p, g, lrs, inline):
    """``steps`` steps with a gradient that depends on p, through optimizer_step or optimizer_step_inline."""
    state = np.zeros((N_SLOTS, p.shape[0]))
    scal = np.zeros(N_SCALARS)
    reset_state(code, hp, state, scal)
    for t in range(1, lrs.shape[0] + 1):
        for i in range(p.shape[0]):
            g[i] = math.sin(3.0 * p[i]) + 0.1 * (i - 1.0)
        if inline:
            optimizer_step_inline(code, hp, p, g, state, scal, t, lrs[t - 1])
        else:
            optimizer_step(code, hp, p, g, state, scal, t, lrs[t - 1])
    return state, scal


@pytest.mark.parametrize("n", [2, 12, 40])
@pytest.mark.parametrize("name,hp,lr", CASES)
def test_inline_step_is_bit_identical(name, hp, lr, n):
    """optimizer_step_inline (the descents' step, one formula per coordinate) against optimizer_step,
    which runs each optimizer's own vectorised loop: the same bits, state included."""
    opt = resolve_optimizer({"name": name, "lr": lr, **hp})
    lrs = lr * (1.0 + 0.01 * np.arange(300))
    got, want = np.linspace(-1.5, 2.0, n), np.linspace(-1.5, 2.0, n)
    gs, gc = _run_both(opt.code, opt.hp, got, np.zeros(n), lrs, True)
    ws, wc = _run_both(opt.code, opt.hp, want, np.zeros(n), lrs, False)
    np.testing.assert_array_equal(got, want)
    np.testing.assert_array_equal(gs, ws)
    np.testing.assert_array_equal(gc, wc)


# -- convergence (optax alias_test style: a parabola and Rosenbrock) ---------------------------------
@numba.njit(cache=False)
def _minimise(code, hp, lr, p, steps, rosen):
    state = np.zeros((4, p.shape[0]))
    scal = np.zeros(2)
    reset_state(code, hp, state, scal)
    g = np.zeros(p.shape[0])
    for t in range(1, steps + 1):
        if rosen:
            x, y = p[0], p[1]
            g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x)
            g[1] = 200.0 * (y - x * x)
        else:
            for i in range(p.shape[0]):
                g[i] = (i + 1.0) * (p[i] - 1.0)
        optimizer_step(code, hp, p, g, state, scal, t, lr)


CONVERGE = {  # name: (hp, lr on the parabola, lr on Rosenbrock); 5000 and 20000 steps
    "sgd": ({}, 0.05, 1e-3),
    "adagrad": ({}, 0.5, 0.3),
    "rmsprop": ({}, 0.01, 1e-3),
    "adadelta": ({}, 1.0, 0.01),
    "adam": ({}, 0.05, 0.01),
    "adamw": ({}, 0.01, 0.003),
    "adamax": ({}, 0.05, 0.02),
    "nadam": ({}, 0.05, 0.01),
    "radam": ({}, 0.05, 0.003),
    "lion": ({}, 0.001, 0.001),
}


@pytest.mark.parametrize("name", list(OPTIMIZERS))
def test_converges_on_parabola_and_rosenbrock(name):
    hp, lr_par, lr_ros = CONVERGE[name]
    opt = resolve_optimizer({"name": name, **hp})
    p = np.array([3.0, -2.0, 0.5, 2.0])
    _minimise(opt.code, opt.hp, lr_par, p, 5000, False)
    np.testing.assert_allclose(p, 1.0, atol=1e-2)
    p = np.array([-1.2, 1.0])
    _minimise(opt.code, opt.hp, lr_ros, p, 20000, True)
    np.testing.assert_allclose(p, 1.0, atol=2e-2)


# -- validation ---------------------------------------------------------------------------------------
BAD = [
    ({"lr": 0.1}, "optimizer.name"),
    ({"name": "adamm"}, "optimizer.name"),
    ({"name": 3}, "optimizer.name"),
    ({"name": "sgd", "lr": -0.1}, "optimizer.lr"),
    ({"name": "sgd", "momentum": -0.5}, "optimizer.momentum"),
    ({"name": "sgd", "nesterov": True}, "optimizer.nesterov"),
    ({"name": "sgd", "nesterov": True, "momentum": 0.9, "dampening": 0.1}, "optimizer.nesterov"),
    ({"name": "sgd", "weight_decay": -1e-3}, "optimizer.weight_decay"),
    ({"name": "sgd", "betas": [0.9, 0.99]}, "optimizer.betas"),
    ({"name": "adam", "betas": [0.9, 1.0]}, "optimizer.betas"),
    ({"name": "adam", "betas": [-0.1, 0.9]}, "optimizer.betas"),
    ({"name": "adam", "betas": [0.9]}, "optimizer.betas"),
    ({"name": "adam", "betas": "0.9,0.99"}, "optimizer.betas"),
    ({"name": "adam", "eps": -1e-8}, "optimizer.eps"),
    ({"name": "adam", "lr": float("nan")}, "optimizer.lr"),
    ({"name": "adam", "lr": "0.1"}, "optimizer.lr"),
    ({"name": "adam", "amsgrad": 1}, "optimizer.amsgrad"),
    ({"name": "adam", "momentum": 0.9}, "optimizer.momentum"),
    ({"name": "adamw", "decoupled_weight_decay": False}, "optimizer.decoupled_weight_decay"),
    ({"name": "adadelta", "rho": 1.5}, "optimizer.rho"),
    ({"name": "rmsprop", "alpha": -0.1}, "optimizer.alpha"),
    ({"name": "adagrad", "lr_decay": -1.0}, "optimizer.lr_decay"),
    ({"name": "adagrad", "initial_accumulator_value": -1.0}, "optimizer.initial_accumulator_value"),
    ({"name": "nadam", "momentum_decay": -1.0}, "optimizer.momentum_decay"),
    ({"name": "lion", "betas": [0.9, 1.01]}, "optimizer.betas"),
]


@pytest.mark.parametrize("spec,field", BAD, ids=[f"{i}-{f}" for i, (_, f) in enumerate(BAD)])
def test_refuses_bad_input(spec, field):
    with pytest.raises(EngineInputError) as e:
        resolve_optimizer(spec)
    assert e.value.field == field


def test_refuses_non_mapping():
    with pytest.raises(EngineInputError) as e:
        resolve_optimizer("adam")
    assert e.value.field == "optimizer"


def test_resolved_params_echo_and_packing():
    opt = resolve_optimizer({"name": "adam", "lr": 0.01, "betas": [0.8, 0.9], "amsgrad": True, "eps": None})
    assert opt.name == "adam" and opt.lr == 0.01
    assert opt.params == {"lr": 0.01, "betas": [0.8, 0.9], "eps": 1e-8, "weight_decay": 0.0, "amsgrad": True,
                          "decoupled_weight_decay": False, "maximize": False}
    np.testing.assert_array_equal(opt.hp, [0.8, 0.9, 1e-8, 0.0, 1.0, 0.0, 0.0, 0.0])
    w = resolve_optimizer({"name": "adamw"})
    assert w.hp[5] == 1.0 and w.params["weight_decay"] == 0.01  # decoupled, torch's AdamW default
    assert resolve_optimizer({"name": "lion", "betas": [1.0, 1.0]}).params["betas"] == [1.0, 1.0]
    assert resolve_optimizer({"name": "sgd", "lr": 0}).lr == 0.0  # torch allows lr = 0


def test_describe_lists_every_optimizer():
    entries = describe()
    assert [e["name"] for e in entries] == list(OPTIMIZERS)
    for e in entries:
        assert e["title"] and e["formula"] and e["torch_class"]
        names = [p["name"] for p in e["parameters"]]
        assert names[0] == "lr" and len(names) == len(set(names))
        assert len(e["state"]) <= N_SLOTS
    assert math.isclose(next(e for e in entries if e["name"] == "adamw")["parameters"][3]["default"], 1e-2)
