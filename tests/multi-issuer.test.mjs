// Several trusted issuers (`JWT_ISSUERS`) end to end in workerd: two demo issuers at once, one
// origin, one gateway. The two issuers both call their first key `demo-rs256-1` (same kid,
// different keys), so a gateway that looked a key up by kid alone, or in the wrong provider's
// set, would accept one issuer's signature on the other's token. Key fetches are read from each
// issuer's own request counters.
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, afterEach, before, describe, test } from "node:test";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { atLeast, logEvents as events, METRICS_STUB, startGateway, stubPoints } from "./support/gateway.mjs";
import { keyRequests, multiIssuerVars, providerEntry, providerStatus, request, STATUS_TOKEN, status } from "./support/stack.mjs";

/** The kid both demo issuers give their first key. */
const SHARED_KID = "demo-rs256-1";
const PARTNER_AUDIENCE = "partner-api";

/** What the origin last received. */
const lastReceived = (origin) => origin.received.at(-1);

/** The payload of a compact JWS, decoded (not verified). */
const payloadOf = (token) => JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
const headerOf = (token) => JSON.parse(Buffer.from(token.split(".")[0], "base64url").toString("utf8"));

/** The METRICS stub's data points as { kind, outcome, code, tier }. */
function points(lines) {
  return stubPoints(lines).map(({ blobs: [kind, outcome, code, tier] }) => ({ kind, outcome, code, tier }));
}

/** Sends `token` to `path` and checks the status; returns the parsed body. */
async function expectStatus(gateway, token, expected, label, path = "/orders/1", init = {}) {
  const res = await request(gateway, token, path, init);
  const text = await res.text();
  assert.equal(res.status, expected, `${label}: ${text}`);
  return { res, body: text ? JSON.parse(text) : null };
}

/** A 401 invalid_token, whose description starts with `code` when given. */
async function expectInvalidToken(gateway, token, label, { code, path, init } = {}) {
  const { res, body } = await expectStatus(gateway, token, 401, label, path, init);
  assert.match(res.headers.get("www-authenticate") ?? "", /error="invalid_token"/, label);
  if (body === null) return body; // HEAD
  assert.equal(body.error, "invalid_token", label);
  if (code) assert.match(body.error_description, new RegExp(`^${code}`), `${label}: ${body.error_description}`);
  return body;
}

// Everything a test starts, closed after it (gateways first).
let gateways = [];
let servers = [];
afterEach(async () => {
  await Promise.all(gateways.map((g) => g.close()));
  await Promise.all(servers.map((s) => s.close()));
  gateways = [];
  servers = [];
});

/**
 * Two demo issuers, A ("orders": audience order-service, keys through OIDC discovery) and B
 * ("partner": audience partner-api, keys at its JWKS URL), an origin and a gateway trusting both.
 * `providers(a, b)` replaces the JWT_ISSUERS array; `asArray` passes it as a JSON array value
 * instead of a JSON string; `vars` adds variables; `observe` collects the gateway's console lines
 * and binds the METRICS stub.
 */
async function startTwo({ providers, asArray = false, vars = {}, observe = false } = {}) {
  const a = await startIssuer();
  const b = await startIssuer({ audience: PARTNER_AUDIENCE });
  const origin = await startOrigin();
  servers.push(a, b, origin);
  assert.deepEqual([a.kids, b.kids], [[SHARED_KID], [SHARED_KID]], "the premise: both issuers name their key alike");
  assert.notDeepEqual(a.jwks().keys[0].n, b.jwks().keys[0].n, "...and the keys differ");
  const list = providers ? providers(a, b) : [providerEntry(a, { name: "orders", discovery: true }), providerEntry(b, { name: "partner" })];
  const lines = [];
  const options = { vars: multiIssuerVars(list, origin, vars, { asArray }) };
  if (observe) {
    options.vars.LOG_LEVEL = "info";
    options.miniflare = { handleStructuredLogs: ({ message }) => void lines.push(message) };
    options.worker = { wrappedBindings: { METRICS: { scriptName: METRICS_STUB.name } } };
    options.workers = [METRICS_STUB];
  }
  const gateway = await startGateway(options);
  gateways.push(gateway);
  return { a, b, origin, gateway, lines };
}

