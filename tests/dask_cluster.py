"""Real Dask clusters and API processes for the sweep tests: subprocesses on free loopback ports.

``dask_cluster`` (session-scoped, registered in conftest.py) is a ``dask scheduler`` and two
``dask worker`` processes, each single-threaded and without a nanny, so a test can kill one for real
(``add_worker`` starts more). ``start_apis`` starts gunicorn processes of the service pointed at it.
Everything is started with ``service.launch``'s helpers, the same commands ``make serve`` runs.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field

import pytest

from service.launch import BIN, ROOT, env_for, free_port, start_scheduler, start_workers, stop, wait_for_port

START_TIMEOUT_S = 180  # workers load every kernel first: seconds on a quiet machine, longer on a busy one


@dataclass
class Cluster:
    address: str
    scheduler: subprocess.Popen
    workers: list[subprocess.Popen] = field(default_factory=list)

    def add_worker(self, name: str | None = None) -> subprocess.Popen:
        p = start_workers(self.address, 1, nanny=False, name=name, stdout=subprocess.DEVNULL,
                          stderr=subprocess.DEVNULL)
        self.workers.append(p)
        return p

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=30, set_as_default=False)

    def wait_for_workers(self, n: int, timeout: float = START_TIMEOUT_S) -> None:
        with self.client() as c:
            c.wait_for_workers(n, timeout=timeout)

    @staticmethod
    def live_workers(c) -> dict:
        """The scheduler's current view: worker address -> info (name, pid, ...)."""
        return c.sync(c.scheduler.identity, n_workers=-1)["workers"]

    def worker_address(self, c, name: str) -> str:
        for addr, info in self.live_workers(c).items():
            if info.get("name") == name:
                return addr
        raise LookupError(f"no worker named {name!r}")

    def stop(self) -> None:
        for p in self.workers:
            stop(p, timeout=5)
        stop(self.scheduler, timeout=5)


def start_cluster(n_workers: int = 2) -> Cluster:
    port = free_port()
    sched = start_scheduler(port, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    cluster = Cluster(f"tcp://127.0.0.1:{port}", sched)
    try:
        wait_for_port(port, proc=sched)
        for i in range(n_workers):
            cluster.add_worker(name=f"test-worker-{i}")
        cluster.wait_for_workers(n_workers)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@pytest.fixture(scope="session")
def dask_cluster():
    cluster = start_cluster(2)
    yield cluster
    cluster.stop()


# -- API processes ----------------------------------------------------------------------------------------
@dataclass
class Api:
    url: str
    proc: subprocess.Popen

    def request(self, method: str, path: str, body=None, timeout: float = 30.0):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()

    def json(self, method: str, path: str, body=None):
        status, headers, raw = self.request(method, path, body)
        return status, headers, json.loads(raw)

    def kill(self) -> None:
        """SIGKILL the whole process group: gunicorn's master and its worker die at once."""
        os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait()


def start_apis(scheduler: str, n: int = 1, extra_env: dict | None = None) -> list[Api]:
    """``n`` gunicorn processes (one sync worker each, no kernel warm-up: they only submit and read jobs),
    started together."""
    apis = []
    for _ in range(n):
        port = free_port()
        env = env_for({"PORT": str(port), "HOST": "127.0.0.1", "WEB_CONCURRENCY": "1", "DESCENTLAB_WARMUP": "0",
                       "DESCENTLAB_DASK_SCHEDULER": scheduler, "GUNICORN_ACCESS_LOG": "off", **(extra_env or {})})
        proc = subprocess.Popen([str(BIN / "gunicorn"), "-c", str(ROOT / "service" / "gunicorn_conf.py"),
                                 "service:create_app()"], env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL)
        apis.append(Api(f"http://127.0.0.1:{port}", proc))
    try:
        for api in apis:
            wait_for_port(int(api.url.rsplit(":", 1)[1]), proc=api.proc, timeout=120)
    except BaseException:
        for api in apis:
            stop(api.proc)
        raise
    return apis


def wait_until(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):
    t_end = time.monotonic() + timeout
    while time.monotonic() < t_end:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise TimeoutError(f"{what} not reached in {timeout} s")
