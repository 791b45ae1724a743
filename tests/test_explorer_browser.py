"""The explorer page in a real browser: headless Debian Chromium driven by Playwright.

The real service runs in a thread (werkzeug, 127.0.0.1, a free port), its sweeps on a real Dask cluster
(tests/dask_cluster.py). One page is loaded for the
module; each section is scrolled into view, must draw a non-empty plot from the API responses its
requests returned, and is screenshotted to ``artifacts/screenshots/``. Control changes must send a
new request and redraw different data; the streamed training curve must grow and stop on Stop.

Skips (with the reason) when Playwright or ``/usr/bin/chromium`` is missing; ``.ci/run`` installs both.
"""

from __future__ import annotations

import json
import os
import threading
import time
from pathlib import Path
from urllib.parse import urlparse

import pytest

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SHOTS = Path(__file__).resolve().parent.parent / "artifacts" / "screenshots"
TIMEOUT_MS = 150_000  # first calls compile kernels: up to ~40 s each with an empty numba cache (CI)

# section id -> (screenshot name, the plot that must have data, endpoints its first draw calls)
SECTIONS = {
    "predictions": ("section-01-predictions", "plot-predictions", ["/api/v1/losses/evaluate"]),
    "loss-zoo": ("section-02-loss-zoo", "plot-losszoo-value-0", ["/api/v1/losses/curves"]),
    "landscape": ("section-03-landscape", "plot-landscape", ["/api/v1/landscapes/grid", "/api/v1/landscapes/critical-points"]),
    "descent": ("section-04-descent", "plot-descent", ["/api/v1/landscapes/grid", "/api/v1/descent/trajectory"]),
    "learning-rate": ("section-05-learning-rate", "plot-lr-sweep", ["/api/v1/descent/lr-sweep", "/api/v1/schedules"]),
    "optimizers": ("section-06-optimizers", "plot-race", ["/api/v1/descent/race"]),
    "backprop": ("section-07-backprop", "plot-backprop-cost", ["/api/v1/networks/backprop"]),
    "gradients": ("section-08-gradients", "plot-gradients", ["/api/v1/networks/gradient-profile"]),
    "regularization": ("section-09-regularization", "plot-regularization-0", ["/api/v1/training/compare", "/api/v1/training/dataset"]),
    "convergence": ("section-10-convergence", "plot-convergence", ["/api/v1/training/stream"]),
    "many-runs": ("section-12-many-runs", "plot-sweep-bands", ["/api/v1/sweeps"]),
}

# The arrays of every trace of a Plotly chart (x, y, z, and 3-D/heatmap z), as JSON.
PLOT_DATA_JS = """(id) => {
  const gd = document.getElementById(id);
  if (!gd || !Array.isArray(gd.data)) return null;
  return JSON.stringify(gd.data.map((t) => ({type: t.type || 'scatter', name: t.name || null, x: t.x || null, y: t.y || null,
                                            z: t.z || null})));
}"""

SECTION_STATE_JS = """(id) => {
  const s = document.getElementById(id);
  const err = s.querySelector('.error:not([hidden])');
  return {state: s.dataset.state, error: err ? err.innerText : null};
}"""


def _playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.skip("playwright is not installed (pip install -e '.[dev]')")
    if not os.path.exists(CHROMIUM):
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium; .ci/run does this)")
    return sync_playwright


@pytest.fixture(scope="module")
def server(dask_cluster):
    from werkzeug.serving import make_server

    from service import create_app
    from service.config import TestConfig

    app = create_app(TestConfig)
    app.config["DASK_SCHEDULER"] = dask_cluster.address  # section 12's sweeps run on a real Dask cluster
    srv = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=srv.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{srv.server_port}"
    finally:
        srv.shutdown()
        thread.join(5)


