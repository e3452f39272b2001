//! The key-cache policy: how long a key set is fresh, how long it may serve stale, and how often
//! unknown `kid`s may trigger a refetch. Pure decisions on numbers; time is passed in.

/// Key-cache settings (`JWKS_*` variables).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CachePolicy {
    /// Freshness of a fetched set when the response carries no `max-age`
    /// (`JWKS_CACHE_TTL_SECONDS`, default 600).
    pub ttl: u64,
    /// Lower clamp for a response's `max-age` (`JWKS_MIN_TTL_SECONDS`, default 60).
    pub min_ttl: u64,
    /// Upper clamp for a response's `max-age` (`JWKS_MAX_TTL_SECONDS`, default 86400).
    pub max_ttl: u64,
    /// How long past its freshness the last good set keeps serving when refreshes fail
    /// (`JWKS_MAX_STALE_SECONDS`, default 86400).
    pub max_stale: u64,
    /// Minimum time between refetches caused by unknown `kid`s
    /// (`JWKS_UNKNOWN_KID_COOLDOWN_SECONDS`, default 30).
    pub unknown_kid_cooldown: u64,
}

impl Default for CachePolicy {
    fn default() -> Self {
        CachePolicy {
            ttl: 600,
            min_ttl: 60,
            max_ttl: 86_400,
            max_stale: 86_400,
            unknown_kid_cooldown: 30,
        }
    }
}
