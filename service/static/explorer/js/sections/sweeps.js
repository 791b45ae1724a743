// 11. Many runs: sweeps run as jobs on the service's Dask cluster (POST /api/v1/sweeps, progress as
// server-sent events). Seed bands over the regularizers, a heatmap of learning rate × batch size (or ×
// warmup) filled in as its runs finish, and the data-scaling curve with its fitted power law.

import { postJSON, getJSON, latest } from "../api.js";
import { el, slider, select, button, buttons, group, layoutBody, track, fmt, table } from "../ui.js";
import { draw, colorAt } from "../plots.js";

const ENDED = new Set(["done", "failed", "cancelled"]);
const SINE = { name: "sine", noise: 0.3 };
const LRS = [0.001, 0.003, 0.01, 0.03, 0.1, 0.3];

// Follow a job's events until it ends; onProgress({status, done, total}) on the way. EventSource
// reconnects by itself when a stream ends before the job (the server bounds each stream's length).
function follow(url, signal, onProgress) {
  return new Promise((resolve, reject) => {
    const es = new EventSource(`${url}/events`);
    const stop = () => es.close();
    signal.addEventListener("abort", () => { stop(); reject(new DOMException("sweep replaced", "AbortError")); }, { once: true });
    es.addEventListener("progress", (e) => onProgress(JSON.parse(e.data)));
    es.addEventListener("end", (e) => { stop(); const d = JSON.parse(e.data); onProgress(d); resolve(d); });
    es.addEventListener("error", () => {
      if (es.readyState !== EventSource.CLOSED) return; // a reconnect is under way
      getJSON(url, { signal }).then(resolve, reject); // a refused stream (404, 503): GET says why
    });
  });
}

// POST a sweep, follow it, return its final document. A newer sweep of the same picture aborts this
// one, which cancels the job (DELETE) so the cluster stops computing it.
async function runSweep(body, signal, onProgress = () => {}) {
  const acc = await postJSON("api/v1/sweeps", body, { signal });
  const url = `api/v1/sweeps/${acc.id}`;
  const cancel = () => fetch(url, { method: "DELETE" }).catch(() => {});
  signal.addEventListener("abort", cancel, { once: true });
  onProgress({ status: "queued", done: 0, total: acc.total, id: acc.id });
  const end = await follow(url, signal, onProgress);
  const doc = ENDED.has(end.status) ? await getJSON(url, { signal }) : end;
  signal.removeEventListener("abort", cancel);
  return doc;
}

function progressBar() {
  const bar = el("progress", { max: 1, value: 0, class: "sweep-progress" });
  const text = el("span", { class: "note" });
  return {
    root: el("div", { class: "readout" }, bar, text),
    set({ done, total, status }) {
      bar.max = total || 1;
      bar.value = done;
      text.textContent = `${done} / ${total} runs · ${status}`;
    },
  };
}

const agg = (doc, metric) => doc.aggregates.filter((a) => a.metric === metric);

