// 9. Regularization: variants (none / L1 / L2 / dropout / ...) trained side by side on the same data, initial
// weights and batches; train vs validation curves per variant and what each model learned.

import { postJSON, latest } from "../api.js";
import { el, slider, checkbox, debounce, layoutBody, track, fmt, group, table, titleCase } from "../ui.js";
import { entries } from "../catalog.js";
import { trainingControls, csvPoints } from "../training.js";
import { draw, colorAt } from "../plots.js";

// Slider ranges for the strengths (the catalog allows 0..10; useful values span decades).
const STRENGTH = { l1: [1e-5, 0.1, 1e-3], l2: [1e-5, 0.1, 1e-2], weight_decay: [1e-5, 1, 1e-2], dropout: [0.05, 0.9, 0.3] };
const DEFAULT_ON = new Set(["none", "l1", "l2", "dropout"]);

export async function init(section, { catalog, status }) {
  const regs = entries(catalog, "regularizers");
  const { controls, figures } = layoutBody(section, { wide: true });
  const tc = trainingControls(catalog, { prefix: "reg", onChange: () => refresh(), nTrain: 20, noise: 0.3, hidden: "64, 64", epochs: 400, lr: 0.01, batch: 20 });

  const variants = regs.map((r) => {
    const p = r.parameter;
    const on = checkbox({ label: r.title || titleCase(r.name), name: `variant-${r.name}`, checked: DEFAULT_ON.has(r.name), onChange: () => refresh() });
    let strength = null;
    if (p) {
      const [lo, hi, start] = STRENGTH[p.name] || [Math.max(p.low ?? 0, 1e-5), p.high ?? 1, p.default];
      const log = p.name !== "dropout";
      strength = slider({ label: titleCase(p.name === "dropout" ? "dropout rate" : `${p.name} strength`), name: p.name, min: lo, max: hi, log,
        step: log ? undefined : 0.05, value: start, format: (v) => (log ? fmt(v, 2) : v.toFixed(2)), onInput: () => on.value && refresh() });
    }
    return { entry: r, on, strength, root: el("div", { class: "racer" }, on.root, strength ? strength.root : "") };
  });
  controls.append(group("Variants", ...variants.map((v) => v.root)), group("Data", ...tc.roots.data), group("Model", ...tc.roots.model),
    group("Training", ...tc.roots.train));

  const grid = el("div", { class: "figures two" });
  const fitDiv = el("div", { class: "plot", id: "plot-regularization-fit" });
  const summaryBox = el("div", {});
  figures.append(grid, fitDiv, summaryBox);

  const run = latest();
  const refresh = debounce(() => compute(), 400);

  function chosen() {
    return variants.filter((v) => v.on.value).map((v) => {
      const p = v.entry.parameter;
      return { name: v.entry.title || v.entry.name, regularization: p ? { [p.name]: Number(v.strength.value.toPrecision(4)) } : {} };
    });
  }

  async function compute() {
    const list = chosen();
    if (!list.length) {
      grid.replaceChildren(el("p", { class: "note", text: "Choose at least one variant." }));
      return;
    }
    const base = tc.body();
    const body = { ...base, variants: list, prediction: { points: 200 } };
    // the user's pasted points are drawn as they were typed (all of them); a synthetic set is asked of the API
    const own = tc.own();
    const out = await track(status, () => run((signal) => Promise.all([
      postJSON("api/v1/training/compare", body, { signal }),
      own ? null : postJSON("api/v1/training/dataset", base.dataset, { signal }),
    ])), "training/compare");
    if (!out) return;
    const [res, fetched] = out;
    const pts = own ? csvPoints(tc.csvText()) : [];
    const data = fetched || { x_train: pts.map((r) => r[0]), y_train: pts.map((r) => r[r.length - 1]), x_val: [], y_val: [] };
    // one log scale for every small plot so the variants compare at a glance
    const all = res.runs.flatMap((r) => [...r.history.train_loss, ...r.history.val_loss]).filter((v) => v > 0);
    const yr = all.length ? [Math.log10(Math.min(...all)) - 0.05, Math.log10(Math.max(...all)) + 0.05] : undefined;
    const divs = res.runs.map((_, i) => el("div", { class: "plot short", id: `plot-regularization-${i}` }));
    grid.replaceChildren(...divs);
    res.runs.forEach((r, i) => {
      const epochs = r.history.train_loss.map((_, e) => e + 1);
      draw(divs[i], [
        { type: "scatter", mode: "lines", name: "train", x: epochs, y: r.history.train_loss, line: { color: colorAt(0), width: 2 } },
        { type: "scatter", mode: "lines", name: "validation", x: epochs, y: r.history.val_loss, line: { color: colorAt(1), width: 2 } },
      ], { title: `${r.name}: gap ${fmt(r.gap, 3)}`, xaxis: { title: "epoch" }, yaxis: { title: "loss", type: "log", range: yr },
        legend: { orientation: "h", y: 1.02, x: 1, xanchor: "right", yanchor: "bottom" }, margin: { t: 40, b: 40 } });
    });
    const col = (a) => a.map((p) => (Array.isArray(p) ? p[0] : p));
    const traces = [
      { type: "scatter", mode: "markers", name: "validation points", x: col(data.x_val), y: data.y_val, marker: { color: "#ced4da", size: 5 } },
      { type: "scatter", mode: "markers", name: "training points", x: col(data.x_train), y: data.y_train, marker: { color: "#1d2430", size: 7 } },
    ];
    res.runs.forEach((r, i) => {
      const p = r.prediction;
      if (p && p.kind === "line" && p.x && p.y) traces.push({ type: "scatter", mode: "lines", name: `${r.name}`, x: p.x, y: p.y, line: { color: colorAt(i + 2), width: 2.5 } });
    });
    draw(fitDiv, traces, { title: "What each model learned (curves) from the training points (black)", xaxis: { title: "x" }, yaxis: { title: "y" } });
    summaryBox.replaceChildren(table(["variant", "final train loss", "final validation loss", "gap (val − train)", "best epoch"],
      res.runs.map((r) => [r.name, r.final_train_loss ?? r.history.train_loss.at(-1), r.final_val_loss ?? r.history.val_loss.at(-1), r.gap, r.best_epoch])));
  }

  await compute();
}
