//! The tiered key cache (core/src/keys) against fakes: a scripted key source, a shared tier
//! (the Workers KV stand-in, storing the serialized record text under its KV key) that two
//! caches ("isolates") can share, and a recording log sink. Time is the `now` argument; every
//! test asserts exact fetch counts and staleness decisions.
//!
//! Every fake tier operation and every fetch is a real suspension point (it returns `Pending`
//! once), as KV and fetch are in workerd, so that lookups run together (`join_all`) interleave
//! at each `await` like concurrent requests in one isolate.

use std::cell::RefCell;
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::task::{Context, Poll, Waker};

use edge_jwt_core::jws::jwk::KeySet;
use edge_jwt_core::keys::fetch::JwksLocation;
use edge_jwt_core::keys::source::{FetchError, Fetched, KeySource};
use edge_jwt_core::keys::{
    CachePolicy, CachedKeySet, KeyCache, KeyCacheTier, KeyTier, RefreshOutcome, ResolveError,
    SourceBinding, TierError,
};
use edge_jwt_core::log::{EventSink, Level};
use serde_json::{json, Value};

// The verifier and the tokens serve only the checks on the native backend.
#[cfg_attr(not(feature = "native"), allow(dead_code))]
#[path = "support/fixtures.rs"]
mod fixtures;

const SOURCE_URL: &str = "https://issuer.example/.well-known/jwks.json";
/// The fetch budget of the fake source unless a test sets another (`FetchSettings`' default).
const BUDGET_MS: u64 = 10_000;
const MAX_KEYS: usize = 100;
/// The fake clock's origin (seconds since the epoch).
const NOW: u64 = 1_700_000_000;

// ---------------------------------------------------------------------------------------------
// Key sets from the jose fixtures (real public JWKs).

fn fixture_jwk(kid: &str) -> Value {
    fixtures::document()["jwks"]["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|key| key["kid"] == kid)
        .unwrap_or_else(|| panic!("no fixture key {kid}"))
        .clone()
}

fn set_of(kids: &[&str]) -> KeySet {
    let keys: Vec<Value> = kids.iter().map(|kid| fixture_jwk(kid)).collect();
    let set = KeySet::from_jwks_value(&json!({ "keys": keys }), MAX_KEYS).unwrap();
    assert_eq!(set.len(), kids.len());
    assert!(set.skipped().is_empty());
    set
}

/// Set A: the initial keys.
fn set_a() -> KeySet {
    set_of(&["jose-rs256", "jose-es256"])
}

/// Set B: after rotation (jose-rs256 removed, jose-eddsa added).
fn set_b() -> KeySet {
    set_of(&["jose-es256", "jose-eddsa"])
}

fn kids(set: &CachedKeySet) -> Vec<&str> {
    set.keys.kids().collect()
}

// ---------------------------------------------------------------------------------------------
// Suspension points: a future that is pending once, and a gate that holds fetches until opened.

/// Pending on the first poll (waking itself at once), ready on the next: the other futures of a
/// `join_all` run in between.
#[derive(Default)]
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

#[derive(Debug, Default)]
struct GateState {
    open: bool,
    waiting: Vec<Waker>,
}

/// Holds every fetch until opened, so that a fetch stays in flight while other lookups run.
#[derive(Debug, Clone, Default)]
struct Gate(Rc<RefCell<GateState>>);

impl Gate {
    fn open(&self) {
        let mut state = self.0.borrow_mut();
        state.open = true;
        for waker in state.waiting.drain(..) {
            waker.wake();
        }
    }

    fn close(&self) {
        self.0.borrow_mut().open = false;
    }

    /// Opens the gate after `polls` suspensions of its own: by then every other future of the
    /// pool has reached a point where it waits for the gate or is done.
    async fn open_after(&self, polls: usize) {
        for _ in 0..polls {
            YieldOnce::default().await;
        }
        self.open();
    }

    fn passed(&self) -> impl Future<Output = ()> + '_ {
        std::future::poll_fn(|cx| {
            let mut state = self.0.borrow_mut();
            if state.open {
                Poll::Ready(())
            } else {
                state.waiting.push(cx.waker().clone());
                Poll::Pending
            }
        })
    }
}

// ---------------------------------------------------------------------------------------------
// FakeSource: scripted replies, counted calls, recorded ETags.

#[derive(Debug, Clone)]
enum Reply {
    Modified {
        keys: KeySet,
        etag: Option<&'static str>,
        max_age: Option<u64>,
    },
    NotModified {
        max_age: Option<u64>,
    },
    Fail(FetchError),
    /// Never settles (a fetch whose request workerd abandoned).
    Hang,
}

fn modified(keys: KeySet, etag: &'static str) -> Reply {
    Reply::Modified {
        keys,
        etag: Some(etag),
        max_age: None,
    }
}

#[derive(Debug, Default)]
struct SourceState {
    /// Replies used first, in order.
    queue: VecDeque<Reply>,
    /// The reply once the queue is empty.
    mode: Option<Reply>,
    /// The `etag` of every call.
    etags: Vec<Option<String>>,
    /// Fetches wait for this gate when there is one.
    gate: Option<Gate>,
    /// [`KeySource::budget_ms`]; [`BUDGET_MS`] when `None`.
    budget_ms: Option<u64>,
}

/// The JWKS provider. Clones share state, so the test keeps a handle after giving one away.
#[derive(Debug, Clone, Default)]
struct FakeSource(Rc<RefCell<SourceState>>);

impl FakeSource {
    fn serving(reply: Reply) -> FakeSource {
        let source = FakeSource::default();
        source.set_mode(reply);
        source
    }

    /// Replies with `reply` from now on (after any queued replies).
    fn set_mode(&self, reply: Reply) {
        self.0.borrow_mut().mode = Some(reply);
    }

    /// Queues `reply` for the next call.
    fn then(&self, reply: Reply) -> &Self {
        self.0.borrow_mut().queue.push_back(reply);
        self
    }

    fn calls(&self) -> usize {
        self.0.borrow().etags.len()
    }

    /// Makes every fetch wait for `gate`.
    fn gated(&self, gate: &Gate) {
        self.0.borrow_mut().gate = Some(gate.clone());
    }

    fn last_etag(&self) -> Option<String> {
        self.0.borrow().etags.last().unwrap().clone()
    }
}

impl KeySource for FakeSource {
    async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, FetchError> {
        let (reply, gate) = {
            let mut state = self.0.borrow_mut();
            state.etags.push(etag.map(str::to_owned));
            let reply = match state.queue.pop_front() {
                Some(reply) => reply,
                None => state
                    .mode
                    .clone()
                    .expect("FakeSource called with nothing scripted"),
            };
            (reply, state.gate.clone())
        };
        YieldOnce::default().await;
        if let Some(gate) = &gate {
            gate.passed().await;
        }
        match reply {
            Reply::Modified {
                keys,
                etag,
                max_age,
            } => Ok(Fetched::Modified {
                keys,
                source: SOURCE_URL.to_owned(),
                etag: etag.map(str::to_owned),
                max_age,
            }),
            Reply::NotModified { max_age } => Ok(Fetched::NotModified { max_age }),
            Reply::Fail(err) => Err(err),
            Reply::Hang => std::future::pending().await,
        }
    }

    fn budget_ms(&self) -> u64 {
        self.0.borrow().budget_ms.unwrap_or(BUDGET_MS)
    }
}

// ---------------------------------------------------------------------------------------------
// FakeTier: the shared (KV) tier, storing record text under the KV keys of its binding,
// shareable between isolates and between configurations (bindings).

#[derive(Debug, Default)]
struct TierState {
    /// Stored values by KV key: record text (`CachedKeySet::to_record`) and refetch markers.
    values: HashMap<String, String>,
    /// TTL of the last `set`.
    record_ttl: Option<u64>,
    gets: usize,
    sets: usize,
    refetch_reads: usize,
    refetch_writes: usize,
    /// Every call fails.
    failing: bool,
}

/// A view of one KV namespace as a gateway configured with `binding` uses it. Clones share the
/// namespace, and so do views made with [`FakeTier::bound_to`].
#[derive(Debug, Clone)]
struct FakeTier {
    namespace: Rc<RefCell<TierState>>,
    binding: SourceBinding,
}

impl Default for FakeTier {
    fn default() -> Self {
        FakeTier {
            namespace: Rc::default(),
            binding: binding(SOURCE_URL),
        }
    }
}

/// The binding of a gateway configured with the JWKS URL `url`.
fn binding(url: &str) -> SourceBinding {
    SourceBinding::from(&JwksLocation::Direct(url.to_owned()))
}

impl FakeTier {
    fn state(&self) -> std::cell::Ref<'_, TierState> {
        self.namespace.borrow()
    }

    /// The same namespace, as a gateway configured with `binding` sees it.
    fn bound_to(&self, binding: SourceBinding) -> FakeTier {
        FakeTier {
            namespace: self.namespace.clone(),
            binding,
        }
    }

    fn set_failing(&self, failing: bool) {
        self.namespace.borrow_mut().failing = failing;
    }

    /// The record text under this binding's key.
    fn record(&self) -> Option<String> {
        self.state().values.get(&self.binding.set_key()).cloned()
    }

    fn put_raw(&self, text: &str) {
        self.namespace
            .borrow_mut()
            .values
            .insert(self.binding.set_key(), text.to_owned());
    }

    /// The refetch marker under this binding's key.
    fn refetch(&self) -> Option<u64> {
        let text = self
            .state()
            .values
            .get(&self.binding.refetch_key())
            .cloned();
        text.map(|text| text.parse().unwrap())
    }

    /// The stored set, parsed (without counting a `get`).
    fn stored(&self) -> Option<CachedKeySet> {
        CachedKeySet::from_record(&self.record()?, &self.binding, MAX_KEYS)
    }

    fn check(&self) -> Result<(), TierError> {
        if self.state().failing {
            Err(TierError::platform("kv unavailable (injected)"))
        } else {
            Ok(())
        }
    }
}

