"""Fairness and deadlines on one replica under hostile load, measured against a real ``make serve``.

    python -m bench.bench_fairness                      # DURATION=30 by default
    DURATION=60 WEB_CONCURRENCY=2 python -m bench.bench_fairness

1. **Heavy flood**: four clients each keep one of the heaviest allowed requests in flight (the basin
   map 500x500 x 200 Adam steps on Rastrigin, ``bench_deadline``'s heaviest), resending the moment an
   answer comes back, each body new (another learning rate), so that neither the response cache nor the
   memory of heavy bodies answers for the service. Twice: ``hostile`` (Retry-After ignored) and
   ``polite`` (each client waits as Retry-After says). Meanwhile two probes send ``GET /healthz`` and a small
   ``POST /losses/evaluate`` (distinct bodies, so the response cache does not answer) every 50 ms.
   Reported: the probes' p50/p95/max, and every heavy answer by status with the longest time any
   took, against ``DEADLINE_S`` (each must complete or get 503 within 1.1 x DEADLINE_S).
2. **Validation cost**: three ``descent/race`` bodies of 1,000,000 empty objects sent at once, with
   ``/healthz`` probed meanwhile: each answer's status, size and time.

The load average is printed with the results: the machine is shared, and figures mean little without it.
"""

from __future__ import annotations

import http.client
import json
import os
import statistics
import threading
import time
from urllib.parse import urlparse

from bench.bench_deadline import WORST
from bench.server import serving

DURATION = float(os.environ.get("DURATION", "30"))
# hostile: resend at once, whatever Retry-After says; polite: wait as Retry-After says
MODES = os.environ.get("MODES", "hostile,polite").split(",")
HEAVY = next(body for label, path, body in WORST if path == "/api/v1/descent/basins")
HEAVY_PATH = "/api/v1/descent/basins"


def _conn(base: str, timeout: float = 60) -> http.client.HTTPConnection:
    u = urlparse(base)
    return http.client.HTTPConnection(u.hostname, u.port, timeout=timeout)


def _send(conn, method, path, body: bytes | None = None):
    t0 = time.perf_counter()
    conn.request(method, path, body=body, headers={"Content-Type": "application/json"} if body else {})
    r = conn.getresponse()
    data = r.read()
    return r.status, time.perf_counter() - t0, data, r.getheader("Retry-After")


def _pct(xs, q):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(q * (len(xs) - 1))))] if xs else float("nan")


def heavy_flood(base: str, deadline_s: float, polite: bool) -> dict:
    stop = time.monotonic() + DURATION
    heavy, probes = [], {"/healthz": [], "/api/v1/losses/evaluate": []}
    counter = iter(range(1, 10**9))  # 0 would repeat the warm-up body (a cache hit)

    def flooder():
        conn = _conn(base)
        while time.monotonic() < stop:
            # a new body each time (another learning rate): the response cache must not answer
            body = json.dumps({**HEAVY, "optimizer": {**HEAVY["optimizer"], "lr": 0.01 + 1e-9 * next(counter)}})
            try:
                status, dt, _, retry = _send(conn, "POST", HEAVY_PATH, body.encode())
            except (OSError, http.client.HTTPException):
                conn = _conn(base)
                continue
            heavy.append((status, dt, retry))
            if polite and status == 503 and retry:
                time.sleep(min(float(retry), max(0.0, stop - time.monotonic())))

    def prober(path):
        conn = _conn(base, 30)
        k = 0
        while time.monotonic() < stop:
            k += 1
            b = None
            if path != "/healthz":
                b = json.dumps({"loss": "mse", "predictions": [0.5, k * 1e-6], "targets": [1.0, 0.0]}).encode()
            status, dt, _, _ = _send(conn, "POST" if b else "GET", path, b)
            probes[path].append((status, dt))
            time.sleep(0.05)

    threads = [threading.Thread(target=flooder) for _ in range(4)]
    threads += [threading.Thread(target=prober, args=(p,)) for p in probes]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    out = {"duration_s": DURATION, "deadline_s": deadline_s, "probes": {}, "heavy": {}}
    for path, xs in probes.items():
        ok = [dt for s, dt in xs if s == 200]
        out["probes"][path] = {"n": len(xs), "non_200": len(xs) - len(ok), "p50_ms": 1e3 * _pct(ok, 0.5),
                               "p95_ms": 1e3 * _pct(ok, 0.95), "max_ms": 1e3 * max(ok, default=float("nan"))}
    by_status: dict = {}
    for s, dt, retry in heavy:
        e = by_status.setdefault(str(s), {"n": 0, "max_s": 0.0, "median_s": [], "retry_after": set()})
        e["n"] += 1
        e["max_s"] = max(e["max_s"], dt)
        e["median_s"].append(dt)
        if retry:
            e["retry_after"].add(retry)
    for e in by_status.values():
        e["median_s"] = statistics.median(e["median_s"])
        e["retry_after"] = sorted(e["retry_after"])
    out["heavy"] = by_status
    out["heavy_longest_s"] = max((dt for _, dt, _ in heavy), default=0.0)
    out["heavy_within_1.1_deadline"] = out["heavy_longest_s"] <= 1.1 * deadline_s
    out["heavy_statuses_ok"] = set(by_status) <= {"200", "503"}
    return out


def validation_cost(base: str) -> dict:
    raw = b'{"surface": "himmelblau", "optimizers": [' + b",".join([b"{}"] * 1_000_000) + b"]}"
    results, health = [], []

    def post():
        status, dt, data, _ = _send(_conn(base), "POST", "/api/v1/descent/race", raw)
        results.append({"status": status, "seconds": round(dt, 3), "bytes": len(data)})

    def probe():
        conn = _conn(base)
        for _ in range(10):
            status, dt, _, _ = _send(conn, "GET", "/healthz")
            health.append(dt)
            time.sleep(0.02)

    ts = [threading.Thread(target=post) for _ in range(3)] + [threading.Thread(target=probe)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    return {"race_1e6_empty_objects": results, "healthz_max_s": round(max(health), 3),
            "body_mb": round(len(raw) / 1e6, 2)}


def main() -> dict:
    from service.config import Config

    with serving() as base:
        # one untimed heavy request: first-touch costs out of the way
        _send(_conn(base, 120), "POST", HEAVY_PATH, json.dumps(HEAVY).encode())
        report = {}
        for mode in MODES:
            load0 = os.getloadavg()
            flood = heavy_flood(base, Config.DEADLINE_S, polite=mode == "polite")
            report[f"heavy_flood_{mode}"] = {"load_avg_before": load0, "load_avg_after": os.getloadavg(), **flood}
        load0 = os.getloadavg()
        report["validation"] = {"load_avg_before": load0, **validation_cost(base)}
    print(json.dumps(report, indent=1, default=list))
    return report


if __name__ == "__main__":
    main()
