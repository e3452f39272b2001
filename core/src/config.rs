//! The gateway's configuration: every environment variable, read once and validated into one
//! typed [`Config`].
//!
//! [`variables()`] is the single list of variables with their defaults and meanings; the unit
//! tests hold `wrangler.toml` (`[vars]`) and the README's table to it. [`Config::from_env`] reads
//! the variables in the order of that list and reports the first problem as a [`ConfigError`],
//! so one bad deployment always yields the same message.
//!
//! Common rules:
//!
//! - Values are typed ([`VarValue`]): Workers vars can be strings, numbers, booleans or JSON.
//!   Strings are accepted everywhere; a number, a boolean or a JSON array only where the
//!   variable means one (see [`value`]), and any other type is an error, never the default.
//! - Values are trimmed. A variable that is unset or blank (or an empty array) takes its
//!   default; the required ones (`JWT_AUTHORITY`, `JWT_AUDIENCE`, `ORIGIN_URL`) have none and
//!   are an error then.
//! - Numbers are decimal digits only (no sign, no unit), or whole JSON numbers, within a range
//!   per variable.
//! - Booleans are `true`/`false` (any case) or `1`/`0`.
//! - Lists are comma-separated (`ROUTE_SCOPES`: `;`-separated) or JSON arrays of strings, one
//!   entry per element; entries are trimmed, empty ones dropped, duplicates removed.
//! - `STATUS_TOKEN` is a secret: neither a [`ConfigError`] nor `Config`'s `Debug` output ever
//!   contains its value.

use std::fmt;

use url::{Host, Url};

use crate::gateway::pipeline::GatewayPolicy;
use crate::jws::alg::Algorithm;
use crate::jws::claims::ClaimsPolicy;
use crate::jws::error::truncated;
use crate::jws::verify::VerificationPolicy;
pub use crate::keys::fetch::JwksLocation;
use crate::keys::CachePolicy;
use crate::log::Level;

pub mod value;

use value::{ListShape, Var};
pub use value::{ValueType, VarValue};

/// Every variable as `(name, default, meaning)`, in the order [`Config::from_env`] checks them.
/// An empty default means "unset": no value, or an error for the required variables.
const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "JWT_AUTHORITY",
        "",
        "Required. The issuer: an absolute https URL (http only for localhost and loopback \
         addresses), without query or fragment. A token's `iss` must equal it exactly; OIDC \
         discovery is read from `{JWT_AUTHORITY}/.well-known/openid-configuration` when \
         `JWT_JWKS_URL` is empty.",
    ),
    (
        "JWT_AUDIENCE",
        "",
        "Required. Accepted audiences, comma-separated; a token's `aud` must contain one of them.",
    ),
    (
        "JWT_JWKS_URL",
        "",
        "JWKS endpoint (https, or http for localhost and loopback addresses); empty takes \
         `jwks_uri` from OIDC discovery.",
    ),
    (
        "JWT_ALGORITHMS",
        "RS256",
        "Allowed signing algorithms, comma-separated and case-sensitive: RS256 RS384 RS512 PS256 \
         PS384 PS512 ES256 ES384 EdDSA. `none` and HMAC (HS256...) are never accepted.",
    ),
    (
        "JWT_CLOCK_SKEW_SECONDS",
        "60",
        "Leeway for `exp`, `nbf` and `iat`, in seconds (0 to 600).",
    ),
    (
        "JWT_MAX_TOKEN_BYTES",
        "8192",
        "Largest accepted token, in bytes (512 to 65536); longer tokens are rejected before any \
         parsing.",
    ),
    (
        "JWT_REQUIRED_CLAIMS",
        "",
        "Claims that must be present besides `exp`, `iss` and `aud`, comma-separated (for \
         example `sub,iat`); empty for none.",
    ),
    (
        "JWT_TYP",
        "",
        "Accepted header `typ` values, comma-separated (for example `at+jwt,JWT`); empty skips \
         the check.",
    ),
    (
        "JWT_MAX_TOKEN_AGE_SECONDS",
        "",
        "Maximum token age from `iat`, in seconds (1 to 31536000); empty for no limit.",
    ),
    (
        "JWKS_CACHE_TYPE",
        "kv",
        "`kv` (isolate memory, then the `JWKS_CACHE` KV namespace) or `in_memory` (isolate \
         memory only).",
    ),
    (
        "JWKS_CACHE_TTL_SECONDS",
        "600",
        "How long a fetched key set is fresh when the response carries no `max-age`, in seconds \
         (1 to 604800).",
    ),
    (
        "JWKS_MIN_TTL_SECONDS",
        "60",
        "Lower clamp for a response's `max-age`, in seconds (1 to `JWKS_CACHE_TTL_SECONDS`).",
    ),
    (
        "JWKS_MAX_TTL_SECONDS",
        "86400",
        "Upper clamp for a response's `max-age`, in seconds (`JWKS_CACHE_TTL_SECONDS` to \
         604800).",
    ),
    (
        "JWKS_MAX_STALE_SECONDS",
        "86400",
        "How long the last good key set keeps serving when refreshes fail, in seconds (0 to \
         2592000).",
    ),
    (
        "JWKS_UNKNOWN_KID_COOLDOWN_SECONDS",
        "30",
        "Minimum time between refetches caused by unknown `kid`s, in seconds (1 to 3600).",
    ),
    (
        "JWKS_REFRESH_INTERVAL_MINUTES",
        "5",
        "Interval of the scheduled refresh, in minutes (1 to 1440); keep it in step with \
         `[triggers] crons` in `wrangler.toml`.",
    ),
    (
        "JWKS_ENABLE_BACKGROUND_REFRESH",
        "true",
        "Whether the cron trigger refreshes the key set into KV and memory (`true`/`false` or \
         `1`/`0`).",
    ),
    (
        "JWKS_FETCH_TIMEOUT_MS",
        "5000",
        "Timeout of one JWKS or discovery fetch, in milliseconds (100 to 60000).",
    ),
    (
        "ORIGIN_URL",
        "",
        "Required. Base URL of the origin (absolute http or https URL, no query or fragment); \
         the path and query of each request are appended.",
    ),
    (
        "ORIGIN_TIMEOUT_MS",
        "30000",
        "Timeout for the origin's response headers, in milliseconds (100 to 300000); then 504.",
    ),
    (
        "PUBLIC_PATHS",
        "",
        "Path prefixes forwarded without a token, comma-separated, each starting with `/`; \
         segment-aware (`/health` covers `/health/live`, not `/healthz`) and exact: the request \
         path must match with the same case and as sent (no escapes, no repeated slashes).",
    ),
    (
        "ROUTE_SCOPES",
        "",
        "Scope rules separated by `;`, each `[METHOD] /path=scope ...` with space-separated \
         scopes (for example `POST /orders=orders:write; GET /orders=orders:read`); no method \
         means any method, `HEAD` follows the `GET` rules, and paths match the canonical request \
         path case-insensitively. `/=scope` requires a scope on every protected route.",
    ),
    (
        "CLAIM_HEADERS",
        "",
        "Extra identity headers for the origin: `claim.path=Header-Name` pairs, comma-separated. \
         Authorization, Cookie, Host, Content-Length, hop-by-hop, client-address, \
         method-override, path-rewrite and `CF-*` headers are refused.",
    ),
    (
        "FORWARD_PREFLIGHT",
        "true",
        "Forward CORS preflight requests (OPTIONS with Access-Control-Request-Method) without a \
         token (`true`/`false` or `1`/`0`).",
    ),
    (
        "AUTH_REALM",
        "edge-jwt",
        "`realm` in `WWW-Authenticate` answers: printable ASCII without quotes or backslashes.",
    ),
    (
        "LOG_LEVEL",
        "info",
        "Log level: `error`, `warn`, `info` or `debug`.",
    ),
    (
        "STATUS_TOKEN",
        "",
        "Secret, set with `npx wrangler secret put STATUS_TOKEN` and never in `wrangler.toml`: \
         the bearer token that protects the status endpoint, at least 16 characters; unset for \
         none.",
    ),
];

