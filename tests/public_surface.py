"""What the public-surface tests call: for every public function of ``engine``, one valid call and the
refusals it must make.

Each ``surface_rows_*.py`` module contributes a ``ROWS`` dict: public name -> ``Row``. A row holds

* ``valid``: a thunk returning ``(args, kwargs)`` of a small call that succeeds (fresh arrays each time);
  tests/test_public_surface.py replaces each argument in turn by garbage (a list of strings, a 3-D
  array, an int array, NaN, None, a negative number, ...) and requires success or ``EngineInputError``:
  never a TypeError, a Numba TypingError, a crash or a silent partial update;
* ``refusals``: ``(label, call, field)`` triples, ``call(engine)`` must raise ``EngineInputError`` whose
  field is ``field`` or under it (``"lr"`` accepts ``"lr"`` and ``"lr.0"``). Labels say which wrong
  input it is: wrong shape, wrong dtype, list, mismatched lengths, unknown name, t = 0, ...;
* ``mutate``: whether the garbage substitution runs (off only for calls too costly to repeat ~10 times
  per argument, e.g. a sweep that starts a cluster; their ``refusals`` must then cover every argument).

A public class users construct (``engine.Optimizer``) has a row too, its methods called from ``refusals``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

Call = Callable[[Any], Any]


@dataclass(frozen=True)
class Row:
    valid: Callable[[], tuple[tuple, dict]]
    refusals: tuple[tuple[str, Call, str], ...] = ()
    mutate: bool = True
    skip_args: tuple[str, ...] = field(default=())  # arguments the garbage pass leaves alone (callables, say why)


def rows() -> dict[str, Row]:
    """Every contributed row, by public name (a name in two modules is a mistake)."""
    import importlib
    import pkgutil
    from pathlib import Path

    out: dict[str, Row] = {}
    here = Path(__file__).parent
    for info in pkgutil.iter_modules([str(here)]):
        if info.name.startswith("surface_rows_"):
            mod = importlib.import_module(info.name)
            for name, row in mod.ROWS.items():
                assert name not in out, f"{name} has rows in two modules"
                out[name] = row
    return out
