// What an operator sees of the gateway in workerd: a `request_rejected` log line per refusal
// (never the token), key-set events, a bounded log under a flood, and one Analytics Engine data
// point per request and per scheduled refresh through the METRICS binding, or none without it.
import assert from "node:assert/strict";
import { after, before, describe, test } from "node:test";
import { atLeast, logEvents as events, METRICS_STUB, startGateway, stubPoints as points } from "./support/gateway.mjs";
import { gatewayVars, request, startStack, status } from "./support/stack.mjs";


/** A gateway on `stack` with `vars`, whose console lines are collected in `lines`. */
async function startObserved(stack, { vars = {}, metrics = "stub", miniflare = {} } = {}) {
  const lines = [];
  const options = {
    vars: gatewayVars(stack.issuer, stack.origin, { LOG_LEVEL: "info", ...vars }),
    miniflare: {
      handleStructuredLogs: ({ message }) => {
        lines.push(message);
      },
      ...miniflare,
    },
  };
  if (metrics === "stub") {
    options.worker = { wrappedBindings: { METRICS: { scriptName: METRICS_STUB.name } } };
    options.workers = [METRICS_STUB];
  } else if (metrics === "local") {
    options.worker = { analyticsEngineDatasets: { METRICS: { dataset: "edge_jwt" } } };
  }
  const gateway = await startGateway(options);
  return { gateway, lines };
}

/** The data point as named fields (README, "Metrics"). */
function named(point) {
  const [kind, outcome, code, tier, tokenCache, provider, colo] = point.blobs;
  const [generation, status, latencyMs] = point.doubles;
  return { index: point.indexes[0], kind, outcome, code, tier, tokenCache, provider, colo, generation, status, latencyMs };
}

/** A compact JWS with these header and payload and a junk signature. */
function forged(header, payload) {
  const part = (value) => Buffer.from(JSON.stringify(value)).toString("base64url");
  return `${part(header)}.${part(payload)}.AAAA`;
}

/**
 * A demo stack and a gateway with `vars` and the METRICS stub on it, started before the tests of
 * the enclosing `describe` and closed after them: `{ stack, observed }` once started.
 */
function observedSuite(vars) {
  const suite = {};
  before(async () => {
    suite.stack = await startStack();
    suite.observed = await startObserved(suite.stack, { vars });
  });
  after(async () => {
    await suite.observed?.gateway.close();
    await suite.stack?.close();
  });
  return suite;
}

describe("rejection logs and key-set events", () => {
  const suite = observedSuite({ ROUTE_SCOPES: "POST /orders=orders:write" });

  test("a refusal is one request_rejected line with its code, route and token header, never the token", async () => {
    const { stack, observed } = suite;
    const { gateway, lines } = observed;
    const res = await gateway.fetch("/orders/1?page=2");
    assert.equal(res.status, 401);
    const forgery = forged({ alg: "HS256", kid: "attacker-key" }, { iss: "https://evil.example", sub: "victim-subject" });
    assert.equal((await request(gateway, forgery, "/Orders//7?secret-query=1")).status, 401);
    const reader = await stack.issuer.mint({ sub: "alice-subject", scope: "orders:read" });
    assert.equal((await request(gateway, reader, "/orders", { method: "POST", body: "{}" })).status, 403);

    const rejected = await atLeast(3, () => events(lines, "request_rejected"));
    assert.deepEqual(
      rejected.map(({ time, ...line }) => line),
      [
        { level: "info", event: "request_rejected", code: "no_credentials", status: 401, method: "GET", route: "/orders/1" },
        {
          level: "info",
          event: "request_rejected",
          code: "algorithm_not_allowed",
          status: 401,
          method: "GET",
          route: "/Orders/7",
          kid: "attacker-key",
          alg: "HS256",
          iss: "https://evil.example",
        },
        {
          level: "info",
          event: "request_rejected",
          code: "insufficient_scope",
          status: 403,
          method: "POST",
          route: "/orders",
          required_scopes: ["orders:write"],
          kid: stack.issuer.kids[0],
          alg: "RS256",
          iss: stack.issuer.url,
        },
      ],
    );
    const all = lines.join("\n");
    for (const secret of [forgery, reader, reader.split(".")[2], "victim-subject", "alice-subject", "secret-query"]) {
      assert.ok(!all.includes(secret), `the logs hold ${secret}`);
    }
  });

  test("the first key set is logged as fetched, with its kids", async () => {
    const { stack, observed } = suite;
    const [refreshed] = await atLeast(1, () => events(observed.lines, "key_set_refreshed"));
    assert.equal(refreshed.level, "info");
    assert.equal(refreshed.change, "fetched");
    assert.deepEqual(refreshed.kids_added, stack.issuer.kids);
    assert.deepEqual(refreshed.kids_removed, []);
  });

  test("a flood of refusals writes a bounded number of lines", async () => {
    const fresh = await startObserved(suite.stack, { metrics: "none" });
    try {
      const flood = 60;
      for (let i = 0; i < flood; i += 1) {
        assert.equal((await fresh.gateway.fetch("/orders")).status, 401);
      }
      await atLeast(10, () => events(fresh.lines, "request_rejected"));
      // Lines from one 10 s window at most, plus the first line (and the count) of the next
      // when the flood crossed a window's end.
      const written = events(fresh.lines, "request_rejected").length;
      assert.ok(written >= 10 && written <= 20, `${written} lines for ${flood} refusals`);
      const suppressed = events(fresh.lines, "rejections_suppressed").reduce((sum, line) => sum + line.suppressed, 0);
      assert.ok(written + suppressed <= flood && flood - written - suppressed <= 50, `${written} + ${suppressed}`);
    } finally {
      await fresh.gateway.close();
    }
  });
});

