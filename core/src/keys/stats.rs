//! Per-isolate counters of the key cache, for the status endpoint and logs.

use serde::Serialize;

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
