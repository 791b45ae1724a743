"""Deadlines for long computations: set one, and the long loops stop when it passes.

    with engine.deadline(5.0):      # seconds from now
        engine.basin_map(...)       # raises engine.DeadlineExceeded if not done in time

Kernels are never interrupted. The computations that can run for seconds at the work limits split
their kernel call into chunks over an outer, independent axis and check the deadline between chunks
(``run_chunked``): basin maps (grid rows), races and learning-rate sweeps (runs), training runs and
regularization comparisons (epochs), network landscapes (training steps, then grid rows), gradient
profiles (training steps). The curvature computations check it between Hessian-vector products
(engine.hvp) and between saddle-search starts (engine.saddles). Results are identical to one call: each chunk is the same kernel on a
slice, or the same steps in order. Without a deadline the work runs in one call, as before. After a
first chunk of one unit, chunks are sized to take about ``CHUNK_S`` seconds, so a stop comes at most
one chunk late. What is not chunked is bounded well under a second by its limits (a 1000x1000 grid
sweep: 0.08 s; 10,000 Newton runs of critical points; one trajectory of 100,000 steps).

``extend`` lets the caller decide, when the deadline passes, whether the work may go on: it returns
a later deadline or ``None``. The service uses it to let a request that turned out to be long continue
only if it can take one of the replica's heavy-work slots (``service.admission``).

The deadline is a context variable: it applies to the thread (or task) that set it.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

from .errors import DeadlineExceeded, EngineInputError
from .registry import ParamSpec
from .validate import check_float

__all__ = ["DeadlineExceeded", "deadline"]

# Target seconds of one chunk: how late a stop may come. Each chunk is a new call (and, for a grid or a
# basin map, a new set of OS threads from engine.threads): measured when these were numba parallel
# kernels, a 500x500 basin map took 17.7 s chunked against 17.6 s in one call (load average 9).
CHUNK_S = 0.2


@dataclass
class Deadline:
    at: float  # time.monotonic() after which work stops
    extend: Callable[[], float | None] | None = None  # asked once when ``at`` passes: a later ``at``, or None


_current: ContextVar[Deadline | None] = ContextVar("engine_deadline", default=None)


def deadline(seconds: float | None = None, *, at: float | None = None,
             extend: Callable[[], float | None] | None = None) -> AbstractContextManager[Deadline | None]:
    """Stop chunked computations ``seconds`` from now (or at monotonic time ``at``) inside this block.

    ``seconds`` >= 0 (or ``at``, a ``time.monotonic()`` value); ``extend``, asked once when the time
    passes, may return a later ``at``. Checked when called, before the block runs.

    >>> with engine.deadline(60.0) as d:
    ...     d is not None
    True
    """
    if seconds is not None:
        seconds = check_float("seconds", seconds, 0.0)
    if at is not None:
        at = check_float("at", at)
    if extend is not None and not callable(extend):
        raise EngineInputError("extend", "must be callable: extend() -> a later time.monotonic() value, or None")
    return _deadline(seconds, at, extend)


@contextmanager
def _deadline(seconds: float | None, at: float | None,
              extend: Callable[[], float | None] | None) -> Iterator[Deadline | None]:
    if seconds is None and at is None:
        yield None
        return
    d = Deadline(at if at is not None else time.monotonic() + float(seconds), extend)
    token = _current.set(d)
    try:
        yield d
    finally:
        _current.reset(token)


def current() -> Deadline | None:
    return _current.get()


def check(what: str) -> None:
    """Raise ``DeadlineExceeded`` if the current deadline has passed (and ``extend`` did not push it)."""
    d = _current.get()
    if d is None:
        return
    now = time.monotonic()
    if now < d.at:
        return
    if d.extend is not None:
        extend, d.extend = d.extend, None  # asked once
        later = extend()
        if later is not None and later > now:
            d.at = later
            return
    raise DeadlineExceeded(what)


def run_chunked(n: int, run: Callable[[int, int], object], what: str) -> None:
    """Cover ``[0, n)`` with calls ``run(a, b)``, checking the deadline between them.

    One call when no deadline is set. ``run`` returning a true value stops early (e.g. every training
    run has stopped). The first chunk is one unit; the next ones take about ``CHUNK_S`` each.
    """
    if _current.get() is None or n <= 1:
        run(0, n)
        return
    a, size = 0, 1
    while a < n:
        check(what)
        b = min(n, a + size)
        t0 = time.perf_counter()
        if run(a, b):
            return
        per_unit = (time.perf_counter() - t0) / (b - a)
        a = b
        # the next chunk takes about CHUNK_S (growing at most 8x a step: the first units may be cheap)
        size = max(1, min(size * 8, int(CHUNK_S / per_unit) if per_unit > 0 else size * 8))
    check(what)


# the computations that run in chunks under a deadline (the ``what`` a DeadlineExceeded names)
CHUNKED = {
    "basins": "basin maps, by grid rows",
    "descent runs": "races and learning-rate sweeps, by runs",
    "training epochs": "training runs and regularization comparisons, by epochs",
    "network landscape training": "the network landscape's training, by steps",
    "network landscape": "the network landscape's grid, by rows",
    "gradient profile training": "the gradient profile's training, by steps",
    "language-model training": "language-model runs (train and stream), by steps between evaluations",
    # not run_chunked: checked between steps that are each short
    "hessian-vector products": "Hessian spectra, traces, densities and sharpness records, between products",
    "saddle search": "the network critical-point search, between starts",
}


def describe() -> list[dict]:
    """Catalog entry for ``"deadlines"``: what stops at a deadline, and how late a stop may come."""
    return [{
        "name": "deadline",
        "title": "Deadlines for long computations",
        "parameters": [ParamSpec("seconds", None, 0.0, None,
                                 doc="engine.deadline(seconds): chunked computations inside stop this long from "
                                     "now with DeadlineExceeded (the service: 503 with Retry-After)").to_dict()],
        "chunked": [{"what": k, "split": v} for k, v in CHUNKED.items()],
        "chunk_seconds": CHUNK_S,
        "rule": "kernels are never interrupted: the deadline is checked between chunks of about chunk_seconds, "
                "so a stop comes at most one chunk late; chunked or not, the numbers are the same",
    }]


def _warmup() -> None:
    """No kernels here; cover a range in chunks once under a deadline so the path is exercised at startup."""
    with deadline(60):
        run_chunked(2, lambda a, b: None, "warm-up")
