"""Section 5's edge-of-stability panel in a real browser (headless Debian Chromium, as
tests/test_explorer_browser.py, whose server and page fixtures it shares).

The panel must replay the catalog's ``presets.edge_of_stability`` through /api/v1/training/stream, draw the
live sharpness trace beside the 2/η line and the training loss, and when the learning-rate slider moves, run
again at the new η with the 2/η line moved: the sharpness then ends near the new threshold.
"""

from __future__ import annotations

import math

import pytest

from test_explorer_browser import _shot, server, session  # noqa: F401  (fixtures)

pytestmark = pytest.mark.browser
ENDPOINT = "/api/v1/training/stream"
DONE = "() => document.getElementById('edge-of-stability')?.dataset.stream === 'done'"


def _traces(session, plot_id):
    return session.page.evaluate(
        "(id) => document.getElementById(id).data.map(t => ({name: t.name, x: Array.from(t.x), y: Array.from(t.y)}))",
        plot_id)


def _preset(session):
    return session.page.evaluate("() => window.descentlabExplorer.catalog.presets.edge_of_stability")


def test_the_panel_replays_the_preset_and_draws_the_sharpness_at_the_edge(session):
    s = session
    s.require(ENDPOINT, "/api/v1/catalog")
    s.wait_ready("learning-rate", "plot-lr-sweep")
    s.page.locator("#edge-of-stability").scroll_into_view_if_needed()
    s.page.wait_for_function(DONE)
    preset = _preset(s)
    sent = [b for b in s.sent(ENDPOINT) if b and b.get("curvature")]
    assert sent and sent[0] == preset  # the catalog's body, as is
    lr = preset["optimizer"]["lr"]
    sharp, line = _traces(s, "plot-sharpness")
    every, epochs = preset["curvature"]["every"], preset["epochs"]
    assert sharp["x"] == list(range(every, epochs + 1, every)) and len(sharp["y"]) == epochs // every
    assert line["y"] == pytest.approx([2 / lr, 2 / lr])
    assert sharp["y"][0] < 2 / lr and abs(sharp["y"][-1] / (2 / lr) - 1) < 0.15  # sharpened up to the edge
    (loss,) = _traces(s, "plot-sharpness-loss")
    assert loss["x"] == list(range(1, epochs + 1))  # every epoch exactly once, in order, however batched
    assert len(loss["y"]) == epochs and loss["y"][-1] < loss["y"][0] / 4
    assert sum(b > a for a, b in zip(loss["y"], loss["y"][1:])) > 10  # not monotone
    note = s.page.locator("#eos-note").inner_text()
    assert "× 2/η" in note and "Finished" in note
    assert not s.console_errors, s.console_errors
    _shot(s, "learning-rate", "section-05b-edge-of-stability")


def test_the_learning_rate_slider_moves_the_line_and_the_sharpness_follows(session):
    s = session
    s.require(ENDPOINT)
    s.page.locator("#edge-of-stability").scroll_into_view_if_needed()
    s.page.wait_for_function(DONE)
    n = len(s.sent(ENDPOINT))
    s.page.evaluate(f"""() => {{ const i = document.querySelector("#edge-of-stability input[name='eos-lr']");
        i.value = {math.log10(0.08)}; i.dispatchEvent(new Event('input', {{bubbles: true}})); }}""")
    s.page.wait_for_function("() => document.getElementById('edge-of-stability').dataset.stream === 'running'")
    s.page.wait_for_function(DONE)
    sent = [b for b in s.sent(ENDPOINT)[n:] if b and b.get("curvature")]
    assert sent and sent[-1]["optimizer"]["lr"] == pytest.approx(0.08)
    assert {k: v for k, v in sent[-1].items() if k != "optimizer"} == \
        {k: v for k, v in _preset(s).items() if k != "optimizer"}
    sharp, line = _traces(s, "plot-sharpness")
    assert line["y"] == pytest.approx([25.0, 25.0])  # 2/η at η = 0.08
    assert abs(sharp["y"][-1] / 25.0 - 1) < 0.15


def test_event_batches_hold_every_event_once_in_order_however_the_body_is_split(session):
    """api.js's readEventBatches on a body cut at every awkward place (inside a line, inside the blank line
    between events, several events per read, CRLF): the same events as one by one, each once, in order."""
    got = session.page.evaluate("""async () => {
      const { readEventBatches, readEvents } = await import(new URL('static/explorer/js/api.js', location.href).href);
      const text = Array.from({length: 300}, (_, i) => `event: epoch\\r\\ndata: {"epoch": ${i + 1}}\\r\\n\\r\\n`).join('')
        + 'event: summary\\ndata: {"done":\\ndata: true}\\n\\n';
      const bytes = new TextEncoder().encode(text);
      const body = (cuts) => new Response(new ReadableStream({ start(c) {
        let at = 0;
        for (const cut of [...cuts, bytes.length]) { c.enqueue(bytes.slice(at, cut)); at = cut; }
        c.close(); } }));
      const cuts = [];
      for (let at = 1; at < bytes.length; at += 1 + (at * 7919) % 97) cuts.push(at);  // 1..97 bytes apart
      const batches = [];
      for await (const b of readEventBatches(body(cuts))) batches.push(b);
      const one = [];
      for await (const e of readEvents(body([bytes.length - 1]))) one.push(e);
      return { sizes: batches.map((b) => b.length), flat: batches.flat(), one };
    }""")
    want = [{"event": "epoch", "data": {"epoch": i}} for i in range(1, 301)]
    want.append({"event": "summary", "data": {"done": True}})
    assert got["flat"] == want and got["one"] == want
    assert max(got["sizes"]) > 1 and min(got["sizes"]) >= 1  # several events per read where a read held several
