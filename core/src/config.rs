//! The gateway's configuration: every environment variable, read once and validated into one
//! typed [`Config`].
//!
//! [`variables()`] is the single list of variables with their defaults and meanings; the unit
//! tests hold the README's table to it. [`Config::from_env`] reads
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
//! - `STATUS_TOKEN` and `ORIGIN_AUTH_SECRET` are secrets: neither a [`ConfigError`] nor
//!   `Config`'s `Debug` output ever contains their values.
//! - [`Config::from_env`] stops at the first invalid variable (the Worker refuses to run);
//!   [`Config::check`] reports every one (`npm run check-config`).

use std::fmt;

use crate::gateway::client_headers::same_name;
use crate::gateway::identity::ClaimHeader;
use crate::gateway::origin_auth::{OriginAuth, DEFAULT_ORIGIN_AUTH_HEADER};
use crate::gateway::path::CONFIGURED_PATH_RULE;
use crate::gateway::pipeline::GatewayPolicy;
use crate::gateway::resource_metadata::{ResourceMetadata, ResourceUri, RESOURCE_URI_RULE};
use crate::gateway::routing::RouteScope;
use crate::gateway::token_source::{TokenCookie, COOKIE_NAME_RULE};
use crate::jws::alg::Algorithm;
use crate::jws::claims::ClaimsPolicy;
use crate::jws::error::truncated;
use crate::jws::verify::VerificationPolicy;
pub use crate::keys::fetch::JwksLocation;
use crate::keys::fetch::{absolute_url, check_url as check_fetch_url};
#[cfg(feature = "url")]
use crate::keys::url::UrlCrate;
use crate::keys::url::{ParsedUrl, UrlParser};
use crate::keys::CachePolicy;
use crate::log::Level;

pub mod value;

pub mod providers;

pub use providers::MAX_PROVIDERS;
use providers::{ProviderSpec, JWT_ISSUERS, SINGLE_ISSUER_VARIABLES};
use value::{ListShape, Var};
pub use value::{ValueType, VarValue};

