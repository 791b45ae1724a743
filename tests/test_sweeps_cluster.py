"""Sweeps on a real Dask cluster (``dask scheduler`` + ``dask worker`` subprocesses, tests/dask_cluster.py):
the HTTP job API end to end, and its faults with real processes, no mocks:

* a sweep's results equal the endpoint's answers to the same requests sent one by one (bit for bit);
* runs travel several to a Dask task (engine.sweep_tasks); progress counts runs;
* a worker killed (SIGKILL) in the middle of a sweep loses nothing: its batches, and the results it held,
  are recomputed elsewhere, with the same numbers;
* the API process that accepted a job killed (SIGKILL), another API process reports the job to its end;
* ``DELETE`` stops the tasks not yet run; jobs expire.
"""

from __future__ import annotations

import copy
import json
import time

import pytest

import engine
from dask_cluster import start_apis, wait_until
from engine.sweep_tasks import plan_key, task_key
from service import create_app
from service.sweep_jobs import dataset_name

BASE = {"dataset": {"name": "sine", "n_train": 16, "n_val": 50, "noise": 0.3},
        "model": {"layers": [1, 8, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.02},
        "epochs": 20, "batch_size": 8}
# ~0.1-0.3 s a run on one core: long enough for a sweep to be caught in the middle
SLOW = {"dataset": {"name": "sine", "n_train": 200, "n_val": 100, "noise": 0.3},
        "model": {"layers": [1, 32, 32, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 150, "batch_size": 10}
ENDED = ("done", "failed", "cancelled")


@pytest.fixture(scope="module")
def api(dask_cluster):
    app = create_app({"TESTING": True, "WARMUP": False, "DASK_SCHEDULER": dask_cluster.address})
    return app.test_client()


def _finish(get, url: str, timeout: float = 120.0) -> dict:
    return wait_until(lambda: (lambda d: d if d["status"] in ENDED else None)(get(url)), timeout, 0.3,
                      f"{url} to end")


def _get(client):
    return lambda url: client.get(url).get_json()


def _local(kind, base, axes, seeds, metrics):
    """The same sweep, every run in this process: the reference numbers."""
    return engine.sweep(kind, base, axes, seeds, metrics, client="sync").records()


def test_http_sweep_equals_the_endpoint_one_request_at_a_time(api):
    body = {"kind": "training/run", "base": BASE, "axes": {"dataset.n_train": [8, 16], "optimizer.lr": [0.01, 0.05]},
            "seeds": [0, 1], "metrics": ["final_val_loss", "generalization_gap", "stop_reason"]}
    r = api.post("/api/v1/sweeps", json=body)
    assert r.status_code == 202, r.get_data(as_text=True)
    acc = r.get_json()
    assert acc["total"] == 8 and r.headers["Location"] == acc["url"] == f"/api/v1/sweeps/{acc['id']}"
    doc = _finish(_get(api), acc["url"])
    assert doc["status"] == "done" and doc["done"] == doc["total"] == 8 and not doc["errors"]
    assert len(doc["results"]) == 8 and len(doc["aggregates"]) == 4 * 3
    for row in doc["results"]:
        req = copy.deepcopy(BASE)
        req["dataset"].update(n_train=row["coords"]["dataset.n_train"], seed=row["seed"])
        req["optimizer"]["lr"] = row["coords"]["optimizer.lr"]
        req["seed"] = row["seed"]
        alone = api.post("/api/v1/training/run", json=req).get_json()
        assert row["metrics"]["final_val_loss"] == alone["final_val_loss"]  # bit for bit through JSON
        assert row["metrics"]["stop_reason"] == alone["stop_reason"]
        assert row["metrics"]["generalization_gap"] == alone["final_val_loss"] - alone["final_train_loss"]
    agg = next(a for a in doc["aggregates"] if a["metric"] == "final_val_loss")
    assert agg["n"] == 2 and agg["ci95"][0] < agg["mean"] < agg["ci95"][1]


def test_descent_sweep_over_http_uses_the_request_field_names(api):
    base = {"surface": "rosenbrock", "start": [-1, 1.5], "steps": 200, "optimizer": {"name": "sgd", "lr": 0.001},
            "noise": {"scale": 0.5}}
    r = api.post("/api/v1/sweeps", json={"kind": "descent/trajectory", "base": base,
                                         "axes": {"noise.scale": [0.1, 0.5]}, "seeds": [3, 4]})
    doc = _finish(_get(api), r.get_json()["url"])
    assert doc["status"] == "done"
    for row in doc["results"]:
        one = {**base, "noise": {"scale": row["coords"]["noise.scale"], "seed": row["seed"]}}
        alone = api.post("/api/v1/descent/trajectory", json=one).get_json()
        assert row["metrics"]["final_loss"] == alone["loss"][-1] and row["metrics"]["status"] == alone["status"]


def test_events_stream_progress_then_end(api):
    r = api.post("/api/v1/sweeps", json={"kind": "training/run", "base": BASE, "axes": {"epochs": [10, 20, 30]},
                                         "seeds": [0, 1]})
    url = r.get_json()["url"]
    resp = api.get(url + "/events")
    assert resp.status_code == 200 and resp.mimetype == "text/event-stream"
    events = [blk for blk in resp.get_data(as_text=True).split("\n\n") if blk.startswith("event:")]
    names = [e.split("\n")[0].removeprefix("event: ") for e in events]
    assert names[-1] == "end" and set(names) <= {"progress", "end"}
    end = json.loads(events[-1].split("data: ", 1)[1])
    assert end == {"id": url.rsplit("/", 1)[1], "status": "done", "done": 6, "total": 6}


def _batch_keys(c, jid: str) -> tuple[list[str], list[int]]:
    """The job's batch task keys and the bounds of its batches (the job's metadata on the scheduler)."""
    bounds = c.get_metadata(["descentlab", "jobs", jid])["bounds"]
    return [task_key(dataset_name(jid), b) for b in range(len(bounds) - 1)], bounds


def test_delete_stops_the_remaining_tasks(api, dask_cluster):
    r = api.post("/api/v1/sweeps", json={"kind": "training/run", "base": SLOW, "axes": {"optimizer.lr": [0.01, 0.02]},
                                         "seeds": list(range(20))})
    acc = r.get_json()
    with dask_cluster.client() as c:
        keys, bounds = _batch_keys(c, acc["id"])
    assert 8 <= len(keys) < 40 and bounds[-1] == 40  # several runs a task, >= 4 tasks per worker
    wait_until(lambda: api.get(acc["url"]).get_json()["done"] >= 2, 60, 0.2, "two runs done")
    doc = api.delete(acc["url"]).get_json()
    assert doc["status"] == "cancelled" and 2 <= doc["done"] < doc["total"] == 40
    assert len(doc["results"]) == doc["done"]
    # run index = combination x 20 + seed; the runs done are whole batches, and done counts those runs
    ran = {20 * [0.01, 0.02].index(r["coords"]["optimizer.lr"]) + r["seed"] for r in doc["results"]}
    whole = [set(range(bounds[b], bounds[b + 1])) for b in range(len(keys))]
    assert all(w <= ran or not (w & ran) for w in whole) and len(ran) == doc["done"]
    keys.append(plan_key(dataset_name(acc["id"])))
    with dask_cluster.client() as c:
        def idle():
            busy = {k for ks in c.processing().values() for k in ks}
            states = c.sync(c.scheduler.get_task_status, keys=keys)
            return not (busy & set(keys)) and all(s is None for s in states.values())
        wait_until(idle, 10, 0.2, "no task of the cancelled sweep left on the cluster")
        assert dataset_name(acc["id"]) not in c.list_datasets()
    again = api.get(acc["url"]).get_json()
    assert again["status"] == "cancelled" and again["done"] == doc["done"]


def test_a_worker_killed_mid_sweep_loses_no_result(api, dask_cluster):
    victim = dask_cluster.add_worker(name="victim")
    dask_cluster.wait_for_workers(3)
    axes, seeds = {"optimizer.lr": [0.005, 0.01, 0.02]}, list(range(6))
    r = api.post("/api/v1/sweeps", json={"kind": "training/run", "base": SLOW, "axes": axes, "seeds": seeds,
                                         "metrics": ["final_val_loss", "best_epoch"]})
    acc = r.get_json()
    with dask_cluster.client() as c:
        keys, bounds = _batch_keys(c, acc["id"])
        assert len(keys) < acc["total"] == bounds[-1]  # some batches hold several runs
        addr = dask_cluster.worker_address(c, "victim")
        held = wait_until(lambda: [k for k, ws in c.sync(c.scheduler.who_has, keys=keys).items() if addr in ws], 60, 0.05,
                          "a result held by the victim worker")
        assert api.get(acc["url"]).get_json()["status"] == "running"
        victim.kill()  # SIGKILL: results it held are gone with it
        victim.wait()
        wait_until(lambda: addr not in dask_cluster.live_workers(c), 30, 0.1, "the scheduler to notice")
    doc = _finish(_get(api), acc["url"])
    assert doc["status"] == "done" and doc["done"] == doc["total"] == 18 and not doc["errors"]
    assert held  # these runs were recomputed on the other workers
    assert doc["results"] == _local("training/run", SLOW, axes, seeds, ["final_val_loss", "best_epoch"])


def test_killing_the_api_process_that_accepted_a_job_does_not_lose_it(dask_cluster):
    a, b = start_apis(dask_cluster.address, 2)
    try:
        axes, seeds = {"optimizer.lr": [0.01, 0.02]}, list(range(5))
        status, headers, acc = a.json("POST", "/api/v1/sweeps", {"kind": "training/run", "base": SLOW, "axes": axes,
                                                                 "seeds": seeds, "metrics": ["final_val_loss"]})
        assert status == 202, acc
        a.kill()
        assert a.proc.poll() is not None
        status, _, doc = b.json("GET", acc["url"])
        assert status == 200 and doc["status"] in ("queued", "running", "done") and doc["total"] == 10
        doc = _finish(lambda url: b.json("GET", url)[2], acc["url"])
        assert doc["status"] == "done" and doc["done"] == 10
        assert doc["results"] == _local("training/run", SLOW, axes, seeds, ["final_val_loss"])
    finally:
        for p in (a, b):
            if p.proc.poll() is None:
                p.kill()


def test_python_sweep_on_a_passed_client_equals_the_local_run(dask_cluster):
    with dask_cluster.client() as c:
        res = engine.sweep("training/run", BASE, {"batch_size": [4, 8]}, seeds=[0, 1], metrics=["final_val_loss"],
                           client=c)
    assert res.records() == _local("training/run", BASE, {"batch_size": [4, 8]}, [0, 1], ["final_val_loss"])


def test_jobs_expire(dask_cluster):
    app = create_app({"TESTING": True, "WARMUP": False, "DASK_SCHEDULER": dask_cluster.address, "SWEEP_TTL_S": 1})
    client = app.test_client()
    acc = client.post("/api/v1/sweeps", json={"kind": "training/run", "base": BASE}).get_json()
    _finish(_get(client), acc["url"])
    time.sleep(1.2)
    from service.blueprints.sweeps import jobs

    with app.app_context():
        assert jobs().expire() >= 1
    r = client.get(acc["url"])
    assert r.status_code == 404 and r.get_json()["code"] == 404
