"""Formulas typed by users: a whitelist parser and a compiler to the program ``engine.formula`` runs.

::

    import engine
    f = engine.resolve_formula("(a - x)**2 + b*(y - x**2)**2", {"a": 1, "b": 100})
    f.value(-1.0, 1.0)              # 4.0
    f.grad(-1.0, 1.0)               # (4.0, -4.0, 0.0): exact derivatives, no finite differences
    f.ops, f.consts, f.p            # what kernels take: int64 program, float64 literals, parameter values

Grammar (Python's own precedence, loosest first; ``**`` is right-associative and binds tighter than a
unary minus on its left, so ``-x**2`` is ``-(x**2)``, ``2**-x`` is ``2**(-x)``, ``x**y**z`` is
``x**(y**z)``)::

    expr   := term (('+' | '-') term)*
    term   := unary (('*' | '/') unary)*
    unary  := ('-' | '+') unary | power
    power  := atom ['**' unary]
    atom   := number | name | function '(' expr [',' expr] ')' | '(' expr ')'

A number is decimal (``2``, ``0.5``, ``.5``, ``1e-3``); a name is ``x``, ``y``, ``pi``, ``e`` or a
parameter given with the formula; functions are listed in ``FUNCTIONS`` (``min``/``max`` take two
arguments, the rest one). Nothing else is accepted: no attributes, subscripts, keywords, strings,
comparisons or other names, and the text is never given to ``eval``.

Why a hand-written parser rather than a whitelist over ``ast``: it reports the column and what was
expected at the first token that does not fit ("column 7: expected an operand after '*'"), which
Python's ``SyntaxError`` does not say in these terms; its depth is bounded by our own counter before
any recursion (CPython's parser fails deep nesting with its own errors); and it accepts exactly the
grammar above (Python also takes ``1_000``, ``0x1f``, ``1j``, ``a if b else c`` ...).

Compilation emits postfix code while parsing: sub-expressions without x, y or a parameter are folded
into one constant (by the evaluator itself, so with its exact semantics); ``u**n`` with a constant
integer n (|n| <= POWI_MAX) becomes ``POWI n``. Parameters stay symbolic (``PARAM k``), so a
compiled program is cached by (expression, parameter names) and reused for any parameter values.
"""

from __future__ import annotations

import difflib
import keyword
import math
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Mapping, Sequence

import numpy as np

from . import formula as vm
from .errors import EngineInputError
from .formula import formula_grad, formula_hessian, formula_value, formula_value_grad_hess
from .limits import LIMITS, check_max

# formula_value / _grad / _hessian / _value_grad_hess (engine.formula) are kernels: internal, unchecked input.
__all__ = ["FORMULA_FUNCTIONS", "ExpressionError", "Formula", "Program", "compile_expression", "resolve_formula"]

PROGRAM_CACHE_SIZE = 512  # compiled programs kept (each < 20 kB); keyed by (expression, parameter names)

CONSTANTS = {"pi": math.pi, "e": math.e}


@dataclass(frozen=True)
class FunctionSpec:
    """One function of the grammar: its opcode, arity and derivative (the rule at kinks included)."""

    name: str
    op: int
    arity: int
    derivative: str
    at_kinks: str = ""


