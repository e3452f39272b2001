#!/usr/bin/env bash
# Builds the Worker bundle into build/ (index.js + the wasm module) with the pinned toolchain.
# wrangler.toml's [build] command runs this, so `wrangler dev` and `wrangler deploy` build the same way.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
bash scripts/bootstrap.sh
. scripts/env.sh
exec worker-build --release
