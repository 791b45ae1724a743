// Shared by the landscape, descent and race sections: a surface menu and the contour map behind the paths.

import { postJSON, latest, isAbort, describeError } from "./api.js";
import { select, paramControls, el, textInput, debounce, parseNumbers } from "./ui.js";
import { entries, options, find, pick, domain as domainOf, params } from "./catalog.js";
import { logShift } from "./plots.js";


const FORMULA = "__formula"; // the menu entry that opens the formula box
const DEFAULT_FORMULA = "(1 - x)**2 + 100*(y - x**2)**2";

// The formula linked in the page's URL (?formula=...&domain=x0,x1,y0,y1), shared by every surface menu.
function linkedFormula() {
  const q = new URLSearchParams(location.search);
  const expression = q.get("formula");
  if (!expression) return null;
  const d = (q.get("domain") || "").split(",").map(Number);
  const domain = d.length === 4 && d.every(Number.isFinite) ? [[d[0], d[1]], [d[2], d[3]]] : [[-2, 2], [-1, 3]];
  return { expression, domain };
}

function linkFormula(expression, domain) {
  const q = new URLSearchParams(location.search);
  q.set("formula", expression);
  q.set("domain", domain.flat().join(","));
  history.replaceState(null, "", `${location.pathname}?${q}${location.hash}`);
}

// A request's surface: a catalog name, or a formula object {expression, domain}.
export function surfaceMenu(catalog, { preferred = [], onChange, label = "Surface", name = "surface" }) {
  const list = entries(catalog, "surfaces");
  const linked = linkedFormula();
  const choices = [...options(list), { value: FORMULA, label: "Your formula…" }];
  const sel = select({ label, name, options: choices, value: linked ? FORMULA : pick(list, ...preferred), onChange: () => { rebuild(); onChange(); } });
  const holder = el("div", {});
  const formula = el("p", { class: "note formula" });
  // the formula box: checked by the API as you type (a 2 x 2 grid), its parse errors shown right under it
  let current = linked || { expression: DEFAULT_FORMULA, domain: [[-2, 2], [-1, 3]] };
  const expr = textInput({ label: "f(x, y) =", name: `${name}-formula`, value: current.expression,
    hint: "x, y, numbers, + - * / **, abs sqrt exp log sin cos tanh sigmoid min max … (the catalog's formulas)", onChange: () => check() });
  const xr = textInput({ label: "x from, to", name: `${name}-formula-x`, value: current.domain[0].join(", "), onChange: () => check() });
  const yr = textInput({ label: "y from, to", name: `${name}-formula-y`, value: current.domain[1].join(", "), onChange: () => check() });
  const problem = el("p", { class: "formula-error", role: "alert", hidden: true });
  const box = el("div", { class: "ctl-stack formula-box", hidden: true }, expr.root, problem, xr.root, yr.root);
  const run = latest();
  const check = debounce(async () => {
    const domain = [parseNumbers(xr.value), parseNumbers(yr.value)];
    const draft = { expression: expr.value, domain: { x: domain[0] || xr.value, y: domain[1] || yr.value } };
    try {
      await run((signal) => postJSON("api/v1/landscapes/grid", { surface: draft, resolution: [2, 2] }, { signal }));
    } catch (err) {
      if (isAbort(err)) return;
      const d = describeError(err);
      problem.textContent = d.fields.length ? d.fields.map(([f, m]) => `${f}: ${m}`).join("; ") : d.title;
      problem.hidden = false;
      expr.input.setAttribute("aria-invalid", "true");
      return;
    }
    problem.hidden = true;
    expr.input.removeAttribute("aria-invalid");
    current = { expression: expr.value, domain };
    linkFormula(current.expression, current.domain);
    onChange();
  }, 300);
  let pc = null;
  const isFormula = () => sel.value === FORMULA;
  function rebuild() {
    box.hidden = !isFormula();
    if (isFormula()) {
      holder.replaceChildren();
      pc = null;
      formula.textContent = "";
      return;
    }
    const entry = find(list, sel.value);
    pc = paramControls(params(entry), () => onChange());
    holder.replaceChildren(pc.root);
    formula.textContent = entry && entry.formula ? entry.formula : "";
  }
  rebuild();
  return {
    root: el("div", { class: "ctl-stack" }, sel.root, box, formula, holder),
    select: sel,
    get name() {
      if (!isFormula()) return sel.value;
      return { expression: current.expression, domain: { x: current.domain[0], y: current.domain[1] } };
    },
    entry() {
      if (isFormula()) return { name: "formula", title: `f(x, y) = ${current.expression}`, formula: current.expression };
      return find(list, sel.value);
    },
    domain() {
      if (isFormula()) return current.domain;
      return domainOf(find(list, sel.value)) || [[-2, 2], [-2, 2]];
    },
    params() { return pc ? pc.values() : {}; },
  };
}

