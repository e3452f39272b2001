//! End-to-end verification on the native backend: tokens minted by `jose` (an independent
//! implementation, see data/generate-jose-fixtures.mjs) pass; every named attack is rejected with
//! the right stable code.

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_jwt_core::jws::jwk::KeySet;
use edge_jwt_core::jws::native::NativeBackend;
use edge_jwt_core::{Algorithm, Rejection, VerifiedToken, Verifier};
use serde_json::Value;

#[path = "support/fixtures.rs"]
mod fixtures;

struct Fixtures {
    doc: Value,
    keys: KeySet,
    now: u64,
}

fn load() -> Fixtures {
    let doc = fixtures::document();
    let keys = KeySet::from_jwks_value(&doc["jwks"], KeySet::DEFAULT_MAX_KEYS).unwrap();
    let now = fixtures::valid_at(&doc);
    Fixtures { doc, keys, now }
}

fn verify(f: &Fixtures, token: &str) -> Result<VerifiedToken, Rejection> {
    pollster::block_on(fixtures::verifier(&f.doc).verify_token(
        token,
        &f.keys,
        &NativeBackend,
        f.now,
    ))
}

fn code(f: &Fixtures, token: &str) -> &'static str {
    match verify(f, token) {
        Ok(_) => "accepted",
        Err(rejection) => rejection.code(),
    }
}

fn b64(bytes: &[u8]) -> String {
    Base64UrlUnpadded::encode_string(bytes)
}

fn token_of(f: &Fixtures, alg: &str) -> String {
    fixtures::token(&f.doc, &format!("jose-{}", alg.to_lowercase())).to_owned()
}

fn with_header(token: &str, header: &str) -> String {
    let (_, rest) = token.split_once('.').unwrap();
    format!("{}.{rest}", b64(header.as_bytes()))
}

fn with_signature(token: &str, signature: &[u8]) -> String {
    let (input, _) = token.rsplit_once('.').unwrap();
    format!("{input}.{}", b64(signature))
}

fn signature_of(token: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(token.rsplit_once('.').unwrap().1).unwrap()
}

#[test]
fn the_weak_key_is_skipped_at_import_and_the_rest_are_kept() {
    let f = load();
    assert_eq!(f.keys.len(), 10);
    assert_eq!(f.keys.skipped().len(), 1);
    assert_eq!(f.keys.skipped()[0].kid.as_deref(), Some("weak-1024"));
}

#[test]
fn every_algorithm_minted_by_jose_verifies() {
    let f = load();
    let tokens = f.doc["tokens"].as_array().unwrap();
    assert!(tokens.len() >= Algorithm::ALL.len());
    for entry in tokens {
        let name = entry["name"].as_str().unwrap();
        let verified = verify(&f, entry["token"].as_str().unwrap())
            .unwrap_or_else(|err| panic!("{name}: rejected: {err} ({})", err.code()));
        assert_eq!(
            verified.alg.name(),
            entry["alg"].as_str().unwrap(),
            "{name}"
        );
        assert_eq!(verified.kid.as_deref(), entry["kid"].as_str(), "{name}");
        assert_eq!(verified.claims["sub"], "alice", "{name}");
    }
}

#[test]
fn a_tampered_payload_or_signature_fails_for_every_algorithm() {
    let f = load();
    for alg in Algorithm::ALL {
        let token = token_of(&f, alg.name());
        let mut sig = signature_of(&token);
        let middle = sig.len() / 2;
        sig[middle] ^= 1;
        assert_eq!(
            code(&f, &with_signature(&token, &sig)),
            "bad_signature",
            "{alg}"
        );

        let parts: Vec<&str> = token.split('.').collect();
        let mut claims: Value =
            serde_json::from_slice(&Base64UrlUnpadded::decode_vec(parts[1]).unwrap()).unwrap();
        claims["sub"] = "mallory".into();
        let forged = format!(
            "{}.{}.{}",
            parts[0],
            b64(claims.to_string().as_bytes()),
            parts[2]
        );
        assert_eq!(code(&f, &forged), "bad_signature", "{alg}");
    }
}

