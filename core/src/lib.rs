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
//! | [`alg`]       | the accepted JWS algorithms and the keys each needs        |
//! | [`key`]       | validated public keys                                      |
//! | [`error`]     | [`Rejection`]: why a token is refused, with a stable code  |
//! | [`backend`]   | the signature-backend trait (WebCrypto / RustCrypto)       |
//! | [`jwk`]       | JWK/JWKS import and validation into a [`jwk::KeySet`]      |
//! | [`signature`] | signature shape checks shared by both backends             |
//! | [`native`]    | the RustCrypto backend (feature `native`)                  |
//! | [`json`]      | strict JSON: no duplicate members, bounded depth           |
//! | [`token`]     | compact JWS parsing with structural limits                 |
//! | [`claims`]    | exp/nbf/iat/iss/aud and other claims checks                |
//! | [`verify`]    | the pipeline: algorithm ↔ key binding, signature, claims   |
//! | [`answer`]    | gateway errors and their RFC 6750 answers (one place)      |
//! | [`cache`]     | the tiered key cache and its policy                        |
//! | [`source`]    | the key-source seam between cache and JWKS fetcher         |
//! | [`fetch`]     | the hardened JWKS fetcher: discovery, retries, URL policy  |
//! | [`log`]       | log levels and structured log lines                        |
//! | [`config`]    | every environment variable, read and validated once        |
//! | [`heartbeat`] | the record the scheduled handler leaves in KV on each run  |
//! | [`path`]      | the canonical request path that rules match and the origin gets |
//! | [`routing`]   | public paths, route scopes and CORS preflight              |
//! | [`client_headers`] | the client headers that never reach the origin        |
//! | [`identity`]  | the verified identity as headers for the origin            |
//! | [`forward`]   | the origin request's URL and headers                       |
//! | [`token_cache`] | the per-isolate LRU cache of verified tokens             |
//! | [`pipeline`]  | the order of the checks: request in, decision out          |
#![forbid(unsafe_code)]

pub mod alg;
pub mod answer;
pub mod backend;
pub mod cache;
pub mod claims;
pub mod client_headers;
pub mod config;
pub mod error;
pub mod fetch;
pub mod forward;
pub mod heartbeat;
pub mod identity;
pub mod json;
pub mod jwk;
pub mod key;
pub mod log;
#[cfg(feature = "native")]
pub mod native;
pub mod path;
pub mod pipeline;
pub mod routing;
pub mod signature;
pub mod source;
pub mod token;
pub mod token_cache;
pub mod verify;

pub use alg::Algorithm;
pub use error::Rejection;
pub use verify::{VerificationPolicy, VerifiedToken, Verifier};
