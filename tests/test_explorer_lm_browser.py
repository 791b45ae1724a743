"""Section 11 of the explorer, "Inside a language model", in the real browser (headless Debian Chromium).

The same harness as tests/test_explorer_browser.py (its fixtures: the service in a thread, one page):
the section trains the default model from /api/v1/lm/stream with the floor and baselines drawn, then
reads a prompt through /api/v1/lm/inspect (next-token distribution per position, attention); the
comparison toggles train a second model beside the first with the one setting changed."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))
from test_explorer_browser import _nonempty, _shot, server, session  # noqa: E402,F401  (fixtures)

pytestmark = pytest.mark.browser

SECTION = "language-model"
STOPPED = f"() => document.getElementById('{SECTION}').dataset.stream === 'stopped'"
RUNNING = f"() => document.getElementById('{SECTION}').dataset.stream === 'running'"
NAMES_JS = "(id) => (document.getElementById(id).data || []).map((t) => t.name)"


def _ready(s):
    """The section started and its default run (2000 steps, seconds; minutes on a loaded CI machine
    while the other sections compute too) has ended without an error shown in place."""
    s.require("/api/v1/lm/stream", "/api/v1/lm/datasets", "/api/v1/lm/inspect")
    s.page.locator(f"#{SECTION}").scroll_into_view_if_needed()
    s.page.wait_for_function(STOPPED, timeout=600_000)
    data = s.wait_ready(SECTION, "plot-lm-loss")
    return data


def _short_run(s, **controls):
    """Set the steps slider low (and the given selects), press Train and wait for the run(s) to end."""
    page = s.page
    page.locator(f"#{SECTION} input[name='lm-steps']").fill("200")
    for name, value in controls.items():
        page.locator(f"#{SECTION} select[name='{name}']").select_option(value)
    n = len(s.sent("/api/v1/lm/stream"))
    page.locator(f"#{SECTION} button[data-action='lm-start']").click()
    page.wait_for_function(RUNNING)
    page.wait_for_function(STOPPED, timeout=300_000)
    return s.sent("/api/v1/lm/stream")[n:]


def test_section_trains_live_and_looks_inside(session):
    s = session
    _ready(s)
    body = s.sent("/api/v1/lm/stream")[0]
    assert body["corpus"] == {"name": "names"} and body["model"]["name"] == "gpt" and body["return_parameters"]
    names = s.page.evaluate(NAMES_JS, "plot-lm-loss")
    assert {"this model: train", "this model: validation", "bigram counts", "uniform ln V"} <= set(names)
    data = s.plot_data("plot-lm-loss")
    val = data[names.index("this model: validation")]["y"]
    assert len(val) >= 10 and val[-1] < val[0] - 1.0  # from ~ln 27 = 3.3 to near 2 nats
    # samples arrived, newest first, and the model was read through /lm/inspect with its parameters
    assert s.page.locator("#lm-samples .sample").count() >= 3
    s.page.wait_for_function("() => (document.getElementById('plot-lm-next').data || []).length > 0")
    inspect = s.sent("/api/v1/lm/inspect")[-1]
    assert inspect["parameters"]["data"] and inspect["prompt"].startswith("\n")
    nxt = s.plot_data("plot-lm-next")
    assert nxt[0]["type"] == "heatmap" and len(nxt[0]["z"]) == 27  # the whole vocabulary at every position
    att = s.plot_data("plot-lm-attention")
    assert att[0]["type"] == "heatmap" and _nonempty(att)
    _shot(s, SECTION, "section-11-language-model")


def test_prompt_change_reads_the_model_again(session):
    s = session
    _ready(s)
    s.page.wait_for_function("() => (document.getElementById('plot-lm-next').data || []).length > 0")
    before = s.plot_data("plot-lm-next")
    n = len(s.sent("/api/v1/lm/inspect"))
    s.page.locator(f"#{SECTION} input[name='lm-prompt']").fill("⏎anna")
    after = s.wait_changed("plot-lm-next", before)
    assert s.sent("/api/v1/lm/inspect")[n:][-1]["prompt"] == "\nanna"
    assert len(after[0]["x"]) == 5
    # another head of the attention
    before = s.plot_data("plot-lm-attention")
    s.page.locator(f"#{SECTION} select[name='lm-head']").select_option("1")
    s.wait_changed("plot-lm-attention", before)


@pytest.mark.parametrize("compare, check", [
    ("residual", lambda a, b: a["model"].get("residual", True) and b["model"]["residual"] is False),
    ("warmup", lambda a, b: a["schedule"]["warmup_steps"] > 0 and b["schedule"]["warmup_steps"] == 0),
    ("adam", lambda a, b: a["optimizer"]["name"] == "adamw" and b["optimizer"]["name"] == "adam"
     and a["optimizer"]["weight_decay"] == b["optimizer"]["weight_decay"]),
])
def test_comparisons_train_a_second_model_beside_the_first(session, compare, check):
    s = session
    _ready(s)
    sent = _short_run(s, **{"lm-compare": compare})
    assert len(sent) == 2 and check(sent[0], sent[1])
    assert {k: v for k, v in sent[0].items() if k not in ("model", "schedule", "optimizer", "return_parameters")} == \
        {k: v for k, v in sent[1].items() if k not in ("model", "schedule", "optimizer", "return_parameters")}
    names = s.page.evaluate(NAMES_JS, "plot-lm-loss")
    assert sum(n.endswith(": validation") for n in names) == 2
    data = s.plot_data("plot-lm-loss")
    curves = [t for t, n in zip(data, names) if n.endswith(": validation")]
    assert all(len(c["y"]) == len(curves[0]["y"]) >= 10 for c in curves)
    _shot(s, SECTION, f"section-11-compare-{compare}")
    s.page.locator(f"#{SECTION} select[name='lm-compare']").select_option("none")


def test_markov_draws_its_exact_floor(session):
    s = session
    _ready(s)
    n = len(s.sent("/api/v1/lm/datasets"))
    s.page.locator(f"#{SECTION} select[name='lm-corpus']").select_option("markov")
    s.page.wait_for_function(f"() => (document.getElementById('plot-lm-loss').data || []).some((t) => (t.name || '').startsWith('floor'))")
    floor = s.sent("/api/v1/lm/datasets")[n:][-1]
    assert floor["corpus"]["name"] == "markov"
    sent = _short_run(s)
    assert sent[-1]["corpus"]["name"] == "markov"
    names = s.page.evaluate(NAMES_JS, "plot-lm-loss")
    data = s.plot_data("plot-lm-loss")
    fl = data[next(i for i, x in enumerate(names) if x.startswith("floor"))]["y"][0]
    val = data[names.index("this model: validation")]["y"]
    assert min(val) > fl - 0.05 and val[-1] < fl * 1.3  # approaching the floor from above
    s.page.locator(f"#{SECTION} select[name='lm-corpus']").select_option("names")


def test_stop_ends_the_run(session):
    s = session
    _ready(s)
    page = s.page
    page.locator(f"#{SECTION} input[name='lm-steps']").fill("2500")
    page.locator(f"#{SECTION} button[data-action='lm-start']").click()
    page.wait_for_function(RUNNING)
    points = "() => { const d = document.getElementById('plot-lm-loss').data; return d && d[0] ? d[0].x.length : 0; }"
    page.wait_for_function(f"() => ({points})() >= 2")
    page.locator(f"#{SECTION} button[data-action='lm-stop']").click()
    page.wait_for_function(STOPPED)
    stopped = page.evaluate(points)
    page.wait_for_timeout(1500)
    assert page.evaluate(points) == stopped
    assert json.loads(json.dumps(s.sent("/api/v1/lm/stream")[-1]))["steps"] == 2500