impl KeyCacheTier for FakeTier {
    fn name(&self) -> &'static str {
        "fake-kv"
    }

    async fn get(&self) -> Result<Option<Rc<CachedKeySet>>, TierError> {
        self.namespace.borrow_mut().gets += 1;
        YieldOnce::default().await;
        self.check()?;
        Ok(self
            .record()
            .and_then(|text| CachedKeySet::from_record(&text, &self.binding, MAX_KEYS))
            .map(Rc::new))
    }

    async fn set(&self, set: Rc<CachedKeySet>, ttl_seconds: u64) -> Result<(), TierError> {
        self.namespace.borrow_mut().sets += 1;
        YieldOnce::default().await;
        self.check()?;
        let mut state = self.namespace.borrow_mut();
        state
            .values
            .insert(self.binding.set_key(), set.to_record(&self.binding));
        state.record_ttl = Some(ttl_seconds);
        Ok(())
    }

    async fn last_refetch(&self) -> Result<Option<u64>, TierError> {
        self.namespace.borrow_mut().refetch_reads += 1;
        YieldOnce::default().await;
        self.check()?;
        Ok(self.refetch())
    }

    async fn record_refetch(&self, at: u64, _ttl_seconds: u64) -> Result<(), TierError> {
        self.namespace.borrow_mut().refetch_writes += 1;
        YieldOnce::default().await;
        self.check()?;
        self.namespace
            .borrow_mut()
            .values
            .insert(self.binding.refetch_key(), at.to_string());
        Ok(())
    }
}

// ---------------------------------------------------------------------------------------------
// RecordingSink: every event, in order.

