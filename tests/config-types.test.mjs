// Typed variables: `[vars]` (and Miniflare `bindings`) can be numbers, booleans or JSON as well as
// strings. A value of a type the variable means is enforced like its text; any other type is a
// misconfiguration (500, nothing forwarded, the variable and the type logged), never the default.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { startGateway } from "./support/gateway.mjs";
import { gatewayVars, request, STATUS_TOKEN, startStack } from "./support/stack.mjs";

const PREFLIGHT = { method: "OPTIONS", headers: { "access-control-request-method": "POST", origin: "https://shop.test" } };

describe("values of the right type are enforced like their text", () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  test("ROUTE_SCOPES as a JSON array: a token lacking the scope gets 403", async () => {
    const gateway = await stack.addGateway({ vars: { ROUTE_SCOPES: ["POST /orders=orders:write", "GET /orders=orders:read"] } });
    const reader = await stack.issuer.mint({ scope: "orders:read" });
    const forwarded = stack.origin.received.length;

    const write = await request(gateway, reader, "/orders", { method: "POST", body: "{}" });
    assert.equal(write.status, 403);
    assert.equal((await write.json()).error, "insufficient_scope");
    assert.match(write.headers.get("www-authenticate"), /scope="orders:write"/);
    const unscoped = await request(gateway, await stack.issuer.mint({ scope: "profile" }), "/orders/1");
    assert.equal(unscoped.status, 403);
    assert.equal(stack.origin.received.length, forwarded, "nothing reached the origin");

    assert.equal((await request(gateway, reader, "/orders/1")).status, 200, "the scope it has passes");
  });

  test("FORWARD_PREFLIGHT = false (a boolean): a preflight needs a token", async () => {
    const gateway = await stack.addGateway({ vars: { FORWARD_PREFLIGHT: false } });
    const forwarded = stack.origin.received.length;
    const res = await gateway.fetch("/orders", PREFLIGHT);
    assert.equal(res.status, 401);
    assert.equal(stack.origin.received.length, forwarded, "nothing reached the origin");
  });

  test("JWT_CLOCK_SKEW_SECONDS = 0 (a number): a token expired 30 s ago is refused", async () => {
    const gateway = await stack.addGateway({ vars: { JWT_CLOCK_SKEW_SECONDS: 0 } });
    const expiredAt = Math.floor(Date.now() / 1000) - 30;
    const expired = await stack.issuer.mint({}, { expiresIn: expiredAt });
    const forwarded = stack.origin.received.length;
    const res = await request(gateway, expired);
    assert.equal(res.status, 401);
    assert.match((await res.json()).error_description, /^token_expired/);
    assert.equal(stack.origin.received.length, forwarded, "nothing reached the origin");
    assert.equal((await request(gateway, await stack.issuer.mint())).status, 200, "a valid token passes");
  });

  test("JWT_AUDIENCE as a JSON array: each element is one audience", async () => {
    const token = await stack.issuer.mint();
    const either = await stack.addGateway({ vars: { JWT_AUDIENCE: ["billing", stack.issuer.audience] } });
    assert.equal((await request(either, token)).status, 200);
    const other = await stack.addGateway({ vars: { JWT_AUDIENCE: ["billing", "shipping"] } });
    const res = await request(other, token);
    assert.equal(res.status, 401);
    assert.match((await res.json()).error_description, /^invalid_audience/);
  });
});

