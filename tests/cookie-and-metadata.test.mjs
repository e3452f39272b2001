// The token cookie (JWT_COOKIE) and the RFC 9728 protected-resource metadata, end to end in
// workerd: a cookie token is verified like a bearer token and the origin never sees that cookie
// (it sees the others); both methods at once, a repeated cookie and a cross-site write with the
// cookie are refused; the gateway serves /.well-known/oauth-protected-resource itself and names
// it in every challenge, or, with RESOURCE_METADATA=false, neither.
import assert from "node:assert/strict";
import { request as httpRequest } from "node:http";
import { after, before, describe, test } from "node:test";
import { startGateway } from "./support/gateway.mjs";
import { gatewayVars, request, startStack } from "./support/stack.mjs";

const COOKIE = "__Host-at";
const SCOPES = "POST /orders=orders:write; GET /orders=orders:read";
const WELL_KNOWN = "/.well-known/oauth-protected-resource";
/** The metadata URL of a gateway without RESOURCE_URI, as the tests reach it. */
const METADATA_URL = `https://gateway.test${WELL_KNOWN}`;

/** A stack (issuer, origin, one gateway with `vars`) for a describe block. */
function stackWith(vars) {
  const ctx = {};
  before(async () => {
    ctx.stack = await startStack({ vars });
    ctx.gateway = await ctx.stack.addGateway();
  });
  after(() => ctx.stack?.close());
  return ctx;
}

/** `gateway.fetch` that must not reach the origin; returns the response. */
async function refusedAtTheGateway(stack, send) {
  const before = stack.origin.received.length;
  const res = await send();
  assert.equal(stack.origin.received.length, before, "nothing reached the origin");
  return res;
}

/** `gateway.fetch` that must reach the origin; returns what the origin received. */
async function forwarded(stack, send) {
  const before = stack.origin.received.length;
  const res = await send();
  await res.body?.cancel();
  assert.equal(res.status, 200);
  assert.equal(stack.origin.received.length, before + 1, "the origin received it");
  return stack.origin.received.at(-1);
}

/**
 * A raw HTTP/1.1 request to the gateway's own socket with `rawHeaders` as separate header lines
 * ([name, value, name, value...]), which fetch would join: two Cookie headers arrive as two.
 */
