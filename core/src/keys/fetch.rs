//! The hardened JWKS fetcher: URL policy, optional OIDC discovery, status and size rules,
//! bounded retries with jittered exponential backoff, all within a total time budget.
//!
//! The fetcher performs no I/O itself: it is generic over [`HttpClient`], which the Worker
//! implements with its outbound `fetch` and tests implement with fakes. It emits no events; the
//! cache layer logs the outcome of each [`KeySource::fetch`].
//!
//! Rules, in order of application:
//!
//! * **URLs** — the configured JWKS URL, the discovery URL and the discovered `jwks_uri` must all
//!   pass [`check_url`]: `https`, or `http` to a loopback host only; never credentials.
//! * **Status** — `200` is parsed; `304` means "not modified" when an `ETag` was sent (and is an
//!   unexpected status otherwise); other `3xx` are [`FetchError::Redirect`] and are never
//!   followed; `5xx` and `429` are retried; every other status is [`FetchError::Status`] at once.
//! * **Transport** — timeouts and network errors are retried; a body over the cap is
//!   [`FetchError::TooLarge`] at once.
//! * **Body** — a `Content-Type`, when present, must mention `json`; the body must be UTF-8 (a
//!   leading byte-order mark is ignored) and a valid document: a JWKS accepted by
//!   [`KeySet::from_jwks_json`], or a discovery document whose `issuer` is exactly the configured
//!   issuer. A bad document is not retried.
//! * **Retries** — at most [`FetchSettings::attempts`] attempts per URL, separated by
//!   [`backoff_ms`] sleeps; the whole call (discovery included) shares one
//!   [`FetchSettings::budget_ms`] budget, see [`JwksFetcher`].

use std::cell::RefCell;
use std::future::Future;

use serde_json::Value;

use crate::keys::url::{ParsedUrl, UrlParser};

use crate::jws::error::truncated;
use crate::jws::jwk::KeySet;
use crate::keys::source::{FetchError, Fetched, KeySource};

/// The least time worth starting a retry with: a retry whose backoff sleep would leave less
/// than this much of the budget is not attempted (the fetch ends with
/// [`FetchError::BudgetExhausted`] without sleeping).
pub const MIN_ATTEMPT_MS: u64 = 100;

/// One HTTP response as the fetcher needs it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpResponse {
    /// The status code.
    pub status: u16,
    /// The `ETag` header, if any.
    pub etag: Option<String>,
    /// The `Cache-Control` header, if any.
    pub cache_control: Option<String>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<String>,
    /// The body (at most the `max_bytes` the client was given).
    pub body: Vec<u8>,
}

/// A failure of the HTTP client itself (no usable response).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransportError {
    /// The request did not complete within its timeout.
    #[error("request timed out")]
    Timeout,
    /// The body was longer than the `max_bytes` the client was given; reading stopped there.
    #[error("response body too large")]
    TooLarge,
    /// Any other failure: DNS, connection, TLS, reset...
    #[error("network error: {0}")]
    Network(String),
}

/// The platform's outbound HTTP (the Worker implements it with fetch; tests with fakes).
pub trait HttpClient: UrlParser {
    /// GET `url` with `Accept: application/json` and `If-None-Match: etag` when given; must not
    /// follow redirects (return 3xx as is), must abort after `timeout_ms`, and must stop reading
    /// and return [`TransportError::TooLarge`] past `max_bytes`.
    fn get(
        &self,
        url: &str,
        etag: Option<&str>,
        timeout_ms: u64,
        max_bytes: usize,
    ) -> impl Future<Output = Result<HttpResponse, TransportError>>;

    /// Waits `ms` milliseconds (retry backoff).
    fn sleep(&self, ms: u64) -> impl Future<Output = ()>;

    /// A uniformly random number in [0, 1) for jitter.
    fn random(&self) -> f64;

    /// Milliseconds since the Unix epoch (only for the time budget; may be coarse).
    fn now_ms(&self) -> u64;
}

/// Limits of one fetch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSettings {
    /// Timeout of one request, in milliseconds (further capped by what is left of the budget).
    pub timeout_ms: u64,
    /// Largest accepted body, in bytes.
    pub max_bytes: usize,
    /// Largest accepted number of entries in the JWKS `"keys"` array.
    pub max_keys: usize,
    /// Attempts per URL, the first included (`0` is taken as `1`).
    pub attempts: u32,
    /// Backoff before the first retry, in milliseconds (doubles on each retry).
    pub base_delay_ms: u64,
    /// Largest backoff, in milliseconds.
    pub max_delay_ms: u64,
    /// Total time for one [`KeySource::fetch`] call, discovery and retries included, in
    /// milliseconds.
    pub budget_ms: u64,
}

