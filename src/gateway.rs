//! The gateway of one isolate: configuration validated once, the key cache, the verifier and the
//! WebCrypto backend, and the request path that uses them.

use std::rc::Rc;

use edge_jwt_core::answer::{bearer_token, GatewayError};
use edge_jwt_core::cache::KeyCache;
use edge_jwt_core::config::{CacheKind, Config, ConfigError};
use edge_jwt_core::fetch::{FetchSettings, JwksFetcher};
use edge_jwt_core::identity::identity_headers;
use edge_jwt_core::log::{EventSink, Level};
use edge_jwt_core::routing::{
    check_scopes, is_ambiguous_path, is_preflight, is_public, required_scopes,
};
use edge_jwt_core::token_cache::{self, TokenCache};
use edge_jwt_core::{VerifiedToken, Verifier};
use edge_jwt_webcrypto::WebCryptoBackend;
use serde_json::json;
use web_sys::Request;
use worker::Env;

use crate::http::WorkerHttp;
use crate::kv::KvTier;
use crate::logging::ConsoleLog;

/// The isolate's key cache type.
pub(crate) type Keys = KeyCache<JwksFetcher<WorkerHttp>, KvTier, ConsoleLog>;

/// Everything one isolate keeps between requests.
pub(crate) struct Gateway {
    pub(crate) config: Config,
    pub(crate) verifier: Verifier,
    pub(crate) keys: Keys,
    pub(crate) backend: WebCryptoBackend,
    pub(crate) tokens: TokenCache,
    pub(crate) log: ConsoleLog,
}

thread_local! {
    static ISOLATE: std::cell::OnceCell<Rc<Result<Gateway, ConfigError>>> =
        const { std::cell::OnceCell::new() };
}

/// Seconds since the Unix epoch (`Date.now()`, without making a `Date` object).
pub(crate) fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// The isolate's gateway, built (and its configuration validated) on first use.
pub(crate) fn isolate(env: &Env) -> Rc<Result<Gateway, ConfigError>> {
    ISOLATE.with(|cell| cell.get_or_init(|| Rc::new(build(env))).clone())
}

/// The isolate's gateway if a request has built it already.
pub(crate) fn current() -> Option<Rc<Result<Gateway, ConfigError>>> {
    ISOLATE.with(|cell| cell.get().cloned())
}

fn build(env: &Env) -> Result<Gateway, ConfigError> {
    let config = Config::from_env(|name| {
        env.var(name)
            .ok()
            .map(|v| v.to_string())
            .or_else(|| env.secret(name).ok().map(|v| v.to_string()))
    });
    let config = match config {
        Ok(config) => config,
        Err(err) => {
            ConsoleLog {
                level: Level::Error,
            }
            .event(
                Level::Error,
                "gateway_misconfigured",
                json!({ "variable": err.variable, "error": err.to_string() }),
            );
            return Err(err);
        }
    };
    let log = ConsoleLog {
        level: config.log_level,
    };
    let settings = FetchSettings {
        timeout_ms: config.jwks.fetch_timeout_ms,
        ..FetchSettings::default()
    };
    let max_keys = settings.max_keys;
    let shared = match config.cache_kind {
        CacheKind::Kv => Some(KvTier::new(
            &config.jwks.url,
            config.refresh.interval_minutes,
            max_keys,
        )),
        CacheKind::InMemory => None,
    };
    let keys = KeyCache::new(
        JwksFetcher::new(WorkerHttp, config.jwks.url.clone(), settings),
        shared,
        config.cache,
        log,
    );
    log.event(
        Level::Info,
        "gateway_started",
        json!({ "issuer": config.verification.claims.issuer, "cache": format!("{:?}", config.cache_kind) }),
    );
    Ok(Gateway {
        verifier: Verifier::new(config.verification.clone()),
        config,
        keys,
        backend: WebCryptoBackend::new(),
        tokens: TokenCache::new(token_cache::DEFAULT_CAPACITY),
        log,
    })
}

