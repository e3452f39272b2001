//! Several issuers (`JWT_ISSUERS`) through the request pipeline: the token's `iss` chooses the
//! provider before any key is looked up, and that provider alone checks the token. The tokens
//! are jose-made (`data/multi-issuer-fixtures.json`): two issuers whose keys share one `kid`,
//! and tokens signed across them.

#[path = "support/gateway.rs"]
#[allow(dead_code)]
mod harness;

use std::collections::BTreeMap;

use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::jws::error::Rejection;
use edge_jwt_core::jws::jwk::KeySet;
use edge_jwt_core::keys::source::FetchError;
use harness::{Outcome, Req, TestGateway};
use serde_json::Value;

const FIXTURES: &str = include_str!("data/multi-issuer-fixtures.json");

fn fixtures() -> Value {
    serde_json::from_str(FIXTURES).expect("the multi-issuer fixtures are JSON")
}

fn now() -> u64 {
    fixtures()["iat"].as_u64().unwrap() + 10
}

fn token(name: &str) -> String {
    fixtures()["tokens"][name].as_str().unwrap().to_owned()
}

fn issuer(name: &str) -> String {
    fixtures()["issuers"][name]["issuer"]
        .as_str()
        .unwrap()
        .to_owned()
}

fn keys(name: &str) -> KeySet {
    KeySet::from_jwks_value(
        &fixtures()["issuers"][name]["jwks"],
        KeySet::DEFAULT_MAX_KEYS,
    )
    .unwrap()
}

/// A gateway trusting `main` (by its issuer as name) and `partner`, each source answering its
/// own key set, with `extra` variables.
fn gateway(extra: &[(&'static str, &str)]) -> TestGateway {
    let doc = fixtures();
    let issuers = serde_json::json!([
        {
            "issuer": doc["issuers"]["main"]["issuer"],
            "audience": doc["issuers"]["main"]["audience"],
            "jwks_url": "https://issuer.example/jwks.json",
        },
        {
            "name": "partner",
            "issuer": doc["issuers"]["partner"]["issuer"],
            "audience": doc["issuers"]["partner"]["audience"],
            "jwks_url": "https://partner.example/jwks.json",
            "claim_headers": "sub=X-Partner-User",
        },
    ]);
    let mut env: BTreeMap<&str, String> = BTreeMap::from([
        ("JWT_ISSUERS", issuers.to_string()),
        ("JWT_ALGORITHMS", "EdDSA".to_owned()),
        ("ORIGIN_URL", "https://orders.internal.example".to_owned()),
    ]);
    for (name, value) in extra {
        env.insert(name, (*value).to_owned());
    }
    let gateway = TestGateway::with_env(&env);
    gateway.sources[0].answer(Ok(keys("main")));
    gateway.sources[1].answer(Ok(keys("partner")));
    gateway
}

fn get(path: &str, token: &str) -> Req {
    Req::new("GET", path).bearer(token)
}

fn refused(outcome: &Outcome) -> &GatewayError {
    match outcome {
        Outcome::Refused(error) => error,
        other => panic!("not refused: {other:?}"),
    }
}

fn fetches(gateway: &TestGateway) -> [usize; 2] {
    [gateway.sources[0].calls(), gateway.sources[1].calls()]
}

fn header<'a>(identity: &'a [(String, String)], name: &str) -> Option<&'a str> {
    identity
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, value)| value.as_str())
}

#[test]
fn each_token_is_verified_by_the_provider_its_issuer_names() {
    let gateway = gateway(&[]);
    for (name, expected_fetches) in [("main", [1, 0]), ("partner", [1, 1])] {
        let outcome = gateway.run(&get("/orders/1", &token(name)), now());
        let forward = outcome.forwarded();
        let identity = &forward.identity;
        assert_eq!(
            header(identity, "x-auth-issuer"),
            Some(issuer(name).as_str())
        );
        // Only the partner's tokens make the partner's claim header.
        assert_eq!(
            header(identity, "x-partner-user").is_some(),
            name == "partner",
            "{identity:?}"
        );
        assert_eq!(forward.cache.provider, Some(usize::from(name == "partner")));
        assert_eq!(fetches(&gateway), expected_fetches, "{name}");
    }
    // Both again: answered by the token cache, each against its own provider's key set.
    for name in ["main", "partner"] {
        let outcome = gateway.run(&get("/orders/2", &token(name)), now());
        assert!(
            matches!(
                outcome,
                Outcome::Forwarded {
                    verified: false,
                    ..
                }
            ),
            "{outcome:?}"
        );
    }
    assert_eq!(fetches(&gateway), [1, 1]);
}