describe("metrics through the METRICS Analytics Engine binding", () => {
  const suite = observedSuite({ PUBLIC_PATHS: "/health" });

  test("one data point per request: outcome, code, tier, token cache, colo, status, latency", async () => {
    const { stack, observed } = suite;
    const { gateway, lines } = observed;
    const token = await stack.issuer.mint({ scope: "orders:read" });
    const cf = { cf: { colo: "TST" } };
    assert.equal((await request(gateway, token, "/orders/1", cf)).status, 200);
    assert.equal((await request(gateway, token, "/orders/2", cf)).status, 200);
    assert.equal((await gateway.fetch("/orders/3", cf)).status, 401);
    assert.equal((await request(gateway, `${token.slice(0, -4)}AAAA`, "/orders/4", cf)).status, 401);
    assert.equal((await gateway.fetch("/health", cf)).status, 200);

    const written = (await atLeast(5, () => points(lines))).map(named);
    assert.equal(written.length, 5, JSON.stringify(written));
    // The provider's name is its issuer (the single-issuer form); empty before a token chose one.
    const provider = stack.issuer.url;
    const common = { index: "request", kind: "request", colo: "TST", generation: 1, provider };
    const without = ({ latencyMs, ...rest }) => rest;
    assert.deepEqual(written.map(without), [
      { ...common, outcome: "forwarded", code: "", tier: "issuer", tokenCache: "miss", status: 200 },
      { ...common, outcome: "forwarded", code: "", tier: "memory", tokenCache: "hit", status: 200 },
      { ...common, outcome: "rejected", code: "no_credentials", tier: "none", tokenCache: "none", status: 401, generation: 0, provider: "" },
      { ...common, outcome: "rejected", code: "bad_signature", tier: "memory", tokenCache: "miss", status: 401 },
      { ...common, outcome: "forwarded", code: "", tier: "none", tokenCache: "none", status: 200, generation: 0, provider: "" },
    ]);
    for (const point of written) {
      assert.ok(Number.isFinite(point.latencyMs) && point.latencyMs >= 0, JSON.stringify(point));
    }
    // The first request waited for the issuer and the origin; workerd's clock saw that I/O.
    assert.ok(written[0].latencyMs > 0, JSON.stringify(written[0]));
    assert.equal((await status(gateway)).metrics.dataset_bound, true);
  });

  test("one data point per scheduled refresh", async () => {
    const { stack, observed } = suite;
    const { gateway, lines } = observed;
    const before = points(lines).length;
    await gateway.scheduled();
    const written = await atLeast(before + 1, () => points(lines));
    const refresh = written.map(named).filter((point) => point.kind === "refresh");
    assert.equal(refresh.length, 1, JSON.stringify(written));
    assert.deepEqual(
      (({ latencyMs, ...rest }) => rest)(refresh[0]),
      { index: "refresh", kind: "refresh", outcome: "unchanged", code: "", tier: "issuer", tokenCache: "none", provider: stack.issuer.url, colo: "", generation: 1, status: 0 },
    );
  });
});

describe("without the METRICS binding", () => {
  let stack;
  before(async () => {
    stack = await startStack();
  });
  after(() => stack?.close());

  for (const metrics of ["none", "local"]) {
    test(`${metrics === "none" ? "no binding" : "Miniflare's local dataset"}: requests and the cron work, no error is logged`, async () => {
      const { gateway, lines } = await startObserved(stack, { metrics });
      try {
        const token = await stack.issuer.mint({ scope: "orders:read" });
        assert.equal((await request(gateway, token)).status, 200);
        assert.equal((await request(gateway, token)).status, 200);
        assert.equal((await gateway.fetch("/orders/1")).status, 401);
        await gateway.scheduled();
        const state = await status(gateway);
        assert.equal(state.metrics.dataset_bound, metrics === "local");
        assert.equal(points(lines).length, 0);
        const problems = lines.filter((line) => /"level":"(warn|error)"|Error|exception/i.test(line));
        assert.deepEqual(problems, []);
        // LOG_LEVEL=info: the per-request debug events are not written.
        assert.deepEqual(lines.filter((line) => line.includes('"level":"debug"')), []);
      } finally {
        await gateway.close();
      }
    });
  }

  test("a METRICS binding that is not a dataset is ignored, with a warning", async () => {
    const { gateway, lines } = await startObserved(stack, { metrics: "none", vars: { METRICS: "not-a-dataset" } });
    try {
      assert.equal((await gateway.fetch("/orders/1")).status, 401);
      const [warning] = await atLeast(1, () => events(lines, "metrics_binding_invalid"));
      assert.equal(warning.level, "warn");
      assert.equal((await status(gateway)).metrics.dataset_bound, false);
    } finally {
      await gateway.close();
    }
  });
});