/// What a request needs, decided without waiting wherever possible.
pub(crate) enum Plan {
    /// Forward now, with these identity headers (none for public paths and preflight).
    Forward(Vec<(String, String)>),
    /// This bearer token has not been verified before: verify it ([`Gateway::verify`]).
    Verify(String),
}

impl Gateway {
    /// Everything but the gateway's own endpoints, as far as it can be decided at once:
    /// preflight and public paths are forwarded as they are (minus spoofed identity headers);
    /// everything else needs a valid token and the route's scopes. A token verified before (its
    /// time claims and its key's presence re-checked) is a hash lookup, so most requests are
    /// decided here; the others go through [`Gateway::verify`].
    pub(crate) fn plan(&self, req: &Request, url: &url::Url) -> Result<Plan, GatewayError> {
        let method = req.method();
        let path = url.path();
        let preflight = is_preflight(&method, || {
            req.headers()
                .has("access-control-request-method")
                .unwrap_or(false)
        });
        if (preflight && self.config.forward_preflight)
            || is_public(path, &self.config.public_paths)
        {
            return Ok(Plan::Forward(Vec::new()));
        }
        // A path the origin might normalise differently (encoded dots or slashes) could escape
        // the scope rule matched here.
        if is_ambiguous_path(path) {
            return Err(GatewayError::InvalidRequest("ambiguous request path"));
        }
        // Tokens in URLs end up in logs and caches: only the header is accepted.
        let query_token =
            url.query().is_some() && url.query_pairs().any(|(name, _)| name == "access_token");
        if query_token {
            return Err(GatewayError::InvalidRequest(
                "access_token in the query is not accepted; use the Authorization header",
            ));
        }
        let header = req.headers().get("authorization").ok().flatten();
        let token = bearer_token(header.as_deref())?;
        if let Some(current) = self.keys.current() {
            if let Some(verified) = self.tokens.get(
                token,
                &current.keys,
                &self.config.verification.claims,
                now(),
            ) {
                return self.admit(&method, path, &verified).map(Plan::Forward);
            }
        }
        Ok(Plan::Verify(token.to_owned()))
    }

    /// The full pipeline for a token not verified before: its key (from memory, KV or the
    /// issuer), the signature and the claims. The result is cached, then the route's scopes are
    /// checked and the identity headers returned.
    pub(crate) async fn verify(
        &self,
        method: &str,
        path: &str,
        token: &str,
    ) -> Result<Vec<(String, String)>, GatewayError> {
        let now = now();
        let inspected = self
            .verifier
            .inspect(token)
            .map_err(GatewayError::InvalidToken)?;
        let set = self
            .keys
            .keys_for(inspected.kid(), now)
            .await
            .map_err(|err| GatewayError::from_resolve(err, inspected.kid()))?;
        let verified = self
            .verifier
            .verify(&inspected, &set.keys, &self.backend, now)
            .await
            .map_err(GatewayError::InvalidToken)?;
        self.log.event(
            Level::Debug,
            "token_verified",
            json!({ "kid": verified.kid, "alg": verified.alg.name() }),
        );
        let verified = self.tokens.insert(token, verified);
        self.admit(method, path, &verified)
    }

    /// The route's scopes checked against a verified token, and the identity headers to forward.
    fn admit(
        &self,
        method: &str,
        path: &str,
        verified: &VerifiedToken,
    ) -> Result<Vec<(String, String)>, GatewayError> {
        if let Some(required) = required_scopes(method, path, &self.config.route_scopes) {
            check_scopes(required, &verified.claims)?;
        }
        Ok(identity_headers(
            &verified.claims,
            &self.config.claim_headers,
        ))
    }

    /// Makes the KV binding available to the key cache (once per isolate).
    pub(crate) fn attach(&self, env: &Env) {
        if let Some(kv) = self.keys.shared() {
            kv.attach(env);
        }
    }
}
