//! A per-isolate, bounded LRU cache of verified tokens, so a token seen again skips the
//! signature check.
//!
//! The cache only saves work; it never accepts a token that full verification would refuse at the
//! same moment. On every hit it runs again what can change after verification:
//!
//! - the time checks ([`claims::check_times`]: `exp`, `nbf`, `iat`, maximum age) at the current
//!   time and with the same clock skew as full verification, so validity is never extended;
//! - the key: the current key set must still hold a key with the thumbprint of the key that
//!   verified the token, the same `kid`, and still permitting the token's algorithm, so a key
//!   removed by rotation or revocation stops its tokens at once.
//!
//! An entry that fails either check is removed and the lookup is a miss; the caller then verifies
//! the token fully and gets the precise rejection. What cannot change within an isolate (the
//! verification policy: algorithms, `typ`, issuer, audiences, required claims) is not checked
//! again. Each entry records the provider (an index into the gateway's fixed list) whose
//! [`Verifier`](crate::jws::verify::Verifier) accepted it, and a lookup for another provider is
//! a miss.
//!
//! Tokens are keyed by SipHash-2-4 (its 128-bit output) of their text under a secret key drawn
//! for each cache (per isolate, [`TokenCache::set_secret`]); the token text itself is never
//! stored. Until the cache has its secret, nothing is stored in it and nothing is found.
//! SipHash is a keyed pseudorandom function: without the secret, a token whose key equals a
//! cached token's can only be guessed (one chance in 2^118 per try with 1024 tokens cached), and
//! a hit hands out the cached token's own verification, never one of the token presented. The
//! key was the token's SHA-256 until it was measured at a tenth of a cached request's
//! instructions (docs/decisions/0012-token-cache-key.md).
//!
//! The recency order is the [`lru`] crate's (lookups, insertions and evictions in O(1)); what is
//! ours is the key, the checks on every hit and the counters. The cache uses a [`RefCell`] so its methods
//! take `&self`; it is not `Sync` and is meant for a `thread_local` in the Worker.

use std::cell::{OnceCell, RefCell};
use std::fmt;
use std::num::NonZeroUsize;
use std::ops::Deref;
use std::rc::Rc;

use lru::LruCache;
use serde::Serialize;
use siphasher::sip128::SipHasher24;

use crate::jws::claims::{self, ClaimsPolicy};
use crate::jws::jwk::KeySet;
use crate::jws::verify::VerifiedToken;

/// Default number of tokens kept per isolate.
pub const DEFAULT_CAPACITY: usize = 1024;

/// Counters since the cache was created, for the status endpoint.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct TokenCacheStats {
    /// Lookups answered from the cache.
    pub hits: u64,
    /// Lookups not answered from the cache: token absent, or present but invalidated.
    pub misses: u64,
    /// Entries dropped to make room for a newer one (least recently used first).
    pub evictions: u64,
    /// Entries removed on lookup because their time checks failed or their key is gone (also
    /// counted in `misses`).
    pub invalidated: u64,
}

/// A verified token as the cache keeps it: the verification, and the identity headers derived
/// from it once, on first use (they depend only on the claims and the isolate's configuration),
/// rather than on every hit.
pub struct CachedToken {
    verified: VerifiedToken,
    /// The provider that verified it.
    provider: usize,
    identity: OnceCell<Rc<[(String, String)]>>,
}

impl CachedToken {
    /// The provider that verified it (an index into the gateway's providers).
    pub fn provider(&self) -> usize {
        self.provider
    }

    /// The identity headers, made by `derive` the first time and shared afterwards.
    pub fn identity(
        &self,
        derive: impl FnOnce(&VerifiedToken) -> Vec<(String, String)>,
    ) -> Rc<[(String, String)]> {
        Rc::clone(self.identity.get_or_init(|| derive(&self.verified).into()))
    }
}

impl Deref for CachedToken {
    type Target = VerifiedToken;

    fn deref(&self) -> &VerifiedToken {
        &self.verified
    }
}

/// A token's keyed hash ([`TokenCache::key`]): the only form in which a token is kept. Made once
/// per request and used for every lookup and the insertion that follows verification. `None`
/// when it was made before the cache had its secret: such a key matches no entry and is never
/// stored.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TokenKey(Option<u128>);

impl fmt::Debug for TokenKey {
    /// Not printed: a digest of a bearer token is enough to recognise it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenKey(..)")
    }
}

/// The cache proper, behind the [`RefCell`].
struct Inner {
    /// The entries, most recently used first; `None` when the capacity is 0 (an [`LruCache`]
    /// holds at least one entry).
    entries: Option<LruCache<TokenKey, Rc<CachedToken>>>,
    stats: TokenCacheStats,
}

