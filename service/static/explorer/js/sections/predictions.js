// 1. Predicted vs actual: three class probabilities against a one-hot truth, scored by MSE and cross-entropy.

import { postJSON, latest } from "../api.js";
import { el, slider, select, checkbox, debounce, fmt, layoutBody, track, metric, group } from "../ui.js";
import { draw, colorAt } from "../plots.js";

const CLASSES = ["Cat", "Dog", "Bird"];
const LOSSES = [
  { name: "mse", label: "Mean squared error" },
  { name: "cross_entropy", label: "Cross-entropy" },
];

export async function init(section, { status }) {
  const { controls, figures } = layoutBody(section);
  const state = { raw: [0.7, 0.2, 0.1] };

  const renorm = checkbox({ label: "Renormalise to sum 1", checked: true, onChange: () => { rebalance(-1); refresh(); } });
  const truth = select({
    label: "The true label",
    options: CLASSES.map((c, i) => ({ value: String(i), label: c })),
    value: "0",
    onChange: () => refresh(),
  });
  const sliders = CLASSES.map((c, i) => slider({
    label: `P(${c})`, name: `p-${c.toLowerCase()}`, min: 0.01, max: 0.98, step: 0.01, value: state.raw[i],
    format: (v) => v.toFixed(2),
    onInput: (v) => { state.raw[i] = v; rebalance(i); refresh(); },
  }));
  const sumNote = el("p", { class: "note" });

  // With renormalisation on, moving one slider rescales the other two so the three still sum to 1
  // (a softmax output always does); off, the predictions are sent exactly as set.
  function rebalance(moved) {
    if (!renorm.value) return;
    if (moved < 0) {
      const s = state.raw.reduce((a, b) => a + b, 0);
      state.raw = state.raw.map((v) => v / s);
    } else {
      const rest = state.raw.reduce((a, b, j) => (j === moved ? a : a + b), 0);
      const want = 1 - state.raw[moved];
      state.raw = state.raw.map((v, j) => (j === moved ? v : rest > 0 ? (v * want) / rest : want / 2));
    }
    state.raw = state.raw.map((v) => Math.min(0.99, Math.max(0.005, v)));
    sliders.forEach((s, j) => { if (j !== moved) s.value = state.raw[j]; });
  }

  const readouts = LOSSES.map((l) => metric(l.label));
  controls.append(
    group("Predictions", ...sliders.map((s) => s.root), renorm.root, sumNote),
    truth.root,
    el("div", { class: "readout" }, readouts.map((r) => r.root)),
  );

  const barDiv = el("div", { class: "plot", id: "plot-predictions" });
  const gradDiv = el("div", { class: "plot", id: "plot-predictions-gradient" });
  const historyDiv = el("div", { class: "plot short", id: "plot-predictions-history" });
  const two = el("div", { class: "figures two" }, barDiv, gradDiv);
  figures.append(two, historyDiv);

  const refresh = debounce(() => compute(), 120); // every control change, debounced
  const history = { mse: [], cross_entropy: [] };
  const run = latest();

  async function compute() {
    const predictions = state.raw.map((v) => Number(v.toFixed(4)));
    const k = Number(truth.value);
    const targets = CLASSES.map((_, i) => (i === k ? 1 : 0));
    const sum = predictions.reduce((a, b) => a + b, 0);
    sumNote.textContent = `Sum of predictions: ${sum.toFixed(3)}${renorm.value ? " (renormalised)" : " (not renormalised)"}`;
    const results = await track(status, () => run((signal) => Promise.all(LOSSES.map((l) =>
      postJSON("api/v1/losses/evaluate", { loss: l.name, predictions, targets }, { signal })))), "losses/evaluate");
    if (!results) return;
    results.forEach((r, i) => readouts[i].set(fmt(r.value, 5)));
    results.forEach((r, i) => {
      history[LOSSES[i].name].push(r.value);
      if (history[LOSSES[i].name].length > 60) history[LOSSES[i].name].shift();
    });

    draw(barDiv, [
      { type: "bar", name: "prediction", x: CLASSES, y: predictions, marker: { color: colorAt(0) },
        text: predictions.map((p) => p.toFixed(2)), textposition: "outside", cliponaxis: false },
      { type: "bar", name: "actual (one-hot)", x: CLASSES, y: targets, marker: { color: "#c9ced6" } },
    ], { title: "Predicted vs actual", barmode: "group", yaxis: { range: [0, 1.15], title: "probability" } });

    draw(gradDiv, results.map((r, i) => ({
      type: "bar", name: `∂${LOSSES[i].name === "mse" ? "MSE" : "CE"}/∂p`, x: CLASSES, y: r.gradient,
      marker: { color: colorAt(i + 1) },
    })), { title: "Gradient sent back to each prediction", barmode: "group", yaxis: { title: "∂loss/∂prediction" } });

    draw(historyDiv, LOSSES.map((l, i) => ({
      type: "scatter", mode: "lines+markers", name: l.label, y: history[l.name].slice(), marker: { size: 4 },
      line: { color: colorAt(i + 1) },
    })), { title: "Loss after each change (most recent on the right)", xaxis: { title: "change", showticklabels: false },
      yaxis: { title: "loss" }, margin: { t: 32, b: 30 } });
  }

  await compute();
}
