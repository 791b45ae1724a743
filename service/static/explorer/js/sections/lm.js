// 11. Inside a language model: a character-level model trained live by next-token cross-entropy (the stream
// of /api/v1/lm/stream), read against the loss floor and the count baselines; then what it predicts at every
// position of a prompt and where its attention looks (/api/v1/lm/inspect with the trained parameters).
// Compare runs a second model beside the first with one thing changed: residuals off, warmup off, or Adam
// (L2 in the gradient) instead of AdamW (decoupled weight decay).

import { postJSON, ApiError, isAbort, latest, fetchRetrying, readEvents } from "../api.js";
import { el, slider, select, checkbox, textInput, layoutBody, fmt, group, metric, button, buttons, debounce } from "../ui.js";
import { entries, options, pick, find, params, limit } from "../catalog.js";
import { draw, colorAt } from "../plots.js";

const shown = (tok) => (tok === "\n" ? "⏎" : tok === " " ? "␣" : tok);
const COMPARE = [
  { value: "none", label: "Nothing (one run)" },
  { value: "residual", label: "Residual connections off" },
  { value: "warmup", label: "Warmup off" },
  { value: "adam", label: "Adam (L2) instead of AdamW" },
];

export async function init(section, { catalog, status }) {
  const corpora = entries(catalog, "lm_corpora");
  const models = entries(catalog, "lm_models");
  const training = entries(catalog, "lm_training")[0];
  const run = Object.fromEntries((training.parameters || []).map((p) => [p.name, p.default]));
  const lrOf = (name) => ((training.model_defaults || {})[name] || {}).lr || 0.003;
  const { controls, figures } = layoutBody(section, { wide: true });

  const corpus = select({ label: "Corpus", name: "lm-corpus", options: options(corpora), value: pick(corpora, "names"), onChange: () => { newCorpus(); } });
  const text = el("textarea", { name: "lm-text", rows: 4, spellcheck: "false", style: "width:100%;font:inherit;font-size:0.85rem" });
  text.value = "the quick brown fox jumps over the lazy dog\n".repeat(40);
  const textBox = el("div", { class: "ctl", hidden: true }, el("span", { class: "ctl-label" }, el("span", {}, "Your text")), text);
  const model = select({ label: "Model", name: "lm-model", options: options(models), value: pick(models, "gpt"), onChange: () => { showModel(); lr.value = lrOf(model.value); } });
  const gptP = Object.fromEntries(params(find(models, "gpt")).map((p) => [p.name, p]));
  const intSlider = (name, label, lo, hi) => slider({ label, name: `lm-${name}`, min: lo, max: hi, step: 1, value: gptP[name] ? gptP[name].default : lo, format: (v) => String(Math.round(v)) });
  const nLayer = intSlider("n_layer", "Layers", 1, limit(catalog, "max_lm_layers", 4));
  const nHead = intSlider("n_head", "Heads", 1, 8);
  const dModel = slider({ label: "Width d_model", name: "lm-d_model", min: 8, max: limit(catalog, "max_lm_d_model", 128), step: 8, value: (gptP.d_model || {}).default || 32, format: (v) => String(Math.round(v)) });
  const gptBox = el("div", { class: "controls" }, nLayer.root, nHead.root, dModel.root);
  const steps = slider({ label: "Steps", name: "lm-steps", min: 100, max: 2500, step: 100, value: run.steps || 2000, format: (v) => String(Math.round(v)) });
  const lr = slider({ label: "Learning rate", name: "lm-lr", min: 1e-4, max: 0.3, log: true, value: lrOf(model.value), format: (v) => fmt(v, 3) });
  const warmup = checkbox({ label: "Warmup (10% of the steps)", name: "lm-warmup", checked: true });
  const compare = select({ label: "Compare with", name: "lm-compare", options: COMPARE, value: "none" });
  const startBtn = button("▶ Train", () => startRuns(), { name: "lm-start" });
  const stopBtn = button("■ Stop", () => stopRuns("stopped by you"), { secondary: true, name: "lm-stop" });
  stopBtn.disabled = true;
  const prompt = textInput({ label: "Prompt (next-token view)", name: "lm-prompt", value: "", hint: "⏎ is a newline; each position shows what the model predicts next", onChange: () => inspectSoon() });
  const layerSel = select({ label: "Attention layer", name: "lm-layer", options: [{ value: "0" }], value: "0", onChange: () => drawAttention() });
  const headSel = select({ label: "Head", name: "lm-head", options: [{ value: "0" }], value: "0", onChange: () => drawAttention() });
  const mStep = metric("step");
  const mVal = metric("validation loss");
  const mFloor = metric("floor");
  const mSpeed = metric("tokens / s");
  const note = el("p", { class: "note", text: "" });
  controls.append(buttons(startBtn, stopBtn), el("div", { class: "readout" }, mStep.root, mVal.root, mFloor.root, mSpeed.root), note,
    group("Data", corpus.root, textBox), group("Model", model.root, gptBox), group("Training", steps.root, lr.root, warmup.root, compare.root),
    group("Looking inside", prompt.root, layerSel.root, headSel.root));

  const lossDiv = el("div", { class: "plot tall", id: "plot-lm-loss" });
  const normDiv = el("div", { class: "plot short", id: "plot-lm-grad" });
  const samplesBox = el("div", { class: "samples", id: "lm-samples" });
  const nextDiv = el("div", { class: "plot tall", id: "plot-lm-next" });
  const attDiv = el("div", { class: "plot", id: "plot-lm-attention" });
  figures.append(lossDiv, el("div", { class: "figures two" }, normDiv, samplesBox), nextDiv, attDiv);

  let dataset = null; // /lm/datasets of the chosen corpus: vocab, floor, baselines, examples
  let runs = []; // [{label, body, hist, controller, done, summary}]
  let lastParams = null; // {corpus, model, parameters} of the main run, for /lm/inspect
  let inspected = null;

  function corpusBody() {
    const c = { name: corpus.value };
    if (c.name === "text") c.text = text.value;
    return c;
  }

  function modelBody() {
    const m = { name: model.value };
    if (m.name === "gpt") Object.assign(m, { n_layer: Math.round(nLayer.value), n_head: Math.round(nHead.value), d_model: Math.round(dModel.value) });
    return m;
  }

  function mainBody() {
    return {
      corpus: corpusBody(), model: modelBody(), steps: Math.round(steps.value),
      optimizer: { name: "adamw", lr: Number(lr.value) },
      schedule: { name: "warmup_cosine", warmup_steps: warmup.value ? Math.round(steps.value / 10) : 0 },
      eval_every: Math.max(10, Math.round(steps.value / 20)), return_parameters: true,
    };
  }

  // The second run of a comparison: the main body with one thing changed (both runs share everything else).
  function variantBody(kind, base) {
    const b = JSON.parse(JSON.stringify(base));
    b.return_parameters = false;
    if (kind === "residual") b.model.residual = false;
    if (kind === "warmup") b.schedule.warmup_steps = base.schedule.warmup_steps ? 0 : Math.round(base.steps / 10);
    if (kind === "adam") b.optimizer.name = "adam"; // the same weight_decay, added to the gradient (L2)
    return b;
  }

  const VARIANT_LABEL = { residual: "residual off", adam: "Adam (L2 decay)" };

  function showModel() {
    gptBox.hidden = model.value !== "gpt";
  }

  function refLines(span) {
    const out = [];
    if (!dataset) return out;
    const b = dataset.baselines || {};
    const line = (y, name, color, dash) => ({ type: "scatter", mode: "lines", name, x: [0, span], y: [y, y], line: { color, width: 1.5, dash }, hoverinfo: "name+y" });
    if (Number.isFinite(dataset.floor)) out.push(line(dataset.floor, `floor ${fmt(dataset.floor)} (exact)`, "#111", "dash"));
    if (Number.isFinite(b.uniform)) out.push(line(b.uniform, "uniform ln V", "#868e96", "dot"));
    if (Number.isFinite(b.unigram)) out.push(line(b.unigram, "unigram counts", "#adb5bd", "dot"));
    if (Number.isFinite(b.bigram)) out.push(line(b.bigram, "bigram counts", "#495057", "dot"));
    return out;
  }

  function drawCurves() {
    const span = Math.max(1, Math.round(steps.value));
    const traces = [];
    runs.forEach((r, i) => {
      const dash = i ? "dash" : "solid";
      // copies: Plotly.react compares arrays by identity, so arrays grown in place would not redraw
      traces.push({ type: "scatter", mode: "lines+markers", name: `${r.label}: train`, x: r.hist.step.slice(), y: r.hist.train.slice(), line: { color: colorAt(0), width: 2, dash }, marker: { size: 4 } });
      traces.push({ type: "scatter", mode: "lines+markers", name: `${r.label}: validation`, x: r.hist.step.slice(), y: r.hist.val.slice(), line: { color: colorAt(1), width: 2, dash }, marker: { size: 4 } });
    });
    draw(lossDiv, [...traces, ...refLines(span)], { title: "Next-token cross-entropy (nats), live", xaxis: { title: "step", range: [0, span] }, yaxis: { title: "loss" } });
    const gn = runs.map((r, i) => ({ type: "scatter", mode: "lines", name: `${r.label}: gradient norm`, x: r.hist.step.slice(), y: r.hist.grad.slice(), line: { color: colorAt(2 + i), width: 2, dash: i ? "dash" : "solid" } }));
    const lrs = runs.map((r, i) => ({ type: "scatter", mode: "lines", name: `${r.label}: learning rate`, x: r.hist.step.slice(), y: r.hist.lr.slice(), yaxis: "y2", line: { color: colorAt(4 + i), width: 1.5, dash: "dot" } }));
    draw(normDiv, [...gn, ...lrs], { title: "Gradient norm (before clipping) and learning rate", xaxis: { title: "step", range: [0, span] },
      yaxis: { title: "‖g‖", type: "log" }, yaxis2: { title: "lr", overlaying: "y", side: "right", rangemode: "tozero" }, margin: { t: 32, b: 40, r: 48 } });
  }

  function drawSamples() {
    const main = runs[0];
    if (!main) return;
    const rows = main.samples.slice(-6).reverse().map((s) => el("div", { class: "sample" },
      el("span", { class: "note", text: `step ${s.step}: ` }), el("code", { style: "white-space:pre-wrap", text: s.text.replace(/\n/g, " ⏎ ") })));
    samplesBox.replaceChildren(el("h3", { text: "Samples (newest first)", style: "margin:0 0 0.3rem;font-size:0.95rem" }), ...rows);
  }

  async function newCorpus() {
    textBox.hidden = corpus.value !== "text";
    status.start();
    try {
      dataset = await postJSON("api/v1/lm/datasets", { corpus: corpusBody() });
      status.ok("lm/datasets");
      mFloor.set(Number.isFinite(dataset.floor) ? fmt(dataset.floor) : "unknown");
      const ex = (dataset.examples || [""])[0] || "";
      const start = dataset.sample_prompt === "\n" && corpus.value !== "reverse" && corpus.value !== "sort" ? "⏎" : "";
      prompt.value = (start + ex.replace(/\n/g, "⏎")).slice(0, 12);
      drawCurves();
    } catch (err) {
      status.fail(err, "lm/datasets");
    } finally {
      status.done();
    }
  }

  async function stream(r) {
    try {
      const resp = await fetchRetrying("api/v1/lm/stream", { method: "POST", headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
        body: JSON.stringify(r.body), signal: r.controller.signal });
      if (!resp.ok) {
        let data = null;
        try { data = await resp.json(); } catch (_) { /* not JSON */ }
        throw new ApiError(resp.status, data, `HTTP ${resp.status}`, resp.url);
      }
      for await (const { event, data } of readEvents(resp, r.controller.signal)) {
        if (event === "eval") {
          r.hist.step.push(data.step); r.hist.train.push(data.train_loss); r.hist.val.push(data.val_loss);
          r.hist.grad.push(data.grad_norm); r.hist.lr.push(data.lr);
          r.samples.push({ step: data.step, text: data.sample });
          if (r === runs[0]) {
            mStep.set(String(data.step));
            mVal.set(fmt(data.val_loss));
            drawSamples();
          }
          drawCurves();
        } else if (event === "summary") {
          r.summary = data;
        }
      }
    } catch (err) {
      if (!isAbort(err)) status.fail(err, "lm/stream");
    } finally {
      r.done = true;
    }
  }

  async function startRuns() {
    stopRuns();
    status.ok("lm/stream");
    const base = mainBody();
    const kind = compare.value;
    if (kind === "adam") base.optimizer.weight_decay = 0.1; // decay strong enough for the two to differ visibly
    runs = [{ label: kind === "adam" ? "AdamW (decoupled decay)" : "this model", body: base }];
    const label = kind === "warmup" ? (base.schedule.warmup_steps ? "warmup off" : "with warmup") : VARIANT_LABEL[kind];
    if (kind !== "none") runs.push({ label, body: variantBody(kind, base) });
    for (const r of runs) Object.assign(r, { hist: { step: [], train: [], val: [], grad: [], lr: [] }, samples: [], controller: new AbortController(), done: false, summary: null });
    section.dataset.stream = "running";
    startBtn.disabled = true;
    stopBtn.disabled = false;
    note.textContent = runs.length > 1 ? `Training two models side by side: ${runs[0].label} and ${runs[1].label}.` : "Training…";
    drawCurves();
    status.start();
    try {
      await Promise.all(runs.map((r) => stream(r)));
    } finally {
      status.done();
    }
    finished();
  }

  function stopRuns(reason) {
    for (const r of runs) if (!r.done) r.controller.abort();
    if (reason && section.dataset.stream === "running") note.textContent = `Stopped (${reason}).`;
  }

  function finished() {
    startBtn.disabled = false;
    stopBtn.disabled = true;
    section.dataset.stream = "stopped";
    const main = runs[0];
    if (main && main.summary) {
      const s = main.summary;
      mSpeed.set(fmt(s.tokens_per_s, 3));
      const parts = runs.filter((r) => r.summary).map((r) => `${r.label}: validation ${fmt(r.summary.final_val_loss)} (${r.summary.status})`);
      note.textContent = `Done in ${fmt(s.elapsed_s, 3)} s: ${parts.join("; ")}.`;
      lastParams = { corpus: main.body.corpus, model: main.body.model, parameters: s.parameters };
      inspect();
    }
  }

  const inspectRun = latest();
  const inspectSoon = debounce(() => inspect(), 300);

  async function inspect() {
    if (!lastParams || !prompt.value) return;
    const body = { ...lastParams, prompt: prompt.value.replace(/⏎/g, "\n"), top_k: 5 };
    status.start();
    try {
      const res = await inspectRun((signal) => postJSON("api/v1/lm/inspect", body, { signal }));
      status.ok("lm/inspect");
      inspected = res;
      drawNext();
      const L = res.attention ? res.attention.length : 0;
      layerSel.fill(L ? [...Array(L).keys()].map((i) => ({ value: String(i), label: `layer ${i + 1}` })) : [{ value: "0", label: "—" }], layerSel.value);
      const H = L ? res.attention[0].length : 0;
      headSel.fill(H ? [...Array(H).keys()].map((i) => ({ value: String(i), label: `head ${i + 1}` })) : [{ value: "0", label: "—" }], headSel.value);
      drawAttention();
    } catch (err) {
      status.fail(err, "lm/inspect");
    } finally {
      status.done();
    }
  }

  function drawNext() {
    const r = inspected;
    const xs = r.tokens.map((t, i) => `${i}: ${shown(t)}`);
    const z = r.vocab.map((_, v) => r.probs.map((row) => row[v]));
    const marks = r.positions.filter((p) => p.next !== null);
    draw(nextDiv, [
      { type: "heatmap", x: xs, y: r.vocab.map(shown), z, colorscale: [[0, "#f8f9fa"], [1, "#1f4fa8"]], zmin: 0, zmax: 1, colorbar: { title: { text: "p" } },
        hovertemplate: "after %{x}<br>next %{y}: p = %{z:.3f}<extra></extra>" },
      { type: "scatter", mode: "markers", name: "actual next token", x: marks.map((p) => xs[p.position]), y: marks.map((p) => shown(p.next)),
        marker: { symbol: "circle-open", size: 12, color: "#e8590c", line: { width: 2 } },
        text: marks.map((p) => `p = ${fmt(p.p_next)}, loss = ${fmt(p.loss)} nats`), hoverinfo: "text" },
    ], { title: `Probability of every next token at each position (mean loss ${fmt(r.mean_loss)} nats)`,
      xaxis: { title: "position: token", type: "category" }, yaxis: { title: "next token", type: "category", autorange: "reversed" }, showlegend: false });
  }

  function drawAttention() {
    const r = inspected;
    if (!r) return;
    if (!r.attention) {
      draw(attDiv, [{ type: "heatmap", x: [0], y: [0], z: [[0]], showscale: false }], { title: `No attention in a ${r.model.name}: it sees a fixed context` });
      return;
    }
    const a = r.attention[Number(layerSel.value) || 0][Number(headSel.value) || 0];
    const labels = r.tokens.map((t, i) => `${i}: ${shown(t)}`);
    draw(attDiv, [{ type: "heatmap", x: labels, y: labels, z: a, colorscale: [[0, "#f8f9fa"], [1, "#c2410c"]], zmin: 0, zmax: 1,
      hovertemplate: "query %{y}<br>key %{x}: %{z:.3f}<extra></extra>" }],
    { title: `Attention weights, layer ${Number(layerSel.value) + 1}, head ${Number(headSel.value) + 1} (rows: the position looking back)`,
      xaxis: { title: "key (attended to)", type: "category" }, yaxis: { title: "query", type: "category", autorange: "reversed" } });
  }

  showModel();
  drawCurves();
  await newCorpus();
  section.dataset.state = "ready";
  startRuns();
}
