"""Sweeps on Dask: throughput with 1 and 2 workers, and what Dask costs per task and per run.

A real cluster, the commands ``make serve`` runs: a ``dask scheduler`` and single-threaded ``dask worker``
processes (no nanny; ``--nthreads 1`` and ``NUMBA_NUM_THREADS=1``, checked on every worker), each preloading
the kernel warm-up. The 1-worker and 2-worker sweeps are the same call (same batches: the cut gives the
same tasks for both, printed). Medians of REPEATS, and every repeat printed (the machine is shared):

* **throughput**: a sweep of 256 small training runs (``engine.sweep("training/run", ...)``: sine, 1-16-16-1
  tanh, 60 points, 100 epochs, batch 10; 64 learning rates x 4 seeds) on 1 worker, then on 2, batched as
  ``engine.sweep`` batches (``engine.sweep_tasks``: several runs a Dask task); target: 2 workers >= 1.7x
  the throughput of 1. The same sweep with one run a task (``batch=1``, the earlier way) beside it;
* **overhead**, target < 5 ms a task: (a) wall: the sweep's wall time / runs, minus the time a run computes
  (measured inside the task), on 1 worker, per run; (b) CPU: what each process spends beyond the runs
  themselves (the worker's CPU time minus the runs' own thread CPU time; the scheduler's; the client's,
  planning and collecting included), read from /proc, less what each process burns idle over the same
  wall time (measured for IDLE_S first: heartbeats and monitors cost per second, not per task), per Dask
  task and per run. On a machine shared with other jobs (a) includes waiting for a core; (b) does not;
* 1,000 no-op tasks through ``client.map`` (submission, scheduling, bookkeeping, the result's trip back);
* the **paper estimate** for W workers, each with its own core, on the largest sweep (max_sweep_tasks runs
  of this size, cut as engine.sweep cuts it for W workers: k runs a task):
  ``min(W / (t_run + o_worker/k), k / max(o_scheduler, o_client))`` from the CPU figures (the scheduler and
  the client each do their per-task work once per task, whatever W, in processes of their own).

Run: ``python -m bench sweeps`` (or ``python -m bench.bench_sweeps``). Needs 2 free cores to mean anything:
the load average is printed beside the figures.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import time

REPEATS = 3
IDLE_S = 3.0
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


def _sweep(client, meter: Meter, batch: int | None = None) -> dict:
    import engine

    with meter:
        res = engine.sweep("training/run", BASE, AXES, SEEDS, ["final_val_loss"], client=client, batch=batch)
    assert res.done == res.total == N and not res.errors
    return {"wall": meter.wall, "run_wall": statistics.mean(res.seconds), "run_cpu": statistics.mean(res.cpu_seconds),
            "sum_run_cpu": sum(res.cpu_seconds), "tasks": res.dask_tasks,
            **{f"cpu_{k}": v for k, v in meter.cpu.items()}, "records": res.records()}


def _noops(client, meter: Meter) -> dict:
    with meter:
        client.gather(client.map(noop, range(NOOPS), pure=False))
    return {"wall": meter.wall, **{f"cpu_{k}": v for k, v in meter.cpu.items()}}


def _median(runs: list[dict]) -> dict:
    return {k: statistics.median(r[k] for r in runs) for k in runs[0] if k != "records"}


def _numba_threads() -> tuple[int, str]:
    import numba

    return numba.config.NUMBA_NUM_THREADS, os.environ.get("OPENBLAS_NUM_THREADS", "")


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
                info = client.scheduler_info(n_workers=-1)["workers"].values()
                threads = {"nthreads": sorted(w["nthreads"] for w in info),
                           "numba": sorted(client.run(_numba_threads).values())}
                meter = Meter(sched, workers)
                _sweep(client, meter)  # warm: each worker's first call of every kernel, the client's imports
                with meter:  # what the processes burn idle (heartbeats, monitors), per second: not per task
                    time.sleep(IDLE_S)
                idle = {k: v / meter.wall for k, v in meter.cpu.items()}
                load0 = os.getloadavg()[0]
                runs, single = [], []
                for _ in range(REPEATS):  # interleaved: both ways see the same moments of the machine
                    runs.append(_sweep(client, meter))
                    single.append(_sweep(client, meter, batch=1))
                out[n] = _median(runs)
                out[n]["all_walls"] = [r["wall"] for r in runs]
                out[n]["records"] = runs[0]["records"]
                out[n]["single"] = _median(single)
                out[n]["single"]["records"] = single[0]["records"]
                out[n]["noop"] = _median([_noops(client, meter) for _ in range(REPEATS)])
                out[n]["load"] = (load0, os.getloadavg()[0])
                out[n]["threads"] = threads
                out[n]["idle"] = idle
    finally:
        for p in reversed(workers + [sched]):
            stop(p, timeout=10)
    return out


def paper_estimate(workers: int, t_run: float, o_worker_task: float, o_serial_task: float, runs: int) -> tuple:
    """(runs/s, what bounds it, k runs a task) for ``runs`` runs of ``t_run`` s on ``workers`` workers."""
    from engine.sweep_tasks import cut

    bounds = cut([t_run] * runs, workers)
    k = runs / (len(bounds) - 1)
    by_workers = workers / (t_run + o_worker_task / k)
    by_serial = k / o_serial_task
    return min(by_workers, by_serial), "the workers" if by_workers <= by_serial else "the scheduler/client", k


def main() -> None:
    from engine import SWEEP_LIMITS

    m = measure()
    one, two = m[1], m[2]
    thr1, thr2 = N / one["wall"], N / two["wall"]
    s_thr1, s_thr2 = N / one["single"]["wall"], N / two["single"]["wall"]
    print(f"sweep of {N} training runs (64 lrs x 4 seeds; sine 1-16-16-1, 100 epochs), median of {REPEATS}:")
    for n, r, thr in ((1, one, thr1), (2, two, thr2)):
        print(f"  {n} worker{'s' if n > 1 else ' '}: {r['wall']:.2f} s, {thr:.1f} runs/s in {r['tasks']:.0f} Dask tasks "
              f"(repeats {', '.join(f'{w:.2f}' for w in r['all_walls'])} s); a run: {r['run_wall'] * 1e3:.1f} ms wall, "
              f"{r['run_cpu'] * 1e3:.1f} ms CPU  (load average {r['load'][0]:.1f} -> {r['load'][1]:.1f}; workers' "
              f"threads {r['threads']['nthreads']}, numba/openblas threads {r['threads']['numba']})")
    print(f"  speed-up 2 vs 1 worker: {thr2 / thr1:.2f}x (target >= 1.7x: {'met' if thr2 / thr1 >= 1.7 else 'NOT met'}); "
          f"same numbers on 1 and 2 workers, batched or not: "
          f"{one['records'] == two['records'] == one['single']['records'] == two['single']['records']}")
    print(f"  one run a task (batch=1, {N} tasks): 1 worker {s_thr1:.1f} runs/s, 2 workers {s_thr2:.1f} runs/s, "
          f"{s_thr2 / s_thr1:.2f}x; batched vs not: {thr1 / s_thr1:.2f}x on 1 worker, {thr2 / s_thr2:.2f}x on 2")
    tasks, idle = one["tasks"], one["idle"]
    wall_over = one["wall"] / N - one["run_wall"]
    # the CPU the processes would have spent idle over the sweep's wall time is not a cost of its tasks
    w_cpu = one["cpu_workers"] - one["sum_run_cpu"] - idle["workers"] * one["wall"]
    s_cpu = one["cpu_scheduler"] - idle["scheduler"] * one["wall"]
    c_cpu = one["cpu_client"] - idle["client"] * one["wall"]
    print(f"idle CPU per second (subtracted below): worker {idle['workers'] * 1e3:.1f} ms, scheduler "
          f"{idle['scheduler'] * 1e3:.1f} ms, client {idle['client'] * 1e3:.1f} ms")
    print(f"overhead (1 worker): wall {wall_over * 1e3:.2f} ms a run, {wall_over * N / tasks * 1e3:.2f} ms a task "
          f"(target < 5 ms: {'met' if wall_over * N / tasks < 5e-3 else 'NOT met'}); CPU a task: worker "
          f"{w_cpu / tasks * 1e3:.2f} ms beyond the runs, scheduler {s_cpu / tasks * 1e3:.2f} ms, client "
          f"{c_cpu / tasks * 1e3:.2f} ms; a run: {w_cpu / N * 1e3:.3f} / {s_cpu / N * 1e3:.3f} / {c_cpu / N * 1e3:.3f} ms")
    sg = one["single"]
    print(f"  one run a task: wall {(sg['wall'] / N - sg['run_wall']) * 1e3:.2f} ms a run; CPU a run: worker "
          f"{(sg['cpu_workers'] - sg['sum_run_cpu'] - idle['workers'] * sg['wall']) / N * 1e3:.2f} ms, scheduler "
          f"{(sg['cpu_scheduler'] - idle['scheduler'] * sg['wall']) / N * 1e3:.2f} ms, "
          f"client {(sg['cpu_client'] - idle['client'] * sg['wall']) / N * 1e3:.2f} ms")
    nz = one["noop"]
    print(f"{NOOPS} no-op tasks, 1 worker: {nz['wall'] / NOOPS * 1e3:.2f} ms each wall; CPU per task: worker "
          f"{nz['cpu_workers'] / NOOPS * 1e3:.2f} ms, scheduler {nz['cpu_scheduler'] / NOOPS * 1e3:.2f} ms, client "
          f"{nz['cpu_client'] / NOOPS * 1e3:.2f} ms; 2 workers: {two['noop']['wall'] / NOOPS * 1e3:.2f} ms each wall")
    t, o_w, o_serial = one["run_cpu"], w_cpu / tasks, max(s_cpu, c_cpu) / tasks
    big = SWEEP_LIMITS["max_sweep_tasks"]
    for w in (10, 100):
        est, bound, k = paper_estimate(w, t, o_w, o_serial, big)
        print(f"paper estimate, {w} workers, {big} runs of this size ({k:.1f} a task): {est:,.0f} runs/s (bound by "
              f"{bound}: {w} / ({t * 1e3:.1f} + {o_w * 1e3:.2f}/{k:.1f}) ms vs {k:.1f} / {o_serial * 1e3:.2f} ms); "
              f"runs of 1 s: {paper_estimate(w, 1.0, o_w, o_serial, big)[0]:.1f} runs/s")


if __name__ == "__main__":
    main()
