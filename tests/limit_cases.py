"""One row per hard limit of ``engine.limits.LIMITS``: which request reaches it, and how.

Read by ``tests/test_limits.py`` (at the limit the request passes, one over it gets a 422
naming the limit and the field) and by ``bench/bench_deadline.py`` (times the largest allowed
request of each row against the deadline). To add a limit: add a ``LimitCase`` row.

* ``body(n)``: a valid request whose limited quantity equals ``n`` (for a product, round the
  free factor up, e.g. ``steps = ceil(n / runs)``, so ``body(n + 1)`` is past the limit);
* ``field``: the request field the 422 names (dotted for nested fields);
* ``scale``: for work budgets whose largest request takes seconds, the tests run the row with
  ``LIMITS[limit]`` temporarily set to this smaller value (the engine's check reads the dict at
  call time, so the same code path is exercised); the bench runs the real limit;
* rows whose endpoint is not in ``/openapi.json`` yet are skipped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable


@dataclass(frozen=True)
class LimitCase:
    limit: str
    path: str
    field: str
    body: Callable[[int], dict]
    scale: int | None = None
    method: str = "POST"

    @property
    def id(self) -> str:
        return f"{self.limit}@{self.path.removeprefix('/api/v1/')}"


def _curve(n: int) -> list[float]:
    return [1.0 / (1.0 + 0.01 * t) for t in range(n)]


def _tiny_run(epochs: int) -> dict:
    return {"dataset": {"name": "sine", "n_train": 10, "n_val": 10}, "model": {"layers": [1, 2, 1]},
            "optimizer": {"name": "sgd", "lr": 0.01}, "epochs": epochs, "batch_size": 10,
            "prediction": {"points": 2}}


_WORK_RUN = {"dataset": {"name": "moons", "n_train": 1000, "n_val": 1000}, "model": {"layers": [2, 16, 16, 1]},
             "optimizer": {"name": "sgd", "lr": 0.01}, "batch_size": 100, "prediction": {"grid": 2}}


def _work_ab() -> tuple[int, int]:
    """(work per epoch, work of the prediction) of _WORK_RUN, from the engine's own formula."""
    from engine.mlp import build_mlp
    from engine.training_setup import work as _work

    net = build_mlp(_WORK_RUN["model"]["layers"])
    b = _work(net, 1000, 1000, 0, 100, 2 * 2)
    return _work(net, 1000, 1000, 1, 100, 2 * 2) - b, b


def _work_run(n: int) -> dict:
    """The most epochs whose work fits in n; but n one past a whole number of epochs (the test's
    "one over" at the scaled limit b + k·a) asks for one epoch more, which is over."""
    a, b = _work_ab()
    epochs, rest = divmod(n - b, a)
    return {**_WORK_RUN, "epochs": epochs + (1 if rest == 1 else 0)}


def _work_scale() -> int:
    a, b = _work_ab()
    return a + b


