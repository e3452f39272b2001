use super::*;
use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};

use crate::gateway::resource_metadata::ResourceMetadata;
use crate::jws::claims::DEFAULT_CLOCK_SKEW_SECONDS;
use crate::jws::token::DEFAULT_MAX_TOKEN_BYTES;

const AUTHORITY: &str = "https://login.example.com/realms/orders";
const ORIGIN: &str = "https://orders.internal.example.com";

fn minimal() -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("JWT_AUTHORITY", AUTHORITY.to_owned()),
        ("JWT_AUDIENCE", "orders-api".to_owned()),
        ("ORIGIN_URL", ORIGIN.to_owned()),
    ])
}

fn load(env: &BTreeMap<&'static str, String>) -> Result<Config, ConfigError> {
    Config::from_env(|name| env.get(name).cloned())
}

/// The minimal environment plus `name = value`.
fn with(name: &'static str, value: &str) -> Result<Config, ConfigError> {
    let mut env = minimal();
    env.insert(name, value.to_owned());
    load(&env)
}

fn ok(name: &'static str, value: &str) -> Config {
    with(name, value).unwrap_or_else(|err| panic!("{name}={value:?} was refused: {err}"))
}

/// The error for `name = value`, which must be about `name`.
fn err(name: &'static str, value: &str) -> ConfigError {
    match with(name, value) {
        Ok(_) => panic!("{name}={value:?} was accepted"),
        Err(err) => {
            assert_eq!(err.variable, name, "{err}");
            err
        }
    }
}

#[test]
fn the_minimal_environment_takes_every_default() {
    let config = load(&minimal()).unwrap();
    assert_eq!(
        config.providers[0].verification,
        VerificationPolicy {
            algorithms: vec![Algorithm::Rs256],
            max_token_bytes: 8192,
            types: vec![],
            claims: ClaimsPolicy {
                issuer: AUTHORITY.to_owned(),
                audiences: vec!["orders-api".to_owned()],
                clock_skew: 60,
                required: vec![],
                max_age: None,
            },
        }
    );
    assert_eq!(
        config.providers[0].jwks,
        JwksLocation::Discovery {
            discovery_url: format!("{AUTHORITY}/.well-known/openid-configuration"),
            issuer: AUTHORITY.to_owned(),
        }
    );
    assert_eq!(config.providers.len(), 1);
    assert_eq!(config.providers[0].name, AUTHORITY);
    assert_eq!(
        config.jwks,
        JwksSettings {
            fetch_timeout_ms: 5000,
        }
    );
    assert_eq!(
        config.cache,
        CachePolicy {
            ttl: 600,
            min_ttl: 60,
            max_ttl: 86_400,
            max_stale: 86_400,
            unknown_kid_cooldown: 30,
        }
    );
    assert_eq!(config.cache_kind, CacheKind::Kv);
    assert_eq!(
        config.refresh,
        RefreshSettings {
            interval_minutes: 5,
            enabled: true,
        }
    );
    assert_eq!(
        config.origin,
        OriginSettings {
            url: ORIGIN.to_owned(),
            timeout_ms: 30_000,
        }
    );
    assert!(config.gateway.public_paths.is_empty());
    assert!(config.gateway.route_scopes.is_empty());
    assert!(config.gateway.claim_headers.is_empty());
    assert!(config.gateway.forward_preflight);
    assert_eq!(config.realm, "edge-jwt");
    assert_eq!(config.log_level, Level::Info);
    assert_eq!(config.gateway.status_token, None);
    assert_eq!(config.gateway.token_cookie, None);
    assert_eq!(
        config.gateway.resource_metadata,
        Some(ResourceMetadata::default())
    );
}

#[test]
fn the_defaults_agree_with_the_typed_constants() {
    let config = load(&minimal()).unwrap();
    assert_eq!(
        config.providers[0].verification.claims.clock_skew,
        DEFAULT_CLOCK_SKEW_SECONDS
    );
    assert_eq!(
        config.providers[0].verification.max_token_bytes,
        DEFAULT_MAX_TOKEN_BYTES
    );
    assert_eq!(config.cache, CachePolicy::default());
}

#[test]
fn blank_values_take_the_default_and_values_are_trimmed() {
    let mut env = minimal();
    for &(name, _, _) in variables() {
        env.entry(name).or_insert_with(|| " \t ".to_owned());
    }
    env.insert("JWT_AUDIENCE", "  orders-api  ".to_owned());
    env.insert("JWT_AUTHORITY", format!(" {AUTHORITY}\n"));
    assert_eq!(load(&env).unwrap(), load(&minimal()).unwrap());
    assert_eq!(
        ok("JWT_CLOCK_SKEW_SECONDS", " 30 ").providers[0]
            .verification
            .claims
            .clock_skew,
        30
    );
}

#[test]
fn every_variable_is_read_once_in_the_documented_order() {
    let asked = RefCell::new(Vec::new());
    let env = minimal();
    Config::from_env(|name| {
        asked.borrow_mut().push(name.to_owned());
        env.get(name).cloned()
    })
    .unwrap();
    let expected: Vec<&str> = variables().iter().map(|(name, _, _)| *name).collect();
    assert_eq!(asked.into_inner(), expected);
}

#[test]
fn variables_are_unique_documented_and_the_secrets_are_known() {
    let names: BTreeSet<&str> = variables().iter().map(|(name, _, _)| *name).collect();
    assert_eq!(names.len(), variables().len());
    for (name, _, meaning) in variables() {
        assert!(!meaning.is_empty(), "{name} has no meaning");
        assert!(
            !meaning.contains('|'),
            "{name}: '|' would break the README table"
        );
    }
    let secrets: Vec<&str> = names.iter().copied().filter(|n| is_secret(n)).collect();
    assert_eq!(secrets, ["ORIGIN_AUTH_SECRET", "STATUS_TOKEN"]);
}

#[test]
fn the_readme_table_matches_variables() {
    let table: Vec<String> = variables()
        .iter()
        .map(|(name, default, meaning)| {
            let default = if default.is_empty() {
                "—".to_owned()
            } else {
                format!("`{default}`")
            };
            format!("| `{name}` | {default} | {meaning} |")
        })
        .collect();
    let readme = include_str!("../../../README.md");
    let missing: Vec<&String> = table
        .iter()
        .filter(|row| !readme.lines().any(|line| line == row.as_str()))
        .collect();
    assert!(
        missing.is_empty(),
        "README.md's configuration table is out of date; its rows should be:\n\
         | variable | default | meaning |\n|---|---|---|\n{}",
        table.join("\n")
    );
}

