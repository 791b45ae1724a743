"""``make loadtest``: serve with gunicorn on a free loopback port, wait until warm, run Locust
headless, stop the server, and exit non-zero when a request failed or a latency budget was
exceeded (budgets: ``loadtests/scenarios.py``; users/run time: ``[tool.locust]``).

    python loadtests/run.py                        # 50 users, 60 s (pyproject defaults)
    LOCUST_USERS=20 LOCUST_RUN_TIME=20s python loadtests/run.py

Writes ``artifacts/loadtest/descentlab_{stats,stats_history,failures,exceptions}.csv`` and
``artifacts/loadtest/server.log`` (gunicorn's access and error logs: per-request times).
Only ever targets 127.0.0.1.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "artifacts" / "loadtest"
BIN = Path(sys.executable).parent
READY_TIMEOUT_S = 600  # an empty numba cache compiles every kernel before the socket opens


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(url: str, proc: subprocess.Popen, timeout: float) -> float:
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        if proc.poll() is not None:
            raise SystemExit(f"loadtest: the server exited (code {proc.returncode}); see {OUT / 'server.log'}")
        try:
            with urllib.request.urlopen(url, timeout=5) as r:
                if r.status == 200:
                    return time.monotonic() - t0
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.2)
    raise SystemExit(f"loadtest: {url} not ready after {timeout:.0f} s")


def summary(csv_path: Path) -> None:
    """requests/s and p50/p95/p99 per row, against its p95 budget (from Locust's stats CSV)."""
    import csv

    sys.path.insert(0, str(ROOT / "loadtests"))
    from scenarios import SCENARIOS

    budget = {(s.method, s.name): s.p95_ms for s in SCENARIOS}
    if not csv_path.exists():
        return
    with open(csv_path, newline="") as f:
        rows = list(csv.DictReader(f))
    print(f"\n{'':5}{'endpoint':52}{'reqs':>7}{'fails':>6}{'req/s':>8}{'p50':>6}{'p95':>6}{'p99':>6}{'budget':>8}  (ms)")
    for r in rows:
        key = (r["Type"], r["Name"])
        b = budget.get(key)
        print(f"{r['Type']:5}{r['Name'][:51]:52}{r['Request Count']:>7}{r['Failure Count']:>6}{float(r['Requests/s']):8.1f}"
              f"{r['50%']:>6}{r['95%']:>6}{r['99%']:>6}{(str(b) if b else ''):>8}")
    print()


def main() -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    port = free_port()
    host = f"http://127.0.0.1:{port}"
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port))
    with open(OUT / "server.log", "wb") as server_log:
        server = subprocess.Popen(
            [str(BIN / "gunicorn"), "-c", "service/gunicorn_conf.py", "service:create_app()"],
            cwd=ROOT, env=env, stdout=server_log, stderr=subprocess.STDOUT,
        )
        try:
            took = wait_ready(f"{host}/healthz", server, READY_TIMEOUT_S)
            print(f"loadtest: server ready on {host} after {took:.1f} s (pid {server.pid})", flush=True)
            cmd = [str(BIN / "locust"), "--host", host, "--csv", str(OUT / "descentlab")]
            code = subprocess.call(cmd, cwd=ROOT)  # headless, users, run time: [tool.locust]
        finally:
            server.send_signal(signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
    summary(OUT / "descentlab_stats.csv")
    print(f"loadtest: CSV in {OUT.relative_to(ROOT)}/, server log in {(OUT / 'server.log').relative_to(ROOT)}")
    print("loadtest: " + ("PASSED" if code == 0 else f"FAILED (locust exit code {code})"))
    return code


if __name__ == "__main__":
    sys.exit(main())
