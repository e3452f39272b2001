use super::*;
use crate::jws::alg::Algorithm;
use serde_json::{json, Map, Value};

const NOW: u64 = 1_700_000_000;
const SKEW: u64 = 60;

fn fixture_keys() -> Vec<Value> {
    let doc: Value =
        serde_json::from_str(include_str!("../../../tests/data/jose-fixtures.json")).unwrap();
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

/// The secret of the caches in these tests (a gateway draws one per isolate).
const SECRET: [u8; 16] = *b"test-secret-0123";

/// An empty cache of `capacity` tokens keyed with [`SECRET`].
fn cache_of(capacity: usize) -> TokenCache {
    let cache = TokenCache::new(capacity);
    cache.set_secret(SECRET);
    cache
}

/// The key of `token` in a cache keyed with [`SECRET`].
fn key(token: &str) -> TokenKey {
    cache_of(0).key(token)
}

/// The cache key of `token(n)`.
fn key_of(n: usize) -> TokenKey {
    key(&token(n))
}

/// The cached keys, most recently used first.
fn cached_keys(cache: &TokenCache) -> Vec<TokenKey> {
    let inner = cache.inner.borrow();
    inner
        .entries
        .iter()
        .flat_map(|entries| entries.iter().map(|(key, _)| *key))
        .collect()
}

/// Which of `tokens` are cached, most recently used first.
fn order(cache: &TokenCache, tokens: &[String]) -> Vec<usize> {
    cached_keys(cache)
        .into_iter()
        .map(|cached| tokens.iter().position(|t| key(t) == cached).unwrap())
        .collect()
}

#[test]
fn hit_after_insert() {
    let cache = cache_of(8);
    let stored = cache.insert(key_of(1), 0, verified(json!({})));
    let found = cache.get(&key_of(1), 0, &keys(), &policy(), NOW).unwrap();
    assert!(Rc::ptr_eq(&stored, &found));
    assert_eq!(**found, verified(json!({})));
    assert_eq!(cache.len(), 1);
    assert!(!cache.is_empty());
}

#[test]
fn miss_for_another_token() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    assert!(cache.get(&key_of(2), 0, &keys(), &policy(), NOW).is_none());
    assert!(cache.get(&key(""), 0, &keys(), &policy(), NOW).is_none());
    // A token differing in one character is another token.
    let mut altered = token(1);
    altered.push('x');
    assert!(cache
        .get(&key(&altered), 0, &keys(), &policy(), NOW)
        .is_none());
    assert_eq!(cache.len(), 1, "a miss on an absent token removes nothing");
}

#[test]
fn keys_are_keyed_siphash_and_token_text_is_not_stored() {
    // SipHash-2-4, 128-bit output: the reference implementation's first vector (key 00..0f, the
    // empty message; `vectors.h` of github.com/veorq/SipHash).
    let reference: [u8; 16] = [
        0xa3, 0x81, 0x7f, 0x04, 0xba, 0x25, 0xa8, 0xe6, 0x6d, 0xf6, 0x72, 0x14, 0xc7, 0x55, 0x02,
        0x93,
    ];
    let reference_cache = TokenCache::new(4);
    reference_cache.set_secret(std::array::from_fn(|i| i as u8));
    let expected = TokenKey(Some(u128::from_le_bytes(reference)));
    assert_eq!(reference_cache.key(""), expected);
    reference_cache.set_secret(SECRET);
    assert_eq!(reference_cache.key(""), expected, "the first secret stays");

    // Another secret, other keys: the key of a token cannot be worked out without the secret.
    let cache = cache_of(4);
    assert_ne!(cache.key(""), expected);
    assert_ne!(cache.key("abc"), reference_cache.key("abc"));
    assert_eq!(
        cache.key("abc"),
        key("abc"),
        "the same secret, the same key"
    );

    cache.insert(key("abc"), 0, verified(json!({})));
    assert_eq!(cached_keys(&cache), vec![key("abc")]);
    let hash = key("abc").0.unwrap();
    for shown in [format!("{cache:?}"), format!("{:?}", key("abc"))] {
        assert!(!shown.contains("user-1"), "Debug prints no claims: {shown}");
        assert!(!shown.contains(&format!("{hash:x}")), "nor keys: {shown}");
        assert!(!shown.contains(&hash.to_string()), "nor keys: {shown}");
    }
}

