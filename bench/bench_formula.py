"""Formula surfaces (engine.expression + engine.formula) against the built-in kernels and numpy.

    python -m bench formula

1. Grid 1000×1000 of Rosenbrock typed as a formula through the public path (``engine.landscape_grid`` given
   the formula object: validation, allocation, the landscape's row kernel running the stack machine per row)
   against the built-in grid (the same call given ``"rosenbrock"``) and numpy
   evaluating the same formula on a meshgrid (plus finite min/max). Value only, then with ‖∇f‖.
   Targets: formula ≤ 3× built-in, and faster than numpy.
2. (6.) 10,000 Adam steps: see 6, the public path.
3. A new formula, start to answer, in a process whose kernels are loaded: parse + compile (a cache
   miss every time), the first value/gradient/Hessian, a 200×200 grid with ‖∇f‖, 1,000 Adam steps.
   Target: < 100 ms (all but HTTP).
4. Why a stack machine rather than a kernel generated per formula: numba's compile time of the
   generated grid kernel for the same formula (what every new formula would wait for).
6. 10,000 Adam steps through the public path: ``engine.run_trajectory`` given the formula object against the
   same call given ``"rosenbrock"`` (validation, allocation, records, the descent kernel's surface dispatch).
7. The first HTTP request with a new formula, end to end over a real socket (a werkzeug server in this
   process, urllib client: JSON both ways): a 200x200 grid with ‖∇f‖, and a 1,000-step trajectory.
5. Cold start the evaluator adds: ``engine.expression._warmup()`` in a fresh process with an empty
   NUMBA_CACHE_DIR (compiles) and then with the cache that run left (loads).

Medians over interleaved rounds (one call of each contender per round) after one untimed call each.
The machine is shared: rerun before believing a ratio.
"""

from __future__ import annotations

import json
import logging
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

import engine
from engine.expression import resolve_formula

ROOT = Path(__file__).resolve().parent.parent
N = 1000
REPEAT = 11
ADAM_REPEAT = 51  # ~1 ms runs: more rounds for a stable median on a shared machine
STEPS = 10_000
ROSENBROCK = "(1 - x)**2 + 100*(y - x**2)**2"
TARGET_RATIO = 3.0
ROSEN_OBJ = {"expression": ROSENBROCK, "domain": {"x": [-2, 2], "y": [-1, 3]}}


def _medians(*fns, repeat: int = REPEAT, clock=time.perf_counter) -> list[float]:
    """Median seconds of each function, timed in interleaved rounds (one call of each per round), so
    that the load of a shared machine weighs on all of them alike; one untimed call each first.
    ``clock=time.process_time`` counts this process's CPU time only (with one thread: the work)."""
    for fn in fns:
        fn()
    rounds = [[_elapsed(fn, clock) for fn in fns] for _ in range(repeat)]
    return [statistics.median(r[i] for r in rounds) for i in range(len(fns))]


def _elapsed(fn, clock) -> float:
    t0 = clock()
    fn()
    return clock() - t0


def _finite_range(z: np.ndarray) -> tuple[float, float]:
    finite = z[np.isfinite(z)]
    return float(finite.min()), float(finite.max())


def grid() -> list[dict]:
    f = resolve_formula(ROSENBROCK)
    (x0, x1), (y0, y1) = (-2.0, 2.0), (-1.0, 3.0)
    xs, ys = np.linspace(x0, x1, N), np.linspace(y0, y1, N)
    threads = numba.get_num_threads()
    rows = []
    for n_threads, clock in ((threads, time.perf_counter), (1, time.process_time)):
        numba.set_num_threads(n_threads)
        what = "wall" if clock is time.perf_counter else "CPU time (insensitive to other processes' load)"
        print(f"1) grid {N}x{N} of Rosenbrock, median of {REPEAT}; numba threads={n_threads}, {what}")
        rows += _grid_rows(f, xs, ys, (x0, x1), (y0, y1), clock)
    numba.set_num_threads(threads)
    return rows


