// CPU profile of a fresh gateway isolate's first requests (KV warm): where the cold start goes.
//   node bench/cold-profile.mjs   (after `npm run build`, EDGE_JWT_WASM_NAMES=1 for names, and
//   `bash scripts/bootstrap.sh bench` for its packages)
// A first instance fills a persisted KV directory; a second one starts on it with V8's sampling
// profiler attached through workerd's inspector before its first request, serves
// /_gateway/health, then a token request, then the same token again, and the profile of those
// three requests is summarised by frame (self and total time) and written to
// bench/results/cold.cpuprofile. Wall times of the three requests are printed too.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import WebSocket from "ws";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const inspectorPort = Number(process.env.PROFILE_PORT ?? 9230);
const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOrigin();
const dir = mkdtempSync(join(tmpdir(), "edge-jwt-cold-"));
const vars = gatewayVars(issuer, origin, { LOG_LEVEL: "error" });
let ws;
let gateway;
try {
  const token = await issuer.mint({ sub: "cold" });
  const warm = await startGateway({ vars, kvPersist: dir, miniflare: DIRECT_SOCKET });
  const first = await fetch(new URL("/orders/1", await warm.mf.unsafeGetDirectURL()), { headers: { authorization: `Bearer ${token}` } });
  await first.arrayBuffer();
  await new Promise((r) => setTimeout(r, 300)); // the KV write after the response
  await warm.close();

  gateway = await startGateway({ vars, kvPersist: dir, miniflare: { ...DIRECT_SOCKET, inspectorPort } });
  const base = await gateway.mf.unsafeGetDirectURL();
  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.title?.includes("core:user"));
  if (!target) throw new Error(`no user Worker among ${targets.map((t) => t.title).join(", ")}`);
  ws = new WebSocket(target.webSocketDebuggerUrl);
  await new Promise((resolve, reject) => ws.once("open", resolve).once("error", reject));
  let nextId = 0;
  const pending = new Map();
  ws.on("message", (data) => {
    const message = JSON.parse(data);
    pending.get(message.id)?.(message);
    pending.delete(message.id);
  });
  const send = (method, params = {}) =>
    new Promise((resolve) => {
      nextId += 1;
      pending.set(nextId, resolve);
      ws.send(JSON.stringify({ id: nextId, method, params }));
    });
  await send("Profiler.enable");
  await send("Profiler.setSamplingInterval", { interval: 25 });
  await send("Profiler.start");
  const timed = async (path, headers = {}) => {
    const t = process.hrtime.bigint();
    const res = await fetch(new URL(path, base), { headers });
    await res.arrayBuffer();
    return `${path} ${res.status} ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`;
  };
  const walls = [await timed("/_gateway/health"), await timed("/orders/1", { authorization: `Bearer ${token}` }), await timed("/orders/1", { authorization: `Bearer ${token}` })];
  const { result } = await send("Profiler.stop");
  const profile = result.profile;
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/cold.cpuprofile`, JSON.stringify(profile));
  const nodes = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map();
  for (const n of profile.nodes) for (const child of n.children ?? []) parent.set(child, n.id);
  const label = (n) => `${n.callFrame.functionName || "(anonymous)"} ${n.callFrame.url.split("/").pop()}`.trim();
  const self = new Map();
  const total = new Map();
  let sampled = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    sampled += dt;
    self.set(label(nodes.get(id)), (self.get(label(nodes.get(id))) ?? 0) + dt);
    const seen = new Set();
    for (let at = id; at !== undefined; at = parent.get(at)) {
      const key = label(nodes.get(at));
      if (!seen.has(key)) total.set(key, (total.get(key) ?? 0) + dt);
      seen.add(key);
    }
  });
  const top = (map, n) =>
    [...map]
      .filter(([key]) => key !== "(root)")
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, t]) => `| ${(t / 1000).toFixed(2)} ms | \`${key.slice(0, 120).replaceAll("|", "\\|")}\` |`);
  console.log(`\n### Cold gateway isolate: ${walls.join("; ")} (profiled ${(sampled / 1000).toFixed(1)} ms)\n`);
  console.log("| self | frame |\n|---:|---|");
  console.log(top(self, 25).join("\n"));
  console.log("\n| total | frame |\n|---:|---|");
  console.log(top(total, 40).join("\n"));
  console.log("\nProfile: bench/results/cold.cpuprofile");
} finally {
  ws?.close();
  await gateway?.close();
  await origin.close();
  await issuer.close();
  rmSync(dir, { recursive: true, force: true });
}
