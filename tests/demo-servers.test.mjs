// The helper servers that the end-to-end tests and `npm run dev` rely on: the demo issuer (checked
// with jose's own remote-JWKS verifier) and the demo origin.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { createRemoteJWKSet, decodeProtectedHeader, jwtVerify } from "jose";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";

const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

describe("demo issuer", () => {
  let issuer;
  before(async () => {
    issuer = await startIssuer();
  });
  after(() => issuer?.close());

  test("listens on loopback and publishes discovery pointing at its JWKS", async () => {
    assert.match(issuer.url, /^http:\/\/127\.0\.0\.1:\d+$/);
    const discovery = await (await fetch(`${issuer.url}/.well-known/openid-configuration`)).json();
    assert.equal(discovery.issuer, issuer.url);
    assert.equal(discovery.jwks_uri, `${issuer.url}/jwks.json`);
    assert.equal(issuer.counts.discovery, 1);
  });

  for (const alg of ALGORITHMS) {
    test(`mints ${alg} tokens that jose verifies against the served JWKS`, async () => {
      const kid = await issuer.rotate({ alg });
      const token = await issuer.mint({ scope: "orders:read" });
      assert.equal(decodeProtectedHeader(token).kid, kid);
      const jwks = createRemoteJWKSet(new URL(`${issuer.url}/jwks.json`));
      const { payload } = await jwtVerify(token, jwks, { issuer: issuer.url, audience: issuer.audience, algorithms: [alg] });
      assert.equal(payload.sub, "demo-user");
      assert.equal(payload.scope, "orders:read");
    });
  }

  test("the token endpoint issues a verifiable access token", async () => {
    const res = await fetch(`${issuer.url}/token?scope=orders:write`, { method: "POST" });
    assert.equal(res.status, 200);
    const { access_token: token, token_type: type } = await res.json();
    assert.equal(type, "Bearer");
    const { payload } = await jwtVerify(token, createRemoteJWKSet(new URL(`${issuer.url}/jwks.json`)), {
      issuer: issuer.url,
      audience: issuer.audience,
    });
    assert.equal(payload.sub, "demo-client");
    assert.equal(payload.scope, "orders:write");
  });

  test("counts JWKS requests and fails on demand", async () => {
    issuer.setMode("ok");
    issuer.resetCounts();
    assert.equal((await fetch(`${issuer.url}/jwks.json`)).status, 200);
    issuer.setMode("error");
    assert.equal((await fetch(`${issuer.url}/jwks.json`)).status, 503);
    issuer.setMode("garbage");
    const garbage = await fetch(`${issuer.url}/jwks.json`);
    await assert.rejects(garbage.json(), SyntaxError);
    issuer.setMode("hang");
    await assert.rejects(fetch(`${issuer.url}/jwks.json`, { signal: AbortSignal.timeout(200) }), { name: "TimeoutError" });
    assert.equal(issuer.counts.jwks, 4);
    issuer.setMode("ok");
    assert.throws(() => issuer.setMode("sideways"), /unknown mode/);
  });

  test("POST /rotate adds a key; with retire=true only the new one stays", async () => {
    const added = await (await fetch(`${issuer.url}/rotate`, { method: "POST" })).json();
    assert.equal(issuer.kids[0], added.kid);
    assert.ok(issuer.kids.length >= 2);
    const retired = await (await fetch(`${issuer.url}/rotate?retire=true`, { method: "POST" })).json();
    assert.deepEqual(retired.kids, [retired.kid]);
  });

  test("rotation with retire leaves only the new key in the set", async () => {
    const old = issuer.kids;
    const kid = await issuer.rotate({ retire: true });
    assert.deepEqual(issuer.kids, [kid]);
    const served = await (await fetch(`${issuer.url}/jwks.json`)).json();
    assert.deepEqual(served.keys.map((k) => k.kid), [kid]);
    assert.ok(!old.includes(kid));
    assert.ok(served.keys.every((k) => !("d" in k)), "private members must never be served");
  });

  test("publish() serves an extra raw JWK; mode empty serves a JWKS without keys", async () => {
    const raw = { kty: "OKP", crv: "Ed25519", x: "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", kid: "raw-1" };
    assert.equal(issuer.publish(raw), "raw-1");
    const served = await (await fetch(`${issuer.url}/jwks.json`)).json();
    assert.deepEqual(served.keys.at(-1), raw);
    assert.deepEqual(served.keys.slice(0, -1).map((k) => k.kid), issuer.kids);
    issuer.setMode("empty");
    const empty = await fetch(`${issuer.url}/jwks.json`);
    assert.equal(empty.status, 200);
    assert.deepEqual(await empty.json(), { keys: [] });
    issuer.setMode("ok");
  });
});

describe("demo origin", () => {
  let origin;
  before(async () => {
    origin = await startOrigin();
  });
  after(() => origin?.close());

  test("echoes and records method, path, query, headers and body", async () => {
    const res = await fetch(`${origin.url}/orders/7?expand=items`, {
      method: "POST",
      headers: { "content-type": "application/json", "x-auth-subject": "alice" },
      body: JSON.stringify({ item: "book" }),
    });
    assert.equal(res.status, 200);
    const { received } = await res.json();
    assert.equal(received.method, "POST");
    assert.equal(received.url, "/orders/7?expand=items");
    assert.equal(received.headers["x-auth-subject"], "alice");
    assert.deepEqual(JSON.parse(received.body), { item: "book" });
    assert.deepEqual(origin.received.at(-1), received);
  });
});
