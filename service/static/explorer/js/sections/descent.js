// 4. Gradient descent: click a start on the contour, then play the API's trajectory step by step.

import { postJSON, latest } from "../api.js";
import { el, slider, checkbox, debounce, layoutBody, track, fmt, buttons, button, group, metric } from "../ui.js";
import { surfaceMenu, gridRequest, fetchGrid, contourTrace, clickToData, autoLog } from "../surfaces.js";
import { optimizerMenu } from "../optimizers.js";
import { draw, drawMap, plotly, colorAt } from "../plots.js";

const STATUS_CLASS = { converged: "good", diverged: "bad", max_steps: "warn" };

export async function init(section, { catalog, status }) {
  const { controls, figures } = layoutBody(section, { wide: true });
  const menu = surfaceMenu(catalog, { preferred: ["himmelblau", "rosenbrock"], name: "descent-surface", onChange: () => { start = null; newMap(); } });
  const opt = optimizerMenu(catalog, { preferred: ["sgd"], lr: 0.005, name: "descent-optimizer", onChange: () => refresh() });
  const steps = slider({ label: "Steps", name: "steps", min: 10, max: 2000, step: 10, value: 200, format: (v) => String(Math.round(v)), onInput: () => refresh() });
  const noiseOn = checkbox({ label: "SGD noise (noisy gradient)", name: "noise", checked: false, onChange: () => refresh() });
  const noiseScale = slider({ label: "Noise scale", name: "noise-scale", min: 0.01, max: 20, log: true, value: 1, format: (v) => fmt(v, 3), onInput: () => noiseOn.value && refresh() });
  const seed = slider({ label: "Noise seed", name: "seed", min: 0, max: 99, step: 1, value: 0, format: (v) => String(Math.round(v)), onInput: () => noiseOn.value && refresh() });

  const playBtn = button("▶ Play", () => toggle(), { name: "play" });
  const stepBtn = button("Step", () => { pause(); show(Math.min(shown + 1, last())); }, { secondary: true, name: "step" });
  const restartBtn = button("⟲ Start over", () => { pause(); show(0); }, { secondary: true, name: "restart" });
  const endBtn = button("End", () => { pause(); show(last()); }, { secondary: true, name: "end" });
  const mStep = metric("step");
  const mLoss = metric("loss");
  const mGrad = metric("‖gradient‖");
  const mStatus = metric("status");
  const startNote = el("p", { class: "note" });

  controls.append(menu.root, opt.root, steps.root, group("Stochastic gradient", noiseOn.root, noiseScale.root, seed.root),
    buttons(playBtn, stepBtn, endBtn, restartBtn), el("div", { class: "readout" }, mStep.root, mLoss.root, mGrad.root, mStatus.root), startNote);

  const mapDiv = el("div", { class: "plot tall", id: "plot-descent" });
  const lossDiv = el("div", { class: "plot short", id: "plot-descent-loss" });
  figures.append(mapDiv, lossDiv);

  let grid = null;
  let start = null;
  let traj = null;
  let shown = 0;
  let timer = null;
  const gridRun = latest();
  const run = latest();
  const refresh = debounce(() => compute(), 200);
  const last = () => (traj ? traj.path.length - 1 : 0);

  async function newMap() {
    const n = 90;
    const g = await track(status, () => gridRun((signal) => fetchGrid(gridRequest(menu, { resolution: [n, n] }), signal)), "landscapes/grid");
    if (!g) return;
    grid = g;
    if (!start) {
      // a default start a little off the window's centre; the user clicks to move it
      const [[x0, x1], [y0, y1]] = menu.domain();
      start = [x0 + 0.45 * (x1 - x0), y0 + 0.42 * (y1 - y0)];
    }
    await compute();
  }

  async function compute() {
    if (!grid || !start) return;
    pause();
    const body = { surface: menu.name, start: start.map((v) => Number(v.toFixed(4))), steps: Math.round(steps.value), optimizer: opt.body() };
    const p = menu.params();
    if (Object.keys(p).length) body.params = p;
    if (noiseOn.value) body.noise = { scale: noiseScale.value, seed: Math.round(seed.value) };
    const t = await track(status, () => run((signal) => postJSON("api/v1/descent/trajectory", body, { signal })), "descent/trajectory");
    if (!t) return;
    traj = t;
    startNote.textContent = `Start (${fmt(start[0])}, ${fmt(start[1])}); click the map to move it. Stopped: ${t.reason || `${t.steps_taken} steps`}.`;
    mStatus.root.querySelector(".v").replaceChildren(el("span", { class: `status-pill ${STATUS_CLASS[t.status] || ""}`, text: t.status }));
    drawAll();
    play();
  }

  function drawAll() {
    const xs = traj.path.map((p) => p[0]);
    const ys = traj.path.map((p) => p[1]);
    const [[x0, x1], [y0, y1]] = [[grid.x[0], grid.x[grid.x.length - 1]], [grid.y[0], grid.y[grid.y.length - 1]]];
    drawMap(mapDiv, [
      contourTrace(grid, { log: autoLog(grid), showscale: false }),
      { type: "scatter", mode: "lines+markers", name: "path", x: xs.slice(0, shown + 1), y: ys.slice(0, shown + 1),
        line: { color: "#ff922b", width: 2 }, marker: { size: 4, color: "#ff922b" }, hovertemplate: "step %{pointNumber}<br>(%{x:.4f}, %{y:.4f})<extra></extra>" },
      { type: "scatter", mode: "markers", name: "start", x: [xs[0]], y: [ys[0]], marker: { size: 11, color: "#ffffff", line: { color: "#1d2430", width: 2 } }, hoverinfo: "skip" },
      { type: "scatter", mode: "markers", name: "now", x: [xs[shown]], y: [ys[shown]], marker: { size: 13, color: "#ff922b", symbol: "circle", line: { color: "#1d2430", width: 2 } }, hoverinfo: "skip" },
    ], {
      title: "Click to choose the start",
      xaxis: { title: "x", range: [x0, x1], constrain: "domain", automargin: false }, yaxis: { title: "y", range: [y0, y1], scaleanchor: "x", constrain: "domain", automargin: false },
      dragmode: false, hovermode: "closest", showlegend: false, uirevision: JSON.stringify(menu.name),
    }, { scrollZoom: false });
    draw(lossDiv, [
      { type: "scatter", mode: "lines", name: "loss", y: traj.loss, line: { color: colorAt(0) } },
      { type: "scatter", mode: "markers", name: "now", x: [shown], y: [traj.loss[shown]], marker: { size: 9, color: "#ff922b" } },
    ], { title: "Loss along the path", xaxis: { title: "step" }, yaxis: { title: "loss", type: allPositive(traj.loss) ? "log" : "linear" }, showlegend: false, margin: { t: 32, b: 40 } });
    if (!mapDiv.dataset.hooked && mapDiv.on) {
      mapDiv.dataset.hooked = "1";
      mapDiv.on("plotly_click", (ev) => {
        const xy = (ev && ev.event && clickToData(mapDiv, ev.event)) || (ev.points && ev.points[0] && [ev.points[0].x, ev.points[0].y]);
        if (!xy) return;
        start = xy;
        compute();
      });
    }
    show(shown);
  }

  function show(k) {
    if (!traj) return;
    shown = Math.max(0, Math.min(k, last()));
    const P = plotly();
    const xs = [];
    const ys = [];
    for (let i = 0; i <= shown; i += 1) { xs.push(traj.path[i][0]); ys.push(traj.path[i][1]); }
    P.restyle(mapDiv, { x: [xs, [traj.path[shown][0]]], y: [ys, [traj.path[shown][1]]] }, [1, 3]);
    P.restyle(lossDiv, { x: [[shown]], y: [[traj.loss[Math.min(shown, traj.loss.length - 1)]]] }, [1]);
    mStep.set(`${shown} / ${last()}`);
    mLoss.set(fmt(traj.loss[Math.min(shown, traj.loss.length - 1)]));
    const g = traj.gradient && traj.gradient[Math.min(shown, traj.gradient.length - 1)];
    mGrad.set(g ? fmt(Math.hypot(...g)) : "—");
  }

  function play() {
    if (timer || !traj) return;
    if (shown >= last()) show(0);
    const stride = Math.max(1, Math.ceil(last() / 150)); // at most ~150 frames: a few seconds
    playBtn.textContent = "❚❚ Pause";
    timer = setInterval(() => {
      if (shown >= last()) { pause(); return; }
      show(shown + stride);
    }, 33);
  }
  function pause() {
    clearInterval(timer);
    timer = null;
    playBtn.textContent = "▶ Play";
  }
  function toggle() { if (timer) pause(); else play(); }

  await newMap();
}

function allPositive(a) {
  return a.length > 0 && a.every((v) => v > 0);
}
