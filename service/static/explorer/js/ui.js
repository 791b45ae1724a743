// Small DOM helpers and the controls every section builds from the catalog.

import { describeError, isAbort } from "./api.js";

let uid = 0;
const nextId = (stem) => `${stem}-${++uid}`;

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "text") node.textContent = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on") && typeof v === "function") node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

export function debounce(fn, ms = 200) {
  let t = null;
  const wrapped = (...args) => {
    clearTimeout(t);
    t = setTimeout(() => fn(...args), ms);
  };
  wrapped.now = (...args) => {
    clearTimeout(t);
    fn(...args);
  };
  return wrapped;
}

// numbers for people: 4 significant digits, exponent when tiny or huge
export function fmt(x, digits = 4) {
  if (x === null || x === undefined || Number.isNaN(x)) return "—";
  if (typeof x !== "number") return String(x);
  if (!Number.isFinite(x)) return x > 0 ? "∞" : "−∞";
  const a = Math.abs(x);
  if (a !== 0 && (a < 1e-3 || a >= 1e5)) return x.toExponential(digits - 1).replace("e", "e");
  return Number(x.toPrecision(digits)).toString();
}

export const titleCase = (s) => String(s).replace(/_/g, " ").replace(/^./, (c) => c.toUpperCase());

// ---- controls -------------------------------------------------------------------------------------

// A range slider; with log: true it moves in log10 space and reports 10**position.
export function slider({ label, min, max, step, value, log = false, format = fmt, onInput, name, hint }) {
  const id = nextId("s");
  const toPos = (v) => (log ? Math.log10(v) : v);
  const fromPos = (p) => (log ? 10 ** p : p);
  const input = el("input", {
    type: "range", id, name: name || label,
    min: toPos(min), max: toPos(max), step: log ? "any" : step ?? (max - min) / 100,
  });
  input.value = toPos(value);
  const out = el("output", { for: id });
  const root = el("div", { class: "ctl" }, el("label", { class: "ctl-label", for: id }, el("span", {}, label), out));
  root.append(input);
  if (hint) root.append(el("span", { class: "hint", text: hint }));
  const read = () => {
    let v = fromPos(Number(input.value));
    if (log) v = Number(v.toPrecision(3));
    return v;
  };
  const show = () => { out.textContent = format(read()); };
  input.addEventListener("input", () => { show(); onInput && onInput(read()); });
  show();
  return {
    root, input,
    get value() { return read(); },
    set value(v) { input.value = toPos(v); show(); },
  };
}

export function select({ label, options, value, onChange, name }) {
  const id = nextId("sel");
  const input = el("select", { id, name: name || label });
  const fill = (opts, v) => {
    input.replaceChildren(...opts.map((o) => el("option", { value: o.value, text: o.label ?? o.value })));
    if (v !== undefined && opts.some((o) => o.value === v)) input.value = v;
  };
  fill(options, value);
  input.addEventListener("change", () => onChange && onChange(input.value));
  const root = el("div", { class: "ctl" }, el("label", { class: "ctl-label", for: id }, el("span", {}, label)), input);
  return {
    root, input, fill,
    get value() { return input.value; },
    set value(v) { input.value = v; },
  };
}

export function checkbox({ label, checked = false, onChange, name }) {
  const input = el("input", { type: "checkbox", name: name || label });
  input.checked = checked;
  input.addEventListener("change", () => onChange && onChange(input.checked));
  const root = el("label", { class: "check" }, input, el("span", {}, label));
  return {
    root, input,
    get value() { return input.checked; },
    set value(v) { input.checked = !!v; },
  };
}

export function textInput({ label, value = "", onChange, hint, name, type = "text" }) {
  const id = nextId("t");
  const input = el("input", { type, id, name: name || label, spellcheck: "false", autocomplete: "off" });
  input.value = value;
  input.addEventListener("input", () => onChange && onChange(input.value));
  const root = el("div", { class: "ctl" }, el("label", { class: "ctl-label", for: id }, el("span", {}, label)), input);
  if (hint) root.append(el("span", { class: "hint", text: hint }));
  return {
    root, input,
    get value() { return input.value; },
    set value(v) { input.value = v; },
  };
}

