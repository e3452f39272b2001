// The Worker's entry module: the bundle's default export, in place of the shim that
// worker-build writes (scripts/esbuild.sh puts this file where worker-build's shim.js was; see
// docs/decisions/0011-entry-module.md). It keeps what that shim does for a crashed instance and
// leaves out what it costs on every request.
//
// worker-build's shim exports a WorkerEntrypoint class behind a Proxy: for every request the
// runtime constructs it (a Proxy construct trap, a second Proxy around the instance), looks up
// `fetch` through that Proxy (a third Proxy around the method) and calls it through an async
// function. Measured with bench/instructions.mjs, that is about 38 thousand instructions of a
// request that the gateway answers from its token cache in about 830 thousand. This module
// exports a plain object with the same two handlers.
//
// Kept from the shim, unchanged in effect: a trap in the wasm instance (a WebAssembly.RuntimeError,
// such as a Rust panic, which aborts) marks the instance as broken, whether it is thrown by the
// call, rejected by the promise it returned, or reported as an uncaught error; the next call
// first makes a new instance (`__wbg_reset_state`), so an isolate whose instance crashed serves
// the next request with a fresh one rather than with memory left half-updated. The request that
// crashed fails (the runtime answers 500): nothing is forwarded on a crash.
import * as exports from "./index.js";

Error.stackTraceLimit = 100;
const initState = exports.__worker_init_state();

/** A new wasm instance before this call when the last one trapped. */
function checkReinitialize() {
  if (initState.criticalError) {
    console.log("Reinitializing Wasm application");
    exports.__wbg_reset_state();
    initState.criticalError = false;
    initState.instanceId++;
  }
}

/** Marks the instance as broken when `error` is a trap. */
function handleMaybeCritical(error) {
  if (error instanceof WebAssembly.RuntimeError) {
    console.error("Critical", error);
    initState.criticalError = true;
  }
}

addEventListener("error", (event) => handleMaybeCritical(event.error));

/** The handler's rejection, after marking the instance as broken when it is a trap. */
function rejected(error) {
  handleMaybeCritical(error);
  throw error;
}

/** `handler(event, env, ctx)`, with the instance checked before and its traps noted. */
function call(handler, event, env, ctx) {
  checkReinitialize();
  let result;
  try {
    result = handler(event, env, ctx);
  } catch (error) {
    handleMaybeCritical(error);
    throw error;
  }
  return result.then(undefined, rejected);
}

export default {
  fetch: (request, env, ctx) => call(exports.fetch, request, env, ctx),
  scheduled: (controller, env, ctx) => call(exports.scheduled, controller, env, ctx),
};