describe("selection by iss", () => {
  for (const form of ["a JSON string", "a JSON array value"]) {
    test(`JWT_ISSUERS as ${form}: tokens of either issuer are verified and forwarded with their issuer`, async () => {
      const { a, b, origin, gateway } = await startTwo({ asArray: form !== "a JSON string" });
      const fromA = await a.mint({ sub: "alice" });
      await expectStatus(gateway, fromA, 200, "A's token");
      assert.equal(lastReceived(origin).headers["x-auth-issuer"], a.url);
      assert.equal(lastReceived(origin).headers["x-auth-subject"], "alice");

      const fromB = await b.mint({ sub: "bob" });
      await expectStatus(gateway, fromB, 200, "B's token");
      assert.equal(lastReceived(origin).headers["x-auth-issuer"], b.url);
      assert.equal(lastReceived(origin).headers["x-auth-subject"], "bob");
      const claims = JSON.parse(Buffer.from(lastReceived(origin).headers["x-auth-claims"], "base64url").toString("utf8"));
      assert.equal(claims.aud, PARTNER_AUDIENCE);

      // Each issuer's keys were read once, from where its provider says: A through discovery,
      // B from its JWKS URL.
      assert.deepEqual([a.counts.discovery, a.counts.jwks], [1, 1], JSON.stringify(a.counts));
      assert.deepEqual([b.counts.discovery, b.counts.jwks], [0, 1], JSON.stringify(b.counts));
      for (let i = 0; i < 3; i += 1) {
        await expectStatus(gateway, await a.mint({ sub: `alice-${i}` }), 200, `A again ${i}`);
        await expectStatus(gateway, await b.mint({ sub: `bob-${i}` }), 200, `B again ${i}`);
      }
      assert.deepEqual([a.counts.jwks, b.counts.jwks], [1, 1], "later tokens are verified from each provider's cache");
    });
  }

  test("a token signed with the other issuer's key of the same kid is refused, both ways", async () => {
    const { a, b, origin, gateway } = await startTwo();
    // Both key sets in the gateway's caches first: a cache keyed by kid alone would now hold one
    // issuer's key under the other's kid.
    await expectStatus(gateway, await a.mint({ sub: "alice" }), 200, "A's genuine token");
    await expectStatus(gateway, await b.mint({ sub: "bob" }), 200, "B's genuine token");
    const forwarded = origin.received.length;

    // iss and aud of A, signed by B: only A's key may check it. Every claim is A's, so with B's
    // key it would pass (200) and with no check of the key at all too.
    const asA = await b.mint({ sub: "mallory-a" }, { kid: SHARED_KID, issuer: a.url, audience: a.audience });
    assert.equal(headerOf(asA).kid, SHARED_KID);
    assert.equal(payloadOf(asA).iss, a.url);
    await expectInvalidToken(gateway, asA, "iss A, signed by B", { code: "bad_signature" });

    const asB = await a.mint({ sub: "mallory-b" }, { kid: SHARED_KID, issuer: b.url, audience: b.audience });
    assert.equal(payloadOf(asB).iss, b.url);
    await expectInvalidToken(gateway, asB, "iss B, signed by A", { code: "bad_signature" });

    // The same again, sent twice (the token cache must not be a way around it either).
    await expectInvalidToken(gateway, asA, "iss A, signed by B, again", { code: "bad_signature" });
    await expectInvalidToken(gateway, asB, "iss B, signed by A, again", { code: "bad_signature" });
    assert.equal(origin.received.length, forwarded, "nothing reached the origin");

    // The controls: the same claims signed by the right issuer pass, so the refusals above were
    // the keys' doing.
    await expectStatus(gateway, await a.mint({ sub: "mallory-a" }, { kid: SHARED_KID }), 200, "A's claims signed by A");
    await expectStatus(gateway, await b.mint({ sub: "mallory-b" }, { kid: SHARED_KID }), 200, "B's claims signed by B");
    assert.deepEqual([a.counts.jwks, b.counts.jwks], [1, 1], "no refetch: the kid was known to both");
  });

  test("the other direction on a cold gateway: the forged token comes first", async () => {
    // No warm-up: the first token each provider ever sees is signed by the other issuer.
    const { a, b, gateway } = await startTwo();
    await expectInvalidToken(gateway, await a.mint({}, { issuer: b.url, audience: b.audience }), "iss B, signed by A", { code: "bad_signature" });
    await expectInvalidToken(gateway, await b.mint({}, { issuer: a.url, audience: a.audience }), "iss A, signed by B", { code: "bad_signature" });
    assert.deepEqual([a.counts.jwks, b.counts.jwks], [1, 1], "each token made its own provider fetch its own keys");
    await expectStatus(gateway, await a.mint(), 200, "A's genuine token");
    await expectStatus(gateway, await b.mint(), 200, "B's genuine token");
  });

  test("an unknown iss, or none, is refused before any key is fetched from anyone", async () => {
    const { a, b, origin, gateway } = await startTwo();
    const unknown = [
      ["an unknown issuer", await a.mint({}, { issuer: "https://unknown.example" })],
      ["an unknown issuer with a random kid", await a.mint({}, { issuer: "https://unknown.example", header: { kid: `random-${randomUUID()}` } })],
      ["A's issuer with a trailing slash", await a.mint({}, { issuer: `${a.url}/` })],
      ["A's issuer in upper case", await a.mint({}, { issuer: a.url.toUpperCase() })],
      ["no iss", await a.mint({}, { issuer: null })],
      ["no iss and B's audience", await b.mint({}, { issuer: null })],
      ["a numeric iss", await a.mint({ iss: 42 }, { issuer: null })],
      ["an array iss", await a.mint({ iss: [a.url] }, { issuer: null })],
    ];
    for (const [label, token] of unknown) {
      await expectInvalidToken(gateway, token, label);
      await expectInvalidToken(gateway, token, `${label}, again`);
    }
    assert.deepEqual([keyRequests(a), keyRequests(b)], [0, 0], `no key fetch: A ${JSON.stringify(a.counts)}, B ${JSON.stringify(b.counts)}`);
    assert.equal(origin.received.length, 0, "nothing reached the origin");
    // The same gateway does fetch for a token it can place, so the zeros above mean something.
    await expectStatus(gateway, await a.mint(), 200, "A's genuine token");
    assert.ok(keyRequests(a) >= 1);
    assert.equal(keyRequests(b), 0, "A's token made no fetch from B");
  });

  test("with one provider in JWT_ISSUERS, the other issuer's tokens are refused", async () => {
    const { a, b, origin, gateway } = await startTwo({ providers: (a) => [providerEntry(a)] });
    await expectStatus(gateway, await a.mint(), 200, "A's token");
    assert.equal(lastReceived(origin).headers["x-auth-issuer"], a.url);
    await expectInvalidToken(gateway, await b.mint(), "B's token");
    await expectInvalidToken(gateway, await b.mint({}, { issuer: a.url, audience: a.audience }), "B's key, A's claims", { code: "bad_signature" });
    assert.equal(keyRequests(b), 0);
    // Without a name, a provider is called by its issuer.
    assert.deepEqual(
      (await status(gateway)).providers.map((p) => [p.name, p.issuer]),
      [[a.url, a.url]],
    );
  });
});