#[test]
fn missing_required_variables_are_errors() {
    for name in ["JWT_AUTHORITY", "JWT_AUDIENCE", "ORIGIN_URL"] {
        let mut env = minimal();
        env.remove(name);
        let missing = load(&env).unwrap_err();
        assert_eq!(missing.variable, name);
        assert_eq!(missing.found.as_deref(), Some(""));
        assert_eq!(err(name, "   "), missing, "blank is missing");
    }
}

#[test]
fn errors_display_variable_expectation_and_value() {
    assert_eq!(
        err("JWT_AUDIENCE", "").to_string(),
        "JWT_AUDIENCE: expected a comma-separated list of at least one audience, found \"\""
    );
    assert_eq!(
        err("JWT_CLOCK_SKEW_SECONDS", "61s").to_string(),
        "JWT_CLOCK_SKEW_SECONDS: expected a whole number of seconds from 0 to 600, found \
         \"61s\""
    );
    let error: Box<dyn std::error::Error> = Box::new(err("LOG_LEVEL", "verbose"));
    assert!(error.to_string().starts_with("LOG_LEVEL: expected"));
}

#[test]
fn long_bad_values_are_shortened_in_errors() {
    let value = format!("https://{}", "a".repeat(500)) + " x";
    let found = err("JWT_AUTHORITY", &value).found.unwrap();
    assert!(found.chars().count() <= 65, "{found}");
    assert!(found.ends_with('…'));
}

#[test]
fn audiences_required_claims_and_types_are_lists() {
    let config = ok("JWT_AUDIENCE", " orders-api , ,billing,orders-api,");
    assert_eq!(
        config.providers[0].verification.claims.audiences,
        ["orders-api", "billing"]
    );
    assert_eq!(err("JWT_AUDIENCE", " , ,").found.as_deref(), Some(", ,"));
    let config = ok("JWT_REQUIRED_CLAIMS", "sub, iat,,scope");
    assert_eq!(
        config.providers[0].verification.claims.required,
        ["sub", "iat", "scope"]
    );
    let config = ok("JWT_TYP", "at+jwt, JWT");
    assert_eq!(config.providers[0].verification.types, ["at+jwt", "JWT"]);
}

#[test]
fn the_authority_is_kept_exactly_as_the_issuer() {
    for authority in [
        "https://login.example.com/",
        "https://login.example.com",
        "https://Login.Example.com:8443/tenant/v2.0",
        "http://localhost:8788",
        "http://127.0.0.1:9000/realms/dev",
        "http://127.8.9.10/",
        "http://[::1]:8080",
    ] {
        let config = ok("JWT_AUTHORITY", authority);
        assert_eq!(config.providers[0].verification.claims.issuer, authority);
    }
}

#[test]
fn the_authority_must_be_https_or_loopback_http() {
    for bad in [
        "http://login.example.com",
        "http://10.0.0.1",
        "http://localhost.example.com",
        "http://[::2]",
        "ftp://login.example.com",
        "login.example.com",
        "/realms/orders",
        "https:login.example.com",
        "HTTPS://login.example.com",
        "https://",
        "https:///path",
        "http:///localhost",
        "https://login.example.com/?tenant=1",
        "https://login.example.com/#x",
        "https://user:pass@login.example.com",
        "https://login example.com",
        "https://login.example.com\\realm",
    ] {
        let error = err("JWT_AUTHORITY", bad);
        assert_eq!(error.found.as_deref(), Some(bad));
        assert!(error.expected.contains("https"), "{error}");
    }
}

#[test]
fn discovery_url_comes_from_the_authority_without_its_trailing_slash() {
    for (authority, discovery) in [
        (
            "https://login.example.com",
            "https://login.example.com/.well-known/openid-configuration",
        ),
        (
            "https://login.example.com/",
            "https://login.example.com/.well-known/openid-configuration",
        ),
        (
            "https://login.example.com/realms/orders/",
            "https://login.example.com/realms/orders/.well-known/openid-configuration",
        ),
    ] {
        let config = ok("JWT_AUTHORITY", authority);
        assert_eq!(
            config.providers[0].jwks,
            JwksLocation::Discovery {
                discovery_url: discovery.to_owned(),
                issuer: authority.to_owned(),
            }
        );
        assert_eq!(config.providers[0].verification.claims.issuer, authority);
    }
}

#[test]
fn a_jwks_url_is_used_directly() {
    for url in [
        "https://login.example.com/keys",
        "https://login.example.com/keys?tenant=a",
        "http://127.0.0.1:8790/jwks.json",
        "http://localhost/jwks",
    ] {
        assert_eq!(
            ok("JWT_JWKS_URL", url).providers[0].jwks,
            JwksLocation::Direct(url.to_owned())
        );
    }
    for bad in [
        "http://login.example.com/keys",
        "https://login.example.com/keys#a",
        "keys.json",
        "file:///etc/keys.json",
    ] {
        assert_eq!(err("JWT_JWKS_URL", bad).found.as_deref(), Some(bad));
    }
}

#[test]
fn algorithms_are_parsed_in_order_without_duplicates() {
    let config = ok("JWT_ALGORITHMS", "ES256, RS256,EdDSA,,ES256");
    assert_eq!(
        config.providers[0].verification.algorithms,
        [Algorithm::Es256, Algorithm::Rs256, Algorithm::EdDsa]
    );
    let every = Algorithm::ALL.map(Algorithm::name).join(",");
    assert_eq!(
        ok("JWT_ALGORITHMS", &every).providers[0]
            .verification
            .algorithms,
        Algorithm::ALL
    );
}

