// Instructions per request, counted by Valgrind (callgrind) in the workerd process: a figure that
// does not depend on what else the machine is doing (CPU time on this one moves by 10 to 30%
// between rounds of `npm run bench`). Each Worker runs in its own workerd under
// `valgrind --tool=callgrind`; after a warm-up, the counters are zeroed, a batch of sequential
// requests is sent, and the counters are dumped: instructions of every thread of the process
// (the Worker, the runtime, V8's compiler and collector threads) divided by the requests. The
// requests go one at a time over loopback HTTP; the origin runs in a process of its own.
//   node bench/instructions.mjs [buildDir ...]   (default: build; e.g. build bench/.baseline/<commit>/build)
// Needs valgrind (Debian: `apt-get install valgrind`). Settings (environment): INSTR_REQUESTS
// (200 per batch), INSTR_WARMUP (400 before each batch), INSTR_INSTANCES (3),
// INSTR_SCENARIOS (same,distinct,invalid,unseen: `unseen` cycles through 2000 tokens, more than
// the token cache holds, so each request is verified in full; `distinct`'s 1000 all stay cached).
// The count usually repeats to 0.1% between workerd instances of the same bundle, but now and
// then one instance is off by up to 25% (when V8's background compilers finish is not
// deterministic), so every Worker is started INSTR_INSTANCES times, all of them side by side
// each time, and the median across instances is reported with half the range: a wide range
// means the median rests on fewer instances than it seems.
// Instructions are not time: WebCrypto's native code and the runtime count like wasm does, and
// the wall clock under Valgrind means nothing. Compare Workers within a run.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startIssuer } from "../demo/issuer.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { badSignature, bundleJose, referenceStarters, startOriginProcess } from "./references.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
function setting(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 100_000) throw new Error(`${name} must be an integer in 1..100000`);
  return value;
}
const REQUESTS = setting("INSTR_REQUESTS", 200);
const WARMUP = setting("INSTR_WARMUP", 400);
const INSTANCES = setting("INSTR_INSTANCES", 3);
const SCENARIOS = (process.env.INSTR_SCENARIOS ?? "same,distinct,invalid,unseen").split(",");
const builds = process.argv.length > 2 ? process.argv.slice(2) : ["build"];
const PATH = "/orders/1?view=full";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

try {
  execFileSync("valgrind", ["--version"], { stdio: "ignore" });
} catch {
  throw new Error("bench/instructions.mjs needs valgrind (Debian: apt-get install valgrind)");
}

const work = mkdtempSync(join(tmpdir(), "edge-jwt-instructions-"));
const workerd = `${root}node_modules/@cloudflare/workerd-linux-64/bin/workerd`;

/** Starts a Worker under callgrind (Miniflare runs `MINIFLARE_WORKERD_PATH`): its URL and process id. */
async function underCallgrind(name, start) {
  const dir = mkdtempSync(join(work, `${name.replaceAll("/", "_")}-`));
  const wrapper = join(dir, "workerd.sh");
  writeFileSync(
    wrapper,
    `#!/bin/sh\necho $$ > "${dir}/pid"\nexec valgrind --tool=callgrind --smc-check=all-non-file -q --callgrind-out-file="${dir}/out.%p" "${workerd}" "$@"\n`,
    { mode: 0o755 },
  );
  const previous = process.env.MINIFLARE_WORKERD_PATH;
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
  let w;
  try {
    w = await start();
  } finally {
    if (previous === undefined) delete process.env.MINIFLARE_WORKERD_PATH;
    else process.env.MINIFLARE_WORKERD_PATH = previous;
  }
  const pid = readFileSync(join(dir, "pid"), "utf8").trim();
  const url = await w.mf.unsafeGetDirectURL();
  const control = (flag) => execFileSync("callgrind_control", [flag, pid], { stdio: "ignore" });
  // Where each token list goes on: a batch takes the tokens after the previous batch's.
  const next = new Map();
  const send = async (tokens, n, expected) => {
    const from = next.get(tokens) ?? 0;
    next.set(tokens, from + n);
    for (let i = from; i < from + n; i += 1) {
      const res = await fetch(new URL(PATH, url), { headers: { authorization: `Bearer ${tokens[i % tokens.length]}` } });
      await res.arrayBuffer();
      if (res.status !== expected) throw new Error(`${name}: ${res.status}, expected ${expected}`);
    }
  };
  return {
    send,
    /** Instructions per request over `n` sequential requests, each with the next of `tokens`. */
    async measure(tokens, n, expected) {
      control("-z");
      await send(tokens, n, expected);
      control("-d");
      const dumps = readdirSync(dir)
        .filter((f) => f.startsWith(`out.${pid}.`))
        .map((f) => join(dir, f))
        .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
      const totals = /^totals: (\d+)/m.exec(readFileSync(dumps[0], "utf8"));
      for (const f of dumps) rmSync(f);
      return Number(totals[1]) / n;
    },
    close: () => w.close(),
  };
}

