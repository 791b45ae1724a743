// 3b. The landscape in many dimensions: why saddles outnumber minima (POST /api/v1/landscapes/saddle-statistics).
// Left: the chance that a random symmetric N×N Hessian (GOE) has every eigenvalue positive, beside 2^-N.
// Right: critical points of a real small network, each at its loss and index (fraction of descending
// directions), critical points apart from gradient-flat and unconverged ones (‖∇L‖ in the hover).

import { postJSON, latest } from "../api.js";
import { el, slider, select, debounce, track, fmt, metric } from "../ui.js";
import { draw, colorAt } from "../plots.js";

const KIND_STYLE = {
  critical: { name: "critical point", symbol: "circle", color: colorAt(0) },
  gradient_flat: { name: "gradient-flat (not critical)", symbol: "circle-open", color: colorAt(1) },
  not_converged: { name: "search did not converge", symbol: "x-thin-open", color: "#adb5bd" },
};

export async function init(section, { status }) {
  const panel = el("div", { class: "subpanel", id: "many-dims" },
    el("h3", { text: "… in many dimensions" }),
    el("p", { class: "lede", text: "A point is a minimum only if the loss curves up in every direction: every Hessian eigenvalue "
      + "positive. With two parameters that is common; with millions it almost never happens by chance. A random "
      + "symmetric matrix has all N eigenvalues positive with probability 1/2 for N = 1, 0.146 for N = 2, and then "
      + "far less than the 2^-N of N coin flips. A real network shows the same: critical points high on the loss "
      + "have many descending directions (a large index); only near the bottom do minima appear." }));
  section.append(panel);
  // the section's own layout is .body > .controls + .figures; this one is a second, nested picture
  const controls = el("div", { class: "controls" });
  const figures = el("div", { class: "figures two" });
  panel.append(el("div", { class: "subbody" }, controls, figures));

  const maxN = slider({ label: "Largest matrix size N", name: "goe-max-n", min: 2, max: 12, step: 1, value: 10,
    format: (v) => String(Math.round(v)), onInput: () => refreshGoe() });
  const samples = select({ label: "Random matrices per N", name: "goe-samples",
    options: [{ value: "10000", label: "10,000" }, { value: "100000", label: "100,000" }], value: "100000",
    onChange: () => refreshGoe() });
  const starts = slider({ label: "Network: search starts", name: "saddle-starts", min: 4, max: 32, step: 4, value: 16,
    format: (v) => String(Math.round(v)), onInput: () => refreshNet() });
  const seed = slider({ label: "Network: seed", name: "saddle-seed", min: 0, max: 20, step: 1, value: 0,
    format: (v) => String(Math.round(v)), onInput: () => refreshNet() });
  const mTop = metric("P(minimum) at the largest N");
  const mFit = metric("index vs loss (critical points)");
  const goeNote = el("p", { class: "note", id: "goe-note" });
  const netNote = el("p", { class: "note", id: "saddle-note" });
  controls.append(maxN.root, samples.root, starts.root, seed.root, el("div", { class: "readout" }, mTop.root, mFit.root),
    el("p", { class: "note", text: "Network: a 1-4-1 tanh net fitting 20 noisy points of sin x; each start is trained "
      + "briefly, then Newton's method on ‖∇L‖² looks for a critical point of any kind (minimum or saddle)." }));

  const goeDiv = el("div", { class: "plot", id: "plot-dims-minimum" });
  const netDiv = el("div", { class: "plot", id: "plot-dims-index" });
  figures.append(el("div", {}, goeDiv, goeNote), el("div", {}, netDiv, netNote));

  const runGoe = latest();
  const runNet = latest();
  const refreshGoe = debounce(() => computeGoe(), 250);
  const refreshNet = debounce(() => computeNet(), 400);

  async function computeGoe() {
    const N = Math.round(maxN.value);
    const body = { experiment: "goe", dims: Array.from({ length: N }, (_, i) => i + 1), samples: Number(samples.value), seed: 0 };
    const res = await track(status, () => runGoe((signal) => postJSON("api/v1/landscapes/saddle-statistics", body, { signal })),
      "saddle statistics (random matrices)");
    if (!res) return;
    const seen = res.p_minimum.map((p) => (p > 0 ? p : null));
    const zero = res.dims.filter((_, i) => res.counts[i] === 0);
    draw(goeDiv, [
      { type: "scatter", mode: "lines", name: "2^-N (independent coin flips)", x: res.dims, y: res.two_pow_minus_n,
        line: { color: "#868e96", dash: "dash", width: 2 } },
      { type: "scatter", mode: "lines+markers", name: "all eigenvalues > 0 (Monte Carlo)", x: res.dims, y: seen,
        error_y: { type: "data", array: res.stderr, visible: true, thickness: 1 }, line: { color: colorAt(0), width: 2 }, marker: { size: 7 } },
      { type: "scatter", mode: "markers", name: "none seen: 95% upper bound", x: zero,
        y: zero.map((N) => res.upper_95[res.dims.indexOf(N)]), marker: { symbol: "triangle-down-open", size: 9, color: colorAt(0) } },
      { type: "scatter", mode: "markers", name: "exact (N = 1, 2)", x: res.dims.filter((_, i) => res.exact[i] !== null),
        y: res.exact.filter((e) => e !== null), marker: { symbol: "star", size: 12, color: "#fab005", line: { color: "#1d2430", width: 1 } } },
    ], { title: "How likely is a random critical point a minimum?", xaxis: { title: "dimension N", dtick: 1 },
      yaxis: { title: "probability (log scale)", type: "log", exponentformat: "power" }, legend: { orientation: "h", y: -0.28 } });
    const last = res.dims.length - 1;
    mTop.set(res.counts[last] ? `${fmt(res.p_minimum[last], 3)} ± ${fmt(res.stderr[last], 2)}` : `< ${fmt(res.upper_95[last], 2)}`);
    goeNote.textContent = `N = 1: ${fmt(res.p_minimum[0])} ± ${fmt(res.stderr[0], 2)} (exact 0.5); `
      + (res.dims.length > 1 ? `N = 2: ${fmt(res.p_minimum[1])} ± ${fmt(res.stderr[1], 2)} (exact ${fmt(res.exact[1])}); ` : "")
      + `N = ${res.dims[last]}: ${res.counts[last]} of ${res.samples.toLocaleString()} matrices, against 2^-N = ${fmt(res.two_pow_minus_n[last], 3)}.`;
  }

  async function computeNet() {
    const body = { experiment: "network", starts: Math.round(starts.value), seed: Math.round(seed.value) };
    const res = await track(status, () => runNet((signal) => postJSON("api/v1/landscapes/saddle-statistics", body, { signal })),
      "saddle statistics (network)");
    if (!res) return;
    const traces = Object.entries(KIND_STYLE).map(([kind, st]) => {
      const pts = res.points.filter((p) => p.kind === kind);
      return { type: "scatter", mode: "markers", name: `${st.name} (${pts.length})`, x: pts.map((p) => p.loss), y: pts.map((p) => p.index),
        text: pts.map((p) => `${st.name}<br>loss ${fmt(p.loss)}<br>index ${fmt(p.index, 3)} (${p.n_negative} of ${res.n_params} directions down)`
          + `<br>‖∇L‖ ${fmt(p.grad_norm, 2)}`),
        hovertemplate: "%{text}<extra></extra>", marker: { symbol: st.symbol, size: 10, color: st.color, line: { width: 1.5, color: st.color } } };
    });
    const crit = res.points.filter((p) => p.critical);
    if (res.fit.points >= 2) {
      const xs = crit.map((p) => p.loss);
      const [lo, hi] = [Math.min(...xs), Math.max(...xs)];
      traces.push({ type: "scatter", mode: "lines", name: `least-squares line (r = ${fmt(res.fit.r, 2)})`, x: [lo, hi],
        y: [res.fit.intercept + res.fit.slope * lo, res.fit.intercept + res.fit.slope * hi], line: { color: "#495057", dash: "dot" } });
    }
    draw(netDiv, traces, { title: "Critical points of a real network: index falls with the loss",
      xaxis: { title: "loss at the point", rangemode: "tozero" }, yaxis: { title: "index (share of directions down)", rangemode: "tozero" },
      legend: { orientation: "h", y: -0.28 }, hovermode: "closest" });
    mFit.set(res.fit.points >= 2 ? `slope ${fmt(res.fit.slope, 3)}, r = ${fmt(res.fit.r, 2)}` : "—");
    const maxG = crit.length ? Math.max(...crit.map((p) => p.grad_norm)) : null;
    netNote.textContent = `${res.kinds.critical} critical points (‖∇L‖ ≤ ${fmt(res.settings.grad_tol)}; the largest found: ${fmt(maxG, 2)}), `
      + `${res.kinds.gradient_flat} gradient-flat, ${res.kinds.not_converged} unconverged. Hover a point for its ‖∇L‖.`;
  }

  await Promise.all([computeGoe(), computeNet()]);
}
