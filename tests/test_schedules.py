"""engine.schedules: every schedule against its closed form (tests/naive.py), the worked examples of
numerics-detailed.md §3, and torch.optim.lr_scheduler when installed; validation and limits."""

from __future__ import annotations

import math

import numpy as np
import pytest

from engine import LIMITS
from engine.errors import EngineInputError
from engine.schedules import SCHEDULES, describe, lr_schedule, schedule_values

import naive

BASE = 0.1

# (spec, steps): every schedule, with its options, including steps past the schedule's horizon
CASES = [
    ({"name": "constant"}, 20),
    ({"name": "step", "step_size": 3, "gamma": 0.5}, 20),
    ({"name": "step", "step_size": 7}, 30),
    ({"name": "multistep", "milestones": [2, 5, 5, 9], "gamma": 0.3}, 15),
    ({"name": "multistep", "milestones": [30, 80]}, 100),
    ({"name": "exponential", "gamma": 0.9}, 40),
    ({"name": "linear"}, 12),
    ({"name": "linear", "start_factor": 0.1, "end_factor": 0.5, "total_iters": 8}, 15),
    ({"name": "linear", "start_factor": 1.0, "end_factor": 0.0, "total_iters": 10}, 15),
    ({"name": "cosine", "T_max": 10}, 35),
    ({"name": "cosine", "T_max": 7, "eta_min": 0.01}, 30),
    ({"name": "cosine_warm_restarts", "T_0": 3, "T_mult": 2}, 40),
    ({"name": "cosine_warm_restarts", "T_0": 5, "eta_min": 0.02}, 23),
    ({"name": "onecycle", "max_lr": 1.0, "total_steps": 10}, 10),
    ({"name": "onecycle", "total_steps": 57, "pct_start": 0.25, "div_factor": 10.0, "final_div_factor": 100.0}, 57),
    ({"name": "onecycle", "max_lr": 0.5, "total_steps": 40, "anneal_strategy": "linear"}, 41),
    ({"name": "onecycle", "max_lr": 1.0, "total_steps": 10, "three_phase": True}, 10),
    ({"name": "onecycle", "max_lr": 1.0, "total_steps": 33, "three_phase": True, "anneal_strategy": "linear"}, 33),
    ({"name": "polynomial"}, 10),
    ({"name": "polynomial", "total_iters": 12, "power": 2.0}, 20),
    ({"name": "polynomial", "total_iters": 9, "power": 0.5}, 12),
    ({"name": "warmup_cosine", "warmup_steps": 5, "total_steps": 25}, 25),
    ({"name": "warmup_cosine", "warmup_steps": 3, "total_steps": 20, "min_lr": 0.01}, 30),
]
IDS = [f"{c['name']}-{i}" for i, (c, _) in enumerate(CASES)]


def test_registry_names():
    assert set(SCHEDULES) == {"constant", "step", "multistep", "exponential", "linear", "cosine", "warmup_cosine",
                              "cosine_warm_restarts", "onecycle", "polynomial"}


# -- closed forms from the formula sheet --------------------------------------------------------------
@pytest.mark.parametrize("spec,steps", [c for c in CASES if c[0]["name"] != "onecycle" or
                                        (c[0].get("anneal_strategy", "cos") == "cos" and not c[0].get("three_phase"))],
                         ids=[i for i, c in zip(IDS, CASES) if c[0]["name"] != "onecycle" or
                              (c[0].get("anneal_strategy", "cos") == "cos" and not c[0].get("three_phase"))])
def test_matches_closed_form(spec, steps):
    res = schedule_values(spec, BASE, steps)
    k = {key: v for key, v in res.params.items()}
    want = [naive.schedule(spec["name"], BASE, e, **k) for e in range(steps)]
    assert res.lr.shape == (steps,) and res.lr.dtype == np.float64 and res.lr.flags.c_contiguous
    np.testing.assert_allclose(res.lr, want, rtol=1e-13, atol=1e-16)


