//! The verified identity, as request headers for the origin.
//!
//! Every forwarded request carries:
//!
//! | header           | value                                                        |
//! |------------------|--------------------------------------------------------------|
//! | `x-auth-subject` | `sub`, when it is a string                                   |
//! | `x-auth-issuer`  | `iss`, when it is a string                                   |
//! | `x-auth-claims`  | the whole payload as compact JSON, base64url without padding |
//!
//! followed by one header per `CLAIM_HEADERS` entry. The origin can trust these headers only
//! because the gateway strips every header of the same names from the client's request
//! ([`crate::gateway::client_headers::stripped`]) before adding them.
//!
//! Header values are safe by construction: a value with a control character (CR, LF, NUL, tab,
//! DEL...) or a character outside visible ASCII and space is dropped rather than forwarded or
//! repaired, so a claim can never forge a line break or a header of its own. The complete
//! claims, whatever they contain, are always in `x-auth-claims`.

use std::str::FromStr;

use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::{Map, Value};

use crate::gateway::client_headers::{normalized, stripped, Stripped};
use crate::gateway::is_token;

/// One `CLAIM_HEADERS` entry: the claim at `claim` is sent to the origin in `header`. Parsed
/// from `claim.path=Header-Name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClaimHeader {
    /// The claim's path: member names from the top of the payload, none empty
    /// (`realm_access.roles` is `["realm_access", "roles"]`).
    pub claim: Vec<String>,
    /// The header name as configured (a valid HTTP field name; compare by
    /// [normalised](crate::gateway::client_headers::normalized) name).
    pub header: String,
}

/// Why a `CLAIM_HEADERS` entry was refused; `Display` says what a valid entry needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ClaimHeaderError {
    /// No `=` between the claim and the header.
    #[error("'=' between the claim and the header")]
    MissingEquals,
    /// An empty member name in the claim path.
    #[error("a claim path of non-empty names separated by '.'")]
    ClaimPath,
    /// A header name that is not an HTTP token.
    #[error("a header name made of HTTP token characters")]
    HeaderName,
    /// A header the gateway or the platform owns.
    #[error(
        "a header the gateway does not own (not Authorization, Cookie, Host, Content-Length, a \
         hop-by-hop, client-address, method-override or path-rewrite header, or CF-*)"
    )]
    Reserved,
}

/// Headers a claim may not be sent in, besides those the gateway
/// [strips](crate::gateway::client_headers) for another reason than identity (hop-by-hop, `Host`,
/// client address, method override, path rewrite) and `CF-*`: credentials and framing.
const RESERVED_HEADERS: &[&str] = &["authorization", "content-length", "cookie"];

/// Whether the gateway or the platform owns the header `name` (any case, `_` or `-`):
/// credentials, framing, `CF-*`, and every header stripped for another reason than identity.
pub(crate) fn is_reserved_header(name: &str) -> bool {
    let name = normalized(name);
    RESERVED_HEADERS.contains(&name.as_str())
        || name.starts_with("cf-")
        || stripped(&name, &[]).is_some_and(|why| why != Stripped::Identity)
}

impl FromStr for ClaimHeader {
    type Err = ClaimHeaderError;

    fn from_str(entry: &str) -> Result<ClaimHeader, ClaimHeaderError> {
        let (claim, header) = entry
            .split_once('=')
            .ok_or(ClaimHeaderError::MissingEquals)?;
        let (claim, header) = (claim.trim(), header.trim());
        let segments: Vec<String> = claim.split('.').map(str::to_owned).collect();
        if segments.iter().any(String::is_empty) {
            return Err(ClaimHeaderError::ClaimPath);
        }
        if !is_token(header) {
            return Err(ClaimHeaderError::HeaderName);
        }
        if is_reserved_header(header) {
            return Err(ClaimHeaderError::Reserved);
        }
        Ok(ClaimHeader {
            claim: segments,
            header: header.to_owned(),
        })
    }
}

