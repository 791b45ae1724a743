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
