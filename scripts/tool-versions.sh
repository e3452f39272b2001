# Pinned versions of the build tools that are not npm packages (npm ones are pinned in
# package.json + package-lock.json). wasm-bindgen-cli is not listed: it must equal the
# `wasm-bindgen` crate in Cargo.lock, so bootstrap.sh reads it from there.
WORKER_BUILD_VERSION=0.8.7
CARGO_DENY_VERSION=0.20.2
