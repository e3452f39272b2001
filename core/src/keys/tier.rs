//! A cache tier: the Rust form of the original services' `IJwksKeyCache`, over whole key sets.
//!
//! | `IJwksKeyCache`        | here                                                    |
//! |------------------------|---------------------------------------------------------|
//! | `GetKeyAsync(kid)`     | [`KeyCacheTier::get`], then `set.keys.get(kid)`         |
//! | `SetKeyAsync(..., ttl)`| [`KeyCacheTier::set`] with a TTL in seconds             |
//! | `RemoveKeyAsync(kid)`  | none: the set is replaced as a whole                    |
//!
//! A tier may fail ([`TierError`]); the cache then carries on as if it had missed.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::rc::Rc;

use super::record::CachedKeySet;
use crate::jws::error::truncated;

/// A tier's failure; never fatal for a request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TierError {
    /// The platform gave the isolate no store under this binding name (for KV: the namespace
    /// binding is missing from the Worker's configuration).
    #[error("KV binding {binding} is missing")]
    MissingBinding {
        /// The binding's name.
        binding: &'static str,
    },
    /// The operation did not settle within its time limit.
    #[error("timed out after {limit_ms} ms")]
    TimedOut {
        /// The limit, in milliseconds.
        limit_ms: u64,
    },
    /// The platform reported a failure.
    #[error("{message}")]
    Platform {
        /// The platform's message, shortened (see [`TierError::platform`]).
        message: String,
    },
}

impl TierError {
    /// [`TierError::Platform`] with `message` shortened: it is the platform's text, kept for
    /// logs, and may be of any length.
    pub fn platform(message: &str) -> TierError {
        TierError::Platform {
            message: truncated(message),
        }
    }
}

/// One storage tier for the key set and the unknown-`kid` refetch marker.
pub trait KeyCacheTier {
    /// Short name for logs and counters ("kv").
    fn name(&self) -> &'static str;
    /// The stored key set, if any.
    fn get(&self) -> impl Future<Output = Result<Option<Rc<CachedKeySet>>, TierError>>;
    /// Stores `set`, to expire after `ttl_seconds`.
    fn set(
        &self,
        set: Rc<CachedKeySet>,
        ttl_seconds: u64,
    ) -> impl Future<Output = Result<(), TierError>>;
    /// When an unknown `kid` last caused a refetch (seconds since the epoch), if recorded.
    fn last_refetch(&self) -> impl Future<Output = Result<Option<u64>, TierError>>;
    /// Records that an unknown `kid` caused a refetch at `at`, kept for `ttl_seconds`.
    fn record_refetch(
        &self,
        at: u64,
        ttl_seconds: u64,
    ) -> impl Future<Output = Result<(), TierError>>;
}

/// The isolate-local first tier: finished values only (never a pending fetch), so requests in
/// one isolate share results without ever awaiting each other's I/O. It cannot fail, so the
/// cache uses it synchronously rather than as a [`KeyCacheTier`].
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
