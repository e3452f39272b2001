// The gateway's own surface, end to end in workerd: configuration checked once (500 when it is
// missing), the health and status endpoints, the scheduled handler's heartbeat in KV, and
// persisted KV shared between two instances.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startGateway } from "./support/gateway.mjs";
import { startStack, status, STATUS_TOKEN } from "./support/stack.mjs";

describe("unconfigured Worker", () => {
  let gateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(() => gateway?.close());

  test("answers 500 gateway_misconfigured on every route and forwards nothing", async () => {
    for (const path of ["/", "/orders/42", "/_gateway/health"]) {
      const res = await gateway.fetch(path);
      assert.equal(res.status, 500, path);
      assert.equal(res.headers.get("cache-control"), "no-store");
      const body = await res.json();
      assert.equal(body.error, "gateway_misconfigured");
      assert.doesNotMatch(body.error_description, /JWT_AUTHORITY/, "details go to the log, not the client");
    }
  });
});

describe("configured Worker", () => {
  let stack;
  let gateway;
  before(async () => {
    stack = await startStack();
    gateway = await stack.addGateway();
  });
  after(() => stack?.close());

  test("health endpoint answers without a token", async () => {
    const res = await gateway.fetch("/_gateway/health");
    assert.equal(res.status, 200);
    assert.deepEqual(await res.json(), { status: "ok" });
  });

  test("status endpoint needs the status token", async () => {
    assert.equal((await gateway.fetch("/_gateway/status")).status, 404);
    const wrong = await gateway.fetch("/_gateway/status", { headers: { authorization: "Bearer nope" } });
    assert.equal(wrong.status, 404);
    const body = await status(gateway);
    assert.equal(body.service, "edge-jwt");
    // One entry per provider: here the single issuer, named by its URL.
    assert.equal(body.providers.length, 1);
    assert.equal(body.providers[0].name, body.providers[0].issuer);
    assert.ok(body.providers[0].key_cache.counters, "counters are reported");
    assert.equal(body.key_cache, undefined);
    assert.ok(STATUS_TOKEN.length >= 16);
  });

  test("scheduled handler records its run in KV, and the status endpoint reads it", async () => {
    const started = Date.now();
    const result = await gateway.scheduled("*/5 * * * *");
    assert.equal(result.outcome, "ok");
    const stored = JSON.parse(await (await gateway.kv()).get("scheduled:last-run"));
    assert.equal(stored.cron, "*/5 * * * *");
    assert.ok(stored.ran_at_ms >= started - 1000 && stored.ran_at_ms <= Date.now() + 1000);
    assert.deepEqual((await status(gateway)).last_scheduled_run, stored);
  });

  test("a corrupt heartbeat record does not break the status endpoint", async () => {
    await (await gateway.kv()).put("scheduled:last-run", "{not json");
    assert.equal((await status(gateway)).last_scheduled_run, null);
  });
});

describe("persisted KV", () => {
  let dir;
  let stack;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edge-jwt-kv-"));
    stack = await startStack({ kvPersist: dir });
  });
  after(async () => {
    await stack?.close();
    await rm(dir, { recursive: true, force: true });
  });

  test("a second instance sees what the first one's cron wrote", async () => {
    const first = await stack.addGateway();
    await first.scheduled("0 * * * *");
    await first.close();
    stack.gateways.splice(stack.gateways.indexOf(first), 1);
    const second = await stack.addGateway();
    assert.equal((await status(second)).last_scheduled_run?.cron, "0 * * * *");
  });
});
