// 8. Vanishing / exploding gradients: per-layer gradient norms of a deep net, with switches for the fixes.

import { postJSON, latest } from "../api.js";
import { el, slider, select, checkbox, debounce, layoutBody, track, fmt, metric, group, paramControls } from "../ui.js";
import { entries, options, pick, find, params } from "../catalog.js";
import { draw, colorAt } from "../plots.js";

const VERDICT_CLASS = { vanishing: "warn", exploding: "bad", healthy: "good", stable: "good" };

export async function init(section, { catalog, status }) {
  const acts = entries(catalog, "activations");
  const inits = entries(catalog, "initializations");
  const { controls, figures } = layoutBody(section);

  const depth = slider({ label: "Depth (layers)", name: "depth", min: 2, max: 60, step: 1, value: 20, format: (v) => String(Math.round(v)), onInput: () => refresh() });
  const width = slider({ label: "Width", name: "width", min: 4, max: 128, step: 4, value: 32, format: (v) => String(Math.round(v)), onInput: () => refresh() });
  const act = select({ label: "Activation", name: "activation", options: options(acts), value: pick(acts, "sigmoid", "tanh"), onChange: () => refresh() });
  const ini = select({ label: "Initialisation", name: "init", options: options(inits), value: pick(inits, "normal", "xavier_normal"), onChange: () => { rebuildInit(); refresh(); } });
  const initHolder = el("div", {});
  let initParams = null;
  function rebuildInit() {
    initParams = paramControls(params(find(inits, ini.value)), () => refresh());
    initHolder.replaceChildren(initParams.root);
  }
  rebuildInit();
  const residual = checkbox({ label: "Residual connections", name: "residual", onChange: () => refresh() });
  const bn = checkbox({ label: "Batch norm", name: "batch-norm", onChange: () => refresh() });
  const clipOn = checkbox({ label: "Clip gradient norm", name: "clip", onChange: () => refresh() });
  const clipMax = slider({ label: "Max norm", name: "max-norm", min: 0.01, max: 100, log: true, value: 1, format: (v) => fmt(v, 3), onInput: () => clipOn.value && refresh() });
  const seed = slider({ label: "Seed", name: "gp-seed", min: 0, max: 99, step: 1, value: 0, format: (v) => String(Math.round(v)), onInput: () => refresh() });
  const mVerdict = metric("verdict");
  const mRatio = metric("first / last layer gradient");
  const rule = el("p", { class: "note" });
  controls.append(depth.root, width.root, act.root, ini.root, initHolder,
    group("Fixes", residual.root, bn.root, clipOn.root, clipMax.root), seed.root,
    el("div", { class: "readout" }, mVerdict.root, mRatio.root));

  const plotDiv = el("div", { class: "plot tall", id: "plot-gradients" });
  figures.append(plotDiv, rule);

  const run = latest();
  const refresh = debounce(() => compute(), 200);

  async function compute() {
    const body = { depth: Math.round(depth.value), width: Math.round(width.value), activation: act.value,
      init: { name: ini.value, ...initParams.values() }, residual: residual.value, batch_norm: bn.value, seed: Math.round(seed.value) };
    if (clipOn.value) body.clip = { max_norm: clipMax.value };
    const res = await track(status, () => run((signal) => postJSON("api/v1/networks/gradient-profile", body, { signal })), "networks/gradient-profile");
    if (!res) return;
    const names = res.layers.map((l) => `L${l.layer}`);
    mVerdict.root.querySelector(".v").replaceChildren(el("span", { class: `status-pill ${VERDICT_CLASS[res.verdict] || ""}`, text: res.verdict }));
    mRatio.set(fmt(res.first_over_last, 3));
    const clipNote = res.clip
      ? `Clipping (${res.clip.kind} ${fmt(res.clip.threshold, 3)}): the global gradient norm goes from ${fmt(res.clip.global_norm_before)} to ${fmt(res.clip.global_norm_after)}. `
        + "It rescales every layer by the same factor, so it caps an exploding step but leaves the first/last ratio as it is. "
      : "";
    rule.textContent = `${clipNote}${res.rule || ""}`;
    const positive = (a) => a.map((v) => (v > 0 ? v : null));
    draw(plotDiv, [
      { type: "bar", name: "weight gradient ‖∂L/∂W‖", x: names, y: positive(res.layers.map((l) => l.weight_grad_norm)), marker: { color: colorAt(0) } },
      { type: "scatter", mode: "lines+markers", name: "activation gradient ‖∂L/∂a‖", x: names, y: positive(res.layers.map((l) => l.activation_grad_norm)),
        line: { color: colorAt(1), width: 2 }, marker: { size: 5 } },
      ...(res.clip && Array.isArray(res.clip.weight_grad_norm_after) ? [{ type: "bar", name: `after clipping (${res.clip.kind} ${fmt(res.clip.threshold, 3)})`,
        x: names, y: positive(res.clip.weight_grad_norm_after), marker: { color: colorAt(2) } }] : []),
    ], { title: `Gradient size per layer (input on the left): ${res.verdict}${res.status === "overflow" ? " (values overflowed float64)" : ""}`, barmode: "group", xaxis: { title: "layer", type: "category" },
      yaxis: { title: "norm (log scale)", type: "log", exponentformat: "power" }, legend: { orientation: "h", y: -0.2 } });
  }

  await compute();
}
