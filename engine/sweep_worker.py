"""Dask workers for sweeps: every kernel warm before the first task, one thread per worker process.

Start a worker with this module as its preload (``make serve``'s launcher and docker-compose do)::

    dask worker tcp://127.0.0.1:8786 --nthreads 1 --preload engine.sweep_worker

``dask_setup`` runs in the worker process before it registers with the scheduler, so no task ever
waits for numba: it loads every kernel from the shared ``NUMBA_CACHE_DIR`` (~1 s once the cache is
warm; the launcher and the Docker build warm it first) or compiles what is missing. For a cluster
started without the preload, ``client.register_plugin(WarmKernels())`` does the same on every
current and future worker.

A worker runs one task at a time on one core: ``--nthreads 1`` and, in its environment (the launcher,
docker-compose and ``engine.sweep_tasks.local_cluster`` set them), ``NUMBA_NUM_THREADS=1``,
``OPENBLAS_NUM_THREADS=1``, ``NUMBA_THREADING_LAYER=workqueue``. A sweep's parallelism is its many tasks;
a second thread per process would only contend with the others. This module does not set them itself:
importing it must not change the importing process's numba.
"""

from __future__ import annotations

import logging
import time

try:  # distributed is a dependency; the import is guarded only so the engine imports without it
    from distributed.diagnostics.plugin import WorkerPlugin
except ImportError:  # pragma: no cover
    WorkerPlugin = object

log = logging.getLogger("descentlab")

def warm() -> float:
    """Compile or load every kernel in this process; the seconds it took."""
    import engine

    t0 = time.perf_counter()
    engine.warm_kernels(jobs=1)  # the launcher warmed the shared cache already: this only loads
    seconds = time.perf_counter() - t0
    log.info("descentlab sweep worker: kernels warm in %.2f s", seconds)
    return seconds


class WarmKernels(WorkerPlugin):
    name = "descentlab-warm-kernels"

    def setup(self, worker):
        warm()


def dask_setup(worker) -> None:  # dask's preload hook
    warm()
