//! The jose-minted fixtures (`tests/data/jose-fixtures.json`, written by
//! `data/generate-jose-fixtures.mjs`): the document, the verifier its tokens were minted for,
//! and a moment at which they are all valid. Shared by the native tests (`tests/verification.rs`,
//! `tests/key_cache.rs`) and the benchmark (`examples/verify_bench.rs`).

use edge_jwt_core::jws::claims::ClaimsPolicy;
use edge_jwt_core::{Algorithm, VerificationPolicy, Verifier};
use serde_json::Value;

const FIXTURES: &str = include_str!("../data/jose-fixtures.json");

/// The parsed fixture document (`jwks`, `tokens`, `attacks`, `issuer`, `audience`, `iat`, `exp`).
pub(crate) fn document() -> Value {
    serde_json::from_str(FIXTURES).expect("the jose fixtures are JSON")
}

/// A verifier for the fixture tokens: every algorithm, the fixtures' issuer and audience, 60 s of
/// clock skew, no required claims beyond those and no maximum age.
pub(crate) fn verifier(doc: &Value) -> Verifier {
    Verifier::new(VerificationPolicy {
        algorithms: Algorithm::ALL.to_vec(),
        max_token_bytes: 8192,
        types: vec![],
        claims: ClaimsPolicy {
            issuer: doc["issuer"].as_str().unwrap().to_owned(),
            audiences: vec![doc["audience"].as_str().unwrap().to_owned()],
            clock_skew: 60,
            required: vec![],
            max_age: None,
        },
    })
}

/// A moment (seconds since the epoch) at which every fixture token is valid: ten seconds after
/// they were issued.
pub(crate) fn valid_at(doc: &Value) -> u64 {
    doc["iat"].as_u64().unwrap() + 10
}

/// The compact fixture token signed with the key `kid` (`jose-<alg in lower case>`).
pub(crate) fn token<'a>(doc: &'a Value, kid: &str) -> &'a str {
    doc["tokens"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["kid"] == kid)
        .unwrap_or_else(|| panic!("no fixture token for {kid}"))["token"]
        .as_str()
        .unwrap()
}
