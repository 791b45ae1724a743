"""Requests per second of ``make serve`` with a compiled load generator (wrk: 8 connections, 10 s).

    python -m bench.bench_throughput          # needs wrk (Debian: apt-get install -y wrk); skips without it

Three requests, each repeated with one body (what an explorer page sends on every visit):
``GET /api/v1/catalog``, ``POST /api/v1/losses/evaluate`` (3 numbers), ``POST /api/v1/descent/trajectory``
(1000 Adam steps on Rosenbrock). Three servers, all running, measured in turns (each request
``WRK_REPEATS`` times per server, median reported), in one run:

* ``sync, no cache``: the earlier topology (gunicorn sync workers, one request per process, no keep-alive);
* ``gevent, no cache``: the event-loop workers with compute threads, response cache off;
* ``gevent, cache``: the same with the response cache (``make serve``'s default).

Python clients (Locust) saturate these 2 cores before the service does, hence wrk. wrk and the server
share the machine: figures are of the pair. The load average is printed with each row.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import statistics
import subprocess
import tempfile

from bench.server import serving

CONNECTIONS = int(os.environ.get("WRK_CONNECTIONS", "8"))
SECONDS = int(os.environ.get("WRK_SECONDS", "10"))
THREADS = int(os.environ.get("WRK_THREADS", "2"))
REPEATS = int(os.environ.get("WRK_REPEATS", "3"))

REQUESTS = [
    ("GET /api/v1/catalog", "/api/v1/catalog", None),
    ("POST /api/v1/losses/evaluate", "/api/v1/losses/evaluate",
     {"loss": "mse", "predictions": [0.7, 0.2, 0.1], "targets": [1, 0, 0]}),
    ("POST /api/v1/descent/trajectory 1000 steps", "/api/v1/descent/trajectory",
     {"surface": "rosenbrock", "start": [-1.5, 2.0], "steps": 1000, "optimizer": {"name": "adam", "lr": 0.01}}),
]
SERVERS = [
    ("sync, no cache", {"GUNICORN_WORKER_CLASS": "sync", "DESCENTLAB_CACHE": "0"}),
    ("gevent, no cache", {"DESCENTLAB_CACHE": "0"}),
    ("gevent, cache", {}),
]

_LUA = """wrk.method = "POST"
wrk.body = {body}
wrk.headers["Content-Type"] = "application/json"
"""


def _wrk(url: str, body: dict | None) -> dict:
    args = ["wrk", "-t", str(THREADS), "-c", str(CONNECTIONS), "-d", f"{SECONDS}s", "--latency"]
    script = None
    if body is not None:
        script = tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False)
        script.write(_LUA.format(body=json.dumps(json.dumps(body))))
        script.close()
        args += ["-s", script.name]
    out = subprocess.run(args + [url], capture_output=True, text=True, timeout=SECONDS + 60).stdout
    if script:
        os.unlink(script.name)
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", out)
    p50 = re.search(r"50%\s+([\d.]+)(\w+)", out)
    return {"rps": rps, "non_2xx": int(non2xx.group(1)) if non2xx else 0,
            "p50": f"{p50.group(1)}{p50.group(2)}" if p50 else None}


def main() -> list[dict]:
    if shutil.which("wrk") is None:
        print("throughput: SKIPPED: wrk is not installed (Debian: apt-get install -y wrk)")
        return []
    rows = []
    with contextlib.ExitStack() as stack:
        # all three servers at once, measured in turns (A B C A B C): the machine's load drifts, and
        # alternating spreads the drift over every server instead of favouring the first one measured
        bases = [(label, stack.enter_context(serving(**env))) for label, env in SERVERS]
        for name, path, body in REQUESTS:
            for _, base in bases:
                _wrk(base + path, body)  # warm: first touch, cache filled
            got: dict[str, list] = {label: [] for label, _ in bases}
            for _ in range(REPEATS):
                for label, base in bases:
                    load = os.getloadavg()[0]
                    got[label].append((_wrk(base + path, body), load))
            for label, runs in got.items():
                rps = statistics.median(r["rps"] for r, _ in runs)
                row = {"server": label, "request": name, "rps": rps, "runs": [round(r["rps"]) for r, _ in runs],
                       "non_2xx": sum(r["non_2xx"] for r, _ in runs), "p50": runs[-1][0]["p50"],
                       "load_avg_1m": [round(load, 2) for _, load in runs]}
                rows.append(row)
                print(f"  {label:18s} {name:44s} {rps:9.0f} req/s (median of {row['runs']})  p50 {row['p50']:>8s}  "
                      f"non-2xx {row['non_2xx']}  (load {row['load_avg_1m']})", flush=True)
    base_rps = {r["request"]: r["rps"] for r in rows if r["server"] == "sync, no cache"}
    print("  ratio of 'gevent, cache' to 'sync, no cache' (medians):")
    for r in rows:
        if r["server"] == "gevent, cache":
            print(f"    {r['request']:44s} {r['rps'] / base_rps[r['request']]:.1f}x")
    return rows


if __name__ == "__main__":
    main()