bundleJose();
const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOriginProcess();
const workers = {};
try {
  const distinct = [];
  for (let i = 0; i < 1000; i += 1) distinct.push(await issuer.mint({ sub: `instr-${i}`, jti: `t${i}` }));
  // More tokens than the gateway's token cache holds (1024), taken in turn: each was evicted
  // since its last use, so every request is verified in full (as the first use of a token is).
  const unseen = [...distinct];
  for (let i = 1000; i < 2000; i += 1) unseen.push(await issuer.mint({ sub: `instr-${i}`, jti: `t${i}` }));
  const tokenSets = { same: [distinct[0]], distinct, invalid: distinct.map(badSignature), unseen };
  const starters = {
    ...referenceStarters(issuer, origin, "RS256"),
    ...Object.fromEntries(builds.map((buildDir) => [buildDir, () => startGateway({ vars: gatewayVars(issuer, origin, { LOG_LEVEL: "error" }), buildDir, miniflare: DIRECT_SOCKET })])),
  };
  const counts = {};
  for (let instance = 1; instance <= INSTANCES; instance += 1) {
    for (const [name, start] of Object.entries(starters)) workers[name] = await underCallgrind(name, start);
    for (const scenario of SCENARIOS) {
      for (const [name, w] of Object.entries(workers)) {
        const expected = scenario === "invalid" && name !== "passthrough" ? 401 : 200;
        await w.send(tokenSets[scenario], WARMUP, expected);
        const perRequest = await w.measure(tokenSets[scenario], REQUESTS, expected);
        ((counts[scenario] ??= {})[name] ??= []).push(perRequest);
        console.error(`instructions: instance ${instance} ${scenario} ${name}: ${(perRequest / 1000).toFixed(1)}k per request`);
      }
    }
    for (const name of Object.keys(workers)) {
      await workers[name].close();
      delete workers[name];
    }
  }
  const names = Object.keys(starters);
  console.log(`| thousand instructions per request (median of ${INSTANCES} workerd instances, one batch of ${REQUESTS} each; ± half the range) | ${names.join(" | ")} | ${builds.map((b) => `${b} / jose`).join(" | ")} |`);
  console.log(`|---|${names.map(() => "---:").join("|")}|${builds.map(() => "---:").join("|")}|`);
  for (const scenario of SCENARIOS) {
    const m = Object.fromEntries(names.map((n) => [n, median(counts[scenario][n])]));
    const spread = (n) => {
      const xs = counts[scenario][n];
      return xs.length > 1 ? ` (±${((100 * (Math.max(...xs) - Math.min(...xs))) / 2 / m[n]).toFixed(1)}%)` : "";
    };
    console.log(`| ${scenario} | ${names.map((n) => `${(m[n] / 1000).toFixed(1)}${spread(n)}`).join(" | ")} | ${builds.map((b) => `${(m[b] / m.jose).toFixed(2)}x`).join(" | ")} |`);
  }
} finally {
  for (const w of Object.values(workers)) await w.close();
  await origin.close();
  await issuer.close();
  rmSync(work, { recursive: true, force: true });
}
