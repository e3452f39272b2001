//! The Workers Analytics Engine data point of a request and of a scheduled refresh: which value
//! goes in which blob and double. One data point per request, so the layout is fixed here and
//! queried by position (`blob1`, `double1`...; README, "Metrics").
//!
//! The core fills the fields it knows; the runtime appends the three only it sees, in this
//! order: `colo` (from `request.cf`) after the blobs, `status` (of the response the client gets,
//! the origin's for a forwarded request) and `latency_ms` after the doubles ([`BLOBS`],
//! [`DOUBLES`]).

use crate::gateway::answer::GatewayError;
use crate::keys::source::FetchError;
use crate::keys::{KeyTier, RefreshOutcome};

/// The blob names, `blob1` first: the core's [`CORE_BLOBS`], then the runtime's `colo`.
pub const BLOBS: [&str; 7] = [
    "kind",
    "outcome",
    "code",
    "tier",
    "token_cache",
    "provider",
    "colo",
];
/// The double names, `double1` first: the core's [`CORE_DOUBLES`], then the runtime's.
pub const DOUBLES: [&str; 3] = ["generation", "status", "latency_ms"];
/// How many blobs the core fills.
pub const CORE_BLOBS: usize = 6;
/// How many doubles the core fills.
pub const CORE_DOUBLES: usize = 1;

/// Whether the verified-token cache answered a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum TokenCacheUse {
    /// Not consulted (no token to look up: a public path, a preflight, a refusal before it).
    #[default]
    NotUsed,
    /// The token was verified before and still holds.
    Hit,
    /// Looked up and not found: the signature was checked.
    Miss,
}

impl TokenCacheUse {
    /// `none`, `hit` or `miss`.
    pub const fn name(self) -> &'static str {
        match self {
            TokenCacheUse::NotUsed => "none",
            TokenCacheUse::Hit => "hit",
            TokenCacheUse::Miss => "miss",
        }
    }
}

/// What a request asked of the caches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CacheUse {
    /// The key-cache tier whose set the request was checked against (none when no key was
    /// needed). A token-cache hit is checked against the set in memory.
    pub tier: Option<KeyTier>,
    /// The verified-token cache.
    pub token_cache: TokenCacheUse,
    /// The generation of that key set (0 without one).
    pub generation: u64,
    /// The provider the token chose (an index into the gateway's providers), once known.
    pub provider: Option<usize>,
}

/// What became of a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestOutcome<'e> {
    /// The liveness endpoint answered.
    Health,
    /// The status endpoint answered.
    Status,
    /// The RFC 9728 metadata document was answered.
    Metadata,
    /// Sent to the origin.
    Forwarded(CacheUse),
    /// Refused with this error.
    Rejected(&'e GatewayError, CacheUse),
}

/// The core's part of one data point.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DataPoint<'a> {
    /// The sampling index (`index1`): the kind, `request` or `refresh`, so that the rare refresh
    /// points are sampled apart from the requests.
    pub index: &'static str,
    /// `blob1`..`blob6` ([`BLOBS`]).
    pub blobs: [&'a str; CORE_BLOBS],
    /// `double1` ([`DOUBLES`]).
    pub doubles: [f64; CORE_DOUBLES],
}

impl DataPoint<'_> {
    /// The blobs as one text, a line each (what the runtime's writer splits).
    pub fn blob_lines(&self) -> String {
        self.blobs.join("\n")
    }
}

/// The data point of a request: kind `request`; outcome `forwarded`, `rejected`, `health`,
/// `status` or `metadata`; the rejection's [`GatewayError::code`] (empty otherwise); the key tier
/// (`memory`, `kv`, `issuer` or `none`); the token cache (`hit`, `miss` or `none`); the name of
/// the token's provider (`provider`, empty before it is known: [`CacheUse::provider`] resolved by
/// the caller); the key set's generation.
pub fn request_point<'a>(outcome: &RequestOutcome<'_>, provider: &'a str) -> DataPoint<'a> {
    let (name, code, cache) = match outcome {
        RequestOutcome::Health => ("health", "", CacheUse::default()),
        RequestOutcome::Status => ("status", "", CacheUse::default()),
        RequestOutcome::Metadata => ("metadata", "", CacheUse::default()),
        RequestOutcome::Forwarded(cache) => ("forwarded", "", *cache),
        RequestOutcome::Rejected(error, cache) => ("rejected", error.code(), *cache),
    };
    DataPoint {
        index: "request",
        blobs: [
            "request",
            name,
            code,
            cache.tier.map_or("none", KeyTier::name),
            cache.token_cache.name(),
            provider,
        ],
        doubles: [cache.generation as f64],
    }
}

