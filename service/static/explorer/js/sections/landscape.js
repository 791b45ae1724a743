// 3. Landscape: contour or 3-D surface of a catalog surface, its critical points found and classified by the API.

import { postJSON, latest } from "../api.js";
import { el, slider, checkbox, select, debounce, layoutBody, track, table, fmt, buttons, button } from "../ui.js";
import { surfaceMenu, gridRequest, fetchGrid, contourTrace, surfaceTrace, autoLog } from "../surfaces.js";
import { draw, drawMap } from "../plots.js";
import { init as manyDimensions } from "./dimensions.js";

const KINDS = {
  "global minimum": { symbol: "star", color: "#ffd43b", size: 16 },
  "local minimum": { symbol: "circle", color: "#ffffff", size: 11 },
  saddle: { symbol: "x", color: "#ff6b6b", size: 12 },
  maximum: { symbol: "triangle-up", color: "#f783ac", size: 12 },
  degenerate: { symbol: "diamond", color: "#ced4da", size: 11 },
};

const GLYPH = { star: "★", circle: "●", x: "✖", "triangle-up": "▲", diamond: "◆" };
const plural = (k) => (k.endsWith("mum") ? `${k.slice(0, -2)}a` : `${k}s`);

export function pointLabel(p) {
  const k = String(p.kind || "").toLowerCase();
  if (k.includes("min")) return p.global ? "global minimum" : "local minimum";
  if (k.includes("max")) return "maximum";
  if (k.includes("saddle")) return "saddle";
  return k || "critical point";
}