describe("each provider on its own", () => {
  test("one issuer down: its tokens get 503, the other's keep passing", async () => {
    const { a, b, gateway } = await startTwo({ vars: { JWKS_FETCH_TIMEOUT_MS: "300" } });
    a.setMode("error");
    const { res, body } = await expectStatus(gateway, await a.mint(), 503, "A's token, A down, cold");
    assert.equal(body.error, "temporarily_unavailable");
    assert.ok(Number(res.headers.get("retry-after")) > 0);
    await expectStatus(gateway, await b.mint({ sub: "bob-1" }), 200, "B's token while A is down");
    await expectStatus(gateway, await a.mint({ sub: "alice-2" }), 503, "A's token again");
    await expectStatus(gateway, await b.mint({ sub: "bob-2" }), 200, "B's token again");
    assert.equal(b.counts.jwks, 1, "A's outage cost B nothing");
    const state = await status(gateway);
    assert.equal(providerStatus(state, "orders").key_cache.key_set, null);
    assert.ok(providerStatus(state, "orders").key_cache.counters.fetch_failures >= 1);
    assert.deepEqual(providerStatus(state, "partner").key_cache.key_set.kids, b.kids);
    assert.equal(providerStatus(state, "partner").key_cache.counters.fetch_failures, 0);
    assert.equal(providerStatus(state, "partner").key_cache.last_fetch_error ?? null, null);

    // B down as well, after its keys are cached: they keep serving; A's are still missing.
    await b.close();
    servers.splice(servers.indexOf(b), 1);
    await expectStatus(gateway, await b.mint({ sub: "bob-3" }), 200, "B's token with B closed, cached keys");
  });

  test("per-provider audience: B's audience is accepted only on B's tokens, and A's only on A's", async () => {
    const { a, b, gateway } = await startTwo({
      asArray: true,
      providers: (a, b) => [
        providerEntry(a, { name: "orders", audience: [a.audience, "orders-legacy"] }),
        providerEntry(b, { name: "partner", audience: `${PARTNER_AUDIENCE},partner-admin` }),
      ],
    });
    await expectStatus(gateway, await a.mint({ sub: "a-1" }), 200, "A, order-service");
    await expectStatus(gateway, await a.mint({ sub: "a-2" }, { audience: "orders-legacy" }), 200, "A, its second audience");
    await expectStatus(gateway, await b.mint({ sub: "b-1" }), 200, "B, partner-api");
    await expectStatus(gateway, await b.mint({ sub: "b-2" }, { audience: ["elsewhere", "partner-admin"] }), 200, "B, one of its audiences in an array");
    for (const audience of [PARTNER_AUDIENCE, "partner-admin"]) {
      await expectInvalidToken(gateway, await a.mint({}, { audience }), `A's token for B's audience ${audience}`, { code: "invalid_audience" });
    }
    for (const audience of [a.audience, "orders-legacy"]) {
      await expectInvalidToken(gateway, await b.mint({}, { audience }), `B's token for A's audience ${audience}`, { code: "invalid_audience" });
    }
  });

  test("per-provider algorithms and claim headers; the defaults apply to a provider without its own", async () => {
    const { a, b, origin, gateway } = await startTwo({
      vars: { JWT_ALGORITHMS: "RS256", CLAIM_HEADERS: "scope=X-Scope" },
      providers: (a, b) => [
        providerEntry(a, { name: "orders" }),
        providerEntry(b, { name: "partner", algorithms: ["RS256", "ES256"], claim_headers: "tenant=X-Partner-Tenant" }),
      ],
    });
    const esB = await b.rotate({ alg: "ES256" });
    const esA = await a.rotate({ alg: "ES256" });
    await expectStatus(gateway, await b.mint({ sub: "b-es" }, { kid: esB }), 200, "B's ES256 token");
    await expectInvalidToken(gateway, await a.mint({}, { kid: esA }), "A's ES256 token", { code: "algorithm_not_allowed" });

    const claims = { scope: "orders:read", tenant: "t-7" };
    await expectStatus(gateway, await a.mint(claims, { kid: SHARED_KID }), 200, "A's token");
    let seen = lastReceived(origin).headers;
    assert.equal(seen["x-scope"], "orders:read");
    assert.equal(seen["x-partner-tenant"], undefined, "B's claim headers are not made from A's tokens");
    await expectStatus(gateway, await b.mint(claims, { kid: SHARED_KID }), 200, "B's token");
    seen = lastReceived(origin).headers;
    assert.equal(seen["x-partner-tenant"], "t-7");
    assert.equal(seen["x-scope"], undefined, "B's own claim_headers replace CLAIM_HEADERS");
  });

  test("a client cannot send another provider's claim header along with a token of this one", async () => {
    const { a, b, origin, gateway } = await startTwo({
      vars: { CLAIM_HEADERS: "scope=X-Scope" },
      providers: (a, b) => [providerEntry(a, { name: "orders" }), providerEntry(b, { name: "partner", claim_headers: "tenant=X-Partner-Tenant" })],
    });
    const spoofed = { "x-partner-tenant": "t-admin", "x-scope": "orders:admin" };
    await expectStatus(gateway, await a.mint({ scope: "orders:read" }), 200, "A's token", "/orders/1", { headers: spoofed });
    assert.equal(lastReceived(origin).headers["x-partner-tenant"], undefined, "B's claim header, sent by the client with A's token");
    assert.equal(lastReceived(origin).headers["x-scope"], "orders:read");
    await expectStatus(gateway, await b.mint({}), 200, "B's token without scope or tenant", "/orders/1", { headers: spoofed });
    assert.equal(lastReceived(origin).headers["x-scope"], undefined, "A's claim header, sent by the client with B's token");
    assert.equal(lastReceived(origin).headers["x-partner-tenant"], undefined);
  });

  test("the unknown-kid cooldown is per provider", async () => {
    const { a, b, gateway } = await startTwo();
    await expectStatus(gateway, await a.mint({ sub: "a-1" }), 200, "A warm-up");
    await expectStatus(gateway, await b.mint({ sub: "b-1" }), 200, "B warm-up");
    // An unknown kid at A: one refetch from A, which starts A's cooldown.
    await expectInvalidToken(gateway, await a.mint({}, { header: { kid: `random-${randomUUID()}` } }), "A, unknown kid", { code: "unknown_key" });
    assert.equal(a.counts.jwks, 2);
    // B's new key is still fetched on demand: A's cooldown is not B's.
    const newKid = await b.rotate();
    await expectStatus(gateway, await b.mint({ sub: "b-2" }, { kid: newKid }), 200, "B's new kid");
    assert.equal(b.counts.jwks, 2);
    // Now both are in their cooldowns.
    await expectInvalidToken(gateway, await a.mint({}, { header: { kid: `random-${randomUUID()}` } }), "A, another unknown kid", { code: "unknown_key" });
    await expectInvalidToken(gateway, await b.mint({}, { header: { kid: `random-${randomUUID()}` } }), "B, an unknown kid", { code: "unknown_key" });
    assert.deepEqual([a.counts.jwks, b.counts.jwks], [2, 2], "no refetch inside either cooldown");
    const state = await status(gateway);
    for (const name of ["orders", "partner"]) {
      const { counters } = providerStatus(state, name).key_cache;
      assert.equal(counters.unknown_kid_refetches, 1, `${name}: ${JSON.stringify(counters)}`);
      assert.equal(counters.cooldown_rejections, 1, `${name}: ${JSON.stringify(counters)}`);
    }
  });
});

