"""Slow plain-Python references, one loop per element, written from the formula sheet
(/work/shared/reference/numerics.md and numerics-detailed.md §1, §3, §4), not from the kernels.

``NaiveOptimizer(name, **hyperparameters)`` keeps its state in Python lists and takes
``step(p, g, lr)`` (lists of floats; returns the new p). Moving averages are written as the
formula sheet writes them (β·m + (1−β)·g), not as torch's lerp, so agreement with the kernels is to
rounding, not bitwise. Schedules and clipping follow the same sheet.
"""

from __future__ import annotations

import math

TORCH_DEFAULTS = {
    "sgd": dict(lr=1e-3, momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    "adagrad": dict(lr=1e-2, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0, eps=1e-10,
                    maximize=False),
    "rmsprop": dict(lr=1e-2, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0, centered=False, maximize=False),
    "adadelta": dict(lr=1.0, rho=0.9, eps=1e-6, weight_decay=0.0, maximize=False),
    "adam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, amsgrad=False,
                 decoupled_weight_decay=False, maximize=False),
    "adamw": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-2, amsgrad=False, maximize=False),
    "adamax": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, maximize=False),
    "nadam": dict(lr=2e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, momentum_decay=4e-3,
                  decoupled_weight_decay=False, maximize=False),
    "radam": dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0, decoupled_weight_decay=False,
                  maximize=False),
    "lion": dict(lr=1e-4, betas=(0.9, 0.99), weight_decay=0.0),
}


def _sign(x):
    return 1.0 if x > 0 else (-1.0 if x < 0 else 0.0)


# torch.optim's class for each name (the oracle of tests/test_optimizers.py and tests/test_optim_object.py)
TORCH_CLASS = {"sgd": "SGD", "adagrad": "Adagrad", "rmsprop": "RMSprop", "adadelta": "Adadelta", "adam": "Adam",
               "adamw": "AdamW", "adamax": "Adamax", "nadam": "NAdam", "radam": "RAdam"}


class NaiveOptimizer:
    def __init__(self, name, **hp):
        self.name = name
        self.hp = {**TORCH_DEFAULTS[name], **hp}
        if name == "adamw":
            self.hp["decoupled_weight_decay"] = True
        self.t = 0
        self.s = None  # dict of per-coordinate lists, made at the first step
        self.mu_product = 1.0

    def _state(self, n, *names, init=0.0):
        if self.s is None:
            self.s = {k: [init if k == "sum" else 0.0] * n for k in names}
        return self.s

    def step(self, p, g, lr):
        """One step at learning rate ``lr`` (the schedule's value for this step)."""
        h = self.hp
        self.t += 1
        t = self.t
        p = list(p)
        g = [-x for x in g] if h.get("maximize") else list(g)
        n = len(p)
        wd = h.get("weight_decay", 0.0)
        decoupled = h.get("decoupled_weight_decay", False) or self.name == "lion"
        if self.name != "lion":
            for i in range(n):
                if decoupled:
                    p[i] = p[i] * (1 - lr * wd)
                else:
                    g[i] = g[i] + wd * p[i]
        getattr(self, "_" + self.name)(p, g, lr, t, n)
        return p

    # -- the formula sheet, one optimizer each -----------------------------------------------
    def _sgd(self, p, g, lr, t, n):
        h = self.hp
        mu, tau = h["momentum"], h["dampening"]
        s = self._state(n, "buf")
        for i in range(n):
            d = g[i]
            if mu != 0:
                s["buf"][i] = g[i] if t == 1 else mu * s["buf"][i] + (1 - tau) * g[i]
                d = g[i] + mu * s["buf"][i] if h["nesterov"] else s["buf"][i]
            p[i] -= lr * d

    def _adagrad(self, p, g, lr, t, n):
        h = self.hp
        s = self._state(n, "sum", init=h["initial_accumulator_value"])
        clr = lr / (1 + (t - 1) * h["lr_decay"])
        for i in range(n):
            s["sum"][i] += g[i] * g[i]
            p[i] -= clr * g[i] / (math.sqrt(s["sum"][i]) + h["eps"])

    def _rmsprop(self, p, g, lr, t, n):
        h = self.hp
        a, eps, mu = h["alpha"], h["eps"], h["momentum"]
        s = self._state(n, "v", "buf", "ga")
        for i in range(n):
            s["v"][i] = a * s["v"][i] + (1 - a) * g[i] ** 2
            if h["centered"]:
                s["ga"][i] = a * s["ga"][i] + (1 - a) * g[i]
                avg = math.sqrt(s["v"][i] - s["ga"][i] ** 2) + eps
            else:
                avg = math.sqrt(s["v"][i]) + eps
            if mu > 0:
                s["buf"][i] = mu * s["buf"][i] + g[i] / avg
                p[i] -= lr * s["buf"][i]
            else:
                p[i] -= lr * g[i] / avg

    def _adadelta(self, p, g, lr, t, n):
        h = self.hp
        rho, eps = h["rho"], h["eps"]
        s = self._state(n, "v", "u")
        for i in range(n):
            s["v"][i] = rho * s["v"][i] + (1 - rho) * g[i] ** 2
            delta = math.sqrt(s["u"][i] + eps) / math.sqrt(s["v"][i] + eps) * g[i]
            s["u"][i] = rho * s["u"][i] + (1 - rho) * delta**2
            p[i] -= lr * delta

    def _adam(self, p, g, lr, t, n):
        h = self.hp
        b1, b2 = h["betas"]
        s = self._state(n, "m", "v", "vmax")
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        for i in range(n):
            s["m"][i] = b1 * s["m"][i] + (1 - b1) * g[i]
            s["v"][i] = b2 * s["v"][i] + (1 - b2) * g[i] ** 2
            v = s["v"][i]
            if h["amsgrad"]:
                s["vmax"][i] = max(s["vmax"][i], v)
                v = s["vmax"][i]
            denom = math.sqrt(v) / math.sqrt(bc2) + h["eps"]
            p[i] -= (lr / bc1) * s["m"][i] / denom

    _adamw = _adam

    def _adamax(self, p, g, lr, t, n):
        h = self.hp
        b1, b2 = h["betas"]
        s = self._state(n, "m", "u")
        for i in range(n):
            s["m"][i] = b1 * s["m"][i] + (1 - b1) * g[i]
            s["u"][i] = max(b2 * s["u"][i], abs(g[i]) + h["eps"])
            p[i] -= (lr / (1 - b1**t)) * s["m"][i] / s["u"][i]

    def _nadam(self, p, g, lr, t, n):
        h = self.hp
        b1, b2 = h["betas"]
        psi = h["momentum_decay"]
        s = self._state(n, "m", "v")
        mu_t = b1 * (1 - 0.5 * 0.96 ** (t * psi))
        mu_next = b1 * (1 - 0.5 * 0.96 ** ((t + 1) * psi))
        self.mu_product *= mu_t
        P = self.mu_product
        bc2 = 1 - b2**t
        for i in range(n):
            s["m"][i] = b1 * s["m"][i] + (1 - b1) * g[i]
            s["v"][i] = b2 * s["v"][i] + (1 - b2) * g[i] ** 2
            denom = math.sqrt(s["v"][i] / bc2) + h["eps"]
            p[i] -= lr * (1 - mu_t) / (1 - P) * g[i] / denom + lr * mu_next / (1 - P * mu_next) * s["m"][i] / denom

    def _radam(self, p, g, lr, t, n):
        h = self.hp
        b1, b2 = h["betas"]
        s = self._state(n, "m", "v")
        bc1, bc2 = 1 - b1**t, 1 - b2**t
        rho_inf = 2 / (1 - b2) - 1
        rho_t = rho_inf - 2 * t * b2**t / bc2
        for i in range(n):
            s["m"][i] = b1 * s["m"][i] + (1 - b1) * g[i]
            s["v"][i] = b2 * s["v"][i] + (1 - b2) * g[i] ** 2
            m_hat = s["m"][i] / bc1
            if rho_t > 5:
                r = math.sqrt((rho_t - 4) * (rho_t - 2) * rho_inf / ((rho_inf - 4) * (rho_inf - 2) * rho_t))
                p[i] -= lr * m_hat * r * math.sqrt(bc2) / (math.sqrt(s["v"][i]) + h["eps"])
            else:
                p[i] -= lr * m_hat

    def _lion(self, p, g, lr, t, n):
        h = self.hp
        b1, b2 = h["betas"]
        s = self._state(n, "m")
        for i in range(n):
            c = _sign(b1 * s["m"][i] + (1 - b1) * g[i])
            p[i] -= lr * (c + h["weight_decay"] * p[i])
            s["m"][i] = b2 * s["m"][i] + (1 - b2) * g[i]