/// Every variable the gateway reads, as `(name, default, meaning)`, in the order
/// [`Config::from_env`] checks them. An empty default means "unset". This is the one source of
/// truth: `wrangler.toml` and the README's table are tested against it.
pub fn variables() -> &'static [(&'static str, &'static str, &'static str)] {
    VARIABLES
}

/// Whether `name` is a secret (set with `wrangler secret put`, never echoed).
pub fn is_secret(name: &str) -> bool {
    name == STATUS_TOKEN
}

const STATUS_TOKEN: &str = "STATUS_TOKEN";

/// The smallest accepted `STATUS_TOKEN`, in characters.
pub const MIN_STATUS_TOKEN_CHARS: usize = 16;

/// The validated configuration of the gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// What tokens must satisfy (`JWT_*`).
    pub verification: VerificationPolicy,
    /// Where the key set comes from (`JWT_JWKS_URL`, `JWT_AUTHORITY`, `JWKS_FETCH_TIMEOUT_MS`).
    pub jwks: JwksSettings,
    /// Key-cache freshness, staleness and cooldown (`JWKS_*_SECONDS`).
    pub cache: CachePolicy,
    /// Which cache tiers to use (`JWKS_CACHE_TYPE`).
    pub cache_kind: CacheKind,
    /// The scheduled refresh (`JWKS_REFRESH_INTERVAL_MINUTES`, `JWKS_ENABLE_BACKGROUND_REFRESH`).
    pub refresh: RefreshSettings,
    /// The protected API (`ORIGIN_URL`, `ORIGIN_TIMEOUT_MS`).
    pub origin: OriginSettings,
    /// What the request pipeline lets through (`PUBLIC_PATHS`, `ROUTE_SCOPES`, `CLAIM_HEADERS`,
    /// `FORWARD_PREFLIGHT`, `STATUS_TOKEN`); its `Debug` output never shows the secret.
    pub gateway: GatewayPolicy,
    /// `realm` of `WWW-Authenticate` answers (`AUTH_REALM`); safe inside a quoted string.
    pub realm: String,
    /// The least severe level that is logged (`LOG_LEVEL`).
    pub log_level: Level,
}

/// Where the JWKS is fetched from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwksSettings {
    /// The JWKS URL, or the discovery document that names it.
    pub url: JwksLocation,
    /// Timeout of one JWKS or discovery fetch, in milliseconds (`JWKS_FETCH_TIMEOUT_MS`).
    pub fetch_timeout_ms: u64,
}

/// The cache tiers in front of the JWKS source (`JWKS_CACHE_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheKind {
    /// Isolate memory, then the shared `JWKS_CACHE` KV namespace (`kv`, the default).
    Kv,
    /// Isolate memory only (`in_memory`).
    InMemory,
}

impl CacheKind {
    /// The `JWKS_CACHE_TYPE` value.
    pub const fn name(self) -> &'static str {
        match self {
            CacheKind::Kv => "kv",
            CacheKind::InMemory => "in_memory",
        }
    }
}

/// The scheduled key-set refresh.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RefreshSettings {
    /// Interval of the cron trigger, in minutes (`JWKS_REFRESH_INTERVAL_MINUTES`).
    pub interval_minutes: u64,
    /// Whether the cron trigger refreshes at all (`JWKS_ENABLE_BACKGROUND_REFRESH`).
    pub enabled: bool,
}

/// The protected API behind the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OriginSettings {
    /// Base URL (`ORIGIN_URL`), normalised and without a trailing `/`, so that a request path
    /// (which starts with `/`) and query can be appended as they are.
    pub url: String,
    /// Timeout for the origin's response headers, in milliseconds (`ORIGIN_TIMEOUT_MS`).
    pub timeout_ms: u64,
}

/// One `ROUTE_SCOPES` rule: requests for `path` (with `method`, if given) need every scope.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteScope {
    /// The HTTP method, uppercase; `None` means any method. Never `HEAD`, which follows `GET`.
    pub method: Option<String>,
    /// The path in [canonical form](crate::gateway::path) and lowercase, starting with `/` and without a
    /// trailing `/` (except `/` itself): rules match case-insensitively.
    pub path: String,
    /// The scopes a token must carry, in the order given, at least one.
    pub scopes: Vec<String>,
}

/// One `CLAIM_HEADERS` entry: the claim at `claim` is sent to the origin in `header`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHeader {
    /// The claim's path: member names from the top of the payload, none empty
    /// (`realm_access.roles` is `["realm_access", "roles"]`).
    pub claim: Vec<String>,
    /// The header name as configured (a valid HTTP field name; compare case-insensitively).
    pub header: String,
}

/// A variable with a bad value. `Display` reads
/// `JWT_AUDIENCE: expected a comma-separated list of at least one audience, found ""`, or, for
/// a value that is not a string, `ROUTE_SCOPES: expected ..., found a number (1) at index 0 of
/// the array`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The variable.
    pub variable: &'static str,
    /// What a valid value looks like.
    pub expected: String,
    /// The offending value or entry, shortened; `""` when unset, `None` for secrets, whose value
    /// is never shown. A value that is not a string is shown as JSON (a number as JavaScript
    /// writes it, `NaN` included), a binding of another kind by its description.
    pub found: Option<String>,
    /// The offending value's type when it is not a string; `None` for a string.
    pub found_type: Option<ValueType>,
    /// The offending element's index when the variable is a JSON array and one element is
    /// wrong by itself (not a string, or a string with the list's separator).
    pub element: Option<usize>,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: expected {}", self.variable, self.expected)?;
        match (&self.found_type, &self.found) {
            (None, Some(found)) => write!(f, ", found {found:?}")?,
            (Some(ValueType::Null), _) => write!(f, ", found null")?,
            (Some(kind), Some(found)) => write!(f, ", found {kind} ({found})")?,
            (Some(kind), None) => write!(f, ", found {kind} (the value is not shown)")?,
            (None, None) => {}
        }
        if let Some(index) = self.element {
            write!(f, " at index {index} of the array")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("verification", &self.verification)
            .field("jwks", &self.jwks)
            .field("cache", &self.cache)
            .field("cache_kind", &self.cache_kind)
            .field("refresh", &self.refresh)
            .field("origin", &self.origin)
            .field("gateway", &self.gateway)
            .field("realm", &self.realm)
            .field("log_level", &self.log_level)
            .finish()
    }
}

impl Config {
    /// Reads and validates every variable through `get` (the Worker's `env`, or a map in tests),
    /// in the order of [`variables()`]; the first invalid one is the error. `get` returns a
    /// variable's typed value ([`VarValue`], or a `String`), `None` when it is unset.
    pub fn from_env<V: Into<VarValue>>(
        get: impl Fn(&str) -> Option<V>,
    ) -> Result<Config, ConfigError> {
        let var = |name: &'static str| Var::new(name, get(name).map(Into::into));
        let int = |name: &'static str, min: u64, max: u64, unit: &str| {
            var(name).number((min, max), unit, "")
        };

