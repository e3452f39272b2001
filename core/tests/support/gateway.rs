//! A native gateway for the request-pipeline tests: the real [`Gateway`] with the RustCrypto
//! backend, a key source whose answer the test sets, and the jose-minted tokens of
//! `data/gateway-fixtures.json` (an Ed25519 key, tokens carrying every combination of four
//! scopes). Requests are plain values; [`TestGateway::run`] drives a request through
//! `decide` and, when needed, `verify_now` and `signed` or `verify`, as the Worker does.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use edge_jwt_core::config::Config;
use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::gateway::pipeline::{
    Decision, Forward, Gateway, Pending, Progress, RequestView,
};
use edge_jwt_core::gateway::provider::{Provider, ProviderLog};
use edge_jwt_core::gateway::rejection_log::RejectionLog;
use edge_jwt_core::gateway::token_cache::TokenCache;
use edge_jwt_core::jws::backend::SignatureBackend;
use edge_jwt_core::jws::jwk::KeySet;
use edge_jwt_core::jws::native::NativeBackend;
use edge_jwt_core::keys::source::{FetchError, Fetched, KeySource};
use edge_jwt_core::keys::{CachedKeySet, KeyCache, KeyCacheTier, TierError};
use edge_jwt_core::log::{EventSink, Level};
use edge_jwt_core::Verifier;
use serde_json::Value;

const FIXTURES: &str = include_str!("../data/gateway-fixtures.json");

/// The parsed fixture document.
pub(crate) fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).expect("the gateway fixtures are JSON")
}

/// When the fixture tokens were issued; they are valid for an hour.
pub(crate) fn issued_at() -> u64 {
    fixtures()["iat"].as_u64().unwrap()
}

/// The fixture token granting exactly `scopes` (in the fixtures' order).
pub(crate) fn token_with(scopes: &[&str]) -> String {
    let doc = fixtures();
    doc["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| {
            let granted: Vec<&str> = t["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap())
                .collect();
            granted == scopes
        })
        .unwrap_or_else(|| panic!("no fixture token with scopes {scopes:?}"))["token"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every fixture token with the scopes it grants.
pub(crate) fn all_tokens() -> Vec<(Vec<String>, String)> {
    fixtures()["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            let scopes = t["scopes"]
                .as_array()
                .unwrap()
                .iter()
                .map(|s| s.as_str().unwrap().to_owned())
                .collect();
            (scopes, t["token"].as_str().unwrap().to_owned())
        })
        .collect()
}

/// The fixture key set.
pub(crate) fn fixture_keys() -> KeySet {
    KeySet::from_jwks_value(&fixtures()["jwks"], KeySet::DEFAULT_MAX_KEYS).unwrap()
}

/// The JWKS endpoint: answers what the test last set, and counts its calls.
#[derive(Clone)]
pub(crate) struct Source {
    reply: Rc<RefCell<Result<KeySet, FetchError>>>,
    calls: Rc<RefCell<usize>>,
}

impl Source {
    /// From now on the endpoint answers `reply`.
    pub(crate) fn answer(&self, reply: Result<KeySet, FetchError>) {
        *self.reply.borrow_mut() = reply;
    }

    /// How many fetches were made.
    pub(crate) fn calls(&self) -> usize {
        *self.calls.borrow()
    }
}

impl KeySource for Source {
    async fn fetch(&self, _etag: Option<&str>) -> Result<Fetched, FetchError> {
        *self.calls.borrow_mut() += 1;
        self.reply.borrow().clone().map(|keys| Fetched::Modified {
            keys,
            source: "https://issuer.example/jwks.json".to_owned(),
            etag: None,
            max_age: None,
        })
    }

    fn budget_ms(&self) -> u64 {
        10_000
    }
}

/// The shared-tier type of a memory-only key cache: it has no values, so none is ever used.
pub(crate) enum NoSharedTier {}

impl KeyCacheTier for NoSharedTier {
    fn name(&self) -> &'static str {
        match *self {}
    }

    async fn get(&self) -> Result<Option<Rc<CachedKeySet>>, TierError> {
        match *self {}
    }

    async fn set(&self, _set: Rc<CachedKeySet>, _ttl_seconds: u64) -> Result<(), TierError> {
        match *self {}
    }

    async fn last_refetch(&self) -> Result<Option<u64>, TierError> {
        match *self {}
    }

    async fn record_refetch(&self, _at: u64, _ttl_seconds: u64) -> Result<(), TierError> {
        match *self {}
    }
}