#[test]
fn unknown_algorithms_none_and_hmac_are_refused_clearly() {
    let unknown = err("JWT_ALGORITHMS", "RS256,XY999");
    assert_eq!(
        err("JWT_ALGORITHMS", "€S256").found.as_deref(),
        Some("€S256")
    );
    assert_eq!(err("JWT_ALGORITHMS", "H").found.as_deref(), Some("H"));
    assert_eq!(unknown.found.as_deref(), Some("XY999"));
    assert!(unknown.expected.contains("EdDSA"), "{unknown}");
    for none in ["none", "None", "RS256,NONE"] {
        let error = err("JWT_ALGORITHMS", none);
        assert!(error.expected.contains("never accepted"), "{error}");
    }
    for hmac in ["HS256", "RS256, HS512", "hs384"] {
        let error = err("JWT_ALGORITHMS", hmac);
        assert!(error.expected.contains("HMAC"), "{error}");
    }
    let case = err("JWT_ALGORITHMS", "rs256");
    assert!(case.expected.contains("case-sensitive"), "{case}");
    assert!(case.expected.contains("\"RS256\""), "{case}");
    assert!(err("JWT_ALGORITHMS", ",").expected.contains("at least one"));
    assert_eq!(
        err("JWT_ALGORITHMS", "RS256 ES256").found.as_deref(),
        Some("RS256 ES256")
    );
}

/// Every number with its lowest and highest accepted values, given the defaults of the
/// others (`JWKS_CACHE_TTL_SECONDS` is bounded by its clamps and tested on its own).
const RANGES: &[(&str, u64, u64)] = &[
    ("JWT_CLOCK_SKEW_SECONDS", 0, 600),
    ("JWT_MAX_TOKEN_BYTES", 512, 65_536),
    ("JWT_MAX_TOKEN_AGE_SECONDS", 1, 31_536_000),
    ("JWKS_MIN_TTL_SECONDS", 1, 600),
    ("JWKS_MAX_TTL_SECONDS", 600, 604_800),
    ("JWKS_MAX_STALE_SECONDS", 0, 2_592_000),
    ("JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", 1, 3_600),
    ("JWKS_REFRESH_INTERVAL_MINUTES", 1, 1_440),
    ("JWKS_FETCH_TIMEOUT_MS", 100, 60_000),
    ("ORIGIN_TIMEOUT_MS", 100, 300_000),
];

#[test]
fn numbers_are_checked_against_their_ranges() {
    for &(name, min, max) in RANGES {
        ok(name, &min.to_string());
        ok(name, &max.to_string());
        if min > 0 {
            err(name, &(min - 1).to_string());
        }
        let above = err(name, &(max + 1).to_string());
        assert!(above.expected.contains(&max.to_string()), "{above}");
    }
    // JWKS_CACHE_TTL_SECONDS goes from 1 to 604800 when the clamps allow it.
    err("JWKS_CACHE_TTL_SECONDS", "0");
    let mut env = minimal();
    env.insert("JWKS_CACHE_TTL_SECONDS", "1".to_owned());
    env.insert("JWKS_MIN_TTL_SECONDS", "1".to_owned());
    assert_eq!(load(&env).unwrap().cache.ttl, 1);
    env.insert("JWKS_CACHE_TTL_SECONDS", "604800".to_owned());
    env.insert("JWKS_MAX_TTL_SECONDS", "604800".to_owned());
    assert_eq!(load(&env).unwrap().cache.ttl, 604_800);
    env.insert("JWKS_CACHE_TTL_SECONDS", "604801".to_owned());
    assert_eq!(load(&env).unwrap_err().variable, "JWKS_CACHE_TTL_SECONDS");
}

#[test]
fn numbers_are_plain_decimal_digits() {
    for bad in [
        "-1",
        "+5",
        "1e3",
        "6 0",
        "0x10",
        "5.0",
        "60s",
        "1_000",
        "٣",
        "99999999999999999999999",
    ] {
        let names = RANGES.iter().map(|(name, _, _)| *name);
        for name in names.chain(["JWKS_CACHE_TTL_SECONDS"]) {
            let error = err(name, bad);
            assert_eq!(error.found.as_deref(), Some(bad));
        }
    }
    assert_eq!(
        ok("JWT_CLOCK_SKEW_SECONDS", "007").providers[0]
            .verification
            .claims
            .clock_skew,
        7
    );
}

#[test]
fn the_numbers_reach_the_config() {
    let mut env = minimal();
    for (name, value) in [
        ("JWT_CLOCK_SKEW_SECONDS", "0"),
        ("JWT_MAX_TOKEN_BYTES", "16384"),
        ("JWT_MAX_TOKEN_AGE_SECONDS", "3600"),
        ("JWKS_CACHE_TTL_SECONDS", "300"),
        ("JWKS_MIN_TTL_SECONDS", "30"),
        ("JWKS_MAX_TTL_SECONDS", "3600"),
        ("JWKS_MAX_STALE_SECONDS", "0"),
        ("JWKS_UNKNOWN_KID_COOLDOWN_SECONDS", "10"),
        ("JWKS_REFRESH_INTERVAL_MINUTES", "15"),
        ("JWKS_FETCH_TIMEOUT_MS", "2500"),
        ("ORIGIN_TIMEOUT_MS", "10000"),
    ] {
        env.insert(name, value.to_owned());
    }
    let config = load(&env).unwrap();
    assert_eq!(config.providers[0].verification.claims.clock_skew, 0);
    assert_eq!(config.providers[0].verification.max_token_bytes, 16_384);
    assert_eq!(config.providers[0].verification.claims.max_age, Some(3_600));
    assert_eq!(
        config.cache,
        CachePolicy {
            ttl: 300,
            min_ttl: 30,
            max_ttl: 3_600,
            max_stale: 0,
            unknown_kid_cooldown: 10,
        }
    );
    assert_eq!(config.refresh.interval_minutes, 15);
    assert_eq!(config.jwks.fetch_timeout_ms, 2_500);
    assert_eq!(config.origin.timeout_ms, 10_000);
}

#[test]
fn the_ttl_lies_between_its_clamps() {
    let min_above = err("JWKS_MIN_TTL_SECONDS", "601");
    assert!(
        min_above.expected.contains("JWKS_CACHE_TTL_SECONDS"),
        "{min_above}"
    );
    let max_below = err("JWKS_MAX_TTL_SECONDS", "599");
    assert!(
        max_below.expected.contains("JWKS_CACHE_TTL_SECONDS"),
        "{max_below}"
    );
    let mut env = minimal();
    env.insert("JWKS_CACHE_TTL_SECONDS", "100000".to_owned());
    assert_eq!(load(&env).unwrap_err().variable, "JWKS_MAX_TTL_SECONDS");
    env.insert("JWKS_CACHE_TTL_SECONDS", "30".to_owned());
    assert_eq!(load(&env).unwrap_err().variable, "JWKS_MIN_TTL_SECONDS");
    let equal = ok("JWKS_MIN_TTL_SECONDS", "600").cache;
    assert_eq!((equal.min_ttl, equal.ttl), (600, 600));
}