FUNCTIONS: dict[str, FunctionSpec] = {f.name: f for f in (
    FunctionSpec("abs", vm.ABS, 1, "sign(u)", "sign(0) = 0 (as torch.abs)"),
    FunctionSpec("sqrt", vm.SQRT, 1, "1/(2 sqrt u)", "+inf at 0 (as torch); NaN below 0"),
    FunctionSpec("exp", vm.EXP, 1, "exp u"),
    FunctionSpec("log", vm.LOG, 1, "1/u", "value -inf and slope +inf at 0; NaN below 0"),
    FunctionSpec("log1p", vm.LOG1P, 1, "1/(1 + u)", "value -inf at -1; NaN below -1"),
    FunctionSpec("sin", vm.SIN, 1, "cos u"),
    FunctionSpec("cos", vm.COS, 1, "-sin u"),
    FunctionSpec("tan", vm.TAN, 1, "1 + tan² u"),
    FunctionSpec("tanh", vm.TANH, 1, "1 - tanh² u"),
    FunctionSpec("sinh", vm.SINH, 1, "cosh u"),
    FunctionSpec("cosh", vm.COSH, 1, "sinh u"),
    FunctionSpec("arctan", vm.ARCTAN, 1, "1/(1 + u²)"),
    FunctionSpec("sigmoid", vm.SIGMOID, 1, "σ(u)σ(-u)", "1/(1 + e^-u), evaluated without cancellation"),
    FunctionSpec("softplus", vm.SOFTPLUS, 1, "σ(u)",
                 "exact log(1 + e^u) everywhere (torch.nn.Softplus switches to u above 20)"),
    FunctionSpec("min", vm.MIN, 2, "the smaller argument's derivative",
                 "at a tie each argument gets half (as torch.minimum)"),
    FunctionSpec("max", vm.MAX, 2, "the larger argument's derivative",
                 "at a tie each argument gets half (as torch.maximum)"),
)}

# names users reach for from numpy, math or other tools, and what the grammar calls them
ALIASES = {"atan": "arctan", "ln": "log", "logistic": "sigmoid", "expit": "sigmoid", "fabs": "abs",
           "absolute": "abs", "minimum": "min", "maximum": "max", "pow": "**", "power": "**"}
FORMULA_FUNCTIONS = FUNCTIONS  # engine.FORMULA_FUNCTIONS

RESERVED = frozenset({"x", "y"}) | frozenset(CONSTANTS) | frozenset(FUNCTIONS)
PARAM_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,31}", re.ASCII)

# A token at a time: numbers, names, the operators and punctuation of the grammar; anything else
# is reported by _unexpected with a hint. re.ASCII: \d and \w would also take other scripts' digits.
_TOKEN = re.compile(
    r"(?P<ws>[ \t\r\n]+)|(?P<num>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_]*)|(?P<op>\*\*|//|[-+*/(),])", re.ASCII)

_HINTS = {
    "^": "use ** for powers",
    ".": "attribute access is not allowed (write sin(x), not math.sin(x))",
    "[": "subscripts are not allowed", "]": "subscripts are not allowed",
    "=": "keyword arguments and assignments are not allowed",
    "<": "comparisons are not in the grammar", ">": "comparisons are not in the grammar",
    "!": "comparisons are not in the grammar",
    "'": "strings are not allowed", '"': "strings are not allowed",
    "%": "% is not in the grammar", "//": "there is no floor division; use /",
    "\u2212": "use '-' (ASCII minus)", "\u00d7": "use * for products", "\u00b7": "use * for products",
    "\u00f7": "use / for division", "\u00b2": "use **2", "\u00b3": "use **3", "\u03c0": "use pi",
}


class ExpressionError(EngineInputError):
    """A formula the parser refuses; ``column`` is 1-based (None for errors about the whole text)."""

    def __init__(self, message: str, column: int | None = None, field: str = "expression"):
        super().__init__(field, f"column {column}: {message}" if column is not None else message)
        self.column = column


@dataclass(frozen=True, eq=False)
class Program:
    """A compiled formula: the ``engine.formula`` instruction stream and its literals.

    ``ops``/``consts`` are read-only (the cache shares them); ``Formula`` hands kernels copies.
    ``param_names`` are the parameters the formula uses, in the order of the ``params`` array.
    """

    expression: str
    param_names: tuple[str, ...]
    ops: np.ndarray  # int64 [n, depth, op₀, arg₀, op₁, arg₁, ...]
    consts: np.ndarray  # float64, size >= 1
    nodes: int  # instructions before constant folding (what max_expression_nodes bounds)

    @property
    def depth(self) -> int:
        return int(self.ops[1])

    def disassemble(self) -> list[str]:
        """One line per instruction, e.g. ``["x", "powi 2", "const 100.0", "*"]``."""
        out = []
        for k in range(int(self.ops[0])):
            op, arg = int(self.ops[vm.HEADER + 2 * k]), int(self.ops[vm.HEADER + 2 * k + 1])
            name = vm.OP_NAMES[op]
            if op == vm.CONST:
                name += f" {float(self.consts[arg])!r}"
            elif op == vm.PARAM:
                name += f" {self.param_names[arg]}"
            elif op == vm.POWI:
                name += f" {arg}"
            out.append(name)
        return out


