//! What the pipeline tells the operator: one `request_rejected` line per refusal, whichever
//! step refuses (asserted through a recording event sink), under a bounded line budget; and
//! what each request asked of the caches, as the metrics' data point shows it.

#[path = "support/gateway.rs"]
#[allow(dead_code)]
mod harness;

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_jwt_core::gateway::metrics::{request_point, CacheUse, RequestOutcome, TokenCacheUse};
use edge_jwt_core::gateway::pipeline::Decision;
use edge_jwt_core::keys::source::FetchError;
use edge_jwt_core::keys::KeyTier;
use edge_jwt_core::log::limiter::{REJECTION_LINES_PER_WINDOW, REJECTION_WINDOW_SECONDS};
use edge_jwt_core::log::Level;
use harness::{issued_at, orders_gateway, token_with, Req, TestGateway, STATUS_TOKEN};
use serde_json::{json, Value};

const ISSUER: &str = "https://issuer.example";

/// A compact JWS with these header and payload and a junk signature.
fn forged(header: Value, payload: Value) -> String {
    let part = |value: Value| Base64UrlUnpadded::encode_string(value.to_string().as_bytes());
    format!("{}.{}.AAAA", part(header), part(payload))
}

/// `token` with its signature altered.
fn tampered(token: &str) -> String {
    let (rest, signature) = token.rsplit_once('.').unwrap();
    let first = if signature.starts_with('A') { 'B' } else { 'A' };
    format!("{rest}.{first}{}", &signature[1..])
}

/// The one `request_rejected` line `req` produces at `now`, or a panic.
fn rejection_line(gateway: &TestGateway, req: &Req, now: u64) -> (Level, Value) {
    gateway.run(req, now);
    let mut lines = gateway.log.take("request_rejected");
    assert_eq!(lines.len(), 1, "{req:?}: {lines:?}");
    lines.remove(0)
}

#[test]
fn every_refusal_is_one_line_with_its_code_route_and_token_header() {
    let gateway = orders_gateway();
    let reader = token_with(&["orders:read"]);
    let alien = forged(
        json!({ "alg": "HS256", "kid": "k-1", "typ": "JWT" }),
        json!({ "iss": "https://evil.example", "sub": "secret-subject" }),
    );
    let unknown = forged(
        json!({ "alg": "EdDSA", "kid": "rotated-away" }),
        json!({ "iss": ISSUER, "sub": "secret-subject" }),
    );
    let fixture = json!({ "kid": "gateway-eddsa", "alg": "EdDSA", "iss": ISSUER });
    let with = |extra: Value| {
        let mut line = fixture.clone();
        line.as_object_mut()
            .unwrap()
            .extend(extra.as_object().unwrap().clone());
        line
    };
    let cases: Vec<(Req, u64, Value)> = vec![
        (
            Req::new("GET", "/orders/1"),
            0,
            json!({ "code": "no_credentials", "status": 401, "method": "GET", "route": "/orders/1" }),
        ),
        (
            Req::new("GET", "/orders%2f1?secret=1"),
            0,
            json!({ "code": "invalid_request", "status": 400, "method": "GET",
                    "reason": "an escaped dot, slash, backslash, percent sign, semicolon, question mark or hash in the request path is not accepted" }),
        ),
        (
            Req::new("GET", &format!("/%6Frders?access_token={reader}")).bearer(&reader),
            0,
            with(
                json!({ "code": "invalid_request", "status": 400, "method": "GET", "route": "/orders",
                         "reason": "access_token in the query is not accepted; use the Authorization header" }),
            ),
        ),
        (
            Req::new("GET", "/orders").header("authorization", "Basic dXNlcjpwdw=="),
            0,
            json!({ "code": "invalid_request", "status": 400, "method": "GET", "route": "/orders",
                    "reason": "only the Bearer scheme is accepted" }),
        ),
        (
            Req::new("GET", "/orders").bearer("not.a.jwt"),
            0,
            json!({ "code": "malformed_token", "status": 401, "method": "GET", "route": "/orders" }),
        ),
        (
            Req::new("DELETE", "//orders/7").bearer(&alien),
            0,
            json!({ "code": "algorithm_not_allowed", "status": 401, "method": "DELETE",
                    "route": "/orders/7", "kid": "k-1", "alg": "HS256", "iss": "https://evil.example" }),
        ),
        (
            Req::new("GET", "/orders").bearer(&unknown),
            0,
            json!({ "code": "unknown_key", "status": 401, "method": "GET", "route": "/orders",
                    "kid": "rotated-away", "alg": "EdDSA", "iss": ISSUER }),
        ),
        (
            Req::new("GET", "/orders").bearer(&tampered(&reader)),
            0,
            with(
                json!({ "code": "bad_signature", "status": 401, "method": "GET", "route": "/orders" }),
            ),
        ),
        (
            Req::new("GET", "/orders").bearer(&reader),
            7200,
            with(
                json!({ "code": "token_expired", "status": 401, "method": "GET", "route": "/orders" }),
            ),
        ),
        // Refused by `verify` (first sight of the token), then by `decide` (a token-cache hit).
        (
            Req::new("POST", "/orders").bearer(&reader),
            0,
            with(
                json!({ "code": "insufficient_scope", "status": 403, "method": "POST", "route": "/orders",
                         "required_scopes": ["orders:write"] }),
            ),
        ),
        (
            Req::new("POST", "/Orders").bearer(&reader),
            0,
            with(
                json!({ "code": "insufficient_scope", "status": 403, "method": "POST", "route": "/Orders",
                         "required_scopes": ["orders:write"] }),
            ),
        ),
        (
            Req::new("GET", "/_gateway/status").bearer("wrong"),
            0,
            json!({ "code": "not_found", "status": 404, "method": "GET", "route": "/_gateway/status" }),
        ),
    ];
    for (i, (req, offset, expected)) in cases.iter().enumerate() {
        // Each case in its own budget window.
        let now = issued_at() + 10 + offset + i as u64 * REJECTION_WINDOW_SECONDS;
        let (level, line) = rejection_line(&gateway, req, now);
        assert_eq!(level, Level::Info, "{req:?}");
        assert_eq!(&line, expected, "{req:?}");
        let text = line.to_string();
        for secret in [
            &reader,
            &alien,
            &unknown,
            "secret-subject",
            "user-",
            "secret=1",
        ] {
            assert!(!text.contains(secret), "{req:?} logs {secret:?}: {text}");
        }
    }

    // Requests that pass write no line.
    let now = issued_at() + 10;
    for req in [
        Req::new("GET", "/orders").bearer(&reader),
        Req::new("GET", "/health"),
        Req::new("GET", "/_gateway/health"),
        Req::new("GET", "/_gateway/status").bearer(STATUS_TOKEN),
    ] {
        gateway.run(&req, now);
    }
    assert!(gateway.log.take("request_rejected").is_empty());
}

