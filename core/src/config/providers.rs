//! The token issuers the gateway trusts (`JWT_ISSUERS`, or the single-issuer variables), and
//! the route rules that restrict them (`ROUTE_ISSUERS`).
//!
//! `JWT_ISSUERS` is a JSON array (a JSON string, or a wrangler `[vars]` array) of objects:
//!
//! | field           | meaning                                                              |
//! |-----------------|----------------------------------------------------------------------|
//! | `issuer`        | required; as `JWT_AUTHORITY`                                         |
//! | `audience`      | required; as `JWT_AUDIENCE` (a comma-separated string or an array)   |
//! | `jwks_url`      | optional; as `JWT_JWKS_URL` (OIDC discovery when absent)             |
//! | `algorithms`    | optional; as `JWT_ALGORITHMS`, whose value is the default            |
//! | `claim_headers` | optional; as `CLAIM_HEADERS`, whose value is the default             |
//! | `name`          | optional; what `ROUTE_ISSUERS`, logs and metrics call it (default: the issuer) |
//!
//! Any other field is an error (a misspelt `audiences` must not silently mean "no audience
//! check"), and so are two providers with the same issuer, name or key-set URL, more than
//! [`MAX_PROVIDERS`] providers, and `JWT_ISSUERS` together with `JWT_AUTHORITY`,
//! `JWT_AUDIENCE` or `JWT_JWKS_URL`. A provider is never dropped: one bad entry fails the whole
//! configuration.

use serde_json::{Map, Value};

use super::value::{ListShape, Var};
use super::{algorithms, check_url, claim_headers, list, ConfigError, UrlRule};
use crate::gateway::identity::ClaimHeader;
use crate::gateway::routing::RouteScope;
use crate::jws::alg::Algorithm;
use crate::jws::error::truncated;
use crate::keys::fetch::JwksLocation;
use crate::keys::url::UrlParser;

/// The most providers one gateway trusts: each costs a key cache, a KV record and a fetch per
/// scheduled refresh.
pub const MAX_PROVIDERS: usize = 10;

/// The variable name.
pub(super) const JWT_ISSUERS: &str = "JWT_ISSUERS";

/// The single-issuer variables that `JWT_ISSUERS` replaces.
pub(super) const SINGLE_ISSUER_VARIABLES: [&str; 3] =
    ["JWT_AUTHORITY", "JWT_AUDIENCE", "JWT_JWKS_URL"];

const FIELDS: [&str; 6] = [
    "issuer",
    "audience",
    "jwks_url",
    "algorithms",
    "claim_headers",
    "name",
];

const EXPECTED: &str = "a JSON array of at most 10 providers, each an object with \"issuer\" and \
                        \"audience\" and optionally \"jwks_url\", \"algorithms\", \
                        \"claim_headers\" and \"name\"";

/// A provider as configured, before the defaults (`JWT_ALGORITHMS`, `CLAIM_HEADERS`) apply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ProviderSpec {
    pub(super) name: String,
    pub(super) issuer: String,
    pub(super) audiences: Vec<String>,
    pub(super) location: JwksLocation,
    /// `None`: `JWT_ALGORITHMS`.
    pub(super) algorithms: Option<Vec<Algorithm>>,
    /// `None`: `CLAIM_HEADERS`.
    pub(super) claim_headers: Option<Vec<ClaimHeader>>,
}

/// Where the key set of `issuer` comes from: `jwks_url`, or OIDC discovery at
/// `{issuer}/.well-known/openid-configuration` (the issuer without its trailing `/`), whose
/// `issuer` must equal the configured one exactly.
pub(super) fn location(issuer: &str, jwks_url: &str) -> JwksLocation {
    if jwks_url.is_empty() {
        JwksLocation::Discovery {
            discovery_url: format!(
                "{}/.well-known/openid-configuration",
                issuer.trim_end_matches('/')
            ),
            issuer: issuer.to_owned(),
        }
    } else {
        JwksLocation::Direct(jwks_url.to_owned())
    }
}

/// The URL the key set (or the discovery document naming it) is read from.
fn location_url(location: &JwksLocation) -> &str {
    match location {
        JwksLocation::Direct(url) => url,
        JwksLocation::Discovery { discovery_url, .. } => discovery_url,
    }
}

/// The providers of `JWT_ISSUERS` (`None` when it is unset or blank). `origin_auth_header` is
/// the header no claim header may use.
pub(super) fn parse(
    var: Var,
    urls: &dyn UrlParser,
    origin_auth_header: &str,
) -> Result<Option<Vec<ProviderSpec>>, ConfigError> {
    let Some(elements) = var.json_array(EXPECTED)? else {
        return Ok(None);
    };
    if elements.is_empty() {
        return Err(ConfigError {
            element: None,
            ..element_error(0, format!("{EXPECTED}: at least one"), "[]")
        });
    }
    if elements.len() > MAX_PROVIDERS {
        return Err(ConfigError {
            variable: JWT_ISSUERS,
            expected: format!(
                "at most {MAX_PROVIDERS} providers, found {}",
                elements.len()
            ),
            found: None,
            found_type: None,
            element: None,
        });
    }
    let mut providers: Vec<ProviderSpec> = Vec::new();
    for (index, element) in elements.iter().enumerate() {
        let provider = provider(element, urls, origin_auth_header)
            .map_err(|(expected, found)| element_error(index, expected, &found))?;
        let clash = providers.iter().find_map(|other| {
            if other.issuer == provider.issuer {
                Some("issuer")
            } else if other.name == provider.name {
                Some("name")
            } else if location_url(&other.location) == location_url(&provider.location) {
                Some("key-set URL")
            } else {
                None
            }
        });
        if let Some(what) = clash {
            return Err(element_error(
                index,
                format!("a provider whose {what} no other provider has"),
                &element.to_string(),
            ));
        }
        providers.push(provider);
    }
    Ok(Some(providers))
}

