//! Every way a request can fail at the gateway, and the RFC 6750 answer for each: the one place
//! where errors become HTTP status, `WWW-Authenticate`, `Retry-After`, `Allow` and JSON body.
//!
//! Every challenge (400, 401 and 403) names the RFC 9728 metadata URL in `resource_metadata`
//! when the gateway serves the metadata (`RESOURCE_METADATA`): section 5.1 defines it for the
//! 401 and allows it in any other `WWW-Authenticate` answer, and a client refused for a scope
//! finds the scopes in the same document.

use serde_json::{json, Value};
use std::borrow::Cow;

use crate::jws::error::Rejection;
use crate::keys::ResolveError;

/// Why the gateway refuses a request.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum GatewayError {
    /// No credentials at all: 401 with a bare challenge (RFC 6750 section 3.1).
    NoCredentials,
    /// A malformed `Authorization` header or request: 400 `invalid_request`.
    InvalidRequest(&'static str),
    /// The token was rejected: 401 `invalid_token`.
    InvalidToken(Rejection),
    /// The token is valid, but its issuer's tokens are not accepted on this route
    /// (`ROUTE_ISSUERS`): 401 `invalid_token`.
    IssuerNotAccepted,
    /// The token lacks a scope the route needs: 403 `insufficient_scope`.
    InsufficientScope {
        /// The scopes the route requires (space-separated in the answer).
        required: Vec<String>,
    },
    /// No key set is available (provider down, nothing cached): 503 with `Retry-After`.
    KeysUnavailable {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The configuration is invalid: 500, and nothing is forwarded.
    Misconfigured,
    /// The origin could not be reached: 502.
    OriginUnreachable,
    /// The origin did not answer in time (`ORIGIN_TIMEOUT_MS`): 504.
    OriginTimeout,
    /// The route does not exist on the gateway itself: 404.
    NotFound,
    /// A gateway endpoint asked with a method it does not answer: 405 with `Allow`.
    MethodNotAllowed {
        /// The methods it answers (`Allow`).
        allow: &'static str,
    },
}

impl GatewayError {
    /// The answer when the key cache has no key set for a token with `kid`.
    pub fn from_resolve(error: ResolveError, kid: Option<&str>) -> GatewayError {
        match error {
            ResolveError::UnknownKey => GatewayError::InvalidToken(Rejection::unknown_key(kid)),
            ResolveError::Unavailable { retry_after, .. } => {
                GatewayError::KeysUnavailable { retry_after }
            }
        }
    }
}

impl GatewayError {
    /// The HTTP status of the answer.
    pub const fn status(&self) -> u16 {
        match self {
            GatewayError::NoCredentials
            | GatewayError::InvalidToken(_)
            | GatewayError::IssuerNotAccepted => 401,
            GatewayError::InvalidRequest(_) => 400,
            GatewayError::InsufficientScope { .. } => 403,
            GatewayError::NotFound => 404,
            GatewayError::MethodNotAllowed { .. } => 405,
            GatewayError::Misconfigured => 500,
            GatewayError::OriginUnreachable => 502,
            GatewayError::KeysUnavailable { .. } => 503,
            GatewayError::OriginTimeout => 504,
        }
    }

    /// The stable code of logs and metrics: a token's [`Rejection::code`], else one per kind
    /// (`no_credentials`, `invalid_request`, `issuer_not_accepted`, `insufficient_scope`,
    /// `not_found`, `method_not_allowed`, `keys_unavailable`, `gateway_misconfigured`,
    /// `origin_unreachable`, `origin_timeout`).
    pub const fn code(&self) -> &'static str {
        match self {
            GatewayError::NoCredentials => "no_credentials",
            GatewayError::InvalidRequest(_) => "invalid_request",
            GatewayError::InvalidToken(rejection) => rejection.code(),
            GatewayError::IssuerNotAccepted => "issuer_not_accepted",
            GatewayError::InsufficientScope { .. } => "insufficient_scope",
            GatewayError::KeysUnavailable { .. } => "keys_unavailable",
            GatewayError::Misconfigured => "gateway_misconfigured",
            GatewayError::OriginUnreachable => "origin_unreachable",
            GatewayError::OriginTimeout => "origin_timeout",
            GatewayError::NotFound => "not_found",
            GatewayError::MethodNotAllowed { .. } => "method_not_allowed",
        }
    }
}

