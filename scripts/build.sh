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
exec worker-build --release
