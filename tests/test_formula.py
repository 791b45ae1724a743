"""engine.formula: the stack machine's value, gradient and Hessian are the exact derivatives.

1. 200 random well-formed formulas from a seeded generator, each built twice from one random tree:
   as text for our parser and as a sympy expression (never by parsing our text). sympy differentiates
   it; the derivatives are evaluated with mpmath at 40 digits at a point inside the formula's domain,
   at the exact binary value of the float we evaluate at. Ours must agree to 1e-12 relative: the
   value to itself, the gradient and the Hessian norm-wise (see ``_disagreements``).
2. Every built-in surface typed as a formula (its catalog formula, default parameters) gives the
   built-in kernels' value, gradient and Hessian to 1e-12 relative.
3. The documented rules at kinks and domain edges, the grid rows (``engine.landscape_grid`` of a formula)
   against the scalar machine, and the kernels called from inside another jitted function.
"""

from __future__ import annotations

import math
import random

import mpmath
import numba
import numpy as np
import pytest

from engine import formula as vm
from engine.expression import ExpressionError, resolve_formula
from engine.landscape import landscape_grid
from engine.surfaces import SURFACES, resolve_surface, surface_grad, surface_hessian

from surface_reference import AS_FORMULA, regression_formula

sp = pytest.importorskip("sympy")

X, Y = sp.symbols("x y", real=True)
PARAMS = {"a": 0.75, "b": -1.25}
SYMBOLS = {"x": X, "y": Y, **{k: sp.Rational(v) for k, v in PARAMS.items()}}
RTOL = 1e-12
N_FORMULAS = 200

# ---------------------------------------------------------------------------------------------
# A random formula as (text, sympy expression, precedence of its outermost construct)
# ---------------------------------------------------------------------------------------------
ADD, MUL, UNARY, POWER, ATOM = 1, 2, 3, 4, 5

UNARY_FUNCS = {
    "sin": sp.sin, "cos": sp.cos, "tan": sp.tan, "tanh": sp.tanh, "sinh": sp.sinh, "cosh": sp.cosh,
    "arctan": sp.atan, "exp": sp.exp, "log": sp.log, "log1p": lambda u: sp.log(1 + u), "sqrt": sp.sqrt,
    "abs": sp.Abs, "sigmoid": lambda u: 1 / (1 + sp.exp(-u)), "softplus": lambda u: sp.log(1 + sp.exp(u)),
}
NUMBERS = ["2", "3", "0.5", "1.5", "0.3", "7", "0.125", "1e-1", "2.5e0", ".75", "10"]


def _wrap(node, need: int, rng: random.Random) -> str:
    text, _, prec = node
    if prec < need or rng.random() < 0.08:  # and now and then a redundant pair
        return f"({text})"
    return text


def _sp(rng: random.Random) -> str:
    return rng.choice(["", "", " "])


def random_formula(rng: random.Random, depth: int, top: bool = False):
    if depth == 0 or (not top and rng.random() < 0.25):
        kind = rng.random()
        if kind < 0.35:
            return "x", X, ATOM
        if kind < 0.7:
            return "y", Y, ATOM
        if kind < 0.8:
            name = rng.choice(sorted(PARAMS))
            return name, SYMBOLS[name], ATOM
        if kind < 0.85:
            name = rng.choice(["pi", "e"])
            return name, sp.Rational(math.pi if name == "pi" else math.e), ATOM  # the double we use
        text = rng.choice(NUMBERS)
        return text, sp.Rational(float(text)), ATOM
    kind = rng.random()
    if kind < 0.25:
        a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
        op = rng.choice("+-")
        text = f"{_wrap(a, ADD, rng)}{_sp(rng)}{op}{_sp(rng)}{_wrap(b, MUL, rng)}"
        return text, (a[1] + b[1] if op == "+" else a[1] - b[1]), ADD
    if kind < 0.4:
        a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
        op = rng.choice("*/")
        text = f"{_wrap(a, MUL, rng)}{_sp(rng)}{op}{_sp(rng)}{_wrap(b, UNARY, rng)}"
        return text, (a[1] * b[1] if op == "*" else a[1] / b[1]), MUL
    if kind < 0.45:
        a = random_formula(rng, depth - 1)
        return f"-{_wrap(a, UNARY, rng)}", -a[1], UNARY
    if kind < 0.58:
        a = random_formula(rng, depth - 1)
        shape = rng.random()
        if shape < 0.55:  # integer exponent: POWI
            n = rng.choice([2, 2, 3, -1, -2, 4, 0, 1, 5])
            exp_text, exp_sym = (f"-{-n}", n) if n < 0 else (str(n), n)
        elif shape < 0.8:  # constant non-integer exponent
            c = rng.choice([0.5, 1.5, -0.5, 2.5, 0.25])
            exp_text, exp_sym = (f"-{-c}" if c < 0 else str(c)), sp.Rational(c)
        else:  # a variable exponent
            b = random_formula(rng, depth - 1)
            exp_text, exp_sym = _wrap(b, UNARY, rng), b[1]
        return f"{_wrap(a, ATOM, rng)}**{exp_text}", a[1] ** exp_sym, POWER
    if kind < 0.66:
        a, b = random_formula(rng, depth - 1), random_formula(rng, depth - 1)
        name = rng.choice(["min", "max"])
        fn = sp.Min if name == "min" else sp.Max
        return f"{name}({a[0]},{_sp(rng)}{b[0]})", fn(a[1], b[1]), ATOM
    a = random_formula(rng, depth - 1)
    name = rng.choice(sorted(UNARY_FUNCS))
    return f"{name}({a[0]})", UNARY_FUNCS[name](a[1]), ATOM


