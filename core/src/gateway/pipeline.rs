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
//!    past what verification would accept (a key removed upstream, a set past max-stale);
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
use crate::gateway::token_cache::{CachedToken, TokenCache};
use crate::gateway::token_source::{self, Credential, TokenCookie};
use crate::jws::backend::SignatureBackend;
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
        let cached_by = match self.providers.len() {
            1 => Some(0),
            _ => self.tokens.provider_of(token),
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
            if let Some(verified) = self.tokens.get(token, *index, &set.keys, claims, now) {
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
        let result = self.verify_inner(pending, now).await;
        if let Err(error) = &result {
            self.rejections.record(&self.log, error, now, |error| {
                let token = Some(pending.token.as_str());
                self.rejection_line(error, &pending.method, Some(&pending.path), token)
            });
        }
        result
    }

    async fn verify_inner(&self, pending: &Pending, now: u64) -> Result<Forward, GatewayError> {
        // The provider first: no key of any provider is looked up for a token of an unknown
        // issuer, or of one this route does not accept.
        let index = provider::select(&self.providers, &pending.token, self.max_token_bytes())
            .map_err(GatewayError::InvalidToken)?;
        let provider = &self.providers[index];
        pending.cache.set(CacheUse {
            provider: Some(index),
            ..CacheUse::default()
        });
        self.check_issuer_route(&pending.method, &pending.path, provider)?;
        let inspected = provider
            .verifier
            .inspect(&pending.token)
            .map_err(GatewayError::InvalidToken)?;
        let (set, tier) = provider
            .keys
            .lookup(inspected.kid(), now)
            .await
            .map_err(|err| GatewayError::from_resolve(err, inspected.kid()))?;
        let claims = &provider.verifier.policy().claims;
        let cached = if pending.looked_up {
            None
        } else {
            self.tokens
                .get(&pending.token, index, &set.keys, claims, now)
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
        let verified = match cached {
            Some(verified) => verified,
            None => {
                let verified = provider
                    .verifier
                    .verify(&inspected, &set.keys, &self.backend, now)
                    .await
                    .map_err(GatewayError::InvalidToken)?;
                if self.log.enabled(Level::Debug) {
                    self.log.event(
                        Level::Debug,
                        "token_verified",
                        json!({ "kid": verified.kid, "alg": verified.alg.name() }),
                    );
                }
                self.tokens.insert(&pending.token, index, verified)
            }
        };
        let identity = self.admit(&pending.method, &pending.path, provider, &verified)?;
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
