// Differential tests: the WebCrypto backend inside workerd (through the crypto test harness
// Worker, which runs the gateway's shared checks) must decide exactly as the native RustCrypto
// backend does, case by case, on the same vectors.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { generateKeyPairSync, sign } from "node:crypto";
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
 * The y-coordinates (little-endian hex) of the eight Ed25519 points of small order: 0 (order 4),
 * 1 (the identity), p - 1 (order 2) and two of order 8. The same table as `SMALL_ORDER_Y` in
 * core/src/jws/jwk.rs, which a native test derives from curve25519-dalek's EIGHT_TORSION.
 */
const SMALL_ORDER_Y = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05",
  "c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a",
];
/** y + p for y = 0 and 1: the points 0 and 1 again, encoded non-canonically. */
const NON_CANONICAL_Y = [
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
];
const IDENTITY = Buffer.from(SMALL_ORDER_Y[1], "hex");

/** Every encoding of `ys`, with the sign bit of x clear and set. */
function withBothSigns(ys) {
  return ys.flatMap((hex) => {
    const clear = Buffer.from(hex, "hex");
    const set = Buffer.from(clear);
    set[31] |= 0x80;
    return [clear, set];
  });
}

/** The forgery that works with the identity as the public key: R = the identity, S = 0. */
const FORGED_SIGNATURE = Buffer.concat([IDENTITY, Buffer.alloc(32)]);

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

  // A panic goes through Rust's panic handler; a bare `unreachable` trap does not (only the entry
  // module notices it, src/entry.js).
  for (const [path, what] of [
    ["/panic", "a panic"],
    ["/trap", "a bare unreachable trap, no panic"],
  ]) {
    test(`after ${what} (state left borrowed) the next requests get a new instance of the module`, async () => {
      const crashed = await harness.fetch(path, { method: "POST", body: "{}" }).then(
        (res) => res.status,
        (error) => error.message,
      );
      assert.notEqual(crashed, 200, `the request that met ${what} fails`);
      for (let i = 0; i < 3; i += 1) {
        const { results } = await post("/vectors", []);
        assert.deepEqual(results, [], `request ${i} after ${what}`);
      }
    });
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

  test("Ed25519 keys of small order: WebCrypto takes a forgery with a raw one; import refuses every one", async () => {
    const weak = [...withBothSigns(SMALL_ORDER_Y), ...withBothSigns(NON_CANONICAL_Y)];
    assert.equal(weak.length, 14);
    const messages = ["e30.eyJzdWIiOiJhZG1pbiJ9", "any message at all"].map((m) => Buffer.from(m));

    // (a) Why the check exists: with the identity as a raw key (no JWK import, no shared check)
    // WebCrypto (BoringSSL) accepts R = identity, S = 0 on any message; RustCrypto does not.
    const raw = weak.flatMap((x, i) =>
      messages.map((msg, j) => ({ id: `${i}/${j}`, x: x.toString("base64url"), msg: msg.toString("base64url"), sig: FORGED_SIGNATURE.toString("base64url") })),
    );
    const { results: rawResults } = await post("/raw-ed25519", raw);
    const byKey = new Map();
    rawResults.forEach((r, n) => byKey.set(raw[n].x, [...(byKey.get(raw[n].x) ?? []), `${r.webcrypto}/${r.native}`]));
    for (const [x, outcomes] of byKey) console.log(`raw Ed25519 key ${x}: webcrypto/native ${outcomes.join(", ")}`);
    const identity = rawResults.filter((r, n) => raw[n].x === IDENTITY.toString("base64url"));
    assert.equal(identity.length, messages.length);
    for (const r of identity) {
      assert.equal(r.webcrypto, "valid", "WebCrypto accepts the forged signature with the raw identity key");
      assert.notEqual(r.native, "valid", "RustCrypto's verify_strict refuses it");
    }
    assert.ok(rawResults.every((r) => r.native !== "valid"), JSON.stringify(rawResults));

    // (b) Through the gateway's own path (JWK import first) every such key is refused in workerd,
    // before either backend sees it, so both answer alike.
    const vectors = weak.map((x, i) => ({
      id: `weak-${i}`,
      alg: "EdDSA",
      jwk: { kty: "OKP", crv: "Ed25519", x: x.toString("base64url") },
      msg: messages[0].toString("base64url"),
      sig: FORGED_SIGNATURE.toString("base64url"),
    }));
    const { results } = await post("/vectors", vectors);
    results.forEach((r, i) => {
      assert.equal(r.id, vectors[i].id);
      assert.match(r.result, /^key_rejected: Ed25519 public key is a point of small order or is not canonically encoded$/, vectors[i].jwk.x);
    });
  });

  test("EC points not on their curve: WebCrypto's importKey refuses every one (the Worker has no curve check)", async () => {
    // The field primes of P-256 and P-384 (SEC 2 sections 2.4.2 / 2.5.1): not field elements.
    const PRIMES = {
      "P-256": "ffffffff00000001000000000000000000000000ffffffffffffffffffffffff",
      "P-384": "fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffeffffffff0000000000000000ffffffff",
    };
    const vectors = [];
    for (const [alg, hash, crv] of [["ES256", "sha256", "P-256"], ["ES384", "sha384", "P-384"]]) {
      const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: crv });
      const jwk = publicKey.export({ format: "jwk" });
      const msg = Buffer.from("e30.eyJzdWIiOiJhZG1pbiJ9");
      const sig = sign(hash, msg, { key: privateKey, dsaEncoding: "ieee-p1363" });
      const x = Buffer.from(jwk.x, "base64url");
      const y = Buffer.from(jwk.y, "base64url");
      const flipped = (buf, at, bit) => {
        const out = Buffer.from(buf);
        out[at] ^= bit;
        return out;
      };
      const prime = Buffer.from(PRIMES[crv], "hex");
      const shapes = {
        genuine: [x, y],
        "y low bit flipped": [x, flipped(y, y.length - 1, 1)],
        "x high bit flipped": [flipped(x, 0, 0x80), y],
        "all-zero point": [Buffer.alloc(x.length), Buffer.alloc(y.length)],
        "x = p": [prime, y],
        "y = p": [x, prime],
      };
      for (const [shape, [px, py]] of Object.entries(shapes)) {
        vectors.push({ id: `${crv} ${shape}`, alg, crv, x: px.toString("base64url"), y: py.toString("base64url"), msg: msg.toString("base64url"), sig: sig.toString("base64url") });
      }
    }
    const { results } = await post("/raw-ec", vectors);
    assert.equal(results.length, vectors.length);
    for (const [i, r] of results.entries()) {
      assert.equal(r.id, vectors[i].id);
      if (r.id.endsWith("genuine")) assert.equal(r.webcrypto, "valid", r.id);
      else assert.match(r.webcrypto, /^backend_error: /, `${r.id}: ${r.webcrypto}`);
    }
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
