// `npm run dev`'s stack, started as a newcomer would and exercised with the commands it prints.
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";
import { after, before, describe, test } from "node:test";
import { freePort } from "./support/net.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const READY_TIMEOUT_MS = 240_000;

describe("local stack (scripts/dev.mjs)", { timeout: READY_TIMEOUT_MS + 60_000 }, () => {
  let child;
  let gatewayUrl;
  let issuerUrl;
  let output = "";

  before(async () => {
    const [port, issuerPort, originPort, inspectorPort] = [await freePort(), await freePort(), await freePort(), await freePort()];
    issuerUrl = `http://127.0.0.1:${issuerPort}`;
    child = spawn(process.execPath, ["scripts/dev.mjs"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        EDGE_JWT_PORT: String(port),
        DEMO_ISSUER_PORT: String(issuerPort),
        DEMO_ORIGIN_PORT: String(originPort),
        EDGE_JWT_INSPECTOR_PORT: String(inspectorPort),
        EDGE_JWT_READY_TIMEOUT_MS: String(READY_TIMEOUT_MS),
      },
    });
    child.stderr.on("data", (chunk) => (output += chunk));
    gatewayUrl = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no READY line within ${READY_TIMEOUT_MS} ms:\n${output}`)), READY_TIMEOUT_MS);
      child.stdout.on("data", (chunk) => {
        output += chunk;
        const ready = output.match(/^READY (\S+)$/m);
        if (ready) {
          clearTimeout(timer);
          resolve(ready[1]);
        }
      });
      child.on("exit", (code) => {
        clearTimeout(timer);
        reject(new Error(`dev stack exited with ${code}:\n${output}`));
      });
    });
  });

  after(async () => {
    if (!child || child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once("exit", resolve));
    child.kill("SIGTERM");
    const timer = setTimeout(() => child.kill("SIGKILL"), 15_000);
    await exited;
    clearTimeout(timer);
  });

  test("serves the Worker on 127.0.0.1 and prints ready-to-paste commands", async () => {
    assert.equal(gatewayUrl, `http://127.0.0.1:${new URL(gatewayUrl).port}`);
    assert.match(output, /TOKEN=\$\(curl -s -X POST/);
    assert.match(output, /__scheduled\?cron=/);
    const res = await fetch(`${gatewayUrl}/_gateway/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  test("a token from the demo issuer is verified (keys through OIDC discovery) and forwarded with the identity", async () => {
    const { access_token: token } = await (await fetch(`${issuerUrl}/token`, { method: "POST" })).json();
    const res = await fetch(`${gatewayUrl}/orders/42`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json();
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.service, "order-service");
    assert.equal(body.received.url, "/orders/42");
    assert.equal(body.received.headers["x-auth-subject"], "demo-client");
    const anonymous = await fetch(`${gatewayUrl}/orders/42`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate"), /^Bearer realm=/);
  });

  test("--test-scheduled runs the cron, which writes local KV that the status endpoint reads", async () => {
    const ran = await fetch(`${gatewayUrl}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
    assert.equal(ran.status, 200);
    await ran.arrayBuffer();
    const token = output.match(/Authorization: Bearer (\S+)" \S+\/_gateway\/status/)[1];
    const res = await fetch(`${gatewayUrl}/_gateway/status`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json();
    assert.equal(body.last_scheduled_run?.cron, "*/5 * * * *");
    assert.ok(body.key_cache.key_set.kids.length >= 1, JSON.stringify(body.key_cache));
  });
});
