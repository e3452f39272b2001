// The request path's calls into the Workers runtime, one call from Rust per step (src/gateway.rs,
// src/proxy.rs): every call across the JS/wasm boundary costs time on every request, so the
// runtime's own objects are used here and only strings cross. No decision is made here: the
// core pipeline decides what is forwarded and with which headers; this file only carries it out.
// Why it is JavaScript: docs/decisions/0007-runtime-glue.md.

/**
 * The parts of `request` the pipeline reads, from the runtime's own URL parser (the one its
 * `fetch` uses): [method, pathname, search without "?", scheme without ":", host with port].
 */
export function requestParts(request) {
  const url = new URL(request.url);
  return [request.method, url.pathname, url.search.slice(1), url.protocol.slice(0, -1), url.host];
}

/**
 * Sends `request` to `target` with the core's header edits: `deletes` (names) and `sets` (name,
 * value, name, value...) applied to a copy of its headers; the body streamed unless `withBody`
 * is false; redirects returned, not followed. A timer aborts the fetch after `timeoutMs` unless
 * the response headers came first (a body that streams for longer is never cut). Settles with the
 * origin's response, or with what `onFailure(timedOut, message)` returns when the fetch fails. Throws (to
 * Rust) when a header edit is refused by the runtime.
 */
export function forward(request, target, withBody, deletes, sets, timeoutMs, onFailure) {
  const headers = new Headers(request.headers);
  for (const name of deletes) headers.delete(name);
  for (let i = 0; i + 1 < sets.length; i += 2) headers.set(sets[i], sets[i + 1]);
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
