//! The gateway of one isolate: the configuration validated once and the core
//! [pipeline](edge_jwt_core::gateway::pipeline) built over the Workers ports (outbound fetch, KV,
//! WebCrypto, console logs), plus the runtime's request as the pipeline's [`RequestView`].

use std::rc::Rc;

use edge_jwt_core::config::{CacheKind, Config, ConfigError};
use edge_jwt_core::gateway::pipeline::{Gateway, RequestView};
use edge_jwt_core::gateway::token_cache::{self, TokenCache};
use edge_jwt_core::keys::fetch::{FetchSettings, JwksFetcher};
use edge_jwt_core::keys::KeyCache;
use edge_jwt_core::log::{EventSink, Level};
use edge_jwt_core::Verifier;
use edge_jwt_webcrypto::WebCryptoBackend;
use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::Env;

use crate::http::WorkerHttp;
use crate::kv::{KvTier, BINDING};
use crate::logging::ConsoleLog;

/// The core pipeline over the Workers ports.
pub(crate) type Core = Gateway<JwksFetcher<WorkerHttp>, KvTier, ConsoleLog, WebCryptoBackend>;

/// Everything one isolate keeps between requests.
pub(crate) struct Isolate {
    pub(crate) config: Config,
    pub(crate) core: Core,
}

thread_local! {
    static ISOLATE: std::cell::OnceCell<Rc<Result<Isolate, ConfigError>>> =
        const { std::cell::OnceCell::new() };
}

/// Seconds since the Unix epoch (`Date.now()`, without making a `Date` object).
pub(crate) fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// The isolate's gateway, built (and its configuration validated) on first use.
pub(crate) fn isolate(env: &Env) -> Rc<Result<Isolate, ConfigError>> {
    ISOLATE.with(|cell| cell.get_or_init(|| Rc::new(build(env))).clone())
}

/// The isolate's gateway if a request has built it already.
pub(crate) fn current() -> Option<Rc<Result<Isolate, ConfigError>>> {
    ISOLATE.with(|cell| cell.get().cloned())
}

fn build(env: &Env) -> Result<Isolate, ConfigError> {
    let config = Config::from_env(|name| crate::vars::read(env, name));
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
            env.kv(BINDING).ok(),
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
    let core = Gateway {
        policy: config.gateway.clone(),
        verifier: Verifier::new(config.verification.clone()),
        keys,
        backend: WebCryptoBackend::new(),
        tokens: TokenCache::new(token_cache::DEFAULT_CAPACITY),
        log,
    };
    Ok(Isolate { config, core })
}

/// The runtime's request as the pipeline reads it: its method and URL read once, in one call
/// (`requestParts` in `src/runtime.js`), from the runtime's own URL parser.
pub(crate) struct WorkerRequest {
    pub(crate) req: web_sys::Request,
    method: String,
    path: String,
    query: Option<String>,
    /// The scheme the client used, without `:`.
    pub(crate) scheme: String,
    /// The host the client asked for, with its port unless it is the scheme's default.
    pub(crate) host: String,
}

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = requestParts, catch)]
    fn request_parts(request: &web_sys::Request) -> Result<Vec<String>, JsValue>;
}

impl WorkerRequest {
    /// `None` when the runtime's URL does not parse (it always should).
    pub(crate) fn new(req: web_sys::Request) -> Option<WorkerRequest> {
        let [method, path, query, scheme, host]: [String; 5] =
            request_parts(&req).ok()?.try_into().ok()?;
        Some(WorkerRequest {
            req,
            method,
            path,
            // The runtime's URL does not tell "/p?" from "/p": both have no query.
            query: (!query.is_empty()).then_some(query),
            scheme,
            host,
        })
    }
}

impl RequestView for WorkerRequest {
    fn method(&self) -> &str {
        &self.method
    }

    fn path(&self) -> &str {
        &self.path
    }

    fn query(&self) -> Option<&str> {
        self.query.as_deref()
    }

    fn header(&self, name: &str) -> Option<String> {
        self.req.headers().get(name).ok().flatten()
    }
}
