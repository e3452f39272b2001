// Differential tests: the WebCrypto backend inside workerd (through the crypto test harness
// Worker, which runs the gateway's shared checks) must decide exactly as the native RustCrypto
// backend does, case by case, on the same vectors.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { after, before, describe, test } from "node:test";
import { exportJWK, generateKeyPair, SignJWT } from "jose";
import { startGateway } from "./support/gateway.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const fixtures = JSON.parse(readFileSync(`${root}core/tests/data/jose-fixtures.json`, "utf8"));
const execFileAsync = promisify(execFile);
const ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA"];
// Vectors per /vectors request, and the fewest Wycheproof vectors each family must have, so the
// differential test cannot pass by comparing nothing (the native test asserts the same minima).
const VECTOR_BATCH = 300;
const MIN_VECTORS = { ecdsa: 500, rsa_pkcs1: 2000, rsa_pss: 900, ed25519: 140 };

/**
 * The Wycheproof vectors of core/tests/wycheproof.rs, each with the result the native backend
 * gives it through the same steps as the harness (core/examples/wycheproof_export.rs).
 */
async function exportWycheproof() {
  const dir = mkdtempSync(join(tmpdir(), "edge-jwt-wycheproof-"));
  const out = join(dir, "cases.json");
  try {
    await execFileAsync(
      "cargo",
      ["run", "--quiet", "--release", "-p", "edge-jwt-core", "--example", "wycheproof_export", "--", out],
      { cwd: root, timeout: 600_000, maxBuffer: 64 * 1024 * 1024 },
    );
    return JSON.parse(readFileSync(out, "utf8"));
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

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

  test("every Wycheproof vector gets the same result in workerd as natively", { timeout: 900_000 }, async () => {
    const cases = await exportWycheproof();
    const workerd = new Map();
    for (let i = 0; i < cases.length; i += VECTOR_BATCH) {
      const batch = cases.slice(i, i + VECTOR_BATCH).map(({ id, alg, jwk, msg, sig }) => ({ id, alg, jwk, msg, sig }));
      const { results } = await post("/vectors", batch);
      assert.equal(results.length, batch.length, `batch at ${i}: one result per vector`);
      results.forEach((r, j) => {
        assert.equal(r.id, batch[j].id, `batch at ${i}: results in order`);
        workerd.set(r.id, r.result);
      });
    }
    assert.equal(workerd.size, cases.length, "case ids are unique");

    const mismatches = [];
    const wrong = [];
    const families = {};
    for (const c of cases) {
      const got = workerd.get(c.id);
      const f = (families[c.family] ??= { count: 0, valid: 0, invalid: 0, mustReject: 0, accAccepted: 0, accRejected: 0, differ: 0 });
      f.count += 1;
      if (got !== c.native) {
        f.differ += 1;
        mismatches.push(`${c.id} (${c.expected}): workerd ${got}, native ${c.native}`);
      }
      if (c.expected === "valid" && got !== "valid") wrong.push(`${c.id}: valid vector, workerd ${got}`);
      if ((c.expected === "invalid" || c.expected === "must_reject") && got === "valid") {
        wrong.push(`${c.id}: ${c.expected} vector accepted by workerd`);
      }
      if (c.expected === "valid") f.valid += 1;
      if (c.expected === "invalid") f.invalid += 1;
      if (c.expected === "must_reject") f.mustReject += 1;
      if (c.expected === "acceptable") got === "valid" ? (f.accAccepted += 1) : (f.accRejected += 1);
    }
    for (const [family, f] of Object.entries(families)) {
      console.log(
        `wycheproof ${family}: ${f.count} vectors (valid ${f.valid}, invalid ${f.invalid}, must_reject ${f.mustReject}, ` +
          `acceptable accepted ${f.accAccepted} / rejected ${f.accRejected} in workerd); workerd and native differ on ${f.differ}`,
      );
    }
    const show = (list) => list.slice(0, 20).join("\n") + (list.length > 20 ? `\n... and ${list.length - 20} more` : "");
    assert.deepEqual(mismatches, [], `${mismatches.length} vectors differ between workerd and native:\n${show(mismatches)}`);
    assert.deepEqual(wrong, [], `${wrong.length} vectors decided against Wycheproof:\n${show(wrong)}`);
    for (const [family, min] of Object.entries(MIN_VECTORS)) {
      const f = families[family];
      assert.ok(f && f.count >= min, `${family}: ${f?.count ?? 0} vectors, expected at least ${min}`);
      assert.ok(f.valid > 0 && f.invalid > 0, `${family}: needs valid and invalid vectors`);
    }
  });
});
