"""Every public name of ``engine`` refuses bad input with ``EngineInputError`` naming the argument.

The rows (tests/surface_rows_*.py, see tests/public_surface.py) give each public function a valid call and
its refusals. Here each refusal is checked, and each argument of each valid call is replaced in turn by
garbage: the call must still either succeed or raise ``EngineInputError`` whose field is one of the
function's own argument names; a TypeError, a Numba TypingError, an IndexError, a MemoryError or a crash
fails the test. Beside that: no raw Numba kernel is exported, and every public function has an explicit
keyword signature with type hints and a docstring.
"""

from __future__ import annotations

import inspect

import numpy as np
import pytest

import engine
from engine import EngineInputError
from public_surface import rows

ROWS = rows()


def _public_callables() -> list[str]:
    out = []
    for name in engine.__all__:
        obj = getattr(engine, name)
        if callable(obj) and not inspect.isclass(obj):
            out.append(name)
    return out


GARBAGE = {
    "list of strings": ["a", "b"],
    "3-D array": np.zeros((2, 2, 2)),
    "empty array": np.empty(0),
    "NaN": float("nan"),
    "inf": float("inf"),
    "negative": -1,
    "huge": 10**12,
    "None": None,
    "unknown name": "no-such-thing",
    "dict": {"no_such_key": 1},
    "object": object(),
}


def _is_kernel(obj) -> bool:
    from numba.core.registry import CPUDispatcher

    return isinstance(obj, CPUDispatcher)


def test_no_raw_kernel_is_exported():
    raw = [n for n in engine.__all__ if _is_kernel(getattr(engine, n))]
    assert raw == [], f"raw Numba kernels exported unchecked: {raw}"


def test_every_public_function_has_rows():
    missing = [n for n in _public_callables() if n not in ROWS]
    assert missing == [], f"public functions without surface rows: {missing}"
    unknown = [n for n in ROWS if n not in engine.__all__]
    assert unknown == [], f"rows for names engine does not export: {unknown}"


@pytest.mark.parametrize("name", _public_callables())
def test_signature_is_explicit_typed_and_documented(name):
    fn = getattr(engine, name)
    sig = inspect.signature(fn)
    assert not any(p.kind is p.VAR_KEYWORD for p in sig.parameters.values()), f"{name} takes **kwargs"
    unannotated = [p.name for p in sig.parameters.values() if p.annotation is inspect.Parameter.empty]
    assert unannotated == [], f"{name}: parameters without type hints: {unannotated}"
    assert sig.return_annotation is not inspect.Signature.empty, f"{name}: no return type hint"
    assert (fn.__doc__ or "").strip(), f"{name}: no docstring"


REFUSALS = [(name, label, call, field) for name, row in sorted(ROWS.items()) for label, call, field in row.refusals]


@pytest.mark.parametrize("name,label,call,field", REFUSALS, ids=[f"{n}-{lab}" for n, lab, _, _ in REFUSALS])
def test_refusal(name, label, call, field):
    with pytest.raises(EngineInputError) as err:
        call(engine)
    got = err.value.field
    assert got == field or got.startswith(field + "."), f"{name} ({label}): field {got!r}, expected {field!r}"


@pytest.mark.parametrize("name", sorted(ROWS))
def test_valid_call_succeeds(name):
    args, kwargs = ROWS[name].valid()
    getattr(engine, name)(*args, **kwargs)


def _arguments(fn, args, kwargs) -> dict:
    bound = inspect.signature(fn).bind(*args, **kwargs)
    return dict(bound.arguments)


MUTATED = [n for n in sorted(ROWS) if ROWS[n].mutate]


@pytest.mark.parametrize("name", MUTATED)
def test_garbage_in_any_argument_is_refused_by_name(name):
    fn = getattr(engine, name)
    row = ROWS[name]
    params = list(inspect.signature(fn).parameters)
    args, kwargs = row.valid()
    for arg in _arguments(fn, args, kwargs):
        if arg in row.skip_args:
            continue
        for label, bad in GARBAGE.items():
            a, kw = row.valid()
            call = _arguments(fn, a, kw)
            call[arg] = bad
            try:
                fn(**call)
            except EngineInputError as err:
                root = err.field.split(".")[0]
                assert root in params, (f"{name}({arg}={label}): the error names {err.field!r}, "
                                        f"not one of the arguments {params}")
            except Exception as err:  # noqa: BLE001 - anything else reaching the user is the failure
                pytest.fail(f"{name}({arg}={label}) raised {type(err).__name__}: {str(err)[:300]}")