#[test]
fn nothing_is_stored_or_found_before_the_secret() {
    let cache = TokenCache::new(4);
    assert!(!cache.has_secret());
    let unkeyed = cache.key(&token(1));
    cache.insert(unkeyed, 0, verified(json!({})));
    assert!(
        cache.is_empty(),
        "a key made without the secret is not stored"
    );
    assert!(cache.get(&unkeyed, 0, &keys(), &policy(), NOW).is_none());
    assert_eq!(cache.provider_of(&unkeyed), None);

    cache.set_secret(SECRET);
    assert!(cache.has_secret());
    let keyed = cache.key(&token(1));
    assert_ne!(keyed, unkeyed);
    cache.insert(keyed, 0, verified(json!({})));
    assert!(cache.get(&keyed, 0, &keys(), &policy(), NOW).is_some());
    assert!(
        cache.get(&unkeyed, 0, &keys(), &policy(), NOW).is_none(),
        "an unkeyed key matches no entry"
    );
}

#[test]
fn evicts_least_recently_inserted_without_lookups() {
    let tokens: Vec<String> = (0..5).map(token).collect();
    let cache = cache_of(3);
    for t in &tokens {
        cache.insert(key(t), 0, verified(json!({})));
    }
    assert_eq!(cache.len(), 3);
    assert_eq!(order(&cache, &tokens), vec![4, 3, 2]);
    assert_eq!(cache.stats().evictions, 2);
    for evicted in &tokens[..2] {
        assert!(cache
            .get(&key(evicted), 0, &keys(), &policy(), NOW)
            .is_none());
    }
    for kept in &tokens[2..] {
        assert!(cache.get(&key(kept), 0, &keys(), &policy(), NOW).is_some());
    }
}

#[test]
fn get_marks_entry_recently_used() {
    let tokens: Vec<String> = (0..4).map(token).collect();
    let cache = cache_of(3);
    for t in &tokens[..3] {
        cache.insert(key(t), 0, verified(json!({})));
    }
    // Touch the oldest: the next insertion evicts token 1 instead.
    assert!(cache
        .get(&key(&tokens[0]), 0, &keys(), &policy(), NOW)
        .is_some());
    assert_eq!(order(&cache, &tokens), vec![0, 2, 1]);
    cache.insert(key(&tokens[3]), 0, verified(json!({})));
    assert_eq!(order(&cache, &tokens), vec![3, 0, 2]);
    for (n, kept) in [(1, false), (0, true), (2, true), (3, true)] {
        let found = cache.get(&key(&tokens[n]), 0, &keys(), &policy(), NOW);
        assert_eq!(found.is_some(), kept, "token {n}");
    }
}

#[test]
fn every_hit_becomes_the_most_recently_used() {
    let tokens: Vec<String> = (0..3).map(token).collect();
    let cache = cache_of(3);
    for t in &tokens {
        cache.insert(key(t), 0, verified(json!({})));
    }
    for n in [2, 2, 0, 1, 1, 0, 2] {
        assert!(cache
            .get(&key(&tokens[n]), 0, &keys(), &policy(), NOW)
            .is_some());
        assert_eq!(order(&cache, &tokens)[0], n);
    }
    assert_eq!(order(&cache, &tokens), vec![2, 0, 1]);
}

#[test]
fn reinsert_replaces_value_and_marks_recent() {
    let tokens: Vec<String> = (0..4).map(token).collect();
    let cache = cache_of(3);
    for t in &tokens[..3] {
        cache.insert(key(t), 0, verified(json!({})));
    }
    let replaced = cache.insert(key(&tokens[0]), 0, verified(json!({ "sub": "user-2" })));
    assert_eq!(cache.len(), 3);
    assert_eq!(cache.stats().evictions, 0);
    assert_eq!(order(&cache, &tokens), vec![0, 2, 1]);
    let found = cache
        .get(&key(&tokens[0]), 0, &keys(), &policy(), NOW)
        .unwrap();
    assert!(Rc::ptr_eq(&replaced, &found));
    assert_eq!(found.claims["sub"], "user-2");
    cache.insert(key(&tokens[3]), 0, verified(json!({})));
    assert!(cache
        .get(&key(&tokens[1]), 0, &keys(), &policy(), NOW)
        .is_none());
}

