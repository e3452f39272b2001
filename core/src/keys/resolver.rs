//! The key cache's decisions: which tier answers a lookup, when to fetch, when to serve stale,
//! and when an unknown `kid` may cause a refetch.
//!
//! Lookup order: isolate memory, then the shared tier (KV), then the key source. A shared-tier
//! failure is logged and treated as a miss. Every fetch is awaited only by the request (or cron
//! run) that started it: workerd forbids awaiting I/O across requests, so the memory tier holds
//! finished values only and a concurrent request that finds a refresh running serves the stale
//! set instead of waiting.
//!
//! Requests of one isolate interleave at every `await`, so each decision that starts I/O on
//! behalf of the isolate (an unknown-`kid` refetch, a refresh) is recorded before its first
//! `await`: the requests already in flight see it. An unknown `kid` inside the isolate's cooldown
//! is refused before any shared-tier read, so a flood of them costs no I/O at all. A refresh
//! that never settles (workerd abandons the task of a request whose client went away, without
//! dropping it) stops counting as running after the source's time budget
//! ([`KeySource::budget_ms`]).
//!
//! A well-formed JWKS without a usable key is the issuer saying that no key is valid: it
//! replaces the set like any other (and is logged as `key_set_emptied`). Only a failed fetch
//! (an error status, a timeout, a document that is not a JWKS) keeps the last good set.

use std::cell::{Cell, RefCell};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;

use serde_json::json;

use super::policy::CachePolicy;
use super::record::{CachedKeySet, KeySetMeta};
use super::stats::{CacheStats, KeyCacheStatus, KeySetStatus};
use super::tier::{KeyCacheTier, MemoryTier, TierError};
use crate::jws::jwk::KeySet;
use crate::keys::source::{FetchError, Fetched, KeySource};
use crate::log::{EventSink, Level};

/// A boxed future of this isolate (not `Send`: the caches hold `Rc`s).
type LocalFuture<'a, T> = Pin<Box<dyn Future<Output = T> + 'a>>;

/// Whether `set` can verify a token with `kid` (without one, any set may: the verifier then
/// looks for the only key that permits the token's algorithm).
fn knows(set: &CachedKeySet, kid: Option<&str>) -> bool {
    kid.is_none_or(|kid| set.keys.get(kid).is_some())
}

/// Why a lookup produced no key set to verify with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ResolveError {
    /// A usable set exists but lacks the `kid`, and no refetch is allowed (or it did not help).
    #[error("no key with that kid in the key set")]
    UnknownKey,
    /// No usable key set at all: the source failed and nothing good is cached.
    #[error("no key set available (retry after {retry_after} s)")]
    Unavailable {
        /// Seconds a client should wait before retrying.
        retry_after: u64,
        /// The fetch failure.
        #[source]
        cause: FetchError,
    },
}

/// Which tier answered a lookup ([`KeyCache::lookup`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeyTier {
    /// Isolate memory (a fresh set, or a stale one served while refreshing fails or runs).
    Memory,
    /// The shared tier (KV): a newer fresh set another isolate or the cron stored.
    Kv,
    /// The key source (the issuer's JWKS endpoint), fetched for this lookup.
    Issuer,
}

impl KeyTier {
    /// The name in metrics and logs: `memory`, `kv` or `issuer`.
    pub const fn name(self) -> &'static str {
        match self {
            KeyTier::Memory => "memory",
            KeyTier::Kv => "kv",
            KeyTier::Issuer => "issuer",
        }
    }
}

/// How a scheduled refresh ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshOutcome {
    /// New keys were fetched and stored.
    Updated {
        /// The new generation.
        generation: u64,
    },
    /// The endpoint confirmed the cached set (`304`) or sent the same keys.
    Unchanged,
}