class Session:
    """One browser page plus what it logged: console errors, the API requests it sent, failed responses."""

    def __init__(self, page, api_paths: set[str]):
        self.page = page
        self.api_paths = api_paths
        self.console_errors: list[str] = []
        self.requests: list[tuple[str, str, str | None]] = []
        self.failed: list[tuple[int, str]] = []
        page.on("console", lambda m: m.type == "error" and self.console_errors.append(m.text))
        page.on("pageerror", lambda e: self.console_errors.append(f"uncaught: {e}"))
        page.on("request", lambda r: self.requests.append((r.method, r.url, r.post_data)))
        page.on("response", lambda r: r.status >= 400 and self.failed.append((r.status, r.url)))

    def require(self, *paths: str):
        """Fail, naming them, when endpoints this test needs are not in the service's /openapi.json (a renamed
        route must not turn into a silent skip)."""
        missing = [p for p in paths if p not in self.api_paths]
        assert not missing, f"endpoints the page calls are not in /openapi.json: {', '.join(missing)}"

    def sent(self, path: str) -> list[dict | None]:
        """Bodies of the requests sent to ``path`` so far."""
        out = []
        for method, url, body in self.requests:
            if url.split("?")[0].endswith(path):
                out.append(json.loads(body) if body else None)
        return out

    def plot_data(self, plot_id: str):
        raw = self.page.evaluate(PLOT_DATA_JS, plot_id)
        return json.loads(raw) if raw else None

    def wait_ready(self, section_id: str, plot_id: str, timeout_ms: int = TIMEOUT_MS):
        """Scroll to the section; wait until its plot has data, failing early on an error shown in place."""
        self.page.locator(f"#{section_id}").scroll_into_view_if_needed()
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            st = self.page.evaluate(SECTION_STATE_JS, section_id)
            if st["error"]:
                pytest.fail(f"section {section_id} shows an error: {st['error']}")
            data = self.plot_data(plot_id)
            if st["state"] == "ready" and data and _nonempty(data):
                return data
            self.page.wait_for_timeout(100)
        pytest.fail(f"section {section_id}: no data in #{plot_id} after {timeout_ms} ms (state {st['state']})")

    def wait_changed(self, plot_id: str, before, timeout_ms: int = TIMEOUT_MS):
        deadline = time.monotonic() + timeout_ms / 1000
        while time.monotonic() < deadline:
            data = self.plot_data(plot_id)
            if data and data != before and _nonempty(data):
                return data
            self.page.wait_for_timeout(100)
        pytest.fail(f"#{plot_id} was not redrawn with different data")


def _arrays(trace):
    for key in ("x", "y", "z"):
        v = trace.get(key)
        if isinstance(v, list):
            yield v


def _nonempty(data) -> bool:
    """At least one trace has a non-empty array of finite numbers (or rows of them)."""
    for trace in data:
        for arr in _arrays(trace):
            flat = [x for row in arr for x in (row if isinstance(row, list) else [row])]
            if flat and any(isinstance(x, (int, float)) for x in flat):
                return True
    return False


@pytest.fixture(scope="module")
def session(server):
    sync_playwright = _playwright()
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        try:
            context = browser.new_context(viewport={"width": 1400, "height": 950}, device_scale_factor=1)
            page = context.new_page()
            page.set_default_timeout(TIMEOUT_MS)
            s = Session(page, _api_paths(server))
            page.goto(server + "/", wait_until="load")
            page.wait_for_function("() => window.descentlabExplorer !== undefined", timeout=TIMEOUT_MS)
            yield s
        finally:
            browser.close()


def _api_paths(server: str) -> set[str]:
    import urllib.request

    with urllib.request.urlopen(server + "/openapi.json") as r:
        return set(json.loads(r.read())["paths"])


def _shot(s: Session, section_id: str, name: str | None = None):
    """Screenshot one section whole, however tall (a clip of a full-page capture, in page coordinates)."""
    page = s.page
    page.wait_for_timeout(300)  # let the layout settle (tables and keys arrive with the plot)
    box = page.evaluate("""(id) => { const r = document.getElementById(id).getBoundingClientRect();
        return {x: r.left + window.scrollX, y: r.top + window.scrollY, width: r.width, height: r.height}; }""", section_id)
    page.screenshot(path=str(SHOTS / f"{name or SECTIONS[section_id][0]}.png"), full_page=True, clip=box)


# --- the page --------------------------------------------------------------------------------------


def test_page_serves_the_explorer_and_its_assets(server):
    import urllib.request

    with urllib.request.urlopen(server + "/") as r:
        html = r.read().decode()
        assert r.headers["Content-Type"].startswith("text/html")
    assert "How networks learn: loss and gradient descent" in html
    for asset in ("static/explorer/js/main.js", "static/explorer/explorer.css", "static/vendor/plotly/plotly.min.js"):
        assert asset in html
        with urllib.request.urlopen(f"{server}/{asset}") as r:
            assert r.status == 200 and len(r.read()) > 100
    with urllib.request.urlopen(server + "/openapi.json") as r:
        paths = json.loads(r.read())["paths"]
    assert "/" not in paths  # the page is not part of the API document