async function rawRequest(gateway, path, rawHeaders) {
  const url = new URL(path, await gateway.mf.ready);
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: "GET", headers: ["Host", url.host, ...rawHeaders] }, (res) => {
      const chunks = [];
      res.on("data", (chunk) => chunks.push(chunk));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

/** The auth-params of a Bearer challenge, by name. */
function challengeParams(challenge) {
  assert.match(challenge, /^Bearer /);
  return Object.fromEntries([...challenge.matchAll(/([a-z_]+)="([^"\\]*)"/g)].map(([, name, value]) => [name, value]));
}

describe("JWT_COOKIE: the token from a cookie", () => {
  const ctx = stackWith({ JWT_COOKIE: COOKIE, ROUTE_SCOPES: SCOPES, PUBLIC_PATHS: "/health" });

  test("a cookie token is verified and forwarded; the origin sees the other cookies, never that one", async () => {
    const { stack, gateway } = ctx;
    const reader = await stack.issuer.mint({ sub: "alice", scope: "orders:read" });
    const received = await forwarded(stack, () => gateway.fetch("/orders/1", { headers: { cookie: `theme=dark; ${COOKIE}=${reader}; lang=en` } }));
    assert.equal(received.headers.cookie, "theme=dark; lang=en");
    assert.equal(received.headers["x-auth-subject"], "alice");
    assert.equal(received.headers.authorization, undefined);
    assert.ok(!JSON.stringify(received.headers).includes(reader), "the token reaches the origin nowhere");

    // The token cookie alone: no Cookie header at all.
    const alone = await forwarded(stack, () => gateway.fetch("/orders/1", { headers: { cookie: `${COOKIE}=${reader}` } }));
    assert.equal(alone.headers.cookie, undefined);

    // Public paths and preflights lose it too.
    const cookie = `${COOKIE}=${reader}; theme=dark`;
    const publicPath = await forwarded(stack, () => gateway.fetch("/health", { headers: { cookie } }));
    assert.equal(publicPath.headers.cookie, "theme=dark");
    const preflight = await forwarded(stack, () =>
      gateway.fetch("/orders", { method: "OPTIONS", headers: { cookie, "access-control-request-method": "POST", origin: "https://shop.test" } }),
    );
    assert.equal(preflight.headers.cookie, "theme=dark");
  });

  test("the scopes of a cookie token are checked like a header token's", async () => {
    const { stack, gateway } = ctx;
    const reader = await stack.issuer.mint({ scope: "orders:read" });
    const res = await refusedAtTheGateway(stack, () => gateway.fetch("/orders", { method: "POST", body: "{}", headers: { cookie: `${COOKIE}=${reader}` } }));
    assert.equal(res.status, 403);
    assert.equal(challengeParams(res.headers.get("www-authenticate")).scope, "orders:write");
    const expired = await stack.issuer.mint({}, { expiresIn: "-2h" });
    const old = await refusedAtTheGateway(stack, () => gateway.fetch("/orders/1", { headers: { cookie: `${COOKIE}=${expired}` } }));
    assert.equal(old.status, 401);
    assert.match((await old.json()).error_description, /^token_expired/);
  });

  test("both methods, a repeated cookie or an empty one: 400 invalid_request", async () => {
    const { stack, gateway } = ctx;
    const token = await stack.issuer.mint({ scope: "orders:read" });
    const cases = [
      ["both", { authorization: `Bearer ${token}`, cookie: `${COOKIE}=${token}` }],
      ["twice", { cookie: `${COOKIE}=${token}; x=1; ${COOKIE}=${token}` }],
      ["empty", { cookie: `x=1; ${COOKIE}=; y=2` }],
    ];
    for (const [label, headers] of cases) {
      const res = await refusedAtTheGateway(stack, () => gateway.fetch("/orders/1", { headers }));
      assert.equal(res.status, 400, label);
      const params = challengeParams(res.headers.get("www-authenticate"));
      assert.equal(params.error, "invalid_request", label);
      assert.equal(params.resource_metadata, METADATA_URL, label);
      assert.equal((await res.json()).error, "invalid_request", label);
    }
  });

  test("the cookie in two Cookie header lines counts twice", async () => {
    const { stack, gateway } = ctx;
    const token = await stack.issuer.mint({ scope: "orders:read" });
    const before = stack.origin.received.length;
    const twice = await rawRequest(gateway, "/orders/1", ["Cookie", `${COOKIE}=${token}`, "Cookie", `theme=dark; ${COOKIE}=${token}`]);
    assert.equal(twice.status, 400, twice.body);
    assert.equal(JSON.parse(twice.body).error_description, "the token cookie is sent more than once");
    assert.equal(stack.origin.received.length, before);
    // One line each: the token cookie in one, another cookie in the other.
    const once = await rawRequest(gateway, "/orders/1", ["Cookie", `${COOKIE}=${token}`, "Cookie", "theme=dark"]);
    assert.equal(once.status, 200, once.body);
    assert.equal(stack.origin.received.at(-1).headers.cookie, "theme=dark");
  });

  test("CSRF: a cookie token on a cross-site write is refused; the bearer header is not", async () => {
    const { stack, gateway } = ctx;
    const writer = await stack.issuer.mint({ scope: "orders:write" });
    const cookie = `${COOKIE}=${writer}`;
    for (const from of [{ "sec-fetch-site": "cross-site" }, { origin: "https://evil.example" }, { "sec-fetch-site": "same-site", origin: "https://shop.gateway.test" }]) {
      const res = await refusedAtTheGateway(stack, () => gateway.fetch("/orders", { method: "POST", body: "{}", headers: { cookie, ...from } }));
      assert.equal(res.status, 400, JSON.stringify(from));
      const body = await res.json();
      assert.equal(body.error, "invalid_request");
      assert.match(body.error_description, /cross-site/);
      const bearer = await forwarded(stack, () => request(gateway, writer, "/orders", { method: "POST", body: "{}", headers: from }));
      assert.equal(bearer.method, "POST");
    }
    // From the gateway's own origin, the cookie works for writes.
    const same = await forwarded(stack, () =>
      gateway.fetch("/orders", { method: "POST", body: "{}", headers: { cookie, origin: "https://gateway.test", "sec-fetch-site": "same-origin" } }),
    );
    assert.equal(same.method, "POST");
    // A cross-site read is not a write.
    const reader = await stack.issuer.mint({ scope: "orders:read" });
    await forwarded(stack, () => gateway.fetch("/orders/1", { headers: { cookie: `${COOKIE}=${reader}`, "sec-fetch-site": "cross-site", origin: "https://evil.example" } }));
  });
});

describe("JWT_COOKIE_FORWARD: the origin receives the cookie", () => {
  const ctx = stackWith({ JWT_COOKIE: COOKIE, JWT_COOKIE_FORWARD: "true" });

  test("the Cookie header passes as received", async () => {
    const token = await ctx.stack.issuer.mint();
    const cookie = `theme=dark; ${COOKIE}=${token}`;
    const received = await forwarded(ctx.stack, () => ctx.gateway.fetch("/orders/1", { headers: { cookie } }));
    assert.equal(received.headers.cookie, cookie);
  });
});

describe("without JWT_COOKIE", () => {
  const ctx = stackWith({});

  test("cookies play no part: a token cookie is not a credential, and is forwarded as any cookie", async () => {
    const token = await ctx.stack.issuer.mint();
    const cookie = `${COOKIE}=${token}`;
    const res = await refusedAtTheGateway(ctx.stack, () => ctx.gateway.fetch("/orders/1", { headers: { cookie } }));
    assert.equal(res.status, 401);
    const received = await forwarded(ctx.stack, () => request(ctx.gateway, token, "/orders/1", { headers: { cookie } }));
    assert.equal(received.headers.cookie, cookie);
  });
});

describe("RFC 9728 metadata, resource identifier from the request", () => {
  const ctx = stackWith({ ROUTE_SCOPES: SCOPES });

  test("GET /.well-known/oauth-protected-resource: the gateway's own document", async () => {
    const { stack, gateway } = ctx;
    const res = await refusedAtTheGateway(stack, () => gateway.fetch(WELL_KNOWN));
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "application/json");
    assert.equal(res.headers.get("cache-control"), "public, max-age=300");
    assert.deepEqual(await res.json(), {
      resource: "https://gateway.test",
      authorization_servers: [stack.issuer.url],
      scopes_supported: ["orders:write", "orders:read"],
      bearer_methods_supported: ["header"],
    });
    // With a token it is the same document: never forwarded.
    const token = await stack.issuer.mint();
    const again = await refusedAtTheGateway(stack, () => request(gateway, token, WELL_KNOWN));
    assert.equal((await again.json()).resource, "https://gateway.test");
    const head = await refusedAtTheGateway(stack, () => gateway.fetch(WELL_KNOWN, { method: "HEAD" }));
    assert.equal(head.status, 200);
    assert.equal(await head.text(), "");
  });

  test("other methods: 405 with Allow; other paths below it: 404", async () => {
    const { stack, gateway } = ctx;
    const token = await stack.issuer.mint({ scope: "orders:write" });
    const post = await refusedAtTheGateway(stack, () => request(gateway, token, WELL_KNOWN, { method: "POST", body: "{}" }));
    assert.equal(post.status, 405);
    assert.equal(post.headers.get("allow"), "GET, HEAD");
    assert.equal((await post.json()).error, "method_not_allowed");
    const other = await refusedAtTheGateway(stack, () => request(gateway, token, `${WELL_KNOWN}/orders`));
    assert.equal(other.status, 404);
    await other.body?.cancel();
    // Another spelling of the path is an ordinary, protected path.
    const spelled = await refusedAtTheGateway(stack, () => gateway.fetch(`/${WELL_KNOWN}`));
    assert.equal(spelled.status, 401);
    await spelled.body?.cancel();
  });

  test("every challenge names the metadata URL: 401, 400 and 403", async () => {
    const { stack, gateway } = ctx;
    const reader = await stack.issuer.mint({ scope: "orders:read" });
    const cases = [
      [401, () => gateway.fetch("/orders/1")],
      [401, () => request(gateway, "not.a.jwt")],
      [400, () => gateway.fetch("/orders/1", { headers: { authorization: "Basic dXNlcjpwdw==" } })],
      [403, () => request(gateway, reader, "/orders", { method: "POST", body: "{}" })],
    ];
    for (const [status, send] of cases) {
      const res = await refusedAtTheGateway(stack, send);
      assert.equal(res.status, status);
      const params = challengeParams(res.headers.get("www-authenticate"));
      assert.equal(params.realm, "edge-jwt");
      assert.equal(params.resource_metadata, METADATA_URL, String(status));
      await res.body?.cancel();
    }
    // The URL follows the host the request was sent to.
    const other = await refusedAtTheGateway(stack, () => gateway.mf.dispatchFetch("https://api.example.test:8443/orders/1"));
    assert.equal(challengeParams(other.headers.get("www-authenticate")).resource_metadata, `https://api.example.test:8443${WELL_KNOWN}`);
    const doc = await (await gateway.mf.dispatchFetch(`https://api.example.test:8443${WELL_KNOWN}`)).json();
    assert.equal(doc.resource, "https://api.example.test:8443");
  });
});

describe("RFC 9728 metadata, RESOURCE_URI with a path", () => {
  const ctx = stackWith({ RESOURCE_URI: "https://api.example.com/mcp" });

  test("the document is served at the path-suffixed URL; the challenge names it", async () => {
    const { stack, gateway } = ctx;
    for (const path of [`${WELL_KNOWN}/mcp`, WELL_KNOWN]) {
      const res = await refusedAtTheGateway(stack, () => gateway.fetch(path));
      assert.equal(res.status, 200, path);
      // No ROUTE_SCOPES: no scopes_supported.
      assert.deepEqual(await res.json(), {
        resource: "https://api.example.com/mcp",
        authorization_servers: [stack.issuer.url],
        bearer_methods_supported: ["header"],
      });
    }
    for (const path of [`${WELL_KNOWN}/other`, `${WELL_KNOWN}/mcp/`, `${WELL_KNOWN}/MCP`]) {
      const res = await refusedAtTheGateway(stack, () => gateway.fetch(path));
      assert.equal(res.status, 404, path);
      await res.body?.cancel();
    }
    const res = await refusedAtTheGateway(stack, () => gateway.fetch("/orders/1"));
    assert.equal(res.headers.get("www-authenticate"), `Bearer realm="edge-jwt", resource_metadata="https://api.example.com${WELL_KNOWN}/mcp"`);
  });
});

describe("RESOURCE_METADATA=false", () => {
  const ctx = stackWith({ RESOURCE_METADATA: "false", RESOURCE_URI: "https://api.example.com/mcp" });

  test("no document, no resource_metadata: the path is forwarded like any other", async () => {
    const { stack, gateway } = ctx;
    const anonymous = await refusedAtTheGateway(stack, () => gateway.fetch(WELL_KNOWN));
    assert.equal(anonymous.status, 401);
    assert.equal(anonymous.headers.get("www-authenticate"), 'Bearer realm="edge-jwt"');
    await anonymous.body?.cancel();
    const token = await stack.issuer.mint();
    for (const path of [WELL_KNOWN, `${WELL_KNOWN}/mcp`]) {
      const received = await forwarded(stack, () => request(gateway, token, path));
      assert.equal(received.url, path);
    }
    const invalid = await refusedAtTheGateway(stack, () => request(gateway, "not.a.jwt"));
    assert.doesNotMatch(invalid.headers.get("www-authenticate"), /resource_metadata/);
    await invalid.body?.cancel();
  });
});

describe("invalid JWT_COOKIE or RESOURCE_URI: 500 gateway_misconfigured", () => {
  let stack;
  before(async () => {
    stack = await startStack({});
  });
  after(() => stack?.close());

  for (const vars of [{ JWT_COOKIE: "access token" }, { RESOURCE_URI: "http://api.example.com/mcp" }, { RESOURCE_URI: "https://API.example.com" }]) {
    test(JSON.stringify(vars), async () => {
      const gateway = await startGateway({ vars: gatewayVars(stack.issuer, stack.origin, vars) });
      try {
        for (const path of ["/orders/1", WELL_KNOWN]) {
          const res = await refusedAtTheGateway(stack, () => request(gateway, "x", path));
          assert.equal(res.status, 500, path);
          assert.equal((await res.json()).error, "gateway_misconfigured");
        }
      } finally {
        await gateway.close();
      }
    });
  }
});
