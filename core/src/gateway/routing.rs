//! Which requests need a token, and which scopes a token needs: `PUBLIC_PATHS`, `ROUTE_SCOPES`
//! and CORS preflight.
//!
//! Both are decided on the request's [canonical path](crate::gateway::path), never on the raw one, so a
//! rule cannot be bypassed by spelling a path differently:
//!
//! - scope rules match [`CanonicalPath::key`], case-insensitively (`/ORDERS` is `/orders`); their
//!   paths are stored in that form by the configuration;
//! - public paths stay narrow: a request is public only when its raw path already is its
//!   canonical form (nothing decoded, no slash merged) and a public prefix covers it with the
//!   exact case, so neither decoding nor case folding ever widens a public prefix.
//!
//! A configured path `P` covers a path when the path equals `P` or continues it with `/`
//! ([`covers`]); `/` covers every path. `HEAD` follows the `GET` rules, as frameworks route `HEAD`
//! to `GET` handlers.

use std::str::FromStr;

use serde_json::{Map, Value};

use crate::gateway::answer::GatewayError;
use crate::gateway::is_token;
use crate::gateway::path::{configured, covers, CanonicalPath, CONFIGURED_PATH_RULE};

/// One `ROUTE_SCOPES` rule: requests for `path` (with `method`, if given) need every scope.
/// Parsed from `[METHOD] /path=scope ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteScope {
    /// The HTTP method, uppercase; `None` means any method. Never `HEAD`, which follows `GET`.
    pub method: Option<String>,
    /// The path in [canonical form](crate::gateway::path) and lowercase, starting with `/` and
    /// without a trailing `/` (except `/` itself): rules match case-insensitively.
    pub path: String,
    /// The scopes a token must carry, in the order given, at least one.
    pub scopes: Vec<String>,
}

/// Why a `ROUTE_SCOPES` rule was refused; `Display` says what a valid rule needs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RouteScopeError {
    /// No `=` between the path and the scopes.
    #[error("'=' between the path and the scopes")]
    MissingEquals,
    /// Not an optional method and one path before `=`.
    #[error("an optional method and a path before '='")]
    MethodAndPath,
    /// A `HEAD` rule: `HEAD` follows the `GET` rules.
    #[error("no HEAD rule: HEAD requests follow the GET rules")]
    HeadRule,
    /// A method that is not an HTTP token.
    #[error("a method made of HTTP token characters")]
    Method,
    /// A path without a canonical form.
    #[error("a path {CONFIGURED_PATH_RULE}")]
    Path,
    /// A scope that is not an RFC 6749 `scope-token`.
    #[error("scopes of visible ASCII without '\"' or '\\'")]
    Scope,
    /// No scope after `=`.
    #[error("at least one scope after '='")]
    NoScope,
}

/// RFC 6749 `scope-token`: visible ASCII except `"` and `\`.
fn is_scope_token(text: &str) -> bool {
    !text.is_empty()
        && text
            .bytes()
            .all(|b| b.is_ascii_graphic() && b != b'"' && b != b'\\')
}

impl FromStr for RouteScope {
    type Err = RouteScopeError;

    /// `[METHOD] /path=scope ...`: the method is uppercased, the path made canonical and
    /// lowercase (so `/Orders` and `/orders` are the same rule), duplicate scopes dropped.
    fn from_str(rule: &str) -> Result<RouteScope, RouteScopeError> {
        let (target, scopes) = rule.split_once('=').ok_or(RouteScopeError::MissingEquals)?;
        let words: Vec<&str> = target.split_whitespace().collect();
        let (method, path) = match words[..] {
            [path] => (None, path),
            [method, path] => (Some(method), path),
            _ => return Err(RouteScopeError::MethodAndPath),
        };
        let method = match method {
            Some(method) if method.eq_ignore_ascii_case("HEAD") => {
                return Err(RouteScopeError::HeadRule)
            }
            Some(method) if is_token(method) => Some(method.to_ascii_uppercase()),
            Some(_) => return Err(RouteScopeError::Method),
            None => None,
        };
        let path = configured(path)
            .ok_or(RouteScopeError::Path)?
            .to_ascii_lowercase();
        let mut scope_list: Vec<String> = Vec::new();
        for scope in scopes.split_whitespace() {
            if !is_scope_token(scope) {
                return Err(RouteScopeError::Scope);
            }
            if !scope_list.iter().any(|s| s == scope) {
                scope_list.push(scope.to_owned());
            }
        }
        if scope_list.is_empty() {
            return Err(RouteScopeError::NoScope);
        }
        Ok(RouteScope {
            method,
            path,
            scopes: scope_list,
        })
    }
}

