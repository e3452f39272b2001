// Gateway throughput benchmark (issue 6): three Workers in workerd on 127.0.0.1, serving the same
// origin and JWKS, loaded in turn (A, B, C, A, B, C...) by autocannon over loopback HTTP:
//   - passthrough: bench/workers/passthrough.mjs, forwards only (the ceiling);
//   - jose:        bench/workers/jose.mjs, the idiomatic jose Worker with KV (bundled by esbuild);
//   - gateway:     this repository's Worker (build/, as `npm run build` makes it).
// Scenarios: the same token on every request; 1000 distinct tokens; 1000 tokens with a bad
// signature; the same token over one connection (latency without queueing); and the first
// request of a fresh isolate with KV already warm.
// Writes bench/results/gateway.json and bench/results/gateway.png, prints a markdown table.
// Settings (environment): BENCH_SECONDS (5), BENCH_ROUNDS (3), BENCH_CONNECTIONS (10),
// BENCH_ALG (RS256; ES256, EdDSA...), BENCH_WARMUP_SECONDS (1), BENCH_FRESH (5 fresh starts),
// BENCH_BASELINE (a git ref, e.g. main or HEAD~1: that commit's Worker is built into
// bench/.baseline/<commit>/ and loaded as a fourth Worker, "baseline", interleaved with the
// others: a change's before and after in the same run; or a directory with a built Worker, such
// as a copy of build/ made with other settings).
// Targets (issue 12) are reported as PASS/MISS and never fail the script.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { gzipSync, constants as zlib } from "node:zlib";
import autocannon from "autocannon";
import sharp from "sharp";
import { startIssuer } from "../demo/issuer.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars, STATUS_TOKEN } from "../tests/support/stack.mjs";
import { badSignature, bundleJose, referenceStarters, startOriginProcess } from "./references.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));

function setting(name, fallback, { min = 1, max = 3600 } = {}) {
  const raw = process.env[name];
  if (raw === undefined || raw.trim() === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < min || value > max) throw new Error(`${name} must be an integer in ${min}..${max}, found ${raw}`);
  return value;
}
const SECONDS = setting("BENCH_SECONDS", 5, { max: 600 });
const ROUNDS = setting("BENCH_ROUNDS", 3, { max: 50 });
const CONNECTIONS = setting("BENCH_CONNECTIONS", 10, { max: 1000 });
const WARMUP_SECONDS = setting("BENCH_WARMUP_SECONDS", 1, { min: 0, max: 60 });
const FRESH = setting("BENCH_FRESH", 5, { max: 50 });
const ALG = process.env.BENCH_ALG?.trim() || "RS256";
const BASELINE = process.env.BENCH_BASELINE?.trim() || "";
const DISTINCT = 1000;
const PATH = "/orders/1?view=full";

const WORKERS = ["passthrough", "jose", "gateway", ...(BASELINE ? ["baseline"] : [])];
const SCENARIOS = [
  { id: "same", title: "same token", tokens: "same", connections: CONNECTIONS },
  { id: "distinct", title: `${DISTINCT} distinct tokens`, tokens: "distinct", connections: CONNECTIONS },
  { id: "invalid", title: "invalid tokens (bad signature)", tokens: "invalid", connections: CONNECTIONS },
  { id: "same_c1", title: "same token, 1 connection", tokens: "same", connections: 1 },
];

const median = (values) => {
  const sorted = values.filter((v) => Number.isFinite(v)).sort((a, b) => a - b);
  if (sorted.length === 0) return NaN;
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
};
const percentile = (sorted, p) => (sorted.length === 0 ? NaN : sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]);
const elapsedMs = (start) => Number(process.hrtime.bigint() - start) / 1e6;
const log = (message) => console.error(`bench/gateway: ${message}`);

/** Starts a Worker and returns it with the URL of its direct socket and its workerd process ids. */
async function startServed(start) {
  const before = new Set(workerdPids());
  const w = await start();
  const url = (await w.mf.unsafeGetDirectURL()).toString();
  const pids = workerdPids().filter((pid) => !before.has(pid));
  return { ...w, url, pids };
}

/** The workerd processes below this one (Linux /proc; empty elsewhere). */
function workerdPids() {
  let entries;
  try {
    entries = readdirSync("/proc").filter((name) => /^\d+$/.test(name));
  } catch {
    return [];
  }
  const parent = new Map();
  const comm = new Map();
  for (const pid of entries) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      comm.set(pid, stat.slice(stat.indexOf("(") + 1, close));
      parent.set(pid, stat.slice(close + 2).split(" ")[1]);
    } catch {
      // the process ended while we looked
    }
  }
  const mine = (pid) => {
    for (let p = pid, hops = 0; p && hops < 8; p = parent.get(p), hops += 1) if (p === String(process.pid)) return true;
    return false;
  };
  return [...comm].filter(([pid, name]) => name === "workerd" && mine(pid)).map(([pid]) => pid);
}