# ---------------------------------------------------------------------------------------------
# The oracle: sympy's derivatives evaluated with mpmath at 40 digits
# ---------------------------------------------------------------------------------------------
mpmath.mp.dps = 40


def _heaviside(v, h=0.5):
    return mpmath.mpf(1) if v > 0 else (mpmath.mpf(0) if v < 0 else mpmath.mpf(h))


MODULES = [{"Heaviside": _heaviside, "DiracDelta": lambda *a: mpmath.mpf(0)}, "mpmath"]


def exact_jet(expr):
    """A function (x, y) -> the six exact quantities (mpmath numbers, or None if not real)."""
    dx, dy = sp.diff(expr, X), sp.diff(expr, Y)
    parts = [expr, dx, dy, sp.diff(dx, X), sp.diff(dx, Y), sp.diff(dy, Y)]
    if any(p.has(sp.Derivative, sp.zoo, sp.nan, sp.oo, sp.I) for p in parts):
        # sympy left a derivative unevaluated (of sign(sqrt(x))), or the formula divides by an
        # exact 0 (1/(x - x)) or is complex: no real oracle here
        return None
    fns = [sp.lambdify((X, Y), p, modules=MODULES) for p in parts]

    def at(x: float, y: float):
        out = []
        for fn in fns:
            try:
                v = fn(mpmath.mpf(x), mpmath.mpf(y))
            except (ZeroDivisionError, ValueError, OverflowError, TypeError):
                return None
            if isinstance(v, mpmath.mpc):
                if v.imag != 0:
                    return None
                v = v.real
            v = mpmath.mpf(v)
            if not mpmath.isfinite(v):
                return None
            out.append(v)
        return out

    return at


def _formulas():
    """(text, sympy expression, rng) of well-formed formulas: those whose constant parts are finite
    real numbers (``log(-4)`` is refused by our parser, and sympy makes it complex)."""
    rng = random.Random(20240615)
    while True:
        try:
            text, expr, _ = random_formula(rng, rng.choice([2, 3, 3, 4]), top=True)
        except (ValueError, TypeError):  # sympy: Min/Max of a complex constant
            continue
        try:
            formula = resolve_formula(text, PARAMS)
        except ExpressionError as e:
            assert "constants must be finite" in str(e), f"{text!r} refused: {e}"
            continue
        yield text, expr, formula, rng


def _disagreements(got, want) -> list[str]:
    """The value relative to itself; the gradient and the Hessian norm-wise (max norm) relative to
    their largest entry, so an entry that is exactly 0 next to large ones (f = x/(15y): f_xx = 0,
    f_xy ≈ 0.08, ours −2.5e-17 from the quotient rule's rounding) is judged on the matrix's scale.
    A block that is exactly 0 is judged on the scale of the order below it (sqrt(x)**2 = x: the
    Hessian is 0, ours 5.6e-17 = 2·√x·(−¼x^{−3/2}) + 2·(1/(4x)) rounded, terms of size |f_x|/x)."""
    names = ("f", "f_x", "f_y", "f_xx", "f_xy", "f_yy")
    out = []
    scale = 0
    for lanes in ((0,), (1, 2), (3, 4, 5)):
        scale = max(abs(want[i]) for i in lanes) or scale
        for i in lanes:
            if abs(mpmath.mpf(got[i]) - want[i]) > RTOL * scale:
                out.append(f"{names[i]}: got {got[i]!r}, exact {mpmath.nstr(want[i], 20)}")
    return out