/// The token's `sub`.
pub const SUBJECT_HEADER: &str = "x-auth-subject";
/// The token's `iss`.
pub const ISSUER_HEADER: &str = "x-auth-issuer";
/// The token's whole payload: compact JSON, base64url without padding.
pub const CLAIMS_HEADER: &str = "x-auth-claims";

/// Whether `value` may be sent as a header value: visible ASCII and space only.
///
/// Control characters are refused so that no claim can end a header line (CR, LF) or truncate
/// one (NUL). Non-ASCII is refused as well: Workers header values are byte strings, so a
/// character above U+00FF cannot be sent at all and U+0080 to U+00FF would reach the origin as
/// Latin-1 rather than the UTF-8 the token holds.
fn is_safe_value(value: &str) -> bool {
    value.bytes().all(|b| b == b' ' || b.is_ascii_graphic())
}

/// The value at `path` (member names from the top of the payload), if every step is an object
/// that has the member.
fn claim_at<'a>(claims: &'a Map<String, Value>, path: &[String]) -> Option<&'a Value> {
    let (first, rest) = path.split_first()?;
    rest.iter().try_fold(claims.get(first)?, |value, name| {
        value.as_object()?.get(name)
    })
}

/// A scalar as header text: strings as they are, numbers and booleans in JSON form.
fn scalar_text(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(text.clone()),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(flag) => Some(flag.to_string()),
        Value::Null | Value::Array(_) | Value::Object(_) => None,
    }
}

/// A claim as header text: a scalar, or an array of scalars joined with `,` (an empty array is
/// an empty value). `None` for objects, `null`, arrays holding anything else, and arrays with a
/// string that itself contains `,` (which would read as two elements at the origin).
fn header_text(value: &Value) -> Option<String> {
    match value {
        Value::Array(items) => {
            let texts = items
                .iter()
                .map(|item| match item {
                    Value::String(text) if text.contains(',') => None,
                    item => scalar_text(item),
                })
                .collect::<Option<Vec<String>>>()?;
            Some(texts.join(","))
        }
        value => scalar_text(value),
    }
}

