// Shared by the regularization and convergence sections: dataset and model controls, and a training body.

import { slider, select, textInput, el, fmt, parseNumbers } from "./ui.js";
import { entries, options, pick, find, param } from "./catalog.js";

export function trainingControls(catalog, { onChange, prefix, nTrain = 30, noise = 0.3, hidden = "32, 32", epochs = 300, lr = 0.01,
  optimizer = "adam", activation = "tanh" }) {
  const datasets = entries(catalog, "datasets").filter((d) => d.task !== "classification" && (d.n_inputs ?? 1) === 1);
  const acts = entries(catalog, "activations");
  const opts = entries(catalog, "optimizers");
  const inits = catalog.initializations || [];
  const ds = select({ label: "Dataset", name: `${prefix}-dataset`, options: options(datasets.length ? datasets : entries(catalog, "datasets")), value: pick(datasets.length ? datasets : catalog.datasets, "sine"), onChange });
  const maxTrain = (param(find(catalog.datasets, ds.value), "n_train") || {}).high || (catalog.limits || {}).max_train_samples || 500;
  const n = slider({ label: "Training points", name: `${prefix}-n-train`, min: 5, max: Math.min(300, maxTrain), step: 1, value: nTrain, format: (v) => String(Math.round(v)), onInput: onChange });
  const nz = slider({ label: "Noise", name: `${prefix}-noise`, min: 0, max: 1, step: 0.01, value: noise, format: (v) => v.toFixed(2), onInput: onChange });
  const hid = textInput({ label: "Hidden layers", name: `${prefix}-hidden`, value: hidden, hint: "widths, e.g. 32, 32", onChange });
  const act = select({ label: "Activation", name: `${prefix}-activation`, options: options(acts), value: pick(acts, activation, "tanh"), onChange });
  const opt = select({ label: "Optimizer", name: `${prefix}-optimizer`, options: options(opts), value: pick(opts, optimizer, "sgd"), onChange });
  const lrS = slider({ label: "Learning rate", name: `${prefix}-lr`, min: 1e-4, max: 1, log: true, value: lr, format: (v) => fmt(v, 3), onInput: onChange });
  const ep = slider({ label: "Epochs", name: `${prefix}-epochs`, min: 10, max: 2000, step: 10, value: epochs, format: (v) => String(Math.round(v)), onInput: onChange });
  const seed = slider({ label: "Seed", name: `${prefix}-seed`, min: 0, max: 99, step: 1, value: 0, format: (v) => String(Math.round(v)), onInput: onChange });
  return {
    roots: { data: [ds.root, n.root, nz.root], model: [hid.root, act.root], train: [opt.root, lrS.root, ep.root, seed.root] },
    dataset: ds,
    hiddenValid() { return parseNumbers(hid.value) !== null || hid.value.trim() === ""; },
    datasetBody() {
      return { name: ds.value, n_train: Math.round(n.value), noise: Number(nz.value.toFixed(3)), seed: Math.round(seed.value) };
    },
    body() {
      const hiddenW = (parseNumbers(hid.value) || []).map(Math.round);
      const entry = find(catalog.datasets, ds.value) || {};
      const nIn = entry.n_inputs || 1;
      const model = { layers: [nIn, ...hiddenW, 1], activation: act.value };
      if (inits.length) model.init = { name: pick(inits, act.value === "relu" ? "kaiming_normal" : "xavier_normal", "xavier_uniform") };
      return {
        dataset: this.datasetBody(),
        model,
        optimizer: { name: opt.value, lr: lrS.value },
        epochs: Math.round(ep.value),
        seed: Math.round(seed.value),
      };
    },
  };
}

export { el };
