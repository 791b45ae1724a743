"""engine.expression: the whitelist parser and compiler.

1. Precedence and associativity agree with Python's own parser (the grammar is a subset of Python's
   expressions, so ``ast.parse`` is an independent oracle): hypothesis writes strings of the grammar
   without regard to precedence, and our value must equal an ``ast`` walk of the same string.
2. Every error names ``expression``, the 1-based column and what was expected.
3. Limits: at each limit a formula compiles, one past it is refused naming the limit; nesting far
   past the depth limit never reaches a RecursionError, and huge inputs are refused at once.
4. Fuzzing (hypothesis): arbitrary text, text over the grammar's alphabet and Python constructs
   (attributes, lambdas, subscripts, comprehensions, ``__import__``, dunders, keywords, huge
   exponents, deep nesting) only ever give a program or an ``ExpressionError``.
5. Folding, integer powers, the program cache, parameters, the catalog section.
"""

from __future__ import annotations

import ast
import math
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import engine
from engine import formula as vm
from engine.errors import EngineInputError
from engine.expression import (
    FUNCTIONS,
    PROGRAM_CACHE_SIZE,
    ExpressionError,
    Program,
    compile_expression,
    describe,
    resolve_formula,
)
from engine.limits import LIMITS

FUZZ = settings(max_examples=300, deadline=None, derandomize=True, database=None,
                suppress_health_check=list(HealthCheck))
PARAMS = {"a": 0.75, "b": -1.5}
resolve_formula("sin(1)*x").grad(0.0, 0.0)  # compile (or load) the kernels before any example runs


# ---------------------------------------------------------------------------------------------
# 1. Precedence: Python's parser as the oracle
# ---------------------------------------------------------------------------------------------
def _sigmoid(v):
    t = math.exp(-abs(v))
    return 1 / (1 + t) if v >= 0 else t / (1 + t)


PY_FUNCS = {
    "abs": abs, "sqrt": math.sqrt, "exp": math.exp, "log": math.log, "log1p": math.log1p, "sin": math.sin,
    "cos": math.cos, "tan": math.tan, "tanh": math.tanh, "sinh": math.sinh, "cosh": math.cosh,
    "arctan": math.atan, "sigmoid": _sigmoid, "softplus": lambda v: max(v, 0.0) + math.log1p(math.exp(-abs(v))),
    "min": min, "max": max,
}
PY_OPS = {ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b, ast.Mult: lambda a, b: a * b,
          ast.Div: lambda a, b: a / b, ast.Pow: lambda a, b: a**b}


def py_value(text: str, x: float, y: float) -> float:
    """The value of ``text`` as Python's parser structures it (an ast walk, not eval)."""

    def walk(node):
        if isinstance(node, ast.Expression):
            return walk(node.body)
        if isinstance(node, ast.Constant):
            return float(node.value)
        if isinstance(node, ast.Name):
            return {"x": x, "y": y, "pi": math.pi, "e": math.e, **PARAMS}[node.id]
        if isinstance(node, ast.UnaryOp):
            v = walk(node.operand)
            return -v if isinstance(node.op, ast.USub) else v
        if isinstance(node, ast.BinOp):
            return float(PY_OPS[type(node.op)](walk(node.left), walk(node.right)))
        if isinstance(node, ast.Call):
            return float(PY_FUNCS[node.func.id](*(walk(a) for a in node.args)))
        raise AssertionError(ast.dump(node))

    return walk(ast.parse(text, mode="eval"))


ATOMS = ["x", "y", "a", "b", "2", "0.5", "3", "1.5e0", "pi", "e", ".25"]
UNARY_NAMES = [n for n, f in FUNCTIONS.items() if f.arity == 1]