#[test]
fn a_key_of_one_provider_never_verifies_a_token_of_another() {
    // Both keys have the kid the forged tokens name; each token is checked against the key set
    // of the issuer it claims, so the other issuer's signature does not verify.
    for forged in ["main_signed_by_partner", "partner_signed_by_main"] {
        let gateway = gateway(&[]);
        // Both key sets in memory first, so that a mix-up would find the signer's key.
        for name in ["main", "partner"] {
            assert_eq!(
                gateway.run(&get("/orders", &token(name)), now()).status(),
                200
            );
        }
        let outcome = gateway.run(&get("/orders", &token(forged)), now());
        assert_eq!(
            refused(&outcome),
            &GatewayError::InvalidToken(Rejection::BadSignature),
            "{forged}"
        );
    }
}

#[test]
fn an_unknown_or_missing_issuer_is_refused_before_any_fetch() {
    let gateway = gateway(&[]);
    let cases = [
        ("unknown_issuer", Rejection::InvalidIssuer),
        (
            "without_issuer",
            Rejection::MissingClaim {
                name: "iss".to_owned(),
            },
        ),
        (
            "numeric_issuer",
            Rejection::InvalidClaim {
                name: "iss".to_owned(),
                reason: "not a string",
            },
        ),
    ];
    for (name, rejection) in cases {
        for _ in 0..3 {
            let outcome = gateway.run(&get("/orders", &token(name)), now());
            assert_eq!(
                refused(&outcome),
                &GatewayError::InvalidToken(rejection.clone())
            );
        }
    }
    assert_eq!(fetches(&gateway), [0, 0]);
}

#[test]
fn each_provider_checks_its_own_audience() {
    let gateway = gateway(&[]);
    let outcome = gateway.run(&get("/orders", &token("main_with_partner_audience")), now());
    assert_eq!(
        refused(&outcome),
        &GatewayError::InvalidToken(Rejection::InvalidAudience)
    );
}

#[test]
fn routes_accept_only_the_providers_their_rule_names() {
    let gateway = gateway(&[(
        "ROUTE_ISSUERS",
        "/partner=partner; /admin=https://issuer.example",
    )]);
    // Refused before any key lookup: nothing fetched for it.
    let outcome = gateway.run(&get("/partner/orders", &token("main")), now());
    assert_eq!(refused(&outcome), &GatewayError::IssuerNotAccepted);
    assert_eq!(outcome.status(), 401);
    assert_eq!(fetches(&gateway), [0, 0]);
    for (path, name, status) in [
        ("/partner/orders", "partner", 200),
        ("/PARTNER/orders", "main", 401),
        ("/partnerships", "main", 200),
        ("/orders", "partner", 200),
        ("/orders", "main", 200),
        ("/admin", "partner", 401),
        ("/admin", "main", 200),
    ] {
        let outcome = gateway.run(&get(path, &token(name)), now());
        assert_eq!(outcome.status(), status, "{name} on {path}: {outcome:?}");
    }
    // A token verified on another route (now in the token cache) is refused all the same.
    let outcome = gateway.run(&get("/partner/x", &token("main")), now());
    assert!(matches!(
        outcome,
        Outcome::Refused(GatewayError::IssuerNotAccepted)
    ));
    // `HEAD` follows the `GET` rules, and a rule for every route restricts everything.
    let everywhere = gateway_with_root_rule();
    let outcome = everywhere.run(
        &Req::new("HEAD", "/orders").bearer(&token("partner")),
        now(),
    );
    assert_eq!(refused(&outcome), &GatewayError::IssuerNotAccepted);
}

fn gateway_with_root_rule() -> TestGateway {
    gateway(&[("ROUTE_ISSUERS", "GET /=https://issuer.example")])
}

#[test]
fn one_provider_down_leaves_the_other_working() {
    let gateway = gateway(&[]);
    gateway.sources[1].answer(Err(FetchError::Status(503)));
    let outcome = gateway.run(&get("/orders", &token("partner")), now());
    assert!(matches!(
        refused(&outcome),
        GatewayError::KeysUnavailable { .. }
    ));
    for _ in 0..3 {
        assert_eq!(
            gateway.run(&get("/orders", &token("main")), now()).status(),
            200
        );
    }
    // The partner's failure backs off on its own: the main provider was fetched once.
    assert_eq!(gateway.sources[0].calls(), 1);
    // The failure's events say which provider failed.
    let failed = gateway.log.take("key_set_fetch_failed");
    assert!(!failed.is_empty());
    for (_, fields) in failed {
        assert_eq!(fields["provider"], "partner", "{fields}");
    }
}