const CLOCK_TICK_MS = 10; // USER_HZ is 100 on Linux
/**
 * CPU time (ms) used so far by the given processes, in user space and in the kernel (the
 * sockets' work, which instruction counts leave out); NaN when unavailable.
 */
function cpuMs(pids) {
  const none = { user: NaN, system: NaN };
  if (pids.length === 0) return none;
  let user = 0;
  let system = 0;
  for (const pid of pids) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      user += Number(fields[11]); // utime
      system += Number(fields[12]); // stime
    } catch {
      return none;
    }
  }
  return { user: user * CLOCK_TICK_MS, system: system * CLOCK_TICK_MS };
}



async function gatewayStatus(url) {
  const res = await fetch(new URL("/_gateway/status", url), { headers: { authorization: `Bearer ${STATUS_TOKEN}` } });
  if (res.status !== 200) throw new Error(`/_gateway/status answered ${res.status}`);
  return res.json();
}

/** One bounded autocannon run. Latencies are kept per response (float ms) for sub-ms percentiles. */
async function load(url, tokens, { seconds, connections }) {
  let next = 0;
  const authorization = (i) => `Bearer ${tokens[i % tokens.length]}`;
  const request =
    tokens.length === 1
      ? { method: "GET", path: PATH, headers: { authorization: authorization(0) } }
      : {
          method: "GET",
          path: PATH,
          setupRequest: (req) => ({ ...req, headers: { ...req.headers, authorization: authorization(next++) } }),
        };
  const latencies = [];
  const instance = autocannon({
    url,
    connections,
    duration: seconds,
    timeout: 10,
    requests: [request],
    renderProgressBar: false,
    renderResultsTable: false,
    renderLatencyTable: false,
  });
  instance.on("response", (_client, _status, _bytes, responseTime) => {
    if (latencies.length < 2_000_000) latencies.push(responseTime);
  });
  const result = await instance;
  latencies.sort((a, b) => a - b);
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, { count }]) => [code, count]));
  return {
    requests: result.requests.total,
    rps: result.requests.total / (result.duration || seconds),
    p50_ms: percentile(latencies, 50),
    p90_ms: percentile(latencies, 90),
    p99_ms: percentile(latencies, 99),
    autocannon_latency_ms: { p50: result.latency.p50, p90: result.latency.p90, p99: result.latency.p99 },
    errors: result.errors,
    timeouts: result.timeouts,
    non2xx: result.non2xx,
    statuses,
  };
}

/**
 * Builds the Worker of git ref `ref` (once per commit) into bench/.baseline/<commit>/build, from
 * `git archive` (no worktree) and its own scripts/build.sh (which installs that commit's npm
 * packages there, from the npm cache), with a target directory of its own that later
 * baselines reuse. Returns the build directory relative to the repository.
 */
