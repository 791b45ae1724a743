// Plotly with one look for the whole page. Plotly is the vendored global from static/vendor/plotly/.

export const PALETTE = ["#2f6fdb", "#e8590c", "#2b8a3e", "#c2255c", "#7048e8", "#0c8599", "#e67700", "#5c940d",
  "#862e9c", "#1864ab", "#a61e4d", "#495057"];
export const colorAt = (i) => PALETTE[i % PALETTE.length];

export const CONFIG = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["lasso2d", "select2d", "autoScale2d", "toggleSpikelines", "hoverCompareCartesian"],
  toImageButtonOptions: { format: "png", scale: 2 },
};

const BASE = {
  font: { family: "system-ui, -apple-system, Segoe UI, Roboto, Helvetica, Arial, sans-serif", size: 12, color: "#1d2430" },
  paper_bgcolor: "rgba(0,0,0,0)",
  plot_bgcolor: "#ffffff",
  margin: { l: 56, r: 16, t: 36, b: 48 },
  legend: { orientation: "h", y: -0.2, x: 0, font: { size: 11 } },
  hoverlabel: { font: { family: "ui-monospace, Menlo, Consolas, monospace", size: 11 } },
  colorway: PALETTE,
};

const AXIS = { gridcolor: "#eceff3", zerolinecolor: "#c9ced6", linecolor: "#c9ced6", automargin: true, title: { font: { size: 12 } } };

function mergeAxis(ax) {
  const out = { ...AXIS, ...(ax || {}) };
  // log axes label their 2s and 5s as plain numbers ("0.05", not a bare "5")
  if (out.type === "log" && !out.tickformat && !out.exponentformat) out.tickformat = ".1~g";
  if (typeof out.title === "string") out.title = { text: out.title, font: { size: 12 } };
  return out;
}

export function layout(extra = {}) {
  const out = { ...BASE, ...extra };
  for (const k of Object.keys(out)) {
    if (/^[xy]axis\d*$/.test(k)) out[k] = mergeAxis(out[k]);
  }
  if (!out.xaxis) out.xaxis = mergeAxis({});
  if (!out.yaxis) out.yaxis = mergeAxis({});
  if (typeof out.title === "string") out.title = { text: out.title, font: { size: 13 }, x: 0.01, xanchor: "left" };
  return out;
}

export function plotly() {
  if (!window.Plotly) throw new Error("the chart library (static/vendor/plotly/plotly.min.js) did not load");
  return window.Plotly;
}

export function draw(div, traces, lay = {}, config = {}) {
  return plotly().react(div, traces, layout(lay), { ...CONFIG, ...config });
}

// A map with equal x and y scales (scaleanchor). Plotly.react keeps the old constrained domain when
// the axis ranges change, so a new window gets a fresh newPlot; event handlers go with it, so
// data-hooked is cleared for the caller to attach them again.
export function drawMap(div, traces, lay = {}, config = {}) {
  const key = JSON.stringify([lay.xaxis && lay.xaxis.range, lay.yaxis && lay.yaxis.range, !!lay.scene]);
  if (div.dataset.mapKey !== key && div.data) {
    plotly().purge(div);
    delete div.dataset.hooked;
  }
  div.dataset.mapKey = key;
  return draw(div, traces, lay, config);
}

// Every finite value in a nested array, flattened (for colour ranges and summaries).
export function finiteValues(a) {
  const out = [];
  const walk = (v) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (typeof v === "number" && Number.isFinite(v)) out.push(v);
  };
  walk(a);
  return out;
}

// Colour on a log scale for surfaces whose values span many decades: log10(z - zmin + floor), the
// floor three decades below the range. Only the colours change; hover text shows the real z.
export function logShift(z, zmin, zmax) {
  const floor = Math.max((zmax - zmin) * 1e-3, 1e-12);
  return z.map((row) => row.map((v) => (v === null ? null : Math.log10(v - zmin + floor)))); // null: undefined there (a formula)
}
