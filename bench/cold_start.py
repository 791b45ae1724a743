"""Cold start: process start -> first successful grid request, with an empty and a warm Numba cache.

    python -m bench.cold_start             # both figures (the empty-cache one compiles everything)
    python -m bench.cold_start --warm-only

Starts the production command (``gunicorn -c service/gunicorn_conf.py 'service:create_app()'``,
2 workers, ``preload_app``: the master warms every kernel before it binds) on a free loopback
port with ``NUMBA_CACHE_DIR`` pointing at a fresh directory, and polls until the first
``POST /api/v1/landscapes/grid`` (the request a landscape view opens with) answers 200; until
that endpoint exists, ``GET /healthz``. The clock starts just before the process is spawned, so
the figure includes interpreter start, imports, kernel compilation or cache loading, binding,
forking the workers and the request itself. Target (issue 14): < 2 s with a warm cache.

Also reported: the CPU seconds of the whole process tree (the master, its warm-up helpers, the workers),
and the longest silence of the warm-up: the largest gap between spawn, the ``engine.warmup`` progress
lines in the log and the end of the warm-up (issue 14: at most 5 s).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import re
import resource
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
TARGET_WARM_S = 2.0
GRID_PATH = "/api/v1/landscapes/grid"


def _grid_body() -> dict | None:
    """The load test's grid request (loadtests/scenarios.py), so both measure the same thing."""
    sys.path.insert(0, str(ROOT / "loadtests"))
    try:
        import random

        from scenarios import SCENARIOS

        for s in SCENARIOS:
            if s.method == "POST" and s.path == GRID_PATH:
                return s.make_body(random.Random(0))
    finally:
        sys.path.remove(str(ROOT / "loadtests"))
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _probe(base: str, body: dict | None) -> bool:
    try:
        if body is None:
            req = urllib.request.Request(base + "/healthz")
        else:
            req = urllib.request.Request(base + GRID_PATH, data=json.dumps(body).encode(),
                                         headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status == 200
    except urllib.error.HTTPError as e:
        if e.code == 404 and body is not None:
            raise
        return False
    except (urllib.error.URLError, ConnectionError):
        return False


def measure(cache_dir: str, body: dict | None, timeout: float = 900.0) -> dict:
    """Seconds from spawn to the first 200, plus the warm-up seconds the app logged."""
    port = _free_port()
    env = dict(os.environ, HOST="127.0.0.1", PORT=str(port), NUMBA_CACHE_DIR=cache_dir,
               GUNICORN_ACCESS_LOG="off", WEB_CONCURRENCY=os.environ.get("WEB_CONCURRENCY", "2"))
    base = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryFile() as log:
        cpu0 = _children_cpu()
        spawned = time.time()
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(GUNICORN), "-c", "service/gunicorn_conf.py", "service:create_app()"],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            while not _probe(base, body):
                if proc.poll() is not None or time.perf_counter() - t0 > timeout:
                    log.seek(0)
                    raise RuntimeError(f"server failed to answer: {log.read().decode()[-2000:]}")
                time.sleep(0.01)
            took = time.perf_counter() - t0
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        log.seek(0)
        text = log.read().decode()
    m = re.search(r"kernels warm in ([0-9.]+) s", text)
    warm = float(m.group(1)) if m else float("nan")
    return {"seconds": took, "warmup_seconds": warm, "cpu_seconds": _children_cpu() - cpu0,
            "longest_silence_s": longest_silence(text, spawned)}


def _children_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_CHILDREN)  # the server's whole tree, once reaped
    return r.ru_utime + r.ru_stime


def longest_silence(log: str, spawned: float) -> float:
    """Largest gap between the spawn, the warm-up's progress lines and its last line, in seconds."""
    stamps = [spawned]
    for m in re.finditer(r"^\[([0-9-]+ [0-9:]+,[0-9]+)\] \[\d+\] \[INFO\] engine\.warmup: ", log, re.M):
        stamps.append(datetime.datetime.strptime(m.group(1), "%Y-%m-%d %H:%M:%S,%f").timestamp())
    return max(b - a for a, b in zip(stamps, stamps[1:])) if len(stamps) > 1 else float("nan")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--warm-only", action="store_true", help="skip the empty-cache run")
    ap.add_argument("--repeat", type=int, default=3, help="warm-cache runs (median reported)")
    args = ap.parse_args(argv if argv is not None else [])
    body = _grid_body()
    what = f"POST {GRID_PATH}" if body is not None else "GET /healthz (grid endpoint not in the scenario table yet)"
    print(f"cold start: spawn -> first 200 of {what}; gunicorn, WEB_CONCURRENCY={os.environ.get('WEB_CONCURRENCY', '2')}")
    from service.launch import compile_bytecode

    compile_bytecode()  # as `make serve` and the image's install do: imports read .pyc, not source
    cache = tempfile.mkdtemp(prefix="numba-cache-")
    out = {}
    try:
        first = measure(cache, body)
        if not args.warm_only:
            out["empty"] = first
            print(f"  empty NUMBA_CACHE_DIR : {first['seconds']:6.2f} s   (warm-up inside: {first['warmup_seconds']:.2f} s, "
                  f"{first['cpu_seconds']:.1f} s CPU in all processes; longest silence of the warm-up "
                  f"{first['longest_silence_s']:.1f} s, target <= 5 s)")
        runs = [measure(cache, body) for _ in range(max(1, args.repeat))]
        med = statistics.median(r["seconds"] for r in runs)
        out["warm"] = {"seconds": med, "runs": [r["seconds"] for r in runs],
                       "warmup_seconds": statistics.median(r["warmup_seconds"] for r in runs)}
        verdict = "OK" if med < TARGET_WARM_S else "OVER TARGET"
        print(f"  warm  NUMBA_CACHE_DIR : {med:6.2f} s   median of {len(runs)} (warm-up inside: "
              f"{out['warm']['warmup_seconds']:.2f} s); target < {TARGET_WARM_S:.0f} s: {verdict}\n"
              f"                          runs: {', '.join(f'{r:.2f}' for r in out['warm']['runs'])} s")
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