/// Every variable as `(name, default, meaning)`, in the order [`Config::from_env`] checks them.
/// An empty default means "unset": no value, or an error for the required variables.
const VARIABLES: &[(&str, &str, &str)] = &[
    (
        "JWT_AUTHORITY",
        "",
        "Required unless `JWT_ISSUERS` is set. The issuer: an absolute https URL (http only for localhost and loopback \
         addresses), without query or fragment, in ASCII (an internationalised host in its \
         `xn--` form, as for every URL below). A token's `iss` must equal it exactly; OIDC \
         discovery is read from `{JWT_AUTHORITY}/.well-known/openid-configuration` when \
         `JWT_JWKS_URL` is empty.",
    ),
    (
        "JWT_AUDIENCE",
        "",
        "Required unless `JWT_ISSUERS` is set. Accepted audiences, comma-separated; a token's \
         `aud` must contain one of them.",
    ),
    (
        "JWT_JWKS_URL",
        "",
        "JWKS endpoint (https, or http for localhost and loopback addresses); empty takes \
         `jwks_uri` from OIDC discovery.",
    ),
    (
        "JWT_ISSUERS",
        "",
        "Several issuers instead of `JWT_AUTHORITY`, `JWT_AUDIENCE` and `JWT_JWKS_URL` (setting \
         both forms is an error): a JSON array of at most 10 providers, each `{\"issuer\", \
         \"audience\", \"jwks_url\", \"algorithms\", \"claim_headers\", \"name\"}` with the \
         meanings of `JWT_AUTHORITY`, `JWT_AUDIENCE`, `JWT_JWKS_URL`, `JWT_ALGORITHMS` and \
         `CLAIM_HEADERS` (the last three optional, defaulting to those variables); `name` \
         (default: the issuer) is what `ROUTE_ISSUERS`, logs and metrics call it. A token's \
         `iss` selects its provider before any key is fetched.",
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
        "ORIGIN_AUTH_HEADER",
        "X-Gateway-Auth",
        "The header that carries `ORIGIN_AUTH_SECRET` to the origin: an HTTP header name that \
         the gateway does not own otherwise (not `X-Auth-*`, `CF-*`, Authorization, Cookie, \
         Host, hop-by-hop, client-address, method-override or path-rewrite headers). A \
         client's header of this name is always removed, with or without a secret.",
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
        "ROUTE_ISSUERS",
        "",
        "Which providers' tokens a route accepts, as rules separated by `;`, each \
         `[METHOD] /path=name ...` with provider names (see `JWT_ISSUERS`), matched like \
         `ROUTE_SCOPES` (for example `/partner=partner; /=main`); a route without a rule \
         accepts every provider.",
    ),
    (
        "CLAIM_HEADERS",
        "",
        "Extra identity headers for the origin: `claim.path=Header-Name` pairs, comma-separated. \
         Authorization, Cookie, Host, Content-Length, hop-by-hop, client-address, \
         method-override, path-rewrite and `CF-*` headers are refused, and so is the \
         `ORIGIN_AUTH_HEADER` name.",
    ),
    (
        "FORWARD_PREFLIGHT",
        "true",
        "Forward CORS preflight requests (OPTIONS with Access-Control-Request-Method) without a \
         token (`true`/`false` or `1`/`0`).",
    ),
    (
        "JWT_COOKIE",
        "",
        "The name of a cookie that may carry the token instead of the Authorization header, \
         for browser clients (an RFC 6265 cookie name, for example `__Host-access_token`); \
         empty for none: only the header is read. A request with both, or with the cookie more \
         than once or empty, is refused (400), and so is a cookie token on a method other than \
         GET, HEAD and OPTIONS when `Sec-Fetch-Site` or `Origin` shows another site (CSRF).",
    ),
    (
        "JWT_COOKIE_FORWARD",
        "false",
        "Whether the origin receives the `JWT_COOKIE` cookie (`true`/`false` or `1`/`0`); by \
         default it is removed from the Cookie header of every forwarded request and the other \
         cookies pass unchanged. No effect without `JWT_COOKIE`.",
    ),
    (
        "RESOURCE_METADATA",
        "true",
        "Serve the OAuth protected-resource metadata (RFC 9728) at \
         `/.well-known/oauth-protected-resource` and name it in `resource_metadata` of every \
         `WWW-Authenticate` challenge (`true`/`false` or `1`/`0`); `false` turns both off and \
         the path is forwarded like any other.",
    ),
    (
        "RESOURCE_URI",
        "",
        "The resource identifier in the metadata: an absolute https URL (http only for \
         localhost and loopback addresses), without query or fragment, written as a URL parser \
         writes it (lowercase host, no default port); a path moves the metadata to \
         `/.well-known/oauth-protected-resource{path}` (RFC 9728 section 3.1). Empty: each \
         request's own origin.",
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
    (
        "ORIGIN_AUTH_SECRET",
        "",
        "Secret, set with `npx wrangler secret put ORIGIN_AUTH_SECRET` and never in \
         `wrangler.toml`: sent in `ORIGIN_AUTH_HEADER` on every forwarded request (protected, \
         public and preflight), so the origin can refuse traffic that bypassed the gateway; at \
         least 32 visible ASCII characters without spaces (`openssl rand -hex 32`); unset for \
         none.",
    ),
];

/// Every variable's name and default, in the order of [`VARIABLES`]: what the Worker reads at
/// run time. The meanings (several KiB of text) are only for the README test and
/// `check-config`, and stay out of the Worker's module because nothing it runs refers to
/// [`VARIABLES`] itself.
const DEFAULTS: [(&str, &str); VARIABLES.len()] = {
    let mut defaults = [("", ""); VARIABLES.len()];
    let mut index = 0;
    while index < VARIABLES.len() {
        defaults[index] = (VARIABLES[index].0, VARIABLES[index].1);
        index += 1;
    }
    defaults
};

/// Every variable the gateway reads, as `(name, default, meaning)`, in the order
/// [`Config::from_env`] checks them. An empty default means "unset". This is the one source of
/// truth: the README's table is tested against it, and `npm run check-config` refuses any other
/// name in `wrangler.toml`.
pub fn variables() -> &'static [(&'static str, &'static str, &'static str)] {
    VARIABLES
}

/// Whether `name` is a secret (set with `wrangler secret put`, never echoed).
pub fn is_secret(name: &str) -> bool {
    name == STATUS_TOKEN || name == ORIGIN_AUTH_SECRET
}