/// One recorded event: level, name and fields.
type Event = (Level, &'static str, Value);

/// Records the events at or above its level, as the Worker's console log writes them.
#[derive(Debug, Clone)]
pub(crate) struct Recorder {
    level: Rc<RefCell<Level>>,
    events: Rc<RefCell<Vec<Event>>>,
}

impl Recorder {
    /// A recorder at `level`.
    pub(crate) fn new(level: Level) -> Recorder {
        Recorder {
            level: Rc::new(RefCell::new(level)),
            events: Rc::new(RefCell::new(Vec::new())),
        }
    }

    /// From now on, records events at `level` and above.
    pub(crate) fn set_level(&self, level: Level) {
        *self.level.borrow_mut() = level;
    }

    /// Every `event` recorded so far, with its level, and forgets them.
    pub(crate) fn take(&self, event: &str) -> Vec<(Level, Value)> {
        let mut events = self.events.borrow_mut();
        let (taken, kept) = events.drain(..).partition(|(_, name, _)| *name == event);
        *events = kept;
        taken
            .into_iter()
            .map(|(level, _, fields)| (level, fields))
            .collect()
    }

    /// The names of every event recorded so far.
    pub(crate) fn names(&self) -> Vec<&'static str> {
        self.events
            .borrow()
            .iter()
            .map(|(_, name, _)| *name)
            .collect()
    }
}

impl EventSink for Recorder {
    fn event(&self, level: Level, event: &'static str, fields: Value) {
        if self.enabled(level) {
            self.events.borrow_mut().push((level, event, fields));
        }
    }

    fn enabled(&self, level: Level) -> bool {
        level <= *self.level.borrow()
    }
}

/// The host every test request is sent to (`https://gateway.test` is its origin).
pub(crate) const GATEWAY_HOST: &str = "gateway.test";

/// A request as the pipeline sees it.
#[derive(Debug, Clone)]
pub(crate) struct Req {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) query: Option<String>,
    pub(crate) headers: Vec<(String, String)>,
}

impl Req {
    /// `method` on `target` (a path, optionally with `?query`, exactly as received).
    pub(crate) fn new(method: &str, target: &str) -> Req {
        let (path, query) = match target.split_once('?') {
            Some((path, query)) => (path, Some(query.to_owned())),
            None => (target, None),
        };
        Req {
            method: method.to_owned(),
            path: path.to_owned(),
            query,
            headers: Vec::new(),
        }
    }

    /// Adds a header.
    pub(crate) fn header(mut self, name: &str, value: &str) -> Req {
        self.headers.push((name.to_owned(), value.to_owned()));
        self
    }

    /// Adds `Authorization: Bearer <token>`.
    pub(crate) fn bearer(self, token: &str) -> Req {
        self.header("authorization", &format!("Bearer {token}"))
    }
}

impl RequestView for Req {
    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    fn scheme(&self) -> &str {
        "https"
    }

    fn host(&self) -> &str {
        GATEWAY_HOST
    }

    fn header(&self, name: &str) -> Option<String> {
        let values: Vec<&str> = self
            .headers
            .iter()
            .filter(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(", "))
    }
}

/// The status endpoint's token of [`orders_gateway`].
pub(crate) const STATUS_TOKEN: &str = "status-token-0123456789abcdef";

/// The configuration: reading and writing orders need different scopes; `/health` and
/// `/public/docs` are public; the status endpoint is open to [`STATUS_TOKEN`].
pub(crate) fn orders_gateway() -> TestGateway {
    TestGateway::new(&[
        (
            "ROUTE_SCOPES",
            "POST /orders=orders:write; GET /orders=orders:read",
        ),
        ("PUBLIC_PATHS", "/health,/public/docs"),
        ("STATUS_TOKEN", STATUS_TOKEN),
    ])
}

/// What became of a request in the end.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Outcome {
    /// The liveness endpoint answered.
    Health,
    /// The status endpoint answered.
    Status,
    /// The RFC 9728 metadata document answered.
    ResourceMetadata,
    /// Sent to the origin; `verified` when the key cache was needed (not answered by `decide`).
    Forwarded { forward: Forward, verified: bool },
    /// Refused.
    Refused(GatewayError),
}

impl Outcome {
    /// The HTTP status the client sees (200 for a forwarded request).
    pub(crate) fn status(&self) -> u16 {
        match self {
            Outcome::Refused(error) => error.answer("test").status,
            _ => 200,
        }
    }

    /// The forwarded request, or a panic naming what happened instead.
    pub(crate) fn forwarded(&self) -> &Forward {
        match self {
            Outcome::Forwarded { forward, .. } => forward,
            other => panic!("not forwarded: {other:?}"),
        }
    }
}

type Inner = Gateway<Source, NoSharedTier, Recorder, NativeBackend>;