def _grammar_strings():
    """Strings of the grammar joined with no regard to precedence (so the parser must supply it)."""
    atoms = st.sampled_from(ATOMS)

    def extend(child):
        return st.one_of(
            st.tuples(child, st.sampled_from(["+", "-", "*", "/", "**", " - ", "**-", "*-"]), child).map("".join),
            child.map(lambda s: "-" + s),
            child.map(lambda s: "+" + s),
            child.map(lambda s: f"({s})"),
            st.tuples(st.sampled_from(UNARY_NAMES), child).map(lambda t: f"{t[0]}({t[1]})"),
            st.tuples(st.sampled_from(["min", "max"]), child, child).map(lambda t: f"{t[0]}({t[1]}, {t[2]})"),
        )

    return st.recursive(atoms, extend, max_leaves=12)


@FUZZ
@given(_grammar_strings(), st.floats(-2, 2), st.floats(-2, 2))
def test_precedence_and_associativity_agree_with_pythons_parser(text, x, y):
    try:
        want = py_value(text, x, y)
    except (ValueError, ZeroDivisionError, OverflowError, TypeError):
        want = None  # a domain error or a complex power in Python: ours is NaN/inf (checked elsewhere)
    try:
        f = resolve_formula(text, PARAMS)
    except ExpressionError as e:
        assert "constants must be finite" in str(e), (text, str(e))
        return
    got = f.value(x, y)
    assume(want is not None and math.isfinite(want) and math.isfinite(got))
    # same operations in the same order; 1e-9 leaves room for pow() vs repeated multiplication
    # in cancellations, while a wrong grouping changes the value at O(1)
    assert got == pytest.approx(want, rel=1e-9, abs=1e-9), text


@pytest.mark.parametrize("text, same_as", [
    ("-x**2", "-(x**2)"),
    ("2**-x", "2**(-x)"),
    ("x**y**a", "x**(y**a)"),
    ("x - y - a", "(x - y) - a"),
    ("x / y / a", "(x / y) / a"),
    ("-x*y", "(-x)*y"),
    ("--x", "x"),
    ("+-+x", "-x"),
    ("2*-y**2", "2*(-(y**2))"),
    ("x**-y**2", "x**(-(y**2))"),
    ("-2**2 + x", "-4 + x"),
    ("(-2)**2 + x", "4 + x"),
])
def test_documented_precedence_examples(text, same_as):
    for x, y in ((1.3, 0.7), (0.4, 1.9)):
        assert resolve_formula(text, PARAMS).value(x, y) == resolve_formula(same_as, PARAMS).value(x, y)


