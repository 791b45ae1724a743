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

# formula surfaces: the limits of engine.expression reach every surface field through {"expression", ...}
def _formula_nodes(n: int) -> str:
    """A formula of exactly n nodes (operands + operators): -x (2) then +x pairs; x (1) then pairs when n is odd."""
    return ("-x" if n % 2 == 0 else "x") + "+x" * ((n - 2) // 2 if n % 2 == 0 else (n - 1) // 2)


CASES += [
    LimitCase("max_expression_length", "/api/v1/landscapes/grid", "surface.expression",
              lambda n: {"surface": {"expression": "x" + " " * (n - 1)}, "resolution": [2, 2]}),
    LimitCase("max_expression_nodes", "/api/v1/landscapes/grid", "surface.expression",
              lambda n: {"surface": {"expression": _formula_nodes(n)}, "resolution": [2, 2]}),
    LimitCase("max_expression_depth", "/api/v1/descent/trajectory", "surface.expression",
              lambda n: {"surface": {"expression": "(" * n + "x" + ")" * n}, "start": [1.0, 1.0], "steps": 2}),
    LimitCase("max_expression_params", "/api/v1/landscapes/critical-points", "surface.params",
              lambda n: {"surface": {"expression": "x**2 + y**2", "params": {f"p{i}": 1.0 for i in range(n)}},
                         "seeds": 2}),
    # a 1000-node formula on 1000 columns: rows = ceil(n / 1e6) (scaled: 2 rows at, 3 over)
    LimitCase("max_formula_work", "/api/v1/landscapes/grid", "resolution",
              lambda n: {"surface": {"expression": _formula_nodes(1000)}, "resolution": [1000, -(-n // 1_000_000)]},
              scale=2_000_000),
]

# the user's own data (engine.user_data): a tiny run on n rows, features, classes or characters
def _own(dataset: dict, layers: list[int]) -> dict:
    return {"dataset": {"name": "inline", **dataset} if "csv" not in dataset else {"name": "csv", **dataset},
            "model": {"layers": layers}, "optimizer": {"name": "sgd", "lr": 0.01}, "epochs": 1, "batch_size": 1024,
            "prediction": {"points": 2, "grid": 2}}


_CSV = "a,b\n0,1\n1,0\n2,1\n3,0"

CASES += [
    # half of the rows validate, so at the limit both splits are at theirs too
    LimitCase("max_user_rows", "/api/v1/training/run", "dataset.x",
              lambda n: _own({"x": [0.0] * n, "y": [0.0] * n, "val_fraction": 0.5}, [1, 1])),
    LimitCase("max_data_features", "/api/v1/training/run", "dataset.x",
              lambda n: _own({"x": [[0.5] * n] * 4, "y": [0.0, 1.0, 2.0, 3.0]}, [n, 1])),
    LimitCase("max_data_classes", "/api/v1/training/run", "dataset.labels",
              lambda n: _own({"x": [float(i) for i in range(n)], "labels": list(range(n)), "val_fraction": 0.5},
                             [1, n])),
    LimitCase("max_csv_chars", "/api/v1/training/run", "dataset.csv",
              lambda n: _own({"csv": _CSV + " " * (n - len(_CSV))}, [1, 1]), scale=1_000),
]

# curvature: /networks/hessian on moons (20 rows); /landscapes/saddle-statistics (sine, 20 rows)
def _hess(**over) -> dict:
    return {"layers": [2, 8, 1], "dataset": {"name": "moons", "n_train": 20}, "density": False, "trace_samples": 2,
            "top_k": 1, "bottom_k": 0, **over}


def _saddle(**over) -> dict:
    return {"experiment": "network", "layers": [1, 1, 1], "starts": 1, "iterations": 1, "train_steps": 0, **over}


CASES += [
    LimitCase("max_hessian_top_k", "/api/v1/networks/hessian", "top_k", lambda n: _hess(top_k=n)),
    LimitCase("max_hutchinson_samples", "/api/v1/networks/hessian", "trace_samples", lambda n: _hess(trace_samples=n)),
    LimitCase("max_lanczos_steps", "/api/v1/networks/hessian", "density_steps",
              lambda n: _hess(density=True, density_steps=n, density_probes=1)),
    LimitCase("max_slq_probes", "/api/v1/networks/hessian", "density_probes",
              lambda n: _hess(density=True, density_steps=4, density_probes=n)),
    LimitCase("max_density_points", "/api/v1/networks/hessian", "density_points",
              lambda n: _hess(density=True, density_steps=4, density_probes=1, density_points=n)),
    # 100 Lanczos steps x (4h + 1) parameters; h = 130: 521 parameters (no exact spectrum past 500)
    LimitCase("max_lanczos_memory", "/api/v1/networks/hessian", "layers",
              lambda n: _hess(density=True, density_steps=100, density_probes=1,
                              layers=[2, _ceil((n / 100 - 1) / 4), 1]), scale=100 * 521),
    # only the trace probes: each an HVP of 8 x 20 rows x 521 parameters = 83,360 multiply-adds
    LimitCase("max_hessian_work", "/api/v1/networks/hessian", "layers",
              lambda n: _hess(layers=[2, 130, 1], top_k=0, trace_samples=_ceil(n / 83_360)), scale=3 * 83_360),
    LimitCase("max_goe_dim", "/api/v1/landscapes/saddle-statistics", "dims",
              lambda n: {"experiment": "goe", "dims": [n], "samples": 10}),
    LimitCase("max_goe_samples", "/api/v1/landscapes/saddle-statistics", "samples",
              lambda n: {"experiment": "goe", "dims": [1], "samples": n}),
    LimitCase("max_goe_work", "/api/v1/landscapes/saddle-statistics", "samples",
              lambda n: {"experiment": "goe", "dims": [1], "samples": n}, scale=500_000),
    # layers [1, h, 1]: 3h + 1 parameters
    LimitCase("max_saddle_parameters", "/api/v1/landscapes/saddle-statistics", "layers",
              lambda n: _saddle(layers=[1, _ceil((n - 1) / 3), 1]), scale=61),
    LimitCase("max_saddle_starts", "/api/v1/landscapes/saddle-statistics", "starts", lambda n: _saddle(starts=n)),
    LimitCase("max_saddle_iterations", "/api/v1/landscapes/saddle-statistics", "iterations",
              lambda n: _saddle(iterations=n)),
    # engine.saddles._work of 1-1-1 on 20 rows, 1 start, 1 iteration: 176,128 + 8,000 per 2 GD steps
    LimitCase("max_saddle_work", "/api/v1/landscapes/saddle-statistics", "starts",
              lambda n: _saddle(train_steps=2 * _ceil((n - 176_128) / 8_000)), scale=176_128 + 100 * 8_000),
]

CASES.append(
    # one sharpness record per epoch: epochs = n records
    LimitCase("max_sharpness_evaluations", "/api/v1/training/run", "curvature.every",
              lambda n: {**_tiny_run(n), "curvature": {"every": 1}}, scale=20))

# Limits no request can reach on its own, with the reason (kept short; each is a review item).
UNREACHABLE: dict[str, str] = {
    "max_dense_hessian_parameters": "HTTP builds the full Hessian only up to 500 parameters "
                                    "(engine.network_hessian.EXACT_MAX); MLPHessian.matrix() refuses past it "
                                    "(tests/test_hvp.py)",
    "max_function_record": "Python only (engine.descend_function / race_function): no request carries a callable; "
                           "tests/test_user_function.py refuses one over it",
}

# language models: their rows live in tests/limit_cases_lm.py
from limit_cases_lm import LM_ROWS, LM_UNREACHABLE  # noqa: E402

CASES += [LimitCase(*row) for row in LM_ROWS]
UNREACHABLE.update(LM_UNREACHABLE)