# numerics-detailed.md §3.1–3.2 (base 0.1 unless stated), torch 2.13 values printed to 4 digits
EXAMPLES = [
    ({"name": "step", "step_size": 3, "gamma": 0.5}, 0.1, [0.1, 0.1, 0.1, 0.05, 0.05, 0.05, 0.025]),
    ({"name": "exponential", "gamma": 0.9}, 0.1, [0.1, 0.09, 0.081, 0.0729]),
    ({"name": "linear"}, 0.1, [0.0333, 0.0467, 0.06, 0.0733, 0.0867, 0.1, 0.1]),
    ({"name": "cosine", "T_max": 4}, 0.1, [0.1, 0.0854, 0.05, 0.0146, 0, 0.0146, 0.05, 0.0854, 0.1]),
    ({"name": "cosine_warm_restarts", "T_0": 3, "T_mult": 2}, 0.1,
     [0.1, 0.075, 0.025, 0.1, 0.0933, 0.075, 0.05, 0.025, 0.0067, 0.1]),
    ({"name": "onecycle", "max_lr": 1.0, "total_steps": 10}, 0.1,
     [0.04, 0.52, 1, 0.9505, 0.8117, 0.6113, 0.3887, 0.1883, 0.0495, 4e-6]),
    ({"name": "onecycle", "max_lr": 1.0, "total_steps": 10, "three_phase": True}, 0.1,
     [0.04, 0.52, 1, 0.52, 0.04, 0.0362, 0.0262, 0.0138, 0.0038, 4e-6]),
]


@pytest.mark.parametrize("spec,base,want", EXAMPLES, ids=[e[0]["name"] for e in EXAMPLES])
def test_worked_examples(spec, base, want):
    np.testing.assert_allclose(lr_schedule(spec, base, len(want)), want, atol=5e-5, rtol=0)


def test_onecycle_ignores_base_lr_and_defaults_max_lr_to_it():
    spec = {"name": "onecycle", "max_lr": 1.0, "total_steps": 10}
    np.testing.assert_array_equal(lr_schedule(spec, 0.1, 10), lr_schedule(spec, 7.0, 10))
    np.testing.assert_array_equal(lr_schedule({"name": "onecycle", "total_steps": 10}, 1.0, 10),
                                  lr_schedule(spec, 0.1, 10))


def test_run_length_defaults():
    """T_max and total_steps that torch requires default to the run's steps; the echo says so."""
    assert schedule_values({"name": "cosine"}, BASE, 50).params == {"T_max": 50, "eta_min": 0.0}
    res = schedule_values({"name": "warmup_cosine", "warmup_steps": 10}, BASE, 50)
    assert res.params["total_steps"] == 50
    assert res.lr[0] == 0.0  # transformers' warmup starts at lr 0
    assert res.lr[10] == BASE
    assert schedule_values({"name": "onecycle"}, BASE, 50).params["total_steps"] == 50


def test_cosine_past_t_max_climbs_back():
    lr = lr_schedule({"name": "cosine", "T_max": 10}, BASE, 41)
    assert lr[10] == pytest.approx(0.0, abs=1e-17)
    np.testing.assert_allclose(lr[20], BASE, rtol=1e-15)
    np.testing.assert_allclose(lr[10:21], lr[10::-1], rtol=1e-12, atol=1e-17)  # mirror image about T_max


# -- torch.optim.lr_scheduler as the oracle -------------------------------------------------------------
def _torch_lrs(torch, spec, base, steps):
    from torch.optim import lr_scheduler as S

    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=base, momentum=0.9)
    p = {k: v for k, v in schedule_values(spec, base, steps).params.items()}
    n = spec["name"]
    if n == "constant":
        sched = S.LambdaLR(opt, lambda e: 1.0)
    elif n == "step":
        sched = S.StepLR(opt, p["step_size"], p["gamma"])
    elif n == "multistep":
        sched = S.MultiStepLR(opt, p["milestones"], p["gamma"])
    elif n == "exponential":
        sched = S.ExponentialLR(opt, p["gamma"])
    elif n == "linear":
        sched = S.LinearLR(opt, p["start_factor"], p["end_factor"], p["total_iters"])
    elif n == "cosine":
        sched = S.CosineAnnealingLR(opt, p["T_max"], p["eta_min"])
    elif n == "cosine_warm_restarts":
        sched = S.CosineAnnealingWarmRestarts(opt, p["T_0"], p["T_mult"], p["eta_min"])
    elif n == "polynomial":
        sched = S.PolynomialLR(opt, p["total_iters"], p["power"])
    elif n == "onecycle":
        sched = S.OneCycleLR(opt, p["max_lr"], p["total_steps"], pct_start=p["pct_start"],
                             anneal_strategy=p["anneal_strategy"], div_factor=p["div_factor"],
                             final_div_factor=p["final_div_factor"], three_phase=p["three_phase"])
    elif n == "warmup_cosine":  # transformers' get_cosine_schedule_with_warmup(+ min_lr) lambda, as LambdaLR
        W, T, c, r = p["warmup_steps"], p["total_steps"], p["num_cycles"], p["min_lr"] / base

        def lam(e):
            if e < W:
                return float(e) / float(max(1, W))
            progress = float(e - W) / float(max(1, T - W))
            factor = 0.5 * (1.0 + math.cos(math.pi * float(c) * 2.0 * progress))
            return max(0, factor * (1 - r) + r)

        sched = S.LambdaLR(opt, lam)
    out = []
    for e in range(steps):
        out.append(opt.param_groups[0]["lr"])
        if e < steps - 1:
            opt.step()
            sched.step()
    return np.array(out)


