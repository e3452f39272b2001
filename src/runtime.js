// The request path's calls into the Workers runtime, one call from Rust per step (src/gateway.rs,
// src/proxy.rs): every call across the JS/wasm boundary costs time on every request, so the
// runtime's own objects are used here and only strings cross. No decision is made here: the
// core pipeline decides what is forwarded and with which headers; this file only carries it out.
// Why it is JavaScript: docs/decisions/0007-runtime-glue.md.

import * as workers from "cloudflare:workers";

/**
 * The Worker's bindings while the runtime loads it, before any request (`env` of
 * "cloudflare:workers"), or undefined on a runtime that does not offer them there.
 */
export function startupEnv() {
  return workers.env;
}

/**
 * 16 bytes from the runtime's cryptographic random source: the secret that keys the isolate's
 * token cache (core/src/gateway/token_cache.rs).
 */
export function randomSecret() {
  return crypto.getRandomValues(new Uint8Array(16));
}

/** `requestParts`' read-ahead list, split once: Rust passes the same string object every time. */
let readAheadList = null;
let readAheadNames = [];
const utf8 = new TextEncoder();

/**
 * The parts of `request` the pipeline reads, in one string of lines (none of them can contain a
 * line feed: the URL parser removes them, header names and values cannot hold one): method,
 * pathname, search (with its "?"), scheme (with its ":"), host (with a non-default port), the
 * header names joined with ",", then for each name in `readAhead` (comma-separated) "=" and its
 * value, or an empty line when the request has no such header. The URL comes from the runtime's
 * own parser, the one its `fetch` uses. Answered as UTF-8 bytes: the runtime's encoder copies a
 * token-sized string into wasm memory several times faster than wasm-bindgen's string passing,
 * which goes through it one character at a time.
 */
export function requestParts(request, readAhead) {
  if (readAhead !== readAheadList) {
    readAheadList = readAhead;
    readAheadNames = readAhead.split(",");
  }
  const url = new URL(request.url);
  const headers = request.headers;
  const names = [...headers.keys()];
  let text = `${request.method}\n${url.pathname}\n${url.search}\n${url.protocol}\n${url.host}\n${names.join(",")}`;
  for (const name of readAheadNames) {
    // `get` answers null exactly for the names that `keys()` does not list (both lowercase), and
    // each call into the runtime costs about 3 thousand instructions: only present ones are read.
    const value = names.includes(name) ? headers.get(name) : null;
    text += value === null ? "\n" : `\n=${value}`;
  }
  return utf8.encode(text);
}

/**
 * Sends `request` to `target` with the core's header edits applied to a copy of its headers:
 * `deletes`, names one per line, then `sets`, lines name, value, name, value... (Rust refuses an
 * edit with a line feed before the call); the body streamed unless `withBody`
 * is false; redirects returned, not followed. A timer aborts the fetch after `timeoutMs` unless
 * the response headers came first (a body that streams for longer is never cut). Settles with the
 * origin's response, or with what `onFailure(timedOut, message)` returns when the fetch fails. Throws (to
 * Rust) when a header edit is refused by the runtime.
 */
export function forward(request, target, withBody, deletes, sets, timeoutMs, onFailure) {
  const headers = new Headers(request.headers);
  if (deletes !== "") for (const name of deletes.split("\n")) headers.delete(name);
  if (sets !== "") {
    const pairs = sets.split("\n");
    for (let i = 0; i + 1 < pairs.length; i += 2) headers.set(pairs[i], pairs[i + 1]);
  }
  const controller = new AbortController();
  const init = { method: request.method, headers, redirect: "manual", signal: controller.signal };
  if (withBody && request.body !== null) init.body = request.body;
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  let sent;
  try {
    sent = fetch(target, init);
  } catch (error) {
    clearTimeout(timer);
    throw error;
  }
  return sent.then(
    (response) => {
      clearTimeout(timer);
      return response;
    },
    (error) => {
      clearTimeout(timer);
      // Only the timer aborts this controller.
      return onFailure(controller.signal.aborted, String(error));
    },
  );
}

/**
 * `promise`, then `callback(true, value)` once it is fulfilled or `callback(false, reason)` once
 * it is rejected: one callback for both outcomes, so that a Rust closure made for one call is
 * called exactly once (and so freed). Settles with what the callback returns.
 */
export function whenSettled(promise, callback) {
  return promise.then(
    (value) => callback(true, value),
    (reason) => callback(false, reason),
  );
}

/**
 * A JSON response of the gateway itself (an RFC 6750 error or one of its endpoints), never
 * cached; `challenge` (WWW-Authenticate), `retryAfter` and `allow` are left out when empty.
 */
export function respond(status, body, challenge, retryAfter, allow) {
  const headers = { "content-type": "application/json", "cache-control": "no-store" };
  if (challenge !== "") headers["www-authenticate"] = challenge;
  if (retryAfter !== "") headers["retry-after"] = retryAfter;
  if (allow !== "") headers.allow = allow;
  return new Response(body, { status, headers });
}

