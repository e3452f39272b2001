//! `npm run check-config -- --env NAME`: one environment of `wrangler.toml`, checked by the rules
//! the Worker applies at startup, before it is deployed.
//!
//! The gateway refuses to run with an invalid variable (500 `gateway_misconfigured` on every
//! request); this finds every such variable beforehand, with the same core
//! [`Config`](edge_jwt_core::config::Config) construction and the values typed as wrangler
//! hands them to the Worker (TOML strings, numbers, booleans, arrays and tables). It also finds
//! what the Worker cannot see: variables it does not read (a typo is silently ignored there),
//! secrets written into `[vars]`, and a missing or placeholder `JWKS_CACHE` KV binding.
//!
//! | module       | concern                                                     |
//! |--------------|-------------------------------------------------------------|
//! | [`wrangler`] | one environment of `wrangler.toml`, as wrangler resolves it |
//! | [`vars`]     | a TOML value as the Worker receives it                      |
//! | [`check`]    | the problems of an environment, and the notes               |
#![forbid(unsafe_code)]

pub mod check;
pub mod vars;
pub mod wrangler;
