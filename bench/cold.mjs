// Fresh isolates with KV warm, quickly (about a minute, not the whole `npm run bench`), for
// checking a cold-start change before the full bench:
//   node bench/cold.mjs [buildDir ...]   (default: build; e.g. build bench/.baseline/<commit>/build)
// Each Worker (pass-through, jose, the Rust floor of bench/workers/rust-floor, then each gateway
// bundle) first fills its own persisted KV directory; then new workerd instances on that
// directory take turns, COLD_STARTS (9) each:
// every Worker serves one token request as its first request, and every gateway bundle, in a
// second fresh instance, serves /_gateway/health first, then a token request, then the same token
// again (workerd's clock stands still while a request computes, so the parts are timed from
// outside). Prints the medians, in milliseconds, as a markdown table.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { buildRustFloor, bundleJose, fillKv, referenceStarters, rustFloorStarter } from "./references.mjs";

const starts = Number(process.env.COLD_STARTS ?? 9);
if (!Number.isInteger(starts) || starts < 1 || starts > 100) throw new Error(`COLD_STARTS must be an integer in 1..100`);
const builds = process.argv.length > 2 ? process.argv.slice(2) : ["build"];
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const elapsed = (t) => Number(process.hrtime.bigint() - t) / 1e6;

bundleJose();
buildRustFloor();
const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOrigin();
const vars = gatewayVars(issuer, origin, { LOG_LEVEL: "error" });
const workers = {
  ...referenceStarters(issuer, origin, "RS256"),
  "rust-floor": rustFloorStarter(issuer, origin),
  ...Object.fromEntries(builds.map((buildDir) => [buildDir, (kvPersist) => startGateway({ vars, kvPersist, buildDir, miniflare: DIRECT_SOCKET })])),
};
const dirs = {};
try {
  const tokens = await Promise.all(Array.from({ length: starts + 1 }, (_, i) => issuer.mint({ sub: `cold-${i}` })));
  const timed = async (base, path, token) => {
    const t = process.hrtime.bigint();
    const res = await fetch(new URL(path, base), token ? { headers: { authorization: `Bearer ${token}` } } : {});
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${path}: ${res.status}`);
    return elapsed(t);
  };
  const served = async (name) => {
    const t = process.hrtime.bigint();
    const w = await workers[name](dirs[name]);
    return { w, ready: elapsed(t), base: await w.mf.unsafeGetDirectURL() };
  };
  for (const [name, start] of Object.entries(workers)) {
    dirs[name] = mkdtempSync(join(tmpdir(), "edge-jwt-cold-"));
    await fillKv(start, dirs[name], tokens[0]);
  }
  const rows = Object.fromEntries(Object.keys(workers).map((name) => [name, { ready: [], first: [], health: [], token: [], again: [] }]));
  for (let i = 1; i <= starts; i += 1) {
    for (const [name, r] of Object.entries(rows)) {
      let { w, ready, base } = await served(name);
      r.ready.push(ready);
      r.first.push(await timed(base, "/orders/1", tokens[i]));
      await w.close();
      if (!builds.includes(name)) continue;
      ({ w, base } = await served(name));
      r.health.push(await timed(base, "/_gateway/health"));
      r.token.push(await timed(base, "/orders/1", tokens[i]));
      r.again.push(await timed(base, "/orders/1", tokens[i]));
      await w.close();
    }
  }
  const cell = (xs) => (xs.length ? median(xs).toFixed(1) : "");
  console.log(`| Worker (median of ${starts} fresh isolates, ms) | ready | first request | gateway: health first | then a token | then the same token |`);
  console.log("|---|---:|---:|---:|---:|---:|");
  for (const [name, r] of Object.entries(rows)) {
    console.log(`| ${name} | ${[r.ready, r.first, r.health, r.token, r.again].map(cell).join(" | ")} |`);
  }
} finally {
  await origin.close();
  await issuer.close();
  for (const dir of Object.values(dirs)) rmSync(dir, { recursive: true, force: true });
}
