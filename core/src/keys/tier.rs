//! A cache tier: the Rust form of the original services' `IJwksKeyCache`, over whole key sets.
//!
//! | `IJwksKeyCache`        | here                                                    |
//! |------------------------|---------------------------------------------------------|
//! | `GetKeyAsync(kid)`     | [`KeyCacheTier::get`], then `set.keys.get(kid)`         |
//! | `SetKeyAsync(..., ttl)`| [`KeyCacheTier::set`] with a TTL in seconds             |
//! | `RemoveKeyAsync(kid)`  | [`KeyCacheTier::remove`] (the set is replaced as a whole)|
//!
//! A tier may fail ([`TierError`]); the cache then carries on as if it had missed.

use std::cell::{Cell, RefCell};
use std::fmt;
use std::future::Future;
use std::rc::Rc;

use super::record::CachedKeySet;

/// A tier's failure (error or timeout); never fatal for a request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TierError(pub String);

impl fmt::Display for TierError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TierError {}

/// One storage tier for the key set and the unknown-`kid` refetch marker.
pub trait KeyCacheTier {
    /// Short name for logs and counters ("memory", "kv").
    fn name(&self) -> &'static str;
    /// The stored key set, if any.
    fn get(&self) -> impl Future<Output = Result<Option<Rc<CachedKeySet>>, TierError>>;
    /// Stores `set`, to expire after `ttl_seconds`.
    fn set(
        &self,
        set: Rc<CachedKeySet>,
        ttl_seconds: u64,
    ) -> impl Future<Output = Result<(), TierError>>;
    /// Removes the stored set.
    fn remove(&self) -> impl Future<Output = Result<(), TierError>>;
    /// When an unknown `kid` last caused a refetch (seconds since the epoch), if recorded.
    fn last_refetch(&self) -> impl Future<Output = Result<Option<u64>, TierError>>;
    /// Records that an unknown `kid` caused a refetch at `at`, kept for `ttl_seconds`.
    fn record_refetch(
        &self,
        at: u64,
        ttl_seconds: u64,
    ) -> impl Future<Output = Result<(), TierError>>;
}

/// The isolate-local tier: finished values only (never a pending fetch), so requests in one
/// isolate share results without ever awaiting each other's I/O.
#[derive(Debug, Default)]
pub struct MemoryTier {
    set: RefCell<Option<Rc<CachedKeySet>>>,
    refetch: Cell<Option<u64>>,
}

impl MemoryTier {
    /// The held set, synchronously (the memory tier cannot fail).
    pub fn current(&self) -> Option<Rc<CachedKeySet>> {
        self.set.borrow().clone()
    }

    /// Replaces the held set.
    pub fn put(&self, set: Rc<CachedKeySet>) {
        *self.set.borrow_mut() = Some(set);
    }

    /// The isolate's last unknown-`kid` refetch time.
    pub fn refetched_at(&self) -> Option<u64> {
        self.refetch.get()
    }

    /// Records an unknown-`kid` refetch in this isolate.
    pub fn mark_refetch(&self, at: u64) {
        self.refetch.set(Some(at));
    }
}

impl KeyCacheTier for MemoryTier {
    fn name(&self) -> &'static str {
        "memory"
    }

    async fn get(&self) -> Result<Option<Rc<CachedKeySet>>, TierError> {
        Ok(self.current())
    }

    async fn set(&self, set: Rc<CachedKeySet>, _ttl_seconds: u64) -> Result<(), TierError> {
        self.put(set);
        Ok(())
    }

    async fn remove(&self) -> Result<(), TierError> {
        *self.set.borrow_mut() = None;
        Ok(())
    }

    async fn last_refetch(&self) -> Result<Option<u64>, TierError> {
        Ok(self.refetched_at())
    }

    async fn record_refetch(&self, at: u64, _ttl_seconds: u64) -> Result<(), TierError> {
        self.mark_refetch(at);
        Ok(())
    }
}
