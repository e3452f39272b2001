// CPU profile of a fresh gateway isolate's first requests (KV warm): where the cold start goes.
//   node bench/cold-profile.mjs   (after `npm run build`, EDGE_JWT_WASM_NAMES=1 for names, and
//   `bash scripts/bootstrap.sh bench` for its packages)
// A first instance fills a persisted KV directory; a second one starts on it with V8's sampling
// profiler attached through workerd's inspector before its first request, serves
// /_gateway/health, then a token request, then the same token again, and the profile of those
// three requests is summarised by frame (self and total time) and written to
// bench/results/cold.cpuprofile. Wall times of the three requests are printed too.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { frameTables, profiled } from "./inspector.mjs";
import { fillKv } from "./references.mjs";

const inspectorPort = Number(process.env.PROFILE_PORT ?? 9230);
const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOrigin();
const dir = mkdtempSync(join(tmpdir(), "edge-jwt-cold-"));
const vars = gatewayVars(issuer, origin, { LOG_LEVEL: "error" });
let gateway;
try {
  const token = await issuer.mint({ sub: "cold" });
  await fillKv((kvPersist) => startGateway({ vars, kvPersist, miniflare: DIRECT_SOCKET }), dir, token);

  gateway = await startGateway({ vars, kvPersist: dir, miniflare: { ...DIRECT_SOCKET, inspectorPort } });
  const base = await gateway.mf.unsafeGetDirectURL();
  const timed = async (path, headers = {}) => {
    const t = process.hrtime.bigint();
    const res = await fetch(new URL(path, base), { headers });
    await res.arrayBuffer();
    return `${path} ${res.status} ${(Number(process.hrtime.bigint() - t) / 1e6).toFixed(1)} ms`;
  };
  const auth = { authorization: `Bearer ${token}` };
  const { value: walls, profile } = await profiled(inspectorPort, { intervalUs: 25, name: "cold" }, async () => [
    await timed("/_gateway/health"),
    await timed("/orders/1", auth),
    await timed("/orders/1", auth),
  ]);
  const tables = frameTables(profile, { show: (t) => `${(t / 1000).toFixed(2)} ms` });
  console.log(`\n### Cold gateway isolate: ${walls.join("; ")} (profiled ${(tables.sampled / 1000).toFixed(1)} ms)\n`);
  console.log(tables.text);
  console.log("\nProfile: bench/results/cold.cpuprofile");
} finally {
  await gateway?.close();
  await origin.close();
  await issuer.close();
  rmSync(dir, { recursive: true, force: true });
}
