"""Production serving: readiness, gunicorn's settings, and preload-before-bind ordering."""

from __future__ import annotations

import gc
import os
import runpy
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

from service import create_app
from service.config import TestConfig

ROOT = Path(__file__).resolve().parent.parent
CONF = ROOT / "service" / "gunicorn_conf.py"
GUNICORN = Path(sys.executable).with_name("gunicorn")


def test_healthz_is_503_until_ready():
    app = create_app(TestConfig)
    app.extensions["descentlab_ready"] = False
    r = app.test_client().get("/healthz")
    assert r.status_code == 503
    assert r.get_json() == {"status": "warming", "ready": False}
    app.extensions["descentlab_ready"] = True
    r = app.test_client().get("/healthz")
    assert r.status_code == 200 and r.get_json()["ready"] is True


def test_factory_warms_before_it_returns(monkeypatch):
    import engine

    calls = []
    monkeypatch.setattr(engine, "warm_kernels", lambda: calls.append(1) or {})
    app = create_app({"WARMUP": True, "TESTING": True})
    assert calls == [1]
    assert app.extensions["descentlab_ready"] is True
    calls.clear()
    create_app(TestConfig)
    assert calls == []  # TestConfig does not warm


def _conf(monkeypatch, **env) -> dict:
    """Execute the config file as gunicorn does, against a throw-away copy of the environment."""
    monkeypatch.setattr(os, "environ", dict(os.environ))
    for k in ("WEB_CONCURRENCY", "NUMBA_NUM_THREADS", "NUMBA_THREADING_LAYER", "NUMBA_CACHE_DIR", "BIND", "HOST", "PORT",
              "DESCENTLAB_COMPUTE_THREADS", "GUNICORN_WORKER_CLASS", "DESCENTLAB_DEADLINE_S"):
        monkeypatch.delenv(k, raising=False)
    for k, v in env.items():
        monkeypatch.setenv(k, v)
    try:
        c = runpy.run_path(str(CONF))
        c["gc_paused"] = not gc.isenabled()  # the master's imports and warm-up run without cyclic GC
        return c
    finally:
        gc.enable()  # this test process keeps collecting


def test_gunicorn_conf_defaults(monkeypatch, tmp_path):
    cores = len(os.sched_getaffinity(0))
    c = _conf(monkeypatch, NUMBA_CACHE_DIR=str(tmp_path / "nb"))
    assert c["bind"] == "127.0.0.1:8000"
    assert c["workers"] == cores
    assert c["preload_app"] is True
    assert c["worker_class"] == "gevent" and c["worker_connections"] >= 100
    assert os.environ["NUMBA_NUM_THREADS"] == str(cores)
    # several requests compute at once per process whatever numba's threading layer (none is launched)
    assert int(os.environ["DESCENTLAB_COMPUTE_THREADS"]) == 16 and "LAYER" not in c
    assert (tmp_path / "nb").is_dir()  # created, so it is writable before numba needs it
    assert c["timeout"] > c["DEADLINE_S"]
    assert c["keepalive"] >= 1  # also the time a client gets to send its headers (gevent worker)
    assert "%(M)s" in c["access_log_format"]
    assert c["gc_paused"]


