// Signature verification cost per algorithm, side by side in one run:
//   - RustCrypto natively (cargo example verify_bench), and node:crypto (OpenSSL) as a reference;
//   - inside workerd (the crypto test harness Worker): WebCrypto, and RustCrypto compiled to wasm.
// workerd's clock stands still while a request computes, so in-workerd costs are timed from
// outside: (time of a request doing N verifications - time of one doing 0) / N, median of rounds.
// Writes bench/results/verify.json and prints a markdown table.
import { execFileSync } from "node:child_process";
import { createPublicKey, constants, verify } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { startGateway } from "../tests/support/gateway.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const fixtures = JSON.parse(readFileSync(`${root}core/tests/data/jose-fixtures.json`, "utf8"));
const ROUNDS = 5;
const BUDGET_MS = 300;

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];

function cases() {
  return fixtures.tokens
    .filter((t) => t.name === `${t.alg} minted by jose`)
    .map((t) => {
      const [h, p, s] = t.token.split(".");
      const jwk = fixtures.jwks.keys.find((k) => k.kid === t.kid);
      return { alg: t.alg, jwk, msg: `${h}.${p}`, sig: s };
    });
}

function nodeVerifyUs({ alg, jwk, msg, sig }) {
  const key = createPublicKey({ key: jwk, format: "jwk" });
  const data = Buffer.from(msg);
  const signature = Buffer.from(sig, "base64url");
  const hash = alg === "EdDSA" ? null : `sha${alg.slice(2)}`;
  const options = alg.startsWith("PS")
    ? { key, padding: constants.RSA_PKCS1_PSS_PADDING, saltLength: Number(alg.slice(2)) / 8 }
    : alg.startsWith("ES")
      ? { key, dsaEncoding: "ieee-p1363" }
      : key;
  if (!verify(hash, data, options, signature)) throw new Error(`node:crypto rejects the ${alg} fixture`);
  const start = process.hrtime.bigint();
  let n = 0;
  while (Number(process.hrtime.bigint() - start) / 1e6 < BUDGET_MS && n < 100_000) {
    verify(hash, data, options, signature);
    n += 1;
  }
  return Number(process.hrtime.bigint() - start) / 1e3 / n;
}

async function workerdUs(harness, backend, c, iterations) {
  const run = async (n) => {
    const body = JSON.stringify({ backend, alg: c.alg, jwk: c.jwk, msg: Buffer.from(c.msg).toString("base64url"), sig: c.sig, iterations: n });
    const start = process.hrtime.bigint();
    const res = await harness.fetch("/bench", { method: "POST", body });
    const { results } = await res.json();
    const elapsed = Number(process.hrtime.bigint() - start) / 1e3;
    if (results[0].valid !== n) throw new Error(`${backend} ${c.alg}: ${results[0].valid}/${n} valid`);
    return elapsed;
  };
  await run(1); // imports the key, warms the code
  const samples = [];
  for (let round = 0; round < ROUNDS; round += 1) {
    const base = await run(0);
    samples.push(((await run(iterations)) - base) / iterations);
  }
  return median(samples);
}

console.error("building the crypto harness and the native benchmark…");
execFileSync("bash", ["scripts/build.sh", "tests/crypto-worker"], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
const native = JSON.parse(
  execFileSync("cargo", ["run", "--release", "--quiet", "-p", "edge-jwt-core", "--example", "verify_bench", "--", "--json"], { cwd: root, encoding: "utf8" }),
);

const harness = await startGateway({ buildDir: "tests/crypto-worker/build" });
const rows = [];
try {
  for (const c of cases()) {
    const rustcryptoWasm = await workerdUs(harness, "rustcrypto", c, c.alg === "EdDSA" ? 200 : 50);
    const webcrypto = await workerdUs(harness, "webcrypto", c, 500);
    const n = native.find((r) => r.alg === c.alg);
    rows.push({
      alg: c.alg,
      rustcrypto_native_us: n.backend_us,
      pipeline_native_us: n.pipeline_us,
      node_crypto_us: nodeVerifyUs(c),
      webcrypto_workerd_us: webcrypto,
      rustcrypto_wasm_workerd_us: rustcryptoWasm,
    });
  }
} finally {
  await harness.close();
}

mkdirSync(`${root}bench/results`, { recursive: true });
writeFileSync(`${root}bench/results/verify.json`, `${JSON.stringify({ date: new Date().toISOString(), rows }, null, 2)}\n`);
const f = (x) => x.toFixed(1);
console.log("| alg | RustCrypto native µs | node:crypto µs (ref) | WebCrypto in workerd µs | RustCrypto wasm in workerd µs | wasm-RustCrypto / WebCrypto |");
console.log("|---|---:|---:|---:|---:|---:|");
for (const r of rows) {
  console.log(`| ${r.alg} | ${f(r.rustcrypto_native_us)} | ${f(r.node_crypto_us)} | ${f(r.webcrypto_workerd_us)} | ${f(r.rustcrypto_wasm_workerd_us)} | ${(r.rustcrypto_wasm_workerd_us / r.webcrypto_workerd_us).toFixed(1)}x |`);
}
