"""Formula surfaces' evaluator: a jitted stack machine running compiled expressions, with exact derivatives.

``engine.expression`` compiles a formula such as ``(1 - x)**2 + 100*(y - x**2)**2`` into a
*program*: two arrays, so any kernel can take it without a function argument and stay cacheable.

* ``ops`` (int64): a header ``[n, depth]`` (instruction count, deepest stack it reaches), then ``n``
  instructions of two words each, ``(opcode, operand)``, in postfix order.
* ``consts`` (float64, size >= 1): the literal numbers, indexed by ``CONST``'s operand.

Parameters are not baked in: ``PARAM k`` pushes ``params[k]``, so one program serves every value of
a slider (``params`` is a float64 array, size >= 1, in the order of the program's parameter names).

Each stack slot is a second-order jet of the formula's sub-expression at (x, y)::

    (f, ∂f/∂x, ∂f/∂y, ∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²)

propagated in forward mode by the exact rules below (hyper-dual numbers), so gradients and Hessians
are exact derivatives of the value, with no finite differences. Every unary function is applied by the
one chain rule of ``_chain`` from its first three derivatives ``g, g', g''`` (``unary_derivs``):

    (g∘u)_a = g'·u_a        (g∘u)_ab = g'·u_ab + g''·u_a·u_b

Rules at kinks and domain edges (the catalog's formula section repeats them):

* a derivative factor multiplies only non-zero tangents: 0·∞ counts as 0, not NaN. So ∂/∂x sqrt(y)
  is 0 where y = 0, and sqrt(x² + y²) has gradient 0 at the origin, the subgradient the built-in
  Ackley surface returns at its cone point (torch's chain rule would give NaN in both);
* abs: sign(0) = 0 (torch); min/max: at a tie each argument gets half (torch.minimum/maximum:
  ``where(self == other, grad / 2, grad)``); second derivatives are averaged the same way;
* sqrt: g'(0) = +∞ (torch: grad / (2·result)); log: g'(0) = +∞, value −∞;
* x**n with an integer constant n (|n| <= POWI_MAX) is repeated squaring (x**2 is exactly x·x) and is
  defined for every x; any other power is ``pow``: negative base with a non-integer exponent → NaN.
  A variable exponent's derivative x**y·log x is 0 where x = 0 and y >= 0 (torch's mask);
* sigmoid and softplus are the exact functions 1/(1 + e⁻ˣ) and log(1 + eˣ) evaluated stably;
  softplus has no threshold (torch.nn.Softplus returns x above 20: a difference below 2.1e-9);
* domain errors and overflow give NaN/±inf and never raise: the callers turn them into a
  ``diverged`` status or a masked grid cell. Where the value is not finite its derivatives are not
  meaningful either (1/x at 0: f = inf, ∂f/∂y = 0/0 = NaN).
"""

from __future__ import annotations

import math

import numpy as np
from numba import types
from numba.core import cgutils
from numba.extending import intrinsic
from numba.np.arrayobj import make_array, populate_array

from ._jit import as_bool, as_int, kernel

# ---------------------------------------------------------------------------------------------
# Instruction set (stable: compiled programs and the kernels below share it)
# ---------------------------------------------------------------------------------------------
HEADER = 2  # ops[0] = instruction count, ops[1] = deepest stack
# push one value
X, Y, CONST, PARAM = 1, 2, 3, 4
# replace the top
NEG, POWI = 8, 9  # POWI's operand is the integer exponent
ABS, SQRT, EXP, LOG, LOG1P, SIN, COS, TAN, TANH, SINH, COSH, ARCTAN, SIGMOID, SOFTPLUS = range(10, 24)
# pop the top (w) and replace the one below it (u) by u ∘ w
ADD, SUB, MUL, DIV, POW, MIN, MAX = range(32, 39)

FIRST_UNARY, FIRST_BINARY = NEG, ADD
# The point machine's stack slots. One nesting level can add 3 (x + x*min(x, <next level>)), so
# max_expression_depth = 64 needs at most 3·64 + 2; engine.expression refuses programs needing more.
STACK_ROWS = 200
POWI_MAX = 1024  # larger integer exponents go through pow (repeated squaring stays <= 11 steps)
BLOCK = 512  # grid columns evaluated together: a block of the stack stays in L1

