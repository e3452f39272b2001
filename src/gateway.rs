//! The gateway of one isolate: the configuration validated once and the core
//! [pipeline](edge_jwt_core::gateway::pipeline) built over the Workers ports (outbound fetch, KV,
//! WebCrypto, console logs), plus the runtime's request as the pipeline's [`RequestView`].

use std::rc::Rc;

use edge_jwt_core::config::{CacheKind, Config, ConfigError};
use edge_jwt_core::gateway::pipeline::{Gateway, RequestView};
use edge_jwt_core::gateway::provider::ProviderLog;
use edge_jwt_core::gateway::rejection_log::RejectionLog;
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
use crate::kv::KvTier;
use crate::logging::ConsoleLog;
use crate::metrics::Metrics;
use crate::urls::RuntimeUrls;

/// The core pipeline over the Workers ports.
pub(crate) type Core = Gateway<JwksFetcher<WorkerHttp>, KvTier, ConsoleLog, WebCryptoBackend>;
/// One trusted issuer over the Workers ports.
pub(crate) type Provider =
    edge_jwt_core::gateway::provider::Provider<JwksFetcher<WorkerHttp>, KvTier, ConsoleLog>;

/// Everything one isolate keeps between requests.
pub(crate) struct Isolate {
    pub(crate) config: Config,
    pub(crate) core: Core,
    /// The Analytics Engine dataset (`METRICS`), when bound.
    pub(crate) metrics: Option<Metrics>,
}

/// The isolate's gateway as requests share it (an error when the configuration is invalid).
pub(crate) type SharedIsolate = Rc<Result<Isolate, ConfigError>>;

thread_local! {
    static ISOLATE: std::cell::OnceCell<SharedIsolate> = const { std::cell::OnceCell::new() };
}

/// Seconds since the Unix epoch (`Date.now()`, without making a `Date` object).
pub(crate) fn now() -> u64 {
    (js_sys::Date::now() / 1000.0) as u64
}

/// The isolate's gateway, built (and its configuration validated) on first use.
pub(crate) fn isolate(env: &Env) -> SharedIsolate {
    ISOLATE.with(|cell| cell.get_or_init(|| Rc::new(build(env))).clone())
}

/// The isolate's gateway if a request has built it already.
pub(crate) fn current() -> Option<SharedIsolate> {
    ISOLATE.with(|cell| cell.get().cloned())
}

/// Gives the isolate's token cache its secret, 16 bytes from `crypto.getRandomValues`, unless it
/// has one. The runtime gives no random values while it loads the Worker, so the first request
/// draws it. Without one (the runtime's random source failed, which it should never do) the cache
/// stores nothing, and every token is verified.
pub(crate) fn key_token_cache(isolate: &Isolate) {
    let tokens = &isolate.core.tokens;
    if tokens.has_secret() {
        return;
    }
    match random_secret()
        .ok()
        .and_then(|bytes| <[u8; 16]>::try_from(bytes).ok())
    {
        Some(secret) => tokens.set_secret(secret),
        None => isolate.core.log.event(
            Level::Error,
            "token_cache_unkeyed",
            json!({ "error": "no random secret for its keys: every token is verified" }),
        ),
    }
}

/// Never inlined: [`isolate`] runs on every request, and a fresh isolate compiles each function
/// it calls in full, so this (run once, at load) must not be part of it.
#[inline(never)]
fn build(env: &Env) -> Result<Isolate, ConfigError> {
    let config = Config::from_env_with(|name| crate::vars::read(env, name), &RuntimeUrls);
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
    // Each provider has its own key cache: its own memory, its own KV records (keyed by its
    // JWKS URL), its own unknown-kid cooldown.
    let providers = config
        .providers
        .iter()
        .map(|provider| {
            let shared = match config.cache_kind {
                CacheKind::Kv => Some(KvTier::new(
                    crate::kv::namespace(env),
                    &provider.jwks,
                    config.refresh.interval_minutes,
                    max_keys,
                )),
                CacheKind::InMemory => None,
            };
            edge_jwt_core::gateway::provider::Provider {
                name: provider.name.clone(),
                verifier: Verifier::new(provider.verification.clone()),
                keys: KeyCache::new(
                    JwksFetcher::new(WorkerHttp, provider.jwks.clone(), settings.clone()),
                    shared,
                    config.cache,
                    ProviderLog::new(log, &provider.name),
                ),
                claim_headers: provider.claim_headers.clone(),
            }
        })
        .collect();
    let issuers: Vec<&str> = config.providers.iter().map(|p| p.issuer()).collect();
    log.event(
        Level::Info,
        "gateway_started",
        json!({ "issuers": issuers, "cache": format!("{:?}", config.cache_kind) }),
    );
    let core = Gateway {
        policy: config.gateway.clone(),
        providers,
        backend: WebCryptoBackend::new(),
        tokens: TokenCache::new(token_cache::DEFAULT_CAPACITY),
        log,
        rejections: RejectionLog::default(),
    };
    let metrics = Metrics::from_env(env, &log);
    Ok(Isolate {
        config,
        core,
        metrics,
    })
}

/// The headers read together with the URL, in the same call: the pipeline's and the proxy's
/// (the token, the preflight marker, the client address, and the two headers whose values the
/// forwarding rules read). Any other header is read when asked for.
const READ_AHEAD: [&str; 5] = [
    "authorization",
    "access-control-request-method",
    "cf-connecting-ip",
    "connection",
    "x-forwarded-for",
];

