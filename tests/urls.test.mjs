// Configured URLs are checked, in the Worker, by the runtime's own URL parser (the one `fetch`
// uses; docs/decisions/0006-bundle-size.md). The table in core/tests/data/url-policy.json is
// checked natively with the url crate too: both parsers must give every case the same answer.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { describe, test } from "node:test";
import { startGateway } from "./support/gateway.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const { cases } = JSON.parse(readFileSync(`${root}core/tests/data/url-policy.json`, "utf8"));

/** A configuration that is valid but for the variable under test. */
const BASE = {
  JWT_AUTHORITY: "https://login.example.com",
  JWT_AUDIENCE: "order-service",
  JWT_JWKS_URL: "https://login.example.com/keys",
  ORIGIN_URL: "https://orders.internal",
  JWKS_CACHE_TYPE: "in_memory",
};

describe("configured URLs in workerd (the runtime's URL parser)", () => {
  test("every case of the shared table gets the same answer as natively", async () => {
    assert.ok(cases.length >= 30);
    for (const { variable, value, accepted } of cases) {
      const gateway = await startGateway({ vars: { ...BASE, [variable]: value }, kvNamespaces: [] });
      try {
        const res = await gateway.fetch("/_gateway/health");
        const body = await res.json();
        if (accepted) assert.equal(res.status, 200, `${variable} = ${value}: ${JSON.stringify(body)}`);
        else assert.deepEqual([res.status, body.error], [500, "gateway_misconfigured"], `${variable} = ${value}`);
      } finally {
        await gateway.close();
      }
    }
  });
});