@dataclass(frozen=True, eq=False)
class Formula:
    """A formula resolved with parameter values: what the kernels take plus its source."""

    expression: str
    params: dict  # every parameter given, name -> float
    param_names: tuple[str, ...]  # those the formula uses, in the order of ``p``
    ops: np.ndarray  # int64 program (engine.formula's layout)
    consts: np.ndarray  # float64 literals, size >= 1
    p: np.ndarray  # float64 parameter values in ``param_names`` order, size >= 1
    program: Program

    def value(self, x: float, y: float) -> float:
        return float(vm.formula_value(self.ops, self.consts, self.p, float(x), float(y)))

    def grad(self, x: float, y: float) -> tuple[float, float, float]:
        """(f, ∂f/∂x, ∂f/∂y), as ``Surface.grad``."""
        return tuple(float(v) for v in vm.formula_grad(self.ops, self.consts, self.p, float(x), float(y)))

    def hessian(self, x: float, y: float) -> tuple[float, float, float]:
        """(∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²), as ``Surface.hessian``."""
        return tuple(float(v) for v in vm.formula_hessian(self.ops, self.consts, self.p, float(x), float(y)))

    def value_grad_hess(self, x: float, y: float) -> tuple[float, ...]:
        """(f, f_x, f_y, f_xx, f_xy, f_yy) from one pass."""
        return tuple(float(v) for v in vm.formula_value_grad_hess(self.ops, self.consts, self.p, float(x), float(y)))


# ---------------------------------------------------------------------------------------------
# Public functions
# ---------------------------------------------------------------------------------------------


def resolve_formula(expression: str, params: Mapping[str, float] | None = None) -> Formula:
    """Parse and compile ``expression`` (cached) and bind ``params`` (name -> finite number).

    Raises EngineInputError naming ``expression`` (an ``ExpressionError`` with the column) or
    ``params``/``params.<name>``. Parameters the formula does not use are accepted and kept.
    """
    if params is not None and not isinstance(params, Mapping):
        raise EngineInputError("params", "must be an object of parameter values")
    given = dict(params or {})
    limit = LIMITS["max_expression_params"]
    if len(given) > limit:
        raise EngineInputError("params", f"{len(given)} parameters exceeds limit max_expression_params={limit}")
    values = {}
    for name, v in given.items():
        field = f"params.{name}"
        if not isinstance(name, str) or not PARAM_NAME.fullmatch(name):
            raise EngineInputError(field, "a parameter name is a letter then up to 31 letters, digits or _")
        if name in RESERVED:
            raise EngineInputError(field, f"{name!r} is a built-in name of the grammar; choose another")
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
            raise EngineInputError(field, "must be a number")
        if not math.isfinite(float(v)):
            raise EngineInputError(field, "must be finite")
        values[name] = float(v)
    program = compile_expression(expression, tuple(values))
    p = np.array([values[n] for n in program.param_names] or [0.0], dtype=np.float64)
    return Formula(expression, values, program.param_names, program.ops.copy(), program.consts.copy(), p, program)


def compile_expression(expression: str, param_names: Sequence[str] = ()) -> Program:
    """The program of ``expression`` in which ``param_names`` may appear as parameters.

    Programs are kept in an LRU cache of PROGRAM_CACHE_SIZE by (expression, parameter names):
    parameter values are not part of a program, so moving a slider never recompiles.
    """
    if not isinstance(expression, str):
        raise ExpressionError("must be a string")
    if isinstance(param_names, (str, bytes)) or not isinstance(param_names, (list, tuple)) or not all(
            isinstance(n, str) for n in param_names):
        raise EngineInputError("param_names", "must be a list of parameter names (strings)")
    check_max("param_names", len(param_names), "max_expression_params")
    param_names = tuple(param_names)
    limit = LIMITS["max_expression_length"]
    if len(expression) > limit:
        raise ExpressionError(f"{len(expression)} characters exceeds limit max_expression_length={limit}")
    return _compile_cached(expression, tuple(sorted(set(param_names))))


