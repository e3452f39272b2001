// The tiered key cache end to end in workerd: isolate memory, Miniflare's local KV, the demo
// issuer's JWKS endpoint, the cron refresh, outages, rotation and unknown-kid floods. JWKS fetch
// counts are read from the issuer's own request counter.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, describe, test } from "node:test";
import { request, startStack, status } from "./support/stack.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A short freshness so that tests can outlive it: 1 s, whatever max-age the issuer sends. */
const SHORT_TTL = { JWKS_CACHE_TTL_SECONDS: "1", JWKS_MIN_TTL_SECONDS: "1", JWKS_MAX_TTL_SECONDS: "1" };

async function expectStatus(gateway, token, expected, label) {
  const res = await request(gateway, token);
  const body = await res.json();
  assert.equal(res.status, expected, `${label}: ${JSON.stringify(body)}`);
  return { res, body };
}

describe("key cache in workerd", () => {
  let stack;
  let dir;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "edge-jwt-keys-"));
  });
  afterEach(async () => {
    await stack?.close();
    stack = undefined;
    await rm(dir, { recursive: true, force: true });
  });

  test("1000 requests with valid tokens cause exactly one JWKS fetch", async () => {
    stack = await startStack();
    const gateway = await stack.addGateway();
    // Distinct tokens, so that every request goes through the key cache (a repeated token would
    // be answered by the token cache before it).
    const tokens = [];
    for (let i = 0; i < 1000; i += 1) tokens.push(await stack.issuer.mint({ sub: `user-${i}` }));
    let ok = 0;
    for (const token of tokens) {
      const res = await request(gateway, token);
      await res.arrayBuffer();
      ok += res.status === 200 ? 1 : 0;
    }
    assert.equal(ok, 1000);
    assert.equal(stack.issuer.counts.jwks, 1);
    const { key_cache: cache } = await status(gateway);
    console.log(`hit rate over 1000 requests: ${(cache.hit_rate * 100).toFixed(1)}% (${JSON.stringify(cache.counters)})`);
    assert.equal(cache.counters.jwks_fetches, 1);
    assert.equal(cache.counters.memory_hits, 999);
  });

  test("a second instance sharing KV serves its first request with no JWKS fetch; in_memory fetches", async () => {
    stack = await startStack({ kvPersist: dir });
    const token = await stack.issuer.mint();
    await expectStatus(await stack.addGateway(), token, 200, "first instance");
    assert.equal(stack.issuer.counts.jwks, 1);

    const second = await stack.addGateway();
    await expectStatus(second, token, 200, "second instance");
    assert.equal(stack.issuer.counts.jwks, 1, "the second instance read the key set from KV");
    assert.equal((await status(second)).key_cache.counters.kv_hits, 1);

    const memoryOnly = await stack.addGateway({ vars: { JWKS_CACHE_TYPE: "in_memory" } });
    await expectStatus(memoryOnly, token, 200, "in_memory instance");
    assert.equal(stack.issuer.counts.jwks, 2, "in_memory does not use KV");
  });

  test("a scheduled run fills KV, and a later request (another instance) uses it", async () => {
    stack = await startStack({ kvPersist: dir });
    const cron = await stack.addGateway();
    await cron.scheduled();
    assert.equal(stack.issuer.counts.jwks, 1);
    const stored = [...(await (await cron.kv()).list()).keys].map((k) => k.name);
    assert.ok(stored.some((name) => name.startsWith("jwks:v1:")), `KV keys: ${stored}`);

    const server = await stack.addGateway();
    await expectStatus(server, await stack.issuer.mint(), 200, "after the cron");
    assert.equal(stack.issuer.counts.jwks, 1, "served from KV");
  });

  for (const mode of ["error", "hang", "garbage"]) {
    test(`provider outage (${mode}) after warm-up: known kids keep passing, no 5xx`, async () => {
      stack = await startStack({ vars: { ...SHORT_TTL, JWKS_FETCH_TIMEOUT_MS: "300" } });
      const gateway = await stack.addGateway();
      const token = await stack.issuer.mint();
      await expectStatus(gateway, token, 200, "warm-up");
      stack.issuer.setMode(mode);
      await sleep(1100); // past the 1 s freshness
      for (let i = 0; i < 20; i += 1) {
        // A fresh token each time, so that the key cache (not the token cache) answers.
        await expectStatus(gateway, await stack.issuer.mint({ sub: `user-${i}` }), 200, `request ${i} during the outage`);
      }
      const { key_cache: cache } = await status(gateway);
      assert.ok(cache.counters.stale_serves >= 19, JSON.stringify(cache.counters));
      assert.ok(cache.counters.fetch_failures >= 1);
      // One refresh attempt (with its retries), then the failure backoff: no hammering.
      assert.ok(stack.issuer.counts.jwks <= 1 + 3, `JWKS requests: ${stack.issuer.counts.jwks}`);
    });
  }

  test("a cold gateway with the provider down answers 503 with Retry-After, quickly", async () => {
    stack = await startStack({ vars: { JWKS_FETCH_TIMEOUT_MS: "300" } });
    stack.issuer.setMode("hang");
    const gateway = await stack.addGateway();
    const token = await stack.issuer.mint();
    const started = Date.now();
    const { res, body } = await expectStatus(gateway, token, 503, "cold, provider hanging");
    const elapsed = Date.now() - started;
    assert.ok(elapsed < 10_000, `answered after ${elapsed} ms`);
    assert.ok(Number(res.headers.get("retry-after")) > 0);
    assert.equal(body.error, "temporarily_unavailable");
    const before = stack.issuer.counts.jwks;
    const again = await expectStatus(gateway, token, 503, "second request in the backoff");
    assert.ok(Number(again.res.headers.get("retry-after")) > 0);
    assert.equal(stack.issuer.counts.jwks, before, "no new fetch during the backoff");
  });

  test("key rotation: a new kid is picked up on demand; a removed kid fails after the next refresh", async () => {
    stack = await startStack();
    const gateway = await stack.addGateway();
    const oldToken = await stack.issuer.mint();
    await expectStatus(gateway, oldToken, 200, "old key");

    const newKid = await stack.issuer.rotate(); // new key added, old one still published
    const newToken = await stack.issuer.mint({}, { kid: newKid });
    await expectStatus(gateway, newToken, 200, "new kid via unknown-kid refetch");
    assert.equal(stack.issuer.counts.jwks, 2);
    assert.equal((await status(gateway)).key_cache.counters.unknown_kid_refetches, 1);

    await stack.issuer.rotate({ retire: true }); // only the newest key remains
    await gateway.scheduled();
    const { body } = await expectStatus(gateway, oldToken, 401, "old kid after the refresh");
    assert.match(body.error_description, /^unknown_key/);
  });

  test("an unknown-kid flood of 1000 random kids stays within the cooldown bound", async () => {
    stack = await startStack();
    const gateway = await stack.addGateway();
    await expectStatus(gateway, await stack.issuer.mint(), 200, "warm-up");
    stack.issuer.resetCounts();
    const started = Date.now();
    for (let i = 0; i < 1000; i += 1) {
      const token = await stack.issuer.mint({}, { header: { kid: `random-${randomUUID()}` } });
      const res = await request(gateway, token);
      await res.arrayBuffer();
      assert.equal(res.status, 401);
    }
    const seconds = (Date.now() - started) / 1000;
    const bound = 1 + Math.floor(seconds / 30);
    console.log(`unknown-kid flood: ${stack.issuer.counts.jwks} JWKS fetches for 1000 requests in ${seconds.toFixed(1)} s (bound ${bound})`);
    assert.ok(stack.issuer.counts.jwks <= bound, `${stack.issuer.counts.jwks} fetches > ${bound}`);
    assert.ok((await status(gateway)).key_cache.counters.cooldown_rejections >= 1000 - bound);
  });

  test("KV failing (no binding) never fails a request", async () => {
    stack = await startStack({ kvNamespaces: [] });
    const gateway = await stack.addGateway();
    const token = await stack.issuer.mint();
    for (let i = 0; i < 5; i += 1) await expectStatus(gateway, token, 200, `request ${i}`);
    assert.equal(stack.issuer.counts.jwks, 1);
    assert.ok((await status(gateway)).key_cache.counters.kv_errors >= 1);
  });
});

describe("token answers", () => {
  let stack;
  let gateway;
  after(() => stack?.close());

  test("RFC 6750 answers for missing, malformed and invalid tokens", async () => {
    stack = await startStack();
    gateway = await stack.addGateway();
    const none = await request(gateway, undefined);
    assert.equal(none.status, 401);
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="edge-jwt"');
    const malformed = await gateway.fetch("/orders", { headers: { authorization: "Basic abc" } });
    assert.equal(malformed.status, 400);
    assert.match(malformed.headers.get("www-authenticate"), /error="invalid_request"/);
    const expired = await stack.issuer.mint({}, { expiresIn: "-2h" });
    const res = await request(gateway, expired);
    assert.equal(res.status, 401);
    assert.match(res.headers.get("www-authenticate"), /error="invalid_token", error_description="token_expired/);
    assert.equal(res.headers.get("cache-control"), "no-store");
    assert.equal((await res.json()).error, "invalid_token");
  });
});
