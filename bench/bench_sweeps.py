"""Sweeps on Dask: throughput with 1 and 2 workers, and what Dask costs per task.

A real cluster, the commands ``make serve`` runs: a ``dask scheduler`` and single-threaded ``dask worker``
processes (no nanny), each preloading the kernel warm-up. Medians of REPEATS:

* **throughput**: a sweep of 256 small training runs (``engine.sweep("training/run", ...)``: sine, 1-16-16-1
  tanh, 60 points, 100 epochs, batch 10; 64 learning rates x 4 seeds) on 1 worker, then on 2; target:
  2 workers >= 1.7x the throughput of 1;
* **per-task overhead**, target < 5 ms: (a) wall: the sweep's wall time x workers / runs, minus the time a
  run computes (measured inside the task); (b) CPU: what each process spends per task beyond the run itself
  (the worker's CPU time minus the runs' own thread CPU time; the scheduler's; the client's), read from
  /proc. On a machine shared with other jobs (a) includes waiting for a core; (b) does not;
* 1,000 no-op tasks through ``client.map`` (submission, scheduling, bookkeeping, the result's trip back);
* the **paper estimate** for W workers, each with its own core: ``min(W / (t_run + o_worker), 1 / o_scheduler)``
  from the CPU figures (Dask's scheduler does its per-task work once per task, whatever W).

Run: ``python -m bench sweeps`` (or ``python -m bench.bench_sweeps``). Needs 2 free cores to mean anything:
the load average is printed beside the figures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

REPEATS = 3
NOOPS = 1000
N = 256
BASE = {"dataset": {"name": "sine", "n_train": 60, "n_val": 100, "noise": 0.3},
        "model": {"layers": [1, 16, 16, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.01},
        "epochs": 100, "batch_size": 10}
AXES = {"optimizer.lr": [0.001 * (1 + i) for i in range(64)]}
SEEDS = [0, 1, 2, 3]


def noop(i: int) -> int:
    return i


def _cpu(pid: int) -> float:
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Wall time and the CPU time of the scheduler, the workers and this (client) process over a block."""

    def __init__(self, scheduler, workers):
        self.pids = {"scheduler": [scheduler.pid], "workers": [w.pid for w in workers]}

    def __enter__(self):
        self.t0, self.c0 = time.perf_counter(), time.process_time()
        self.cpu0 = {k: sum(map(_cpu, v)) for k, v in self.pids.items()}
        return self

    def __exit__(self, *exc):
        self.wall = time.perf_counter() - self.t0
        self.cpu = {k: sum(map(_cpu, v)) - self.cpu0[k] for k, v in self.pids.items()}
        self.cpu["client"] = time.process_time() - self.c0


def _sweep(client, meter: Meter) -> dict:
    import engine

    with meter:
        res = engine.sweep("training/run", BASE, AXES, SEEDS, ["final_val_loss"], client=client)
    assert res.done == res.total == N and not res.errors
    return {"wall": meter.wall, "run_wall": statistics.mean(res.seconds), "run_cpu": statistics.mean(res.cpu_seconds),
            "sum_run_cpu": sum(res.cpu_seconds), **{f"cpu_{k}": v for k, v in meter.cpu.items()},
            "records": res.records()}


def _noops(client, meter: Meter) -> dict:
    with meter:
        client.gather(client.map(noop, range(NOOPS), pure=False))
    return {"wall": meter.wall, **{f"cpu_{k}": v for k, v in meter.cpu.items()}}


def _median(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "records"}


def measure() -> dict:
    from distributed import Client

    from service.launch import free_port, start_scheduler, start_workers, stop, wait_for_port

    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    sched = start_scheduler(port, stderr=subprocess.DEVNULL)
    workers: list = []
    out: dict = {}
    try:
        wait_for_port(port, proc=sched)
        with Client(address, set_as_default=False) as client:
            for n in (1, 2):
                workers.append(start_workers(address, 1, nanny=False, stderr=subprocess.DEVNULL))
                client.wait_for_workers(n, timeout=300)
                meter = Meter(sched, workers)
                _sweep(client, meter)  # warm: each worker's first call of every kernel, the client's imports
                runs = [_sweep(client, meter) for _ in range(REPEATS)]
                out[n] = _median(runs)
                out[n]["records"] = runs[0]["records"]
                out[n]["noop"] = _median([_noops(client, meter) for _ in range(REPEATS)])
                out[n]["load"] = os.getloadavg()[0]
    finally:
        for p in reversed(workers + [sched]):
            stop(p, timeout=10)
    return out


def main() -> None:
    m = measure()
    one, two = m[1], m[2]
    thr1, thr2 = N / one["wall"], N / two["wall"]
    print(f"sweep of {N} training runs (64 lrs x 4 seeds; sine 1-16-16-1, 100 epochs), median of {REPEATS}:")
    for n, r, thr in ((1, one, thr1), (2, two, thr2)):
        print(f"  {n} worker{'s' if n > 1 else ' '}: {r['wall']:.2f} s, {thr:.1f} runs/s; a run: {r['run_wall'] * 1e3:.1f} ms "
              f"wall, {r['run_cpu'] * 1e3:.1f} ms CPU  (load average {r['load']:.1f})")
    print(f"  speed-up 2 vs 1 worker: {thr2 / thr1:.2f}x (target >= 1.7x: {'met' if thr2 / thr1 >= 1.7 else 'NOT met'}); "
          f"same numbers on 1 and 2 workers: {one['records'] == two['records']}")
    wall_over = one["wall"] / N - one["run_wall"]
    w_cpu = (one["cpu_workers"] - one["sum_run_cpu"]) / N
    s_cpu, c_cpu = one["cpu_scheduler"] / N, one["cpu_client"] / N
    print(f"per-task overhead (1 worker): wall {wall_over * 1e3:.2f} ms (target < 5 ms: "
          f"{'met' if wall_over < 5e-3 else 'NOT met'}); CPU per task: worker {w_cpu * 1e3:.2f} ms beyond the run, "
          f"scheduler {s_cpu * 1e3:.2f} ms, client {c_cpu * 1e3:.2f} ms")
    nz = one["noop"]
    print(f"{NOOPS} no-op tasks, 1 worker: {nz['wall'] / NOOPS * 1e3:.2f} ms each wall; CPU per task: worker "
          f"{nz['cpu_workers'] / NOOPS * 1e3:.2f} ms, scheduler {nz['cpu_scheduler'] / NOOPS * 1e3:.2f} ms, client "
          f"{nz['cpu_client'] / NOOPS * 1e3:.2f} ms; 2 workers: {two['noop']['wall'] / NOOPS * 1e3:.2f} ms each wall")
    t, o, sched_rate = one["run_cpu"], w_cpu, 1 / max(s_cpu, 1e-9)
    for w in (10, 100):
        est = min(w / (t + o), sched_rate)
        bound = "the scheduler" if est == sched_rate else "the workers"
        print(f"paper estimate, {w} workers: {est:,.0f} runs/s of this size (bound by {bound}: "
              f"{w} / ({t * 1e3:.1f} + {o * 1e3:.2f}) ms vs 1 / {s_cpu * 1e3:.2f} ms); runs of 1 s: "
              f"{min(w / (1 + o), sched_rate):.1f} runs/s")


if __name__ == "__main__":
    main()
