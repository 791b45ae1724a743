"""engine.warmup: every kernel module is warmed, and an empty cache is compiled in parallel processes."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

import engine.warmup as warmup_module

ENGINE = Path(__file__).resolve().parent.parent / "engine"


def _modules_with_warmup() -> set[str]:
    found = set()
    for path in ENGINE.glob("*.py"):
        tree = ast.parse(path.read_text())
        if any(isinstance(n, ast.FunctionDef) and n.name == "_warmup" for n in tree.body):
            found.add(f"engine.{path.stem}")
    return found


def test_every_module_with_kernels_is_warmed_exactly_once():
    assert sorted(warmup_module.MODULES) == sorted(set(warmup_module.MODULES))
    assert set(warmup_module.MODULES) == _modules_with_warmup()


@pytest.mark.parametrize("jobs", [1, 2, 3, 8])
def test_share_out_keeps_groups_whole_and_balances_by_compile_time(jobs):
    groups = list(warmup_module.GROUPS)
    shares = warmup_module.share_out(groups, jobs)
    assert len(shares) == min(jobs, len(groups))
    assert sorted(m for s in shares for m in s) == sorted(warmup_module.MODULES)
    for modules, _ in groups:  # a group never straddles two processes
        assert sum(modules[0] in s and all(m in s for m in modules) for s in shares) == 1
    seconds = {modules: t for modules, t in groups}
    loads = [sum(t for modules, t in seconds.items() if modules[0] in s) for s in shares]
    # greedy longest-first: no list exceeds the ideal share by more than the largest group
    assert max(loads) <= sum(seconds.values()) / len(shares) + max(seconds.values())
    if jobs == 2:  # the two heaviest groups (training, networks) compile side by side
        heavy = sorted(groups, key=lambda g: -g[1])[:2]
        assert not any(heavy[0][0][0] in s and heavy[1][0][0] in s for s in shares)


def test_helpers_warm_their_share_and_report_it(monkeypatch):
    # Pretend the cache is empty for three cheap groups: one stays here, two go to helper
    # interpreters (which load the real cache: fast), and all three report their seconds.
    groups = ((("engine.doctor",), 3.0), (("engine.schedules", "engine.clipping"), 2.0), (("engine.datasets",), 1.0))
    monkeypatch.setattr(warmup_module, "GROUPS", groups)
    monkeypatch.setattr(warmup_module, "MODULES", tuple(m for g, _ in groups for m in g))
    monkeypatch.setattr(warmup_module, "is_cached", lambda module: False)
    launched = []
    real_popen = warmup_module.subprocess.Popen

    def popen(args, **kw):
        launched.append(args[3:])
        return real_popen(args, **kw)

    monkeypatch.setattr(warmup_module.subprocess, "Popen", popen)
    spent = warmup_module.warm_kernels(jobs=3)
    assert sorted(launched) == [["engine.datasets"], ["engine.schedules", "engine.clipping"]]
    assert set(spent) == {"engine.doctor", "engine.schedules", "engine.clipping", "engine.datasets"}
    assert all(v >= 0.0 for v in spent.values())


def test_a_warm_cache_starts_no_helper(monkeypatch):
    monkeypatch.setattr(warmup_module, "is_cached", lambda module: True)
    monkeypatch.setattr(warmup_module.subprocess, "Popen", lambda *a, **k: pytest.fail("helper started"))
    assert set(warmup_module.warm_kernels(jobs=2)) == set(warmup_module.MODULES)


# --- progress (a subprocess: an empty cache must be empty for the whole process) --------------------------

_PROGRESS_RUN = """
import sys
import engine.warmup as w
w.HEARTBEAT_S = float(sys.argv[1])
w.COMPILE_S["engine.losses"] = 3.0  # the larger share: compiled in this process
w.COMPILE_S["engine.clipping"] = 2.0  # counts as a compile-sized group: goes to a helper process
w.warm_kernels(jobs=2, progress=True, modules=["engine.losses", "engine.clipping"])
"""


def _warm_in_subprocess(cache: Path, heartbeat: float) -> list[str]:
    import os
    import subprocess
    import sys

    env = dict(os.environ, NUMBA_CACHE_DIR=str(cache))
    run = subprocess.run([sys.executable, "-c", _PROGRESS_RUN, str(heartbeat)], env=env, capture_output=True,
                         text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    return [line for line in run.stderr.splitlines() if line.startswith("engine.warmup: ")]


def test_an_empty_cache_reports_progress_with_estimates_and_a_warm_one_a_single_line(tmp_path):
    import re

    lines = _warm_in_subprocess(tmp_path, heartbeat=0.3)
    assert re.match(r"engine.warmup: compiling 2 of 2 modules .* in 2 process\(es\) into " + re.escape(str(tmp_path)),
                    lines[0]), lines
    done = {m: line for m in ("engine.losses", "engine.clipping") for line in lines if f": {m} " in line}
    assert set(done) == {"engine.losses", "engine.clipping"}, lines
    assert "(helper 1)" in done["engine.clipping"] and "helper" not in done["engine.losses"]
    for line in lines[:-1]:  # every report: modules done, elapsed time, estimate of the time left
        assert re.search(r"\d/2 modules, (\d+m)?\d+s elapsed, ~(\d+m)?\d+s left", line), line
    # engine.losses compiles for seconds: heartbeats name it while it runs
    assert any(re.search(r"/2 modules, .*; compiling engine.losses \((\d+m)?\d+s\)(;|$)", line) for line in lines), lines
    assert re.fullmatch(r"engine.warmup: kernels warm in [\d.]+ s: 2 modules compiled in 2 process\(es\), 0 loaded; "
                        r"cache " + re.escape(str(tmp_path / "descentlab")), lines[-1]), lines[-1]
    assert any((tmp_path / "descentlab").glob("losses-*/*.nbi"))
    again = _warm_in_subprocess(tmp_path, heartbeat=0.3)
    cache = re.escape(str(tmp_path / "descentlab"))
    assert len(again) == 1, again  # a warm cache: one line
    assert re.fullmatch(r"engine.warmup: kernels warm in [\d.]+ s: 2 modules loaded from the cache " + cache, again[0])


def test_progress_goes_to_the_log_at_least_every_heartbeat(monkeypatch, caplog):
    # a module that takes 1.2 s (a sleep stands in for a compile); heartbeats every 0.2 s name it
    import logging

    monkeypatch.setattr(warmup_module, "HEARTBEAT_S", 0.2)
    monkeypatch.setattr(warmup_module, "is_cached", lambda module: module != "engine.clipping")
    clipping = importlib.import_module("engine.clipping")
    real = clipping._warmup
    monkeypatch.setattr(clipping, "_warmup", lambda: (__import__("time").sleep(1.2), real()))
    with caplog.at_level(logging.INFO, logger="engine.warmup"):
        warmup_module.warm_kernels(jobs=1, progress=False, modules=["engine.schedules", "engine.clipping"])
    records = [r for r in caplog.records if r.name == "engine.warmup"]
    beats = [r for r in records if "compiling engine.clipping (" in r.getMessage()]
    assert len(beats) >= 3, [r.getMessage() for r in records]
    times = [r.created for r in records]
    assert max(b - a for a, b in zip(times, times[1:])) < 0.2 + 0.35  # the heartbeat checks 4x a second
    assert records[-1].getMessage().startswith("warm-up: kernels warm in ")
    assert "1 modules compiled in 1 process(es), 1 loaded" in records[-1].getMessage()


def test_unknown_modules_are_refused_by_name():
    from engine.errors import EngineInputError

    with pytest.raises(EngineInputError) as err:
        warmup_module.warm_kernels(modules=["engine.nope"])
    assert err.value.field == "modules" and "engine.nope" in str(err.value)
