// `npm run dev`: the whole local stack on 127.0.0.1 — two demo issuers (the main one and a
// partner's), the demo OrderService and the Worker under `wrangler dev` (local KV,
// --test-scheduled cron) configured to trust both issuers (JWT_ISSUERS) and forward to it.
// Ports: EDGE_JWT_PORT (8787), DEMO_ISSUER_PORT (8788), DEMO_ORIGIN_PORT (8789),
// DEMO_PARTNER_ISSUER_PORT (8790).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const port = Number(process.env.EDGE_JWT_PORT ?? 8787);
const inspectorPort = Number(process.env.EDGE_JWT_INSPECTOR_PORT ?? 9229);
const READY_TIMEOUT_MS = Number(process.env.EDGE_JWT_READY_TIMEOUT_MS ?? 300_000);

const issuer = await startIssuer({ port: Number(process.env.DEMO_ISSUER_PORT ?? 8788) });
const partner = await startIssuer({ port: Number(process.env.DEMO_PARTNER_ISSUER_PORT ?? 8790), audience: "partner-api" });
const origin = await startOrigin({ port: Number(process.env.DEMO_ORIGIN_PORT ?? 8789) });
const gatewayUrl = `http://127.0.0.1:${port}`;

// Two providers: the main issuer ("demo") through OIDC discovery, as with a real OIDC provider,
// and the partner's ("partner") at its JWKS URL. The partner's tokens have their own audience,
// and only they are accepted under /partner; every other route takes tokens of either.
const providers = [
  { name: "demo", issuer: issuer.url, audience: issuer.audience },
  { name: "partner", issuer: partner.url, audience: partner.audience, jwks_url: `${partner.url}/jwks.json` },
];
const statusToken = process.env.EDGE_JWT_STATUS_TOKEN ?? "dev-status-token-not-a-secret";
const vars = {
  JWT_ISSUERS: JSON.stringify(providers),
  ROUTE_ISSUERS: "/partner=partner",
  ORIGIN_URL: origin.url,
  STATUS_TOKEN: statusToken,
  LOG_LEVEL: "info",
};
const args = ["dev", "--ip", "127.0.0.1", "--port", String(port), "--inspector-port", String(inspectorPort), "--test-scheduled", "--show-interactive-dev-session=false"];
for (const [name, value] of Object.entries(vars)) args.push("--var", `${name}:${value}`);

const wrangler = spawn(`${root}node_modules/.bin/wrangler`, args, {
  cwd: root,
  stdio: ["ignore", "inherit", "inherit"],
  env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
});

let stopping = false;
async function stop(code) {
  if (stopping) return;
  stopping = true;
  wrangler.kill("SIGTERM");
  await Promise.all([issuer.close(), partner.close(), origin.close()]);
  process.exit(code);
}
process.on("SIGINT", () => stop(0));
process.on("SIGTERM", () => stop(0));
wrangler.on("exit", (code) => stop(code ?? 1));

// Wait, bounded, until the Worker answers; then tell the newcomer what to try.
const deadline = Date.now() + READY_TIMEOUT_MS;
while (!stopping) {
  try {
    const res = await fetch(`${gatewayUrl}/_gateway/health`, { signal: AbortSignal.timeout(20_000) });
    await res.body?.cancel();
    break;
  } catch {
    if (Date.now() > deadline) {
      console.error(`edge-jwt did not answer on ${gatewayUrl} within ${READY_TIMEOUT_MS} ms`);
      await stop(1);
    }
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

const tokenFrom = (url, name) =>
  `${name}=$(curl -s -X POST '${url}/token?scope=orders:read' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')`;
console.log(`
edge-jwt local stack is ready
  gateway (wrangler dev): ${gatewayUrl}
  demo issuer:            ${issuer.url}   (provider "demo": discovery, /jwks.json, POST /token, POST /rotate)
  partner issuer:         ${partner.url}   (provider "partner", audience partner-api; alone accepted under /partner)
  demo OrderService:      ${origin.url}   (echoes every request it receives as JSON)

Try it:
  ${tokenFrom(issuer.url, "TOKEN")}
  ${tokenFrom(partner.url, "PARTNER_TOKEN")}
  curl -s -H "Authorization: Bearer $TOKEN" ${gatewayUrl}/orders/42             # verified, forwarded: see x-auth-* in the echo
  curl -s -H "Authorization: Bearer $PARTNER_TOKEN" ${gatewayUrl}/partner/orders/42   # the partner's token: x-auth-issuer is ${partner.url}
  curl -si -H "Authorization: Bearer $TOKEN" ${gatewayUrl}/partner/orders/42     # 401: /partner takes the partner's tokens only
  curl -si ${gatewayUrl}/orders/42                                               # 401 with WWW-Authenticate
  curl -s -X POST '${issuer.url}/rotate?retire=true'                           # rotate the demo issuer's key...
  curl -s '${gatewayUrl}/__scheduled?cron=*/5+*+*+*+*'                           # ...run the cron (refreshes both key sets) now
  curl -s -H "Authorization: Bearer ${statusToken}" ${gatewayUrl}/_gateway/status   # each provider's key cache

Stop with Ctrl-C.
READY ${gatewayUrl}`);
