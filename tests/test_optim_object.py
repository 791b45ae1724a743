"""engine.Optimizer, the torch-style object: N steps equal torch.optim's to 1e-12, and every wrong input is
refused before anything is written (no out-of-bounds write, no partial update)."""

from __future__ import annotations

import numpy as np
import pytest

import engine
from engine import EngineInputError, Optimizer
from naive import TORCH_CLASS

STEPS = 25
P0 = np.array([1.5, -2.0, 0.25, 3.0, -0.75])


def _grad(p: np.ndarray, t: int) -> np.ndarray:
    """A gradient that changes with the point and the step (Rosenbrock-like plus a wobble)."""
    return 2.0 * p + np.sin(3.0 * p) + 0.1 * np.cos(t + np.arange(p.size))


CASES = [
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.05, "momentum": 0.5, "dampening": 0.1, "weight_decay": 0.01}),
    ("adam", {"lr": 0.01, "betas": (0.8, 0.99)}),
    ("adam", {"lr": 0.01, "amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.02}),
    ("rmsprop", {"lr": 0.01, "centered": True, "momentum": 0.5}),
    ("adagrad", {"lr": 0.1, "lr_decay": 0.01, "initial_accumulator_value": 0.1}),
    ("adadelta", {"lr": 1.0, "rho": 0.8}),
    ("adamax", {"lr": 0.02}),
    ("nadam", {"lr": 0.02, "momentum_decay": 0.01}),
    ("radam", {"lr": 0.05}),
]


@pytest.mark.parametrize("name,hp", CASES, ids=[f"{n}-{i}" for i, (n, _) in enumerate(CASES)])
def test_steps_equal_torch_optim(torch64, name, hp):
    torch = torch64
    params = P0.copy()
    opt = Optimizer(name, **hp)
    w = torch.tensor(P0.copy(), requires_grad=True)
    topt = getattr(torch.optim, TORCH_CLASS[name])([w], foreach=False, **hp)
    for t in range(1, STEPS + 1):
        w.grad = torch.from_numpy(_grad(w.detach().numpy().copy(), t))
        topt.step()
        out = opt.step(params, _grad(params.copy(), t))
        assert out is params  # in place, as torch
        np.testing.assert_allclose(params, w.detach().numpy(), rtol=1e-12, atol=1e-12)
    assert opt.t == STEPS
    if "step" in topt.state[w]:  # torch's SGD keeps no step count
        assert float(topt.state[w]["step"]) == STEPS
    # the state rows carry torch's names and values
    for key, value in opt.state_dict()["state"].items():
        if key in topt.state[w]:
            np.testing.assert_allclose(value, np.asarray(topt.state[w][key]), rtol=1e-12, atol=1e-12, err_msg=key)


def test_lr_can_change_between_steps_like_a_scheduler(torch64):
    torch = torch64
    params = P0.copy()
    opt = Optimizer("adam", lr=0.1)
    w = torch.tensor(P0.copy(), requires_grad=True)
    topt = torch.optim.Adam([w], lr=0.1, foreach=False)
    for t in range(1, 11):
        opt.lr = topt.param_groups[0]["lr"] = 0.1 * 0.8 ** t
        w.grad = torch.from_numpy(_grad(w.detach().numpy().copy(), t))
        topt.step()
        opt.step(params, _grad(params.copy(), t))
    np.testing.assert_allclose(params, w.detach().numpy(), rtol=1e-12, atol=1e-12)


def test_matches_the_kernel_loop_without_torch():
    """Independent of torch: the object is exactly the documented kernel loop (same numbers to the bit)."""
    from engine.optimizers import new_state, optimizer_step, resolve_optimizer

    r = resolve_optimizer({"name": "nadam", "lr": 0.01})
    p_ref = P0.copy()
    state, scal = new_state(r, p_ref.size)
    params = P0.copy()
    opt = Optimizer("nadam", lr=0.01)
    for t in range(1, 8):
        optimizer_step(r.code, r.hp, p_ref, _grad(p_ref.copy(), t), state, scal, t, r.lr)
        opt.step(params, _grad(params.copy(), t))
    np.testing.assert_array_equal(params, p_ref)
    assert opt.state_dict()["state"]["mu_product"] == scal[0]


def test_first_sgd_step_by_hand():
    p = np.array([1.0, -2.0])
    Optimizer("sgd", lr=0.1).step(p, np.array([0.5, 1.0]))
    assert p.tolist() == [1.0 - 0.05, -2.0 - 0.1]


def test_any_shape_is_stepped_as_its_flat_view():
    p = np.arange(6.0).reshape(2, 3)
    Optimizer("sgd", lr=1.0).step(p, np.ones((2, 3)))
    assert p.tolist() == [[-1.0, 0.0, 1.0], [2.0, 3.0, 4.0]]


# -- refusals: nothing written -------------------------------------------------------------------------
def _stepped_adam():
    opt = Optimizer("adam", lr=0.1)
    p = np.zeros(4)
    opt.step(p, np.ones(4))
    return opt, p


@pytest.mark.parametrize("params, grad, field", [
    (np.zeros(3), np.ones(3), "params"),  # another size than the first step's: state sized for 4
    (np.zeros(100_000), np.ones(100_000), "params"),  # the crash: a bigger vector against small state
    (np.zeros(4, np.float32), np.ones(4), "params"),
    (np.zeros(4, np.int64), np.ones(4), "params"),
    ([0.0, 0.0, 0.0, 0.0], np.ones(4), "params"),
    (np.zeros(8)[::2], np.ones(4), "params"),
    (np.zeros(4), np.ones(3), "grad"),  # a short gradient used to update part of the vector
    (np.zeros(4), np.ones((2, 2)), "grad"),
    (np.zeros(4), ["a", "b", "c", "d"], "grad"),
    (np.zeros(4), [np.nan, 0.0, 0.0, 0.0], "grad"),
    (np.zeros(4), None, "grad"),
])
def test_bad_steps_are_refused_and_change_nothing(params, grad, field):
    opt, p = _stepped_adam()
    before = opt.state_dict()
    snapshot = np.array(params, dtype=object, copy=True) if isinstance(params, np.ndarray) else None
    with pytest.raises(EngineInputError) as e:
        opt.step(params, grad)
    assert e.value.field == field
    after = opt.state_dict()
    assert after["t"] == before["t"] == 1
    for k in before["state"]:
        np.testing.assert_array_equal(after["state"][k], before["state"][k])
    if snapshot is not None:
        np.testing.assert_array_equal(np.asarray(params, dtype=object), snapshot)


def test_read_only_params_are_refused():
    p = np.zeros(3)
    p.flags.writeable = False
    with pytest.raises(EngineInputError) as e:
        Optimizer("sgd", lr=0.1).step(p, np.ones(3))
    assert e.value.field == "params"


def test_t_counts_steps_and_reset_starts_over():
    opt = Optimizer("adam", lr=0.1)
    assert opt.t == 0 and opt.size is None and opt.state_dict()["state"] == {}
    p = np.zeros(3)
    for _ in range(3):
        opt.step(p, np.ones(3))
    assert opt.t == 3 and opt.size == 3
    opt.reset()
    assert opt.t == 0 and opt.size is None
    q = np.zeros(5)
    opt.step(q, np.ones(5))  # after reset another size is fine; Adam's first step: lr * g / (|g| + eps)
    np.testing.assert_allclose(q, -0.1 / (1.0 + 1e-8) * np.ones(5), rtol=1e-15)
    assert opt.t == 1


@pytest.mark.parametrize("kwargs, field", [
    ({"name": "no-such-optimizer"}, "name"),
    ({"name": 3}, "name"),
    ({"name": "adam", "momentum": 0.9}, "momentum"),  # a hyperparameter adam does not take
    ({"name": "sgd", "betas": (0.9, 0.99)}, "betas"),
    ({"name": "adam", "lr": -1.0}, "lr"),
    ({"name": "adam", "lr": float("nan")}, "lr"),
    ({"name": "adam", "betas": (0.9, 1.5)}, "betas"),
    ({"name": "sgd", "nesterov": True}, "nesterov"),  # torch: Nesterov needs momentum
    ({"name": "adam", "amsgrad": "yes"}, "amsgrad"),
])
def test_bad_construction_is_refused_by_name(kwargs, field):
    with pytest.raises(EngineInputError) as e:
        Optimizer(**kwargs)
    assert e.value.field == field, str(e.value)


def test_an_unknown_keyword_is_pythons_type_error_listing_the_signature():
    # explicit keywords: help(engine.Optimizer) lists them; a typo is caught by Python itself
    with pytest.raises(TypeError):
        Optimizer("adam", learning_rate=0.1)


def test_hyperparameters_and_repr():
    opt = Optimizer("adamw", lr=0.01)
    hp = opt.hyperparameters
    assert hp["lr"] == 0.01 and hp["weight_decay"] == 0.01 and hp["betas"] == [0.9, 0.999]  # torch's AdamW defaults
    assert "adamw" in repr(opt) and len(repr(opt)) < 500
    assert engine.Optimizer is Optimizer