describe("ROUTE_ISSUERS", () => {
  test("a route's rule names the providers whose tokens it accepts; checked before any key lookup", async () => {
    const { a, b, origin, gateway, lines } = await startTwo({
      observe: true,
      vars: { ROUTE_ISSUERS: "/partner=partner; /partner/shared=orders partner; GET /reports=orders" },
    });
    const tokenA = await a.mint({ sub: "alice" });
    const tokenB = await b.mint({ sub: "bob" });

    // First request of a cold gateway: A's token on a partner route is refused without reading
    // anyone's keys.
    await expectInvalidToken(gateway, tokenA, "A on /partner/1", { path: "/partner/1" });
    await expectInvalidToken(gateway, tokenA, "A on /PARTNER/1 (paths match case-insensitively)", { path: "/PARTNER/1" });
    await expectInvalidToken(gateway, tokenA, "A on /partner", { path: "/partner" });
    assert.deepEqual([keyRequests(a), keyRequests(b)], [0, 0], "refused before any key lookup");
    // Even a forged one (B's key, A's claims) is refused there for its issuer, not its signature.
    await expectInvalidToken(gateway, await b.mint({}, { issuer: a.url, audience: a.audience }), "forged A on /partner/2", { path: "/partner/2" });
    assert.deepEqual([keyRequests(a), keyRequests(b)], [0, 0]);
    assert.equal(origin.received.length, 0, "nothing reached the origin");

    await expectStatus(gateway, tokenB, 200, "B on /partner/1", "/partner/1");
    assert.equal(lastReceived(origin).headers["x-auth-issuer"], b.url);
    await expectStatus(gateway, tokenA, 200, "A on /partnership (segment-aware)", "/partnership");
    await expectStatus(gateway, tokenA, 200, "A on /partner/shared/9 (the longest rule wins)", "/partner/shared/9");
    await expectStatus(gateway, tokenB, 200, "B on /partner/shared/9", "/partner/shared/9");
    await expectStatus(gateway, tokenA, 200, "A on GET /reports", "/reports");
    await expectInvalidToken(gateway, tokenB, "B on GET /reports", { path: "/reports" });
    await expectInvalidToken(gateway, tokenB, "B on HEAD /reports (HEAD follows GET)", { path: "/reports", init: { method: "HEAD" } });
    await expectStatus(gateway, tokenB, 200, "B on POST /reports (the rule is GET only)", "/reports", { method: "POST", body: "{}" });
    await expectStatus(gateway, tokenA, 200, "A on /orders/1 (no rule: any provider)", "/orders/1");
    await expectStatus(gateway, tokenB, 200, "B on /orders/1 (no rule: any provider)", "/orders/1");

    // Logged and counted as issuer_not_accepted (six refusals, within the log's line budget).
    const rejected = await atLeast(6, () => events(lines, "request_rejected"));
    assert.deepEqual(
      rejected.map((line) => [line.code, line.status, line.route]),
      [
        ["issuer_not_accepted", 401, "/partner/1"],
        ["issuer_not_accepted", 401, "/PARTNER/1"],
        ["issuer_not_accepted", 401, "/partner"],
        ["issuer_not_accepted", 401, "/partner/2"],
        ["issuer_not_accepted", 401, "/reports"],
        ["issuer_not_accepted", 401, "/reports"],
      ],
    );
    const refused = (await atLeast(14, () => points(lines))).filter((p) => p.kind === "request" && p.outcome === "rejected");
    assert.deepEqual(
      refused.map((p) => p.code),
      Array(6).fill("issuer_not_accepted"),
    );
  });
});