function buildBaseline(ref) {
  // A directory holding a built Worker (index.js), relative to the repository: used as it is.
  if (existsSync(`${root}${ref}/index.js`)) return { commit: null, buildDir: ref };
  const commit = execFileSync("git", ["rev-parse", "--verify", `${ref}^{commit}`], { cwd: root, encoding: "utf8" }).trim();
  const dir = `bench/.baseline/${commit.slice(0, 12)}`;
  if (existsSync(`${root}${dir}/build/index.js`)) return { commit, buildDir: `${dir}/build` };
  log(`building the baseline ${ref} (${commit.slice(0, 12)}) in ${dir}…`);
  rmSync(`${root}${dir}`, { recursive: true, force: true });
  mkdirSync(`${root}${dir}`, { recursive: true });
  execFileSync("bash", ["-c", `git archive ${commit} | tar -x -C "${dir}"`], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  execFileSync("bash", ["scripts/build.sh"], {
    cwd: `${root}${dir}`,
    stdio: ["ignore", "ignore", "inherit"],
    env: { ...process.env, CARGO_TARGET_DIR: `${root}target/bench-baseline` },
  });
  return { commit, buildDir: `${dir}/build` };
}

/** Sizes of a gateway bundle (the wasm raw and gzip'd at level 9, and index.js) and of the jose Worker. */
function bundleSizes(buildDir = "build") {
  const wasm = readFileSync(`${root}${buildDir}/index_bg.wasm`);
  const js = readFileSync(`${root}${buildDir}/index.js`);
  const joseJs = readFileSync(`${root}bench/.build/jose.js`);
  const gz = (b) => gzipSync(b, { level: zlib.Z_BEST_COMPRESSION }).length;
  return {
    wasm_bytes: wasm.length,
    wasm_gzip_bytes: gz(wasm),
    js_bytes: js.length,
    total_gzip_bytes: gz(wasm) + gz(js),
    jose_bundle_bytes: joseJs.length,
    jose_bundle_gzip_bytes: gz(joseJs),
  };
}

function svgChart(results) {
  const scenarios = SCENARIOS.map((s) => s.id);
  const colors = { passthrough: "#9aa5b1", jose: "#f0a33a", gateway: "#2b7bd6", baseline: "#8fb9e8" };
  const width = 960;
  const height = 480;
  const left = 80;
  const right = 20;
  const top = 60;
  const bottom = 80;
  const max = Math.max(1, ...scenarios.flatMap((s) => WORKERS.map((w) => results[s][w].rps)));
  const niceMax = (() => {
    const step = 10 ** Math.floor(Math.log10(max));
    return Math.ceil(max / step) * step;
  })();
  const plotH = height - top - bottom;
  const groupW = (width - left - right) / scenarios.length;
  const barW = (groupW * 0.75) / WORKERS.length;
  const y = (v) => top + plotH - (v / niceMax) * plotH;
  const esc = (s) => String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;");
  const parts = [];
  parts.push(`<rect width="${width}" height="${height}" fill="#ffffff"/>`);
  parts.push(
    `<text x="${width / 2}" y="28" text-anchor="middle" font-size="18" font-weight="bold">Throughput per scenario (requests/s, median of ${ROUNDS} round${ROUNDS > 1 ? "s" : ""} × ${SECONDS} s, ${esc(ALG)})</text>`,
  );
  for (let i = 0; i <= 5; i += 1) {
    const v = (niceMax / 5) * i;
    parts.push(`<line x1="${left}" x2="${width - right}" y1="${y(v)}" y2="${y(v)}" stroke="#e3e6ea"/>`);
    parts.push(`<text x="${left - 8}" y="${y(v) + 4}" text-anchor="end" font-size="12">${Math.round(v)}</text>`);
  }
  scenarios.forEach((s, gi) => {
    const x0 = left + gi * groupW + groupW * 0.125;
    WORKERS.forEach((w, wi) => {
      const v = results[s][w].rps;
      const x = x0 + wi * barW;
      parts.push(`<rect x="${x.toFixed(1)}" y="${y(v).toFixed(1)}" width="${(barW - 4).toFixed(1)}" height="${(top + plotH - y(v)).toFixed(1)}" fill="${colors[w]}"/>`);
      parts.push(`<text x="${(x + (barW - 4) / 2).toFixed(1)}" y="${(y(v) - 5).toFixed(1)}" text-anchor="middle" font-size="11">${Math.round(v)}</text>`);
    });
    const title = SCENARIOS.find((sc) => sc.id === s).title;
    parts.push(`<text x="${(left + gi * groupW + groupW / 2).toFixed(1)}" y="${top + plotH + 22}" text-anchor="middle" font-size="13">${esc(title)}</text>`);
  });
  parts.push(`<line x1="${left}" x2="${width - right}" y1="${top + plotH}" y2="${top + plotH}" stroke="#333"/>`);
  WORKERS.forEach((w, i) => {
    const x = left + i * 170;
    parts.push(`<rect x="${x}" y="${height - 32}" width="14" height="14" fill="${colors[w]}"/>`);
    parts.push(`<text x="${x + 20}" y="${height - 20}" font-size="13">${w}</text>`);
  });
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="DejaVu Sans, sans-serif" fill="#222">${parts.join("")}</svg>`;
}

// ---------------------------------------------------------------------------------------------

const cleanup = []; // closers, run in reverse order
async function closeAll() {
  while (cleanup.length > 0) {
    const close = cleanup.pop();
    try {
      await close();
    } catch (err) {
      log(`cleanup: ${err.message}`);
    }
  }
}
const tempDirs = [];
cleanup.push(() => {
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
});
let interrupted = false;
const onSignal = (signal) => {
  if (interrupted) process.exit(130);
  interrupted = true;
  log(`${signal}: closing servers`);
  closeAll().finally(() => process.exit(130));
};
process.once("SIGINT", onSignal);
process.once("SIGTERM", onSignal);

try {
  log("building the gateway (scripts/build.sh) and bundling the jose Worker (esbuild)…");
  execFileSync("bash", ["scripts/build.sh"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
  bundleJose();
  const sizes = bundleSizes();
  const baseline = BASELINE ? buildBaseline(BASELINE) : null;
  const baselineSizes = baseline ? bundleSizes(baseline.buildDir) : null;

  const issuer = await startIssuer({ alg: ALG });
  cleanup.push(() => issuer.close());
  const origin = await startOriginProcess();
  cleanup.push(() => origin.close());

  log(`minting ${DISTINCT} ${ALG} tokens…`);
  const same = [await issuer.mint({ sub: "bench-same" })];
  const distinct = [];
  for (let i = 0; i < DISTINCT; i += 1) distinct.push(await issuer.mint({ sub: `bench-${i}`, jti: `t${i}` }));
  const invalid = distinct.map(badSignature);
  const tokenSets = { same, distinct, invalid };

  const gwVars = gatewayVars(issuer, origin, { JWT_ALGORITHMS: ALG, LOG_LEVEL: "error" });
  const starters = {
    ...referenceStarters(issuer, origin, ALG),
    gateway: (kvPersist) => startGateway({ vars: gwVars, kvPersist, miniflare: DIRECT_SOCKET }),
    baseline: (kvPersist) => startGateway({ vars: gwVars, kvPersist, miniflare: DIRECT_SOCKET, buildDir: baseline.buildDir }),
  };
  const isGateway = (name) => name === "gateway" || name === "baseline";

  const jwksFetches = Object.fromEntries(WORKERS.map((w) => [w, 0]));
  const measure = async (name, fn) => {
    const before = issuer.counts.jwks;
    const value = await fn();
    jwksFetches[name] += issuer.counts.jwks - before;
    return { value, jwks: issuer.counts.jwks - before };
  };

  // Sanity: each Worker answers a valid token with the origin's echo and a bad one as expected
  // (the Workers' first JWKS fetches happen here, and are counted).
  const workers = {};
  for (const name of WORKERS) {
    const w = await startServed(() => starters[name](false));
    cleanup.push(() => w.close());
    const { url } = w;
    if (w.pids.length === 0) log(`${name}: no workerd process found, Worker CPU time is not reported`);
    workers[name] = w;
    const before = issuer.counts.jwks;
    const ok = await fetch(new URL(PATH, url), { headers: { authorization: `Bearer ${same[0]}` } });
    const body = await ok.text();
    jwksFetches[name] += issuer.counts.jwks - before;
    if (ok.status !== 200 || !body.includes("order-service")) throw new Error(`${name}: a valid token got ${ok.status}: ${body.slice(0, 200)}`);
    const bad = await fetch(new URL(PATH, url), { headers: { authorization: `Bearer ${invalid[0]}` } });
    await bad.arrayBuffer();
    const expected = name === "passthrough" ? 200 : 401;
    if (bad.status !== expected) throw new Error(`${name}: a bad signature got ${bad.status}, expected ${expected}`);
    log(`${name} on ${url}`);
  }

  if (WARMUP_SECONDS > 0) {
    log(`warm-up: ${WARMUP_SECONDS} s per Worker with the ${DISTINCT} tokens`);
    for (const name of WORKERS) {
      await measure(name, () => load(workers[name].url, distinct, { seconds: WARMUP_SECONDS, connections: CONNECTIONS }));
    }
  }

  const runs = []; // every run, in order
  const totalRuns = ROUNDS * SCENARIOS.length * WORKERS.length;
  for (let round = 1; round <= ROUNDS; round += 1) {
    for (const scenario of SCENARIOS) {
      for (const name of WORKERS) {
        if (interrupted) throw new Error("interrupted");
        const statusBefore = isGateway(name) ? await gatewayStatus(workers[name].url) : null;
        const cpuBefore = cpuMs(workers[name].pids);
        const { value, jwks } = await measure(name, () =>
          load(workers[name].url, tokenSets[scenario.tokens], { seconds: SECONDS, connections: scenario.connections }),
        );
        const cpuAfter = cpuMs(workers[name].pids);
        const userMs = cpuAfter.user - cpuBefore.user;
        const systemMs = cpuAfter.system - cpuBefore.system;
        const workerCpuMs = userMs + systemMs;
        const run = {
          round,
          scenario: scenario.id,
          worker: name,
          connections: scenario.connections,
          seconds: SECONDS,
          jwks_fetches: jwks,
          ...value,
          workerd_cpu_ms: workerCpuMs,
          workerd_cpu_us_per_request: (workerCpuMs * 1000) / value.requests,
          workerd_system_us_per_request: (systemMs * 1000) / value.requests,
        };
        if (statusBefore) {
          const after = await gatewayStatus(workers[name].url);
          const hits = after.token_cache.counters.hits - statusBefore.token_cache.counters.hits;
          const misses = after.token_cache.counters.misses - statusBefore.token_cache.counters.misses;
          run.token_cache = { hits, misses, hit_rate: hits + misses > 0 ? hits / (hits + misses) : null, entries: after.token_cache.entries };
        }
        runs.push(run);
        log(
          `[${runs.length}/${totalRuns}] round ${round} ${scenario.id} ${name}: ${run.rps.toFixed(0)} req/s, p99 ${run.p99_ms.toFixed(2)} ms, ` +
            `statuses ${JSON.stringify(run.statuses)}${run.errors ? `, errors ${run.errors}` : ""}`,
        );
      }
    }
  }
  const finalStatus = await gatewayStatus(workers.gateway.url);

  // Fresh isolate with KV warm: a warm instance fills a persisted KV directory and stops; then
  // new instances (new workerd, new isolate) on the same directory serve one request each,
  // the Workers taking turns (A, B, C, A, B, C...). For the gateways, further fresh starts split
  // the first request (workerd's clock stands still while a request computes, so the parts are
  // timed from outside): a first request to /_gateway/health (the module's instantiation and the
  // configuration), then the token request (KV read, key import, verification, forwarding), then
  // the same token again (the steady state).
  log(`fresh isolates with KV warm: ${FRESH} starts per Worker, interleaved`);
  const kvDirs = {};
  for (const name of WORKERS) {
    const dir = mkdtempSync(join(tmpdir(), `edge-jwt-bench-kv-${name}-`));
    tempDirs.push(dir);
    kvDirs[name] = dir;
    const warm = await startServed(() => starters[name](dir));
    try {
      const { url } = warm;
      const res = await fetch(new URL(PATH, url), { headers: { authorization: `Bearer ${distinct[0]}` } });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`${name}: warm request got ${res.status}`);
      if (name !== "passthrough") {
        const kv = await warm.mf.getKVNamespace("JWKS_CACHE");
        let keys = 0;
        for (let i = 0; i < 50 && keys === 0; i += 1) {
          keys = (await kv.list()).keys.length;
          if (keys === 0) await new Promise((r) => setTimeout(r, 100));
        }
        if (keys === 0) throw new Error(`${name}: KV still empty after the warm request`);
      }
    } finally {
      await warm.close();
    }
  }
  const timed = async (url, path, token) => {
    const t = process.hrtime.bigint();
    const res = await fetch(new URL(path, url), token ? { headers: { authorization: `Bearer ${token}` } } : {});
    await res.arrayBuffer();
    return { ms: elapsedMs(t), status: res.status };
  };
  const samples = Object.fromEntries(WORKERS.map((w) => [w, []]));
  const parts = Object.fromEntries(WORKERS.filter(isGateway).map((w) => [w, []]));
  for (let i = 0; i < FRESH; i += 1) {
    for (const name of WORKERS) {
      const jwksBefore = issuer.counts.jwks;
      const t0 = process.hrtime.bigint();
      const w = await startServed(() => starters[name](kvDirs[name]));
      try {
        const readyMs = elapsedMs(t0);
        const first = await timed(w.url, PATH, distinct[(i + 1) % DISTINCT]);
        samples[name].push({ ready_ms: readyMs, first_request_ms: first.ms, startup_ms: readyMs + first.ms, status: first.status, jwks_fetches: issuer.counts.jwks - jwksBefore });
      } finally {
        await w.close();
      }
      if (isGateway(name)) {
        const g = await startServed(() => starters[name](kvDirs[name]));
        try {
          const health = await timed(g.url, "/_gateway/health");
          const token = await timed(g.url, PATH, distinct[(i + 2) % DISTINCT]);
          const again = await timed(g.url, PATH, distinct[(i + 2) % DISTINCT]);
          parts[name].push({ health_first_ms: health.ms, token_after_health_ms: token.ms, token_again_ms: again.ms, statuses: [health.status, token.status, again.status] });
        } finally {
          await g.close();
        }
      }
      jwksFetches[name] += issuer.counts.jwks - jwksBefore;
    }
  }
  const fresh = {};
  for (const name of WORKERS) {
    const list = samples[name];
    fresh[name] = {
      samples: list,
      first_request_ms: median(list.map((s) => s.first_request_ms)),
      ready_ms: median(list.map((s) => s.ready_ms)),
      startup_ms: median(list.map((s) => s.startup_ms)),
      jwks_fetches: list.reduce((n, s) => n + s.jwks_fetches, 0),
      statuses: list.map((s) => s.status),
    };
    if (parts[name]) {
      fresh[name].breakdown = {
        samples: parts[name],
        health_first_ms: median(parts[name].map((p) => p.health_first_ms)),
        token_after_health_ms: median(parts[name].map((p) => p.token_after_health_ms)),
        token_again_ms: median(parts[name].map((p) => p.token_again_ms)),
      };
    }
    log(`fresh ${name}: first request ${fresh[name].first_request_ms.toFixed(1)} ms, startup ${fresh[name].startup_ms.toFixed(1)} ms`);
  }

  // Medians per scenario and Worker.
  const summary = {};
  for (const scenario of SCENARIOS) {
    summary[scenario.id] = {};
    for (const name of WORKERS) {
      const rs = runs.filter((r) => r.scenario === scenario.id && r.worker === name);
      const statuses = {};
      for (const r of rs) for (const [code, n] of Object.entries(r.statuses)) statuses[code] = (statuses[code] ?? 0) + n;
      summary[scenario.id][name] = {
        rps: median(rs.map((r) => r.rps)),
        p50_ms: median(rs.map((r) => r.p50_ms)),
        p90_ms: median(rs.map((r) => r.p90_ms)),
        p99_ms: median(rs.map((r) => r.p99_ms)),
        workerd_cpu_us_per_request: median(rs.map((r) => r.workerd_cpu_us_per_request)),
        workerd_system_us_per_request: median(rs.map((r) => r.workerd_system_us_per_request)),
        requests: rs.reduce((n, r) => n + r.requests, 0),
        errors: rs.reduce((n, r) => n + r.errors + r.timeouts, 0),
        non2xx: rs.reduce((n, r) => n + r.non2xx, 0),
        statuses,
        jwks_fetches: rs.reduce((n, r) => n + r.jwks_fetches, 0),
        token_cache_hit_rate: name === "gateway" ? median(rs.map((r) => r.token_cache?.hit_rate ?? NaN)) : null,
      };
    }
  }
  const ratio = (s, a, b) => summary[s][a].rps / summary[s][b].rps;
  const ratios = Object.fromEntries(
    SCENARIOS.map((s) => [
      s.id,
      {
        gateway_over_ceiling: ratio(s.id, "gateway", "passthrough"),
        gateway_over_jose: ratio(s.id, "gateway", "jose"),
        jose_over_ceiling: ratio(s.id, "jose", "passthrough"),
        gateway_added_p99_ms: summary[s.id].gateway.p99_ms - summary[s.id].passthrough.p99_ms,
        jose_added_p99_ms: summary[s.id].jose.p99_ms - summary[s.id].passthrough.p99_ms,
        // CPU time of the Worker's own workerd process per request: what the edge bills, and
        // free of the load generator and origin, which share this machine's cores.
        gateway_added_cpu_us: summary[s.id].gateway.workerd_cpu_us_per_request - summary[s.id].passthrough.workerd_cpu_us_per_request,
        jose_added_cpu_us: summary[s.id].jose.workerd_cpu_us_per_request - summary[s.id].passthrough.workerd_cpu_us_per_request,
        gateway_cpu_over_jose: summary[s.id].gateway.workerd_cpu_us_per_request / summary[s.id].jose.workerd_cpu_us_per_request,
        ...(BASELINE
          ? {
              gateway_cpu_over_baseline: summary[s.id].gateway.workerd_cpu_us_per_request / summary[s.id].baseline.workerd_cpu_us_per_request,
              baseline_cpu_over_jose: summary[s.id].baseline.workerd_cpu_us_per_request / summary[s.id].jose.workerd_cpu_us_per_request,
            }
          : {}),
      },
    ]),
  );
  // The latency a Worker adds to one request over the pass-through, round by round (each round
  // loads them back to back), at 1 connection: the median of the rounds and their spread.
  const added = (name, field) => {
    const perRound = [];
    for (let round = 1; round <= ROUNDS; round += 1) {
      const of = (w) => runs.find((r) => r.round === round && r.scenario === "same_c1" && r.worker === w)?.[field];
      perRound.push(of(name) - of("passthrough"));
    }
    return { median: median(perRound), min: Math.min(...perRound), max: Math.max(...perRound), rounds: perRound };
  };
  const addedLatency = Object.fromEntries(
    WORKERS.filter((w) => w !== "passthrough").map((w) => [w, { p50_ms: added(w, "p50_ms"), p99_ms: added(w, "p99_ms") }]),
  );
  const MiB = 1024 * 1024;
  const KiB = 1024;
  const cpu = (id) => ratios[id].gateway_cpu_over_jose;
  const target = (name, value, limit, pass, unit) => ({ name, value, limit, pass, unit });
  const targets = [
    target("first request of a fresh isolate (KV warm) ≤ the jose Worker's", fresh.gateway.first_request_ms / fresh.jose.first_request_ms, 1, fresh.gateway.first_request_ms <= fresh.jose.first_request_ms, "x"),
    target("gzip'd Worker wasm ≤ 150 KiB", sizes.wasm_gzip_bytes / KiB, 150, sizes.wasm_gzip_bytes <= 150 * KiB, "KiB"),
    target("CPU per request, same token ≤ 0.75x jose", cpu("same"), 0.75, cpu("same") <= 0.75, "x"),
    target(`CPU per request, ${DISTINCT} distinct tokens ≤ 0.9x jose`, cpu("distinct"), 0.9, cpu("distinct") <= 0.9, "x"),
    target("CPU per request, invalid signature ≤ 1.0x jose", cpu("invalid"), 1, cpu("invalid") <= 1, "x"),
    // Over one connection: the latency the gateway adds to a request (median of the rounds).
    target("added p99 latency over the pass-through < 1 ms (same token, 1 connection)", addedLatency.gateway.p99_ms.median, 1, addedLatency.gateway.p99_ms.median < 1, "ms"),
  ];

  const keyCache = finalStatus.providers?.[0]?.key_cache ?? finalStatus.key_cache ?? {};
  const report = {
    date: new Date().toISOString(),
    settings: { seconds: SECONDS, rounds: ROUNDS, connections: CONNECTIONS, warmup_seconds: WARMUP_SECONDS, fresh_starts: FRESH, alg: ALG, distinct_tokens: DISTINCT, path: PATH },
    machine: { cpus: (await import("node:os")).cpus().length, loadavg: (await import("node:os")).loadavg(), node: process.version },
    bundle: sizes,
    ...(baseline ? { baseline: { ref: BASELINE, commit: baseline.commit, bundle: baselineSizes } } : {}),
    added_latency_1_connection: addedLatency,
    summary,
    ratios,
    fresh_isolate_kv_warm: fresh,
    jwks_fetches_total: jwksFetches,
    gateway_status_at_end: { token_cache: finalStatus.token_cache, key_cache: keyCache },
    targets,
    runs,
  };
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/gateway.json`, `${JSON.stringify(report, null, 2)}\n`);
  await sharp(Buffer.from(svgChart(summary))).png().toFile(`${root}bench/results/gateway.png`);

  // Markdown on stdout.
  const f1 = (x) => (Number.isFinite(x) ? x.toFixed(1) : "–");
  const f2 = (x) => (Number.isFinite(x) ? x.toFixed(2) : "–");
  const pct = (x) => (Number.isFinite(x) ? `${(x * 100).toFixed(1)}%` : "–");
  const statusText = (st) => Object.entries(st).map(([c, n]) => `${c}: ${n}`).join(", ");
  const out = [];
  out.push("");
  out.push(
    `### Gateway throughput (${ALG}; ${ROUNDS} round${ROUNDS > 1 ? "s" : ""} × ${SECONDS} s per run, interleaved; ${CONNECTIONS} connections unless noted; medians; ${report.machine.cpus} CPUs, load ${report.machine.loadavg.map((l) => l.toFixed(2)).join(" ")})`,
  );
  out.push("");
  out.push("| scenario | worker | req/s | p50 ms | p90 ms | p99 ms | workerd CPU µs/req | of it in the kernel | errors | non-2xx | statuses | JWKS fetches | token-cache hit rate |");
  out.push("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|");
  for (const s of SCENARIOS) {
    for (const w of WORKERS) {
      const r = summary[s.id][w];
      out.push(
        `| ${s.title} | ${w} | ${r.rps.toFixed(0)} | ${f2(r.p50_ms)} | ${f2(r.p90_ms)} | ${f2(r.p99_ms)} | ${f1(r.workerd_cpu_us_per_request)} | ${f1(r.workerd_system_us_per_request)} | ${r.errors} | ${r.non2xx} | ${statusText(r.statuses)} | ${r.jwks_fetches} | ${isGateway(w) ? pct(r.token_cache_hit_rate) : ""} |`,
      );
    }
  }
  out.push("");
  out.push(
    "| scenario | gateway / ceiling | gateway / jose | jose / ceiling | gateway p99 − ceiling p99 (ms) | jose p99 − ceiling p99 (ms) | CPU µs/req over ceiling: gateway | jose | gateway CPU / jose CPU |",
  );
  out.push("|---|---:|---:|---:|---:|---:|---:|---:|---:|");
  for (const s of SCENARIOS) {
    const r = ratios[s.id];
    out.push(
      `| ${s.title} | ${f2(r.gateway_over_ceiling)}x | ${f2(r.gateway_over_jose)}x | ${f2(r.jose_over_ceiling)}x | ${f2(r.gateway_added_p99_ms)} | ${f2(r.jose_added_p99_ms)} | ${f1(r.gateway_added_cpu_us)} | ${f1(r.jose_added_cpu_us)} | ${f2(r.gateway_cpu_over_jose)}x |`,
    );
  }
  out.push("");
  if (BASELINE) {
    out.push(`| scenario | CPU µs/req: gateway | baseline (${BASELINE}) | gateway / baseline | baseline / jose |`);
    out.push("|---|---:|---:|---:|---:|");
    for (const s of SCENARIOS) {
      const r = ratios[s.id];
      out.push(`| ${s.title} | ${f1(summary[s.id].gateway.workerd_cpu_us_per_request)} | ${f1(summary[s.id].baseline.workerd_cpu_us_per_request)} | ${f2(r.gateway_cpu_over_baseline)}x | ${f2(r.baseline_cpu_over_jose)}x |`);
    }
    out.push("");
  }
  out.push(`| added latency over the pass-through, same token, 1 connection (${ROUNDS} rounds) | p50 ms: median (min…max) | p99 ms: median (min…max) |`);
  out.push("|---|---:|---:|");
  for (const [w, a] of Object.entries(addedLatency)) {
    const show = (x) => `${f2(x.median)} (${f2(x.min)}…${f2(x.max)})`;
    out.push(`| ${w} | ${show(a.p50_ms)} | ${show(a.p99_ms)} |`);
  }
  out.push("");
  out.push(`| fresh isolate, KV warm (median of ${FRESH}) | first request ms | time to mf.ready ms | startup (ready + first) ms | JWKS fetches | statuses |`);
  out.push("|---|---:|---:|---:|---:|---|");
  for (const w of WORKERS) {
    const r = fresh[w];
    out.push(`| ${w} | ${f1(r.first_request_ms)} | ${f1(r.ready_ms)} | ${f1(r.startup_ms)} | ${r.jwks_fetches} | ${[...new Set(r.statuses)].join(", ")} |`);
  }
  out.push("");
  out.push(`| fresh gateway isolate, split (median of ${FRESH}) | 1st: /_gateway/health ms (instantiation + configuration) | 2nd: token ms (KV read, key import, verify, forward) | 3rd: same token ms (steady state) |`);
  out.push("|---|---:|---:|---:|");
  for (const w of WORKERS.filter(isGateway)) {
    const b = fresh[w].breakdown;
    out.push(`| ${w} | ${f1(b.health_first_ms)} | ${f1(b.token_after_health_ms)} | ${f1(b.token_again_ms)} |`);
  }
  out.push("");
  out.push("| bundle | raw | gzip -9 |");
  out.push("|---|---:|---:|");
  out.push(`| gateway wasm | ${(sizes.wasm_bytes / 1024).toFixed(1)} KiB | ${(sizes.wasm_gzip_bytes / 1024).toFixed(1)} KiB |`);
  out.push(`| gateway build/index.js | ${(sizes.js_bytes / 1024).toFixed(1)} KiB | |`);
  if (baselineSizes) {
    out.push(`| baseline (${BASELINE}) wasm | ${(baselineSizes.wasm_bytes / 1024).toFixed(1)} KiB | ${(baselineSizes.wasm_gzip_bytes / 1024).toFixed(1)} KiB |`);
  }
  out.push(`| jose Worker bench/.build/jose.js | ${(sizes.jose_bundle_bytes / 1024).toFixed(1)} KiB | ${(sizes.jose_bundle_gzip_bytes / 1024).toFixed(1)} KiB |`);
  out.push("");
  out.push(
    `JWKS fetches over the whole run (first requests, warm-up, runs, fresh starts): ${WORKERS.map((w) => `${w} ${jwksFetches[w]}`).join(", ")}. ` +
      `Gateway key cache at the end: ${JSON.stringify(keyCache.counters ?? keyCache)}.`,
  );
  out.push("");
  for (const t of targets) {
    const shown = t.unit === "x" ? `${t.value.toFixed(2)}x` : `${t.value.toFixed(2)} ${t.unit}`;
    out.push(`${t.pass ? "PASS" : "MISS"}: ${t.name} (${shown})`);
  }
  out.push("");
  out.push("Results: bench/results/gateway.json, bench/results/gateway.png");
  console.log(out.join("\n"));
} finally {
  await closeAll();
  process.removeListener("SIGINT", onSignal);
  process.removeListener("SIGTERM", onSignal);
}
