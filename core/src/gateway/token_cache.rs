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
mod tests {
    use super::*;
    use crate::jws::alg::Algorithm;
    use serde_json::{json, Map, Value};

    const NOW: u64 = 1_700_000_000;
    const SKEW: u64 = 60;

    fn fixture_keys() -> Vec<Value> {
        let doc: Value =
            serde_json::from_str(include_str!("../../tests/data/jose-fixtures.json")).unwrap();
        doc["jwks"]["keys"].as_array().unwrap().clone()
    }

    fn fixture_key(kid: &str) -> Value {
        fixture_keys()
            .into_iter()
            .find(|key| key["kid"] == kid)
            .unwrap_or_else(|| panic!("no fixture key {kid}"))
    }

    fn key_set(jwks: Vec<Value>) -> KeySet {
        KeySet::from_jwks_value(&json!({ "keys": jwks }), KeySet::DEFAULT_MAX_KEYS).unwrap()
    }

    /// The RS256 and ES256 fixture keys.
    fn keys() -> KeySet {
        key_set(vec![fixture_key("jose-rs256"), fixture_key("jose-es256")])
    }

    fn policy() -> ClaimsPolicy {
        ClaimsPolicy {
            issuer: "https://issuer.example".to_owned(),
            audiences: vec!["order-service".to_owned()],
            clock_skew: SKEW,
            required: Vec::new(),
            max_age: None,
        }
    }

    fn claims_of(value: Value) -> Map<String, Value> {
        let Value::Object(map) = value else {
            panic!("claims must be an object")
        };
        map
    }

    /// A token verified at `NOW` by `kid` (from `keys`), valid for an hour, with extra `claims`.
    fn verified_by(keys: &KeySet, kid: &str, alg: Algorithm, extra: Value) -> VerifiedToken {
        let key = keys.get(kid).unwrap();
        let mut claims = claims_of(json!({
            "iss": "https://issuer.example",
            "aud": "order-service",
            "sub": "user-1",
            "iat": NOW,
            "exp": NOW + 3600,
        }));
        claims.extend(claims_of(extra));
        VerifiedToken {
            alg,
            kid: key.kid.clone(),
            key_thumbprint: key.thumbprint.clone(),
            claims,
        }
    }

    fn verified(extra: Value) -> VerifiedToken {
        verified_by(&keys(), "jose-rs256", Algorithm::Rs256, extra)
    }

    fn token(n: usize) -> String {
        format!("header{n}.payload{n}.signature{n}")
    }

    /// Walks the recency list both ways and checks it against the map and the slots.
    fn assert_consistent(cache: &TokenCache) {
        let lru = cache.inner.borrow();
        assert_eq!(lru.map.len(), lru.nodes.len());
        assert!(lru.nodes.len() <= lru.capacity);
        let mut forward = Vec::new();
        let (mut at, mut prev) = (lru.head, NIL);
        while at != NIL {
            assert_eq!(lru.nodes[at].prev, prev);
            assert_eq!(lru.map[&lru.nodes[at].key], at);
            forward.push(at);
            assert!(forward.len() <= lru.nodes.len(), "cycle in the list");
            prev = at;
            at = lru.nodes[at].next;
        }
        assert_eq!(lru.tail, prev);
        assert_eq!(forward.len(), lru.nodes.len());
    }

    /// Which of `tokens` are cached, most recently used first (by walking the list).
    fn order(cache: &TokenCache, tokens: &[String]) -> Vec<usize> {
        let lru = cache.inner.borrow();
        let mut result = Vec::new();
        let mut at = lru.head;
        while at != NIL {
            let key = lru.nodes[at].key;
            let n = tokens.iter().position(|t| token_key(t) == key).unwrap();
            result.push(n);
            at = lru.nodes[at].next;
        }
        result
    }

    #[test]
    fn hit_after_insert() {
        let cache = TokenCache::new(8);
        let stored = cache.insert(&token(1), verified(json!({})));
        let found = cache.get(&token(1), &keys(), &policy(), NOW).unwrap();
        assert!(Rc::ptr_eq(&stored, &found));
        assert_eq!(*found, verified(json!({})));
        assert_eq!(cache.len(), 1);
        assert!(!cache.is_empty());
    }

