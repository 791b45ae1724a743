"""Surface rows for the core modules (losses, surfaces, formulas, landscapes, optimizers, schedules,
clipping, descent, activations, init, doctor, deadlines): one valid call per public callable and the
refusals it must make (see tests/public_surface.py for the Row format)."""

from __future__ import annotations

import numpy as np

from public_surface import Row


def _ok(*args, **kwargs):
    return lambda: (args, kwargs)


def _quadratic(p):
    return float(p @ p), 2.0 * p


def _step(e, params, grad):
    e.Optimizer("adam", lr=0.1).step(params, grad)


def _two_sizes(e):
    opt = e.Optimizer("adam", lr=0.1)
    opt.step(np.zeros(3), np.ones(3))
    opt.step(np.zeros(2), np.ones(2))


def _readonly(e):
    p = np.zeros(3)
    p.flags.writeable = False
    e.Optimizer("sgd", lr=0.1).step(p, np.ones(3))


def _set_lr(e, value):
    opt = e.Optimizer("sgd", lr=0.1)
    opt.lr = value


ROWS = {
    # ---- losses
    "evaluate_loss": Row(
        valid=lambda: (("cross_entropy", np.array([[0.7, 0.2, 0.1]]), np.array([[1.0, 0.0, 0.0]])), {}),
        refusals=(
            ("wrong shape", lambda e: e.evaluate_loss("mse", np.zeros(3), np.zeros(4)), "targets"),
            ("3-D predictions", lambda e: e.evaluate_loss("mse", np.zeros((2, 2, 2)), np.zeros((2, 2, 2))), "predictions"),
            ("wrong dtype (strings)", lambda e: e.evaluate_loss("mse", np.array(["a", "b"]), [1.0, 2.0]), "predictions"),
            ("list of strings", lambda e: e.evaluate_loss("mse", [1.0, 2.0], ["a", "b"]), "targets"),
            ("mismatched lengths", lambda e: e.evaluate_loss("mse", [1.0, 2.0], [1.0, 2.0, 3.0]), "targets"),
            ("unknown name", lambda e: e.evaluate_loss("no-such-loss", [1.0], [1.0]), "loss"),
            ("unknown parameter", lambda e: e.evaluate_loss("mse", [1.0], [1.0], params={"gamma": 1.0}), "params"),
            ("parameter the loss does not take", lambda e: e.evaluate_loss("huber", [1.0], [1.0], params={"beta": 1.0}),
             "params"),
            ("label out of range", lambda e: e.evaluate_loss("cross_entropy_with_logits", np.zeros((2, 3)),
                                                             np.array([0, 3])), "targets"),
            ("unknown reduction", lambda e: e.evaluate_loss("mse", [1.0], [1.0], reduction="avg"), "reduction"),
            ("NaN", lambda e: e.evaluate_loss("mse", [float("nan")], [1.0]), "predictions"),
        ),
    ),
    "loss_curves": Row(
        valid=_ok(["mse", "huber"], 11),
        refusals=(
            ("unknown name", lambda e: e.loss_curves(["no-such-loss"]), "losses"),
            ("not a list", lambda e: e.loss_curves("mse"), "losses"),
            ("points = 0", lambda e: e.loss_curves(["mse"], 0), "points"),
            ("wrong shape range", lambda e: e.loss_curves(["mse"], 11, x_range=[1.0, 2.0, 3.0]), "x_range"),
            ("unknown parameter", lambda e: e.loss_curves(["mse"], params={"gamma": 1.0}), "params"),
        ),
    ),
    "resolve_loss": Row(
        valid=_ok("huber", {"delta": 0.5}),
        refusals=(
            ("unknown name", lambda e: e.resolve_loss("no-such-loss"), "loss"),
            ("unknown parameter", lambda e: e.resolve_loss("huber", {"beta": 1.0}), "params"),
            ("wrong type params", lambda e: e.resolve_loss("huber", [1.0]), "params"),
        ),
    ),
    # ---- surfaces, formulas
    "resolve_surface": Row(
        valid=_ok("rosenbrock", {"a": 1.0}),
        refusals=(
            ("unknown name", lambda e: e.resolve_surface("no-such-surface"), "surface"),
            ("unknown parameter", lambda e: e.resolve_surface("rosenbrock", {"zzz": 1.0}), "params"),
            ("wrong shape domain", lambda e: e.resolve_surface("rosenbrock", None, [1.0, 2.0, 3.0]), "domain"),
        ),
    ),
    "compile_expression": Row(
        valid=_ok("a*x**2 + y**2", ("a",)),
        refusals=(
            ("syntax", lambda e: e.compile_expression("x +* y"), "expression"),
            ("unknown name", lambda e: e.compile_expression("x + b", ("a",)), "expression"),
            ("not a string", lambda e: e.compile_expression(["x"]), "expression"),
            ("param_names not strings", lambda e: e.compile_expression("x", (1, 2)), "param_names"),
        ),
    ),
    "resolve_formula": Row(
        valid=_ok("a*x**2 + y**2", {"a": 2.0}),
        refusals=(
            ("syntax", lambda e: e.resolve_formula("x +* y"), "expression"),
            ("params not numbers", lambda e: e.resolve_formula("a*x", {"a": "two"}), "params"),
        ),
    ),
    "landscape_grid": Row(
        valid=_ok("himmelblau", resolution=(5, 4)),
        refusals=(
            ("unknown name", lambda e: e.landscape_grid("no-such-surface"), "surface"),
            ("resolution 0", lambda e: e.landscape_grid("himmelblau", resolution=(0, 4)), "resolution"),
            ("wrong shape range", lambda e: e.landscape_grid("himmelblau", x_range=[1.0]), "x_range"),
            ("reversed range", lambda e: e.landscape_grid("himmelblau", x_range=[1.0, -1.0]), "x_range"),
        ),
    ),
    "landscape_slice": Row(
        valid=_ok("rosenbrock", (1.0, 1.0), (1.0, 0.0), points=11),
        refusals=(
            ("wrong shape point", lambda e: e.landscape_slice("rosenbrock", (1.0, 1.0, 1.0), (1.0, 0.0)), "point"),
            ("zero direction", lambda e: e.landscape_slice("rosenbrock", (1.0, 1.0), (0.0, 0.0)), "direction"),
            ("points = 1", lambda e: e.landscape_slice("rosenbrock", (1.0, 1.0), (1.0, 0.0), points=1), "points"),
            ("unknown name", lambda e: e.landscape_slice("nope", (1.0, 1.0), (1.0, 0.0)), "surface"),
        ),
    ),
    "critical_points": Row(
        valid=_ok("himmelblau", seeds=5),
        refusals=(
            ("unknown name", lambda e: e.critical_points("no-such-surface"), "surface"),
            ("seeds = 0", lambda e: e.critical_points("himmelblau", seeds=0), "seeds"),
        ),
    ),
    "classify_hessian": Row(
        valid=_ok(np.array([1.0, -1.0]), np.array([0.0, 0.0]), np.array([1.0, 1.0])),
        refusals=(
            ("mismatched lengths", lambda e: e.classify_hessian(np.ones(2), np.ones(3), np.ones(2)), "hxy"),
            ("list of strings", lambda e: e.classify_hessian(["a"], [1.0], [1.0]), "hxx"),
            ("None", lambda e: e.classify_hessian(None, [1.0], [1.0]), "hxx"),
        ),
    ),
    # ---- optimizers, schedules, clipping
    "Optimizer": Row(
        valid=_ok("adam", lr=0.01, betas=(0.9, 0.99)),
        refusals=(
            ("unknown name", lambda e: e.Optimizer("no-such-optimizer"), "name"),
            ("hyperparameter the optimizer does not take", lambda e: e.Optimizer("adam", momentum=0.9), "momentum"),
            ("negative lr", lambda e: e.Optimizer("adam", lr=-1.0), "lr"),
            ("betas of three", lambda e: e.Optimizer("adam", betas=(0.9, 0.99, 0.5)), "betas"),
            ("wrong size on a later step", _two_sizes, "params"),
            ("float32 params", lambda e: _step(e, np.zeros(3, np.float32), np.ones(3)), "params"),
            ("int params", lambda e: _step(e, np.zeros(3, np.int64), np.ones(3)), "params"),
            ("list params", lambda e: _step(e, [0.0, 0.0], [1.0, 1.0]), "params"),
            ("non-contiguous params", lambda e: _step(e, np.zeros(6)[::2], np.ones(3)), "params"),
            ("read-only params", _readonly, "params"),
            ("short gradient", lambda e: _step(e, np.zeros(3), np.ones(2)), "grad"),
            ("list of strings gradient", lambda e: _step(e, np.zeros(2), ["a", "b"]), "grad"),
            ("NaN gradient", lambda e: _step(e, np.zeros(2), [float("nan"), 1.0]), "grad"),
            ("lr set negative", lambda e: _set_lr(e, -0.1), "lr"),
        ),
    ),
    "resolve_optimizer": Row(
        valid=_ok({"name": "adam", "lr": 0.01}),
        refusals=(
            ("unknown name", lambda e: e.resolve_optimizer({"name": "nope"}), "optimizer"),
            ("unknown parameter", lambda e: e.resolve_optimizer({"name": "adam", "momentum": 0.9}), "optimizer"),
            ("not a mapping", lambda e: e.resolve_optimizer(["adam"]), "optimizer"),
        ),
    ),
    "lr_schedule": Row(
        valid=_ok({"name": "step", "step_size": 2, "gamma": 0.5}, 0.1, 6),
        refusals=(
            ("unknown name", lambda e: e.lr_schedule({"name": "nope"}, 0.1, 5), "schedule"),
            ("steps = 0", lambda e: e.lr_schedule({"name": "constant"}, 0.1, 0), "steps"),
            ("negative lr", lambda e: e.lr_schedule({"name": "constant"}, -0.1, 5), "base_lr"),
        ),
    ),
    "schedule_values": Row(
        valid=_ok({"name": "cosine", "T_max": 5}, 0.1, 6),
        refusals=(
            ("unknown name", lambda e: e.schedule_values({"name": "nope"}, 0.1, 5), "schedule"),
            ("steps = 0", lambda e: e.schedule_values({"name": "constant"}, 0.1, 0), "steps"),
        ),
    ),
    "clip_by_norm": Row(
        valid=_ok(np.array([3.0, 4.0]), 1.0),
        refusals=(
            ("2-D", lambda e: e.clip_by_norm(np.ones((2, 2)), 1.0), "grad"),
            ("list of strings", lambda e: e.clip_by_norm(["a"], 1.0), "grad"),
            ("max_norm = 0", lambda e: e.clip_by_norm([1.0], 0.0), "max_norm"),
        ),
    ),
    "clip_by_value": Row(
        valid=_ok(np.array([3.0, -4.0]), 1.0),
        refusals=(
            ("2-D", lambda e: e.clip_by_value(np.ones((2, 2)), 1.0), "grad"),
            ("NaN", lambda e: e.clip_by_value([float("nan")], 1.0), "grad"),
            ("clip_value negative", lambda e: e.clip_by_value([1.0], -1.0), "clip_value"),
        ),
    ),
    # ---- descent
    "run_trajectory": Row(
        valid=_ok("rosenbrock", (-1.0, 1.0), 20, {"name": "adam", "lr": 0.01}),
        refusals=(
            ("unknown name", lambda e: e.run_trajectory("no-such-surface"), "surface"),
            ("wrong shape start", lambda e: e.run_trajectory("rosenbrock", (1.0, 2.0, 3.0)), "start"),
            ("steps = 0", lambda e: e.run_trajectory("rosenbrock", steps=0), "steps"),
            ("unknown optimizer", lambda e: e.run_trajectory("rosenbrock", optimizer={"name": "nope"}), "optimizer"),
            ("list optimizer", lambda e: e.run_trajectory("rosenbrock", optimizer=["adam"]), "optimizer"),
        ),
    ),
    "run_race": Row(
        valid=_ok("rosenbrock", (-1.0, 1.0), 20, [{"name": "sgd", "lr": 1e-3}, {"name": "adam", "lr": 0.01}]),
        refusals=(
            ("unknown name", lambda e: e.run_race("no-such-surface"), "surface"),
            ("empty optimizers", lambda e: e.run_race("rosenbrock", optimizers=[]), "optimizers"),
            ("unknown optimizer", lambda e: e.run_race("rosenbrock", optimizers=[{"name": "nope"}]), "optimizers"),
            ("steps = 0", lambda e: e.run_race("rosenbrock", steps=0), "steps"),
        ),
    ),
    "lr_range_test": Row(
        valid=_ok("rosenbrock", {"name": "sgd"}, 1e-5, 1e-2, 20),
        refusals=(
            ("lr_max below lr_min", lambda e: e.lr_range_test("rosenbrock", lr_min=1.0, lr_max=0.1), "lr_max"),
            ("steps = 0", lambda e: e.lr_range_test("rosenbrock", steps=0), "steps"),
            ("unknown name", lambda e: e.lr_range_test("nope"), "surface"),
        ),
    ),
    "run_lr_sweep": Row(
        valid=_ok("quadratic", (0.01, 0.1), {"name": "sgd"}, 20),
        refusals=(
            ("empty lrs", lambda e: e.run_lr_sweep("quadratic", lrs=[]), "lrs"),
            ("lrs of strings", lambda e: e.run_lr_sweep("quadratic", lrs=["a"]), "lrs"),
            ("steps = 0", lambda e: e.run_lr_sweep("quadratic", steps=0), "steps"),
        ),
    ),
    "basin_map": Row(
        valid=_ok("himmelblau", {"name": "sgd", "lr": 0.01}, resolution=(4, 3), steps=20),
        refusals=(
            ("resolution 0", lambda e: e.basin_map("himmelblau", resolution=(0, 3)), "resolution"),
            ("unknown name", lambda e: e.basin_map("nope"), "surface"),
            ("steps = 0", lambda e: e.basin_map("himmelblau", steps=0), "steps"),
        ),
    ),
    "descend_function": Row(
        valid=_ok(_quadratic, np.array([1.0, -1.0]), 10, {"name": "adam", "lr": 0.1}),
        refusals=(
            ("not callable", lambda e: e.descend_function(3, [1.0]), "fun"),
            ("2-D x0", lambda e: e.descend_function(_quadratic, np.ones((2, 2))), "x0"),
            ("steps = 0", lambda e: e.descend_function(_quadratic, [1.0], steps=0), "steps"),
            ("wrong gradient length", lambda e: e.descend_function(lambda p: (0.0, np.ones(3)), [1.0, 2.0], 3), "fun"),
        ),
    ),
    "race_function": Row(
        valid=_ok(_quadratic, np.array([1.0, -1.0]), 10, [{"name": "sgd", "lr": 0.1}]),
        refusals=(
            ("not callable", lambda e: e.race_function("f", [1.0]), "fun"),
            ("empty optimizers", lambda e: e.race_function(_quadratic, [1.0], optimizers=[]), "optimizers"),
            ("unknown optimizer", lambda e: e.race_function(_quadratic, [1.0], 3, [{"name": "nope"}]), "optimizers"),
        ),
    ),
    # ---- activations, init
    "evaluate_activation": Row(
        valid=_ok("tanh", np.linspace(-2.0, 2.0, 5)),
        refusals=(
            ("unknown name", lambda e: e.evaluate_activation("nope", [0.0]), "activation"),
            ("2-D", lambda e: e.evaluate_activation("tanh", np.zeros((2, 2, 2))), "x"),
            ("list of strings", lambda e: e.evaluate_activation("tanh", ["a"]), "x"),
        ),
    ),
    "resolve_activation": Row(
        valid=_ok("leaky_relu", {"negative_slope": 0.1}),
        refusals=(
            ("unknown name", lambda e: e.resolve_activation("nope"), "activation"),
            ("unknown parameter", lambda e: e.resolve_activation("tanh", {"zzz": 1.0}), "params"),
        ),
    ),
    "calculate_gain": Row(
        valid=_ok("leaky_relu", 0.2),
        refusals=(
            ("unknown name", lambda e: e.calculate_gain("nope"), "nonlinearity"),
            ("param of strings", lambda e: e.calculate_gain("leaky_relu", "a"), "param"),
        ),
    ),
    "resolve_init": Row(
        valid=_ok({"name": "xavier_uniform", "gain": 1.0}),
        refusals=(
            ("unknown name", lambda e: e.resolve_init({"name": "nope"}), "init"),
            ("unknown parameter", lambda e: e.resolve_init({"name": "xavier_uniform", "zzz": 1}), "init"),
        ),
    ),
    "weight_stats": Row(
        valid=lambda: (("xavier_uniform", 3, 4), {}),
        refusals=(
            ("fan_in = 0", lambda e: e.weight_stats("xavier_uniform", 0, 4), "fan_in"),
            ("unknown init", lambda e: e.weight_stats("nope", 3, 4), "init"),
        ),
    ),
    "init_layer": Row(
        valid=lambda: (("kaiming_uniform", 3, 4, np.random.default_rng(0)), {}),
        refusals=(
            ("fan_out = 0", lambda e: e.init_layer("kaiming_uniform", 3, 0, np.random.default_rng(0)), "fan_out"),
            ("rng not a Generator", lambda e: e.init_layer("kaiming_uniform", 3, 4, 7.5), "rng"),
            ("unknown init", lambda e: e.init_layer("nope", 3, 4, np.random.default_rng(0)), "init"),
        ),
    ),
    # ---- doctor, deadlines
    "diagnose": Row(
        valid=_ok(np.array([1.0, 0.5, 0.3, 0.2, 0.2]), np.array([1.1, 0.6, 0.4, 0.35, 0.36])),
        refusals=(
            ("mismatched lengths", lambda e: e.diagnose([1.0, 0.5, 0.3, 0.2, 0.2], [1.0, 0.5, 0.3, 0.2]), "val_loss"),
            ("2-D", lambda e: e.diagnose(np.ones((3, 3))), "train_loss"),
            ("list of strings", lambda e: e.diagnose(["a", "b"]), "train_loss"),
        ),
    ),
    "deadline": Row(
        valid=_ok(5.0),
        refusals=(
            ("negative", lambda e: e.deadline(-1.0), "seconds"),
            ("not a number", lambda e: e.deadline("soon"), "seconds"),
            ("extend not callable", lambda e: e.deadline(1.0, extend=3), "extend"),
        ),
    ),
}
