"""A sweep's runs as Dask tasks, several runs to a task, cut by their expected cost.

Dask spends about 1.5 ms of scheduler CPU, 1 ms of client CPU and 2 ms of worker CPU on every task,
whatever the task computes (``python -m bench sweeps``), and on a small machine the scheduler and the
client share the cores with the workers. A small training run computes for ~7 ms, so one task per
run paid half as much again in bookkeeping, and two workers could not double one's throughput. So the
runs travel in **batches**:

* a batch is contiguous runs in task order (a combination's seeds together), cut (``cut``) so that each
  task is expected to take about ``TASK_TARGET_S`` (the kind's ``run_seconds`` of each run's checked
  share of its single-request budget), with at least ``TASKS_PER_WORKER`` tasks per worker so the
  workers finish together, and never more tasks than runs. ``batch=k`` asks for k runs a task instead;
* **the plan travels once**: the per-combination requests, seed paths and seeds are one Dask task
  (``<prefix>-plan``) every batch depends on, so a worker receives them once, not once per task; being a
  task (not scattered data) the scheduler can recompute it if the worker holding it dies;
* **a batch is a pure function of (plan, first run, end)**, each run a pure function of its request: a
  batch rerun after a worker died gives the same numbers, and every run's numbers equal the same request
  run alone (tested bit for bit, batched and not);
* **compact results**: a batch returns columns (a list per metric over its rows, the rows of each run,
  each run's wall and CPU seconds), not a dict per row; ``unpack`` turns them into per-run outputs;
* **progress counts runs**: when a batch ends, its runs are done (``Batches``).
"""

from __future__ import annotations

import copy
import math
import os
import re
import time
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from .errors import EngineInputError
from .sweep_kinds import KINDS
from .sweep_results import SweepResult, collect
from .sweeps import SweepPlan, plain, plan_sweep, task_of, with_seed
from .validate import check_int

__all__ = ["sweep"]

TASK_TARGET_S = 0.1  # expected seconds of one task: ~2% of it is Dask's per-task cost
TASKS_PER_WORKER = 4  # at least this many tasks per worker: the last ones end close together


# -- cutting ---------------------------------------------------------------------------------------------
def cut(seconds: Sequence[float], workers: int, batch: int | None = None) -> tuple[int, ...]:
    """Batch bounds over runs of expected ``seconds``: batch b is runs ``bounds[b] .. bounds[b+1] - 1``.

    Aim at ``nb = max(⌈Σ seconds / TASK_TARGET_S⌉, TASKS_PER_WORKER × workers)`` batches of equal expected
    time: batch j ends before the first run whose middle lies past j/nb of the total. A run dearer than
    a share is a batch of its own (fewer batches then), never more batches than runs. ``batch`` fixes the
    runs per task instead."""
    n = len(seconds)
    if batch is not None:
        return tuple(range(0, n, batch)) + (n,)
    s = np.asarray(seconds, dtype=np.float64)
    total = float(s.sum())
    nb = max(1, min(n, max(math.ceil(total / TASK_TARGET_S - 1e-9), TASKS_PER_WORKER * max(1, workers))))
    middles = np.cumsum(s) - s / 2
    cuts = np.searchsorted(middles, total * np.arange(1, nb) / nb, side="left")
    return tuple(sorted({0, n} | {int(c) for c in cuts}))


_ADDRESS = re.compile(r"^(?:tcp|tls|inproc|ucx|ws|wss)://\S+$")


def check_client(client):
    """None, ``"sync"``, a scheduler address (``tcp://host:port``) or an object with ``map`` and ``gather`` (a
    ``distributed.Client``); anything else is refused before a connection is tried."""
    if client is None or (isinstance(client, str) and client == "sync"):
        return client
    if isinstance(client, str):
        if not _ADDRESS.match(client):
            raise EngineInputError("client", "must be None, 'sync', a scheduler address 'tcp://host:port' "
                                             "or a distributed.Client")
        return client
    if not (callable(getattr(client, "map", None)) and callable(getattr(client, "gather", None))):
        raise EngineInputError("client", "must be None, 'sync', a scheduler address or a distributed.Client")
    return client


def check_batch(batch) -> int | None:
    return None if batch is None else check_int("batch", batch, 1)


@dataclass(frozen=True)
class Batches:
    """A sweep's tasks: ``bounds`` (see ``cut``) over its runs."""

    bounds: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.bounds) - 1

    def runs(self, b: int) -> range:
        return range(self.bounds[b], self.bounds[b + 1])

    def runs_ended(self, ended: Sequence[int]) -> int:
        """Runs done when the batches ``ended`` have."""
        return sum(len(self.runs(b)) for b in ended)


