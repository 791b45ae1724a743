"""A real ``make serve`` process on a free loopback port, for benchmarks and tests that need one.

    with serving(WEB_CONCURRENCY="2") as base:      # http://127.0.0.1:<port>, ready (warm) on entry
        urllib.request.urlopen(base + "/healthz")

The command is ``make serve``'s (gunicorn with ``service/gunicorn_conf.py``); ``env`` overrides its
settings (``GUNICORN_WORKER_CLASS=sync`` gives the earlier topology, ``DESCENTLAB_CACHE=0`` turns the
response cache off). Everything started is stopped on exit; the server's log is kept in ``log``.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def serving(ready_timeout: float = 600, **env):
    port = free_port()
    full = dict(os.environ, HOST="127.0.0.1", PORT=str(port), GUNICORN_ACCESS_LOG="off",
                NUMBA_CACHE_DIR=os.environ.get("NUMBA_CACHE_DIR", str(ROOT / ".numba_cache")))
    full.update({k: str(v) for k, v in env.items()})
    log = tempfile.NamedTemporaryFile(prefix="descentlab-server-", suffix=".log", delete=False)
    proc = subprocess.Popen([str(GUNICORN), "-c", str(ROOT / "service" / "gunicorn_conf.py"), "service:create_app()"],
                            cwd=ROOT, env=full, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        t0 = time.monotonic()
        while True:
            if proc.poll() is not None:
                raise RuntimeError(f"server exited ({proc.returncode}): {Path(log.name).read_text()[-2000:]}")
            try:
                with urllib.request.urlopen(base + "/healthz", timeout=5) as r:
                    if r.status == 200:
                        break
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            if time.monotonic() - t0 > ready_timeout:
                raise RuntimeError(f"{base} not ready after {ready_timeout} s")
            time.sleep(0.2)
        serving.log = log.name
        yield base
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the server's own session: its master and workers
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
