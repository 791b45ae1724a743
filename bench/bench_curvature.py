"""Curvature speed: exact Hessian-vector products and the top eigenvalue, engine against torch.

The network: a 2-hidden-layer tanh MLP with 100 units per layer, MSE, float64 (~10.5k parameters), on
three full batches: 20 noise-free points of the Chebyshev polynomial T_3 (the edge-of-stability setting,
where sharpness is tracked every few steps: the headline), and the moons split at 200 and 1000 points
(where the products grow until both sides are bound by the same matrix multiplications: an HVP is ~6
products of [batch, 100] × [100, 100] either way, so the ratio falls towards the overheads' share).

* **one HVP** (target: engine ≥ 3× torch): engine.hvp's R-operator kernel (``MLPHessian.hvp``, called
  from Python) against torch's double backward the way PyHessian does it: the gradient graph built
  once with ``create_graph=True``, then ``torch.autograd.grad(g, θ, grad_outputs=v, retain_graph=True)``
  per product (the cheapest torch HVP: no forward pass per product).
* **top eigenvalue** (target: engine ≥ 5× torch): preparing the point (engine: ``mlp_hessian``, one
  forward + backward; torch: the forward and the graph of the gradient), then the eigensolver:
  - headline: the engine's own way, ``engine.eigenpairs(h, 1, "LA", tol=1e-6, ncv=20, v0)`` (Lanczos
    that tests convergence after every product), against torch feeding
    ``scipy.sparse.linalg.eigsh(k=1, which='LA', tol=1e-6, ncv=20, v0)`` on a LinearOperator;
  - the same solver on both sides, so that only the HVPs and the preparation differ: eigsh on both, and
    engine.spectrum's Lanczos on both (torch's HVP wrapped by ``engine.hessian_operator``).
  Every eigenvalue must agree with the others to 1e-6 (relative).
* **edge of stability**: the documented preset (``engine.edge_of_stability.PRESET``: 10,000 full-batch
  GD epochs with λ_max every 100), the explorer's default sharpness-tracked run (target: < 5 s), both as
  ``engine.train`` and as the explorer runs it: ``POST /api/v1/training/stream`` (10,000 epoch events) read
  to the end through Flask's test client.

Threads are matched: torch.set_num_threads(t) and scipy's OpenBLAS (numba's np.dot) at t, for t = 1
and every core. The engine and torch are timed alternately (ABAB), each a median of repeats, so
the machine's load hits both alike; ratios are of those medians, from one run.

Run: ``python -m bench curvature`` (or ``make bench``); ``BENCH_QUICK=1`` for the headline batch only.
"""

from __future__ import annotations

import os
import statistics
import time
from typing import Callable

import numpy as np
from scipy.sparse.linalg import LinearOperator, eigsh

WIDTH = 100
CASES = (("T3 x20", "polynomial", 20), ("moons x200", "moons", 200), ("moons x1000", "moons", 1000))
TARGETS = {"hvp": 3.0, "top": 5.0, "eos_s": 5.0}
NCV = 20  # the engine's own choice for k = 1 (engine.spectrum, engine.sharpness): the same on both sides


def _interleaved(fa, fb, inner: int, repeats: int = 9) -> tuple[float, float]:
    """Medians of seconds per call of fa and fb, timed alternately."""
    fa()
    fb()
    ta, tb = [], []
    for _ in range(repeats):
        for f, acc in ((fa, ta), (fb, tb)):
            t0 = time.perf_counter()
            for _ in range(inner):
                f()
            acc.append((time.perf_counter() - t0) / inner)
    return statistics.median(ta), statistics.median(tb)


def _torch_loss(torch, net, theta, X, Y):
    a = X
    for l, row in enumerate(net.layout):
        fi, fo, wo, bo = (int(x) for x in row[:4])
        a = a @ theta[wo:wo + fi * fo].view(fi, fo) + theta[bo:bo + fo]
        if l < net.n_layers - 1:
            a = torch.tanh(a)
    return torch.nn.functional.mse_loss(a, Y)