def _grid_rows(f, xs, ys, x_range, y_range, clock) -> list[dict]:
    rows = []
    for gradient in (False, True):
        def formula():  # the public path, as a user calls it: the landscape's row kernel runs the stack machine
            return engine.landscape_grid(ROSEN_OBJ, x_range, y_range, resolution=N, gradient=gradient)

        def builtin():
            return engine.landscape_grid("rosenbrock", x_range, y_range, resolution=N, gradient=gradient)

        def numpy_meshgrid():
            X, Y = np.meshgrid(xs, ys)
            z = (1 - X) ** 2 + 100 * (Y - X**2) ** 2
            if gradient:  # ∇f = (−2(1 − x) − 400x(y − x²), 200(y − x²))
                v = Y - X**2
                gn = np.hypot(-2 * (1 - X) - 400 * X * v, 200 * v)
                return _finite_range(z), _finite_range(gn)
            return _finite_range(z)

        t_f, t_b, t_n = _medians(formula, builtin, numpy_meshgrid, clock=clock)
        diff = float(np.max(np.abs(formula().z - builtin().z)) / np.abs(builtin().z).max())
        ok = t_f <= TARGET_RATIO * t_b and t_f < t_n
        label = "value + |grad|" if gradient else "value"
        print(f"   {label:15s} formula {t_f * 1e3:6.2f} ms | built-in {t_b * 1e3:6.2f} ms (x{t_f / t_b:4.2f}) | "
              f"numpy {t_n * 1e3:6.2f} ms (formula {t_n / t_f:4.2f}x faster) | max rel diff {diff:.0e} | "
              f"{'OK' if ok else 'BELOW TARGET'}")
        rows.append({"gradient": gradient, "clock": clock.__name__, "formula_ms": t_f * 1e3, "builtin_ms": t_b * 1e3,
                     "numpy_ms": t_n * 1e3})
    return rows


def first_formula() -> dict:
    """A formula never seen before, from text to the first answers, kernels already loaded."""
    parts = {"parse+compile": [], "first value/grad/hessian": [], "grid 200x200 + |grad|": [], "1000 Adam steps": []}
    totals = []
    for k in range(REPEAT + 1):
        text = f"(1 - x)**2 + {100 + k}*(y - x**2)**2 + sin(x*y)/{k + 2}"  # new each time: a cache miss
        t0 = time.perf_counter()
        f = resolve_formula(text)
        t1 = time.perf_counter()
        f.value_grad_hess(0.5, 0.5)
        t2 = time.perf_counter()
        engine.landscape_grid({"expression": text}, (-2, 2), (-1, 3), resolution=200, gradient=True)
        t3 = time.perf_counter()
        engine.run_trajectory({"expression": text}, (-1.5, 2.0), 1000, {"name": "adam", "lr": 0.01}, tolerance=0.0)
        t4 = time.perf_counter()
        if k == 0:
            continue  # a first round pays whatever is still lazy in this process
        for name, dt in zip(parts, (t1 - t0, t2 - t1, t3 - t2, t4 - t3)):
            parts[name].append(dt)
        totals.append(t4 - t0)
    med = {name: statistics.median(v) * 1e3 for name, v in parts.items()}
    total = statistics.median(totals) * 1e3
    print(f"3) a new formula from text to answers (kernels loaded), median of {REPEAT}: "
          + " | ".join(f"{k} {v:.2f} ms" for k, v in med.items())
          + f" | total {total:.1f} ms | {'OK' if total < 100 else 'ABOVE 100 ms'}")
    return {**med, "total_ms": total}


_GENERATED = """
import math, numba
@numba.njit(parallel=True, cache=False)
def grid(xs, ys, z):
    for i in numba.prange(ys.size):
        y = ys[i]
        for j in range(xs.size):
            x = xs[j]
            z[i, j] = {expr}
"""


def generated_kernel() -> float:
    """The alternative: numba compiles a grid kernel written out for this one formula."""
    times = []
    for k in range(3):
        scope: dict = {}
        exec(_GENERATED.format(expr=f"(1 - x)**2 + {100 + k}*(y - x**2)**2"), scope)  # bench-only codegen
        t0 = time.perf_counter()
        scope["grid"](np.zeros(2), np.zeros(2), np.zeros((2, 2)))
        times.append(time.perf_counter() - t0)
    t = statistics.median(times)
    print(f"4) a grid kernel generated per formula: numba compile + first call {t * 1e3:.0f} ms (median of 3) "
          f"for the value alone; the stack machine needs none per formula")
    return t * 1e3


_CHILD = r"""
import json, time
t0 = time.perf_counter(); c0 = time.process_time()
import engine.expression as E
t1 = time.perf_counter(); c1 = time.process_time()
E._warmup()
t2 = time.perf_counter(); c2 = time.process_time()
print(json.dumps({"import": t1 - t0, "warmup": t2 - t1, "warmup_cpu": c2 - c1}))
"""


