// Talking to the descentlab API: JSON in, JSON out, one error shape {code, status, message, errors}.
// Paths are relative ("api/v1/...") so the page also works when the service is mounted under a prefix.

export class ApiError extends Error {
  constructor(status, body, fallback, url) {
    const message = (body && body.message) || fallback || `HTTP ${status}`;
    super(message);
    this.name = "ApiError";
    this.status = status;
    this.body = body || null;
    this.url = url || null;
  }
}

async function parse(resp) {
  const text = await resp.text();
  let data = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch (_) {
    data = null;
  }
  if (!resp.ok) {
    throw new ApiError(resp.status, data, data ? null : `HTTP ${resp.status} ${resp.statusText}: the server sent no JSON error`, resp.url);
  }
  if (data === null) throw new ApiError(resp.status, null, "the server's answer was not JSON", resp.url);
  return data;
}

export async function getJSON(path, { signal } = {}) {
  const resp = await fetch(path, { headers: { Accept: "application/json" }, signal });
  return parse(resp);
}

// Answers are kept in the browser's Cache Storage under a key made from the path and the body, with
// their ETag; asking again sends If-None-Match, and a 304 (the server decides from the request alone,
// without computing) means the kept answer is current. A reload of the page then costs round trips of
// a few hundred bytes instead of computations. Cache Storage needs a secure context (https, or
// localhost): elsewhere every request is simply sent.
const STORE = "descentlab-api-v1";

async function storeKey(path, text) {
  if (!globalThis.caches || !globalThis.crypto || !crypto.subtle) return null;
  const digest = await crypto.subtle.digest("SHA-256", new TextEncoder().encode(`${path}\n${text}`));
  const hex = [...new Uint8Array(digest)].map((b) => b.toString(16).padStart(2, "0")).join("");
  return new URL(`api-cache/${hex}`, location.href).href;
}

// A 503 with Retry-After means "busy now, try then" (every heavy-work slot of the replica is taken, e.g.
// while other sections of this page train): wait as told and ask again, a few times, before showing it.
const RETRIES = 4;
const MAX_WAIT_S = 10;

function pause(ms, signal) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    if (signal) {
      signal.addEventListener("abort", () => {
        clearTimeout(timer);
        reject(new DOMException("aborted while waiting to retry", "AbortError"));
      }, { once: true });
    }
  });
}

export async function fetchRetrying(path, init) {
  for (let attempt = 0; ; attempt++) {
    const resp = await fetch(path, init);
    const after = Number(resp.headers.get("Retry-After"));
    if (resp.status !== 503 || attempt >= RETRIES || !Number.isFinite(after) || after < 0) return resp;
    await pause((Math.min(after, MAX_WAIT_S) + Math.random()) * 1000, init.signal);
  }
}

export async function postJSON(path, body, { signal } = {}) {
  const text = JSON.stringify(body);
  const headers = { "Content-Type": "application/json", Accept: "application/json" };
  let store = null;
  let key = null;
  let kept = null;
  try {
    key = await storeKey(path, text);
    if (key) {
      store = await caches.open(STORE);
      kept = await store.match(key);
    }
  } catch (_) {
    store = null; // storage refused (private mode, quota): just ask the server
  }
  const tag = kept && kept.headers.get("ETag");
  if (tag) headers["If-None-Match"] = tag;
  const resp = await fetchRetrying(path, { method: "POST", headers, body: text, signal });
  if (resp.status === 304 && kept) return parse(kept);
  if (store && resp.ok && resp.headers.get("ETag")) {
    store.put(key, resp.clone()).catch(() => {});
  }
  return parse(resp);
}

// One request at a time per picture: a newer request aborts the older one, whose promise then
// rejects with an AbortError that callers ignore (isAbort).
export function latest() {
  let controller = null;
  return async function run(fn) {
    if (controller) controller.abort();
    const mine = new AbortController();
    controller = mine;
    try {
      return await fn(mine.signal);
    } finally {
      if (controller === mine) controller = null;
    }
  };
}