const STATUS_TOKEN: &str = "STATUS_TOKEN";
const ORIGIN_AUTH_HEADER: &str = "ORIGIN_AUTH_HEADER";
const ORIGIN_AUTH_SECRET: &str = "ORIGIN_AUTH_SECRET";

/// The smallest accepted `STATUS_TOKEN`, in characters.
pub const MIN_STATUS_TOKEN_CHARS: usize = 16;

/// The validated configuration of the gateway.
#[derive(Clone, PartialEq, Eq)]
pub struct Config {
    /// The trusted issuers, at least one and at most [`MAX_PROVIDERS`]: `JWT_ISSUERS`, or the
    /// single issuer of `JWT_AUTHORITY`, `JWT_AUDIENCE` and `JWT_JWKS_URL`; with the other
    /// `JWT_*` variables, which apply to each.
    pub providers: Vec<ProviderConfig>,
    /// How key sets are fetched (`JWKS_FETCH_TIMEOUT_MS`).
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
    /// `FORWARD_PREFLIGHT`, `STATUS_TOKEN`, `JWT_COOKIE*`), what the origin receives
    /// (`ORIGIN_AUTH_*`) and the RFC 9728 metadata (`RESOURCE_*`); its `Debug` output never
    /// shows the secrets.
    pub gateway: GatewayPolicy,
    /// `realm` of `WWW-Authenticate` answers (`AUTH_REALM`); safe inside a quoted string.
    pub realm: String,
    /// The least severe level that is logged (`LOG_LEVEL`).
    pub log_level: Level,
}

/// One trusted issuer: what its tokens must satisfy, where its keys come from, and the
/// identity headers made from its tokens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderConfig {
    /// What `ROUTE_ISSUERS`, logs and metrics call it (`name`, by default the issuer).
    pub name: String,
    /// What its tokens must satisfy; `claims.issuer` is the issuer.
    pub verification: VerificationPolicy,
    /// Its JWKS URL, or the discovery document that names it.
    pub jwks: JwksLocation,
    /// The extra identity headers made from its tokens (`claim_headers`, or `CLAIM_HEADERS`).
    pub claim_headers: Vec<ClaimHeader>,
}

impl ProviderConfig {
    /// The issuer (`iss`) of its tokens.
    pub fn issuer(&self) -> &str {
        &self.verification.claims.issuer
    }
}

