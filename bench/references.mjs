// What the benchmarks share (bench/gateway.mjs, bench/cold.mjs, bench/instructions.mjs): the
// reference Workers the gateway is measured against, a pass-through Worker
// (bench/workers/passthrough.mjs, forwards only) and the idiomatic jose Worker
// (bench/workers/jose.mjs, bundled by esbuild into bench/.build/jose.js), and for the cold-start
// scripts the Rust floor (bench/workers/rust-floor); the demo origin in a process of its own; the
// invalid tokens of the benchmarks.
import { execFileSync, spawn } from "node:child_process";
import { mkdirSync } from "node:fs";
import { fileURLToPath, pathToFileURL } from "node:url";
import { Miniflare } from "miniflare";
import { compatibilityDate, DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";

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

/**
 * Builds the Rust floor Worker (bench/workers/rust-floor: the jose Worker's job in as little Rust
 * as the token's checks allow) into bench/workers/rust-floor/build, as `npm run build` builds the
 * gateway.
 */
export function buildRustFloor() {
  // The build's output is shown only when it fails (in the error thrown).
  execFileSync("bash", ["scripts/build.sh", "bench/workers/rust-floor"], { cwd: root, stdio: ["ignore", "pipe", "pipe"], maxBuffer: 64 * 1024 * 1024 });
}

/**
 * A starter of the Rust floor Worker (after `buildRustFloor()`) for `issuer` (RS256) and
 * `origin`, like those of `referenceStarters`.
 */
export function rustFloorStarter(issuer, origin) {
  const vars = verifierVars(issuer, origin);
  return (kvPersist) => startGateway({ vars, kvPersist, buildDir: RUST_FLOOR_BUILD, miniflare: DIRECT_SOCKET });
}

/** Where `buildRustFloor()` writes the Rust floor's bundle (relative to the repository). */
export const RUST_FLOOR_BUILD = "bench/workers/rust-floor/build";

/** The variables the jose Worker and the Rust floor share: the issuer to trust, and the origin. */
function verifierVars(issuer, origin) {
  return { JWT_AUTHORITY: issuer.url, JWT_AUDIENCE: issuer.audience, JWT_JWKS_URL: `${issuer.url}/jwks.json`, ORIGIN_URL: origin.url };
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
  const joseVars = { ...verifierVars(issuer, origin), JWT_ALGORITHMS: alg };
  return {
    passthrough: (kvPersist) => startModuleWorker(`${root}bench/workers/passthrough.mjs`, { ORIGIN_URL: origin.url }, kvPersist),
    jose: (kvPersist) => startModuleWorker(`${root}bench/.build/jose.js`, joseVars, kvPersist),
  };
}

/**
 * A KV directory made warm for the cold-start benchmarks: a Worker started with `start(dir)` (a
 * starter that takes a KV persistence directory) serves one token request, which must be
 * answered 200, and is closed once the KV write after its response has had time to land.
 */
export async function fillKv(start, dir, token) {
  const w = await start(dir);
  const res = await fetch(new URL("/orders/1", await w.mf.unsafeGetDirectURL()), { headers: { authorization: `Bearer ${token}` } });
  await res.arrayBuffer();
  await new Promise((r) => setTimeout(r, 300)); // the KV write after the response
  await w.close();
  if (res.status !== 200) throw new Error(`filling KV: the token request was answered ${res.status}`);
}

/** The demo origin in a child process, so that it does not share the load generator's event loop. */
export async function startOriginProcess() {
  const code = `
    import { startOrigin } from ${JSON.stringify(pathToFileURL(`${root}demo/origin.mjs`).href)};
    // Idle connections kept for 10 minutes: under Valgrind (bench/instructions.mjs) a Worker's
    // pooled connection can sit idle past Node's 5 s, and an origin closing it just as workerd
    // sends on it makes that request a 502.
    const origin = await startOrigin({ keepAliveTimeout: 600_000 });
    setInterval(() => { origin.received.length = 0; }, 500).unref();
    process.stdin.on("end", () => origin.close().then(() => process.exit(0)));
    process.stdin.resume();
    process.stdout.write(origin.url + "\\n");`;
  const child = spawn(process.execPath, ["--input-type=module", "-e", code], { stdio: ["pipe", "pipe", "inherit"] });
  const url = await new Promise((resolve, reject) => {
    let out = "";
    const timer = setTimeout(() => reject(new Error("the origin process did not start within 10 s")), 10_000);
    child.once("exit", (code) => reject(new Error(`the origin process exited (${code})`)));
    child.stdout.on("data", (chunk) => {
      out += chunk;
      if (out.includes("\n")) {
        clearTimeout(timer);
        resolve(out.trim());
      }
    });
  });
  return {
    url,
    async close() {
      if (child.exitCode !== null) return;
      const exited = new Promise((resolve) => child.once("exit", resolve));
      child.stdin.end();
      const timer = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exited;
      clearTimeout(timer);
    },
  };
}

/** Replaces a character in the middle of the signature: still canonical base64url, wrong signature. */
export function badSignature(token) {
  const dot = token.lastIndexOf(".");
  const at = dot + 1 + Math.floor((token.length - dot - 1) / 2);
  const swapped = token[at] === "A" ? "B" : "A";
  return `${token.slice(0, at)}${swapped}${token.slice(at + 1)}`;
}