/// The tiered key cache of one isolate.
pub struct KeyCache<S, T, L> {
    memory: MemoryTier,
    shared: Option<T>,
    source: S,
    policy: CachePolicy,
    log: L,
    stats: Cell<CacheStats>,
    /// When the fetch this isolate is running for a stale set or an unknown `kid` started
    /// (seconds), if one is; it counts as running for `fetch_budget` seconds at most.
    refreshing: Cell<Option<u64>>,
    /// The source's time budget for one fetch, in whole seconds (rounded up).
    fetch_budget: u64,
    stale_warned_until: Cell<u64>,
    /// The last fetch's failure, until a fetch succeeds.
    failure: RefCell<Option<Failure>>,
}

/// A failed fetch and its backoff: no new fetch before `until` (seconds), so that an outage
/// never turns every request into a request to the provider; `error` is the cause of the 503s
/// answered meanwhile.
#[derive(Debug, Clone)]
struct Failure {
    until: u64,
    error: FetchError,
}

impl<S: KeySource, T: KeyCacheTier, L: EventSink> KeyCache<S, T, L> {
    /// A cache over `source`, with `shared` as the second tier (`None` for memory only). A
    /// fetch counts as running for the source's [`KeySource::budget_ms`] at most.
    pub fn new(source: S, shared: Option<T>, policy: CachePolicy, log: L) -> Self {
        let fetch_budget = source.budget_ms().div_ceil(1000);
        KeyCache {
            memory: MemoryTier::default(),
            shared,
            source,
            policy,
            log,
            stats: Cell::new(CacheStats::default()),
            refreshing: Cell::new(None),
            fetch_budget,
            stale_warned_until: Cell::new(0),
            failure: RefCell::new(None),
        }
    }

    /// The counters.
    pub fn stats(&self) -> CacheStats {
        self.stats.get()
    }

    /// The set currently in isolate memory.
    pub fn current(&self) -> Option<Rc<CachedKeySet>> {
        self.memory.current()
    }

    fn count(&self, update: impl FnOnce(&mut CacheStats)) {
        let mut stats = self.stats.get();
        update(&mut stats);
        self.stats.set(stats);
    }

    /// The key set to verify a token with `kid` at `now`.
    pub async fn keys_for(
        &self,
        kid: Option<&str>,
        now: u64,
    ) -> Result<Rc<CachedKeySet>, ResolveError> {
        self.lookup(kid, now).await.map(|(set, _)| set)
    }

    /// The first step of [`KeyCache::lookup`] alone, without waiting: the isolate's set when it
    /// is fresh and knows `kid` (counted as a memory hit). `None` otherwise, with nothing
    /// counted, claimed or read: [`KeyCache::lookup`] then takes it from the start.
    pub fn memory_hit(&self, kid: Option<&str>, now: u64) -> Option<Rc<CachedKeySet>> {
        let set = self.memory.current()?;
        if !set.is_fresh(now) || !knows(&set, kid) {
            return None;
        }
        self.count(|s| s.memory_hits += 1);
        if self.log.enabled(Level::Debug) {
            self.log
                .event(Level::Debug, "key_cache_hit", json!({ "tier": "memory" }));
        }
        Some(set)
    }

    /// [`KeyCache::keys_for`], with the tier that answered.
    pub async fn lookup(
        &self,
        kid: Option<&str>,
        now: u64,
    ) -> Result<(Rc<CachedKeySet>, KeyTier), ResolveError> {
        // 1. Isolate memory: the steady-state path.
        if let Some(set) = self.memory_hit(kid, now) {
            return Ok((set, KeyTier::Memory));
        }
        let current = self.memory.current();
        let mut claimed = false;
        if let Some(set) = &current {
            if set.is_fresh(now) {
                // An unknown kid: within the isolate's cooldown it is refused here, before any
                // shared-tier read; otherwise this request claims the refetch now, before its
                // first await, so the requests in flight are refused too.
                if !self.claim_refetch(now) {
                    return self.reject_unknown(kid);
                }
                claimed = true;
            }
        }

        // 2. The shared tier, which other isolates and the cron keep fresh. A memory set that
        // is kept failed the same check above, so a hit here is always the shared tier's set.
        let current = self.adopt_newer_shared(current).await;
        if let Some(set) = &current {
            if set.is_fresh(now) && knows(set, kid) {
                self.count(|s| s.kv_hits += 1);
                self.log
                    .event(Level::Debug, "key_cache_hit", json!({ "tier": "kv" }));
                return Ok((set.clone(), KeyTier::Kv));
            }
        }

        // 3. The source: its own future, out of line, so that the steady path above stays
        // small (a fresh isolate compiles what a request runs, function by function).
        self.source_lookup(current, claimed, kid, now).await
    }

