//! The gateway's decision for one request: which checks run, in which order, and what reaches
//! the origin.
//!
//! The Workers adapter shows a request through [`RequestView`] and acts on the [`Decision`];
//! every rule lives here and is tested natively as a table of requests and decisions. In order:
//!
//! 1. the gateway's own endpoints, on the raw path: `/_gateway/health`, `/_gateway/status`
//!    for the holder of `STATUS_TOKEN` (compared in constant time; anyone else gets 404), and
//!    the RFC 9728 metadata ([`crate::gateway::resource_metadata`], `RESOURCE_METADATA`);
//! 2. the [canonical path](crate::gateway::path): a path that has none is refused (400), whatever the
//!    route, preflights and public paths included;
//! 3. a CORS preflight (`FORWARD_PREFLIGHT`) is forwarded without a token and without a body;
//! 4. a [public path](crate::gateway::routing::is_public) is forwarded without a token;
//! 5. a token in the query is refused (400); the `Authorization` header must hold exactly one
//!    bearer token, or, with `JWT_COOKIE`, the token cookie holds it
//!    ([`crate::gateway::token_source`]: one method only, the cookie once, and never on an
//!    unsafe cross-site request);
//! 6. the token's [provider](crate::gateway::provider): with several, its `iss` chooses one (an
//!    unknown issuer is refused without any fetch), and the route must accept that provider
//!    (`ROUTE_ISSUERS`), before any key is looked up;
//! 7. a token verified before passes on a hash lookup, but only while the key set it was
//!    checked against is fresh; otherwise, and for a token seen for the first time, the decision
//!    is [`Decision::Verify`]: the adapter awaits [`Gateway::verify`], which goes through the key
//!    cache (memory, KV, issuer) like any first-time token, so a cached token is never admitted
//!    past what verification would accept (a key removed upstream, a set past max-stale). When
//!    the key set is in memory, the adapter may instead take the same steps without a task:
//!    [`Gateway::verify_now`], its signature check, then [`Gateway::signed`];
//! 8. the route's scopes (`ROUTE_SCOPES`, matched on the canonical path, `HEAD` as `GET`), then
//!    the identity headers.
//!
//! A forwarded request carries the canonical path, the path its rules were checked against.
//!
//! Every refusal, whether [`Gateway::decide`] or [`Gateway::verify`] makes it, is logged here in
//! one way ([`crate::gateway::rejection_log`]), and every decision says what it asked of the
//! caches ([`CacheUse`], for the metrics).

use std::cell::Cell;
use std::rc::Rc;

use serde_json::json;
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use crate::gateway::answer::GatewayError;
use crate::gateway::identity::{identity_headers, ClaimHeader};
use crate::gateway::metrics::{CacheUse, TokenCacheUse};
use crate::gateway::origin_auth::OriginAuth;
use crate::gateway::path::{canonicalize, CanonicalPath};
use crate::gateway::provider::{self, Provider};
use crate::gateway::rejection_log::{RejectionLine, RejectionLog};
use crate::gateway::resource_metadata::ResourceMetadata;
use crate::gateway::routing::{check_scopes, is_preflight, is_public, required_scopes, RouteScope};
use crate::gateway::token_cache::{CachedToken, TokenCache, TokenKey};
use crate::gateway::token_source::{self, Credential, TokenCookie};
use crate::jws::alg::Algorithm;
use crate::jws::backend::{BackendError, SignatureBackend};
use crate::jws::key::PublicKey;
use crate::jws::verify::InspectedToken;
use crate::keys::record::CachedKeySet;
use crate::keys::source::KeySource;
use crate::keys::{KeyCacheTier, KeyTier};
use crate::log::{EventSink, Level};

/// The liveness endpoint.
pub const HEALTH_PATH: &str = "/_gateway/health";
/// The status endpoint (`STATUS_TOKEN`).
pub const STATUS_PATH: &str = "/_gateway/status";