describe("the scheduled refresh covers every provider", () => {
  test("both refreshed into KV under their own records; then one failing, the other still refreshed", async () => {
    // The failing provider comes first: a refresh that stopped at the first failure would leave
    // the second one out.
    const { a, b, gateway } = await startTwo();
    const result = await gateway.scheduled();
    assert.equal(result.outcome, "ok");
    assert.deepEqual([a.counts.jwks, b.counts.jwks], [1, 1], "both refreshed");
    const kv = await gateway.kv();
    const records = [...(await kv.list({ prefix: "jwks:v2:set:" })).keys].map((k) => k.name);
    assert.equal(records.length, 2, `one record per key set: ${records}`);
    const bindings = await Promise.all(records.map(async (name) => JSON.stringify(JSON.parse(await kv.get(name)).binding)));
    assert.equal(bindings.filter((binding) => binding.includes(`${b.url}/jwks.json`)).length, 1, bindings.join(" "));
    assert.equal(bindings.filter((binding) => binding.includes(a.url)).length, 1, bindings.join(" "));
    // The requests are served from what the cron fetched.
    await expectStatus(gateway, await a.mint({ sub: "a-1" }), 200, "A after the cron");
    await expectStatus(gateway, await b.mint({ sub: "b-1" }), 200, "B after the cron");
    assert.deepEqual([a.counts.jwks, b.counts.jwks], [1, 1], "no fetch on the request path");

    a.setMode("error");
    const newKid = await b.rotate();
    const second = await gateway.scheduled();
    assert.equal(second.outcome, "ok", "a provider's failure does not fail the run");
    assert.ok(a.counts.jwks >= 2 && a.counts.jwks <= 4, `A tried (with its retries): ${JSON.stringify(a.counts)}`);
    assert.equal(b.counts.jwks, 2, "B was refreshed although A failed");
    const state = await status(gateway);
    const orders = providerStatus(state, "orders").key_cache;
    const partner = providerStatus(state, "partner").key_cache;
    assert.ok(orders.counters.fetch_failures >= 1, JSON.stringify(orders));
    assert.deepEqual(orders.key_set.kids, [SHARED_KID], "A's last good set stays");
    assert.equal(partner.counters.fetch_failures, 0, JSON.stringify(partner));
    assert.deepEqual([...partner.key_set.kids].sort(), [newKid, SHARED_KID].sort(), "B's rotation was picked up by the cron");
    assert.equal(state.last_scheduled_run?.cron, "*/5 * * * *");
    // B's new key verifies without a fetch; A's tokens pass from its last good set.
    await expectStatus(gateway, await b.mint({ sub: "b-2" }, { kid: newKid }), 200, "B's new kid after the cron");
    await expectStatus(gateway, await a.mint({ sub: "a-2" }), 200, "A, last good set");
    assert.equal(b.counts.jwks, 2);
  });
});

