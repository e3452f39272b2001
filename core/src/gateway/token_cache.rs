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
//! again: one cache must serve one [`Verifier`](crate::jws::verify::Verifier) configuration.
//!
//! Tokens are keyed by their SHA-256 digest; the token text itself is never stored. Lookups,
//! insertions and evictions are O(1): a hash map from digest to slot, and a doubly linked
//! recency list threaded through a dense `Vec` of slots. The cache uses a [`RefCell`] so its
//! methods take `&self`; it is not `Sync` and is meant for a `thread_local` in the Worker.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::rc::Rc;

use serde::Serialize;
use sha2::{Digest, Sha256};

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

/// SHA-256 of a token: the only form in which a token is kept.
type TokenKey = [u8; 32];

/// End of the recency list.
const NIL: usize = usize::MAX;

/// One cached token, linked into the recency list.
struct Node {
    key: TokenKey,
    value: Rc<VerifiedToken>,
    /// Slot of the next more recently used entry, or [`NIL`].
    prev: usize,
    /// Slot of the next less recently used entry, or [`NIL`].
    next: usize,
}

/// The cache proper, behind the [`RefCell`].
struct Lru {
    capacity: usize,
    map: HashMap<TokenKey, usize>,
    /// Dense: removing a slot moves the last one into it.
    nodes: Vec<Node>,
    /// Most recently used slot, or [`NIL`].
    head: usize,
    /// Least recently used slot, or [`NIL`].
    tail: usize,
    stats: TokenCacheStats,
}

impl Lru {
    fn new(capacity: usize) -> Lru {
        Lru {
            capacity,
            map: HashMap::new(),
            nodes: Vec::new(),
            head: NIL,
            tail: NIL,
            stats: TokenCacheStats::default(),
        }
    }

    /// Takes slot `index` out of the recency list (its links are left stale).
    fn unlink(&mut self, index: usize) {
        let (prev, next) = (self.nodes[index].prev, self.nodes[index].next);
        match prev {
            NIL => self.head = next,
            prev => self.nodes[prev].next = next,
        }
        match next {
            NIL => self.tail = prev,
            next => self.nodes[next].prev = prev,
        }
    }

    /// Puts slot `index` (unlinked) at the most recently used end.
    fn push_front(&mut self, index: usize) {
        self.nodes[index].prev = NIL;
        self.nodes[index].next = self.head;
        match self.head {
            NIL => self.tail = index,
            head => self.nodes[head].prev = index,
        }
        self.head = index;
    }

    fn touch(&mut self, index: usize) {
        if self.head != index {
            self.unlink(index);
            self.push_front(index);
        }
    }

    /// Removes slot `index` entirely, keeping `nodes` dense.
    fn remove(&mut self, index: usize) {
        self.unlink(index);
        let removed = self.nodes.swap_remove(index);
        self.map.remove(&removed.key);
        if index < self.nodes.len() {
            // The former last slot now lives at `index`: repoint everything that named it.
            let (prev, next) = (self.nodes[index].prev, self.nodes[index].next);
            match prev {
                NIL => self.head = index,
                prev => self.nodes[prev].next = index,
            }
            match next {
                NIL => self.tail = index,
                next => self.nodes[next].prev = index,
            }
            self.map.insert(self.nodes[index].key, index);
        }
    }

    fn insert(&mut self, key: TokenKey, value: Rc<VerifiedToken>) {
        if self.capacity == 0 {
            return;
        }
        if let Some(&index) = self.map.get(&key) {
            self.nodes[index].value = value;
            self.touch(index);
            return;
        }
        if self.nodes.len() >= self.capacity {
            self.remove(self.tail);
            self.stats.evictions += 1;
        }
        let index = self.nodes.len();
        self.nodes.push(Node {
            key,
            value,
            prev: NIL,
            next: NIL,
        });
        self.push_front(index);
        self.map.insert(key, index);
    }

    fn clear(&mut self) {
        self.map.clear();
        self.nodes.clear();
        self.head = NIL;
        self.tail = NIL;
    }
}

/// A bounded LRU cache of verified tokens, keyed by the SHA-256 of the token text. See the
/// [module documentation](self) for what a hit guarantees.
pub struct TokenCache {
    inner: RefCell<Lru>,
}

impl TokenCache {
    /// An empty cache holding at most `capacity` tokens; 0 disables caching (nothing is stored).
    pub fn new(capacity: usize) -> Self {
        TokenCache {
            inner: RefCell::new(Lru::new(capacity)),
        }
    }

    /// The cached verification of `token`, if any and still valid at `now` (seconds since the
    /// epoch) with the current `keys`.
    ///
    /// A hit requires that [`claims::check_times`] passes with `policy` at `now`, and that
    /// `keys` still holds a key with the thumbprint and `kid` of the key that verified the token,
    /// permitting its algorithm. An entry failing either is removed (counted in
    /// [`TokenCacheStats::invalidated`]) and `None` is returned, so the caller verifies the token
    /// fully. A hit makes the entry the most recently used.
    pub fn get(
        &self,
        token: &str,
        keys: &KeySet,
        policy: &ClaimsPolicy,
        now: u64,
    ) -> Option<Rc<VerifiedToken>> {
        let key = token_key(token);
        let mut lru = self.inner.borrow_mut();
        let Some(&index) = lru.map.get(&key) else {
            lru.stats.misses += 1;
            return None;
        };
        let value = Rc::clone(&lru.nodes[index].value);
        if still_valid(&value, keys, policy, now) {
            lru.touch(index);
            lru.stats.hits += 1;
            Some(value)
        } else {
            lru.remove(index);
            lru.stats.invalidated += 1;
            lru.stats.misses += 1;
            None
        }
    }

    /// Stores a freshly verified `token` as the most recently used entry (replacing an earlier
    /// entry for the same token), evicting the least recently used entry when the cache is full.
    /// Returns the shared value, which [`TokenCache::get`] hands out later.
    pub fn insert(&self, token: &str, verified: VerifiedToken) -> Rc<VerifiedToken> {
        let value = Rc::new(verified);
        self.inner
            .borrow_mut()
            .insert(token_key(token), Rc::clone(&value));
        value
    }

    /// The number of cached tokens.
    pub fn len(&self) -> usize {
        self.inner.borrow().nodes.len()
    }

    /// Whether no token is cached.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The maximum number of cached tokens.
    pub fn capacity(&self) -> usize {
        self.inner.borrow().capacity
    }

    /// Drops every entry (the counters are kept).
    pub fn clear(&self) {
        self.inner.borrow_mut().clear();
    }

    /// The counters since the cache was created.
    pub fn stats(&self) -> TokenCacheStats {
        self.inner.borrow().stats
    }
}

impl Default for TokenCache {
    /// A cache of [`DEFAULT_CAPACITY`] tokens.
    fn default() -> Self {
        TokenCache::new(DEFAULT_CAPACITY)
    }
}

impl fmt::Debug for TokenCache {
    /// Sizes and counters only: entries (claims) are not printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let lru = self.inner.borrow();
        f.debug_struct("TokenCache")
            .field("len", &lru.nodes.len())
            .field("capacity", &lru.capacity)
            .field("stats", &lru.stats)
            .finish()
    }
}

fn token_key(token: &str) -> TokenKey {
    Sha256::digest(token.as_bytes()).into()
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
