# Sourced by the scripts: points worker-build at the pinned tools linked by bootstrap.sh, so it
# never tries to download wasm-bindgen, esbuild or wasm-opt itself.
_edge_jwt_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export PATH="$_edge_jwt_root/.tools/bin:$_edge_jwt_root/node_modules/.bin:$PATH"
export WASM_BINDGEN_BIN="$_edge_jwt_root/.tools/bin/wasm-bindgen"
export ESBUILD_BIN="$_edge_jwt_root/.tools/bin/esbuild"
export WASM_OPT_BIN="$_edge_jwt_root/.tools/bin/wasm-opt"
unset _edge_jwt_root