#[test]
fn expired_entry_is_a_miss_and_removed() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    let exp = NOW + 3600;
    assert!(cache
        .get(&key_of(1), 0, &keys(), &policy(), exp + SKEW)
        .is_none());
    assert_eq!(cache.len(), 0);
    assert_eq!(cache.stats().invalidated, 1);
    // Removed, not merely hidden: an earlier time does not bring it back.
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none());
    assert_eq!(cache.stats().invalidated, 1);
}

#[test]
fn expiry_boundary_matches_full_verification() {
    // The same skew as check_times, no more: the cache never extends validity.
    let exp = NOW + 3600;
    let last_valid = exp + SKEW - 1;
    assert!(claims::check_times(&verified(json!({})).claims, &policy(), last_valid).is_ok());
    assert!(claims::check_times(&verified(json!({})).claims, &policy(), last_valid + 1).is_err());

    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    assert!(cache
        .get(&key_of(1), 0, &keys(), &policy(), last_valid)
        .is_some());
    assert!(cache
        .get(&key_of(1), 0, &keys(), &policy(), last_valid + 1)
        .is_none());

    let strict = ClaimsPolicy {
        clock_skew: 0,
        ..policy()
    };
    cache.insert(key_of(1), 0, verified(json!({})));
    assert!(cache
        .get(&key_of(1), 0, &keys(), &strict, exp - 1)
        .is_some());
    assert!(cache.get(&key_of(1), 0, &keys(), &strict, exp).is_none());
}

#[test]
fn fractional_exp_is_honoured() {
    let cache = cache_of(8);
    let strict = ClaimsPolicy {
        clock_skew: 0,
        ..policy()
    };
    cache.insert(key_of(1), 0, verified(json!({ "exp": NOW as f64 + 0.5 })));
    assert!(cache.get(&key_of(1), 0, &keys(), &strict, NOW).is_some());
    assert!(cache
        .get(&key_of(1), 0, &keys(), &strict, NOW + 1)
        .is_none());
}

#[test]
fn not_yet_valid_is_a_miss_and_removed() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({ "nbf": NOW + 600 })));
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none());
    assert!(cache.is_empty());
    assert_eq!(cache.stats().invalidated, 1);

    // Within the skew it is valid, as in full verification.
    cache.insert(key_of(2), 0, verified(json!({ "nbf": NOW + SKEW })));
    assert!(cache.get(&key_of(2), 0, &keys(), &policy(), NOW).is_some());
}

#[test]
fn issued_in_future_is_a_miss() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({ "iat": NOW + 600 })));
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none());
    assert!(cache.is_empty());
}

#[test]
fn max_age_is_rechecked() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    let aged = ClaimsPolicy {
        max_age: Some(300),
        ..policy()
    };
    assert!(cache
        .get(&key_of(1), 0, &keys(), &aged, NOW + 300 + SKEW)
        .is_some());
    assert!(cache
        .get(&key_of(1), 0, &keys(), &aged, NOW + 301 + SKEW)
        .is_none());
    assert!(cache.is_empty());

    // A max age makes `iat` required, for cached tokens too.
    let mut no_iat = verified(json!({}));
    no_iat.claims.remove("iat");
    cache.insert(key_of(2), 0, no_iat);
    assert!(cache.get(&key_of(2), 0, &keys(), &policy(), NOW).is_some());
    assert!(cache.get(&key_of(2), 0, &keys(), &aged, NOW).is_none());
}

#[test]
fn claims_that_fail_time_checks_never_hit() {
    let cache = cache_of(8);
    let mut no_exp = verified(json!({}));
    no_exp.claims.remove("exp");
    cache.insert(key_of(1), 0, no_exp);
    cache.insert(key_of(2), 0, verified(json!({ "exp": "never" })));
    cache.insert(key_of(3), 0, verified(json!({ "nbf": -1 })));
    for n in 1..=3 {
        assert!(cache.get(&key_of(n), 0, &keys(), &policy(), NOW).is_none());
    }
    assert!(cache.is_empty());
    assert_eq!(cache.stats().invalidated, 3);
}

#[test]
fn removed_key_invalidates_entry() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    cache.insert(
        key_of(2),
        0,
        verified_by(&keys(), "jose-es256", Algorithm::Es256, json!({})),
    );
    let rotated = key_set(vec![fixture_key("jose-es256"), fixture_key("jose-ps256")]);
    assert!(cache.get(&key_of(1), 0, &rotated, &policy(), NOW).is_none());
    assert_eq!(cache.stats().invalidated, 1);
    assert_eq!(cache.len(), 1);
    // Tokens of keys still in the set keep hitting.
    assert!(cache.get(&key_of(2), 0, &rotated, &policy(), NOW).is_some());
    // The entry is gone, even if the key comes back.
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none());
    assert_eq!(cache.stats().invalidated, 1);
}