def test_gunicorn_conf_reads_env(monkeypatch, tmp_path):
    c = _conf(monkeypatch, WEB_CONCURRENCY="3", HOST="0.0.0.0", PORT="9001", NUMBA_CACHE_DIR=str(tmp_path))
    assert c["workers"] == 3 and c["bind"] == "0.0.0.0:9001"
    assert os.environ["OPENBLAS_NUM_THREADS"] == str(max(1, len(os.sched_getaffinity(0)) // 3))
    c = _conf(monkeypatch, NUMBA_NUM_THREADS="5", NUMBA_THREADING_LAYER="workqueue", GUNICORN_WORKER_CLASS="sync",
              DESCENTLAB_COMPUTE_THREADS="3", NUMBA_CACHE_DIR=str(tmp_path))
    assert os.environ["NUMBA_NUM_THREADS"] == "5" and os.environ["NUMBA_THREADING_LAYER"] == "workqueue"
    assert c["worker_class"] == "sync" and os.environ["DESCENTLAB_COMPUTE_THREADS"] == "3"
    c = _conf(monkeypatch, DESCENTLAB_DEADLINE_S="4", NUMBA_CACHE_DIR=str(tmp_path))
    assert c["DEADLINE_S"] == 4.0 and c["timeout"] == 12


MASTER_GC = r"""
import gc, os, runpy, sys, types, weakref
conf = runpy.run_path(sys.argv[1])
assert not gc.isenabled()  # paused from the config on: the app's imports and warm-up run without it

class Node:
    pass

def cycle():
    a, b = Node(), Node()
    a.other, b.other = b, a
    ref = weakref.ref(a)
    del a, b
    return ref

log = types.SimpleNamespace(info=lambda *args: None)
out = []
for compiled in (False, True):
    ref = cycle()
    app = types.SimpleNamespace(extensions={"descentlab_warmup_compiled": compiled})
    gc.disable()
    conf["when_ready"](types.SimpleNamespace(app=types.SimpleNamespace(callable=app), log=log))
    gc.collect()  # a collection in a worker: frozen objects are out of its reach
    out.append((gc.isenabled(), gc.get_freeze_count() > 0, ref() is not None))
print(out)
"""


def test_the_master_freezes_its_heap_before_forking_and_collects_first_only_after_a_compile(tmp_path):
    """service.serving: the gc.freeze recipe for pre-fork servers. A cycle made during the warm-up survives
    (frozen: the workers share it and never rescan it) unless the warm-up compiled, when it is collected."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path), PYTHONPATH=str(ROOT))
    run = subprocess.run([sys.executable, "-c", MASTER_GC, str(CONF)], cwd=ROOT, env=env, capture_output=True,
                         text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.strip() == "[(True, True, True), (True, True, False)]"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.skipif(not GUNICORN.exists(), reason="gunicorn not installed in this environment")
def test_gunicorn_binds_only_after_warmup(tmp_path):
    """With preload_app the socket opens after the factory (and its warm-up) returned."""
    port = free_port()
    slow = 2.0
    env = dict(os.environ, PORT=str(port), WEB_CONCURRENCY="2", SLOW_WARMUP_S=str(slow),
               NUMBA_CACHE_DIR=str(tmp_path / "nb"), GUNICORN_ACCESS_LOG="off", PYTHONPATH=str(ROOT))
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [str(GUNICORN), "-c", str(CONF), "--pythonpath", str(ROOT / "tests"), "slow_warm_app:create()"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    refused, first_ok, body = 0, None, None
    try:
        while time.monotonic() - t0 < 60 and proc.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5) as r:
                    first_ok, body = time.monotonic() - t0, r.read()
                    break
            except urllib.error.HTTPError as e:  # a 503 would mean traffic reached a cold app
                pytest.fail(f"served {e.code} before warm-up finished")
            except (ConnectionError, urllib.error.URLError):
                refused += 1
                time.sleep(0.1)
    finally:
        proc.terminate()
        err = proc.communicate(timeout=30)[1].decode()
    assert first_ok is not None, err
    assert refused > 0  # clients were turned away at the socket while warming
    assert first_ok >= slow
    assert b'"ready":true' in body
    assert "descentlab ready: 2 gevent workers" in err


FORK_AFTER_WARM = r"""
import os, runpy, sys, threading
os.environ["NUMBA_THREADING_LAYER"] = "workqueue"  # the layer that aborts on launches from two threads at once
runpy.run_path(sys.argv[1])  # the gunicorn config sets NUMBA_* before numba is imported
import numpy as np
import numba.np.ufunc.parallel as numba_parallel
import engine

def grid():  # rows shared out over engine.threads' OS threads
    return engine.landscape_grid("rastrigin", resolution=(120, 120), gradient=True).z

want = grid()  # the master warms the kernels ...
codes = []
for _ in range(2):  # ... then forks workers that compute from several threads at once, as gunicorn's do
    pid = os.fork()
    if pid == 0:
        out = []
        ts = [threading.Thread(target=lambda: out.append(grid())) for _ in range(4)]
        [t.start() for t in ts]
        [t.join() for t in ts]
        ok = len(out) == 4 and all(np.array_equal(z, want) for z in out)
        os._exit(0 if ok and not numba_parallel._is_initialized else 3)
    codes.append(os.waitpid(pid, 0)[1])
print(numba_parallel._is_initialized, codes)
sys.exit(any(codes))
"""


def test_forked_workers_compute_from_several_threads_without_numbas_threading_layer():
    """preload_app warms the kernels in the master and then forks; each worker computes several requests
    at once on OS threads. No kernel is parallel=True, so numba's threading layer is never launched:
    with ``workqueue`` (which aborts when two threads launch parallel kernels), the children's 4
    concurrent grids equal the master's and the layer stays uninitialized in every process. (The service
    used to need TBB for this, and computed one request at a time per process without it.)"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NUMBA_") or k == "NUMBA_CACHE_DIR"}
    r = subprocess.run([sys.executable, "-c", FORK_AFTER_WARM, str(CONF)], env=env,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.split()[0] == "False"  # never launched in the master either


def test_gunicorn_error_pages_are_json():
    """What gunicorn answers itself (a crash outside Flask's handlers, a bad request line) is the one JSON shape."""
    import json
    import socket

    import gunicorn.util

    from service import serving

    original = gunicorn.util.write_error
    try:
        serving.json_error_pages({"line": 4094, "fields": 100, "size": 8190})
        for code, reason, needle in [(500, "Internal Server Error", "internal error"),
                                     (414, "URI Too Long", "limit_request_line=4094"),
                                     (400, "Bad Request", "malformed HTTP request: Invalid Request Line")]:
            a, b = socket.socketpair()
            gunicorn.util.write_error(a, code, reason, "Invalid Request Line 'x'" if code == 400 else "")
            a.close()
            raw = b.recv(65536)
            b.close()
            head, _, body = raw.partition(b"\r\n\r\n")
            assert head.startswith(f"HTTP/1.1 {code} ".encode()) and b"Content-Type: application/json" in head
            out = json.loads(body)
            assert out["code"] == code and needle in out["message"]
    finally:
        gunicorn.util.write_error = original
