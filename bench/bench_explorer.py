"""The explorer page's first and second load in Chromium, with and without the response cache.

    python -m bench.bench_explorer        # needs playwright and Debian's /usr/bin/chromium; skips without them

For each server (``make serve``'s, response cache off, then on): a fresh browser opens the page,
starts all ten sections at once (as scrolling through would) and waits until every one has drawn
(``data-state="ready"``): the first load. Then the page is reloaded in the same browser and the same
is timed: the second load (static files from the browser's cache; with the cache on, the page sends the
ETags it kept and gets 304s, or answers from the server's LRU). Printed: seconds to all-drawn, API
requests sent, 304s, answers from the server's cache (``X-Cache: HIT``), bytes received. The load
average is printed with each run.

Then the explorer's default sharpness-tracked run (section 5's edge-of-stability panel replaying the
catalog's ``presets.edge_of_stability``: 10,000 epochs streamed from ``/training/stream``, λ_max every
100) is restarted ``EOS_REPEATS`` times through its learning-rate slider (at the preset's rate) and timed
from the panel's ``data-stream="running"`` to ``"done"`` (its last redraw): the request, the training,
the stream and the drawing, end to end. Target: < 5 s (issue 17).
"""

from __future__ import annotations

import math
import os
import statistics
import time

from bench.server import serving

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_S = 180
EOS_REPEATS = 5
EOS_TARGET_S = 5.0

_ALL_READY = """() => {
  const s = [...document.querySelectorAll('section.panel[data-module]')];
  const err = s.filter((x) => x.querySelector('.error:not([hidden])'));
  return {total: s.length, ready: s.filter((x) => x.dataset.state === 'ready').length, errors: err.map((x) => x.id)};
}"""
_START_ALL = """() => { for (const s of document.querySelectorAll('section.panel[data-module]'))
  window.descentlabExplorer.start(s.id); }"""


def _load(page, url: str, reload: bool) -> dict:
    api = {"n": 0, "hits": 0, "not_modified": 0, "bytes": 0}

    def on_response(r):
        if "/api/" in r.url:
            api["n"] += 1
            api["hits"] += r.headers.get("x-cache") == "HIT"
            api["not_modified"] += r.status == 304
            try:
                api["bytes"] += len(r.body())
            except Exception:  # streams and aborted requests have no body to count
                pass

    page.on("response", on_response)
    t0 = time.perf_counter()
    if reload:
        page.reload(wait_until="load")
    else:
        page.goto(url, wait_until="load")
    page.wait_for_function("() => window.descentlabExplorer !== undefined", timeout=TIMEOUT_S * 1000)
    page.evaluate(_START_ALL)
    while True:
        st = page.evaluate(_ALL_READY)
        if st["ready"] == st["total"] or st["errors"]:
            break
        if time.perf_counter() - t0 > TIMEOUT_S:
            raise RuntimeError(f"explorer: not ready after {TIMEOUT_S} s: {st}")
        page.wait_for_timeout(25)
    took = time.perf_counter() - t0
    page.remove_listener("response", on_response)
    return {"seconds": round(took, 2), "sections": st["ready"], "errors": st["errors"], "api_requests": api["n"],
            "api_cache_hits": api["hits"], "api_304": api["not_modified"], "api_mb": round(api["bytes"] / 1e6, 2)}


_EOS_WATCH = """() => { window.__eosTimes = []; const p = document.getElementById('edge-of-stability');
  new MutationObserver(() => window.__eosTimes.push([p.dataset.stream, performance.now()]))
    .observe(p, {attributes: true, attributeFilter: ['data-stream']}); }"""
_EOS_RESTART = """(v) => { window.__eosTimes = [];
  const i = document.querySelector("#edge-of-stability input[name='eos-lr']");
  i.value = v; i.dispatchEvent(new Event('input', {bubbles: true})); }"""


def _eos_runs(page) -> list[float]:
    """Seconds of the edge-of-stability panel's run, start to last redraw, restarted EOS_REPEATS times."""
    page.wait_for_function("() => document.getElementById('edge-of-stability')?.dataset.stream === 'done'",
                           timeout=TIMEOUT_S * 1000)
    page.evaluate(_EOS_WATCH)
    lr = page.evaluate("() => window.descentlabExplorer.catalog.presets.edge_of_stability.optimizer.lr")
    out = []
    for _ in range(EOS_REPEATS):
        page.evaluate(_EOS_RESTART, math.log10(lr))  # the slider at the preset's own rate: the same run again
        page.wait_for_function("() => window.__eosTimes.some(x => x[0] === 'done')", timeout=TIMEOUT_S * 1000)
        ev = page.evaluate("() => window.__eosTimes")
        start = next(t for s, t in ev if s == "running")
        out.append((max(t for s, t in ev if s == "done") - start) / 1000)
    return out


def main() -> list[dict]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("explorer: SKIPPED: playwright is not installed (pip install -e '.[dev]')")
        return []
    if not os.path.exists(CHROMIUM):
        print(f"explorer: SKIPPED: {CHROMIUM} is missing (apt-get install -y chromium)")
        return []
    rows = []
    for label, env in (("no cache", {"DESCENTLAB_CACHE": "0"}), ("cache", {})):
        with serving(**env) as base, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
            try:
                page = browser.new_context(viewport={"width": 1400, "height": 950}).new_page()
                for which, reload in (("first", False), ("second", True)):
                    load = os.getloadavg()[0]
                    r = {"server": label, "load": which, **_load(page, base + "/", reload), "load_avg_1m": load}
                    rows.append(r)
                    print(f"  {label:9s} {which:6s} load: {r['seconds']:6.2f} s to all {r['sections']} sections drawn, "
                          f"{r['api_requests']} API requests ({r['api_304']} answered 304, {r['api_cache_hits']} from "
                          "the server's cache), "
                          f"{r['api_mb']} MB  (load {load:.2f}){'  ERRORS ' + str(r['errors']) if r['errors'] else ''}",
                          flush=True)
                if label == "cache":
                    load = os.getloadavg()[0]
                    runs = _eos_runs(page)
                    med = statistics.median(runs)
                    rows.append({"server": label, "load": "edge of stability", "seconds": round(med, 2),
                                 "runs": runs, "load_avg_1m": load})
                    print(f"  default sharpness-tracked run (section 5, {EOS_REPEATS} restarts): median {med:.2f} s "
                          f"(runs {', '.join(f'{x:.2f}' for x in runs)}; target < {EOS_TARGET_S:.0f} s)  "
                          f"(load {load:.2f} -> {os.getloadavg()[0]:.2f})", flush=True)
            finally:
                browser.close()
    return rows


if __name__ == "__main__":
    main()
