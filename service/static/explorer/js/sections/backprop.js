// 7. Backprop: a small net's forward values and backward gradients, the chain rule for one weight, the
// gradient check and the measured cost of backprop against finite differences.

import { postJSON, latest } from "../api.js";
import { el, slider, select, textInput, debounce, layoutBody, track, fmt, metric, parseNumbers, group } from "../ui.js";
import { entries, options, pick } from "../catalog.js";
import { draw, colorAt } from "../plots.js";

const SVGNS = "http://www.w3.org/2000/svg";
const svg = (tag, attrs = {}, text) => {
  const n = document.createElementNS(SVGNS, tag);
  for (const [k, v] of Object.entries(attrs)) n.setAttribute(k, v);
  if (text !== undefined) n.textContent = text;
  return n;
};

// first sample of a [batch][width] array, or the array itself when it is already 1-D
const firstRow = (a) => (Array.isArray(a) && Array.isArray(a[0]) ? a[0] : a || []);
const norm = (m) => Math.sqrt((m || []).flat(Infinity).reduce((s, v) => s + v * v, 0));

export async function init(section, { catalog, status }) {
  const acts = entries(catalog, "activations");
  const inits = entries(catalog, "initializations");
  const losses = entries(catalog, "losses");
  const { controls, figures } = layoutBody(section, { wide: true });

  const layers = textInput({ label: "Layer widths", name: "layers", value: "2, 4, 4, 1", hint: "input, hidden…, output", onChange: () => refresh() });
  const act = select({ label: "Activation", name: "bp-activation", options: options(acts), value: pick(acts, "tanh", "relu"), onChange: () => refresh() });
  const ini = select({ label: "Initialisation", name: "bp-init", options: options(inits), value: pick(inits, "xavier_normal", "xavier_uniform", "kaiming_normal"), onChange: () => refresh() });
  const loss = select({ label: "Loss", name: "bp-loss", options: options(losses.filter((l) => !/cross_entropy|hinge|kl/.test(l.name))), value: pick(losses, "mse"), onChange: () => refresh() });
  const inputs = textInput({ label: "Input x", name: "inputs", value: "0.5, -1.0", onChange: () => refresh() });
  const targets = textInput({ label: "Target y", name: "targets", value: "1.0", onChange: () => refresh() });
  const seed = slider({ label: "Weight seed", name: "bp-seed", min: 0, max: 99, step: 1, value: 0, format: (v) => String(Math.round(v)), onInput: () => refresh() });
  const mLoss = metric("loss");
  const mCheck = metric("gradient check (max rel. error)");
  const mRatio = metric("backward / forward time");
  const mParams = metric("parameters");
  controls.append(group("Network", layers.root, act.root, ini.root, loss.root, seed.root), group("One example", inputs.root, targets.root),
    el("div", { class: "readout" }, mLoss.root, mCheck.root, mRatio.root, mParams.root));

  const netBox = el("div", { class: "netfig", id: "backprop-net" });
  const chainBox = el("div", { class: "chain", id: "backprop-chain" });
  const costDiv = el("div", { class: "plot short", id: "plot-backprop-cost" });
  const normDiv = el("div", { class: "plot short", id: "plot-backprop-norms" });
  figures.append(netBox, chainBox, el("div", { class: "figures two" }, normDiv, costDiv));

  const run = latest();
  const refresh = debounce(() => compute(), 250);

  async function compute() {
    const widths = parseNumbers(layers.value);
    const x = parseNumbers(inputs.value);
    const y = parseNumbers(targets.value);
    if (!widths || !x || !y) {
      status.fail(new Error("layer widths, input and target must be comma-separated numbers"), "networks/backprop");
      return;
    }
    const body = { layers: widths.map(Math.round), activation: act.value, init: { name: ini.value }, loss: loss.value,
      inputs: [x], targets: [y], seed: Math.round(seed.value) };
    const res = await track(status, () => run((signal) => postJSON("api/v1/networks/backprop", body, { signal })), "networks/backprop");
    if (!res) return;
    mLoss.set(fmt(res.loss));
    const gc = res.gradcheck || {};
    mCheck.set(fmt(gc.max_rel_error, 3));
    const c = res.cost || {};
    mRatio.set(c.backward_over_forward !== undefined ? `${fmt(c.backward_over_forward, 3)}×` : "—");
    mParams.set(c.parameters !== undefined ? String(c.parameters) : "—");
    drawNet(netBox, body.layers, res, x, act.value);
    drawChain(chainBox, res.chain_rule);
    const nl = (res.backward || []).length;
    draw(normDiv, [{ type: "bar", name: "‖∂L/∂W‖", x: Array.from({ length: nl }, (_, i) => `W${i + 1}`), y: (res.backward || []).map((b) => norm(b.dW)), marker: { color: colorAt(3) } }],
      { title: "Gradient size per weight matrix", yaxis: { title: "‖∂L/∂W‖", type: "log" }, showlegend: false, margin: { t: 32, b: 40 } });
    draw(costDiv, [{ type: "bar", name: "seconds", x: ["forward", "backward", "finite differences"], y: [c.forward_s, c.backward_s, c.finite_difference_s],
      text: [c.forward_s, c.backward_s, c.finite_difference_s].map((v) => `${fmt(v * 1e6, 3)} µs`), textposition: "outside", cliponaxis: false,
      marker: { color: [colorAt(0), colorAt(2), colorAt(1)] } }],
      { title: "Measured cost of one gradient", yaxis: { title: "seconds (log)", type: "log" }, showlegend: false, margin: { t: 32, b: 40 } });
  }

  await compute();
}

