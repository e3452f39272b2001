#!/usr/bin/env bash
# esbuild as worker-build runs it for the gateway's crate (scripts/build.sh sets ESBUILD_BIN to
# this file), with src/entry.js bundled as the entry module in place of the shim.js that
# worker-build wrote: a plain object with the two handlers rather than a class behind Proxies
# (docs/decisions/0011-entry-module.md). Any other esbuild call is passed on unchanged.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
if [[ " $* " == *" ./shim.js "* ]]; then
  # src/entry.js relies on what worker-build's module shim has: the reset of a crashed instance,
  # and exactly these handlers. A worker-build that changes either stops the build here.
  handlers=$(grep -oE '^Entrypoint\.prototype\.[a-z]+ = function' shim.js | cut -d. -f3 | cut -d' ' -f1 | sort | tr '\n' ' ')
  if [ "$handlers" != "fetch scheduled " ] || ! grep -q '__wbg_reset_state' shim.js; then
    echo "scripts/esbuild.sh: worker-build's shim.js is not the one src/entry.js replaces (handlers: ${handlers:-none})" >&2
    exit 1
  fi
  cp "$root/src/entry.js" shim.js
  # wasm-bindgen (0.2.130, the newest) writes its import object with one entry per direct import
  # rather than per module: `"./snippets/…/runtime.js": import1`, then the same key for import2
  # and import3, which esbuild reports as duplicate keys on every build. Each importN is
  # `import * as importN` of that one specifier, so all are the same module namespace and the
  # object means the same with its first entry only. Only lines of exactly that form are dropped.
  awk '/^ *"[^"]+": import[0-9]+,$/ { if (seen[$1]++) next } { print }' index.js > index.js.dedup
  mv index.js.dedup index.js
fi
exec "$root/.tools/bin/esbuild" "$@"
