// `npm run check-config -- --env NAME`, as the README's deploy checklist runs it: every problem
// of an environment named by its variable, a non-zero exit status, and a note on the secrets.
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { fileURLToPath } from "node:url";
import { test } from "node:test";

const root = fileURLToPath(new URL("../", import.meta.url));
const data = "check-config/tests/data";

/** Runs `npm run check-config -- ...args`; resolves to { code, stdout, stderr }. */
function checkConfig(...args) {
  return new Promise((resolve) => {
    execFile("npm", ["run", "--silent", "check-config", "--", ...args], { cwd: root, timeout: 600_000 }, (error, stdout, stderr) => {
      resolve({ code: error ? error.code : 0, stdout, stderr });
    });
  });
}

test("an environment with problems: each is printed with its variable, exit status 1", { timeout: 600_000 }, async () => {
  const { code, stdout } = await checkConfig("--env", "production", "--config", `${data}/invalid.toml`);
  assert.equal(code, 1, stdout);
  const named = stdout
    .split("\n")
    .filter((line) => line.startsWith("  problem: "))
    .map((line) => line.slice("  problem: ".length).split(":")[0]);
  assert.deepEqual(named, ["JWT_AUDIENCES", "STATUS_TOKEN", "JWT_AUTHORITY", "JWT_AUDIENCE", "JWT_CLOCK_SKEW_SECONDS", "CLAIM_HEADERS", "JWKS_CACHE"]);
  assert.match(stdout, /JWT_CLOCK_SKEW_SECONDS: expected a whole number of seconds from 0 to 600, found a number \(1\.5\)/);
  assert.doesNotMatch(stdout, /do-not-put-secrets-here/);
});

test("a valid environment: exit status 0, and the secrets are said to be unchecked", { timeout: 600_000 }, async () => {
  const { code, stdout } = await checkConfig("--env", "production", "--config", `${data}/valid.toml`);
  assert.equal(code, 0, stdout);
  assert.match(stdout, /note: STATUS_TOKEN, ORIGIN_AUTH_SECRET: secrets, not in wrangler\.toml, so not checked here/);
  assert.match(stdout, /check-config: no problem/);
});

test("the repository's wrangler.toml: each environment is read (its values are the user's)", { timeout: 600_000 }, async () => {
  for (const env of ["staging", "production"]) {
    const { code, stdout, stderr } = await checkConfig("--env", env);
    // 0 once the required variables are filled in, 1 before: never unreadable.
    assert.ok(code === 0 || code === 1, `${env}: exit ${code}\n${stdout}${stderr}`);
    assert.match(stdout, new RegExp(`environment "${env}" \\(\\[env\\.${env}\\] of wrangler\\.toml\\)`));
    assert.doesNotMatch(stdout, /not a variable the gateway reads|problem: JWKS_CACHE: /, stdout);
  }
  const { code, stderr } = await checkConfig("--env", "prod");
  assert.equal(code, 2);
  assert.match(stderr, /no \[env\.prod\]/);
});