OP_NAMES = {X: "x", Y: "y", CONST: "const", PARAM: "param", NEG: "neg", POWI: "powi", ABS: "abs",
            SQRT: "sqrt", EXP: "exp", LOG: "log", LOG1P: "log1p", SIN: "sin", COS: "cos", TAN: "tan",
            TANH: "tanh", SINH: "sinh", COSH: "cosh", ARCTAN: "arctan", SIGMOID: "sigmoid",
            SOFTPLUS: "softplus", ADD: "+", SUB: "-", MUL: "*", DIV: "/", POW: "**", MIN: "min", MAX: "max"}


# ---------------------------------------------------------------------------------------------
# Scalar pieces: each function's derivatives, and the jet rules of the binary operators
# ---------------------------------------------------------------------------------------------


@kernel
def _times(g, t):
    """g·t where a zero tangent t stays zero even if the factor g is ±inf or NaN (0·∞ = 0)."""
    return g * t if t != 0.0 else 0.0


@kernel
def _ipow(v, n):
    """v**n for an integer n by repeated squaring (v**2 is v·v, v**3 is v·v·v); v**0 = 1."""
    m = n if n >= 0 else -n
    r = 1.0
    b = v
    while m > 0:
        if m & 1:
            r *= b
        m >>= 1
        if m > 0:
            b *= b
    return r if n >= 0 else 1.0 / r


@kernel
def _sigmoid_pair(v):
    """(σ(v), σ(−v)), both without cancellation: t = e^{−|v|}, then 1/(1 + t) and t/(1 + t)."""
    t = math.exp(-abs(v))
    big = 1.0 / (1.0 + t)
    small = t / (1.0 + t)
    if v >= 0.0:
        return big, small
    return small, big


@kernel
def unary_derivs(op, v, n, order):
    """(g(v), g'(v), g''(v)) of the unary instruction ``op`` (``n``: POWI's exponent); derivatives
    only up to ``order`` (the rest 0). Domain errors give NaN or ±inf; nothing raises."""
    g1 = 0.0
    g2 = 0.0
    if op == POWI:
        # d/dv vⁿ = n vⁿ⁻¹, d² = n(n − 1) vⁿ⁻²; the coefficient is 0 for n ∈ {0, 1} (no v⁻¹ at 0)
        g0 = _ipow(v, n)
        if order > 0 and n != 0:
            g1 = n * _ipow(v, n - 1)
        if order > 1 and n != 0 and n != 1:
            g2 = (n * (n - 1)) * _ipow(v, n - 2)
    elif op == ABS:
        g0 = abs(v)
        g1 = 1.0 if v > 0.0 else (-1.0 if v < 0.0 else (0.0 if v == 0.0 else v))  # sign(0) = 0
    elif op == SQRT:
        g0 = math.sqrt(v)
        g1 = 0.5 / g0  # +inf at 0
        if order > 1:
            g2 = -0.5 * g1 / v  # −¼ v^{−3/2}
    elif op == EXP:
        g0 = math.exp(v)
        g1 = g0
        g2 = g0
    elif op == LOG:
        g0 = math.log(v)
        g1 = 1.0 / v
        g2 = -g1 * g1
    elif op == LOG1P:
        g0 = math.log1p(v)
        g1 = 1.0 / (1.0 + v)
        g2 = -g1 * g1
    elif op == SIN:
        g0 = math.sin(v)
        if order > 0:
            g1 = math.cos(v)
        g2 = -g0
    elif op == COS:
        g0 = math.cos(v)
        if order > 0:
            g1 = -math.sin(v)
        g2 = -g0
    elif op == TAN:
        g0 = math.tan(v)
        g1 = 1.0 + g0 * g0  # sec² v
        g2 = 2.0 * g0 * g1
    elif op == TANH:
        g0 = math.tanh(v)
        if abs(v) < 0.5:
            g1 = 1.0 - g0 * g0
        else:  # sech² v: 1 − tanh² v would cancel (1e-4 relative error at v = 5)
            c = math.cosh(v)
            g1 = 1.0 / (c * c)
        g2 = -2.0 * g0 * g1
    elif op == SINH:
        g0 = math.sinh(v)
        if order > 0:
            g1 = math.cosh(v)
        g2 = g0
    elif op == COSH:
        g0 = math.cosh(v)
        if order > 0:
            g1 = math.sinh(v)
        g2 = g0
    elif op == ARCTAN:
        g0 = math.atan(v)
        g1 = 1.0 / (1.0 + v * v)
        g2 = -2.0 * v * g1 * g1
    elif op == SIGMOID:
        g0, s_neg = _sigmoid_pair(v)
        g1 = g0 * s_neg  # σ(v)σ(−v)
        if order > 1:
            g2 = -g1 * math.tanh(0.5 * v)  # σ'(v)(σ(−v) − σ(v)), and σ(−v) − σ(v) = −tanh(v/2)
    elif op == SOFTPLUS:
        # log(1 + eᵛ) = max(v, 0) + log1p(e^{−|v|}); g' = σ(v), g'' = σ(v)σ(−v)
        g0 = max(v, 0.0) + math.log1p(math.exp(-abs(v)))
        g1, s_neg = _sigmoid_pair(v)
        g2 = g1 * s_neg
    else:
        g0 = math.nan
    if order < 2:
        g2 = 0.0
    if order < 1:
        g1 = 0.0
    return g0, g1, g2


