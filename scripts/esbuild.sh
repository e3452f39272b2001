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
fi
exec "$root/.tools/bin/esbuild" "$@"
