"""The deadline: the largest request each limit allows, timed against ``DEADLINE_S``.

    python -m bench.bench_deadline

For every row of ``tests/limit_cases.py`` whose endpoint exists, the request exactly at the
limit (the real ``LIMITS`` value, not the tests' scaled one) is sent to the in-process app
(TestConfig: no HTTP, one thread) after one untimed call (compilation), and timed end to end:
validation, engine, serialization. Each must finish within ``DEADLINE_S`` (service.config), the
promise the work limits make on a quiet machine; under load the engine deadline stops a request
there (``bench_fairness`` measures that). Rows over the deadline are printed as such (their limit
should come down).
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The heaviest request of each endpoint: every knob at its limit at once (within the work
# budgets), on its most expensive variant. The rows above vary one limit at a time.
WORST: list[tuple[str, str, dict]] = [
    ("grid 1000x1000 + gradient, ackley", "/api/v1/landscapes/grid",
     {"surface": "ackley", "resolution": [1000, 1000], "gradient": True}),
    ("critical points 100x100 seeds, rastrigin", "/api/v1/landscapes/critical-points",
     {"surface": "rastrigin", "seeds": 100}),
    ("slice 10001 points, goldstein_price", "/api/v1/landscapes/slice",
     {"surface": "goldstein_price", "point": [0, 0], "direction": [1, 1], "points": 10001}),
    ("loss 100k logits (1000x100), cross_entropy", "/api/v1/losses/evaluate",
     {"loss": "cross_entropy_with_logits", "predictions": [[0.1] * 100] * 1000,
      "targets": [[0.01] * 100] * 1000}),
    ("curves 16 losses x 10001 points", "/api/v1/losses/curves",
     {"losses": ["mse", "mae", "huber", "smooth_l1", "log_cosh", "bce", "hinge", "kl_div"] * 2, "points": 10001}),
    ("trajectory 100k steps, adam, rastrigin", "/api/v1/descent/trajectory",
     {"surface": "rastrigin", "start": [2.5, 2.5], "steps": 100000, "tolerance": 0.0,
      "optimizer": {"name": "adam", "lr": 0.001}}),
    ("race 16 optimizers x 6250 steps", "/api/v1/descent/race",
     {"surface": "ackley", "steps": 6250, "tolerance": 0.0, "optimizers": [{"name": "adam", "lr": 0.01}] * 16}),
    ("lr-sweep 64 lrs x 7812 steps", "/api/v1/descent/lr-sweep",
     {"surface": "rastrigin", "steps": 7812, "tolerance": 0.0, "lrs": [1e-4 * 1.1 ** i for i in range(64)]}),
    ("basins 500x500 x 200 steps, adam, rastrigin", "/api/v1/descent/basins",
     {"surface": "rastrigin", "resolution": [500, 500], "steps": 200, "tolerance": 0.0,
      "optimizer": {"name": "adam", "lr": 0.01}}),
    # 272 epochs: the most max_training_work (5e9, engine.training_setup.work) allows for this model and data
    ("training run 10k+10k samples, 2-16-16-1, 272 epochs", "/api/v1/training/run",
     {"dataset": {"name": "moons", "n_train": 10000, "n_val": 10000}, "model": {"layers": [2, 16, 16, 1]},
      "optimizer": {"name": "adam", "lr": 0.01}, "batch_size": 32, "epochs": 272, "prediction": {"grid": 256}}),
    # (201^2 points) x 1900 samples x 13 parameters = 1.0e9 of max_landscape_work
    ("network landscape 201x201, 1900 samples", "/api/v1/networks/landscape",
     {"layers": [2, 3, 1], "dims": 2, "resolution": 201, "dataset": {"n": 1900}, "train_steps": 0}),
    # 64 x 32 wide: 67,584 parameters; batch 739: 49.9M of max_network_work (50M);
    # (3 + 1) steps x 739 x 67,584 = 199.8M of max_profile_work (200M)
    ("gradient profile depth 64 x 32, batch 739, 3 steps", "/api/v1/networks/gradient-profile",
     {"depth": 64, "width": 32, "batch": 739, "training": {"steps": 3}}),
]


def main() -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    from limit_cases import CASES

    from engine.limits import LIMITS
    from service import create_app
    from service.config import TestConfig

    from service.config import Config

    deadline = Config.DEADLINE_S
    app = create_app(TestConfig)
    client = app.test_client()
    ops = {(m.upper(), p) for p, o in client.get("/openapi.json").get_json()["paths"].items() for m in o}
    print(f"deadline: largest allowed request per limit vs DEADLINE_S={deadline} s (in-process, median of 3)")
    rows = []
    for case in CASES:
        if (case.method, case.path) not in ops:
            print(f"  {case.id:48s} pending (endpoint not there yet)")
            continue
        body = case.body(LIMITS[case.limit])
        r = client.open(case.path, method=case.method, json=body)  # compile / first touch
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = client.open(case.path, method=case.method, json=body)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        ok = r.status_code == 200 and med <= deadline
        rows.append({"case": case.id, "seconds": med, "status": r.status_code, "bytes": len(r.data)})
        verdict = ("OK" if ok else "OVER DEADLINE" if r.status_code == 200
                   else f"{r.status_code}: this row's shape only reaches the limit at its test scale"
                   if case.scale else r.status_code)
        print(f"  {case.id:48s} {case.limit}={LIMITS[case.limit]:<14,} {med * 1e3:9.1f} ms  "
              f"{len(r.data) / 1e6:7.2f} MB  {verdict}")
    print("deadline: the heaviest request of each endpoint (every knob at its limit at once)")
    for label, path, body in WORST:
        if ("POST", path) not in ops:
            print(f"  {label:48s} pending (endpoint not there yet)")
            continue
        r = client.post(path, json=body)
        times = []
        for _ in range(3):
            t0 = time.perf_counter()
            r = client.post(path, json=body)
            times.append(time.perf_counter() - t0)
        med = statistics.median(times)
        ok = r.status_code == 200 and med <= deadline
        rows.append({"case": label, "seconds": med, "status": r.status_code, "bytes": len(r.data)})
        verdict = "OK" if ok else "OVER DEADLINE" if r.status_code == 200 else f"{r.status_code} {r.get_data(as_text=True)[:120]}"
        print(f"  {label:48s} {med * 1e3:9.1f} ms  {len(r.data) / 1e6:7.2f} MB  {verdict}")
    return rows


if __name__ == "__main__":
    main()