@pytest.mark.parametrize("spec,steps", CASES, ids=IDS)
def test_matches_torch_scheduler(spec, steps):
    torch = pytest.importorskip("torch")
    want = _torch_lrs(torch, spec, BASE, steps)
    got = lr_schedule(spec, BASE, steps)
    # torch's get_lr is recursive (multiplies the current lr): it agrees with closed forms to ~1e-14
    np.testing.assert_allclose(got, want, rtol=1e-11, atol=1e-14 * BASE)


# -- validation ----------------------------------------------------------------------------------------
BAD = [
    ({"name": "cosines"}, 10, "schedule.name"),
    ({"T_max": 3}, 10, "schedule.name"),
    ({"name": "cosine", "gamma": 0.5}, 10, "schedule.gamma"),
    ({"name": "cosine", "T_max": 0}, 10, "schedule.T_max"),
    ({"name": "cosine", "T_max": 2.5}, 10, "schedule.T_max"),
    ({"name": "step", "step_size": 0}, 10, "schedule.step_size"),
    ({"name": "step", "gamma": -0.1}, 10, "schedule.gamma"),
    ({"name": "multistep", "milestones": [3, 0]}, 10, "schedule.milestones"),
    ({"name": "multistep", "milestones": [3, 1.5]}, 10, "schedule.milestones"),
    ({"name": "multistep", "milestones": 3}, 10, "schedule.milestones"),
    ({"name": "multistep", "milestones": list(range(1, LIMITS["max_schedule_milestones"] + 2))}, 10,
     "schedule.milestones"),
    ({"name": "linear", "start_factor": 0.0}, 10, "schedule.start_factor"),
    ({"name": "linear", "end_factor": 1.5}, 10, "schedule.end_factor"),
    ({"name": "cosine_warm_restarts", "T_mult": 0}, 10, "schedule.T_mult"),
    ({"name": "onecycle", "total_steps": 10}, 12, "schedule.total_steps"),
    ({"name": "onecycle", "total_steps": 10, "pct_start": 0.1}, 10, "schedule.pct_start"),
    ({"name": "onecycle", "pct_start": 1.5}, 10, "schedule.pct_start"),
    ({"name": "onecycle", "div_factor": 0.0}, 10, "schedule.div_factor"),
    ({"name": "onecycle", "anneal_strategy": "cosine"}, 10, "schedule.anneal_strategy"),
    ({"name": "polynomial", "power": -1.0}, 10, "schedule.power"),
    ({"name": "exponential", "gamma": 2.0}, 5000, "schedule"),  # 2^4999 overflows: no Infinity in JSON
    ({"name": "constant"}, 0, "steps"),
    ({"name": "constant"}, 2.0, "steps"),
    ({"name": "constant"}, LIMITS["max_steps"] + 1, "steps"),
    ("cosine", 10, "schedule"),
]


@pytest.mark.parametrize("spec,steps,field", BAD, ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_refuses_bad_input(spec, steps, field):
    with pytest.raises(EngineInputError) as e:
        lr_schedule(spec, BASE, steps)
    assert e.value.field == field
    if field == "steps" and isinstance(steps, int) and steps > 1:
        assert "max_steps" in e.value.message


@pytest.mark.parametrize("base", [-0.1, float("nan"), float("inf"), "0.1"])
def test_refuses_bad_base_lr(base):
    with pytest.raises(EngineInputError) as e:
        lr_schedule({"name": "constant"}, base, 10)
    assert e.value.field == "base_lr"


def test_onecycle_allows_the_step_torch_allows():
    """torch raises only past last_epoch = total_steps, so steps = total_steps + 1 values exist."""
    assert lr_schedule({"name": "onecycle", "total_steps": 10}, BASE, 11).shape == (11,)


def test_largest_request_is_finite_and_fast_enough():
    lr = lr_schedule({"name": "cosine_warm_restarts", "T_0": 1, "T_mult": 2}, BASE, LIMITS["max_steps"])
    assert lr.shape == (LIMITS["max_steps"],) and np.all(np.isfinite(lr))


def test_describe_lists_every_schedule():
    entries = describe()
    assert [e["name"] for e in entries] == list(SCHEDULES)
    for e in entries:
        assert e["title"] and e["formula"] and e["torch_class"]
        for p in e["parameters"]:
            assert {"name", "default", "low", "high", "kind", "doc"} <= set(p)