/// The HTTP form of a [`GatewayError`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ErrorAnswer {
    /// Status code.
    pub status: u16,
    /// `WWW-Authenticate` value, for 400/401/403.
    pub www_authenticate: Option<String>,
    /// `Retry-After` seconds, for 503.
    pub retry_after: Option<u64>,
    /// `Allow`, for 405.
    pub allow: Option<&'static str>,
    /// JSON body: `{"error": .., "error_description": ..}`.
    pub body: Value,
}

impl GatewayError {
    /// The answer, with `realm` in the challenge and no metadata URL.
    pub fn answer(&self, realm: &str) -> ErrorAnswer {
        self.answer_in(realm, None)
    }

    /// The answer, with `realm` and, when given, `resource_metadata` (the RFC 9728 metadata
    /// URL) in the challenge. The URL is one the gateway built; one that a quoted-string cannot
    /// carry as it is (a `"`, a `\`, anything but printable ASCII) is left out rather than
    /// altered, so a challenge never names a URL other than the metadata's.
    pub fn answer_in(&self, realm: &str, resource_metadata: Option<&str>) -> ErrorAnswer {
        let resource_metadata = resource_metadata.filter(|url| is_quotable(url));
        // Every other parameter value goes through `quoted_safe`, so no description or scope
        // can end the quoted-string early (RFC 7235 section 2.1).
        // Written in place, piece by piece: no intermediate string per parameter.
        let challenge = |error: Option<&str>, param: Option<(&str, &str)>| {
            let mut text = String::with_capacity(128);
            let mut parameter = |name: &str, value: &str| {
                text.push_str(if text.is_empty() { "Bearer " } else { ", " });
                text.push_str(name);
                text.push_str("=\"");
                text.push_str(value);
                text.push('"');
            };
            parameter("realm", &quoted_safe(realm));
            if let Some(error) = error {
                parameter("error", &quoted_safe(error));
            }
            if let Some((name, value)) = param {
                parameter(name, &quoted_safe(value));
            }
            if let Some(url) = resource_metadata {
                parameter("resource_metadata", url);
            }
            Some(text)
        };
        let (www_authenticate, retry_after, error, description) = match self {
            GatewayError::NoCredentials => (
                challenge(None, None),
                None,
                "unauthorized",
                "a bearer token is required".to_owned(),
            ),
            GatewayError::InvalidRequest(why) => (
                challenge(Some("invalid_request"), Some(("error_description", why))),
                None,
                "invalid_request",
                (*why).to_owned(),
            ),
            GatewayError::InvalidToken(_) | GatewayError::IssuerNotAccepted => {
                // The stable code first, then what it means.
                let description = match self {
                    GatewayError::InvalidToken(rejection) => {
                        format!("{}: {}", rejection.code(), rejection)
                    }
                    _ => format!(
                        "{}: this route does not accept tokens of this issuer",
                        self.code()
                    ),
                };
                (
                    challenge(
                        Some("invalid_token"),
                        Some(("error_description", &description)),
                    ),
                    None,
                    "invalid_token",
                    description,
                )
            }
            GatewayError::InsufficientScope { required } => {
                let scope = required.join(" ");
                (
                    challenge(Some("insufficient_scope"), Some(("scope", &scope))),
                    None,
                    "insufficient_scope",
                    format!("the token lacks a required scope: {scope}"),
                )
            }
            GatewayError::KeysUnavailable { retry_after } => (
                None,
                Some(*retry_after),
                "temporarily_unavailable",
                "signing keys are unavailable; retry later".to_owned(),
            ),
            GatewayError::Misconfigured => (
                None,
                None,
                "gateway_misconfigured",
                "the gateway is misconfigured; see its logs".to_owned(),
            ),
            GatewayError::OriginUnreachable => (
                None,
                None,
                "bad_gateway",
                "the origin could not be reached".to_owned(),
            ),
            GatewayError::OriginTimeout => (
                None,
                None,
                "gateway_timeout",
                "the origin did not answer in time".to_owned(),
            ),
            GatewayError::NotFound => (
                None,
                None,
                "not_found",
                "no such gateway endpoint".to_owned(),
            ),
            GatewayError::MethodNotAllowed { allow } => (
                None,
                None,
                "method_not_allowed",
                format!("this gateway endpoint answers {allow} only"),
            ),
        };
        ErrorAnswer {
            status: self.status(),
            www_authenticate,
            retry_after,
            allow: match self {
                GatewayError::MethodNotAllowed { allow } => Some(allow),
                _ => None,
            },
            body: json!({ "error": error, "error_description": description }),
        }
    }
}

