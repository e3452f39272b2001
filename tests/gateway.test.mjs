// The gateway in front of OrderService, end to end in workerd: forwarding, identity headers,
// RFC 6750 answers, routing policy, origin failures, misconfiguration and the token cache.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startGateway } from "./support/gateway.mjs";
import { freePort } from "./support/net.mjs";
import { gatewayVars, request, startStack, status } from "./support/stack.mjs";

const lastReceived = (origin) => origin.received.at(-1);

describe("forwarding and identity", () => {
  let stack;
  let gateway;
  before(async () => {
    stack = await startStack({
      vars: {
        PUBLIC_PATHS: "/health,/public/docs",
        ROUTE_SCOPES: "POST /orders=orders:write; GET /orders=orders:read",
        CLAIM_HEADERS: "scope=X-Scope,realm_access.roles=X-Roles,tenant=X-Tenant",
      },
    });
    gateway = await stack.addGateway();
  });
  after(() => stack?.close());

  test("a verified request reaches the origin unchanged plus the verified identity", async () => {
    const token = await stack.issuer.mint({ sub: "alice", scope: "orders:read", realm_access: { roles: ["buyer", "admin"] }, tenant: 7 });
    const res = await gateway.fetch("/orders/42?expand=items&x=1", {
      headers: { authorization: `Bearer ${token}`, "x-request-id": "r-1", "cf-connecting-ip": "203.0.113.9" },
    });
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("x-demo-origin"), "order-service", "the origin's answer passes through");
    const seen = lastReceived(stack.origin);
    assert.equal(seen.method, "GET");
    assert.equal(seen.url, "/orders/42?expand=items&x=1");
    assert.equal(seen.headers.authorization, `Bearer ${token}`, "the origin can still verify the token");
    assert.equal(seen.headers["x-request-id"], "r-1");
    assert.equal(seen.headers["x-auth-subject"], "alice");
    assert.equal(seen.headers["x-auth-issuer"], stack.issuer.url);
    const claims = JSON.parse(Buffer.from(seen.headers["x-auth-claims"], "base64url").toString("utf8"));
    assert.equal(claims.sub, "alice");
    assert.equal(claims.aud, stack.issuer.audience);
    assert.equal(seen.headers["x-scope"], "orders:read");
    assert.equal(seen.headers["x-roles"], "buyer,admin");
    assert.equal(seen.headers["x-tenant"], "7");
    assert.equal(seen.headers["x-forwarded-proto"], "https");
    assert.equal(seen.headers["x-forwarded-host"], "gateway.test");
    assert.match(seen.headers["x-forwarded-for"], /203\.0\.113\.9$/);
  });

  test("header values beyond ASCII are read and forwarded as sent (the request's parts cross into wasm as UTF-8)", async () => {
    const token = await stack.issuer.mint({ sub: "zoë", scope: "orders:read" });
    const res = await gateway.fetch("/orders/42", {
      headers: {
        authorization: `Bearer ${token}`,
        // Read with the URL (read ahead), rewritten by the core: "é" as its two UTF-8 bytes
        // (a header value here is bytes, one per character up to U+00FF).
        "x-forwarded-for": "198.51.100.1, cafÃ©",
        "cf-connecting-ip": "203.0.113.9",
        // Not read, copied by the runtime: any bytes, as sent.
        "x-note": "Grüße",
      },
    });
    assert.equal(res.status, 200, await res.text());
    const seen = lastReceived(stack.origin);
    // Node reads header bytes as Latin-1: the runtime sent each character as one byte.
    assert.equal(seen.headers["x-note"], "Grüße");
    assert.equal(seen.headers["x-forwarded-for"], "198.51.100.1, cafÃ©, 203.0.113.9");
    assert.equal(JSON.parse(Buffer.from(seen.headers["x-auth-claims"], "base64url").toString("utf8")).sub, "zoë");
  });

  test("client-sent identity headers are removed on protected and public routes", async () => {
    const spoofed = { "x-auth-subject": "mallory", "x-auth-claims": "e30", "x-auth-anything": "1", "x-roles": "admin", "x-scope": "all" };
    const token = await stack.issuer.mint({ sub: "bob", scope: "orders:read" });
    await gateway.fetch("/orders/1", { headers: { ...spoofed, authorization: `Bearer ${token}` } });
    let seen = lastReceived(stack.origin);
    assert.equal(seen.headers["x-auth-subject"], "bob");
    assert.notEqual(seen.headers["x-auth-claims"], "e30");
    assert.equal(seen.headers["x-auth-anything"], undefined);
    assert.equal(seen.headers["x-roles"], undefined, "a claim header the token does not fill is not passed from the client");
    assert.equal(seen.headers["x-scope"], "orders:read");

    const res = await gateway.fetch("/health/live", { headers: spoofed });
    assert.equal(res.status, 200);
    seen = lastReceived(stack.origin);
    assert.equal(seen.url, "/health/live");
    for (const name of Object.keys(spoofed)) assert.equal(seen.headers[name], undefined, name);
  });

  test("public paths are segment-aware", async () => {
    assert.equal((await gateway.fetch("/health")).status, 200);
    assert.equal((await gateway.fetch("/public/docs/index.html")).status, 200);
    assert.equal((await gateway.fetch("/healthz")).status, 401);
    assert.equal((await gateway.fetch("/public/docsx")).status, 401);
  });

  test("route scopes: 403 insufficient_scope names the missing scope", async () => {
    const reader = await stack.issuer.mint({ scope: "orders:read" });
    assert.equal((await request(gateway, reader, "/orders")).status, 200);
    const res = await request(gateway, reader, "/orders", { method: "POST", body: "{}" });
    assert.equal(res.status, 403);
    assert.equal(
      res.headers.get("www-authenticate"),
      'Bearer realm="edge-jwt", error="insufficient_scope", scope="orders:write", resource_metadata="https://gateway.test/.well-known/oauth-protected-resource"',
    );
    assert.equal((await res.json()).error, "insufficient_scope");
    const writer = await stack.issuer.mint({ scp: ["orders:write"] });
    assert.equal((await request(gateway, writer, "/orders", { method: "POST", body: "{}" })).status, 200);
  });

  test("CORS preflight is forwarded without a token", async () => {
    const res = await gateway.fetch("/orders", { method: "OPTIONS", headers: { "access-control-request-method": "POST", origin: "https://shop.test" } });
    assert.equal(res.status, 200);
    assert.equal(lastReceived(stack.origin).method, "OPTIONS");
    const plainOptions = await gateway.fetch("/orders", { method: "OPTIONS" });
    assert.equal(plainOptions.status, 401, "OPTIONS without Access-Control-Request-Method needs a token");
  });

  test("RFC 6750 answers: missing, malformed, query and invalid tokens", async () => {
    const cases = [
      [{}, "/orders", 401, undefined],
      [{ authorization: "Basic dXNlcjpwdw==" }, "/orders", 400, "invalid_request"],
      [{ authorization: "Bearer" }, "/orders", 400, "invalid_request"],
      [{ authorization: "Bearer a.b.c extra" }, "/orders", 400, "invalid_request"],
      [{ authorization: `Bearer ${await stack.issuer.mint()}` }, "/orders?access_token=x", 400, "invalid_request"],
      [{ authorization: "Bearer not.a.jwt" }, "/orders", 401, "invalid_token"],
    ];
    for (const [headers, path, expected, error] of cases) {
      const res = await gateway.fetch(path, { headers });
      assert.equal(res.status, expected, JSON.stringify(headers));
      assert.equal(res.headers.get("cache-control"), "no-store");
      const challenge = res.headers.get("www-authenticate");
      assert.match(challenge, /^Bearer realm="edge-jwt"/);
      const body = await res.json();
      if (error) {
        assert.match(challenge, new RegExp(`error="${error}"`));
        assert.equal(body.error, error);
        assert.ok(body.error_description);
      } else {
        assert.doesNotMatch(challenge, /error=/);
      }
    }
  });

  test("origin errors pass through; a large body is streamed through intact", async () => {
    const token = await stack.issuer.mint({ scope: "orders:read orders:write" });
    const res = await request(gateway, token, "/orders/9?status=503");
    assert.equal(res.status, 503);
    assert.equal(res.headers.get("x-demo-origin"), "order-service");
    const big = Buffer.alloc(8 * 1024 * 1024, 97);
    const posted = await request(gateway, token, "/orders", { method: "POST", body: big, headers: { "content-type": "application/octet-stream" } });
    assert.equal(posted.status, 200);
    assert.equal(lastReceived(stack.origin).bodyBytes, big.length);
  });

  test("the token cache answers repeated tokens, and stops when the key is removed", async () => {
    const token = await stack.issuer.mint({ scope: "orders:read" });
    for (let i = 0; i < 5; i += 1) assert.equal((await request(gateway, token, "/orders")).status, 200);
    const before = (await status(gateway)).token_cache.counters;
    assert.ok(before.hits >= 4, JSON.stringify(before));
    await stack.issuer.rotate({ retire: true });
    await gateway.scheduled();
    const res = await request(gateway, token, "/orders");
    assert.equal(res.status, 401, "a cached token of a removed key no longer passes");
    assert.match((await res.json()).error_description, /^unknown_key/);
  });
});

