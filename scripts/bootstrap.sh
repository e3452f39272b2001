#!/usr/bin/env bash
# Installs (once) and checks what a command needs, then links the tools into .tools/bin. Quick
# when everything is present. Downloads only from crates.io, the npm registry and rustup's own
# channel; no tool downloads binaries from anywhere else.
#
#   bash scripts/bootstrap.sh         the build (`npm run build`, `npm run dev`, `wrangler deploy`)
#   bash scripts/bootstrap.sh test    the build, and what only the tests need (cargo-deny)
#   bash scripts/bootstrap.sh bench   the build, and the benchmark's npm packages (bench/)
#
# Cargo-installed tools live in a per-user cache keyed by version
# (${EDGE_JWT_TOOL_CACHE:-~/.cache/edge-jwt/tools}/NAME-VERSION), so a fresh clone on the same
# machine (CI) reuses them instead of compiling them again.
set -euo pipefail
purpose=${1:-build}
case "$purpose" in
  build | test | bench) ;;
  *) printf 'bootstrap: usage: bootstrap.sh [test|bench]\n' >&2; exit 2 ;;
esac
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
# shellcheck source=scripts/tool-versions.sh
. scripts/tool-versions.sh

say() { printf 'bootstrap: %s\n' "$*" >&2; }
die() { say "error: $*"; exit 1; }

command -v cargo >/dev/null || die "cargo not found: install Rust with rustup (https://rustup.rs)"
command -v rustup >/dev/null || die "rustup not found: the wasm32 target is installed through rustup"
command -v node >/dev/null || die "node not found: install Node.js 20 or newer"
node_major=$(node -p 'process.versions.node.split(".")[0]')
[ "$node_major" -ge 20 ] || die "Node.js $(node --version) is too old: 20 or newer is needed"

# 1. Rust: the wasm32 target and the lint/format components.
if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  say "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi
for component in clippy rustfmt; do
  if ! rustup component list --installed | grep -q "^$component"; then
    say "adding the $component component"
    rustup component add "$component"
  fi
done

# 2. npm packages, exactly as locked (wrangler, miniflare/workerd, esbuild, binaryen, jose); the
# benchmark's own (autocannon, sharp, ws) only for it, from bench/package-lock.json.
npm_ci() {
  local dir=$1
  if [ ! -f "$dir/node_modules/.package-lock.json" ] || [ "$dir/package-lock.json" -nt "$dir/node_modules/.package-lock.json" ]; then
    say "installing npm packages in $dir (npm ci)"
    (cd "$dir" && npm ci --no-fund --no-audit)
  fi
}
npm_ci .
if [ "$purpose" = bench ]; then
  npm_ci bench
fi

# 3. Cargo-installed tools, at pinned versions, in the per-user cache.
cache=${EDGE_JWT_TOOL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/edge-jwt/tools}
[ -f Cargo.lock ] || cargo generate-lockfile --quiet
wasm_bindgen_version=$(awk '/^name = "wasm-bindgen"$/ { getline; gsub(/[^0-9.]/, ""); print; exit }' Cargo.lock)
[ -n "$wasm_bindgen_version" ] || die "no wasm-bindgen package in Cargo.lock"

# cargo_tool CRATE VERSION BIN: prints the path of BIN from CRATE@VERSION, installing it first.
cargo_tool() {
  local crate=$1 version=$2 bin=$3 dir="$cache/$1-$2"
  if [ ! -x "$dir/bin/$bin" ]; then
    say "installing $crate $version into $dir (compiles once, a few minutes)"
    # No --locked: the registry mirror here lacks some versions pinned in the tools' lockfiles.
    cargo install "$crate" --version "=$version" --root "$dir.partial" --force >&2
    rm -rf "$dir" && mv "$dir.partial" "$dir"
  fi
  printf '%s\n' "$dir/bin/$bin"
}
worker_build=$(cargo_tool worker-build "$WORKER_BUILD_VERSION" worker-build)
wasm_bindgen=$(cargo_tool wasm-bindgen-cli "$wasm_bindgen_version" wasm-bindgen)

# 4. Project-local links, so every script uses exactly these tools.
mkdir -p .tools/bin
ln -sf "$worker_build" .tools/bin/worker-build
ln -sf "$wasm_bindgen" .tools/bin/wasm-bindgen
if [ "$purpose" = test ]; then
  # Only `npm test` runs cargo-deny: a build or a deploy never compiles it.
  ln -sf "$(cargo_tool cargo-deny "$CARGO_DENY_VERSION" cargo-deny)" .tools/bin/cargo-deny
fi
ln -sf "$root/node_modules/.bin/esbuild" .tools/bin/esbuild
ln -sf "$root/node_modules/.bin/wasm-opt" .tools/bin/wasm-opt

# 5. npm 11 may skip install scripts: make sure the native binaries are really there and run.
check() { "$@" >/dev/null 2>&1 || die "'$*' does not run; try: rm -rf node_modules && npm ci"; }
check .tools/bin/esbuild --version
check .tools/bin/wasm-opt --version
check node_modules/.bin/workerd --version
installed_bindgen=$(.tools/bin/wasm-bindgen --version | awk '{ print $2 }')
[ "$installed_bindgen" = "$wasm_bindgen_version" ] ||
  die "wasm-bindgen $installed_bindgen in the cache, but Cargo.lock wants $wasm_bindgen_version"