/// One recorded event: level, name and fields.
type Event = (Level, &'static str, Value);

#[derive(Debug, Clone, Default)]
struct RecordingSink(Rc<RefCell<Vec<Event>>>);

impl RecordingSink {
    fn count(&self, level: Level, event: &str) -> usize {
        self.0
            .borrow()
            .iter()
            .filter(|(l, e, _)| *l == level && *e == event)
            .count()
    }

    fn fields(&self, event: &str) -> Vec<Value> {
        self.0
            .borrow()
            .iter()
            .filter(|(_, e, _)| *e == event)
            .map(|(_, _, fields)| fields.clone())
            .collect()
    }
}

impl EventSink for RecordingSink {
    fn event(&self, level: Level, event: &'static str, fields: Value) {
        self.0.borrow_mut().push((level, event, fields));
    }
}

/// Declares only warnings and errors wanted, and records whatever it is handed all the same: an
/// info event recorded here was built although the level drops it.
#[derive(Debug, Clone, Default)]
struct WarnSink(RecordingSink);

impl EventSink for WarnSink {
    fn event(&self, level: Level, event: &'static str, fields: Value) {
        self.0.event(level, event, fields);
    }

    fn enabled(&self, level: Level) -> bool {
        level <= Level::Warn
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers.

type Cache = KeyCache<FakeSource, FakeTier, RecordingSink>;

/// One isolate's cache over `source`, sharing `tier` when given.
fn isolate(
    source: &FakeSource,
    tier: Option<&FakeTier>,
    policy: CachePolicy,
) -> (Cache, RecordingSink) {
    let log = RecordingSink::default();
    let cache = KeyCache::new(source.clone(), tier.cloned(), policy, log.clone());
    (cache, log)
}

fn lookup(cache: &Cache, kid: &str, now: u64) -> Result<Rc<CachedKeySet>, ResolveError> {
    pollster::block_on(cache.keys_for(Some(kid), now))
}

fn refresh(cache: &Cache, now: u64) -> Result<RefreshOutcome, FetchError> {
    pollster::block_on(cache.refresh(now))
}

/// [`KeyCache::status`] as the status endpoint shows it (`key_cache`).
fn status_json(cache: &Cache, now: u64) -> Value {
    serde_json::to_value(cache.status(now)).unwrap()
}

fn is_unavailable(result: &Result<Rc<CachedKeySet>, ResolveError>) -> Option<u64> {
    match result {
        Err(ResolveError::Unavailable { retry_after, .. }) => Some(*retry_after),
        _ => None,
    }
}

// ---------------------------------------------------------------------------------------------
// 1. Memory tier steady state.

#[test]
fn a_thousand_lookups_at_the_same_time_fetch_once() {
    let source = FakeSource::serving(modified(set_a(), "\"a\""));
    let (cache, log) = isolate(&source, None, CachePolicy::default());

    for _ in 0..1000 {
        let set = lookup(&cache, "jose-rs256", NOW).unwrap();
        assert!(set.keys.get("jose-rs256").is_some());
    }

    assert_eq!(source.calls(), 1);
    let stats = cache.stats();
    assert_eq!(stats.jwks_fetches, 1);
    assert_eq!(stats.memory_hits, 999);
    assert_eq!(stats.kv_hits, 0);
    assert_eq!(stats.fetch_failures, 0);
    assert!(stats.hit_rate() > 0.99);
    assert!((stats.hit_rate() - 0.999).abs() < 1e-12);
    let reported = status_json(&cache, NOW)["hit_rate"].as_f64().unwrap();
    assert!((reported - 0.999).abs() < 1e-12);
    assert_eq!(log.count(Level::Debug, "key_cache_hit"), 999);
    assert_eq!(log.count(Level::Info, "key_set_refreshed"), 1);
}

// 2. The shared tier serves a second isolate.

#[test]
fn a_second_isolate_sharing_the_tier_makes_no_fetch() {
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    let (one, _) = isolate(&provider, Some(&tier), CachePolicy::default());
    let (two, _) = isolate(&provider, Some(&tier), CachePolicy::default());

    lookup(&one, "jose-rs256", NOW).unwrap();
    assert_eq!(provider.calls(), 1);
    assert_eq!(one.stats().kv_misses, 1);
    assert_eq!(one.stats().jwks_fetches, 1);
    assert_eq!((tier.state().gets, tier.state().sets), (1, 1));
    // Kept for the freshness plus the stale window.
    assert_eq!(tier.state().record_ttl, Some(600 + 86_400));

    let set = lookup(&two, "jose-es256", NOW + 1).unwrap();
    assert_eq!(provider.calls(), 1);
    assert_eq!(kids(&set), ["jose-rs256", "jose-es256"]);
    assert_eq!(set.meta.generation, 1);
    assert_eq!(set.meta.etag.as_deref(), Some("\"a\""));
    let stats = two.stats();
    assert_eq!(
        (stats.kv_hits, stats.jwks_fetches, stats.memory_hits),
        (1, 0, 0)
    );

    for second in 2..12 {
        lookup(&two, "jose-rs256", NOW + second).unwrap();
    }
    let stats = two.stats();
    assert_eq!(
        (stats.kv_hits, stats.jwks_fetches, stats.memory_hits),
        (1, 0, 10)
    );
    assert_eq!(provider.calls(), 1);
    assert_eq!(
        tier.state().gets,
        2,
        "memory hits never read the shared tier"
    );
}

// 3. Memory only: every isolate fetches for itself.

#[test]
fn without_a_shared_tier_each_isolate_fetches_once() {
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let (one, _) = isolate(&provider, None, CachePolicy::default());
    let (two, _) = isolate(&provider, None, CachePolicy::default());

    for _ in 0..5 {
        lookup(&one, "jose-rs256", NOW).unwrap();
        lookup(&two, "jose-rs256", NOW).unwrap();
    }

    assert_eq!(provider.calls(), 2);
    for cache in [&one, &two] {
        let stats = cache.stats();
        assert_eq!(stats.jwks_fetches, 1);
        assert_eq!(stats.memory_hits, 4);
        assert_eq!((stats.kv_hits, stats.kv_misses, stats.kv_errors), (0, 0, 0));
    }
}

// 4. Revalidation after the TTL.

#[test]
fn after_the_ttl_the_set_is_revalidated_with_its_etag() {
    let source = FakeSource::default();
    source
        .then(modified(set_a(), "\"v1\""))
        .then(Reply::NotModified { max_age: None })
        .then(modified(set_a(), "\"v2\""))
        .then(modified(set_b(), "\"v3\""));
    let (cache, _) = isolate(&source, None, CachePolicy::default());

    let set = lookup(&cache, "jose-es256", NOW).unwrap();
    assert_eq!(source.last_etag(), None);
    assert_eq!((set.meta.generation, set.meta.ttl), (1, 600));
    lookup(&cache, "jose-es256", NOW + 599).unwrap();
    assert_eq!(source.calls(), 1, "fresh until checked_at + ttl");

    // 304: same generation, confirmed now, fresh again.
    let set = lookup(&cache, "jose-es256", NOW + 600).unwrap();
    assert_eq!(source.calls(), 2);
    assert_eq!(source.last_etag().as_deref(), Some("\"v1\""));
    let stats = cache.stats();
    assert_eq!((stats.not_modified, stats.stale_serves), (1, 0));
    assert_eq!(set.meta.generation, 1);
    assert_eq!(set.meta.checked_at, NOW + 600);
    assert_eq!(set.meta.fetched_at, NOW);
    assert_eq!(set.meta.etag.as_deref(), Some("\"v1\""));
    assert!(set.is_fresh(NOW + 600));
    assert_eq!(set.fresh_until(), NOW + 1200);
    lookup(&cache, "jose-es256", NOW + 1199).unwrap();
    assert_eq!(source.calls(), 2);

    // 200 with the same keys: generation and fetched_at kept, new ETag.
    let set = lookup(&cache, "jose-es256", NOW + 1200).unwrap();
    assert_eq!(source.calls(), 3);
    assert_eq!(source.last_etag().as_deref(), Some("\"v1\""));
    assert_eq!(set.meta.generation, 1);
    assert_eq!(set.meta.fetched_at, NOW);
    assert_eq!(set.meta.checked_at, NOW + 1200);
    assert_eq!(set.meta.etag.as_deref(), Some("\"v2\""));

    // 200 with other keys: next generation.
    let set = lookup(&cache, "jose-es256", NOW + 1800).unwrap();
    assert_eq!(source.calls(), 4);
    assert_eq!(source.last_etag().as_deref(), Some("\"v2\""));
    assert_eq!(set.meta.generation, 2);
    assert_eq!(set.meta.fetched_at, NOW + 1800);
    assert_eq!(kids(&set), ["jose-es256", "jose-eddsa"]);
    assert_eq!(cache.stats().not_modified, 1);
    assert_eq!(cache.stats().stale_serves, 0);
}

// 5. max-age clamping.

#[test]
fn max_age_is_clamped_to_the_policy() {
    let custom = CachePolicy {
        ttl: 300,
        min_ttl: 10,
        max_ttl: 1000,
        ..CachePolicy::default()
    };
    for policy in [CachePolicy::default(), custom] {
        let source = FakeSource::default();
        for max_age in [Some(5), Some(1_000_000_000), None, Some(120)] {
            source.then(Reply::Modified {
                keys: set_a(),
                etag: Some("\"a\""),
                max_age,
            });
        }
        source.then(Reply::NotModified { max_age: Some(5) });
        source.then(Reply::NotModified { max_age: None });
        let (cache, _) = isolate(&source, None, policy);

        let ttls: Vec<u64> = (0..6)
            .map(|i| {
                refresh(&cache, NOW + i).unwrap();
                cache.current().unwrap().meta.ttl
            })
            .collect();
        assert_eq!(
            ttls,
            [
                policy.min_ttl,
                policy.max_ttl,
                policy.ttl,
                120,
                policy.min_ttl,
                policy.ttl
            ]
        );
        assert_eq!(source.calls(), 6);
    }
}

// 6. Provider outage after warm-up: stale serving, backoff, one warning per window, the end.

#[test]
fn an_outage_serves_the_stale_set_with_backoff_until_max_stale() {
    let policy = CachePolicy::default();
    let source = FakeSource::serving(modified(set_a(), "\"a\""));
    let (cache, log) = isolate(&source, None, policy);
    lookup(&cache, "jose-rs256", NOW).unwrap();
    source.set_mode(Reply::Fail(FetchError::Status(503)));

    // First lookup after the TTL: one attempt, fails, serves stale.
    let stale_at = NOW + policy.ttl;
    let set = lookup(&cache, "jose-rs256", stale_at).unwrap();
    assert_eq!((set.meta.generation, set.meta.checked_at), (1, NOW));
    assert_eq!(source.calls(), 2);
    assert_eq!(source.last_etag().as_deref(), Some("\"a\""));
    assert_eq!(cache.stats().fetch_failures, 1);
    assert_eq!(cache.stats().stale_serves, 1);
    assert_eq!(log.count(Level::Warn, "key_set_stale"), 1);
    assert_eq!(log.count(Level::Error, "key_set_fetch_failed"), 1);

    // Within the failure backoff: no attempt at all, one warning in the window.
    for dt in 0..policy.unknown_kid_cooldown {
        for _ in 0..10 {
            let set = lookup(&cache, "jose-rs256", stale_at + dt).unwrap();
            assert_eq!(set.meta.generation, 1);
        }
    }
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.stats().stale_serves, 301);
    assert_eq!(log.count(Level::Warn, "key_set_stale"), 1);

    // The backoff passed: exactly one more attempt, and a new warning window.
    let retry_at = stale_at + policy.unknown_kid_cooldown;
    lookup(&cache, "jose-rs256", retry_at).unwrap();
    assert_eq!(source.calls(), 3);
    for dt in 1..policy.unknown_kid_cooldown {
        lookup(&cache, "jose-es256", retry_at + dt).unwrap();
    }
    assert_eq!(source.calls(), 3);
    assert_eq!(cache.stats().fetch_failures, 2);
    assert_eq!(
        cache.stats().stale_serves,
        301 + policy.unknown_kid_cooldown
    );
    assert_eq!(log.count(Level::Warn, "key_set_stale"), 2);
    assert_eq!(log.count(Level::Error, "key_set_fetch_failed"), 2);
    let warning = log.fields("key_set_stale").pop().unwrap();
    assert_eq!(warning["stale_for_seconds"], policy.unknown_kid_cooldown);
    assert_eq!(warning["generation"], 1);

    // The last second of the stale window still serves (after one attempt).
    let usable_until = NOW + policy.ttl + policy.max_stale;
    let set = lookup(&cache, "jose-rs256", usable_until - 1).unwrap();
    assert_eq!(set.meta.generation, 1);
    assert_eq!(source.calls(), 4);

    // Beyond ttl + max_stale: unavailable, and the backoff still holds.
    let result = lookup(&cache, "jose-rs256", usable_until);
    assert_eq!(
        is_unavailable(&result),
        Some(policy.unknown_kid_cooldown - 1)
    );
    assert_eq!(
        source.calls(),
        4,
        "the failure backoff also holds past max_stale"
    );
    for dt in 1..policy.unknown_kid_cooldown - 1 {
        let result = lookup(&cache, "jose-rs256", usable_until + dt);
        assert_eq!(
            is_unavailable(&result),
            Some(policy.unknown_kid_cooldown - 1 - dt)
        );
    }
    assert_eq!(source.calls(), 4);
    let result = lookup(
        &cache,
        "jose-rs256",
        usable_until + policy.unknown_kid_cooldown - 1,
    );
    assert_eq!(
        result.unwrap_err(),
        ResolveError::Unavailable {
            retry_after: policy.unknown_kid_cooldown,
            cause: FetchError::Status(503),
        }
    );
    assert_eq!(source.calls(), 5);

    // The provider is back: the next allowed attempt succeeds and the set is fresh again.
    source.set_mode(Reply::NotModified { max_age: None });
    let back_at = usable_until + 2 * policy.unknown_kid_cooldown - 1;
    assert!(lookup(&cache, "jose-rs256", back_at - 1).is_err());
    assert_eq!(source.calls(), 5);
    let set = lookup(&cache, "jose-rs256", back_at).unwrap();
    assert_eq!(source.calls(), 6);
    assert_eq!((set.meta.generation, set.meta.checked_at), (1, back_at));
    lookup(&cache, "jose-rs256", back_at + 1).unwrap();
    assert_eq!(source.calls(), 6);
}

// 7. Cold start with the provider down.

#[test]
fn a_cold_start_during_an_outage_is_unavailable_with_backoff() {
    for cooldown in [30, 120] {
        let policy = CachePolicy {
            unknown_kid_cooldown: cooldown,
            ..CachePolicy::default()
        };
        let source = FakeSource::serving(Reply::Fail(FetchError::Transport(
            "connection reset".to_owned(),
        )));
        let (cache, log) = isolate(&source, None, policy);

        let first = lookup(&cache, "jose-rs256", NOW);
        assert_eq!(
            first,
            Err(ResolveError::Unavailable {
                retry_after: cooldown,
                cause: FetchError::Transport("connection reset".to_owned()),
            })
        );
        let first = is_unavailable(&first).unwrap();
        assert!(first > 0);
        assert_eq!(source.calls(), 1);

        let second = is_unavailable(&lookup(&cache, "jose-rs256", NOW + 10)).unwrap();
        assert!(second > 0 && second <= first, "{second} > {first}");
        assert_eq!(second, cooldown - 10);
        let last = is_unavailable(&lookup(&cache, "jose-rs256", NOW + cooldown - 1)).unwrap();
        assert_eq!(last, 1);
        assert_eq!(source.calls(), 1, "no fetch within the backoff");
        assert_eq!(cache.stats().jwks_fetches, 1);
        assert_eq!(log.count(Level::Error, "key_set_fetch_failed"), 1);
        assert!(status_json(&cache, NOW)["last_fetch_error"]
            .as_str()
            .unwrap()
            .contains("connection reset"));

        // The backoff passed: one more attempt, which also fails.
        assert_eq!(
            is_unavailable(&lookup(&cache, "jose-rs256", NOW + cooldown)),
            Some(cooldown)
        );
        assert_eq!(source.calls(), 2);

        // Recovery.
        source.set_mode(modified(set_a(), "\"a\""));
        assert!(lookup(&cache, "jose-rs256", NOW + 2 * cooldown - 1).is_err());
        assert_eq!(source.calls(), 2);
        let set = lookup(&cache, "jose-rs256", NOW + 2 * cooldown).unwrap();
        assert_eq!(set.meta.generation, 1);
        assert_eq!(source.calls(), 3);
        assert_eq!(status_json(&cache, NOW)["last_fetch_error"], Value::Null);
    }
}

#[test]
fn the_answers_within_the_backoff_carry_the_failure_itself() {
    let failure = FetchError::Status(500);
    let source = FakeSource::serving(Reply::Fail(failure.clone()));
    let (cache, _) = isolate(&source, None, CachePolicy::default());
    for now in [NOW, NOW + 1, NOW + 29] {
        match lookup(&cache, "jose-rs256", now) {
            Err(ResolveError::Unavailable { cause, .. }) => assert_eq!(cause, failure, "{now}"),
            other => panic!("{now}: {other:?}"),
        }
    }
    assert_eq!(source.calls(), 1);
    assert_eq!(
        status_json(&cache, NOW + 1)["last_fetch_error"],
        "unexpected HTTP status 500"
    );
}

// 8. Unknown kid: one refetch, then the cooldown.

#[test]
fn an_unknown_kid_refetches_once_per_cooldown() {
    let policy = CachePolicy::default();
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.set_mode(modified(set_b(), "\"b\""));
    let (cache, log) = isolate(&source, None, policy);
    lookup(&cache, "jose-rs256", NOW).unwrap();
    assert_eq!(source.calls(), 1);

    let set = lookup(&cache, "jose-eddsa", NOW + 5).unwrap();
    assert_eq!(source.calls(), 2);
    assert_eq!(source.last_etag().as_deref(), Some("\"a\""));
    assert_eq!(kids(&set), ["jose-es256", "jose-eddsa"]);
    assert_eq!(set.meta.generation, 2);
    assert_eq!(cache.stats().unknown_kid_refetches, 1);
    assert_eq!(cache.stats().cooldown_rejections, 0);

    assert_eq!(
        lookup(&cache, "jose-nope", NOW + 5),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.stats().cooldown_rejections, 1);
    let last_second = NOW + 5 + policy.unknown_kid_cooldown - 1;
    assert_eq!(
        lookup(&cache, "jose-nope", last_second),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(source.calls(), 2);
    assert_eq!(cache.stats().cooldown_rejections, 2);
    // Known kids are unaffected by the cooldown.
    lookup(&cache, "jose-eddsa", last_second).unwrap();

    // After the cooldown: exactly one more refetch.
    let after = NOW + 5 + policy.unknown_kid_cooldown;
    assert_eq!(
        lookup(&cache, "jose-nope", after),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(source.calls(), 3);
    assert_eq!(source.last_etag().as_deref(), Some("\"b\""));
    assert_eq!(
        lookup(&cache, "jose-nope", after + 1),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(source.calls(), 3);
    let stats = cache.stats();
    assert_eq!(stats.unknown_kid_refetches, 2);
    assert_eq!(stats.cooldown_rejections, 3);
    assert_eq!(stats.jwks_fetches, 3);
    assert_eq!(log.count(Level::Info, "unknown_kid_refetch"), 2);
    assert_eq!(log.count(Level::Debug, "unknown_kid_cooldown"), 3);
    assert_eq!(cache.current().unwrap().meta.generation, 2);
}

// 9. Unknown-kid flood.

/// xorshift64: deterministic "random" kids.
fn random_kids(count: usize) -> Vec<String> {
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..count)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            format!("kid-{state:016x}")
        })
        .collect()
}

/// Unknown-kid refetches the policy allows over `seconds` of continuous flood.
fn allowed_refetches(policy: &CachePolicy, seconds: u64) -> u64 {
    seconds.div_ceil(policy.unknown_kid_cooldown)
}

#[test]
fn an_unknown_kid_flood_is_bounded_by_the_cooldown() {
    let policy = CachePolicy::default();
    let source = FakeSource::serving(modified(set_a(), "\"a\""));
    let (cache, _) = isolate(&source, None, policy);
    lookup(&cache, "jose-rs256", NOW).unwrap();

    for (i, kid) in random_kids(1000).iter().enumerate() {
        let now = NOW + i as u64 / 10;
        assert_eq!(
            lookup(&cache, kid, now),
            Err(ResolveError::UnknownKey),
            "{kid}"
        );
    }

    // Refetches at +0, +30, +60 and +90 s, plus the warm-up fetch.
    let expected = 1 + allowed_refetches(&policy, 100);
    assert_eq!(expected, 5);
    assert!(expected <= 100 / policy.unknown_kid_cooldown + 2);
    assert_eq!(source.calls() as u64, expected);
    let stats = cache.stats();
    assert_eq!(stats.jwks_fetches, expected);
    assert_eq!(stats.unknown_kid_refetches, expected - 1);
    assert_eq!(stats.cooldown_rejections, 1000 - (expected - 1));
    assert_eq!(cache.current().unwrap().meta.generation, 1);
}

#[test]
fn an_unknown_kid_flood_over_two_isolates_shares_the_cooldown() {
    let policy = CachePolicy::default();
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    let (one, _) = isolate(&provider, Some(&tier), policy);
    let (two, _) = isolate(&provider, Some(&tier), policy);
    lookup(&one, "jose-rs256", NOW).unwrap();
    lookup(&two, "jose-rs256", NOW).unwrap();
    assert_eq!(provider.calls(), 1);

    for (i, kid) in random_kids(1000).iter().enumerate() {
        let cache = if i % 2 == 0 { &one } else { &two };
        let now = NOW + i as u64 / 10;
        assert_eq!(lookup(cache, kid, now), Err(ResolveError::UnknownKey));
    }

    let expected = 1 + allowed_refetches(&policy, 100);
    assert_eq!(provider.calls() as u64, expected);
    let refetches = one.stats().unknown_kid_refetches + two.stats().unknown_kid_refetches;
    assert_eq!(refetches, expected - 1);
    let rejections = one.stats().cooldown_rejections + two.stats().cooldown_rejections;
    assert_eq!(rejections, 1000 - (expected - 1));
    assert_eq!(tier.state().refetch_writes as u64, expected - 1);
    // The shared cooldown spares the shared tier too: per window and isolate at most one set
    // read and one marker read.
    let windows = expected - 1;
    let reads = one.stats().kv_reads + two.stats().kv_reads;
    assert!(reads <= 2 + 2 * 2 * windows, "{reads} shared-tier reads");
}

// 10. The cooldown is shared through the tier.

#[test]
fn an_unknown_kid_refetch_in_one_isolate_holds_off_the_other() {
    let policy = CachePolicy::default();
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    let (one, _) = isolate(&provider, Some(&tier), policy);
    let (two, log_two) = isolate(&provider, Some(&tier), policy);
    lookup(&one, "jose-rs256", NOW).unwrap();
    lookup(&two, "jose-rs256", NOW).unwrap();
    assert_eq!(provider.calls(), 1);

    assert_eq!(
        lookup(&one, "unknown-1", NOW + 100),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(provider.calls(), 2);
    assert_eq!(tier.refetch(), Some(NOW + 100));
    assert_eq!(one.stats().unknown_kid_refetches, 1);

    assert_eq!(
        lookup(&two, "unknown-2", NOW + 110),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(provider.calls(), 2);
    let stats = two.stats();
    assert_eq!((stats.jwks_fetches, stats.unknown_kid_refetches), (0, 0));
    assert_eq!(stats.cooldown_rejections, 1);
    assert_eq!(log_two.count(Level::Debug, "unknown_kid_cooldown"), 1);
    // The other isolate's cooldown is now also this isolate's: no further tier read needed.
    let reads = tier.state().refetch_reads;
    assert_eq!(
        lookup(&two, "unknown-3", NOW + 129),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(tier.state().refetch_reads, reads);
    assert_eq!(provider.calls(), 2);

    // Cooldown over: the second isolate may refetch, and now holds off the first.
    let cooled = NOW + 100 + policy.unknown_kid_cooldown;
    assert_eq!(
        lookup(&two, "unknown-4", cooled),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(provider.calls(), 3);
    assert_eq!(two.stats().unknown_kid_refetches, 1);
    assert_eq!(tier.refetch(), Some(cooled));
    assert_eq!(
        lookup(&one, "unknown-5", cooled + 1),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(provider.calls(), 3);
    assert_eq!(one.stats().cooldown_rejections, 1);
}

// 11. A failing shared tier never fails a request.

#[test]
fn a_failing_shared_tier_is_a_miss_and_a_warning() {
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    tier.set_failing(true);
    let (cache, log) = isolate(&provider, Some(&tier), CachePolicy::default());

    for _ in 0..100 {
        lookup(&cache, "jose-rs256", NOW).unwrap();
    }
    assert_eq!(provider.calls(), 1);
    let stats = cache.stats();
    assert_eq!(
        (stats.memory_hits, stats.kv_hits, stats.kv_misses),
        (99, 0, 0)
    );
    assert_eq!(stats.kv_errors, 2, "the get and the set");
    assert_eq!((tier.state().gets, tier.state().sets), (1, 1));
    assert_eq!(log.count(Level::Warn, "key_cache_tier_error"), 2);
    let operations: Vec<Value> = log
        .fields("key_cache_tier_error")
        .iter()
        .map(|f| f["operation"].clone())
        .collect();
    assert_eq!(operations, [json!("get"), json!("set")]);
    assert_eq!(
        log.fields("key_cache_tier_error")[0]["error"],
        "kv unavailable (injected)"
    );

    // An unknown kid: every tier operation fails, the refetch still happens.
    assert_eq!(
        lookup(&cache, "jose-eddsa", NOW + 1),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(provider.calls(), 2);
    let operations: Vec<Value> = log
        .fields("key_cache_tier_error")
        .iter()
        .map(|f| f["operation"].clone())
        .collect();
    assert_eq!(
        operations,
        [
            json!("get"),
            json!("set"),
            json!("get"),
            json!("last_refetch"),
            json!("record_refetch"),
            json!("set")
        ]
    );
    assert_eq!(cache.stats().kv_errors, 6);

    // After the TTL: revalidation works without the tier.
    provider.set_mode(Reply::NotModified { max_age: None });
    let set = lookup(&cache, "jose-rs256", NOW + 601).unwrap();
    assert_eq!(set.meta.checked_at, NOW + 601);
    assert_eq!(provider.calls(), 3);
    assert_eq!(cache.stats().kv_errors, 8);
    assert_eq!(tier.record(), None);
}

// 12. Rotation by the scheduled refresh.

#[test]
fn a_rotation_removes_the_old_key_and_adds_the_new_one() {
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.set_mode(modified(set_b(), "\"b\""));
    let (cache, _) = isolate(&source, None, CachePolicy::default());
    lookup(&cache, "jose-rs256", NOW).unwrap();

    assert_eq!(
        refresh(&cache, NOW + 60),
        Ok(RefreshOutcome::Updated { generation: 2 })
    );
    assert_eq!(source.calls(), 2);
    assert_eq!(source.last_etag().as_deref(), Some("\"a\""));

    // The removed key: at most one refetch (which returns B again), then the cooldown.
    assert_eq!(
        lookup(&cache, "jose-rs256", NOW + 61),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(source.calls(), 3);
    assert_eq!(
        lookup(&cache, "jose-rs256", NOW + 62),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(source.calls(), 3);

    let set = lookup(&cache, "jose-eddsa", NOW + 62).unwrap();
    assert_eq!(source.calls(), 3);
    assert_eq!(kids(&set), ["jose-es256", "jose-eddsa"]);
    assert_eq!(set.meta.generation, 2);
    assert!(set.keys.get("jose-eddsa").is_some());
    assert!(set.keys.get("jose-rs256").is_none());

    #[cfg(feature = "native")]
    verify_with(&set.keys);
}

/// The jose-minted EdDSA token verifies with the rotated set; the RS256 one no longer does.
#[cfg(feature = "native")]
fn verify_with(keys: &KeySet) {
    use edge_jwt_core::jws::native::NativeBackend;

    let doc = fixtures::document();
    let verifier = fixtures::verifier(&doc);
    let at = fixtures::valid_at(&doc);
    let verify = |kid: &str| {
        pollster::block_on(verifier.verify_token(
            fixtures::token(&doc, kid),
            keys,
            &NativeBackend,
            at,
        ))
    };
    let verified = verify("jose-eddsa").unwrap();
    assert_eq!(verified.kid.as_deref(), Some("jose-eddsa"));
    assert_eq!(
        verified.key_thumbprint,
        keys.get("jose-eddsa").unwrap().thumbprint
    );
    assert_eq!(verify("jose-rs256").unwrap_err().code(), "unknown_key");
}

// 13. An invalid document never replaces the last good set.

#[test]
fn an_invalid_document_on_refresh_keeps_the_last_good_set() {
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.then(Reply::Fail(FetchError::InvalidDocument(
        "\"keys\" is not an array".to_owned(),
    )));
    source.then(modified(set_a(), "\"a2\""));
    let tier = FakeTier::default();
    let (cache, log) = isolate(&source, Some(&tier), CachePolicy::default());
    lookup(&cache, "jose-rs256", NOW).unwrap();
    let before = cache.current().unwrap();

    let result = refresh(&cache, NOW + 60);
    assert_eq!(
        result,
        Err(FetchError::InvalidDocument(
            "\"keys\" is not an array".to_owned()
        ))
    );
    assert_eq!(source.calls(), 2);
    let after = cache.current().unwrap();
    assert!(Rc::ptr_eq(&before, &after), "the set was replaced");
    assert_eq!(after.meta.generation, 1);
    assert_eq!(after.meta.checked_at, NOW);
    assert_eq!(kids(&after), ["jose-rs256", "jose-es256"]);
    assert_eq!(tier.state().sets, 1);
    assert_eq!(tier.stored().unwrap().meta, before.meta);

    let status = status_json(&cache, NOW + 60);
    assert_eq!(
        status["last_fetch_error"],
        "invalid document: \"keys\" is not an array"
    );
    assert_eq!(status["counters"]["fetch_failures"], 1);
    assert_eq!(status["key_set"]["generation"], 1);
    assert_eq!(log.count(Level::Error, "key_set_fetch_failed"), 1);

    // Lookups keep being served from the good set.
    lookup(&cache, "jose-rs256", NOW + 61).unwrap();
    assert_eq!(source.calls(), 2);

    // A good refresh clears the error.
    assert_eq!(refresh(&cache, NOW + 120), Ok(RefreshOutcome::Unchanged));
    assert_eq!(
        status_json(&cache, NOW + 120)["last_fetch_error"],
        Value::Null
    );
    assert_eq!(
        cache.current().unwrap().meta.etag.as_deref(),
        Some("\"a2\"")
    );
}

// 14. The scheduled refresh keeps the shared tier warm.

#[test]
fn a_scheduled_refresh_fills_the_shared_tier() {
    let provider = FakeSource::default();
    provider.then(modified(set_a(), "\"a\""));
    provider.set_mode(Reply::NotModified { max_age: None });
    let tier = FakeTier::default();
    let (cron, _) = isolate(&provider, Some(&tier), CachePolicy::default());

    assert_eq!(
        refresh(&cron, NOW),
        Ok(RefreshOutcome::Updated { generation: 1 })
    );
    assert_eq!(provider.calls(), 1);
    assert_eq!(tier.state().sets, 1);
    assert_eq!(tier.stored().unwrap().meta.checked_at, NOW);

    let (fresh, _) = isolate(&provider, Some(&tier), CachePolicy::default());
    lookup(&fresh, "jose-rs256", NOW + 1).unwrap();
    assert_eq!(provider.calls(), 1);
    assert_eq!((fresh.stats().kv_hits, fresh.stats().jwks_fetches), (1, 0));

    // 304 on the next run: unchanged, revalidated with the ETag, the tier's copy confirmed.
    assert_eq!(refresh(&cron, NOW + 300), Ok(RefreshOutcome::Unchanged));
    assert_eq!(provider.calls(), 2);
    assert_eq!(provider.last_etag().as_deref(), Some("\"a\""));
    assert_eq!(tier.stored().unwrap().meta.checked_at, NOW + 300);
    assert_eq!(tier.stored().unwrap().meta.generation, 1);

    // The other isolate's copy expired at NOW + 600; the tier's (confirmed at NOW + 300) is
    // fresh until NOW + 900, so no fetch.
    let set = lookup(&fresh, "jose-rs256", NOW + 700).unwrap();
    assert_eq!(set.meta.checked_at, NOW + 300);
    assert_eq!(provider.calls(), 2);
    assert_eq!((fresh.stats().kv_hits, fresh.stats().jwks_fetches), (2, 0));

    // A cron run in a brand-new isolate revalidates the tier's set.
    let (cron2, _) = isolate(&provider, Some(&tier), CachePolicy::default());
    assert_eq!(refresh(&cron2, NOW + 900), Ok(RefreshOutcome::Unchanged));
    assert_eq!(provider.calls(), 3);
    assert_eq!(provider.last_etag().as_deref(), Some("\"a\""));
    assert_eq!(tier.stored().unwrap().meta.checked_at, NOW + 900);
}

// 15. The status document.

#[test]
fn status_reports_counters_and_the_current_set() {
    let source = FakeSource::serving(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    let (cache, _) = isolate(&source, Some(&tier), CachePolicy::default());

    let empty = status_json(&cache, NOW);
    assert_eq!(empty["key_set"], Value::Null);
    assert_eq!(empty["counters"]["jwks_fetches"], 0);
    assert_eq!(empty["hit_rate"], 1.0);

    for _ in 0..4 {
        lookup(&cache, "jose-rs256", NOW).unwrap();
    }
    let _ = lookup(&cache, "jose-nope", NOW + 1);
    let status = status_json(&cache, NOW + 42);
    assert_eq!(
        status["counters"],
        json!({
            "memory_hits": 3,
            "kv_reads": 3,
            "kv_hits": 0,
            "kv_misses": 1,
            "kv_errors": 0,
            "jwks_fetches": 2,
            "fetch_failures": 0,
            "not_modified": 0,
            "stale_serves": 0,
            "unknown_kid_refetches": 1,
            "cooldown_rejections": 0,
        })
    );
    assert!((status["hit_rate"].as_f64().unwrap() - 0.6).abs() < 1e-12);
    let set = &status["key_set"];
    assert_eq!(set["kids"], json!(["jose-rs256", "jose-es256"]));
    assert_eq!(set["generation"], 1);
    assert_eq!(set["source"], SOURCE_URL);
    assert_eq!(set["age_seconds"], 42);
    assert_eq!(set["fresh"], true);
    // Confirmed by the unknown-kid refetch at NOW + 1.
    assert_eq!(set["checked_at"], NOW + 1);
    assert_eq!(set["fresh_for_seconds"], 600 + 1 - 42);
    assert_eq!(status["shared_tier"], "fake-kv");
    assert_eq!(status["last_fetch_error"], Value::Null);

    let stale = status_json(&cache, NOW + 601);
    assert_eq!(stale["key_set"]["fresh"], false);
    assert_eq!(stale["key_set"]["fresh_for_seconds"], 0);
    assert_eq!(stale["key_set"]["age_seconds"], 601);
    // The members the status endpoint shows, and no others.
    let members = |value: &Value| -> Vec<String> {
        let mut names: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
        names.sort();
        names
    };
    assert_eq!(
        members(&stale),
        [
            "counters",
            "hit_rate",
            "key_set",
            "last_fetch_error",
            "refresh_running",
            "shared_tier"
        ]
    );
    assert_eq!(
        members(&stale["key_set"]),
        [
            "age_seconds",
            "checked_at",
            "fresh",
            "fresh_for_seconds",
            "generation",
            "kids",
            "source"
        ]
    );
}

// 16. A corrupt record in the shared tier is a miss.

#[test]
fn a_corrupt_shared_record_is_a_miss() {
    let good = CachedKeySet {
        keys: set_a(),
        meta: edge_jwt_core::keys::KeySetMeta {
            fetched_at: NOW,
            checked_at: NOW,
            ttl: 600,
            source: SOURCE_URL.to_owned(),
            etag: Some("\"a\"".to_owned()),
            generation: 7,
        },
    };
    // The record round-trips.
    let bound = binding(SOURCE_URL);
    let parsed = CachedKeySet::from_record(&good.to_record(&bound), &bound, MAX_KEYS).unwrap();
    assert_eq!(parsed.meta, good.meta);
    assert!(parsed.same_keys(&good.keys));

    let mut record: Value = serde_json::from_str(&good.to_record(&bound)).unwrap();
    assert_eq!(record["version"], 2);
    record["version"] = json!(1);
    let foreign_version = record.to_string();
    let mut record: Value = serde_json::from_str(&good.to_record(&bound)).unwrap();
    record["jwks"]["keys"][0]["n"] = json!("AQAB");
    record["jwks"]["keys"][1]["x"] = json!("AA");
    let bad_keys = record.to_string();
    let mut record: Value = serde_json::from_str(&good.to_record(&bound)).unwrap();
    record["jwks"]["keys"][1]["x"] = json!("AA");
    let one_bad_key = record.to_string();

    let mut record: Value = serde_json::from_str(&good.to_record(&bound)).unwrap();
    record.as_object_mut().unwrap().remove("binding");
    let version_1 = record.to_string();
    // A member named twice, whichever copy a lenient parser would keep: read one way here and
    // another elsewhere, it is not our record.
    let good_text = good.to_record(&bound);
    let named_twice = [
        good_text.replacen('{', "{\"version\":1,", 1),
        good_text.replacen('{', "{\"version\":2,", 1),
        good_text.replacen("\"ttl\":", "\"ttl\":1,\"ttl\":", 1),
    ];
    for text in &named_twice {
        assert_ne!(text, &good_text);
    }

    // Every field exactly as written, each of its type: anything else is not our record.
    let edited = |edit: &dyn Fn(&mut Value)| {
        let mut record: Value = serde_json::from_str(&good.to_record(&bound)).unwrap();
        edit(&mut record);
        record.to_string()
    };
    let strict = [
        edited(&|r| r["extra"] = json!(true)),
        edited(&|r| r["version"] = json!("2")),
        edited(&|r| r["version"] = json!(2.5)),
        edited(&|r| r["meta"]["extra"] = json!(1)),
        edited(&|r| r["meta"]["ttl"] = json!("600")),
        edited(&|r| r["meta"]["ttl"] = json!(-1)),
        edited(&|r| r["meta"]["generation"] = json!(7.5)),
        edited(&|r| r["meta"]["etag"] = json!(1)),
        edited(&|r| r["meta"]["source"] = json!(null)),
        edited(&|r| {
            r["meta"].as_object_mut().unwrap().remove("checked_at");
        }),
        edited(&|r| r["binding"] = json!({ "jwks_url": "https://other.example/jwks.json" })),
        edited(&|r| r["meta"] = json!([])),
        edited(&|r| {
            r.as_object_mut().unwrap().remove("jwks");
        }),
    ];
    // A missing or null etag is none.
    let without_etag = edited(&|r| {
        r["meta"].as_object_mut().unwrap().remove("etag");
    });
    let parsed = CachedKeySet::from_record(&without_etag, &bound, MAX_KEYS).unwrap();
    assert_eq!(parsed.meta.etag, None);
    let null_etag = edited(&|r| r["meta"]["etag"] = json!(null));
    assert!(CachedKeySet::from_record(&null_etag, &bound, MAX_KEYS).is_some());

    let mut cases = vec![
        "{not json",
        "",
        "null",
        &foreign_version,
        &version_1,
        &bad_keys,
        &one_bad_key,
    ];
    cases.extend(strict.iter().map(String::as_str));
    cases.extend(named_twice.iter().map(String::as_str));
    for garbage in cases {
        let provider = FakeSource::serving(modified(set_a(), "\"a\""));
        let tier = FakeTier::default();
        tier.put_raw(garbage);
        let (cache, log) = isolate(&provider, Some(&tier), CachePolicy::default());

        let set = lookup(&cache, "jose-rs256", NOW).unwrap();
        assert_eq!(set.meta.generation, 1, "{garbage}");
        assert_eq!(provider.calls(), 1);
        let stats = cache.stats();
        assert_eq!((stats.kv_misses, stats.kv_errors, stats.kv_hits), (1, 0, 0));
        assert_eq!(log.count(Level::Warn, "key_cache_tier_error"), 0);

        // The fetch replaced the garbage; another isolate reads it.
        assert_eq!(tier.stored().unwrap().meta.generation, 1);
        let (other, _) = isolate(&provider, Some(&tier), CachePolicy::default());
        lookup(&other, "jose-es256", NOW + 1).unwrap();
        assert_eq!(other.stats().kv_hits, 1);
        assert_eq!(provider.calls(), 1);
    }
}

// ---------------------------------------------------------------------------------------------
// Key-set integrity (issue 10, section 6).

/// Lookups of `kids` at `now`, run together as concurrent requests of one isolate: every one
/// is polled in turn and suspends at each tier operation and fetch. Fetches wait for `gate`,
/// which opens once every lookup has had the chance to pass its own checks.
fn lookup_concurrently(
    cache: &Cache,
    gate: &Gate,
    kids: &[String],
    now: u64,
) -> Vec<Result<Rc<CachedKeySet>, ResolveError>> {
    use futures_util::future::{join, join_all};

    gate.close();
    let lookups = join_all(kids.iter().map(|kid| cache.keys_for(Some(kid), now)));
    let (results, ()) = pollster::block_on(join(lookups, gate.open_after(50)));
    results
}

// 17. Concurrent unknown kids: the refetch is claimed before the first await.

#[test]
fn concurrent_unknown_kids_in_one_isolate_cause_one_refetch() {
    let policy = CachePolicy::default();
    for shared in [true, false] {
        let source = FakeSource::serving(modified(set_a(), "\"a\""));
        let gate = Gate::default();
        gate.open();
        source.gated(&gate);
        let tier = FakeTier::default();
        let (cache, _) = isolate(&source, shared.then_some(&tier), policy);
        lookup(&cache, "jose-rs256", NOW).unwrap();
        assert_eq!(source.calls(), 1);

        // Ten requests in flight, each with a new kid.
        let kids = random_kids(10);
        let results = lookup_concurrently(&cache, &gate, &kids, NOW + 1);
        assert!(results.iter().all(|r| *r == Err(ResolveError::UnknownKey)));
        assert_eq!(source.calls(), 2, "one refetch for ten kids in flight");
        let stats = cache.stats();
        assert_eq!(stats.unknown_kid_refetches, 1);
        assert_eq!(stats.cooldown_rejections, 9);

        // 300 kids, ten at a time, a batch every 2 s: one refetch per cooldown window.
        let kids = random_kids(310);
        for (batch, kids) in kids[10..].chunks(10).enumerate() {
            let now = NOW + 2 + 2 * batch as u64;
            let results = lookup_concurrently(&cache, &gate, kids, now);
            assert!(results.iter().all(|r| *r == Err(ResolveError::UnknownKey)));
        }
        // The warm-up, then refetches at +1 (above) and +32 (the first batch 30 s later); the
        // next would be at +62, after the last batch (+60).
        let expected = 3;
        assert_eq!(source.calls() as u64, expected, "shared tier: {shared}");
        assert_eq!(cache.stats().unknown_kid_refetches, expected - 1);
        if shared {
            // One set read and one marker read per refetch, nothing else.
            let state = tier.state();
            assert_eq!(state.gets as u64, 1 + (expected - 1));
            assert_eq!(state.refetch_reads as u64, expected - 1);
            assert_eq!(state.refetch_writes as u64, expected - 1);
        }
    }
}

#[test]
fn concurrent_requests_for_a_new_kid_fetch_once_and_the_claimant_gets_it() {
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.set_mode(modified(set_b(), "\"b\""));
    let gate = Gate::default();
    gate.open();
    source.gated(&gate);
    let tier = FakeTier::default();
    let (cache, _) = isolate(&source, Some(&tier), CachePolicy::default());
    lookup(&cache, "jose-rs256", NOW).unwrap();

    let requests = vec!["jose-eddsa".to_owned(); 5];
    let results = lookup_concurrently(&cache, &gate, &requests, NOW + 1);
    assert_eq!(source.calls(), 2);
    // The first request fetched and found it; the others were in flight and were refused (they
    // cannot wait for another request's I/O in workerd).
    assert_eq!(
        kids(results[0].as_ref().unwrap()),
        ["jose-es256", "jose-eddsa"]
    );
    for result in &results[1..] {
        assert_eq!(*result, Err(ResolveError::UnknownKey));
    }
    // Later requests find it in memory.
    lookup(&cache, "jose-eddsa", NOW + 2).unwrap();
    assert_eq!(source.calls(), 2);
}

// 18. Unknown kids inside the cooldown cost no shared-tier read.

#[test]
fn unknown_kids_within_the_cooldown_read_nothing_from_the_shared_tier() {
    let policy = CachePolicy::default();
    let source = FakeSource::serving(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    let (cache, _) = isolate(&source, Some(&tier), policy);
    lookup(&cache, "jose-rs256", NOW).unwrap();
    assert_eq!(cache.stats().kv_reads, 1);

    for (i, kid) in random_kids(1000).iter().enumerate() {
        let now = NOW + i as u64 / 10;
        assert_eq!(lookup(&cache, kid, now), Err(ResolveError::UnknownKey));
    }

    // Windows at +0, +30, +60 and +90 s: each reads the set and the marker once.
    let windows = allowed_refetches(&policy, 100);
    assert_eq!(windows, 4);
    let state = tier.state();
    assert_eq!(state.gets as u64, 1 + windows, "set reads");
    assert_eq!(state.refetch_reads as u64, windows, "marker reads");
    let stats = cache.stats();
    assert_eq!(stats.kv_reads, 1 + 2 * windows);
    assert_eq!(stats.cooldown_rejections, 1000 - windows);
    assert_eq!(
        status_json(&cache, NOW + 100)["counters"]["kv_reads"],
        1 + 2 * windows
    );
}

// 19. A refresh that never settles stops counting as running after the fetch budget.

/// Polls `future` until its fetch hangs (a bounded number of times: each tier operation and the
/// fetch suspend once before) and abandons it without dropping it, as workerd does with the
/// task of a request whose client went away.
fn abandon<F: Future>(future: F) {
    use futures_util::FutureExt;

    let mut future = Box::pin(future);
    for _ in 0..20 {
        assert!((&mut future).now_or_never().is_none(), "expected to hang");
    }
    std::mem::forget(future);
}

#[test]
fn an_abandoned_unknown_kid_refetch_blocks_refetches_for_the_fetch_budget_only() {
    for budget_ms in [BUDGET_MS, 3_500] {
        let budget = budget_ms.div_ceil(1000);
        let policy = CachePolicy {
            unknown_kid_cooldown: 1,
            ..CachePolicy::default()
        };
        let source = FakeSource::default();
        source.0.borrow_mut().budget_ms = Some(budget_ms);
        source.then(modified(set_a(), "\"a\""));
        source.then(Reply::Hang);
        source.set_mode(modified(set_b(), "\"b\""));
        let (cache, _) = isolate(&source, None, policy);
        lookup(&cache, "jose-rs256", NOW).unwrap();

        abandon(cache.keys_for(Some("jose-eddsa"), NOW + 100));
        assert_eq!(source.calls(), 2);
        assert_eq!(status_json(&cache, NOW + 100)["refresh_running"], true);

        // The cooldown (1 s) is over, the budget is not: the fetch counts as running.
        for now in NOW + 101..NOW + 100 + budget {
            assert_eq!(
                lookup(&cache, "jose-eddsa", now),
                Err(ResolveError::UnknownKey)
            );
        }
        assert_eq!(source.calls(), 2, "no refetch within the budget");
        // Known kids are served meanwhile.
        lookup(&cache, "jose-rs256", NOW + 101).unwrap();

        // The budget is over: the next unknown kid refetches.
        assert_eq!(
            status_json(&cache, NOW + 100 + budget)["refresh_running"],
            false
        );
        let set = lookup(&cache, "jose-eddsa", NOW + 100 + budget).unwrap();
        assert_eq!(kids(&set), ["jose-es256", "jose-eddsa"]);
        assert_eq!(source.calls(), 3);
        assert_eq!(cache.stats().unknown_kid_refetches, 2);
    }
}

#[test]
fn an_abandoned_refresh_of_a_stale_set_serves_stale_for_the_fetch_budget_only() {
    let policy = CachePolicy::default();
    let budget = BUDGET_MS / 1000;
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.then(Reply::Hang);
    source.set_mode(Reply::NotModified { max_age: None });
    let tier = FakeTier::default();
    let (cache, _) = isolate(&source, Some(&tier), policy);
    lookup(&cache, "jose-rs256", NOW).unwrap();

    let stale_at = NOW + policy.ttl;
    abandon(cache.keys_for(Some("jose-rs256"), stale_at));
    assert_eq!(source.calls(), 2);

    for now in stale_at..stale_at + budget {
        let set = lookup(&cache, "jose-rs256", now).unwrap();
        assert_eq!(set.meta.checked_at, NOW, "the stale set");
    }
    assert_eq!(source.calls(), 2, "no second refresh within the budget");
    assert_eq!(cache.stats().stale_serves, budget);

    let set = lookup(&cache, "jose-rs256", stale_at + budget).unwrap();
    assert_eq!(source.calls(), 3);
    assert_eq!(set.meta.checked_at, stale_at + budget, "revalidated");
}

// 20. An emptied key set revokes; a failed fetch does not.

/// The set a well-formed JWKS without a usable key gives: `{"keys": []}`, or only keys that
/// are skipped (an `oct` key and an Ed25519 key of small order).
fn emptied(all_skipped: bool) -> KeySet {
    let doc = if all_skipped {
        json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "OKP", "crv": "Ed25519", "kid": "small-order",
             "x": "AQAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"},
        ]})
    } else {
        json!({"keys": []})
    };
    let set = KeySet::from_jwks_value(&doc, MAX_KEYS).expect("a JWKS without usable keys is a set");
    assert!(set.is_empty());
    set
}

#[test]
fn an_emptied_key_set_replaces_the_set_and_every_kid_is_unknown() {
    for all_skipped in [false, true] {
        let source = FakeSource::default();
        source.then(modified(set_a(), "\"a\""));
        source.set_mode(modified(emptied(all_skipped), "\"empty\""));
        let tier = FakeTier::default();
        let (cache, log) = isolate(&source, Some(&tier), CachePolicy::default());
        lookup(&cache, "jose-rs256", NOW).unwrap();

        assert_eq!(
            refresh(&cache, NOW + 60),
            Ok(RefreshOutcome::Updated { generation: 2 })
        );
        let current = cache.current().unwrap();
        assert!(current.keys.is_empty());
        assert_eq!(status_json(&cache, NOW + 60)["key_set"]["kids"], json!([]));
        for kid in ["jose-rs256", "jose-es256"] {
            assert_eq!(lookup(&cache, kid, NOW + 61), Err(ResolveError::UnknownKey));
        }
        assert_eq!(cache.stats().fetch_failures, 0);

        // Logged as a warning once (not again for the unknown-kid refetch that found the set
        // still empty), with the reasons the keys were skipped.
        assert_eq!(source.calls(), 3);
        assert_eq!(log.count(Level::Warn, "key_set_emptied"), 1);
        let warning = log.fields("key_set_emptied").pop().unwrap();
        assert_eq!(warning["generation"], 2);
        let reasons: Vec<&str> = warning["skipped_keys"]
            .as_array()
            .unwrap()
            .iter()
            .map(|k| k["reason"].as_str().unwrap())
            .collect();
        if all_skipped {
            assert_eq!(reasons.len(), 2);
            assert!(reasons[0].contains("symmetric"), "{reasons:?}");
            assert!(reasons[1].contains("small order"), "{reasons:?}");
        } else {
            assert!(reasons.is_empty());
        }

        // The empty set round-trips through the shared tier: another isolate gets it, not the
        // old keys, and does not take it for a miss.
        let stored = tier.stored().expect("the empty set is stored");
        assert!(stored.keys.is_empty());
        assert_eq!(stored.meta.generation, 2);
        let (other, _) = isolate(&source, Some(&tier), CachePolicy::default());
        let calls = source.calls();
        assert_eq!(
            lookup(&other, "jose-rs256", NOW + 62),
            Err(ResolveError::UnknownKey)
        );
        assert_eq!(other.stats().kv_misses, 0);
        assert!(other.current().unwrap().keys.is_empty());
        // No fetch: the first isolate's unknown-kid refetch at +61 holds it off.
        assert_eq!(source.calls(), calls);
        assert_eq!(other.stats().cooldown_rejections, 1);
    }
}

#[test]
fn an_emptied_set_is_served_by_a_cold_cache_as_unknown_keys_not_unavailable() {
    let source = FakeSource::serving(modified(emptied(false), "\"empty\""));
    let (cache, log) = isolate(&source, None, CachePolicy::default());
    assert_eq!(
        lookup(&cache, "jose-rs256", NOW),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(log.count(Level::Warn, "key_set_emptied"), 1);
    // One unknown-kid refetch (still empty: no new warning), then the cooldown.
    for kid in ["jose-es256", "jose-eddsa"] {
        assert_eq!(lookup(&cache, kid, NOW + 1), Err(ResolveError::UnknownKey));
    }
    assert_eq!(source.calls(), 2);
    assert_eq!(log.count(Level::Warn, "key_set_emptied"), 1);
}

#[test]
fn a_failed_fetch_keeps_the_last_good_set_but_an_emptied_one_does_not() {
    let failures = [
        FetchError::Status(503),
        FetchError::Transport("timed out after 5000 ms".to_owned()),
        FetchError::InvalidDocument("JWKS document has no \"keys\" array".to_owned()),
        FetchError::TooLarge { max: 262_144 },
    ];
    for failure in failures {
        let source = FakeSource::default();
        source.then(modified(set_a(), "\"a\""));
        source.then(Reply::Fail(failure.clone()));
        source.set_mode(modified(emptied(false), "\"empty\""));
        let (cache, log) = isolate(&source, None, CachePolicy::default());
        lookup(&cache, "jose-rs256", NOW).unwrap();

        assert_eq!(refresh(&cache, NOW + 60), Err(failure.clone()));
        lookup(&cache, "jose-rs256", NOW + 61).unwrap();
        assert_eq!(log.count(Level::Warn, "key_set_emptied"), 0);

        assert_eq!(
            refresh(&cache, NOW + 120),
            Ok(RefreshOutcome::Updated { generation: 2 })
        );
        assert_eq!(
            lookup(&cache, "jose-rs256", NOW + 121),
            Err(ResolveError::UnknownKey),
            "{failure}"
        );
    }
}

#[test]
fn keys_published_again_after_an_emptied_set_are_picked_up() {
    let policy = CachePolicy::default();
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.then(modified(emptied(false), "\"empty\""));
    source.set_mode(modified(set_b(), "\"b\""));
    let (cache, _) = isolate(&source, None, policy);
    lookup(&cache, "jose-rs256", NOW).unwrap();
    refresh(&cache, NOW + 60).unwrap();
    assert!(cache.current().unwrap().keys.is_empty());

    let set = lookup(&cache, "jose-eddsa", NOW + 61).unwrap();
    assert_eq!(set.meta.generation, 3);
    assert_eq!(kids(&set), ["jose-es256", "jose-eddsa"]);
}

// 21. A shared record is bound to the JWKS location it came from.

#[test]
fn a_record_from_another_jwks_location_is_a_miss() {
    let production = FakeTier::default();
    let staging = production.bound_to(binding("https://staging.issuer.example/jwks.json"));
    let discovery = production.bound_to(SourceBinding::from(&JwksLocation::Discovery {
        discovery_url: "https://issuer.example/.well-known/openid-configuration".to_owned(),
        issuer: "https://issuer.example".to_owned(),
    }));
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let (one, _) = isolate(&provider, Some(&production), CachePolicy::default());
    lookup(&one, "jose-rs256", NOW).unwrap();
    assert_eq!(provider.calls(), 1);

    // The record carries its binding in clear, under a key derived from it.
    let text = production.record().unwrap();
    let record: Value = serde_json::from_str(&text).unwrap();
    assert_eq!(record["version"], 2);
    assert_eq!(record["binding"], json!({ "jwks_url": SOURCE_URL }));
    let keys: Vec<String> = production.state().values.keys().cloned().collect();
    assert_eq!(keys, [binding(SOURCE_URL).set_key()]);
    assert!(keys[0].starts_with("jwks:v2:set:"));

    // Gateways configured with another location share the namespace but not the record.
    for other in [&staging, &discovery] {
        let (cache, _) = isolate(&provider, Some(other), CachePolicy::default());
        let calls = provider.calls();
        lookup(&cache, "jose-rs256", NOW + 1).unwrap();
        assert_eq!(provider.calls(), calls + 1, "fetched for itself");
        let stats = cache.stats();
        assert_eq!((stats.kv_hits, stats.kv_misses), (0, 1));
    }

    // The production record copied under another binding's key (or a record that names
    // another location for any reason) is not trusted either: a miss, counted.
    let moved = production.bound_to(binding("https://new-host.example/jwks.json"));
    moved.put_raw(&text);
    assert!(CachedKeySet::from_record(&text, &moved.binding, MAX_KEYS).is_none());
    assert!(CachedKeySet::from_record(&text, &production.binding, MAX_KEYS).is_some());
    let (cache, _) = isolate(&provider, Some(&moved), CachePolicy::default());
    let calls = provider.calls();
    lookup(&cache, "jose-rs256", NOW + 2).unwrap();
    assert_eq!(provider.calls(), calls + 1);
    assert_eq!((cache.stats().kv_hits, cache.stats().kv_misses), (0, 1));
    // ... and the fetched set replaced it, bound to the new location.
    let record: Value = serde_json::from_str(&moved.record().unwrap()).unwrap();
    assert_eq!(
        record["binding"],
        json!({ "jwks_url": "https://new-host.example/jwks.json" })
    );
}

#[test]
fn the_refetch_marker_is_bound_to_the_jwks_location_too() {
    let policy = CachePolicy::default();
    let production = FakeTier::default();
    let staging = production.bound_to(binding("https://staging.issuer.example/jwks.json"));
    let provider = FakeSource::serving(modified(set_a(), "\"a\""));
    let (one, _) = isolate(&provider, Some(&production), policy);
    let (two, _) = isolate(&provider, Some(&staging), policy);
    lookup(&one, "jose-rs256", NOW).unwrap();
    lookup(&two, "jose-rs256", NOW).unwrap();
    assert_eq!(provider.calls(), 2);

    assert_eq!(
        lookup(&one, "unknown-1", NOW + 100),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(production.refetch(), Some(NOW + 100));
    assert_eq!(staging.refetch(), None);
    // The other location's refetch does not hold this one off.
    assert_eq!(
        lookup(&two, "unknown-2", NOW + 101),
        Err(ResolveError::UnknownKey)
    );
    assert_eq!(provider.calls(), 4);
    assert_eq!(two.stats().unknown_kid_refetches, 1);
}

// ---------------------------------------------------------------------------------------------
// Key-set changes in the logs, and the tier that answered.

fn lookup_tier(cache: &Cache, kid: &str, now: u64) -> Result<KeyTier, ResolveError> {
    pollster::block_on(cache.lookup(Some(kid), now)).map(|(_, tier)| tier)
}

#[test]
fn adopting_a_set_builds_no_event_that_the_level_drops() {
    // A fresh isolate's first request adopts the set from the shared tier; with LOG_LEVEL above
    // info, its `key_set_adopted` event is not even built.
    let source = FakeSource::default();
    source.set_mode(modified(set_a(), "\"a\""));
    let tier = FakeTier::default();
    let (one, _) = isolate(&source, Some(&tier), CachePolicy::default());
    assert_eq!(lookup_tier(&one, "jose-rs256", NOW), Ok(KeyTier::Issuer));
    let sink = WarnSink::default();
    let two = KeyCache::new(
        source.clone(),
        Some(tier.clone()),
        CachePolicy::default(),
        sink.clone(),
    );
    let (_, answered) = pollster::block_on(two.lookup(Some("jose-rs256"), NOW + 1)).unwrap();
    assert_eq!(answered, KeyTier::Kv);
    assert_eq!(sink.0.fields("key_set_adopted"), Vec::<Value>::new());
}

#[test]
fn every_key_set_change_is_logged_with_the_kids_added_and_removed() {
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.then(Reply::NotModified { max_age: None });
    source.set_mode(modified(set_b(), "\"b\""));
    let tier = FakeTier::default();
    let (one, log) = isolate(&source, Some(&tier), CachePolicy::default());

    // Fetched: the first set this isolate has.
    assert_eq!(lookup_tier(&one, "jose-rs256", NOW), Ok(KeyTier::Issuer));
    let fetched = log.fields("key_set_refreshed");
    assert_eq!(fetched.len(), 1);
    assert_eq!(fetched[0]["change"], "fetched");
    assert_eq!(
        fetched[0]["kids_added"],
        json!(["jose-rs256", "jose-es256"])
    );
    assert_eq!(fetched[0]["kids_removed"], json!([]));
    assert_eq!(log.count(Level::Info, "key_set_refreshed"), 1);

    // Revalidated (304): same generation, nothing added or removed.
    assert_eq!(refresh(&one, NOW + 60), Ok(RefreshOutcome::Unchanged));
    let revalidated = &log.fields("key_set_refreshed")[1];
    assert_eq!(revalidated["change"], "revalidated");
    assert_eq!(revalidated["kids_added"], json!([]));
    assert_eq!(revalidated["kids_removed"], json!([]));

    // Rotated.
    assert_eq!(
        refresh(&one, NOW + 120),
        Ok(RefreshOutcome::Updated { generation: 2 })
    );
    let rotated = &log.fields("key_set_refreshed")[2];
    assert_eq!(rotated["change"], "rotated");
    assert_eq!(rotated["generation"], 2);
    assert_eq!(rotated["kids_added"], json!(["jose-eddsa"]));
    assert_eq!(rotated["kids_removed"], json!(["jose-rs256"]));

    // Another isolate adopts the set from the shared tier: logged once, as adopted.
    let (two, two_log) = isolate(&source, Some(&tier), CachePolicy::default());
    assert_eq!(lookup_tier(&two, "jose-eddsa", NOW + 121), Ok(KeyTier::Kv));
    assert_eq!(
        lookup_tier(&two, "jose-eddsa", NOW + 122),
        Ok(KeyTier::Memory)
    );
    let adopted = two_log.fields("key_set_adopted");
    assert_eq!(adopted.len(), 1, "{adopted:?}");
    assert_eq!(two_log.count(Level::Info, "key_set_adopted"), 1);
    assert_eq!(adopted[0]["generation"], 2);
    assert_eq!(adopted[0]["previous_generation"], Value::Null);
    assert_eq!(
        adopted[0]["kids_added"],
        json!(["jose-es256", "jose-eddsa"])
    );
    assert!(two_log.fields("key_set_refreshed").is_empty());
}

#[test]
fn a_set_that_cannot_be_had_is_logged_as_unavailable_once_per_failed_fetch() {
    let policy = CachePolicy::default();
    let source = FakeSource::serving(Reply::Fail(FetchError::Status(500)));
    let (cache, log) = isolate(&source, None, policy);
    for second in 0..policy.unknown_kid_cooldown {
        assert!(is_unavailable(&lookup(&cache, "jose-rs256", NOW + second)).is_some());
    }
    let unavailable = log.fields("key_set_unavailable");
    assert_eq!(
        unavailable.len(),
        1,
        "one per failed fetch, not per request"
    );
    assert_eq!(log.count(Level::Warn, "key_set_unavailable"), 1);
    assert_eq!(unavailable[0]["reason"], "cold");
    assert_eq!(unavailable[0]["retry_after"], policy.unknown_kid_cooldown);
    assert!(unavailable[0]["error"].as_str().unwrap().contains("500"));

    // A set past max-stale whose refresh fails: unavailable again, with how stale it was.
    let policy = CachePolicy {
        max_stale: 100,
        ..CachePolicy::default()
    };
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.set_mode(Reply::Fail(FetchError::Status(503)));
    let (cache, log) = isolate(&source, None, policy);
    assert_eq!(lookup_tier(&cache, "jose-rs256", NOW), Ok(KeyTier::Issuer));
    let past = NOW + policy.ttl + policy.max_stale;
    // Within max-stale, the stale set answers (from memory).
    assert_eq!(
        lookup_tier(&cache, "jose-rs256", past - 1),
        Ok(KeyTier::Memory)
    );
    assert!(log.fields("key_set_unavailable").is_empty());
    let later = past + policy.unknown_kid_cooldown;
    assert!(is_unavailable(&lookup(&cache, "jose-rs256", later)).is_some());
    let unavailable = log.fields("key_set_unavailable");
    assert_eq!(unavailable.len(), 1, "{unavailable:?}");
    assert_eq!(unavailable[0]["reason"], "max_stale_exceeded");
    assert_eq!(unavailable[0]["generation"], 1);
    assert_eq!(
        unavailable[0]["stale_for_seconds"],
        later - (NOW + policy.ttl)
    );
}

#[test]
fn the_tier_that_answered_is_the_issuer_whenever_the_lookup_fetched() {
    let source = FakeSource::default();
    source.then(modified(set_a(), "\"a\""));
    source.set_mode(modified(set_b(), "\"b\""));
    let policy = CachePolicy::default();
    let (cache, _) = isolate(&source, None, policy);
    assert_eq!(lookup_tier(&cache, "jose-rs256", NOW), Ok(KeyTier::Issuer));
    assert_eq!(
        lookup_tier(&cache, "jose-es256", NOW + 1),
        Ok(KeyTier::Memory)
    );
    // A kid the set lacks: refetched.
    assert_eq!(
        lookup_tier(&cache, "jose-eddsa", NOW + 2),
        Ok(KeyTier::Issuer)
    );
    assert_eq!(
        lookup_tier(&cache, "jose-eddsa", NOW + 3),
        Ok(KeyTier::Memory)
    );
    // A stale set: refreshed.
    let stale = NOW + 2 + policy.ttl;
    assert_eq!(
        lookup_tier(&cache, "jose-eddsa", stale),
        Ok(KeyTier::Issuer)
    );
    assert_eq!(source.calls(), 3);
}

#[test]
fn same_keys_compares_the_keys_in_any_order_and_nothing_else() {
    let cached = |keys: KeySet| CachedKeySet {
        keys,
        meta: edge_jwt_core::keys::KeySetMeta {
            fetched_at: NOW,
            checked_at: NOW,
            ttl: 600,
            source: SOURCE_URL.to_owned(),
            etag: None,
            generation: 1,
        },
    };
    let a = cached(set_a());
    assert!(a.same_keys(&set_a()));
    assert!(a.same_keys(&set_of(&["jose-es256", "jose-rs256"])));
    assert!(!a.same_keys(&set_b()));
    assert!(!a.same_keys(&set_of(&["jose-rs256"])));
    assert!(!a.same_keys(&set_of(&["jose-rs256", "jose-es256", "jose-eddsa"])));
    // The same key under another kid is another key.
    let mut renamed = fixture_jwk("jose-es256");
    renamed["kid"] = json!("renamed");
    let keys = vec![fixture_jwk("jose-rs256"), renamed];
    let renamed = KeySet::from_jwks_value(&json!({ "keys": keys }), MAX_KEYS).unwrap();
    assert!(!a.same_keys(&renamed));
    assert!(
        cached(KeySet::from_jwks_value(&json!({ "keys": [] }), MAX_KEYS).unwrap())
            .same_keys(&KeySet::from_jwks_value(&json!({ "keys": [] }), MAX_KEYS).unwrap())
    );
}
