"""Plain-numpy reference values of the built-in surfaces, written from the formula sheet
(/work/shared/reference/numerics.md, "2-D test surfaces") and the surface docstrings.

Independent of the kernels: vectorized, no shared code, used as the oracle for values.
"""

from __future__ import annotations

import math

import numpy as np


def reference_value(name: str, params: dict, X, Y, data=None):
    X = np.asarray(X, dtype=np.float64)
    Y = np.asarray(Y, dtype=np.float64)
    if name == "quadratic":
        th = math.radians(params["angle"])
        v1 = np.array([math.cos(th), math.sin(th)])
        v2 = np.array([-math.sin(th), math.cos(th)])
        s, k = params["scale"], params["condition"]
        # f = ½ (scale (v1·p)² + scale·κ (v2·p)²)
        return 0.5 * (s * (v1[0] * X + v1[1] * Y) ** 2 + s * k * (v2[0] * X + v2[1] * Y) ** 2)
    if name == "rosenbrock":
        return (params["a"] - X) ** 2 + params["b"] * (Y - X**2) ** 2
    if name == "beale":
        return (1.5 - X + X * Y) ** 2 + (2.25 - X + X * Y**2) ** 2 + (2.625 - X + X * Y**3) ** 2
    if name == "booth":
        return (X + 2 * Y - 7) ** 2 + (2 * X + Y - 5) ** 2
    if name == "matyas":
        return 0.26 * (X**2 + Y**2) - 0.48 * X * Y
    if name == "himmelblau":
        return (X**2 + Y - 11) ** 2 + (X + Y**2 - 7) ** 2
    if name == "rastrigin":
        A = params["A"]
        return 2 * A + (X**2 - A * np.cos(2 * np.pi * X)) + (Y**2 - A * np.cos(2 * np.pi * Y))
    if name == "ackley":
        return (-20 * np.exp(-0.2 * np.sqrt(0.5 * (X**2 + Y**2)))
                - np.exp(0.5 * (np.cos(2 * np.pi * X) + np.cos(2 * np.pi * Y))) + np.e + 20)
    if name == "goldstein_price":
        return ((1 + (X + Y + 1) ** 2 * (19 - 14 * X + 3 * X**2 - 14 * Y + 6 * X * Y + 3 * Y**2))
                * (30 + (2 * X - 3 * Y) ** 2 * (18 - 32 * X + 12 * X**2 + 48 * Y - 36 * X * Y + 27 * Y**2)))
    if name == "six_hump_camel":
        return (4 - 2.1 * X**2 + X**4 / 3) * X**2 + X * Y + (-4 + 4 * Y**2) * Y**2
    if name == "saddle":
        return X**2 - Y**2
    if name == "monkey_saddle":
        return X**3 - 3 * X * Y**2
    if name == "valley":
        return (X**2 - 1) ** 2 - params["tilt"] * X + params["width"] * (Y - params["bend"] * X**2) ** 2
    if name == "linear_regression":
        xs, ys = data
        # mean over samples of (w x_i + b - y_i)^2, one sample at a time
        out = np.zeros(np.broadcast(X, Y).shape)
        for xi, yi in zip(xs, ys):
            out += (X * xi + Y - yi) ** 2
        return out / len(xs)
    raise KeyError(name)


def regression_data(params: dict):
    """The dataset the docstring of engine.surfaces.synthetic_regression promises, drawn here directly."""
    rng = np.random.default_rng(params["seed"])
    xs = rng.uniform(0.0, 2.0, params["n"])
    eps = rng.standard_normal(params["n"])
    return xs, params["true_w"] * xs + params["true_b"] + params["noise"] * eps


# Each built-in surface typed as a formula a user would write (engine.expression's grammar): the text and
# how its parameters come from the resolved surface (None: none; the entry None: written out sample by sample).
def regression_formula(su) -> tuple[str, dict]:
    """linear_regression's MSE written out sample by sample, as a user would paste it."""
    n = su.p.size // 2
    terms = " + ".join(f"(x*{float(su.p[i])!r} + y - {float(su.p[n + i])!r})**2" for i in range(n))
    return f"({terms})/{n}", {}


AS_FORMULA = {
    "quadratic": ("0.5*(hxx*x**2 + 2*hxy*x*y + hyy*y**2)", lambda su: dict(zip(("hxx", "hxy", "hyy"), su.p))),
    "rosenbrock": ("(a - x)**2 + b*(y - x**2)**2", lambda su: {"a": su.params["a"], "b": su.params["b"]}),
    "beale": ("(1.5 - x + x*y)**2 + (2.25 - x + x*y**2)**2 + (2.625 - x + x*y**3)**2", None),
    "booth": ("(x + 2*y - 7)**2 + (2*x + y - 5)**2", None),
    "matyas": ("0.26*(x**2 + y**2) - 0.48*x*y", None),
    "himmelblau": ("(x**2 + y - 11)**2 + (x + y**2 - 7)**2", None),
    "rastrigin": ("2*A + x**2 - A*cos(2*pi*x) + y**2 - A*cos(2*pi*y)", lambda su: {"A": su.params["A"]}),
    "ackley": ("-20*exp(-0.2*sqrt(0.5*(x**2 + y**2))) - exp(0.5*(cos(2*pi*x) + cos(2*pi*y))) + e + 20", None),
    "goldstein_price": ("(1 + (x + y + 1)**2*(19 - 14*x + 3*x**2 - 14*y + 6*x*y + 3*y**2))"
                        "*(30 + (2*x - 3*y)**2*(18 - 32*x + 12*x**2 + 48*y - 36*x*y + 27*y**2))", None),
    "six_hump_camel": ("(4 - 2.1*x**2 + x**4/3)*x**2 + x*y + (-4 + 4*y**2)*y**2", None),
    "saddle": ("x**2 - y**2", None),
    "monkey_saddle": ("x**3 - 3*x*y**2", None),
    "valley": ("(x**2 - 1)**2 - tilt*x + width*(y - bend*x**2)**2",
               lambda su: {k: su.params[k] for k in ("tilt", "width", "bend")}),
    "linear_regression": None,
}
