"""Every result type of ``engine`` is usable as data: JSON, a short repr, read-only arrays, equality by value,
and columns a DataFrame takes (engine.results). Each type is built by a small real engine call (BUILDERS)."""

from __future__ import annotations

import copy
import dataclasses
import functools
import inspect
import json
import math
import pkgutil
import importlib

import numpy as np
import pytest

import engine
from engine.results import is_result

# ----------------------------------------------------------------------------------------------------------
# one small real call per result type (cached: several types come out of one call)
SMALL_TRAIN = {"dataset": {"name": "sine", "n_train": 12, "n_val": 8, "noise": 0.1},
               "model": {"layers": [1, 6, 1], "activation": "tanh"},
               "optimizer": {"name": "adam", "lr": 0.02}, "epochs": 4, "batch_size": 6}
TINY_LM = {"corpus": {"name": "names"}, "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "d_model": 8},
           "steps": 6, "batch_size": 2, "eval_every": 3, "eval_tokens": 50, "sampling": {"length": 4}}


@functools.cache
def _train():
    return engine.train(**SMALL_TRAIN)


@functools.cache
def _train_classification():
    return engine.train(**{**SMALL_TRAIN, "dataset": {"name": "moons", "n_train": 16, "n_val": 8},
                           "model": {"layers": [2, 6, 2], "activation": "tanh"}, "loss": "cross_entropy_with_logits"})


@functools.cache
def _train_curvature():
    return engine.train(**{**SMALL_TRAIN, "curvature": {"every": 2}})


@functools.cache
def _race():
    return engine.run_race("himmelblau", (0.5, 0.5), steps=30, optimizers=[{"name": "sgd"}, {"name": "adam"}])


@functools.cache
def _lm():
    return engine.train_lm(**TINY_LM)


@functools.cache
def _hessian():
    net = engine.build_mlp([1, 3, 1], "tanh")
    params = engine.init_params(net, seed=1)
    X = np.linspace(-1, 1, 6)[:, None]
    return engine.mlp_hessian(net, params, X, np.sin(X), "mse")


def _diag_operator(values):
    d = np.asarray(values, dtype=float)
    return engine.hessian_operator(d.size, lambda v, out: np.multiply(d, v, out=out))


@functools.cache
def _sweep():
    base = {**SMALL_TRAIN, "epochs": 2}
    return engine.sweep("training/run", base, {"optimizer.lr": [0.01, 0.02]}, seeds=[0, 1],
                        metrics=["final_val_loss", "val_loss_curve"], client="sync")


@functools.cache
def _backprop():
    return engine.run_backprop([2, 3, 1], [[0.5, -0.2], [0.1, 0.3]], [[0.2], [0.7]], activation="tanh", seed=3)


@functools.cache
def _profile():
    return engine.run_gradient_profile(depth=3, width=4, clip={"max_norm": 1.0}, training={"steps": 6, "every": 3})


@functools.cache
def _compare():
    return engine.compare(variants=[{"name": "plain"}, {"name": "l2", "regularization": {"weight_decay": 1e-3}}],
                          **SMALL_TRAIN)


@functools.cache
def _loss_curves():
    return engine.loss_curves(["mse", "bce"], points=5)


def _rosen_nd(p):
    x, y = p
    return (1 - x) ** 2 + 100 * (y - x * x) ** 2, np.array([-2 * (1 - x) - 400 * x * (y - x * x), 200 * (y - x * x)])


