// The reference Workers the gateway is measured against, shared by bench/gateway.mjs and
// bench/cold.mjs: a pass-through Worker (bench/workers/passthrough.mjs, forwards only) and the
// idiomatic jose Worker (bench/workers/jose.mjs, bundled by esbuild into bench/.build/jose.js).
import { execFileSync } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";
import { compatibilityDate, DIRECT_SOCKET } from "../tests/support/gateway.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));

/** Bundles the jose Worker into bench/.build/jose.js. */
export function bundleJose() {
  mkdirSync(`${root}bench/.build`, { recursive: true });
  execFileSync(
    `${root}node_modules/.bin/esbuild`,
    [
      "bench/workers/jose.mjs",
      "--bundle",
      "--format=esm",
      "--platform=neutral",
      "--conditions=worker,browser",
      "--main-fields=module,main",
      "--outfile=bench/.build/jose.js",
      "--log-level=warning",
    ],
    { cwd: root, stdio: ["ignore", "ignore", "inherit"] },
  );
}

/** A plain module Worker (one file) in its own workerd, with its own JWKS_CACHE KV namespace. */
export async function startModuleWorker(scriptPath, bindings, kvPersist = false) {
  const mf = new Miniflare({
    host: "127.0.0.1",
    port: 0,
    modules: true,
    scriptPath,
    compatibilityDate: compatibilityDate(),
    kvNamespaces: ["JWKS_CACHE"],
    kvPersist,
    bindings,
    // The load reaches the Worker itself, not Miniflare's development entry Worker.
    ...DIRECT_SOCKET,
  });
  await mf.ready;
  return { mf, close: () => mf.dispose() };
}

/**
 * Starters of the two reference Workers for `issuer` and `origin` (after `bundleJose()`): each
 * takes a KV persistence directory (or false) and starts a new workerd.
 */
export function referenceStarters(issuer, origin, alg) {
  const joseVars = {
    JWT_AUTHORITY: issuer.url,
    JWT_AUDIENCE: issuer.audience,
    JWT_JWKS_URL: `${issuer.url}/jwks.json`,
    JWT_ALGORITHMS: alg,
    ORIGIN_URL: origin.url,
  };
  return {
    passthrough: (kvPersist) => startModuleWorker(`${root}bench/workers/passthrough.mjs`, { ORIGIN_URL: origin.url }, kvPersist),
    jose: (kvPersist) => startModuleWorker(`${root}bench/.build/jose.js`, joseVars, kvPersist),
  };
}
