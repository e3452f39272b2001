//! Platform-independent core of edge-jwt.
//!
//! Everything that decides whether a request may pass lives here: token parsing, JWK/JWKS
//! handling, signature and claims verification, key-cache policy, configuration and typed
//! errors. The crate never imports `worker`, never reads the clock (time is passed in) and never
//! performs I/O, so it is tested natively with `cargo test` in milliseconds. The Workers adapter
//! at the repository root turns HTTP, KV, cron and WebCrypto into calls on this crate.
//!
//! | module        | concern                                                    |
//! |---------------|------------------------------------------------------------|
//! | [`heartbeat`] | the record the scheduled handler leaves in KV on each run  |
#![forbid(unsafe_code)]

pub mod heartbeat;
