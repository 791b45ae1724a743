// 2. Loss zoo: each chosen loss's penalty curve and its derivative, grouped by what the x axis means.

import { postJSON, latest } from "../api.js";
import { el, slider, checkbox, debounce, layoutBody, track, group, titleCase } from "../ui.js";
import { entries } from "../catalog.js";
import { draw, colorAt } from "../plots.js";

const PREFERRED = ["mse", "l1", "mae", "huber", "log_cosh", "cross_entropy", "binary_cross_entropy", "hinge"];

export async function init(section, { catalog, status }) {
  const losses = entries(catalog, "losses");
  const { controls, figures } = layoutBody(section);
  const preferred = PREFERRED.filter((n) => losses.some((l) => l.name === n)).slice(0, 4);
  const chosen = new Set(preferred.length ? preferred : losses.slice(0, 3).map((l) => l.name));
  const colorOf = new Map(losses.map((l, i) => [l.name, colorAt(i)]));

  const boxes = losses.map((l) => checkbox({
    label: l.title || titleCase(l.name), name: `loss-${l.name}`, checked: chosen.has(l.name),
    onChange: (on) => { if (on) chosen.add(l.name); else chosen.delete(l.name); refresh(); },
  }));
  const points = slider({ label: "Points per curve", name: "points", min: 21, max: 801, step: 20, value: 201,
    format: (v) => String(Math.round(v)), onInput: () => refresh() });
  controls.append(group("Losses", el("div", { class: "checks" }, boxes.map((b) => b.root))), points.root);

  const run = latest();
  const refresh = debounce(() => compute(), 150);

  async function compute() {
    const names = losses.map((l) => l.name).filter((n) => chosen.has(n));
    if (!names.length) {
      figures.replaceChildren(el("p", { class: "note", text: "Choose at least one loss." }));
      return;
    }
    const res = await track(status, () => run((signal) => postJSON("api/v1/losses/curves",
      { losses: names, points: Math.round(points.value) }, { signal })), "losses/curves");
    if (!res) return;

    // one row of (value, derivative) per x-axis meaning: residual-type losses and probability-type
    // losses live on different axes
    const groups = new Map();
    for (const c of res.curves) {
      const key = c.x_label || "x";
      if (!groups.has(key)) groups.set(key, []);
      groups.get(key).push(c);
    }
    const rows = [];
    let gi = 0;
    for (const [xLabel, curves] of groups) {
      const valueDiv = el("div", { class: "plot", id: `plot-losszoo-value-${gi}` });
      const derivDiv = el("div", { class: "plot", id: `plot-losszoo-derivative-${gi}` });
      rows.push({ xLabel, curves, valueDiv, derivDiv });
      gi += 1;
    }
    figures.replaceChildren(...rows.map((r) => el("div", { class: "figures two" }, r.valueDiv, r.derivDiv)));
    for (const r of rows) {
      const trace = (c, key) => ({
        type: "scatter", mode: "lines", name: titleOf(c.loss), x: c.x, y: c[key],
        line: { color: colorOf.get(c.loss), width: 2 }, legendgroup: c.loss, showlegend: key === "value",
      });
      draw(r.valueDiv, r.curves.map((c) => trace(c, "value")),
        { title: "Penalty", xaxis: { title: r.xLabel }, yaxis: { title: "loss" } });
      draw(r.derivDiv, r.curves.map((c) => trace(c, "derivative")),
        { title: "Derivative (the push back)", xaxis: { title: r.xLabel }, yaxis: { title: "d loss / d x" } });
    }
  }

  const titleOf = (name) => {
    const e = losses.find((l) => l.name === name);
    return (e && e.title) || titleCase(name);
  };

  await compute();
}