    /// Step 3 of [`KeyCache::lookup`]: the source, when neither memory nor the shared tier
    /// answered (no set, a stale set, or a fresh set without `kid`). Boxed, behind a function
    /// that is never inlined, so that its state machine is not part of every caller's.
    #[inline(never)]
    fn source_lookup<'a>(
        &'a self,
        current: Option<Rc<CachedKeySet>>,
        claimed: bool,
        kid: Option<&'a str>,
        now: u64,
    ) -> LocalFuture<'a, Result<(Rc<CachedKeySet>, KeyTier), ResolveError>> {
        Box::pin(self.source_step(current, claimed, kid, now))
    }

    async fn source_step(
        &self,
        current: Option<Rc<CachedKeySet>>,
        claimed: bool,
        kid: Option<&str>,
        now: u64,
    ) -> Result<(Rc<CachedKeySet>, KeyTier), ResolveError> {
        match current {
            None => self.fetch_cold(now).await.and_then(|set| {
                if knows(&set, kid) {
                    Ok((set, KeyTier::Issuer))
                } else {
                    Err(ResolveError::UnknownKey)
                }
            }),
            Some(set) if !set.is_fresh(now) => {
                let (set, tier) = self.refresh_stale(set, now).await?;
                if knows(&set, kid) {
                    Ok((set, tier))
                } else {
                    // A refresh just ran (or is running): the kid is unknown for now.
                    self.count(|s| s.cooldown_rejections += 1);
                    Err(ResolveError::UnknownKey)
                }
            }
            Some(set) => {
                // A fresh set from the shared tier that lacks the kid, or the memory set.
                if !claimed && !self.claim_refetch(now) {
                    return self.reject_unknown(kid);
                }
                self.refetch_for_unknown_kid(set, kid, now).await
            }
        }
    }

    /// The scheduled refresh: fetch (revalidating), store in memory and the shared tier. On
    /// failure the last good set stays.
    pub async fn refresh(&self, now: u64) -> Result<RefreshOutcome, FetchError> {
        let current = self.adopt_newer_shared(self.memory.current()).await;
        let before = current.as_ref().map(|set| set.meta.generation);
        let updated = self.fetch_and_store(current, now, "scheduled").await?;
        Ok(if Some(updated.meta.generation) == before {
            RefreshOutcome::Unchanged
        } else {
            RefreshOutcome::Updated {
                generation: updated.meta.generation,
            }
        })
    }

    /// The cache's state at `now`: counters and the current set.
    pub fn status(&self, now: u64) -> KeyCacheStatus {
        let stats = self.stats.get();
        KeyCacheStatus {
            counters: stats,
            hit_rate: stats.hit_rate(),
            refresh_running: self.refresh_running(now),
            key_set: self.memory.current().map(|set| KeySetStatus::of(&set, now)),
            shared_tier: self.shared.as_ref().map(|t| t.name()),
            last_fetch_error: self
                .failure
                .borrow()
                .as_ref()
                .map(|failure| failure.error.to_string()),
        }
    }

    /// Reads the shared tier and, when it holds a set newer than `current` (or there is no
    /// `current`), puts that set into isolate memory. Returns the set to go on with.
    async fn adopt_newer_shared(
        &self,
        current: Option<Rc<CachedKeySet>>,
    ) -> Option<Rc<CachedKeySet>> {
        let Some(shared) = self.read_shared().await else {
            return current;
        };
        if current
            .as_ref()
            .is_none_or(|mine| shared.is_newer_than(mine))
        {
            self.memory.put(shared.clone());
            // Another isolate or the cron stored a set this isolate did not have. Asked first:
            // a fresh isolate's first request would otherwise build (and compile the code of)
            // an event that its level then drops.
            let changed = current
                .as_ref()
                .is_none_or(|mine| mine.meta.generation != shared.meta.generation);
            if changed && self.log.enabled(Level::Info) {
                self.log_adopted(current.as_deref(), &shared);
            }
            Some(shared)
        } else {
            current
        }
    }

    /// Logs `key_set_adopted`: `shared` replaced `current` in isolate memory. A function of its
    /// own, never inlined into the lookup, whose code a fresh isolate compiles whole.
    #[inline(never)]
    fn log_adopted(&self, current: Option<&CachedKeySet>, shared: &CachedKeySet) {
        let (added, removed) = kid_changes(current, &shared.keys);
        self.log.event(
            Level::Info,
            "key_set_adopted",
            json!({
                "tier": "kv",
                "generation": shared.meta.generation,
                "previous_generation": current.map(|set| set.meta.generation),
                "kids": shared.keys.kids().collect::<Vec<_>>(),
                "kids_added": added,
                "kids_removed": removed,
            }),
        );
    }

    async fn read_shared(&self) -> Option<Rc<CachedKeySet>> {
        let shared = self.shared.as_ref()?;
        self.count(|s| s.kv_reads += 1);
        match shared.get().await {
            Ok(Some(set)) => Some(set),
            Ok(None) => {
                self.count(|s| s.kv_misses += 1);
                self.log.event(
                    Level::Debug,
                    "key_cache_miss",
                    json!({ "tier": shared.name() }),
                );
                None
            }
            Err(err) => {
                self.tier_error(shared.name(), "get", &err);
                None
            }
        }
    }

    async fn fetch_cold(&self, now: u64) -> Result<Rc<CachedKeySet>, ResolveError> {
        if let Some(unavailable) = self.backoff(now) {
            return Err(unavailable);
        }
        self.fetch_and_store(None, now, "cold")
            .await
            .map_err(|cause| self.unavailable(cause, "cold", None, now))
    }

    async fn refresh_stale(
        &self,
        stale: Rc<CachedKeySet>,
        now: u64,
    ) -> Result<(Rc<CachedKeySet>, KeyTier), ResolveError> {
        let usable_until = stale.fresh_until().saturating_add(self.policy.max_stale);
        if now < usable_until {
            if self.refresh_running(now) {
                let stale = self.serve_stale(stale, now, "refresh already running");
                return Ok((stale, KeyTier::Memory));
            }
            if self.blocked(now) {
                let stale = self.serve_stale(stale, now, "last refresh failed");
                return Ok((stale, KeyTier::Memory));
            }
        } else if let Some(unavailable) = self.backoff(now) {
            // Past max_stale the failure backoff still holds: no fetch per request.
            return Err(unavailable);
        }
        let result = self.fetch_marked(Some(stale.clone()), now, "expired").await;
        match result {
            Ok(set) => Ok((set, KeyTier::Issuer)),
            Err(_) if now < usable_until => Ok((
                self.serve_stale(stale, now, "refresh failed"),
                KeyTier::Memory,
            )),
            Err(cause) => Err(self.unavailable(cause, "max_stale_exceeded", Some(&stale), now)),
        }
    }

    /// The 503 after a fetch failed with no usable set to fall back on (none at all, or the
    /// last one past max-stale), logged: from here requests get 503 until a fetch succeeds.
    /// Once per failed fetch, so at most once per failure backoff.
    fn unavailable(
        &self,
        cause: FetchError,
        reason: &'static str,
        stale: Option<&CachedKeySet>,
        now: u64,
    ) -> ResolveError {
        let retry_after = self.retry_after(now);
        self.log.event(
            Level::Warn,
            "key_set_unavailable",
            json!({
                "reason": reason,
                "retry_after": retry_after,
                "stale_for_seconds": stale.map(|set| now.saturating_sub(set.fresh_until())),
                "generation": stale.map(|set| set.meta.generation),
                "error": cause.to_string(),
            }),
        );
        ResolveError::Unavailable { retry_after, cause }
    }

    fn serve_stale(&self, stale: Rc<CachedKeySet>, now: u64, why: &str) -> Rc<CachedKeySet> {
        self.count(|s| s.stale_serves += 1);
        // One warning per stale window (the cooldown), not one per request.
        if now >= self.stale_warned_until.get() {
            self.stale_warned_until
                .set(now + self.policy.unknown_kid_cooldown.max(1));
            self.log.event(
                Level::Warn,
                "key_set_stale",
                json!({
                    "reason": why,
                    "stale_for_seconds": now.saturating_sub(stale.fresh_until()),
                    "generation": stale.meta.generation,
                }),
            );
        }
        stale
    }

    /// Whether an unknown `kid` may cause a refetch now, by what this isolate knows: no refetch
    /// within the cooldown, no fetch running, no failure backoff. When it may, the refetch is
    /// recorded as started at `now` at once (no `await` in between), so every request in flight
    /// in this isolate is refused from here on.
    fn claim_refetch(&self, now: u64) -> bool {
        let cooldown = self.policy.unknown_kid_cooldown;
        let recent = self
            .memory
            .refetched_at()
            .is_some_and(|at| now < at.saturating_add(cooldown));
        if recent || self.refresh_running(now) || self.blocked(now) {
            return false;
        }
        self.memory.mark_refetch(now);
        true
    }

    /// The refetch for an unknown `kid`, once [`KeyCache::claim_refetch`] allowed it: unless
    /// another isolate refetched within the cooldown (the marker in the shared tier), fetch.
    async fn refetch_for_unknown_kid(
        &self,
        set: Rc<CachedKeySet>,
        kid: Option<&str>,
        now: u64,
    ) -> Result<(Rc<CachedKeySet>, KeyTier), ResolveError> {
        let cooldown = self.policy.unknown_kid_cooldown;
        let recent = |at: Option<u64>| at.is_some_and(|at| now < at.saturating_add(cooldown));
        if let Some(shared) = &self.shared {
            self.count(|s| s.kv_reads += 1);
            match shared.last_refetch().await {
                Ok(at) if recent(at) => {
                    // Another isolate refetched moments ago: share its cooldown.
                    if let Some(at) = at {
                        self.memory.mark_refetch(at);
                    }
                    return self.reject_unknown(kid);
                }
                Ok(_) => {}
                Err(err) => self.tier_error(shared.name(), "last_refetch", &err),
            }
            // KV keeps entries at least 60 s; the timestamp inside decides.
            if let Err(err) = shared.record_refetch(now, cooldown.max(60)).await {
                self.tier_error(shared.name(), "record_refetch", &err);
            }
        }
        self.count(|s| s.unknown_kid_refetches += 1);
        self.log.event(
            Level::Info,
            "unknown_kid_refetch",
            json!({ "kid": kid.map(crate::jws::error::truncated) }),
        );
        let result = self
            .fetch_marked(Some(set.clone()), now, "unknown_kid")
            .await;
        let (updated, tier) = match result {
            Ok(fetched) => (fetched, KeyTier::Issuer),
            Err(_) => (set, KeyTier::Memory),
        };
        if knows(&updated, kid) {
            Ok((updated, tier))
        } else {
            Err(ResolveError::UnknownKey)
        }
    }

    /// Whether a fetch this isolate started is still running at `now`: started, not settled,
    /// and not older than the source's time budget (after which it is taken as abandoned).
    fn refresh_running(&self, now: u64) -> bool {
        self.refreshing
            .get()
            .is_some_and(|started| now < started.saturating_add(self.fetch_budget))
    }

    /// [`KeyCache::fetch_and_store`], marked as running for the other requests of the isolate
    /// from before its first `await` until it settles.
    async fn fetch_marked(
        &self,
        current: Option<Rc<CachedKeySet>>,
        now: u64,
        reason: &'static str,
    ) -> Result<Rc<CachedKeySet>, FetchError> {
        self.refreshing.set(Some(now));
        let result = self.fetch_and_store(current, now, reason).await;
        // A later fetch may have taken over from this one (if it ran past its budget): leave
        // that one's mark.
        if self.refreshing.get() == Some(now) {
            self.refreshing.set(None);
        }
        result
    }

    fn reject_unknown<R>(&self, kid: Option<&str>) -> Result<R, ResolveError> {
        self.count(|s| s.cooldown_rejections += 1);
        self.log.event(
            Level::Debug,
            "unknown_kid_cooldown",
            json!({ "kid": kid.map(crate::jws::error::truncated) }),
        );
        Err(ResolveError::UnknownKey)
    }

    fn tier_error(&self, tier: &str, operation: &str, error: &TierError) {
        self.count(|s| s.kv_errors += 1);
        self.log.event(
            Level::Warn,
            "key_cache_tier_error",
            json!({ "tier": tier, "operation": operation, "error": error.to_string() }),
        );
    }

    /// Fetches (revalidating `current` when it has an ETag), then stores the result in memory and
    /// the shared tier. An invalid document never replaces `current`.
    async fn fetch_and_store(
        &self,
        current: Option<Rc<CachedKeySet>>,
        now: u64,
        reason: &'static str,
    ) -> Result<Rc<CachedKeySet>, FetchError> {
        self.count(|s| s.jwks_fetches += 1);
        let etag = current.as_ref().and_then(|set| set.meta.etag.clone());
        let fetched = self.source.fetch(etag.as_deref()).await;
        let next = match (fetched, &current) {
            (
                Ok(Fetched::Modified {
                    keys,
                    source,
                    etag,
                    max_age,
                }),
                _,
            ) => self.replace(current.as_deref(), keys, source, etag, max_age, now),
            (Ok(Fetched::NotModified { max_age }), Some(current)) => {
                self.count(|s| s.not_modified += 1);
                CachedKeySet {
                    keys: current.keys.clone(),
                    meta: KeySetMeta {
                        checked_at: now,
                        ttl: self.ttl(max_age),
                        ..current.meta.clone()
                    },
                }
            }
            (Ok(Fetched::NotModified { .. }), None) => {
                return Err(self.fetch_failed(
                    FetchError::InvalidDocument("304 without a cached set".to_owned()),
                    reason,
                    now,
                ))
            }
            (Err(err), _) => return Err(self.fetch_failed(err, reason, now)),
        };
        *self.failure.borrow_mut() = None;
        let next = Rc::new(next);
        self.memory.put(next.clone());
        if let Some(shared) = &self.shared {
            let keep = next.meta.ttl.saturating_add(self.policy.max_stale).max(60);
            if let Err(err) = shared.set(next.clone(), keep).await {
                self.tier_error(shared.name(), "set", &err);
            }
        }
        if next.keys.is_empty() && current.as_ref().is_none_or(|old| !old.keys.is_empty()) {
            // Not a failure: the issuer publishes no usable key, so none is trusted any more.
            self.log.event(
                Level::Warn,
                "key_set_emptied",
                json!({
                    "reason": reason,
                    "generation": next.meta.generation,
                    "skipped_keys": skipped(&next.keys),
                    "source": next.meta.source,
                }),
            );
        }
        let change = match &current {
            None => "fetched",
            Some(old) if old.meta.generation == next.meta.generation => "revalidated",
            Some(_) => "rotated",
        };
        let (added, removed) = kid_changes(current.as_deref(), &next.keys);
        self.log.event(
            Level::Info,
            "key_set_refreshed",
            json!({
                "reason": reason,
                "change": change,
                "generation": next.meta.generation,
                "kids": next.keys.kids().collect::<Vec<_>>(),
                "kids_added": added,
                "kids_removed": removed,
                "skipped_keys": skipped(&next.keys),
                "ttl": next.meta.ttl,
                "source": next.meta.source,
            }),
        );
        Ok(next)
    }

    fn replace(
        &self,
        current: Option<&CachedKeySet>,
        keys: KeySet,
        source: String,
        etag: Option<String>,
        max_age: Option<u64>,
        now: u64,
    ) -> CachedKeySet {
        let (generation, fetched_at) = match current {
            Some(old) if old.same_keys(&keys) => (old.meta.generation, old.meta.fetched_at),
            Some(old) => (old.meta.generation + 1, now),
            None => (1, now),
        };
        CachedKeySet {
            keys,
            meta: KeySetMeta {
                fetched_at,
                checked_at: now,
                ttl: self.ttl(max_age),
                source,
                etag,
                generation,
            },
        }
    }

    /// Whether the backoff after a failed fetch still holds at `now`.
    fn blocked(&self, now: u64) -> bool {
        self.failure
            .borrow()
            .as_ref()
            .is_some_and(|failure| now < failure.until)
    }

    /// The 503 for a request during the backoff after a failed fetch, if it holds at `now`.
    fn backoff(&self, now: u64) -> Option<ResolveError> {
        self.failure
            .borrow()
            .as_ref()
            .filter(|failure| now < failure.until)
            .map(|failure| ResolveError::Unavailable {
                retry_after: failure.until - now,
                cause: failure.error.clone(),
            })
    }

    /// Seconds until the failure backoff lets the next fetch start (Retry-After of a 503).
    fn retry_after(&self, now: u64) -> u64 {
        self.failure
            .borrow()
            .as_ref()
            .map_or(0, |failure| failure.until.saturating_sub(now))
            .max(1)
    }

    fn ttl(&self, max_age: Option<u64>) -> u64 {
        max_age.map_or(self.policy.ttl, |age| {
            age.clamp(self.policy.min_ttl, self.policy.max_ttl)
        })
    }

    fn fetch_failed(&self, err: FetchError, reason: &'static str, now: u64) -> FetchError {
        self.count(|s| s.fetch_failures += 1);
        *self.failure.borrow_mut() = Some(Failure {
            until: now.saturating_add(self.policy.unknown_kid_cooldown.max(1)),
            error: err.clone(),
        });
        self.log.event(
            Level::Error,
            "key_set_fetch_failed",
            json!({ "reason": reason, "error": err.to_string() }),
        );
        err
    }
}

/// The `kid`s of `new` that `old` lacks, and those of `old` that `new` lacks (every `kid` of
/// `new` is added when there is no `old`).
fn kid_changes<'k>(old: Option<&'k CachedKeySet>, new: &'k KeySet) -> (Vec<&'k str>, Vec<&'k str>) {
    let lacks = |set: &KeySet, kid: &str| set.get(kid).is_none();
    match old {
        None => (new.kids().collect(), Vec::new()),
        Some(old) => (
            new.kids().filter(|kid| lacks(&old.keys, kid)).collect(),
            old.keys.kids().filter(|kid| lacks(new, kid)).collect(),
        ),
    }
}

/// The skipped keys of `keys`, for a log line.
fn skipped(keys: &KeySet) -> Vec<serde_json::Value> {
    keys.skipped()
        .iter()
        .map(|k| json!({ "index": k.index, "kid": k.kid, "reason": k.reason.to_string() }))
        .collect()
}