function drawNet(box, widths, res, x, activation) {
  const forward = res.forward || [];
  const backward = res.backward || [];
  const L = widths.length;
  // forward[k] may start at the input layer (L entries) or at the first hidden layer (L - 1)
  const offset = forward.length === L ? 0 : 1;
  const values = widths.map((w, l) => (l === 0 && offset === 1 ? x : firstRow((forward[l - offset] || {}).a)));
  const grads = widths.map((w, l) => (l === 0 && offset === 1 ? null : firstRow((backward[l - offset] || {}).dz)));
  const maxW = Math.max(...widths);
  const W = 140 * L + 60;
  const H = Math.max(220, 62 * maxW + 70);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "network diagram with forward values and backward gradients" });
  const px = (l) => 60 + l * 140;
  const py = (l, i) => 50 + ((H - 80) * (i + 0.5)) / widths[l];
  const weights = res.weights || [];
  const wMax = Math.max(1e-12, ...weights.flat(Infinity).map(Math.abs));
  const edges = svg("g", {});
  for (let l = 0; l + 1 < L; l += 1) {
    const Wl = weights[l] || [];
    for (let i = 0; i < widths[l]; i += 1) {
      for (let j = 0; j < widths[l + 1]; j += 1) {
        const w = Wl[i] && Wl[i][j] !== undefined ? Wl[i][j] : 0;
        const line = svg("line", { x1: px(l), y1: py(l, i), x2: px(l + 1), y2: py(l + 1, j),
          stroke: w >= 0 ? "#2f6fdb" : "#e03131", "stroke-opacity": 0.25 + 0.6 * (Math.abs(w) / wMax), "stroke-width": 0.5 + 3.5 * (Math.abs(w) / wMax) });
        line.append(svg("title", {}, `W${l + 1}[${i},${j}] = ${fmt(w)}`));
        edges.append(line);
      }
    }
  }
  s.append(edges);
  const aMax = Math.max(1e-12, ...values.flat().map((v) => Math.abs(v || 0)));
  for (let l = 0; l < L; l += 1) {
    const title = l === 0 ? "input" : l === L - 1 ? "output" : `hidden ${l} (${activation})`;
    s.append(svg("text", { x: px(l), y: 18, "text-anchor": "middle", class: "layer-title" }, title));
    for (let i = 0; i < widths[l]; i += 1) {
      const a = values[l][i];
      const t = Math.max(-1, Math.min(1, (a || 0) / aMax));
      const fill = t >= 0 ? `rgba(47,111,219,${0.15 + 0.7 * t})` : `rgba(224,49,49,${0.15 - 0.7 * t})`;
      const g = svg("g", { class: "node" });
      g.append(svg("circle", { cx: px(l), cy: py(l, i), r: 15, fill }));
      g.append(svg("text", { x: px(l), y: py(l, i) - 19, "text-anchor": "middle" }, `a ${fmt(a, 3)}`));
      if (grads[l] && grads[l][i] !== undefined) g.append(svg("text", { x: px(l), y: py(l, i) + 29, "text-anchor": "middle", class: "grad" }, `∂ ${fmt(grads[l][i], 3)}`));
      g.append(svg("title", {}, `layer ${l} unit ${i}: value ${fmt(a)}${grads[l] ? `, dL/dz ${fmt(grads[l][i])}` : ""}`));
      s.append(g);
    }
  }
  const legend = svg("text", { x: 8, y: H - 8, class: "layer-title" }, "blue/red edges: positive/negative weight (width ∝ |w|) · a: forward value · ∂: backward gradient dL/dz");
  s.append(legend);
  box.replaceChildren(s);
}

function drawChain(box, chain) {
  if (!chain) { box.textContent = ""; return; }
  const factors = chain.factors || [];
  const term = (f) => {
    if (f && typeof f === "object") return `${f.name || f.label || f.symbol || ""} ${fmt(f.value)}`.trim();
    return fmt(f);
  };
  const agree = chain.product !== undefined && chain.backprop !== undefined
    ? Math.abs(chain.product - chain.backprop) <= 1e-9 * Math.max(1, Math.abs(chain.backprop)) : null;
  box.replaceChildren(
    el("strong", {}, "Chain rule for one weight: "),
    `${factors.map(term).join(" × ")} = ${fmt(chain.product, 6)}`,
    chain.backprop !== undefined ? `  ·  backprop gives ${fmt(chain.backprop, 6)} ${agree === null ? "" : agree ? "✓" : "✗"}` : "",
    chain.weight ? `  (${chain.weight})` : "",
  );
}
