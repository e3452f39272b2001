// The wasm that V8 compiles for a fresh gateway isolate's first token request (KV warm), from V8's
// own log: V8 compiles each wasm function on its first call, and in a fresh isolate that
// compilation is most of the first request (docs/decisions/0010-cold-start.md). A first workerd
// fills a persisted KV directory; a second starts on it with `--trace-wasm-compilation-times`
// set in its configuration (bench/v8-flags.mjs), and what it logs during one token request is
// summed and listed: how many functions, their bytes of body, and the largest of them, named when
// the bundle has a names section (build it with `EDGE_JWT_WASM_NAMES=1 npm run build`).
//   node bench/cold-compiled.mjs [buildDir]   (default: build; COLD_COMPILED_TOP: 30 largest)
//   node bench/cold-compiled.mjs rust-floor   (the Rust floor of bench/workers/rust-floor, as
//     built last: `EDGE_JWT_WASM_NAMES=1 bash scripts/build.sh bench/workers/rust-floor` names it)
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startIssuer } from "../demo/issuer.mjs";
import { startOrigin } from "../demo/origin.mjs";
import { DIRECT_SOCKET, startGateway } from "../tests/support/gateway.mjs";
import { gatewayVars } from "../tests/support/stack.mjs";
import { fillKv, RUST_FLOOR_BUILD, rustFloorStarter } from "./references.mjs";

const root = fileURLToPath(new URL("../", import.meta.url));
const floor = process.argv[2] === "rust-floor";
const buildDir = floor ? RUST_FLOOR_BUILD : (process.argv[2] ?? "build");
const top = Number(process.env.COLD_COMPILED_TOP ?? 30);
if (!Number.isInteger(top) || top < 0 || top > 10_000) throw new Error("COLD_COMPILED_TOP must be an integer in 0..10000");

/** The function names of a wasm module's name section (absolute function index to name), if it has one. */
function functionNames(bytes) {
  const names = new Map();
  let at = 8;
  const leb = () => {
    let value = 0;
    let shift = 0;
    for (;;) {
      const byte = bytes[at++];
      value += (byte & 0x7f) * 2 ** shift;
      shift += 7;
      if (byte < 0x80) return value;
    }
  };
  const text = (length) => {
    const s = new TextDecoder().decode(bytes.subarray(at, at + length));
    at += length;
    return s;
  };
  while (at < bytes.length) {
    const id = bytes[at++];
    const end = leb() + at;
    if (id === 0 && text(leb()) === "name") {
      while (at < end) {
        const sub = bytes[at++];
        const subEnd = leb() + at;
        if (sub === 1) {
          for (let n = leb(); n > 0; n -= 1) {
            const index = leb();
            names.set(index, text(leb()));
          }
        }
        at = subEnd;
      }
    }
    at = end;
  }
  return names;
}

const issuer = await startIssuer({ alg: "RS256" });
const origin = await startOrigin();
const dir = mkdtempSync(join(tmpdir(), "edge-jwt-cold-compiled-"));
const log = join(dir, "v8.log");
let gateway;
try {
  const vars = gatewayVars(issuer, origin, { LOG_LEVEL: "error" });
  const [first, second] = await Promise.all([issuer.mint({ sub: "fill" }), issuer.mint({ sub: "cold" })]);
  const request = async (w, token) => {
    const res = await fetch(new URL("/orders/1", await w.mf.unsafeGetDirectURL()), { headers: { authorization: `Bearer ${token}` } });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`the token request was answered ${res.status}`);
  };
  const start = floor ? rustFloorStarter(issuer, origin) : (kvPersist) => startGateway({ vars, kvPersist, buildDir, miniflare: DIRECT_SOCKET });
  await fillKv(start, dir, first);

  // workerd reads its configuration (written by Miniflare) from stdin: the flag is set in it, and
  // V8's log (workerd's stdout) goes to a file.
  const wrapper = join(dir, "workerd.sh");
  const workerd = `${root}node_modules/@cloudflare/workerd-linux-64/bin/workerd`;
  writeFileSync(
    wrapper,
    [
      "#!/bin/sh",
      `node "${root}bench/v8-flags.mjs" --trace-wasm-compilation-times > "${dir}/config.bin" || exit 1`,
      `exec "${workerd}" "$@" < "${dir}/config.bin" > "${log}"`,
      "",
    ].join("\n"),
    { mode: 0o755 },
  );
  process.env.MINIFLARE_WORKERD_PATH = wrapper;
  try {
    gateway = await start(dir);
  } finally {
    delete process.env.MINIFLARE_WORKERD_PATH;
  }
  await new Promise((r) => setTimeout(r, 200));
  const before = readFileSync(log).length;
  await request(gateway, second);
  await new Promise((r) => setTimeout(r, 200));
  const during = readFileSync(log).subarray(before).toString("utf8");

  const names = functionNames(readFileSync(join(root, buildDir, "index_bg.wasm")));
  const compiled = [...during.matchAll(/#(\d+) using \w+, took (\d+) μs and \d+ bytes; bodysize (\d+)/g)].map((m) => ({
    index: Number(m[1]),
    us: Number(m[2]),
    body: Number(m[3]),
  }));
  const bytes = compiled.reduce((sum, f) => sum + f.body, 0);
  const us = compiled.reduce((sum, f) => sum + f.us, 0);
  console.log(`${buildDir}: the first token request compiled ${compiled.length} wasm functions, ${bytes} bytes of body (${(us / 1000).toFixed(1)} ms by V8's log, which its logging slows)`);
  if (names.size === 0) console.log("(no names section: build with EDGE_JWT_WASM_NAMES=1 for names)");
  console.log("\n| bytes | function |\n|---:|---|");
  for (const f of [...compiled].sort((a, b) => b.body - a.body).slice(0, top)) {
    const name = (names.get(f.index) ?? `function ${f.index}`).replace(/::h[0-9a-f]{16}$/, "");
    console.log(`| ${f.body} | \`${name.replaceAll("|", "\\|")}\` |`);
  }
} finally {
  await gateway?.close();
  await origin.close();
  await issuer.close();
  rmSync(dir, { recursive: true, force: true });
}
