//! Which requests need a token, and which scopes a token needs: `PUBLIC_PATHS`, `ROUTE_SCOPES`
//! and CORS preflight.
//!
//! All matching is on the raw request path, as received and without its query: nothing is
//! percent-decoded and no dot segment is resolved. A configured path `P` covers a request path
//! when the path equals `P` or continues it with `/` (segment-aware: `/health` covers `/health`,
//! `/health/` and `/health/live`, never `/healthz`); `/` covers every path.

use serde_json::{Map, Value};

use crate::answer::GatewayError;
use crate::config::RouteScope;

/// Whether the configured `prefix` covers `path` segment by segment (see the module docs).
///
/// `prefix` is normally a configured path, which has no trailing `/`; a trailing `/` is ignored
/// all the same, so `/health/` behaves like `/health`.
fn covers(prefix: &str, path: &str) -> bool {
    let prefix = prefix.trim_end_matches('/');
    if prefix.is_empty() {
        // `/` (or `//`...): every path.
        return true;
    }
    match path.strip_prefix(prefix) {
        Some(rest) => rest.is_empty() || rest.starts_with('/'),
        None => false,
    }
}

/// Whether the origin could read `path` as a different path than the gateway does.
///
/// That is the case when the path has a dot segment (`.` or `..`, also with `;parameters` as
/// some servers strip them: `/..;/`), a backslash (which some servers treat as `/`), or a
/// percent-encoded dot, slash or backslash (`%2e`, `%2f`, `%5c`, any case), which the origin may
/// decode before routing. Browsers and the Workers runtime resolve plain dot segments before the
/// gateway sees a URL, so such paths come from hand-made requests.
pub fn is_ambiguous_path(path: &str) -> bool {
    if path.contains('\\') {
        return true;
    }
    let lower = path.to_ascii_lowercase();
    if ["%2e", "%2f", "%5c"]
        .iter()
        .any(|code| lower.contains(code))
    {
        return true;
    }
    path.split('/').skip(1).any(|segment| {
        let name = segment.split(';').next().unwrap_or(segment);
        name == "." || name == ".."
    })
}

/// Whether `path` (the raw request path, without the query) is forwarded without a token.
///
/// A path is public when one of `public_paths` covers it segment by segment: `/health` covers
/// `/health`, `/health/` and `/health/x`, not `/healthz`; `/` covers everything.
///
/// An [ambiguous](is_ambiguous_path) path — one with `/../`, `/./`, a trailing `/..` or `/.`, a
/// percent-encoded dot or slash (`%2e`, `%2f`, any case) or a backslash — is never public, even
/// under `/`: the origin may normalise it into a different path than the one compared here, and
/// a public prefix must not stretch over a protected path that way (`/health/../orders`).
pub fn is_public(path: &str, public_paths: &[String]) -> bool {
    !is_ambiguous_path(path) && public_paths.iter().any(|prefix| covers(prefix, path))
}