#[test]
fn attacks_signed_by_jose_and_node_are_rejected_with_their_code() {
    let f = load();
    let attacks = f.doc["attacks"].as_array().unwrap();
    assert!(attacks.len() >= 15);
    for attack in attacks {
        let name = attack["name"].as_str().unwrap();
        let expected = attack["code"].as_str().unwrap();
        assert_eq!(
            code(&f, attack["token"].as_str().unwrap()),
            expected,
            "{name}"
        );
    }
}

#[test]
fn alg_none_in_every_spelling_is_not_allowed() {
    let f = load();
    let token = token_of(&f, "RS256");
    for alg in ["none", "None", "NONE", "nOnE", "none ", ""] {
        let header = format!(r#"{{"alg":"{alg}","kid":"jose-rs256","typ":"JWT"}}"#);
        let unsigned = with_signature(&with_header(&token, &header), b"");
        assert_eq!(
            code(&f, &unsigned),
            "algorithm_not_allowed",
            "unsigned, alg {alg:?}"
        );
        let signed = with_header(&token, &header);
        assert_eq!(
            code(&f, &signed),
            "algorithm_not_allowed",
            "signed, alg {alg:?}"
        );
    }
}

#[test]
fn hmac_algorithms_are_never_allowed() {
    let f = load();
    let token = token_of(&f, "RS256");
    for alg in ["HS256", "HS384", "HS512"] {
        let header = format!(r#"{{"alg":"{alg}","kid":"jose-rs256"}}"#);
        assert_eq!(
            code(&f, &with_header(&token, &header)),
            "algorithm_not_allowed",
            "{alg}"
        );
    }
}

#[test]
fn the_allow_list_not_the_header_chooses_the_algorithm() {
    let f = load();
    let mut policy = fixtures::verifier(&f.doc).policy().clone();
    policy.algorithms = vec![Algorithm::Es256];
    let verifier = Verifier::new(policy);
    let run = |token: &str| {
        pollster::block_on(verifier.verify_token(token, &f.keys, &NativeBackend, f.now))
            .map(|_| ())
            .map_err(|r| r.code())
    };
    assert_eq!(run(&token_of(&f, "ES256")), Ok(()));
    assert_eq!(run(&token_of(&f, "RS256")), Err("algorithm_not_allowed"));
}

#[test]
fn psychic_and_der_ecdsa_signatures_fail() {
    let f = load();
    for (alg, len) in [("ES256", 64), ("ES384", 96)] {
        let token = token_of(&f, alg);
        assert_eq!(
            code(&f, &with_signature(&token, &vec![0; len])),
            "bad_signature",
            "{alg} r=s=0"
        );
        let sig = signature_of(&token);
        let der = der_encode(&sig[..len / 2], &sig[len / 2..]);
        assert_eq!(
            code(&f, &with_signature(&token, &der)),
            "bad_signature",
            "{alg} DER"
        );
    }
    let token = token_of(&f, "EdDSA");
    assert_eq!(
        code(&f, &with_signature(&token, &[0; 64])),
        "bad_signature",
        "EdDSA zeros"
    );
}

/// ASN.1 DER `SEQUENCE { INTEGER r, INTEGER s }`, as a non-JWS ECDSA library would emit it.
fn der_encode(r: &[u8], s: &[u8]) -> Vec<u8> {
    fn integer(bytes: &[u8]) -> Vec<u8> {
        let trimmed: Vec<u8> = bytes.iter().copied().skip_while(|b| *b == 0).collect();
        let mut body = if trimmed.first().is_some_and(|b| b & 0x80 != 0) {
            vec![0]
        } else {
            vec![]
        };
        body.extend(trimmed);
        let mut out = vec![0x02, body.len() as u8];
        out.extend(body);
        out
    }
    let mut content = integer(r);
    content.extend(integer(s));
    let mut out = vec![0x30];
    if content.len() >= 0x80 {
        out.push(0x81);
    }
    out.push(content.len() as u8);
    out.extend(content);
    out
}

#[test]
fn non_canonical_encodings_are_malformed() {
    let f = load();
    let token = token_of(&f, "RS256");
    let (input, sig) = token.rsplit_once('.').unwrap();
    let cases = [
        ("padded signature", format!("{token}==")),
        (
            "standard base64 alphabet",
            format!("{input}.{}", sig.replace('-', "+").replace('_', "/") + "+"),
        ),
        ("whitespace", format!("{} ", token)),
        ("line break inside", token.replacen('.', ".\n", 1)),
        ("four segments", format!("{token}.e30")),
    ];
    for (name, text) in cases {
        assert_eq!(code(&f, &text), "malformed_token", "{name}");
    }
    // Non-zero trailing bits: the last character of a 256-byte RSA signature carries 4 spare bits.
    let last = sig.chars().last().unwrap();
    let alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let index = alphabet.find(last).unwrap();
    let tweaked = alphabet.chars().nth(index ^ 1).unwrap();
    let mut bad = token.clone();
    bad.pop();
    bad.push(tweaked);
    assert_eq!(code(&f, &bad), "malformed_token", "non-zero trailing bits");
}

#[test]
fn huge_nested_and_duplicate_member_tokens_are_refused_before_crypto() {
    let f = load();
    let token = token_of(&f, "RS256");
    let huge = format!(
        "{}.{}.{}",
        b64(br#"{"alg":"RS256"}"#),
        "A".repeat(9000),
        "AAAA"
    );
    assert_eq!(code(&f, &huge), "token_too_large");

    let nested = format!(
        r#"{{"alg":"RS256","kid":"jose-rs256","x":{}{}}}"#,
        "[".repeat(64),
        "]".repeat(64)
    );
    assert_eq!(code(&f, &with_header(&token, &nested)), "malformed_token");

    let duplicate = r#"{"alg":"RS256","kid":"jose-rs256","alg":"none"}"#;
    assert_eq!(code(&f, &with_header(&token, duplicate)), "malformed_token");
    let duplicate_kid = r#"{"alg":"RS256","kid":"jose-rs256","kid":"other"}"#;
    assert_eq!(
        code(&f, &with_header(&token, duplicate_kid)),
        "malformed_token"
    );
}

#[test]
fn expired_tokens_honour_the_clock_passed_in() {
    let f = load();
    let token = token_of(&f, "ES256");
    let exp = f.doc["exp"].as_u64().unwrap();
    let at = |now| {
        pollster::block_on(fixtures::verifier(&f.doc).verify_token(
            &token,
            &f.keys,
            &NativeBackend,
            now,
        ))
        .map(|_| ())
        .map_err(|r| r.code())
    };
    assert_eq!(at(exp + 59), Ok(()));
    assert_eq!(at(exp + 60), Err("token_expired"));
}

#[test]
fn unknown_kid_and_missing_kid() {
    let f = load();
    let token = token_of(&f, "RS256");
    let unknown = with_header(&token, r#"{"alg":"RS256","kid":"nope"}"#);
    assert_eq!(code(&f, &unknown), "unknown_key");
    // Without kid the only key that fits ES384 is used; for RS256 two keys fit (jose-rs256 and
    // jose-rsa-no-alg), so none is chosen.
    let es384 = token_of(&f, "ES384");
    let without_kid = with_header(&es384, r#"{"alg":"ES384","typ":"JWT"}"#);
    assert_eq!(
        code(&f, &without_kid),
        "bad_signature",
        "header changed, so signature breaks"
    );
    let rs_without_kid = with_header(&token, r#"{"alg":"RS256"}"#);
    assert_eq!(code(&f, &rs_without_kid), "unknown_key");
}
