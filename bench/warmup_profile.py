"""Where an empty-cache warm-up spends its time: per module, and per compiled kernel signature.

    python -m bench.warmup_profile                 # every module, one process, a fresh cache
    python -m bench.warmup_profile --set filed     # only the modules that existed when issue 14 was filed
    python -m bench.warmup_profile --top 40 --json out.json
    python -m bench.warmup_profile --set filed --jobs 2   # engine.warm_kernels as the service runs it: wall, CPU

Warms the modules one after the other in this process (``engine.warmup.warm_modules``) with
``NUMBA_CACHE_DIR`` pointing at a new temporary directory, so each module's seconds are what it
compiles beyond the modules before it (the order is ``engine.concepts.MODULES``). numba's
``numba:compile`` events give each kernel signature's compile time; a kernel compiled inside another's
typing is subtracted from its caller ("self" seconds), so the self times add up to the compile total.
A kernel compiled for several signatures is listed with all of them: each extra one is a
specialisation the warm-up may not need.

With ``--jobs N`` the modules are warmed by ``engine.warm_kernels(jobs=N)`` instead (helper processes,
progress on stderr): the wall time the service's start pays, and the CPU seconds of every process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
from collections import defaultdict

# The modules of the engine when issue 14 was filed (before the language models, the curvature
# modules, formula surfaces, critical points, user data and sweeps): its 57-84 s figure warmed these.
FILED = ("engine.losses", "engine.surfaces", "engine.landscape", "engine.optimizers", "engine.schedules",
         "engine.clipping", "engine.trajectory", "engine.race", "engine.lr_sweep", "engine.basins",
         "engine.activations", "engine.init", "engine.mlp", "engine.backprop", "engine.gradient_profile",
         "engine.network_landscape", "engine.datasets", "engine.training", "engine.regularization",
         "engine.doctor", "engine.rng")


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--set", choices=("all", "filed"), default="all")
    ap.add_argument("--modules", help="comma-separated engine modules (overrides --set)")
    ap.add_argument("--top", type=int, default=30, help="kernel signatures listed, by self seconds")
    ap.add_argument("--json", help="write the figures here")
    ap.add_argument("--jobs", type=int, help="warm with engine.warm_kernels(jobs=JOBS): wall and CPU only")
    args = ap.parse_args(argv)
    os.environ["NUMBA_CACHE_DIR"] = tempfile.mkdtemp(prefix="numba-profile-")  # before numba is imported

    from numba.core import event

    from engine.concepts import MODULES
    from engine.warmup import warm_modules

    names = args.modules.split(",") if args.modules else (FILED if args.set == "filed" else MODULES)
    if args.jobs:
        from engine.warmup import warm_kernels

        def cpu() -> float:
            return sum(r.ru_utime + r.ru_stime for r in (resource.getrusage(resource.RUSAGE_SELF),
                                                         resource.getrusage(resource.RUSAGE_CHILDREN)))

        t0, c0 = time.perf_counter(), cpu()
        warm_kernels(jobs=args.jobs, progress=True, modules=names)
        out = {"wall": time.perf_counter() - t0, "cpu": cpu() - c0, "jobs": args.jobs, "modules": len(names)}
        print(f"  {len(names)} modules, jobs={args.jobs}: {out['wall']:.1f} s wall, {out['cpu']:.1f} s cpu "
              "(all processes)")
        return out
    stack: list[list] = []  # [key, start, child seconds]
    self_s: dict[str, float] = defaultdict(float)
    sigs: dict[str, list[str]] = defaultdict(list)

    class Compiles(event.Listener):
        def on_start(self, ev):
            d = ev.data["dispatcher"]
            key = f"{d.py_func.__module__}.{d.py_func.__qualname__}"
            sigs[key].append(", ".join(map(str, ev.data["args"])))
            stack.append([key, time.perf_counter(), 0.0])

        def on_end(self, ev):
            key, t0, child = stack.pop()
            took = time.perf_counter() - t0
            self_s[key] += took - child
            if stack:
                stack[-1][2] += took

    per_module = {}
    t_all, cpu_all = time.perf_counter(), time.process_time()
    with event.install_listener("numba:compile", Compiles()):
        for name in names:
            t0, c0 = time.perf_counter(), time.process_time()
            warm_modules([name], {})
            per_module[name] = {"wall": time.perf_counter() - t0, "cpu": time.process_time() - c0}
            print(f"  {name:32s} {per_module[name]['wall']:7.2f} s wall {per_module[name]['cpu']:7.2f} s cpu",
                  flush=True)
    total = {"wall": time.perf_counter() - t_all, "cpu": time.process_time() - cpu_all,
             "compiled_signatures": sum(len(v) for v in sigs.values()), "kernels": len(sigs)}
    print(f"  total {total['wall']:.1f} s wall, {total['cpu']:.1f} s cpu; {total['compiled_signatures']} "
          f"signatures of {total['kernels']} kernels compiled")
    top = sorted(self_s.items(), key=lambda kv: -kv[1])[: args.top]
    for key, s in top:
        print(f"  {s:7.2f} s self  x{len(sigs[key])}  {key}")
    multi = {k: v for k, v in sigs.items() if len(v) > 1}
    if multi:
        print("  kernels compiled for more than one signature:")
        for k, v in sorted(multi.items(), key=lambda kv: -self_s[kv[0]]):
            print(f"    {self_s[k]:6.2f} s  {k}")
            for s in v:
                print(f"        ({s})")
    out = {"modules": per_module, "total": total, "self_seconds": dict(self_s), "signatures": dict(sigs)}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(out, f, indent=1)
    return out


if __name__ == "__main__":
    main(sys.argv[1:])