/// What the pipeline reads of a request. The Worker implements it over the runtime's request;
/// tests over plain values.
pub trait RequestView {
    /// The method, as received.
    fn method(&self) -> &str;
    /// The path as received: percent-encoded, without the query.
    fn path(&self) -> &str;
    /// The query as received, without `?`.
    fn query(&self) -> Option<&str>;
    /// The scheme the client used, lowercase, without `:`.
    fn scheme(&self) -> &str;
    /// The host the client asked for (lowercase), with its port unless it is the scheme's
    /// default: with the scheme, the request's own origin.
    fn host(&self) -> &str;
    /// The value of the header `name` (lowercase), several values joined with `, ` as the Fetch
    /// standard does.
    fn header(&self, name: &str) -> Option<String>;
}

/// The routing policy of the gateway (`Config::gateway`).
#[derive(Clone, PartialEq, Eq)]
pub struct GatewayPolicy {
    /// `PUBLIC_PATHS`, canonical.
    pub public_paths: Vec<String>,
    /// `ROUTE_SCOPES`, paths canonical and lowercase.
    pub route_scopes: Vec<RouteScope>,
    /// `ROUTE_ISSUERS`: rules of the same form whose values are provider names.
    pub route_issuers: Vec<RouteScope>,
    /// Every identity header a provider makes (`CLAIM_HEADERS` and the providers'
    /// `claim_headers`): a client's header of any of these names never reaches the origin.
    pub claim_headers: Vec<ClaimHeader>,
    /// `FORWARD_PREFLIGHT`.
    pub forward_preflight: bool,
    /// `STATUS_TOKEN`; never shown by `Debug`.
    pub status_token: Option<String>,
    /// `ORIGIN_AUTH_HEADER` and `ORIGIN_AUTH_SECRET`; its `Debug` never shows the secret.
    pub origin_auth: OriginAuth,
    /// `JWT_COOKIE` and `JWT_COOKIE_FORWARD`: the cookie that may carry the token.
    pub token_cookie: Option<TokenCookie>,
    /// `RESOURCE_METADATA` and `RESOURCE_URI`: the RFC 9728 metadata, `None` when off.
    pub resource_metadata: Option<ResourceMetadata>,
}

impl std::fmt::Debug for GatewayPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GatewayPolicy")
            .field("public_paths", &self.public_paths)
            .field("route_scopes", &self.route_scopes)
            .field("route_issuers", &self.route_issuers)
            .field("claim_headers", &self.claim_headers)
            .field("forward_preflight", &self.forward_preflight)
            .field(
                "status_token",
                &self.status_token.as_ref().map(|_| "<redacted>"),
            )
            .field("origin_auth", &self.origin_auth)
            .field("token_cookie", &self.token_cookie)
            .field("resource_metadata", &self.resource_metadata)
            .finish()
    }
}

/// What to do with a request.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Answer the liveness endpoint.
    Health,
    /// Answer the status endpoint (the caller holds `STATUS_TOKEN`).
    Status,
    /// Answer the RFC 9728 metadata document (`GET` or `HEAD`).
    ResourceMetadata,
    /// Send the request to the origin.
    Forward(Forward),
    /// The token needs the key cache: await [`Gateway::verify`] with this.
    Verify(Pending),
    /// Refuse the request with this answer.
    Reject(GatewayError),
}

/// A request the origin receives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Forward {
    /// The canonical path (the one the rules were checked against) and the query as received.
    pub path_and_query: String,
    /// The verified identity headers (none on public paths and preflights), derived once per
    /// cached token.
    pub identity: Rc<[(String, String)]>,
    /// Whether the request body goes along (a preflight carries none).
    pub with_body: bool,
    /// What the request asked of the caches.
    pub cache: CacheUse,
}

/// A request waiting for [`Gateway::verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pending {
    token: String,
    /// The token's key in the token cache, made once for the lookup and the insertion.
    key: TokenKey,
    method: String,
    path: CanonicalPath,
    path_and_query: String,
    /// Whether [`Gateway::decide`] already looked the token up in the token cache.
    looked_up: bool,
    /// What [`Gateway::verify`] asked of the caches, once it ran.
    cache: Cell<CacheUse>,
}

