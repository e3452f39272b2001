//! The request pipeline as tables: request in, decision out. Tokens are jose-minted fixtures
//! verified by the RustCrypto backend; the key source and the clock are the test's.

#[path = "support/gateway.rs"]
#[allow(dead_code)]
mod harness;

use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::gateway::forward::{header_edits, ClientInfo};
use edge_jwt_core::gateway::pipeline::Forward;
use edge_jwt_core::jws::error::Rejection;
use edge_jwt_core::jws::jwk::KeySet;
use edge_jwt_core::keys::source::FetchError;
use edge_jwt_core::keys::CachePolicy;
use harness::{issued_at, orders_gateway, token_with, Outcome, Req, TestGateway, STATUS_TOKEN};

fn now() -> u64 {
    issued_at() + 10
}

fn status_of(gateway: &TestGateway, req: Req) -> u16 {
    gateway.run(&req, now()).status()
}

#[test]
fn no_spelling_of_a_path_escapes_its_scope_rule() {
    let gateway = orders_gateway();
    let reader = token_with(&["orders:read"]);
    // Each of these reached the origin with POST before paths were canonical.
    for path in [
        "/ORDERS",
        "/Orders/42",
        "/%6Frders",
        "/%6frders",
        "//orders",
        "/orders//42",
        "/%4F%52%44%45%52%53",
    ] {
        let outcome = gateway.run(&Req::new("POST", path).bearer(&reader), now());
        assert_eq!(
            outcome,
            Outcome::Refused(GatewayError::InsufficientScope {
                required: vec!["orders:write".to_owned()]
            }),
            "POST {path}"
        );
    }
    // Paths that have no unambiguous canonical form are refused outright.
    for path in [
        "/orders;x=1",
        "/orders/..;/admin",
        "/%2e%2e/orders",
        "/orders%2f42",
        "/%252e%252e/orders",
        "/orders/%2e",
        "/orders%00",
        "/orders\\42",
        "/orders/../admin",
    ] {
        let outcome = gateway.run(&Req::new("POST", path).bearer(&reader), now());
        assert!(
            matches!(outcome, Outcome::Refused(GatewayError::InvalidRequest(_))),
            "POST {path}: {outcome:?}"
        );
    }
}

#[test]
fn the_origin_receives_the_path_that_was_checked() {
    let gateway = orders_gateway();
    let writer = token_with(&["orders:read", "orders:write"]);
    for (received, sent) in [
        ("/orders?expand=items", "/orders?expand=items"),
        ("/%6Frders/42?x=%2F", "/orders/42?x=%2F"),
        ("//orders//42/", "/orders/42/"),
        ("/Orders/%34%32", "/Orders/42"),
        ("/orders/caf%C3%A9", "/orders/caf%C3%A9"),
    ] {
        let outcome = gateway.run(&Req::new("POST", received).bearer(&writer), now());
        let forward = outcome.forwarded();
        assert_eq!(forward.path_and_query, sent, "{received}");
        assert!(forward.with_body);
        assert!(forward
            .identity
            .iter()
            .any(|(name, value)| name == "x-auth-subject" && value == "user-3"));
    }
}

#[test]
fn head_is_governed_by_the_get_rule() {
    let gateway = orders_gateway();
    let writer_only = token_with(&["orders:write"]);
    let reader = token_with(&["orders:read"]);
    for method in ["HEAD", "head", "GET"] {
        assert_eq!(
            status_of(&gateway, Req::new(method, "/orders/1").bearer(&writer_only)),
            403,
            "{method}"
        );
        assert_eq!(
            status_of(&gateway, Req::new(method, "/orders/1").bearer(&reader)),
            200,
            "{method}"
        );
    }
}

#[test]
fn a_rule_on_the_root_requires_a_scope_on_every_protected_route() {
    let gateway = TestGateway::new(&[
        ("ROUTE_SCOPES", "/=any; POST /orders=orders:write"),
        ("PUBLIC_PATHS", "/health"),
    ]);
    let none = token_with(&[]);
    let any = token_with(&["any"]);
    for path in ["/", "/customers", "/ORDERS/1", "//x", "/%6Frders"] {
        assert_eq!(
            status_of(&gateway, Req::new("GET", path).bearer(&none)),
            403,
            "{path}"
        );
        assert_eq!(
            status_of(&gateway, Req::new("GET", path).bearer(&any)),
            200,
            "{path}"
        );
    }
    // The longer rule still wins for its own route.
    assert_eq!(
        status_of(&gateway, Req::new("POST", "/orders").bearer(&any)),
        403
    );
    // Public paths stay public.
    assert_eq!(status_of(&gateway, Req::new("GET", "/health")), 200);
}

