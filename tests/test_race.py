"""engine.race: parallel runs equal the individual trajectories; the summary follows its stated rule."""

from __future__ import annotations

import numpy as np
import pytest

from engine.errors import EngineInputError
from engine.limits import LIMITS
from engine.race import run_race
from engine.trajectory import run_trajectory

RACERS = [
    {"name": "sgd", "lr": 0.01},
    {"name": "sgd", "lr": 0.01, "momentum": 0.9},
    {"name": "adam", "lr": 0.05, "schedule": {"name": "step", "step_size": 100, "gamma": 0.5}},
    {"name": "rmsprop", "lr": 0.01},
    {"name": "sgd", "lr": 0.5},  # diverges
]


def test_race_runs_equal_individual_trajectories():
    kw = dict(surface="himmelblau", start=(0.0, 0.0), steps=400)
    res = run_race(**kw, optimizers=RACERS, noise_scale=0.5, seed=2, clip={"max_norm": 50.0})
    assert len(res.runs) == len(RACERS)
    for spec, run in zip(RACERS, res.runs):
        spec = dict(spec)
        sched = spec.pop("schedule", None)
        tr = run_trajectory(**kw, optimizer=spec, schedule=sched, noise_scale=0.5, seed=2, clip={"max_norm": 50.0})
        assert run.optimizer == spec["name"] and run.status == tr.status and run.steps_taken == tr.steps_taken
        for name in ("path", "loss", "gradient", "update", "lr", "step_gradient"):
            np.testing.assert_array_equal(getattr(run, name), getattr(tr, name), err_msg=name)


def test_summary_follows_the_rule():
    res = run_race("himmelblau", (0.0, 0.0), 3000, RACERS)
    tol = res.minimum_tolerance
    assert tol == 1e-3
    known = res.minima[res.minima_known]
    assert known.shape[0] == 4
    for run, s in zip(res.runs, res.summary):
        assert s.status == run.status and s.steps_taken == run.steps_taken
        assert s.final_loss == run.loss[-1]
        if run.status == "diverged":
            assert s.minimum == -1 and s.steps_to_minimum is None
            continue
        d = np.hypot(known[:, 0] - run.path[-1, 0], known[:, 1] - run.path[-1, 1])
        if d.min() > tol:  # ended in no known minimum (and on himmelblau none is missing)
            assert s.minimum == -2 and s.steps_to_minimum is None
            continue
        assert s.minimum == int(np.argmin(d))
        m = res.minima[s.minimum]
        within = np.hypot(run.path[:, 0] - m[0], run.path[:, 1] - m[1]) <= tol
        assert within[s.steps_to_minimum] and not within[: s.steps_to_minimum].any()
    assert [s.minimum for s in res.summary][-1] == -1
    assert sum(s.minimum >= 0 for s in res.summary) >= 3
    # from the origin, plain GD slides into (3, 2)
    assert res.summary[0].minimum == 0 and tuple(res.minima[0, :2]) == (3.0, 2.0)


def test_stationary_point_off_the_known_list_is_discovered():
    # on x^2 - y^2 from (1, 0), gradient descent converges to the saddle at the origin along y = 0
    res = run_race("saddle", (1.0, 0.0), 2000, [{"name": "sgd", "lr": 0.1}, {"name": "sgd", "lr": 0.1}])
    assert res.minima.shape == (1, 3) and not res.minima_known[0] and res.minima_kind == ("saddle",)
    assert [s.minimum for s in res.summary] == [0, 0]
    assert abs(res.minima[0, 0]) < 1e-6


@pytest.mark.parametrize(
    "kwargs,field,limit",
    [
        (dict(optimizers=[{"name": "sgd", "lr": 0.1}] * (LIMITS["max_race_runs"] + 1)), "optimizers", "max_race_runs"),
        (dict(optimizers=[{"name": "sgd", "lr": 0.1}] * 16, steps=LIMITS["max_steps"]), "steps", "max_descent_work"),
        (dict(optimizers=[{"name": "sgd", "lr": 0.1}] * 2, steps=50_001), "steps", "max_race_work"),
        (dict(optimizers=[]), "optimizers", ""),
        (dict(optimizers=[{"name": "sgd", "lr": 0.1}, {"name": "nope"}]), "optimizers.1", ""),
        (dict(optimizers=[{"name": "sgd", "lr": 0.1, "schedule": {"name": "nope"}}]), "optimizers.0.schedule", ""),
    ],
)
def test_limits_and_bad_input(kwargs, field, limit, monkeypatch):
    monkeypatch.setitem(LIMITS, "max_descent_work", 1_000_000)
    base = dict(surface="himmelblau", start=(0.0, 0.0), steps=10)
    with pytest.raises(EngineInputError) as e:
        run_race(**{**base, **kwargs})
    assert e.value.field.startswith(field)
    assert limit in str(e.value)