export async function init(section, { catalog, status }) {
  const { controls, figures } = layoutBody(section);
  const menu = surfaceMenu(catalog, { preferred: ["himmelblau", "six_hump_camel", "rosenbrock"], onChange: () => { view = null; refresh(); } });
  const res = slider({ label: "Grid resolution", name: "resolution", min: 20, max: 240, step: 10, value: 120,
    format: (v) => `${Math.round(v)} × ${Math.round(v)}`, onInput: () => refresh() });
  const mode = select({ label: "View", name: "view", options: [{ value: "contour", label: "Contour map" }, { value: "surface", label: "3-D surface" }],
    value: "contour", onChange: () => redraw() });
  const scale = select({ label: "Colours", name: "colour-scale", options: [{ value: "auto", label: "Automatic" }, { value: "linear", label: "Linear in loss" },
    { value: "log", label: "Log-spaced (loss − min)" }], value: "auto", onChange: () => redraw() });
  const showPts = checkbox({ label: "Mark critical points", name: "critical", checked: true, onChange: () => redraw() });
  const resetBtn = button("Reset zoom", () => { view = null; refresh(); }, { secondary: true, name: "reset" });
  controls.append(menu.root, res.root, mode.root, scale.root, showPts.root, buttons(resetBtn),
    el("p", { class: "note", text: "Zoom into the contour map (drag a box) and the API recomputes the grid for the new window." }));

  const plotDiv = el("div", { class: "plot tall", id: "plot-landscape" });
  const legendBox = el("div", { class: "keys", id: "landscape-keys" });
  const tableBox = el("div", {});
  figures.append(plotDiv, legendBox, tableBox);

  let grid = null;
  let points = [];
  let view = null; // [[x0,x1],[y0,y1]] after a zoom, else the surface's domain
  const run = latest();
  const refresh = debounce(() => compute(), 200);

  async function compute() {
    const n = Math.round(res.value);
    const [xr, yr] = view || menu.domain();
    const body = gridRequest(menu, { xr, yr, resolution: [n, n] });
    const cpBody = { surface: menu.name, x_range: xr, y_range: yr };
    if (body.params) cpBody.params = body.params;
    const out = await track(status, () => run((signal) => Promise.all([
      fetchGrid(body, signal),
      postJSON("api/v1/landscapes/critical-points", cpBody, { signal }),
    ])), "landscapes");
    if (!out) return;
    [grid, { points }] = [out[0], out[1]];
    redraw();
  }

  function redraw() {
    if (!grid) return;
    const log = scale.value === "auto" ? autoLog(grid) : scale.value === "log";
    const pts = showPts.value ? points : [];
    const byKind = new Map();
    for (const p of pts) {
      const k = pointLabel(p);
      if (!byKind.has(k)) byKind.set(k, []);
      byKind.get(k).push(p);
    }
    const zOf = (p) => (log ? Math.log10(p.value - grid.z_min + Math.max((grid.z_max - grid.z_min) * 1e-3, 1e-12)) : p.value);
    const markerTraces = [...byKind].map(([k, ps]) => {
      const style = KINDS[k] || KINDS.degenerate;
      const common = {
        name: k, x: ps.map((p) => p.x), y: ps.map((p) => p.y),
        text: ps.map((p) => `${k}<br>(${fmt(p.x)}, ${fmt(p.y)})<br>loss ${fmt(p.value)}<br>Hessian eigenvalues ${(p.eigenvalues || []).map((e) => fmt(e)).join(", ")}`),
        hovertemplate: "%{text}<extra></extra>",
      };
      if (mode.value === "surface") {
        return { ...common, type: "scatter3d", mode: "markers", z: ps.map(zOf),
          marker: { symbol: style.symbol === "star" ? "diamond" : style.symbol === "triangle-up" ? "square" : style.symbol, color: style.color, size: 6, line: { color: "#000", width: 1 } } };
      }
      return { ...common, type: "scatter", mode: "markers",
        marker: { symbol: style.symbol, color: style.color, size: style.size, line: { color: "#1d2430", width: 1.2 } } };
    });
    const title = `${(menu.entry() && menu.entry().title) || menu.name}: ${grid.x.length} × ${grid.y.length} grid, min ${fmt(grid.z_min)}, max ${fmt(grid.z_max)}`;
    if (mode.value === "surface") {
      drawMap(plotDiv, [surfaceTrace(grid, { log }), ...markerTraces], {
        title, margin: { l: 0, r: 0, t: 36, b: 0 }, legend: { orientation: "h", y: 0 },
        scene: { xaxis: { title: "x" }, yaxis: { title: "y" }, zaxis: { title: log ? "log₁₀(loss − min)" : "loss" }, aspectmode: "cube" },
      });
    } else {
      drawMap(plotDiv, [contourTrace(grid, { log }), ...markerTraces], {
        title, xaxis: { title: "x", range: [grid.x[0], grid.x[grid.x.length - 1]], constrain: "domain", automargin: false },
        yaxis: { title: "y", range: [grid.y[0], grid.y[grid.y.length - 1]], scaleanchor: "x", constrain: "domain", automargin: false },
        showlegend: false, hovermode: "closest",
      });
    }
    // the key to the markers, as page text (it wraps on a phone; a Plotly legend would squeeze the map)
    legendBox.replaceChildren(...[...byKind.keys()].map((k) => {
      const st = KINDS[k] || KINDS.degenerate;
      return el("span", { class: "key" }, el("span", { class: "glyph", style: `color:${st.color}` }, GLYPH[st.symbol] || "●"), ` ${k}`);
    }));
    if (!plotDiv.dataset.hooked && plotDiv.on) {
      plotDiv.on("plotly_relayout", onRelayout);
      plotDiv.dataset.hooked = "1";
    }
    const order = ["global minimum", "local minimum", "saddle", "maximum"];
    const rank = (p) => { const i = order.indexOf(pointLabel(p)); return i < 0 ? order.length : i; };
    const sorted = [...points].sort((a, b) => rank(a) - rank(b) || a.value - b.value);
    const shownRows = sorted.slice(0, 12);
    const counts = order.map((k) => [k, points.filter((p) => pointLabel(p) === k).length]).filter(([, n]) => n);
    tableBox.replaceChildren(
      el("p", { class: "note", text: points.length ? `${points.length} critical point${points.length > 1 ? "s" : ""} in this window: ${counts.map(([k, n]) => `${n} ${n > 1 ? plural(k) : k}`).join(", ")}.` : "No critical points inside this window." }),
      shownRows.length ? table(["kind", "x", "y", "loss", "Hessian eigenvalues"],
        shownRows.map((p) => [pointLabel(p), p.x, p.y, p.value, (p.eigenvalues || []).map((e) => fmt(e)).join(", ")])) : "",
      sorted.length > shownRows.length ? el("p", { class: "note", text: `… and ${sorted.length - shownRows.length} more (hover the map to read them).` }) : "",
    );
  }

  // zooming the contour asks the API for a finer grid of the new window
  function onRelayout(ev) {
    if (mode.value !== "contour") return;
    const x0 = ev["xaxis.range[0]"];
    const x1 = ev["xaxis.range[1]"];
    const y0 = ev["yaxis.range[0]"];
    const y1 = ev["yaxis.range[1]"];
    if ([x0, x1, y0, y1].every(Number.isFinite)) {
      view = [[x0, x1], [y0, y1]];
      refresh();
    } else if (ev["xaxis.autorange"] || ev["yaxis.autorange"]) {
      view = null;
      refresh();
    }
  }

  await Promise.all([compute(), manyDimensions(section, { status })]);
}