impl Default for FetchSettings {
    /// 5 s per request, 256 KiB, 100 keys, 3 attempts, 200 ms–2 s backoff, 10 s in all.
    fn default() -> Self {
        FetchSettings {
            timeout_ms: 5_000,
            max_bytes: 256 * 1024,
            max_keys: KeySet::DEFAULT_MAX_KEYS,
            attempts: 3,
            base_delay_ms: 200,
            max_delay_ms: 2_000,
            budget_ms: 10_000,
        }
    }
}

/// Where the key set is published.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum JwksLocation {
    /// The JWKS URL itself.
    Direct(String),
    /// An OpenID Connect discovery document whose `jwks_uri` names the JWKS URL.
    Discovery {
        /// The discovery document's URL (usually `<issuer>/.well-known/openid-configuration`).
        discovery_url: String,
        /// The issuer the document must declare, compared exactly.
        issuer: String,
    },
}

/// Fetches and validates the key set over an [`HttpClient`]; the production [`KeySource`].
///
/// With [`JwksLocation::Discovery`] the discovered `jwks_uri` is remembered, so the discovery
/// document is fetched once per fetcher. When the remembered `jwks_uri` answers `404` or `410`
/// the fetcher forgets it, fetches the discovery document again and, if it names a different
/// URL, fetches that one (without the `ETag`, which belonged to the old URL) — at most once per
/// call.
///
/// Each call has [`FetchSettings::budget_ms`] in all, measured with [`HttpClient::now_ms`]: no
/// attempt starts once the budget is gone, each request's timeout is capped by what is left, and
/// a retry whose backoff sleep plus [`MIN_ATTEMPT_MS`] would pass the budget is not made. The
/// error then is [`FetchError::BudgetExhausted`]; otherwise a call whose attempts all failed
/// returns the last attempt's error.
#[derive(Debug)]
pub struct JwksFetcher<C: HttpClient> {
    client: C,
    location: JwksLocation,
    settings: FetchSettings,
    discovered: RefCell<Option<String>>,
}

impl<C: HttpClient> JwksFetcher<C> {
    /// A fetcher for the key set at `location`. URLs are checked on each fetch, not here.
    pub fn new(client: C, location: JwksLocation, settings: FetchSettings) -> Self {
        JwksFetcher {
            client,
            location,
            settings,
            discovered: RefCell::new(None),
        }
    }

    /// The HTTP client.
    pub fn client(&self) -> &C {
        &self.client
    }

    /// The `jwks_uri` found by discovery and currently remembered, if any.
    pub fn discovered_url(&self) -> Option<String> {
        self.discovered.borrow().clone()
    }

    /// Fetches the discovery document and returns its checked `jwks_uri`, remembering it.
    async fn discover(
        &self,
        discovery_url: &str,
        issuer: &str,
        deadline: u64,
    ) -> Result<ParsedUrl, FetchError> {
        let url = check_url(&self.client, discovery_url)?;
        let response = match self.get(&url, None, deadline).await? {
            Answer::Ok(response) => response,
            // Never sent with an ETag, so `get` does not answer `NotModified`.
            Answer::NotModified(_) => return Err(FetchError::Status(304)),
        };
        let text = json_text(&response, self.settings.max_bytes)?;
        let doc: Value = serde_json::from_str(text).map_err(|_| {
            FetchError::InvalidDocument("discovery document is not valid JSON".to_owned())
        })?;
        let doc = doc.as_object().ok_or_else(|| {
            FetchError::InvalidDocument("discovery document is not a JSON object".to_owned())
        })?;
        match doc.get("issuer").and_then(Value::as_str) {
            Some(found) if found == issuer => {}
            Some(found) => {
                return Err(FetchError::InvalidDocument(format!(
                    "discovery document issuer {:?} is not the configured issuer {:?}",
                    truncated(found),
                    truncated(issuer)
                )))
            }
            None => {
                return Err(FetchError::InvalidDocument(
                    "discovery document has no \"issuer\" string".to_owned(),
                ))
            }
        }
        let jwks_uri = doc.get("jwks_uri").and_then(Value::as_str).ok_or_else(|| {
            FetchError::InvalidDocument("discovery document has no \"jwks_uri\" string".to_owned())
        })?;
        let jwks_url = check_url(&self.client, jwks_uri)?;
        *self.discovered.borrow_mut() = Some(jwks_url.href.clone());
        Ok(jwks_url)
    }

    /// Fetches and validates the JWKS at `url`.
    async fn fetch_jwks(
        &self,
        url: &ParsedUrl,
        etag: Option<&str>,
        deadline: u64,
    ) -> Result<Fetched, FetchError> {
        match self.get(url, etag, deadline).await? {
            Answer::NotModified(response) => Ok(Fetched::NotModified {
                max_age: response.cache_control.as_deref().and_then(max_age),
            }),
            Answer::Ok(response) => {
                let text = json_text(&response, self.settings.max_bytes)?;
                let keys = KeySet::from_jwks_json(text, self.settings.max_keys)
                    .map_err(|error| FetchError::InvalidDocument(error.to_string()))?;
                Ok(Fetched::Modified {
                    keys,
                    source: url.href.clone(),
                    etag: response.etag.filter(|etag| !etag.is_empty()),
                    max_age: response.cache_control.as_deref().and_then(max_age),
                })
            }
        }
    }