#[test]
fn booleans_accept_true_false_one_and_zero() {
    for name in ["JWKS_ENABLE_BACKGROUND_REFRESH", "FORWARD_PREFLIGHT"] {
        let read = |value: &str| {
            let config = ok(name, value);
            match name {
                "FORWARD_PREFLIGHT" => config.gateway.forward_preflight,
                _ => config.refresh.enabled,
            }
        };
        for yes in ["true", "TRUE", "True", "1"] {
            assert!(read(yes), "{name}={yes}");
        }
        for no in ["false", "FALSE", "0"] {
            assert!(!read(no), "{name}={no}");
        }
        for bad in ["yes", "no", "on", "2", "t", "truee"] {
            assert_eq!(err(name, bad).found.as_deref(), Some(bad));
        }
    }
}

#[test]
fn the_cache_type_is_kv_or_in_memory() {
    assert_eq!(ok("JWKS_CACHE_TYPE", "kv").cache_kind, CacheKind::Kv);
    assert_eq!(
        ok("JWKS_CACHE_TYPE", "in_memory").cache_kind,
        CacheKind::InMemory
    );
    assert_eq!(ok("JWKS_CACHE_TYPE", "KV").cache_kind, CacheKind::Kv);
    assert_eq!(CacheKind::InMemory.name(), "in_memory");
    assert_eq!(
        err("JWKS_CACHE_TYPE", "redis").found.as_deref(),
        Some("redis")
    );
    err("JWKS_CACHE_TYPE", "in-memory");
}

#[test]
fn urls_are_ascii_with_idn_hosts_in_their_punycode_form() {
    for name in ["JWT_AUTHORITY", "JWT_JWKS_URL", "ORIGIN_URL"] {
        for bad in ["https://bücher.example", "https://login.example.com/tenänt"] {
            let error = err(name, bad);
            assert!(error.expected.contains("xn--"), "{name}: {error}");
            assert_eq!(error.found.as_deref(), Some(bad));
        }
        with(name, "https://xn--bcher-kva.example").expect("the punycode form is accepted");
    }
}

#[test]
fn the_origin_url_is_normalised_without_trailing_slash() {
    for (url, expected) in [
        ("https://orders.internal", "https://orders.internal"),
        ("https://orders.internal/", "https://orders.internal"),
        (
            "https://orders.internal/api/v1/",
            "https://orders.internal/api/v1",
        ),
        ("http://10.1.2.3:8080", "http://10.1.2.3:8080"),
        (
            "https://Orders.Internal:443/api",
            "https://orders.internal/api",
        ),
    ] {
        assert_eq!(ok("ORIGIN_URL", url).origin.url, expected, "{url}");
    }
    for bad in [
        "orders.internal",
        "ftp://orders.internal",
        "https://orders.internal/?a=1",
        "https://orders.internal/#top",
        "https://user@orders.internal",
        "//orders.internal",
    ] {
        assert_eq!(err("ORIGIN_URL", bad).found.as_deref(), Some(bad));
    }
}

#[test]
fn public_paths_are_normalised() {
    let config = ok("PUBLIC_PATHS", " /health/, ,/docs//,/,/health,/v1/status");
    assert_eq!(
        config.gateway.public_paths,
        ["/health", "/docs", "/", "/v1/status"]
    );
    for bad in [
        "health", "/a b", "/a?x=1", "/a#b", "/a/../b", "/./a", "/café", "*", "/a;b", "/a%2fb",
        "/%2e%2e", "/a%252e", "/a\\b",
    ] {
        let error = err("PUBLIC_PATHS", &format!("/ok,{bad}"));
        assert_eq!(error.found.as_deref(), Some(bad));
    }
}

#[test]
fn configured_paths_take_the_canonical_form_of_request_paths() {
    // Unreserved escapes decoded, slashes merged; public paths keep their case.
    let config = ok("PUBLIC_PATHS", "/H%65alth,//docs//v1");
    assert_eq!(config.gateway.public_paths, ["/Health", "/docs/v1"]);
    // Rule paths are stored in lowercase: rules match case-insensitively.
    let config = ok("ROUTE_SCOPES", "POST /%4Frders//Open=orders:write");
    assert_eq!(config.gateway.route_scopes[0].path, "/orders/open");
    let duplicate = err("ROUTE_SCOPES", "POST /orders=a; post /ORDERS/=b");
    assert_eq!(duplicate.found.as_deref(), Some("post /ORDERS/=b"));
}

#[test]
fn head_rules_are_refused_because_head_follows_get() {
    let error = err("ROUTE_SCOPES", "GET /a=x; HEAD /a=y");
    assert!(
        error
            .expected
            .contains("HEAD requests follow the GET rules"),
        "{error}"
    );
    assert!(err("ROUTE_SCOPES", "head /a=y")
        .expected
        .contains("GET rules"));
}

#[test]
fn route_scopes_are_parsed() {
    let config = ok(
        "ROUTE_SCOPES",
        "POST /orders=orders:write; get /orders/ = orders:read  audit ;; \
         /admin=admin; DELETE /=root",
    );
    assert_eq!(
        config.gateway.route_scopes,
        [
            RouteScope {
                method: Some("POST".to_owned()),
                path: "/orders".to_owned(),
                scopes: vec!["orders:write".to_owned()],
            },
            RouteScope {
                method: Some("GET".to_owned()),
                path: "/orders".to_owned(),
                scopes: vec!["orders:read".to_owned(), "audit".to_owned()],
            },
            RouteScope {
                method: None,
                path: "/admin".to_owned(),
                scopes: vec!["admin".to_owned()],
            },
            RouteScope {
                method: Some("DELETE".to_owned()),
                path: "/".to_owned(),
                scopes: vec!["root".to_owned()],
            },
        ]
    );
    // A rule for any method and one for a single method may share a path.
    assert_eq!(
        ok("ROUTE_SCOPES", "/a=x; GET /a=y")
            .gateway
            .route_scopes
            .len(),
        2
    );
}

