"""engine.sweep_tasks: several runs to a Dask task, cut by expected cost; the numbers do not change.

In-process (``client="sync"`` runs the same batches, one after the other); tests/test_sweeps_cluster.py
runs them on real Dask processes (batches rerun after a worker is killed, cancelled batches, progress
in runs). Oracles: the engine function called one request at a time (bit for bit), and the cut's
rules written out (batch sizes from the expected seconds).
"""

from __future__ import annotations

import pytest

import engine
from engine import EngineInputError, sweep
from engine.sweep_tasks import TASK_TARGET_S, TASKS_PER_WORKER, Batches, RunPlan, batches_for, cut, run_batch, unpack
from engine.sweeps import plan_sweep

BASE = {"dataset": {"name": "sine", "n_train": 12, "n_val": 30, "noise": 0.3},
        "model": {"layers": [1, 6, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.02},
        "epochs": 8, "batch_size": 6}


def _sizes(bounds):
    return [b - a for a, b in zip(bounds[:-1], bounds[1:])]


def test_cut_aims_at_the_target_and_keeps_tasks_for_every_worker():
    # 256 runs of 7 ms: 1.79 s of work -> 18 tasks of ~0.1 s, whether 1 or 2 workers (>= 4 or 8 tasks)
    for workers in (1, 2):
        b = cut([0.007] * 256, workers)
        assert len(b) - 1 == 18 and b[0] == 0 and b[-1] == 256
        assert set(_sizes(b)) <= {14, 15}  # as even as runs allow
    # few, long runs: never fewer than TASKS_PER_WORKER tasks per worker, never more tasks than runs
    assert set(_sizes(cut([0.03] * 40, 2))) == {3, 4} and len(cut([0.03] * 40, 2)) - 1 == 12  # 1.2 s: 12 tasks
    assert set(_sizes(cut([0.01] * 40, 4))) == {2, 3} and len(cut([0.01] * 40, 4)) - 1 == 16  # 0.4 s: 4 per worker
    assert _sizes(cut([0.5] * 6, 2)) == [1] * 6
    # uneven costs: cut where the running cost crosses equal shares (the cheap runs go together)
    b = cut([0.01] * 20 + [0.2] * 4, 1)
    assert b[:3] == (0, 10, 20) and _sizes(b)[2:] == [1, 1, 1, 1], b
    assert len(cut([0.001] * 10, 1)) - 1 == TASKS_PER_WORKER  # 10 ms in all: still 4 tasks
    assert cut([0.1] * 7, 1, batch=3) == (0, 3, 6, 7)
    assert TASK_TARGET_S == 0.1


def test_batches_come_from_the_checked_cost_of_each_run():
    p = plan_sweep("training/run", BASE, {"epochs": [8, 800]}, seeds=range(6))
    k = engine.SWEEP_KINDS["training/run"]
    cheap, dear = (k.run_seconds(s) for s in p.shares)
    assert 50 * p.shares[0] < p.shares[1] < 100 * p.shares[0]  # work grows with the epochs
    b = batches_for(p, 1)
    assert b.bounds == cut([cheap] * 6 + [dear] * 6, 1)
    assert len(b) >= TASKS_PER_WORKER and b.runs_ended(range(len(b))) == 12


def test_batched_sweep_equals_runs_one_by_one_bit_for_bit():
    axes, seeds = {"optimizer.lr": [0.01, 0.05], "dataset.n_train": [8, 16]}, [0, 1, 2]
    metrics = ["final_val_loss", "generalization_gap", "stop_reason", "val_loss_curve"]
    batched = sweep("training/run", BASE, axes, seeds, metrics, client="sync", batch=5)
    single = sweep("training/run", BASE, axes, seeds, metrics, client="sync", batch=1)
    auto = sweep("training/run", BASE, axes, seeds, metrics, client="sync")
    assert batched.dask_tasks == 3 and single.dask_tasks == 12  # 12 runs: 5 + 5 + 2
    assert batched.records() == single.records() == auto.records()
    for row in batched.records():
        req = {**BASE, "seed": row["seed"], "optimizer": {"name": "adam", "lr": row["coords"]["optimizer.lr"]},
               "dataset": {**BASE["dataset"], "n_train": row["coords"]["dataset.n_train"], "seed": row["seed"]}}
        alone = engine.train(**req)
        assert row["metrics"]["final_val_loss"] == alone.final_val_loss
        assert row["metrics"]["val_loss_curve"] == alone.history.val_loss.tolist()


def test_a_batch_returns_columns_that_unpack_to_each_runs_rows():
    variants = [{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.01}}]
    p = plan_sweep("training/compare", {**BASE, "variants": variants}, {"epochs": [4, 6]}, seeds=[3, 4],
                   metrics=["final_val_loss", "stop_reason"])
    plan = RunPlan.of(p)
    out = run_batch(plan, 1, 4)
    assert out["start"] == 1 and out["n_rows"] == [2, 2, 2] and not out["errors"]
    assert out["coords"] == [{"variant": "none"}, {"variant": "l2"}] * 3
    assert len(out["values"]["final_val_loss"]) == 6 and out["values"]["stop_reason"] == ["completed"] * 6
    runs = unpack(out)
    assert sorted(runs) == [1, 2, 3]
    for i, r in runs.items():
        alone = engine.compare(**p.task_request(i))
        assert [row["metrics"]["final_val_loss"] for row in r["rows"]] == [v.result.final_val_loss for v in alone.runs]
        assert r["seconds"] > 0 and r["cpu_seconds"] >= 0


def test_progress_counts_runs_not_tasks():
    seen = []
    res = sweep("training/run", BASE, {"epochs": [2, 3, 4]}, seeds=[0, 1, 2], client="sync", batch=4,
                progress=lambda done, total: seen.append((done, total)))
    assert seen == [(4, 9), (8, 9), (9, 9)] and res.done == 9


def test_batch_argument_is_checked():
    with pytest.raises(EngineInputError) as e:
        sweep("training/run", BASE, client="sync", batch=0)
    assert e.value.field == "batch"
    assert Batches((0, 2, 5)).runs_ended([1]) == 3
