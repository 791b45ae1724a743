"""Fairness and deadlines on one replica: light work never queues behind heavy work, and nothing
runs past ``DEADLINE_S``.

Every request that computes runs in an OS thread of its own (``offload``): under gunicorn's gevent
worker the event loop keeps accepting, reading, writing and answering ``/healthz`` while kernels run,
and the kernels release the GIL (``nogil``; none uses numba's threading layer, so several run at
once in any process, ``service.serving``). The OS shares the cores among running requests, so a 2 ms
loss evaluation is not queued behind a 5 s basin map: it gets its time slice next to it.

What is bounded, and how:

* **heavy work**: a request still computing ``heavy_after_s`` after it started (a quarter of that while
  every slot is taken) must hold one of the replica's ``heavy_slots`` to go on. The check is the engine deadline's ``extend`` hook, asked between
  kernel chunks (``engine.deadlines``); with no slot free the computation stops and the client gets
  503 with ``Retry-After`` (when the earliest slot's holder must be done). A body seen to be heavy
  before (``costs``, keyed by method, path and body) asks for its slot before any work, and is refused
  at once when none is free: a client repeating a heavy request costs nothing while the slots are full.
* **time**: every computing request runs under an engine deadline at arrival + ``deadline_s``: the
  chunked kernels stop, and the client gets 503 with ``Retry-After`` rather than a late answer.
* **concurrency**: at most ``threads`` computing requests per worker process, ``queue`` more waiting;
  beyond that, 503 at once.

Slots are shared by the replica's worker processes: shared memory made before gunicorn forks
(``preload_app``), each slot holding its holder's deadline, so a slot whose holder was killed frees
itself when that deadline passes. The engine never sees any of this: it sees a deadline.
"""

from __future__ import annotations

import math
import multiprocessing
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from contextvars import ContextVar
from dataclasses import dataclass, field

from engine.deadlines import deadline