#[test]
fn bad_route_rules_are_refused() {
    for (bad, why) in [
        ("GET /orders", "'='"),
        ("GET /orders=", "at least one scope"),
        ("GET orders=read", "a path"),
        ("=read", "method and a path"),
        ("GET POST /orders=read", "method and a path"),
        ("G(T /orders=read", "token characters"),
        ("GET /a?b=read", "a path"),
        ("GET /a=re\"ad", "scopes"),
    ] {
        let error = err("ROUTE_SCOPES", &format!("GET /ok=read; {bad}"));
        assert_eq!(error.found.as_deref(), Some(bad));
        assert!(error.expected.contains(why), "{bad}: {error}");
    }
    let duplicate = err("ROUTE_SCOPES", "GET /a=x; get /a/=y");
    assert_eq!(duplicate.found.as_deref(), Some("get /a/=y"));
}

#[test]
fn claim_headers_are_parsed() {
    let config = ok(
        "CLAIM_HEADERS",
        "sub=X-Auth-Subject, realm_access.roles = X-Auth-Roles,,email=X-User-Email",
    );
    assert_eq!(
        config.gateway.claim_headers,
        [
            ClaimHeader {
                claim: vec!["sub".to_owned()],
                header: "X-Auth-Subject".to_owned(),
            },
            ClaimHeader {
                claim: vec!["realm_access".to_owned(), "roles".to_owned()],
                header: "X-Auth-Roles".to_owned(),
            },
            ClaimHeader {
                claim: vec!["email".to_owned()],
                header: "X-User-Email".to_owned(),
            },
        ]
    );
}

#[test]
fn bad_claim_headers_are_refused() {
    for (bad, why) in [
        ("sub", "'='"),
        ("sub=", "token characters"),
        ("sub=X Auth", "token characters"),
        ("sub=X-Auth:Sub", "token characters"),
        ("sub=X-Ä", "token characters"),
        ("=X-Sub", "non-empty names"),
        ("a..b=X-Sub", "non-empty names"),
        (".a=X-Sub", "non-empty names"),
        ("a.=X-Sub", "non-empty names"),
        ("sub=Authorization", "does not own"),
        ("sub=authorization", "does not own"),
        ("sub=Host", "does not own"),
        ("sub=Content-Length", "does not own"),
        ("sub=Transfer-Encoding", "does not own"),
        ("sub=Connection", "does not own"),
        ("sub=Keep-Alive", "does not own"),
        ("sub=TE", "does not own"),
        ("sub=Upgrade", "does not own"),
        ("sub=Proxy-Authorization", "does not own"),
        ("sub=CF-Connecting-IP", "does not own"),
        ("sub=Cookie", "does not own"),
        ("sub=X-Real-IP", "does not own"),
        ("sub=X_Forwarded_For", "does not own"),
        ("sub=X-HTTP-Method-Override", "does not own"),
        ("sub=X-Original-URL", "does not own"),
        ("sub=Transfer_Encoding", "does not own"),
    ] {
        let error = err("CLAIM_HEADERS", &format!("iss=X-Issuer,{bad}"));
        assert_eq!(error.found.as_deref(), Some(bad));
        assert!(error.expected.contains(why), "{bad}: {error}");
    }
    let duplicate = err("CLAIM_HEADERS", "sub=X-Sub,email=x-sub");
    assert_eq!(duplicate.found.as_deref(), Some("email=x-sub"));
    // Origins that fold `_` into `-` would read these two as one header.
    let duplicate = err("CLAIM_HEADERS", "sub=X-Sub,email=X_Sub");
    assert_eq!(duplicate.found.as_deref(), Some("email=X_Sub"));
}

#[test]
fn the_realm_must_be_safe_in_a_quoted_string() {
    assert_eq!(ok("AUTH_REALM", "orders api").realm, "orders api");
    for bad in ["a\"b", "a\\b", "a\u{7}b", "a\u{7f}b", "réalm"] {
        assert_eq!(err("AUTH_REALM", bad).found.as_deref(), Some(bad));
    }
}

#[test]
fn the_log_level_is_parsed() {
    assert_eq!(ok("LOG_LEVEL", "DEBUG").log_level, Level::Debug);
    assert_eq!(ok("LOG_LEVEL", "error").log_level, Level::Error);
    assert_eq!(
        err("LOG_LEVEL", "verbose").found.as_deref(),
        Some("verbose")
    );
}

#[test]
fn the_status_token_is_a_secret() {
    let token = "s3cr3t-status-token-0123456789";
    let config = ok("STATUS_TOKEN", token);
    assert_eq!(config.gateway.status_token.as_deref(), Some(token));
    assert!(!format!("{config:?}").contains(token));
    assert!(format!("{config:?}").contains("<redacted>"));
    assert_eq!(ok("STATUS_TOKEN", "   ").gateway.status_token, None);
    assert_eq!(
        ok("STATUS_TOKEN", "0123456789abcdef")
            .gateway
            .status_token
            .as_deref(),
        Some("0123456789abcdef")
    );
}

#[test]
fn a_short_status_token_is_refused_without_echoing_it() {
    let short = "hunter2-pw";
    let error = err("STATUS_TOKEN", short);
    assert_eq!(error.found, None);
    for text in [error.to_string(), format!("{error:?}")] {
        assert!(!text.contains(short), "{text}");
        assert!(!text.contains("hunter2"), "{text}");
    }
    assert!(error.to_string().contains("at least 16 characters"));
    // 15 characters, some of them multi-byte: counted as characters.
    err("STATUS_TOKEN", "ééééééééééééééé");
}

/// One invalid value for several variables, in the documented order.
const BAD: [(&str, &str); 11] = [
    ("JWT_AUTHORITY", "http://example.com"),
    ("JWT_AUDIENCE", ""),
    ("JWT_ALGORITHMS", "HS256"),
    ("JWT_CLOCK_SKEW_SECONDS", "-1"),
    ("JWKS_CACHE_TYPE", "redis"),
    ("ORIGIN_URL", "ftp://x"),
    ("ORIGIN_AUTH_HEADER", "Cookie"),
    ("ROUTE_SCOPES", "GET /a"),
    ("LOG_LEVEL", "loud"),
    ("STATUS_TOKEN", "short"),
    ("ORIGIN_AUTH_SECRET", "short"),
];

fn all_bad() -> BTreeMap<&'static str, String> {
    BAD.iter()
        .map(|(name, value)| (*name, (*value).to_owned()))
        .collect()
}