CASES: list[LimitCase] = [
    # losses
    LimitCase("max_loss_elements", "/api/v1/losses/evaluate", "predictions",
              lambda n: {"loss": "mse", "predictions": [0.5] * n, "targets": [0.0] * n}),
    LimitCase("max_curve_points", "/api/v1/losses/curves", "points",
              lambda n: {"losses": ["mse", "cross_entropy"], "points": n}),
    LimitCase("max_curve_losses", "/api/v1/losses/curves", "losses",
              lambda n: {"losses": [["mse", "huber", "bce", "hinge"][i % 4] for i in range(n)], "points": 11}),
    # landscapes
    LimitCase("max_grid_axis", "/api/v1/landscapes/grid", "resolution",
              lambda n: {"surface": "rosenbrock", "resolution": [n, 3]}),
    LimitCase("max_slice_points", "/api/v1/landscapes/slice", "points",
              lambda n: {"surface": "rosenbrock", "point": [0, 0], "direction": [1, 0], "points": n}),
    LimitCase("max_critical_seeds_axis", "/api/v1/landscapes/critical-points", "seeds",
              lambda n: {"surface": "himmelblau", "seeds": n}),
    LimitCase("max_surface_samples", "/api/v1/landscapes/grid", "params.n",
              lambda n: {"surface": "linear_regression", "params": {"n": n}, "resolution": [3, 3]}),
    # schedules
    LimitCase("max_steps", "/api/v1/schedules", "steps",
              lambda n: {"schedule": {"name": "cosine"}, "base_lr": 0.1, "steps": n}),
    LimitCase("max_schedule_milestones", "/api/v1/schedules", "schedule.milestones",
              lambda n: {"schedule": {"name": "multistep", "milestones": list(range(1, n + 1))},
                         "base_lr": 0.1, "steps": 10}),
    # descent (work budgets scaled down in the tests; bench_deadline runs the real values)
    LimitCase("max_steps", "/api/v1/descent/trajectory", "steps",
              lambda n: {"surface": "rosenbrock", "start": [-1.5, 2.0], "steps": n, "tolerance": 0.0}),
    LimitCase("max_race_runs", "/api/v1/descent/race", "optimizers",
              lambda n: {"surface": "himmelblau", "steps": 10, "optimizers": [{"name": "sgd", "lr": 0.01}] * n}),
    LimitCase("max_race_work", "/api/v1/descent/race", "steps",
              lambda n: {"surface": "himmelblau", "steps": -(-n // 2), "tolerance": 0.0,
                         "optimizers": [{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.01}]}, scale=1_000),
    LimitCase("max_sweep_lrs", "/api/v1/descent/lr-sweep", "lrs",
              lambda n: {"surface": "quadratic", "steps": 10, "lrs": [0.01 * (i + 1) for i in range(n)]}),
    LimitCase("max_sweep_work", "/api/v1/descent/lr-sweep", "steps",
              lambda n: {"surface": "quadratic", "steps": -(-n // 10), "tolerance": 0.0,
                         "lrs": [0.01 * (i + 1) for i in range(10)]}, scale=10_000),
    LimitCase("max_basin_axis", "/api/v1/descent/basins", "resolution",
              lambda n: {"surface": "himmelblau", "resolution": [n, 2], "steps": 10}),
    LimitCase("max_descent_work", "/api/v1/descent/basins", "resolution",
              lambda n: {"surface": "himmelblau", "resolution": [500, 500], "steps": -(-n // 250_000)},
              scale=2_500_000),
    LimitCase("max_batch_work", "/api/v1/descent/trajectory", "batch_size",
              lambda n: {"surface": "linear_regression", "start": [0.0, 0.0], "batch_size": 50,
                         "steps": -(-n // 50), "tolerance": 0.0}, scale=50_000),
    # training
    LimitCase("max_train_samples", "/api/v1/training/dataset", "n_train",
              lambda n: {"name": "moons", "n_train": n, "n_val": 10}),
    LimitCase("max_val_samples", "/api/v1/training/dataset", "n_val",
              lambda n: {"name": "moons", "n_train": 10, "n_val": n}),
    LimitCase("max_doctor_epochs", "/api/v1/training/diagnose", "train_loss",
              lambda n: {"train_loss": _curve(n)}),
    LimitCase("max_epochs", "/api/v1/training/run", "epochs", lambda n: _tiny_run(epochs=n)),
    LimitCase("max_compare_variants", "/api/v1/training/compare", "variants",
              lambda n: {**_tiny_run(epochs=2), "variants": [{"name": f"v{i}"} for i in range(n)]}),
    LimitCase("max_prediction_axis", "/api/v1/training/run", "prediction.grid",
              lambda n: {**_tiny_run(epochs=1), "dataset": {"name": "moons", "n_train": 10, "n_val": 10},
                         "model": {"layers": [2, 2, 1]}, "prediction": {"grid": n}}),
    # the work budget: the most epochs of a fixed run within n (A = work per epoch, B = the
    # prediction's); at the scaled limit B + A the run is exactly at the budget, one over adds an epoch
    LimitCase("max_training_work", "/api/v1/training/run", "epochs", lambda n: _work_run(n), scale=_work_scale()),
]

# networks: products are reached by rounding the free factor up (ceil), at a scaled limit
def _ceil(a: float) -> int:
    return -int(-a // 1)


CASES += [
    LimitCase("max_layers", "/api/v1/networks/gradient-profile", "depth",
              lambda n: {"depth": n, "width": 4, "batch": 4}),
    LimitCase("max_width", "/api/v1/networks/gradient-profile", "width",
              lambda n: {"depth": 1, "width": n, "batch": 2}),
    LimitCase("max_batch", "/api/v1/networks/gradient-profile", "batch",
              lambda n: {"depth": 1, "width": 4, "batch": n}),
    # depth 1, width 9: 90 parameters; batch x parameters
    LimitCase("max_network_work", "/api/v1/networks/gradient-profile", "batch",
              lambda n: {"depth": 1, "width": 9, "batch": _ceil(n / 90)}, scale=9000),
    # depth 1, width 3, batch 5: (steps + 1) x 5 x 12
    LimitCase("max_profile_steps", "/api/v1/networks/gradient-profile", "training.steps",
              lambda n: {"depth": 1, "width": 3, "batch": 5, "training": {"steps": n}}),
    LimitCase("max_profile_work", "/api/v1/networks/gradient-profile", "training.steps",
              lambda n: {"depth": 1, "width": 3, "batch": 5, "training": {"steps": _ceil(n / 60) - 1}}, scale=6060),
    # layers [2, h, 1]: 4h + 1 parameters
    LimitCase("max_network_parameters", "/api/v1/networks/landscape", "layers",
              lambda n: {"layers": [2, _ceil((n - 1) / 4), 1], "dims": 1, "resolution": 2, "train_steps": 0,
                         "dataset": {"n": 10}}, scale=4001),
    LimitCase("max_backprop_parameters", "/api/v1/networks/backprop", "layers",
              lambda n: {"layers": [2, _ceil((n - 1) / 4), 1], "inputs": [[0.1, 0.2]], "targets": [[0.0]]},
              scale=401),
    LimitCase("max_backprop_samples", "/api/v1/networks/backprop", "inputs",
              lambda n: {"layers": [2, 2, 1], "inputs": [[0.1, 0.2]] * n, "targets": [[0.0]] * n}),
    LimitCase("max_landscape_axis", "/api/v1/networks/landscape", "resolution",
              lambda n: {"layers": [2, 4, 1], "dims": 1, "resolution": n, "train_steps": 0, "dataset": {"n": 20}}),
    LimitCase("max_landscape_samples", "/api/v1/networks/landscape", "dataset.n",
              lambda n: {"layers": [2, 4, 1], "dims": 1, "resolution": 3, "train_steps": 0, "dataset": {"n": n}}),
    # layers [2, 1] (3 parameters), 10 samples, 2 points: (2 + 3 x steps) x 10 x 3
    LimitCase("max_landscape_work", "/api/v1/networks/landscape", "resolution",
              lambda n: {"layers": [2, 1], "dims": 1, "resolution": 2, "train_steps": _ceil((n / 30 - 2) / 3),
                         "dataset": {"n": 10}}, scale=960),
]

# Limits no request can reach on its own, with the reason (kept short; each is a review item).
UNREACHABLE: dict[str, str] = {}
