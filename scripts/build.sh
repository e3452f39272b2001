#!/usr/bin/env bash
# Builds the Worker bundle into build/ (index.js + the wasm module) with the pinned toolchain.
# wrangler.toml's [build] command runs this, so `wrangler dev` and `wrangler deploy` build the same way.
# With an argument, builds the Worker crate in that directory instead (the test harness:
# `bash scripts/build.sh tests/crypto-worker` writes tests/crypto-worker/build/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
. scripts/env.sh
# The bundle's entry module is src/entry.js, not worker-build's (scripts/esbuild.sh).
export ESBUILD_BIN="$PWD/scripts/esbuild.sh"
cd "${1:-.}"
# SHA-256 (key thumbprints, KV record names: nothing per request since ADR 0012) in sha2's
# compact form, not its unrolled one: 1.6 KiB less gzip'd (docs/decisions/0006). Only for the
# wasm target: native builds keep the unrolled form.
# Wasm SIMD (128-bit), which workerd's V8 runs: the byte scans of every request (memchr's search
# for the bearer token's separators) and the compiler's vectorised loops use it (ADR 0006).
export CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS="${CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS:-} --cfg sha2_backend_soft=\"compact\" -C target-feature=+simd128"
worker-build --release

# wasm-opt, run here rather than by worker-build (its metadata in Cargo.toml turns it off there):
# worker-build always adds --debuginfo, which keeps the names section, a sixth of the module. The
# features are the ones workerd supports, as worker-build enables them, and SIMD (above).
# -Oz: measured against -O3 in docs/decisions/0006-bundle-size.md (smaller, and not slower).
# --one-caller-inline-max-function-size=40: a function with one caller is merged into that
# caller only when its body is 40 bytes or less (wasm-opt merges any size by default). Merged at
# any size, the once-per-isolate configuration code sat inside the accessor every request calls,
# and the key cache's rare paths inside the verify task: a fresh isolate compiles each function
# it calls in full, so the first request compiled them all (0 here was also 6 KiB smaller
# gzip'd, docs/decisions/0006). Small ones are merged: V8 pays a fixed cost for each function it
# compiles, and 40 took a fresh isolate's first request from 55.3 to 52.7 million instructions
# for 0.5 KiB (80: 52.0 for 1.9 KiB; docs/decisions/0010-cold-start.md).
# --always-inline-max-function-size=8 (wasm-opt's default is 2): functions of up to 8 bytes are
# merged into their callers. V8 pays a fixed cost for each function it compiles on first call,
# and a fresh isolate's first request called some hundred such tiny functions: 3% fewer of its
# instructions for 0.6 KiB (16: 4.5%, for 4.5 KiB; docs/decisions/0010-cold-start.md).
# EDGE_JWT_WASM_OPT replaces these flags (words split on spaces), to measure others.
# EDGE_JWT_WASM_NAMES=1 keeps the function names (for `node bench/profile.mjs`).
read -r -a opt <<< "${EDGE_JWT_WASM_OPT:--Oz --one-caller-inline-max-function-size=40 --always-inline-max-function-size=8}"
names=(--strip-debug)
[ "${EDGE_JWT_WASM_NAMES:-0}" = 1 ] && names=(--debuginfo)
wasm-opt "${opt[@]}" "${names[@]}" --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
  --enable-simd \
  build/index_bg.wasm -o build/index_bg.wasm