def batches_for(p: SweepPlan, workers: int, batch: int | None = None) -> Batches:
    k = KINDS[p.spec.kind]
    per_combination = [k.run_seconds(share) for share in p.shares]
    seconds = [per_combination[p.spec.task(i)[0]] for i in range(p.spec.n_tasks)]
    return Batches(cut(seconds, workers, batch))


# -- running ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class RunPlan:
    """What a worker needs to build any run's request: sent once per sweep, as the ``-plan`` task."""

    kind: str
    metrics: tuple[str, ...]
    requests: tuple[dict, ...]  # one per combination, engine keyword arguments
    seed_paths: tuple[str, ...]
    seeds: tuple[int, ...]

    @classmethod
    def of(cls, p: SweepPlan) -> "RunPlan":
        return cls(p.spec.kind, tuple(p.spec.metrics), p.requests, p.seed_paths, p.spec.seeds)

    def request(self, i: int) -> dict:
        """Run ``i``'s request (as ``SweepPlan.task_request``, from what travels to the workers)."""
        c, seed = task_of(i, self.seeds)
        return with_seed(self.requests[c], self.seed_paths, seed)


def run_task(kind: str, request: dict, metrics: Sequence[str]) -> dict:
    """One run: ``{"rows": [{"coords", "metrics"}], "seconds", "cpu_seconds"}`` (wall and this thread's CPU
    time), with ``"error": {"field", "message"}`` instead of rows if the engine refused the request (every
    request was checked before submission: not expected)."""
    k = KINDS[kind]
    t0, c0 = time.perf_counter(), time.thread_time()
    try:
        result = k.run(**copy.deepcopy(request))
        out = {"rows": [{"coords": plain(extra), "metrics": {m: plain(values[m]) for m in metrics}}
                        for extra, values in k.rows(result)]}
    except EngineInputError as err:
        out = {"rows": [], "error": {"field": err.field, "message": err.message}}
    return {**out, "seconds": time.perf_counter() - t0, "cpu_seconds": time.thread_time() - c0}


def run_batch(plan: RunPlan, start: int, stop: int) -> dict:
    """Runs ``start .. stop - 1`` of a sweep, one after the other, as columns (see ``unpack``)."""
    n_rows, coords, seconds, cpu, errors = [], [], [], [], {}
    values: dict[str, list] = {m: [] for m in plan.metrics}
    for i in range(start, stop):
        out = run_task(plan.kind, plan.request(i), plan.metrics)
        n_rows.append(len(out["rows"]))
        for row in out["rows"]:
            coords.append(row["coords"])
            for m in plan.metrics:
                values[m].append(row["metrics"][m])
        seconds.append(out["seconds"])
        cpu.append(out["cpu_seconds"])
        if "error" in out:
            errors[i] = out["error"]
    return {"start": start, "n_rows": n_rows, "coords": coords if any(coords) else None, "values": values,
            "seconds": seconds, "cpu_seconds": cpu, "errors": errors}


def unpack(out: Mapping) -> dict[int, dict]:
    """A batch's columns as per-run outputs (``run_task``'s form, what ``collect`` reads), by run index."""
    metrics, values, coords = list(out["values"]), out["values"], out["coords"]
    runs, r = {}, 0
    for j, n in enumerate(out["n_rows"]):
        rows = [{"coords": coords[q] if coords else {}, "metrics": {m: values[m][q] for m in metrics}}
                for q in range(r, r + n)]
        r += n
        i = out["start"] + j
        runs[i] = {"rows": rows, "seconds": out["seconds"][j], "cpu_seconds": out["cpu_seconds"][j]}
        if i in out["errors"]:
            runs[i]["error"] = out["errors"][i]
    return runs


def plan_key(prefix: str) -> str:
    return f"{prefix}-plan"


def task_key(prefix: str, b: int) -> str:
    return f"{prefix}-{b:06d}"


def _identity(x):
    return x


def submit(client, plan: RunPlan, batches: Batches, prefix: str) -> tuple[Any, list]:
    """The plan task and one task per batch; keys ``<prefix>-plan``, ``<prefix>-000000``... so that any
    process can find them again."""
    held = client.submit(_identity, plan, key=plan_key(prefix), pure=False)
    # Dask places a task only on workers that hold its dependencies (distributed's decide_worker): with the
    # plan on one worker, every batch queued there and the others got work only by stealing (2 workers:
    # 1.42x one, not 2x). A copy on every worker lets the scheduler spread the batches from the start.
    client.replicate([held])
    n = len(batches)
    futures = client.map(run_batch, [held] * n, list(batches.bounds[:-1]), list(batches.bounds[1:]),
                         key=[task_key(prefix, b) for b in range(n)], pure=False)
    return held, futures