/// The scopes `method` on `path` requires under `rules` (`ROUTE_SCOPES`), or `None` when no
/// rule applies (a valid token is then enough).
///
/// A rule applies when its path covers `path` segment by segment (as in [`is_public`]) and its
/// method is unset or equals `method`, ignoring case. Of several applicable rules the one with
/// the longest path wins; at equal length a rule with a method beats one without; remaining ties
/// go to the rule given first.
///
/// Like [`is_public`] this compares the raw path. The caller should refuse
/// [ambiguous](is_ambiguous_path) paths on protected routes, since `/public/../admin` matches the
/// rules for `/public` here but may reach `/admin` at the origin.
pub fn required_scopes<'a>(
    method: &str,
    path: &str,
    rules: &'a [RouteScope],
) -> Option<&'a [String]> {
    let mut best: Option<(&RouteScope, (usize, bool))> = None;
    for rule in rules {
        let method_matches = rule
            .method
            .as_deref()
            .is_none_or(|m| m.eq_ignore_ascii_case(method));
        if !method_matches || !covers(&rule.path, path) {
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

    #[test]
    fn public_prefixes_are_segment_aware() {
        let public = strings(&["/health", "/docs/v1"]);
        for path in ["/health", "/health/", "/health/live", "/docs/v1/a/b"] {
            assert!(is_public(path, &public), "{path}");
        }
        for path in [
            "/healthz",
            "/health-check",
            "/",
            "/docs",
            "/docs/v10",
            "/orders",
        ] {
            assert!(!is_public(path, &public), "{path}");
        }
    }

    #[test]
    fn the_root_is_a_prefix_of_everything() {
        let public = strings(&["/"]);
        for path in ["/", "/health", "/orders/42", "/a/b/"] {
            assert!(is_public(path, &public), "{path}");
        }
    }

    #[test]
    fn no_public_paths_means_nothing_is_public() {
        assert!(!is_public("/", &[]));
        assert!(!is_public("/health", &[]));
    }

    #[test]
    fn comparison_is_on_the_raw_path() {
        // No decoding: an encoded letter is a different path, and case matters.
        let public = strings(&["/health"]);
        assert!(!is_public("/h%65alth", &public));
        assert!(!is_public("/Health", &public));
        // A configured path with a trailing slash still behaves segment-aware.
        assert!(is_public("/health/x", &strings(&["/health/"])));
        assert!(!is_public("/healthz", &strings(&["/health/"])));
    }

    #[test]
    fn dot_segments_are_never_public() {
        let public = strings(&["/health", "/"]);
        for path in [
            "/health/../orders",
            "/health/./x",
            "/health/..",
            "/health/.",
            "/../orders",
            "/health/..;/orders",
            "/health/.;x/orders",
        ] {
            assert!(is_ambiguous_path(path), "{path}");
            assert!(!is_public(path, &public), "{path}");
        }
    }

    #[test]
    fn encoded_dots_and_slashes_are_never_public() {
        let public = strings(&["/health", "/"]);
        for path in [
            "/health/%2e%2e/orders",
            "/health/%2E%2E/orders",
            "/health/.%2e/orders",
            "/health/%2E./orders",
            "/health%2f..%2forders",
            "/health%2F..%2Forders",
            "/health/%5c../orders",
            "/health\\..\\orders",
        ] {
            assert!(is_ambiguous_path(path), "{path}");
            assert!(!is_public(path, &public), "{path}");
        }
    }

    #[test]
    fn dots_inside_names_are_fine() {
        let public = strings(&["/health"]);
        for path in [
            "/health/v1.2",
            "/health/...",
            "/health/.well-known",
            "/health/a..b",
        ] {
            assert!(!is_ambiguous_path(path), "{path}");
            assert!(is_public(path, &public), "{path}");
        }
        // Other encodings are left alone.
        assert!(is_public("/health/a%20b", &public));
    }

    #[test]
    fn no_rule_means_no_scope() {
        let rules = [rule(None, "/orders", &["orders:read"])];
        assert_eq!(required_scopes("GET", "/customers", &rules), None);
        assert_eq!(required_scopes("GET", "/ordersx", &rules), None);
        assert_eq!(required_scopes("GET", "/", &[]), None);
    }

    #[test]
    fn scope_rules_are_segment_aware() {
        let rules = [rule(None, "/orders", &["orders:read"])];
        for path in ["/orders", "/orders/", "/orders/42/items"] {
            assert_eq!(
                required_scopes("GET", path, &rules),
                Some(&strings(&["orders:read"])[..]),
                "{path}"
            );
        }
    }

    #[test]
    fn methods_match_case_insensitively() {
        let rules = [rule(Some("POST"), "/orders", &["orders:write"])];
        assert_eq!(
            required_scopes("post", "/orders", &rules),
            Some(&strings(&["orders:write"])[..])
        );
        assert_eq!(required_scopes("GET", "/orders", &rules), None);
    }

    #[test]
    fn the_longest_path_wins() {
        let rules = [
            rule(None, "/", &["any"]),
            rule(Some("GET"), "/orders", &["orders:read"]),
            rule(None, "/orders/export", &["orders:export"]),
        ];
        let scopes = |method, path| required_scopes(method, path, &rules).map(<[String]>::to_vec);
        assert_eq!(
            scopes("GET", "/orders/export/x"),
            Some(strings(&["orders:export"]))
        );
        // A longer method-less rule beats a shorter rule for the method.
        assert_eq!(
            scopes("GET", "/orders/export"),
            Some(strings(&["orders:export"]))
        );
        assert_eq!(scopes("GET", "/orders/1"), Some(strings(&["orders:read"])));
        assert_eq!(scopes("DELETE", "/orders/1"), Some(strings(&["any"])));
        assert_eq!(scopes("GET", "/customers"), Some(strings(&["any"])));
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
            let scopes =
                |method| required_scopes(method, "/orders/1", &rules).map(<[String]>::to_vec);
            assert_eq!(scopes("POST"), Some(strings(&["orders:write"])));
            assert_eq!(scopes("GET"), Some(strings(&["orders"])));
        }
    }

    #[test]
    fn equal_rules_go_to_the_first() {
        // The configuration refuses exact duplicates, but a trailing slash is not compared.
        let rules = [rule(None, "/a", &["first"]), rule(None, "/a/", &["second"])];
        assert_eq!(
            required_scopes("GET", "/a/b", &rules),
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
