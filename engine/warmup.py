"""Compile (or load from the on-disk cache) every kernel by calling each on tiny inputs.

The service calls ``warm_kernels()`` before it takes traffic, so no user pays for compilation.
The modules are the concept index's (``engine.concepts.MODULES``), each exposing ``_warmup()``;
``GROUPS`` only says which compile together (a test checks that it places every one of them, and a
module missing from it is still warmed, in this process, last).

With a warm cache this only loads kernels (~0.6 s). With an empty one it compiles them (~110 s in
one process on the development machine, ~57 s over its 2 cores), so the modules whose cache is
empty are shared out over ``jobs`` processes: helper interpreters compile their share into the
cache while this process compiles its own, then this process loads the helpers' share. The MLP modules each
compile the shared network kernels again in their process (numba cannot share compiled code
between processes except through the cache), which the split accepts.
"""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from . import _kernel_cache
from ._jit import cache_dir
from .concepts import MODULES

__all__ = ["warm_kernels"]

# Every module with kernels, in groups that compile the same callees (a group split over two
# processes would compile those twice), each with the seconds it takes to compile from an empty
# cache in one process (development machine): the weights that share the groups out.
GROUPS: tuple[tuple[tuple[str, ...], float], ...] = (
    (("engine.training", "engine.regularization"), 49.0),
    (("engine.mlp", "engine.backprop", "engine.gradient_profile", "engine.network_landscape"), 45.0),
    # the curvature modules call the same network kernels (mlp_forward/backward, optimizer_step) and each other's
    (("engine.hvp", "engine.spectrum", "engine.network_hessian", "engine.saddles",
      "engine.edge_of_stability"), 81.0),
    # the language models step with engine.optimizers' optimizer_step: one group, so it compiles once
    (("engine.optimizers", "engine.trajectory", "engine.race", "engine.lr_sweep", "engine.basins",
      "engine.user_function", "engine.corpora", "engine.lm_models", "engine.lm_sample", "engine.lm_train",
      "engine.lm_inspect"), 47.0),
    # the surface dispatch calls the formula evaluator (engine.expression's kernels): one process compiles both
    (("engine.expression", "engine.surfaces", "engine.landscape", "engine.critical", "engine.losses"), 18.0),
    (("engine.datasets", "engine.user_data", "engine.doctor", "engine.clipping", "engine.schedules", "engine.rng",
      "engine.activations", "engine.init", "engine.deadlines"), 0.5),
    # no kernels of their own: they run the kinds' (warmed above, then only loaded) on tiny sweeps
    (("engine.sweep_kinds", "engine.sweeps", "engine.sweep_tasks", "engine.sweep_results", "engine.sweep_analysis", "engine.scaling"), 0.5),
)


def _default_jobs() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def is_cached(module: str) -> bool:
    """Whether warming ``module`` only loads kernels: every module its kernels come from (itself and what it
    imports, transitively, that defines kernels) has compiled kernels in the cache already. A module without
    kernels of its own (``engine.trajectory``: its kernels are ``engine.descent``'s) counts through those."""
    for m in _kernel_cache.closure(module.rsplit(".", 1)[-1]):
        if _kernel_cache.defines_kernels(m):
            d = Path(cache_dir(m))
            if not (d.is_dir() and any(d.glob("*.nbi"))):
                return False
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


def warm_modules(modules, spent: dict[str, float]) -> None:
    """Warm ``modules`` in this process, in order, recording each one's seconds in ``spent``."""
    for name in modules:
        t0 = time.perf_counter()
        importlib.import_module(name)._warmup()
        spent[name] = time.perf_counter() - t0


def warm_kernels(jobs: int | None = None) -> dict[str, float]:
    """Warm every kernel; returns the seconds each module took in the process that warmed it.

    ``jobs`` (default: the cores this process may use) caps the processes that compile at once;
    they are started only when at least two groups of modules have kernels missing from the cache."""
    jobs = _default_jobs() if jobs is None else max(1, int(jobs))
    spent: dict[str, float] = {}
    # groups that would compile for a second or more; the rest costs less than a helper's start
    cold = [g for g in GROUPS if g[1] >= 1.0 and not all(is_cached(m) for m in g[0])]
    shares = share_out(cold, jobs) if jobs > 1 and len(cold) > 1 else []
    helpers = []
    root = str(Path(__file__).resolve().parent.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (root, os.environ.get("PYTHONPATH")) if p))
    for share in shares[1:]:
        helpers.append(subprocess.Popen([sys.executable, "-c", _HELPER, *share], env=env,
                                        stdout=subprocess.PIPE, text=True))
    if shares:
        warm_modules(shares[0], spent)
    for proc in helpers:
        out, _ = proc.communicate()
        if proc.returncode == 0:  # else this process compiles that share itself, below
            spent.update(json.loads(out.strip().splitlines()[-1]))
    # everything not yet warm in this process: loads what the helpers compiled, compiles the rest
    loaded: dict[str, float] = {}
    warm_modules([m for m in MODULES if m not in (shares[0] if shares else ())], loaded)
    for name, seconds in loaded.items():
        spent.setdefault(name, seconds)
    return spent


# A helper's program: warm the modules named on its command line, print the seconds as JSON.
_HELPER = ("import json, sys; from engine.warmup import warm_modules; s = {}; warm_modules(sys.argv[1:], s); "
           "print(json.dumps(s))")