describe("origin failures", () => {
  let stack;
  after(() => stack?.close());

  test("an unreachable origin is a 502 JSON error; a slow one a 504, not a hang", async () => {
    stack = await startStack({ vars: { ORIGIN_TIMEOUT_MS: "300" } });
    const token = await stack.issuer.mint();
    const down = await stack.addGateway({ vars: { ORIGIN_URL: `http://127.0.0.1:${await freePort()}` } });
    const unreachable = await request(down, token);
    assert.equal(unreachable.status, 502);
    assert.equal((await unreachable.json()).error, "bad_gateway");

    const slow = await stack.addGateway();
    stack.origin.setDelay(3000);
    const started = Date.now();
    const timedOut = await request(slow, token);
    assert.equal(timedOut.status, 504);
    assert.equal((await timedOut.json()).error, "gateway_timeout");
    assert.ok(Date.now() - started < 2500, "answered at the timeout, not when the origin finished");
    stack.origin.setDelay(0);

    // The timeout covers the response headers only: a body still streaming after it is whole.
    const dripStarted = Date.now();
    const dripping = await request(slow, token, "/orders/7?drip=900");
    assert.equal(dripping.status, 200);
    const echoed = await dripping.json();
    assert.equal(echoed.received.url, "/orders/7?drip=900");
    assert.ok(Date.now() - dripStarted >= 850, "the body's second half came after the timeout had passed");
  });
});

