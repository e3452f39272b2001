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

use url::Url;

use crate::gateway::client_headers::same_name;
use crate::gateway::identity::ClaimHeader;
use crate::gateway::path::CONFIGURED_PATH_RULE;
use crate::gateway::pipeline::GatewayPolicy;
use crate::gateway::routing::RouteScope;
use crate::jws::alg::Algorithm;
use crate::jws::claims::ClaimsPolicy;
use crate::jws::error::truncated;
use crate::jws::verify::VerificationPolicy;
pub use crate::keys::fetch::JwksLocation;
use crate::keys::fetch::{absolute_url, check_url as check_fetch_url};
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
    // The URL parser has no Unicode back end (core/Cargo.toml, `idna_adapter`): say what to write.
    if !text.is_ascii() {
        return Err(error(
            name,
            format!(
                "{expected}, in ASCII: an internationalised host name in its xn-- (punycode) \
                 form, other characters percent-encoded"
            ),
            text,
        ));
    }
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
    // The fetcher's own URL policy for the issuer and the JWKS; any absolute http(s) URL for
    // the origin.
    let url = match rule {
        UrlRule::Issuer | UrlRule::Jwks => check_fetch_url(text).map_err(|_| bad())?,
        UrlRule::Origin => absolute_url(text)
            .ok()
            .filter(|url| matches!(url.scheme(), "http" | "https"))
            .ok_or_else(bad)?,
    };
    let query_ok = rule == UrlRule::Jwks || url.query().is_none();
    if !query_ok || url.fragment().is_some() {
        return Err(bad());
    }
    Ok(url)
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

fn public_paths(entries: &[String]) -> Result<Vec<String>, ConfigError> {
    let mut paths: Vec<String> = Vec::new();
    for entry in entries {
        let path = crate::gateway::path::configured(entry).ok_or_else(|| {
            error(
                "PUBLIC_PATHS",
                format!("a comma-separated list of paths {CONFIGURED_PATH_RULE}"),
                entry,
            )
        })?;
        if !paths.contains(&path) {
            paths.push(path);
        }
    }
    Ok(paths)
}

fn route_scopes(entries: &[String]) -> Result<Vec<RouteScope>, ConfigError> {
    let mut rules: Vec<RouteScope> = Vec::new();
    for entry in entries {
        let bad = |what: &dyn fmt::Display| {
            error(
                "ROUTE_SCOPES",
                format!("rules separated by ';', each \"[METHOD] /path=scope ...\": {what}"),
                entry,
            )
        };
        let rule: RouteScope = entry.parse().map_err(|err| bad(&err))?;
        if rules
            .iter()
            .any(|other| other.method == rule.method && other.path == rule.path)
        {
            return Err(bad(&"each method and path in one rule only"));
        }
        rules.push(rule);
    }
    Ok(rules)
}

fn claim_headers(entries: &[String]) -> Result<Vec<ClaimHeader>, ConfigError> {
    let mut headers: Vec<ClaimHeader> = Vec::new();
    for entry in entries {
        let bad = |what: &dyn fmt::Display| {
            error(
                "CLAIM_HEADERS",
                format!("comma-separated \"claim.path=Header-Name\" pairs: {what}"),
                entry,
            )
        };
        let header: ClaimHeader = entry.parse().map_err(|err| bad(&err))?;
        // Origins that fold `_` into `-` would read two such names as one header.
        if headers
            .iter()
            .any(|other| same_name(&other.header, &header.header))
        {
            return Err(bad(&"each header name once"));
        }
        headers.push(header);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests;