@kernel
def _chain(g0, g1, g2, a, b, aa, ab, bb):
    """The jet of g(u) from g, g', g'' at u and u's tangents: (g∘u)_ij = g'·u_ij + g''·u_i·u_j."""
    return (g0, _times(g1, a), _times(g1, b),
            _times(g1, aa) + _times(g2, a * a), _times(g1, ab) + _times(g2, a * b), _times(g1, bb) + _times(g2, b * b))


@kernel
def _mul(u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb):
    """(uw)_i = u_i w + u w_i;  (uw)_ij = u_ij w + u_i w_j + u_j w_i + u w_ij."""
    return (u0 * w0, ua * w0 + u0 * wa, ub * w0 + u0 * wb,
            uaa * w0 + 2.0 * ua * wa + u0 * waa,
            uab * w0 + ua * wb + ub * wa + u0 * wab,
            ubb * w0 + 2.0 * ub * wb + u0 * wbb)


@kernel
def _div(u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb):
    """q = u/w from u = q·w: q_i = (u_i − q w_i)/w;  q_ij = (u_ij − q_i w_j − q_j w_i − q w_ij)/w."""
    q = u0 / w0
    qa = (ua - _times(q, wa)) / w0
    qb = (ub - _times(q, wb)) / w0
    qaa = (uaa - 2.0 * _times(qa, wa) - _times(q, waa)) / w0
    qab = (uab - _times(qa, wb) - _times(qb, wa) - _times(q, wab)) / w0
    qbb = (ubb - 2.0 * _times(qb, wb) - _times(q, wbb)) / w0
    return q, qa, qb, qaa, qab, qbb


@kernel
def _pow(u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb):
    """f = u**w through its partials in u and w and the two-variable chain rule:
    f_u = w u^{w−1}, f_w = f log u, f_uu = w(w−1) u^{w−2}, f_uw = u^{w−1}(1 + w log u), f_ww = f log² u;
    f_i = f_u u_i + f_w w_i;  f_ij = f_u u_ij + f_w w_ij + f_uu u_i u_j + f_uw (u_i w_j + u_j w_i) + f_ww w_i w_j.
    A constant exponent (w_i = 0) never touches log u, so x**0.5 and x**a (a parameter) need only pow.
    """
    f = u0**w0
    pm1 = u0 ** (w0 - 1.0)
    fu = _times(pm1, w0)  # 0 for w = 0, even where u^{−1} is infinite
    fuu = _times(u0 ** (w0 - 2.0), w0 * (w0 - 1.0))  # 0 for w ∈ {0, 1}
    if wa == 0.0 and wb == 0.0 and waa == 0.0 and wab == 0.0 and wbb == 0.0:
        fw = 0.0
        fuw = 0.0
        fww = 0.0
    elif u0 == 0.0 and w0 >= 0.0:  # torch masks d/dw here: u**w is 0 (or 1) near w for u = 0
        fw = 0.0
        fuw = 0.0
        fww = 0.0
    else:
        lg = math.log(u0)
        fw = f * lg
        fuw = pm1 * (1.0 + w0 * lg)
        fww = fw * lg
    return (f, _times(fu, ua) + _times(fw, wa), _times(fu, ub) + _times(fw, wb),
            _times(fu, uaa) + _times(fw, waa) + _times(fuu, ua * ua) + _times(fuw, 2.0 * ua * wa) + _times(fww, wa * wa),
            _times(fu, uab) + _times(fw, wab) + _times(fuu, ua * ub) + _times(fuw, ua * wb + ub * wa)
            + _times(fww, wa * wb),
            _times(fu, ubb) + _times(fw, wbb) + _times(fuu, ub * ub) + _times(fuw, 2.0 * ub * wb) + _times(fww, wb * wb))


