// Shared by the regularization and convergence sections: dataset, model and optimizer controls, and the
// body of POST /api/v1/training/{run,stream,compare}.

import { slider, select, textInput, fmt, parseNumbers } from "./ui.js";
import { entries, options, pick, find, has } from "./catalog.js";

export function trainingControls(catalog, { onChange, prefix, nTrain = 30, noise = 0.3, hidden = "32, 32", epochs = 300, lr = 0.01,
  optimizer = "adam", activation = "tanh", batch = 32 }) {
  // the explorer draws fitted curves, so it offers the one-input regression sets
  const all = entries(catalog, "datasets");
  const regression = all.filter((d) => d.task === "regression" && (d.n_inputs ?? 1) === 1);
  const datasets = regression.length ? regression : all;
  const opts = entries(catalog, "optimizers");
  const ds = select({ label: "Dataset", name: `${prefix}-dataset`, options: options(datasets), value: pick(datasets, "sine"), onChange });
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
  return {
    roots: {
      data: [ds.root, n.root, nz.root],
      model: [hid.root, act && act.root].filter(Boolean),
      train: [opt.root, lrS.root, ep.root, bs.root, seed.root],
    },
    dataset: ds,
    datasetBody() {
      return { name: ds.value, n_train: Math.round(n.value), noise: Number(nz.value.toFixed(3)), seed: Math.round(seed.value) };
    },
    body() {
      // text that is not a list of numbers goes as it is, for the API to name what is wrong
      const parsed = parseNumbers(hid.value);
      const hiddenW = parsed ? parsed.map(Math.round) : hid.value.trim() ? [hid.value] : [];
      const entry = find(all, ds.value) || {};
      const model = { layers: [entry.n_inputs || 1, ...hiddenW, 1] };
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
