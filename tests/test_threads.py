"""engine.threads.map_threads: results in order, errors re-raised, the caller's context, real OS threads
(also under gevent's monkey-patching, where ``threading``'s threads would be greenlets of one OS thread)."""

from __future__ import annotations

import contextvars
import subprocess
import sys
import textwrap

import pytest

from engine.threads import map_threads

# Two pieces that each wait for the other: they finish only when two OS threads run them at once
# (greenlets of one thread, or one thread after the other, time out and report False).
RENDEZVOUS = textwrap.dedent("""
    import sys
    from engine.threads import map_threads
    if "gevent.monkey" in sys.modules:  # the OS thread's own lock and id, not gevent's stand-ins
        from gevent.monkey import get_original
        allocate, ident = get_original("_thread", ["allocate_lock", "get_ident"])
    else:
        from _thread import allocate_lock as allocate, get_ident as ident
    arrived = [allocate(), allocate()]
    for lock in arrived:
        lock.acquire()
    def piece(i):
        arrived[i].release()
        ok = arrived[1 - i].acquire(timeout=TIMEOUT)
        return ok, ident()
    out = MAP(piece, [0, 1])
    print(all(ok for ok, _ in out), len({ident for _, ident in out}))
""")


def test_results_in_order_on_any_thread_count():
    items = list(range(50))
    for threads in (1, 2, 7, 100):
        assert map_threads(lambda x: x * x, items, threads=threads) == [x * x for x in items]
    assert map_threads(lambda x: x, [], threads=4) == []


def test_the_first_error_is_raised_after_every_thread_stopped():
    seen = []

    def piece(x):
        seen.append(x)
        if x == 3:
            raise ValueError("piece 3")
        return x

    with pytest.raises(ValueError, match="piece 3"):
        map_threads(piece, range(8), threads=3)
    assert sorted(seen) == list(range(8))  # the other pieces still ran: no thread was left behind


def test_pieces_see_the_callers_context():
    var = contextvars.ContextVar("deadline", default=None)
    var.set("set by the caller")
    assert map_threads(lambda _: var.get(), range(4), threads=2) == ["set by the caller"] * 4


@pytest.mark.parametrize("patched", [False, True], ids=["plain", "gevent-patched"])
def test_pieces_run_at_once_on_os_threads(patched):
    if patched:
        pytest.importorskip("gevent")
    assert _rendezvous(patched, "lambda f, xs: map_threads(f, xs, threads=2)", 20) == ["True", "2"]


def test_the_rendezvous_catches_greenlet_threads():
    """The check above can fail: concurrent.futures under gevent runs the pieces on one OS thread."""
    pytest.importorskip("gevent")
    pool = "lambda f, xs: list(__import__('concurrent.futures').futures.ThreadPoolExecutor(2).map(f, xs))"
    assert _rendezvous(True, pool, 1) == ["False", "1"]


def _rendezvous(patched: bool, map_fn: str, timeout: float) -> list[str]:
    prelude = "from gevent import monkey; monkey.patch_all()\n" if patched else ""
    code = prelude + RENDEZVOUS.replace("MAP", f"({map_fn})").replace("TIMEOUT", str(timeout))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout.split()


def test_the_thread_count_is_numba_num_threads_without_starting_numbas_threading_layer():
    """NUMBA_NUM_THREADS caps the threads; numba's own layer is never launched (with NUMBA_THREADING_LAYER=tbb
    and no TBB library loaded, launching it raises: the warm-up failed that way under gunicorn's settings)."""
    code = textwrap.dedent("""
        from engine.threads import block_threads, thread_count
        calls = []
        block_threads(10, lambda c, lo, hi: calls.append((c, lo, hi)))
        import numba.np.ufunc.parallel as p
        print(thread_count(), sorted(calls), p._is_initialized)
    """)
    import os

    for n, calls in (("1", "[(0, 0, 10)]"), ("3", "[(0, 0, 3), (1, 3, 6), (2, 6, 10)]")):
        env = dict(os.environ, NUMBA_NUM_THREADS=n, NUMBA_THREADING_LAYER="tbb")
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
        assert out.returncode == 0, out.stderr
        assert out.stdout.strip() == f"{n} {calls} False"
