// Differential tests: the WebCrypto backend inside workerd (through the crypto test harness
// Worker, which runs the gateway's shared checks) must decide exactly as the native RustCrypto
// backend does, case by case, on the same vectors.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startGateway } from "./support/gateway.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const fixtures = JSON.parse(readFileSync(`${root}core/tests/data/jose-fixtures.json`, "utf8"));
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];

describe("WebCrypto backend in workerd", () => {
  let harness;
  before(async () => {
    harness = await startGateway({ buildDir: "tests/crypto-worker/build" });
  });
  after(() => harness?.close());

  async function post(path, body) {
    const res = await harness.fetch(path, { method: "POST", body: JSON.stringify(body) });
    assert.equal(res.status, 200, await res.clone().text());
    return res.json();
  }

  test("tokens minted now by jose verify for every algorithm; tampering fails", async () => {
    const keys = [];
    const tokens = [];
    const now = Math.floor(Date.now() / 1000);
    for (const alg of ALGORITHMS) {
      const { privateKey, publicKey } = await generateKeyPair(alg, { extractable: true, ...(alg === "EdDSA" ? { crv: "Ed25519" } : {}) });
      const kid = `live-${alg}`;
      keys.push({ ...(await exportJWK(publicKey)), kid, alg });
      const token = await new SignJWT({ sub: `sub-${alg}` })
        .setProtectedHeader({ alg, kid })
        .setIssuer("https://issuer.live")
        .setAudience("orders")
        .setIssuedAt(now)
        .setExpirationTime(now + 600)
        .sign(privateKey);
      tokens.push(token);
      const [h, p, s] = token.split(".");
      const flipped = Buffer.from(s, "base64url");
      flipped[0] ^= 1;
      tokens.push(`${h}.${p}.${flipped.toString("base64url")}`);
    }
    const { results } = await post("/tokens", { jwks: { keys }, issuer: "https://issuer.live", audience: "orders", now, tokens });
    ALGORITHMS.forEach((alg, i) => {
      assert.deepEqual(results[2 * i], { result: "accepted", sub: `sub-${alg}` }, alg);
      assert.deepEqual(results[2 * i + 1], { result: "bad_signature" }, `${alg} tampered`);
    });
  });

  test("the jose fixtures and every attack get the same answer as natively", async () => {
    const body = {
      jwks: fixtures.jwks,
      issuer: fixtures.issuer,
      audience: fixtures.audience,
      now: fixtures.iat + 10,
      tokens: [...fixtures.tokens.map((t) => t.token), ...fixtures.attacks.map((a) => a.token)],
    };
    const { results, imported_keys: imported } = await post("/tokens", body);
    fixtures.tokens.forEach((t, i) => assert.equal(results[i].result, "accepted", t.name));
    fixtures.attacks.forEach((a, i) => assert.equal(results[fixtures.tokens.length + i].result, a.code, a.name));
    assert.ok(imported >= ALGORITHMS.length, `keys are kept once imported (${imported})`);
  });
});
