// An optimizer menu from the catalog: name, learning rate on a log slider, and the other parameters.

import { select, slider, paramControls, el, fmt } from "./ui.js";
import { entries, options, find, pick, param, params } from "./catalog.js";

export function optimizerMenu(catalog, { preferred = ["sgd"], lr, onChange, label = "Optimizer", name = "optimizer", showParams = true }) {
  const list = entries(catalog, "optimizers");
  const sel = select({ label, name, options: options(list), value: pick(list, ...preferred), onChange: () => { rebuild(true); onChange(); } });
  const lrSlider = slider({ label: "Learning rate", name: `${name}-lr`, min: 1e-5, max: 3, log: true, value: lr ?? 0.01,
    format: (v) => fmt(v, 3), onInput: () => onChange() });
  const holder = el("div", {});
  let pc = null;
  function rebuild(resetLr) {
    const entry = find(list, sel.value);
    const p = param(entry, "lr");
    if (resetLr && p && typeof p.default === "number" && p.default > 0) lrSlider.value = p.default;
    pc = showParams ? paramControls(params(entry), () => onChange(), { skip: ["lr", "maximize"] }) : null;
    holder.replaceChildren(pc && !pc.empty
      ? el("details", { class: "more" }, el("summary", {}, `${(entry && entry.title) || sel.value} settings`), pc.root) : "");
  }
  rebuild(false);
  return {
    root: el("div", { class: "ctl-stack" }, sel.root, lrSlider.root, holder),
    select: sel,
    lr: lrSlider,
    get name() { return sel.value; },
    entry() { return find(list, sel.value); },
    body() { return { name: sel.value, lr: lrSlider.value, ...(pc ? pc.values() : {}) }; },
  };
}

// The default learning rate the catalog gives an optimizer (for races where each runs at its own).
export function defaultLr(catalog, name, fallback = 0.01) {
  try {
    const p = param(find(entries(catalog, "optimizers"), name), "lr");
    return p && typeof p.default === "number" && p.default > 0 ? p.default : fallback;
  } catch (_) {
    return fallback;
  }
}
