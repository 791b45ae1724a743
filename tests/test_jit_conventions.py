"""The project's Numba rules, checked on the engine's source (DEVELOPERS.md, engine/_jit.py).

* jit options are set in engine/_jit.py only (no other njit/jit/vectorize, no fastmath anywhere);
* no ``prange`` and no ``parallel=True``: independent pieces (grid rows, seeds, runs, variants) run on
  ``engine.threads``' OS threads, each a call of a serial kernel (a parallel kernel compiled its body and
  everything the body calls once more: 17 s of the empty-cache warm-up for one of them). A kernel that
  takes ``(..., lo, hi)`` covers rows lo..hi-1 and is called through ``block_threads`` (or from row 0);
* a kernel never passes a literal int or bool (``0``, ``True``, a constant such as ``TRAIN``) to
  another cached kernel: numba would compile the callee once more for each literal value (cold
  start: ``mlp_forward`` had been compiled six times). ``as_int``/``as_bool`` pass a plain value.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ENGINE = Path(__file__).resolve().parent.parent / "engine"
SOURCES = {p.stem: p.read_text() for p in sorted(ENGINE.glob("*.py"))}
TREES = {name: ast.parse(src) for name, src in SOURCES.items()}
JIT_DECORATORS = {"kernel", "inline_kernel"}


def _decorators(fn: ast.FunctionDef) -> set[str]:
    return {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}


def _functions(decorators: set[str]):
    for module, tree in TREES.items():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _decorators(node) & decorators:
                yield module, node


# cached kernels that are compiled on their own (inline kernels are typed inside each caller)
CALLEES = {fn.name for _, fn in _functions({"kernel"})}
INT_CONSTANTS = {
    target.id
    for tree in TREES.values()
    for node in tree.body
    if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
    and isinstance(node.value.value, int)  # bool is an int too
    for target in node.targets
    if isinstance(target, ast.Name) and target.id.isupper()
}


def _is_literal(arg: ast.expr) -> bool:
    if isinstance(arg, ast.UnaryOp) and isinstance(arg.op, ast.USub):
        arg = arg.operand
    if isinstance(arg, ast.Constant):
        return isinstance(arg.value, int)
    return isinstance(arg, ast.Name) and arg.id in INT_CONSTANTS


def literal_calls(tree: ast.AST) -> list[str]:
    """``caller:line callee(literal, ...)`` for every kernel-to-kernel call with a literal argument."""
    found = []
    for node in tree.body:
        if not (isinstance(node, ast.FunctionDef) and _decorators(node) & JIT_DECORATORS):
            continue
        for call in ast.walk(node):
            if isinstance(call, ast.Call) and isinstance(call.func, ast.Name) and call.func.id in CALLEES:
                args = [ast.unparse(a) for a in [*call.args, *(k.value for k in call.keywords)] if _is_literal(a)]
                if args:
                    found.append(f"{node.name}:{call.lineno} {call.func.id}({', '.join(args)})")
    return found


def test_jit_options_live_in_jit_module_only():
    for module, src in SOURCES.items():
        if module == "_jit":
            continue
        for word in ("njit", "numba.jit", "@jit", "fastmath", "vectorize(", "guvectorize"):
            assert word not in src, f"engine/{module}.py uses {word}: set jit options in engine/_jit.py"
    assert "fastmath" not in SOURCES["_jit"].replace("no fastmath", "").replace("No fastmath", "")


@pytest.mark.parametrize("module", sorted(TREES))
def test_no_literal_arguments_between_kernels(module):
    assert literal_calls(TREES[module]) == [], "wrap literal ints/bools passed to kernels in as_int/as_bool"


def test_the_literal_check_catches_what_it_should():
    # the check itself must be able to fail: the shapes that had caused extra compilations
    sample = ast.parse(
        "@kernel\n"
        "def caller(layout, X):\n"
        "    mlp_forward(layout, X, TRAIN, 0, -1)\n"
        "    mlp_forward(layout, X, as_int(TRAIN), as_int(0), step)\n"
        "    _penalty(layout, X, True)\n"
    )
    assert literal_calls(sample) == ["caller:3 mlp_forward(TRAIN, 0, -1)", "caller:5 _penalty(True)"]


def test_no_parallel_kernels():
    for module, src in SOURCES.items():
        tree = TREES[module]
        names = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {
            a.attr for a in ast.walk(tree) if isinstance(a, ast.Attribute)}
        assert "prange" not in names, f"engine.{module} uses prange: run the pieces with engine.threads"
        assert "parallel_kernel" not in names, f"engine.{module} uses a parallel kernel"
        for call in ast.walk(tree):
            if isinstance(call, ast.Call):
                for kw in call.keywords:
                    assert not (kw.arg == "parallel" and isinstance(kw.value, ast.Constant) and kw.value.value), \
                        f"engine.{module}:{call.lineno}: parallel=True"


def test_row_kernels_are_called_through_block_threads():
    """A kernel taking (lo, hi) does rows lo..hi-1: it is called with the blocks of block_threads, or from row 0."""
    row_kernels = {fn.name: module for module, fn in _functions({"kernel"})
                   if [a.arg for a in fn.args.args[-2:]] == ["lo", "hi"]}
    assert len(row_kernels) >= 5  # landscape grid rows, critical-point seeds, basins, descent runs, network landscape
    for name, module in row_kernels.items():
        calls = [(node, parent) for parent in ast.walk(TREES[module]) for node in ast.iter_child_nodes(parent)
                 if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name]
        importers = [tree for mod, tree in TREES.items() if mod != module and any(
            isinstance(i, ast.ImportFrom) and i.module == module and name in {a.name for a in i.names}
            for i in ast.walk(tree))]
        calls += [(node, parent) for tree in importers for parent in ast.walk(tree)
                  for node in ast.iter_child_nodes(parent)
                  if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == name]
        assert calls, f"engine.{module}.{name} is never called"
        for call, parent in calls:
            lo, hi = call.args[-2:]
            if isinstance(lo, ast.Constant) and lo.value == 0:
                continue  # from row 0 in this thread
            assert isinstance(parent, ast.Lambda), f"engine.{module}.{name}: called outside block_threads' lambda"
            assert [a.arg for a in parent.args.args] == ["c", "lo", "hi"] and \
                [getattr(x, "id", None) for x in (lo, hi)] == ["lo", "hi"], f"engine.{module}.{name}: not its block"
            outer = [c for tree in TREES.values() for c in ast.walk(tree) if isinstance(c, ast.Call) and parent in c.args]
            assert outer and all(isinstance(c.func, ast.Name) and c.func.id == "block_threads" for c in outer), \
                f"engine.{module}.{name}: its lambda is not given to block_threads"
