// 10. Convergence: a training run streamed epoch by epoch (fetch + ReadableStream; EventSource cannot POST),
// the learning-rate trace, early stopping marked, and the training doctor's diagnosis at the end.

import { postJSON, postEvents, ApiError, isAbort } from "../api.js";
import { el, slider, select, checkbox, layoutBody, fmt, group, metric, button, buttons, paramControls, debounce } from "../ui.js";
import { entries, options, pick, find, params } from "../catalog.js";
import { trainingControls } from "../training.js";
import { draw, plotly, colorAt } from "../plots.js";

// Starting values that make each schedule's shape visible over a few hundred steps (the catalog's
// defaults suit a real run: e.g. no warmup at all).
const SCHEDULE_START = { warmup_cosine: { warmup_steps: 30 }, step: { step_size: 60 }, cosine_warm_restarts: { T_0: 60, T_mult: 2 },
  linear: { total_iters: 100 }, polynomial: { total_iters: 200, power: 2 }, exponential: { gamma: 0.99 } };

export async function init(section, { catalog, status }) {
  const scheds = entries(catalog, "schedules");
  const { controls, figures } = layoutBody(section, { wide: true });
  const tc = trainingControls(catalog, { prefix: "conv", onChange: () => restart(), nTrain: 40, noise: 0.2, hidden: "32, 32", epochs: 300, lr: 0.02 });
  const sched = select({ label: "Schedule", name: "conv-schedule", options: options(scheds), value: pick(scheds, "warmup_cosine", "linear_warmup_cosine", "cosine"),
    onChange: () => { rebuildSched(); restart(); } });
  const schedHolder = el("div", {});
  let schedParams = null;
  function rebuildSched() {
    schedParams = paramControls(params(find(scheds, sched.value)), () => restart(), { skip: ["base_lr", "total_steps", "steps"], initial: SCHEDULE_START[sched.value] || {} });
    schedHolder.replaceChildren(schedParams.root);
  }
  rebuildSched();
  const pace = select({ label: "Drawing pace", name: "pace", options: [{ value: "100", label: "100 epochs a second" }, { value: "30", label: "30 epochs a second" },
    { value: "300", label: "300 epochs a second" }, { value: "0", label: "As they arrive" }], value: "100" });
  const esOn = checkbox({ label: "Early stopping", name: "early-stopping", checked: true, onChange: () => restart() });
  const patience = slider({ label: "Patience (epochs)", name: "patience", min: 5, max: 200, step: 5, value: 30, format: (v) => String(Math.round(v)), onInput: () => restart() });
  const startBtn = button("▶ Start training", () => { restart.now(); }, { name: "start" });
  const stopBtn = button("■ Stop", () => stopRun("stopped by you"), { secondary: true, name: "stop" });
  stopBtn.disabled = true;
  const mEpoch = metric("epoch");
  const mTrain = metric("train loss");
  const mVal = metric("validation loss");
  const mLr = metric("learning rate");
  const note = el("p", { class: "note", text: "Press start: the API trains the network and sends each epoch as it finishes." });
  controls.append(buttons(startBtn, stopBtn), el("div", { class: "readout" }, mEpoch.root, mTrain.root, mVal.root, mLr.root), note, pace.root,
    group("Data", ...tc.roots.data), group("Model", ...tc.roots.model), group("Training", ...tc.roots.train),
    group("Schedule and stopping", sched.root, el("p", { class: "note", text: "The schedule steps once per epoch (its steps are epochs here)." }),
      schedHolder, esOn.root, patience.root));

  const lossDiv = el("div", { class: "plot", id: "plot-convergence" });
  const lrDiv = el("div", { class: "plot short", id: "plot-convergence-lr" });
  const doctorBox = el("div", { class: "doctor", id: "doctor", hidden: true });
  figures.append(lossDiv, lrDiv, doctorBox);

  // A control change (or Start) stops the current run, if any, and trains again with the new settings.
  const restart = debounce(() => {
    stopRun("restarted with new settings");
    startRun();
  }, 400);
  const hist = { epoch: [], train: [], val: [], lr: [] };

  function body() {
    const b = tc.body();
    b.schedule = { name: sched.value, ...schedParams.values() };
    if (esOn.value) b.early_stopping = { patience: Math.round(patience.value) };
    return b;
  }

  function drawEmpty() {
    draw(lossDiv, [
      { type: "scatter", mode: "lines", name: "train", x: [], y: [], line: { color: colorAt(0), width: 2 } },
      { type: "scatter", mode: "lines", name: "validation", x: [], y: [], line: { color: colorAt(1), width: 2 } },
    ], { title: "Loss per epoch (live)", xaxis: { title: "epoch", rangemode: "tozero" }, yaxis: { title: "loss", type: "log" } });
    draw(lrDiv, [{ type: "scatter", mode: "lines", name: "learning rate", x: [], y: [], line: { color: colorAt(4), width: 2 }, fill: "tozeroy", fillcolor: "rgba(112,72,232,0.08)" }],
      { title: "Learning rate per epoch", xaxis: { title: "epoch", rangemode: "tozero" }, yaxis: { title: "lr", rangemode: "tozero" }, showlegend: false, margin: { t: 32, b: 40 } });
  }

  // Epochs are drawn at the chosen pace: a small net trains hundreds of epochs in a blink, so the
  // events are queued as they arrive and a timer draws them; "as they arrive" draws each at once.
  // Every drawn point is an epoch the API sent; Stop ends the request (if still open) and the drawing.
  // Each run has its own record, so a run being cancelled cannot touch the next one's.
  let cur = null; // { queue, done, summary, controller }
  let timer = null;

  function flush() {
    const P = plotly();
    P.restyle(lossDiv, { x: [hist.epoch.slice(), hist.epoch.slice()], y: [hist.train.slice(), hist.val.slice()] }, [0, 1]);
    P.restyle(lrDiv, { x: [hist.epoch.slice()], y: [hist.lr.slice()] }, [0]);
  }

  function take(n) {
    const batch = cur.queue.splice(0, n);
    for (const d of batch) {
      hist.epoch.push(d.epoch);
      hist.train.push(d.train_loss);
      hist.val.push(d.val_loss);
      hist.lr.push(d.lr);
    }
    if (batch.length) {
      const d = batch[batch.length - 1];
      mEpoch.set(String(d.epoch));
      mTrain.set(fmt(d.train_loss));
      mVal.set(fmt(d.val_loss));
      mLr.set(fmt(d.lr, 3));
      flush();
    }
  }

  function tick() {
    const rate = Number(pace.value); // epochs per second; 0 = as they arrive
    take(rate > 0 ? Math.max(1, Math.round(rate / 30)) : cur.queue.length);
    if (cur.done && !cur.queue.length) end(cur.summary, cur.summary ? null : "the stream ended without a summary");
  }

  async function startRun() {
    if (timer) return;
    hist.epoch = []; hist.train = []; hist.val = []; hist.lr = [];
    const run = { queue: [], done: false, summary: null, controller: new AbortController() };
    cur = run;
    drawEmpty();
    doctorBox.hidden = true;
    status.ok("training/stream");
    status.ok("training/diagnose");
    startBtn.disabled = true;
    stopBtn.disabled = false;
    section.dataset.stream = "running";
    note.textContent = "Training…";
    timer = setInterval(tick, 33);
    status.start();
    try {
      for await (const { event, data } of postEvents("api/v1/training/stream", body(), { signal: run.controller.signal })) {
        if (event === "epoch") run.queue.push(data);
        else if (event === "summary") run.summary = data;
        else if (event === "error") throw new ApiError(data.code || 500, data, data.message);
      }
    } catch (err) {
      if (!isAbort(err) && run === cur) {
        status.fail(err, "training/stream");
        end(null, "error");
      }
    } finally {
      run.done = true;
      status.done();
    }
  }

  function stopRun(reason) {
    if (!timer) return;
    if (!cur.done) cur.controller.abort();
    end(null, reason);
  }

  async function end(sum, reason) {
    if (!timer) return;
    clearInterval(timer);
    timer = null;
    startBtn.disabled = false;
    stopBtn.disabled = true;
    section.dataset.stream = "stopped";
    if (sum) {
      const best = sum.best_epoch;
      const stopped = sum.stopped_epoch;
      note.textContent = `Finished: ${String(sum.stop_reason || "done").replace(/_/g, " ")} after epoch ${stopped ?? hist.epoch.at(-1)}; `
        + `best validation loss at epoch ${best}${sum.restored_best ? " (its weights were restored)" : ""}.`;
      const shapes = [];
      const annotations = [];
      if (Number.isFinite(best)) {
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: best, x1: best, y0: 0, y1: 1, line: { color: colorAt(2), width: 2, dash: "dash" } });
        annotations.push({ x: best, y: 1, xref: "x", yref: "paper", text: `best epoch ${best}`, showarrow: false, yanchor: "bottom", font: { color: colorAt(2) } });
      }
      if (Number.isFinite(stopped) && sum.stop_reason && sum.stop_reason !== "completed") {
        shapes.push({ type: "line", xref: "x", yref: "paper", x0: stopped, x1: stopped, y0: 0, y1: 1, line: { color: "#c92a2a", width: 2 } });
        annotations.push({ x: stopped, y: 0.9, xref: "x", yref: "paper", text: `stopped: ${String(sum.stop_reason).replace(/_/g, " ")}`, showarrow: false, xanchor: "right", font: { color: "#c92a2a" } });
      }
      const span = [0, Math.max(1, hist.epoch.at(-1) || 1)];
      plotly().relayout(lossDiv, { shapes, annotations, "xaxis.range": span });
      plotly().relayout(lrDiv, { "xaxis.range": span });
    } else {
      note.textContent = `Stopped after ${hist.epoch.length} epochs${reason ? ` (${reason})` : ""}.`;
    }
    if (hist.train.length >= 5) await diagnose();
  }

  async function diagnose() {
    const finite = (a) => a.map((v) => (Number.isFinite(v) ? v : null));
    const payload = { train_loss: finite(hist.train) };
    if (hist.val.length === hist.train.length && hist.val.every((v) => v !== undefined)) payload.val_loss = finite(hist.val);
    status.start();
    try {
      const d = await postJSON("api/v1/training/diagnose", payload);
      showDoctor(d);
    } catch (err) {
      status.fail(err, "training/diagnose");
    } finally {
      status.done();
    }
  }

  function showDoctor(d) {
    const tree = Array.isArray(d.tree) ? d.tree : [];
    const evidence = d.evidence && typeof d.evidence === "object"
      ? Object.entries(d.evidence).map(([k, v]) => `${k.replace(/_/g, " ")}: ${Array.isArray(v) ? v.map((x) => fmt(x)).join(", ") : typeof v === "number" ? fmt(v) : v}`).join(" · ")
      : String(d.evidence || "");
    doctorBox.replaceChildren(
      el("h3", {}, "The training doctor says: ", el("span", { class: "status-pill", id: "diagnosis", text: d.diagnosis })),
      el("p", { class: "note", text: evidence }),
      el("p", {}, el("strong", {}, "What to do: "), d.action || ""),
      tree.length ? el("details", { open: true }, el("summary", {}, "How it decided (the path through its decision tree)"),
        el("ol", { class: "tree" }, tree.map((n, i) => el("li", { class: i === tree.length - 1 ? "taken final" : "taken" },
          `${n.question || n.node} → ${n.answer === true ? "yes" : n.answer === false ? "no" : String(n.answer)}`,
          n.numbers && Object.keys(n.numbers).length ? el("span", { class: "note" }, `  (${Object.entries(n.numbers).map(([k, v]) => `${k} ${typeof v === "number" ? fmt(v) : v}`).join(", ")})`) : "")))) : "",
    );
    doctorBox.hidden = false;
  }

  drawEmpty();
  section.dataset.state = "ready";
  restart.now();
}