#[test]
fn the_first_error_in_the_documented_order_is_reported() {
    let mut env = all_bad();
    // Fix the variables one by one, earliest first: the next one in order is reported.
    for (name, _) in BAD {
        assert_eq!(load(&env).unwrap_err().variable, name);
        env.insert(name, minimal().get(name).cloned().unwrap_or_default());
    }
    assert_eq!(load(&env).unwrap(), load(&minimal()).unwrap());
}

#[test]
fn check_reports_every_invalid_variable_in_the_documented_order() {
    let env = all_bad();
    let bad = BAD;
    let problems = Config::check(|name| env.get(name).cloned()).unwrap_err();
    let named: Vec<&str> = problems.iter().map(|problem| problem.variable).collect();
    let expected: Vec<&str> = bad.iter().map(|(name, _)| *name).collect();
    assert_eq!(named, expected);
    // `from_env` reports the first of them.
    assert_eq!(load(&env).unwrap_err(), problems.first);
    // Each problem is the one `from_env` reports for that variable alone.
    for (problem, (name, value)) in problems.iter().zip(bad) {
        assert_eq!(*problem, err(name, value));
    }
    assert!(Config::check(|name| minimal().get(name).cloned()).is_ok());
}

#[test]
fn a_dependent_range_is_checked_against_the_default_when_its_base_is_invalid() {
    let mut env = minimal();
    env.insert("JWKS_CACHE_TTL_SECONDS", "soon".to_owned());
    env.insert("JWKS_MIN_TTL_SECONDS", "700".to_owned());
    env.insert("JWKS_MAX_TTL_SECONDS", "3600".to_owned());
    let problems = Config::check(|name| env.get(name).cloned()).unwrap_err();
    let named: Vec<&str> = problems.iter().map(|problem| problem.variable).collect();
    // 700 is above the default TTL (600); 3600 is within its clamps.
    assert_eq!(named, ["JWKS_CACHE_TTL_SECONDS", "JWKS_MIN_TTL_SECONDS"]);
}

const ORIGIN_SECRET: &str = "origin-secret-0123456789abcdef-0123456789";

#[test]
fn the_origin_auth_header_defaults_and_can_be_renamed() {
    let config = load(&minimal()).unwrap();
    assert_eq!(config.gateway.origin_auth.header(), "X-Gateway-Auth");
    assert!(!config.gateway.origin_auth.is_set());
    let config = ok("ORIGIN_AUTH_HEADER", " X-Origin-Token ");
    assert_eq!(config.gateway.origin_auth.header(), "X-Origin-Token");
    for name in [
        "Cookie",
        "X-Auth-Gateway",
        "CF-Access-Token",
        "X Token",
        "Host",
    ] {
        let error = err("ORIGIN_AUTH_HEADER", name);
        assert!(error.to_string().contains(name.trim()), "{error}");
    }
}

#[test]
fn the_origin_auth_secret_is_a_secret() {
    let config = ok("ORIGIN_AUTH_SECRET", ORIGIN_SECRET);
    assert!(config.gateway.origin_auth.is_set());
    assert_eq!(
        config.gateway.origin_auth.header_to_send(),
        Some(("x-gateway-auth".to_owned(), ORIGIN_SECRET.to_owned()))
    );
    let shown = format!("{config:?}");
    assert!(!shown.contains(ORIGIN_SECRET), "{shown}");
    for bad in [
        &ORIGIN_SECRET[..31],
        "origin secret with spaces 0123456789abcdef",
    ] {
        let error = err("ORIGIN_AUTH_SECRET", bad);
        assert_eq!(error.found, None);
        for text in [error.to_string(), format!("{error:?}")] {
            assert!(!text.contains(bad), "{text}");
            assert!(!text.contains("origin"), "{text}");
        }
    }
    // Blank is unset.
    assert!(!ok("ORIGIN_AUTH_SECRET", "  ").gateway.origin_auth.is_set());
}

#[test]
fn a_claim_header_may_not_be_the_origin_auth_header() {
    for (header, claims) in [
        ("", "sub=X-Gateway-Auth"),
        ("", "sub=x_gateway_auth"),
        ("X-Origin-Token", "email=X-Origin-Token"),
    ] {
        let mut env = minimal();
        if !header.is_empty() {
            env.insert("ORIGIN_AUTH_HEADER", header.to_owned());
        }
        env.insert("CLAIM_HEADERS", claims.to_owned());
        let error = load(&env).unwrap_err();
        assert_eq!(error.variable, "CLAIM_HEADERS", "{error}");
        assert!(error.to_string().contains("ORIGIN_AUTH_HEADER"), "{error}");
    }
    // Once renamed, the default name is an ordinary header.
    let mut env = minimal();
    env.insert("ORIGIN_AUTH_HEADER", "X-Origin-Token".to_owned());
    env.insert("CLAIM_HEADERS", "sub=X-Gateway-Auth".to_owned());
    assert!(load(&env).is_ok());
}

/// The shared table of configured URLs (core/tests/data/url-policy.json), with the `url` crate;
/// tests/urls.test.mjs runs the same table in workerd with the runtime's parser.
#[test]
fn the_url_policy_table_holds_with_the_url_crate() {
    let table: serde_json::Value =
        serde_json::from_str(include_str!("../../tests/data/url-policy.json")).unwrap();
    let cases = table["cases"].as_array().unwrap();
    assert!(cases.len() >= 30);
    for case in cases {
        let name = match case["variable"].as_str().unwrap() {
            "JWT_AUTHORITY" => "JWT_AUTHORITY",
            "JWT_JWKS_URL" => "JWT_JWKS_URL",
            "ORIGIN_URL" => "ORIGIN_URL",
            other => panic!("unknown variable {other}"),
        };
        let value = case["value"].as_str().unwrap();
        let accepted = case["accepted"].as_bool().unwrap();
        assert_eq!(with(name, value).is_ok(), accepted, "{name} = {value}");
    }
}

/// The environment of two providers, without the single-issuer variables.
fn issuers(json: &str) -> BTreeMap<&'static str, String> {
    BTreeMap::from([
        ("JWT_ISSUERS", json.to_owned()),
        ("ORIGIN_URL", ORIGIN.to_owned()),
    ])
}

const TWO: &str = r#"[
    {"issuer": "https://login.example.com/realms/orders", "audience": "orders-api, admin-api"},
    {"name": "partner", "issuer": "https://partners.example.com", "audience": ["partner-api"],
     "jwks_url": "https://partners.example.com/keys", "algorithms": "ES256,EdDSA",
     "claim_headers": "partner_id=X-Partner-Id"}
]"#;

