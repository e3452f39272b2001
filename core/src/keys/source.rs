//! Where fresh key sets come from: the seam between the key cache and the JWKS fetcher.

use std::future::Future;

use crate::jws::jwk::KeySet;

/// What one fetch of the key set produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// A new, validated key set.
    Modified {
        /// The validated keys.
        keys: KeySet,
        /// The URL it came from (after discovery).
        source: String,
        /// The response's `ETag`, for revalidation next time.
        etag: Option<String>,
        /// `Cache-Control: max-age` of the response, unclamped, when present.
        max_age: Option<u64>,
    },
    /// `304 Not Modified`: the cached set is still current.
    NotModified {
        /// `Cache-Control: max-age` of the response, unclamped, when present.
        max_age: Option<u64>,
    },
}

/// Why no key set could be fetched. The last good set stays in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The configured or discovered URL is not allowed (not https, not loopback http, ...).
    #[error("URL not allowed: {0}")]
    InvalidUrl(String),
    /// Network failure, timeout or reset (after retries).
    #[error("network error: {0}")]
    Transport(String),
    /// The endpoint answered with an unexpected status (after retries for 5xx/429).
    #[error("unexpected HTTP status {0}")]
    Status(u16),
    /// A redirect, which is never followed.
    #[error("redirect ({0}) not followed")]
    Redirect(u16),
    /// The body was larger than the cap.
    #[error("response larger than {max} bytes")]
    TooLarge {
        /// The cap, in bytes.
        max: usize,
    },
    /// The body is not an acceptable JWKS (or discovery) document.
    #[error("invalid document: {0}")]
    InvalidDocument(String),
    /// The total time budget for the fetch and its retries ran out.
    #[error("time budget for the fetch exhausted")]
    BudgetExhausted,
}

impl FetchError {
    /// A stable code for metrics: `invalid_url`, `transport`, `status`, `redirect`, `too_large`,
    /// `invalid_document` or `budget_exhausted`.
    pub const fn code(&self) -> &'static str {
        match self {
            FetchError::InvalidUrl(_) => "invalid_url",
            FetchError::Transport(_) => "transport",
            FetchError::Status(_) => "status",
            FetchError::Redirect(_) => "redirect",
            FetchError::TooLarge { .. } => "too_large",
            FetchError::InvalidDocument(_) => "invalid_document",
            FetchError::BudgetExhausted => "budget_exhausted",
        }
    }
}

/// Produces key sets on demand. The production implementation is [`crate::keys::fetch::JwksFetcher`]
/// (hardened HTTP fetch, discovery, retries); tests use fakes.
pub trait KeySource {
    /// Fetches the key set, revalidating with `etag` when one is given. A source that needs a
    /// clock has its own (the fetcher's time budget runs on [`HttpClient::now_ms`]).
    ///
    /// [`HttpClient::now_ms`]: crate::keys::fetch::HttpClient::now_ms
    fn fetch(&self, etag: Option<&str>) -> impl Future<Output = Result<Fetched, FetchError>>;

    /// The longest one [`KeySource::fetch`] may take, in milliseconds, retries included. The
    /// cache takes a fetch that has not settled by then as abandoned (workerd drops a request's
    /// task without dropping its future when the client goes away).
    fn budget_ms(&self) -> u64;
}