def test_random_formulas_match_sympy_derivatives():
    tested = skipped = no_oracle = 0
    failures = []
    for text, expr, f, rng in _formulas():
        if tested == N_FORMULAS:
            break
        if not expr.free_symbols & {X, Y}:
            continue  # a constant: nothing to differentiate (test_expression checks folding)
        jet = exact_jet(expr)
        if jet is None:
            no_oracle += 1
            continue
        for _ in range(30):  # a point inside the formula's domain, away from overflow
            x, y = rng.uniform(-2, 2), rng.uniform(-2, 2)
            want = jet(x, y)
            got = f.value_grad_hess(x, y)
            if want is not None and all(math.isfinite(g) for g in got) and max(abs(w) for w in want) < 1e150:
                break
        else:
            skipped += 1
            continue
        tested += 1
        bad = _disagreements(got, want)
        if bad:
            failures.append(f"{text} at ({x!r}, {y!r}): " + "; ".join(bad))
    assert tested == N_FORMULAS
    assert skipped < N_FORMULAS // 4, f"{skipped} formulas had no point inside their domain"
    assert no_oracle < N_FORMULAS // 10, f"sympy could not differentiate {no_oracle} formulas"
    assert not failures, f"{len(failures)} of {tested} disagree:\n" + "\n".join(failures[:10])


# ---------------------------------------------------------------------------------------------
# 2. Built-in surfaces typed as formulas
# ---------------------------------------------------------------------------------------------


def test_every_builtin_surface_has_a_formula():
    assert set(AS_FORMULA) == set(SURFACES)


@pytest.mark.parametrize("name", sorted(SURFACES))
def test_builtin_surface_typed_as_formula_matches_the_builtin(name):
    su = resolve_surface(name)  # default parameters
    if AS_FORMULA[name] is None:
        text, params = regression_formula(su)
    else:
        text, bind = AS_FORMULA[name]
        params = bind(su) if bind else {}
    f = resolve_formula(text, params)
    rng = np.random.default_rng(7)
    (x0, x1), (y0, y1) = su.domain
    points = np.column_stack([rng.uniform(x0, x1, 40), rng.uniform(y0, y1, 40)])
    for x, y in points:
        want = np.array([*surface_grad(su.args, x, y), *surface_hessian(su.args, x, y)])
        got = np.array(f.value_grad_hess(x, y))
        # value relative to itself; gradient and Hessian norm-wise, as in the sympy test
        for lanes in (slice(0, 1), slice(1, 3), slice(3, 6)):
            scale = np.abs(want[lanes]).max()
            assert np.all(np.abs(got[lanes] - want[lanes]) <= RTOL * scale), (name, x, y, got, want)
    # the minima the registry lists are minima of the formula too (gradient ~0 there)
    for mx, my, mv in su.minima:
        assert abs(f.value(mx, my) - mv) <= 1e-8 * max(1.0, abs(mv))


def test_ackley_formula_at_its_cone_point_has_the_builtins_subgradient():
    # sqrt(x² + y²) at the origin: the tangent of x² + y² is 0 there, and 0·∞ counts as 0
    su = resolve_surface("ackley")
    f = resolve_formula(AS_FORMULA["ackley"][0])
    assert f.grad(0.0, 0.0) == pytest.approx(tuple(surface_grad(su.args, 0.0, 0.0)), abs=1e-15)
    assert f.grad(0.0, 0.0)[1:] == (0.0, 0.0)


# ---------------------------------------------------------------------------------------------
# 3. Rules at kinks and domain edges (engine.formula's docstring), closed forms
# ---------------------------------------------------------------------------------------------
INF, NAN = math.inf, math.nan