/// The identity headers for verified `claims`, names lowercase, in this order: `x-auth-subject`,
/// `x-auth-issuer`, `x-auth-claims`, then one per `claim_headers` entry in configured order.
///
/// `x-auth-subject` and `x-auth-issuer` need string claims. A configured header takes the claim
/// at its path: strings as they are, numbers and booleans in JSON form, arrays of those joined
/// with `,` (`realm_access.roles` → `admin,user`); objects, `null` and missing claims send no
/// header. Each name is sent at most once and the first value wins, so a configured header named
/// like a built-in one (`X-Auth-Subject`) is only sent when the built-in one is not.
///
/// Any value that is not visible ASCII and space (a CR, LF, NUL or other control character,
/// or non-ASCII text) drops its header instead of being forwarded: a claim must never forge a
/// line break or a second header.
pub fn identity_headers(
    claims: &Map<String, Value>,
    claim_headers: &[ClaimHeader],
) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = Vec::new();
    let mut push = |name: String, value: Option<String>| {
        if let Some(value) = value {
            if is_safe_value(&value) && !headers.iter().any(|(other, _)| *other == name) {
                headers.push((name, value));
            }
        }
    };
    let string = |name: &str| claims.get(name).and_then(Value::as_str).map(str::to_owned);
    push(SUBJECT_HEADER.to_owned(), string("sub"));
    push(ISSUER_HEADER.to_owned(), string("iss"));
    // Serialising a map of JSON values cannot fail.
    let json = serde_json::to_string(claims).unwrap_or_default();
    push(
        CLAIMS_HEADER.to_owned(),
        Some(Base64UrlUnpadded::encode_string(json.as_bytes())),
    );
    for entry in claim_headers {
        push(
            entry.header.to_ascii_lowercase(),
            claim_at(claims, &entry.claim).and_then(header_text),
        );
    }
    headers
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn entry(path: &str, header: &str) -> ClaimHeader {
        ClaimHeader {
            claim: path.split('.').map(str::to_owned).collect(),
            header: header.to_owned(),
        }
    }

    fn get<'a>(headers: &'a [(String, String)], name: &str) -> Option<&'a str> {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    fn decoded_claims(headers: &[(String, String)]) -> Value {
        let text = get(headers, CLAIMS_HEADER).expect("x-auth-claims");
        serde_json::from_slice(&Base64UrlUnpadded::decode_vec(text).unwrap()).unwrap()
    }

    #[test]
    fn the_built_in_headers() {
        let payload = json!({
            "sub": "user-1",
            "iss": "https://login.example.com",
            "aud": "orders-api",
            "exp": 1_700_000_000,
        });
        let headers = identity_headers(&claims(payload.clone()), &[]);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [SUBJECT_HEADER, ISSUER_HEADER, CLAIMS_HEADER]);
        assert_eq!(get(&headers, SUBJECT_HEADER), Some("user-1"));
        assert_eq!(
            get(&headers, ISSUER_HEADER),
            Some("https://login.example.com")
        );
        assert_eq!(decoded_claims(&headers), payload);
    }

    #[test]
    fn the_claims_header_is_compact_unpadded_base64url() {
        let map = claims(json!({"sub": "a", "n": [1, 2], "x": {"y": "??>>"}}));
        let headers = identity_headers(&map, &[]);
        let value = get(&headers, CLAIMS_HEADER).unwrap();
        assert_eq!(
            value,
            Base64UrlUnpadded::encode_string(serde_json::to_string(&map).unwrap().as_bytes())
        );
        assert!(!value.contains(['=', '+', '/']), "{value}");
        let json = Base64UrlUnpadded::decode_vec(value).unwrap();
        assert!(!json.contains(&b' ') && !json.contains(&b'\n'));
    }

    #[test]
    fn the_claims_header_is_sent_even_for_unsafe_claims() {
        let map = claims(json!({"sub": "evil\r\nX-Admin: 1", "iss": 7}));
        let headers = identity_headers(&map, &[]);
        assert_eq!(get(&headers, SUBJECT_HEADER), None);
        assert_eq!(get(&headers, ISSUER_HEADER), None);
        assert_eq!(decoded_claims(&headers), json!(map));
    }

    #[test]
    fn subject_and_issuer_must_be_strings() {
        let headers = identity_headers(&claims(json!({"sub": 42, "iss": ["a"]})), &[]);
        assert_eq!(get(&headers, SUBJECT_HEADER), None);
        assert_eq!(get(&headers, ISSUER_HEADER), None);
        assert!(get(&headers, CLAIMS_HEADER).is_some());
        let empty = identity_headers(&Map::new(), &[]);
        assert_eq!(empty.len(), 1);
        assert_eq!(decoded_claims(&empty), json!({}));
    }

    #[test]
    fn configured_claims_become_headers() {
        let map = claims(json!({
            "sub": "u",
            "iss": "https://login.example.com",
            "email": "u@example.com",
            "age": 42,
            "ratio": 0.5,
            "admin": true,
            "realm_access": {"roles": ["admin", "user"]},
            "mixed": ["a", 1, false],
            "empty": [],
        }));
        let config = [
            entry("email", "X-User-Email"),
            entry("age", "X-User-Age"),
            entry("ratio", "X-Ratio"),
            entry("admin", "X-Admin"),
            entry("realm_access.roles", "X-Auth-Roles"),
            entry("mixed", "X-Mixed"),
            entry("empty", "X-Empty"),
        ];
        let headers = identity_headers(&map, &config);
        assert_eq!(
            &headers[3..],
            [
                ("x-user-email", "u@example.com"),
                ("x-user-age", "42"),
                ("x-ratio", "0.5"),
                ("x-admin", "true"),
                ("x-auth-roles", "admin,user"),
                ("x-mixed", "a,1,false"),
                ("x-empty", ""),
            ]
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
        );
    }

    #[test]
    fn objects_null_and_missing_claims_send_no_header() {
        let map = claims(json!({
            "obj": {"a": 1},
            "nul": null,
            "nested": [["a"]],
            "objs": [{"a": 1}],
            "nulls": ["a", null],
            "text": "plain",
            "realm_access": {"roles": "r"},
        }));
        let config = [
            entry("obj", "X-1"),
            entry("nul", "X-2"),
            entry("nested", "X-3"),
            entry("objs", "X-4"),
            entry("nulls", "X-5"),
            entry("missing", "X-6"),
            entry("text.deeper", "X-7"),
            entry("realm_access.missing", "X-8"),
            entry("realm_access.roles.x", "X-9"),
            entry("realm_access", "X-10"),
        ];
        let headers = identity_headers(&map, &config);
        assert_eq!(headers.len(), 1, "{headers:?}");
        // A path that reaches a string gives it.
        let headers = identity_headers(&map, &[entry("realm_access.roles", "X-R")]);
        assert_eq!(get(&headers, "x-r"), Some("r"));
    }

    #[test]
    fn a_line_break_in_a_claim_drops_its_header() {
        let map = claims(json!({
            "sub": "ok",
            "email": "a@example.com\r\nX-Auth-Subject: admin",
            "lf": "a\nb",
            "cr": "a\rb",
            "nul": "a\u{0}b",
            "tab": "a\tb",
            "del": "a\u{7f}b",
            "c1": "a\u{85}b",
            "roles": ["user", "admin\r\nX-Evil: 1"],
            "name": "Jürgen",
            "fine": "a b",
        }));
        let config = [
            entry("email", "X-Email"),
            entry("lf", "X-Lf"),
            entry("cr", "X-Cr"),
            entry("nul", "X-Nul"),
            entry("tab", "X-Tab"),
            entry("del", "X-Del"),
            entry("c1", "X-C1"),
            entry("roles", "X-Roles"),
            entry("name", "X-Name"),
            entry("fine", "X-Fine"),
        ];
        let headers = identity_headers(&map, &config);
        let names: Vec<&str> = headers.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, [SUBJECT_HEADER, CLAIMS_HEADER, "x-fine"]);
        assert_eq!(get(&headers, SUBJECT_HEADER), Some("ok"));
        for (_, value) in &headers {
            assert!(value.bytes().all(|b| b == b' ' || b.is_ascii_graphic()));
        }
    }

    #[test]
    fn a_comma_inside_an_array_element_drops_the_header() {
        let map = claims(json!({"roles": ["user", "admin,auditor"], "plain": "a,b"}));
        let headers = identity_headers(
            &map,
            &[entry("roles", "X-Roles"), entry("plain", "X-Plain")],
        );
        assert_eq!(get(&headers, "x-roles"), None);
        // A single string keeps its commas: there is nothing to confuse it with.
        assert_eq!(get(&headers, "x-plain"), Some("a,b"));
    }

    #[test]
    fn built_in_names_are_sent_once() {
        let map = claims(json!({"sub": "real", "email": "e@example.com"}));
        let headers = identity_headers(
            &map,
            &[
                entry("email", "X-Auth-Subject"),
                entry("sub", "X-AUTH-CLAIMS"),
            ],
        );
        assert_eq!(headers.len(), 2, "{headers:?}");
        assert_eq!(get(&headers, SUBJECT_HEADER), Some("real"));
        // `sub=X-Auth-Subject` (the same meaning) is harmless.
        let headers = identity_headers(&map, &[entry("sub", "X-Auth-Subject")]);
        assert_eq!(headers.len(), 2);
    }

    #[test]
    fn a_configured_header_fills_in_when_the_built_in_is_absent() {
        // No string `sub`: the configured header of that name carries its own claim.
        let map = claims(json!({"sub": 5, "uid": "u-5"}));
        let headers = identity_headers(&map, &[entry("uid", "X-Auth-Subject")]);
        assert_eq!(get(&headers, SUBJECT_HEADER), Some("u-5"));
        assert_eq!(
            headers.iter().filter(|(n, _)| n == SUBJECT_HEADER).count(),
            1
        );
    }
}