# ---------------------------------------------------------------------------------------------
# 2. Errors: the field, the column and what was expected
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, column, says", [
    ("x*", 3, "expected an operand after '*', found the end of the expression"),
    ("1 + 2 * ", 9, "expected an operand after '*'"),
    ("x * / y", 5, "expected an operand after '*', found '/'"),
    ("", 1, "the expression is empty"),
    ("   ", 4, "the expression is empty"),
    ("* x", 1, "expected an operand at the start, found '*'"),
    ("x ^ 2", 3, "'^': use ** for powers"),
    ("x.real", 2, "attribute access is not allowed"),
    ("x[0]", 2, "subscripts are not allowed"),
    ("min(x, y=2)", 9, "keyword arguments"),
    ("x < y", 3, "comparisons are not in the grammar"),
    ("'x'", 1, "strings are not allowed"),
    ("x // 2", 3, "there is no floor division"),
    ("x \u2212 1", 3, "use '-' (ASCII minus)"),
    ("x\u00b2", 2, "use **2"),
    ("2 \u00d7 x", 3, "use * for products"),
    ("(x + 1", 7, "expected ')' to close the '(' at column 1, found the end of the expression"),
    ("x + 1)", 6, "unmatched ')'"),
    ("2x", 2, "expected an operator after '2', found 'x' (products need *"),
    ("x y", 3, "expected an operator after 'x', found 'y'"),
    ("x (y)", 1, "'x' is not a function (products need *, e.g. x*(...))"),
    ("(x)(y)", 4, "expected an operator after ')', found '(' (products need *"),
    ("sin x", 5, "expected '(' after the function 'sin', found 'x'"),
    ("sin", 4, "expected '(' after the function 'sin', found the end"),
    ("sine(x)", 1, "unknown function 'sine' (did you mean 'sin'?)"),
    ("atan(x)", 1, "unknown function 'atan' (did you mean 'arctan'?)"),
    ("x(2)", 1, "'x' is not a function"),
    ("z + 1", 1, "unknown name 'z'; a name is x, y, pi, e or a parameter (parameters: a, b)"),
    ("x + aa", 5, "unknown name 'aa' (did you mean 'a'?)"),
    ("__import__('os')", 1, "unknown function '__import__'"),
    ("x.__class__", 2, "attribute access"),
    ("lambda: x", 1, "'lambda' is a Python keyword"),
    ("None", 1, "'None' is a Python keyword"),
    ("sin(x, y)", 6, "sin takes 1 argument; expected ')'"),
    ("max(x)", 1, "max takes 2 arguments, got 1"),
    ("min(x, y, 1)", 9, "min takes 2 arguments; expected ')'"),
    ("sin()", 5, "expected an operand after '(', found ')'"),
    ("sin(x", 6, "expected ',' or ')' in the call to sin, found the end"),
    ("1e999 * x", 1, "the number 1e999 is out of the float64 range"),
    ("log(-1) + x", 1, "the constant part 'log(-1)' evaluates to nan"),
    ("x + 10**400", 5, "the constant part '10**400' evaluates to inf"),
    ("x * (2 - 2)**-1", 5, "evaluates to inf"),
    ("1j", 2, "expected an operator after '1', found 'j'"),
    ("0x1f", 2, "expected an operator after '0', found 'x1f'"),
    ("1_000", 2, "expected an operator after '1', found '_000'"),
])
def test_errors_name_the_column_and_what_was_expected(text, column, says):
    with pytest.raises(ExpressionError) as info:
        resolve_formula(text, PARAMS)
    e = info.value
    assert isinstance(e, EngineInputError) and e.field == "expression"
    assert e.column == column, str(e)
    assert str(e).startswith(f"expression: column {column}: "), str(e)
    assert says in str(e), str(e)


@pytest.mark.parametrize("params, field, says", [
    ([1, 2], "params", "must be an object"),
    ({"x": 1.0}, "params.x", "built-in name"),
    ({"sin": 1.0}, "params.sin", "built-in name"),
    ({"_a": 1.0}, "params._a", "a letter"),
    ({"__class__": 1.0}, "params.__class__", "a letter"),
    ({"1a": 1.0}, "params.1a", "a letter"),
    ({"a" * 33: 1.0}, "params." + "a" * 33, "up to 31"),
    ({"a": True}, "params.a", "must be a number"),
    ({"a": "1"}, "params.a", "must be a number"),
    ({"a": math.nan}, "params.a", "must be finite"),
    ({"a": -math.inf}, "params.a", "must be finite"),
])
def test_bad_parameters_are_refused_naming_them(params, field, says):
    with pytest.raises(EngineInputError) as info:
        resolve_formula("a*x", params)
    assert info.value.field == field and says in info.value.message


def test_parameter_values_may_be_numpy_numbers_and_unused_ones_are_kept():
    f = resolve_formula("a*x", {"a": np.float32(2.0), "unused": np.int64(3)})
    assert f.param_names == ("a",) and f.params == {"a": 2.0, "unused": 3.0}
    assert f.value(1.5, 0.0) == 3.0


# ---------------------------------------------------------------------------------------------
# 3. Limits
# ---------------------------------------------------------------------------------------------
def _refused(text: str, limit: str, params=None) -> ExpressionError:
    with pytest.raises(EngineInputError) as info:
        resolve_formula(text, params)
    assert f"exceeds limit {limit}={LIMITS[limit]}" in str(info.value), str(info.value)
    return info.value