#[test]
fn public_paths_stay_narrow() {
    let gateway = orders_gateway();
    for path in ["/health", "/health/live", "/public/docs/index.html"] {
        let outcome = gateway.run(&Req::new("GET", path), now());
        assert_eq!(outcome.forwarded().path_and_query, path);
        assert!(outcome.forwarded().identity.is_empty());
    }
    // Without a token, every other spelling needs one; none is refused as ambiguous.
    for path in [
        "/Health",
        "/HEALTH/live",
        "/h%65alth",
        "//health",
        "/health//live",
        "/public//docs",
    ] {
        assert_eq!(
            gateway.run(&Req::new("GET", path), now()),
            Outcome::Refused(GatewayError::NoCredentials),
            "{path}"
        );
    }
    // A public prefix never stretches over another path.
    for path in [
        "/health/..;/orders",
        "/health/%2e%2e/orders",
        "/health%2f..%2forders",
        "/health/../orders",
    ] {
        assert_eq!(status_of(&gateway, Req::new("GET", path)), 400, "{path}");
    }
}

#[test]
fn preflights_are_forwarded_without_token_or_body_but_never_on_an_ambiguous_path() {
    let gateway = orders_gateway();
    let preflight = |path: &str| {
        Req::new("OPTIONS", path)
            .header("access-control-request-method", "POST")
            .header("origin", "https://shop.example")
    };
    let outcome = gateway.run(&preflight("/orders"), now());
    let forward = outcome.forwarded();
    assert!(!forward.with_body, "a preflight carries no body");
    assert!(forward.identity.is_empty());
    assert_eq!(forward.path_and_query, "/orders");
    assert_eq!(
        gateway
            .run(&preflight("//orders"), now())
            .forwarded()
            .path_and_query,
        "/orders"
    );
    for path in ["/orders;x=1", "/%2e%2e/admin", "/orders%2fx", "/a\\b"] {
        assert_eq!(status_of(&gateway, preflight(path)), 400, "{path}");
    }
    // OPTIONS without the preflight header is an ordinary request.
    assert_eq!(status_of(&gateway, Req::new("OPTIONS", "/orders")), 401);
    // And with FORWARD_PREFLIGHT=false, a preflight needs a token too.
    let closed = TestGateway::new(&[("FORWARD_PREFLIGHT", "false")]);
    assert_eq!(status_of(&closed, preflight("/orders")), 401);
}

#[test]
fn credentials_are_taken_from_one_header_only() {
    let gateway = orders_gateway();
    let reader = token_with(&["orders:read"]);
    let cases = [
        (Req::new("GET", "/orders"), 401),
        (
            Req::new("GET", "/orders").header("authorization", "Basic dXNlcjpwdw=="),
            400,
        ),
        (
            Req::new("GET", "/orders").header("authorization", "Bearer"),
            400,
        ),
        (
            Req::new("GET", "/orders").header("authorization", "Bearer a b"),
            400,
        ),
        // Two Authorization headers arrive joined: more than one token.
        (
            Req::new("GET", "/orders").bearer(&reader).bearer(&reader),
            400,
        ),
        (
            Req::new("GET", &format!("/orders?access_token={reader}")).bearer(&reader),
            400,
        ),
        (
            Req::new("GET", "/orders?access%5Ftoken=x").bearer(&reader),
            400,
        ),
        (
            Req::new("GET", "/orders?x=1&access_token").bearer(&reader),
            400,
        ),
        (
            Req::new("GET", "/orders?my_access_token=x").bearer(&reader),
            200,
        ),
        (Req::new("GET", "/orders").bearer("not.a.jwt"), 401),
        (Req::new("GET", "/orders").bearer(&reader), 200),
    ];
    for (req, expected) in cases {
        assert_eq!(status_of(&gateway, req.clone()), expected, "{req:?}");
    }
}

