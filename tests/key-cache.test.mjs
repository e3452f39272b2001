// The tiered key cache end to end in workerd: isolate memory, Miniflare's local KV, the demo
// issuer's JWKS endpoint, the cron refresh, outages, rotation and unknown-kid floods. JWKS fetch
// counts are read from the issuer's own request counter.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, afterEach, beforeEach, describe, test } from "node:test";
import { startIssuer } from "../demo/issuer.mjs";
import { request, startStack, status } from "./support/stack.mjs";

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
/** A short freshness so that tests can outlive it: 1 s, whatever max-age the issuer sends. */
const SHORT_TTL = { JWKS_CACHE_TTL_SECONDS: "1", JWKS_MIN_TTL_SECONDS: "1", JWKS_MAX_TTL_SECONDS: "1" };
/** JWKS_UNKNOWN_KID_COOLDOWN_SECONDS's default. */
const COOLDOWN_SECONDS = 30;
/** The Ed25519 identity point (01 00..00): a public key of small order. */
const IDENTITY = Buffer.concat([Buffer.from([1]), Buffer.alloc(31)]);

/** Unknown-kid refetches allowed over `seconds` of flood, the first one included. */
function refetchBound(seconds) {
  return 1 + Math.floor(seconds / COOLDOWN_SECONDS);
}

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
    const { key_cache: cache } = (await status(gateway)).providers[0];
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
    assert.equal((await status(second)).providers[0].key_cache.counters.kv_hits, 1);

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
    const record = stored.find((name) => name.startsWith("jwks:v2:set:"));
    assert.ok(record, `KV keys: ${stored}`);
    assert.match(record, /^jwks:v2:set:[0-9a-f]{64}$/);
    const value = JSON.parse(await (await cron.kv()).get(record));
    assert.equal(value.version, 2);
    assert.deepEqual(value.binding, { jwks_url: `${stack.issuer.url}/jwks.json` });

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
      const { key_cache: cache } = (await status(gateway)).providers[0];
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

  for (const mode of ["huge", "huge-chunked"]) {
    test(`a JWKS over the 256 KiB cap (${mode === "huge" ? "with Content-Length" : "streaming without end"}) is refused: 503, nothing cached`, async () => {
      stack = await startStack({ vars: { JWKS_FETCH_TIMEOUT_MS: "5000" } });
      stack.issuer.setMode(mode);
      const gateway = await stack.addGateway();
      const { body } = await expectStatus(gateway, await stack.issuer.mint(), 503, "the only JWKS is too large");
      assert.equal(body.error, "temporarily_unavailable");
      const { key_cache: cache } = (await status(gateway)).providers[0];
      assert.match(cache.last_fetch_error, /larger than 262144 bytes/);
      assert.equal(cache.key_set, null);
      assert.equal(stack.issuer.counts.jwks, 1, "a size failure is not retried");
    });
  }

  test("key rotation: a new kid is picked up on demand; a removed kid fails after the next refresh", async () => {
    stack = await startStack();
    const gateway = await stack.addGateway();
    const oldToken = await stack.issuer.mint();
    await expectStatus(gateway, oldToken, 200, "old key");

    const newKid = await stack.issuer.rotate(); // new key added, old one still published
    const newToken = await stack.issuer.mint({}, { kid: newKid });
    await expectStatus(gateway, newToken, 200, "new kid via unknown-kid refetch");
    assert.equal(stack.issuer.counts.jwks, 2);
    assert.equal((await status(gateway)).providers[0].key_cache.counters.unknown_kid_refetches, 1);

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
    const bound = refetchBound(seconds);
    const { counters } = (await status(gateway)).providers[0].key_cache;
    console.log(
      `unknown-kid flood: ${stack.issuer.counts.jwks} JWKS fetches and ${counters.kv_reads} KV reads ` +
        `(warm-up included) for 1000 requests in ${seconds.toFixed(1)} s (fetch bound ${bound})`,
    );
    assert.ok(stack.issuer.counts.jwks <= bound, `${stack.issuer.counts.jwks} fetches > ${bound}`);
    assert.ok(counters.cooldown_rejections >= 1000 - bound);
    // Inside the cooldown an unknown kid costs no KV read: the warm-up's read, then one read of
    // the set and one of the refetch marker per cooldown window.
    assert.ok(counters.kv_reads <= 1 + 2 * bound, `${counters.kv_reads} KV reads > ${1 + 2 * bound}`);
  });

  test("300 random kids, 10 in flight at a time, stay within the cooldown bound", async () => {
    // A 1 s cooldown and a pause between batches: many cooldown windows, each opened by a batch
    // of ten requests in flight together (in workerd they interleave at every await in about
    // half of the batches; before the refetch was claimed ahead of the first await, each such
    // batch fetched the JWKS ten times).
    stack = await startStack({ vars: { JWKS_UNKNOWN_KID_COOLDOWN_SECONDS: "1" } });
    const gateway = await stack.addGateway();
    await expectStatus(gateway, await stack.issuer.mint(), 200, "warm-up");
    stack.issuer.resetCounts();
    const before = (await status(gateway)).providers[0].key_cache.counters;
    const started = Date.now();
    for (let batch = 0; batch < 30; batch += 1) {
      const tokens = [];
      for (let i = 0; i < 10; i += 1) tokens.push(await stack.issuer.mint({}, { header: { kid: `random-${randomUUID()}` } }));
      const statuses = await Promise.all(
        tokens.map(async (token) => {
          const res = await request(gateway, token);
          await res.arrayBuffer();
          return res.status;
        }),
      );
      assert.deepEqual(statuses, Array(10).fill(401), `batch ${batch}`);
      await sleep(250);
    }
    const seconds = (Date.now() - started) / 1000;
    // At most one refetch per second of the isolate's clock (whole seconds): the seconds the run
    // touched.
    const bound = 2 + Math.floor(seconds);
    const { counters } = (await status(gateway)).providers[0].key_cache;
    const kvReads = counters.kv_reads - before.kv_reads;
    const refetches = counters.unknown_kid_refetches - before.unknown_kid_refetches;
    console.log(
      `300 unknown kids, 10 at a time, 1 s cooldown: ${stack.issuer.counts.jwks} JWKS fetches and ${kvReads} KV reads ` +
        `in ${seconds.toFixed(1)} s (fetch bound ${bound})`,
    );
    assert.ok(stack.issuer.counts.jwks <= bound, `${stack.issuer.counts.jwks} fetches > ${bound}`);
    assert.equal(stack.issuer.counts.jwks, refetches);
    // One read of the set and one of the refetch marker per refetch; none for the others.
    assert.ok(kvReads <= 2 * refetches, `${kvReads} KV reads for ${refetches} refetches`);
    assert.equal(counters.cooldown_rejections - before.cooldown_rejections, 300 - refetches);
  });

  test("a token for a published small-order Ed25519 key, signed R = identity and S = 0, gets 401", async () => {
    stack = await startStack({ vars: { JWT_ALGORITHMS: "RS256,EdDSA" } });
    const edKid = await stack.issuer.rotate({ alg: "EdDSA" });
    const weakKid = stack.issuer.publish({ kty: "OKP", crv: "Ed25519", x: IDENTITY.toString("base64url"), kid: "small-order", alg: "EdDSA", use: "sig" });
    const gateway = await stack.addGateway();
    await expectStatus(gateway, await stack.issuer.mint({}, { kid: edKid }), 200, "a genuine EdDSA token");

    // Header and claims from jose; the signature replaced by the forgery that any small-order
    // key (here the identity) lets WebCrypto accept.
    const [header, payload] = (await stack.issuer.mint({ sub: "admin" }, { kid: edKid, header: { kid: weakKid } })).split(".");
    const forged = `${header}.${payload}.${Buffer.concat([IDENTITY, Buffer.alloc(32)]).toString("base64url")}`;
    const { body } = await expectStatus(gateway, forged, 401, "the forged token");
    assert.match(body.error_description, /^unknown_key/);
    assert.equal(stack.origin.received.filter((r) => r.headers["x-auth-subject"] === "admin").length, 0);
    // The key was skipped at import: the set holds the issuer's two real keys only.
    assert.deepEqual((await status(gateway)).providers[0].key_cache.key_set.kids, stack.issuer.kids);
  });

  test("an ES256 key whose point is not on P-256 never verifies: WebCrypto's importKey refuses it (401)", async () => {
    // The Worker has no curve arithmetic (docs/decisions/0006-bundle-size.md): the key is kept
    // at JWKS import and refused by importKey, as the differential tests show for every shape.
    stack = await startStack({ vars: { JWT_ALGORITHMS: "ES256" }, alg: "ES256" });
    const kid = stack.issuer.kids[0];
    const genuine = stack.issuer.jwks().keys[0];
    const y = Buffer.from(genuine.y, "base64url");
    y[y.length - 1] ^= 1;
    const offCurve = stack.issuer.publish({ ...genuine, y: y.toString("base64url"), kid: "off-curve" });
    const gateway = await stack.addGateway();
    await expectStatus(gateway, await stack.issuer.mint({}, { kid }), 200, "a genuine ES256 token");

    // Signed by the genuine key (whose x it shares), sent under the off-curve key's kid.
    const token = await stack.issuer.mint({ sub: "admin" }, { kid, header: { kid: offCurve } });
    const { body } = await expectStatus(gateway, token, 401, "the off-curve key's token");
    assert.equal(body.error, "invalid_token");
    assert.equal(body.error_description, "key_unusable: the signing key is unusable", "no WebCrypto text reaches the client");
    assert.equal(stack.origin.received.filter((r) => r.headers["x-auth-subject"] === "admin").length, 0);
  });

  test("gateways with different JWKS URLs sharing KV never use each other's record", async () => {
    stack = await startStack({ kvPersist: dir });
    // Another host publishing a different key under the same kid (a staging issuer, or the old,
    // compromised host of a JWKS URL that has since been changed).
    const other = await startIssuer();
    try {
      const token = await stack.issuer.mint();
      assert.equal(other.kids[0], stack.issuer.kids[0], "same kid, different key");

      const first = await stack.addGateway({ vars: { JWT_JWKS_URL: `${other.url}/jwks.json` } });
      const { body: refused } = await expectStatus(first, token, 401, "the other host's key does not verify it");
      assert.match(refused.error_description, /^bad_signature/);
      assert.equal(other.counts.jwks, 1);

      const second = await stack.addGateway();
      await expectStatus(second, token, 200, "the issuer's own JWKS URL");
      assert.equal(stack.issuer.counts.jwks, 1, "fetched, not read from the first gateway's record");
      const { counters } = (await status(second)).providers[0].key_cache;
      assert.equal(counters.kv_hits, 0);
      assert.equal(counters.kv_misses, 1);

      const kv = await second.kv();
      const records = [...(await kv.list({ prefix: "jwks:v2:set:" })).keys].map((k) => k.name);
      assert.equal(records.length, 2, `KV keys: ${records}`);
      const bindings = await Promise.all(records.map(async (name) => JSON.parse(await kv.get(name)).binding.jwks_url));
      assert.deepEqual(bindings.sort(), [`${other.url}/jwks.json`, `${stack.issuer.url}/jwks.json`].sort());
    } finally {
      await other.close();
    }
  });

  for (const [mode, expected] of [["empty", 401], ["error", 200]]) {
    test(`after a refresh that finds the issuer's JWKS ${mode === "empty" ? "empty" : "failing"}, a known token gets ${expected}`, async () => {
      stack = await startStack({ kvPersist: dir });
      const gateway = await stack.addGateway();
      const token = await stack.issuer.mint();
      await expectStatus(gateway, token, 200, "before");
      stack.issuer.setMode(mode);
      await gateway.scheduled();
      const { body } = await expectStatus(gateway, token, expected, `after the refresh (${mode})`);
      const { key_cache: cache } = (await status(gateway)).providers[0];
      if (mode === "empty") {
        // The issuer revoked every key: an empty set replaces the last one, in KV too.
        assert.match(body.error_description, /^unknown_key/);
        assert.deepEqual(cache.key_set.kids, []);
        assert.equal(cache.key_set.generation, 2);
        assert.equal(cache.counters.fetch_failures, 0);
        // Another instance reads the empty set from KV (and the first one's unknown-kid refetch
        // holds it off the issuer).
        const fetches = stack.issuer.counts.jwks;
        const fresh = await stack.addGateway();
        await expectStatus(fresh, await stack.issuer.mint({ sub: "another" }), 401, "another instance, from KV");
        const { key_set: set } = (await status(fresh)).providers[0].key_cache;
        assert.deepEqual(set.kids, []);
        assert.equal(set.generation, 2);
        assert.equal(stack.issuer.counts.jwks, fetches);
      } else {
        // A failed fetch keeps the last good set.
        assert.deepEqual(cache.key_set.kids, stack.issuer.kids);
        assert.ok(cache.counters.fetch_failures >= 1);
      }
    });
  }

  test("KV failing (no binding) never fails a request", async () => {
    stack = await startStack({ kvNamespaces: [] });
    const gateway = await stack.addGateway();
    const token = await stack.issuer.mint();
    for (let i = 0; i < 5; i += 1) await expectStatus(gateway, token, 200, `request ${i}`);
    assert.equal(stack.issuer.counts.jwks, 1);
    assert.ok((await status(gateway)).providers[0].key_cache.counters.kv_errors >= 1);
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
    assert.equal(none.headers.get("www-authenticate"), 'Bearer realm="edge-jwt", resource_metadata="https://gateway.test/.well-known/oauth-protected-resource"');
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
