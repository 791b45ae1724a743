"""How sweeps are deployed: ``make serve``'s launcher (real processes) and the docker-compose topology.

* ``python -m service.launch`` (what ``make serve`` runs) starts a Dask scheduler, sweep workers and
  gunicorn; a sweep submitted to it completes; SIGTERM stops every process it started;
* docker-compose runs the same commands: a scheduler and scalable workers from the API's image, the
  workers preloading the kernel warm-up, the API replicas pointed at the scheduler.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import urllib.request
from pathlib import Path

import pytest
import yaml

from dask_cluster import wait_until
from service.launch import env_for, free_port

ROOT = Path(__file__).resolve().parent.parent
COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())


def _children(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-e", "-o", "pid=,ppid="], capture_output=True, text=True).stdout.split("\n")
    pairs = [tuple(map(int, line.split())) for line in out if line.strip()]
    found, frontier = set(), {pid}
    while frontier:
        nxt = {p for p, pp in pairs if pp in frontier} - found
        found |= nxt
        frontier = nxt
    return found


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as f:  # a zombie is dead
        return f.read().split(")")[1].split()[0] != "Z"


def test_make_serve_starts_scheduler_workers_and_api_and_stops_them_together():
    port, dask_port = free_port(), free_port()
    env = env_for({"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "DESCENTLAB_DASK_PORT": str(dask_port),
                   "DESCENTLAB_DASK_WORKERS": "1", "GUNICORN_ACCESS_LOG": "off"})
    env.pop("DESCENTLAB_DASK_SCHEDULER", None)
    proc = subprocess.Popen([sys.executable, "-m", "service.launch"], cwd=ROOT, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        def healthy():
            try:
                with urllib.request.urlopen(url + "/healthz", timeout=2) as r:
                    return r.status == 200
            except OSError:
                return False

        wait_until(healthy, 240, 0.5, "the launched API to be healthy")
        assert proc.stdout.readline().strip() == f"descentlab: Dask scheduler tcp://127.0.0.1:{dask_port}, 1 sweep workers"
        body = json.dumps({"kind": "training/run", "seeds": [0, 1], "base": {
            "dataset": {"name": "sine", "n_train": 10}, "model": {"layers": [1, 4, 1]}, "epochs": 5}}).encode()
        req = urllib.request.Request(url + "/api/v1/sweeps", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 202
            job = json.loads(r.read())

        def done():
            with urllib.request.urlopen(url + job["url"], timeout=30) as r:
                d = json.loads(r.read())
            return d if d["status"] == "done" else None

        assert len(wait_until(done, 120, 0.5, "the sweep to finish")["results"]) == 2
        started = _children(proc.pid)
        assert len(started) >= 4  # scheduler, worker (+ its nanny), gunicorn master and worker
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    wait_until(lambda: not any(_alive(p) for p in started), 30, 0.2, "every launched process to exit")


def test_compose_runs_a_scheduler_and_scalable_workers_from_the_api_image():
    svc = COMPOSE["services"]
    sched, worker = svc["dask-scheduler"], svc["dask-worker"]
    assert sched["image"] == worker["image"] == svc["api1"]["image"]
    assert sched["command"][:2] == ["dask", "scheduler"] and "8786" in sched["command"]
    cmd = worker["command"]
    assert cmd[:3] == ["dask", "worker", "tcp://dask-scheduler:8786"]
    assert cmd[cmd.index("--preload") + 1] == "engine.sweep_worker" and cmd[cmd.index("--nthreads") + 1] == "1"
    assert "replicas" not in worker.get("deploy", {})  # scaled with --scale dask-worker=N
    for name in ("api1", "api2", "api3"):
        assert svc[name]["environment"]["DESCENTLAB_DASK_SCHEDULER"] == "tcp://dask-scheduler:8786"


@pytest.mark.parametrize("flag", ["--nthreads", "--preload"])
def test_launcher_and_compose_start_workers_the_same_way(flag, monkeypatch):
    import service.launch as launch

    seen = {}
    monkeypatch.setattr(launch.subprocess, "Popen", lambda cmd, **kw: seen.setdefault("cmd", cmd))
    launch.start_workers("tcp://127.0.0.1:1", 2)
    mine, theirs = seen["cmd"], COMPOSE["services"]["dask-worker"]["command"]
    assert mine[mine.index(flag) + 1] == theirs[theirs.index(flag) + 1]