def _top(matvec, n: int, v0, record: list | None = None) -> tuple[float, int]:
    calls = [0]

    def mv(x):
        calls[0] += 1
        y = matvec(np.ascontiguousarray(x, dtype=np.float64).reshape(-1))
        if record is not None:
            record.append(np.array(y, dtype=np.float64))
        return y

    w = eigsh(LinearOperator((n, n), matvec=mv, dtype=np.float64), k=1, which="LA", tol=1e-6, ncv=NCV, v0=v0,
              return_eigenvectors=False)
    return float(w[0]), calls[0]


def _replayed(products: list, v0) -> Callable[[], tuple[float, int]]:
    """The same eigsh solve with its products replayed from a recording: eigsh's own time (ARPACK's
    reorthogonalization against every kept Lanczos vector, its Python loop, the LinearOperator), no HVP."""
    n = products[0].shape[0]

    def solve():
        it = iter(products)
        return _top(lambda x: next(it), n, v0)
    return solve


def _case(torch, name: str, dataset: str, batch: int, threads: int) -> dict:
    from engine.datasets import make_dataset
    from engine.hvp import mlp_hessian
    from engine.mlp import build_mlp, init_params, set_blas_threads
    from engine.spectrum import hessian_operator

    torch.set_num_threads(threads)
    set_blas_threads(threads)
    spec = {"n_train": batch, "seed": 0, **({"degree": 3, "noise": 0.0} if dataset == "polynomial" else {})}
    d = make_dataset(dataset, spec)
    net = build_mlp([d.n_inputs, WIDTH, WIDTH, 1], "tanh")
    params = init_params(net, None, 0)
    X, Y = d.X_train, d.Y_train
    v = np.random.default_rng(0).standard_normal(net.n_params)
    v0 = np.random.default_rng(1).standard_normal(net.n_params)

    h = mlp_hessian(net, params, X, Y)
    out = np.empty(net.n_params)
    Xt, Yt = torch.tensor(X), torch.tensor(Y)
    theta = torch.tensor(params, requires_grad=True)
    g = torch.autograd.grad(_torch_loss(torch, net, theta, Xt, Yt), theta, create_graph=True)[0]
    vt = torch.tensor(v)
    theirs = torch.autograd.grad(g, theta, grad_outputs=vt, retain_graph=True)[0].numpy()
    err = float(np.abs(h.hvp(v) - theirs).max() / np.abs(theirs).max())
    e_hvp, t_hvp = _interleaved(lambda: h.hvp(v, out),
                                lambda: torch.autograd.grad(g, theta, grad_outputs=vt, retain_graph=True), 20)

    def engine_top():
        return _lanczos(mlp_hessian(net, params, X, Y), v0)

    def torch_prep():
        th = torch.tensor(params, requires_grad=True)
        return th, torch.autograd.grad(_torch_loss(torch, net, th, Xt, Yt), th, create_graph=True)[0]

    def torch_top():
        th, gg = torch_prep()
        return _top(lambda x: torch.autograd.grad(gg, th, grad_outputs=torch.from_numpy(x), retain_graph=True)[0]
                    .numpy(), net.n_params, v0)

    def engine_eigsh_top():
        hh = mlp_hessian(net, params, X, Y)
        return _top(hh.hvp, net.n_params, v0)  # hvp allocates its result: nothing to copy

    def torch_lanczos_top():
        th, gg = torch_prep()

        def fn(x, out):
            out[:] = torch.autograd.grad(gg, th, grad_outputs=torch.from_numpy(x), retain_graph=True)[0].numpy()
        return _lanczos(hessian_operator(net.n_params, fn), v0)

    def torch_naive_top():  # grad(grad(L)·v): the gradient's graph rebuilt for every product
        def mv(x):
            th = torch.tensor(params, requires_grad=True)
            gg = torch.autograd.grad(_torch_loss(torch, net, th, Xt, Yt), th, create_graph=True)[0]
            return torch.autograd.grad(gg @ torch.from_numpy(x), th)[0].numpy()
        return _top(mv, net.n_params, v0)

    (lam_e, calls_e), (lam_t, calls_t) = engine_top(), torch_top()
    (lam_ee, calls_ee), (lam_tl, calls_tl) = engine_eigsh_top(), torch_lanczos_top()
    for lam in (lam_t, lam_ee, lam_tl):
        assert abs(lam - lam_e) <= 1e-6 * abs(lam_e), (lam_e, lam_t, lam_ee, lam_tl)
    assert (calls_ee, calls_tl) == (calls_t, calls_e), (calls_e, calls_t, calls_ee, calls_tl)
    e_top, t_top = _interleaved(engine_top, torch_top, 1, 7)
    ee_top, _ = _interleaved(engine_eigsh_top, lambda: None, 1, 7)
    _, tl_top = _interleaved(lambda: None, torch_lanczos_top, 1, 7)
    _, t_naive = _interleaved(engine_top, torch_naive_top, 1, 3)
    # where a solve's time goes: preparing the point, the HVPs, and eigsh's own work (its products replayed)
    products: list = []
    _top(mlp_hessian(net, params, X, Y).hvp, net.n_params, v0, products)
    e_prep, t_prep = _interleaved(lambda: mlp_hessian(net, params, X, Y), torch_prep, 5)
    e_own, _ = _interleaved(_replayed(products, v0), lambda: None, 1, 7)
    return {"name": name, "batch": batch, "threads": threads, "n_params": net.n_params, "hvp_rel_err": err,
            "top_naive_ms": t_naive * 1e3, "top_naive_ratio": t_naive / e_top,
            "hvp_engine_ms": e_hvp * 1e3, "hvp_torch_ms": t_hvp * 1e3, "hvp_ratio": t_hvp / e_hvp,
            "top_engine_ms": e_top * 1e3, "top_torch_ms": t_top * 1e3, "top_ratio": t_top / e_top,
            "eigsh_both_ratio": t_top / ee_top, "lanczos_both_ratio": tl_top / e_top, "top_engine_eigsh_ms": ee_top * 1e3,
            "top_torch_lanczos_ms": tl_top * 1e3,
            "prep_engine_ms": e_prep * 1e3, "prep_torch_ms": t_prep * 1e3, "eigsh_own_ms": e_own * 1e3,
            "lambda_engine": lam_e, "lambda_torch": lam_t, "matvecs": (calls_e, calls_t)}