def test_page_loads_with_the_catalog(session):
    page = session.page
    assert page.title().startswith("How networks learn")
    assert session.sent("/api/v1/catalog") == [None]
    assert page.locator("section.panel").count() == len(SECTIONS) + 1  # + the language model's (test_explorer_lm_browser)
    status = page.locator("#boot-status").inner_text()
    assert status.startswith("Catalog loaded"), status
    # script errors only here; failed API calls belong to the section that made them (see the end)
    script_errors = [e for e in session.console_errors if not e.startswith("Failed to load resource")]
    assert not script_errors, script_errors


# --- each section draws from the API ---------------------------------------------------------------


@pytest.mark.parametrize("section_id", list(SECTIONS))
def test_section_draws_from_the_api(session, section_id):
    _, plot_id, endpoints = SECTIONS[section_id]
    session.require(*endpoints)
    data = session.wait_ready(section_id, plot_id)
    assert _nonempty(data)
    for path in endpoints:
        assert session.sent(path), f"{section_id} drew without calling {path}"
    if section_id == "convergence":  # the picture once the first run has ended and the doctor has spoken
        session.page.wait_for_function("() => document.getElementById('convergence').dataset.stream === 'stopped'")
        session.page.wait_for_selector("#doctor:not([hidden]) #diagnosis")
    _shot(session, section_id)


def test_predictions_follow_the_sliders(session):
    s = session
    s.require("/api/v1/losses/evaluate")
    s.wait_ready("predictions", "plot-predictions")
    before = s.plot_data("plot-predictions")
    n = len(s.sent("/api/v1/losses/evaluate"))
    s.page.locator("#predictions input[name='p-cat']").fill("0.3")
    after = s.wait_changed("plot-predictions", before)
    bodies = s.sent("/api/v1/losses/evaluate")[n:]
    assert {b["loss"] for b in bodies} == {"mse", "cross_entropy"}
    sent = bodies[-1]["predictions"]
    assert sent[0] == pytest.approx(0.3, abs=0.011)
    assert sum(sent) == pytest.approx(1.0, abs=0.02)  # renormalised by default
    assert after[0]["y"][0] == pytest.approx(sent[0])
    # the readout shows the API's cross-entropy for the sent probabilities: -ln p(true class)
    ce = s.page.locator("#predictions .metric").nth(1).locator(".v").inner_text()
    import math

    assert float(ce) == pytest.approx(-math.log(sent[0]), rel=1e-3)


def test_landscape_follows_the_surface(session):
    s = session
    s.require("/api/v1/landscapes/grid", "/api/v1/landscapes/critical-points")
    s.wait_ready("landscape", "plot-landscape")
    before = s.plot_data("plot-landscape")
    n = len(s.sent("/api/v1/landscapes/grid"))
    select = s.page.locator("#landscape select[name='surface']")
    choice = "rosenbrock" if select.input_value() != "rosenbrock" else "booth"
    select.select_option(choice)
    after = s.wait_changed("plot-landscape", before)
    assert s.sent("/api/v1/landscapes/grid")[n:][-1]["surface"] == choice
    assert s.sent("/api/v1/landscapes/critical-points")[-1]["surface"] == choice
    # the drawn grid spans the window that was asked for
    body = s.sent("/api/v1/landscapes/grid")[-1]
    assert after[0]["x"][0] == pytest.approx(body["x_range"][0]) and after[0]["x"][-1] == pytest.approx(body["x_range"][1])
    # Rosenbrock's one minimum at (1, 1) is marked
    if choice == "rosenbrock":
        marks = [t for t in after[1:] if t["x"]]
        assert any(x == pytest.approx(1.0, abs=1e-6) and y == pytest.approx(1.0, abs=1e-6)
                   for t in marks for x, y in zip(t["x"], t["y"]))


DESCENT_LOSS_JS = "() => document.getElementById('plot-descent-loss').data[0].y"


def _drawn_trajectory(s: Session, action) -> tuple[dict, dict]:
    """Do ``action``; return the trajectory request it caused and the response, once that is drawn."""
    page = s.page
    with page.expect_response(lambda r: r.url.endswith("/api/v1/descent/trajectory") and r.request.method == "POST") as info:
        action()
    resp = info.value
    data = resp.json()
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while page.evaluate(DESCENT_LOSS_JS) != data["loss"]:  # numbers compared as numbers (JSON spellings differ)
        if time.monotonic() > deadline:
            pytest.fail("the trajectory the API returned was not drawn")
        page.wait_for_timeout(50)
    return json.loads(resp.request.post_data), data


