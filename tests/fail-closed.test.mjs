// Fail closed, end to end in workerd: requests spelled the way an attacker spells them, against
// the real bundle. Nothing the gateway's policy would refuse may reach the demo OrderService.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { generateKeyPair, SignJWT } from "jose";
import { request, startStack } from "./support/stack.mjs";

const BASE = "https://gateway.test";
/** The RFC 9728 parameter of every challenge (RESOURCE_METADATA is on by default). */
const METADATA = `, resource_metadata="${BASE}/.well-known/oauth-protected-resource"`;
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

describe("what the gateway checks is what the origin receives", () => {
  let stack;
  let gateway;
  let reader;
  let writer;
  before(async () => {
    stack = await startStack({
      vars: {
        PUBLIC_PATHS: "/health",
        ROUTE_SCOPES: "POST /orders=orders:write; GET /orders=orders:read",
        CLAIM_HEADERS: "email=X-User-Email",
      },
    });
    gateway = await stack.addGateway();
    reader = await stack.issuer.mint({ scope: "orders:read" });
    writer = await stack.issuer.mint({ scope: "orders:read orders:write" });
  });
  after(() => stack?.close());

  /** Sends `method url` (an absolute URL string, so that `//` survives) with `token`. */
  async function send(method, url, token, init = {}) {
    const res = await request(gateway, token, url, { method, ...init });
    const body = await res.text();
    return { status: res.status, body, headers: res.headers };
  }

  test("no spelling of /orders lets a read-only token POST", async () => {
    const before = stack.origin.received.length;
    for (const path of ["/ORDERS", "/Orders/42", "/%6Frders", "/%6frders/1", "//orders", "/orders//42"]) {
      const { status, body } = await send("POST", `${BASE}${path}`, reader, { body: "{}" });
      assert.equal(status, 403, `POST ${path}: ${body}`);
      assert.equal(JSON.parse(body).error, "insufficient_scope", path);
    }
    for (const path of ["/orders;x=1", "/orders/..;/admin", "/orders%2f42", "/%252e%252e/orders", "/orders%00", "/orders%5cadmin", "/orders/v1%2E2"]) {
      const { status, body } = await send("POST", `${BASE}${path}`, reader, { body: "{}" });
      assert.equal(status, 400, `POST ${path}: ${body}`);
      assert.equal(JSON.parse(body).error, "invalid_request", path);
    }
    assert.equal(stack.origin.received.length, before, "nothing reached the origin");
  });

  test("a permitted request is forwarded with the canonical path it was checked on", async () => {
    for (const [path, expected] of [
      ["/%6Frders/42?x=%2F", "/orders/42?x=%2F"],
      ["//orders//7", "/orders/7"],
      ["/Orders/%34%32", "/Orders/42"],
    ]) {
      const { status, body } = await send("POST", `${BASE}${path}`, writer, { body: "{}" });
      assert.equal(status, 200, `${path}: ${body}`);
      assert.equal(stack.origin.received.at(-1).url, expected, path);
    }
  });

  test("HEAD follows the GET rule", async () => {
    const writeOnly = await stack.issuer.mint({ scope: "orders:write" });
    assert.equal((await send("HEAD", `${BASE}/orders/1`, writeOnly)).status, 403);
    assert.equal((await send("HEAD", `${BASE}/orders/1`, reader)).status, 200);
  });

  test("public paths do not widen by case, escapes or slashes", async () => {
    assert.equal((await send("GET", `${BASE}/health/live`)).status, 200);
    for (const path of ["/Health", "/h%65alth", "//health", "/HEALTH/live"]) {
      const { status, headers } = await send("GET", `${BASE}${path}`);
      assert.equal(status, 401, path);
      assert.equal(headers.get("www-authenticate"), `Bearer realm="edge-jwt"${METADATA}`, path);
    }
  });

  test("client headers that origins act on never pass, in any spelling", async () => {
    const hostile = {
      "X-Auth_Subject": "admin",
      X_Auth_Subject: "admin",
      x_user_email: "boss@example.com",
      "X-HTTP-Method-Override": "DELETE",
      "X-HTTP-Method": "DELETE",
      "X-Method-Override": "DELETE",
      "X-Original-URL": "/admin",
      "X-Rewrite-URL": "/admin",
      "X-Real-IP": "10.0.0.1",
      "True-Client-IP": "10.0.0.1",
      X_Forwarded_For: "10.0.0.1",
      "cf-connecting-ip": "203.0.113.9",
    };
    const lowered = Object.keys(hostile).map((name) => name.toLowerCase());
    for (const [path, token] of [["/orders/1", reader], ["/health", undefined]]) {
      const { status } = await send("GET", `${BASE}${path}`, token, { headers: hostile });
      assert.equal(status, 200, path);
      const seen = stack.origin.received.at(-1).headers;
      for (const name of lowered) {
        if (name === "cf-connecting-ip") continue;
        if (name === "x-real-ip") {
          assert.equal(seen[name], "203.0.113.9", `${path}: X-Real-IP is the gateway's`);
          continue;
        }
        assert.equal(seen[name], undefined, `${path}: ${name} reached the origin`);
      }
      assert.equal(seen["x-forwarded-for"], "203.0.113.9", `${path}: only the client's address`);
      assert.equal(seen["x-auth-subject"], token ? "demo-user" : undefined, path);
    }
  });

  test("a preflight is forwarded without its body, and never on an ambiguous path", async () => {
    const preflight = { "access-control-request-method": "POST", origin: "https://shop.test", "content-type": "text/plain" };
    const { status } = await send("OPTIONS", `${BASE}/orders`, undefined, { headers: preflight, body: "smuggled body" });
    assert.equal(status, 200);
    const seen = stack.origin.received.at(-1);
    assert.equal(seen.method, "OPTIONS");
    assert.equal(seen.bodyBytes, 0, "the preflight's body stayed at the gateway");
    assert.equal(seen.headers["content-length"] ?? "0", "0");
    const before = stack.origin.received.length;
    for (const path of ["/orders;x=1", "/orders%2f1", "/%252e%252e/admin"]) {
      assert.equal((await send("OPTIONS", `${BASE}${path}`, undefined, { headers: preflight })).status, 400, path);
    }
    assert.equal(stack.origin.received.length, before);
  });

  test("every challenge is a well-formed RFC 7235 header", async () => {
    const challenge = /^Bearer realm="[^"\\]*"(, [a-z_]+="[^"\\]*")*$/;
    const cases = [
      [{ authorization: "Bearer" }, 400],
      [{ authorization: "Bearer " }, 400],
      [{ authorization: "Basic x" }, 400],
      [{ authorization: "Bearer a b" }, 400],
      [{ authorization: 'Bearer a"b.c.d' }, 401],
      [{}, 401],
    ];
    for (const [headers, expected] of cases) {
      const res = await gateway.fetch(`${BASE}/orders`, { headers });
      assert.equal(res.status, expected, JSON.stringify(headers));
      assert.match(res.headers.get("www-authenticate"), challenge, JSON.stringify(headers));
    }
    const res = await gateway.fetch(`${BASE}/orders;x`, { headers: { authorization: `Bearer ${reader}` } });
    assert.equal(res.status, 400);
    assert.match(res.headers.get("www-authenticate"), challenge);
  });
});