@kernel
def _pick(take_max, u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb):
    """min or max of two jets: the chosen argument's jet; at a tie the mean of both (torch's half-and-half)."""
    if u0 == w0:
        return u0, 0.5 * (ua + wa), 0.5 * (ub + wb), 0.5 * (uaa + waa), 0.5 * (uab + wab), 0.5 * (ubb + wbb)
    if u0 != u0 or w0 != w0:  # NaN propagates, as torch.minimum/maximum
        return math.nan, math.nan, math.nan, math.nan, math.nan, math.nan
    if (u0 > w0) == take_max:
        return u0, ua, ub, uaa, uab, ubb
    return w0, wa, wb, waa, wab, wbb


@kernel
def binary_jet(op, u, w):
    """The jet of u ∘ w for the binary instruction ``op`` from the jets (6-tuples) of u and w."""
    u0, ua, ub, uaa, uab, ubb = u
    w0, wa, wb, waa, wab, wbb = w
    if op == ADD:
        return u0 + w0, ua + wa, ub + wb, uaa + waa, uab + wab, ubb + wbb
    if op == SUB:
        return u0 - w0, ua - wa, ub - wb, uaa - waa, uab - wab, ubb - wbb
    if op == MUL:
        return _mul(u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb)
    if op == DIV:
        return _div(u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb)
    if op == POW:
        return _pow(u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb)
    return _pick(op == MAX, u0, ua, ub, uaa, uab, ubb, w0, wa, wb, waa, wab, wbb)


# ---------------------------------------------------------------------------------------------
# The stack machine at one point
# ---------------------------------------------------------------------------------------------


@kernel
def formula_jet(ops, consts, params, x, y, order, stack):
    """Run the program at (x, y): (f, f_x, f_y, f_xx, f_xy, f_yy), derivatives up to ``order``
    (0, 1 or 2; higher ones are 0). ``stack`` is scratch of shape (>= ops[1], 6);
    ``formula_value_grad_hess`` and friends bring their own (``_scratch``, on the call stack).

    The top of the stack is kept in six locals (registers) and only the slots below it live in
    ``stack``: a push spills the top, a binary operator reads one slot.
    """
    n = ops[0]
    sp = 0  # values on the stack, the top included
    f = fa = fb = faa = fab = fbb = 0.0
    for k in range(n):
        op = ops[HEADER + 2 * k]
        arg = ops[HEADER + 2 * k + 1]
        if op < FIRST_UNARY:
            if sp > 0:
                t = sp - 1
                stack[t, 0] = f
                stack[t, 1] = fa
                stack[t, 2] = fb
                stack[t, 3] = faa
                stack[t, 4] = fab
                stack[t, 5] = fbb
            sp += 1
            fa = fb = faa = fab = fbb = 0.0
            if op == X:
                f = x
                fa = 1.0
            elif op == Y:
                f = y
                fb = 1.0
            elif op == CONST:
                f = consts[arg]
            else:
                f = params[arg]
        elif op < FIRST_BINARY:
            if op == NEG:
                f, fa, fb, faa, fab, fbb = -f, -fa, -fb, -faa, -fab, -fbb
            elif op == POWI and arg == 2:  # u², the commonest power, without a call: (2u, 2)
                f, fa, fb, faa, fab, fbb = _chain(f * f, 2.0 * f, 2.0, fa, fb, faa, fab, fbb)
            else:
                g0, g1, g2 = unary_derivs(op, f, arg, order)
                f, fa, fb, faa, fab, fbb = _chain(g0, g1, g2, fa, fb, faa, fab, fbb)
        else:
            sp -= 1
            t = sp - 1
            u0, ua, ub, uaa, uab, ubb = stack[t, 0], stack[t, 1], stack[t, 2], stack[t, 3], stack[t, 4], stack[t, 5]
            if op == ADD:
                f, fa, fb, faa, fab, fbb = u0 + f, ua + fa, ub + fb, uaa + faa, uab + fab, ubb + fbb
            elif op == SUB:
                f, fa, fb, faa, fab, fbb = u0 - f, ua - fa, ub - fb, uaa - faa, uab - fab, ubb - fbb
            elif op == MUL:
                f, fa, fb, faa, fab, fbb = _mul(u0, ua, ub, uaa, uab, ubb, f, fa, fb, faa, fab, fbb)
            else:
                f, fa, fb, faa, fab, fbb = binary_jet(op, (u0, ua, ub, uaa, uab, ubb), (f, fa, fb, faa, fab, fbb))
    if order < 2:
        faa = fab = fbb = 0.0
    if order < 1:
        fa = fb = 0.0
    return f, fa, fb, faa, fab, fbb


