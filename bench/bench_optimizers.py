"""Optimizer-step and schedule speed.

1. One step on a 100,000-parameter flat float64 vector (the training engineer's case), per optimizer:
   ``engine.optimizers.optimizer_step`` called from Python against ``torch.optim`` (single-tensor path,
   ``foreach=False``, the one we match, and torch's default) and, for Adam, a numpy implementation.
2. 10,000 steps of a 2-parameter Adam inside one jitted loop (the descent case) against torch.
3. ``lr_schedule`` for ``max_steps`` values, per schedule (numpy; must stay far below a request's budget).

Run: ``python -m bench optimizers`` (or ``make bench`` for every bench).
"""

from __future__ import annotations

import math
import statistics
import time

import numba
import numpy as np

from engine.limits import LIMITS
from engine.optimizers import OPTIMIZERS, new_state, optimizer_step, resolve_optimizer
from engine.schedules import SCHEDULES, lr_schedule

N = 100_000
REPEATS = 7


def _median(fn, repeats=REPEATS, inner=1):
    fn()  # warm (compile, allocate)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def _torch():
    try:
        import torch

        torch.set_num_threads(1)
        return torch
    except ImportError:
        return None


def _numpy_adam_step(p, g, m, v, t, lr=1e-3, b1=0.9, b2=0.999, eps=1e-8):
    m *= b1
    m += (1 - b1) * g
    v *= b2
    v += (1 - b2) * g * g
    denom = np.sqrt(v) / math.sqrt(1 - b2**t) + eps
    p -= (lr / (1 - b1**t)) * m / denom


@numba.njit(cache=False)
def _adam_loop(code, hp, p, g, state, scal, steps, lr):
    for t in range(1, steps + 1):
        x, y = p[0], p[1]
        g[0] = -2.0 * (1.0 - x) - 400.0 * x * (y - x * x)
        g[1] = 200.0 * (y - x * x)
        optimizer_step(code, hp, p, g, state, scal, t, lr)


def main() -> None:
    torch = _torch()
    rng = np.random.default_rng(0)
    g = rng.standard_normal(N)
    print(f"1) one step on {N:,} float64 parameters (median of {REPEATS}; torch on 1 thread)")
    print(f"   {'optimizer':10s} {'engine':>10s} {'torch 1-tensor':>15s} {'ratio':>7s} {'torch default':>14s} {'ratio':>7s}")
    torch_names = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta", "adam": "Adam",
                   "adamw": "AdamW", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam"}
    for name in OPTIMIZERS:
        extra = {"momentum": 0.9} if name in ("sgd",) else {}
        opt = resolve_optimizer({"name": name, **extra})
        p = rng.standard_normal(N)
        state, scal = new_state(opt, N)
        step = [0]

        def ours():
            step[0] += 1
            optimizer_step(opt.code, opt.hp, p, g, state, scal, step[0], opt.lr)

        t_ours = _median(ours, inner=20)
        row = f"   {name:10s} {t_ours * 1e6:8.0f}us"
        if torch is not None and name in torch_names:
            for foreach in (False, None):
                w = torch.zeros(N, dtype=torch.float64, requires_grad=True)
                w.grad = torch.from_numpy(g.copy())
                topt = getattr(torch.optim, torch_names[name])([w], foreach=foreach, **extra)
                t_t = _median(topt.step, inner=20)
                row += f" {t_t * 1e6:13.0f}us {t_t / t_ours:6.1f}x"
        print(row)
    p = rng.standard_normal(N)
    m = np.zeros(N)
    v = np.zeros(N)
    k = [0]

    def np_adam():
        k[0] += 1
        _numpy_adam_step(p, g, m, v, k[0])

    opt = resolve_optimizer({"name": "adam"})
    state, scal = new_state(opt, N)
    k2 = [0]

    def ours_adam():
        k2[0] += 1
        optimizer_step(opt.code, opt.hp, p, g, state, scal, k2[0], opt.lr)

    t_np, t_ours = _median(np_adam, inner=20), _median(ours_adam, inner=20)
    print(f"   adam vs numpy: engine {t_ours * 1e6:.0f}us, numpy {t_np * 1e6:.0f}us, ratio {t_np / t_ours:.1f}x")

    steps = 10_000
    print(f"2) {steps:,} Adam steps on 2-D Rosenbrock inside one jitted loop")
    opt = resolve_optimizer({"name": "adam", "lr": 0.01})
    p2 = np.array([-1.5, 2.0])
    g2 = np.zeros(2)
    state, scal = new_state(opt, 2)

    def loop():
        p2[:] = (-1.5, 2.0)
        state[:] = 0.0
        _adam_loop(opt.code, opt.hp, p2, g2, state, scal, steps, 0.01)

    t_loop = _median(loop)
    line = f"   engine {t_loop * 1e3:.2f} ms"
    if torch is not None:
        def torch_loop():
            w = torch.tensor([-1.5, 2.0], dtype=torch.float64, requires_grad=True)
            topt = torch.optim.Adam([w], lr=0.01, foreach=False)
            for _ in range(steps):
                x, y = w.detach().numpy()
                w.grad = torch.tensor([-2.0 * (1.0 - x) - 400.0 * x * (y - x * x), 200.0 * (y - x * x)],
                                      dtype=torch.float64)
                topt.step()

        t_torch = _median(torch_loop, repeats=3)
        line += f", torch.optim.Adam {t_torch * 1e3:.0f} ms, ratio {t_torch / t_loop:.0f}x"
    print(line)

    n = LIMITS["max_steps"]
    print(f"3) lr_schedule for {n:,} steps (max_steps), median of {REPEATS}")
    for name in SCHEDULES:
        spec = {"name": name}
        if name == "cosine_warm_restarts":
            spec["T_0"] = 100
        t_s = _median(lambda: lr_schedule(spec, 0.1, n))
        print(f"   {name:22s} {t_s * 1e3:7.2f} ms")


if __name__ == "__main__":
    main()
