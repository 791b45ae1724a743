"""MLP forward + backward speed: engine.mlp against torch (float64, autograd) and numpy.

Two nets, ReLU hidden layers, linear output, MSE loss, one mini-batch step (forward, loss, backward,
all gradients written):

* small: 2-64-64-1, batch 32    (target: engine ≥ 3× torch)
* wide: 256-512-512-10, batch 128 (target: engine ≥ 1× torch)

Threads are matched: the engine's matrix products go to scipy's OpenBLAS (the BLAS numba calls),
its element-wise loops run on one thread; torch gets ``torch.set_num_threads`` of the same count,
numpy's own OpenBLAS the same (``engine.mlp.set_blas_threads`` and a ctypes call). Measured at 1 thread and at every
core. Each time is the median of repeats of a loop of calls made from Python (the engine's per-call
dispatch included); the engine is also timed inside one jitted loop (the training engineer's case).
The engine and numpy run before torch (torch's OpenMP workers keep spinning after use and steal cores).
Also printed: the engine's backward/forward ratio (the cost claim: backprop ≈ a small multiple of
a forward pass).

Run: ``python -m bench mlp`` (or ``make bench``).
"""

from __future__ import annotations

import ctypes
import glob
import os
import statistics
import time

import numba
import numpy as np

SMALL = ([2, 64, 64, 1], 32)
WIDE = ([256, 512, 512, 10], 128)
TARGETS = {"small": 3.0, "wide": 1.0}


def _median(fn, inner: int, repeats: int = 7) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        for _ in range(inner):
            fn()
        times.append((time.perf_counter() - t0) / inner)
    return statistics.median(times)


def _numpy_blas():
    """numpy's own OpenBLAS (numpy.libs), set through ctypes: (setter, getter) or None."""
    site = os.path.dirname(os.path.dirname(np.__file__))
    paths = glob.glob(os.path.join(site, "numpy.libs", "libscipy_openblas*.so*"))
    if not paths:
        return None
    lib = ctypes.CDLL(paths[0])
    for setter, getter in (("scipy_openblas_set_num_threads64_", "scipy_openblas_get_num_threads64_"),
                           ("scipy_openblas_set_num_threads", "scipy_openblas_get_num_threads"),
                           ("openblas_set_num_threads", "openblas_get_num_threads")):
        if hasattr(lib, setter) and hasattr(lib, getter):
            return getattr(lib, setter), getattr(lib, getter)
    return None


@numba.njit(cache=False)
def _jitted_steps(layout, fparams, params, X, Y, code, lparams, running, grad, work, reps):
    acc = 0.0
    for _ in range(reps):
        acc += mlp_loss_grad(layout, fparams, params, X, Y, code, lparams, 0, 0, 0, running, grad, work)
    return acc


@numba.njit(cache=False)
def _jitted_forward(layout, fparams, params, X, running, work, reps):
    acc = 0.0
    for _ in range(reps):
        acc += mlp_forward(layout, fparams, params, X, 0, 0, 0, running, work)[0, 0]
    return acc


@numba.njit(cache=False)
def _jitted_backward(layout, fparams, params, X, dy, grad, work, reps):
    for _ in range(reps):
        mlp_backward(layout, fparams, params, X, dy, 0, grad, work, work[:0])
    return grad[0]


def _numpy_step(Ws, bs, X, Y):
    """The same step in numpy: forward, MSE, backward (relu hidden, linear output)."""
    acts, pre = [X], []
    a = X
    for i, (W, b) in enumerate(zip(Ws, bs)):
        z = a @ W + b
        pre.append(z)
        a = np.maximum(z, 0.0) if i < len(Ws) - 1 else z
        acts.append(a)
    d = a - Y
    loss = float((d * d).mean())
    g = 2.0 * d / d.size
    grads = []
    for i in range(len(Ws) - 1, -1, -1):
        if i < len(Ws) - 1:
            g = g * (pre[i] > 0.0)
        grads.append((acts[i].T @ g, g.sum(0)))
        if i:
            g = g @ Ws[i].T
    return loss, grads


def _case(widths, n, rng):
    from engine.losses import resolve_loss
    from engine.mlp import build_mlp, init_params, new_running, new_workspace, unpack

    net = build_mlp(widths, "relu")
    params = init_params(net, {"name": "torch_default"}, seed=0)
    X = rng.standard_normal((n, widths[0]))
    Y = rng.standard_normal((n, widths[-1]))
    r = resolve_loss("mse")
    return dict(net=net, params=params, X=X, Y=Y, r=r, running=new_running(net), work=new_workspace(net, n),
                grad=np.empty(net.n_params), layers=unpack(net, params))