/// The data point of a scheduled refresh: kind `refresh`; outcome `updated`, `unchanged` or
/// `failed`; the fetch error's [`FetchError::code`] (empty otherwise); tier `issuer`; token
/// cache `none`; the refreshed provider's name; the generation in memory afterwards
/// (`generation`: the kept one on failure, 0 without any).
pub fn refresh_point<'a>(
    result: Result<&RefreshOutcome, &FetchError>,
    generation: u64,
    provider: &'a str,
) -> DataPoint<'a> {
    let (name, code, generation) = match result {
        Ok(RefreshOutcome::Updated { generation }) => ("updated", "", *generation),
        Ok(RefreshOutcome::Unchanged) => ("unchanged", "", generation),
        Err(error) => ("failed", error.code(), generation),
    };
    DataPoint {
        index: "refresh",
        blobs: ["refresh", name, code, "issuer", "none", provider],
        doubles: [generation as f64],
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::error::Rejection;

    fn named<'a>(point: &DataPoint<'a>) -> Vec<(&'static str, &'a str)> {
        BLOBS.iter().copied().zip(point.blobs).collect()
    }

    #[test]
    fn the_layout_is_the_core_fields_then_the_runtime_fields() {
        assert_eq!(&BLOBS[CORE_BLOBS..], ["colo"]);
        assert_eq!(&DOUBLES[CORE_DOUBLES..], ["status", "latency_ms"]);
    }

    #[test]
    fn a_token_cache_hit_is_a_forward_answered_from_memory() {
        let point = request_point(
            &RequestOutcome::Forwarded(CacheUse {
                tier: Some(KeyTier::Memory),
                token_cache: TokenCacheUse::Hit,
                generation: 3,
                provider: Some(0),
            }),
            "main",
        );
        assert_eq!(point.index, "request");
        assert_eq!(
            named(&point),
            [
                ("kind", "request"),
                ("outcome", "forwarded"),
                ("code", ""),
                ("tier", "memory"),
                ("token_cache", "hit"),
                ("provider", "main"),
            ]
        );
        assert_eq!(point.doubles, [3.0]);
        assert_eq!(
            point.blob_lines(),
            "request\nforwarded\n\nmemory\nhit\nmain"
        );
    }

    #[test]
    fn requests_by_outcome() {
        let expired = GatewayError::InvalidToken(Rejection::Expired);
        let scope = GatewayError::InsufficientScope {
            required: vec!["orders:write".to_owned()],
        };
        let fetched = CacheUse {
            tier: Some(KeyTier::Issuer),
            token_cache: TokenCacheUse::Miss,
            generation: 1,
            provider: Some(1),
        };
        let kv = CacheUse {
            tier: Some(KeyTier::Kv),
            ..fetched
        };
        let cases = [
            (RequestOutcome::Health, ["health", "", "none", "none"], 0.0),
            (RequestOutcome::Status, ["status", "", "none", "none"], 0.0),
            (
                RequestOutcome::Metadata,
                ["metadata", "", "none", "none"],
                0.0,
            ),
            (
                RequestOutcome::Forwarded(CacheUse::default()),
                ["forwarded", "", "none", "none"],
                0.0,
            ),
            (
                RequestOutcome::Forwarded(kv),
                ["forwarded", "", "kv", "miss"],
                1.0,
            ),
            (
                RequestOutcome::Rejected(&expired, fetched),
                ["rejected", "token_expired", "issuer", "miss"],
                1.0,
            ),
            (
                RequestOutcome::Rejected(&GatewayError::NoCredentials, CacheUse::default()),
                ["rejected", "no_credentials", "none", "none"],
                0.0,
            ),
            (
                RequestOutcome::Rejected(&scope, CacheUse::default()),
                ["rejected", "insufficient_scope", "none", "none"],
                0.0,
            ),
            (
                RequestOutcome::Rejected(
                    &GatewayError::KeysUnavailable { retry_after: 5 },
                    CacheUse::default(),
                ),
                ["rejected", "keys_unavailable", "none", "none"],
                0.0,
            ),
        ];
        for (outcome, blobs, generation) in cases {
            let point = request_point(&outcome, "p");
            assert_eq!(point.blobs[0], "request", "{outcome:?}");
            assert_eq!(point.blobs[1..5], blobs, "{outcome:?}");
            assert_eq!(point.blobs[5], "p", "{outcome:?}");
            assert_eq!(point.doubles, [generation], "{outcome:?}");
        }
    }

    #[test]
    fn refreshes_by_outcome() {
        let updated = refresh_point(Ok(&RefreshOutcome::Updated { generation: 4 }), 3, "main");
        assert_eq!(updated.index, "refresh");
        assert_eq!(
            updated.blobs,
            ["refresh", "updated", "", "issuer", "none", "main"]
        );
        assert_eq!(updated.doubles, [4.0]);
        let unchanged = refresh_point(Ok(&RefreshOutcome::Unchanged), 3, "main");
        assert_eq!(unchanged.blobs[1..3], ["unchanged", ""]);
        assert_eq!(unchanged.doubles, [3.0]);
        let failed = refresh_point(Err(&FetchError::Status(500)), 3, "main");
        assert_eq!(failed.blobs[1..3], ["failed", "status"]);
        assert_eq!(failed.doubles, [3.0]);
    }
}