/// The runtime's request as the pipeline reads it: its method, URL parts, header names and the
/// [`READ_AHEAD`] headers, all read in one call (`requestParts` in `src/runtime.js`), the URL
/// from the runtime's own parser.
pub(crate) struct WorkerRequest {
    pub(crate) req: web_sys::Request,
    /// The lines `requestParts` answered.
    text: String,
    /// Where each line is in `text`.
    lines: [std::ops::Range<usize>; LINES],
}

/// Method, pathname, search, scheme, host, header names, then one line per [`READ_AHEAD`] name.
const LINES: usize = 6 + READ_AHEAD.len();

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    /// The lines as UTF-8 bytes; `read_ahead` is [`READ_AHEAD_LIST`].
    #[wasm_bindgen(js_name = requestParts, catch)]
    fn request_parts(request: &web_sys::Request, read_ahead: &JsValue) -> Result<Vec<u8>, JsValue>;
    /// 16 random bytes (`crypto.getRandomValues`).
    #[wasm_bindgen(js_name = randomSecret, catch)]
    fn random_secret() -> Result<Vec<u8>, JsValue>;
}

thread_local! {
    /// [`READ_AHEAD`] as one JavaScript string, made once: `requestParts` splits it only when it
    /// is handed another string than the last one.
    static READ_AHEAD_LIST: JsValue = JsValue::from_str(&READ_AHEAD.join(","));
}

impl WorkerRequest {
    /// `None` when the runtime's answer does not have its shape (it always should).
    pub(crate) fn new(req: web_sys::Request) -> Option<WorkerRequest> {
        let bytes = READ_AHEAD_LIST
            .with(|list| request_parts(&req, list))
            .ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let lines = line_ranges(text.as_bytes())?;
        Some(WorkerRequest { req, text, lines })
    }

    fn line(&self, index: usize) -> &str {
        &self.text[self.lines[index].clone()]
    }

    /// The names of the request's headers (lowercase).
    pub(crate) fn header_names(&self) -> impl Iterator<Item = &str> {
        self.line(5).split(',').filter(|name| !name.is_empty())
    }

    /// A [`READ_AHEAD`] header's value (`Some(None)`: the request has none), or `None` when
    /// `name` is not read ahead.
    fn read_ahead(&self, name: &str) -> Option<Option<&str>> {
        let index = READ_AHEAD.iter().position(|listed| *listed == name)?;
        Some(self.line(6 + index).strip_prefix('='))
    }
}

/// Where each of the [`LINES`] lines of `text` is, or `None` when it has more or fewer. The line
/// feeds are found with `memchr3` given the same byte three times: it reads 16 bytes at a time
/// (Wasm SIMD) and the text is mostly the token. Measured with `bench/instructions.mjs`: 3
/// thousand instructions a request fewer than `str::split`; a byte loop is slower than `split`,
/// and `memchr` (one byte) makes a larger module than `memchr3`, which the bearer token's check
/// links already.
fn line_ranges(text: &[u8]) -> Option<[std::ops::Range<usize>; LINES]> {
    let mut lines: [std::ops::Range<usize>; LINES] = Default::default();
    // Where the next line starts; `None` once the last one has ended the text.
    let mut start = Some(0);
    for range in &mut lines {
        let from = start?;
        match memchr::memchr3(b'\n', b'\n', b'\n', &text[from..]) {
            Some(at) => {
                *range = from..from + at;
                start = Some(from + at + 1);
            }
            None => {
                *range = from..text.len();
                start = None;
            }
        }
    }
    // A line feed after the last line: more lines than expected.
    start.is_none().then_some(lines)
}

impl RequestView for WorkerRequest {
    fn method(&self) -> &str {
        self.line(0)
    }

    fn path(&self) -> &str {
        self.line(1)
    }

    /// The runtime's URL does not tell "/p?" from "/p": both have no query.
    fn query(&self) -> Option<&str> {
        self.line(2)
            .strip_prefix('?')
            .filter(|query| !query.is_empty())
    }

    /// The scheme the client used, without `:`.
    fn scheme(&self) -> &str {
        self.line(3).trim_end_matches(':')
    }

    /// The host the client asked for, with its port unless it is the scheme's default.
    fn host(&self) -> &str {
        self.line(4)
    }

    fn header(&self, name: &str) -> Option<String> {
        match self.read_ahead(name) {
            Some(value) => value.map(str::to_owned),
            None => self.req.headers().get(name).ok().flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{line_ranges, LINES};

    fn text(lines: usize) -> String {
        (0..lines)
            .map(|i| format!("line {i}"))
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn the_lines_are_found_where_they_are() {
        let text = text(LINES);
        let ranges = line_ranges(text.as_bytes()).expect("as many lines as expected");
        for (i, range) in ranges.into_iter().enumerate() {
            assert_eq!(&text[range], format!("line {i}"));
        }
        // Empty lines, the last one too (an absent header, an empty query).
        let empty = "\n".repeat(LINES - 1);
        let ranges = line_ranges(empty.as_bytes()).expect("empty lines");
        assert!(ranges.iter().all(|range| range.is_empty()));
        assert_eq!(ranges[LINES - 1], empty.len()..empty.len());
    }

    #[test]
    fn a_line_more_or_less_is_refused() {
        assert!(line_ranges(text(LINES - 1).as_bytes()).is_none());
        assert!(line_ranges(text(LINES + 1).as_bytes()).is_none());
        assert!(line_ranges(format!("{}\n", text(LINES)).as_bytes()).is_none());
        assert!(line_ranges(b"").is_none());
    }
}