def _time_engine(c, inner):
    from engine.mlp import mlp_forward, mlp_loss_grad

    net, p, X, Y, r = c["net"], c["params"], c["X"], c["Y"], c["r"]
    args = (net.layout, net.fparams, p, X, Y, r.code, r.lparams, 0, 0, 0, c["running"], c["grad"], c["work"])
    t_call = _median(lambda: mlp_loss_grad(*args), inner)
    reps = max(1, inner)
    t_loop = _median(lambda: _jitted_steps(net.layout, net.fparams, p, X, Y, r.code, r.lparams, c["running"],
                                           c["grad"], c["work"], reps), 1) / reps
    t_fwd = _median(lambda: _jitted_forward(net.layout, net.fparams, p, X, c["running"], c["work"], reps), 1) / reps
    mlp_forward(net.layout, net.fparams, p, X, 0, 0, 0, c["running"], c["work"])
    dy = np.full((X.shape[0], Y.shape[1]), 1.0 / Y.size)
    t_bwd = _median(lambda: _jitted_backward(net.layout, net.fparams, p, X, dy, c["grad"], c["work"], reps), 1) / reps
    return t_call, t_loop, t_fwd, t_bwd


def _time_numpy(c, inner):
    Ws = [lp.W.copy() for lp in c["layers"]]
    bs = [lp.b.copy() for lp in c["layers"]]
    return _median(lambda: _numpy_step(Ws, bs, c["X"], c["Y"]), inner)


def _time_torch(torch, c, inner):
    layers = []
    mods = []
    for i, lp in enumerate(c["layers"]):
        lin = torch.nn.Linear(*lp.W.shape, dtype=torch.float64)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(lp.W.T.copy()))
            lin.bias.copy_(torch.from_numpy(lp.b.copy()))
        mods.append(lin)
        layers.append(lin)
        if i < len(c["layers"]) - 1:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    Xt, Yt = torch.from_numpy(c["X"]), torch.from_numpy(c["Y"])

    def step():
        model.zero_grad(set_to_none=True)
        torch.nn.functional.mse_loss(model(Xt), Yt).backward()

    t = _median(step, inner)
    return t, mods


def _parity(torch, c) -> float:
    """Max relative difference of the engine's gradient from torch autograd's (same parameters, same batch)."""
    from engine.mlp import mlp_loss_grad, unpack

    _, mods = _time_torch(torch, c, 1)
    g = np.empty(c["net"].n_params)
    mlp_loss_grad(c["net"].layout, c["net"].fparams, c["params"], c["X"], c["Y"], c["r"].code, c["r"].lparams, 0, 0,
                  0, c["running"], g, c["work"])
    worst = 0.0
    for lp, lin in zip(unpack(c["net"], g), mods):
        for ours, theirs in ((lp.W, lin.weight.grad.numpy().T), (lp.b, lin.bias.grad.numpy())):
            worst = max(worst, float(np.max(np.abs(ours - theirs)) / max(np.max(np.abs(theirs)), 1e-300)))
    return worst


def _torch():
    try:
        import torch
    except ImportError:
        return None
    return torch


def main() -> None:
    global mlp_forward, mlp_backward, mlp_loss_grad
    from engine.mlp import mlp_backward, mlp_forward, mlp_loss_grad, set_blas_threads

    torch = _torch()
    np_blas = _numpy_blas()
    cores = os.cpu_count() or 1
    rng = np.random.default_rng(0)
    cases = {"small": _case(*SMALL, rng), "wide": _case(*WIDE, rng)}
    inner = {"small": 500, "wide": 3}
    results = {}
    for threads in sorted({1, cores}):
        got = set_blas_threads(threads)
        if np_blas is not None:
            np_blas[0](threads)
        for name, c in cases.items():
            results[(threads, name, "engine")] = _time_engine(c, inner[name])
            results[(threads, name, "numpy")] = _time_numpy(c, inner[name])
        if torch is not None:
            torch.set_num_threads(threads)
            for name, c in cases.items():
                t, mods = _time_torch(torch, c, inner[name])
                results[(threads, name, "torch")] = t
        np_got = int(np_blas[1]()) if np_blas is not None else "default"
        print(f"threads {threads} (scipy's OpenBLAS, the engine's: {got}; numpy's OpenBLAS: {np_got}; "
              f"torch.set_num_threads({threads}))")
        print(f"   {'net':6s} {'engine call':>12s} {'in-kernel':>10s} {'numpy':>10s} {'torch':>10s} "
              f"{'torch/eng':>9s} {'numpy/eng':>9s} {'bwd/fwd':>8s} {'target':>7s}")
        for name in cases:
            t_call, t_loop, t_fwd, t_bwd = results[(threads, name, "engine")]
            t_np = results[(threads, name, "numpy")]
            t_t = results.get((threads, name, "torch"))
            ratio = f"{t_t / t_call:8.2f}x" if t_t else "      n/a"
            ok = "" if t_t is None else ("ok" if t_t / t_call >= TARGETS[name] else "MISSED")
            print(f"   {name:6s} {t_call * 1e6:10.1f}us {t_loop * 1e6:8.1f}us {t_np * 1e6:8.1f}us "
                  f"{(t_t or 0) * 1e6:8.1f}us {ratio} {t_np / t_call:8.2f}x {t_bwd / t_fwd:7.2f}x "
                  f"{'>=' + format(TARGETS[name], 'g') + 'x ' + ok:>7s}")
    if torch is None:
        print("torch not installed: torch columns skipped")
    else:
        for name, c in cases.items():
            print(f"parity {name}: max |engine − torch| / max |torch| over the gradient = {_parity(torch, c):.1e}")


if __name__ == "__main__":
    main()