def test_descent_changes_with_optimizer_and_click(session):
    s = session
    s.require("/api/v1/landscapes/grid", "/api/v1/descent/trajectory")
    s.wait_ready("descent", "plot-descent")
    page = s.page
    old_loss = page.evaluate(DESCENT_LOSS_JS)
    select = page.locator("#descent select[name='descent-optimizer']")
    names = [o for o in select.locator("option").evaluate_all("os => os.map(o => o.value)") if o != select.input_value()]
    choice = "adam" if "adam" in names else names[0]
    body, data = _drawn_trajectory(s, lambda: select.select_option(choice))
    assert body["optimizer"]["name"] == choice
    assert data["loss"] != old_loss
    # a click on the map starts the descent there: the point clicked, in data coordinates
    gd = page.evaluate("""() => { const fl = document.getElementById('plot-descent')._fullLayout;
        return {x0: fl.xaxis.range[0], x1: fl.xaxis.range[1], y0: fl.yaxis.range[0], y1: fl.yaxis.range[1],
                xo: fl.xaxis._offset, xl: fl.xaxis._length, yo: fl.yaxis._offset, yl: fl.yaxis._length}; }""")
    box = page.locator("#plot-descent").bounding_box()
    fx, fy = 0.7, 0.3  # fractions of the axes from the left and from the top
    body, data = _drawn_trajectory(s, lambda: page.mouse.click(box["x"] + gd["xo"] + fx * gd["xl"], box["y"] + gd["yo"] + fy * gd["yl"]))
    want = (gd["x0"] + fx * (gd["x1"] - gd["x0"]), gd["y1"] - fy * (gd["y1"] - gd["y0"]))
    span = gd["x1"] - gd["x0"]
    assert body["start"][0] == pytest.approx(want[0], abs=0.02 * span) and body["start"][1] == pytest.approx(want[1], abs=0.02 * span)
    assert data["path"][0] == pytest.approx(body["start"])
    # Step moves the marker one step along the path
    page.locator("#descent button[data-action='end']").click()
    page.locator("#descent button[data-action='restart']").click()
    page.locator("#descent button[data-action='step']").click()
    path = s.plot_data("plot-descent")[1]
    assert len(path["x"]) == 2 and [path["x"][1], path["y"][1]] == pytest.approx(data["path"][1])


def test_learning_rate_sweep_follows_the_rates(session):
    s = session
    s.require("/api/v1/descent/lr-sweep", "/api/v1/schedules")
    s.wait_ready("learning-rate", "plot-lr-sweep")
    before = s.plot_data("plot-lr-sweep")
    n = len(s.sent("/api/v1/descent/lr-sweep"))
    s.page.locator("#learning-rate input[name='lrs']").fill("0.002, 0.02")
    after = s.wait_changed("plot-lr-sweep", before)
    assert s.sent("/api/v1/descent/lr-sweep")[n:][-1]["lrs"] == [0.002, 0.02]
    assert len(after) == 2


def test_gradient_profile_follows_the_activation(session):
    s = session
    s.require("/api/v1/networks/gradient-profile")
    s.wait_ready("gradients", "plot-gradients")
    before = s.plot_data("plot-gradients")
    n = len(s.sent("/api/v1/networks/gradient-profile"))
    select = s.page.locator("#gradients select[name='activation']")
    other = [o for o in select.locator("option").evaluate_all("os => os.map(o => o.value)") if o != select.input_value()]
    choice = "relu" if "relu" in other else other[0]
    select.select_option(choice)
    s.wait_changed("plot-gradients", before)
    assert s.sent("/api/v1/networks/gradient-profile")[n:][-1]["activation"] == choice


def test_backprop_follows_the_activation(session):
    s = session
    s.require("/api/v1/networks/backprop")
    s.wait_ready("backprop", "plot-backprop-norms")
    before = s.plot_data("plot-backprop-norms")
    n = len(s.sent("/api/v1/networks/backprop"))
    select = s.page.locator("#backprop select[name='bp-activation']")
    other = [o for o in select.locator("option").evaluate_all("os => os.map(o => o.value)") if o != select.input_value()]
    choice = "relu" if "relu" in other else other[0]
    select.select_option(choice)
    s.wait_changed("plot-backprop-norms", before)
    assert s.sent("/api/v1/networks/backprop")[n:][-1]["activation"] == choice
    # the diagram has one circle per unit of 2, 4, 4, 1 and the chain rule agrees with backprop
    assert s.page.locator("#backprop-net svg circle").count() == 11
    assert "✓ equal" in s.page.locator("#backprop-chain").inner_text()