def _lanczos(op, v0) -> tuple[float, int]:
    from engine.spectrum import eigenpairs

    e = eigenpairs(op, 1, "LA", tol=1e-6, ncv=NCV, v0=v0)
    assert e.converged == 1
    return float(e.values[0]), e.matvecs


def _eos() -> dict:
    from engine.edge_of_stability import PRESET
    from engine.training import train
    from service import create_app

    client = create_app().test_client()

    def streamed():
        r = client.post("/api/v1/training/stream", json=PRESET)
        assert r.status_code == 200 and r.data.count(b"event: epoch") == PRESET["epochs"]

    last = train(**PRESET)  # compile / load
    streamed()
    times, stream_times = [], []
    for _ in range(3):
        t0 = time.perf_counter()
        last = train(**PRESET)
        times.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        streamed()
        stream_times.append(time.perf_counter() - t0)
    h = last.history
    lr = PRESET["optimizer"]["lr"]
    return {"seconds": statistics.median(times), "stream_seconds": statistics.median(stream_times),
            "hvps": int(h.sharpness_matvecs.sum()), "records": len(h.sharpness),
            "final_over_threshold": float(h.sharpness[-1] * lr / 2.0)}


def main() -> None:
    try:
        import torch
    except ImportError:
        print("torch is not installed: pip install torch==2.13.0 (CPU) to compare")
        return
    torch.set_default_dtype(torch.float64)
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    import numba

    print(f"tanh MLP, {WIDTH} x {WIDTH} hidden, MSE; load average {os.getloadavg()[0]:.1f} on {cores} cores; "
          "torch = retained gradient graph (PyHessian), naive = grad(grad(L)·v) rebuilt per product")
    print(f"threads (thr): torch.set_num_threads(thr) (interop {torch.get_num_interop_threads()}, unused by one "
          "autograd call) and scipy's OpenBLAS at thr (numba's np.dot in the engine's HVP, and ARPACK inside eigsh, "
          f"for both sides); the engine's HVP kernel is serial (numba's {numba.get_num_threads()} threads unused)")
    print("top λ: engine = mlp_hessian + engine.eigenpairs (Lanczos, tested after every product); torch = its "
          "graph + scipy eigsh (ncv 20); 'same solver' ratios: eigsh on both sides, engine's Lanczos on both sides")
    print(f"{'batch':>11} {'P':>6} {'thr':>3} | {'HVP engine':>10} {'torch':>8} {'ratio':>6} | {'top λ engine':>12} "
          f"{'torch':>8} {'ratio':>6} | {'same: eigsh':>11} {'Lanczos':>7} | {'naive':>8} {'ratio':>6} | "
          f"{'λ_max':>10} {'HVPs':>7} {'rel err':>8}")
    quick = os.environ.get("BENCH_QUICK") == "1"  # the headline batch only, no edge-of-stability run
    rows = []
    for threads in sorted({1, cores}):
        for name, dataset, batch in (CASES if threads == 1 and not quick else CASES[:1]):
            r = _case(torch, name, dataset, batch, threads)
            rows.append(r)
            print(f"{name:>11} {r['n_params']:>6} {threads:>3} | {r['hvp_engine_ms']:>8.3f}ms {r['hvp_torch_ms']:>6.3f}ms "
                  f"{r['hvp_ratio']:>5.1f}x | {r['top_engine_ms']:>10.2f}ms {r['top_torch_ms']:>6.1f}ms "
                  f"{r['top_ratio']:>5.1f}x | {r['eigsh_both_ratio']:>10.1f}x {r['lanczos_both_ratio']:>6.1f}x | "
                  f"{r['top_naive_ms']:>6.1f}ms {r['top_naive_ratio']:>5.1f}x | "
                  f"{r['lambda_engine']:>10.6f} {r['matvecs'][0]:>3}/{r['matvecs'][1]:<3} {r['hvp_rel_err']:>8.1e}")
            assert abs(r["lambda_engine"] - r["lambda_torch"]) <= 1e-6 * abs(r["lambda_torch"]), r
    print("where an eigsh solve's time goes (ms; eigsh on both sides): prepare the point + HVPs x their time + "
          "eigsh's own work (its products replayed from a recording: ARPACK reorthogonalizes against every kept "
          "Lanczos vector)")
    print(f"{'batch':>11} {'thr':>3} | {'engine: prep':>12} {'HVPs':>7} {'eigsh':>6} {'= sum':>6} {'top':>6} | "
          f"{'torch: prep':>11} {'HVPs':>7} {'eigsh':>6} {'= sum':>6} {'top':>6} | "
          f"{'ratio if engine HVPs were free':>30}")
    for r in rows:
        n = r["matvecs"][1]
        eh, th = n * r["hvp_engine_ms"], n * r["hvp_torch_ms"]
        es, ts = r["prep_engine_ms"] + eh + r["eigsh_own_ms"], r["prep_torch_ms"] + th + r["eigsh_own_ms"]
        bound = r["top_torch_ms"] / (r["prep_engine_ms"] + r["eigsh_own_ms"])
        print(f"{r['name']:>11} {r['threads']:>3} | {r['prep_engine_ms']:>12.2f} {eh:>7.2f} {r['eigsh_own_ms']:>6.2f} "
              f"{es:>6.2f} {r['top_engine_eigsh_ms']:>6.2f} | {r['prep_torch_ms']:>11.2f} {th:>7.2f} "
              f"{r['eigsh_own_ms']:>6.2f} "
              f"{ts:>6.2f} {r['top_torch_ms']:>6.2f} | {bound:>29.1f}x")
    head = rows[0]
    print(f"targets ({head['name']}, 1 thread): one HVP {head['hvp_ratio']:.1f}x torch (target "
          f"{TARGETS['hvp']:.0f}x), top eigenvalue {head['top_ratio']:.1f}x torch + eigsh (target "
          f"{TARGETS['top']:.0f}x; the same solver on both sides: {head['eigsh_both_ratio']:.1f}x with eigsh, "
          f"{head['lanczos_both_ratio']:.1f}x with the engine's Lanczos; {head['top_naive_ratio']:.1f}x the per-product "
          "double backward)")
    if quick:
        return
    e = _eos()
    print(f"edge-of-stability preset: engine.train {e['seconds']:.2f} s, training/stream {e['stream_seconds']:.2f} s, "
          f"medians of 3 ({e['records']} sharpness records, {e['hvps']} HVPs; final λ_max = "
          f"{e['final_over_threshold']:.3f} x 2/lr; target < {TARGETS['eos_s']:.0f} s)")


if __name__ == "__main__":
    main()