BUILDERS = {
    engine.LossResult: lambda: engine.evaluate_loss("mse", [0.7, 0.2, 0.1], [1, 0, 0]),
    engine.CurvesResult: _loss_curves,
    engine.LossCurve: lambda: _loss_curves().curves[0],
    engine.LandscapeGrid: lambda: engine.landscape_grid("himmelblau", resolution=(6, 5)),
    engine.LandscapeSlice: lambda: engine.landscape_slice("valley", (-1, 0.5), (1, 0), points=9),
    engine.CriticalPoints: lambda: engine.critical_points("himmelblau", seeds=5),
    engine.ScheduleValues: lambda: engine.schedule_values({"name": "cosine"}, 0.1, 12),
    engine.ClippedGradient: lambda: engine.clip_by_norm(np.array([3.0, 4.0]), 1.0),
    engine.Trajectory: lambda: engine.run_trajectory("rosenbrock", optimizer={"name": "adam"}, steps=20),
    engine.Race: _race,
    engine.RaceSummary: lambda: _race().summary[0],
    engine.LRSweep: lambda: engine.run_lr_sweep("quadratic", (0.01, 0.1), {"name": "sgd"}, steps=15),
    engine.SweepRun: lambda: engine.run_lr_sweep("quadratic", (0.01, 2.5), {"name": "sgd"}, steps=15).runs[1],
    engine.LRRangeTest: lambda: engine.lr_range_test("rosenbrock", {"name": "sgd"}, 1e-5, 1e-2, 20),
    engine.Basins: lambda: engine.basin_map("himmelblau", {"name": "adam", "lr": 0.05}, resolution=(5, 4),
                                            steps=30),
    engine.FunctionRace: lambda: engine.race_function(_rosen_nd, [0.0, 1.0], 10, [{"name": "sgd"}, {"name": "adam"}]),
    engine.BackpropResult: _backprop,
    engine.GradientProfile: _profile,
    engine.NetworkLandscape: lambda: engine.run_network_landscape([1, 4, 1], "relu", {"name": "sine", "n": 20},
                                                                  dims=1, resolution=5, seed=2, train_steps=0),
    engine.TrainingResult: _train,
    engine.Comparison: _compare,
    engine.Diagnosis: lambda: engine.diagnose(0.7 + 0.3 * np.exp(-np.arange(20) / 5), 0.8 + 0.3 * np.exp(
        -np.arange(20) / 5)),
    engine.NetworkHessian: lambda: engine.run_network_hessian([1, 3, 1], "tanh", "mse", {"name": "sine", "n_train": 8},
                                                              top_k=1, density_points=16, trace_samples=5),
    engine.GOEStatistics: lambda: engine.goe_minimum_probability([2, 3], 200, seed=7),
    engine.NetworkCriticalPoints: lambda: engine.network_critical_points([1, 2, 1], starts=2, train_steps=2,
                                                                         iterations=2),
    engine.LMHistory: lambda: _lm().history,
    engine.LMTrainResult: _lm,
    engine.LMInspection: lambda: engine.inspect_lm({"name": "names"}, {"name": "bigram"}, prompt="ann", top_k=2),
    engine.HessianMatrix: lambda: _hessian().matrix(),
    engine.Eigenpairs: lambda: engine.eigenpairs(_diag_operator([3.0, -1.0, 2.0, 0.5]), 2, "LA", tol=1e-12),
    engine.TraceEstimate: lambda: engine.hutchinson_trace(_diag_operator([1.0, 2.0, 3.0]), 20, 0),
    engine.SpectralDensity: lambda: engine.spectral_density(_diag_operator(np.linspace(-1, 2, 12)), steps=6, probes=2,
                                                            seed=0),
    engine.SweepResult: _sweep,
    engine.Aggregate: lambda: _sweep().aggregates[0],
    engine.PowerLawFit: lambda: engine.fit_power_law(np.array([1.0, 2, 4, 8, 16]), 0.05 + 3.0 * np.array(
        [1.0, 2, 4, 8, 16]) ** -0.7, bootstrap=0),
    engine.ScalingLawFit: lambda: _scaling_law(),
}


def _scaling_law():
    N, D = np.meshgrid([1e3, 3e3, 1e4, 3e4], [1e4, 3e4, 1e5])
    N, D = N.ravel(), D.ravel()
    return engine.fit_scaling_law(N, D, 1.7 + 400 * N ** -0.34 + 410 * D ** -0.28, bootstrap=0)