/// Whether a request for `path` (received as `raw`) is forwarded without a token: `raw` is
/// already canonical and one of `public_paths` covers it, case-sensitively.
pub fn is_public(raw: &str, path: &CanonicalPath, public_paths: &[String]) -> bool {
    path.as_sent() == raw && public_paths.iter().any(|prefix| covers(prefix, raw))
}

/// The method whose rules govern `method`: `HEAD` is routed like `GET`.
fn rule_method(method: &str) -> &str {
    if method.eq_ignore_ascii_case("HEAD") {
        "GET"
    } else {
        method
    }
}

/// The scopes `method` on `path` requires under `rules` (`ROUTE_SCOPES`), or `None` when no
/// rule applies (a valid token is then enough).
///
/// A rule applies when its path (lowercase, canonical) covers [`CanonicalPath::key`] and its
/// method is unset or equals `method` ignoring case (`HEAD` counts as `GET`). Of several
/// applicable rules the one with the longest path wins; at equal length a rule with a method
/// beats one without; remaining ties go to the rule given first.
pub fn required_scopes<'a>(
    method: &str,
    path: &CanonicalPath,
    rules: &'a [RouteScope],
) -> Option<&'a [String]> {
    let method = rule_method(method);
    let mut best: Option<(&RouteScope, (usize, bool))> = None;
    for rule in rules {
        let method_matches = rule
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        if !method_matches || !covers(&rule.path, path.key()) {
            continue;
        }
        let rank = (rule.path.trim_end_matches('/').len(), rule.method.is_some());
        if best.is_none_or(|(_, best_rank)| rank > best_rank) {
            best = Some((rule, rank));
        }
    }
    best.map(|(rule, _)| rule.scopes.as_slice())
}

/// Adds the space-separated scopes of `text` to `scopes`, skipping empties and duplicates.
fn push_scopes(scopes: &mut Vec<String>, text: &str) {
    for scope in text.split(' ').filter(|s| !s.is_empty()) {
        if !scopes.iter().any(|s| s == scope) {
            scopes.push(scope.to_owned());
        }
    }
}

/// The scopes a token grants, in order of appearance and without duplicates: the
/// space-separated `scope` string (RFC 8693, RFC 9068) and `scp`, either an array of strings
/// (Azure AD, Okta) or a space-separated string. Both are read when both are present. Values of
/// other types, and non-string array elements, grant nothing.
pub fn granted_scopes(claims: &Map<String, Value>) -> Vec<String> {
    let mut scopes = Vec::new();
    if let Some(Value::String(text)) = claims.get("scope") {
        push_scopes(&mut scopes, text);
    }
    match claims.get("scp") {
        Some(Value::String(text)) => push_scopes(&mut scopes, text),
        Some(Value::Array(items)) => {
            for item in items {
                if let Value::String(text) = item {
                    push_scopes(&mut scopes, text);
                }
            }
        }
        _ => {}
    }
    scopes
}

/// Checks that the token's `claims` grant every scope in `required` (exact, case-sensitive
/// comparison); otherwise [`GatewayError::InsufficientScope`] listing all of `required`.
pub fn check_scopes(required: &[String], claims: &Map<String, Value>) -> Result<(), GatewayError> {
    let granted = granted_scopes(claims);
    if required.iter().all(|scope| granted.contains(scope)) {
        Ok(())
    } else {
        Err(GatewayError::InsufficientScope {
            required: required.to_vec(),
        })
    }
}

