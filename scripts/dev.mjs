// `npm run dev`: the whole local stack on 127.0.0.1 — the demo issuer, the demo OrderService and
// the Worker under `wrangler dev` (local KV, --test-scheduled cron) configured to use them.
// Ports: EDGE_JWT_PORT (8787), DEMO_ISSUER_PORT (8788), DEMO_ORIGIN_PORT (8789).
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const port = Number(process.env.EDGE_JWT_PORT ?? 8787);
const inspectorPort = Number(process.env.EDGE_JWT_INSPECTOR_PORT ?? 9229);
const READY_TIMEOUT_MS = Number(process.env.EDGE_JWT_READY_TIMEOUT_MS ?? 300_000);

const issuer = await startIssuer({ port: Number(process.env.DEMO_ISSUER_PORT ?? 8788) });
const origin = await startOrigin({ port: Number(process.env.DEMO_ORIGIN_PORT ?? 8789) });
const gatewayUrl = `http://127.0.0.1:${port}`;

// Discovery is used (no JWT_JWKS_URL), as with a real OIDC provider.
const statusToken = process.env.EDGE_JWT_STATUS_TOKEN ?? "dev-status-token-not-a-secret";
const vars = {
  JWT_AUTHORITY: issuer.url,
  JWT_AUDIENCE: issuer.audience,
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
  await Promise.all([issuer.close(), origin.close()]);
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

console.log(`
edge-jwt local stack is ready
  gateway (wrangler dev): ${gatewayUrl}
  demo issuer:            ${issuer.url}   (discovery, /jwks.json, POST /token, POST /rotate)
  demo OrderService:      ${origin.url}   (echoes every request it receives as JSON)

Try it:
  TOKEN=$(curl -s -X POST '${issuer.url}/token?scope=orders:read' | node -pe 'JSON.parse(require("fs").readFileSync(0)).access_token')
  curl -s -H "Authorization: Bearer $TOKEN" ${gatewayUrl}/orders/42     # verified, forwarded: see x-auth-* in the echo
  curl -si ${gatewayUrl}/orders/42                                       # 401 with WWW-Authenticate
  curl -s -X POST '${issuer.url}/rotate?retire=true'                   # rotate the issuer's key...
  curl -s '${gatewayUrl}/__scheduled?cron=*/5+*+*+*+*'                   # ...run the cron (JWKS refresh) now
  curl -s -H "Authorization: Bearer ${statusToken}" ${gatewayUrl}/_gateway/status   # key cache state

Stop with Ctrl-C.
READY ${gatewayUrl}`);
