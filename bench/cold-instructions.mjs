// A fresh isolate's first request (KV warm), counted in instructions by Valgrind (callgrind): the
// cold start without the machine's noise (bench/cold.mjs times it, and its medians move by
// several milliseconds between runs). Each Worker first fills its own persisted KV directory;
// then, COLD_INSTR_STARTS times (3), a new workerd starts on that directory under
// `valgrind --tool=callgrind` with V8's default flags (lazy compilation and Liftoff, as a new
// isolate in production runs), the counters are zeroed once it is ready, one token request is
// sent, and the counters are dumped. Every thread of the process counts, so the figure includes
// V8 compiling the code the first request runs, and the KV service's work (Miniflare runs it in
// the same workerd; production does not). The Worker's load (`ready` in bench/cold.mjs) is not
// in it. Besides the total, the table gives what V8's two lazy compilers took: wasm functions
// compiled on their first call, JavaScript functions compiled on theirs. Beside the pass-through
// and jose Workers, `kv-read` (bench/workers/kv-read.mjs) is the pass-through after one KV read,
// as jose's and the gateway's first requests make: what that read costs here, in Miniflare's KV
// service, and would not in production. `rust-floor` (bench/workers/rust-floor) is jose's job in
// as little Rust as checking the token in Rust allows: the least we could make a Rust Worker's
// first request cost.
//   node bench/cold-instructions.mjs [buildDir ...]   (default: build)
// Needs valgrind (Debian: `apt-get install valgrind`). COLD_INSTR_KEEP=<folder> keeps each
// Worker's last dump as <worker>.cold.out, for `callgrind_annotate --inclusive=yes` (V8's and the
// runtime's own functions are named; generated code, wasm included, is not).
import { execFileSync } from "node:child_process";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startIssuer } from "../demo/issuer.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { requireValgrind, underCallgrind } from "./callgrind.mjs";
import { buildRustFloor, bundleJose, fillKv, referenceStarters, rustFloorStarter, startModuleWorker, startOriginProcess } from "./references.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const starts = Number(process.env.COLD_INSTR_STARTS ?? 3);
if (!Number.isInteger(starts) || starts < 1 || starts > 20) throw new Error("COLD_INSTR_STARTS must be an integer in 1..20");
const KEEP = process.env.COLD_INSTR_KEEP;
const builds = process.argv.length > 2 ? process.argv.slice(2) : ["build"];

requireValgrind("bench/cold-instructions.mjs");
if (KEEP !== undefined) mkdirSync(KEEP, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "edge-jwt-cold-instructions-"));

/**
 * A dump's instructions in all, and inclusive of V8's two lazy compilers (each is entered from
 * generated code through the runtime, so its inclusive count is the compilation alone).
 */
function counted(path) {
  const total = Number(/^totals: (\d+)/m.exec(readFileSync(path, "utf8"))[1]);
  const annotated = execFileSync("callgrind_annotate", ["--inclusive=yes", "--threshold=100", path], {
    encoding: "utf8",
    maxBuffer: 256 * 1024 * 1024,
  });
  const lines = annotated.split("\n");
  const inclusive = (symbol) => {
    const line = lines.find((l) => l.includes(`:${symbol}(`));
    return line === undefined ? 0 : Number(line.trim().split(/\s+/)[0].replaceAll(",", ""));
  };
  return {
    total,
    wasm: inclusive("v8::internal::Runtime_WasmCompileLazy"),
    js: inclusive("v8::internal::Runtime_CompileLazy"),
  };
}

/** `start()` with workerd under callgrind (bench/callgrind.mjs), and a function that counts its first request. */
async function cold(name, start) {
  const { w, url, zero, dump } = await underCallgrind({ name, start, work });
  return {
    close: () => w.close(),
    /** The counts of the first request (`token`), which must be answered 200. */
    async first(token) {
      zero();
      const res = await fetch(new URL("/orders/1", url), { headers: { authorization: `Bearer ${token}` } });
      await res.arrayBuffer();
      const path = dump();
      if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
      if (KEEP !== undefined) copyFileSync(path, join(KEEP, `${name.replaceAll("/", "_")}.cold.out`));
      return counted(path);
    },
  };
}

bundleJose();
buildRustFloor();
const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOriginProcess();
// The gateway's key set stays fresh however slowly Valgrind runs (the demo issuer's max-age is
// 5 minutes): every start reads the set from KV, as a new isolate does.
const vars = gatewayVars(issuer, origin, { LOG_LEVEL: "error", JWKS_CACHE_TTL_SECONDS: "86400", JWKS_MIN_TTL_SECONDS: "86400" });
const { passthrough, jose } = referenceStarters(issuer, origin, "RS256");
const starters = {
  passthrough,
  "kv-read": (kvPersist) => startModuleWorker(`${root}bench/workers/kv-read.mjs`, { ORIGIN_URL: origin.url }, kvPersist),
  jose,
  "rust-floor": rustFloorStarter(issuer, origin),
  ...Object.fromEntries(builds.map((buildDir) => [buildDir, (kvPersist) => startGateway({ vars, kvPersist, buildDir, miniflare: DIRECT_SOCKET })])),
};
const dirs = {};
let running;
try {
  const tokens = await Promise.all(Array.from({ length: starts + 1 }, (_, i) => issuer.mint({ sub: `cold-${i}` })));
  for (const [name, start] of Object.entries(starters)) {
    dirs[name] = mkdtempSync(join(tmpdir(), "edge-jwt-cold-"));
    await fillKv(start, dirs[name], tokens[0]);
  }
  const counts = Object.fromEntries(Object.keys(starters).map((name) => [name, []]));
  for (let i = 1; i <= starts; i += 1) {
    for (const [name, start] of Object.entries(starters)) {
      running = await cold(name, () => start(dirs[name]));
      const count = await running.first(tokens[i]);
      await running.close();
      running = undefined;
      counts[name].push(count);
      console.error(`cold-instructions: start ${i} ${name}: ${(count.total / 1e6).toFixed(2)}M`);
    }
  }
  // For each Worker, the start with the median total.
  const m = Object.fromEntries(
    Object.entries(counts).map(([name, xs]) => [name, [...xs].sort((a, b) => a.total - b.total)[Math.floor(xs.length / 2)]]),
  );
  const millions = (x) => (x / 1e6).toFixed(2);
  // Beyond the KV read: what production would also count (jose's and the gateway's first
  // requests both read KV once).
  const read = m["kv-read"].total;
  console.log(`| Worker (first request of a fresh isolate, KV warm: million instructions, median of ${starts} starts) | in all | / jose | compiling wasm | compiling JavaScript | the rest | beyond kv-read | / jose |`);
  console.log("|---|---:|---:|---:|---:|---:|---:|---:|");
  for (const [name, c] of Object.entries(m)) {
    const beyond = name === "passthrough" || name === "kv-read" ? ["", ""] : [millions(c.total - read), `${((c.total - read) / (m.jose.total - read)).toFixed(2)}x`];
    console.log(`| ${name} | ${millions(c.total)} | ${(c.total / m.jose.total).toFixed(2)}x | ${millions(c.wasm)} | ${millions(c.js)} | ${millions(c.total - c.wasm - c.js)} | ${beyond.join(" | ")} |`);
  }
} finally {
  await running?.close();
  await origin.close();
  await issuer.close();
  for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
  rmSync(work, { recursive: true, force: true });
}
