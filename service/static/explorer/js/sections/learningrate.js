// 5. Learning rate: a sweep of learning rates on one surface (too small / good / too large), a schedule plot, and
// (sharpness.js) a real network's training at the edge of stability.

import { postJSON, latest } from "../api.js";
import { el, slider, select, textInput, debounce, layoutBody, track, fmt, group, paramControls, parseNumbers, titleCase } from "../ui.js";
import { entries, options, find, pick, params } from "../catalog.js";
import { surfaceMenu } from "../surfaces.js";
import { optimizerMenu } from "../optimizers.js";
import { draw, colorAt } from "../plots.js";
import { init as edgeOfStability } from "./sharpness.js";

const VERDICT_COLOUR = { too_small: "#4c6ef5", "too small": "#4c6ef5", good: "#2b8a3e", too_large: "#e03131", "too large": "#e03131", diverged: "#c92a2a", oscillating: "#f08c00" };

// Starting values that make each schedule's shape visible over a few hundred steps (the catalog's
// defaults suit a real run: e.g. no warmup at all).
const SCHEDULE_START = { warmup_cosine: { warmup_steps: 30 }, step: { step_size: 60 }, cosine_warm_restarts: { T_0: 60, T_mult: 2 },
  linear: { total_iters: 100 }, polynomial: { total_iters: 200, power: 2 }, exponential: { gamma: 0.99 } };

export async function init(section, { catalog, status }) {
  const { controls, figures } = layoutBody(section, { wide: true });

  // --- the sweep
  const menu = surfaceMenu(catalog, { preferred: ["quadratic", "booth"], name: "lr-surface", onChange: () => refreshSweep() });
  const opt = optimizerMenu(catalog, { preferred: ["sgd"], name: "lr-optimizer", onChange: () => refreshSweep() });
  opt.lr.root.hidden = true; // the sweep chooses the learning rates
  const lrs = textInput({ label: "Learning rates", name: "lrs", value: "0.002, 0.05, 0.19, 0.21", hint: "comma-separated; each gets one run", onChange: () => refreshSweep() });
  const steps = slider({ label: "Steps", name: "sweep-steps", min: 10, max: 500, step: 10, value: 100, format: (v) => String(Math.round(v)), onInput: () => refreshSweep() });
  const rule = el("div", {});

  // --- the schedule
  const schedList = entries(catalog, "schedules");
  const sched = select({ label: "Schedule", name: "schedule", options: options(schedList),
    value: pick(schedList, "warmup_cosine", "linear_warmup_cosine", "cosine", "one_cycle"), onChange: () => { rebuildSched(); refreshSched(); } });
  const schedHolder = el("div", {});
  let schedParams = null;
  function rebuildSched() {
    schedParams = paramControls(params(find(schedList, sched.value)), () => refreshSched(), { skip: ["base_lr", "total_steps", "steps"], initial: SCHEDULE_START[sched.value] || {} });
    schedHolder.replaceChildren(schedParams.root);
  }
  rebuildSched();
  const baseLr = slider({ label: "Base learning rate", name: "base-lr", min: 1e-4, max: 1, log: true, value: 0.1, format: (v) => fmt(v, 3), onInput: () => refreshSched() });
  const schedSteps = slider({ label: "Schedule steps", name: "schedule-steps", min: 10, max: 2000, step: 10, value: 300, format: (v) => String(Math.round(v)), onInput: () => refreshSched() });

  controls.append(
    group("Learning-rate sweep", menu.root, opt.root, lrs.root, steps.root),
    group("Schedule", sched.root, schedHolder, baseLr.root, schedSteps.root),
  );

  const sweepDiv = el("div", { class: "plot", id: "plot-lr-sweep" });
  const schedDiv = el("div", { class: "plot short", id: "plot-schedule" });
  figures.append(sweepDiv, rule, schedDiv);

  const runSweep = latest();
  const runSched = latest();
  const refreshSweep = debounce(() => computeSweep(), 250);
  const refreshSched = debounce(() => computeSched(), 150);

  async function computeSweep() {
    const list = parseNumbers(lrs.value);
    if (!list) {
      status.fail(new Error("type numbers separated by commas, e.g. 0.001, 0.01, 0.1"), "descent/lr-sweep");
      return;
    }
    const body = { surface: menu.name, optimizer: opt.body(), lrs: list, steps: Math.round(steps.value) };
    delete body.optimizer.lr;
    const sp = menu.params();
    if (Object.keys(sp).length) body.params = sp;
    const res = await track(status, () => runSweep((signal) => postJSON("api/v1/descent/lr-sweep", body, { signal })), "descent/lr-sweep");
    if (!res) return;
    rule.replaceChildren(res.rule ? el("details", { class: "more" }, el("summary", {}, "How the API judges each curve"), el("p", { class: "note", text: res.rule })) : "");
    const positive = res.runs.every((r) => r.loss.every((v) => v > 0));
    draw(sweepDiv, res.runs.map((r, i) => ({
      type: "scatter", mode: "lines", name: `lr ${fmt(r.lr, 3)} — ${String(r.verdict).replace(/_/g, " ")}`, y: r.loss,
      line: { color: VERDICT_COLOUR[r.verdict] || colorAt(i), width: 2, dash: ["solid", "dot", "dash", "longdash", "dashdot"][i % 5] },
    })), { title: `Loss per step on ${titleOf(menu)} for each learning rate`, xaxis: { title: "step" },
      yaxis: { title: "loss", type: positive ? "log" : "linear" } });
  }

  async function computeSched() {
    const schedule = { name: sched.value, ...schedParams.values() };
    const body = { schedule, base_lr: baseLr.value, steps: Math.round(schedSteps.value) };
    const res = await track(status, () => runSched((signal) => postJSON("api/v1/schedules", body, { signal })), "schedules");
    if (!res) return;
    draw(schedDiv, [{ type: "scatter", mode: "lines", name: "lr", y: res.lr, line: { color: colorAt(4), width: 2 }, fill: "tozeroy", fillcolor: "rgba(112,72,232,0.08)" }],
      { title: `${(find(schedList, sched.value) || {}).title || sched.value}: learning rate per step`, xaxis: { title: "step" }, yaxis: { title: "learning rate", rangemode: "tozero" }, showlegend: false, margin: { t: 32, b: 40 } });
  }

  await Promise.all([computeSweep(), computeSched(), edgeOfStability(section, { catalog, status })]);
}

function titleOf(menu) {
  const e = menu.entry();
  return (e && e.title) || menu.name;
}
