#!/usr/bin/env bash
# `npm test`: every check, in the order a failure is cheapest to find. Installs what it needs.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
step() { printf '\n==> %s\n' "$*"; }

step "toolchain"
bash scripts/bootstrap.sh test
step "cargo fmt"
cargo fmt --all -- --check
step "clippy (host)"
cargo clippy --locked --workspace --all-targets -- -D warnings
step "clippy (wasm32)"
cargo clippy --locked --workspace --target wasm32-unknown-unknown -- -D warnings
step "cargo deny (licenses, bans, sources)"
.tools/bin/cargo-deny --log-level error check --hide-inclusion-graph bans licenses sources
step "native tests"
cargo test --locked --workspace
# The bundles build without esbuild warnings (its "▲ [WARNING]" lines): a new one stops here.
built() {
  local log
  log=$(mktemp)
  bash scripts/build.sh "$@" 2>&1 | tee "$log"
  if grep -q '\[WARNING\]' "$log"; then
    echo "the build printed warnings (above)" >&2
    rm -f "$log"
    return 1
  fi
  rm -f "$log"
}
step "Worker build"
built
step "crypto test harness build"
built tests/crypto-worker
step "end-to-end tests (workerd via Miniflare)"
node --test --test-concurrency=1 tests/