describe("the status endpoint", () => {
  test("lists every provider with its own key cache", async () => {
    const { a, b, gateway } = await startTwo();
    await expectStatus(gateway, await b.mint(), 200, "B's token");
    const state = await status(gateway);
    assert.equal(state.key_cache, undefined, "no top-level key_cache: it is per provider");
    assert.deepEqual(
      state.providers.map((p) => [p.name, p.issuer]),
      [
        ["orders", a.url],
        ["partner", b.url],
      ],
    );
    const orders = providerStatus(state, "orders").key_cache;
    const partner = providerStatus(state, "partner").key_cache;
    assert.equal(orders.key_set, null, "A's keys were never needed");
    assert.equal(orders.counters.jwks_fetches, 0);
    assert.deepEqual(partner.key_set.kids, [SHARED_KID]);
    assert.equal(partner.counters.jwks_fetches, 1);
    // Still behind the status token.
    assert.equal((await gateway.fetch("/_gateway/status")).status, 404);
    assert.equal((await gateway.fetch("/_gateway/status", { headers: { authorization: `Bearer ${STATUS_TOKEN}x` } })).status, 404);
  });
});

describe("configuration errors → 500 gateway_misconfigured, nothing forwarded, nothing fetched", () => {
  let a;
  let b;
  let origin;
  let token;
  before(async () => {
    a = await startIssuer();
    b = await startIssuer({ audience: PARTNER_AUDIENCE });
    origin = await startOrigin();
    token = await a.mint({ scope: "orders:read" });
  });
  after(async () => {
    await Promise.all([a?.close(), b?.close(), origin?.close()]);
  });

  const two = () => [providerEntry(a, { name: "orders" }), providerEntry(b, { name: "partner" })];
  const CASES = [
    ["JWT_ISSUERS and JWT_AUTHORITY", () => multiIssuerVars(two(), origin, { JWT_AUTHORITY: a.url })],
    ["JWT_ISSUERS and JWT_AUDIENCE", () => multiIssuerVars(two(), origin, { JWT_AUDIENCE: a.audience })],
    ["JWT_ISSUERS and JWT_JWKS_URL", () => multiIssuerVars(two(), origin, { JWT_JWKS_URL: `${a.url}/jwks.json` })],
    ["JWT_ISSUERS (array) and JWT_AUTHORITY", () => multiIssuerVars(two(), origin, { JWT_AUTHORITY: a.url }, { asArray: true })],
    ["a duplicate issuer", () => multiIssuerVars([providerEntry(a, { name: "one" }), providerEntry(a, { name: "two", jwks_url: `${b.url}/jwks.json` })], origin)],
    ["a duplicate name", () => multiIssuerVars([providerEntry(a, { name: "same" }), providerEntry(b, { name: "same" })], origin)],
    ["a duplicate JWKS URL", () => multiIssuerVars([providerEntry(a, { name: "orders" }), providerEntry(b, { name: "partner", jwks_url: `${a.url}/jwks.json` })], origin)],
    ["an unknown field", () => multiIssuerVars([providerEntry(a, { name: "orders" }), { ...providerEntry(b, { name: "partner" }), audiences: ["x"] }], origin)],
    ["a provider without audience", () => multiIssuerVars([providerEntry(a, { name: "orders" }), { issuer: b.url, jwks_url: `${b.url}/jwks.json` }], origin)],
    [
      "eleven providers",
      () =>
        multiIssuerVars(
          Array.from({ length: 11 }, (_, i) => ({ name: `p${i}`, issuer: `https://issuer-${i}.example`, audience: "x", jwks_url: `https://issuer-${i}.example/jwks.json` })),
          origin,
        ),
    ],
    ["an empty array", () => multiIssuerVars([], origin)],
    ["not JSON", () => ({ ...multiIssuerVars([], origin), JWT_ISSUERS: "[{issuer: nope}" })],
    ["ROUTE_ISSUERS naming no provider", () => multiIssuerVars(two(), origin, { ROUTE_ISSUERS: "/partner=partners" }), "ROUTE_ISSUERS"],
  ];

  for (const [label, vars, variable = "JWT_ISSUERS"] of CASES) {
    test(label, async () => {
      const logs = [];
      const gateway = await startGateway({ vars: vars(), miniflare: { handleStructuredLogs: ({ message }) => void logs.push(message) } });
      try {
        const before = [keyRequests(a), keyRequests(b), origin.received.length];
        for (const [path, init] of [
          ["/orders/1", { headers: { authorization: `Bearer ${token}` } }],
          ["/orders/1", {}],
          ["/_gateway/health", {}],
          ["/_gateway/status", { headers: { authorization: `Bearer ${STATUS_TOKEN}` } }],
        ]) {
          const res = await gateway.fetch(path, init);
          const text = await res.text();
          assert.equal(res.status, 500, `${label}: ${path}: ${text}`);
          assert.equal(JSON.parse(text).error, "gateway_misconfigured", `${label}: ${path}`);
        }
        await gateway.scheduled().catch(() => undefined); // whatever it answers, it must fetch nothing
        assert.deepEqual([keyRequests(a), keyRequests(b), origin.received.length], before, `${label}: nothing fetched or forwarded`);
        // The log says which variable is wrong (not some other variable that happens to be unset).
        const [line] = await atLeast(1, () => events(logs, "gateway_misconfigured"));
        assert.ok(line, `${label}: no gateway_misconfigured line in ${JSON.stringify(logs)}`);
        assert.ok(JSON.stringify(line).includes(variable), `${label}: ${JSON.stringify(line)}`);
      } finally {
        await gateway.close();
      }
    });
  }

  test("the same providers without the clash start fine", async () => {
    const gateway = await startGateway({ vars: multiIssuerVars(two(), origin, { ROUTE_ISSUERS: "/partner=partner" }) });
    try {
      assert.equal((await request(gateway, token)).status, 200);
    } finally {
      await gateway.close();
    }
  });
});

