//! The pure-Rust (RustCrypto) signature backend, for native tests and benchmarks.
