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
const fmtTime = (s) => (!Number.isFinite(s) ? "—" : s >= 1 ? `${fmt(s, 3)} s` : s >= 1e-3 ? `${fmt(s * 1e3, 3)} ms` : `${fmt(s * 1e6, 3)} µs`);
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
  const mFd = metric("finite differences ÷ backprop time");
  controls.append(group("Network", layers.root, act.root, ini.root, loss.root, seed.root), group("One example", inputs.root, targets.root),
    el("div", { class: "readout" }, mLoss.root, mCheck.root, mRatio.root, mFd.root, mParams.root));

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
    mFd.set(Number.isFinite(c.finite_difference_over_backprop) ? `${fmt(c.finite_difference_over_backprop, 3)}×` : "—");
    drawNet(netBox, body.layers, res, x, act.value);
    drawChain(chainBox, res.chain_rule);
    const nl = (res.backward || []).length;
    draw(normDiv, [{ type: "bar", name: "‖∂L/∂W‖", x: Array.from({ length: nl }, (_, i) => `W${i + 1}`), y: (res.backward || []).map((b) => norm(b.dW)), marker: { color: colorAt(3) } }],
      { title: "Gradient size per weight matrix", yaxis: { title: "‖∂L/∂W‖", type: "log" }, showlegend: false, margin: { t: 32, b: 40 } });
    draw(costDiv, [{ type: "bar", name: "seconds", x: ["forward", "backward", "finite differences"], y: [c.forward_s, c.backward_s, c.finite_difference_s],
      text: [c.forward_s, c.backward_s, c.finite_difference_s].map(fmtTime), textposition: "outside", cliponaxis: false,
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
  if (maxW > 16) {
    box.replaceChildren(el("p", { class: "note" }, `The diagram is drawn for layers of at most 16 units (this one has ${maxW}); the numbers and charts below still come from the API.`));
    return;
  }
  const W = 140 * L + 60;
  const H = Math.max(220, 76 * maxW + 50);
  const s = svg("svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": "network diagram with forward values and backward gradients" });
  const px = (l) => 60 + l * 140;
  const py = (l, i) => 50 + ((H - 80) * (i + 0.5)) / widths[l];
  // weights[l] is {W, b} (W of shape [inputs, outputs]) or the bare matrix
  const weights = (res.weights || []).map((w) => (w && w.W ? w.W : w));
  const wMax = Math.max(1e-12, ...weights.flat(Infinity).map(Math.abs));
  // the chain rule's path, drawn on top: input i -> unit j -> through... -> output k
  const path = res.chain_rule && res.chain_rule.path;
  const pathUnits = path ? [path.input, path.unit, ...(path.through || []), path.output] : null;
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
  if (pathUnits && pathUnits.length === L && pathUnits.every(Number.isInteger)) {
    const pts = pathUnits.map((u, l) => `${px(l)},${py(l, u)}`).join(" ");
    const line = svg("polyline", { points: pts, fill: "none", stroke: "#f59f00", "stroke-width": 4, "stroke-opacity": 0.75, "stroke-linejoin": "round" });
    line.append(svg("title", {}, "the path whose chain-rule factors are listed below"));
    s.append(line);
  }
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
  box.replaceChildren(s, el("p", { class: "note" },
    "Edges: blue positive, red negative weight, width ∝ |w|. Orange: the chain-rule path below. "
    + "a: each unit's forward value; ∂: the backward gradient dL/dz reaching it (first sample)."));
}

function drawChain(box, chain) {
  if (!chain) {
    box.replaceChildren(el("span", { class: "note" }, "No chain rule for this network (the API gives none with batch norm)."));
    return;
  }
  const factors = chain.factors || [];
  const p = chain.path || {};
  const agree = Number.isFinite(chain.all_paths_sum) && Number.isFinite(chain.backprop)
    ? Math.abs(chain.all_paths_sum - chain.backprop) <= 1e-9 * Math.max(1e-12, Math.abs(chain.backprop)) + 1e-15 : null;
  const weight = Number.isInteger(p.input) ? `∂L/∂W1[${p.input},${p.unit}]` : "∂L/∂w";
  box.replaceChildren(
    el("div", {}, el("strong", {}, `Chain rule for ${weight} along the orange path, sample ${(p.sample ?? 0) + 1}: `)),
    el("div", { class: "chain-factors" }, factors.map((f, i) => el("span", { class: "factor", title: f.formula || "" },
      i ? " × " : "", el("span", { class: "fname" }, f.name || `f${i + 1}`), ` ${fmt(f.value, 4)}`)), ` = ${fmt(chain.product, 6)}`),
    el("div", { class: "note" },
      chain.n_paths > 1 || chain.path_sum !== chain.product
        ? `This path over all samples: ${fmt(chain.path_sum, 6)}. All ${chain.n_paths} paths, all samples: ${fmt(chain.all_paths_sum, 6)}; `
        : "",
      `backprop's ${weight} = ${fmt(chain.backprop, 6)} ${agree === null ? "" : agree ? "✓ equal" : "✗ differ"}`),
  );
}