/// A gateway for the fixture issuer, configured by `vars` on top of the required variables.
pub(crate) struct TestGateway {
    pub(crate) gateway: Inner,
    pub(crate) source: Source,
    /// Every provider's key source, in configured order (`sources[0]` is `source`).
    pub(crate) sources: Vec<Source>,
    /// Its events (level `info`).
    pub(crate) log: Recorder,
    /// How many signatures [`TestGateway::run`] checked between `verify_now` and `signed`.
    pub(crate) stepwise_checks: std::cell::Cell<usize>,
}

impl TestGateway {
    pub(crate) fn new(vars: &[(&'static str, &str)]) -> TestGateway {
        let doc = fixtures();
        let mut env: BTreeMap<&str, String> = BTreeMap::from([
            ("JWT_AUTHORITY", doc["issuer"].as_str().unwrap().to_owned()),
            ("JWT_AUDIENCE", doc["audience"].as_str().unwrap().to_owned()),
            ("JWT_ALGORITHMS", "EdDSA".to_owned()),
            ("ORIGIN_URL", "https://orders.internal.example".to_owned()),
        ]);
        for (name, value) in vars {
            env.insert(name, (*value).to_owned());
        }
        TestGateway::with_env(&env)
    }

    /// A gateway configured by exactly `env`; every provider's source answers the fixture keys
    /// until the test sets another answer.
    pub(crate) fn with_env(env: &BTreeMap<&str, String>) -> TestGateway {
        let config = Config::from_env(|name| env.get(name).cloned())
            .unwrap_or_else(|err| panic!("test configuration refused: {err}"));
        // Each provider has its own key source; the first one's is the test's `source`, the
        // others answer with `other_keys` (the fixture keys unless a test sets them).
        let sources: Vec<Source> = config
            .providers
            .iter()
            .map(|_| Source {
                reply: Rc::new(RefCell::new(Ok(fixture_keys()))),
                calls: Rc::new(RefCell::new(0)),
            })
            .collect();
        let log = Recorder::new(Level::Info);
        let providers = config
            .providers
            .iter()
            .zip(&sources)
            .map(|(provider, source)| Provider {
                name: provider.name.clone(),
                verifier: Verifier::new(provider.verification.clone()),
                keys: KeyCache::new(
                    source.clone(),
                    None::<NoSharedTier>,
                    config.cache,
                    ProviderLog::new(log.clone(), &provider.name),
                ),
                claim_headers: provider.claim_headers.clone(),
            })
            .collect();
        let gateway = Gateway {
            policy: config.gateway.clone(),
            providers,
            backend: NativeBackend,
            tokens: TokenCache::new(64),
            log: log.clone(),
            rejections: RejectionLog::default(),
        };
        gateway.tokens.set_secret(*b"gateway-tests-16");
        let source = sources[0].clone();
        TestGateway {
            gateway,
            source,
            sources,
            log,
            stepwise_checks: std::cell::Cell::new(0),
        }
    }

    /// `req` through the pipeline at `now` as the Worker drives it: `decide`, then for a
    /// [`Decision::Verify`] `verify_now`, the signature's check and `signed` when the key set is
    /// in memory, or `verify` when the key cache must wait.
    pub(crate) fn run(&self, req: &Req, now: u64) -> Outcome {
        self.run_with(req, now, |pending| {
            match self.gateway.verify_now(pending, now) {
                Progress::Done(result) => result,
                Progress::Signature(check) => {
                    self.stepwise_checks.set(self.stepwise_checks.get() + 1);
                    let backend = &self.gateway.backend;
                    let checked = pollster::block_on(backend.verify(
                        check.alg(),
                        check.key(),
                        check.message(),
                        check.signature(),
                    ));
                    self.gateway.signed(pending, check, checked, now)
                }
                Progress::Wait => pollster::block_on(self.gateway.verify(pending, now)),
            }
        })
    }

    /// [`TestGateway::run`] with every [`Decision::Verify`] awaited through `verify` alone.
    pub(crate) fn run_awaiting(&self, req: &Req, now: u64) -> Outcome {
        self.run_with(req, now, |pending| {
            pollster::block_on(self.gateway.verify(pending, now))
        })
    }

    fn run_with(
        &self,
        req: &Req,
        now: u64,
        verify: impl FnOnce(&Pending) -> Result<Forward, GatewayError>,
    ) -> Outcome {
        match self.gateway.decide(req, now) {
            Decision::Health => Outcome::Health,
            Decision::Status => Outcome::Status,
            Decision::ResourceMetadata => Outcome::ResourceMetadata,
            Decision::Forward(forward) => Outcome::Forwarded {
                forward,
                verified: false,
            },
            Decision::Reject(error) => Outcome::Refused(error),
            Decision::Verify(pending) => match verify(&pending) {
                Ok(forward) => Outcome::Forwarded {
                    forward,
                    verified: true,
                },
                Err(error) => Outcome::Refused(error),
            },
        }
    }
}
