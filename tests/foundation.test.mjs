// The plumbing, end to end in workerd: fetch handler, scheduled handler writing KV, and KV read
// back by a later request; persisted KV shared between two gateway instances.
import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { startGateway } from "./support/gateway.mjs";

describe("Worker in workerd", () => {
  let gateway;
  before(async () => {
    gateway = await startGateway();
  });
  after(() => gateway?.close());

  test("fetch handler answers JSON with no scheduled run yet", async () => {
    const res = await gateway.fetch("/orders/42");
    assert.equal(res.status, 200);
    assert.match(res.headers.get("content-type"), /^application\/json/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    const body = await res.json();
    assert.equal(body.service, "edge-jwt");
    assert.match(body.version, /^\d+\.\d+\.\d+$/);
    assert.equal(body.last_scheduled_run, null);
  });

  test("scheduled handler records its run in KV, and a later request reads it", async () => {
    const before = Date.now();
    const result = await gateway.scheduled("*/5 * * * *");
    assert.equal(result.outcome, "ok");

    const stored = JSON.parse(await (await gateway.kv()).get("scheduled:last-run"));
    assert.equal(stored.cron, "*/5 * * * *");
    assert.ok(stored.ran_at_ms >= before - 1000, `ran_at_ms ${stored.ran_at_ms} is before the run`);
    assert.ok(stored.ran_at_ms <= Date.now() + 1000, `ran_at_ms ${stored.ran_at_ms} is in the future`);

    const body = await (await gateway.fetch("/")).json();
    assert.deepEqual(body.last_scheduled_run, stored);
  });

  test("a corrupt KV record does not break requests", async () => {
    await (await gateway.kv()).put("scheduled:last-run", "{not json");
    const res = await gateway.fetch("/");
    assert.equal(res.status, 200);
    assert.equal((await res.json()).last_scheduled_run, null);
  });
});

describe("persisted KV", () => {
  let dir;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "edge-jwt-kv-"));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  test("a second instance sees what the first one's cron wrote", async () => {
    const first = await startGateway({ kvPersist: dir });
    try {
      await first.scheduled("0 * * * *");
    } finally {
      await first.close();
    }
    const second = await startGateway({ kvPersist: dir });
    try {
      const body = await (await second.fetch("/")).json();
      assert.equal(body.last_scheduled_run?.cron, "0 * * * *");
    } finally {
      await second.close();
    }
  });
});
