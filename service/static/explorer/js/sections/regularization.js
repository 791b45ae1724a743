// 9. Regularization: none / L1 / L2 / dropout trained side by side; train vs validation curves and the fitted curves.

import { postJSON, latest } from "../api.js";
import { el, slider, debounce, layoutBody, track, fmt, group, table } from "../ui.js";
import { trainingControls } from "../training.js";
import { draw, colorAt } from "../plots.js";

export async function init(section, { catalog, status }) {
  const { controls, figures } = layoutBody(section, { wide: true });
  const tc = trainingControls(catalog, { prefix: "reg", onChange: () => refresh(), nTrain: 20, noise: 0.3, hidden: "64, 64", epochs: 400, lr: 0.01 });
  const l1 = slider({ label: "L1 strength", name: "l1", min: 1e-6, max: 0.1, log: true, value: 1e-3, format: (v) => fmt(v, 2), onInput: () => refresh() });
  const l2 = slider({ label: "L2 strength", name: "l2", min: 1e-6, max: 0.1, log: true, value: 1e-2, format: (v) => fmt(v, 2), onInput: () => refresh() });
  const dropout = slider({ label: "Dropout rate", name: "dropout", min: 0.05, max: 0.8, step: 0.05, value: 0.3, format: (v) => v.toFixed(2), onInput: () => refresh() });
  controls.append(group("Data", ...tc.roots.data), group("Model", ...tc.roots.model), group("Training", ...tc.roots.train),
    group("Regularizers", l1.root, l2.root, dropout.root));

  const grid = el("div", { class: "figures two" });
  const curveDivs = [0, 1, 2, 3].map((i) => el("div", { class: "plot short", id: `plot-regularization-${i}` }));
  grid.append(...curveDivs);
  const fitDiv = el("div", { class: "plot", id: "plot-regularization-fit" });
  const summaryBox = el("div", {});
  figures.append(grid, fitDiv, summaryBox);

  const run = latest();
  const refresh = debounce(() => compute(), 350);

  function variants() {
    return [
      { name: "none", regularization: {} },
      { name: "L1", regularization: { l1: l1.value } },
      { name: "L2", regularization: { l2: l2.value } },
      { name: "dropout", regularization: { dropout: dropout.value } },
    ];
  }

  async function compute() {
    const base = tc.body();
    const body = { ...base, batch_size: base.dataset.n_train, variants: variants() };
    const out = await track(status, () => run((signal) => Promise.all([
      postJSON("api/v1/training/compare", body, { signal }),
      postJSON("api/v1/training/dataset", { ...base.dataset, n_val: 200 }, { signal }),
    ])), "training/compare");
    if (!out) return;
    const [res, data] = out;
    const all = res.runs.flatMap((r) => [...r.history.train_loss, ...r.history.val_loss]).filter((v) => v > 0);
    const yr = all.length ? [Math.log10(Math.min(...all)) - 0.1, Math.log10(Math.max(...all)) + 0.1] : undefined;
    res.runs.forEach((r, i) => {
      if (!curveDivs[i]) return;
      draw(curveDivs[i], [
        { type: "scatter", mode: "lines", name: "train", y: r.history.train_loss, line: { color: colorAt(0), width: 2 } },
        { type: "scatter", mode: "lines", name: "validation", y: r.history.val_loss, line: { color: colorAt(1), width: 2 } },
      ], { title: `${r.name}: gap ${fmt(r.gap, 3)}`, xaxis: { title: "epoch" }, yaxis: { title: "loss", type: "log", range: yr },
        legend: { orientation: "h", y: 1.02, x: 1, xanchor: "right", yanchor: "bottom" }, margin: { t: 40, b: 40 } });
    });
    const xs = (a) => a.map((p) => (Array.isArray(p) ? p[0] : p));
    const traces = [
      { type: "scatter", mode: "markers", name: "validation points", x: xs(data.x_val), y: data.y_val, marker: { color: "#ced4da", size: 5 } },
      { type: "scatter", mode: "markers", name: "training points", x: xs(data.x_train), y: data.y_train, marker: { color: "#1d2430", size: 7 } },
    ];
    res.runs.forEach((r, i) => {
      const p = r.prediction;
      if (p && p.x && p.y) traces.push({ type: "scatter", mode: "lines", name: `${r.name} fit`, x: xs(p.x), y: xs(p.y), line: { color: colorAt(i + 2), width: 2.5 } });
    });
    draw(fitDiv, traces, { title: "What each model learned", xaxis: { title: "x" }, yaxis: { title: "y" } });
    summaryBox.replaceChildren(table(["variant", "final train loss", "final validation loss", "gap"],
      res.runs.map((r) => [r.name, r.history.train_loss.at(-1), r.history.val_loss.at(-1), r.gap])));
  }

  await compute();
}
