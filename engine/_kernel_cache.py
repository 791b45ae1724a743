"""Where the engine's compiled kernels are cached, keyed by the source they were compiled from.

numba decides whether a cached kernel is stale from the timestamp of the kernel's *own* file
only. A kernel compiles the kernels it calls into itself, so after an edit to ``activations.py``
a cached ``mlp_forward`` would go on running the old activation, silently. Here each engine
module's kernels are cached in ``<base>/<module>-<key>``, where the key hashes the
module's source together with every engine module it imports, transitively (``from .x import``):
editing a module recompiles exactly the modules that can contain its code, and nothing else.

``<base>`` is ``$NUMBA_CACHE_DIR/descentlab`` when that is set (``make``, the service and the Docker
image set it), else the user's cache directory (``$XDG_CACHE_HOME`` or ``~/.cache``) under
``descentlab/numba/<engine version>``: a notebook user's kernels compile once per version and never into
the installed package (which may be read-only, or shared by several users). Where that is not writable,
numba's own locators take over (``engine/__pycache__``, then its user-wide directory). Directories of a
module under another key that have not been written for a week are removed when the engine is imported
(several versions may share one volume meanwhile).

Only files in engine/ are redirected: other code's cached functions keep numba's own locations.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import time
from functools import cache
from pathlib import Path

from numba.core import caching

ENGINE_DIR = Path(__file__).parent.resolve()
STALE_AFTER_S = 7 * 24 * 3600


@cache
def _version() -> str:
    """The installed distribution's version, or ``dev`` (a source checkout that was never installed: the
    module keys below still tell apart every edit)."""
    try:
        from importlib.metadata import PackageNotFoundError, version

        return version("descentlab")
    except (ImportError, PackageNotFoundError):
        return "dev"


def user_cache_dir() -> Path:
    """Where kernels are cached when ``NUMBA_CACHE_DIR`` is unset: the user's cache, keyed by version."""
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "descentlab" / "numba" / _version()


def base_dir() -> Path:
    explicit = os.environ.get("NUMBA_CACHE_DIR")
    return Path(explicit) / "descentlab" if explicit else user_cache_dir()


# A relative import statement (``from .x import ...``, ``from . import x, y``, possibly indented or with its
# names in parentheses over several lines), and a ``@kernel`` decorator line. Read with regular expressions,
# not ``ast``: parsing and walking the 48 modules took 0.8 s of every ``import engine`` (and of every
# warm start of the service); tests/test_kernel_cache.py checks the two readings agree on every module.
_RELATIVE_IMPORT = re.compile(r"^[ \t]*from[ \t]+\.([A-Za-z_][\w.]*)?[ \t]+import[ \t]+(\([^)]*\)|[^\n]*)", re.M)
_KERNEL_DECORATOR = re.compile(r"^[ \t]*@kernel[ \t]*(#[^\n]*)?$", re.M)


@cache
def _imports(module: str) -> frozenset[str]:
    """Engine modules that ``module`` imports relatively (``from .x import`` / ``from . import x``)."""
    found = set()
    for m in _RELATIVE_IMPORT.finditer((ENGINE_DIR / f"{module}.py").read_text()):
        if m.group(1):
            names = [m.group(1)]
        else:
            names = [n.split()[0] for n in m.group(2).strip("()").replace("\\", " ").split(",") if n.strip()]
        found.update(n.split(".")[0] for n in names if (ENGINE_DIR / f"{n.split('.')[0]}.py").exists())
    return frozenset(found)


@cache
def closure(module: str) -> frozenset[str]:
    """``module`` and every engine module it imports, transitively (the sources its kernels can contain)."""
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m not in seen:
            seen.add(m)
            todo.extend(_imports(m))
    return frozenset(seen)


@cache
def defines_kernels(module: str) -> bool:
    """Whether ``module`` decorates functions with the project's cached jit (``@kernel``)."""
    return _KERNEL_DECORATOR.search((ENGINE_DIR / f"{module}.py").read_text()) is not None


@cache
def module_key(module: str) -> str:
    """16 hex digits of SHA-256 over the sources of ``module`` and its transitive engine imports."""
    h = hashlib.sha256()
    for m in sorted(closure(module)):
        h.update(m.encode() + b"\0" + (ENGINE_DIR / f"{m}.py").read_bytes())
    return h.hexdigest()[:16]


def module_cache_dir(module: str) -> Path:
    return base_dir() / f"{module}-{module_key(module)}"


_pruned: set[str] = set()  # modules pruned by this process (once: the directory listing is per kernel otherwise)
_writable: set[str] = set()  # cache directories this process has found writable


def _prune(module: str, keep: Path) -> None:
    if module in _pruned:
        return
    _pruned.add(module)
    try:
        for old in keep.parent.glob(f"{module}-*"):
            if old != keep and time.time() - old.stat().st_mtime > STALE_AFTER_S:
                shutil.rmtree(old, ignore_errors=True)
    except OSError:
        pass  # unreadable: numba falls back to its next locator anyway


class EngineCacheLocator(caching.UserProvidedCacheLocator):
    """numba's user-directory locator, pointed at the module's keyed directory."""

    def __init__(self, py_func, py_file):
        super().__init__(py_func, py_file)
        module = Path(py_file).stem
        self._cache_path = str(module_cache_dir(module))
        _prune(module, Path(self._cache_path))

    def ensure_cache_path(self):
        # numba checks writability with a temporary file for every kernel it decorates (243 of them at each
        # import of the engine): once per directory is enough. The directory itself is made every time,
        # in case it was removed meanwhile.
        if self._cache_path in _writable:
            os.makedirs(self._cache_path, exist_ok=True)
        else:
            super().ensure_cache_path()
            _writable.add(self._cache_path)

    @classmethod
    def from_function(cls, py_func, py_file):
        if Path(py_file).resolve().parent != ENGINE_DIR:
            return None
        # skip UserProvidedCacheLocator's own check (it requires NUMBA_CACHE_DIR)
        return super(caching.UserProvidedCacheLocator, cls).from_function(py_func, py_file)


def install() -> None:
    """Put the engine's locator first; numba asks its locators when each cached kernel is decorated."""
    if EngineCacheLocator not in caching.CacheImpl._locator_classes:
        caching.CacheImpl._locator_classes.insert(0, EngineCacheLocator)
