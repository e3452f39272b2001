// `wrangler deploy --dry-run` must succeed offline: the deploy configuration is valid and builds.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { test } from "node:test";
import { promisify } from "node:util";

const root = fileURLToPath(new URL("../", import.meta.url));

test("wrangler deploy --dry-run builds and lists the KV binding, cron-ready vars", { timeout: 300_000 }, async () => {
  const outdir = await mkdtemp(join(tmpdir(), "edge-jwt-dryrun-"));
  try {
    const { stdout } = await promisify(execFile)(`${root}node_modules/.bin/wrangler`, ["deploy", "--dry-run", "--outdir", outdir], {
      cwd: root,
      env: { ...process.env, WRANGLER_SEND_METRICS: "false" },
      timeout: 280_000,
      maxBuffer: 16 * 1024 * 1024,
    });
    assert.match(stdout, /env\.JWKS_CACHE\b.*KV Namespace/);
    assert.match(stdout, /env\.JWT_AUTHORITY\b/);
    assert.match(stdout, /--dry-run: exiting now\./);
    const files = await readdir(outdir);
    assert.ok(files.some((f) => f.endsWith(".wasm")), `no wasm module in ${files}`);
  } finally {
    await rm(outdir, { recursive: true, force: true });
  }
});