#[test]
fn no_key_set_is_a_warning() {
    let gateway = orders_gateway();
    gateway
        .source
        .answer(Err(FetchError::Transport("connection refused".to_owned())));
    let req = Req::new("GET", "/orders").bearer(&token_with(&["orders:read"]));
    let (level, line) = rejection_line(&gateway, &req, issued_at());
    assert_eq!(level, Level::Warn);
    assert_eq!(line["code"], "keys_unavailable");
    assert_eq!(line["status"], 503);
    assert_eq!(line["kid"], "gateway-eddsa");
}

#[test]
fn a_flood_writes_a_bounded_number_of_lines_and_counts_the_rest() {
    let gateway = orders_gateway();
    let now = issued_at();
    let flood = Req::new("GET", "/orders").bearer("not.a.jwt");
    for _ in 0..1000 {
        gateway.run(&flood, now);
    }
    assert_eq!(
        gateway.log.take("request_rejected").len(),
        REJECTION_LINES_PER_WINDOW as usize
    );
    assert!(gateway.log.take("rejections_suppressed").is_empty());

    // The next window's first line comes after the count of those left out.
    gateway.run(&flood, now + REJECTION_WINDOW_SECONDS);
    let names = gateway.log.names();
    let at = names.iter().position(|n| *n == "rejections_suppressed");
    assert_eq!(
        at.map(|at| names[at + 1]),
        Some("request_rejected"),
        "{names:?}"
    );
    let suppressed = gateway.log.take("rejections_suppressed");
    let left_out = 1000 - u64::from(REJECTION_LINES_PER_WINDOW);
    assert_eq!(
        suppressed,
        [(
            Level::Warn,
            json!({ "suppressed": left_out, "window_seconds": REJECTION_WINDOW_SECONDS })
        )]
    );

    // A periodic flush reports the end of a flood without a next rejection.
    for _ in 0..REJECTION_LINES_PER_WINDOW + 5 {
        gateway.run(&flood, now + 2 * REJECTION_WINDOW_SECONDS);
    }
    gateway
        .gateway
        .flush_rejection_log(now + 2 * REJECTION_WINDOW_SECONDS);
    assert!(
        gateway.log.take("rejections_suppressed").is_empty(),
        "window open"
    );
    gateway
        .gateway
        .flush_rejection_log(now + 3 * REJECTION_WINDOW_SECONDS);
    assert_eq!(
        gateway.log.take("rejections_suppressed")[0].1["suppressed"],
        5
    );
}

#[test]
fn a_level_that_filters_rejections_out_spends_no_budget() {
    let gateway = orders_gateway();
    let now = issued_at();
    gateway.log.set_level(Level::Warn);
    for _ in 0..100 {
        gateway.run(&Req::new("GET", "/orders"), now);
    }
    assert!(gateway.log.take("request_rejected").is_empty());
    gateway.log.set_level(Level::Info);
    for _ in 0..REJECTION_LINES_PER_WINDOW {
        gateway.run(&Req::new("GET", "/orders"), now);
    }
    assert_eq!(
        gateway.log.take("request_rejected").len(),
        REJECTION_LINES_PER_WINDOW as usize
    );
    assert!(gateway.log.take("rejections_suppressed").is_empty());
}

