//! Property: however a path is spelled, no request reaches the origin whose route, as the
//! origin reads it, needs a scope the token lacks.
//!
//! The origin is modelled as the most lenient of the frameworks in front of which the gateway
//! stands (ASP.NET Core and FastAPI-style apps behind common servers): it decodes every
//! percent-escape (repeatedly, as double-decoding stacks do), strips `;parameters`, merges
//! slashes, resolves dot segments and routes case-insensitively, `HEAD` as `GET`. The scope
//! rules are evaluated again on that reading, by an implementation independent of the
//! gateway's, and every request the gateway forwards must satisfy them.

#[path = "support/gateway.rs"]
#[allow(dead_code)]
mod harness;

use harness::{all_tokens, issued_at, Outcome, Req, TestGateway};
use proptest::prelude::*;

/// `(method or None for any, path, scope)`: the rules of the gateway under test.
const RULES: &[(Option<&str>, &str, &str)] = &[
    (Some("POST"), "/orders", "orders:write"),
    (Some("GET"), "/orders", "orders:read"),
    (Some("DELETE"), "/orders", "orders:admin"),
    (None, "/orders/admin", "orders:admin"),
];
const ROUTE_SCOPES: &str = "POST /orders=orders:write; GET /orders=orders:read; \
                            DELETE /orders=orders:admin; /Orders/Admin=orders:admin";
/// The same with a rule on `/`: every protected route needs `any`.
const ROOT_RULE: (Option<&str>, &str, &str) = (None, "/", "any");
const PUBLIC_PATHS: &str = "/health,/public";

/// Percent-decodes every escape of `text` once (invalid escapes stay as they are).
fn decode_once(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = text
                .get(i + 1..i + 3)
                .filter(|h| h.bytes().all(|b| b.is_ascii_hexdigit()));
            if let Some(value) = hex.and_then(|h| u8::from_str_radix(h, 16).ok()) {
                out.push(value);
                i += 3;
                continue;
            }
        }
        out.push(bytes[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The path as the most lenient origin routes it.
fn origin_reading(path: &str) -> String {
    let mut decoded = path.to_owned();
    loop {
        let next = decode_once(&decoded);
        if next == decoded {
            break;
        }
        decoded = next;
    }
    let decoded = decoded.replace('\\', "/");
    let mut segments: Vec<&str> = Vec::new();
    for segment in decoded.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                segments.pop();
            }
            other => segments.push(other),
        }
    }
    format!("/{}", segments.join("/")).to_lowercase()
}

/// The scope the origin's reading of `method path` needs under `rules`, by longest match.
fn needed(method: &str, path: &str, rules: &[(Option<&str>, &str, &str)]) -> Option<String> {
    let method = method.to_ascii_uppercase();
    let method = if method == "HEAD" {
        "GET".to_owned()
    } else {
        method
    };
    let mut best: Option<((usize, bool), &str)> = None;
    for (rule_method, rule_path, scope) in rules {
        let rule_path = rule_path.to_lowercase();
        let rule_path = rule_path.trim_end_matches('/');
        let covered =
            rule_path.is_empty() || path == rule_path || path.starts_with(&format!("{rule_path}/"));
        if !covered || rule_method.is_some_and(|m| m != method) {
            continue;
        }
        let rank = (rule_path.len(), rule_method.is_some());
        if best.is_none_or(|(best_rank, _)| rank > best_rank) {
            best = Some((rank, scope));
        }
    }
    best.map(|(_, scope)| scope.to_owned())
}

fn is_public_reading(path: &str) -> bool {
    PUBLIC_PATHS
        .split(',')
        .any(|prefix| path == prefix || path.starts_with(&format!("{prefix}/")))
}

/// One spelling of a path segment: letters in either case, some characters percent-encoded
/// (either hex case), and now and then something only an attacker writes.
fn segment() -> impl Strategy<Value = String> {
    let word = prop::sample::select(vec![
        "orders", "orders", "orders", "admin", "health", "public", "42", "x-y_z~",
    ]);
    // Mostly clean segments, so that many requests get through to the scope check.
    let hazard = prop::option::weighted(
        0.25,
        prop::sample::select(vec![
            ";v=1", "%2e%2e", "%2E", "%2f", "%252e", "%00", "%5c", "..", ".", "%3b", "%20", "%25",
            "%3F", "%23", "\\", "%zz",
        ]),
    )
    .prop_map(Option::unwrap_or_default);
    (word, prop::collection::vec(0_u8..4, 12), hazard).prop_map(|(word, choices, hazard)| {
        let mut text = String::new();
        for (i, c) in word.chars().enumerate() {
            let choice = choices[i % choices.len()];
            match choice {
                0 => text.push(c),
                1 => text.push(c.to_ascii_uppercase()),
                2 => text.push_str(&format!("%{:02X}", c as u8)),
                _ => text.push_str(&format!("%{:02x}", c as u8)),
            }
        }
        text.push_str(hazard);
        text
    })
}