        // Token verification.
        let authority = var("JWT_AUTHORITY").text()?;
        check_url("JWT_AUTHORITY", &authority, UrlRule::Issuer)?;
        let audience = var("JWT_AUDIENCE").entries(ListShape::Comma)?;
        let audiences = list(&audience.items);
        if audiences.is_empty() {
            return Err(audience.error("a comma-separated list of at least one audience"));
        }
        let jwks_url = var("JWT_JWKS_URL").text()?;
        let location = if jwks_url.is_empty() {
            // OIDC discovery at `{JWT_AUTHORITY}/.well-known/openid-configuration` (the authority
            // without its trailing `/`); its `issuer` must equal the authority exactly.
            JwksLocation::Discovery {
                discovery_url: format!(
                    "{}/.well-known/openid-configuration",
                    authority.trim_end_matches('/')
                ),
                issuer: authority.clone(),
            }
        } else {
            check_url("JWT_JWKS_URL", &jwks_url, UrlRule::Jwks)?;
            JwksLocation::Direct(jwks_url)
        };
        let algorithms = algorithms(&var("JWT_ALGORITHMS").entries(ListShape::Comma)?)?;
        let clock_skew = int("JWT_CLOCK_SKEW_SECONDS", 0, 600, "seconds")?;
        let max_token_bytes = int("JWT_MAX_TOKEN_BYTES", 512, 65_536, "bytes")?;
        let required = list(&var("JWT_REQUIRED_CLAIMS").entries(ListShape::Comma)?.items);
        let types = list(&var("JWT_TYP").entries(ListShape::Comma)?.items);
        let max_age =
            var("JWT_MAX_TOKEN_AGE_SECONDS").optional_number((1, 31_536_000), "seconds")?;

        // Key cache.
        let cache_type = var("JWKS_CACHE_TYPE").text()?;
        let cache_kind = match cache_type.to_ascii_lowercase().as_str() {
            "kv" => CacheKind::Kv,
            "in_memory" => CacheKind::InMemory,
            _ => {
                return Err(error(
                    "JWKS_CACHE_TYPE",
                    "\"kv\" or \"in_memory\"",
                    &cache_type,
                ))
            }
        };
        const MAX_TTL: u64 = 604_800;
        let ttl = int("JWKS_CACHE_TTL_SECONDS", 1, MAX_TTL, "seconds")?;
        let min_ttl = var("JWKS_MIN_TTL_SECONDS").number(
            (1, ttl),
            "seconds",
            " (at most JWKS_CACHE_TTL_SECONDS)",
        )?;
        let max_ttl = var("JWKS_MAX_TTL_SECONDS").number(
            (ttl, MAX_TTL),
            "seconds",
            " (at least JWKS_CACHE_TTL_SECONDS)",
        )?;
        let max_stale = int("JWKS_MAX_STALE_SECONDS", 0, 2_592_000, "seconds")?;
        let unknown_kid_cooldown = int("JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", 1, 3_600, "seconds")?;
        let interval_minutes = int("JWKS_REFRESH_INTERVAL_MINUTES", 1, 1_440, "minutes")?;
        let refresh_enabled = var("JWKS_ENABLE_BACKGROUND_REFRESH").boolean()?;
        let fetch_timeout_ms = int("JWKS_FETCH_TIMEOUT_MS", 100, 60_000, "milliseconds")?;

        // Gateway.
        let origin_url = var("ORIGIN_URL").text()?;
        let origin_url = check_url("ORIGIN_URL", &origin_url, UrlRule::Origin)?;
        let origin_url = origin_url.as_str().trim_end_matches('/').to_owned();
        let origin_timeout_ms = int("ORIGIN_TIMEOUT_MS", 100, 300_000, "milliseconds")?;
        let public_paths = public_paths(&var("PUBLIC_PATHS").entries(ListShape::Comma)?.items)?;
        let route_scopes = route_scopes(&var("ROUTE_SCOPES").entries(ListShape::Semicolon)?.items)?;
        let claim_headers = claim_headers(&var("CLAIM_HEADERS").entries(ListShape::Comma)?.items)?;
        let forward_preflight = var("FORWARD_PREFLIGHT").boolean()?;
        let realm = var("AUTH_REALM").text()?;
        if !realm
            .chars()
            .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
        {
            return Err(error(
                "AUTH_REALM",
                "printable ASCII without '\"' or '\\'",
                &realm,
            ));
        }
        let log_level = var("LOG_LEVEL").text()?;
        let log_level = Level::parse(&log_level).ok_or_else(|| {
            error(
                "LOG_LEVEL",
                "one of \"error\", \"warn\", \"info\" or \"debug\"",
                &log_level,
            )
        })?;
        let status_token = match var(STATUS_TOKEN).text()? {
            token if token.is_empty() => None,
            token if token.chars().count() < MIN_STATUS_TOKEN_CHARS => {
                return Err(ConfigError {
                    variable: STATUS_TOKEN,
                    expected: format!(
                        "a secret of at least {MIN_STATUS_TOKEN_CHARS} characters, found one of {} \
                         (the value is not shown)",
                        token.chars().count()
                    ),
                    found: None,
                    found_type: None,
                    element: None,
                })
            }
            token => Some(token),
        };

        Ok(Config {
            verification: VerificationPolicy {
                algorithms,
                max_token_bytes: max_token_bytes as usize,
                types,
                claims: ClaimsPolicy {
                    issuer: authority,
                    audiences,
                    clock_skew,
                    required,
                    max_age,
                },
            },
            jwks: JwksSettings {
                url: location,
                fetch_timeout_ms,
            },
            cache: CachePolicy {
                ttl,
                min_ttl,
                max_ttl,
                max_stale,
                unknown_kid_cooldown,
            },
            cache_kind,
            refresh: RefreshSettings {
                interval_minutes,
                enabled: refresh_enabled,
            },
            origin: OriginSettings {
                url: origin_url,
                timeout_ms: origin_timeout_ms,
            },
            gateway: GatewayPolicy {
                public_paths,
                route_scopes,
                claim_headers,
                forward_preflight,
                status_token,
            },
            realm,
            log_level,
        })
    }
}

/// The default of `name` in [`VARIABLES`]; every name read is listed there (a test checks it).
fn default_of(name: &str) -> &'static str {
    VARIABLES
        .iter()
        .find(|(variable, _, _)| *variable == name)
        .map_or("", |(_, default, _)| default)
}

fn error(variable: &'static str, expected: impl Into<String>, found: &str) -> ConfigError {
    ConfigError {
        variable,
        expected: expected.into(),
        found: Some(truncated(found)),
        found_type: None,
        element: None,
    }
}