#[test]
fn kid_reused_for_another_key_invalidates_entry() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    // Same kid, different key material (hence thumbprint).
    let mut impostor = fixture_key("jose-rs384");
    impostor["kid"] = json!("jose-rs256");
    impostor["alg"] = json!("RS256");
    let reused = key_set(vec![impostor]);
    assert_ne!(
        reused.get("jose-rs256").unwrap().thumbprint,
        keys().get("jose-rs256").unwrap().thumbprint
    );
    assert!(cache.get(&key_of(1), 0, &reused, &policy(), NOW).is_none());
    assert_eq!(cache.stats().invalidated, 1);
}

#[test]
fn same_key_under_another_kid_invalidates_entry() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    let mut renamed = fixture_key("jose-rs256");
    renamed["kid"] = json!("renamed");
    assert!(cache
        .get(&key_of(1), 0, &key_set(vec![renamed]), &policy(), NOW)
        .is_none());
    assert_eq!(cache.stats().invalidated, 1);
}

#[test]
fn key_no_longer_permitting_alg_invalidates_entry() {
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, verified(json!({})));
    // Same material and kid (the thumbprint ignores `alg`), now restricted to PS256.
    let mut restricted = fixture_key("jose-rs256");
    restricted["alg"] = json!("PS256");
    let restricted = key_set(vec![restricted]);
    assert_eq!(
        restricted.keys()[0].thumbprint,
        keys().get("jose-rs256").unwrap().thumbprint
    );
    assert!(cache
        .get(&key_of(1), 0, &restricted, &policy(), NOW)
        .is_none());
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
    let cache = cache_of(8);
    cache.insert(key_of(1), 0, token_verified);
    assert!(cache
        .get(&key_of(1), 0, &anonymous, &policy(), NOW)
        .is_some());
    // The key gaining a kid is a change of key: re-verify.
    assert!(cache.get(&key_of(1), 0, &set, &policy(), NOW).is_none());
}

#[test]
fn stats_count_hits_misses_evictions_and_invalidations() {
    let cache = cache_of(2);
    assert_eq!(cache.stats(), TokenCacheStats::default());
    cache.insert(key_of(1), 0, verified(json!({})));
    cache.insert(key_of(2), 0, verified(json!({ "nbf": NOW + 600 })));
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_some()); // hit
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_some()); // hit
    assert!(cache.get(&key_of(9), 0, &keys(), &policy(), NOW).is_none()); // miss
    assert!(cache.get(&key_of(2), 0, &keys(), &policy(), NOW).is_none()); // miss, invalidated
    cache.insert(key_of(3), 0, verified(json!({}))); // fills the slot freed above
    cache.insert(key_of(4), 0, verified(json!({}))); // evicts token 1
    cache.insert(key_of(4), 0, verified(json!({}))); // replaces, no eviction
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none()); // miss
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
    let cache = cache_of(0);
    let stored = cache.insert(key_of(1), 0, verified(json!({})));
    assert_eq!(**stored, verified(json!({})));
    assert!(cache.is_empty());
    assert_eq!(cache.capacity(), 0);
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none());
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
    let cache = cache_of(1);
    cache.insert(key_of(1), 0, verified(json!({})));
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_some());
    cache.insert(key_of(2), 0, verified(json!({})));
    assert_eq!(cache.len(), 1);
    assert!(cache.get(&key_of(1), 0, &keys(), &policy(), NOW).is_none());
    assert!(cache.get(&key_of(2), 0, &keys(), &policy(), NOW).is_some());
    cache.insert(key_of(2), 0, verified(json!({})));
    assert_eq!(cache.stats().evictions, 1);
    // Invalidating the only entry empties the cache; it fills again.
    assert!(cache
        .get(&key_of(2), 0, &keys(), &policy(), NOW + 7200)
        .is_none());
    assert!(cache.is_empty());
    cache.insert(key_of(3), 0, verified(json!({})));
    assert!(cache.get(&key_of(3), 0, &keys(), &policy(), NOW).is_some());
}

