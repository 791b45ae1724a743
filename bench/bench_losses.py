"""Loss value + gradient speed: the batch kernel, the public function, and penalty curves.

    python -m bench losses

1. ``loss_value_grad`` (the kernel the MLP and training loops call) on three batch shapes,
   against the same value and gradient computed by vectorized numpy and by torch float64
   (forward + ``backward()``, one thread), if installed. Median of REPEAT runs after one untimed call.
   Ratio = other time / engine time. Target: at least TARGET x numpy on every row (the
   kernel fuses value and gradient in one pass and allocates nothing).
2. ``evaluate_loss`` end to end (validation, conversion, kernel) on the largest input
   ``max_loss_elements`` allows, and ``loss_curves`` for every loss at the default 201 points.
"""

from __future__ import annotations

import statistics
import time

import numpy as np

REPEAT = 51
TARGET = 2.0
ROWS = [("mse", (256, 10)), ("huber", (256, 10)), ("bce_with_logits", (256, 1)),
        ("cross_entropy_with_logits", (256, 10)), ("cross_entropy_with_logits", (4096, 10)), ("mse", (64, 1))]


def _median(fn, repeat: int = REPEAT) -> float:
    fn()
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def _numpy(name):
    def mse(x, y):
        d = x - y
        return np.mean(d * d), 2 * d / d.size

    def huber(x, y):
        d = x - y
        a = np.abs(d)
        q = a < 1.0
        return np.mean(np.where(q, 0.5 * d * d, a - 0.5)), np.where(q, d, np.sign(d)) / d.size

    def bce_with_logits(x, y):
        v = np.maximum(x, 0) - x * y + np.log1p(np.exp(-np.abs(x)))
        return v.mean(), (1 / (1 + np.exp(-x)) - y) / x.size

    def cross_entropy_with_logits(x, y):
        m = x.max(axis=1, keepdims=True)
        e = np.exp(x - m)
        s = e.sum(axis=1, keepdims=True)
        logp = x - m - np.log(s)
        return -(y * logp).sum(axis=1).mean(), (e / s * y.sum(axis=1, keepdims=True) - y) / x.shape[0]

    return locals()[name]


def _torch(torch, name):
    F = torch.nn.functional
    return {
        "mse": F.mse_loss,
        "huber": F.huber_loss,
        "bce_with_logits": F.binary_cross_entropy_with_logits,
        "cross_entropy_with_logits": F.cross_entropy,
    }[name]


def _inputs(name, shape, rng):
    x = rng.normal(size=shape)
    if name == "cross_entropy_with_logits":
        y = np.zeros(shape)
        y[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1.0
    elif name == "bce_with_logits":
        y = rng.integers(0, 2, shape).astype(float)
    else:
        y = rng.normal(size=shape)
    return x, y


def kernel_rows() -> list[dict]:
    from engine.losses import loss_value_grad, resolve_loss

    try:
        import torch
    except ImportError:
        torch = None
    rng = np.random.default_rng(0)
    print(f"loss_value_grad, median of {REPEAT} (ratio = other / engine; target >= {TARGET} x numpy)")
    rows = []
    for name, shape in ROWS:
        x, y = _inputs(name, shape, rng)
        r = resolve_loss(name)
        g = np.empty_like(x)
        t_eng = _median(lambda: loss_value_grad(r.code, x, y, r.lparams, g))
        fn = _numpy(name)
        t_np = _median(lambda: fn(x, y))
        v_np, g_np = fn(x, y)
        v = loss_value_grad(r.code, x, y, r.lparams, g)
        diff = max(abs(v - v_np) / abs(v_np), float(np.max(np.abs(g - g_np)) / np.max(np.abs(g_np))))
        row = {"loss": name, "shape": shape, "engine_us": t_eng * 1e6, "numpy_us": t_np * 1e6,
               "ratio_numpy": t_np / t_eng, "rel_diff": diff}
        text = (f"  {name:26s} {str(shape):11s} engine {t_eng * 1e6:8.1f} us | numpy {t_np * 1e6:8.1f} us "
                f"x{t_np / t_eng:6.1f}")
        if torch is not None:
            torch.set_num_threads(1)  # these tensors are small; torch's idle OpenMP threads otherwise
            # spin against the engine and the other processes on this 2-core machine (erratic ms timings)
            tf = _torch(torch, name)
            yt = torch.tensor(y)
            xt = torch.tensor(x, requires_grad=True)

            def torch_step():
                xt.grad = None
                tf(xt, yt).backward()

            t_t = _median(torch_step)
            row.update(torch_us=t_t * 1e6, ratio_torch=t_t / t_eng)
            text += f" | torch fwd+bwd {t_t * 1e6:8.1f} us x{t_t / t_eng:6.1f}"
        verdict = "OK" if t_np / t_eng >= TARGET else f"BELOW TARGET x{TARGET}"
        print(f"{text} | rel diff {diff:.0e} | {verdict}")
        rows.append(row)
    return rows


def public_rows() -> None:
    from engine import LIMITS
    from engine.losses import LOSSES, evaluate_loss, loss_curves

    n = LIMITS["max_loss_elements"]
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=n), rng.normal(size=n)
    xl, yl = x.tolist(), y.tolist()
    t_arr = _median(lambda: evaluate_loss("mse", x, y), 21)
    t_list = _median(lambda: evaluate_loss("mse", xl, yl), 21)
    t_curves = _median(lambda: loss_curves(list(LOSSES), points=201), 21)
    print(f"evaluate_loss mse, {n} elements: numpy input {t_arr * 1e3:.2f} ms, Python lists {t_list * 1e3:.2f} ms")
    print(f"loss_curves, all {len(LOSSES)} losses x 201 points: {t_curves * 1e3:.2f} ms")


def main() -> None:
    kernel_rows()
    public_rows()


if __name__ == "__main__":
    main()