/// The entries (already trimmed and non-empty) without duplicates, in order.
fn list(items: &[String]) -> Vec<String> {
    let mut entries: Vec<String> = Vec::new();
    for entry in items {
        if !entries.contains(entry) {
            entries.push(entry.clone());
        }
    }
    entries
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum UrlRule {
    /// https (http for loopback hosts), no query.
    Issuer,
    /// https (http for loopback hosts), query allowed.
    Jwks,
    /// http or https, no query.
    Origin,
}

/// Checks an absolute URL: scheme, a host, no credentials, no fragment, and a query only where
/// `rule` allows one. The text must already be in the plain form a URL parser would keep, so
/// that the string used elsewhere (the issuer is compared byte for byte) is what was checked.
fn check_url(name: &'static str, text: &str, rule: UrlRule) -> Result<Url, ConfigError> {
    let expected = match rule {
        UrlRule::Issuer => {
            "an absolute https URL (http only for localhost and loopback addresses) without \
             query or fragment"
        }
        UrlRule::Jwks => {
            "an absolute https URL (http only for localhost and loopback addresses) without \
             fragment"
        }
        UrlRule::Origin => "an absolute http or https URL without query or fragment",
    };
    let bad = || error(name, expected, text);
    let rest = text
        .strip_prefix("https://")
        .or_else(|| text.strip_prefix("http://"));
    if rest.is_none_or(|rest| rest.starts_with('/'))
        || text
            .chars()
            .any(|c| c.is_whitespace() || c.is_control() || c == '\\')
    {
        return Err(bad());
    }
    let url = Url::parse(text).map_err(|_| bad())?;
    let scheme_ok = match (url.scheme(), rule) {
        ("https", _) | ("http", UrlRule::Origin) => true,
        ("http", _) => is_loopback(&url),
        _ => false,
    };
    let query_ok = rule == UrlRule::Jwks || url.query().is_none();
    if !scheme_ok
        || !query_ok
        || url.host().is_none()
        || url.fragment().is_some()
        || !url.username().is_empty()
        || url.password().is_some()
    {
        return Err(bad());
    }
    Ok(url)
}

/// Whether the URL's host is `localhost` or a loopback address (127.0.0.0/8, `::1`).
fn is_loopback(url: &Url) -> bool {
    match url.host() {
        Some(Host::Domain(domain)) => domain.eq_ignore_ascii_case("localhost"),
        Some(Host::Ipv4(ip)) => ip.is_loopback(),
        Some(Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

fn algorithms(entries: &value::Entries) -> Result<Vec<Algorithm>, ConfigError> {
    const NAME: &str = "JWT_ALGORITHMS";
    let known = Algorithm::ALL.map(Algorithm::name).join(", ");
    let mut algorithms = Vec::new();
    for name in list(&entries.items) {
        let Some(alg) = Algorithm::from_name(&name) else {
            let expected = if name.eq_ignore_ascii_case("none") {
                "signed tokens only: \"none\" (unsigned tokens) is never accepted".to_owned()
            } else if name.get(..2).is_some_and(|p| p.eq_ignore_ascii_case("HS")) {
                format!(
                    "an asymmetric algorithm ({known}): HMAC algorithms such as HS256 need a \
                     shared secret and are not supported"
                )
            } else if let Some(alg) = Algorithm::ALL
                .into_iter()
                .find(|alg| alg.name().eq_ignore_ascii_case(&name))
            {
                format!("{:?} (algorithm names are case-sensitive)", alg.name())
            } else {
                format!("a comma-separated list of algorithms among {known}")
            };
            return Err(error(NAME, expected, &name));
        };
        if !algorithms.contains(&alg) {
            algorithms.push(alg);
        }
    }
    if algorithms.is_empty() {
        return Err(entries.error(format!(
            "a comma-separated list of at least one algorithm among {known}"
        )));
    }
    Ok(algorithms)
}

/// A configured path in [canonical form](crate::gateway::path) (unreserved escapes decoded, repeated
/// slashes merged), without trailing `/` (except `/` itself); `None` when the path has no
/// canonical form (`;`, dot segments, escaped delimiters...) or is not plain visible ASCII.
fn normalize_path(path: &str) -> Option<String> {
    let canonical = crate::gateway::path::canonicalize(path).ok()?;
    match canonical.as_sent().trim_end_matches('/') {
        "" => Some("/".to_owned()),
        trimmed => Some(trimmed.to_owned()),
    }
}

const PATH_RULE: &str = "starting with '/', in visible ASCII (percent-encode anything else), \
                         without ';', '?', '#', '.'/'..' segments or escaped '.', '/', '\\' or '%'";

fn public_paths(entries: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut paths: Vec<String> = Vec::new();
    for entry in entries {
        let path = normalize_path(entry).ok_or_else(|| {
            error(
                "PUBLIC_PATHS",
                format!("a comma-separated list of paths {PATH_RULE}"),
                entry,
            )
        })?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

/// RFC 9110 `tchar`: what a method or a header name is made of.
fn is_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
}

/// RFC 6749 `scope-token`: visible ASCII except `"` and `\`.
fn is_scope_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

fn route_scopes(entries: &[String]) -> Result<Vec<RouteScope>, ConfigError> {
    const NAME: &str = "ROUTE_SCOPES";
    let mut rules: Vec<RouteScope> = Vec::new();
    for rule in entries {
        let bad = |what: &str| {
            error(
                NAME,
                format!("rules separated by ';', each \"[METHOD] /path=scope ...\": {what}"),
                rule,
            )
        };
        let (target, scopes) = rule
            .split_once('=')
            .ok_or_else(|| bad("'=' between the path and the scopes"))?;
        let words: Vec<&str> = target.split_whitespace().collect();
        let (method, path) = match words[..] {
            [path] => (None, path),
            [method, path] => (Some(method), path),
            _ => return Err(bad("an optional method and a path before '='")),
        };
        let method = match method {
            Some(method) if method.eq_ignore_ascii_case("HEAD") => {
                return Err(bad("no HEAD rule: HEAD requests follow the GET rules"))
            }
            Some(method) if is_token(method) => Some(method.to_ascii_uppercase()),
            Some(_) => return Err(bad("a method made of HTTP token characters")),
            None => None,
        };
        // Rules match case-insensitively: stored in lowercase, so `/Orders` and `/orders` are
        // the same rule.
        let path = normalize_path(path)
            .ok_or_else(|| bad(&format!("a path {PATH_RULE}")))?
            .to_ascii_lowercase();
        let mut scope_list: Vec<String> = Vec::new();
        for scope in scopes.split_whitespace() {
            if !is_scope_token(scope) {
                return Err(bad("scopes of visible ASCII without '\"' or '\\'"));
            }
            if !scope_list.iter().any(|s| s == scope) {
                scope_list.push(scope.to_owned());
            }
        }
        if scope_list.is_empty() {
            return Err(bad("at least one scope after '='"));
        }
        if rules
            .iter()
            .any(|other| other.method == method && other.path == path)
        {
            return Err(bad("each method and path in one rule only"));
        }
        rules.push(RouteScope {
            method,
            path,
            scopes: scope_list,
        });
    }
    Ok(rules)
}

/// Headers a claim may not be sent in, besides those the gateway
/// [strips](crate::gateway::client_headers) for another reason than identity (hop-by-hop, `Host`,
/// client address, method override, path rewrite) and `CF-*`: credentials and framing.
const RESERVED_HEADERS: &[&str] = &["authorization", "content-length", "cookie"];

/// Whether a claim may be sent to the origin in header `name`.
fn is_claim_header_allowed(name: &str) -> bool {
    use crate::gateway::client_headers::{normalized, stripped, Stripped};
    let name = normalized(name);
    !RESERVED_HEADERS.contains(&name.as_str())
        && !name.starts_with("cf-")
        && stripped(&name, &[]).is_none_or(|why| why == Stripped::Identity)
}

fn claim_headers(entries: &[String]) -> Result<Vec<ClaimHeader>, ConfigError> {
    const NAME: &str = "CLAIM_HEADERS";
    let mut headers: Vec<ClaimHeader> = Vec::new();
    for entry in entries {
        let bad = |what: &str| {
            error(
                NAME,
                format!("comma-separated \"claim.path=Header-Name\" pairs: {what}"),
                entry,
            )
        };
        let (claim, header) = entry
            .split_once('=')
            .ok_or_else(|| bad("'=' between the claim and the header"))?;
        let (claim, header) = (claim.trim(), header.trim());
        let segments: Vec<String> = claim.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(bad("a claim path of non-empty names separated by '.'"));
        }
        if !is_token(header) {
            return Err(bad("a header name made of HTTP token characters"));
        }
        if !is_claim_header_allowed(header) {
            return Err(bad(
                "a header the gateway does not own (not Authorization, Cookie, Host, \
                 Content-Length, a hop-by-hop, client-address, method-override or path-rewrite \
                 header, or CF-*)",
            ));
        }
        let name = crate::gateway::client_headers::normalized(header);
        if headers
            .iter()
            .any(|other| crate::gateway::client_headers::normalized(&other.header) == name)
        {
            return Err(bad("each header name once"));
        }
        headers.push(ClaimHeader {
            claim: segments,
            header: header.to_owned(),
        });
    }
    Ok(headers)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::{BTreeMap, BTreeSet};

    use crate::jws::claims::DEFAULT_CLOCK_SKEW_SECONDS;
    use crate::jws::token::DEFAULT_MAX_TOKEN_BYTES;

    const AUTHORITY: &str = "https://login.example.com/realms/orders";
    const ORIGIN: &str = "https://orders.internal.example.com";

    fn minimal() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("JWT_AUTHORITY", AUTHORITY.to_owned()),
            ("JWT_AUDIENCE", "orders-api".to_owned()),
            ("ORIGIN_URL", ORIGIN.to_owned()),
        ])
    }

    fn load(env: &BTreeMap<&'static str, String>) -> Result<Config, ConfigError> {
        Config::from_env(|name| env.get(name).cloned())
    }

    /// The minimal environment plus `name = value`.
    fn with(name: &'static str, value: &str) -> Result<Config, ConfigError> {
        let mut env = minimal();
        env.insert(name, value.to_owned());
        load(&env)
    }

    fn ok(name: &'static str, value: &str) -> Config {
        with(name, value).unwrap_or_else(|err| panic!("{name}={value:?} was refused: {err}"))
    }

    /// The error for `name = value`, which must be about `name`.
    fn err(name: &'static str, value: &str) -> ConfigError {
        match with(name, value) {
            Ok(_) => panic!("{name}={value:?} was accepted"),
            Err(err) => {
                assert_eq!(err.variable, name, "{err}");
                err
            }
        }
    }

    #[test]
    fn the_minimal_environment_takes_every_default() {
        let config = load(&minimal()).unwrap();
        assert_eq!(
            config.verification,
            VerificationPolicy {
                algorithms: vec![Algorithm::Rs256],
                max_token_bytes: 8192,
                types: vec![],
                claims: ClaimsPolicy {
                    issuer: AUTHORITY.to_owned(),
                    audiences: vec!["orders-api".to_owned()],
                    clock_skew: 60,
                    required: vec![],
                    max_age: None,
                },
            }
        );
        assert_eq!(
            config.jwks,
            JwksSettings {
                url: JwksLocation::Discovery {
                    discovery_url: format!("{AUTHORITY}/.well-known/openid-configuration"),
                    issuer: AUTHORITY.to_owned(),
                },
                fetch_timeout_ms: 5000,
            }
        );
        assert_eq!(
            config.cache,
            CachePolicy {
                ttl: 600,
                min_ttl: 60,
                max_ttl: 86_400,
                max_stale: 86_400,
                unknown_kid_cooldown: 30,
            }
        );
        assert_eq!(config.cache_kind, CacheKind::Kv);
        assert_eq!(
            config.refresh,
            RefreshSettings {
                interval_minutes: 5,
                enabled: true,
            }
        );
        assert_eq!(
            config.origin,
            OriginSettings {
                url: ORIGIN.to_owned(),
                timeout_ms: 30_000,
            }
        );
        assert!(config.gateway.public_paths.is_empty());
        assert!(config.gateway.route_scopes.is_empty());
        assert!(config.gateway.claim_headers.is_empty());
        assert!(config.gateway.forward_preflight);
        assert_eq!(config.realm, "edge-jwt");
        assert_eq!(config.log_level, Level::Info);
        assert_eq!(config.gateway.status_token, None);
    }

    #[test]
    fn the_defaults_agree_with_the_typed_constants() {
        let config = load(&minimal()).unwrap();
        assert_eq!(
            config.verification.claims.clock_skew,
            DEFAULT_CLOCK_SKEW_SECONDS
        );
        assert_eq!(config.verification.max_token_bytes, DEFAULT_MAX_TOKEN_BYTES);
        assert_eq!(config.cache, CachePolicy::default());
    }

    #[test]
    fn blank_values_take_the_default_and_values_are_trimmed() {
        let mut env = minimal();
        for &(name, _, _) in variables() {
            env.entry(name).or_insert_with(|| " \t ".to_owned());
        }
        env.insert("JWT_AUDIENCE", "  orders-api  ".to_owned());
        env.insert("JWT_AUTHORITY", format!(" {AUTHORITY}\n"));
        assert_eq!(load(&env).unwrap(), load(&minimal()).unwrap());
        assert_eq!(
            ok("JWT_CLOCK_SKEW_SECONDS", " 30 ")
                .verification
                .claims
                .clock_skew,
            30
        );
    }

    #[test]
    fn every_variable_is_read_once_in_the_documented_order() {
        let asked = RefCell::new(Vec::new());
        let env = minimal();
        Config::from_env(|name| {
            asked.borrow_mut().push(name.to_owned());
            env.get(name).cloned()
        })
        .unwrap();
        let expected: Vec<&str> = variables().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(asked.into_inner(), expected);
    }

    #[test]
    fn variables_are_unique_documented_and_only_status_token_is_secret() {
        let names: BTreeSet<&str> = variables().iter().map(|(name, _, _)| *name).collect();
        assert_eq!(names.len(), variables().len());
        for (name, _, meaning) in variables() {
            assert!(!meaning.is_empty(), "{name} has no meaning");
            assert!(
                !meaning.contains('|'),
                "{name}: '|' would break the README table"
            );
        }
        let secrets: Vec<&str> = names.iter().copied().filter(|n| is_secret(n)).collect();
        assert_eq!(secrets, ["STATUS_TOKEN"]);
    }

    /// `NAME = "value"` lines of the `[vars]` table.
    fn wrangler_vars() -> BTreeMap<String, String> {
        let mut vars = BTreeMap::new();
        let mut inside = false;
        for line in include_str!("../../wrangler.toml").lines().map(str::trim) {
            if line.starts_with('[') {
                inside = line == "[vars]";
                continue;
            }
            if !inside || line.is_empty() || line.starts_with('#') {
                continue;
            }
            let (name, value) = line.split_once('=').expect("NAME = \"value\" in [vars]");
            let value = value.trim();
            assert!(
                value.len() >= 2 && value.starts_with('"') && value.ends_with('"'),
                "{line}: [vars] values must be plain strings"
            );
            vars.insert(name.trim().to_owned(), value[1..value.len() - 1].to_owned());
        }
        vars
    }

    #[test]
    fn wrangler_toml_lists_every_variable_with_its_default() {
        let vars = wrangler_vars();
        let listed: BTreeSet<&str> = vars.keys().map(String::as_str).collect();
        let expected: BTreeSet<&str> = variables()
            .iter()
            .map(|(name, _, _)| *name)
            .filter(|name| !is_secret(name))
            .collect();
        assert_eq!(listed, expected);
        for (name, default, _) in variables().iter().filter(|(name, _, _)| !is_secret(name)) {
            assert_eq!(
                vars.get(*name),
                Some(&default.to_string()),
                "default of {name}"
            );
        }
    }

    #[test]
    fn the_readme_table_matches_variables() {
        let table: Vec<String> = variables()
            .iter()
            .map(|(name, default, meaning)| {
                let default = if default.is_empty() {
                    "—".to_owned()
                } else {
                    format!("`{default}`")
                };
                format!("| `{name}` | {default} | {meaning} |")
            })
            .collect();
        let readme = include_str!("../../README.md");
        let missing: Vec<&String> = table
            .iter()
            .filter(|row| !readme.lines().any(|line| line == row.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "README.md's configuration table is out of date; its rows should be:\n\
             | variable | default | meaning |\n|---|---|---|\n{}",
            table.join("\n")
        );
    }

    #[test]
    fn missing_required_variables_are_errors() {
        for name in ["JWT_AUTHORITY", "JWT_AUDIENCE", "ORIGIN_URL"] {
            let mut env = minimal();
            env.remove(name);
            let missing = load(&env).unwrap_err();
            assert_eq!(missing.variable, name);
            assert_eq!(missing.found.as_deref(), Some(""));
            assert_eq!(err(name, "   "), missing, "blank is missing");
        }
    }

    #[test]
    fn errors_display_variable_expectation_and_value() {
        assert_eq!(
            err("JWT_AUDIENCE", "").to_string(),
            "JWT_AUDIENCE: expected a comma-separated list of at least one audience, found \"\""
        );
        assert_eq!(
            err("JWT_CLOCK_SKEW_SECONDS", "61s").to_string(),
            "JWT_CLOCK_SKEW_SECONDS: expected a whole number of seconds from 0 to 600, found \
             \"61s\""
        );
        let error: Box<dyn std::error::Error> = Box::new(err("LOG_LEVEL", "verbose"));
        assert!(error.to_string().starts_with("LOG_LEVEL: expected"));
    }

    #[test]
    fn long_bad_values_are_shortened_in_errors() {
        let value = format!("https://{}", "a".repeat(500)) + " x";
        let found = err("JWT_AUTHORITY", &value).found.unwrap();
        assert!(found.chars().count() <= 65, "{found}");
        assert!(found.ends_with('…'));
    }

    #[test]
    fn audiences_required_claims_and_types_are_lists() {
        let config = ok("JWT_AUDIENCE", " orders-api , ,billing,orders-api,");
        assert_eq!(
            config.verification.claims.audiences,
            ["orders-api", "billing"]
        );
        assert_eq!(err("JWT_AUDIENCE", " , ,").found.as_deref(), Some(", ,"));
        let config = ok("JWT_REQUIRED_CLAIMS", "sub, iat,,scope");
        assert_eq!(config.verification.claims.required, ["sub", "iat", "scope"]);
        let config = ok("JWT_TYP", "at+jwt, JWT");
        assert_eq!(config.verification.types, ["at+jwt", "JWT"]);
    }

    #[test]
    fn the_authority_is_kept_exactly_as_the_issuer() {
        for authority in [
            "https://login.example.com/",
            "https://login.example.com",
            "https://Login.Example.com:8443/tenant/v2.0",
            "http://localhost:8788",
            "http://127.0.0.1:9000/realms/dev",
            "http://127.8.9.10/",
            "http://[::1]:8080",
        ] {
            let config = ok("JWT_AUTHORITY", authority);
            assert_eq!(config.verification.claims.issuer, authority);
        }
    }

    #[test]
    fn the_authority_must_be_https_or_loopback_http() {
        for bad in [
            "http://login.example.com",
            "http://10.0.0.1",
            "http://localhost.example.com",
            "http://[::2]",
            "ftp://login.example.com",
            "login.example.com",
            "/realms/orders",
            "https:login.example.com",
            "HTTPS://login.example.com",
            "https://",
            "https:///path",
            "http:///localhost",
            "https://login.example.com/?tenant=1",
            "https://login.example.com/#x",
            "https://user:pass@login.example.com",
            "https://login example.com",
            "https://login.example.com\\realm",
        ] {
            let error = err("JWT_AUTHORITY", bad);
            assert_eq!(error.found.as_deref(), Some(bad));
            assert!(error.expected.contains("https"), "{error}");
        }
    }

    #[test]
    fn discovery_url_comes_from_the_authority_without_its_trailing_slash() {
        for (authority, discovery) in [
            (
                "https://login.example.com",
                "https://login.example.com/.well-known/openid-configuration",
            ),
            (
                "https://login.example.com/",
                "https://login.example.com/.well-known/openid-configuration",
            ),
            (
                "https://login.example.com/realms/orders/",
                "https://login.example.com/realms/orders/.well-known/openid-configuration",
            ),
        ] {
            let config = ok("JWT_AUTHORITY", authority);
            assert_eq!(
                config.jwks.url,
                JwksLocation::Discovery {
                    discovery_url: discovery.to_owned(),
                    issuer: authority.to_owned(),
                }
            );
            assert_eq!(config.verification.claims.issuer, authority);
        }
    }

    #[test]
    fn a_jwks_url_is_used_directly() {
        for url in [
            "https://login.example.com/keys",
            "https://login.example.com/keys?tenant=a",
            "http://127.0.0.1:8790/jwks.json",
            "http://localhost/jwks",
        ] {
            assert_eq!(
                ok("JWT_JWKS_URL", url).jwks.url,
                JwksLocation::Direct(url.to_owned())
            );
        }
        for bad in [
            "http://login.example.com/keys",
            "https://login.example.com/keys#a",
            "keys.json",
            "file:///etc/keys.json",
        ] {
            assert_eq!(err("JWT_JWKS_URL", bad).found.as_deref(), Some(bad));
        }
    }

    #[test]
    fn algorithms_are_parsed_in_order_without_duplicates() {
        let config = ok("JWT_ALGORITHMS", "ES256, RS256,EdDSA,,ES256");
        assert_eq!(
            config.verification.algorithms,
            [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa]
        );
        let every = Algorithm::ALL.map(Algorithm::name).join(",");
        assert_eq!(
            ok("JWT_ALGORITHMS", &every).verification.algorithms,
            Algorithm::ALL
        );
    }

    #[test]
    fn unknown_algorithms_none_and_hmac_are_refused_clearly() {
        let unknown = err("JWT_ALGORITHMS", "RS256,XY999");
        assert_eq!(
            err("JWT_ALGORITHMS", "€S256").found.as_deref(),
            Some("€S256")
        );
        assert_eq!(err("JWT_ALGORITHMS", "H").found.as_deref(), Some("H"));
        assert_eq!(unknown.found.as_deref(), Some("XY999"));
        assert!(unknown.expected.contains("EdDSA"), "{unknown}");
        for none in ["none", "None", "RS256,NONE"] {
            let error = err("JWT_ALGORITHMS", none);
            assert!(error.expected.contains("never accepted"), "{error}");
        }
        for hmac in ["HS256", "RS256, HS512", "hs384"] {
            let error = err("JWT_ALGORITHMS", hmac);
            assert!(error.expected.contains("HMAC"), "{error}");
        }
        let case = err("JWT_ALGORITHMS", "rs256");
        assert!(case.expected.contains("case-sensitive"), "{case}");
        assert!(case.expected.contains("\"RS256\""), "{case}");
        assert!(err("JWT_ALGORITHMS", ",").expected.contains("at least one"));
        assert_eq!(
            err("JWT_ALGORITHMS", "RS256 ES256").found.as_deref(),
            Some("RS256 ES256")
        );
    }

    /// Every number with its lowest and highest accepted values, given the defaults of the
    /// others (`JWKS_CACHE_TTL_SECONDS` is bounded by its clamps and tested on its own).
    const RANGES: &[(&str, u64, u64)] = &[
        ("JWT_CLOCK_SKEW_SECONDS", 0, 600),
        ("JWT_MAX_TOKEN_BYTES", 512, 65_536),
        ("JWT_MAX_TOKEN_AGE_SECONDS", 1, 31_536_000),
        ("JWKS_MIN_TTL_SECONDS", 1, 600),
        ("JWKS_MAX_TTL_SECONDS", 600, 604_800),
        ("JWKS_MAX_STALE_SECONDS", 0, 2_592_000),
        ("JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", 1, 3_600),
        ("JWKS_REFRESH_INTERVAL_MINUTES", 1, 1_440),
        ("JWKS_FETCH_TIMEOUT_MS", 100, 60_000),
        ("ORIGIN_TIMEOUT_MS", 100, 300_000),
    ];

    #[test]
    fn numbers_are_checked_against_their_ranges() {
        for &(name, min, max) in RANGES {
            ok(name, &min.to_string());
            ok(name, &max.to_string());
            if min > 0 {
                err(name, &(min - 1).to_string());
            }
            let above = err(name, &(max + 1).to_string());
            assert!(above.expected.contains(&max.to_string()), "{above}");
        }
        // JWKS_CACHE_TTL_SECONDS goes from 1 to 604800 when the clamps allow it.
        err("JWKS_CACHE_TTL_SECONDS", "0");
        let mut env = minimal();
        env.insert("JWKS_CACHE_TTL_SECONDS", "1".to_owned());
        env.insert("JWKS_MIN_TTL_SECONDS", "1".to_owned());
        assert_eq!(load(&env).unwrap().cache.ttl, 1);
        env.insert("JWKS_CACHE_TTL_SECONDS", "604800".to_owned());
        env.insert("JWKS_MAX_TTL_SECONDS", "604800".to_owned());
        assert_eq!(load(&env).unwrap().cache.ttl, 604_800);
        env.insert("JWKS_CACHE_TTL_SECONDS", "604801".to_owned());
        assert_eq!(load(&env).unwrap_err().variable, "JWKS_CACHE_TTL_SECONDS");
    }

    #[test]
    fn numbers_are_plain_decimal_digits() {
        for bad in [
            "-1",
            "+5",
            "1e3",
            "6 0",
            "0x10",
            "5.0",
            "60s",
            "1_000",
            "٣",
            "99999999999999999999999",
        ] {
            let names = RANGES.iter().map(|(name, _, _)| *name);
            for name in names.chain(["JWKS_CACHE_TTL_SECONDS"]) {
                let error = err(name, bad);
                assert_eq!(error.found.as_deref(), Some(bad));
            }
        }
        assert_eq!(
            ok("JWT_CLOCK_SKEW_SECONDS", "007")
                .verification
                .claims
                .clock_skew,
            7
        );
    }

    #[test]
    fn the_numbers_reach_the_config() {
        let mut env = minimal();
        for (name, value) in [
            ("JWT_CLOCK_SKEW_SECONDS", "0"),
            ("JWT_MAX_TOKEN_BYTES", "16384"),
            ("JWT_MAX_TOKEN_AGE_SECONDS", "3600"),
            ("JWKS_CACHE_TTL_SECONDS", "300"),
            ("JWKS_MIN_TTL_SECONDS", "30"),
            ("JWKS_MAX_TTL_SECONDS", "3600"),
            ("JWKS_MAX_STALE_SECONDS", "0"),
            ("JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", "10"),
            ("JWKS_REFRESH_INTERVAL_MINUTES", "15"),
            ("JWKS_FETCH_TIMEOUT_MS", "2500"),
            ("ORIGIN_TIMEOUT_MS", "10000"),
        ] {
            env.insert(name, value.to_owned());
        }
        let config = load(&env).unwrap();
        assert_eq!(config.verification.claims.clock_skew, 0);
        assert_eq!(config.verification.max_token_bytes, 16_384);
        assert_eq!(config.verification.claims.max_age, Some(3_600));
        assert_eq!(
            config.cache,
            CachePolicy {
                ttl: 300,
                min_ttl: 30,
                max_ttl: 3_600,
                max_stale: 0,
                unknown_kid_cooldown: 10,
            }
        );
        assert_eq!(config.refresh.interval_minutes, 15);
        assert_eq!(config.jwks.fetch_timeout_ms, 2_500);
        assert_eq!(config.origin.timeout_ms, 10_000);
    }

    #[test]
    fn the_ttl_lies_between_its_clamps() {
        let min_above = err("JWKS_MIN_TTL_SECONDS", "601");
        assert!(
            min_above.expected.contains("JWKS_CACHE_TTL_SECONDS"),
            "{min_above}"
        );
        let max_below = err("JWKS_MAX_TTL_SECONDS", "599");
        assert!(
            max_below.expected.contains("JWKS_CACHE_TTL_SECONDS"),
            "{max_below}"
        );
        let mut env = minimal();
        env.insert("JWKS_CACHE_TTL_SECONDS", "100000".to_owned());
        assert_eq!(load(&env).unwrap_err().variable, "JWKS_MAX_TTL_SECONDS");
        env.insert("JWKS_CACHE_TTL_SECONDS", "30".to_owned());
        assert_eq!(load(&env).unwrap_err().variable, "JWKS_MIN_TTL_SECONDS");
        let equal = ok("JWKS_MIN_TTL_SECONDS", "600").cache;
        assert_eq!((equal.min_ttl, equal.ttl), (600, 600));
    }

    #[test]
    fn booleans_accept_true_false_one_and_zero() {
        for name in ["JWKS_ENABLE_BACKGROUND_REFRESH", "FORWARD_PREFLIGHT"] {
            let read = |value: &str| {
                let config = ok(name, value);
                match name {
                    "FORWARD_PREFLIGHT" => config.gateway.forward_preflight,
                    _ => config.refresh.enabled,
                }
            };
            for yes in ["true", "TRUE", "True", "1"] {
                assert!(read(yes), "{name}={yes}");
            }
            for no in ["false", "FALSE", "0"] {
                assert!(!read(no), "{name}={no}");
            }
            for bad in ["yes", "no", "on", "2", "t", "truee"] {
                assert_eq!(err(name, bad).found.as_deref(), Some(bad));
            }
        }
    }

    #[test]
    fn the_cache_type_is_kv_or_in_memory() {
        assert_eq!(ok("JWKS_CACHE_TYPE", "kv").cache_kind, CacheKind::Kv);
        assert_eq!(
            ok("JWKS_CACHE_TYPE", "in_memory").cache_kind,
            CacheKind::InMemory
        );
        assert_eq!(ok("JWKS_CACHE_TYPE", "KV").cache_kind, CacheKind::Kv);
        assert_eq!(CacheKind::InMemory.name(), "in_memory");
        assert_eq!(
            err("JWKS_CACHE_TYPE", "redis").found.as_deref(),
            Some("redis")
        );
        err("JWKS_CACHE_TYPE", "in-memory");
    }

    #[test]
    fn the_origin_url_is_normalised_without_trailing_slash() {
        for (url, expected) in [
            ("https://orders.internal", "https://orders.internal"),
            ("https://orders.internal/", "https://orders.internal"),
            (
                "https://orders.internal/api/v1/",
                "https://orders.internal/api/v1",
            ),
            ("http://10.1.2.3:8080", "http://10.1.2.3:8080"),
            (
                "https://Orders.Internal:443/api",
                "https://orders.internal/api",
            ),
        ] {
            assert_eq!(ok("ORIGIN_URL", url).origin.url, expected, "{url}");
        }
        for bad in [
            "orders.internal",
            "ftp://orders.internal",
            "https://orders.internal/?a=1",
            "https://orders.internal/#top",
            "https://user@orders.internal",
            "//orders.internal",
        ] {
            assert_eq!(err("ORIGIN_URL", bad).found.as_deref(), Some(bad));
        }
    }

    #[test]
    fn public_paths_are_normalised() {
        let config = ok("PUBLIC_PATHS", " /health/, ,/docs//,/,/health,/v1/status");
        assert_eq!(
            config.gateway.public_paths,
            ["/health", "/docs", "/", "/v1/status"]
        );
        for bad in [
            "health", "/a b", "/a?x=1", "/a#b", "/a/../b", "/./a", "/café", "*", "/a;b", "/a%2fb",
            "/%2e%2e", "/a%252e", "/a\\b",
        ] {
            let error = err("PUBLIC_PATHS", &format!("/ok,{bad}"));
            assert_eq!(error.found.as_deref(), Some(bad));
        }
    }

    #[test]
    fn configured_paths_take_the_canonical_form_of_request_paths() {
        // Unreserved escapes decoded, slashes merged; public paths keep their case.
        let config = ok("PUBLIC_PATHS", "/H%65alth,//docs//v1");
        assert_eq!(config.gateway.public_paths, ["/Health", "/docs/v1"]);
        // Rule paths are stored in lowercase: rules match case-insensitively.
        let config = ok("ROUTE_SCOPES", "POST /%4Frders//Open=orders:write");
        assert_eq!(config.gateway.route_scopes[0].path, "/orders/open");
        let duplicate = err("ROUTE_SCOPES", "POST /orders=a; post /ORDERS/=b");
        assert_eq!(duplicate.found.as_deref(), Some("post /ORDERS/=b"));
    }

    #[test]
    fn head_rules_are_refused_because_head_follows_get() {
        let error = err("ROUTE_SCOPES", "GET /a=x; HEAD /a=y");
        assert!(
            error
                .expected
                .contains("HEAD requests follow the GET rules"),
            "{error}"
        );
        assert!(err("ROUTE_SCOPES", "head /a=y")
            .expected
            .contains("GET rules"));
    }

    #[test]
    fn route_scopes_are_parsed() {
        let config = ok(
            "ROUTE_SCOPES",
            "POST /orders=orders:write; get /orders/ = orders:read  audit ;; \
             /admin=admin; DELETE /=root",
        );
        assert_eq!(
            config.gateway.route_scopes,
            [
                RouteScope {
                    method: Some("POST".to_owned()),
                    path: "/orders".to_owned(),
                    scopes: vec!["orders:write".to_owned()],
                },
                RouteScope {
                    method: Some("GET".to_owned()),
                    path: "/orders".to_owned(),
                    scopes: vec!["orders:read".to_owned(), "audit".to_owned()],
                },
                RouteScope {
                    method: None,
                    path: "/admin".to_owned(),
                    scopes: vec!["admin".to_owned()],
                },
                RouteScope {
                    method: Some("DELETE".to_owned()),
                    path: "/".to_owned(),
                    scopes: vec!["root".to_owned()],
                },
            ]
        );
        // A rule for any method and one for a single method may share a path.
        assert_eq!(
            ok("ROUTE_SCOPES", "/a=x; GET /a=y")
                .gateway
                .route_scopes
                .len(),
            2
        );
    }

    #[test]
    fn bad_route_rules_are_refused() {
        for (bad, why) in [
            ("GET /orders", "'='"),
            ("GET /orders=", "at least one scope"),
            ("GET orders=read", "a path"),
            ("=read", "method and a path"),
            ("GET POST /orders=read", "method and a path"),
            ("G(T /orders=read", "token characters"),
            ("GET /a?b=read", "a path"),
            ("GET /a=re\"ad", "scopes"),
        ] {
            let error = err("ROUTE_SCOPES", &format!("GET /ok=read; {bad}"));
            assert_eq!(error.found.as_deref(), Some(bad));
            assert!(error.expected.contains(why), "{bad}: {error}");
        }
        let duplicate = err("ROUTE_SCOPES", "GET /a=x; get /a/=y");
        assert_eq!(duplicate.found.as_deref(), Some("get /a/=y"));
    }

    #[test]
    fn claim_headers_are_parsed() {
        let config = ok(
            "CLAIM_HEADERS",
            "sub=X-Auth-Subject, realm_access.roles = X-Auth-Roles,,email=X-User-Email",
        );
        assert_eq!(
            config.gateway.claim_headers,
            [
                ClaimHeader {
                    claim: vec!["sub".to_owned()],
                    header: "X-Auth-Subject".to_owned(),
                },
                ClaimHeader {
                    claim: vec!["realm_access".to_owned(), "roles".to_owned()],
                    header: "X-Auth-Roles".to_owned(),
                },
                ClaimHeader {
                    claim: vec!["email".to_owned()],
                    header: "X-User-Email".to_owned(),
                },
            ]
        );
    }

    #[test]
    fn bad_claim_headers_are_refused() {
        for (bad, why) in [
            ("sub", "'='"),
            ("sub=", "token characters"),
            ("sub=X Auth", "token characters"),
            ("sub=X-Auth:Sub", "token characters"),
            ("sub=X-Ä", "token characters"),
            ("=X-Sub", "non-empty names"),
            ("a..b=X-Sub", "non-empty names"),
            (".a=X-Sub", "non-empty names"),
            ("a.=X-Sub", "non-empty names"),
            ("sub=Authorization", "does not own"),
            ("sub=authorization", "does not own"),
            ("sub=Host", "does not own"),
            ("sub=Content-Length", "does not own"),
            ("sub=Transfer-Encoding", "does not own"),
            ("sub=Connection", "does not own"),
            ("sub=Keep-Alive", "does not own"),
            ("sub=TE", "does not own"),
            ("sub=Upgrade", "does not own"),
            ("sub=Proxy-Authorization", "does not own"),
            ("sub=CF-Connecting-IP", "does not own"),
            ("sub=Cookie", "does not own"),
            ("sub=X-Real-IP", "does not own"),
            ("sub=X_Forwarded_For", "does not own"),
            ("sub=X-HTTP-Method-Override", "does not own"),
            ("sub=X-Original-URL", "does not own"),
            ("sub=Transfer_Encoding", "does not own"),
        ] {
            let error = err("CLAIM_HEADERS", &format!("iss=X-Issuer,{bad}"));
            assert_eq!(error.found.as_deref(), Some(bad));
            assert!(error.expected.contains(why), "{bad}: {error}");
        }
        let duplicate = err("CLAIM_HEADERS", "sub=X-Sub,email=x-sub");
        assert_eq!(duplicate.found.as_deref(), Some("email=x-sub"));
        // Origins that fold `_` into `-` would read these two as one header.
        let duplicate = err("CLAIM_HEADERS", "sub=X-Sub,email=X_Sub");
        assert_eq!(duplicate.found.as_deref(), Some("email=X_Sub"));
    }

    #[test]
    fn the_realm_must_be_safe_in_a_quoted_string() {
        assert_eq!(ok("AUTH_REALM", "orders api").realm, "orders api");
        for bad in ["a\"b", "a\\b", "a\u{7}b", "a\u{7f}b", "réalm"] {
            assert_eq!(err("AUTH_REALM", bad).found.as_deref(), Some(bad));
        }
    }

    #[test]
    fn the_log_level_is_parsed() {
        assert_eq!(ok("LOG_LEVEL", "DEBUG").log_level, Level::Debug);
        assert_eq!(ok("LOG_LEVEL", "error").log_level, Level::Error);
        assert_eq!(
            err("LOG_LEVEL", "verbose").found.as_deref(),
            Some("verbose")
        );
    }

    #[test]
    fn the_status_token_is_a_secret() {
        let token = "s3cr3t-status-token-0123456789";
        let config = ok("STATUS_TOKEN", token);
        assert_eq!(config.gateway.status_token.as_deref(), Some(token));
        assert!(!format!("{config:?}").contains(token));
        assert!(format!("{config:?}").contains("<redacted>"));
        assert_eq!(ok("STATUS_TOKEN", "   ").gateway.status_token, None);
        assert_eq!(
            ok("STATUS_TOKEN", "0123456789abcdef")
                .gateway
                .status_token
                .as_deref(),
            Some("0123456789abcdef")
        );
    }

    #[test]
    fn a_short_status_token_is_refused_without_echoing_it() {
        let short = "hunter2-pw";
        let error = err("STATUS_TOKEN", short);
        assert_eq!(error.found, None);
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(short), "{text}");
            assert!(!text.contains("hunter2"), "{text}");
        }
        assert!(error.to_string().contains("at least 16 characters"));
        // 15 characters, some of them multi-byte: counted as characters.
        err("STATUS_TOKEN", "ééééééééééééééé");
    }

    #[test]
    fn the_first_error_in_the_documented_order_is_reported() {
        let mut env = BTreeMap::new();
        let bad = [
            ("STATUS_TOKEN", "short"),
            ("LOG_LEVEL", "loud"),
            ("ROUTE_SCOPES", "GET /a"),
            ("ORIGIN_URL", "ftp://x"),
            ("JWKS_CACHE_TYPE", "redis"),
            ("JWT_CLOCK_SKEW_SECONDS", "-1"),
            ("JWT_ALGORITHMS", "HS256"),
            ("JWT_AUDIENCE", ""),
            ("JWT_AUTHORITY", "http://example.com"),
        ];
        for (name, value) in bad {
            env.insert(name, value.to_owned());
        }
        // Fix the variables one by one, earliest first: the next one in order is reported.
        for &(name, _) in bad.iter().rev() {
            assert_eq!(load(&env).unwrap_err().variable, name);
            env.insert(name, minimal().get(name).cloned().unwrap_or_default());
        }
        assert_eq!(load(&env).unwrap(), load(&minimal()).unwrap());
    }
}