/// Whether a request is a CORS preflight: an `OPTIONS` request (any case) that carries
/// `Access-Control-Request-Method`. The header is only looked up for `OPTIONS` requests.
pub fn is_preflight(
    method: &str,
    has_access_control_request_method: impl FnOnce() -> bool,
) -> bool {
    method.eq_ignore_ascii_case("OPTIONS") && has_access_control_request_method()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| (*s).to_owned()).collect()
    }

    fn rule(method: Option<&str>, path: &str, scopes: &[&str]) -> RouteScope {
        RouteScope {
            method: method.map(str::to_owned),
            path: path.to_owned(),
            scopes: strings(scopes),
        }
    }

    fn claims(value: Value) -> Map<String, Value> {
        match value {
            Value::Object(map) => map,
            other => panic!("not an object: {other}"),
        }
    }

    fn canonical(raw: &str) -> CanonicalPath {
        crate::gateway::path::canonicalize(raw).unwrap()
    }

    fn public(raw: &str, paths: &[String]) -> bool {
        is_public(raw, &canonical(raw), paths)
    }

    fn scopes<'a>(method: &str, raw: &str, rules: &'a [RouteScope]) -> Option<&'a [String]> {
        required_scopes(method, &canonical(raw), rules)
    }

    #[test]
    fn public_prefixes_are_segment_aware() {
        let paths = strings(&["/health", "/docs/v1"]);
        for path in ["/health", "/health/", "/health/live", "/docs/v1/a/b"] {
            assert!(public(path, &paths), "{path}");
        }
        for path in [
            "/healthz",
            "/health-check",
            "/",
            "/docs",
            "/docs/v10",
            "/orders",
        ] {
            assert!(!public(path, &paths), "{path}");
        }
    }

    #[test]
    fn the_root_is_a_prefix_of_everything() {
        let paths = strings(&["/"]);
        for path in ["/", "/health", "/orders/42", "/a/b/"] {
            assert!(public(path, &paths), "{path}");
        }
    }

    #[test]
    fn no_public_paths_means_nothing_is_public() {
        assert!(!public("/", &[]));
        assert!(!public("/health", &[]));
    }

    #[test]
    fn public_prefixes_never_widen_by_decoding_merging_or_case() {
        let paths = strings(&["/health"]);
        for raw in [
            "/h%65alth",
            "/Health",
            "/HEALTH/live",
            "//health",
            "/health//live",
            "/%68ealth",
        ] {
            assert!(!public(raw, &paths), "{raw}");
        }
        // Under `/`, a path that needed canonicalisation is still not public.
        assert!(!public("//orders", &strings(&["/"])));
        assert!(!public("/%6Frders", &strings(&["/"])));
    }

    #[test]
    fn rules_match_every_spelling_of_the_path() {
        let rules = [
            rule(Some("POST"), "/orders", &["orders:write"]),
            rule(Some("GET"), "/orders", &["orders:read"]),
        ];
        for raw in [
            "/orders",
            "/ORDERS",
            "/Orders/42",
            "/%6Frders",
            "/%6frders/1",
            "//orders",
            "/orders//1",
        ] {
            assert_eq!(
                scopes("POST", raw, &rules),
                Some(&strings(&["orders:write"])[..]),
                "{raw}"
            );
        }
    }

    #[test]
    fn head_follows_the_get_rules() {
        let rules = [
            rule(Some("GET"), "/orders", &["orders:read"]),
            rule(None, "/", &["any"]),
        ];
        assert_eq!(
            scopes("HEAD", "/orders/1", &rules),
            Some(&strings(&["orders:read"])[..])
        );
        assert_eq!(
            scopes("head", "/orders/1", &rules),
            Some(&strings(&["orders:read"])[..])
        );
        assert_eq!(
            scopes("HEAD", "/other", &rules),
            Some(&strings(&["any"])[..])
        );
    }

    #[test]
    fn no_rule_means_no_scope() {
        let rules = [rule(None, "/orders", &["orders:read"])];
        assert_eq!(scopes("GET", "/customers", &rules), None);
        assert_eq!(scopes("GET", "/ordersx", &rules), None);
        assert_eq!(scopes("GET", "/", &[]), None);
    }

    #[test]
    fn scope_rules_are_segment_aware() {
        let rules = [rule(None, "/orders", &["orders:read"])];
        for path in ["/orders", "/orders/", "/orders/42/items"] {
            assert_eq!(
                scopes("GET", path, &rules),
                Some(&strings(&["orders:read"])[..]),
                "{path}"
            );
        }
    }

    #[test]
    fn methods_match_case_insensitively() {
        let rules = [rule(Some("POST"), "/orders", &["orders:write"])];
        assert_eq!(
            scopes("post", "/orders", &rules),
            Some(&strings(&["orders:write"])[..])
        );
        assert_eq!(scopes("GET", "/orders", &rules), None);
    }

    #[test]
    fn the_longest_path_wins() {
        let rules = [
            rule(None, "/", &["any"]),
            rule(Some("GET"), "/orders", &["orders:read"]),
            rule(None, "/orders/export", &["orders:export"]),
        ];
        let needs = |method, path| scopes(method, path, &rules).map(<[String]>::to_vec);
        assert_eq!(
            needs("GET", "/orders/export/x"),
            Some(strings(&["orders:export"]))
        );
        // A longer method-less rule beats a shorter rule for the method.
        assert_eq!(
            needs("GET", "/orders/export"),
            Some(strings(&["orders:export"]))
        );
        assert_eq!(needs("GET", "/orders/1"), Some(strings(&["orders:read"])));
        assert_eq!(needs("DELETE", "/orders/1"), Some(strings(&["any"])));
        assert_eq!(needs("GET", "/customers"), Some(strings(&["any"])));
    }

    #[test]
    fn a_method_rule_beats_a_methodless_rule_of_equal_length() {
        for rules in [
            [
                rule(None, "/orders", &["orders"]),
                rule(Some("POST"), "/orders", &["orders:write"]),
            ],
            [
                rule(Some("POST"), "/orders", &["orders:write"]),
                rule(None, "/orders", &["orders"]),
            ],
        ] {
            let needs = |method| scopes(method, "/orders/1", &rules).map(<[String]>::to_vec);
            assert_eq!(needs("POST"), Some(strings(&["orders:write"])));
            assert_eq!(needs("GET"), Some(strings(&["orders"])));
        }
    }

    #[test]
    fn equal_rules_go_to_the_first() {
        // The configuration refuses exact duplicates, but a trailing slash is not compared.
        let rules = [rule(None, "/a", &["first"]), rule(None, "/a/", &["second"])];
        assert_eq!(
            scopes("GET", "/a/b", &rules),
            Some(&strings(&["first"])[..])
        );
    }

    #[test]
    fn scopes_come_from_scope_and_scp() {
        assert_eq!(
            granted_scopes(&claims(json!({"scope": " orders:read  orders:write "}))),
            strings(&["orders:read", "orders:write"])
        );
        assert_eq!(
            granted_scopes(&claims(json!({"scp": ["orders:read", "a b", 7, null]}))),
            strings(&["orders:read", "a", "b"])
        );
        assert_eq!(
            granted_scopes(&claims(json!({"scp": "x y"}))),
            strings(&["x", "y"])
        );
        assert_eq!(
            granted_scopes(&claims(json!({"scope": "a b", "scp": ["b", "c"]}))),
            strings(&["a", "b", "c"])
        );
    }

    #[test]
    fn other_scope_types_grant_nothing() {
        for value in [
            json!({}),
            json!({"scope": ["a"]}),
            json!({"scope": 1}),
            json!({"scope": null}),
            json!({"scp": {"a": true}}),
            json!({"scp": true}),
            json!({"scope": "", "scp": []}),
            json!({"scopes": "a"}),
        ] {
            assert!(granted_scopes(&claims(value.clone())).is_empty(), "{value}");
        }
    }

    #[test]
    fn every_required_scope_must_be_granted() {
        let token = claims(json!({"scope": "orders:read", "scp": ["orders:write"]}));
        assert_eq!(check_scopes(&[], &token), Ok(()));
        assert_eq!(
            check_scopes(&strings(&["orders:read", "orders:write"]), &token),
            Ok(())
        );
        let required = strings(&["orders:read", "orders:admin"]);
        assert_eq!(
            check_scopes(&required, &token),
            Err(GatewayError::InsufficientScope {
                required: required.clone()
            })
        );
        // Exact comparison: no prefixes, no case folding.
        assert!(check_scopes(&strings(&["orders"]), &token).is_err());
        assert!(check_scopes(&strings(&["Orders:read"]), &token).is_err());
        assert!(check_scopes(&strings(&["a"]), &Map::new()).is_err());
    }

    #[test]
    fn preflight_needs_options_and_the_request_method_header() {
        assert!(is_preflight("OPTIONS", || true));
        assert!(is_preflight("options", || true));
        assert!(!is_preflight("OPTIONS", || false));
        assert!(!is_preflight("GET", || true));
        assert!(!is_preflight("POST", || false));
    }
}