#[test]
fn several_issuers_each_with_their_own_rules_and_the_shared_ones() {
    let mut env = issuers(TWO);
    env.insert("JWT_ALGORITHMS", "RS256,PS256".to_owned());
    env.insert("JWT_CLOCK_SKEW_SECONDS", "30".to_owned());
    env.insert("JWT_REQUIRED_CLAIMS", "sub".to_owned());
    env.insert("CLAIM_HEADERS", "email=X-Email".to_owned());
    let config = load(&env).unwrap();
    let [main, partner] = &config.providers[..] else {
        panic!("two providers: {config:?}")
    };
    assert_eq!(main.name, AUTHORITY);
    assert_eq!(main.issuer(), AUTHORITY);
    assert_eq!(
        main.verification.claims.audiences,
        ["orders-api", "admin-api"]
    );
    assert_eq!(
        main.jwks,
        JwksLocation::Discovery {
            discovery_url: format!("{AUTHORITY}/.well-known/openid-configuration"),
            issuer: AUTHORITY.to_owned(),
        }
    );
    // Defaults from the single-form variables.
    assert_eq!(
        main.verification.algorithms,
        [Algorithm::Rs256, Algorithm::Ps256]
    );
    assert_eq!(main.claim_headers.len(), 1);
    assert_eq!(main.claim_headers[0].header, "X-Email");
    assert_eq!(partner.name, "partner");
    assert_eq!(partner.issuer(), "https://partners.example.com");
    assert_eq!(partner.verification.claims.audiences, ["partner-api"]);
    assert_eq!(
        partner.jwks,
        JwksLocation::Direct("https://partners.example.com/keys".to_owned())
    );
    assert_eq!(
        partner.verification.algorithms,
        [Algorithm::Es256, Algorithm::EdDsa]
    );
    assert_eq!(partner.claim_headers[0].header, "X-Partner-Id");
    // The shared rules apply to both.
    for provider in &config.providers {
        assert_eq!(provider.verification.claims.clock_skew, 30);
        assert_eq!(provider.verification.claims.required, ["sub"]);
    }
    // Every provider's identity header is stripped from client requests.
    let stripped: Vec<&str> = config
        .gateway
        .claim_headers
        .iter()
        .map(|header| header.header.as_str())
        .collect();
    assert_eq!(stripped, ["X-Email", "X-Partner-Id"]);
    // A JSON array value means the same as the JSON text.
    let value: serde_json::Value = serde_json::from_str(TWO).unwrap();
    let typed = Config::from_env(|name| match name {
        "JWT_ISSUERS" => Some(VarValue::Json(value.clone())),
        "ORIGIN_URL" => Some(VarValue::from(ORIGIN)),
        _ => None,
    })
    .unwrap();
    assert_eq!(typed, load(&issuers(TWO)).unwrap());
}

#[test]
fn the_issuers_are_configured_in_one_form_only() {
    for single in ["JWT_AUTHORITY", "JWT_AUDIENCE", "JWT_JWKS_URL"] {
        let mut env = issuers(TWO);
        env.insert(single, "https://login.example.com/keys".to_owned());
        let error = load(&env).unwrap_err();
        assert_eq!(error.variable, single, "{error}");
        assert!(error.to_string().contains("JWT_ISSUERS is set"), "{error}");
    }
    // Neither form: the single issuer is required.
    let error = load(&issuers("")).unwrap_err();
    assert_eq!(error.variable, "JWT_AUTHORITY");
}

