"""Landscape grid sweep speed and kernel cold-start cost.

    python -m bench landscape

1. ``engine.landscape_grid`` on a 1000×1000 grid (the public function: validation,
   allocation, the parallel kernel, finite min/max) against numpy's vectorized evaluation of
   the same formula, both on full ``np.meshgrid`` arrays and broadcasting a row of x against
   a column of y (numpy then evaluates separable terms such as cos 2πx only N times), and
   torch's (float64, meshgrid) if installed. Rosenbrock (polynomial), Rastrigin and Ackley
   (trig-heavy). Each side also finds min and max. Median of REPEAT runs after one untimed
   call each; target: at least TARGET× numpy on meshgrid arrays (the broadcast form is
   printed for honesty: on separable trig surfaces it does the same O(N) trig work as the
   engine, which then wins only by threads and fusion). The machine is shared: parallel
   kernels lose a time slice whenever another process holds a core, so rerun when idle.
2. The first call's cost in a fresh process: ``import engine.landscape`` plus the first
   ``landscape_grid`` and ``critical_points`` calls, with an empty NUMBA_CACHE_DIR (compile)
   and then with the cache that run left behind (load), each in its own subprocess.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
N = 1000
REPEAT = 11
TARGET = 2.5


def _numpy_surfaces():
    def rosenbrock(X, Y):
        return (1.0 - X) ** 2 + 100.0 * (Y - X**2) ** 2

    def rastrigin(X, Y):
        return 20.0 + X**2 - 10.0 * np.cos(2 * np.pi * X) + Y**2 - 10.0 * np.cos(2 * np.pi * Y)

    def ackley(X, Y):
        return (-20.0 * np.exp(-0.2 * np.sqrt(0.5 * (X**2 + Y**2)))
                - np.exp(0.5 * (np.cos(2 * np.pi * X) + np.cos(2 * np.pi * Y))) + np.e + 20.0)

    return {"rosenbrock": rosenbrock, "rastrigin": rastrigin, "ackley": ackley}


def _torch_surfaces():
    try:
        import torch
    except ImportError:
        return None, None

    def rosenbrock(X, Y):
        return (1.0 - X) ** 2 + 100.0 * (Y - X**2) ** 2

    def rastrigin(X, Y):
        return 20.0 + X**2 - 10.0 * torch.cos(2 * torch.pi * X) + Y**2 - 10.0 * torch.cos(2 * torch.pi * Y)

    def ackley(X, Y):
        return (-20.0 * torch.exp(-0.2 * torch.sqrt(0.5 * (X**2 + Y**2)))
                - torch.exp(0.5 * (torch.cos(2 * torch.pi * X) + torch.cos(2 * torch.pi * Y))) + torch.e + 20.0)

    return torch, {"rosenbrock": rosenbrock, "rastrigin": rastrigin, "ackley": ackley}


def _median_time(fn) -> float:
    fn()  # untimed: compilation / first touch
    times = []
    for _ in range(REPEAT):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def grid_sweep() -> list[dict]:
    from engine import landscape_grid
    import numba

    print(f"grid sweep {N}x{N}, median of {REPEAT} (ratio = other time / engine time; target >= {TARGET} vs "
          f"numpy meshgrid); numba threads={numba.get_num_threads()}")
    rows = []
    for name, fn in _numpy_surfaces().items():
        g = landscape_grid(name, resolution=N)
        (x0, x1), (y0, y1) = (g.x[0], g.x[-1]), (g.y[0], g.y[-1])
        t_eng = _median_time(lambda: landscape_grid(name, x_range=(x0, x1), y_range=(y0, y1), resolution=N))

        def numpy_eval():
            X, Y = np.meshgrid(np.linspace(x0, x1, N), np.linspace(y0, y1, N))
            z = fn(X, Y)
            return z, float(z.min()), float(z.max())

        def numpy_open():  # broadcasting a row against a column: separable terms cost O(N), not O(N²)
            z = fn(np.linspace(x0, x1, N)[None, :], np.linspace(y0, y1, N)[:, None])
            return z, float(z.min()), float(z.max())

        t_np = _median_time(numpy_eval)
        t_open = _median_time(numpy_open)
        err = float(np.max(np.abs(numpy_eval()[0] - g.z)) / max(1.0, np.abs(g.z).max()))
        rows.append({"surface": name, "range": (x0, x1, y0, y1), "engine_ms": t_eng * 1e3, "numpy_ms": t_np * 1e3,
                     "ratio_numpy": t_np / t_eng, "numpy_broadcast_ms": t_open * 1e3,
                     "ratio_numpy_broadcast": t_open / t_eng, "max_rel_diff": err})
        verdict = "OK" if t_np / t_eng >= TARGET else f"BELOW TARGET x{TARGET}"
        print(f"  {name:10s} engine {t_eng * 1e3:6.2f} ms | numpy meshgrid {t_np * 1e3:6.2f} ms x{t_np / t_eng:5.2f}"
              f" | numpy broadcast {t_open * 1e3:6.2f} ms x{t_open / t_eng:5.2f} | rel diff {err:.0e} | {verdict}")

    # torch last: its OpenMP threads keep spinning after each op and would steal the cores
    # from the engine's threads if the two were interleaved.
    torch, tsurf = _torch_surfaces()
    if torch is None:
        print("  torch not installed: skipped")
        return rows
    print(f"  torch float64 (meshgrid), threads={torch.get_num_threads()}:")
    for row in rows:
        x0, x1, y0, y1 = row["range"]
        tfn = tsurf[row["surface"]]

        def torch_eval():
            xs = torch.linspace(x0, x1, N, dtype=torch.float64)
            ys = torch.linspace(y0, y1, N, dtype=torch.float64)
            Y, X = torch.meshgrid(ys, xs, indexing="ij")
            z = tfn(X, Y)
            return z, float(z.min()), float(z.max())

        t_t = _median_time(torch_eval)
        row["torch_ms"] = t_t * 1e3
        row["ratio_torch"] = t_t / (row["engine_ms"] / 1e3)
        print(f"  {row['surface']:10s} torch {t_t * 1e3:6.2f} ms  x{row['ratio_torch']:5.2f} (engine time above)")
    return rows


_CHILD = r"""
import json, time
t0 = time.perf_counter()
import engine.landscape as L
import engine.critical as C
t1 = time.perf_counter()
L.landscape_grid("rosenbrock", resolution=(200, 200))
t2 = time.perf_counter()
C.critical_points("himmelblau", seeds=11)
t3 = time.perf_counter()
L.landscape_slice("rosenbrock", (0.0, 0.0), (1.0, 1.0))
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "grid": t2 - t1, "critical": t3 - t2, "slice": t4 - t3}))
"""


def _child(cache: str) -> dict:
    env = dict(os.environ, NUMBA_CACHE_DIR=cache)
    out = subprocess.run([sys.executable, "-c", _CHILD], cwd=ROOT, env=env, capture_output=True, text=True,
                         check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def cold_start() -> dict:
    cache = tempfile.mkdtemp(prefix="numba-cache-landscape-")
    try:
        empty = _child(cache)
        warm = [_child(cache) for _ in range(3)]
    finally:
        shutil.rmtree(cache, ignore_errors=True)
    warm_med = {k: statistics.median(w[k] for w in warm) for k in warm[0]}
    print("first call in a fresh process (s): import | grid 200x200 | critical_points | slice | total")
    for label, d in (("empty cache", empty), ("warm cache ", warm_med)):
        print(f"  {label}  {d['import']:6.2f} | {d['grid']:6.2f} | {d['critical']:6.2f} | {d['slice']:6.2f} | "
              f"{sum(d.values()):6.2f}")
    return {"empty": empty, "warm": warm_med}


def main() -> dict:
    return {"grid": grid_sweep(), "cold_start": cold_start()}


if __name__ == "__main__":
    main()