def test_length_limit():
    n = LIMITS["max_expression_length"]
    assert compile_expression("x" + " " * (n - 1)).disassemble() == ["x"]
    assert _refused("x" + " " * n, "max_expression_length").field == "expression"


def test_node_limit():
    n = LIMITS["max_expression_nodes"]
    at_limit = "-x" + "+x" * ((n - 2) // 2)  # 2 + 2·499 = 1000 operands and operators
    assert compile_expression(at_limit).nodes == n
    e = _refused(at_limit + "+x", "max_expression_nodes")
    assert e.column == len(at_limit) + 2  # the operand that makes it one too many


def test_depth_limit():
    n = LIMITS["max_expression_depth"]
    assert resolve_formula("(" * n + "x" + ")" * n).value(2.0, 0.0) == 2.0
    for deep in ("(" * (n + 1) + "x" + ")" * (n + 1), "-" * (n + 1) + "x", "x**" * (n + 1) + "x",
                 "sin(" * (n + 1) + "x" + ")" * (n + 1), "min(x, " * (n + 1) + "x" + ")" * (n + 1)):
        assert _refused(deep, "max_expression_depth").column is not None


@pytest.mark.parametrize("level", ["x + x*min(x, {})", "x + x*({})", "x + x*x**({})", "x + x*x**min(x, {})",
                                   "-({}) + x", "max({}, x) * x"])
def test_deepest_stacks_within_the_depth_limit_fit_the_point_machine(level):
    # the nesting that adds the most stack slots per level allowed, repeated up to the depth limit
    text = "x"
    while True:
        deeper = level.format(text)
        try:
            compile_expression(deeper)
        except ExpressionError as e:
            assert "max_expression_depth" in str(e)
            break
        text = deeper
    program = compile_expression(text)
    assert program.depth <= vm.STACK_ROWS
    f = resolve_formula(text)
    assert np.isfinite(f.value_grad_hess(0.5, 0.25)).all()
    assert f.value(0.5, 0.25) == pytest.approx(py_value(text, 0.5, 0.25), rel=1e-12)


def test_parameter_count_limit():
    n = LIMITS["max_expression_params"]
    names = [f"p{i}" for i in range(n + 1)]
    f = resolve_formula("+".join(names[:n]) + "+x", dict.fromkeys(names[:n], 1.0))
    assert f.value(1.0, 0.0) == n + 1
    with pytest.raises(EngineInputError) as info:
        resolve_formula("x", dict.fromkeys(names, 1.0))
    assert info.value.field == "params" and f"max_expression_params={n}" in info.value.message


def test_huge_inputs_are_refused_at_once():
    t0 = time.perf_counter()
    e = _refused("(" * 500_000 + "x" + ")" * 500_000, "max_expression_length")  # 1 MB
    assert time.perf_counter() - t0 < 0.05
    assert e.column is None


@pytest.mark.parametrize("shape", ["parens", "unary", "power", "calls", "sum"])
def test_far_past_the_depth_limit_with_no_length_limit_there_is_no_recursion_error(shape, monkeypatch):
    monkeypatch.setitem(LIMITS, "max_expression_length", 10**7)
    k = 100_000
    text = {"parens": "(" * k + "x" + ")" * k, "unary": "-" * k + "x", "power": "x**" * k + "x",
            "calls": "sin(" * k + "x" + ")" * k, "sum": "x+" * 500_000 + "x"}[shape]
    limit = "max_expression_nodes" if shape == "sum" else "max_expression_depth"
    t0 = time.perf_counter()
    e = _refused(text, limit)  # a RecursionError would fail this test
    assert time.perf_counter() - t0 < 1.0  # stops at the limit: reads a few thousand characters
    assert e.column <= 4 * LIMITS["max_expression_nodes"]


# ---------------------------------------------------------------------------------------------
# 4. Fuzzing: a program or an ExpressionError, nothing else
# ---------------------------------------------------------------------------------------------
def _compiles_or_refuses(text: str) -> Program | None:
    try:
        program = compile_expression(text, ("a", "b"))
    except ExpressionError as e:
        assert e.field == "expression" and e.message
        return None
    assert isinstance(program, Program)
    # whatever compiled also runs: values, never exceptions, at a few points
    f = resolve_formula(text, PARAMS)
    for x, y in ((0.0, 0.0), (1.5, -2.0), (-1e3, 1e-3)):
        assert len(f.value_grad_hess(x, y)) == 6
    return program


@FUZZ
@given(st.text(max_size=300))
def test_arbitrary_text(text):
    _compiles_or_refuses(text)


@FUZZ
@given(st.text(alphabet="xyab()+-*/.,^[]=_'\"!<>%@&|~#:; \n\t0123456789eEjpisnoqrtlgmhcdu\u2212\u00b2", max_size=80))
def test_text_over_the_grammars_alphabet(text):
    _compiles_or_refuses(text)


# Python constructs that must never be accepted, whatever surrounds them
FORBIDDEN = [
    "x.real", "x.__class__", "().__class__.__bases__[0].__subclasses__()", "__import__('os')", "__builtins__",
    "__import__", "lambda: 0", "lambda x: x", "[i for i in (1, 2)]", "{i: i for i in (1,)}", "(i for i in x)",
    "x[0]", "x[1:2]", "x if y else 1", "open('/etc/passwd')", "exec('1')", "eval('1')", "globals()",
    "getattr(x, 'real')", "x @ y", "x and y", "not x", "x < y", "x == y", "f'{x}'", "b'x'", "1j", "0x1f",
    "1_000", "(x := 1)", "*x", "**x", "sin(x=1)", "sin(*x)", "max(x, y, 1)", "yield x", "await x", "x; y",
    "#", "...", "None", "True", "print", "sys", "math.pi", "np.sin(x)", "os.system('true')", "\\", "$", "`",
    "9**9**9**9", "2**1024", "10**400", "x**1e309", "1e999", "exp(1000)", "log(0)", "sqrt(-1)", "0/0",
    "(" * 70 + "x" + ")" * 70, "-" * 70 + "x", "x**" * 70 + "x", "sin(" * 70 + "x" + ")" * 70,
    "x" + "+x" * 1000, " " * 8001,
]


def _with_forbidden():
    parts = st.one_of(st.sampled_from(FORBIDDEN), st.sampled_from(ATOMS))
    joined = st.tuples(parts, st.sampled_from([" + ", " * ", " ** ", " / ", " - ", ", "]), parts).map("".join)
    wrapped = st.one_of(joined, joined.map(lambda s: f"sin({s})"), joined.map(lambda s: f"({s})"),
                        joined.map(lambda s: f"min({s})"))
    return st.tuples(wrapped, st.sampled_from(FORBIDDEN)).map(lambda t: f"{t[0]} + {t[1]}")


@FUZZ
@given(_with_forbidden())
def test_python_constructs_are_always_refused(text):
    assert _compiles_or_refuses(text) is None, text


def test_every_forbidden_construct_is_refused_on_its_own():
    for text in FORBIDDEN:
        assert _compiles_or_refuses(text) is None, text


def test_the_parser_never_evaluates_or_imports():
    tree = ast.parse(Path(engine.expression.__file__).read_text())
    called = {n.func.id for n in ast.walk(tree) if isinstance(n, ast.Call) and isinstance(n.func, ast.Name)}
    attributes = {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)}
    imported = {a.name for n in ast.walk(tree) if isinstance(n, (ast.Import, ast.ImportFrom)) for a in n.names}
    assert not called & {"eval", "exec", "compile", "__import__", "getattr", "setattr", "globals", "locals",
                         "vars", "open"}
    assert not attributes & {"eval", "exec", "literal_eval", "import_module", "system", "__import__"}
    assert not imported & {"importlib", "os", "subprocess", "builtins"}