/// Text safe inside a quoted-string of a challenge: RFC 6750 limits `error_description` to
/// printable ASCII without `"` and `\`. Borrowed when it is already (every rejection's own text),
/// rather than rebuilt a character at a time.
fn quoted_safe(text: &str) -> Cow<'_, str> {
    if is_quotable(text) {
        return Cow::Borrowed(text);
    }
    text.chars()
        .map(|c| match c {
            '"' | '\\' => '\'',
            c if c == ' ' || c.is_ascii_graphic() => c,
            _ => '?',
        })
        .collect()
}

/// Whether `text` fits in a quoted-string as it is: printable ASCII without `"` and `\`.
fn is_quotable(text: &str) -> bool {
    text.bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

/// Extracts the bearer token from an `Authorization` header value (RFC 6750 section 2.1).
/// `None` header → [`GatewayError::NoCredentials`].
pub fn bearer_token(header: Option<&str>) -> Result<&str, GatewayError> {
    let header = header.ok_or(GatewayError::NoCredentials)?;
    let (scheme, rest) = header.split_once(' ').ok_or(GatewayError::InvalidRequest(
        "Authorization is not \"Bearer <token>\"",
    ))?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(GatewayError::InvalidRequest(
            "only the Bearer scheme is accepted",
        ));
    }
    let token = rest.trim_matches(' ');
    if token.is_empty() {
        return Err(GatewayError::InvalidRequest("empty bearer token"));
    }
    // The three are ASCII, so bytes are searched; a token is scanned on every request, and
    // `memchr3` reads 16 bytes at a time (Wasm SIMD; a word at a time without it).
    if memchr::memchr3(b' ', b',', b'\t', token.as_bytes()).is_some() {
        return Err(GatewayError::InvalidRequest("more than one bearer token"));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bearer_header_forms() {
        assert_eq!(bearer_token(Some("Bearer abc.def.ghi")), Ok("abc.def.ghi"));
        assert_eq!(bearer_token(Some("bearer abc")), Ok("abc"));
        assert_eq!(bearer_token(None), Err(GatewayError::NoCredentials));
        for bad in [
            "Basic dXNlcjpwYXNz",
            "Bearer",
            "Bearer ",
            "Bearer a b",
            "Bearer a,b",
            "abc",
        ] {
            assert!(
                matches!(
                    bearer_token(Some(bad)),
                    Err(GatewayError::InvalidRequest(_))
                ),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_challenge_lists_its_parameters_in_order() {
        let url = "https://api.example.com/.well-known/oauth-protected-resource";
        let answer = GatewayError::InvalidToken(Rejection::Expired).answer_in("edge", Some(url));
        let description = format!("{}: {}", Rejection::Expired.code(), Rejection::Expired);
        let expected = format!(
            "Bearer realm=\"edge\", error=\"invalid_token\", \
             error_description=\"{description}\", resource_metadata=\"{url}\""
        );
        assert_eq!(answer.www_authenticate.as_deref(), Some(expected.as_str()));
    }

    #[test]
    fn answers_follow_rfc_6750() {
        let no_credentials = GatewayError::NoCredentials.answer("edge");
        assert_eq!(no_credentials.status, 401);
        assert_eq!(
            no_credentials.www_authenticate.as_deref(),
            Some("Bearer realm=\"edge\"")
        );

        let invalid = GatewayError::InvalidToken(Rejection::Expired).answer("edge");
        assert_eq!(invalid.status, 401);
        let challenge = invalid.www_authenticate.unwrap();
        assert!(challenge.starts_with("Bearer realm=\"edge\", error=\"invalid_token\""));
        assert!(challenge.contains("token_expired"));
        assert_eq!(invalid.body["error"], "invalid_token");

        let unavailable = GatewayError::KeysUnavailable { retry_after: 30 }.answer("edge");
        assert_eq!(
            (unavailable.status, unavailable.retry_after),
            (503, Some(30))
        );

        let scope = GatewayError::InsufficientScope {
            required: vec!["orders:write".to_owned()],
        }
        .answer("edge");
        assert_eq!(scope.status, 403);
        assert!(scope
            .www_authenticate
            .unwrap()
            .contains("scope=\"orders:write\""));
    }

    #[test]
    fn descriptions_cannot_break_the_challenge() {
        let rejection = Rejection::UnknownKey {
            kid: Some("a\"b\\c\nd".to_owned()),
        };
        let challenge = GatewayError::InvalidToken(rejection)
            .answer("edge")
            .www_authenticate
            .unwrap();
        let inner = challenge.split("error_description=\"").nth(1).unwrap();
        assert_eq!(inner.matches('"').count(), 1, "{challenge}");
        assert!(!challenge.contains('\\') && !challenge.contains('\n'));
    }

    /// The auth-params of a `Bearer` challenge, parsed strictly by RFC 7235 section 2.1:
    /// `name="quoted-string"` pairs separated by `,`, no backslash escapes (RFC 6750 values
    /// never need them). `None` when the text does not parse.
    fn parse_challenge(text: &str) -> Option<Vec<(String, String)>> {
        let mut rest = text.strip_prefix("Bearer ")?;
        let mut params = Vec::new();
        loop {
            let (name, after) = rest.split_once("=\"")?;
            if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
                return None;
            }
            let end = after.find('"')?;
            let value = &after[..end];
            if value.contains('\\') || !value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
                return None;
            }
            params.push((name.to_owned(), value.to_owned()));
            rest = &after[end + 1..];
            if rest.is_empty() {
                return Some(params);
            }
            rest = rest.strip_prefix(", ")?;
        }
    }

    #[test]
    fn every_challenge_parses_as_rfc_7235() {
        let mut errors = vec![
            GatewayError::NoCredentials,
            GatewayError::InvalidToken(Rejection::UnknownKey {
                kid: Some("k\"1\\".to_owned()),
            }),
            GatewayError::InsufficientScope {
                required: vec!["a\"b".to_owned(), "c".to_owned()],
            },
        ];
        // Every 400 the gateway can give, from the header parser and the path rules.
        for header in ["Basic x", "Bearer", "Bearer a b", "abc", "Bearer a,b"] {
            errors.push(bearer_token(Some(header)).unwrap_err());
        }
        for path in [
            "/a;b", "/a%2f", "/a%00", "/a%zz", "/./a", "/a\\b", "a", "/a b",
        ] {
            let why = crate::gateway::path::canonicalize(path)
                .unwrap_err()
                .description();
            errors.push(GatewayError::InvalidRequest(why));
        }
        for error in errors {
            let answer = error.answer("edge");
            let challenge = answer.www_authenticate.expect("a challenge");
            let params = parse_challenge(&challenge)
                .unwrap_or_else(|| panic!("{error:?} gives an unparsable challenge: {challenge}"));
            assert_eq!(
                params[0],
                ("realm".to_owned(), "edge".to_owned()),
                "{challenge}"
            );
            if let Some(description) = answer.body["error_description"].as_str() {
                if let Some((_, quoted)) = params.iter().find(|(n, _)| n == "error_description") {
                    // What the JSON body says, minus what a quoted-string cannot carry.
                    assert_eq!(quoted, &quoted_safe(description));
                }
            }
        }
    }

    const METADATA: &str = "https://api.example.com/.well-known/oauth-protected-resource/mcp";

    #[test]
    fn every_challenge_names_the_metadata_url_when_given() {
        let errors = [
            GatewayError::NoCredentials,
            GatewayError::InvalidRequest("more than one bearer token"),
            GatewayError::InvalidToken(Rejection::Expired),
            GatewayError::InsufficientScope {
                required: vec!["orders:write".to_owned()],
            },
        ];
        for error in errors {
            let with = error.answer_in("edge", Some(METADATA));
            let challenge = with.www_authenticate.clone().expect("a challenge");
            let params = parse_challenge(&challenge).expect(&challenge);
            assert_eq!(params[0], ("realm".to_owned(), "edge".to_owned()));
            assert_eq!(
                params.last(),
                Some(&("resource_metadata".to_owned(), METADATA.to_owned())),
                "{challenge}"
            );
            // Nothing else changes.
            let without = error.answer("edge");
            assert_eq!(
                challenge,
                format!(
                    "{}, resource_metadata=\"{METADATA}\"",
                    without.www_authenticate.unwrap()
                )
            );
            assert_eq!(
                (with.status, with.body, with.retry_after),
                (without.status, without.body, without.retry_after)
            );
        }
        // Answers without a challenge stay without one.
        for error in [
            GatewayError::NotFound,
            GatewayError::KeysUnavailable { retry_after: 5 },
            GatewayError::Misconfigured,
            GatewayError::OriginUnreachable,
            GatewayError::MethodNotAllowed { allow: "GET, HEAD" },
        ] {
            assert_eq!(
                error.answer_in("edge", Some(METADATA)).www_authenticate,
                None
            );
        }
    }

    #[test]
    fn a_metadata_url_that_a_quoted_string_cannot_carry_is_left_out() {
        for bad in [
            "https://a\"b.example/.well-known/oauth-protected-resource",
            "https://a.example\\/.well-known/oauth-protected-resource",
            "https://a.example/\n",
            "https://é.example/",
        ] {
            let challenge = GatewayError::NoCredentials
                .answer_in("edge", Some(bad))
                .www_authenticate
                .unwrap();
            assert_eq!(challenge, "Bearer realm=\"edge\"", "{bad:?}");
        }
    }

    #[test]
    fn method_not_allowed_names_the_allowed_methods() {
        let answer = GatewayError::MethodNotAllowed { allow: "GET, HEAD" }.answer("edge");
        assert_eq!(answer.status, 405);
        assert_eq!(answer.allow, Some("GET, HEAD"));
        assert_eq!(answer.www_authenticate, None);
        assert_eq!(answer.body["error"], "method_not_allowed");
        assert_eq!(GatewayError::NotFound.answer("edge").allow, None);
    }

    #[test]
    fn the_empty_credential_answer_is_parsable() {
        let challenge = bearer_token(Some("Bearer"))
            .unwrap_err()
            .answer("edge")
            .www_authenticate
            .unwrap();
        let params = parse_challenge(&challenge).expect(&challenge);
        assert_eq!(params.len(), 3, "{challenge}");
        assert_eq!(
            params[1],
            ("error".to_owned(), "invalid_request".to_owned())
        );
    }
}