impl Pending {
    /// What [`Gateway::verify`] asked of the caches (the key tier that answered, the token
    /// cache), for the outcome it returned; nothing before it ran.
    pub fn cache_use(&self) -> CacheUse {
        self.cache.get()
    }
}

/// How far [`Gateway::verify_now`] took a [`Pending`] request.
#[derive(Debug)]
pub enum Progress {
    /// Decided: forward, or refuse (the refusal is logged).
    Done(Result<Forward, GatewayError>),
    /// The key is known: run the signature's math, then [`Gateway::signed`].
    Signature(SignatureCheck),
    /// The key cache must wait on KV or the issuer: await [`Gateway::verify`] instead.
    Wait,
}

/// A token whose signing key is known and whose signature has the form that key requires,
/// waiting for the backend's answer; [`Gateway::signed`] finishes it. It owns what it needs,
/// so it can be finished in a promise's callback.
#[derive(Debug)]
pub struct SignatureCheck {
    provider: usize,
    token: InspectedToken,
    set: Rc<CachedKeySet>,
    /// The key's index in the set.
    key: usize,
}

impl SignatureCheck {
    /// The token's algorithm (allowed, and permitted by the key).
    pub fn alg(&self) -> Algorithm {
        self.token.alg()
    }

    /// The key to check the signature with.
    pub fn key(&self) -> &PublicKey {
        &self.set.keys.keys()[self.key]
    }

    /// The bytes the signature covers.
    pub fn message(&self) -> &[u8] {
        self.token.message()
    }

    /// The signature.
    pub fn signature(&self) -> &[u8] {
        self.token.signature()
    }
}

/// Where a token stands once its key set is known.
enum Keyed {
    /// The token cache admitted it.
    Admitted(Forward),
    /// Its signature must be checked.
    Check(SignatureCheck),
}

/// The gateway of one isolate: its policy, the trusted providers (each with its verifier and
/// key cache), the signature backend and the verified-token cache.
pub struct Gateway<S, T, L, B> {
    /// What passes without a token, the scope and issuer rules, the identity headers.
    pub policy: GatewayPolicy,
    /// The trusted issuers, at least one, in configured order.
    pub providers: Vec<Provider<S, T, L>>,
    /// The signature backend (WebCrypto in the Worker).
    pub backend: B,
    /// The verified-token cache.
    pub tokens: TokenCache,
    /// Where events go.
    pub log: L,
    /// The budget of `request_rejected` lines.
    pub rejections: RejectionLog,
}