# ---------------------------------------------------------------------------------------------
# 5. Code generation, the cache, the catalog section
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("text, code", [
    ("2*pi*x", [f"const {2 * math.pi!r}", "x", "*"]),
    ("x*2*pi", ["x", "const 2.0", "*", f"const {math.pi!r}", "*"]),  # left to right: (x*2)*pi, not folded
    ("-(1 + 2)*x", ["const -3.0", "x", "*"]),
    ("x**2", ["x", "powi 2"]),
    ("x**2.0 + y**(1 + 1)", ["x", "powi 2", "y", "powi 2", "+"]),
    ("x**-1", ["x", "powi -1"]),
    ("x**1024 + y**1025", ["x", "powi 1024", "y", "const 1025.0", "**", "+"]),
    ("x**0.5", ["x", "const 0.5", "**"]),
    ("x**a", ["x", "param a", "**"]),
    ("2**x", ["const 2.0", "x", "**"]),
    ("min(1, 2) + max(x, sin(0))", ["const 1.0", "x", "const 0.0", "max", "+"]),
    ("b*a + a", ["param b", "param a", "*", "param a", "+"]),
    ("-x", ["x", "neg"]),
    ("-0.0*x + 0.0*y", ["const -0.0", "x", "*", "const 0.0", "y", "*", "+"]),
    ("7", ["const 7.0"]),
])
def test_constant_folding_and_integer_powers(text, code):
    program = compile_expression(text, ("a", "b"))
    assert program.disassemble() == code
    assert program.ops.dtype == np.int64 and program.consts.dtype == np.float64
    assert program.ops[0] == len(code) and program.consts.size >= 1


