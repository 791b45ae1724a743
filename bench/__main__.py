"""Run every ``bench/bench_*.py`` module's ``main()`` in name order.

    python -m bench              # all of them (make bench)
    python -m bench landscape    # only modules whose name contains "landscape"

A module that raises is reported and the others still run; the exit status is 1 if any failed.
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback
from pathlib import Path


def main(argv: list[str]) -> int:
    here = Path(__file__).resolve().parent
    root = str(here.parent)
    if root not in sys.path:
        sys.path.insert(0, root)
    wanted = argv[0] if argv else ""
    names = sorted(p.stem for p in here.glob("bench_*.py") if wanted in p.stem)
    if not names:
        print(f"no bench module matches {wanted!r}")
        return 1
    failed = []
    for name in names:
        print(f"=== bench.{name}", flush=True)
        t0 = time.perf_counter()
        try:
            importlib.import_module(f"bench.{name}").main()
        except Exception:  # report and go on: one broken bench must not hide the others
            traceback.print_exc()
            failed.append(name)
        print(f"--- bench.{name}: {time.perf_counter() - t0:.1f} s", flush=True)
    if failed:
        print("FAILED: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