# result types that only occur inside other results: built from their parent
def _nested():
    from engine.backprop import ChainRule, Cost, GradCheck
    from engine.gradient_profile import ClipReport, TrainingProfile
    from engine.regularization import VariantResult
    from engine.training_report import History, Prediction

    return {
        History: lambda: _train().history,
        Prediction: lambda: _train().prediction,
        VariantResult: lambda: _compare().runs[1],
        ClipReport: lambda: _profile().clip,
        TrainingProfile: lambda: _profile().training,
        ChainRule: lambda: _backprop().chain_rule,
        GradCheck: lambda: _backprop().gradcheck,
        Cost: lambda: _backprop().cost,
    }


ALL_BUILDERS = {**BUILDERS, **_nested()}

# exported frozen dataclasses that are not results: things a user builds and hands back to the engine, whose
# arrays feed kernels (read-only arrays there would compile a second specialisation of every kernel)
NOT_RESULTS = {
    "ResolvedLoss": "a resolved loss: its packed parameters go to the loss kernels",
    "Surface": "a surface resolved for kernels", "SurfaceSpec": "a registry entry",
    "Formula": "a compiled formula (a program for the kernels)", "Program": "the formula's bytecode, for kernels",
    "Optimizer": "an optimizer object / registry entry",
    "ResolvedOptimizer": "a resolved optimizer for the kernels",
    "MLP": "an architecture: layout tables for the kernels",
    "Dataset": "training data handed back to train()", "Corpus": "token streams handed to the language models",
    "CharTokenizer": "a tokenizer", "LMModel": "a language model's layout for the kernels",
    "SweepKind": "a registry entry (holds the engine functions)", "SweepSpec": "a sweep's description",
    "SweepPlan": "a validated sweep, not yet run", "HessianPlan": "a checked Hessian request, not yet computed",
    "MLPHessian": "an operator (H v by exact HVPs) that owns its scratch; its matrix() is a result",
}


def _engine_result_classes() -> set[type]:
    """Every @resultclass class defined in an engine module (exported or nested)."""
    out = set()
    for info in pkgutil.iter_modules(engine.__path__):
        mod = importlib.import_module(f"engine.{info.name}")
        for obj in vars(mod).values():
            if inspect.isclass(obj) and obj.__module__ == mod.__name__ and is_result(obj):
                out.add(obj)
    return out


def test_every_result_type_has_a_builder():
    exported = {getattr(engine, n) for n in engine.__all__ if inspect.isclass(getattr(engine, n))}
    for cls in exported:
        if dataclasses.is_dataclass(cls):
            assert is_result(cls) or cls.__name__ in NOT_RESULTS, f"{cls.__name__}: a result (@resultclass) or not?"
    for name in NOT_RESULTS:
        assert not is_result(getattr(engine, name)), name
    missing = {c.__name__ for c in _engine_result_classes()} - {c.__name__ for c in ALL_BUILDERS}
    assert not missing, f"no builder for {sorted(missing)}"
    assert len(BUILDERS) >= 35


@functools.cache
def _built(cls):
    r = ALL_BUILDERS[cls]()
    assert type(r) is cls, (cls, type(r))
    return r


IDS = [c.__name__ for c in ALL_BUILDERS]


def _arrays(obj, path="r"):
    """(path, array) for every array reachable through fields, lists, tuples and dicts."""
    if isinstance(obj, np.ndarray):
        yield path, obj
    elif dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        for f in dataclasses.fields(obj):
            yield from _arrays(getattr(obj, f.name), f"{path}.{f.name}")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from _arrays(v, f"{path}[{i}]")
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from _arrays(v, f"{path}[{k!r}]")


