// The origin secret, end to end in workerd: with ORIGIN_AUTH_SECRET set, every request that
// reaches the origin (protected, public, preflight) carries it in ORIGIN_AUTH_HEADER, and a
// client's header of that name never does; without it, no such header reaches the origin at all.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { request, startStack, status } from "./support/stack.mjs";

const SECRET = "origin-secret-for-tests-0123456789abcdef";
const lastReceived = (origin) => origin.received.at(-1);

/** A stack (issuer, origin, one gateway with `/health` public and `vars`) for a describe block. */
function stackWith(vars) {
  const ctx = {};
  before(async () => {
    ctx.stack = await startStack({ vars: { PUBLIC_PATHS: "/health", ...vars } });
    ctx.gateway = await ctx.stack.addGateway();
  });
  after(() => ctx.stack?.close());
  return ctx;
}

/** The three kinds of request that reach the origin, each with a forged copy of `header`. */
async function forwardedKinds(stack, gateway, header) {
  const forged = { [header]: "forged", [header.replaceAll("-", "_")]: "forged-too" };
  const token = await stack.issuer.mint({ sub: "alice" });
  const sent = [
    ["protected", () => request(gateway, token, "/orders/1", { headers: forged })],
    ["public", () => gateway.fetch("/health", { headers: forged })],
    ["preflight", () => gateway.fetch("/orders", { method: "OPTIONS", headers: { ...forged, "access-control-request-method": "POST" } })],
  ];
  const seen = [];
  for (const [kind, send] of sent) {
    const before = stack.origin.received.length;
    const res = await send();
    await res.body?.cancel();
    assert.equal(res.status, 200, kind);
    assert.equal(stack.origin.received.length, before + 1, `${kind} reached the origin`);
    seen.push([kind, lastReceived(stack.origin).headers]);
  }
  return seen;
}

describe("ORIGIN_AUTH_SECRET set", () => {
  const ctx = stackWith({ ORIGIN_AUTH_SECRET: SECRET });

  test("every forwarded request carries the secret; a client's copy is replaced", async () => {
    for (const [kind, headers] of await forwardedKinds(ctx.stack, ctx.gateway, "X-Gateway-Auth")) {
      assert.equal(headers["x-gateway-auth"], SECRET, kind);
      assert.equal(headers["x_gateway_auth"], undefined, `${kind}: the _ spelling is removed too`);
    }
  });

  test("a refused request reaches nothing, secret or not", async () => {
    const before = ctx.stack.origin.received.length;
    const res = await request(ctx.gateway, "not-a-token", "/orders/1", { headers: { "x-gateway-auth": SECRET } });
    assert.equal(res.status, 401);
    assert.equal(ctx.stack.origin.received.length, before);
  });

  test("the status endpoint says the secret is set, never its value, and that it describes one isolate", async () => {
    const doc = await status(ctx.gateway);
    assert.equal(doc.scope, "isolate");
    assert.deepEqual(doc.origin_auth, { header: "X-Gateway-Auth", secret_set: true });
    assert.ok(!JSON.stringify(doc).includes(SECRET));
  });
});

describe("ORIGIN_AUTH_SECRET set, ORIGIN_AUTH_HEADER renamed", () => {
  const ctx = stackWith({ ORIGIN_AUTH_SECRET: SECRET, ORIGIN_AUTH_HEADER: "X-Origin-Token" });

  test("the secret goes in the configured header", async () => {
    for (const [kind, headers] of await forwardedKinds(ctx.stack, ctx.gateway, "X-Origin-Token")) {
      assert.equal(headers["x-origin-token"], SECRET, kind);
      assert.equal(headers["x_origin_token"], undefined, kind);
      assert.equal(headers["x-gateway-auth"], undefined, kind);
    }
  });
});

describe("ORIGIN_AUTH_SECRET unset", () => {
  const ctx = stackWith({});

  test("no secret header reaches the origin, and a client's is still removed", async () => {
    for (const [kind, headers] of await forwardedKinds(ctx.stack, ctx.gateway, "X-Gateway-Auth")) {
      assert.equal(headers["x-gateway-auth"], undefined, kind);
      assert.equal(headers["x_gateway_auth"], undefined, kind);
    }
    assert.deepEqual((await status(ctx.gateway)).origin_auth, { header: "X-Gateway-Auth", secret_set: false });
  });
});