#[test]
fn removing_from_the_middle_keeps_order() {
    let tokens: Vec<String> = (0..6).map(token).collect();
    let cache = cache_of(5);
    for (n, t) in tokens[..5].iter().enumerate() {
        // Token 1 expires early; the others do not.
        let extra = if n == 1 {
            json!({ "exp": NOW + 10 })
        } else {
            json!({})
        };
        cache.insert(key(t), 0, verified(extra));
    }
    assert!(cache
        .get(&key(&tokens[1]), 0, &keys(), &policy(), NOW + 100)
        .is_none());
    assert_eq!(order(&cache, &tokens), vec![4, 3, 2, 0]);
    cache.insert(key(&tokens[5]), 0, verified(json!({})));
    assert_eq!(order(&cache, &tokens), vec![5, 4, 3, 2, 0]);
    assert_eq!(cache.stats().evictions, 0);
    cache.insert(key(&tokens[1]), 0, verified(json!({})));
    assert_eq!(order(&cache, &tokens), vec![1, 5, 4, 3, 2]);
    assert_eq!(cache.stats().evictions, 1);
}

#[test]
fn default_capacity() {
    let cache = cache_of(DEFAULT_CAPACITY);
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
    let cache = cache_of(CAPACITY);
    for n in 0..CAPACITY {
        cache.insert(key_of(n), 0, value.clone());
    }
    assert_eq!(cache.len(), CAPACITY);
    for n in 0..CAPACITY {
        assert!(cache.get(&key_of(n), 0, &keys, &policy, NOW).is_some());
    }
    // Half again: evicts the least recently used, which after the lookups are the oldest.
    for n in CAPACITY..CAPACITY + CAPACITY / 2 {
        cache.insert(key_of(n), 0, value.clone());
    }
    assert_eq!(cache.len(), CAPACITY);
    assert_eq!(cache.stats().evictions, (CAPACITY / 2) as u64);
    for n in 0..CAPACITY / 2 {
        assert!(cache.get(&key_of(n), 0, &keys, &policy, NOW).is_none());
    }
    for n in CAPACITY / 2..CAPACITY + CAPACITY / 2 {
        assert!(cache.get(&key_of(n), 0, &keys, &policy, NOW).is_some());
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
}

#[test]
fn the_identity_is_derived_once_per_cached_token_and_shared_by_its_hits() {
    let cache = cache_of(8);
    let set = keys();
    cache.insert(key("token-a"), 0, verified(json!({})));
    let derived = std::cell::Cell::new(0);
    let derive = |_: &VerifiedToken| {
        derived.set(derived.get() + 1);
        vec![("x-auth-subject".to_owned(), "user-1".to_owned())]
    };
    let mut seen = Vec::new();
    for _ in 0..3 {
        let hit = cache
            .get(&key("token-a"), 0, &set, &policy(), NOW)
            .expect("a hit");
        seen.push(hit.identity(derive));
    }
    assert_eq!(derived.get(), 1, "derived on the first hit only");
    assert!(seen.iter().all(|identity| Rc::ptr_eq(identity, &seen[0])));
    // A token inserted again (verified anew) derives its identity again.
    cache.insert(key("token-a"), 0, verified(json!({})));
    let hit = cache
        .get(&key("token-a"), 0, &set, &policy(), NOW)
        .expect("a hit");
    hit.identity(derive);
    assert_eq!(derived.get(), 2);
}

#[test]
fn an_entry_answers_only_for_the_provider_that_verified_it() {
    let cache = cache_of(8);
    let set = keys();
    assert_eq!(cache.provider_of(&key("token-a")), None);
    cache.insert(key("token-a"), 1, verified(json!({})));
    // Peeking counts nothing.
    assert_eq!(cache.provider_of(&key("token-a")), Some(1));
    assert_eq!(cache.stats(), TokenCacheStats::default());
    // Another provider's lookup is a miss and drops the entry: the token is verified anew.
    assert!(cache
        .get(&key("token-a"), 0, &set, &policy(), NOW)
        .is_none());
    assert_eq!(cache.provider_of(&key("token-a")), None);
    cache.insert(key("token-a"), 1, verified(json!({})));
    let hit = cache
        .get(&key("token-a"), 1, &set, &policy(), NOW)
        .expect("a hit");
    assert_eq!(hit.provider(), 1);
}