def n_workers(client) -> int:
    return max(1, len(client.scheduler_info(n_workers=-1)["workers"]))


def local_cluster(n_workers: int | None = None):
    """A LocalCluster of single-threaded worker processes, one per core (``n_workers`` overrides)."""
    from distributed import LocalCluster

    n = n_workers or (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1)
    env = {"NUMBA_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "NUMBA_THREADING_LAYER": "workqueue",
           "DASK_DISTRIBUTED__WORKER__PROFILE__ENABLED": "False"}  # as service.launch.start_workers
    return LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None, env=env)


@dataclass(frozen=True)
class Execution:
    outputs: dict  # run index -> run_task's output
    batches: Batches


def execute(p: SweepPlan, client=None, progress: Callable[[int, int], Any] | None = None,
            batch: int | None = None) -> Execution:
    """Run every run of ``p``, in batches; ``progress(runs done, total)`` after each batch."""
    total = p.spec.n_tasks
    plan = RunPlan.of(p)
    if client == "sync":
        batches = batches_for(p, 1, batch)
        out: dict = {}
        for b in range(len(batches)):
            r = batches.runs(b)
            out.update(unpack(run_batch(plan, r.start, r.stop)))
            if progress:
                progress(len(out), total)
        return Execution(out, batches)
    from distributed import Client, as_completed

    owned = []
    if client is None:
        owned.append(local_cluster())
        client = Client(owned[0], set_as_default=False)
        owned.insert(0, client)
    elif isinstance(client, str):
        client = Client(client, set_as_default=False)
        owned.append(client)
    try:
        batches = batches_for(p, n_workers(client), batch)
        prefix = f"descentlab-sweep-local-{time.time_ns():x}"
        _, futures = submit(client, plan, batches, prefix)
        if progress:
            index, done = {f.key: b for b, f in enumerate(futures)}, 0
            for f in as_completed(futures, loop=client.loop):
                done += len(batches.runs(index[f.key]))
                progress(done, total)
        out = {}
        for o in client.gather(futures):  # one round trip for every result
            out.update(unpack(o))
        return Execution(out, batches)
    finally:
        for obj in owned:
            obj.close()


def sweep(kind: str, base: Mapping[str, Any], axes: Mapping[str, Sequence[Any]] | None = None,
          seeds: Sequence[int] | None = None, metrics: Sequence[str] | None = None, client: Any = None,
          seed_fields: Sequence[str] | None = None, progress: Callable[[int, int], Any] | None = None,
          batch: int | None = None) -> SweepResult:
    """Run ``kind`` (a key of ``engine.sweep_kinds.KINDS``) for every combination of ``axes`` and every
    seed, from ``base`` (the engine function's keyword arguments); see ``engine.sweeps``.

    ``client``: None starts a ``LocalCluster`` (one single-threaded worker process per core) for the
    call; ``"sync"`` runs everything in this process; a ``distributed.Client`` or a scheduler address
    (``"tcp://host:port"``) runs on that cluster. ``progress(done, total)`` is called as runs finish.
    ``batch``: runs per Dask task (default: cut by expected cost, see the module docstring). Everything is
    validated before any task runs.

    >>> base = {"surface": "quadratic", "start": [1.0, 1.0], "steps": 3, "optimizer": {"name": "sgd", "lr": 0.1}}
    >>> res = engine.sweep("descent/trajectory", base, {"optimizer.lr": [0.01, 0.1]}, metrics=["final_loss"],
    ...                    client="sync")
    >>> [r["coords"]["optimizer.lr"] for r in res.records()], bool(np.diff(res.columns["final_loss"]) < 0)
    ([0.01, 0.1], True)
    """
    client = check_client(client)
    if progress is not None and not callable(progress):
        raise EngineInputError("progress", "must be a function progress(done, total) or None")
    batch = check_batch(batch)
    p = plan_sweep(kind, base, axes, seeds, metrics, seed_fields)
    ex = execute(p, client, progress, batch)
    return collect(p.spec, ex.outputs, n_batches=len(ex.batches))


def _warmup() -> None:
    """A two-run sweep in this process: planning, the batch wrapper and collecting the rows (Python only;
    the kinds' kernels are warmed by their modules)."""
    sweep("descent/trajectory", KINDS["descent/trajectory"].example, {"steps": [2, 3]}, client="sync").columns
