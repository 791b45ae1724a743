"""engine.sweep: expansion, seeds, validation, bit-identical results, aggregates and analyses.

Everything here runs in-process (``client="sync"``); tests/test_sweeps_cluster.py runs the same
sweeps on real Dask processes. Oracles: the engine functions called one request at a time (results
must be equal bit for bit), numpy/scipy for the Student-t intervals.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
from scipy import stats

import engine
from engine import EngineInputError, SWEEP_LIMITS, sweep
from engine.sweeps import plan_sweep as plan

BASE = {"dataset": {"name": "sine", "n_train": 12, "n_val": 40, "noise": 0.3},
        "model": {"layers": [1, 8, 1], "activation": "tanh"},
        "optimizer": {"name": "adam", "lr": 0.02}, "epochs": 15, "batch_size": 6}


def _with(base, **paths):
    req = copy.deepcopy(base)
    for path, v in paths.items():
        node = req
        *parents, last = path.split("__")
        for p in parents:
            node = node.setdefault(p, {})
        node[last] = v
    return req


def test_combinations_and_seeds_expand_in_order():
    p = plan("training/run", BASE, {"optimizer.lr": [0.01, 0.02], "dataset.n_train": [10, 20, 30]}, seeds=[5, 7])
    s = p.spec
    assert s.n_combinations == 6 and s.n_tasks == 12
    assert [s.combination(c) for c in (0, 1, 3)] == [
        {"optimizer.lr": 0.01, "dataset.n_train": 10}, {"optimizer.lr": 0.01, "dataset.n_train": 20},
        {"optimizer.lr": 0.02, "dataset.n_train": 10}]
    assert [s.task(i) for i in range(4)] == [(0, 5), (0, 7), (1, 5), (1, 7)]
    req = p.task_request(3)
    assert req["optimizer"]["lr"] == 0.01 and req["dataset"]["n_train"] == 20
    assert req["seed"] == 7 and req["dataset"]["seed"] == 7  # both seed fields of a training run
    assert BASE["dataset"].get("seed") is None  # the base is not modified


def test_seed_fields_can_be_narrowed_and_axes_win():
    p = plan("training/run", BASE, {}, seeds=[3], seed_fields=["seed"])
    assert p.task_request(0)["seed"] == 3 and "seed" not in p.task_request(0)["dataset"]
    p = plan("training/run", BASE, {"dataset.seed": [0, 1]}, seeds=[3])
    assert p.seed_paths == ("seed",)
    assert [p.task_request(i)["dataset"]["seed"] for i in range(2)] == [0, 1]
    with pytest.raises(EngineInputError) as e:
        plan("training/run", BASE, {}, seeds=[1], seed_fields=["model.seed"])
    assert e.value.field == "seed_fields.0"


def test_training_sweep_equals_runs_one_by_one():
    res = sweep("training/run", BASE, {"dataset.n_train": [8, 16]}, seeds=[0, 1],
                metrics=["final_val_loss", "best_val_loss", "generalization_gap", "stop_reason", "val_loss_curve"],
                client="sync")
    assert res.done == res.total == 4 and len(res.rows) == 4 and not res.errors
    for row in res.records():
        req = _with(BASE, dataset__n_train=row["coords"]["dataset.n_train"], dataset__seed=row["seed"], seed=row["seed"])
        alone = engine.train(**req)
        m = row["metrics"]
        assert m["final_val_loss"] == alone.final_val_loss  # bit for bit
        assert m["generalization_gap"] == alone.final_val_loss - alone.final_train_loss
        assert m["best_val_loss"] == alone.history.val_loss[alone.best_epoch - 1]
        assert m["val_loss_curve"] == alone.history.val_loss.tolist()
        assert m["stop_reason"] == alone.stop_reason
    cols = res.columns
    assert cols["seed"].tolist() == [0, 1, 0, 1] and cols["dataset.n_train"] == [8, 8, 16, 16]
    assert cols["final_val_loss"].dtype == np.float64


def test_compare_sweep_gives_one_row_per_variant_equal_to_compare():
    variants = [{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.01}}]
    res = sweep("training/compare", {**BASE, "variants": variants}, seeds=[4], metrics=["final_val_loss", "gap_at_best"],
                client="sync")
    alone = engine.compare(**_with({**BASE, "variants": variants}, seed=4, dataset__seed=4))
    assert [r["coords"] for r in res.records()] == [{"variant": "none"}, {"variant": "l2"}]
    for row, v in zip(res.records(), alone.runs):
        assert row["metrics"] == {"final_val_loss": v.result.final_val_loss, "gap_at_best": v.gap_at_best}


def test_descent_kinds_equal_their_functions():
    base = {"surface": "rosenbrock", "start": [-1.0, 1.5], "steps": 300, "optimizer": {"name": "sgd", "lr": 1e-3},
            "noise_scale": 0.5}
    res = sweep("descent/trajectory", base, {"optimizer.lr": [1e-3, 2e-3]}, seeds=[1, 2],
                metrics=["final_loss", "status", "loss_curve"], client="sync")
    for row in res.records():
        t = engine.run_trajectory(**{**base, "optimizer": {"name": "sgd", "lr": row["coords"]["optimizer.lr"]},
                                     "seed": row["seed"]})
        assert row["metrics"]["final_loss"] == float(t.loss[-1]) and row["metrics"]["loss_curve"] == t.loss.tolist()
    race = {"surface": "himmelblau", "start": [0.0, 0.0], "steps": 200,
            "optimizers": [{"name": "sgd", "lr": 0.01}, {"name": "adam", "lr": 0.05}]}
    res = sweep("descent/race", race, {"optimizers.1.lr": [0.05, 0.1]}, metrics=["final_loss", "optimizer"],
                client="sync")
    assert [r["coords"] for r in res.records()] == [{"optimizers.1.lr": 0.05, "racer": 0}, {"optimizers.1.lr": 0.05, "racer": 1},
                                                   {"optimizers.1.lr": 0.1, "racer": 0}, {"optimizers.1.lr": 0.1, "racer": 1}]
    r = engine.run_race(**race)
    assert [x["metrics"]["final_loss"] for x in res.records()[:2]] == [s.final_loss for s in r.summary]
    res = sweep("descent/lr-sweep", {"surface": "quadratic", "lrs": [0.01, 0.1], "steps": 50}, {"steps": [50]},
                metrics=["verdict", "final_loss"], client="sync")
    assert [x["coords"]["lr"] for x in res.records()] == [0.01, 0.1]
    res = sweep("descent/basins", {"surface": "himmelblau", "resolution": [8, 8], "steps": 200,
                                   "optimizer": {"name": "adam", "lr": 0.05}}, client="sync")
    b = engine.basin_map(surface="himmelblau", resolution=[8, 8], steps=200, optimizer={"name": "adam", "lr": 0.05})
    assert res.records()[0]["metrics"]["fraction_diverged"] == float((b.label == -1).mean())


def test_aggregates_are_student_t_intervals_over_seeds():
    res = sweep("training/run", BASE, {"optimizer.lr": [0.01, 0.05]}, seeds=[0, 1, 2, 3, 4],
                metrics=["final_val_loss", "stop_reason"], client="sync")
    for lr in (0.01, 0.05):
        vals = np.array([r["metrics"]["final_val_loss"] for r in res.records() if r["coords"]["optimizer.lr"] == lr])
        a = res.aggregate("final_val_loss", **{"optimizer.lr": lr})
        lo, hi = stats.t.interval(0.95, len(vals) - 1, loc=vals.mean(), scale=stats.sem(vals))
        assert a.n == 5 and a.mean == pytest.approx(vals.mean(), rel=1e-14)
        assert a.std == pytest.approx(vals.std(ddof=1), rel=1e-12)
        assert a.ci95 == pytest.approx((lo, hi), rel=1e-12)
        assert res.aggregate("stop_reason", **{"optimizer.lr": lr}).counts == {"completed": 5}


def test_curve_aggregates_follow_each_index_over_the_runs_long_enough():
    base = {**BASE, "epochs": 60, "early_stopping": {"patience": 2}}
    res = sweep("training/run", base, seeds=[0, 1, 2], metrics=["val_loss_curve"], client="sync")
    curves = [r["metrics"]["val_loss_curve"] for r in res.records()]
    a = res.aggregates[0]
    assert len(a.n) == max(map(len, curves)) and a.n[0] == 3
    for j in (0, min(map(len, curves)) - 1, len(a.n) - 1):
        vals = np.array([c[j] for c in curves if len(c) > j])
        assert a.n[j] == vals.size and a.mean[j] == pytest.approx(vals.mean(), rel=1e-13)
        if vals.size >= 2:
            assert a.ci95[0][j] == pytest.approx(stats.t.interval(0.95, vals.size - 1, vals.mean(), stats.sem(vals))[0])
        else:
            assert np.isnan(a.ci95[0][j])
    d = a.to_dict()  # JSON-safe: NaN becomes None
    assert all(v is None or np.isfinite(v) for v in d["ci95"][0])


@pytest.mark.parametrize("kwargs, field, text", [
    (dict(axes={"optimizer.foo": [1]}), "axes.optimizer.foo", "optimizer.foo"),
    (dict(axes={"nonsense": [1]}), "axes.nonsense", "unknown parameter path"),
    (dict(axes={"optimizer.lr": []}), "axes.optimizer.lr", "at least one value"),
    (dict(axes={"optimizer.lr": [0.1, 0.1]}), "axes.optimizer.lr.1", "duplicate"),
    (dict(axes={"optimizer.lr": [0.1, -1.0]}), "axes.optimizer.lr", "combination 1"),
    (dict(axes={"model.layers": [[2, 4, 1]]}), "axes.model.layers", "first width"),
    (dict(axes={"model": [{"layers": [1, 4, 1]}], "model.layers": [[1, 2, 1]]}), "axes.model.layers", "inside axis"),
    (dict(axes={"epochs": list(range(1, 101)), "batch_size": list(range(1, 12))}), "axes", "max_sweep_combinations"),
    (dict(axes={"epochs": list(range(1, 300))}), "axes.epochs", "max_sweep_axis_values"),
    (dict(seeds=[1, 1]), "seeds", "repeat"),
    (dict(seeds=[-1]), "seeds.0", ">= 0"), (dict(seeds=[1.5]), "seeds.0", "integer"), (dict(seeds=[2**32]), "seeds.0", "<= 4294967295"),
    (dict(axes={"epochs": list(range(1, 101))}, seeds=list(range(50))), "seeds", "max_sweep_tasks"),
    (dict(metrics=["final_val_loss", "nope"]), "metrics.1", "unknown metric"),
    (dict(metrics=["val_loss_curve", "train_loss_curve"], axes={"epochs": [10000]}, seeds=list(range(64))), "metrics",
     "max_sweep_values"),
])
def test_bad_sweeps_are_refused_before_anything_runs(kwargs, field, text):
    with pytest.raises(EngineInputError) as e:
        plan("training/run", BASE, **kwargs)
    assert e.value.field == field and text in str(e.value)


def test_invalid_base_is_named_under_base():
    with pytest.raises(EngineInputError) as e:
        plan("training/run", {**BASE, "batch_size": 0}, {"optimizer.lr": [0.1]})
    assert e.value.field == "base.batch_size"
    with pytest.raises(EngineInputError) as e:
        plan("training/run", {**BASE, "colour": "red"})
    assert e.value.field == "base.colour"
    with pytest.raises(EngineInputError) as e:
        plan("training/nope", BASE)
    assert e.value.field == "kind"


def test_budget_counts_every_run(monkeypatch):
    monkeypatch.setitem(SWEEP_LIMITS, "max_sweep_budget", 1)
    big = {**BASE, "dataset": {**BASE["dataset"], "n_train": 1000, "n_val": 200},
           "model": {"layers": [1, 64, 64, 1]}, "epochs": 200}  # ~0.8 of max_training_work
    assert 0.5 < plan("training/run", big).budget < 1
    with pytest.raises(EngineInputError) as e:
        plan("training/run", big, seeds=[0, 1])
    assert e.value.field == "axes" and "max_sweep_budget=1" in str(e.value)


def test_heatmap_and_data_scaling_analyses():
    res = sweep("training/run", BASE, {"optimizer.lr": [0.01, 0.03], "batch_size": [4, 12]}, seeds=[0, 1],
                metrics=["final_val_loss"], client="sync")
    (panel,) = engine.heatmap(res, "final_val_loss", "optimizer.lr", "batch_size")
    assert panel["x"] == [0.01, 0.03] and panel["y"] == [4, 12]
    cell = [r["metrics"]["final_val_loss"] for r in res.records()
            if r["coords"] == {"optimizer.lr": 0.03, "batch_size": 4}]
    assert panel["mean"][0][1] == pytest.approx(np.mean(cell), rel=1e-14) and panel["n"][0][1] == 2

    res = sweep("training/run", {**BASE, "epochs": 40}, {"dataset.n_train": [8, 16, 32, 64]}, seeds=[0, 1, 2],
                metrics=["generalization_gap", "n_params"], client="sync")
    (curve,) = engine.scaling_curves(res, "generalization_gap", "dataset.n_train", offset=False, bootstrap=50)
    assert curve["x"] == [8.0, 16.0, 32.0, 64.0] and curve["n"] == [3, 3, 3, 3]
    assert curve["fit"]["beta"] > 0 and curve["fit"]["offset"] is False


def test_model_scaling_reads_the_parameter_count_of_each_run():
    layers = [[1, 2, 1], [1, 8, 1], [1, 32, 1]]
    res = sweep("training/run", BASE, {"model.layers": layers}, seeds=[0, 1], metrics=["final_train_loss", "n_params"],
                client="sync")
    (curve,) = engine.scaling_curves(res, "final_train_loss", "n_params", bootstrap=0)
    assert curve["x"] == [3 * w + 1 for w in (2, 8, 32)]  # 1-w-1 with biases: w + w + w + 1
    assert curve["n"] == [2, 2, 2] and curve["fit"] is not None


def test_scaling_law_of_a_sweep_recovers_the_law_its_rows_follow():
    """``scaling_law_fits`` on a sweep whose runs report L(N, D) of a known law (no training: the rows are
    written as run_task would return them)."""
    from engine.sweeps import SweepSpec
    from engine.sweep_results import collect

    truth = dict(E=0.05, A=3.0, B=8.0, alpha=0.4, beta=0.6)
    widths, sizes = [4, 8, 16, 32, 64], [20, 40, 80, 160, 320]
    spec = SweepSpec("training/run", (("model.layers", tuple([1, w, 1] for w in widths)), ("dataset.n_train", tuple(sizes))),
                     (), ("final_val_loss", "n_params"))
    outputs = {}
    for i in range(spec.n_tasks):
        combo = spec.combination(i)
        N, D = 3 * combo["model.layers"][1] + 1, combo["dataset.n_train"]
        L = truth["E"] + truth["A"] * N ** -truth["alpha"] + truth["B"] * D ** -truth["beta"]
        outputs[i] = {"rows": [{"coords": {}, "metrics": {"final_val_loss": L, "n_params": N}}]}
    (entry,) = engine.scaling_law_fits(collect(spec, outputs), "final_val_loss", "n_params", "dataset.n_train",
                                       bootstrap=0)
    assert entry["points"] == 25
    for k, v in truth.items():
        assert entry["fit"][k] == pytest.approx(v, rel=1e-5)


def test_a_descent_check_is_the_endpoints_plan_without_its_draws():
    """A sweep checks each combination with the endpoint's own plan_* (draw=False): the same refusals as the
    run, none of the run's random draws (a maximal batch order is 40 MB per combination)."""
    from engine.trajectory import plan_trajectory

    req = dict(surface="linear_regression", start=(0.0, 0.0), steps=1000, batch_size=8, noise_scale=0.1,
               optimizer={"name": "sgd", "lr": 0.01})
    drawn, checked = plan_trajectory(**req), plan_trajectory(**req, draw=False)
    assert drawn.su.rules.order.size == -(-1000 // (64 // 8)) * 64 and drawn.su.rules.noise.shape == (1000, 2)
    assert checked.su.rules.order.size == 0 and checked.su.rules.noise.size == 0
    assert checked.su.work == drawn.su.work == 1000
    for bad, field in ((dict(batch_size=65), "batch_size"), (dict(noise_scale=-1.0), "noise.scale"),
                       (dict(steps=10**6), "steps")):
        with pytest.raises(EngineInputError) as run_err:
            engine.run_trajectory(**{**req, **bad})
        with pytest.raises(EngineInputError) as check_err:
            engine.SWEEP_KINDS["descent/trajectory"].check({**req, **bad})
        assert run_err.value.field == check_err.value.field == field
        assert str(run_err.value) == str(check_err.value)


# -- the language-model and curvature kinds ---------------------------------------------------------------
LM = {"corpus": {"name": "reverse", "length": 3, "n_train": 40, "n_val": 10},
      "model": {"name": "gpt", "n_layer": 1, "n_head": 2, "d_model": 8}, "steps": 12, "batch_size": 4,
      "eval_every": 4, "sampling": {"length": 3}}
HESSIAN = {"layers": [2, 4, 1], "loss": "mse", "dataset": {"name": "moons", "n_train": 24}, "top_k": 2,
           "trace_samples": 8, "density": False, "optimizer": {"name": "sgd", "lr": 0.1}}


def test_lm_sweep_equals_train_lm_one_request_at_a_time():
    metrics = ["final_val_loss", "best_val_loss", "generalization_gap", "status", "n_params", "val_loss_curve"]
    res = sweep("lm/train", LM, {"model.d_model": [8, 12], "optimizer.lr": [0.01, 0.03]}, seeds=[0, 1],
                metrics=metrics, client="sync", batch=3)
    assert res.done == res.total == 8 and not res.errors and res.dask_tasks == 3
    sizes = set()
    for row in res.records():
        req = copy.deepcopy(LM)
        req["model"]["d_model"] = row["coords"]["model.d_model"]
        req["optimizer"] = {"lr": row["coords"]["optimizer.lr"]}
        req["seed"] = req["corpus"]["seed"] = row["seed"]  # both seed fields: the run's and the corpus's
        alone = engine.train_lm(**req)
        m = row["metrics"]
        assert m["final_val_loss"] == alone.final_val_loss and m["status"] == alone.status  # bit for bit
        assert m["val_loss_curve"] == alone.history.val_loss.tolist()
        assert m["best_val_loss"] == min(alone.history.val_loss.tolist())
        assert m["generalization_gap"] == alone.final_val_loss - alone.final_train_loss
        assert m["n_params"] == alone.n_params
        sizes.add((row["coords"]["model.d_model"], m["n_params"]))
    assert len(sizes) == 2  # the axis reached the model
    finals = {(r["coords"]["optimizer.lr"], r["seed"]) for r in res.records()}
    assert len(finals) == 4


def test_hessian_sweep_equals_run_network_hessian_one_request_at_a_time():
    metrics = ["top_eigenvalue", "bottom_eigenvalue", "trace", "loss", "negative_fraction", "training_status",
               "top_eigenvalues", "n_params"]
    res = sweep("networks/hessian", HESSIAN, {"train_steps": [0, 20], "layers": [[2, 4, 1], [2, 6, 1]]},
                seeds=[0, 1], metrics=metrics, client="sync", batch=3)
    assert res.done == res.total == 8 and not res.errors
    for row in res.records():
        req = {**HESSIAN, "train_steps": row["coords"]["train_steps"], "layers": row["coords"]["layers"],
               "seed": row["seed"], "dataset": {**HESSIAN["dataset"], "seed": row["seed"]}}
        alone = engine.run_network_hessian(**req)
        m = row["metrics"]
        # bit for bit: everything but the Lanczos ends. scipy's ARPACK (eigsh) is not reproducible to the
        # last bit: the same request twice in one process, one numba thread, gave bottom eigenvalues
        # -0.08675928792272199 and ...201 (its workspaces' alignment changes which BLAS path runs; the HVPs
        # were checked bit-identical over 8 alignments), so those agree to 1e-12 here, as the endpoint does
        # with itself
        assert m["trace"] == alone.trace and m["loss"] == alone.loss and m["n_params"] == alone.n_params
        assert m["negative_fraction"] == alone.exact["negative_fraction"]
        assert m["top_eigenvalue"] == pytest.approx(float(alone.top[0]), rel=1e-12)
        assert m["bottom_eigenvalue"] == pytest.approx(float(alone.bottom[0]), rel=1e-12)
        assert m["top_eigenvalues"] == pytest.approx(alone.top.tolist(), rel=1e-12)
        assert m["training_status"] == ("none" if row["coords"]["train_steps"] == 0 else "ok")
        # the exact spectrum (P <= 500) is the independent check of the Lanczos ends
        w = np.sort(alone.exact["eigenvalues"])
        assert m["top_eigenvalue"] == pytest.approx(w[-1], rel=1e-6, abs=1e-9)
        assert m["bottom_eigenvalue"] == pytest.approx(w[0], rel=1e-6, abs=1e-9)


@pytest.mark.parametrize("kind, base, kwargs, field, text", [
    ("lm/train", LM, dict(axes={"model.d_model": [8, 1000]}), "axes.model.d_model", "combination 1"),
    ("lm/train", LM, dict(axes={"steps": [10, 10**6]}), "axes.steps", "combination 1"),
    ("lm/train", LM, dict(axes={"modle.d_model": [8]}), "axes.modle.d_model", "unknown parameter path"),
    ("lm/train", {**LM, "batch_size": 0}, {}, "base.batch_size", ">= 1"),
    ("lm/train", {**LM, "corpus": {"name": "text", "text": "hello world " * 20}}, dict(seeds=[0, 1]),
     "base.corpus.seed", "seed"),
    ("networks/hessian", HESSIAN, dict(axes={"top_k": [2, 50]}), "axes.top_k", "combination 1"),
    ("networks/hessian", HESSIAN, dict(axes={"layers": [[2, 4, 1], [3, 4, 1]]}), "axes.layers", "first width"),
    ("networks/hessian", {**HESSIAN, "train_steps": 5}, dict(axes={"optimizer.lr": [0.1, -1.0]}), "axes.optimizer.lr",
     "lr"),
    ("networks/hessian", {**HESSIAN, "trace_samples": 0}, {}, "base.trace_samples", ">= 1"),
    ("networks/hessian", {**HESSIAN, "init": {"name": "nope"}}, {}, "base.init.name", "nope"),
])
def test_bad_lm_and_hessian_sweeps_are_refused_before_anything_runs(kind, base, kwargs, field, text):
    with pytest.raises(EngineInputError) as e:
        plan(kind, base, **kwargs)
    assert e.value.field == field and text in str(e.value), str(e.value)


def test_lm_and_hessian_seeds_can_be_narrowed():
    text = {**LM, "corpus": {"name": "text", "text": "hello world " * 20}}
    p = plan("lm/train", text, seeds=[0, 1], seed_fields=["seed"])
    assert [p.task_request(i)["seed"] for i in range(2)] == [0, 1] and "seed" not in p.task_request(1)["corpus"]
    p = plan("networks/hessian", HESSIAN, {"dataset.seed": [5]}, seeds=[3])
    assert p.seed_paths == ("seed",) and p.task_request(0)["dataset"]["seed"] == 5
