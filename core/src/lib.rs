//! Platform-independent core of edge-jwt.
//!
//! Everything that decides whether a request may pass lives here: token parsing, JWK/JWKS
//! handling, signature and claims verification, key-cache policy, the request pipeline,
//! configuration and typed errors. The crate never imports `worker`, never reads the clock (time
//! is passed in) and never performs I/O, so it is tested natively with `cargo test` in
//! milliseconds. The Workers adapter at the repository root turns HTTP, KV, cron and WebCrypto
//! into calls on this crate.
//!
//! The modules are layers, and each imports only the layers below it:
//!
//! | layer        | concern                                                                 |
//! |--------------|-------------------------------------------------------------------------|
//! | [`config`]   | every environment variable, read and validated once (read by the adapter) |
//! | [`gateway`]  | the request pipeline: paths, routing, headers, identity, answers, token cache |
//! | [`keys`]     | the tiered key cache: tiers, policy, the JWKS fetcher, the cron heartbeat |
//! | [`jws`]      | one token against one key set: parsing, keys, signatures, claims        |
//! | [`log`]      | log levels and the event port, used by every layer above `jws`          |
#![forbid(unsafe_code)]

pub mod config;
pub mod gateway;
pub mod jws;
pub mod keys;
pub mod log;

pub use jws::alg::Algorithm;
pub use jws::error::Rejection;
pub use jws::verify::{VerificationPolicy, VerifiedToken, Verifier};