describe("a value of the wrong type → 500 gateway_misconfigured on every path, nothing forwarded", () => {
  let stack;
  let token;
  before(async () => {
    stack = await startStack();
    token = await stack.issuer.mint({ scope: "orders:read orders:write" });
  });
  after(() => stack?.close());

  /** A gateway with the stack's good variables plus `vars`, collecting its log lines. */
  async function startLogged(vars, options = {}) {
    const logs = [];
    const gateway = await startGateway({
      vars: gatewayVars(stack.issuer, stack.origin, { PUBLIC_PATHS: "/health", ...vars }),
      miniflare: {
        handleStructuredLogs: ({ message }) => {
          logs.push(message);
        },
      },
      ...options,
    });
    return { gateway, logs };
  }

  /** Every kind of request answers 500 gateway_misconfigured, and the origin sees none. */
  async function assertMisconfigured(gateway, label) {
    const forwarded = stack.origin.received.length;
    const requests = [
      ["/orders/1", { headers: { authorization: `Bearer ${token}` } }],
      ["/orders", { method: "POST", body: "{}", headers: { authorization: `Bearer ${token}` } }],
      ["/orders", PREFLIGHT],
      ["/health/live", {}],
      ["/orders/1", {}],
      ["/_gateway/health", {}],
      ["/_gateway/status", { headers: { authorization: `Bearer ${STATUS_TOKEN}` } }],
    ];
    for (const [path, init] of requests) {
      const res = await gateway.fetch(path, init);
      assert.equal(res.status, 500, `${label}: ${init.method ?? "GET"} ${path}`);
      assert.equal((await res.json()).error, "gateway_misconfigured", `${label}: ${path}`);
    }
    assert.equal(stack.origin.received.length, forwarded, `${label}: nothing reached the origin`);
  }

  /** The gateway_misconfigured log line (it is written when the first request builds the gateway). */
  async function misconfiguredLine(logs) {
    for (let i = 0; i < 50; i += 1) {
      const line = logs.find((message) => message.includes("gateway_misconfigured"));
      if (line) return JSON.parse(line.slice(line.indexOf("{")));
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    assert.fail(`no gateway_misconfigured log line in ${JSON.stringify(logs)}`);
  }

  const WRONG = [
    ["JWT_AUDIENCE", 5, "found a number (5)"],
    ["AUTH_REALM", true, "found a boolean (true)"],
    ["PUBLIC_PATHS", { a: 1 }, 'found a JSON object ({"a":1})'],
    ["JWT_CLOCK_SKEW_SECONDS", 1.5, "found a number (1.5)"],
    ["ORIGIN_TIMEOUT_MS", -5, "found a number (-5)"],
    ["ROUTE_SCOPES", [1], "found a number (1) at index 0 of the array"],
    ["ROUTE_SCOPES", ["GET /orders=orders:read; POST /orders=orders:write"], "at index 0 of the array"],
    ["FORWARD_PREFLIGHT", 2, "found a number (2)"],
    ["JWT_ALGORITHMS", ["RS256,ES256"], "at index 0 of the array"],
    ["CLAIM_HEADERS", [{ sub: "X-Sub" }], "found a JSON object"],
    ["JWT_JWKS_URL", ["https://login.example.com/keys"], "found a JSON array"],
    ["LOG_LEVEL", null, "found null"],
    ["JWT_MAX_TOKEN_AGE_SECONDS", false, "found a boolean (false)"],
  ];

  for (const [name, value, found] of WRONG) {
    test(`${name} = ${JSON.stringify(value)}`, async () => {
      const { gateway, logs } = await startLogged({ [name]: value });
      try {
        await assertMisconfigured(gateway, name);
        const line = await misconfiguredLine(logs);
        assert.equal(line.variable, name);
        assert.ok(line.error.includes(found), `${line.error} should say ${found}`);
      } finally {
        await gateway.close();
      }
    });
  }

  test("STATUS_TOKEN of the wrong type: its value is never logged", async () => {
    const secret = ["status-token-in-an-array-0123456789"];
    const { gateway, logs } = await startLogged({ STATUS_TOKEN: secret });
    try {
      await assertMisconfigured(gateway, "STATUS_TOKEN");
      const line = await misconfiguredLine(logs);
      assert.equal(line.variable, "STATUS_TOKEN");
      assert.match(line.error, /found a JSON array \(the value is not shown\)/);
      assert.ok(!logs.some((message) => message.includes("status-token-in-an-array")), "the secret is not logged");
    } finally {
      await gateway.close();
    }
  });

  test("a binding of another kind under a variable's name (a KV namespace called ROUTE_SCOPES)", async () => {
    const { gateway, logs } = await startLogged({}, { kvNamespaces: ["JWKS_CACHE", "ROUTE_SCOPES"] });
    try {
      await assertMisconfigured(gateway, "ROUTE_SCOPES");
      const line = await misconfiguredLine(logs);
      assert.equal(line.variable, "ROUTE_SCOPES");
      assert.match(line.error, /found a binding that is not a variable \(\w+\)/);
    } finally {
      await gateway.close();
    }
  });
});
