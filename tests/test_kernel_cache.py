"""engine._kernel_cache: a cached kernel is recompiled when any engine module it imports changes.

numba alone keys a cached kernel on its own file's timestamp; the end-to-end test below edits a
*callee's* file in a copy of the engine and would see the stale result under numba's default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import engine
from engine import _kernel_cache

ENGINE = Path(engine.__file__).parent

_PROBE = textwrap.dedent("""
    import sys
    import numpy as np
    from engine.activations import TANH, activate
    s = np.array([[0.5]]); out = np.empty_like(s)
    activate(TANH, 0.0, s, out)
    import engine
    assert engine.__file__.startswith(sys.argv[1]), engine.__file__
    print(repr(float(out[0, 0])))
""")


def _probe(root: Path, cache: Path) -> float:
    env = dict(os.environ, PYTHONPATH=str(root), NUMBA_CACHE_DIR=str(cache))
    run = subprocess.run([sys.executable, "-c", _PROBE, str(root)], env=env, cwd=root, capture_output=True, text=True,
                         timeout=600)  # cwd: "python -c" puts it first on sys.path
    assert run.returncode == 0, run.stderr[-2000:]
    return float(run.stdout.strip())


def test_editing_a_callee_recompiles_its_cached_callers(tmp_path):
    root = tmp_path / "src"
    shutil.copytree(ENGINE, root / "engine", ignore=shutil.ignore_patterns("__pycache__"))
    cache = tmp_path / "cache"
    first = _probe(root, cache)
    assert abs(first - 0.46211715726000974) < 1e-15  # tanh(0.5)
    assert any((cache / "descentlab").glob("activations-*/*.nbi"))  # activate was cached ...
    vecmath = root / "engine" / "vecmath.py"
    src = vecmath.read_text()
    assert "return math.copysign(t, x)" in src
    vecmath.write_text(src.replace("return math.copysign(t, x)", "return math.copysign(t, x) + 1.0"))
    # ... and activations.py is untouched, yet its kernel must now see the new callee
    assert _probe(root, cache) == first + 1.0


def _package(tmp_path, files: dict[str, str], monkeypatch) -> None:
    for name, text in files.items():
        (tmp_path / f"{name}.py").write_text(text)
    monkeypatch.setattr(_kernel_cache, "ENGINE_DIR", tmp_path)
    _kernel_cache._imports.cache_clear()
    _kernel_cache.module_key.cache_clear()


def test_key_follows_transitive_relative_imports_only(tmp_path, monkeypatch):
    files = {"a": "from .b import f\n", "b": "def f():\n    from . import c\n", "c": "X = 1\n", "d": "import math\n"}
    _package(tmp_path, files, monkeypatch)
    before = {m: _kernel_cache.module_key(m) for m in files}
    assert _kernel_cache._imports("b") == {"c"}  # an import inside a function counts too
    _package(tmp_path, {"c": "X = 2\n"}, monkeypatch)
    after = {m: _kernel_cache.module_key(m) for m in files}
    assert after["c"] != before["c"] and after["b"] != before["b"] and after["a"] != before["a"]
    assert after["d"] == before["d"]
    _kernel_cache._imports.cache_clear()
    _kernel_cache.module_key.cache_clear()


def test_cache_lives_under_numba_cache_dir(monkeypatch, tmp_path):
    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    assert _kernel_cache.module_cache_dir("losses").parent == tmp_path / "descentlab"


def _compiled_files(root: Path) -> set[Path]:
    return {p for pattern in ("*.nbi", "*.nbc") for p in root.rglob(pattern)}


def test_without_numba_cache_dir_kernels_go_to_the_user_cache_not_the_package(tmp_path):
    # a notebook user's first run: no NUMBA_CACHE_DIR, so $XDG_CACHE_HOME/descentlab/numba/<version>/
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env["PYTHONPATH"] = str(ENGINE.parent)
    before = _compiled_files(ENGINE)
    probe = _PROBE + "from engine import _kernel_cache; print(_kernel_cache.base_dir())\n"
    run = subprocess.run([sys.executable, "-c", probe, str(ENGINE.parent)], env=env, cwd=ENGINE.parent,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    value, base = run.stdout.split()
    assert abs(float(value) - 0.46211715726000974) < 1e-15
    from importlib.metadata import version

    assert Path(base) == tmp_path / "xdg" / "descentlab" / "numba" / version("descentlab")
    assert any(Path(base).glob("activations-*/*.nbi")) and any(Path(base).glob("activations-*/*.nbc"))
    assert _compiled_files(ENGINE) == before  # nothing written into the package folder


def test_without_xdg_cache_home_the_user_cache_is_under_home(monkeypatch, tmp_path):
    monkeypatch.delenv("NUMBA_CACHE_DIR", raising=False)
    monkeypatch.delenv("XDG_CACHE_HOME", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    assert _kernel_cache.base_dir().parent.parent == tmp_path / ".cache" / "descentlab"
    assert _kernel_cache.module_cache_dir("losses").parent == _kernel_cache.base_dir()


def _ast_reading(module: str) -> tuple[frozenset[str], bool]:
    """The oracle: the relative imports and whether a function is decorated ``@kernel``, read by ``ast``."""
    import ast

    tree = ast.parse((_kernel_cache.ENGINE_DIR / f"{module}.py").read_bytes())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            names = [node.module] if node.module else [a.name for a in node.names]
            found.update(n.split(".")[0] for n in names
                         if (_kernel_cache.ENGINE_DIR / f"{n.split('.')[0]}.py").exists())
    kernels = any(isinstance(d, ast.Name) and d.id == "kernel" for node in ast.walk(tree)
                  if isinstance(node, ast.FunctionDef) for d in node.decorator_list)
    return frozenset(found), kernels


def test_the_regex_reading_of_imports_and_kernels_matches_ast_on_every_module():
    """The cache keys read imports with regular expressions (fast); a missed import would keep a stale kernel."""
    modules = sorted(p.stem for p in _kernel_cache.ENGINE_DIR.glob("*.py"))
    assert len(modules) > 40
    for m in modules:
        imports, kernels = _ast_reading(m)
        seen, todo = set(), [m]
        while todo:  # the closure by the oracle's imports
            x = todo.pop()
            if x not in seen:
                seen.add(x)
                todo.extend(_ast_reading(x)[0])
        assert _kernel_cache.closure(m) == frozenset(seen), m
        assert _kernel_cache.defines_kernels(m) == kernels, m
    assert sum(_kernel_cache.defines_kernels(m) for m in modules) >= 20


def test_the_regex_reading_handles_every_import_form(tmp_path, monkeypatch):
    for name in ("a", "b", "c", "d", "e"):
        (tmp_path / f"{name}.py").write_text("")
    (tmp_path / "m.py").write_text(textwrap.dedent('''
        """Docstring: from .e import nothing (not a statement)."""
        from .a import x
        from . import b as bee, c
        from .d import (
            y,
            z,
        )
        def f():
            @kernel  # a comment
            def g():
                from .a import w
    '''))
    monkeypatch.setattr(_kernel_cache, "ENGINE_DIR", tmp_path)
    caches = (_kernel_cache._imports, _kernel_cache.closure, _kernel_cache.defines_kernels)
    for fn in caches:
        fn.cache_clear()
    try:
        assert _kernel_cache.closure("m") == {"m", "a", "b", "c", "d"}
        assert _kernel_cache.defines_kernels("m")
        assert not _kernel_cache.defines_kernels("a")
    finally:
        for fn in caches:
            fn.cache_clear()


def test_a_module_cache_directory_removed_after_its_first_check_is_made_again(monkeypatch, tmp_path):
    """The locator tests writability once per directory and process (not once per kernel), yet a kernel
    decorated after someone removed the directory still finds it there."""
    from engine import activations

    monkeypatch.setenv("NUMBA_CACHE_DIR", str(tmp_path))
    made = []
    monkeypatch.setattr(_kernel_cache.caching._CacheLocator, "ensure_cache_path",
                        lambda self: made.append(self.get_cache_path()) or os.makedirs(self.get_cache_path()))
    py_file = activations.__file__
    first = _kernel_cache.EngineCacheLocator.from_function(activations.activate.py_func, py_file)
    second = _kernel_cache.EngineCacheLocator.from_function(activations.activate.py_func, py_file)
    assert first.get_cache_path() == second.get_cache_path() and Path(first.get_cache_path()).is_dir()
    assert made == [first.get_cache_path()]  # numba's check (a temporary file) ran once
    shutil.rmtree(first.get_cache_path())
    _kernel_cache.EngineCacheLocator.from_function(activations.activate.py_func, py_file)
    assert Path(first.get_cache_path()).is_dir() and len(made) == 1