/// How key sets are fetched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct JwksSettings {
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
            .field("providers", &self.providers)
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
    /// Reads and validates every variable through `get` (a map in tests, wrangler.toml's values
    /// in `check-config`), in the order of [`variables()`]; the first invalid one is the error.
    /// `get` returns a variable's typed value ([`VarValue`], or a `String`), `None` when it is
    /// unset. URLs are checked with the `url` crate's parser; the Worker uses
    /// [`Config::from_env_with`] and the runtime's.
    #[cfg(feature = "url")]
    pub fn from_env<V: Into<VarValue>>(
        get: impl Fn(&str) -> Option<V>,
    ) -> Result<Config, ConfigError> {
        Config::from_env_with(get, &UrlCrate)
    }

    /// [`Config::from_env`] with the platform's URL parser (the Worker's is the runtime's own
    /// `URL`), which checks `JWT_AUTHORITY`, `JWT_JWKS_URL` and `ORIGIN_URL`.
    pub fn from_env_with<V: Into<VarValue>>(
        get: impl Fn(&str) -> Option<V>,
        urls: &dyn UrlParser,
    ) -> Result<Config, ConfigError> {
        Config::check_with(get, urls).map_err(|problems| problems.first)
    }

    /// Like [`Config::from_env`], but goes on past an invalid variable and reports every one, in
    /// the order of [`variables()`] (for `npm run check-config`). A variable that another's
    /// range depends on (`JWKS_CACHE_TTL_SECONDS`, `ORIGIN_AUTH_HEADER`) is taken at its default
    /// for that check when it is itself invalid.
    #[cfg(feature = "url")]
    pub fn check<V: Into<VarValue>>(get: impl Fn(&str) -> Option<V>) -> Result<Config, Problems> {
        Config::check_with(get, &UrlCrate)
    }

    /// [`Config::check`] with the platform's URL parser.
    pub fn check_with<V: Into<VarValue>>(
        get: impl Fn(&str) -> Option<V>,
        urls: &dyn UrlParser,
    ) -> Result<Config, Problems> {
        // Every variable is read once, in the documented order; the checks below may look at
        // one before its turn (the issuers' form decides which issuer variables apply).
        let values: Vec<(&str, Option<VarValue>)> = DEFAULTS
            .iter()
            .map(|&(name, _)| (name, get(name).map(Into::into)))
            .collect();
        let var = |name: &'static str| {
            let value = values
                .iter()
                .find(|(listed, _)| *listed == name)
                .and_then(|(_, value)| value.clone());
            Var::new(name, value)
        };
        let int = |name: &'static str, min: u64, max: u64, unit: &str| {
            var(name).number((min, max), unit, "")
        };
        let mut found = Found::default();

        // The origin secret's header, read first: every claim header (`CLAIM_HEADERS` and the
        // providers') is checked against it, against the default name when it is invalid. Its
        // own problem is reported in its place below.
        let origin_auth_header_read = var(ORIGIN_AUTH_HEADER).text().and_then(|name| {
            OriginAuth::header_name(&name)
                .map_err(|why| error(ORIGIN_AUTH_HEADER, why.to_string(), &name))
        });
        let origin_auth_header = origin_auth_header_read
            .clone()
            .unwrap_or_else(|_| DEFAULT_ORIGIN_AUTH_HEADER.to_owned());

        // The issuers: `JWT_ISSUERS`, or the single-issuer variables (never both).
        let several = !var(JWT_ISSUERS).is_blank();
        let specs: Vec<ProviderSpec> = if several {
            for name in SINGLE_ISSUER_VARIABLES {
                let single = var(name);
                if !single.is_blank() {
                    found.0.push(single.unexpected(
                        "no value: JWT_ISSUERS is set, and the issuers are configured in one form \
                         only",
                    ));
                }
            }
            let parsed = providers::parse(var(JWT_ISSUERS), urls, &origin_auth_header);
            found.keep(parsed).flatten().unwrap_or_default()
        } else {
            let authority = var("JWT_AUTHORITY").text().and_then(|authority| {
                check_url(urls, "JWT_AUTHORITY", &authority, UrlRule::Issuer).map(|_| authority)
            });
            let authority: String = found.keep(authority).unwrap_or_default();
            let audiences = var("JWT_AUDIENCE")
                .entries(ListShape::Comma)
                .and_then(|audience| {
                    let audiences = list(&audience.items);
                    if audiences.is_empty() {
                        return Err(
                            audience.error("a comma-separated list of at least one audience")
                        );
                    }
                    Ok(audiences)
                });
            let audiences = found.keep(audiences).unwrap_or_default();
            let jwks_url = var("JWT_JWKS_URL").text().and_then(|jwks_url| {
                if !jwks_url.is_empty() {
                    check_url(urls, "JWT_JWKS_URL", &jwks_url, UrlRule::Jwks)?;
                }
                Ok(jwks_url)
            });
            let jwks_url: String = found.keep(jwks_url).unwrap_or_default();
            vec![ProviderSpec {
                name: authority.clone(),
                location: providers::location(&authority, &jwks_url),
                issuer: authority,
                audiences,
                algorithms: None,
                claim_headers: None,
            }]
        };
        let algorithms = var("JWT_ALGORITHMS")
            .entries(ListShape::Comma)
            .and_then(|entries| algorithms(&entries));
        let algorithms = found.keep(algorithms).unwrap_or_default();
        let clock_skew = found
            .keep(int("JWT_CLOCK_SKEW_SECONDS", 0, 600, "seconds"))
            .unwrap_or(0);
        let max_token_bytes = found
            .keep(int("JWT_MAX_TOKEN_BYTES", 512, 65_536, "bytes"))
            .unwrap_or(0);
        let required = found
            .keep(var("JWT_REQUIRED_CLAIMS").entries(ListShape::Comma))
            .map(|entries| list(&entries.items))
            .unwrap_or_default();
        let types = found
            .keep(var("JWT_TYP").entries(ListShape::Comma))
            .map(|entries| list(&entries.items))
            .unwrap_or_default();
        let max_age = var("JWT_MAX_TOKEN_AGE_SECONDS").optional_number((1, 31_536_000), "seconds");
        let max_age = found.keep(max_age).flatten();

        // Key cache.
        let cache_kind = var("JWKS_CACHE_TYPE").text().and_then(|cache_type| {
            match cache_type.to_ascii_lowercase().as_str() {
                "kv" => Ok(CacheKind::Kv),
                "in_memory" => Ok(CacheKind::InMemory),
                _ => Err(error(
                    "JWKS_CACHE_TYPE",
                    "\"kv\" or \"in_memory\"",
                    &cache_type,
                )),
            }
        });
        let cache_kind = found.keep(cache_kind).unwrap_or(CacheKind::Kv);
        const MAX_TTL: u64 = 604_800;
        // The clamps are checked against the default TTL when the TTL itself is invalid.
        let ttl = found
            .keep(int("JWKS_CACHE_TTL_SECONDS", 1, MAX_TTL, "seconds"))
            .unwrap_or(CachePolicy::default().ttl);
        let min_ttl = var("JWKS_MIN_TTL_SECONDS").number(
            (1, ttl),
            "seconds",
            " (at most JWKS_CACHE_TTL_SECONDS)",
        );
        let min_ttl = found.keep(min_ttl).unwrap_or(ttl);
        let max_ttl = var("JWKS_MAX_TTL_SECONDS").number(
            (ttl, MAX_TTL),
            "seconds",
            " (at least JWKS_CACHE_TTL_SECONDS)",
        );
        let max_ttl = found.keep(max_ttl).unwrap_or(ttl);
        let max_stale = found
            .keep(int("JWKS_MAX_STALE_SECONDS", 0, 2_592_000, "seconds"))
            .unwrap_or(0);
        let unknown_kid_cooldown = found
            .keep(int(
                "JWKS_UNKNOWN_KID_COOLDOWN_SECONDS",
                1,
                3_600,
                "seconds",
            ))
            .unwrap_or(1);
        let interval_minutes = found
            .keep(int("JWKS_REFRESH_INTERVAL_MINUTES", 1, 1_440, "minutes"))
            .unwrap_or(1);
        let refresh_enabled = found
            .keep(var("JWKS_ENABLE_BACKGROUND_REFRESH").boolean())
            .unwrap_or(false);
        let fetch_timeout_ms = found
            .keep(int("JWKS_FETCH_TIMEOUT_MS", 100, 60_000, "milliseconds"))
            .unwrap_or(100);

        // Gateway.
        let origin_url = var("ORIGIN_URL").text().and_then(|origin_url| {
            let url = check_url(urls, "ORIGIN_URL", &origin_url, UrlRule::Origin)?;
            Ok(url.href.trim_end_matches('/').to_owned())
        });
        let origin_url = found.keep(origin_url).unwrap_or_default();
        let origin_timeout_ms = found
            .keep(int("ORIGIN_TIMEOUT_MS", 100, 300_000, "milliseconds"))
            .unwrap_or(100);
        found.keep(origin_auth_header_read);
        let public_paths = var("PUBLIC_PATHS")
            .entries(ListShape::Comma)
            .and_then(|entries| public_paths(&entries.items));
        let public_paths = found.keep(public_paths).unwrap_or_default();
        let route_scopes = var("ROUTE_SCOPES")
            .entries(ListShape::Semicolon)
            .and_then(|entries| route_scopes(&entries.items));
        let route_scopes = found.keep(route_scopes).unwrap_or_default();
        let names: Vec<&str> = specs.iter().map(|spec| spec.name.as_str()).collect();
        let route_issuers = var("ROUTE_ISSUERS")
            .entries(ListShape::Semicolon)
            .and_then(|entries| providers::route_issuers(&entries.items, &names));
        let route_issuers = found.keep(route_issuers).unwrap_or_default();
        let claim_headers = var("CLAIM_HEADERS")
            .entries(ListShape::Comma)
            .and_then(|entries| claim_headers(&entries.items, &origin_auth_header));
        let claim_headers = found.keep(claim_headers).unwrap_or_default();
        let forward_preflight = found
            .keep(var("FORWARD_PREFLIGHT").boolean())
            .unwrap_or(false);
        let cookie_name = var("JWT_COOKIE").text().and_then(|name| {
            if name.is_empty() || TokenCookie::new(&name, false).is_some() {
                Ok(name)
            } else {
                Err(error("JWT_COOKIE", COOKIE_NAME_RULE, &name))
            }
        });
        let cookie_name = found.keep(cookie_name).unwrap_or_default();
        let cookie_forward = found
            .keep(var("JWT_COOKIE_FORWARD").boolean())
            .unwrap_or(false);
        let token_cookie = TokenCookie::new(&cookie_name, cookie_forward);
        let metadata_on = found
            .keep(var("RESOURCE_METADATA").boolean())
            .unwrap_or(false);
        let resource_uri = var("RESOURCE_URI")
            .text()
            .and_then(|uri| resource_uri(urls, &uri));
        let resource_uri = found.keep(resource_uri).flatten();
        let resource_metadata = metadata_on.then(|| ResourceMetadata::new(resource_uri));
        let realm = var("AUTH_REALM").text().and_then(|realm| {
            if realm
                .chars()
                .all(|c| (' '..='~').contains(&c) && c != '"' && c != '\\')
            {
                Ok(realm)
            } else {
                Err(error(
                    "AUTH_REALM",
                    "printable ASCII without '\"' or '\\'",
                    &realm,
                ))
            }
        });
        let realm = found.keep(realm).unwrap_or_default();
        let log_level = var("LOG_LEVEL").text().and_then(|log_level| {
            Level::parse(&log_level).ok_or_else(|| {
                error(
                    "LOG_LEVEL",
                    "one of \"error\", \"warn\", \"info\" or \"debug\"",
                    &log_level,
                )
            })
        });
        let log_level = found.keep(log_level).unwrap_or(Level::Info);
        let status_token = var(STATUS_TOKEN).text().and_then(|token| match token {
            token if token.is_empty() => Ok(None),
            token if token.chars().count() < MIN_STATUS_TOKEN_CHARS => Err(ConfigError {
                variable: STATUS_TOKEN,
                expected: format!(
                    "a secret of at least {MIN_STATUS_TOKEN_CHARS} characters, found one of {} \
                     (the value is not shown)",
                    token.chars().count()
                ),
                found: None,
                found_type: None,
                element: None,
            }),
            token => Ok(Some(token)),
        });
        let status_token = found.keep(status_token).flatten();
        let origin_auth = var(ORIGIN_AUTH_SECRET).text().and_then(|secret| {
            let secret = (!secret.is_empty()).then_some(secret);
            OriginAuth::new(&origin_auth_header, secret).map_err(|why| ConfigError {
                variable: ORIGIN_AUTH_SECRET,
                expected: why.to_string(),
                found: None,
                found_type: None,
                element: None,
            })
        });
        let origin_auth = found.keep(origin_auth).unwrap_or_default();

        if let Some((first, rest)) = found.0.split_first() {
            return Err(Problems {
                first: first.clone(),
                rest: rest.to_vec(),
            });
        }
        let providers: Vec<ProviderConfig> = specs
            .into_iter()
            .map(|spec| ProviderConfig {
                name: spec.name,
                verification: VerificationPolicy {
                    algorithms: spec.algorithms.unwrap_or_else(|| algorithms.clone()),
                    max_token_bytes: max_token_bytes as usize,
                    types: types.clone(),
                    claims: ClaimsPolicy {
                        issuer: spec.issuer,
                        audiences: spec.audiences,
                        clock_skew,
                        required: required.clone(),
                        max_age,
                    },
                },
                jwks: spec.location,
                claim_headers: spec.claim_headers.unwrap_or_else(|| claim_headers.clone()),
            })
            .collect();
        // Every identity header any provider makes is stripped from every client request.
        let mut all_claim_headers: Vec<ClaimHeader> = Vec::new();
        for header in providers
            .iter()
            .flat_map(|provider| &provider.claim_headers)
        {
            if !all_claim_headers
                .iter()
                .any(|other| same_name(&other.header, &header.header))
            {
                all_claim_headers.push(header.clone());
            }
        }
        Ok(Config {
            providers,
            jwks: JwksSettings { fetch_timeout_ms },
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
                route_issuers,
                claim_headers: all_claim_headers,
                forward_preflight,
                status_token,
                origin_auth,
                token_cookie,
                resource_metadata,
            },
            realm,
            log_level,
        })
    }
}

