"""engine._kernel_loading: cached engine kernels load without parsing their bitcode, and still link.

Checked against numba's own loader: the symbols read from each cached kernel's machine code are the
ones numba reads from its parsed bitcode, for every kernel the engine has cached; a compile that calls
a kernel loaded this way links it and gives the same numbers; other cached functions load as before.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import llvmlite.binding as ll
import numba
import numpy as np
import pytest

import engine
from engine import _kernel_cache, _kernel_loading
from engine.clipping import grad_norm

ROOT = Path(engine.__file__).resolve().parent.parent


def _engine_dispatchers():
    engine.warm_kernels()  # every kernel compiled into (or already in) the cache
    for name, module in sorted(sys.modules.items()):
        if name.startswith("engine.") and module is not None:
            for value in vars(module).values():
                if (isinstance(value, numba.core.registry.CPUDispatcher) and value.__module__ == name
                        and isinstance(getattr(value._cache, "_impl", None), numba.core.caching.CompileResultCacheImpl)
                        and isinstance(value._cache._impl.locator, _kernel_cache.EngineCacheLocator)):
                    yield value


def _bitcode_symbols(bitcode: bytes) -> frozenset[str]:
    """What numba's loader records: every defined function and global of the parsed module."""
    module = ll.parse_bitcode(bitcode)
    return frozenset(g.name for group in (module.functions, module.global_variables) for g in group
                     if not g.is_declaration)


def test_symbols_read_from_machine_code_equal_numbas_from_bitcode_for_every_cached_kernel():
    checked = 0
    for dispatcher in _engine_dispatchers():
        cache_file = dispatcher._cache._cache_file
        for data_name in cache_file._load_index().values():
            libdata = cache_file._load_data(data_name)[0]  # CompileResult._reduce: the library comes first
            name, kind, (object_code, bitcode) = libdata
            assert kind == "object"
            symbols = _kernel_loading.defined_symbols(object_code)
            assert symbols is not None, name
            assert symbols == _bitcode_symbols(bitcode), name
            checked += 1
    assert checked >= 60  # the service warms 64 kernels; fewer means the walk above missed some


def test_a_fresh_process_with_a_warm_cache_loads_every_engine_kernel_lazily():
    """In a fresh process with a warm cache every engine kernel loads lazily (the warm start's saving)."""
    probe = textwrap.dedent("""
        import numba, sys, engine
        from engine import _kernel_loading
        engine.warm_kernels()
        libs = [c.library for m, mod in list(sys.modules.items()) if m.startswith("engine.") and mod
                for v in vars(mod).values() if isinstance(v, numba.core.registry.CPUDispatcher) and v.__module__ == m
                for c in v.overloads.values()]
        print(len(libs), sum(map(_kernel_loading.is_lazy, libs)))
    """)
    engine.warm_kernels()  # the cache is warm
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr[-2000:]
    total, lazy = map(int, run.stdout.split())
    assert total >= 60 and lazy == total


def test_a_compile_calling_a_lazily_loaded_kernel_links_it_and_matches_numpy():
    g = np.array([3.0, -4.0, 12.0])
    assert grad_norm(g) == 13.0  # compiled or loaded in this process, and so cached on disk
    probe = textwrap.dedent("""
        import numba, numpy as np
        from engine import _kernel_loading
        from engine.clipping import grad_norm
        g = np.array([3.0, -4.0, 12.0])
        assert grad_norm(g) == 13.0
        library = grad_norm.overloads[grad_norm.signatures[0]].library
        assert grad_norm.stats.cache_hits, "loaded from the cache"
        assert _kernel_loading.is_lazy(library)

        @numba.njit
        def twice_the_norm(x):  # links grad_norm's library into its own: the bitcode is parsed now
            return 2.0 * grad_norm(x)

        assert twice_the_norm(g) == 26.0
        assert not _kernel_loading.is_lazy(library) and library._shared_module is not None
        print("ok")
    """)
    run = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and run.stdout.strip() == "ok", run.stderr[-2000:]


def test_cached_functions_outside_the_engine_load_as_numba_loads_them(tmp_path):
    (tmp_path / "userfuncs.py").write_text(textwrap.dedent("""
        import numba

        @numba.njit(cache=True)
        def square_sum(x):
            s = 0.0
            for v in x:
                s += v * v
            return s
    """))
    probe = textwrap.dedent("""
        import sys
        import numpy as np
        import engine  # installs the engine's loader first
        from engine import _kernel_loading
        from userfuncs import square_sum
        assert square_sum(np.array([1.0, 2.0])) == 5.0
        library = square_sum.overloads[square_sum.signatures[0]].library
        print(square_sum.stats.cache_hits and 1 or 0, int(_kernel_loading.is_lazy(library)),
              int(library._shared_module is not None))
    """)
    env = dict(os.environ, PYTHONPATH=f"{tmp_path}{os.pathsep}{ROOT}", NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    runs = [subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                           timeout=600) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[-1].stderr[-2000:]
    # compiled then loaded; the loaded one parsed its bitcode as numba does (is not lazy)
    assert runs[0].stdout.split() == ["0", "0", "1"]
    assert runs[1].stdout.split() == ["1", "0", "1"]


@pytest.mark.parametrize("blob", [b"", b"\xcf\xfa\xed\xfe" + bytes(60), b"MZ" + bytes(62),
                                  b"\x7fELF\x01\x01" + bytes(58)])  # empty, Mach-O, PE, 32-bit ELF
def test_objects_that_are_not_elf64_little_endian_are_left_to_numba(blob):
    assert _kernel_loading.defined_symbols(blob) is None