def _same_numbers(value, back, path):
    """``back`` (parsed JSON) holds ``value``'s numbers: NaN/inf as None, everything else equal."""
    if isinstance(value, np.ndarray):
        if value.dtype.kind in "fiub":
            got = np.array(back, dtype=object).reshape(value.shape) if value.size else np.zeros(value.shape)
            want = value.astype(float)
            fin = np.isfinite(want)
            assert all(g is None for g in got[~fin].ravel()), path
            np.testing.assert_array_equal(got[fin].astype(float), want[fin], err_msg=path)
        return
    if is_result(value) or (dataclasses.is_dataclass(value) and not isinstance(value, type)):
        assert isinstance(back, dict), path
        for f in dataclasses.fields(value):
            _same_numbers(getattr(value, f.name), back[f.name], f"{path}.{f.name}")
    elif isinstance(value, (list, tuple)) and not hasattr(value, "_fields"):
        assert isinstance(back, list) and len(back) == len(value), path
        for i, (v, b) in enumerate(zip(value, back)):
            _same_numbers(v, b, f"{path}[{i}]")
    elif isinstance(value, dict):
        assert isinstance(back, dict) and len(back) == len(value), path
        for k, v in value.items():
            _same_numbers(v, back[k if isinstance(k, str) else str(k)], f"{path}[{k!r}]")
    elif isinstance(value, (bool, np.bool_)):
        assert back == bool(value), path
    elif isinstance(value, (int, float, np.integer, np.floating)):
        if math.isfinite(value):
            assert back == value, path
        else:
            assert back is None, path
    elif isinstance(value, str):
        assert back == value, path


@pytest.mark.parametrize("cls", list(ALL_BUILDERS), ids=IDS)
def test_to_dict_is_json_and_round_trips_the_numbers(cls):
    r = _built(cls)
    d = r.to_dict()
    text = json.dumps(d, allow_nan=False)
    assert r.to_json() == text
    _same_numbers(r, json.loads(text), cls.__name__)
    assert set(d) == {f.name for f in dataclasses.fields(r)}


@pytest.mark.parametrize("cls", list(ALL_BUILDERS), ids=IDS)
def test_repr_is_short_and_names_the_type(cls):
    r = _built(cls)
    text = repr(r)
    assert len(text) < 500, (len(text), text)
    assert text.startswith(cls.__name__ + "(")


@pytest.mark.parametrize("cls", list(ALL_BUILDERS), ids=IDS)
def test_arrays_are_read_only(cls):
    r = _built(cls)
    for path, a in _arrays(r):
        assert not a.flags.writeable, path
        with pytest.raises(ValueError):
            a[...] = 0
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(r, dataclasses.fields(r)[0].name, None)


def _changed(r):
    """``r`` with one value changed: its first non-empty numeric array, else a number, else a string."""
    for f in dataclasses.fields(r):
        v = getattr(r, f.name)
        if isinstance(v, np.ndarray) and v.size and v.dtype.kind in "fiu":
            return dataclasses.replace(r, **{f.name: v + 1})
    for f in dataclasses.fields(r):
        v = getattr(r, f.name)
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            return dataclasses.replace(r, **{f.name: v + 1})
        if isinstance(v, str):
            return dataclasses.replace(r, **{f.name: v + "~"})
    raise AssertionError(f"nothing to change in {type(r).__name__}")


@pytest.mark.parametrize("cls", list(ALL_BUILDERS), ids=IDS)
def test_equality_by_value_never_raises(cls):
    r = _built(cls)
    assert r == r
    twin = copy.deepcopy(r)
    assert twin is not r and twin == r and not (twin != r)
    other = _changed(r)
    assert other != r and not (other == r)
    assert (r == "something else") is False
    with pytest.raises(TypeError):
        hash(r)


def test_equality_treats_nan_as_equal_and_compares_nested_arrays():
    t = _built(engine.Trajectory)
    nan_loss = t.loss.copy()
    nan_loss[-1] = np.nan
    a, b = dataclasses.replace(t, loss=nan_loss), dataclasses.replace(t, loss=nan_loss.copy())
    assert a == b and a != t
    r = _race()
    runs = list(r.runs)
    runs[1] = a
    assert dataclasses.replace(r, runs=tuple(runs)) != r


def test_non_finite_values_become_none_in_json():
    t = _built(engine.Trajectory)
    loss = t.loss.copy()
    loss[1], loss[2] = np.nan, np.inf
    back = json.loads(dataclasses.replace(t, loss=loss, tolerance=float("-inf")).to_json())
    assert back["loss"][1] is None and back["loss"][2] is None and back["tolerance"] is None
    assert back["loss"][0] == t.loss[0]