#[test]
fn the_gateway_endpoints() {
    let gateway = orders_gateway();
    assert_eq!(
        gateway.run(&Req::new("GET", "/_gateway/health"), now()),
        Outcome::Health
    );
    let status = |authorization: Option<&str>| {
        let mut req = Req::new("GET", "/_gateway/status");
        if let Some(value) = authorization {
            req = req.header("authorization", value);
        }
        gateway.run(&req, now())
    };
    assert_eq!(
        status(Some(&format!("Bearer {STATUS_TOKEN}"))),
        Outcome::Status
    );
    let not_found = Outcome::Refused(GatewayError::NotFound);
    for wrong in [
        None,
        Some("Bearer".to_owned()),
        Some(format!(
            "Bearer {}",
            &STATUS_TOKEN[..STATUS_TOKEN.len() - 1]
        )),
        Some(format!("Bearer {STATUS_TOKEN}x")),
        Some(format!("bearer {STATUS_TOKEN}")),
        Some(STATUS_TOKEN.to_owned()),
    ] {
        assert_eq!(status(wrong.as_deref()), not_found, "{wrong:?}");
    }
    // Without STATUS_TOKEN there is no status endpoint at all.
    let closed = TestGateway::new(&[]);
    assert_eq!(
        closed.run(
            &Req::new("GET", "/_gateway/status").header("authorization", "Bearer "),
            now()
        ),
        not_found
    );
}

#[test]
fn a_repeated_token_is_answered_without_the_key_cache_while_its_key_set_is_fresh() {
    let gateway = orders_gateway();
    let reader = token_with(&["orders:read"]);
    let req = Req::new("GET", "/orders").bearer(&reader);
    let first = gateway.run(&req, now());
    assert!(
        matches!(first, Outcome::Forwarded { verified: true, .. }),
        "{first:?}"
    );
    let again = gateway.run(&req, now() + 1);
    assert!(
        matches!(
            again,
            Outcome::Forwarded {
                verified: false,
                ..
            }
        ),
        "{again:?}"
    );
    assert_eq!(gateway.gateway.tokens.stats().hits, 1);
    // The cached token is held to the route's scopes like any other.
    assert_eq!(
        status_of(&gateway, Req::new("POST", "/orders").bearer(&reader)),
        403
    );
}

#[test]
fn a_cached_token_stops_passing_once_its_key_is_gone_and_the_set_is_stale() {
    let gateway = orders_gateway();
    let ttl = CachePolicy::default().ttl;
    let reader = token_with(&["orders:read"]);
    let req = Req::new("GET", "/orders").bearer(&reader);
    assert_eq!(gateway.run(&req, now()).status(), 200);
    // The issuer removes the key; this isolate has seen only cached tokens since.
    gateway.source.answer(Ok(KeySet::default()));
    let later = now() + ttl + 1;
    let outcome = gateway.run(&req, later);
    assert!(
        matches!(
            outcome,
            Outcome::Refused(GatewayError::InvalidToken(Rejection::UnknownKey { .. }))
        ),
        "a stale set is looked up again before a cached token passes: {outcome:?}"
    );
    assert_eq!(gateway.source.calls(), 2);
}

#[test]
fn a_cached_token_passes_on_a_stale_set_only_until_max_stale() {
    let gateway = TestGateway::new(&[("JWKS_MAX_STALE_SECONDS", "600")]);
    let policy = CachePolicy {
        max_stale: 600,
        ..CachePolicy::default()
    };
    let token = token_with(&[]);
    let req = Req::new("GET", "/orders").bearer(&token);
    assert_eq!(gateway.run(&req, now()).status(), 200);
    gateway
        .source
        .answer(Err(FetchError::Transport("provider down".to_owned())));
    // Within max-stale the last good set keeps serving: the token passes, through the key cache.
    let stale = now() + policy.ttl + 10;
    let outcome = gateway.run(&req, stale);
    assert!(
        matches!(outcome, Outcome::Forwarded { verified: true, .. }),
        "{outcome:?}"
    );
    // Past max-stale nothing vouches for the key any more: never admitted.
    let expired = now() + policy.ttl + policy.max_stale + 10;
    let outcome = gateway.run(&req, expired);
    assert!(
        matches!(
            outcome,
            Outcome::Refused(GatewayError::KeysUnavailable { .. })
        ),
        "past max-stale: {outcome:?}"
    );
}