def test_regularization_follows_the_strength(session):
    s = session
    s.require("/api/v1/training/compare")
    s.wait_ready("regularization", "plot-regularization-fit")
    before = s.plot_data("plot-regularization-fit")
    n = len(s.sent("/api/v1/training/compare"))
    s.page.locator("#regularization input[name='l2']").fill("-1")  # log10 position: l2 = 0.1
    s.wait_changed("plot-regularization-fit", before)
    variants = s.sent("/api/v1/training/compare")[n:][-1]["variants"]
    assert {"l2": 0.1} in [v["regularization"] for v in variants]
    assert s.page.locator("#regularization [id^='plot-regularization-']").count() == len(variants) + 1


def test_race_and_basin_map(session):
    s = session
    s.require("/api/v1/descent/race", "/api/v1/descent/basins", "/api/v1/landscapes/grid")
    s.wait_ready("optimizers", "plot-race")
    before = s.plot_data("plot-race")
    n = len(s.sent("/api/v1/descent/basins"))
    s.page.locator("#optimizers select[name='race-view']").select_option("basins")
    after = s.wait_changed("plot-race", before)
    assert len(s.sent("/api/v1/descent/basins")) > n
    assert after[0]["type"] == "heatmap" and after[0]["z"]
    _shot(s, "optimizers", "section-06-optimizers-basins")
    s.page.locator("#optimizers select[name='race-view']").select_option("race")


def test_convergence_stream_grows_and_stops(session):
    s = session
    s.require("/api/v1/training/stream", "/api/v1/training/diagnose")
    s.wait_ready("convergence", "plot-convergence")
    page = s.page
    epochs = "() => document.getElementById('plot-convergence').data[0].x.length"
    # a control change restarts the run: a longer one without early stopping, still running while we watch
    def long_run(r):
        return r.url.endswith("/api/v1/training/stream") and json.loads(r.post_data or "{}").get("epochs") == 2000

    with page.expect_request(long_run):
        page.locator("#convergence input[name='early-stopping']").uncheck()
        page.locator("#convergence input[name='conv-epochs']").fill("2000")
    assert "early_stopping" not in s.sent("/api/v1/training/stream")[-1]
    page.wait_for_function("() => document.getElementById('convergence').dataset.stream === 'running'")
    page.wait_for_function(f"() => ({epochs})() >= 5")
    first = page.evaluate(epochs)
    page.wait_for_function(f"() => ({epochs})() > {first}")
    page.locator("#convergence button[data-action='stop']").click()
    page.wait_for_function("() => document.getElementById('convergence').dataset.stream === 'stopped'")
    stopped_at = page.evaluate(epochs)
    page.wait_for_timeout(600)
    assert page.evaluate(epochs) == stopped_at
    # the doctor reads the curves that arrived
    page.wait_for_selector("#doctor:not([hidden]) #diagnosis")
    assert len(s.sent("/api/v1/training/diagnose")[-1]["train_loss"]) == stopped_at
    _shot(s, "convergence", "section-10-convergence-stopped")


def test_readable_on_a_phone(session):
    """At 390 px wide nothing scrolls sideways and each picture comes first, its controls below it."""
    page = session.page
    page.set_viewport_size({"width": 390, "height": 844})
    try:
        # Plotly's responsive resize runs on the window's resize event, one chart after another
        overflow_js = "() => document.documentElement.scrollWidth - window.innerWidth"
        deadline = time.monotonic() + 10
        while page.evaluate(overflow_js) > 1 and time.monotonic() < deadline:
            page.wait_for_timeout(100)
        overflow = page.evaluate(overflow_js)
        widest = page.evaluate("""() => [...document.querySelectorAll('main *')].filter((e) => !e.closest('.table-wrap'))
            .map((e) => [e.getBoundingClientRect().right, e.id || e.className.baseVal || e.className]).sort((a, b) => b[0] - a[0])[0]""")
        assert overflow <= 1, f"page is {overflow}px wider than the phone screen; widest: {widest}"
        body = page.locator("#landscape .body")
        controls = body.locator(":scope > .controls").bounding_box()
        figures = body.locator(":scope > .figures").bounding_box()
        assert controls["y"] >= figures["y"] + figures["height"] - 1
        assert figures["width"] <= 390
        _shot(session, "landscape", "phone-03-landscape")
    finally:
        page.set_viewport_size({"width": 1400, "height": 950})