_SCRATCH_TYPE = types.Array(types.float64, 2, "C")


@intrinsic
def _scratch(typingctx):
    """A (STACK_ROWS, 6) float64 array in the caller's stack frame (LLVM ``alloca``), so the point
    machine allocates nothing per call: a heap array cost ~45 ns, as much as a whole Adam step.
    It must not outlive the function that makes it: only pass it down, never return it."""

    def codegen(context, builder, signature, args):
        intp = lambda v: context.get_constant(types.intp, v)  # noqa: E731
        data = cgutils.alloca_once(builder, context.get_value_type(types.float64), size=intp(STACK_ROWS * 6))
        ary = make_array(_SCRATCH_TYPE)(context, builder)
        populate_array(ary, data=data, shape=cgutils.pack_array(builder, [intp(STACK_ROWS), intp(6)]),
                       strides=cgutils.pack_array(builder, [intp(48), intp(8)]), itemsize=intp(8), meminfo=None)
        return ary._getvalue()

    return _SCRATCH_TYPE(), codegen


@kernel
def formula_value_grad_hess(ops, consts, params, x, y):
    """(f, ∂f/∂x, ∂f/∂y, ∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²) of the program at (x, y)."""
    return formula_jet(ops, consts, params, x, y, as_int(2), _scratch())


@kernel
def formula_value(ops, consts, params, x, y):
    """f(x, y) of the program (the value lane only)."""
    return formula_jet(ops, consts, params, x, y, as_int(0), _scratch())[0]


@kernel
def formula_grad(ops, consts, params, x, y):
    """(f, ∂f/∂x, ∂f/∂y): the shape of ``engine.surfaces.surface_grad``."""
    r = formula_jet(ops, consts, params, x, y, as_int(1), _scratch())
    return r[0], r[1], r[2]


@kernel
def formula_hessian(ops, consts, params, x, y):
    """(∂²f/∂x², ∂²f/∂x∂y, ∂²f/∂y²): the shape of ``engine.surfaces.surface_hessian``."""
    r = formula_jet(ops, consts, params, x, y, as_int(2), _scratch())
    return r[3], r[4], r[5]


# ---------------------------------------------------------------------------------------------
# The stack machine over a grid row: each instruction runs over a block of columns at once, so
# its dispatch is paid once per block and the arithmetic loops vectorize (the sweep's hot path)
# ---------------------------------------------------------------------------------------------


