"""The deadline: the largest request each limit allows, timed against ``DEADLINE_S``.

    python -m bench.bench_deadline

For every row of ``tests/limit_cases.py`` whose endpoint exists, the request exactly at the
limit (the real ``LIMITS`` value, not the tests' scaled one) is sent to the in-process app
(TestConfig: no HTTP, one thread) after one untimed call (compilation), and timed end to end:
validation, engine, serialization. Each must finish within ``DEADLINE_S`` (gunicorn_conf.py),
the promise the work limits make; gunicorn's ``timeout`` is only the backstop. Rows over the
deadline are printed as such (their limit should come down).
"""

from __future__ import annotations

import re
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def main() -> list[dict]:
    sys.path.insert(0, str(ROOT / "tests"))
    from limit_cases import CASES

    from engine.limits import LIMITS
    from service import create_app
    from service.config import TestConfig

    # read, not executed: executing the config would set NUMBA_* variables in this process
    conf = (ROOT / "service" / "gunicorn_conf.py").read_text()
    deadline = int(re.search(r"^DEADLINE_S = (\d+)", conf, re.M).group(1))
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
        print(f"  {case.id:48s} {case.limit}={LIMITS[case.limit]:<12,} {med * 1e3:9.1f} ms  "
              f"{len(r.data) / 1e6:7.2f} MB  {'OK' if ok else 'OVER DEADLINE' if r.status_code == 200 else r.status_code}")
    return rows


if __name__ == "__main__":
    main()