def test_no_console_errors(session):
    """No script errors and no failed request, except 404s from endpoints that have not landed yet."""
    unlanded = [u for code, u in session.failed if code == 404 and urlparse(u).path not in session.api_paths]
    errors = list(session.console_errors)
    for _ in unlanded:
        errors.remove(next(e for e in errors if e.startswith("Failed to load resource") and "404" in e))
    assert not errors, (errors, session.failed)


def test_api_errors_show_in_place(session):
    s = session
    s.require("/api/v1/descent/lr-sweep", "/api/v1/schedules")
    s.wait_ready("learning-rate", "plot-lr-sweep")
    s.page.locator("#learning-rate input[name='lrs']").fill("-1")
    err = s.page.locator("#learning-rate .error:not([hidden])")
    err.wait_for()
    text = err.inner_text()
    assert "422" in text and "lrs" in text


# --- the user's own function and data (after test_no_console_errors: a formula being typed gets 422s) ---------


def _posted(page, path: str, want):
    """A predicate for page.expect_request: a POST to ``path`` whose JSON body satisfies ``want``."""
    return lambda r: (r.method == "POST" and r.url.split("?")[0].endswith(path)
                      and want(json.loads(r.post_data or "{}")))


def _is_formula(expression, resolution=None):
    def want(b):
        sf = b.get("surface")
        return isinstance(sf, dict) and sf.get("expression") == expression and (
            resolution is None or b.get("resolution") != [2, 2])
    return want


def test_formula_box_draws_shows_parse_errors_in_place_and_links(session, server):
    s = session
    s.require("/api/v1/landscapes/grid", "/api/v1/landscapes/critical-points")
    page = s.page
    s.wait_ready("landscape", "plot-landscape")
    before = s.plot_data("plot-landscape")
    page.locator("#landscape select[name='surface']").select_option("__formula")
    box = page.locator("#landscape input[name='surface-formula']")
    assert box.is_visible() and box.input_value() == "(1 - x)**2 + 100*(y - x**2)**2"
    with page.expect_response(lambda r: _posted(page, "/api/v1/landscapes/grid", _is_formula("x**2 + 3*y", True))(
            r.request)) as resp:
        box.fill("x**2 + 3*y")
    grid = resp.value.json()
    # the map shows that grid (its hover text holds the real values whatever the colour scale)
    page.wait_for_function("(z) => { const d = document.getElementById('plot-landscape').data;"
                           " return d && d[0].text && JSON.stringify(d[0].text[0]) === JSON.stringify(z); }", arg=grid["z"][0])
    x, y, z = grid["x"], grid["y"], grid["z"]
    assert z[0][0] == pytest.approx(x[0] ** 2 + 3 * y[0]) and z[-1][-1] == pytest.approx(x[-1] ** 2 + 3 * y[-1])
    assert s.plot_data("plot-landscape") != before
    cp = s.sent("/api/v1/landscapes/critical-points")[-1]
    assert cp["surface"]["expression"] == "x**2 + 3*y"
    assert "formula=x" in page.url and "domain=-2%2C2%2C-1%2C3" in page.url
    # a parse error appears under the box, with the column and what was expected; the map keeps the last good formula
    n = len(s.sent("/api/v1/landscapes/grid"))
    box.fill("(x + y")
    problem = page.locator("#landscape .formula-error:not([hidden])")
    problem.wait_for()
    assert "surface.expression" in problem.inner_text() and "column 7: expected ')'" in problem.inner_text()
    assert box.get_attribute("aria-invalid") == "true"
    page.wait_for_timeout(500)
    assert all(b["resolution"] == [2, 2] for b in s.sent("/api/v1/landscapes/grid")[n:])
    _shot(s, "landscape", "section-03-landscape-formula-error")
    box.fill("x**2 + 3*y")
    problem.wait_for(state="hidden")

    # the link opens every surface menu on the formula: the landscape, descent and race sections ask for it
    link = f"{server}/?formula=sin(x)*cos(y)&domain=-3,3,-3,3"
    other = page.context.new_page()
    seen = []
    other.on("requestfinished", lambda r: seen.append(r))
    try:
        other.goto(link, wait_until="load")
        for section, path in (("landscape", "/api/v1/landscapes/grid"), ("descent", "/api/v1/descent/trajectory"),
                              ("optimizers", "/api/v1/descent/race")):
            other.locator(f"#{section}").scroll_into_view_if_needed()
            deadline = time.monotonic() + TIMEOUT_MS / 1000
            while not (hits := [r for r in seen if _posted(other, path, _is_formula("sin(x)*cos(y)"))(r)]):
                assert time.monotonic() < deadline, f"{section} never asked for the linked formula"
                other.wait_for_timeout(100)
            assert hits[-1].response().status == 200, hits[-1].response().text()[:300]
            body = json.loads(hits[-1].post_data)
            if "start" in body:
                assert -3 <= body["start"][0] <= 3 and -3 <= body["start"][1] <= 3
            else:
                assert body["x_range"] == [-3, 3] and body["y_range"] == [-3, 3]
        assert other.locator("#descent select[name='descent-surface']").input_value() == "__formula"
    finally:
        other.close()


