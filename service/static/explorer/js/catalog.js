// Reading GET /api/v1/catalog: every menu on the page comes from it.

import { titleCase } from "./ui.js";

export class CatalogGap extends Error {
  constructor(key) {
    super(`the catalog has no "${key}" section on this server yet, so this picture has no menu to build`);
    this.name = "CatalogGap";
  }
}

export function entries(catalog, key) {
  const list = catalog && catalog[key];
  if (!Array.isArray(list) || !list.length) throw new CatalogGap(key);
  return list;
}

export function has(catalog, key) {
  return Array.isArray(catalog && catalog[key]) && catalog[key].length > 0;
}

export const options = (list) => list.map((e) => ({ value: e.name, label: e.title || titleCase(e.name) }));

export function find(list, name) {
  return list.find((e) => e.name === name) || null;
}

// The first of `preferred` that the catalog has, else its first entry.
export function pick(list, ...preferred) {
  for (const p of preferred) if (find(list, p)) return p;
  return list[0].name;
}

export function param(entry, name) {
  return (entry && (entry.parameters || []).find((p) => p.name === name)) || null;
}

export function params(entry) {
  return (entry && entry.parameters) || [];
}

// A surface's drawing domain: [[x0, x1], [y0, y1]], from whichever key the catalog uses.
export function domain(entry) {
  if (!entry) return null;
  const d = entry.domain;
  if (d && !Array.isArray(d) && d.x && d.y) return [d.x, d.y].map((r) => [Number(r[0]), Number(r[1])]);
  if (Array.isArray(entry.domain) && entry.domain.length === 2) return entry.domain.map((r) => [Number(r[0]), Number(r[1])]);
  if (entry.x_range && entry.y_range) return [entry.x_range, entry.y_range].map((r) => [Number(r[0]), Number(r[1])]);
  if (entry.bounds && entry.bounds.length === 2) return entry.bounds;
  return null;
}

export function limit(catalog, name, fallback) {
  const v = catalog && catalog.limits && catalog.limits[name];
  return typeof v === "number" ? v : fallback;
}
