// 5b. The edge of stability, live: the catalog's preset training run (presets.edge_of_stability, a complete
// training/run body with the curvature option) streamed from POST /api/v1/training/stream. Left: the sharpness
// λ_max of the loss's Hessian every few epochs beside the stability threshold 2/η; right: the training loss.
// The learning-rate slider restarts the run at the new η, and the 2/η line moves with it.

import { postEventBatches, isAbort } from "../api.js";
import { el, slider, fmt, metric, debounce } from "../ui.js";
import { draw, plotly, colorAt } from "../plots.js";

const REDRAW_MS = 250; // a run sends 10,000 epochs in a few seconds: redraw at most this often

export async function init(section, { catalog, status }) {
  const preset = (catalog.presets || {}).edge_of_stability;
  const panel = el("div", { class: "subpanel", id: "edge-of-stability" },
    el("h3", { text: "… and the edge of stability" }),
    el("p", { class: "lede", text: "On a quadratic, gradient descent with step η is stable only while the curvature "
      + "(the largest Hessian eigenvalue, the sharpness λ_max) stays below 2/η. A real network's training pushes its own "
      + "sharpness up until it reaches 2/η — and then stays there, while the loss keeps falling, unevenly. Move the "
      + "learning rate: the line 2/η moves, and the sharpness follows it. With a much smaller rate it never gets close." }));
  section.append(panel);
  if (!preset) {
    panel.append(el("p", { class: "note", text: "This server's catalog has no presets.edge_of_stability: nothing to run." }));
    return;
  }
  const controls = el("div", { class: "controls" });
  const figures = el("div", { class: "figures two" });
  panel.append(el("div", { class: "subbody" }, controls, figures));

  const lr = slider({ label: "Learning rate η", name: "eos-lr", min: 0.002, max: 0.1, log: true, value: preset.optimizer.lr,
    format: (v) => fmt(v, 3), onInput: () => restart() });
  // metric labels are set in capitals by the style sheet: no Greek there (η would read as H)
  const mSharp = metric("sharpness");
  const mThr = metric("threshold 2/lr");
  const mRatio = metric("sharpness ÷ threshold");
  const note = el("p", { class: "note", id: "eos-note" });
  const m = preset.model;
  controls.append(lr.root, el("div", { class: "readout" }, mSharp.root, mThr.root, mRatio.root), note,
    el("p", { class: "note", text: `The run: a ${m.layers.join("-")} ${m.activation} net fitting ${preset.dataset.n_train} points `
      + `of a degree-${preset.dataset.degree} polynomial, full-batch gradient descent for ${preset.epochs.toLocaleString()} epochs, `
      + `λ_max measured every ${preset.curvature.every} (exact Hessian-vector products, Lanczos).` }));

  const sharpDiv = el("div", { class: "plot", id: "plot-sharpness" });
  const lossDiv = el("div", { class: "plot", id: "plot-sharpness-loss" });
  figures.append(sharpDiv, lossDiv);

  let run = null; // { controller, epochs, loss, sEpoch, sharp, thr, lr }
  let timer = null;

  function drawEmpty(eta) {
    draw(sharpDiv, [
      { type: "scatter", mode: "lines+markers", name: "sharpness λ_max", x: [], y: [], line: { color: colorAt(0), width: 2 }, marker: { size: 4 } },
      { type: "scatter", mode: "lines", name: "2/η (stability threshold)", x: [0, preset.epochs], y: [2 / eta, 2 / eta],
        line: { color: "#c92a2a", width: 2, dash: "dash" } },
    ], { title: "Sharpness rises to 2/η and stays there", xaxis: { title: "epoch", range: [0, preset.epochs] },
      yaxis: { title: "λ_max", rangemode: "tozero" }, legend: { orientation: "h", y: -0.28 } });
    draw(lossDiv, [{ type: "scatter", mode: "lines", name: "training loss", x: [], y: [], line: { color: colorAt(1), width: 1.5 } }],
      { title: "Training loss (falls, not monotonically)", xaxis: { title: "epoch", range: [0, preset.epochs] },
        yaxis: { title: "loss", type: "log", exponentformat: "power" }, showlegend: false });
  }

  function flush() {
    if (!run) return;
    const P = plotly();
    const thr = run.thr.length ? run.thr : [2 / run.lr];
    P.restyle(sharpDiv, { x: [run.sEpoch.slice(), [0, preset.epochs]], y: [run.sharp.slice(), [thr.at(-1), thr.at(-1)]] }, [0, 1]);
    P.restyle(lossDiv, { x: [run.epochs.slice()], y: [run.loss.slice()] }, [0]);
    if (run.sharp.length) {
      const s = run.sharp.at(-1);
      mSharp.set(fmt(s, 4));
      mRatio.set(fmt(s / thr.at(-1), 3));
    }
    mThr.set(fmt(thr.at(-1), 4));
  }

  const restart = debounce(() => start(), 300);

  async function start() {
    if (run) run.controller.abort();
    const eta = lr.value;
    const body = JSON.parse(JSON.stringify(preset));
    body.optimizer.lr = eta;
    const mine = { controller: new AbortController(), epochs: [], loss: [], sEpoch: [], sharp: [], thr: [], lr: eta };
    run = mine;
    drawEmpty(eta);
    panel.dataset.stream = "running";
    note.textContent = "Training…";
    if (!timer) timer = setInterval(flush, REDRAW_MS);
    status.start();
    const t0 = performance.now();
    try {
      // the server sends the epochs in batches (~20 ms of training each): one await per batch
      for await (const batch of postEventBatches("api/v1/training/stream", body, { signal: mine.controller.signal })) {
        for (const { event, data } of batch) {
          if (event === "epoch") {
            mine.epochs.push(data.epoch);
            mine.loss.push(data.train_loss);
            if (data.sharpness !== undefined) {
              mine.sEpoch.push(data.epoch);
              mine.sharp.push(data.sharpness);
              if (data.threshold !== undefined) mine.thr.push(data.threshold);
            }
          } else if (event === "summary" && mine === run) {
            const h = data.history;
            const s = h.sharpness.at(-1);
            const t = h.threshold.at(-1);
            note.textContent = `Finished in ${((performance.now() - t0) / 1000).toFixed(1)} s: λ_max went from ${fmt(h.sharpness[0], 3)} `
              + `(epoch ${h.sharpness_epoch[0]}) to ${fmt(s, 3)} = ${fmt(s / t, 3)} × 2/η; the loss from ${fmt(h.train_loss[0], 3)} `
              + `to ${fmt(h.train_loss.at(-1), 3)}.`;
          }
        }
      }
      status.ok("edge of stability (training/stream)");
    } catch (err) {
      if (!isAbort(err) && mine === run) status.fail(err, "edge of stability (training/stream)");
    } finally {
      status.done();
      if (mine === run) {
        flush();
        clearInterval(timer);
        timer = null;
        panel.dataset.stream = "done";
      }
    }
  }

  await start();
}