# -- schedules (numerics.md "Learning-rate schedules"; e = scheduler step from 0) -------------
def schedule(name, base, e, **k):
    """lr at scheduler step e, straight from the formula sheet."""
    if name == "constant":
        return base
    if name == "step":
        return base * k.get("gamma", 0.1) ** (e // k["step_size"])
    if name == "multistep":
        return base * k.get("gamma", 0.1) ** sum(1 for m in k["milestones"] if m <= e)
    if name == "exponential":
        return base * k["gamma"] ** e
    if name == "linear":
        s, f, T = k.get("start_factor", 1 / 3), k.get("end_factor", 1.0), k.get("total_iters", 5)
        return base * (s + (f - s) * min(e, T) / T)
    if name == "polynomial":
        T, pw = k.get("total_iters", 5), k.get("power", 1.0)
        return base * (1 - min(e, T) / T) ** pw
    if name == "cosine":
        eta = k.get("eta_min", 0.0)
        return eta + (base - eta) * (1 + math.cos(math.pi * e / k["T_max"])) / 2
    if name == "cosine_warm_restarts":
        T_i, eta, mult = k["T_0"], k.get("eta_min", 0.0), k.get("T_mult", 1)
        cur = e
        while cur >= T_i:
            cur -= T_i
            T_i *= mult
        return eta + (base - eta) * (1 + math.cos(math.pi * cur / T_i)) / 2
    if name == "warmup_cosine":
        W, T, m = k.get("warmup_steps", 0), k["total_steps"], k.get("min_lr", 0.0)
        if e < W:
            return base * e / W
        return m + (base - m) * (1 + math.cos(math.pi * (e - W) / (T - W))) / 2
    if name == "onecycle":
        mx, T = k["max_lr"], k["total_steps"]
        pct, div, fdiv = k.get("pct_start", 0.3), k.get("div_factor", 25.0), k.get("final_div_factor", 1e4)
        init = mx / div
        lo = init / fdiv

        def cos_anneal(a, b, x):
            return b + (a - b) * (1 + math.cos(math.pi * x)) / 2

        end1 = pct * T - 1
        if e <= end1:
            return cos_anneal(init, mx, e / end1)
        return cos_anneal(mx, lo, (e - end1) / (T - 1 - end1))
    raise KeyError(name)


# -- clipping (numerics-detailed §4) ----------------------------------------------------------
def clip_norm(g, max_norm):
    total = math.sqrt(sum(x * x for x in g))
    coef = min(1.0, max_norm / (total + 1e-6))
    return [x * coef for x in g], total


def clip_value(g, c):
    return [min(max(x, -c), c) for x in g]