export function gridRequest(menu, { xr, yr, resolution }) {
  const [dx, dy] = menu.domain();
  const body = { surface: menu.name, x_range: xr || dx, y_range: yr || dy, resolution };
  const p = menu.params();
  if (Object.keys(p).length) body.params = p;
  return body;
}

export function fetchGrid(body, signal) {
  return postJSON("api/v1/landscapes/grid", body, { signal });
}

// Log-spaced colours when most of the surface sits near its minimum and a few values dwarf it
// (Rosenbrock's walls): the range is over 10 times the median's distance from the minimum.
export function autoLog(grid) {
  const v = grid.z.flat().filter(Number.isFinite).sort((a, b) => a - b);
  if (!v.length) return false;
  const med = v[Math.floor(v.length / 2)];
  return grid.z_max - grid.z_min > 10 * (med - grid.z_min + 1e-12);
}

// Colour-bar ticks for log-spaced colours: one per decade, labelled with the loss difference itself.
function logTicks(z) {
  let lo = Infinity;
  let hi = -Infinity;
  for (const row of z) for (const v of row) { if (v < lo) lo = v; if (v > hi) hi = v; }
  const tickvals = [];
  for (let k = Math.ceil(lo); k <= Math.floor(hi); k += 1) tickvals.push(k);
  return { tickvals, ticktext: tickvals.map((k) => (k >= 0 && k < 5 ? String(10 ** k) : `1e${k}`)) };
}

// The contour trace of a grid (z[row=y][col=x]); log colours keep the real value in the hover text.
export function contourTrace(grid, { log = false, showscale = true, name = "loss", opacity = 1 } = {}) {
  const z = log ? logShift(grid.z, grid.z_min, grid.z_max) : grid.z;
  return {
    type: "contour", name, x: grid.x, y: grid.y, z, text: grid.z, opacity,
    colorscale: "Viridis", reversescale: false, ncontours: 30, line: { width: 0.5, color: "rgba(255,255,255,0.35)" },
    contours: { coloring: "heatmap" },
    hovertemplate: "x=%{x:.3f}<br>y=%{y:.3f}<br>loss=%{text:.4g}<extra></extra>",
    showscale,
    colorbar: { title: { text: log ? "loss − min (log)" : "loss", side: "right" }, thickness: 12, len: 0.9, ...(log ? logTicks(z) : {}) },
  };
}

export function surfaceTrace(grid, { log = false } = {}) {
  const z = log ? logShift(grid.z, grid.z_min, grid.z_max) : grid.z;
  return {
    type: "surface", name: "loss", x: grid.x, y: grid.y, z, text: grid.z, colorscale: "Viridis",
    hovertemplate: "x=%{x:.3f}<br>y=%{y:.3f}<br>loss=%{text:.4g}<extra></extra>",
    contours: { z: { show: true, usecolormap: true, project: { z: true }, width: 1 } },
    colorbar: { title: { text: log ? "loss − min (log)" : "loss" }, thickness: 12, len: 0.8, ...(log ? logTicks(z) : {}) },
  };
}

// Data coordinates of a click on a 2-D Plotly chart (anywhere inside the axes, not only on a point).
// Uses each axis's own pixel offset and length: with equal scales (constrain: "domain") an axis
// covers only part of the plot area.
export function clickToData(gd, evt) {
  const fl = gd._fullLayout;
  const xa = fl && fl.xaxis;
  const ya = fl && fl.yaxis;
  if (!xa || !ya) return null;
  const rect = gd.getBoundingClientRect();
  const px = evt.clientX - rect.left - xa._offset;
  const py = evt.clientY - rect.top - ya._offset;
  if (px < 0 || py < 0 || px > xa._length || py > ya._length) return null;
  return [xa.p2d(px), ya.p2d(py)];
}