class Overloaded(Exception):
    """The replica cannot take this request now: answer 503 with ``Retry-After``."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.message = message
        self.retry_after = retry_after


@dataclass
class Ticket:
    """One computing request: when it arrived, its hard deadline, and the heavy slot it holds, if any."""

    arrival: float
    hard: float
    key: str | None
    slot: int | None = None
    started: float = field(default_factory=time.monotonic)
    long: bool = False  # a chunked computation ran past heavy_after_s (the engine asked to extend)


_ticket: ContextVar[Ticket | None] = ContextVar("descentlab_ticket", default=None)


def current_ticket() -> Ticket | None:
    return _ticket.get()


class _Costs:
    """Seconds each recent request body took (bounded LRU); only heavy ones are kept."""

    def __init__(self, size: int = 4096):
        self._d: OrderedDict[str, float] = OrderedDict()
        self._size = size
        self._lock = threading.Lock()

    def get(self, key: str | None) -> float | None:
        if key is None:
            return None
        with self._lock:
            return self._d.get(key)

    def put(self, key: str | None, seconds: float) -> None:
        if key is None:
            return
        with self._lock:
            self._d[key] = seconds
            self._d.move_to_end(key)
            while len(self._d) > self._size:
                self._d.popitem(last=False)


class Admission:
    def __init__(self, deadline_s: float, heavy_slots: int, heavy_after_s: float, threads: int, queue: int):
        self.deadline_s = float(deadline_s)
        self.heavy_after_s = float(heavy_after_s)
        self.threads = int(threads)
        self.queue = int(queue)
        self.costs = _Costs()
        # shared by every worker forked from this process
        self._lock = multiprocessing.Lock()
        self._slots = multiprocessing.RawArray("d", max(1, int(heavy_slots)))  # 0: free; else the holder's deadline
        self._computing = multiprocessing.RawValue("i", 0)  # computing requests, all processes
        self._local = 0  # computing or waiting requests of this process
        self._pool = None
        self._pool_pid = None

    # -- heavy slots -----------------------------------------------------------------------------
    def acquire_heavy(self, until: float) -> int | None:
        now = time.monotonic()
        with self._lock:
            for i, held in enumerate(self._slots):
                if held == 0.0 or held + 1.0 < now:  # free, or its holder is past its deadline (dead)
                    self._slots[i] = until
                    return i
        return None

    def release_heavy(self, i: int) -> None:
        with self._lock:
            self._slots[i] = 0.0

    def free_slots(self) -> int:
        now = time.monotonic()
        with self._lock:
            return sum(1 for held in self._slots if held == 0.0 or held + 1.0 < now)

    def retry_after(self) -> int:
        """Whole seconds until a heavy slot must be free (its holder's deadline), at least 1."""
        now = time.monotonic()
        with self._lock:
            held = [t for t in self._slots if t > now]
        if len(held) < len(self._slots):
            return 1
        return max(1, math.ceil(min(held) - now))

    def snapshot(self) -> dict:
        now = time.monotonic()
        with self._lock:
            heavy = sum(1 for t in self._slots if t > now - 1.0)
            computing = self._computing.value
        return {"busy": heavy >= len(self._slots), "computing": computing,
                "heavy": {"running": heavy, "slots": len(self._slots)}}

    # -- one request ---------------------------------------------------------------------------
    def admit(self) -> None:
        """Count a request of this process in (503 at once when threads and queue are full)."""
        if self._local >= self.threads + self.queue:
            raise Overloaded(f"this replica is computing {self._local} requests, its limit "
                             f"(threads {self.threads} + queue {self.queue}); retry shortly", 1)
        self._local += 1

    def leave(self) -> None:
        self._local -= 1

    def compute(self, fn: Callable[[], object], arrival: float, key: str | None):
        """Run ``fn`` (the app, in a compute thread) under the request's deadline and slot rules."""
        ticket = Ticket(arrival, arrival + self.deadline_s, key)
        if ticket.started >= ticket.hard:  # waited for a compute thread until its deadline passed
            raise Overloaded(f"waited {self.deadline_s:g} s (DEADLINE_S) for a compute thread; retry shortly", 1)
        known = self.costs.get(key)
        if known is not None and known >= self.heavy_after_s:
            ticket.slot = self.acquire_heavy(ticket.hard)
            if ticket.slot is None:
                raise Overloaded("this request took %.1f s before and every heavy-work slot of this replica is "
                                 "taken; retry after the time given" % known, self.retry_after())

        def promote() -> float | None:  # asked by the engine when the soft deadline passes
            ticket.long = True
            if ticket.slot is None:
                ticket.slot = self.acquire_heavy(ticket.hard)
            return ticket.hard if ticket.slot is not None else None

        # while every slot is taken, a request without one must prove light sooner: a doomed heavy request
        # then wastes a quarter of the time (the replica is busy; a light one is done well before)
        leash = self.heavy_after_s if self.free_slots() else self.heavy_after_s / 4
        soft = ticket.hard if ticket.slot is not None else min(ticket.hard, ticket.started + leash)
        token = _ticket.set(ticket)
        with self._lock:
            self._computing.value += 1
        try:
            with deadline(at=soft, extend=None if ticket.slot is not None else promote):
                return fn()
        finally:
            took = time.monotonic() - ticket.started
            with self._lock:
                self._computing.value -= 1
            if ticket.slot is not None:
                self.release_heavy(ticket.slot)
            if ticket.long or ticket.slot is not None:  # heavy work, not a slow machine: remembered
                self.costs.put(key, max(took, self.heavy_after_s))
            _ticket.reset(token)

    def stopped(self, ticket: Ticket | None) -> Overloaded:
        """Why a computation stopped at its deadline, as a 503 to send."""
        if ticket is not None and ticket.slot is None:
            return Overloaded(f"stopped after {self.heavy_after_s:g} s: this request needs a heavy-work slot and "
                              "all of this replica's are taken; retry after the time given", self.retry_after())
        return Overloaded(f"stopped at the {self.deadline_s:g} s deadline (DEADLINE_S) before finishing; the "
                          "replica is loaded: retry later, or ask for less work", max(1, round(self.deadline_s)))

    # -- threads -------------------------------------------------------------------------------
    def offload(self, fn: Callable[[], object]):
        """``fn()`` in a compute thread when serving under gevent (the event loop keeps running), else inline."""
        pool = self._thread_pool()
        return fn() if pool is None else pool.apply(fn)

    def pooled(self) -> bool:
        """True when ``offload`` hands work to a thread pool (gevent workers), False when it runs inline."""
        return self._thread_pool() is not None

    def _thread_pool(self):
        import os

        if self._pool_pid == os.getpid():
            return self._pool
        self._pool_pid, self._pool = os.getpid(), None
        try:
            from gevent import monkey
        except ImportError:
            return None
        if monkey.is_module_patched("socket"):
            from gevent.threadpool import ThreadPool

            self._pool = ThreadPool(self.threads)
        return self._pool
