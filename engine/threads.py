"""Independent pieces of one computation on OS threads, each piece a call of a nogil kernel.

``map_threads(fn, items)`` is ``[fn(x) for x in items]`` spread over up to ``thread_count()`` threads
(``NUMBA_NUM_THREADS``: by default the cores; the service sets it), the calling thread working too. The
kernels are compiled ``nogil`` (``engine._jit``), so the pieces run at once.
``block_threads(n, fn)`` is the form for a kernel over rows: ``fn(c, lo, hi)`` on each thread c, the
kernel doing rows ``lo..hi-1`` of ``n``, one contiguous block per thread. Contiguous, not interleaved:
rows that write small per-row buffers every step (a descent's point and optimizer state, 16 bytes a row)
would share cache lines with the next thread's rows (interleaved, the 200x200 basin map took 37% longer).

Why not a ``prange`` kernel around the pieces: a parallel kernel compiles its body into a gufunc and links
and optimizes everything the body calls once more. Wrapping ``train_epochs`` that way cost 17 s of the
empty-cache warm-up, against none for calling the already compiled kernel from here.

Why not ``concurrent.futures``: under gunicorn's gevent workers ``threading`` is monkey-patched and its
threads are greenlets sharing one OS thread; a kernel never yields, so they would run one after another.
The threads here are the interpreter's own (gevent's originals when it has patched them).
"""

from __future__ import annotations

import contextvars
import sys
from typing import Callable, Sequence, TypeVar

import numba

__all__ = ["block_threads", "map_threads", "thread_count", "threads_for"]

T = TypeVar("T")
R = TypeVar("R")


def thread_count() -> int:
    """The threads a computation is shared out over: ``NUMBA_NUM_THREADS`` (numba's default: the cores).
    Read from numba's configuration, not ``numba.get_num_threads()``, which would start numba's own
    threading layer (a thread pool, and with ``NUMBA_THREADING_LAYER=tbb`` a library) that nothing uses."""
    return max(1, int(numba.config.NUMBA_NUM_THREADS))


def threads_for(n: int, threads: int | None = None) -> int:
    """The threads ``n`` pieces are shared over: ``threads`` (default ``thread_count()``), at most ``n``, at
    least 1 (also the number of per-thread buffers a caller allocates)."""
    return max(1, min(thread_count() if threads is None else int(threads), int(n)))


def _thread_primitives():
    monkey = sys.modules.get("gevent.monkey")
    if monkey is not None and monkey.is_module_patched("_thread"):
        return monkey.get_original("_thread", ("start_new_thread", "allocate_lock"))
    import _thread

    return _thread.start_new_thread, _thread.allocate_lock


def map_threads(fn: Callable[[T], R], items: Sequence[T], threads: int | None = None) -> list[R]:
    """``[fn(x) for x in items]``, the calls shared out over up to ``threads`` OS threads (default:
    ``thread_count()``). Each thread runs in a copy of the caller's context (a deadline set
    there applies). The first exception raised is re-raised here once every thread has stopped."""
    items = list(items)
    k = threads_for(len(items), threads)
    if k == 1:
        return [fn(x) for x in items]
    start, allocate = _thread_primitives()
    results: list = [None] * len(items)
    errors: list[BaseException] = []
    indices = iter(range(len(items)))  # shared: next() on a range iterator is atomic under the GIL

    def work(done) -> None:
        try:
            for i in indices:
                results[i] = fn(items[i])
        except BaseException as e:  # noqa: BLE001 -- handed to the caller below
            errors.append(e)
        finally:
            if done is not None:
                done.release()

    locks = []
    for _ in range(k - 1):
        lock = allocate()
        lock.acquire()
        start(contextvars.copy_context().run, (work, lock))
        locks.append(lock)
    work(None)
    for lock in locks:
        lock.acquire()  # released by its thread when it has no piece left
    if errors:
        raise errors[0]
    return results


def block_threads(n: int, fn: Callable[[int, int, int], object], threads: int | None = None) -> None:
    """``fn(c, lo, hi)`` for the blocks c = 0, 1, ... of ``range(n)``, one contiguous block of about equal size
    per thread (default ``thread_count()`` threads, at most ``n``)."""
    n = int(n)
    k = threads_for(n, threads)
    edges = [n * c // k for c in range(k + 1)]
    map_threads(lambda c: fn(c, edges[c], edges[c + 1]), range(k), k)