@kernel
def formula_fill_row(ops, consts, params, xs, y, zrow, grow, want_grad):
    """zrow[j] = f(xs[j], y) and, if ``want_grad``, grow[j] = ‖∇f(xs[j], y)‖ (value and first
    derivatives only: three lanes per slot). Allocates its own (depth, 3, BLOCK) scratch.
    ``engine.landscape``'s grid calls it for a formula's rows (non-finite cells are left as they are)."""
    if not want_grad:
        _fill_row_values(ops, consts, params, xs, y, zrow)
        return
    n = ops[0]
    st = np.empty((max(ops[1], 1), 3, BLOCK))
    order = as_int(1)  # a plain int64: a bare 1 is typed Literal[int](1), one more compile of each callee
    for j0 in range(0, xs.size, BLOCK):
        m = min(BLOCK, xs.size - j0)
        sp = 0
        for k in range(n):
            op = ops[HEADER + 2 * k]
            arg = ops[HEADER + 2 * k + 1]
            if op < FIRST_UNARY:
                t = sp
                sp += 1
                if op == X:
                    for j in range(m):
                        st[t, 0, j] = xs[j0 + j]
                else:
                    c = y if op == Y else (consts[arg] if op == CONST else params[arg])
                    for j in range(m):
                        st[t, 0, j] = c
                if want_grad:
                    for j in range(m):
                        st[t, 1, j] = 1.0 if op == X else 0.0
                        st[t, 2, j] = 1.0 if op == Y else 0.0
            elif op < FIRST_BINARY:
                _row_unary(st, sp - 1, m, op, arg, order)
            else:
                _row_binary(st, sp - 2, m, op, want_grad)
                sp -= 1
        for j in range(m):
            zrow[j0 + j] = st[0, 0, j]
        if want_grad:
            for j in range(m):
                grow[j0 + j] = math.sqrt(st[0, 1, j] * st[0, 1, j] + st[0, 2, j] * st[0, 2, j])


@kernel
def _fill_row_values(ops, consts, params, xs, y, zrow):
    """formula_fill_row's value-only path. Along a row, y, constants and parameters are scalars: a slot holding
    one stays a scalar (``sc[t]``; ``vec[t]`` false) until an operation meets a column of x, so the row pays no
    broadcast loop for it and a scalar operand costs a vector op nothing extra (Rosenbrock: 3 of its 12
    instructions run once per row instead of once per cell)."""
    n = ops[0]
    depth = max(ops[1], 1)
    st = np.empty((depth, 3, BLOCK))
    sc = np.empty(depth)
    vec = np.zeros(depth, dtype=np.bool_)
    for j0 in range(0, xs.size, BLOCK):
        m = min(BLOCK, xs.size - j0)
        sp = 0
        for k in range(n):
            op = ops[HEADER + 2 * k]
            arg = ops[HEADER + 2 * k + 1]
            if op < FIRST_UNARY:
                t = sp
                sp += 1
                vec[t] = op == X
                if op == X:
                    for j in range(m):
                        st[t, 0, j] = xs[j0 + j]
                else:
                    sc[t] = y if op == Y else (consts[arg] if op == CONST else params[arg])
            elif op < FIRST_BINARY:
                t = sp - 1
                if vec[t]:
                    _row_unary(st, t, m, op, arg, as_int(0))
                elif op == NEG:
                    sc[t] = -sc[t]
                elif op == POWI and arg == 2:
                    sc[t] = sc[t] * sc[t]
                else:
                    sc[t] = unary_derivs(op, sc[t], arg, as_int(0))[0]
            else:
                t = sp - 2
                w = t + 1
                sp -= 1
                if not vec[t] and not vec[w]:
                    sc[t] = binary_jet(op, (sc[t], 0.0, 0.0, 0.0, 0.0, 0.0), (sc[w], 0.0, 0.0, 0.0, 0.0, 0.0))[0]
                elif vec[t] and vec[w]:
                    _row_binary(st, t, m, op, as_bool(False))
                elif op <= DIV and vec[t]:  # column ∘ scalar
                    c = sc[w]
                    if op == ADD:
                        for j in range(m):
                            st[t, 0, j] += c
                    elif op == SUB:
                        for j in range(m):
                            st[t, 0, j] -= c
                    elif op == MUL:
                        for j in range(m):
                            st[t, 0, j] *= c
                    else:
                        for j in range(m):
                            st[t, 0, j] /= c
                elif op <= DIV:  # scalar ∘ column
                    c = sc[t]
                    if op == ADD:
                        for j in range(m):
                            st[t, 0, j] = c + st[w, 0, j]
                    elif op == SUB:
                        for j in range(m):
                            st[t, 0, j] = c - st[w, 0, j]
                    elif op == MUL:
                        for j in range(m):
                            st[t, 0, j] = c * st[w, 0, j]
                    else:
                        for j in range(m):
                            st[t, 0, j] = c / st[w, 0, j]
                    vec[t] = True
                else:  # pow, min, max with one scalar side: broadcast it, then the column op
                    s_ = w if vec[t] else t
                    for j in range(m):
                        st[s_, 0, j] = sc[s_]
                    _row_binary(st, t, m, op, as_bool(False))
                    vec[t] = True
        if vec[0]:
            for j in range(m):
                zrow[j0 + j] = st[0, 0, j]
        else:
            for j in range(m):
                zrow[j0 + j] = sc[0]


