"""Training speed: a 2-64-64-1 tanh MLP, 20 epochs of SGD on 2048 samples in batches of 32.

The same work three ways, float64, one thread each (torch.set_num_threads(1); OpenBLAS, which
numba's ``np.dot`` calls, capped at 1 thread through scipy's OpenBLAS):

* engine: ``engine.training.train(...)``, the public call (dataset generation, validation,
  allocation, every epoch's shuffled mini-batches, per-epoch train/validation losses on the full
  splits, the prediction grid);
* torch: ``nn.Sequential(Linear, Tanh, Linear, Tanh, Linear)``, ``BCEWithLogitsLoss``,
  ``optim.SGD(lr=0.1)``, the same batches, and the same per-epoch evaluation under ``no_grad``;
* numpy: the same network written out (forward, backward, SGD) as a plain numpy loop.

Target (README): engine >= 5x faster than torch. Run: ``python -m bench`` or
``python -m bench.bench_training``.
"""

from __future__ import annotations

import ctypes
import glob
import os
import statistics
import time

import numpy as np

N_TRAIN, N_VAL, EPOCHS, BATCH, LR = 2048, 256, 20, 32, 0.1
REQUEST = dict(
    dataset={"name": "moons", "n_train": N_TRAIN, "n_val": N_VAL, "noise": 0.1, "seed": 0},
    model={"layers": [2, 64, 64, 1], "activation": "tanh"},
    optimizer={"name": "sgd", "lr": LR},
    epochs=EPOCHS,
    batch_size=BATCH,
    seed=0,
    prediction={"grid": 2},
)


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def set_blas_threads(n: int) -> int | None:
    """Cap the OpenBLAS that scipy (and so numba's np.dot) uses; returns the previous count (None: not found)."""
    import scipy

    libs = glob.glob(os.path.join(os.path.dirname(scipy.__file__), "..", "scipy.libs", "libscipy_openblas*.so"))
    for path in libs:
        lib = ctypes.CDLL(path)
        set_fn = getattr(lib, "scipy_openblas_set_num_threads", None)
        get_fn = getattr(lib, "scipy_openblas_get_num_threads", None)
        if set_fn is not None and get_fn is not None:
            before = int(get_fn())
            set_fn(int(n))
            return before
    return None


def engine_run():
    from engine.training import train

    return train(**REQUEST)


def _setup():
    from engine.training import prepare

    return prepare(**REQUEST)


def torch_run(s, dtype_name: str = "float64"):
    import torch

    dtype = getattr(torch, dtype_name)
    from engine import mlp
    from engine.training import epoch_order

    mods = []
    for l, lp in enumerate(mlp.unpack(s.net, s.params0)):
        lin = torch.nn.Linear(*lp.W.shape, dtype=dtype)
        with torch.no_grad():
            lin.weight.copy_(torch.from_numpy(lp.W.T.copy()))
            lin.bias.copy_(torch.from_numpy(lp.b.copy()))
        mods.append(lin)
        if l < s.net.n_layers - 1:
            mods.append(torch.nn.Tanh())
    model = torch.nn.Sequential(*mods)
    opt = torch.optim.SGD(model.parameters(), lr=LR)
    crit = torch.nn.BCEWithLogitsLoss()
    X = torch.from_numpy(s.data.X_train).to(dtype)
    Y = torch.from_numpy(s.Y).to(dtype)
    Xv = torch.from_numpy(s.data.X_val).to(dtype)
    Yv = torch.from_numpy(s.Yv).to(dtype)
    orders = [torch.from_numpy(epoch_order(s.seed, e, N_TRAIN)) for e in range(EPOCHS)]
    hist = []
    for e in range(EPOCHS):
        model.train()
        order = orders[e]
        for b in range(0, N_TRAIN, BATCH):
            idx = order[b:b + BATCH]
            loss = crit(model(X[idx]), Y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            hist.append((crit(model(X), Y).item(), crit(model(Xv), Yv).item()))
    return np.array(hist)


def numpy_run(s):
    """The same training as a numpy loop: forward, backward (BCE with logits, tanh), SGD."""
    from engine import mlp
    from engine.training import epoch_order

    layers = [(lp.W.copy(), lp.b.copy()) for lp in mlp.unpack(s.net, s.params0)]
    X, Y, Xv, Yv = s.data.X_train, s.Y, s.data.X_val, s.Yv

    def forward(x):
        acts = [x]
        for k, (W, b) in enumerate(layers):
            z = acts[-1] @ W + b
            acts.append(np.tanh(z) if k < len(layers) - 1 else z)
        return acts

    def bce(z, y):
        return float(np.mean(np.maximum(z, 0) - z * y + np.log1p(np.exp(-np.abs(z)))))

    hist = []
    for e in range(EPOCHS):
        order = epoch_order(s.seed, e, N_TRAIN)
        for b in range(0, N_TRAIN, BATCH):
            idx = order[b:b + BATCH]
            acts = forward(X[idx])
            z = acts[-1]
            g = (0.5 * (1 + np.tanh(0.5 * z)) - Y[idx]) / z.size  # d mean BCE / dz
            for k in range(len(layers) - 1, -1, -1):
                W, bias = layers[k]
                gW = acts[k].T @ g
                gb = g.sum(axis=0)
                if k > 0:
                    g = (g @ W.T) * (1 - acts[k] ** 2)
                W -= LR * gW
                bias -= LR * gb
        hist.append((bce(forward(X)[-1], Y), bce(forward(Xv)[-1], Yv)))
    return np.array(hist)


def main() -> None:
    print(f"== training: 2-64-64-1 tanh, {EPOCHS} epochs x {N_TRAIN} samples, batch {BATCH}, SGD "
          f"(float64, 1 thread; per-epoch train/val losses included) ==")
    before = set_blas_threads(1)
    print(f"OpenBLAS capped at 1 thread (was {before})")
    try:
        _compare()
    finally:
        if before is not None:
            set_blas_threads(before)


def _compare() -> None:
    res = engine_run()  # compile / load from cache
    s = _setup()
    t_engine = _median_time(engine_run, 7)
    print(f"engine  train(...)            median {t_engine * 1e3:8.1f} ms")
    ref = numpy_run(s)
    ok = np.allclose(np.c_[res.history.train_loss, res.history.val_loss], ref, rtol=1e-9)
    t_numpy = _median_time(lambda: numpy_run(s), 3)
    print(f"numpy   loop                  median {t_numpy * 1e3:8.1f} ms   engine is {t_numpy / t_engine:6.1f}x faster"
          f"   (same losses: {ok})")
    try:
        import torch
    except ImportError:
        print("torch not installed: pip install torch==2.13.0 to compare")
        return
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        _against_torch(s, res, t_engine)
    finally:
        torch.set_num_threads(threads)


def _against_torch(s, res, t_engine: float) -> None:
    ref = torch_run(s)
    ok = np.allclose(np.c_[res.history.train_loss, res.history.val_loss], ref, rtol=1e-9)
    t_torch = _median_time(lambda: torch_run(s), 5)
    ratio = t_torch / t_engine
    print(f"torch   float64 loop          median {t_torch * 1e3:8.1f} ms   engine is {ratio:6.1f}x faster"
          f"   (same losses: {ok})  target >= 5x: {'OK' if ratio >= 5 else 'MISSED'}")
    t_torch32 = _median_time(lambda: torch_run(s, "float32"), 5)
    print(f"torch   float32 loop          median {t_torch32 * 1e3:8.1f} ms   engine is {t_torch32 / t_engine:6.1f}x faster")


if __name__ == "__main__":
    main()