@lru_cache(maxsize=PROGRAM_CACHE_SIZE)
def _compile_cached(expression: str, param_names: tuple[str, ...]) -> Program:
    return _Parser(expression, param_names).compile()


def describe() -> list[dict]:
    """The ``formulas`` catalog section (one entry): grammar, precedence, functions with their derivative
    rules (kinks included), the conventions of the evaluator and the limits."""
    return [{
        "name": "formula",
        "title": "A formula surface typed by the user",
        "parameters": [],
        "grammar": GRAMMAR,
        "precedence": [
            "+ - (left-associative, loosest)",
            "* / (left-associative)",
            "unary - and + ",
            "** (right-associative; binds tighter than a unary minus on its left: -x**2 is -(x**2), "
            "and its exponent may carry a sign: 2**-x)",
        ],
        "names": {"x": "first plane coordinate", "y": "second plane coordinate",
                  "pi": CONSTANTS["pi"], "e": CONSTANTS["e"],
                  "parameters": "any other name given in params (a letter, then up to 31 letters, digits or _)"},
        "functions": [{"name": f.name, "arguments": f.arity, "derivative": f.derivative, "at_kinks": f.at_kinks}
                      for f in FUNCTIONS.values()],
        "powers": f"u**n with a constant integer n (|n| <= {vm.POWI_MAX}) is exact repeated multiplication, "
                  "defined for every u; other exponents use pow: NaN for a negative base with a non-integer "
                  "exponent; a variable exponent's derivative u**w·log u is 0 where u = 0 and w >= 0 (as torch)",
        "derivatives": "exact (forward-mode second-order jets, no finite differences); a derivative factor "
                       "multiplies only non-zero tangents (0·inf = 0), so sqrt(x**2 + y**2) has gradient 0 at "
                       "the origin; where the value is not finite neither are its derivatives",
        "non_finite": "log of a negative number, overflow and the like give NaN or infinity, never an error: "
                      "descents report them as a diverged status, grids as masked cells",
        "constants": "sub-expressions without x, y or a parameter are folded when parsed; a non-finite one "
                     "(log(-1), 10**400) is refused",
        "errors": "a refused formula names the field expression, the 1-based column and what was expected, "
                  "e.g. 'column 3: expected an operand after '*', found the end of the expression'",
        "limits": {k: LIMITS[k] for k in ("max_expression_length", "max_expression_nodes",
                                          "max_expression_depth", "max_expression_params", "max_formula_work")},
        "work": "a grid, slice or critical-point search evaluates the formula at most cells (points, seeds² x 100) "
                "times: nodes x that <= max_formula_work; a descent step counts ceil(nodes / 16) toward "
                "max_descent_work",
        "request": {
            "surface": {"expression": "(a - x)**2 + b*(y - x**2)**2", "domain": {"x": [-2, 2], "y": [-1, 3]},
                        "params": {"a": 1, "b": 100}},
            "where": "in place of a surface name in every landscape and descent request",
            "domain": "optional, default {'x': [-5, 5], 'y': [-5, 5]}: the default grid and basin rectangle, where "
                      "descents start by default, and (scaled 100x) the box that bounds them",
            "params": "optional; may also be the request's top-level params (not both)",
            "response": "the response's surface field echoes the expression",
        },
        "python": "engine functions take a formula wherever they take a surface name: a name in the surfaces "
                  "registry is that surface, any other string is parsed as a formula (domain= and params= "
                  "alongside), and {'expression', 'domain', 'params'} works as over HTTP",
        "example": {"expression": "(a - x)**2 + b*(y - x**2)**2", "params": {"a": 1, "b": 100}},
    }]