export function group(legend, ...children) {
  return el("fieldset", { class: "group" }, el("legend", { text: legend }), ...children);
}

export function buttons(...btns) {
  return el("div", { class: "buttons" }, ...btns);
}

export function button(label, onClick, { secondary = false, name } = {}) {
  return el("button", { type: "button", class: secondary ? "secondary" : null, onclick: onClick, "data-action": name || null }, label);
}

// Parse "1, 2.5, 3" into numbers; null when any entry is not a finite number.
export function parseNumbers(text) {
  const parts = String(text).split(/[\s,;]+/).filter(Boolean);
  const nums = parts.map(Number);
  return parts.length && nums.every(Number.isFinite) ? nums : null;
}

// ---- parameters described by the catalog (engine.registry.ParamSpec.to_dict) ------------------------

// A typed number, or the text itself so the API can say what is wrong with it.
const numberOr = (text) => (Number.isFinite(Number(text)) ? Number(text) : text);

// Slider ranges for well-known parameters the catalog leaves open-ended (high = null). These only
// bound the control; the API still validates whatever is sent.
// They take precedence over very wide catalog ranges (std 0..100 is a useless slider).
const UI_RANGES = {
  momentum: [0, 0.99, 0.01],
  alpha: [0.5, 0.999, 0.001],
  rho: [0.5, 0.999, 0.001],
  weight_decay: [0, 0.1, 0.001],
  gamma: [0.01, 1, 0.01],
  lr_decay: [0, 0.1, 0.001],
  std: [0.01, 10, "log"],
  mean: [-1, 1, 0.01],
  gain: [0.1, 10, "log"],
};

// Controls for a catalog entry's parameters. values() returns only the parameters whose value differs
// from the catalog default, so the engine's own defaults apply otherwise. `initial` overrides the
// starting value of a control (it is then sent, since it differs from the default).
export function paramControls(params, onChange, { skip = [], initial = {} } = {}) {
  const root = el("div", { class: "params controls" });
  const readers = [];
  for (const p of params || []) {
    if (skip.includes(p.name)) continue;
    const label = titleCase(p.name);
    const kind = p.kind || "float";
    const start = p.name in initial ? initial[p.name] : p.default;
    const finite = (v) => typeof v === "number" && Number.isFinite(v);
    let ctl;
    let read;
    if (kind === "bool") {
      ctl = checkbox({ label, checked: !!start, name: p.name, onChange: () => onChange() });
      read = () => ctl.value;
    } else if (kind === "choice" && p.choices && p.choices.length) {
      ctl = select({ label, name: p.name, options: p.choices.map((c) => ({ value: String(c) })), value: String(start), onChange: () => onChange() });
      read = () => {
        const hit = p.choices.find((c) => String(c) === ctl.value);
        return hit === undefined ? ctl.value : hit;
      };
    } else if ((kind === "float" || kind === "int") && finite(start)) {
      let range = null;
      if (UI_RANGES[p.name] && kind === "float") {
        const [lo, hi, st] = UI_RANGES[p.name];
        range = [finite(p.low) ? Math.max(lo, p.low) : lo, finite(p.high) ? Math.min(hi, p.high) : hi, st];
        if (start < range[0] || start > range[1]) range = null; // the default lies outside: no slider
      }
      if (!range && finite(p.low) && finite(p.high) && p.high > p.low && (kind === "float" || p.high - p.low <= 1000)) {
        range = [p.low, p.high, kind === "int" ? 1 : (p.high - p.low) / 200];
      }
      if (range) {
        const useLog = kind === "float" && range[0] > 0 && (range[2] === "log" || range[1] / range[0] >= 1000);
        ctl = slider({ label, name: p.name, min: range[0], max: range[1], step: useLog ? 0.01 : range[2], value: start, log: useLog, onInput: () => onChange() });
        read = () => (kind === "int" ? Math.round(ctl.value) : Number(ctl.value.toPrecision(6)));
      } else {
        ctl = textInput({ label, name: p.name, value: String(start), onChange: () => onChange() });
        read = () => (ctl.value.trim() === "" ? p.default : numberOr(ctl.value));
      }
    } else if (kind === "float" || kind === "int") {
      // no default (null: the engine derives it, e.g. from the number of steps)
      ctl = textInput({ label, name: p.name, value: start ?? "", hint: start === null ? "empty: automatic" : undefined, onChange: () => onChange() });
      read = () => (ctl.value.trim() === "" ? p.default : numberOr(ctl.value));
    } else {
      // pair / list: comma-separated numbers
      const def = Array.isArray(start) ? start.join(", ") : start ?? "";
      ctl = textInput({ label, name: p.name, value: def, hint: "comma-separated numbers", onChange: () => onChange() });
      read = () => (ctl.value.trim() === "" ? p.default : parseNumbers(ctl.value) ?? ctl.value);
    }
    if (p.doc) ctl.root.title = p.doc;
    root.append(ctl.root);
    readers.push([p, read]);
  }
  return {
    root,
    empty: readers.length === 0,
    values() {
      const out = {};
      for (const [p, read] of readers) {
        const v = read();
        if (JSON.stringify(v) !== JSON.stringify(p.default)) out[p.name] = v;
      }
      return out;
    },
  };
}