def _fresh_warmup(cache: str) -> dict:
    """``_CHILD`` in a new interpreter whose numba cache is ``cache``: its timings."""
    out = subprocess.check_output([sys.executable, "-c", _CHILD], cwd=ROOT, text=True,
                                  env=dict(os.environ, NUMBA_CACHE_DIR=cache))
    return json.loads(out.split("\n")[-2])


def cold_start() -> dict:
    with tempfile.TemporaryDirectory(prefix="numba-cache-formula-") as cache:
        runs = [_fresh_warmup(cache) for _ in range(4)]  # the first compiles into the empty cache, the others load
    empty, loaded = runs[0], {k: statistics.median(r[k] for r in runs[1:]) for k in runs[0]}
    print("5) engine.expression._warmup() in a fresh process (s): import | warm-up wall | warm-up CPU")
    for label, d in (("empty cache", empty), ("warm cache ", loaded)):
        print(f"   {label}  {d['import']:5.2f} | {d['warmup']:6.2f} | {d['warmup_cpu']:6.2f}")
    return {"empty": empty, "warm": loaded}


def public_path() -> dict:
    """10k Adam steps through engine.run_trajectory: the formula object against the built-in's name."""
    kw = dict(start=(-1.5, 2.0), steps=STEPS, optimizer={"name": "adam", "lr": 0.01}, tolerance=0.0)
    t_f, t_b = _medians(lambda: engine.run_trajectory(ROSEN_OBJ, **kw), lambda: engine.run_trajectory("rosenbrock", **kw),
                        repeat=ADAM_REPEAT, clock=time.process_time)
    print(f"6) {STEPS:,} Adam steps through engine.run_trajectory, CPU time, median of {ADAM_REPEAT}: formula "
          f"{t_f * 1e3:6.2f} ms | built-in {t_b * 1e3:6.2f} ms (x{t_f / t_b:4.2f}) | "
          f"{'OK' if t_f <= TARGET_RATIO * t_b else 'BELOW TARGET'}")
    return {"formula_ms": t_f * 1e3, "builtin_ms": t_b * 1e3}


def first_request_http() -> dict:
    """A formula the server has never seen, over HTTP: a 200x200 grid with |grad|, and 1,000 Adam steps."""
    import threading
    import urllib.request

    from werkzeug.serving import make_server

    from service import create_app
    from service.config import TestConfig

    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # no access-log line per request
    srv = make_server("127.0.0.1", 0, create_app(TestConfig), threaded=True)
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    base = f"http://127.0.0.1:{srv.server_port}/api/v1"

    def post(path, body):
        req = urllib.request.Request(f"{base}/{path}", json.dumps(body).encode(), {"Content-Type": "application/json"})
        with urllib.request.urlopen(req) as r:
            assert r.status == 200
            return r.read()

    times = {"grid": [], "trajectory": []}
    try:
        for k in range(REPEAT + 1):
            text = f"(1 - x)**2 + {200 + k}*(y - x**2)**2 + cos(x - y)/{k + 3}"  # new each time: a cache miss
            surface = {"expression": text, "domain": {"x": [-2, 2], "y": [-1, 3]}}
            t0 = time.perf_counter()
            post("landscapes/grid", {"surface": surface, "resolution": [200, 200], "gradient": True})
            t1 = time.perf_counter()
            surface["expression"] += " + 0"  # new again
            post("descent/trajectory", {"surface": surface, "start": [-1.5, 2], "steps": 1000,
                                        "optimizer": {"name": "adam", "lr": 0.01}})
            t2 = time.perf_counter()
            if k:  # round 0 pays the server's first request (routes, schemas)
                times["grid"].append(t1 - t0)
                times["trajectory"].append(t2 - t1)
    finally:
        srv.shutdown()
    med = {k: statistics.median(v) * 1e3 for k, v in times.items()}
    print(f"7) the first HTTP request with a new formula, end to end over a socket, median of {REPEAT}: "
          f"grid 200x200 + |grad| {med['grid']:.1f} ms | trajectory 1,000 Adam steps {med['trajectory']:.1f} ms | "
          f"{'OK' if max(med.values()) < 100 else 'ABOVE 100 ms'}")
    return med


def main() -> dict:
    return {"grid": grid(), "first_formula": first_formula(), "adam_public_path": public_path(),
            "first_request_http": first_request_http(), "generated_kernel_ms": generated_kernel(),
            "cold_start": cold_start()}


if __name__ == "__main__":
    main()
