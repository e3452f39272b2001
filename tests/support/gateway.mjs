// Runs the real Worker bundle (build/index.js + wasm, as built by `npm run build`) in workerd
// through Miniflare's programmatic API, with Miniflare's local KV namespace and cron.
import { existsSync, readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { Miniflare } from "miniflare";

const root = fileURLToPath(new URL("../../", import.meta.url));

/** compatibility_date from wrangler.toml, so tests run the Worker as it is deployed. */
export function compatibilityDate() {
  const match = readFileSync(`${root}wrangler.toml`, "utf8").match(/^compatibility_date\s*=\s*"([^"]+)"/m);
  if (!match) throw new Error("wrangler.toml has no compatibility_date");
  return match[1];
}

/**
 * Miniflare options that serve a Worker through its own direct socket (`unsafeGetDirectURL()`).
 * Miniflare's default socket goes through its development entry Worker (request.cf blob, URL
 * rewriting, response re-encoding and logging, in JavaScript, on every request) and wraps every
 * outbound fetch in a second JavaScript Worker that strips CF-Connecting-IP. Neither exists in
 * production, and together they cost more CPU than a pass-through Worker: the benchmarks load
 * Workers this way.
 */
export const DIRECT_SOCKET = { unsafeDirectSockets: [{ host: "127.0.0.1", port: 0 }], stripCfConnectingIp: false };

/**
 * Starts the gateway. `vars` are the [vars] of this instance (strings). `kvPersist` is a
 * directory shared by instances that must see the same KV (false: in memory, private).
 * `buildDir` (relative to the repository) selects another Worker bundle, such as the crypto
 * test harness. `kvNamespaces: []` leaves the KV binding out, so every KV operation fails.
 * `miniflare` adds Miniflare options (the benchmark serves through a direct socket with it).
 * `workers` are more Workers beside the gateway (such as the METRICS stub below), which the
 * gateway's own options in `worker` (for example `wrappedBindings`) can name.
 * Returns { mf, fetch(path, init), scheduled(cron), kv(), close() }.
 */
export async function startGateway({ vars = {}, kvPersist = false, buildDir: bundle = "build", kvNamespaces = ["JWKS_CACHE"], miniflare = {}, worker = {}, workers = [] } = {}) {
  const buildDir = `${root}${bundle}`;
  if (!existsSync(`${buildDir}/index.js`)) {
    throw new Error(`${bundle}/index.js is missing: run \`npm test\` (it builds every bundle first)`);
  }
  const gateway = {
    modules: true,
    scriptPath: `${buildDir}/index.js`,
    modulesRoot: buildDir,
    modulesRules: [{ type: "CompiledWasm", include: ["**/*.wasm"] }],
    compatibilityDate: compatibilityDate(),
    kvNamespaces,
    bindings: vars,
    ...worker,
  };
  const shared = { host: "127.0.0.1", kvPersist, ...miniflare };
  const mf = new Miniflare(workers.length === 0 ? { ...gateway, ...shared } : { ...shared, workers: [{ name: "gateway", ...gateway }, ...workers] });
  await mf.ready;
  return {
    mf,
    /** Sends a request to the Worker; `path` is relative to https://gateway.test. */
    fetch(path, init) {
      return mf.dispatchFetch(new URL(path, "https://gateway.test"), init);
    },
    /** Runs the scheduled handler as the cron trigger would. */
    async scheduled(cron = "*/5 * * * *") {
      const worker = await mf.getWorker();
      return worker.scheduled({ cron, scheduledTime: new Date() });
    },
    /** The JWKS_CACHE namespace as the Worker sees it (Miniflare's local KV). */
    kv() {
      return mf.getKVNamespace("JWKS_CACHE");
    },
    close() {
      return mf.dispose();
    },
  };
}

/**
 * A stand-in for a Workers Analytics Engine dataset, for `workers`: Miniflare's own local
 * dataset (`analyticsEngineDatasets`) drops every data point, so this one logs each as a line
 * `metrics_stub_point <JSON>` that a test reads back through `handleStructuredLogs`. Bind it
 * with `worker: { wrappedBindings: { METRICS: { scriptName: METRICS_STUB.name } } }`.
 */
/** What the METRICS stub writes before each data point's JSON. */
const STUB_PREFIX = "metrics_stub_point ";

export const METRICS_STUB = {
  name: "metrics-stub",
  modules: [
    {
      type: "ESModule",
      path: "metrics-stub.mjs",
      contents: `export default function () {
  return { writeDataPoint(point) { console.log(${JSON.stringify(STUB_PREFIX)} + JSON.stringify(point)); } };
}`,
    },
  ],
};

/** The data points the METRICS stub logged among `lines` (console messages), in order. */
export function stubPoints(lines) {
  return lines.filter((line) => line.startsWith(STUB_PREFIX)).map((line) => JSON.parse(line.slice(STUB_PREFIX.length)));
}

/** The gateway's JSON log lines with `event` among `lines` (console messages), in order. */
export function logEvents(lines, event) {
  return lines
    .filter((line) => line.includes(`"event":"${event}"`))
    .map((line) => JSON.parse(line.slice(line.indexOf("{"))));
}

/** Waits, bounded, until `read()` returns at least `count` items (console lines arrive asynchronously). */
export async function atLeast(count, read) {
  for (let i = 0; i < 100; i += 1) {
    const items = read();
    if (items.length >= count) return items;
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  return read();
}
