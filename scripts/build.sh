#!/usr/bin/env bash
# Builds the Worker bundle into build/ (index.js + the wasm module) with the pinned toolchain.
# wrangler.toml's [build] command runs this, so `wrangler dev` and `wrangler deploy` build the same way.
# With an argument, builds the Worker crate in that directory instead (the test harness:
# `bash scripts/build.sh tests/crypto-worker` writes tests/crypto-worker/build/).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
. scripts/env.sh
cd "${1:-.}"
worker-build --release

# wasm-opt, run here rather than by worker-build (its metadata in Cargo.toml turns it off there):
# worker-build always adds --debuginfo, which keeps the names section, a sixth of the module. The
# features are the ones workerd supports, as worker-build enables them.
# -Oz: measured against -O3 in docs/decisions/0006-bundle-size.md (smaller, and not slower).
# EDGE_JWT_WASM_NAMES=1 keeps the function names (for `node bench/profile.mjs`).
names=(--strip-debug)
[ "${EDGE_JWT_WASM_NAMES:-0}" = 1 ] && names=(--debuginfo)
wasm-opt "${EDGE_JWT_WASM_OPT:--Oz}" "${names[@]}" --strip-producers \
  --enable-mutable-globals --enable-sign-ext --enable-nontrapping-float-to-int \
  --enable-bulk-memory --enable-multivalue --enable-reference-types --enable-exception-handling \
  build/index_bg.wasm -o build/index_bg.wasm
