"""The project's jit decorators: every jit option is set here and nowhere else.

* ``kernel``: serial, cached to disk, ``nogil``. For kernels that take only arrays and scalars.
  There is no parallel variant: independent pieces (grid rows, start points, runs) are serial kernels
  run on OS threads by ``engine.threads`` (a ``parallel=True`` kernel compiles its body, and all it
  calls, once more into a gufunc: 17 s of the empty-cache warm-up for one of them).
* ``inline_kernel``: ``kernel`` with ``inline="always"``: numba inlines it into each caller's IR
  (small helpers and per-step functions on hot paths: saves the call and its array-argument
  marshalling, ~10-25 ns a call, at the price of compiling the body into every caller).
* ``error_model="numpy"``: a division by zero yields inf/nan instead of raising, so a
  diverging run is reported as data by the layer above rather than as an exception.
* No fastmath anywhere: losses, optimizers and networks must match torch to 1e-12, and
  ``reassoc``/``contract`` reorder sums.
* Kernels are cached per module under a key of the module's source and everything it imports
  (``_kernel_cache``): numba alone would keep running a kernel compiled from an older callee.
* Loading a cached kernel leaves its LLVM bitcode unparsed until a compile links against it
  (``_kernel_loading``): 0.4 s of every warm start.
"""

from __future__ import annotations

import numba
import numpy as np

from . import _kernel_cache, _kernel_loading

_kernel_cache.install()  # before any kernel below is decorated
_kernel_loading.install()  # before any kernel is loaded from the cache

_COMMON = dict(cache=True, nogil=True, error_model="numpy")

kernel = numba.njit(**_COMMON)
inline_kernel = numba.njit(inline="always", **_COMMON)

# numba types a constant int (a global such as TRAIN, or a bare 0) as its own Literal type, and a
# kernel called with one from another kernel is compiled again for that value: mlp_forward was
# compiled six times, ~4 s each on an empty cache. Kernels pass such constants as ``as_int(TRAIN)``,
# a plain int64, so every caller shares the callee's one compiled version (as_bool: True/False).
# tests/test_jit_conventions.py finds any call that passes a literal again.
as_int = np.int64
as_bool = np.bool_


def cache_dir(module: str) -> str:
    """Where ``engine.<module>``'s compiled kernels are cached."""
    return str(_kernel_cache.module_cache_dir(module))
