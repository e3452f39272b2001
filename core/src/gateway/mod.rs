//! The request pipeline: what the gateway decides for each request, on top of [`crate::jws`]
//! and [`crate::keys`].
//!
//! | module             | concern                                                        |
//! |--------------------|----------------------------------------------------------------|
//! | [`pipeline`]       | the order of the checks: request in, decision out              |
//! | [`path`]           | the canonical request path that rules match and the origin gets |
//! | [`routing`]        | public paths, route scopes and CORS preflight                  |
//! | [`client_headers`] | the client headers that never reach the origin                 |
//! | [`identity`]       | the verified identity as headers for the origin                |
//! | [`forward`]        | the origin request's URL and headers                           |
//! | [`origin_auth`]    | the secret header that proves a request came through the gateway |
//! | [`provider`]       | the trusted issuers, and the one a token chooses by its `iss`  |
//! | [`token_source`]   | where the token comes from: the header or `JWT_COOKIE`, CSRF   |
//! | [`resource_metadata`] | the RFC 9728 metadata and its URL in challenges             |
//! | [`token_cache`]    | the per-isolate LRU cache of verified tokens                   |
//! | [`answer`]         | gateway errors and their RFC 6750 answers (one place)          |
//! | [`rejection_log`]  | the log line of a refused request, under a line budget         |
//! | [`metrics`]        | the Analytics Engine data point of a request or a refresh      |
pub mod answer;
pub mod client_headers;
pub mod forward;
pub mod identity;
pub mod metrics;
pub mod origin_auth;
pub mod path;
pub mod pipeline;
pub mod provider;
pub mod rejection_log;
pub mod resource_metadata;
pub mod routing;
pub mod token_cache;
pub mod token_source;

/// RFC 9110 `tchar`s, at least one: what a method or a header name is made of.
pub(crate) fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}