fn path() -> impl Strategy<Value = String> {
    (
        prop::collection::vec((segment(), 1_usize..3), 0..4),
        any::<bool>(),
    )
        .prop_map(|(segments, trailing)| {
            let mut path = String::new();
            for (segment, slashes) in segments {
                path.push_str(&"/".repeat(slashes));
                path.push_str(&segment);
            }
            if path.is_empty() || trailing {
                path.push('/');
            }
            path
        })
}

fn method() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "get", "post", "delete", "head",
    ])
}

/// Checks one request against the model; returns what happened, for the counters.
fn check(
    gateway: &TestGateway,
    rules: &[(Option<&str>, &str, &str)],
    method: &str,
    path: &str,
    token: Option<&(Vec<String>, String)>,
    preflight: bool,
) -> Result<(), TestCaseError> {
    let mut req = Req::new(method, path);
    if let Some((_, token)) = token {
        req = req.bearer(token);
    }
    if preflight {
        req = req.header("access-control-request-method", "DELETE");
    }
    let outcome = gateway.run(&req, issued_at() + 10);
    let Outcome::Forwarded { forward, .. } = &outcome else {
        return Ok(());
    };
    let sent = forward.path_and_query.split('?').next().unwrap_or("");
    let checked =
        edge_jwt_core::gateway::path::canonicalize(path).expect("a forwarded path is canonical");
    prop_assert_eq!(
        sent,
        checked.as_sent(),
        "the origin receives the path that was checked"
    );
    let reading = origin_reading(sent);
    if forward.identity.is_empty() {
        // Forwarded without a token: a preflight, or a path the origin too reads as public.
        prop_assert!(
            (preflight && method.eq_ignore_ascii_case("OPTIONS")) || is_public_reading(&reading),
            "{} {} forwarded without a token, origin reads {}",
            method,
            path,
            reading
        );
    } else if let Some(scope) = needed(method, &reading, rules) {
        let granted = &token.expect("an identity needs a token").0;
        prop_assert!(
            granted.contains(&scope),
            "{} {} admitted with {:?}, but the origin routes it to {} which needs {}",
            method,
            path,
            granted,
            reading,
            scope
        );
    }
    Ok(())
}

fn token() -> impl Strategy<Value = Option<usize>> {
    prop::option::weighted(0.9, 0_usize..16)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn no_spelling_reaches_a_route_the_token_has_no_scope_for(
        method in method(), path in path(), token in token(), preflight in any::<bool>(),
    ) {
        thread_local! {
            static GATEWAY: TestGateway = TestGateway::new(&[
                ("ROUTE_SCOPES", ROUTE_SCOPES),
                ("PUBLIC_PATHS", PUBLIC_PATHS),
            ]);
        }
        let tokens = all_tokens();
        GATEWAY.with(|gateway| {
            check(gateway, RULES, method, &path, token.map(|i| &tokens[i]), preflight)
        })?;
    }

    #[test]
    fn with_a_root_rule_every_protected_route_needs_its_scope(
        method in method(), path in path(), token in token(), preflight in any::<bool>(),
    ) {
        thread_local! {
            static GATEWAY: TestGateway = TestGateway::new(&[
                ("ROUTE_SCOPES", &format!("{ROUTE_SCOPES}; /=any")),
                ("PUBLIC_PATHS", PUBLIC_PATHS),
            ]);
        }
        let mut rules = RULES.to_vec();
        rules.push(ROOT_RULE);
        let tokens = all_tokens();
        GATEWAY.with(|gateway| {
            check(gateway, &rules, method, &path, token.map(|i| &tokens[i]), preflight)
        })?;
    }
}

#[test]
fn the_model_reads_paths_as_a_lenient_origin_does() {
    assert_eq!(origin_reading("/%6Frders//42;x=1/"), "/orders/42");
    assert_eq!(origin_reading("/public/%252e%252e/Orders"), "/orders");
    assert_eq!(origin_reading("/a\\..\\ORDERS"), "/orders");
    assert_eq!(
        needed("HEAD", "/orders/1", RULES).as_deref(),
        Some("orders:read")
    );
    assert_eq!(
        needed("DELETE", "/orders/admin/x", RULES).as_deref(),
        Some("orders:admin")
    );
    assert_eq!(needed("PUT", "/orders", RULES), None);
}
