// 6. Optimizer race: several optimizers from one start on one surface; the basin map as a toggle.

import { postJSON, latest } from "../api.js";
import { el, slider, checkbox, select, debounce, layoutBody, track, fmt, group, table, titleCase, paramControls } from "../ui.js";
import { entries, params } from "../catalog.js";
import { surfaceMenu, gridRequest, fetchGrid, contourTrace, clickToData, autoLog } from "../surfaces.js";
import { defaultLr } from "../optimizers.js";
import { draw, drawMap, colorAt } from "../plots.js";

// Learning rates that make a fair race on the default surface; every one is a slider.
const RACE_LR = { sgd: 0.001, "sgd-momentum": 0.001, rmsprop: 0.01, adam: 0.05, adagrad: 0.5, adadelta: 1, adamw: 0.05, adamax: 0.05, nadam: 0.05, radam: 0.05, lion: 0.01 };

export async function init(section, { catalog, status }) {
  const optList = entries(catalog, "optimizers");
  const { controls, figures } = layoutBody(section, { wide: true });
  const menu = surfaceMenu(catalog, { preferred: ["rosenbrock", "beale", "himmelblau"], name: "race-surface", onChange: () => { start = null; newMap(); } });
  const steps = slider({ label: "Steps", name: "race-steps", min: 10, max: 3000, step: 10, value: 1000, format: (v) => String(Math.round(v)), onInput: () => refresh() });
  const view = select({ label: "Show", name: "race-view", options: [{ value: "race", label: "Race: the paths" }, { value: "basins", label: "Basin map: where each start ends" }],
    value: "race", onChange: () => refresh() });

  // one row per catalog optimizer, plus SGD with momentum as its own racer (same engine optimizer,
  // different settings); each row has its learning rate and, folded away, its other settings
  const racerDefs = optList.map((o) => ({ id: o.name, name: o.name, label: o.name === "sgd" ? "SGD (plain)" : o.title || titleCase(o.name), entry: o, initial: {} }));
  if (optList.some((o) => o.name === "sgd")) {
    racerDefs.splice(1, 0, { id: "sgd-momentum", name: "sgd", label: "SGD + momentum 0.9", entry: optList.find((o) => o.name === "sgd"), initial: { momentum: 0.9 } });
  }
  const initial = new Set(["sgd", "sgd-momentum", "rmsprop", "adam"].filter((n) => racerDefs.some((d) => d.id === n)));
  if (!initial.size) racerDefs.slice(0, 3).forEach((d) => initial.add(d.id));
  const rows = racerDefs.map((d, i) => {
    const on = checkbox({ label: d.label, name: `race-${d.id}`, checked: initial.has(d.id), onChange: () => { extra.hidden = !on.value; refresh(); } });
    const lr = slider({ label: "learning rate", name: `race-lr-${d.id}`, min: 1e-5, max: 3, log: true, value: RACE_LR[d.id] ?? defaultLr(catalog, d.name, 0.01),
      format: (v) => fmt(v, 3), onInput: () => refresh() });
    const pc = paramControls(params(d.entry), () => refresh(), { skip: ["lr", "maximize"], initial: d.initial });
    const extra = el("div", { class: "racer-extra" }, lr.root, pc.empty ? "" : el("details", { class: "more" }, el("summary", {}, "settings"), pc.root));
    extra.hidden = !on.value;
    return { id: d.id, name: d.name, label: d.label, color: colorAt(i), on, lr, spec: () => ({ name: d.name, lr: lr.value, ...pc.values() }), root: el("div", { class: "racer" }, on.root, extra) };
  });
  const basinOpt = select({ label: "Basin-map optimizer", name: "basin-optimizer", options: rows.map((r) => ({ value: r.id, label: r.label })), value: [...initial][0], onChange: () => view.value === "basins" && refresh() });
  const basinMenu = surfaceMenu(catalog, { preferred: ["himmelblau", "six_hump_camel"], name: "basin-surface", label: "Basin-map surface", onChange: () => view.value === "basins" && refresh() });
  const basinRes = slider({ label: "Basin-map resolution", name: "basin-resolution", min: 10, max: 120, step: 5, value: 60, format: (v) => `${Math.round(v)} × ${Math.round(v)}`, onInput: () => view.value === "basins" && refresh() });
  const note = el("p", { class: "note" });

  controls.append(menu.root, steps.root, view.root,
    group("Racers (each with its own learning rate)", ...rows.map((r) => r.root)),
    group("Basin map", basinMenu.root, basinOpt.root, basinRes.root), note);

  const mapDiv = el("div", { class: "plot tall", id: "plot-race" });
  const lossDiv = el("div", { class: "plot short", id: "plot-race-loss" });
  const summaryBox = el("div", {});
  figures.append(mapDiv, lossDiv, summaryBox);

  let grid = null;
  let start = null;
  const gridRun = latest();
  const run = latest();
  const refresh = debounce(() => compute(), 250);

  async function newMap() {
    const g = await track(status, () => gridRun((signal) => fetchGrid(gridRequest(menu, { resolution: [90, 90] }), signal)), "landscapes/grid");
    if (!g) return;
    grid = g;
    if (!start) {
      const [[x0, x1], [y0, y1]] = menu.domain();
      start = [x0 + 0.2 * (x1 - x0), y0 + 0.8 * (y1 - y0)];
    }
    await compute();
  }

  const chosen = () => rows.filter((r) => r.on.value);

  async function compute() {
    if (!grid) return;
    if (view.value === "basins") return computeBasins();
    const racers = chosen();
    if (!racers.length) { note.textContent = "Pick at least one optimizer."; return; }
    const body = { surface: menu.name, start: start.map((v) => Number(v.toFixed(4))), steps: Math.round(steps.value),
      optimizers: racers.map((r) => r.spec()) };
    const sp = menu.params();
    if (Object.keys(sp).length) body.params = sp;
    const res = await track(status, () => run((signal) => postJSON("api/v1/descent/race", body, { signal })), "descent/race");
    if (!res) return;
    note.textContent = `Start (${fmt(start[0])}, ${fmt(start[1])}) — click the map to move it.`;
    const colorOf = (i) => racers[i] ? racers[i].color : colorAt(i);
    const labelOf = (run, i) => `${racers[i].label} (lr ${fmt(racers[i].lr.value, 3)})`;
    await drawMap(mapDiv, [
      contourTrace(grid, { log: autoLog(grid), showscale: false }),
      ...res.runs.map((r, i) => ({ type: "scatter", mode: "lines", name: labelOf(r, i), x: r.path.map((p) => p[0]), y: r.path.map((p) => p[1]),
        line: { color: colorOf(i), width: 2.5 }, hovertemplate: `${racers[i].label} step %{pointNumber}<br>(%{x:.4f}, %{y:.4f})<extra></extra>` })),
      ...res.runs.map((r, i) => ({ type: "scatter", mode: "markers", name: `${racers[i].label} end`, showlegend: false, x: [r.path.at(-1)[0]], y: [r.path.at(-1)[1]],
        marker: { size: 10, color: colorOf(i), line: { color: "#ffffff", width: 1.5 } }, hovertemplate: `${racers[i].label} ended at (%{x:.4f}, %{y:.4f})<extra></extra>` })),
      { type: "scatter", mode: "markers", name: "start", x: [start[0]], y: [start[1]], marker: { size: 11, color: "#fff", line: { color: "#1d2430", width: 2 } }, hoverinfo: "skip" },
    ], { title: `${res.runs.length} optimizer${res.runs.length > 1 ? "s" : ""} from one start (colours as in the table); click to move the start`, xaxis: { title: "x", range: [grid.x[0], grid.x[grid.x.length - 1]], constrain: "domain", automargin: false },
      yaxis: { title: "y", range: [grid.y[0], grid.y[grid.y.length - 1]], scaleanchor: "x", constrain: "domain", automargin: false }, dragmode: false, hovermode: "closest", showlegend: false });
    hookClick();
    const positive = res.runs.every((r) => r.loss.every((v) => v > 0));
    draw(lossDiv, res.runs.map((r, i) => ({ type: "scatter", mode: "lines", name: labelOf(r, i), y: r.loss, line: { color: colorOf(i), width: 2 } })),
      { title: "Loss per step", xaxis: { title: "step" }, yaxis: { title: "loss", type: positive ? "log" : "linear" }, showlegend: false, margin: { t: 32, b: 40 } });
    summaryBox.replaceChildren(summaryTable(res, racers));
  }

  async function computeBasins() {
    const r = rows.find((x) => x.id === basinOpt.value) || rows[0];
    const n = Math.round(basinRes.value);
    const [xr, yr] = basinMenu.domain();
    const body = { surface: basinMenu.name, optimizer: r.spec(), x_range: xr, y_range: yr, resolution: [n, n], steps: Math.round(steps.value) };
    const sp = basinMenu.params();
    if (Object.keys(sp).length) body.params = sp;
    const res = await track(status, () => run((signal) => postJSON("api/v1/descent/basins", body, { signal })), "descent/basins");
    if (!res) return;
    const xs = res.x;
    const ys = res.y;
    const nx = xs.length;
    const ny = ys.length;
    // display code: 0 = not converged (-2), 1 = diverged (-1), 2 + i = minimum i; one colour each
    const code = (v) => (v === -2 ? 0 : v === -1 ? 1 : v + 2);
    const colours = ["#dee2e6", "#495057", ...res.minima.map((_, i) => colorAt(i))];
    const nc = colours.length;
    const scale = colours.flatMap((c, i) => [[i / nc, c], [(i + 1) / nc, c]]);
    const what = (v) => (v === -2 ? "not converged" : v === -1 ? "diverged" : `minimum ${v + 1}`);
    await drawMap(mapDiv, [
      { type: "heatmap", x: xs, y: ys, z: res.label.map((row) => row.map(code)), zmin: -0.5, zmax: nc - 0.5, colorscale: scale, showscale: false,
        text: res.label.map((row) => row.map(what)), customdata: res.steps, hovertemplate: "start (%{x:.3f}, %{y:.3f})<br>%{text}<br>%{customdata} steps<extra></extra>" },
      { type: "scatter", mode: "markers+text", name: "minima", x: res.minima.map((m) => m.x), y: res.minima.map((m) => m.y),
        text: res.minima.map((_, i) => String(i + 1)), textposition: "top center", textfont: { color: "#1d2430", size: 13 },
        marker: { symbol: "star", size: 15, color: "#ffd43b", line: { color: "#1d2430", width: 1.2 } },
        hovertemplate: "minimum at (%{x:.4f}, %{y:.4f})<extra></extra>" },
    ], { title: `${(basinMenu.entry() || {}).title || basinMenu.name}: where ${r.label} (lr ${fmt(r.lr.value, 3)}, ${Math.round(steps.value)} steps) ends from each start`,
      xaxis: { title: "start x", range: [xs[0], xs[nx - 1]], constrain: "domain", automargin: false },
      yaxis: { title: "start y", range: [ys[0], ys[ny - 1]], scaleanchor: "x", constrain: "domain", automargin: false }, showlegend: false, dragmode: false });
    const stepsFlat = res.steps.flat().filter((v) => Number.isFinite(v));
    draw(lossDiv, [{ type: "histogram", x: stepsFlat, marker: { color: colorAt(0) }, name: "steps" }],
      { title: "Steps each start took", xaxis: { title: "steps" }, yaxis: { title: "starts" }, showlegend: false, margin: { t: 32, b: 40 } });
    const flat = res.label.flat();
    const share = (v) => `${((100 * flat.filter((x) => x === v).length) / (nx * ny)).toFixed(1)} %`;
    const rowsOut = res.minima.map((m, i) => [el("span", {}, el("span", { class: "swatch", style: `background:${colorAt(i)}` }), ` ${i + 1}${m.kind && m.kind !== "minimum" ? ` (${m.kind})` : ""}`), m.x, m.y, m.value, share(i)]);
    if (flat.includes(-1)) rowsOut.push([el("span", {}, el("span", { class: "swatch", style: "background:#495057" }), " diverged"), "", "", "", share(-1)]);
    if (flat.includes(-2)) rowsOut.push([el("span", {}, el("span", { class: "swatch", style: "background:#dee2e6" }), " not converged"), "", "", "", share(-2)]);
    summaryBox.replaceChildren(table(["basin", "x", "y", "loss", "share of starts"], rowsOut),
      res.rule ? el("details", { class: "more" }, el("summary", {}, "How starts are labelled"), el("p", { class: "note", text: res.rule })) : "");
  }

  function hookClick() {
    if (mapDiv.dataset.hooked || !mapDiv.on) return;
    mapDiv.dataset.hooked = "1";
    mapDiv.on("plotly_click", (ev) => {
      if (view.value !== "race") return;
      const xy = (ev && ev.event && clickToData(mapDiv, ev.event)) || (ev.points && ev.points[0] && [ev.points[0].x, ev.points[0].y]);
      if (!xy) return;
      start = xy;
      compute();
    });
  }

  await newMap();
}

// The race summary: where each optimizer ended, by the API's labels (minimum index, -1 diverged, -2 neither).
function summaryTable(res, racers) {
  const minima = res.minima || [];
  const where = (m) => {
    if (m === -1) return "diverged";
    if (m === -2 || m === undefined || m === null) return "no minimum yet";
    const p = minima[m];
    return p ? `${p.kind && p.kind !== "minimum" ? p.kind : "minimum"} (${fmt(p.x)}, ${fmt(p.y)})` : `#${m}`;
  };
  return el("div", {},
    table(["optimizer", "status", "final loss", "ended at", "steps to reach it"], (res.summary || []).map((s, i) => [
      el("span", {}, el("span", { class: "swatch", style: `background:${racers[i] ? racers[i].color : "#999"}` }), ` ${racers[i] ? racers[i].label : s.optimizer}`),
      s.status, s.final_loss, where(s.minimum), s.steps_to_minimum ?? "—"])),
    res.rule ? el("details", { class: "more" }, el("summary", {}, "How the race is judged"), el("p", { class: "note", text: res.rule })) : "");
}