/// The problems found so far by [`Config::check`].
#[derive(Default)]
struct Found(Vec<ConfigError>);

impl Found {
    /// The value, or `None` with its error recorded.
    fn keep<T>(&mut self, result: Result<T, ConfigError>) -> Option<T> {
        result.map_err(|error| self.0.push(error)).ok()
    }
}

/// Every invalid variable of an environment, in the order of [`variables()`]: at least one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problems {
    /// The first invalid variable: the one [`Config::from_env`] reports.
    pub first: ConfigError,
    /// The others, in order.
    pub rest: Vec<ConfigError>,
}

impl Problems {
    /// Every problem, in order.
    pub fn iter(&self) -> impl Iterator<Item = &ConfigError> {
        std::iter::once(&self.first).chain(&self.rest)
    }
}

/// The default of `name` in [`VARIABLES`]; every name read is listed there (a test checks it).
fn default_of(name: &str) -> &'static str {
    DEFAULTS
        .iter()
        .find(|(variable, _)| *variable == name)
        .map_or("", |(_, default)| default)
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
fn check_url(
    urls: &dyn UrlParser,
    name: &'static str,
    text: &str,
    rule: UrlRule,
) -> Result<ParsedUrl, ConfigError> {
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
    // The text is the configured form (the issuer is compared byte for byte): ASCII, as a URL
    // parser would keep it.
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
        UrlRule::Issuer | UrlRule::Jwks => check_fetch_url(urls, text).map_err(|_| bad())?,
        UrlRule::Origin => absolute_url(urls, text)
            .ok()
            .filter(|url| matches!(url.scheme.as_str(), "http" | "https"))
            .ok_or_else(bad)?,
    };
    let query_ok = rule == UrlRule::Jwks || !url.has_query();
    if !query_ok || url.has_fragment() {
        return Err(bad());
    }
    Ok(url)
}