def test_program_layout_and_stack_depth():
    p = compile_expression("(a - x)**2 + b*(y - x**2)**2", ("b", "a", "unused"))
    assert p.param_names == ("a", "b")  # those used, sorted: the order of the params array
    assert p.ops[1] == p.depth == 4  # b, y, x, x**2 on the stack at once
    ops = p.ops[vm.HEADER:].reshape(-1, 2)
    assert ops[:, 0].tolist() == [vm.PARAM, vm.X, vm.SUB, vm.POWI, vm.PARAM, vm.Y, vm.X, vm.POWI, vm.SUB,
                                  vm.POWI, vm.MUL, vm.ADD]
    assert ops[:, 1].tolist() == [0, 0, 0, 2, 1, 0, 0, 2, 0, 2, 0, 0]


def test_programs_are_cached_by_expression_and_parameter_names_and_cannot_be_corrupted():
    p1 = compile_expression("x*a + y", ("a",))
    assert compile_expression("x*a + y", ["a"]) is p1
    assert compile_expression("x*a + y", ("a", "b")) is not p1  # other names: another entry
    assert engine.expression._compile_cached.cache_info().maxsize == PROGRAM_CACHE_SIZE
    assert not p1.ops.flags.writeable and not p1.consts.flags.writeable
    f = resolve_formula("x*a + y", {"a": 2.0})
    assert f.program is p1 and f.ops.flags.writeable and not np.shares_memory(f.ops, p1.ops)
    f.ops[:] = 0  # a caller scribbling on its copy leaves the cached program intact
    assert resolve_formula("x*a + y", {"a": 2.0}).value(1.0, 1.0) == 3.0


def test_catalog_section_documents_every_function_and_its_kink_rule():
    (d,) = describe()
    assert [f["name"] for f in d["functions"]] == list(FUNCTIONS)
    rules = {f["name"]: f["at_kinks"] for f in d["functions"]}
    assert "sign(0) = 0" in rules["abs"] and "half" in rules["min"] and "half" in rules["max"]
    assert "+inf at 0" in rules["sqrt"]
    assert set(d["limits"]) == {k for k in LIMITS if k.startswith("max_expression_")} | {"max_formula_work"}
    assert "-x**2 is -(x**2)" in " ".join(d["precedence"])
    f = resolve_formula(d["example"]["expression"], d["example"]["params"])
    assert f.value(1.0, 1.0) == 0.0
