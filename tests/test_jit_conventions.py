"""The project's Numba rules, checked on the engine's source (DEVELOPERS.md, engine/_jit.py).

* jit options are set in engine/_jit.py only (no other njit/jit/vectorize, no fastmath anywhere);
* ``prange`` only in ``parallel_kernel`` functions, and only on the outermost loop;
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
JIT_DECORATORS = {"kernel", "parallel_kernel", "inline_kernel"}


def _decorators(fn: ast.FunctionDef) -> set[str]:
    return {d.id for d in fn.decorator_list if isinstance(d, ast.Name)}


def _functions(decorators: set[str]):
    for module, tree in TREES.items():
        for node in tree.body:
            if isinstance(node, ast.FunctionDef) and _decorators(node) & decorators:
                yield module, node


# cached kernels that are compiled on their own (inline kernels are typed inside each caller)
CALLEES = {fn.name for _, fn in _functions({"kernel", "parallel_kernel"})}
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


def _loops(node: ast.AST, depth: int = 0):
    """(for-node, number of enclosing for-loops) for every for-loop below ``node``."""
    for child in ast.iter_child_nodes(node):
        if isinstance(child, ast.For):
            yield child, depth
            yield from _loops(child, depth + 1)
        else:
            yield from _loops(child, depth)


def _is_prange(loop: ast.For) -> bool:
    it = loop.iter
    return isinstance(it, ast.Call) and isinstance(it.func, ast.Name) and it.func.id == "prange"


def test_prange_only_on_the_outer_loop_of_parallel_kernels():
    uses = 0
    for module, tree in TREES.items():
        for node in tree.body:
            if not isinstance(node, ast.FunctionDef):
                continue
            for loop, depth in _loops(node):
                if _is_prange(loop):
                    uses += 1
                    assert "parallel_kernel" in _decorators(node), f"{module}.{node.name}: prange outside parallel_kernel"
                    assert depth == 0, f"{module}.{node.name}:{loop.lineno}: prange inside another loop"
    assert uses >= 5  # grid rows, critical-point seeds, basins, races, sweeps, network landscape