    #[test]
    fn miss_for_another_token() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        assert!(cache.get(&token(2), &keys(), &policy(), NOW).is_none());
        assert!(cache.get("", &keys(), &policy(), NOW).is_none());
        // A token differing in one character is another token.
        let mut altered = token(1);
        altered.push('x');
        assert!(cache.get(&altered, &keys(), &policy(), NOW).is_none());
        assert_eq!(cache.len(), 1, "a miss on an absent token removes nothing");
    }

    #[test]
    fn keys_are_sha256_and_token_text_is_not_stored() {
        // FIPS 180-2 test vector.
        let expected: [u8; 32] = [
            0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
            0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
            0xf2, 0x00, 0x15, 0xad,
        ];
        assert_eq!(token_key("abc"), expected);

        let cache = TokenCache::new(4);
        cache.insert("abc", verified(json!({})));
        let lru = cache.inner.borrow();
        assert_eq!(lru.nodes[0].key, expected);
        assert!(lru.map.contains_key(&expected));
        drop(lru);
        assert!(
            !format!("{cache:?}").contains("user-1"),
            "Debug prints no claims"
        );
    }

    #[test]
    fn evicts_least_recently_inserted_without_lookups() {
        let tokens: Vec<String> = (0..5).map(token).collect();
        let cache = TokenCache::new(3);
        for t in &tokens {
            cache.insert(t, verified(json!({})));
            assert_consistent(&cache);
        }
        assert_eq!(cache.len(), 3);
        assert_eq!(order(&cache, &tokens), vec![4, 3, 2]);
        assert_eq!(cache.stats().evictions, 2);
        for evicted in &tokens[..2] {
            assert!(cache.get(evicted, &keys(), &policy(), NOW).is_none());
        }
        for kept in &tokens[2..] {
            assert!(cache.get(kept, &keys(), &policy(), NOW).is_some());
        }
    }

    #[test]
    fn get_marks_entry_recently_used() {
        let tokens: Vec<String> = (0..4).map(token).collect();
        let cache = TokenCache::new(3);
        for t in &tokens[..3] {
            cache.insert(t, verified(json!({})));
        }
        // Touch the oldest: the next insertion evicts token 1 instead.
        assert!(cache.get(&tokens[0], &keys(), &policy(), NOW).is_some());
        assert_eq!(order(&cache, &tokens), vec![0, 2, 1]);
        cache.insert(&tokens[3], verified(json!({})));
        assert_consistent(&cache);
        assert_eq!(order(&cache, &tokens), vec![3, 0, 2]);
        assert!(cache.get(&tokens[1], &keys(), &policy(), NOW).is_none());
        assert!(cache.get(&tokens[0], &keys(), &policy(), NOW).is_some());
        assert!(cache.get(&tokens[2], &keys(), &policy(), NOW).is_some());
        assert!(cache.get(&tokens[3], &keys(), &policy(), NOW).is_some());
    }

    #[test]
    fn touching_the_head_and_tail_keeps_the_list_intact() {
        let tokens: Vec<String> = (0..3).map(token).collect();
        let cache = TokenCache::new(3);
        for t in &tokens {
            cache.insert(t, verified(json!({})));
        }
        for n in [2, 2, 0, 1, 1, 0, 2] {
            assert!(cache.get(&tokens[n], &keys(), &policy(), NOW).is_some());
            assert_consistent(&cache);
            assert_eq!(order(&cache, &tokens)[0], n);
        }
        assert_eq!(order(&cache, &tokens), vec![2, 0, 1]);
    }

    #[test]
    fn reinsert_replaces_value_and_marks_recent() {
        let tokens: Vec<String> = (0..4).map(token).collect();
        let cache = TokenCache::new(3);
        for t in &tokens[..3] {
            cache.insert(t, verified(json!({})));
        }
        let replaced = cache.insert(&tokens[0], verified(json!({ "sub": "user-2" })));
        assert_eq!(cache.len(), 3);
        assert_eq!(cache.stats().evictions, 0);
        assert_eq!(order(&cache, &tokens), vec![0, 2, 1]);
        let found = cache.get(&tokens[0], &keys(), &policy(), NOW).unwrap();
        assert!(Rc::ptr_eq(&replaced, &found));
        assert_eq!(found.claims["sub"], "user-2");
        cache.insert(&tokens[3], verified(json!({})));
        assert!(cache.get(&tokens[1], &keys(), &policy(), NOW).is_none());
        assert_consistent(&cache);
    }

    #[test]
    fn expired_entry_is_a_miss_and_removed() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        let exp = NOW + 3600;
        assert!(cache
            .get(&token(1), &keys(), &policy(), exp + SKEW)
            .is_none());
        assert_eq!(cache.len(), 0);
        assert_eq!(cache.stats().invalidated, 1);
        // Removed, not merely hidden: an earlier time does not bring it back.
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none());
        assert_eq!(cache.stats().invalidated, 1);
    }

    #[test]
    fn expiry_boundary_matches_full_verification() {
        // The same skew as check_times, no more: the cache never extends validity.
        let exp = NOW + 3600;
        let last_valid = exp + SKEW - 1;
        assert!(claims::check_times(&verified(json!({})).claims, &policy(), last_valid).is_ok());
        assert!(
            claims::check_times(&verified(json!({})).claims, &policy(), last_valid + 1).is_err()
        );

        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        assert!(cache
            .get(&token(1), &keys(), &policy(), last_valid)
            .is_some());
        assert!(cache
            .get(&token(1), &keys(), &policy(), last_valid + 1)
            .is_none());

        let strict = ClaimsPolicy {
            clock_skew: 0,
            ..policy()
        };
        cache.insert(&token(1), verified(json!({})));
        assert!(cache.get(&token(1), &keys(), &strict, exp - 1).is_some());
        assert!(cache.get(&token(1), &keys(), &strict, exp).is_none());
    }

    #[test]
    fn fractional_exp_is_honoured() {
        let cache = TokenCache::new(8);
        let strict = ClaimsPolicy {
            clock_skew: 0,
            ..policy()
        };
        cache.insert(&token(1), verified(json!({ "exp": NOW as f64 + 0.5 })));
        assert!(cache.get(&token(1), &keys(), &strict, NOW).is_some());
        assert!(cache.get(&token(1), &keys(), &strict, NOW + 1).is_none());
    }

    #[test]
    fn not_yet_valid_is_a_miss_and_removed() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({ "nbf": NOW + 600 })));
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none());
        assert!(cache.is_empty());
        assert_eq!(cache.stats().invalidated, 1);

        // Within the skew it is valid, as in full verification.
        cache.insert(&token(2), verified(json!({ "nbf": NOW + SKEW })));
        assert!(cache.get(&token(2), &keys(), &policy(), NOW).is_some());
    }

    #[test]
    fn issued_in_future_is_a_miss() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({ "iat": NOW + 600 })));
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none());
        assert!(cache.is_empty());
    }

    #[test]
    fn max_age_is_rechecked() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        let aged = ClaimsPolicy {
            max_age: Some(300),
            ..policy()
        };
        assert!(cache
            .get(&token(1), &keys(), &aged, NOW + 300 + SKEW)
            .is_some());
        assert!(cache
            .get(&token(1), &keys(), &aged, NOW + 301 + SKEW)
            .is_none());
        assert!(cache.is_empty());

        // A max age makes `iat` required, for cached tokens too.
        let mut no_iat = verified(json!({}));
        no_iat.claims.remove("iat");
        cache.insert(&token(2), no_iat);
        assert!(cache.get(&token(2), &keys(), &policy(), NOW).is_some());
        assert!(cache.get(&token(2), &keys(), &aged, NOW).is_none());
    }

    #[test]
    fn claims_that_fail_time_checks_never_hit() {
        let cache = TokenCache::new(8);
        let mut no_exp = verified(json!({}));
        no_exp.claims.remove("exp");
        cache.insert(&token(1), no_exp);
        cache.insert(&token(2), verified(json!({ "exp": "never" })));
        cache.insert(&token(3), verified(json!({ "nbf": -1 })));
        for n in 1..=3 {
            assert!(cache.get(&token(n), &keys(), &policy(), NOW).is_none());
        }
        assert!(cache.is_empty());
        assert_eq!(cache.stats().invalidated, 3);
    }

    #[test]
    fn removed_key_invalidates_entry() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        cache.insert(
            &token(2),
            verified_by(&keys(), "jose-es256", Algorithm::Es256, json!({})),
        );
        let rotated = key_set(vec![fixture_key("jose-es256"), fixture_key("jose-ps256")]);
        assert!(cache.get(&token(1), &rotated, &policy(), NOW).is_none());
        assert_eq!(cache.stats().invalidated, 1);
        assert_eq!(cache.len(), 1);
        // Tokens of keys still in the set keep hitting.
        assert!(cache.get(&token(2), &rotated, &policy(), NOW).is_some());
        // The entry is gone, even if the key comes back.
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none());
        assert_eq!(cache.stats().invalidated, 1);
        assert_consistent(&cache);
    }

    #[test]
    fn kid_reused_for_another_key_invalidates_entry() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        // Same kid, different key material (hence thumbprint).
        let mut impostor = fixture_key("jose-rs384");
        impostor["kid"] = json!("jose-rs256");
        impostor["alg"] = json!("RS256");
        let reused = key_set(vec![impostor]);
        assert_ne!(
            reused.get("jose-rs256").unwrap().thumbprint,
            keys().get("jose-rs256").unwrap().thumbprint
        );
        assert!(cache.get(&token(1), &reused, &policy(), NOW).is_none());
        assert_eq!(cache.stats().invalidated, 1);
    }

    #[test]
    fn same_key_under_another_kid_invalidates_entry() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        let mut renamed = fixture_key("jose-rs256");
        renamed["kid"] = json!("renamed");
        assert!(cache
            .get(&token(1), &key_set(vec![renamed]), &policy(), NOW)
            .is_none());
        assert_eq!(cache.stats().invalidated, 1);
    }

    #[test]
    fn key_no_longer_permitting_alg_invalidates_entry() {
        let cache = TokenCache::new(8);
        cache.insert(&token(1), verified(json!({})));
        // Same material and kid (the thumbprint ignores `alg`), now restricted to PS256.
        let mut restricted = fixture_key("jose-rs256");
        restricted["alg"] = json!("PS256");
        let restricted = key_set(vec![restricted]);
        assert_eq!(
            restricted.keys()[0].thumbprint,
            keys().get("jose-rs256").unwrap().thumbprint
        );
        assert!(cache.get(&token(1), &restricted, &policy(), NOW).is_none());
        assert_eq!(cache.stats().invalidated, 1);
    }

    #[test]
    fn key_without_kid_matches_by_thumbprint() {
        let set = key_set(vec![fixture_key("jose-rsa-no-alg")]);
        let key = &set.keys()[0];
        let mut no_kid = fixture_key("jose-rsa-no-alg");
        no_kid.as_object_mut().unwrap().remove("kid");
        let anonymous = key_set(vec![no_kid]);
        let token_verified = VerifiedToken {
            alg: Algorithm::Ps384,
            kid: None,
            key_thumbprint: key.thumbprint.clone(),
            claims: verified(json!({})).claims,
        };
        let cache = TokenCache::new(8);
        cache.insert(&token(1), token_verified);
        assert!(cache.get(&token(1), &anonymous, &policy(), NOW).is_some());
        // The key gaining a kid is a change of key: re-verify.
        assert!(cache.get(&token(1), &set, &policy(), NOW).is_none());
    }

    #[test]
    fn stats_count_hits_misses_evictions_and_invalidations() {
        let cache = TokenCache::new(2);
        assert_eq!(cache.stats(), TokenCacheStats::default());
        cache.insert(&token(1), verified(json!({})));
        cache.insert(&token(2), verified(json!({ "nbf": NOW + 600 })));
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_some()); // hit
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_some()); // hit
        assert!(cache.get(&token(9), &keys(), &policy(), NOW).is_none()); // miss
        assert!(cache.get(&token(2), &keys(), &policy(), NOW).is_none()); // miss, invalidated
        cache.insert(&token(3), verified(json!({}))); // fills the slot freed above
        cache.insert(&token(4), verified(json!({}))); // evicts token 1
        cache.insert(&token(4), verified(json!({}))); // replaces, no eviction
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none()); // miss
        assert_eq!(
            cache.stats(),
            TokenCacheStats {
                hits: 2,
                misses: 3,
                evictions: 1,
                invalidated: 1,
            }
        );
        cache.clear();
        assert!(cache.is_empty());
        assert_eq!(cache.stats().hits, 2, "clear keeps the counters");
    }

    #[test]
    fn stats_serialize_for_the_status_endpoint() {
        let stats = TokenCacheStats {
            hits: 1,
            misses: 2,
            evictions: 3,
            invalidated: 4,
        };
        assert_eq!(
            serde_json::to_value(stats).unwrap(),
            json!({ "hits": 1, "misses": 2, "evictions": 3, "invalidated": 4 })
        );
    }

    #[test]
    fn capacity_zero_stores_nothing() {
        let cache = TokenCache::new(0);
        let stored = cache.insert(&token(1), verified(json!({})));
        assert_eq!(*stored, verified(json!({})));
        assert!(cache.is_empty());
        assert_eq!(cache.capacity(), 0);
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none());
        assert_eq!(
            cache.stats(),
            TokenCacheStats {
                misses: 1,
                ..TokenCacheStats::default()
            }
        );
    }

    #[test]
    fn capacity_one_keeps_the_latest() {
        let cache = TokenCache::new(1);
        cache.insert(&token(1), verified(json!({})));
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_some());
        cache.insert(&token(2), verified(json!({})));
        assert_consistent(&cache);
        assert_eq!(cache.len(), 1);
        assert!(cache.get(&token(1), &keys(), &policy(), NOW).is_none());
        assert!(cache.get(&token(2), &keys(), &policy(), NOW).is_some());
        cache.insert(&token(2), verified(json!({})));
        assert_eq!(cache.stats().evictions, 1);
        // Invalidating the only entry empties the list; it fills again.
        assert!(cache
            .get(&token(2), &keys(), &policy(), NOW + 7200)
            .is_none());
        assert!(cache.is_empty());
        assert_consistent(&cache);
        cache.insert(&token(3), verified(json!({})));
        assert!(cache.get(&token(3), &keys(), &policy(), NOW).is_some());
        assert_consistent(&cache);
    }

    #[test]
    fn removing_from_the_middle_keeps_order() {
        let tokens: Vec<String> = (0..6).map(token).collect();
        let cache = TokenCache::new(5);
        for (n, t) in tokens[..5].iter().enumerate() {
            // Token 1 expires early; the others do not.
            let extra = if n == 1 {
                json!({ "exp": NOW + 10 })
            } else {
                json!({})
            };
            cache.insert(t, verified(extra));
        }
        assert!(cache
            .get(&tokens[1], &keys(), &policy(), NOW + 100)
            .is_none());
        assert_consistent(&cache);
        assert_eq!(order(&cache, &tokens), vec![4, 3, 2, 0]);
        cache.insert(&tokens[5], verified(json!({})));
        assert_eq!(order(&cache, &tokens), vec![5, 4, 3, 2, 0]);
        assert_eq!(cache.stats().evictions, 0);
        cache.insert(&tokens[1], verified(json!({})));
        assert_eq!(order(&cache, &tokens), vec![1, 5, 4, 3, 2]);
        assert_eq!(cache.stats().evictions, 1);
        assert_consistent(&cache);
    }

    #[test]
    fn default_capacity() {
        let cache = TokenCache::default();
        assert_eq!(cache.capacity(), DEFAULT_CAPACITY);
        assert!(cache.is_empty());
        assert!(format!("{cache:?}").contains("capacity: 1024"));
    }

    #[test]
    fn ten_thousand_entries_fill_and_look_up() {
        const CAPACITY: usize = 10_000;
        let keys = keys();
        let policy = policy();
        let value = verified(json!({}));
        let cache = TokenCache::new(CAPACITY);
        for n in 0..CAPACITY {
            cache.insert(&token(n), value.clone());
        }
        assert_eq!(cache.len(), CAPACITY);
        for n in 0..CAPACITY {
            assert!(cache.get(&token(n), &keys, &policy, NOW).is_some());
        }
        // Half again: evicts the least recently used, which after the lookups are the oldest.
        for n in CAPACITY..CAPACITY + CAPACITY / 2 {
            cache.insert(&token(n), value.clone());
        }
        assert_eq!(cache.len(), CAPACITY);
        assert_eq!(cache.stats().evictions, (CAPACITY / 2) as u64);
        for n in 0..CAPACITY / 2 {
            assert!(cache.get(&token(n), &keys, &policy, NOW).is_none());
        }
        for n in CAPACITY / 2..CAPACITY + CAPACITY / 2 {
            assert!(cache.get(&token(n), &keys, &policy, NOW).is_some());
        }
        assert_eq!(
            cache.stats(),
            TokenCacheStats {
                hits: (2 * CAPACITY) as u64,
                misses: (CAPACITY / 2) as u64,
                evictions: (CAPACITY / 2) as u64,
                invalidated: 0,
            }
        );
        assert_consistent(&cache);
    }
}