    /// GETs `url` with retries until a `200` (or a `304` when `etag` is given), a final error or
    /// the end of the budget.
    async fn get(
        &self,
        url: &ParsedUrl,
        etag: Option<&str>,
        deadline: u64,
    ) -> Result<Answer, FetchError> {
        let settings = &self.settings;
        let attempts = settings.attempts.max(1);
        let mut attempt = 1;
        loop {
            let now = self.client.now_ms();
            if now >= deadline {
                return Err(FetchError::BudgetExhausted);
            }
            let timeout_ms = settings.timeout_ms.min(deadline - now);
            let result = self
                .client
                .get(&url.href, etag, timeout_ms, settings.max_bytes)
                .await;
            let error = match result {
                Ok(response) => match response.status {
                    200 => return Ok(Answer::Ok(response)),
                    304 if etag.is_some() => return Ok(Answer::NotModified(response)),
                    304 => return Err(FetchError::Status(304)),
                    status @ 300..=399 => return Err(FetchError::Redirect(status)),
                    status @ (429 | 500..=599) => FetchError::Status(status),
                    status => return Err(FetchError::Status(status)),
                },
                Err(TransportError::TooLarge) => {
                    return Err(FetchError::TooLarge {
                        max: settings.max_bytes,
                    })
                }
                Err(TransportError::Timeout) => {
                    FetchError::Transport(format!("timed out after {timeout_ms} ms"))
                }
                Err(TransportError::Network(why)) => FetchError::Transport(truncated(&why)),
            };
            if attempt >= attempts {
                return Err(error);
            }
            let delay = backoff_ms(attempt, settings, self.client.random());
            let now = self.client.now_ms();
            if now.saturating_add(delay).saturating_add(MIN_ATTEMPT_MS) > deadline {
                return Err(FetchError::BudgetExhausted);
            }
            self.client.sleep(delay).await;
            attempt += 1;
        }
    }
}

/// A successful exchange.
enum Answer {
    /// `200`.
    Ok(HttpResponse),
    /// `304` to a conditional request.
    NotModified(HttpResponse),
}

impl<C: HttpClient> KeySource for JwksFetcher<C> {
    /// Fetches the key set (see [`JwksFetcher`]). An empty `etag` is not sent.
    async fn fetch(&self, etag: Option<&str>) -> Result<Fetched, FetchError> {
        let etag = etag.filter(|etag| !etag.is_empty());
        let deadline = self.client.now_ms().saturating_add(self.settings.budget_ms);
        match &self.location {
            JwksLocation::Direct(url) => {
                let url = check_url(&self.client, url)?;
                self.fetch_jwks(&url, etag, deadline).await
            }
            JwksLocation::Discovery {
                discovery_url,
                issuer,
            } => {
                let remembered = self.discovered_url();
                let Some(remembered) = remembered else {
                    let url = self.discover(discovery_url, issuer, deadline).await?;
                    return self.fetch_jwks(&url, etag, deadline).await;
                };
                let url = check_url(&self.client, &remembered)?;
                match self.fetch_jwks(&url, etag, deadline).await {
                    Err(FetchError::Status(status @ (404 | 410))) => {
                        *self.discovered.borrow_mut() = None;
                        let fresh = self.discover(discovery_url, issuer, deadline).await?;
                        if fresh == url {
                            return Err(FetchError::Status(status));
                        }
                        self.fetch_jwks(&fresh, None, deadline).await
                    }
                    result => result,
                }
            }
        }
    }

    /// [`FetchSettings::budget_ms`].
    fn budget_ms(&self) -> u64 {
        self.settings.budget_ms
    }
}

/// The body of a `200` as JSON text: size re-checked, `Content-Type` (when present) mentioning
/// `json`, UTF-8, without a leading byte-order mark.
fn json_text(response: &HttpResponse, max_bytes: usize) -> Result<&str, FetchError> {
    if response.body.len() > max_bytes {
        return Err(FetchError::TooLarge { max: max_bytes });
    }
    if let Some(content_type) = response.content_type.as_deref() {
        let content_type = content_type.trim();
        let mentions_json = content_type
            .as_bytes()
            .windows(4)
            .any(|word| word.eq_ignore_ascii_case(b"json"));
        if !content_type.is_empty() && !mentions_json {
            return Err(FetchError::InvalidDocument(format!(
                "content type {:?} is not JSON",
                truncated(content_type)
            )));
        }
    }
    let text = std::str::from_utf8(&response.body)
        .map_err(|_| FetchError::InvalidDocument("body is not UTF-8".to_owned()))?;
    Ok(text.strip_prefix('\u{feff}').unwrap_or(text))
}

