"""Section 3's "in many dimensions" panel in a real browser (headless Debian Chromium, as
tests/test_explorer_browser.py, whose server and page fixtures it shares).

The panel must draw the GOE minimum probability against 2^-N and a small network's critical points by
loss and index from /api/v1/landscapes/saddle-statistics, show ‖∇L‖ for every point, and redraw from a
new request when a control moves.
"""

from __future__ import annotations

import math

import pytest

from test_explorer_browser import _nonempty, _shot, server, session  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ENDPOINT = "/api/v1/landscapes/saddle-statistics"


def _traces(session, plot_id):
    return {t_name: t for t_name, t in ((t.get("name"), t) for t in session.page.evaluate(
        "(id) => document.getElementById(id).data.map(t => ({name: t.name, x: t.x, y: t.y, text: t.text || null}))",
        plot_id))}


def test_many_dimensions_panel_draws_both_experiments(session):
    s = session
    s.require(ENDPOINT, "/api/v1/landscapes/grid")
    s.wait_ready("landscape", "plot-dims-minimum")
    s.wait_ready("landscape", "plot-dims-index")
    bodies = s.sent(ENDPOINT)
    assert {b["experiment"] for b in bodies} == {"goe", "network"}
    goe = next(b for b in bodies if b["experiment"] == "goe")
    assert goe["dims"] == list(range(1, 11))
    t = _traces(s, "plot-dims-minimum")
    mc = next(v for k, v in t.items() if k.startswith("all eigenvalues"))
    coin = next(v for k, v in t.items() if k.startswith("2^-N"))
    assert coin["y"] == pytest.approx([2.0 ** -n for n in range(1, 11)])
    assert mc["y"][0] == pytest.approx(0.5, abs=0.006) and mc["y"][1] == pytest.approx((2 - math.sqrt(2)) / 4, abs=0.005)
    seen = [y for y in mc["y"] if y is not None]
    assert all(a >= b for a, b in zip(seen, seen[1:])) and seen[-1] < 2.0 ** -len(seen) / 10
    net = _traces(s, "plot-dims-index")
    crit = next(v for k, v in net.items() if k.startswith("critical point"))
    assert len(crit["x"]) >= 4 and all(0.0 <= y <= 1.0 for y in crit["y"])
    points = [txt for v in net.values() if v["text"] for txt in v["text"]]
    assert points and all("‖∇L‖" in txt for txt in points)  # every point says how critical it is
    note = s.page.locator("#saddle-note").inner_text()
    assert "critical points" in note and "gradient-flat" in note
    _shot(s, "landscape", "section-03b-many-dimensions")


def test_many_dimensions_panel_follows_its_controls(session):
    s = session
    s.require(ENDPOINT)
    s.wait_ready("landscape", "plot-dims-minimum")
    before = s.plot_data("plot-dims-minimum")
    n = len(s.sent(ENDPOINT))
    s.page.evaluate("""() => { const i = document.querySelector("#many-dims input[name='goe-max-n']");
        i.value = 6; i.dispatchEvent(new Event('input', {bubbles: true})); }""")
    after = s.wait_changed("plot-dims-minimum", before)
    sent = [b for b in s.sent(ENDPOINT)[n:] if b["experiment"] == "goe"]
    assert sent and sent[-1]["dims"] == [1, 2, 3, 4, 5, 6]
    coin = next(tr for tr in after if tr["y"] and tr["y"][0] == 0.5 and len(tr["y"]) == 6)
    assert _nonempty([coin]) and coin["x"] == [1, 2, 3, 4, 5, 6]
    before = s.plot_data("plot-dims-index")
    s.page.evaluate("""() => { const i = document.querySelector("#many-dims input[name='saddle-seed']");
        i.value = 3; i.dispatchEvent(new Event('input', {bubbles: true})); }""")
    s.wait_changed("plot-dims-index", before)
    assert [b for b in s.sent(ENDPOINT) if b["experiment"] == "network"][-1]["seed"] == 3