def test_csv_box_trains_on_pasted_rows_and_names_bad_ones(session):
    s = session
    s.require("/api/v1/training/stream", "/api/v1/training/compare")
    page = s.page
    s.wait_ready("convergence", "plot-convergence")
    stop = page.locator("#convergence button[data-action='stop']")
    if stop.is_enabled():  # a run still going (alone; in the whole file the stream test has stopped it)
        stop.click()
    own = lambda b: b.get("dataset", {}).get("name") == "csv"  # noqa: E731
    with page.expect_request(_posted(page, "/api/v1/training/stream", own)) as req:
        page.locator("#convergence select[name='conv-dataset']").select_option("__csv")
    body = json.loads(req.value.post_data)
    assert body["dataset"]["csv"].startswith("x,y\n-1.5,-1.875") and body["model"]["layers"][0] == 1
    page.wait_for_function("() => document.getElementById('plot-convergence').data[0].x.length >= 3")
    # two features: the model's input width follows the pasted columns
    rows = "a,b,t\n" + "\n".join(f"{i / 10},{(i % 7) / 7},{(i / 10) ** 2}" for i in range(24))
    with page.expect_request(_posted(page, "/api/v1/training/stream", lambda b: own(b) and b["dataset"]["csv"] == rows)) as req:
        page.locator("#convergence textarea[name='conv-csv']").fill(rows)
    assert json.loads(req.value.post_data)["model"]["layers"][0] == 2
    # a bad row: the 422 names the field, the line and the column in the section
    page.locator("#convergence textarea[name='conv-csv']").fill("x,y\n0.1,0.2\n0.3,oops\n0.5,0.6\n0.7,0.8")
    err = page.locator("#convergence .error:not([hidden])")
    err.wait_for()
    assert "dataset.csv" in err.inner_text() and "line 3, column 2 ('y'): 'oops' is not a number" in err.inner_text()
    # the regularization comparison trains on pasted rows too
    s.wait_ready("regularization", "plot-regularization-fit")
    with page.expect_response(lambda r: r.url.endswith("/api/v1/training/compare") and own(json.loads(r.request.post_data))) as resp:
        page.locator("#regularization select[name='reg-dataset']").select_option("__csv")
    assert resp.value.status == 200
    page.wait_for_function("() => document.getElementById('regularization').dataset.state === 'ready'")
    fit = s.plot_data("plot-regularization-fit")
    assert fit[1]["x"][:2] == [-1.5, -1.3]  # the pasted points, as typed
    _shot(s, "regularization", "section-09-regularization-csv")


# --- 12. many runs (sweeps on the Dask cluster) ----------------------------------------------------------