describe("with the token cookie and the resource metadata", () => {
  test("a cookie token chooses its provider like a header token, and the metadata lists every issuer", async () => {
    const { a, b, origin, gateway } = await startTwo({
      vars: { JWT_COOKIE: "access_token", ROUTE_SCOPES: "GET /orders=orders:read", ROUTE_ISSUERS: "/partner=partner" },
    });
    // Each issuer's token in the cookie: verified by its own provider, the cookie not forwarded.
    for (const [issuer, name] of [[a, "A"], [b, "B"]]) {
      const token = await issuer.mint({ sub: `${name}-user`, scope: "orders:read" });
      const res = await gateway.fetch("/orders/1", { headers: { cookie: `theme=dark; access_token=${token}` } });
      assert.equal(res.status, 200, `${name}: ${await res.text()}`);
      assert.equal(lastReceived(origin).headers["x-auth-issuer"], issuer.url);
      assert.equal(lastReceived(origin).headers.cookie, "theme=dark");
    }
    // The cross-issuer forgery fails from the cookie too.
    const forged = await b.mint({ sub: "mallory" }, { issuer: a.url, audience: a.audience });
    const forgedRes = await gateway.fetch("/orders/1", { headers: { cookie: `access_token=${forged}` } });
    assert.equal(forgedRes.status, 401);
    assert.match((await forgedRes.json()).error_description, /^bad_signature/);
    // A's token in the cookie on the partner route: refused, before any fetch.
    const before = [keyRequests(a), keyRequests(b)];
    const partnerRes = await gateway.fetch("/partner/x", { headers: { cookie: `access_token=${await a.mint()}` } });
    assert.equal(partnerRes.status, 401);
    assert.match(partnerRes.headers.get("www-authenticate"), /resource_metadata="https?:\/\/[^"]+\/\.well-known\/oauth-protected-resource"/);
    assert.deepEqual([keyRequests(a), keyRequests(b)], before);

    const metadata = await gateway.fetch("/.well-known/oauth-protected-resource");
    assert.equal(metadata.status, 200);
    const document = await metadata.json();
    assert.deepEqual(document.authorization_servers, [a.url, b.url]);
    assert.deepEqual(document.scopes_supported, ["orders:read"]);
  });
});