/// An absolute URL with a host and without user name or password, as `urls` (the platform's
/// parser) reads it: what every configured URL must be (the fetcher's and the origin's).
/// Anything else is [`FetchError::InvalidUrl`] (whose message never repeats credentials).
pub fn absolute_url<P: UrlParser + ?Sized>(urls: &P, url: &str) -> Result<ParsedUrl, FetchError> {
    let parsed = urls
        .parse_url(url)
        .ok_or_else(|| FetchError::InvalidUrl("not an absolute URL".to_owned()))?;
    if parsed.credentials {
        return Err(FetchError::InvalidUrl(
            "URL must not contain credentials".to_owned(),
        ));
    }
    if parsed.hostname.is_empty() {
        return Err(FetchError::InvalidUrl("URL has no host".to_owned()));
    }
    Ok(parsed)
}

/// Checks a JWKS or discovery URL (or the issuer they derive from) against the policy: an
/// [absolute URL](absolute_url), scheme `https`, or `http` only when the host is loopback
/// (`127.0.0.0/8`, `[::1]` or `localhost`, for local development). The one definition of that
/// policy: the configuration checks `JWT_AUTHORITY` and `JWT_JWKS_URL` with it too.
pub fn check_url<P: UrlParser + ?Sized>(urls: &P, url: &str) -> Result<ParsedUrl, FetchError> {
    let parsed = absolute_url(urls, url)?;
    match parsed.scheme.as_str() {
        "https" => Ok(parsed),
        "http" if parsed.is_loopback() => Ok(parsed),
        "http" => Err(FetchError::InvalidUrl(format!(
            "http is allowed only to loopback hosts, not {:?}",
            truncated(&parsed.hostname)
        ))),
        scheme => Err(FetchError::InvalidUrl(format!(
            "scheme {:?} is not allowed",
            truncated(scheme)
        ))),
    }
}

/// The `max-age` of a `Cache-Control` header value, in seconds.
///
/// A deliberately small reader, not a full RFC 9111 parser: the value is split on `,`, each
/// directive trimmed and its name (before any `=`) compared case-insensitively. `no-store` or
/// `no-cache` anywhere (with or without an argument) gives `Some(0)`. Otherwise the first
/// `max-age=<digits>` (digits optionally in double quotes; values beyond `u64` saturate) gives
/// its value; malformed `max-age` directives and all other directives, `s-maxage` included, are
/// ignored. `None` when there is no usable directive.
pub fn max_age(cache_control: &str) -> Option<u64> {
    let mut found = None;
    for directive in cache_control.split(',') {
        let (name, value) = match directive.split_once('=') {
            Some((name, value)) => (name.trim(), Some(value.trim())),
            None => (directive.trim(), None),
        };
        if name.eq_ignore_ascii_case("no-store") || name.eq_ignore_ascii_case("no-cache") {
            return Some(0);
        }
        if found.is_none() && name.eq_ignore_ascii_case("max-age") {
            found = value.and_then(delta_seconds);
        }
    }
    found
}

fn delta_seconds(value: &str) -> Option<u64> {
    let digits = value
        .strip_prefix('"')
        .and_then(|value| value.strip_suffix('"'))
        .unwrap_or(value);
    if digits.is_empty() || !digits.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    Some(digits.parse().unwrap_or(u64::MAX))
}

/// The sleep before retry number `attempt` (`1` after the first failed attempt; `0` counts as
/// `1`), in milliseconds.
///
/// Exponential backoff with **equal jitter**: with `cap = min(max_delay_ms, base_delay_ms ·
/// 2^(attempt−1))` the delay is `cap/2 + random · cap/2`, so it lies in `[cap/2, cap]` and never
/// exceeds `max_delay_ms`. Equal rather than full jitter keeps a floor under every delay: a
/// failing identity provider is never retried immediately, while concurrent isolates still
/// spread out. `random` outside `[0, 1)` (or NaN) is clamped.
pub fn backoff_ms(attempt: u32, settings: &FetchSettings, random: f64) -> u64 {
    let doublings = attempt.saturating_sub(1).min(63);
    let cap = settings
        .base_delay_ms
        .saturating_mul(1u64 << doublings)
        .min(settings.max_delay_ms);
    let random = if random.is_nan() {
        0.0
    } else {
        random.clamp(0.0, 1.0)
    };
    let half = cap / 2;
    // `as` saturates; the product is at most `cap - half`.
    let jitter = ((cap - half) as f64 * random) as u64;
    half.saturating_add(jitter).min(cap)
}

#[cfg(test)]
mod tests;