def test_many_runs_bands_heatmap_and_scaling_follow_the_sweeps(session):
    import math
    import urllib.request

    s = session
    s.require("/api/v1/sweeps")
    bands = s.wait_ready("many-runs", "plot-sweep-bands")
    s.page.wait_for_function("() => document.getElementById('sweep-scaling-fit').dataset.beta !== undefined")
    # every sweep the page submitted has ended: read each one's document at the job URL the page read
    jobs = {}
    for method, url, _ in s.requests:
        if method == "GET" and "/api/v1/sweeps/" in url and not url.endswith("/events"):
            with urllib.request.urlopen(url) as r:
                doc = json.loads(r.read())
            jobs.setdefault(doc["kind"] + ":" + ",".join(doc["spec"]["axes"]), doc)
    # (1) seed bands: the drawn mean curve of each variant is the job's aggregate over 8 seeds
    compare = next(d for k, d in jobs.items() if k.startswith("training/compare"))
    assert compare["status"] == "done" and compare["spec"]["seeds"] == list(range(8))
    means = {a["coords"]["variant"]: a["mean"] for a in compare["aggregates"] if a["metric"] == "val_loss_curve"}
    assert set(means) == {"none", "l2", "dropout"}
    assert max(len(t["y"]) for t in bands) == 2 * 300  # a band's polygon: its upper edge, then its lower
    lines = [t for t in bands if len(t["y"]) == 300]
    assert [t["name"] for t in lines] == list(means)
    for t in lines:
        assert t["y"] == pytest.approx(means[t["name"]], rel=1e-12)
    finals = [a for a in compare["aggregates"] if a["metric"] == "final_val_loss"]
    assert all(a["n"] == 8 and a["ci95"][0] < a["mean"] < a["ci95"][1] for a in finals)
    # (2) the heatmap holds the mean final validation loss of every lr x batch size cell
    heat = s.wait_ready("many-runs", "plot-sweep-heatmap")
    grid = next(d for k, d in jobs.items() if k == "training/run:optimizer.lr,batch_size")
    assert grid["status"] == "done" and grid["done"] == grid["total"] == 6 * 4 * 2
    assert s.page.locator("#many-runs progress").evaluate("p => [p.value, p.max]") == [48, 48]
    z = heat[0]["z"]
    for a in grid["aggregates"]:
        if a["metric"] == "final_val_loss" and a["mean"] is not None:
            i = grid["spec"]["axes"]["batch_size"].index(a["coords"]["batch_size"])
            j = grid["spec"]["axes"]["optimizer.lr"].index(a["coords"]["optimizer.lr"])
            assert z[i][j] == pytest.approx(math.log10(a["mean"]))
    # (3) data scaling: the gap shrinks with n_train, and the stated exponent is the job's fit
    scaling = next(d for k, d in jobs.items() if k == "training/run:dataset.n_train")
    gap = [a["mean"] for a in scaling["aggregates"] if a["metric"] == "generalization_gap"]
    assert gap[0] > gap[-1]
    fit = scaling["analysis"]["scaling"][0]["fit"]
    assert fit["beta"] > 0 and float(s.page.locator("#sweep-scaling-fit").get_attribute("data-beta")) == fit["beta"]
    _shot(s, "many-runs")


def test_many_runs_heatmap_switches_to_warmup_with_progress(session):
    s = session
    s.require("/api/v1/sweeps")
    s.wait_ready("many-runs", "plot-sweep-heatmap")
    before = s.plot_data("plot-sweep-heatmap")
    n = len(s.sent("/api/v1/sweeps"))
    s.page.locator("#many-runs select[name='sweep-heatmap']").select_option("warmup")
    after = s.wait_changed("plot-sweep-heatmap", before)
    body = s.sent("/api/v1/sweeps")[n:][-1]
    assert set(body["axes"]) == {"optimizer.lr", "schedule.warmup_steps"} and body["base"]["schedule"]["name"] == "warmup_cosine"
    s.page.wait_for_function("() => { const p = document.querySelector('#many-runs progress'); return p.max === 60 && p.value === 60; }")
    assert len(after[0]["z"]) == len(body["axes"]["schedule.warmup_steps"])
    assert any(u.endswith("/events") for _, u, _ in s.requests)  # progress came as server-sent events


# --- a busy replica (503 + Retry-After: every heavy-work slot taken) is waited out, not shown -------------


def test_a_busy_503_is_retried_after_the_time_it_gives(session, server):
    page = session.page.context.new_page()
    seen = []

    def busy_once(route):
        seen.append(time.monotonic())
        if len(seen) == 1:
            route.fulfill(status=503, headers={"Retry-After": "1", "Content-Type": "application/json"},
                          body=json.dumps({"code": 503, "status": "Service Unavailable", "message": "busy"}))
        else:
            route.continue_()

    page.route("**/api/v1/losses/evaluate", busy_once)
    try:
        page.goto(server + "/", wait_until="load")
        page.wait_for_function("() => document.getElementById('predictions').dataset.state === 'ready'",
                               timeout=TIMEOUT_MS)
        assert any(t - seen[0] >= 1.0 for t in seen[1:])  # asked again, after the second it was told
        assert page.locator("#predictions .error:not([hidden])").count() == 0
    finally:
        page.close()
