// `wrangler deploy --dry-run --env staging|production` must succeed offline: each environment's
// configuration is valid for wrangler, builds, and has its own bindings (vars and kv_namespaces
// are not inherited from the top level).
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../", import.meta.url));

async function dryRun(env, config = []) {
  const outdir = await mkdtemp(join(tmpdir(), `edge-jwt-dryrun-${env}-`));
  try {
    const { stdout } = await promisify(execFile)(`${root}node_modules/.bin/wrangler`, ["deploy", "--dry-run", "--env", env, "--outdir", outdir, ...config], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      timeout: 280_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    return { stdout, files: await readdir(outdir) };
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
}

for (const env of ["staging", "production"]) {
  test(`wrangler deploy --dry-run --env ${env}: builds, binds its own KV namespace and vars`, { timeout: 300_000 }, async () => {
    const { stdout, files } = await dryRun(env);
    assert.match(stdout, /env\.JWKS_CACHE\b.*KV Namespace/);
    for (const name of ["JWT_AUTHORITY", "JWT_AUDIENCE", "ORIGIN_URL"]) {
      assert.match(stdout, new RegExp(`env\\.${name}\\b.*Environment Variable`), name);
    }
    // Only the environment's own vars: the top level's full list is not inherited.
    assert.doesNotMatch(stdout, /env\.JWKS_MAX_STALE_SECONDS\b/);
    // Secrets are never in wrangler.toml.
    assert.doesNotMatch(stdout, /env\.(STATUS_TOKEN|ORIGIN_AUTH_SECRET)\b/);
    assert.match(stdout, /--dry-run: exiting now\./);
    assert.ok(files.some((f) => f.endsWith(".wasm")), `no wasm module in ${files}`);
  });
}

test("the commented METRICS example of an environment binds an Analytics Engine dataset", { timeout: 300_000 }, async () => {
  const text = await readFile(`${root}wrangler.toml`, "utf8");
  const example = /^# (\[\[env\.production\.analytics_engine_datasets\]\])\n# (binding = "METRICS")\n# (dataset = "[a-z_]+")$/m;
  assert.match(text, example, "wrangler.toml has the commented example in [env.production]");
  // The example uncommented, in a copy that reuses the bundle the dry runs above built.
  const uncommented = text
    .replace(example, "$1\n$2\n$3")
    .replace(/^main = "build\/index\.js"$/m, `main = ${JSON.stringify(`${root}build/index.js`)}`)
    .replace(/^command = "bash scripts\/build\.sh"$/m, 'command = "true"');
  const dir = await mkdtemp(join(tmpdir(), "edge-jwt-metrics-config-"));
  try {
    await writeFile(join(dir, "wrangler.toml"), uncommented);
    const { stdout } = await dryRun("production", ["--config", join(dir, "wrangler.toml")]);
    assert.match(stdout, /env\.METRICS \(edge_jwt_production\)\s+Analytics Engine Dataset/);
    assert.match(stdout, /env\.JWKS_CACHE\b.*KV Namespace/);
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
