//! Per-isolate counters of the key cache and its status report, for the status endpoint and
//! logs.

use serde::Serialize;

use super::record::CachedKeySet;

/// Counters since the isolate started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct CacheStats {
    /// Lookups answered from isolate memory.
    pub memory_hits: u64,
    /// Reads of the shared tier (KV): the key set or the unknown-`kid` refetch marker, each
    /// read counted once whatever its outcome.
    pub kv_reads: u64,
    /// Lookups that read a usable set from the shared tier (KV).
    pub kv_hits: u64,
    /// Shared-tier reads that found nothing usable.
    pub kv_misses: u64,
    /// Shared-tier reads or writes that failed.
    pub kv_errors: u64,
    /// Fetches of the JWKS endpoint started (each may retry inside).
    pub jwks_fetches: u64,
    /// Fetches that failed.
    pub fetch_failures: u64,
    /// Fetches answered `304 Not Modified`.
    pub not_modified: u64,
    /// Requests served from a set past its freshness because refreshing failed or was running.
    pub stale_serves: u64,
    /// Refetches caused by an unknown `kid`.
    pub unknown_kid_refetches: u64,
    /// Unknown `kid`s rejected without a refetch because of the cooldown.
    pub cooldown_rejections: u64,
}

impl CacheStats {
    /// Share of lookups answered without the JWKS endpoint, in [0, 1] (1 when there were none).
    pub fn hit_rate(&self) -> f64 {
        let hits = self.memory_hits + self.kv_hits;
        let total = hits + self.jwks_fetches;
        if total == 0 {
            1.0
        } else {
            hits as f64 / total as f64
        }
    }
}

/// The key cache's state at one moment: what `GET /_gateway/status` shows as `key_cache`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct KeyCacheStatus {
    /// The counters.
    pub counters: CacheStats,
    /// [`CacheStats::hit_rate`].
    pub hit_rate: f64,
    /// Whether a fetch this isolate started is still running.
    pub refresh_running: bool,
    /// The set in isolate memory, if any.
    pub key_set: Option<KeySetStatus>,
    /// The shared tier's name ([`crate::keys::KeyCacheTier::name`]), when there is one.
    pub shared_tier: Option<&'static str>,
    /// The last fetch's failure, as text, until a fetch succeeds.
    pub last_fetch_error: Option<String>,
}

/// A summary of the key set in memory, for [`KeyCacheStatus`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySetStatus {
    /// The `kid`s, in the set's order.
    pub kids: Vec<String>,
    /// [`crate::keys::KeySetMeta::generation`].
    pub generation: u64,
    /// The JWKS URL the set came from.
    pub source: String,
    /// Seconds since the content was fetched ([`CachedKeySet::age`]).
    pub age_seconds: u64,
    /// Whether the set is fresh.
    pub fresh: bool,
    /// Seconds until the set is no longer fresh (0 once stale).
    pub fresh_for_seconds: u64,
    /// When the content was last confirmed current (seconds since the epoch).
    pub checked_at: u64,
}

impl KeySetStatus {
    /// The summary of `set` at `now`.
    pub fn of(set: &CachedKeySet, now: u64) -> KeySetStatus {
        KeySetStatus {
            kids: set.keys.kids().map(str::to_owned).collect(),
            generation: set.meta.generation,
            source: set.meta.source.clone(),
            age_seconds: set.age(now),
            fresh: set.is_fresh(now),
            fresh_for_seconds: set.fresh_until().saturating_sub(now),
            checked_at: set.meta.checked_at,
        }
    }
}