export async function init(section, { catalog, status }) {
  const { controls, figures } = layoutBody(section, { wide: true });
  const maxSeeds = (catalog.limits || {}).max_sweep_seeds || 64;
  const seeds = slider({ label: "Seeds per setting", name: "sweep-seeds", min: 2, max: Math.min(16, maxSeeds), step: 1, value: 8,
    format: (v) => String(Math.round(v)) });
  const pair = select({ label: "Heatmap", name: "sweep-heatmap", value: "batch", onChange: () => drawHeatmap(),
    options: [{ value: "batch", label: "learning rate × batch size" }, { value: "warmup", label: "learning rate × warmup epochs" }] });
  controls.append(group("Sweeps", seeds.root, pair.root,
    buttons(button("Run again", () => { drawBands(); drawHeatmap(); drawScaling(); }, { name: "rerun" }))),
  el("p", { class: "note", text: "Each picture is one sweep: every setting × every seed is a run on the Dask cluster; "
    + "bands and error bars are 95% Student-t intervals over the seeds." }));

  const bandsDiv = el("div", { class: "plot", id: "plot-sweep-bands" });
  const bandsTable = el("div", {});
  const heatProgress = progressBar();
  const heatDiv = el("div", { class: "plot", id: "plot-sweep-heatmap" });
  const scaleDiv = el("div", { class: "plot", id: "plot-sweep-scaling" });
  const scaleFit = el("p", { class: "note", id: "sweep-scaling-fit" });
  figures.append(bandsDiv, bandsTable, heatProgress.root, heatDiv, scaleDiv, scaleFit);

  const seedList = () => Array.from({ length: Math.round(seeds.value) }, (_, i) => i);
  const bandsRun = latest();
  const heatRun = latest();
  const scaleRun = latest();

  // (1) seed bands: the regularization comparison of section 9, once per seed
  async function drawBands() {
    const body = { kind: "training/compare", seeds: seedList(), metrics: ["val_loss_curve", "final_val_loss", "generalization_gap"],
      base: { dataset: { ...SINE, n_train: 20 }, model: { layers: [1, 64, 64, 1], activation: "tanh" },
        optimizer: { name: "adam", lr: 0.01 }, epochs: 300, batch_size: 20,
        variants: [{ name: "none" }, { name: "l2", regularization: { l2: 0.001 } }, { name: "dropout", regularization: { dropout: 0.2 } }] } };
    const doc = await track(status, () => bandsRun((signal) => runSweep(body, signal)), "seed bands");
    if (!doc) return;
    const traces = [];
    agg(doc, "val_loss_curve").forEach((a, i) => {
      const x = a.mean.map((_, e) => e + 1);
      const [lo, hi] = a.ci95 || [[], []];
      const ok = x.filter((_, e) => lo[e] !== null && hi[e] !== null);
      traces.push({ type: "scatter", mode: "lines", name: `${a.coords.variant} 95% band`, x: [...ok, ...ok.slice().reverse()],
        y: [...ok.map((e) => hi[e - 1]), ...ok.slice().reverse().map((e) => lo[e - 1])], fill: "toself",
        fillcolor: colorAt(i) + "33", line: { width: 0 }, hoverinfo: "skip", showlegend: false });
      traces.push({ type: "scatter", mode: "lines", name: a.coords.variant, x, y: a.mean, line: { color: colorAt(i), width: 2 } });
    });
    draw(bandsDiv, traces, { title: `Validation loss, mean of ${seedList().length} seeds with its 95% band`,
      xaxis: { title: "epoch" }, yaxis: { title: "validation loss", type: "log" } });
    const row = (m, v) => agg(doc, m).find((a) => a.coords.variant === v) || {};
    const ci = (a) => (a.ci95 ? `${fmt(a.ci95[0], 3)} … ${fmt(a.ci95[1], 3)}` : "—");
    bandsTable.replaceChildren(table(["variant", "final val loss (mean)", "95% interval", "gap (mean)", "95% interval", "runs"],
      agg(doc, "final_val_loss").map((a) => [a.coords.variant, a.mean, ci(a), row("generalization_gap", a.coords.variant).mean,
        ci(row("generalization_gap", a.coords.variant)), a.n])));
  }

  // (2) a heatmap, redrawn as runs finish
  function heatBody() {
    const warm = pair.value === "warmup";
    const base = { dataset: { ...SINE, n_train: 40 }, model: { layers: [1, 32, 32, 1], activation: "tanh" },
      optimizer: { name: "adam", lr: 0.01 }, epochs: 80, batch_size: warm ? 10 : 8 };
    if (warm) base.schedule = { name: "warmup_cosine", warmup_steps: 0 };
    const y = warm ? "schedule.warmup_steps" : "batch_size";
    const axes = { "optimizer.lr": warm ? [...LRS.slice(2), 1, 3] : LRS, [y]: warm ? [0, 5, 10, 20, 40] : [4, 8, 16, 32] };
    return { kind: "training/run", base, axes, seeds: seedList().slice(0, 2), metrics: ["final_val_loss", "stop_reason"],
      analysis: { heatmap: { x: "optimizer.lr", y, metric: "final_val_loss" } } };
  }

  function drawHeat(doc, body) {
    const [xName, yName] = Object.keys(body.axes);
    const xs = body.axes[xName];
    const ys = body.axes[yName];
    const z = ys.map(() => xs.map(() => null));
    for (const a of agg(doc, "final_val_loss")) {
      if (a.mean !== null) z[ys.indexOf(a.coords[yName])][xs.indexOf(a.coords[xName])] = Math.log10(a.mean);
    }
    draw(heatDiv, [{ type: "heatmap", x: xs.map(String), y: ys.map(String), z, colorscale: "Viridis", reversescale: true,
      hoverongaps: false, colorbar: { title: { text: "log10 val loss" } } }],
    { title: `Final validation loss (mean over seeds): ${doc.done} / ${doc.total} runs`,
      xaxis: { title: "learning rate", type: "category" }, yaxis: { title: yName === "batch_size" ? "batch size" : "warmup epochs", type: "category" } });
  }

  async function drawHeatmap() {
    const body = heatBody();
    const doc = await track(status, () => heatRun(async (signal) => {
      let last = 0;
      const onProgress = (p) => {
        heatProgress.set(p);
        if (p.id && p.done > last && !ENDED.has(p.status)) { // partial results as they arrive
          last = p.done;
          getJSON(`api/v1/sweeps/${p.id}`, { signal }).then((d) => drawHeat(d, body), () => {});
        }
      };
      return runSweep(body, signal, onProgress);
    }), "heatmap sweep");
    if (!doc) return;
    heatProgress.set(doc);
    drawHeat(doc, body);
  }

  // (3) data scaling: validation loss and generalization gap against n_train, the gap's power law
  async function drawScaling() {
    const body = { kind: "training/run", seeds: seedList().slice(0, 4), metrics: ["final_val_loss", "final_train_loss", "generalization_gap"],
      base: { dataset: { ...SINE }, model: { layers: [1, 64, 64, 1], activation: "tanh" }, optimizer: { name: "adam", lr: 0.01 },
        epochs: 200, batch_size: 16 },
      axes: { "dataset.n_train": [10, 20, 40, 80, 160, 320] },
      analysis: { scaling: { x: "dataset.n_train", metric: "generalization_gap", offset: false, bootstrap: 200 } } };
    const doc = await track(status, () => scaleRun((signal) => runSweep(body, signal)), "data scaling");
    if (!doc) return;
    const n = body.axes["dataset.n_train"];
    const series = (m) => n.map((v) => agg(doc, m).find((a) => a.coords["dataset.n_train"] === v) || {});
    const bars = (s) => ({ type: "data", symmetric: false, array: s.map((a) => (a.ci95 ? a.ci95[1] - a.mean : 0)),
      arrayminus: s.map((a) => (a.ci95 ? a.mean - a.ci95[0] : 0)) });
    const traces = ["final_val_loss", "final_train_loss", "generalization_gap"].map((m, i) => {
      const s = series(m);
      return { type: "scatter", mode: "lines+markers", name: m.replace(/_/g, " "), x: n, y: s.map((a) => a.mean), error_y: bars(s),
        line: { color: colorAt(i), width: 2, dash: m === "generalization_gap" ? "dot" : "solid" } };
    });
    const [entry] = (doc.analysis && doc.analysis.scaling) || [];
    const fit = entry && entry.fit;
    if (fit) {
      const xf = Array.from({ length: 60 }, (_, k) => n[0] * (n.at(-1) / n[0]) ** (k / 59));
      traces.push({ type: "scatter", mode: "lines", name: "gap fit B·n^−β", x: xf, y: xf.map((x) => fit.B * x ** -fit.beta),
        line: { color: colorAt(3), width: 1.5 } });
      const iv = fit.intervals.beta;
      scaleFit.textContent = `Generalization gap ≈ ${fmt(fit.B, 3)} · n^−β with β = ${fmt(fit.beta, 3)}`
        + (iv ? ` (95% bootstrap interval ${fmt(iv[0], 3)} … ${fmt(iv[1], 3)})` : "") + `, fitted to ${fit.n} runs.`;
      scaleFit.dataset.beta = String(fit.beta);
    } else {
      scaleFit.textContent = entry && entry.error ? `No fit: ${entry.error.message}` : "No fit.";
    }
    draw(scaleDiv, traces, { title: "More data: the gap between validation and training loss shrinks",
      xaxis: { title: "training points n", type: "log", tickvals: n, ticktext: n.map(String) }, yaxis: { title: "loss" } });
  }

  await Promise.all([drawBands(), drawHeatmap(), drawScaling()]);
}