fn element_error(index: usize, expected: String, found: &str) -> ConfigError {
    ConfigError {
        variable: JWT_ISSUERS,
        expected,
        found: Some(truncated(found)),
        found_type: None,
        element: Some(index),
    }
}

/// One provider object; the error is `(expected, found)`.
fn provider(
    element: &Value,
    urls: &dyn UrlParser,
    origin_auth_header: &str,
) -> Result<ProviderSpec, (String, String)> {
    let Value::Object(fields) = element else {
        return Err((EXPECTED.to_owned(), element.to_string()));
    };
    if let Some(unknown) = fields.keys().find(|key| !FIELDS.contains(&key.as_str())) {
        return Err((
            format!(
                "only the fields \"{}\" (unknown field {unknown:?})",
                FIELDS.join("\", \"")
            ),
            element.to_string(),
        ));
    }
    // Each field is read like its single-issuer variable, and its error says which field.
    let in_field = |field: &str, err: ConfigError| {
        let found = err.found.unwrap_or_default();
        (format!("\"{field}\": {}", err.expected), found)
    };
    let text = |field: &str, required: bool| -> Result<String, (String, String)> {
        match fields.get(field) {
            Some(Value::String(text)) if !text.trim().is_empty() => Ok(text.trim().to_owned()),
            None if !required => Ok(String::new()),
            other => Err((
                format!(
                    "\"{field}\": a non-empty string{}",
                    if required { " (required)" } else { "" }
                ),
                other.map_or_else(|| "nothing".to_owned(), Value::to_string),
            )),
        }
    };
    let issuer = text("issuer", true)?;
    check_url(urls, JWT_ISSUERS, &issuer, UrlRule::Issuer).map_err(|e| in_field("issuer", e))?;
    let audiences = field_entries(fields, "audience")
        .map_err(|e| in_field("audience", e))?
        .map(|items| list(&items))
        .unwrap_or_default();
    if audiences.is_empty() {
        return Err((
            "\"audience\": a comma-separated string or an array of at least one audience \
             (required)"
                .to_owned(),
            fields
                .get("audience")
                .map_or_else(|| "nothing".to_owned(), Value::to_string),
        ));
    }
    let jwks_url = text("jwks_url", false)?;
    if !jwks_url.is_empty() {
        check_url(urls, JWT_ISSUERS, &jwks_url, UrlRule::Jwks)
            .map_err(|e| in_field("jwks_url", e))?;
    }
    let algorithms = match fields.get("algorithms") {
        None => None,
        Some(value) => Some(
            Var::new(JWT_ISSUERS, Some(value.clone().into()))
                .entries(ListShape::Comma)
                .and_then(|entries| algorithms(&entries))
                .map_err(|e| in_field("algorithms", e))?,
        ),
    };
    let claim_headers = field_entries(fields, "claim_headers")
        .map_err(|e| in_field("claim_headers", e))?
        .map(|items| {
            claim_headers(&items, origin_auth_header).map_err(|e| in_field("claim_headers", e))
        })
        .transpose()?;
    let name = text("name", false)?;
    let name = if name.is_empty() {
        issuer.clone()
    } else if name.len() <= 64 && name.bytes().all(is_name_byte) {
        name
    } else {
        return Err((
            "\"name\": 1 to 64 letters, digits, '-', '_', '.' or ':'".to_owned(),
            name,
        ));
    };
    Ok(ProviderSpec {
        name,
        location: location(&issuer, &jwks_url),
        issuer,
        audiences,
        algorithms,
        claim_headers,
    })
}

fn is_name_byte(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || b"-_.:".contains(&byte)
}

/// A list field (a comma-separated string or an array of strings), `None` when absent.
fn field_entries(
    fields: &Map<String, Value>,
    field: &str,
) -> Result<Option<Vec<String>>, ConfigError> {
    fields
        .get(field)
        .map(|value| {
            Var::new(JWT_ISSUERS, Some(value.clone().into()))
                .entries(ListShape::Comma)
                .map(|entries| entries.items)
        })
        .transpose()
}

/// `ROUTE_ISSUERS`: rules like `ROUTE_SCOPES`'s whose values name providers.
pub(super) fn route_issuers(
    entries: &[String],
    names: &[&str],
) -> Result<Vec<RouteScope>, ConfigError> {
    super::route_rules("ROUTE_ISSUERS", "provider", entries, |rule| {
        match rule
            .scopes
            .iter()
            .find(|name| !names.contains(&name.as_str()))
        {
            Some(unknown) => Err(format!(
                "{unknown:?} is not a provider (names: {})",
                names.join(", ")
            )),
            None => Ok(()),
        }
    })
}