const ORIGIN_SECRET: &str = "origin-secret-0123456789abcdef-0123456789";

/// The headers the origin receives for `req`, forwarded as `forward`: the client's headers
/// edited by the core's rules, as the Worker applies them (`src/proxy.rs`: the token cookie
/// removed, and without the body's framing headers for a preflight).
fn origin_headers(gateway: &TestGateway, req: &Req, forward: &Forward) -> Vec<(String, String)> {
    use edge_jwt_core::gateway::pipeline::RequestView;
    use edge_jwt_core::gateway::token_source::strip_token_cookie;
    let policy = &gateway.gateway.policy;
    let names: Vec<&str> = req.headers.iter().map(|(name, _)| name.as_str()).collect();
    let client = ClientInfo {
        ip: Some("203.0.113.7".to_owned()),
        proto: "https".to_owned(),
        host: "gateway.test".to_owned(),
    };
    let mut edits = header_edits(
        &names,
        None,
        None,
        &client,
        &policy.claim_headers,
        &forward.identity,
        &policy.origin_auth,
    );
    strip_token_cookie(&mut edits, policy.token_cookie.as_ref(), || {
        req.header("cookie")
    });
    if !forward.with_body {
        edits = edits.without_body();
    }
    edits.apply(&req.headers)
}

#[test]
fn every_forwarded_request_carries_the_origin_secret_and_never_the_clients() {
    let requests = |token: &str| {
        [
            ("protected", Req::new("GET", "/orders/1").bearer(token)),
            ("public", Req::new("GET", "/health/live")),
            (
                "preflight",
                Req::new("OPTIONS", "/orders")
                    .header("Access-Control-Request-Method", "POST")
                    .header("Content-Length", "0"),
            ),
        ]
    };
    let reader = token_with(&["orders:read"]);
    for (secret, header) in [
        (Some(ORIGIN_SECRET), "X-Gateway-Auth"),
        (Some(ORIGIN_SECRET), "X-Origin-Token"),
        (None, "X-Gateway-Auth"),
    ] {
        let mut vars = vec![("PUBLIC_PATHS", "/health"), ("ORIGIN_AUTH_HEADER", header)];
        if let Some(secret) = secret {
            vars.push(("ORIGIN_AUTH_SECRET", secret));
        }
        let gateway = TestGateway::new(&vars);
        for (route, req) in requests(&reader) {
            let spoofed = header.replace('-', "_");
            for req in [
                req.clone(),
                req.clone().header(header, "forged"),
                req.header(&spoofed, "forged"),
            ] {
                let outcome = gateway.run(&req, now());
                let headers = origin_headers(&gateway, &req, outcome.forwarded());
                let sent: Vec<&str> = headers
                    .iter()
                    .filter(|(name, _)| name.eq_ignore_ascii_case(header))
                    .chain(headers.iter().filter(|(name, _)| *name == spoofed))
                    .map(|(_, value)| value.as_str())
                    .collect();
                let expected: Vec<&str> = secret.into_iter().collect();
                assert_eq!(sent, expected, "{route} {header} {:?}", req.headers);
            }
        }
    }
}

