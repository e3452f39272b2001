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
use web_sys::{Request, Response};
use worker::{Date, Env};

use crate::proxy;

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

/// Seconds since the Unix epoch.
pub(crate) fn now() -> u64 {
    Date::now().as_millis() / 1000
}

/// The isolate's gateway, built (and its configuration validated) on first use.
pub(crate) fn isolate(env: &Env) -> Rc<Result<Gateway, ConfigError>> {
    ISOLATE.with(|cell| cell.get_or_init(|| Rc::new(build(env))).clone())
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
            &config.verification.claims.issuer,
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

impl Gateway {
    /// Everything but the gateway's own endpoints: preflight and public paths are forwarded as
    /// they are (minus spoofed identity headers); everything else needs a valid token and the
    /// route's scopes, and is forwarded with the verified identity.
    pub(crate) async fn serve(
        &self,
        req: &Request,
        url: &url::Url,
    ) -> Result<Response, GatewayError> {
        let method = req.method();
        let path = url.path();
        let preflight = is_preflight(
            &method,
            req.headers()
                .has("access-control-request-method")
                .unwrap_or(false),
        );
        if (preflight && self.config.forward_preflight)
            || is_public(path, &self.config.public_paths)
        {
            return proxy::forward(req, url, &self.config, &[], &self.log).await;
        }
        // A path the origin might normalise differently (encoded dots or slashes) could escape
        // the scope rule matched here.
        if is_ambiguous_path(path) {
            return Err(GatewayError::InvalidRequest("ambiguous request path"));
        }
        let verified = self.authenticate(req, url).await?;
        if let Some(required) = required_scopes(&method, path, &self.config.route_scopes) {
            check_scopes(required, &verified.claims)?;
        }
        let identity = identity_headers(&verified.claims, &self.config.claim_headers);
        proxy::forward(req, url, &self.config, &identity, &self.log).await
    }

    /// Makes the KV binding available to the key cache (once per isolate).
    pub(crate) fn attach(&self, env: &Env) {
        if let Some(kv) = self.keys.shared() {
            kv.attach(env);
        }
    }

    /// Verifies the request's bearer token: a hash lookup for a token verified before (its time
    /// claims and its key's presence re-checked), the full pipeline otherwise.
    pub(crate) async fn authenticate(
        &self,
        req: &Request,
        url: &url::Url,
    ) -> Result<Rc<VerifiedToken>, GatewayError> {
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
        let now = now();
        if let Some(current) = self.keys.current() {
            if let Some(verified) =
                self.tokens
                    .get(token, &current.keys, &self.config.verification.claims, now)
            {
                return Ok(verified);
            }
        }
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
        Ok(self.tokens.insert(token, verified))
    }
}