#[test]
fn a_bad_provider_fails_the_whole_configuration() {
    let provider = |fields: &str| format!(r#"[{{{fields}}}]"#);
    let ok_fields = r#""issuer": "https://a.example.com", "audience": "a""#;
    let cases: Vec<(String, &str)> = vec![
        ("not json".to_owned(), "JSON array"),
        (
            r#"{"issuer": "https://a.example.com"}"#.to_owned(),
            "JSON array",
        ),
        ("[]".to_owned(), "at least one"),
        (r#"["https://a.example.com"]"#.to_owned(), "an object"),
        (
            provider(&format!(r#"{ok_fields}, "audiences": "b""#)),
            "unknown field \"audiences\"",
        ),
        (
            provider(r#""audience": "a""#),
            "\"issuer\": a non-empty string (required)",
        ),
        (
            provider(r#""issuer": "https://a.example.com""#),
            "\"audience\"",
        ),
        (
            provider(r#""issuer": "https://a.example.com", "audience": []"#),
            "\"audience\"",
        ),
        (
            provider(r#""issuer": "http://a.example.com", "audience": "a""#),
            "\"issuer\": an absolute https URL",
        ),
        (
            provider(&format!(
                r#"{ok_fields}, "jwks_url": "https://a.example.com/k#f""#
            )),
            "\"jwks_url\"",
        ),
        (
            provider(&format!(r#"{ok_fields}, "algorithms": "none""#)),
            "\"algorithms\": signed tokens only",
        ),
        (
            provider(&format!(r#"{ok_fields}, "algorithms": "HS256""#)),
            "\"algorithms\"",
        ),
        (
            provider(&format!(
                r#"{ok_fields}, "claim_headers": "sub=X-Gateway-Auth""#
            )),
            "\"claim_headers\"",
        ),
        (
            provider(&format!(
                r#"{ok_fields}, "claim_headers": "sub=Authorization""#
            )),
            "\"claim_headers\"",
        ),
        (
            provider(&format!(r#"{ok_fields}, "name": "two words""#)),
            "\"name\"",
        ),
        (provider(&format!(r#"{ok_fields}, "name": 5"#)), "\"name\""),
        (
            format!(r#"[{{{ok_fields}}}, {{"issuer": "https://a.example.com", "audience": "b"}}]"#),
            "whose issuer no other provider has",
        ),
        (
            format!(
                r#"[{{{ok_fields}, "name": "x"}}, {{"issuer": "https://b.example.com", "audience": "b", "name": "x"}}]"#
            ),
            "whose name no other provider has",
        ),
        (
            format!(
                r#"[{{{ok_fields}, "jwks_url": "https://k.example.com/jwks"}},
                    {{"issuer": "https://b.example.com", "audience": "b", "jwks_url": "https://k.example.com/jwks"}}]"#
            ),
            "whose key-set URL no other provider has",
        ),
    ];
    for (json, expected) in cases {
        let error = load(&issuers(&json)).unwrap_err();
        assert_eq!(error.variable, "JWT_ISSUERS", "{json}: {error}");
        assert!(error.to_string().contains(expected), "{json}: {error}");
    }
    // The element is named by its index.
    let second_bad = format!(r#"[{{{ok_fields}}}, {{"issuer": "https://b.example.com"}}]"#);
    assert_eq!(load(&issuers(&second_bad)).unwrap_err().element, Some(1));
    // At most MAX_PROVIDERS.
    let many: Vec<String> = (0..=MAX_PROVIDERS)
        .map(|n| format!(r#"{{"issuer": "https://i{n}.example.com", "audience": "a"}}"#))
        .collect();
    let error = load(&issuers(&format!("[{}]", many.join(",")))).unwrap_err();
    assert!(
        error.to_string().contains("at most 10 providers"),
        "{error}"
    );
    let most = format!("[{}]", many[..MAX_PROVIDERS].join(","));
    assert_eq!(
        load(&issuers(&most)).unwrap().providers.len(),
        MAX_PROVIDERS
    );
}

#[test]
fn route_issuers_name_providers() {
    let mut env = issuers(TWO);
    env.insert(
        "ROUTE_ISSUERS",
        format!("/partner=partner; GET /orders={AUTHORITY} partner"),
    );
    let config = load(&env).unwrap();
    let rules = &config.gateway.route_issuers;
    assert_eq!(rules.len(), 2);
    assert_eq!(rules[0].path, "/partner");
    assert_eq!(rules[0].scopes, ["partner"]);
    assert_eq!(rules[1].method.as_deref(), Some("GET"));
    assert_eq!(rules[1].scopes, [AUTHORITY, "partner"]);
    // An unknown name is an error, not a rule that refuses everything.
    env.insert("ROUTE_ISSUERS", "/partner=partners".to_owned());
    let error = load(&env).unwrap_err();
    assert_eq!(error.variable, "ROUTE_ISSUERS");
    assert!(
        error.to_string().contains("\"partners\" is not a provider"),
        "{error}"
    );
    // With the single-issuer form, the provider's name is the issuer.
    let single = ok("ROUTE_ISSUERS", &format!("/orders={AUTHORITY}"));
    assert_eq!(single.gateway.route_issuers[0].scopes, [AUTHORITY]);
    err("ROUTE_ISSUERS", "/orders=other");
}

#[test]
fn the_token_cookie_is_a_cookie_name() {
    let config = ok("JWT_COOKIE", " __Host-access_token ");
    let cookie = config.gateway.token_cookie.expect("a token cookie");
    assert_eq!(cookie.name(), "__Host-access_token");
    assert!(!cookie.forwarded());
    for bad in [
        "access token",
        "a=b",
        "a;b",
        "a,b",
        "tok\"en",
        "jéton",
        "(x)",
    ] {
        let error = err("JWT_COOKIE", bad);
        assert!(error.to_string().contains("RFC 6265"), "{error}");
        assert_eq!(error.found.as_deref(), Some(bad), "{error}");
    }
    let mut env = minimal();
    env.insert("JWT_COOKIE", "session_jwt".to_owned());
    env.insert("JWT_COOKIE_FORWARD", "TRUE".to_owned());
    let cookie = load(&env).unwrap().gateway.token_cookie.unwrap();
    assert_eq!((cookie.name(), cookie.forwarded()), ("session_jwt", true));
    // Without a cookie name, forwarding has nothing to act on.
    assert_eq!(ok("JWT_COOKIE_FORWARD", "true").gateway.token_cookie, None);
    assert_eq!(
        err("JWT_COOKIE_FORWARD", "yes").variable,
        "JWT_COOKIE_FORWARD"
    );
}

#[test]
fn resource_metadata_is_on_by_default_and_can_be_turned_off() {
    assert_eq!(
        ok("RESOURCE_METADATA", "false").gateway.resource_metadata,
        None
    );
    assert_eq!(ok("RESOURCE_METADATA", "0").gateway.resource_metadata, None);
    assert_eq!(
        ok("RESOURCE_METADATA", "true").gateway.resource_metadata,
        Some(ResourceMetadata::default())
    );
    assert_eq!(
        err("RESOURCE_METADATA", "off").variable,
        "RESOURCE_METADATA"
    );
    // A resource identifier with the metadata off is checked, and unused.
    let mut env = minimal();
    env.insert("RESOURCE_METADATA", "false".to_owned());
    env.insert("RESOURCE_URI", "https://api.example.com/mcp".to_owned());
    assert_eq!(load(&env).unwrap().gateway.resource_metadata, None);
    env.insert("RESOURCE_URI", "ftp://api.example.com/mcp".to_owned());
    assert_eq!(load(&env).unwrap_err().variable, "RESOURCE_URI");
}

#[test]
fn the_resource_uri_is_an_https_url_written_as_parsed() {
    for good in [
        "https://api.example.com",
        "https://api.example.com/",
        "https://api.example.com/mcp",
        "https://api.example.com/mcp/",
        "https://api.example.com:8443/v1/orders%20x",
        "http://localhost:8787",
        "http://127.0.0.1:8787/mcp",
        "https://xn--bcher-kva.example/",
    ] {
        let metadata = ok("RESOURCE_URI", good).gateway.resource_metadata.unwrap();
        assert_eq!(metadata.resource_uri().unwrap().as_str(), good);
    }
    for (bad, hint) in [
        ("http://api.example.com/mcp", ""),
        ("ftp://api.example.com", ""),
        ("api.example.com/mcp", ""),
        ("https://api.example.com/mcp?x=1", ""),
        ("https://api.example.com/mcp?", ""),
        ("https://api.example.com/mcp#top", ""),
        ("https://user:pw@api.example.com/", ""),
        ("https://bücher.example/", "ASCII"),
        (
            "https://API.example.com/mcp",
            "\"https://api.example.com/mcp\"",
        ),
        (
            "https://api.example.com:443/mcp",
            "\"https://api.example.com/mcp\"",
        ),
        (
            "https://api.example.com/a/../mcp",
            "\"https://api.example.com/mcp\"",
        ),
        ("https://api.example.com/m cp", ""),
    ] {
        let error = err("RESOURCE_URI", bad);
        assert!(error.to_string().contains(hint), "{bad}: {error}");
        assert_eq!(error.found.as_deref(), Some(bad), "{error}");
    }
}