impl<S, T, L, B> Gateway<S, T, L, B>
where
    S: KeySource,
    T: KeyCacheTier,
    L: EventSink + Clone,
    B: SignatureBackend,
{
    /// Everything that can be decided without waiting, at `now` (seconds since the epoch). See
    /// the [module documentation](self) for the order of the checks.
    pub fn decide(&self, req: &impl RequestView, now: u64) -> Decision {
        match self.decide_inner(req, now) {
            Ok(decision) => decision,
            Err(error) => {
                self.rejections.record(&self.log, &error, now, |error| {
                    // Read again only for a line that is written: the path and the token as
                    // `decide_inner` read them.
                    let route = canonicalize(req.path()).ok();
                    let credential = token_source::read(req, self.policy.token_cookie.as_ref());
                    let token = credential.as_ref().ok().map(Credential::token);
                    self.rejection_line(error, req.method(), route.as_ref(), token)
                });
                Decision::Reject(error)
            }
        }
    }

    /// The `request_rejected` line of `error`.
    fn rejection_line<'e>(
        &self,
        error: &'e GatewayError,
        method: &str,
        route: Option<&CanonicalPath>,
        token: Option<&str>,
    ) -> RejectionLine<'e> {
        let max = self.max_token_bytes();
        RejectionLine::new(error, method, route.map(CanonicalPath::as_sent), token, max)
    }

    /// The largest accepted token (`JWT_MAX_TOKEN_BYTES`, the same for every provider).
    fn max_token_bytes(&self) -> usize {
        self.providers
            .first()
            .map_or(0, |provider| provider.verifier.policy().max_token_bytes)
    }

    /// Reports the `request_rejected` lines the budget left out in windows that have ended by
    /// `now` (for the scheduled handler: the end of a flood is reported without a next line).
    pub fn flush_rejection_log(&self, now: u64) {
        self.rejections.flush(&self.log, now);
    }

    fn decide_inner(&self, req: &impl RequestView, now: u64) -> Result<Decision, GatewayError> {
        let raw = req.path();
        match raw {
            HEALTH_PATH => return Ok(Decision::Health),
            STATUS_PATH if self.status_authorized(req.header("authorization").as_deref()) => {
                return Ok(Decision::Status)
            }
            STATUS_PATH => return Err(GatewayError::NotFound),
            _ => {}
        }
        if let Some(metadata) = &self.policy.resource_metadata {
            if let Some(route) = metadata.route(raw, req.method()) {
                return route.map(|()| Decision::ResourceMetadata);
            }
        }
        let path =
            canonicalize(raw).map_err(|err| GatewayError::InvalidRequest(err.description()))?;
        let path_and_query = match req.query() {
            Some(query) => format!("{}?{query}", path.as_sent()),
            None => path.as_sent().to_owned(),
        };
        let method = req.method();
        let preflight = self.policy.forward_preflight
            && is_preflight(method, || {
                req.header("access-control-request-method").is_some()
            });
        if preflight || is_public(raw, &path, &self.policy.public_paths) {
            return Ok(Decision::Forward(Forward {
                path_and_query,
                identity: Rc::from([]),
                with_body: !preflight,
                cache: CacheUse::default(),
            }));
        }
        // Tokens in URLs end up in logs and caches: only the header is accepted.
        let query_token = req.query().is_some_and(|query| {
            form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "access_token")
        });
        if query_token {
            return Err(GatewayError::InvalidRequest(
                "access_token in the query is not accepted; use the Authorization header",
            ));
        }
        let credential = token_source::read(req, self.policy.token_cookie.as_ref())?;
        let token = credential.token();
        // The provider that verified the token before, if one did (the only one, or the one the
        // cache recorded: the token's `iss` cannot have changed).
        let key = self.tokens.key(token);
        let cached_by = match self.providers.len() {
            1 => Some(0),
            _ => self.tokens.provider_of(&key),
        };
        // A hit counts only while the set it was checked against is fresh: past that, the key
        // cache must look again (KV, issuer) before the token may pass.
        let fresh = cached_by.and_then(|index| {
            let provider = self.providers.get(index)?;
            let set = provider.keys.current().filter(|set| set.is_fresh(now))?;
            Some((index, provider, set))
        });
        if let Some((index, provider, set)) = &fresh {
            let claims = &provider.verifier.policy().claims;
            if let Some(verified) = self.tokens.get(&key, *index, &set.keys, claims, now) {
                let cache = CacheUse {
                    tier: Some(KeyTier::Memory),
                    token_cache: TokenCacheUse::Hit,
                    generation: set.meta.generation,
                    provider: Some(*index),
                };
                self.check_issuer_route(method, &path, provider)?;
                let identity = self.admit(method, &path, provider, &verified)?;
                return Ok(Decision::Forward(Forward {
                    path_and_query,
                    identity,
                    with_body: true,
                    cache,
                }));
            }
        }
        Ok(Decision::Verify(Pending {
            token: token.to_owned(),
            key,
            method: method.to_owned(),
            path,
            path_and_query,
            looked_up: fresh.is_some(),
            cache: Cell::new(CacheUse::default()),
        }))
    }

    /// The rest of the pipeline for a [`Decision::Verify`]: the token's key from the key cache
    /// (memory, KV or the issuer), then the cached verification if it still holds with that key
    /// set, or the signature and the claims; then the route's scopes.
    pub async fn verify(&self, pending: &Pending, now: u64) -> Result<Forward, GatewayError> {
        let keyed = self.looked_up(pending, now).await;
        match keyed.map_err(|error| self.refused(pending, error, now))? {
            Keyed::Admitted(forward) => Ok(forward),
            Keyed::Check(check) => {
                let checked = self
                    .backend
                    .verify(check.alg(), check.key(), check.message(), check.signature())
                    .await;
                self.signed(pending, check, checked, now)
            }
        }
    }

    /// [`Gateway::verify`] as far as it goes without waiting: when the provider's key set is in
    /// memory (fresh, with the token's `kid`), everything up to the signature's math, which
    /// the caller runs and hands to [`Gateway::signed`]; a decision when the token cache or a
    /// check settles it first; [`Progress::Wait`] when the key cache must read KV or fetch
    /// (then [`Gateway::verify`] takes it from the start). The same checks in the same order
    /// as [`Gateway::verify`], which is made of the same steps.
    pub fn verify_now(&self, pending: &Pending, now: u64) -> Progress {
        let step = self.identify(pending).and_then(|(index, token)| {
            let keys = &self.providers[index].keys;
            let Some(set) = keys.memory_hit(token.kid(), now) else {
                return Ok(None);
            };
            self.with_keys(pending, index, token, set, KeyTier::Memory, now)
                .map(Some)
        });
        match step {
            Ok(None) => Progress::Wait,
            Ok(Some(Keyed::Admitted(forward))) => Progress::Done(Ok(forward)),
            Ok(Some(Keyed::Check(check))) => Progress::Signature(check),
            Err(error) => Progress::Done(Err(self.refused(pending, error, now))),
        }
    }

    /// The end of [`Gateway::verify_now`]'s [`Progress::Signature`] (and of [`Gateway::verify`]):
    /// what the signature backend answered for `check`, then the claims at `now`, the token cache
    /// and the route's scopes.
    pub fn signed(
        &self,
        pending: &Pending,
        check: SignatureCheck,
        checked: Result<bool, BackendError>,
        now: u64,
    ) -> Result<Forward, GatewayError> {
        let refused = |error| self.refused(pending, error, now);
        let provider = &self.providers[check.provider];
        let verified = provider
            .verifier
            .accept(&check.token, check.key(), checked, now)
            .map_err(|rejection| refused(GatewayError::InvalidToken(rejection)))?;
        if self.log.enabled(Level::Debug) {
            self.log.event(
                Level::Debug,
                "token_verified",
                json!({ "kid": verified.kid, "alg": verified.alg.name() }),
            );
        }
        let verified = self.tokens.insert(pending.key, check.provider, verified);
        self.admitted(pending, provider, &verified).map_err(refused)
    }

    /// [`Gateway::verify`] up to the signature: the provider, the key cache's lookup (any tier),
    /// then the token cache or the key to check with.
    async fn looked_up(&self, pending: &Pending, now: u64) -> Result<Keyed, GatewayError> {
        let (index, token) = self.identify(pending)?;
        let (set, tier) = self.providers[index]
            .keys
            .lookup(token.kid(), now)
            .await
            .map_err(|err| GatewayError::from_resolve(err, token.kid()))?;
        self.with_keys(pending, index, token, set, tier, now)
    }

    /// Logs a refusal of a [`Pending`] request (within the rejection log's budget).
    fn refused(&self, pending: &Pending, error: GatewayError, now: u64) -> GatewayError {
        self.rejections.record(&self.log, &error, now, |error| {
            let token = Some(pending.token.as_str());
            self.rejection_line(error, &pending.method, Some(&pending.path), token)
        });
        error
    }

    /// The token's provider, before any key is looked up: the provider first, so that no key of
    /// any provider is looked up for a token of an unknown issuer, or of one this route does not
    /// accept; then what needs no key (structure, algorithm, `typ`).
    fn identify(&self, pending: &Pending) -> Result<(usize, InspectedToken), GatewayError> {
        let index = provider::select(&self.providers, &pending.token, self.max_token_bytes())
            .map_err(GatewayError::InvalidToken)?;
        let provider = &self.providers[index];
        pending.cache.set(CacheUse {
            provider: Some(index),
            ..CacheUse::default()
        });
        self.check_issuer_route(&pending.method, &pending.path, provider)?;
        let token = provider
            .verifier
            .inspect(&pending.token)
            .map_err(GatewayError::InvalidToken)?;
        Ok((index, token))
    }

    /// With the provider's key set (from the `tier` that answered): the cached verification if
    /// it still holds with that set, or the key the signature must be checked with.
    fn with_keys(
        &self,
        pending: &Pending,
        index: usize,
        token: InspectedToken,
        set: Rc<CachedKeySet>,
        tier: KeyTier,
        now: u64,
    ) -> Result<Keyed, GatewayError> {
        let provider = &self.providers[index];
        let claims = &provider.verifier.policy().claims;
        let cached = if pending.looked_up {
            None
        } else {
            self.tokens.get(&pending.key, index, &set.keys, claims, now)
        };
        pending.cache.set(CacheUse {
            tier: Some(tier),
            token_cache: if cached.is_some() {
                TokenCacheUse::Hit
            } else {
                TokenCacheUse::Miss
            },
            generation: set.meta.generation,
            provider: Some(index),
        });
        if let Some(verified) = cached {
            return self
                .admitted(pending, provider, &verified)
                .map(Keyed::Admitted);
        }
        let key = provider
            .verifier
            .signing_key(&token, &set.keys)
            .map_err(GatewayError::InvalidToken)?;
        Ok(Keyed::Check(SignatureCheck {
            provider: index,
            token,
            set,
            key,
        }))
    }

    /// The request the origin receives for a token `provider` verified (or `Err` when the
    /// route's scopes refuse it).
    fn admitted(
        &self,
        pending: &Pending,
        provider: &Provider<S, T, L>,
        verified: &CachedToken,
    ) -> Result<Forward, GatewayError> {
        let identity = self.admit(&pending.method, &pending.path, provider, verified)?;
        Ok(Forward {
            path_and_query: pending.path_and_query.clone(),
            identity,
            with_body: true,
            cache: pending.cache.get(),
        })
    }

    /// Whether the route accepts tokens of `provider` (`ROUTE_ISSUERS`).
    fn check_issuer_route(
        &self,
        method: &str,
        path: &CanonicalPath,
        provider: &Provider<S, T, L>,
    ) -> Result<(), GatewayError> {
        if provider::accepts(method, path, &self.policy.route_issuers, &provider.name) {
            Ok(())
        } else {
            Err(GatewayError::IssuerNotAccepted)
        }
    }

    /// For a token `provider` verified (on a route that accepts the provider): the route's
    /// scopes, and the identity headers to send.
    fn admit(
        &self,
        method: &str,
        path: &CanonicalPath,
        provider: &Provider<S, T, L>,
        verified: &CachedToken,
    ) -> Result<Rc<[(String, String)]>, GatewayError> {
        if let Some(required) = required_scopes(method, path, &self.policy.route_scopes) {
            check_scopes(required, &verified.claims)?;
        }
        Ok(verified
            .identity(|verified| identity_headers(&verified.claims, &provider.claim_headers)))
    }

    /// Whether `authorization` is `Bearer <STATUS_TOKEN>`, compared in constant time (over
    /// SHA-256 digests, so that neither the content nor the length of the secret leaks).
    fn status_authorized(&self, authorization: Option<&str>) -> bool {
        let (Some(secret), Some(header)) = (&self.policy.status_token, authorization) else {
            return false;
        };
        let expected = Sha256::digest(format!("Bearer {secret}").as_bytes());
        let given = Sha256::digest(header.as_bytes());
        bool::from(expected.as_slice().ct_eq(given.as_slice()))
    }
}
