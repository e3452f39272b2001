// CPU profile of the gateway in workerd under load: where a request's time goes.
//   node bench/profile.mjs [path]        (default /orders/1; needs `npm run build` first)
// Serves the gateway through a direct socket (as bench/gateway.mjs does), warms it up, loads it
// with autocannon (10 connections, the same valid token) while V8's sampling profiler runs
// through workerd's inspector, then prints the heaviest frames by self and by total time and
// writes the profile to bench/results/gateway.cpuprofile (open it in Chrome DevTools).
// Settings (environment): PROFILE_SECONDS (4), PROFILE_PORT (inspector port, 9229).
import { mkdirSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import autocannon from "autocannon";
import WebSocket from "ws";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const path = process.argv[2] ?? "/orders/1";
const seconds = Number(process.env.PROFILE_SECONDS ?? 4);
const inspectorPort = Number(process.env.PROFILE_PORT ?? 9229);
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) throw new Error("PROFILE_SECONDS must be 1..60");

const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOrigin();
const gateway = await startGateway({
  vars: gatewayVars(issuer, origin, { LOG_LEVEL: "error" }),
  miniflare: { ...DIRECT_SOCKET, inspectorPort },
});
let ws;
try {
  const url = new URL(path, await gateway.mf.unsafeGetDirectURL()).toString();
  const headers = { authorization: `Bearer ${await issuer.mint({ sub: "profile" })}` };
  const first = await fetch(url, { headers });
  await first.arrayBuffer();
  if (first.status !== 200) throw new Error(`${path} answered ${first.status}`);
  await autocannon({ url, connections: 10, duration: 1, headers });

  const targets = await (await fetch(`http://127.0.0.1:${inspectorPort}/json`)).json();
  const target = targets.find((t) => t.title?.includes("core:user"));
  if (!target) throw new Error(`no user Worker among the inspector targets: ${targets.map((t) => t.title).join(", ")}`);
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
  await send("Profiler.setSamplingInterval", { interval: 50 });
  await send("Profiler.start");
  const load = await autocannon({ url, connections: 10, duration: seconds, headers });
  const { result } = await send("Profiler.stop");
  const profile = result.profile;
  mkdirSync(`${root}bench/results`, { recursive: true });
  writeFileSync(`${root}bench/results/gateway.cpuprofile`, JSON.stringify(profile));

  // Self time per frame, and total (inclusive) time counting each frame once per sample.
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
      .map(([key, t]) => `| ${((100 * t) / sampled).toFixed(1)}% | \`${key.slice(0, 120).replaceAll("|", "\\|")}\` |`);
  console.log(`\n### CPU profile of ${path}: ${load.requests.total} requests in ${seconds} s (${(load.requests.total / seconds).toFixed(0)} req/s under the profiler)\n`);
  console.log("| self | frame |\n|---:|---|");
  console.log(top(self, 25).join("\n"));
  console.log("\n| total | frame |\n|---:|---|");
  console.log(top(total, 40).join("\n"));
  console.log("\nProfile: bench/results/gateway.cpuprofile");
} finally {
  ws?.close();
  await gateway.close();
  await origin.close();
  await issuer.close();
}
