// Instructions per request, counted by Valgrind (callgrind) in the workerd process: a figure that
// does not depend on what else the machine is doing (CPU time on this one moves by 10 to 30%
// between rounds of `npm run bench`). Each Worker runs in its own workerd under
// `valgrind --tool=callgrind`; after a warm-up, the counters are zeroed, a batch of sequential
// requests is sent, and the counters are dumped: instructions of every thread of the process
// (the Worker, the runtime, V8's compiler and collector threads) divided by the requests. The
// requests go one at a time over loopback HTTP; the origin runs in a process of its own.
//   node bench/instructions.mjs [buildDir ...]   (default: build; e.g. build bench/.baseline/<commit>/build)
// Needs valgrind (Debian: `apt-get install valgrind`). Settings (environment): INSTR_REQUESTS
// (1000 per batch), INSTR_WARMUP (400 before each batch), INSTR_INSTANCES (1),
// INSTR_SCENARIOS (same,distinct,invalid,unseen), INSTR_V8_FLAGS (see V8_FLAGS below),
// INSTR_CACHE_SIM=1 (Valgrind also simulates the caches and the branch predictor, about twice as
// slow: a second table gives misses per request and callgrind's cycle estimate, instructions +
// 10 x (first-level cache misses + mispredicted branches) + 100 x last-level misses, the part of
// time that instructions alone do not show),
// INSTR_KEEP (a folder: each batch's callgrind output is kept there as <worker>.<scenario>.out,
// with V8's map of its generated code as <worker>.map, for `callgrind_annotate`. JavaScript is
// named in the map; a wasm function shows as the jump-table slot it is called through, 8 bytes
// each on x64, in the order of the module's own functions (names: an `EDGE_JWT_WASM_NAMES=1`
// build's names section).
// Scenarios: `same`, one token; `distinct`, 1000 tokens in turn, all sent once before the
// warm-up, so that each is in the gateway's token cache; `invalid`, 1000 tokens with an altered
// signature; `unseen` (always last), tokens never sent before (each request verified in full, as
// the first use of a token is). Before any batch, every Worker gets all 1000 distinct tokens and
// the warm-up of each other scenario once: the first batch of a fresh workerd otherwise counts
// 10 to 25% more, in all three Workers.
// What makes the count repeat (each measured; without them, instances of one bundle differed by
// up to 25%, and scenarios that should cost the same by as much):
// - V8 compiles on the thread that runs the code, and wasm with TurboFan only (V8_FLAGS);
// - batches of 1000: a young-generation collection (and the runtime objects it frees) comes
//   every few hundred requests, and a batch of 200 caught one or none;
// - the gateway's key set stays fresh all run (STEADY_KEYS).
// The pass-through Worker reads no token, so its four rows should agree: how far they differ is
// what is left of that noise (about 4%). `unseen` moves by up to 20% between runs of the same
// bundle: first-time tokens leave objects that outlive a young collection, and a major
// collection lands in some batches and not in others. INSTR_INSTANCES > 1 starts every Worker
// that many times and reports the median with half the range.
// Instructions are not time: WebCrypto's native code and the runtime count like wasm does, and
// the wall clock under Valgrind means nothing. Compare Workers within a run.
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { startIssuer } from "../demo/issuer.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { requireValgrind, underCallgrind } from "./callgrind.mjs";
import { badSignature, bundleJose, referenceStarters, startOriginProcess } from "./references.mjs";

function setting(name, fallback) {
  const value = Number(process.env[name] ?? fallback);
  if (!Number.isInteger(value) || value < 1 || value > 100_000) throw new Error(`${name} must be an integer in 1..100000`);
  return value;
}
const REQUESTS = setting("INSTR_REQUESTS", 1000);
const WARMUP = setting("INSTR_WARMUP", 400);
const INSTANCES = setting("INSTR_INSTANCES", 1);
// `unseen` goes last: the tokens it gets verified enter the token cache (an LRU of 1024) and would
// push out `distinct`'s.
const SCENARIOS = (process.env.INSTR_SCENARIOS ?? "same,distinct,invalid,unseen")
  .split(",")
  .sort((a, b) => (a === "unseen") - (b === "unseen"));
