// Boot: read the catalog once, then start each section when it first comes near the screen.

import { getJSON, describeError } from "./api.js";
import { sectionStatus } from "./ui.js";

const MODULES = {
  predictions: () => import("./sections/predictions.js"),
  losszoo: () => import("./sections/losszoo.js"),
  landscape: () => import("./sections/landscape.js"),
  descent: () => import("./sections/descent.js"),
  learningrate: () => import("./sections/learningrate.js"),
  optimizers: () => import("./sections/optimizers.js"),
  backprop: () => import("./sections/backprop.js"),
  gradients: () => import("./sections/gradients.js"),
  regularization: () => import("./sections/regularization.js"),
  convergence: () => import("./sections/convergence.js"),
  lm: () => import("./sections/lm.js"),
  sweeps: () => import("./sections/sweeps.js"),
};

const bootStatus = document.getElementById("boot-status");

function plotlyReady() {
  if (window.Plotly) return Promise.resolve();
  return new Promise((resolve) => window.addEventListener("load", () => resolve(), { once: true }));
}

async function start(section, catalog) {
  if (section.dataset.started) return;
  section.dataset.started = "1";
  const status = sectionStatus(section);
  try {
    const mod = await MODULES[section.dataset.module]();
    await mod.init(section, { catalog, status });
  } catch (err) {
    status.fail(err, "This picture could not start");
  }
}

async function boot() {
  await plotlyReady();
  let catalog = {};
  try {
    catalog = await getJSON("api/v1/catalog");
    const keys = Object.keys(catalog).filter((k) => Array.isArray(catalog[k]));
    bootStatus.textContent = `Catalog loaded: ${keys.map((k) => `${catalog[k].length} ${k}`).join(", ") || "no sections yet"}.`;
  } catch (err) {
    bootStatus.textContent = `The catalog did not load — ${describeError(err).title}`;
    bootStatus.classList.add("error");
  }
  const sections = [...document.querySelectorAll("section.panel[data-module]")];
  // Start what is on screen now and the rest as it is scrolled to (each section calls the API
  // when it starts, so a phone does not run all ten at once).
  if ("IntersectionObserver" in window) {
    const io = new IntersectionObserver((seen) => {
      for (const e of seen) {
        if (e.isIntersecting) {
          io.unobserve(e.target);
          start(e.target, catalog);
        }
      }
    }, { rootMargin: "300px 0px" });
    sections.forEach((s) => io.observe(s));
  } else {
    sections.forEach((s) => start(s, catalog));
  }
  window.descentlabExplorer = { catalog, start: (id) => start(document.getElementById(id), catalog) };
}

boot();