@pytest.mark.parametrize("text, point, want", [
    # abs: sign(0) = 0, as torch.abs
    ("abs(x)", (0.0, 1.0), (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
    ("abs(x - y)*y", (2.0, 2.0), (0.0, 0.0, 0.0, 0.0, 0.0, 0.0)),
    # min/max at a tie: each argument gets half (torch.minimum/maximum), second derivatives too
    ("min(x, y)", (1.0, 1.0), (1.0, 0.5, 0.5, 0.0, 0.0, 0.0)),
    ("max(x**2, 2*y)", (2.0, 2.0), (4.0, 2.0, 1.0, 1.0, 0.0, 0.0)),
    ("max(x, y)", (1.0, 3.0), (3.0, 0.0, 1.0, 0.0, 0.0, 0.0)),
    # sqrt at 0: slope +inf; a zero tangent stays zero (0·∞ = 0)
    ("sqrt(x)", (0.0, 0.0), (0.0, INF, 0.0, -INF, 0.0, 0.0)),
    ("sqrt(y)", (5.0, 0.0), (0.0, 0.0, INF, 0.0, 0.0, -INF)),
    ("sqrt(x**2 + y**2)", (0.0, 0.0), (0.0, 0.0, 0.0, INF, 0.0, INF)),
    # integer powers are defined for every base; x**0 = 1 and x**1 = x have no 0·∞ terms
    ("x**3", (-2.0, 0.0), (-8.0, 12.0, 0.0, -12.0, 0.0, 0.0)),
    ("x**0 + y**1", (0.0, 0.0), (1.0, 0.0, 1.0, 0.0, 0.0, 0.0)),
    ("x**-1", (-2.0, 0.0), (-0.5, -0.25, 0.0, -0.25, 0.0, 0.0)),
    # non-integer powers: NaN for a negative base
    ("x**0.5", (-4.0, 0.0), (NAN, NAN, 0.0, NAN, 0.0, 0.0)),
    ("x**1.5", (0.0, 0.0), (0.0, 0.0, 0.0, INF, 0.0, 0.0)),
    # a parameter exponent with an integer value is fine for a negative base (pow(−2, 2) = 4)
    ("x**a", (-2.0, 0.0), (4.0, -4.0, 0.0, 2.0, 0.0, 0.0)),
    # variable exponent at base 0, exponent >= 0: d/dy masked to 0 (torch's pow backward)
    ("x**y", (0.0, 2.0), (0.0, 0.0, 0.0, 2.0, 0.0, 0.0)),
    ("2**x", (3.0, 0.0), (8.0, 8 * math.log(2), 0.0, 8 * math.log(2) ** 2, 0.0, 0.0)),
    # domain errors and overflow are values, never exceptions
    ("log(x)", (0.0, 0.0), (-INF, INF, 0.0, -INF, 0.0, 0.0)),
    ("log(x)", (-1.0, 0.0), (NAN, -1.0, 0.0, -1.0, 0.0, 0.0)),
    ("exp(x)", (1000.0, 0.0), (INF, INF, 0.0, INF, 0.0, 0.0)),
    ("1/x", (0.0, 0.0), (INF, -INF, NAN, INF, NAN, NAN)),  # where f is not finite, so are its derivatives
    ("min(log(x), y)", (-1.0, 0.0), (NAN, NAN, NAN, NAN, NAN, NAN)),
])
def test_rules_at_kinks_and_domain_edges(text, point, want):
    got = resolve_formula(text, {"a": 2.0}).value_grad_hess(*point)
    np.testing.assert_allclose(got, want, rtol=1e-15, atol=0)  # NaN matches NaN


def test_sigmoid_and_softplus_are_exact_where_naive_formulas_lose_digits():
    f_sig = resolve_formula("sigmoid(x)")
    f_sp = resolve_formula("softplus(x)")
    mpmath.mp.dps = 40
    for x in (-745.0, -40.0, -20.0, -1e-8, 0.0, 1e-8, 0.7, 20.0, 21.0, 36.0, 40.0, 700.0):
        s, s_neg = 1 / (1 + mpmath.exp(-x)), 1 / (1 + mpmath.exp(x))  # σ(x), σ(−x) = 1 − σ(x)
        sig = f_sig.value_grad_hess(x, 0.0)
        soft = f_sp.value_grad_hess(x, 0.0)
        pairs = [(sig[0], s), (sig[1], s * s_neg), (sig[3], s * s_neg * (s_neg - s)),
                 (soft[0], mpmath.log1p(mpmath.exp(x))), (soft[1], s), (soft[3], s * s_neg)]
        for got, want in pairs:
            assert abs(got - want) <= 4e-16 * abs(want) + 1e-320, (x, got, want)


def test_tanh_derivative_keeps_its_digits_in_the_tails():
    f = resolve_formula("tanh(x)")
    for x in (0.1, 0.49, 0.5, 3.0, 10.0, 30.0):
        _, d1, _, d2, _, _ = f.value_grad_hess(x, 0.0)
        sech2 = 1 / mpmath.cosh(x) ** 2
        assert abs(d1 - sech2) <= 4e-16 * sech2
        assert abs(d2 - (-2 * mpmath.tanh(x) * sech2)) <= 8e-16 * abs(2 * mpmath.tanh(x) * sech2)


# ---------------------------------------------------------------------------------------------
# 4. The grid kernel against the scalar machine; calling the kernels from other kernels
# ---------------------------------------------------------------------------------------------
GRID_FORMULAS = [
    "(1 - x)**2 + 100*(y - x**2)**2",
    "x/y - 3*x**3 + y**-2",
    "sin(x)*cos(y) + tanh(x*y) - arctan(y) + sigmoid(x) - softplus(-y) + sinh(x)/cosh(y)",
    "sqrt(abs(x)) + log(y**2 + 1) + log1p(x**2) + exp(-x**2)*tan(y/4)",
    "min(x, y)**2 + max(x**2, y) + abs(x)**1.5 + (y**2 + 1)**x + 2**-x",
    "a*x + b",
    # along a row y is a scalar: scalar-only subexpressions of every kind, then meeting x from either side
    "-y**2 + sin(y)*x + exp(-a) - min(y, b)/(1 + y**2) + max(b, y)**2 - (2 - y)/x + y**x - a**(y/3)",
    "y + 1",  # no x at all: the row is one scalar
]


@pytest.mark.parametrize("text", GRID_FORMULAS)
def test_grid_rows_match_the_scalar_machine_cell_by_cell(text):
    params = {"a": 2.0, "b": -1.0}
    f = resolve_formula(text, params)
    # 300 columns: more than one column block (engine.formula.BLOCK)
    g = landscape_grid(text, (-2.0, 2.0), (-1.5, 2.5), (300, 7), params, gradient=True)
    z, gn = g.z, g.grad_norm
    value_only = landscape_grid(text, (-2.0, 2.0), (-1.5, 2.5), (300, 7), params)
    assert value_only.grad_norm is None and value_only.grad_norm_max is None
    np.testing.assert_array_equal(value_only.z, z)
    for i, y in enumerate(g.y):
        for j, x in enumerate(g.x):
            v, gx, gy = f.grad(x, y)
            assert z[i, j] == v or (math.isnan(v) and math.isnan(z[i, j]))
            np.testing.assert_allclose(gn[i, j], math.hypot(gx, gy), rtol=1e-15)
    finite = np.isfinite(z)
    assert (g.z_min, g.z_max) == (z[finite].min(), z[finite].max())
    assert g.grad_norm_max == gn[np.isfinite(gn)].max()
    assert g.n_overflow == (~finite).sum() + (~np.isfinite(gn)).sum()


def test_grid_keeps_non_finite_cells_and_counts_them():
    g = landscape_grid("log(x) + 1/y", (-1.0, 2.0), (0.0, 1.0), (4, 2), gradient=True)
    assert np.isnan(g.z[1, 0]) and g.z[1, 1] == -math.inf and g.z[0, 2] == math.inf
    assert (g.z_min, g.z_max) == (pytest.approx(1.0), pytest.approx(1.0 + math.log(2.0)))
    # values: all of row y = 0 and x = -1, 0 of row y = 1; norms: row y = 0 and (0, 1) (at x = -1, y = 1
    # the value is NaN but the slopes (-1, -1) are finite)
    assert g.n_overflow == 6 + 5


@numba.njit(cache=False)
def _descend(ops, consts, params, x, y, lr, steps):
    """Plain gradient descent on a formula, inside a jitted loop (as the trajectory kernels will)."""
    stack = np.empty((max(ops[1], 1), 6))
    for _ in range(steps):
        r = vm.formula_jet(ops, consts, params, x, y, np.int64(1), stack)  # a plain int64: no literal specialization
        x -= lr * r[1]
        y -= lr * r[2]
    return x, y, vm.formula_value_grad_hess(ops, consts, params, x, y)


def test_kernels_can_be_called_from_another_jitted_function():
    f = resolve_formula("(x - a)**2 + 10*(y + a)**2", {"a": 1.5})
    x, y, jet = _descend(f.ops, f.consts, f.p, 0.0, 0.0, 0.04, 500)
    assert (x, y) == pytest.approx((1.5, -1.5), abs=1e-12)
    assert jet[3:] == (2.0, 0.0, 20.0)


def test_programs_run_with_other_parameter_values_without_recompiling():
    f = resolve_formula("a*x**2 + b", {"a": 1.0, "b": 0.0})
    g = resolve_formula("a*x**2 + b", {"a": 3.0, "b": 2.0})
    assert g.program is f.program
    assert g.value(2.0, 0.0) == 14.0
    assert vm.formula_value(f.ops, f.consts, np.array([3.0, 2.0]), 2.0, 0.0) == 14.0
