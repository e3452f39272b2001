// A Worker's workerd under Valgrind's callgrind, for the instruction counts of
// bench/instructions.mjs and bench/cold-instructions.mjs. Miniflare runs the program named by
// MINIFLARE_WORKERD_PATH: here a script that records its process id and execs workerd under
// callgrind, with V8 flags set in the configuration Miniflare writes to workerd's stdin
// (bench/v8-flags.mjs) when there are any.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const root = fileURLToPath(new URL("../", import.meta.url));
const workerd = `${root}node_modules/@cloudflare/workerd-linux-64/bin/workerd`;

/** Throws with the install hint when Valgrind is missing; `script` names the caller. */
export function requireValgrind(script) {
  try {
    execFileSync("valgrind", ["--version"], { stdio: "ignore" });
  } catch {
    throw new Error(`${script} needs valgrind (Debian: apt-get install valgrind)`);
  }
}

/**
 * `start()` (a starter of bench/references.mjs or tests/support/gateway.mjs) with its workerd under
 * callgrind, in a new folder of `work`: V8's `v8Flags` (none: V8's defaults) and `valgrindArgs`
 * (before callgrind's own) apply. Returns the Worker (`w`), its URL, and `zero()` and `dump()`,
 * which zero the counters and dump them; `dump()` answers the newest dump's path, and `dumps()`
 * every dump's.
 */
export async function underCallgrind({ name, start, work, v8Flags = [], valgrindArgs = "" }) {
  const dir = mkdtempSync(join(work, `${name.replaceAll("/", "_")}-`));
  const wrapper = join(dir, "workerd.sh");
  const withFlags = v8Flags.length > 0;
  writeFileSync(
    wrapper,
    [
      "#!/bin/sh",
      `echo $$ > "${dir}/pid"`,
      // Miniflare writes the configuration to stdin ("-"): the V8 flags are set in it.
      ...(withFlags ? [`node "${root}bench/v8-flags.mjs" ${v8Flags.map((f) => `'${f}'`).join(" ")} > "${dir}/config.bin" || exit 1`] : []),
      `exec valgrind --tool=callgrind ${valgrindArgs}--smc-check=all-non-file -q --callgrind-out-file="${dir}/out.%p" "${workerd}" "$@"${withFlags ? ` < "${dir}/config.bin"` : ""}`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  const previous = process.env.MINIFLARE_WORKERD_PATH;
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
  let w;
  try {
    w = await start();
  } finally {
    if (previous === undefined) delete process.env.MINIFLARE_WORKERD_PATH;
    else process.env.MINIFLARE_WORKERD_PATH = previous;
  }
  const pid = readFileSync(join(dir, "pid"), "utf8").trim();
  const control = (flag) => execFileSync("callgrind_control", [flag, pid], { stdio: "ignore" });
  const dumps = () =>
    readdirSync(dir)
      .filter((f) => f.startsWith(`out.${pid}.`))
      .map((f) => join(dir, f))
      .sort((a, b) => statSync(b).mtimeMs - statSync(a).mtimeMs);
  return {
    w,
    pid,
    url: await w.mf.unsafeGetDirectURL(),
    zero: () => control("-z"),
    dump: () => {
      control("-d");
      return dumps()[0];
    },
    dumps,
  };
}