describe("the verified-token cache never outlives what verification accepts", () => {
  let stack;
  after(() => stack?.close());

  test("a cached token of a retired key fails once the key set is stale, without any cron run", async () => {
    stack = await startStack({
      vars: { JWKS_CACHE_TTL_SECONDS: "1", JWKS_MIN_TTL_SECONDS: "1", JWKS_MAX_TTL_SECONDS: "1", JWKS_CACHE_TYPE: "in_memory" },
    });
    const gateway = await stack.addGateway();
    const token = await stack.issuer.mint();
    for (let i = 0; i < 3; i += 1) assert.equal((await request(gateway, token)).status, 200, `request ${i}`);
    await stack.issuer.rotate({ retire: true });
    await sleep(1200); // past the set's freshness; the isolate has only seen cached tokens
    const res = await request(gateway, token);
    const body = await res.json();
    assert.equal(res.status, 401, JSON.stringify(body));
    assert.match(body.error_description, /^unknown_key/);
    assert.equal(stack.issuer.counts.jwks, 2, "the stale set was fetched again");
  });
});

describe("a new token whose key set is in memory is verified in full (without a futures task)", () => {
  let stack;
  after(() => stack?.close());

  test("a forged, altered or out-of-policy token is refused and never forwarded", async () => {
    stack = await startStack();
    const gateway = await stack.addGateway();
    // A first verified request: the key set is in memory and its key imported, so the tokens
    // below take the path that checks the signature in WebCrypto's promise callback.
    assert.equal((await request(gateway, await stack.issuer.mint())).status, 200);
    const good = await stack.issuer.mint({ sub: "someone-else" });
    const [header, payload, signature] = good.split(".");
    const { kid } = JSON.parse(Buffer.from(header, "base64url"));
    const flip = (text, i) => `${text.slice(0, i)}${text[i] === "A" ? "B" : "A"}${text.slice(i + 1)}`;
    const { privateKey } = await generateKeyPair("RS256");
    const claims = { sub: "attacker", iss: stack.issuer.url, aud: stack.issuer.audience };
    const signed = (alg, key) =>
      new SignJWT(claims).setProtectedHeader({ alg, kid, typ: "JWT" }).setIssuedAt().setExpirationTime("1h").sign(key);
    const now = Math.floor(Date.now() / 1000);
    const cases = {
      "altered signature": `${header}.${payload}.${flip(signature, 20)}`,
      "truncated signature": `${header}.${payload}.${signature.slice(0, -4)}`,
      "altered payload": `${header}.${flip(payload, 12)}.${signature}`,
      "another key under the issuer's kid": await signed("RS256", privateKey),
      "HS256 under the issuer's kid": await signed("HS256", new TextEncoder().encode("a shared secret of 32 bytes!!!!!")),
      expired: await stack.issuer.mint({}, { expiresIn: now - 600 }),
      "another audience": await stack.issuer.mint({}, { audience: "another-service" }),
      "another issuer": await stack.issuer.mint({}, { issuer: "https://issuer.invalid" }),
    };
    const received = stack.origin.received.length;
    for (const [name, token] of Object.entries(cases)) {
      const res = await request(gateway, token);
      assert.equal(res.status, 401, name);
      assert.match(res.headers.get("www-authenticate"), /error="invalid_token"/, name);
    }
    assert.equal(stack.origin.received.length, received, "nothing reached the origin");
    assert.equal(stack.issuer.counts.jwks, 1, "the key set was fetched once");
    // The good token passes after all that, and then from the token cache.
    assert.equal((await request(gateway, good)).status, 200);
    assert.equal((await request(gateway, good)).status, 200);
  });
});