export function isAbort(err) {
  return err && (err.name === "AbortError" || err.name === "AbortSignal");
}

function flatten(prefix, value, out) {
  if (Array.isArray(value)) {
    if (value.every((v) => typeof v === "string")) {
      out.push([prefix, value.join("; ")]);
    } else {
      value.forEach((v, i) => flatten(`${prefix}[${i}]`, v, out));
    }
  } else if (value && typeof value === "object") {
    for (const [k, v] of Object.entries(value)) flatten(prefix ? `${prefix}.${k}` : k, v, out);
  } else if (value !== undefined && value !== null) {
    out.push([prefix, String(value)]);
  }
  return out;
}

// {title, fields: [[field, message], ...]} for showing an error in place.
export function describeError(err) {
  if (err instanceof ApiError) {
    const b = err.body || {};
    const status = b.status ? `${err.status} ${b.status}` : `HTTP ${err.status}`;
    let title = `${status}: ${err.message}`;
    if (err.status === 404) {
      const path = err.url ? new URL(err.url, location.href).pathname : "this endpoint";
      title = `${status}: ${path} is not on this server (yet), so this picture cannot be computed`;
    }
    // validation errors arrive keyed by location ("json") then field; drop the location
    let errors = b.errors || null;
    if (errors && typeof errors === "object" && Object.keys(errors).length === 1 && errors.json) errors = errors.json;
    return { title, fields: errors ? flatten("", errors, []) : [] };
  }
  if (err instanceof TypeError) {
    return { title: `Could not reach the API (${err.message}). Is the service running?`, fields: [] };
  }
  return { title: String((err && err.message) || err), fields: [] };
}

// Parse a text/event-stream body into arrays of {event, data}: every event completed by one read of the
// body, in order. A server writing many events at once (training/stream sends its epochs in batches) then
// costs one await per batch, not per event: 10,000 epochs were 10,000 turns of the async generator here.
export async function* readEventBatches(resp, signal) {
  const reader = resp.body.getReader();
  const decoder = new TextDecoder();
  let buf = "";
  try {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) break;
      buf += decoder.decode(value, { stream: true });
      const blocks = buf.split(/\r?\n\r?\n/);
      buf = blocks.pop(); // the event still arriving ("" when the read ended on a boundary)
      const batch = [];
      for (const block of blocks) {
        let event = "message";
        const data = [];
        for (const line of block.split(/\r?\n/)) {
          if (line.startsWith("event:")) event = line.slice(6).trim();
          else if (line.startsWith("data:")) data.push(line.slice(5).replace(/^ /, ""));
        }
        if (data.length) batch.push({ event, data: JSON.parse(data.join("\n")) });
      }
      if (batch.length) yield batch;
      if (signal && signal.aborted) break;
    }
  } finally {
    reader.releaseLock();
  }
}

// The same, one {event, data} at a time.
export async function* readEvents(resp, signal) {
  for await (const batch of readEventBatches(resp, signal)) yield* batch;
}

async function openEvents(path, body, signal) {
  const resp = await fetchRetrying(path, {
    method: "POST", headers: { "Content-Type": "application/json", Accept: "text/event-stream" },
    body: JSON.stringify(body), signal,
  });
  if (!resp.ok) {
    let data = null;
    try { data = await resp.json(); } catch (_) { /* not JSON */ }
    throw new ApiError(resp.status, data, `HTTP ${resp.status}`, resp.url);
  }
  return resp;
}

// POST a body to a text/event-stream endpoint; yields arrays of {event, data} as they arrive. A non-2xx
// answer throws the API's JSON error (a 422 names the field) before any event.
export async function* postEventBatches(path, body, { signal } = {}) {
  yield* readEventBatches(await openEvents(path, body, signal), signal);
}

// The same, one {event, data} at a time.
export async function* postEvents(path, body, { signal } = {}) {
  yield* readEvents(await openEvents(path, body, signal), signal);
}
