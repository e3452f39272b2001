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
  let partnerUrl;
  let output = "";

  before(async () => {
    const [port, issuerPort, originPort, inspectorPort, partnerPort] = [await freePort(), await freePort(), await freePort(), await freePort(), await freePort()];
    issuerUrl = `http://127.0.0.1:${issuerPort}`;
    partnerUrl = `http://127.0.0.1:${partnerPort}`;
    child = spawn(process.execPath, ["scripts/dev.mjs"], {
      cwd: root,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        EDGE_JWT_PORT: String(port),
        DEMO_ISSUER_PORT: String(issuerPort),
        DEMO_ORIGIN_PORT: String(originPort),
        DEMO_PARTNER_ISSUER_PORT: String(partnerPort),
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
    assert.match(output, /^\s+TOKEN=\$\(curl -s -X POST '[^']+\/token/m);
    assert.match(output, /^\s+PARTNER_TOKEN=\$\(curl -s -X POST '[^']+\/token/m);
    assert.ok(output.includes(`PARTNER_TOKEN=$(curl -s -X POST '${partnerUrl}/token`), "the partner issuer's token command uses DEMO_PARTNER_ISSUER_PORT");
    assert.match(output, /__scheduled\?cron=/);
    const res = await fetch(`${gatewayUrl}/_gateway/health`);
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  /** An access token from the demo issuer at `url` (its POST /token, as the printed commands get it). */
  async function tokenFrom(url) {
    const res = await fetch(`${url}/token?scope=orders:read`, { method: "POST" });
    assert.equal(res.status, 200);
    return (await res.json()).access_token;
  }

  /** The gateway's answer (status and echo) to `token` on `path`. */
  async function call(path, token) {
    const res = await fetch(`${gatewayUrl}${path}`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
    return { res, body: await res.json() };
  }

  test("a token from the demo issuer is verified (keys through OIDC discovery) and forwarded with the identity", async () => {
    const { res, body } = await call("/orders/42", await tokenFrom(issuerUrl));
    assert.equal(res.status, 200, JSON.stringify(body));
    assert.equal(body.service, "order-service");
    assert.equal(body.received.url, "/orders/42");
    assert.equal(body.received.headers["x-auth-subject"], "demo-client");
    assert.equal(body.received.headers["x-auth-issuer"], issuerUrl);
    const anonymous = await fetch(`${gatewayUrl}/orders/42`);
    assert.equal(anonymous.status, 401);
    assert.match(anonymous.headers.get("www-authenticate"), /^Bearer realm=/);
  });

  test("a token from the partner issuer is verified (keys at its JWKS URL) and forwarded with its issuer; /partner takes only those", async () => {
    const partnerToken = await tokenFrom(partnerUrl);
    for (const path of ["/partner/orders/42", "/orders/43"]) {
      const { res, body } = await call(path, partnerToken);
      assert.equal(res.status, 200, `${path}: ${JSON.stringify(body)}`);
      assert.equal(body.received.url, path);
      assert.equal(body.received.headers["x-auth-issuer"], partnerUrl);
      const claims = JSON.parse(Buffer.from(body.received.headers["x-auth-claims"], "base64url").toString("utf8"));
      assert.equal(claims.aud, "partner-api");
    }
    const { res, body } = await call("/partner/orders/42", await tokenFrom(issuerUrl));
    assert.equal(res.status, 401, JSON.stringify(body));
    assert.equal(body.error, "invalid_token");
  });

  test("--test-scheduled runs the cron, which writes local KV that the status endpoint reads", async () => {
    const ran = await fetch(`${gatewayUrl}/__scheduled?cron=${encodeURIComponent("*/5 * * * *")}`);
    assert.equal(ran.status, 200);
    await ran.arrayBuffer();
    const token = output.match(/Authorization: Bearer (\S+)" \S+\/_gateway\/status/)[1];
    const res = await fetch(`${gatewayUrl}/_gateway/status`, { headers: { authorization: `Bearer ${token}` } });
    const body = await res.json();
    assert.equal(body.last_scheduled_run?.cron, "*/5 * * * *");
    assert.deepEqual(
      body.providers?.map((p) => [p.name, p.issuer]),
      [
        ["demo", issuerUrl],
        ["partner", partnerUrl],
      ],
      JSON.stringify(body),
    );
    for (const provider of body.providers) {
      assert.ok(provider.key_cache.key_set.kids.length >= 1, JSON.stringify(provider));
    }
  });
});
