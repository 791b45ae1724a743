// Shared by the regularization and convergence sections: dataset, model and optimizer controls, and the
// body of POST /api/v1/training/{run,stream,compare}.

import { el, slider, select, textInput, fmt, parseNumbers } from "./ui.js";
import { entries, options, pick, find, has } from "./catalog.js";

const PASTE = "__csv"; // the dataset menu's entry that opens the CSV box

// A starting point for the box: 16 points of y = x³ − x (typed, not computed), the target in the last column.
const SAMPLE_CSV = ["x,y", "-1.5,-1.875", "-1.3,-0.897", "-1.1,-0.231", "-0.9,0.171", "-0.7,0.357", "-0.5,0.375",
  "-0.3,0.273", "-0.1,0.099", "0.1,-0.099", "0.3,-0.273", "0.5,-0.375", "0.7,-0.357", "0.9,-0.171", "1.1,0.231",
  "1.3,0.897", "1.5,1.875"].join("\n");

// The pasted CSV's rows as numbers (header skipped), for drawing the user's own points.
export function csvPoints(text) {
  const rows = String(text).split(/\r?\n/).map((l) => l.split(",").map((c) => Number(c.trim())));
  return rows.filter((r) => r.length >= 2 && r.every(Number.isFinite));
}

export function trainingControls(catalog, { onChange, prefix, nTrain = 30, noise = 0.3, hidden = "32, 32", epochs = 300, lr = 0.01,
  optimizer = "adam", activation = "tanh", batch = 32 }) {
  // the explorer draws fitted curves, so it offers the one-input regression sets
  const all = entries(catalog, "datasets");
  const regression = all.filter((d) => d.task === "regression" && (d.n_inputs ?? 1) === 1);
  const datasets = regression.length ? regression : all;
  const opts = entries(catalog, "optimizers");
  const ds = select({ label: "Dataset", name: `${prefix}-dataset`, options: [...options(datasets), { value: PASTE, label: "Your data (paste CSV)…" }],
    value: pick(datasets, "sine"), onChange: () => { showData(); onChange(); } });
  // the user's own rows: comma-separated, header optional, the target in the last column; the API checks them and
  // names the line and column of anything it refuses
  const csv = el("textarea", { name: `${prefix}-csv`, spellcheck: "false", "aria-label": "Your data as CSV" });
  csv.value = SAMPLE_CSV;
  csv.addEventListener("input", () => onChange());
  const dataBox = el("div", { class: "ctl data-box", hidden: true }, csv,
    el("span", { class: "hint", text: "CSV: one row per point, features then the target (last column); a quarter is held out for validation" }));
  const maxTrain = Math.min(300, (catalog.limits || {}).max_train_samples || 300);
  const n = slider({ label: "Training points", name: `${prefix}-n-train`, min: 5, max: maxTrain, step: 1, value: nTrain, format: (v) => String(Math.round(v)), onInput: onChange });
  const nz = slider({ label: "Noise", name: `${prefix}-noise`, min: 0, max: 1, step: 0.01, value: noise, format: (v) => v.toFixed(2), onInput: onChange });
  const hid = textInput({ label: "Hidden layers", name: `${prefix}-hidden`, value: hidden, hint: "widths, e.g. 32, 32", onChange });
  // activations and initializations come with the networks' catalog sections; without them the
  // engine's defaults apply and no menu is shown
  const act = has(catalog, "activations")
    ? select({ label: "Activation", name: `${prefix}-activation`, options: options(catalog.activations), value: pick(catalog.activations, activation, "tanh"), onChange })
    : null;
  const opt = select({ label: "Optimizer", name: `${prefix}-optimizer`, options: options(opts), value: pick(opts, optimizer, "sgd"), onChange });
  const lrS = slider({ label: "Learning rate", name: `${prefix}-lr`, min: 1e-4, max: 1, log: true, value: lr, format: (v) => fmt(v, 3), onInput: onChange });
  const ep = slider({ label: "Epochs", name: `${prefix}-epochs`, min: 10, max: 2000, step: 10, value: epochs, format: (v) => String(Math.round(v)), onInput: onChange });
  const bs = slider({ label: "Batch size", name: `${prefix}-batch`, min: 1, max: 256, step: 1, value: batch, format: (v) => String(Math.round(v)), onInput: onChange });
  const seed = slider({ label: "Seed", name: `${prefix}-seed`, min: 0, max: 99, step: 1, value: 0, format: (v) => String(Math.round(v)), onInput: onChange });
  const own = () => ds.value === PASTE;
  function showData() {
    dataBox.hidden = !own();
    n.root.hidden = own();
    nz.root.hidden = own();
  }
  return {
    roots: {
      data: [ds.root, dataBox, n.root, nz.root],
      model: [hid.root, act && act.root].filter(Boolean),
      train: [opt.root, lrS.root, ep.root, bs.root, seed.root],
    },
    dataset: ds,
    own,
    csvText() { return csv.value; },
    datasetBody() {
      if (own()) return { name: "csv", csv: csv.value, task: "regression", val_fraction: 0.25, seed: Math.round(seed.value) };
      return { name: ds.value, n_train: Math.round(n.value), noise: Number(nz.value.toFixed(3)), seed: Math.round(seed.value) };
    },
    body() {
      // text that is not a list of numbers goes as it is, for the API to name what is wrong
      const parsed = parseNumbers(hid.value);
      const hiddenW = parsed ? parsed.map(Math.round) : hid.value.trim() ? [hid.value] : [];
      const entry = find(all, ds.value) || {};
      // pasted rows: as many inputs as the first line has columns before the target
      const firstLine = csv.value.split(/\r?\n/).find((l) => l.trim()) || "";
      const inputs = own() ? Math.max(1, firstLine.split(",").length - 1) : entry.n_inputs || 1;
      const model = { layers: [inputs, ...hiddenW, 1] };
      if (act) model.activation = act.value;
      return {
        dataset: this.datasetBody(),
        model,
        optimizer: { name: opt.value, lr: lrS.value },
        epochs: Math.round(ep.value),
        batch_size: Math.round(bs.value),
        seed: Math.round(seed.value),
      };
    },
  };
}