/// What a request asked of the caches, as the metrics see it: `decide`, then `verify`.
fn cache_use(gateway: &TestGateway, req: &Req, now: u64) -> (&'static str, CacheUse) {
    match gateway.gateway.decide(req, now) {
        Decision::Forward(forward) => ("forwarded", forward.cache),
        Decision::Reject(_) => ("rejected", CacheUse::default()),
        Decision::Verify(pending) => {
            match pollster::block_on(gateway.gateway.verify(&pending, now)) {
                Ok(forward) => {
                    assert_eq!(forward.cache, pending.cache_use());
                    ("forwarded", forward.cache)
                }
                Err(_) => ("rejected", pending.cache_use()),
            }
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn each_request_says_which_tier_and_whether_the_token_cache_answered() {
    let gateway = orders_gateway();
    let now = issued_at() + 10;
    let reader = token_with(&["orders:read"]);
    let other = token_with(&["orders:read", "orders:write"]);
    let used = |tier, token_cache| CacheUse {
        tier: Some(tier),
        token_cache,
        generation: 1,
        provider: Some(0),
    };
    let cases = [
        // No key needed.
        (
            Req::new("GET", "/health"),
            ("forwarded", CacheUse::default()),
        ),
        (
            Req::new("GET", "/orders"),
            ("rejected", CacheUse::default()),
        ),
        // Cold: the issuer answers; the token was never seen.
        (
            Req::new("GET", "/orders").bearer(&reader),
            ("forwarded", used(KeyTier::Issuer, TokenCacheUse::Miss)),
        ),
        // Seen: the token cache, checked against the set in memory.
        (
            Req::new("GET", "/orders").bearer(&reader),
            ("forwarded", used(KeyTier::Memory, TokenCacheUse::Hit)),
        ),
        // Another token: memory, and a signature check.
        (
            Req::new("GET", "/orders").bearer(&other),
            ("forwarded", used(KeyTier::Memory, TokenCacheUse::Miss)),
        ),
        // Refused after the key lookup: the tier is still reported.
        (
            Req::new("GET", "/orders").bearer(&tampered(&other)),
            ("rejected", used(KeyTier::Memory, TokenCacheUse::Miss)),
        ),
    ];
    for (req, expected) in cases {
        assert_eq!(cache_use(&gateway, &req, now), expected, "{req:?}");
    }

    // The data point of the token-cache hit.
    let (_, cache) = cache_use(&gateway, &Req::new("GET", "/orders").bearer(&reader), now);
    assert_eq!(cache.provider, Some(0));
    let point = request_point(&RequestOutcome::Forwarded(cache), "main");
    assert_eq!(
        point.blobs,
        ["request", "forwarded", "", "memory", "hit", "main"]
    );
    assert_eq!(point.doubles, [1.0]);
}

#[test]
fn a_cookie_token_is_logged_like_a_header_token_and_never_in_full() {
    let gateway = TestGateway::new(&[
        ("ROUTE_SCOPES", "POST /orders=orders:write"),
        ("JWT_COOKIE", "session"),
    ]);
    let reader = token_with(&["orders:read"]);
    let alien = forged(
        json!({ "alg": "HS256", "kid": "k-1" }),
        json!({ "iss": "https://evil.example", "sub": "secret-subject" }),
    );
    let cookie = |token: &str| format!("theme=dark; session={token}");
    let header_line = {
        let req = Req::new("GET", "/orders").bearer(&alien);
        rejection_line(&gateway, &req, issued_at() + 10).1
    };
    let cases = [
        (
            Req::new("GET", "/orders").header("cookie", &cookie(&alien)),
            header_line,
        ),
        (
            Req::new("POST", "/orders").header("cookie", &cookie(&reader)),
            json!({ "code": "insufficient_scope", "status": 403, "method": "POST", "route": "/orders",
                    "required_scopes": ["orders:write"], "kid": "gateway-eddsa", "alg": "EdDSA",
                    "iss": ISSUER }),
        ),
        (
            Req::new("PUT", "/orders/1")
                .header("cookie", &cookie(&reader))
                .header("origin", "https://evil.example"),
            json!({ "code": "invalid_request", "status": 400, "method": "PUT", "route": "/orders/1",
                    "reason": "a token cookie is not accepted on a cross-site request with this method; send the token in the Authorization header" }),
        ),
        (
            Req::new("GET", "/orders")
                .header("cookie", &cookie(&reader))
                .bearer(&reader),
            json!({ "code": "invalid_request", "status": 400, "method": "GET", "route": "/orders",
                    "reason": "a token in the Authorization header and in the token cookie: use one method only" }),
        ),
    ];
    for (i, (req, expected)) in cases.iter().enumerate() {
        let now = issued_at() + 10 + (i as u64 + 1) * REJECTION_WINDOW_SECONDS;
        let (_, line) = rejection_line(&gateway, req, now);
        assert_eq!(&line, expected, "{req:?}");
        let text = line.to_string();
        for secret in [&reader, &alien, "secret-subject", "theme=dark", "session="] {
            assert!(!text.contains(secret), "{req:?} logs {secret:?}: {text}");
        }
    }
}
