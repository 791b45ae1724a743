"""The two claims issue 18 asks the sweeps to support, as numbers (README "Sweeps"):

1. the regularization comparison on the sine task (20 points, noise 0.3, 1-64-64-1 tanh, Adam 0.01,
   300 epochs) with 8 seeds: each variant's final validation loss and generalization gap with its
   95% Student-t interval over the seeds;
2. data scaling: the same network on 10..320 training points, 4 seeds each: validation loss and
   generalization gap against n_train, and the gap's power law ``gap = B · n^-β`` fitted to every run
   (bootstrap interval over seeds).

The explorer's section 12 runs the same sweeps. ``python -m bench.sweep_claims`` (a LocalCluster with one
worker per core, started for the call).
"""

from __future__ import annotations

import time

import engine

NET = {"model": {"layers": [1, 64, 64, 1], "activation": "tanh"}, "optimizer": {"name": "adam", "lr": 0.01}}
VARIANTS = [{"name": "none"}, {"name": "l2", "regularization": {"l2": 0.001}},
            {"name": "dropout", "regularization": {"dropout": 0.2}}]


def main() -> None:
    t0 = time.perf_counter()
    reg = engine.sweep("training/compare", {"dataset": {"name": "sine", "n_train": 20, "noise": 0.3}, **NET,
                                            "epochs": 300, "batch_size": 20, "variants": VARIANTS},
                       seeds=range(8), metrics=["final_val_loss", "generalization_gap"])
    print(f"regularization on sine (20 points), 8 seeds ({time.perf_counter() - t0:.1f} s):")
    for v in VARIANTS:
        val = reg.aggregate("final_val_loss", variant=v["name"])
        gap = reg.aggregate("generalization_gap", variant=v["name"])
        print(f"  {v['name']:8s} final val loss {val.mean:.4f} [{val.ci95[0]:.4f}, {val.ci95[1]:.4f}]   "
              f"gap {gap.mean:.4f} [{gap.ci95[0]:.4f}, {gap.ci95[1]:.4f}]   (n = {val.n})")
    t0 = time.perf_counter()
    ns = [10, 20, 40, 80, 160, 320]
    data = engine.sweep("training/run", {"dataset": {"name": "sine", "noise": 0.3}, **NET, "epochs": 200,
                                         "batch_size": 16},
                        {"dataset.n_train": ns}, seeds=range(4),
                        metrics=["final_val_loss", "final_train_loss", "generalization_gap"])
    print(f"data scaling, 4 seeds per size ({time.perf_counter() - t0:.1f} s):")
    for n in ns:
        val = data.aggregate("final_val_loss", **{"dataset.n_train": n})
        gap = data.aggregate("generalization_gap", **{"dataset.n_train": n})
        print(f"  n_train {n:4d}: val loss {val.mean:.4f} [{val.ci95[0]:.4f}, {val.ci95[1]:.4f}]   "
              f"gap {gap.mean:.4f} [{gap.ci95[0]:.4f}, {gap.ci95[1]:.4f}]")
    (curve,) = engine.scaling_curves(data, "generalization_gap", "dataset.n_train", offset=False, bootstrap=500)
    f = curve["fit"]
    lo, hi = f["intervals"]["beta"]
    print(f"  gap = {f['B']:.3f} · n^-β, β = {f['beta']:.3f} [{lo:.3f}, {hi:.3f}] (95% bootstrap over seeds, "
          f"{f['n']} runs)")


if __name__ == "__main__":
    main()