/// `RESOURCE_URI`: `None` when blank; otherwise a URL by the issuer's rules (https, or http for
/// loopback hosts; no query, no fragment; ASCII) that is already written as the URL parser
/// writes it, the empty path aside (`https://api.example.com` is `https://api.example.com/`):
/// the metadata is served at a path taken from it, and its text is the `resource` clients
/// compare byte for byte.
fn resource_uri(urls: &dyn UrlParser, text: &str) -> Result<Option<ResourceUri>, ConfigError> {
    const NAME: &str = "RESOURCE_URI";
    if text.is_empty() {
        return Ok(None);
    }
    let url = check_url(urls, NAME, text, UrlRule::Issuer)?;
    let as_parsed = url.href == text || url.href.strip_suffix('/') == Some(text);
    match ResourceUri::new(text).filter(|_| as_parsed) {
        Some(uri) => Ok(Some(uri)),
        None => Err(error(
            NAME,
            format!(
                "an absolute https URL (http only for localhost and loopback addresses) \
                 without query or fragment, {RESOURCE_URI_RULE}: {:?}",
                truncated(&url.href)
            ),
            text,
        )),
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
    route_rules("ROUTE_SCOPES", "scope", entries, |_| Ok(()))
}

/// Rules of the `ROUTE_SCOPES` form (`[METHOD] /path=value ...`, `;`-separated) for `variable`,
/// each also passing `check`, and each method and path in one rule only; `values` names what
/// the values are in the error message.
fn route_rules(
    variable: &'static str,
    values: &str,
    entries: &[String],
    check: impl Fn(&RouteScope) -> Result<(), String>,
) -> Result<Vec<RouteScope>, ConfigError> {
    let mut rules: Vec<RouteScope> = Vec::new();
    for entry in entries {
        let bad = |what: &dyn fmt::Display| {
            error(
                variable,
                format!("rules separated by ';', each \"[METHOD] /path={values} ...\": {what}"),
                entry,
            )
        };
        let rule: RouteScope = entry.parse().map_err(|err| bad(&err))?;
        check(&rule).map_err(|why| bad(&why))?;
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

fn claim_headers(
    entries: &[String],
    origin_auth_header: &str,
) -> Result<Vec<ClaimHeader>, ConfigError> {
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
        // The origin secret's header is the gateway's alone.
        if same_name(&header.header, origin_auth_header) {
            return Err(bad(&format!(
                "a header other than ORIGIN_AUTH_HEADER ({origin_auth_header})"
            )));
        }
        headers.push(header);
    }
    Ok(headers)
}

#[cfg(test)]
mod tests;