// V8 compiles hot code on background threads, and under Valgrind those compilations finish late
// or not at all: measured that way, a batch counted JavaScript still in the interpreter, wasm
// still in Liftoff, and the compilers themselves. So by default V8 compiles JavaScript on the
// thread that runs it (the code it installs is the same) and wasm with TurboFan only, which is
// what hot wasm runs as once V8 has tiered it up: the steady state that production traffic sees.
const KEEP = process.env.INSTR_KEEP;
const CACHE_SIM = process.env.INSTR_CACHE_SIM === "1";
const SIM_FLAGS = CACHE_SIM ? "--cache-sim=yes --branch-sim=yes " : "";
const V8_FLAGS = (process.env.INSTR_V8_FLAGS ?? "--no-concurrent-recompilation --no-liftoff").split(" ").filter(Boolean);
if (V8_FLAGS.some((f) => !/^--[a-z0-9-]+(=[A-Za-z0-9._-]+)?$/.test(f))) throw new Error("INSTR_V8_FLAGS: flags like --no-liftoff, separated by spaces");
// V8 writes /tmp/perf-<pid>.map: the address and name of the code it generates; its log, which
// the flag turns on, goes to the INSTR_KEEP folder rather than one file per isolate in the checkout.
if (KEEP !== undefined) V8_FLAGS.push("--perf-basic-prof", "--no-logfile-per-isolate", `--logfile=${resolve(KEEP, "v8.log")}`);
// The key set stays fresh for the whole run: under Valgrind a run lasts longer than the demo
// issuer's max-age (5 minutes), and the refresh would land in whichever batch was running then.
const STEADY_KEYS = { JWKS_CACHE_TTL_SECONDS: "86400", JWKS_MIN_TTL_SECONDS: "86400" };
const builds = process.argv.length > 2 ? process.argv.slice(2) : ["build"];
const PATH = "/orders/1?view=full";
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/**
 * The figures reported, in thousands, from one batch's events per request: instructions, and
 * with CACHE_SIM the misses, mispredictions and callgrind's cycle estimate (the weights of
 * callgrind_annotate and KCachegrind: 10 cycles a first-level miss or a mispredicted branch, 100
 * a last-level miss).
 */
function figures(e) {
  const instructions = { "thousand instructions": e.Ir };
  if (!CACHE_SIM) return instructions;
  const l1 = e.I1mr + e.D1mr + e.D1mw;
  const ll = e.ILmr + e.DLmr + e.DLmw;
  const mispredicted = e.Bcm + e.Bim;
  return {
    ...instructions,
    "thousand first-level cache misses": l1,
    "thousand last-level cache misses": ll,
    "thousand mispredicted branches": mispredicted,
    "thousand estimated cycles (callgrind)": e.Ir + 10 * (l1 + mispredicted) + 100 * ll,
  };
}

requireValgrind("bench/instructions.mjs");

if (KEEP !== undefined) mkdirSync(KEEP, { recursive: true });
const work = mkdtempSync(join(tmpdir(), "edge-jwt-instructions-"));

/** Starts a Worker under callgrind (bench/callgrind.mjs), with batches to send and measure. */
async function measured(name, start) {
  const { w, pid, url, zero, dump, dumps } = await underCallgrind({ name, start, work, v8Flags: V8_FLAGS, valgrindArgs: SIM_FLAGS });
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
    async measure(scenario, tokens, n, expected) {
      zero();
      await send(tokens, n, expected);
      const newest = dump();
      const text = readFileSync(newest, "utf8");
      // The events callgrind counted (Ir first; with the simulation also cache misses and
      // branches, see CACHE_SIM) and their totals, in the same order.
      const events = /^events: (.+)$/m.exec(text)[1].trim().split(/\s+/);
      const totals = /^totals: (.+)$/m.exec(text)[1].trim().split(/\s+/).map(Number);
      const perRequest = Object.fromEntries(events.map((event, i) => [event, (totals[i] ?? 0) / n]));
      if (KEEP !== undefined) {
        const file = (suffix) => join(KEEP, `${name.replaceAll("/", "_")}${suffix}`);
        copyFileSync(newest, file(`.${scenario}.out`));
        copyFileSync(`/tmp/perf-${pid}.map`, file(".map"));
      }
      for (const f of dumps()) rmSync(f);
      return perRequest;
    },
    close: () => w.close(),
  };
}