/// A bounded LRU cache of verified tokens, keyed by a keyed hash of the token text. See the
/// [module documentation](self) for what a hit guarantees.
pub struct TokenCache {
    inner: RefCell<Inner>,
    /// SipHash-2-4 under the cache's secret, once it has one.
    hasher: OnceCell<SipHasher24>,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens; 0 disables caching (nothing is stored).
    /// It stores nothing until it has its secret ([`TokenCache::set_secret`]).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            hasher: OnceCell::new(),
            inner: RefCell::new(Inner {
                // Sparse: the map grows with the entries rather than being sized for all of them.
                entries: NonZeroUsize::new(capacity).map(LruCache::sparse),
                stats: TokenCacheStats::default(),
            }),
        }
    }

    /// Keys the hash of the tokens with `secret`, which must be unpredictable (16 bytes from a
    /// cryptographic random source, drawn for this cache) and is never shown. Only the first
    /// secret counts: a cache's keys never change.
    pub fn set_secret(&self, secret: [u8; 16]) {
        // Already set: the first secret stays.
        let _ = self.hasher.set(SipHasher24::new_with_key(&secret));
    }

    /// Whether the cache has its secret.
    pub fn has_secret(&self) -> bool {
        self.hasher.get().is_some()
    }

    /// The key of `token` in this cache.
    pub fn key(&self, token: &str) -> TokenKey {
        TokenKey(
            self.hasher
                .get()
                .map(|hasher| hasher.hash(token.as_bytes()).as_u128()),
        )
    }

    /// The provider whose verification of the token with `key` is cached, if any, without
    /// counting a lookup or touching the recency order: for a gateway with several providers, to
    /// learn which key set [`TokenCache::get`] must check the entry against.
    pub fn provider_of(&self, key: &TokenKey) -> Option<usize> {
        let inner = self.inner.borrow();
        let entries = inner.entries.as_ref()?;
        entries.peek(key).map(|entry| entry.provider)
    }

    /// The cached verification of the token with `key` by `provider`, if any and still valid at
    /// `now` (seconds since the epoch) with that provider's current `keys`.
    ///
    /// A hit requires that [`claims::check_times`] passes with `policy` at `now`, and that
    /// `keys` still holds a key with the thumbprint and `kid` of the key that verified the token,
    /// permitting its algorithm. An entry failing either is removed (counted in
    /// [`TokenCacheStats::invalidated`]) and `None` is returned, so the caller verifies the token
    /// fully. A hit makes the entry the most recently used.
    pub fn get(
        &self,
        key: &TokenKey,
        provider: usize,
        keys: &KeySet,
        policy: &ClaimsPolicy,
        now: u64,
    ) -> Option<Rc<CachedToken>> {
        let mut inner = self.inner.borrow_mut();
        let Inner { entries, stats } = &mut *inner;
        // `get` makes the entry the most recently used; one found invalid is removed at once.
        let found = entries
            .as_mut()
            .and_then(|entries| entries.get(key).cloned().map(|value| (entries, value)));
        let Some((entries, value)) = found else {
            stats.misses += 1;
            return None;
        };
        if value.provider == provider && still_valid(&value, keys, policy, now) {
            stats.hits += 1;
            Some(value)
        } else {
            entries.pop(key);
            stats.invalidated += 1;
            stats.misses += 1;
            None
        }
    }

    /// Stores the token with `key`, freshly verified by `provider`, as the most recently used
    /// entry (replacing an earlier entry for the same token), evicting the least recently used
    /// entry when the cache is full; not stored when `key` was made without the secret.
    /// Returns the shared value, which [`TokenCache::get`] hands out later.
    pub fn insert(
        &self,
        key: TokenKey,
        provider: usize,
        verified: VerifiedToken,
    ) -> Rc<CachedToken> {
        let value = Rc::new(CachedToken {
            verified,
            provider,
            identity: OnceCell::new(),
        });
        let mut inner = self.inner.borrow_mut();
        let Inner { entries, stats } = &mut *inner;
        if let (Some(entries), Some(_)) = (entries, key.0) {
            // `push` hands back what it displaced: this token's earlier entry, or the evicted one.
            if let Some((displaced, _)) = entries.push(key, Rc::clone(&value)) {
                if displaced != key {
                    stats.evictions += 1;
                }
            }
        }
        value
    }

    /// The number of cached tokens.
    pub fn len(&self) -> usize {
        self.inner
            .borrow()
            .entries
            .as_ref()
            .map_or(0, LruCache::len)
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The maximum number of cached tokens.
    pub fn capacity(&self) -> usize {
        let inner = self.inner.borrow();
        inner
            .entries
            .as_ref()
            .map_or(0, |entries| entries.cap().get())
    }

    /// Drops every entry (the counters are kept).
    pub fn clear(&self) {
        if let Some(entries) = &mut self.inner.borrow_mut().entries {
            entries.clear();
        }
    }

    /// The counters since the cache was created.
    pub fn stats(&self) -> TokenCacheStats {
        self.inner.borrow().stats
    }
}

impl fmt::Debug for TokenCache {
    /// Sizes and counters only: entries (claims) are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCache")
            .field("len", &self.len())
            .field("capacity", &self.capacity())
            .field("stats", &self.stats())
            .finish()
    }
}

/// What must hold again on every hit: the time checks, and the verifying key still in the set.
fn still_valid(verified: &VerifiedToken, keys: &KeySet, policy: &ClaimsPolicy, now: u64) -> bool {
    claims::check_times(&verified.claims, policy, now).is_ok()
        && keys.keys().iter().any(|key| {
            key.thumbprint == verified.key_thumbprint
                && key.kid == verified.kid
                && key.permits(verified.alg)
        })
}

#[cfg(test)]
mod tests;