// ---- section state and errors -------------------------------------------------------------------

// Tracks a section's state (data-state: loading | ready | error) and shows API errors in place, one
// entry per request kind (context), so a success of one picture does not hide another's error.
export function sectionStatus(section) {
  const box = el("div", { class: "error", role: "alert", hidden: true });
  section.querySelector(".lede") ? section.querySelector(".lede").after(box) : section.append(box);
  let pending = 0;
  const errors = new Map();
  function render() {
    box.replaceChildren();
    for (const [context, d] of errors) {
      box.append(el("div", { class: "error-title" }, context ? `${context}: ${d.title}` : d.title));
      if (d.fields.length) box.append(el("ul", {}, d.fields.map(([f, m]) => el("li", {}, el("code", {}, f || "request"), ` — ${m}`))));
    }
    box.hidden = errors.size === 0;
    if (errors.size) section.dataset.state = "error";
    else if (!pending) section.dataset.state = "ready";
  }
  return {
    box,
    start() {
      pending += 1;
      if (!errors.size) section.dataset.state = "loading";
    },
    done() {
      pending = Math.max(0, pending - 1);
      if (!pending && !errors.size) section.dataset.state = "ready";
    },
    ok(context = "") {
      if (errors.delete(context) || !errors.size) render();
    },
    fail(err, context = "") {
      if (isAbort(err)) return false;
      errors.set(context, describeError(err));
      render();
      return true;
    },
  };
}

// Run an API call for a section: marks loading, clears or shows its error, ignores aborted calls.
export async function track(status, fn, context = "") {
  status.start();
  try {
    const out = await fn();
    status.ok(context);
    return out;
  } catch (err) {
    status.fail(err, context);
    return undefined;
  } finally {
    status.done();
  }
}

export function layoutBody(section, { wide = false } = {}) {
  const controls = el("div", { class: "controls" });
  const figures = el("div", { class: "figures" });
  const body = el("div", { class: wide ? "body wide-controls" : "body" }, controls, figures);
  section.append(body);
  return { controls, figures, body };
}

export function metric(label, value = "—") {
  const v = el("span", { class: "v", text: value });
  const root = el("div", { class: "metric" }, el("span", { class: "k", text: label }), v);
  return { root, set(text) { v.textContent = text; } };
}

export function table(headers, rows) {
  return el("div", { class: "table-wrap" },
    el("table", { class: "data" },
      el("thead", {}, el("tr", {}, headers.map((h) => el("th", { text: h })))),
      el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c) => (c instanceof Node ? el("td", {}, c)
        : el("td", { class: typeof c === "number" ? "num" : null, text: typeof c === "number" ? fmt(c) : c }))))))));
}
