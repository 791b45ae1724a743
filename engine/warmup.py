"""Compile (or load from the on-disk cache) every kernel by calling each on tiny inputs, and say so.

The service calls ``warm_kernels()`` before it takes traffic, so no user pays for compilation.
The modules are the concept index's (``engine.concepts.MODULES``), each exposing ``_warmup()``;
``GROUPS`` only says which compile together (a test checks that it places every one of them, and a
module missing from it is still warmed, in this process, last).

With a warm cache this only loads kernels (under a second). With an empty one it compiles them, so the
modules whose cache is empty are shared out over ``jobs`` processes: helper interpreters compile their
share into the cache while this process compiles its own, then this process loads the helpers' share.

Progress (an empty cache takes minutes) goes to the ``logging`` logger ``engine.warmup`` at INFO: a line
when a module is done (which, its seconds, the elapsed time and an estimate of the time left) and a
heartbeat at least every ``HEARTBEAT_S`` while one compiles, the helpers' modules included (each helper
reports the modules it starts and finishes on its stdout). With ``progress=True``, or by default when
stderr is a terminal, the same goes to stderr: a one-line bar on a terminal, else a line per report.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import IO

from . import _kernel_cache
from ._jit import cache_dir
from .concepts import MODULES
from .errors import EngineInputError
from .validate import check_bool, check_int

__all__ = ["warm_kernels"]

log = logging.getLogger("engine.warmup")

# A report at least this often while compiling (the promise is 5 s; the heartbeat thread checks 4x a
# second, and numba's compiler releases the GIL in LLVM and at Python's switch interval elsewhere).
HEARTBEAT_S = 4.0
LOAD_S = 0.03  # seconds to load one module's kernels from a warm cache (for the estimate only)

# Every module with kernels, in groups that compile the same callees (a group split over two processes
# would compile those twice), each module with about the seconds it compiles from an empty cache in one
# process after the modules before it in its group: from ``python -m bench.warmup_profile --jobs 2`` on a
# quiet machine (2026-12-02). They share the groups out and make the estimate of the time left; a wrong
# figure only makes the estimate worse.
_GROUPS: tuple[tuple[tuple[str, float], ...], ...] = (
    # every network module calls the MLP kernels (mlp_forward/backward, the losses) and optimizer_step, which
    # the first of them compiles (~20 s); the curvature modules call each other's too. Split over two
    # processes they compiled that stack twice: 146 s of wall time where one group takes ~95 s
    (("engine.training", 45.0), ("engine.regularization", 0.5), ("engine.mlp", 1.0), ("engine.backprop", 5.0),
     ("engine.gradient_profile", 7.0), ("engine.network_landscape", 2.0), ("engine.hvp", 25.0),
     ("engine.spectrum", 0.5), ("engine.network_hessian", 11.0), ("engine.saddles", 1.0),
     ("engine.edge_of_stability", 1.0)),
    # the descents and the language models step with engine.optimizers' optimizer_step, and the descents call
    # the surface dispatch, which calls the formula evaluator (engine.expression's kernels): one group
    (("engine.optimizers", 10.0), ("engine.trajectory", 15.0), ("engine.race", 1.0), ("engine.lr_sweep", 0.1),
     ("engine.basins", 2.0), ("engine.user_function", 0.5), ("engine.corpora", 0.5), ("engine.lm_models", 30.0),
     ("engine.lm_sample", 2.0), ("engine.lm_train", 0.5), ("engine.lm_inspect", 0.1), ("engine.expression", 0.6),
     ("engine.surfaces", 2.0), ("engine.landscape", 12.5), ("engine.critical", 3.0), ("engine.losses", 1.0)),
    (("engine.datasets", 0.05), ("engine.user_data", 0.05), ("engine.doctor", 0.05), ("engine.clipping", 0.05),
     ("engine.schedules", 0.05), ("engine.rng", 0.1), ("engine.activations", 0.2), ("engine.init", 0.05),
     ("engine.deadlines", 0.05)),
    # no kernels of their own: they run the kinds' (warmed above, then only loaded) on tiny sweeps
    (("engine.sweep_kinds", 0.1), ("engine.sweeps", 0.1), ("engine.sweep_tasks", 0.1), ("engine.sweep_results", 0.1),
     ("engine.sweep_analysis", 0.1), ("engine.scaling", 0.1)),
)
COMPILE_S: dict[str, float] = {m: s for group in _GROUPS for m, s in group}
GROUPS: tuple[tuple[tuple[str, ...], float], ...] = tuple(
    (tuple(m for m, _ in group), sum(s for _, s in group)) for group in _GROUPS)


def _default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


# Cache directories found holding compiled kernels. They stay so (a directory is keyed by its sources; only
# another version's start prunes one, after a week unused), and the modules' closures overlap: each is listed
# once per process instead of ~20 times per check of every module (the service checks twice per start).
_filled_dirs: set[str] = set()


def is_cached(module: str) -> bool:
    """Whether warming ``module`` only loads kernels: every module its kernels come from (itself and what it
    imports, transitively, that defines kernels) has compiled kernels in the cache already. A module without
    kernels of its own (``engine.trajectory``: its kernels are ``engine.descent``'s) counts through those."""
    for m in _kernel_cache.closure(module.rsplit(".", 1)[-1]):
        if _kernel_cache.defines_kernels(m):
            d = cache_dir(m)
            if d not in _filled_dirs:
                if not any(Path(d).glob("*.nbi")):  # (no matches when the directory does not exist)
                    return False
                _filled_dirs.add(d)
    return True


def share_out(groups: list[tuple[tuple[str, ...], float]], jobs: int) -> list[list[str]]:
    """Split ``groups`` into at most ``jobs`` module lists of about equal compile time (longest
    group first, each to the least loaded list)."""
    loads = [0.0] * jobs
    shares: list[list[str]] = [[] for _ in range(jobs)]
    for modules, seconds in sorted(groups, key=lambda g: -g[1]):
        k = loads.index(min(loads))
        shares[k].extend(modules)
        loads[k] += seconds
    return [s for s in shares if s]


def _clock(seconds: float) -> str:
    seconds = max(0, round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


STARTING = "starting python and importing engine"  # what a helper does before its first module


def _doing(module: str, cold) -> str:
    if module == STARTING:
        return module
    return f"{'compiling' if module in cold else 'loading'} {module}"


class Progress:
    """The warm-up's reports: what each process is warming, what is done, the time left.

    ``plan`` lists, per process (0 = this one), the modules it will warm in order with their expected
    seconds. ``started``/``finished`` may come from any thread (the helpers' readers); a heartbeat
    thread reports while a module runs, so a report comes at least every ``HEARTBEAT_S``."""

    def __init__(self, plan: list[list[tuple[str, float]]], stream: IO[str] | None, tty: bool,
                 cold: set[str] | frozenset[str] = frozenset()):
        self.plan = plan
        self.cold = cold  # modules that compile; with none (a warm cache) only the summary is reported
        self.stream, self.tty = stream, tty
        self.t0 = time.perf_counter()
        self.lock = threading.Lock()
        self.running: dict[int, tuple[str, float]] = {}  # process -> (module, since)
        self.done: dict[int, int] = {p: 0 for p in range(len(plan))}  # modules finished, per process
        self.finished_modules: set[str] = set()
        self.expected_done = self.actual_done = 0.0
        self.total = len({m for share in plan for m, _ in share})
        self.last_report = self.t0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name="engine.warmup heartbeat", daemon=True)
        self._thread.start()

    def started(self, proc: int, module: str) -> None:
        with self.lock:
            self.running[proc] = (module, time.perf_counter())

    def finished(self, proc: int, module: str, seconds: float) -> None:
        with self.lock:
            self.running.pop(proc, None)
            expected = self.plan[proc][self.done[proc]][1] if self.done[proc] < len(self.plan[proc]) else seconds
            self.done[proc] += 1
            if expected >= 1.0:  # compile-sized: tells how fast this machine compiles today
                self.expected_done += expected
                self.actual_done += seconds
            first = module not in self.finished_modules
            self.finished_modules.add(module)
            where = "" if proc == 0 else f" (helper {proc})"
            if first and self.cold:
                self._report(f"{module} {seconds:.1f} s{where}")

    def remaining(self) -> float:
        """Estimated seconds left: the slowest process's expected seconds still to go, scaled by how fast
        the finished modules went against their expected seconds."""
        speed = self.actual_done / self.expected_done if self.expected_done > 0 else 1.0
        now = time.perf_counter()
        left = []
        for p, share in enumerate(self.plan):
            todo = share[self.done[p]:]
            rest = sum(s for _, s in todo) * speed
            if p in self.running and todo:
                ran = now - self.running[p][1]
                first = todo[0][1] * speed
                rest += max(first - ran, 0.25 * ran) - first  # an overrunning module: a quarter of its time more
            left.append(rest)
        return max(left, default=0.0)

    def line(self) -> str:
        elapsed = time.perf_counter() - self.t0
        busy = "; ".join(f"{_doing(m, self.cold)} ({_clock(time.perf_counter() - since)})"
                         + ("" if p == 0 else f" [helper {p}]") for p, (m, since) in sorted(self.running.items()))
        return (f"{len(self.finished_modules)}/{self.total} modules, {_clock(elapsed)} elapsed, "
                f"~{_clock(self.remaining())} left" + (f"; {busy}" if busy else ""))

    def _report(self, what: str | None) -> None:
        """Log one report (lock held) and show it."""
        now = time.perf_counter()
        self.last_report = now
        text = self.line() if what is None else f"{what}; {self.line()}"
        log.info("warm-up: %s", text)
        self._show(text, newline=not self.tty)

    def _show(self, text: str, newline: bool) -> None:
        if self.stream is None:
            return
        if self.tty:
            elapsed = time.perf_counter() - self.t0
            frac = elapsed / max(elapsed + self.remaining(), 1e-9)
            bar = "#" * int(20 * frac) + "." * (20 - int(20 * frac))
            width = shutil.get_terminal_size((100, 20)).columns - 1
            self.stream.write("\r" + f"[{bar}] {text}"[:width].ljust(width))
        if newline:
            self.stream.write(("\n" if self.tty else "") + f"engine.warmup: {text}\n")
        self.stream.flush()

    def _beat(self) -> None:
        while not self._stop.wait(0.25):
            with self.lock:
                if not self.cold:
                    continue
                if time.perf_counter() - self.last_report >= HEARTBEAT_S:
                    self._report(None)
                elif self.tty:  # the bar's clock moves every quarter second
                    self._show(self.line(), newline=False)

    def close(self, summary: str) -> None:
        self._stop.set()
        self._thread.join()
        with self.lock:
            log.info("warm-up: %s", summary)
            if self.stream is not None:
                if self.tty:
                    self.stream.write("\r" + " " * (shutil.get_terminal_size((100, 20)).columns - 1) + "\r")
                self.stream.write(f"engine.warmup: {summary}\n")
                self.stream.flush()


def warm_modules(modules, spent: dict[str, float], progress: Progress | None = None, proc: int = 0) -> None:
    """Warm ``modules`` in this process, in order, recording each one's seconds in ``spent``."""
    for name in modules:
        if progress is not None:
            progress.started(proc, name)
        t0 = time.perf_counter()
        importlib.import_module(name)._warmup()
        spent[name] = time.perf_counter() - t0
        if progress is not None:
            progress.finished(proc, name, spent[name])


def _read_helper(proc: subprocess.Popen, index: int, progress: Progress, spent: dict[str, float]) -> None:
    """Follow a helper's reports (one JSON object a line) until it exits."""
    for raw in proc.stdout:
        try:
            msg = json.loads(raw)
        except ValueError:
            continue  # a stray print from a module: not a report
        if "start" in msg:
            progress.started(index, msg["start"])
        elif "done" in msg:
            spent[msg["done"]] = msg["seconds"]
            progress.finished(index, msg["done"], msg["seconds"])


def warm_kernels(jobs: int | None = None, progress: bool | None = None,
                 modules: tuple[str, ...] | list[str] | None = None) -> dict[str, float]:
    """Warm every kernel; returns the seconds each module took in the process that warmed it.

    ``jobs`` (default: the cores this process may use) caps the processes that compile at once;
    they are started only when at least two groups of modules have kernels missing from the cache.
    ``progress``: show progress on stderr (a one-line bar on a terminal); default: when stderr is a
    terminal. The ``engine.warmup`` logger gets the same reports either way. ``modules``: warm only
    these (default: every module of ``engine.concepts.MODULES``)."""
    # more processes than modules to compile never helps; the cap keeps a typo from forking thousands
    jobs = _default_jobs() if jobs is None else min(check_int("jobs", jobs, 1), len(MODULES))
    if progress is not None:
        progress = check_bool("progress", progress)
    if modules is not None and (isinstance(modules, (str, bytes)) or not isinstance(modules, (list, tuple))
                                or not all(isinstance(m, str) for m in modules)):
        raise EngineInputError("modules", "must be a list of engine module names, e.g. ['engine.losses']")
    wanted = tuple(MODULES if modules is None else modules)
    unknown = sorted(set(wanted) - set(MODULES))
    if unknown:
        raise EngineInputError("modules", f"not engine modules with kernels: {unknown}")
    tty = sys.stderr.isatty()
    show = tty if progress is None else bool(progress)
    cold = {m for m in wanted if not is_cached(m)}
    # the groups' wanted modules, weighed by their compile seconds (a whole group: the group's figure)
    groups = [(tuple(m for m in g if m in wanted), s) for g, s in GROUPS]
    groups = [(g, s if len(g) == len(full) else sum(COMPILE_S.get(m, 0.0) for m in g))
              for (g, s), (full, _) in zip(groups, GROUPS)]
    # groups that would compile for a second or more; the rest costs less than a helper's start
    heavy = [(g, s) for g, s in groups if g and set(g) & cold and s >= 1.0]
    shares = share_out(heavy, jobs) if jobs > 1 and len(heavy) > 1 else []
    first = shares[0] if shares else []
    rest = [m for m in wanted if m not in first]

    def expect(m: str) -> float:
        return COMPILE_S.get(m, 1.0) if m in cold else LOAD_S

    plan = [[(m, expect(m)) for m in first] + [(m, LOAD_S if any(m in s for s in shares[1:]) else expect(m))
                                               for m in rest]]
    plan += [[(m, expect(m)) for m in share] for share in shares[1:]]
    report = Progress(plan, sys.stderr if show else None, tty and show, cold)
    if cold:
        with report.lock:
            report._report(f"compiling {len(cold)} of {len(wanted)} modules (empty cache: minutes, once) in "
                           f"{max(1, len(shares))} process(es) into {_kernel_cache.base_dir()}")
    spent: dict[str, float] = {}
    helpers, readers = [], []
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    try:
        for index, share in enumerate(shares[1:], start=1):
            proc = subprocess.Popen([sys.executable, "-c", _HELPER, *share], env=env, stdout=subprocess.PIPE,
                                    text=True)
            helpers.append(proc)
            report.started(index, STARTING)  # seconds on a quiet machine, a minute under heavy load
            readers.append(threading.Thread(target=_read_helper, args=(proc, index, report, spent), daemon=True))
            readers[-1].start()
        warm_modules(first, spent, report)
        for proc, reader in zip(helpers, readers):
            proc.wait()
            reader.join()
            # a failed helper's share is compiled below, in this process
        # everything not yet warm in this process: loads what the helpers compiled, compiles the rest
        loaded: dict[str, float] = {}
        warm_modules(rest, loaded, report)
        for name, seconds in loaded.items():
            spent.setdefault(name, seconds)
    finally:
        for proc in helpers:
            if proc.poll() is None:
                proc.kill()
        elapsed = time.perf_counter() - report.t0
        if cold:
            summary = (f"kernels warm in {elapsed:.1f} s: {len(cold)} modules compiled in {max(1, len(shares))} "
                       f"process(es), {len(wanted) - len(cold)} loaded; cache {_kernel_cache.base_dir()}")
        else:
            summary = (f"kernels warm in {elapsed:.1f} s: {len(wanted)} modules loaded from the cache "
                       f"{_kernel_cache.base_dir()}")
        report.close(summary)
    return spent

# A helper's program: warm the modules named on its command line, reporting each as a JSON line.
_HELPER = """
import json, sys, time
from engine.warmup import warm_modules
class Report:
    def started(self, proc, name):
        print(json.dumps({"start": name}), flush=True)
    def finished(self, proc, name, seconds):
        print(json.dumps({"done": name, "seconds": seconds}), flush=True)
warm_modules(sys.argv[1:], {}, Report())
"""