/**
 * A public JSON document of the gateway (the RFC 9728 metadata): 200 with the core's
 * `cacheControl`, readable by scripts of any origin (it holds nothing secret), without a body
 * when `head`.
 */
export function publicDocument(body, cacheControl, head) {
  const headers = { "content-type": "application/json", "cache-control": cacheControl, "access-control-allow-origin": "*" };
  return new Response(head ? null : body, { status: 200, headers });
}

/**
 * `text` read by the runtime's URL parser (the one `fetch` uses), as lines: href, scheme
 * (without ":"), hostname, then "1" when it has a user name or a password, else "0"; or "" when
 * it is not an absolute URL. None of them can hold a line feed (the parser removes them).
 */
export function parseUrl(text) {
  let url;
  try {
    url = new URL(text);
  } catch {
    return "";
  }
  const credentials = url.username !== "" || url.password !== "" ? "1" : "0";
  return [url.href, url.protocol.slice(0, -1), url.hostname, credentials].join("\n");
}

// ---- The key cache's I/O: the JWKS fetch, KV and the retry backoff (src/http.rs, src/kv.rs) ----
// Rare next to requests; here so that the module carries none of the `worker` crate's fetch and
// KV wrappers. Every failure settles as a rejection with a string: "timeout", "too_large", or
// the runtime's message.

/** What a failure settles with: its message. */
const failure = (error) => {
  throw typeof error === "string" ? error : String(error?.message ?? error);
};

/** `promise`, or a rejection with "timeout" after `ms` milliseconds. */
function withTimeout(promise, ms) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject("timeout"), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer)).catch(failure);
}

/** A promise resolved after `ms` milliseconds (the fetcher's retry backoff). */
export function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * GET `url` for the key fetcher: JSON accepted, `If-None-Match: etag` unless `etag` is "",
 * redirects returned (never followed), the whole exchange aborted after `timeoutMs`, and the body
 * of a 2xx read up to `maxBytes` (one byte more is "too_large", as is a larger Content-Length).
 * Settles with [status, ETag, Cache-Control, Content-Type, body bytes] (absent headers null).
 */
export async function fetchJson(url, etag, timeoutMs, maxBytes) {
  const headers = { accept: "application/json" };
  if (etag !== "") headers["if-none-match"] = etag;
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const response = await fetch(url, { headers, redirect: "manual", signal });
    const header = (name) => response.headers.get(name);
    const length = header("content-length");
    let body = new Uint8Array(0);
    if (length !== null && Number(length.trim()) > maxBytes) {
      await response.body?.cancel();
      throw "too_large";
    }
    if (response.status >= 200 && response.status < 300 && response.body !== null) {
      const reader = response.body.getReader();
      const chunks = [];
      let size = 0;
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        size += value.byteLength;
        if (size > maxBytes) {
          await reader.cancel();
          throw "too_large";
        }
        chunks.push(value);
      }
      body = new Uint8Array(size);
      let at = 0;
      for (const chunk of chunks) {
        body.set(chunk, at);
        at += chunk.byteLength;
      }
    } else {
      await response.body?.cancel();
    }
    return [response.status, header("etag"), header("cache-control"), header("content-type"), body];
  } catch (error) {
    failure(signal.aborted && error !== "too_large" ? "timeout" : error);
  }
}

/** `key` of the KV `namespace` as text (null when absent), read with `cacheTtl` seconds of edge caching when above 0. */
export function kvGet(namespace, key, cacheTtl, timeoutMs) {
  const options = cacheTtl > 0 ? { type: "text", cacheTtl } : { type: "text" };
  return withTimeout(Promise.resolve().then(() => namespace.get(key, options)), timeoutMs);
}

/** Writes `value` under `key` of the KV `namespace`, to expire after `expirationTtl` seconds (0: never). */
export function kvPut(namespace, key, value, expirationTtl, timeoutMs) {
  const options = expirationTtl > 0 ? { expirationTtl } : {};
  return withTimeout(Promise.resolve().then(() => namespace.put(key, value, options)), timeoutMs);
}

/**
 * Writes one Workers Analytics Engine data point to `dataset` (the METRICS binding): `index`,
 * the core's blobs (`blobs`, one a line) and `generation` (core/src/gateway/metrics.rs), then
 * what only the runtime sees: blob `colo` (`request.cf.colo`, "" without a request) and doubles
 * `status` (of `response`, a Response or a promise of one, written once it settles; 0 without
 * one) and `latency_ms` (since `startMs`, by workerd's clock, which advances only while the
 * isolate waits for I/O). Never throws: metrics never fail a request.
 */
export function writeMetric(dataset, index, blobs, generation, request, response, startMs) {
  const write = (status) => {
    try {
      dataset.writeDataPoint({
        indexes: [index],
        blobs: [...blobs.split("\n"), request?.cf?.colo ?? ""],
        doubles: [generation, status, Date.now() - startMs],
      });
    } catch {
      // A dataset that refuses the point (over its limits) costs the point, not the request.
    }
  };
  if (typeof response?.then === "function") {
    response.then((settled) => write(settled.status), () => write(0));
  } else {
    write(response?.status ?? 0);
  }
}
