"""Descent speed: one long Adam trajectory against torch.optim.Adam and a numpy loop; a basin map.

Targets (README): Adam, 10,000 steps on Rosenbrock through ``engine.trajectory.run_trajectory`` (the
public call: validation, allocation, every step recorded) >= 1000x faster than ``torch.optim.Adam``
on a 2-element tensor and >= 100x faster than a numpy loop; a 200x200 basin map of 1000 Adam steps
per start in < 2 s (warm, this 2-core machine).

Run: ``python -m bench`` (all benches) or ``python -m bench.bench_descent``.
"""

from __future__ import annotations

import math
import statistics
import time

import numpy as np

STEPS = 10_000
LR = 0.01
START = (-1.5, 2.0)
B1, B2, EPS = 0.9, 0.999, 1e-8


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def engine_adam():
    from engine.trajectory import run_trajectory

    return run_trajectory("rosenbrock", START, STEPS, {"name": "adam", "lr": LR, "betas": [B1, B2], "eps": EPS},
                      tolerance=0.0)


def numpy_adam():
    """The same Adam as a numpy loop over a 2-element array, recording the path.

    Written in torch's operation order (``_single_tensor_adam``: ``m.lerp_(g, 1 - b1)``,
    ``v.mul_(b2).addcmul_(g, g, value=1 - b2)``, ``denom = sqrt(v)/sqrt(bc2) + eps``,
    ``p.addcdiv_(m, denom, value=-lr/bc1)``) so the paths agree to rounding.
    """
    p = np.array(START, dtype=np.float64)
    m = np.zeros(2)
    v = np.zeros(2)
    path = np.empty((STEPS + 1, 2))
    path[0] = p
    for t in range(1, STEPS + 1):
        x, y = p
        u = y - x * x
        g = np.array([-2.0 * (1.0 - x) - 400.0 * x * u, 200.0 * u])
        m = m + (1 - B1) * (g - m)
        v = v * B2 + (1 - B2) * g * g
        denom = np.sqrt(v) / math.sqrt(1 - B2 ** float(t)) + EPS
        p = p + (-(LR / (1 - B1 ** float(t))) * m) / denom
        path[t] = p
    return path


def torch_adam():
    import torch

    p = torch.tensor(START, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.Adam([p], lr=LR, betas=(B1, B2), eps=EPS)
    for _ in range(STEPS):
        opt.zero_grad()
        loss = (1 - p[0]) ** 2 + 100 * (p[1] - p[0] ** 2) ** 2
        loss.backward()
        opt.step()
    return p.detach().numpy().copy()


def basin_map(early_stop: bool):
    from engine.basins import basin_map

    kw = {} if early_stop else {"tolerance": 0.0, "minimum_tolerance": 0.0}
    return basin_map("himmelblau", {"name": "adam", "lr": 0.05}, resolution=(200, 200), steps=1000, **kw)


def main() -> None:
    print("== descent: Adam, 10,000 steps on Rosenbrock (lr 0.01, start (-1.5, 2)) ==")
    tr = engine_adam()  # warm (compile or load from cache)
    t_engine = _median_time(engine_adam, 50)
    ref = numpy_adam()
    diff = float(np.abs(tr.path - ref).max())
    t_numpy = _median_time(numpy_adam, 5)
    print(f"run_trajectory      median {t_engine * 1e3:9.3f} ms  ({t_engine / STEPS * 1e9:6.1f} ns/step, path recorded)")
    print(f"numpy loop          median {t_numpy * 1e3:9.3f} ms  ratio numpy/engine = {t_numpy / t_engine:8.0f}x (target >= 100x)")
    first = float(np.abs(tr.path[:1001] - ref[:1001]).max())
    print(f"  max |engine - numpy| over the first 1000 steps: {first:.2e}, over all 10,000: {diff:.2e} "
          "(numpy in torch's operation order)")
    try:
        import torch  # noqa: F401
    except ImportError:
        print("torch not installed: skipped (pip install torch==2.13.0)")
    else:
        torch_adam()
        t_torch = _median_time(torch_adam, 3)
        end = torch_adam()
        print(f"torch.optim.Adam    median {t_torch * 1e3:9.3f} ms  ratio torch/engine = {t_torch / t_engine:8.0f}x (target >= 1000x)")
        print(f"  max |engine - torch| at the end point: {float(np.abs(tr.path[-1] - end).max()):.2e} "
              "(ATen's fused multiply-add in lerp, ~1 ulp a step, grown over 10,000 Rosenbrock steps)")

    print("== descent: basin map, Himmelblau, 200 x 200 starts, Adam lr 0.05, up to 1000 steps each ==")
    basin_map(True)
    for early in (True, False):
        t = _median_time(lambda: basin_map(early), 3)
        b = basin_map(early)
        what = ("stop within 1e-3 of a minimum (default)" if early
                else "no early stop: tolerance 0, minimum_tolerance 0")
        print(f"basins 200x200      median {t:9.3f} s   {int(b.steps.sum()):>10,} Adam steps, "
              f"{t / max(int(b.steps.sum()), 1) * 1e9:5.1f} ns/step  [{what}] (target < 2 s)")


if __name__ == "__main__":
    main()
