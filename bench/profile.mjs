// CPU profile of the gateway in workerd under load: where a request's time goes.
//   node bench/profile.mjs [path]        (default /orders/1; needs `npm run build` first)
// Serves the gateway through a direct socket (as bench/gateway.mjs does), warms it up, loads it
// with autocannon (10 connections, the same valid token) while V8's sampling profiler runs
// through workerd's inspector, then prints the heaviest frames by self and by total time and
// writes the profile to bench/results/gateway.cpuprofile (open it in Chrome DevTools).
// Settings (environment): PROFILE_SECONDS (4), PROFILE_PORT (inspector port, 9229),
// PROFILE_INVALID=1 (the token's signature altered: the 401 path, as bench/gateway.mjs's
// "invalid tokens" scenario).
import autocannon from "autocannon";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { frameTables, profiled } from "./inspector.mjs";

const path = process.argv[2] ?? "/orders/1";
const seconds = Number(process.env.PROFILE_SECONDS ?? 4);
const inspectorPort = Number(process.env.PROFILE_PORT ?? 9229);
const invalid = process.env.PROFILE_INVALID === "1";
if (!Number.isInteger(seconds) || seconds < 1 || seconds > 60) throw new Error("PROFILE_SECONDS must be 1..60");

const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOrigin();
const gateway = await startGateway({
  vars: gatewayVars(issuer, origin, { LOG_LEVEL: "error" }),
  miniflare: { ...DIRECT_SOCKET, inspectorPort },
});
try {
  const url = new URL(path, await gateway.mf.unsafeGetDirectURL()).toString();
  const token = await issuer.mint({ sub: "profile" });
  // An altered signature of the same length: well-formed, refused by the signature check.
  const signed = invalid ? `${token.slice(0, -6)}${token.endsWith("AAAAAA") ? "BBBBBB" : "AAAAAA"}` : token;
  const headers = { authorization: `Bearer ${signed}` };
  const first = await fetch(url, { headers });
  await first.arrayBuffer();
  const expected = invalid ? 401 : 200;
  if (first.status !== expected) throw new Error(`${path} answered ${first.status}, not ${expected}`);
  await autocannon({ url, connections: 10, duration: 1, headers });

  const { value: load, profile } = await profiled(inspectorPort, { intervalUs: 50, name: "gateway" }, () =>
    autocannon({ url, connections: 10, duration: seconds, headers }),
  );
  const tables = frameTables(profile, { show: (t, sampled) => `${((100 * t) / sampled).toFixed(1)}%` });
  console.log(`\n### CPU profile of ${path}${invalid ? " (invalid signature)" : ""}: ${load.requests.total} requests in ${seconds} s (${(load.requests.total / seconds).toFixed(0)} req/s under the profiler)\n`);
  console.log(tables.text);
  console.log("\nProfile: bench/results/gateway.cpuprofile");
} finally {
  await gateway.close();
  await origin.close();
  await issuer.close();
}
