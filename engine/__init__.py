import importlib as _importlib
from importlib import metadata as _metadata

from .concepts import MODULES as _MODULES, SECTIONS as _SECTIONS, SUPPORT as _SUPPORT, catalog, build_catalog
from .errors import EngineInputError
from .limits import LIMITS
from .warmup import warm_kernels

try:
    __version__ = _metadata.version("descentlab")
except _metadata.PackageNotFoundError:  # a source tree on sys.path without `pip install -e .`
    __version__ = "0+unknown"

_TOP = ["EngineInputError", "LIMITS", "catalog", "build_catalog", "warm_kernels"]
__all__ = list(_TOP)
_CONCEPT_NAMES = []  # "engine.losses" -> its public names, for the docstring
for _name in _MODULES:
    _module = _importlib.import_module(_name)
    for _public in getattr(_module, "__all__", ()):
        globals()[_public] = getattr(_module, _public)
        __all__.append(_public)
del _name, _module, _public


def _doc() -> str:
    """The package docstring, written from the concept index (engine.concepts) so it cannot go stale."""
    key = max(len(s.key) for s in _SECTIONS)
    mod = max(len(m) for s in _SECTIONS for m in s.modules)
    lines = [f"  {(s.key if i == 0 else ''):<{key}}  {m:<{mod}}  {_first_line(m)}\n"
             for s in _SECTIONS for i, m in enumerate(s.modules)]
    return f"""descentlab's engine: Numba-compiled numbers behind every picture of how networks learn.

Usable without Flask. Each concept lives in a module of its own; its public names are re-exported here
(``engine.__all__``: ``engine.train`` is ``engine.training.train``), and ``help(engine.<module>)`` documents
it in full. ``engine.catalog()`` lists every choice (losses, optimizers, datasets, ...) with its parameters,
defaults and limits: the same dict as the service's ``GET /api/v1/catalog``.

    import engine
    engine.evaluate_loss("mse", [0.7, 0.2, 0.1], [1, 0, 0]).value
    t = engine.run_trajectory("rosenbrock", optimizer={{"name": "adam", "lr": 0.01}}, steps=200)
    t                      # a short repr: status, shapes, final loss
    t.to_dict(); t.to_json(); t.to_columns()   # plain data (engine.results); pandas.DataFrame(t.to_columns())

Every result is a frozen dataclass with read-only arrays, == by value, to_dict()/to_json(), and
to_columns() on histories and trajectories (engine.results). Bad input raises EngineInputError naming the
argument. ``engine.warm_kernels()`` compiles (or loads from the cache) every kernel up front.

Concepts: the catalog section, the module, what it holds (``engine.concepts.SECTIONS``):
{"".join(lines)}
Support modules (re-exported the same way): {", ".join(_SUPPORT)}.
"""


def _first_line(module: str) -> str:
    doc = (_importlib.import_module(module).__doc__ or "").strip().split("\n")[0]
    return doc if len(doc) <= 64 else doc[:61] + "..."


__doc__ = _doc()


def __dir__() -> list[str]:
    # dir() and so pydoc list the top-level names and the concept modules: help(engine) stays a page
    # (pydoc documents every name of __all__ that dir() returns, ~4,000 lines for the full surface).
    # Every public name stays importable (engine.train, from engine import *, __all__ is complete).
    modules = sorted({m.split(".")[1] for m in _MODULES} | {"concepts", "results"})
    # (EngineInputError and build_catalog are in __all__ but not here: the exception's page is 80 lines)
    return sorted(["LIMITS", "catalog", "warm_kernels", "__all__", "__doc__", "__name__", "__path__", "__version__"]
                  + modules)