/// [`orders_gateway`]'s rules with the token also accepted from the cookie `__Host-at`.
fn cookie_gateway(extra: &[(&'static str, &str)]) -> TestGateway {
    let mut vars = vec![
        (
            "ROUTE_SCOPES",
            "POST /orders=orders:write; GET /orders=orders:read",
        ),
        ("PUBLIC_PATHS", "/health"),
        ("JWT_COOKIE", "__Host-at"),
    ];
    vars.extend_from_slice(extra);
    TestGateway::new(&vars)
}

fn with_cookie(method: &str, path: &str, token: &str) -> Req {
    Req::new(method, path).header("cookie", &format!("theme=dark; __Host-at={token}; lang=en"))
}

#[test]
fn a_cookie_token_goes_through_the_same_pipeline_as_a_bearer_token() {
    let gateway = cookie_gateway(&[]);
    let reader = token_with(&["orders:read"]);
    let by_cookie = gateway.run(&with_cookie("GET", "/orders/1", &reader), now());
    let by_header = gateway.run(&Req::new("GET", "/orders/1").bearer(&reader), now());
    let (Outcome::Forwarded { forward: a, .. }, Outcome::Forwarded { forward: b, .. }) =
        (&by_cookie, &by_header)
    else {
        panic!("{by_cookie:?} / {by_header:?}");
    };
    assert_eq!(a.identity, b.identity);
    assert!(a.identity.iter().any(|(name, _)| name == "x-auth-claims"));
    // The second sight of the token, by either method, is a token-cache hit.
    assert!(matches!(
        by_header,
        Outcome::Forwarded {
            verified: false,
            ..
        }
    ));
    assert_eq!(gateway.gateway.tokens.stats().hits, 1);
    // Scopes hold for cookie tokens too (a hit, and a first sight).
    assert_eq!(
        status_of(&gateway, with_cookie("POST", "/orders", &reader)),
        403
    );
    let fresh = cookie_gateway(&[]);
    assert_eq!(
        status_of(&fresh, with_cookie("POST", "/orders", &reader)),
        403
    );
    let writer = token_with(&["orders:write"]);
    assert_eq!(
        status_of(&fresh, with_cookie("POST", "/orders", &writer)),
        200
    );
    // A bad cookie token is refused exactly as the same token in the header.
    let bad = fresh.run(&with_cookie("GET", "/orders", "not.a.jwt"), now());
    assert_eq!(bad.status(), 401);
    assert_eq!(
        bad,
        fresh.run(&Req::new("GET", "/orders").bearer("not.a.jwt"), now())
    );
    // An expired cookie token is refused like an expired header token.
    assert_eq!(
        fresh.run(&with_cookie("GET", "/orders", &reader), now() + 7200),
        fresh.run(&Req::new("GET", "/orders").bearer(&reader), now() + 7200)
    );
}

#[test]
fn the_cookie_rules_refuse_every_ambiguous_request() {
    use edge_jwt_core::gateway::token_source::{
        BOTH_METHODS, COOKIE_EMPTY, COOKIE_REPEATED, CROSS_SITE_COOKIE,
    };
    let gateway = cookie_gateway(&[]);
    let reader = token_with(&["orders:read"]);
    let writer = token_with(&["orders:write"]);
    let refused = |why| Outcome::Refused(GatewayError::InvalidRequest(why));
    let cases = [
        (
            with_cookie("GET", "/orders", &reader).bearer(&reader),
            refused(BOTH_METHODS),
        ),
        (
            with_cookie("GET", "/orders", &reader).header("authorization", "Basic dTpw"),
            refused(BOTH_METHODS),
        ),
        (
            Req::new("GET", "/orders")
                .header("cookie", &format!("__Host-at={reader}"))
                .header("cookie", &format!("__Host-at={reader}")),
            refused(COOKIE_REPEATED),
        ),
        (
            Req::new("GET", "/orders").header("cookie", "a=1; __Host-at=; b=2"),
            refused(COOKIE_EMPTY),
        ),
        (
            with_cookie("POST", "/orders", &writer).header("sec-fetch-site", "cross-site"),
            refused(CROSS_SITE_COOKIE),
        ),
        (
            with_cookie("DELETE", "/orders/1", &writer).header("origin", "https://evil.example"),
            refused(CROSS_SITE_COOKIE),
        ),
        // A token in the query stays refused first.
        (
            with_cookie("GET", &format!("/orders?access_token={reader}"), &reader),
            refused("access_token in the query is not accepted; use the Authorization header"),
        ),
    ];
    for (req, expected) in cases {
        assert_eq!(gateway.run(&req, now()), expected, "{req:?}");
    }
    // The same writes from the gateway's own origin, or with the bearer header, pass.
    for req in [
        with_cookie("POST", "/orders", &writer)
            .header("sec-fetch-site", "same-origin")
            .header("origin", "https://gateway.test"),
        Req::new("POST", "/orders")
            .bearer(&writer)
            .header("sec-fetch-site", "cross-site")
            .header("origin", "https://evil.example"),
        with_cookie("GET", "/orders", &reader).header("sec-fetch-site", "cross-site"),
    ] {
        assert_eq!(status_of(&gateway, req.clone()), 200, "{req:?}");
    }
    // Without JWT_COOKIE, cookies play no part at all.
    let plain = orders_gateway();
    assert_eq!(
        plain.run(&with_cookie("GET", "/orders", &reader), now()),
        Outcome::Refused(GatewayError::NoCredentials)
    );
    assert_eq!(
        status_of(
            &plain,
            with_cookie("GET", "/orders", &reader).bearer(&reader)
        ),
        200
    );
}

#[test]
fn the_origin_never_receives_the_token_cookie_unless_configured() {
    let reader = token_with(&["orders:read"]);
    let cookies = |headers: &[(String, String)]| -> Vec<String> {
        headers
            .iter()
            .filter(|(name, _)| name == "cookie")
            .map(|(_, value)| value.clone())
            .collect()
    };
    let gateway = cookie_gateway(&[]);
    let requests = [
        with_cookie("GET", "/orders/1", &reader),
        with_cookie("GET", "/health", &reader),
        with_cookie("OPTIONS", "/orders", &reader).header("access-control-request-method", "POST"),
    ];
    for req in &requests {
        let outcome = gateway.run(req, now());
        let headers = origin_headers(&gateway, req, outcome.forwarded());
        assert_eq!(cookies(&headers), ["theme=dark; lang=en"], "{req:?}");
    }
    // The token cookie alone: no Cookie header at all.
    let alone = Req::new("GET", "/orders/1").header("cookie", &format!("__Host-at={reader}"));
    let outcome = gateway.run(&alone, now());
    let headers = origin_headers(&gateway, &alone, outcome.forwarded());
    assert!(cookies(&headers).is_empty(), "{headers:?}");
    // JWT_COOKIE_FORWARD: every cookie as received.
    let forwarding = cookie_gateway(&[("JWT_COOKIE_FORWARD", "true")]);
    for req in &requests {
        let outcome = forwarding.run(req, now());
        let headers = origin_headers(&forwarding, req, outcome.forwarded());
        assert_eq!(
            cookies(&headers),
            [format!("theme=dark; __Host-at={reader}; lang=en")],
            "{req:?}"
        );
    }
}

#[test]
fn the_metadata_endpoint_is_the_gateways_own_unless_turned_off() {
    let gateway = TestGateway::new(&[("RESOURCE_URI", "https://api.example.com/mcp")]);
    let reader = token_with(&["orders:read"]);
    for (req, expected) in [
        (
            Req::new("GET", "/.well-known/oauth-protected-resource/mcp"),
            Outcome::ResourceMetadata,
        ),
        (
            Req::new("HEAD", "/.well-known/oauth-protected-resource"),
            Outcome::ResourceMetadata,
        ),
        // Answered without looking at any credential.
        (
            Req::new("GET", "/.well-known/oauth-protected-resource/mcp").bearer("junk"),
            Outcome::ResourceMetadata,
        ),
        (
            Req::new("POST", "/.well-known/oauth-protected-resource/mcp").bearer(&reader),
            Outcome::Refused(GatewayError::MethodNotAllowed { allow: "GET, HEAD" }),
        ),
        (
            Req::new("GET", "/.well-known/oauth-protected-resource/other").bearer(&reader),
            Outcome::Refused(GatewayError::NotFound),
        ),
    ] {
        assert_eq!(gateway.run(&req, now()), expected, "{req:?}");
    }
    // Other spellings are ordinary paths: a token is needed, and the canonical path forwarded.
    let spelled = Req::new("GET", "//.well-known/oauth-protected-resource");
    assert_eq!(status_of(&gateway, spelled.clone()), 401);
    assert_eq!(
        gateway
            .run(&spelled.bearer(&reader), now())
            .forwarded()
            .path_and_query,
        "/.well-known/oauth-protected-resource"
    );
    // RESOURCE_METADATA=false: the path is forwarded (with a token) like any other.
    let off = TestGateway::new(&[("RESOURCE_METADATA", "false")]);
    let path = "/.well-known/oauth-protected-resource";
    assert_eq!(
        off.run(&Req::new("GET", path), now()),
        Outcome::Refused(GatewayError::NoCredentials)
    );
    let forwarded = off.run(&Req::new("POST", path).bearer(&reader), now());
    assert_eq!(forwarded.forwarded().path_and_query, path);
}

/// A fixture token with its header replaced by `header` (its signature no longer matches).
fn with_header(token: &str, header: &str) -> String {
    use base64ct::{Base64UrlUnpadded, Encoding};
    let rest = token.split_once('.').unwrap().1;
    format!(
        "{}.{rest}",
        Base64UrlUnpadded::encode_string(header.as_bytes())
    )
}

/// The Worker takes a token whose key set is in memory through `verify_now`, one signature
/// check and `signed`, and any other through `verify`: both must decide every request alike,
/// leave the caches alike and log the same events. Two gateways see the same requests, one
/// driven each way.
#[test]
fn the_stepwise_path_decides_as_the_awaited_one() {
    let vars = [
        (
            "ROUTE_SCOPES",
            "POST /orders=orders:write; GET /orders=orders:read",
        ),
        // The set stays fresh past the tokens' expiry.
        ("JWKS_CACHE_TTL_SECONDS", "86400"),
        ("JWKS_MAX_TTL_SECONDS", "86400"),
    ];
    let stepwise = TestGateway::new(&vars);
    let awaited = TestGateway::new(&vars);
    let reader = token_with(&["orders:read"]);
    let writer = token_with(&["orders:read", "orders:write"]);
    let none = token_with(&[]);
    let (head, signature) = writer.rsplit_once('.').unwrap();
    let mut flipped = signature.as_bytes().to_vec();
    flipped[10] = if flipped[10] == b'A' { b'B' } else { b'A' };
    let tampered = format!("{head}.{}", String::from_utf8(flipped).unwrap());
    let truncated = format!("{head}.{}", &signature[..signature.len() - 4]);
    let other_kid = with_header(&none, r#"{"alg":"EdDSA","kid":"elsewhere","typ":"JWT"}"#);
    let no_kid = with_header(&none, r#"{"alg":"EdDSA","typ":"JWT"}"#);
    let wrong_alg = with_header(
        &none,
        r#"{"alg":"ES256","kid":"gateway-eddsa","typ":"JWT"}"#,
    );
    let expired = issued_at() + 3600 + 3600;
    let steps: Vec<(Req, u64)> = vec![
        // The first token: the key set is fetched (both through `verify`).
        (Req::new("GET", "/orders").bearer(&reader), now()),
        // From here the set is in memory: the stepwise gateway checks signatures without waiting.
        (Req::new("GET", "/orders").bearer(&writer), now()),
        (Req::new("POST", "/orders").bearer(&writer), now()),
        (Req::new("POST", "/orders").bearer(&none), now()),
        (Req::new("GET", "/orders").bearer(&tampered), now()),
        (Req::new("GET", "/orders").bearer(&truncated), now()),
        (Req::new("GET", "/orders").bearer(&no_kid), now()),
        (Req::new("GET", "/orders").bearer(&wrong_alg), now()),
        // An unknown kid: memory cannot answer, the key cache refetches (then its cooldown).
        (Req::new("GET", "/orders").bearer(&other_kid), now() + 1),
        (Req::new("GET", "/orders").bearer(&other_kid), now() + 2),
        // Cached tokens, then the same tokens once they have expired.
        (Req::new("GET", "/orders").bearer(&reader), now() + 3),
        (Req::new("GET", "/orders").bearer(&reader), expired),
        (Req::new("GET", "/orders").bearer(&none), expired),
    ];
    let mut outcomes = Vec::new();
    for (i, (req, at)) in steps.iter().enumerate() {
        let got = stepwise.run(req, *at);
        let want = awaited.run_awaiting(req, *at);
        assert_eq!(format!("{got:?}"), format!("{want:?}"), "step {i}");
        outcomes.push(got.status());
    }
    // The table covers each way out: forwarded, 403 (scopes) and 401.
    for status in [200, 401, 403] {
        assert!(outcomes.contains(&status), "{status} in {outcomes:?}");
    }
    // The tokens checked while the set was in memory (writer, none, tampered, the cached reader
    // after expiry is refused by the token cache's claims check first).
    assert!(
        stepwise.stepwise_checks.get() >= 3,
        "{}",
        stepwise.stepwise_checks.get()
    );
    assert_eq!(awaited.stepwise_checks.get(), 0);
    assert_eq!(stepwise.log.names(), awaited.log.names());
    assert_eq!(
        stepwise.gateway.tokens.stats(),
        awaited.gateway.tokens.stats()
    );
    assert_eq!(stepwise.source.calls(), awaited.source.calls());
    let counters =
        |g: &TestGateway| format!("{:?}", g.gateway.providers[0].keys.status(now()).counters);
    assert_eq!(counters(&stepwise), counters(&awaited));
}