bundleJose();
const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOriginProcess();
const workers = {};
try {
  const mint = async (n, prefix) => {
    const tokens = [];
    for (let i = 0; i < n; i += 1) tokens.push(await issuer.mint({ sub: `${prefix}-${i}`, jti: `${prefix}${i}` }));
    return tokens;
  };
  const distinct = await mint(1000, "distinct");
  // Each instance of a Worker takes `unseen` from its start: as many tokens as one instance
  // sends, so that none is sent twice to one workerd.
  const unseen = await mint(WARMUP + REQUESTS, "unseen");
  const tokenSets = { same: [distinct[0]], distinct, invalid: distinct.map(badSignature), unseen };
  const starters = {
    ...referenceStarters(issuer, origin, "RS256"),
    ...Object.fromEntries(builds.map((buildDir) => [buildDir, () => startGateway({ vars: gatewayVars(issuer, origin, { LOG_LEVEL: "error", ...STEADY_KEYS }), buildDir, miniflare: DIRECT_SOCKET })])),
  };
  const counts = {};
  for (let instance = 1; instance <= INSTANCES; instance += 1) {
    for (const [name, start] of Object.entries(starters)) workers[name] = await measured(name, start);
    const expected = (scenario, name) => (scenario === "invalid" && name !== "passthrough" ? 401 : 200);
    for (const [name, w] of Object.entries(workers)) {
      // Every distinct token verified and into the token cache (the path `unseen` measures, too),
      // then the other scenarios' warm-up once.
      await w.send(distinct, distinct.length, 200);
      for (const scenario of SCENARIOS.filter((s) => s !== "unseen")) await w.send(tokenSets[scenario], WARMUP, expected(scenario, name));
    }
    for (const scenario of SCENARIOS) {
      for (const [name, w] of Object.entries(workers)) {
        await w.send(tokenSets[scenario], WARMUP, expected(scenario, name));
        const events = await w.measure(scenario, tokenSets[scenario], REQUESTS, expected(scenario, name));
        for (const [figure, value] of Object.entries(figures(events))) (((counts[figure] ??= {})[scenario] ??= {})[name] ??= []).push(value);
        console.error(`instructions: instance ${instance} ${scenario} ${name}: ${(events.Ir / 1000).toFixed(1)}k per request`);
      }
    }
    for (const name of Object.keys(workers)) {
      await workers[name].close();
      delete workers[name];
    }
  }
  const names = Object.keys(starters);
  for (const [figure, byScenario] of Object.entries(counts)) {
    console.log(`\n| ${figure} per request (median of ${INSTANCES} workerd instances, one batch of ${REQUESTS} each; ± half the range) | ${names.join(" | ")} | ${builds.map((b) => `${b} / jose`).join(" | ")} |`);
    console.log(`|---|${names.map(() => "---:").join("|")}|${builds.map(() => "---:").join("|")}|`);
    for (const scenario of SCENARIOS) {
      const m = Object.fromEntries(names.map((n) => [n, median(byScenario[scenario][n])]));
      const spread = (n) => {
        const xs = byScenario[scenario][n];
        return xs.length > 1 ? ` (±${((100 * (Math.max(...xs) - Math.min(...xs))) / 2 / m[n]).toFixed(1)}%)` : "";
      };
      console.log(`| ${scenario} | ${names.map((n) => `${(m[n] / 1000).toFixed(1)}${spread(n)}`).join(" | ")} | ${builds.map((b) => `${(m[b] / m.jose).toFixed(2)}x`).join(" | ")} |`);
    }
  }
} finally {
  for (const w of Object.values(workers)) await w.close();
  await origin.close();
  await issuer.close();
  rmSync(work, { recursive: true, force: true });
}