GRAMMAR = """expr  := term (('+' | '-') term)*
term  := unary (('*' | '/') unary)*
unary := ('-' | '+') unary | power
power := atom ['**' unary]
atom  := number | name | function '(' expr [',' expr] ')' | '(' expr ')'"""


def _warmup() -> None:
    f = resolve_formula("min(a*x, y)**2 / sqrt(2 + x**2) + sin(2*pi)*y**a", {"a": 1.5})  # folds: formula_value
    f.value(0.5, 0.5)
    f.grad(0.5, 0.5)
    f.hessian(0.5, 0.5)
    f.value_grad_hess(0.5, 0.5)


# ---------------------------------------------------------------------------------------------
# Parser and code generator (one pass: postfix code is emitted as the grammar is recognised)
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Value:
    """What a parsed sub-expression left on the code: its source span and its constant, if folded."""

    start: int  # offsets into the text
    end: int
    const: float | None


class _Parser:
    def __init__(self, text: str, param_names: tuple[str, ...]):
        self.text = text
        self.param_names = param_names
        self.code: list[list] = []  # [op, operand]; CONST's operand is the float, PARAM's the name
        self.nodes = 0
        self.depth = 0
        self.prev = ""  # text of the last token consumed, for messages
        self.prev_end = 0  # offset just past it
        self.pos = 0
        self.tok = ("start", "", 0)
        self._advance()

    # --- tokens ---------------------------------------------------------------------------
    def _advance(self) -> None:
        """Move to the next token: (kind, text, start) with kind num | name | op | bad | end."""
        kind, text, start = self.tok
        if kind != "start":
            self.prev = text
            self.prev_end = start + len(text)
        m = _TOKEN.match(self.text, self.pos)
        if m and m.lastgroup == "ws":
            self.pos = m.end()
            m = _TOKEN.match(self.text, self.pos)
        if self.pos >= len(self.text):
            self.tok = ("end", "", len(self.text))
        elif m is None or m.group() == "//":
            self.tok = ("bad", m.group() if m else self.text[self.pos], self.pos)
        else:
            self.tok = (m.lastgroup, m.group(), self.pos)
            self.pos = m.end()

    def _is(self, text: str) -> bool:
        return self.tok[0] == "op" and self.tok[1] == text

    def _found(self) -> str:
        kind, text, _ = self.tok
        return "the end of the expression" if kind == "end" else repr(text)

    def _fail(self, message: str, at: int | None = None):
        raise ExpressionError(message, (self.tok[2] if at is None else at) + 1)

    def _unexpected(self):
        ch = self.tok[1]
        hint = _HINTS.get(ch) or ("only ASCII letters, digits and + - * / ** ( ) , are allowed"
                                  if not ch.isascii() else "")
        self._fail(f"unexpected character {ch!r}" + (f": {hint}" if hint else ""))

    def _expect_operand(self):
        if self.tok[0] == "bad":
            self._unexpected()
        after = f"after {self.prev!r}" if self.prev else "at the start"
        if self.tok[0] == "end" and not self.prev:
            self._fail("expected an operand: the expression is empty")
        self._fail(f"expected an operand {after}, found {self._found()}")

    # --- limits -----------------------------------------------------------------------------
    def _enter(self) -> None:
        self.depth += 1
        limit = LIMITS["max_expression_depth"]
        if self.depth > limit:
            self._fail(f"nesting deeper than {limit} levels exceeds limit max_expression_depth={limit}")

    def _count(self, at: int) -> None:
        self.nodes += 1
        limit = LIMITS["max_expression_nodes"]
        if self.nodes > limit:
            self._fail(f"more than {limit} operands and operators exceeds limit max_expression_nodes={limit}", at)

    # --- grammar ----------------------------------------------------------------------------
    def compile(self) -> Program:
        self._expr()
        if self.tok[0] == "bad":
            self._unexpected()
        if self._is(")"):
            self._fail("unmatched ')'")
        if self.tok[0] != "end":
            hint = " (products need *, e.g. 2*x)" if self.tok[0] in ("num", "name") or self._is("(") else ""
            self._fail(f"expected an operator after {self.prev!r}, found {self._found()}{hint}")
        return self._assemble()

    def _expr(self) -> _Value:
        return self._left_assoc({"+": vm.ADD, "-": vm.SUB}, self._term)

    def _term(self) -> _Value:
        return self._left_assoc({"*": vm.MUL, "/": vm.DIV}, self._unary)

    def _left_assoc(self, ops: dict, operand) -> _Value:
        """operand (op operand)* for the left-associative operators ``ops``, folded left to right."""
        v = operand()
        while self.tok[0] == "op" and self.tok[1] in ops:
            op = ops[self.tok[1]]
            self._advance()
            v = self._binary(op, v, operand())
        return v

    def _unary(self) -> _Value:
        if not (self._is("-") or self._is("+")):
            return self._power()
        sign, start = self.tok[1], self.tok[2]
        self._enter()
        self._advance()
        v = self._unary()
        self.depth -= 1
        v = _Value(start, v.end, v.const)
        return self._apply(vm.NEG, 0, v) if sign == "-" else v

    def _power(self) -> _Value:
        base = self._atom()
        if not self._is("**"):
            return base
        self._enter()
        self._advance()
        exponent = self._unary()
        self.depth -= 1
        n = exponent.const
        if base.const is None and n is not None and n.is_integer() and abs(n) <= vm.POWI_MAX:
            self.code.pop()  # the exponent's CONST: u**n is one POWI n
            return self._apply(vm.POWI, int(n), _Value(base.start, exponent.end, None))
        return self._binary(vm.POW, base, exponent)

    def _atom(self) -> _Value:
        kind, text, start = self.tok
        if kind == "num":
            value = float(text)
            if not math.isfinite(value):
                self._fail(f"the number {text} is out of the float64 range")
            self._advance()
            return self._push(vm.CONST, value, start)
        if kind == "name":
            self._advance()
            if self.tok[0] == "bad" and self.tok[1] == "=":
                self._unexpected()  # min(a=1, ...): the hint names keyword arguments
            if self._is("("):
                return self._call(text, start)
            return self._name(text, start)
        if self._is("("):
            self._enter()
            self._advance()
            v = self._expr()
            if not self._is(")"):
                if self.tok[0] == "bad":
                    self._unexpected()
                self._fail(f"expected ')' to close the '(' at column {start + 1}, found {self._found()}")
            self._advance()
            self.depth -= 1
            return _Value(start, self.prev_end, v.const)
        self._expect_operand()

    def _name(self, name: str, start: int) -> _Value:
        if name == "x" or name == "y":
            return self._push(vm.X if name == "x" else vm.Y, 0, start)
        if name in CONSTANTS:
            return self._push(vm.CONST, CONSTANTS[name], start)
        if name in self.param_names:
            return self._push(vm.PARAM, name, start)
        if name in FUNCTIONS:
            self._fail(f"expected '(' after the function {name!r}, found {self._found()}")
        if keyword.iskeyword(name):
            self._fail(f"{name!r} is a Python keyword, not part of the formula grammar", start)
        known = ["x", "y", *CONSTANTS, *self.param_names]
        close = difflib.get_close_matches(name, known + list(FUNCTIONS), n=1)
        given = ", ".join(self.param_names) or "none given"
        self._fail(f"unknown name {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                   + f"; a name is x, y, pi, e or a parameter (parameters: {given})", start)

    def _call(self, name: str, start: int) -> _Value:
        spec = FUNCTIONS.get(name)
        if spec is None:
            if name in ("x", "y") or name in CONSTANTS or name in self.param_names:
                self._fail(f"{name!r} is not a function (products need *, e.g. {name}*(...))", start)
            close = [ALIASES[name]] if name in ALIASES else difflib.get_close_matches(name, list(FUNCTIONS), n=1)
            self._fail(f"unknown function {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                       + f"; functions: {', '.join(FUNCTIONS)}", start)
        self._enter()
        self._advance()  # past '('
        args = [self._expr()]
        while self._is(","):
            if len(args) == spec.arity:
                self._fail(f"{name} takes {_arguments(spec.arity)}; expected ')'")
            self._advance()
            args.append(self._expr())
        if not self._is(")"):
            if self.tok[0] == "bad":
                self._unexpected()
            self._fail(f"expected ',' or ')' in the call to {name}, found {self._found()}")
        if len(args) != spec.arity:
            self._fail(f"{name} takes {_arguments(spec.arity)}, got {len(args)}", start)
        self._advance()
        self.depth -= 1
        span = _Value(start, self.prev_end, None)
        if spec.arity == 1:
            return self._apply(spec.op, 0, _Value(start, self.prev_end, args[0].const))
        return self._binary(spec.op, args[0], args[1], span)

    # --- code generation with constant folding ------------------------------------------------
    def _push(self, op: int, operand, start: int) -> _Value:
        self._count(start)
        self.code.append([op, operand])
        return _Value(start, self.prev_end, float(operand) if op == vm.CONST else None)

    def _apply(self, op: int, operand: int, v: _Value) -> _Value:
        """A unary instruction on ``v``; folded when ``v`` is a constant."""
        self._count(v.start)
        if v.const is None:
            self.code.append([op, operand])
            return v
        self.code.pop()
        return self._folded([[vm.CONST, 0], [op, operand]], [v.const], v)

    def _binary(self, op: int, u: _Value, w: _Value, span: _Value | None = None) -> _Value:
        self._count(w.start)
        span = span or _Value(u.start, w.end, None)
        if u.const is None or w.const is None:
            self.code.append([op, 0])
            return span
        del self.code[-2:]
        return self._folded([[vm.CONST, 0], [vm.CONST, 1], [op, 0]], [u.const, w.const], span)

    def _folded(self, code, consts, span: _Value) -> _Value:
        """Evaluate a constant instruction sequence with the evaluator itself (same semantics)."""
        ops = np.array([len(code), 2] + [w for ins in code for w in ins], dtype=np.int64)
        value = float(vm.formula_value(ops, np.array(consts, dtype=np.float64), _NO_PARAMS, 0.0, 0.0))
        if not math.isfinite(value):
            snippet = self.text[span.start:span.end].strip()
            if len(snippet) > 40:
                snippet = snippet[:37] + "..."
            raise ExpressionError(f"the constant part {snippet!r} evaluates to {value}; constants must be finite",
                                  span.start + 1)
        self.code.append([vm.CONST, value])
        return _Value(span.start, span.end, value)

    def _assemble(self) -> Program:
        used = sorted({operand for op, operand in self.code if op == vm.PARAM})
        index = {name: k for k, name in enumerate(used)}
        consts: list[float] = []
        slot: dict[str, int] = {}  # float.hex keeps 0.0 and -0.0 apart
        words = []
        depth = size = 0
        for op, operand in self.code:
            if op == vm.CONST:
                key = float.hex(operand)
                if key not in slot:
                    slot[key] = len(consts)
                    consts.append(operand)
                operand = slot[key]
            elif op == vm.PARAM:
                operand = index[operand]
            size += 1 if op < vm.FIRST_UNARY else (0 if op < vm.FIRST_BINARY else -1)
            depth = max(depth, size)
            words += (op, operand)
        if depth > vm.STACK_ROWS:  # unreachable within max_expression_depth (tests/test_expression.py)
            raise ExpressionError(f"evaluating it needs {depth} stack slots, more than the {vm.STACK_ROWS} there are")
        ops = np.array([len(self.code), depth, *words], dtype=np.int64)
        cs = np.array(consts or [0.0], dtype=np.float64)
        ops.flags.writeable = False
        cs.flags.writeable = False
        return Program(self.text, tuple(used), ops, cs, self.nodes)


_NO_PARAMS = np.zeros(1)


def _arguments(n: int) -> str:
    return "1 argument" if n == 1 else f"{n} arguments"