@kernel
def _row_unary(st, t, m, op, arg, order):
    """Slot t ← g(slot t) over m columns (value, and the two first derivatives when order = 1)."""
    if op == NEG:
        for j in range(m):
            st[t, 0, j] = -st[t, 0, j]
        if order > 0:
            for j in range(m):
                st[t, 1, j] = -st[t, 1, j]
                st[t, 2, j] = -st[t, 2, j]
    elif op == POWI and arg == 2:  # u**2, the commonest power, in vectorized loops
        if order > 0:
            for j in range(m):
                g1 = 2.0 * st[t, 0, j]
                st[t, 1, j] = _times(g1, st[t, 1, j])
                st[t, 2, j] = _times(g1, st[t, 2, j])
        for j in range(m):
            st[t, 0, j] = st[t, 0, j] * st[t, 0, j]
    elif order == 0:
        for j in range(m):
            st[t, 0, j] = unary_derivs(op, st[t, 0, j], arg, order)[0]
    else:
        for j in range(m):
            g0, g1, _ = unary_derivs(op, st[t, 0, j], arg, order)
            st[t, 0, j] = g0
            st[t, 1, j] = _times(g1, st[t, 1, j])
            st[t, 2, j] = _times(g1, st[t, 2, j])


@kernel
def _row_binary(st, t, m, op, want_grad):
    """Slot t ← slot t ∘ slot t+1 over m columns (value and, if asked, the two first derivatives)."""
    w = t + 1
    if op == ADD:
        for j in range(m):
            st[t, 0, j] += st[w, 0, j]
        if want_grad:
            for j in range(m):
                st[t, 1, j] += st[w, 1, j]
                st[t, 2, j] += st[w, 2, j]
    elif op == SUB:
        for j in range(m):
            st[t, 0, j] -= st[w, 0, j]
        if want_grad:
            for j in range(m):
                st[t, 1, j] -= st[w, 1, j]
                st[t, 2, j] -= st[w, 2, j]
    elif op == MUL and not want_grad:
        for j in range(m):
            st[t, 0, j] *= st[w, 0, j]
    elif op == DIV and not want_grad:
        for j in range(m):
            st[t, 0, j] /= st[w, 0, j]
    elif op == DIV:  # q = u/w: q_i = (u_i − q w_i)/w, as _div
        for j in range(m):
            w0 = st[w, 0, j]
            q = st[t, 0, j] / w0
            st[t, 0, j] = q
            st[t, 1, j] = (st[t, 1, j] - _times(q, st[w, 1, j])) / w0
            st[t, 2, j] = (st[t, 2, j] - _times(q, st[w, 2, j])) / w0
    elif op == MUL:  # (uw)_i = u_i w + u w_i, as _mul
        for j in range(m):
            u0 = st[t, 0, j]
            w0 = st[w, 0, j]
            st[t, 0, j] = u0 * w0
            st[t, 1, j] = st[t, 1, j] * w0 + u0 * st[w, 1, j]
            st[t, 2, j] = st[t, 2, j] * w0 + u0 * st[w, 2, j]
    else:
        for j in range(m):
            u0 = st[t, 0, j]
            w0 = st[w, 0, j]
            ua = ub = wa = wb = 0.0
            if want_grad:
                ua, ub, wa, wb = st[t, 1, j], st[t, 2, j], st[w, 1, j], st[w, 2, j]
            f, fa, fb, _, _, _ = binary_jet(op, (u0, ua, ub, 0.0, 0.0, 0.0), (w0, wa, wb, 0.0, 0.0, 0.0))
            st[t, 0, j] = f
            if want_grad:
                st[t, 1, j] = fa
                st[t, 2, j] = fb