def test_a_callers_array_stays_writable():
    g = np.array([3.0, 4.0])
    r = engine.clip_by_norm(g, 1.0)
    for _, a in _arrays(r):
        assert not a.flags.writeable
    g[0] = 1.0  # the caller's own array is not frozen by the result holding it
    assert g[0] == 1.0


# -- columns ---------------------------------------------------------------------------------------------
COLUMN_TYPES = [c for c in ALL_BUILDERS if hasattr(c, "to_columns")]


def test_histories_and_trajectories_have_columns():
    from engine.training_report import History

    names = {c.__name__ for c in COLUMN_TYPES}
    assert {"Trajectory", "History", "LMHistory", "SweepRun", "LRRangeTest", "TrainingProfile"} <= names
    assert History in COLUMN_TYPES


@pytest.mark.parametrize("cls", COLUMN_TYPES, ids=[c.__name__ for c in COLUMN_TYPES])
def test_to_columns_gives_equal_length_plain_lists(cls):
    pd = pytest.importorskip("pandas")
    r = _built(cls)
    cols = r.to_columns()
    assert cols and len({len(v) for v in cols.values()}) == 1, {k: len(v) for k, v in cols.items()}
    json.dumps(cols, allow_nan=False)
    frame = pd.DataFrame(cols)
    assert list(frame.columns) == list(cols)
    first = next(f.name for f in dataclasses.fields(r) if isinstance(getattr(r, f.name), np.ndarray))
    assert len(frame) == getattr(r, first).shape[0]


def test_trajectory_columns_align_points_and_steps():
    t = _built(engine.Trajectory)
    cols = t.to_columns()
    n = t.steps_taken
    assert len(cols["loss"]) == n + 1
    np.testing.assert_array_equal(cols["path_x"], t.path[:, 0])
    np.testing.assert_array_equal(cols["path_y"], t.path[:, 1])
    np.testing.assert_array_equal(cols["lr"][:n], t.lr)
    assert cols["lr"][n] is None and cols["update_x"][n] is None  # no step leaves the last point
    np.testing.assert_array_equal(cols["update_y"][:n], t.update[:, 1])


def test_history_columns_drop_what_was_not_recorded():
    pd = pytest.importorskip("pandas")
    reg, cls = _train().history, _train_classification().history
    assert reg.train_accuracy.size == 0 and "train_accuracy" not in reg.to_columns()
    frame = pd.DataFrame(cls.to_columns())
    assert len(frame) == len(cls) == 4
    np.testing.assert_array_equal(frame["val_accuracy"].to_numpy(), cls.val_accuracy)
    np.testing.assert_array_equal(frame["train_loss"].to_numpy(), cls.train_loss)


def test_history_curvature_records_are_their_own_table():
    h = _train_curvature().history
    assert h.sharpness.size == 2
    per_epoch = h.to_columns()
    assert "sharpness" not in per_epoch and len(per_epoch["train_loss"]) == 4
    records = h.to_columns("sharpness_epoch")
    assert records["sharpness_epoch"] == [2, 4]
    np.testing.assert_array_equal(records["sharpness"], h.sharpness)
    with pytest.raises(engine.EngineInputError) as e:
        h.to_columns("nope")
    assert e.value.field == "index"


def test_lm_history_columns_include_each_blocks_gradient_norm():
    h = _lm().history
    cols = h.to_columns()
    assert cols["step"] == h.step.tolist()
    for name, norms in h.block_grad_norm.items():
        np.testing.assert_array_equal(cols[f"block_grad_norm.{name}"], norms)


def test_profile_columns_split_per_layer_arrays_and_keep_lists():
    tp = _profile().training
    cols = tp.to_columns()
    assert cols["steps"] == tp.steps.tolist() and cols["verdict"] == list(tp.verdict)
    depth = tp.weight_grad_norm.shape[1]
    for j in range(depth):
        np.testing.assert_array_equal(cols[f"weight_grad_norm_{j}"], tp.weight_grad_norm[:, j])
    assert f"weight_grad_norm_{depth}" not in cols
