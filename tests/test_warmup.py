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