describe("FORWARD_PREFLIGHT=false", () => {
  let stack;
  after(() => stack?.close());

  test("a preflight then needs a token like any request", async () => {
    stack = await startStack({ vars: { FORWARD_PREFLIGHT: "false" } });
    const gateway = await stack.addGateway();
    const res = await gateway.fetch("/orders", { method: "OPTIONS", headers: { "access-control-request-method": "POST" } });
    assert.equal(res.status, 401);
    assert.equal(stack.origin.received.length, 0, "nothing reached the origin");
  });
});

describe("misconfiguration", () => {
  const BAD = {
    JWT_AUTHORITY: "http://issuer.example.com",
    JWT_AUDIENCE: " , ",
    JWT_JWKS_URL: "ftp://keys.example.com/jwks",
    JWT_ALGORITHMS: "none",
    JWT_CLOCK_SKEW_SECONDS: "-1",
    JWT_MAX_TOKEN_BYTES: "lots",
    JWT_MAX_TOKEN_AGE_SECONDS: "0",
    JWKS_CACHE_TYPE: "redis",
    JWKS_CACHE_TTL_SECONDS: "0",
    JWKS_MIN_TTL_SECONDS: "999999",
    JWKS_MAX_STALE_SECONDS: "x",
    JWKS_UNKNOWN_KID_COOLDOWN_SECONDS: "0",
    JWKS_REFRESH_INTERVAL_MINUTES: "0",
    JWKS_ENABLE_BACKGROUND_REFRESH: "maybe",
    JWKS_FETCH_TIMEOUT_MS: "5",
    ORIGIN_URL: "not a url",
    ORIGIN_TIMEOUT_MS: "1e3",
    ORIGIN_AUTH_HEADER: "X-Auth-Gateway",
    PUBLIC_PATHS: "health",
    ROUTE_SCOPES: "GET /orders=",
    CLAIM_HEADERS: "sub=Host",
    FORWARD_PREFLIGHT: "yes please",
    AUTH_REALM: 'a"b',
    LOG_LEVEL: "verbose",
    STATUS_TOKEN: "short",
    ORIGIN_AUTH_SECRET: "short",
  };
  const good = gatewayVars({ url: "http://127.0.0.1:9", audience: "orders" }, { url: "http://127.0.0.1:9" });

  for (const [name, value] of Object.entries(BAD)) {
    test(`${name}=${JSON.stringify(value)} → 500 gateway_misconfigured, nothing forwarded`, async () => {
      const gateway = await startGateway({ vars: { ...good, [name]: value } });
      try {
        for (const path of ["/orders", "/_gateway/health"]) {
          const res = await gateway.fetch(path, { headers: { authorization: "Bearer a.b.c" } });
          assert.equal(res.status, 500, `${name} ${path}`);
          assert.equal((await res.json()).error, "gateway_misconfigured");
        }
      } finally {
        await gateway.close();
      }
    });
  }

  test("the same variables with good values start fine", async () => {
    const gateway = await startGateway({ vars: good });
    try {
      assert.equal((await gateway.fetch("/_gateway/health")).status, 200);
    } finally {
      await gateway.close();
    }
  });
});
