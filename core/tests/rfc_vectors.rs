//! Published JWS examples, verified end to end through `signature::check_form` and the native
//! backend: RFC 7515 appendices A.2 (RS256) and A.3 (ES256), RFC 8037 appendix A.4 (Ed25519),
//! RFC 7520 sections 4.1 (RS256) and 4.2 (PS384).
//!
//! Every vector must verify as published, and must stop verifying when one bit of the signature
//! or of the payload changes.
#![cfg(feature = "native")]

use base64ct::{Base64UrlUnpadded, Encoding};
use edge_jwt_core::jws::alg::Algorithm;
use edge_jwt_core::jws::backend::SignatureBackend;
use edge_jwt_core::jws::key::{Curve, KeyMaterial, PublicKey};
use edge_jwt_core::jws::native::NativeBackend;
use edge_jwt_core::jws::signature;

fn b64(text: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(text)
        .unwrap_or_else(|err| panic!("bad base64url {text:?}: {err}"))
}

fn rsa(n: &str, e: &str) -> PublicKey {
    PublicKey::from_material(KeyMaterial::Rsa {
        n: b64(n),
        e: b64(e),
    })
}

fn accepts(alg: Algorithm, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    signature::check_form(alg, key, sig).is_ok()
        && pollster::block_on(NativeBackend.verify(alg, key, message, sig)) == Ok(true)
}

/// Verifies a compact JWS as published, then with single-bit changes to signature and payload.
fn check_vector(name: &str, alg: Algorithm, key: &PublicKey, compact: &str) {
    let segments: Vec<&str> = compact.split('.').collect();
    assert_eq!(segments.len(), 3, "{name}: compact JWS has three segments");
    let (header, payload, sig) = (segments[0], segments[1], b64(segments[2]));
    let signing_input = format!("{header}.{payload}");

    assert!(
        accepts(alg, key, signing_input.as_bytes(), &sig),
        "{name}: published vector must verify"
    );

    for index in [0, sig.len() / 2, sig.len() - 1] {
        for bit in [0, 7] {
            let mut tampered = sig.clone();
            tampered[index] ^= 1 << bit;
            assert!(
                !accepts(alg, key, signing_input.as_bytes(), &tampered),
                "{name}: signature with byte {index} bit {bit} flipped must not verify"
            );
        }
    }

    let decoded_payload = b64(payload);
    for index in [0, decoded_payload.len() - 1] {
        let mut tampered = decoded_payload.clone();
        tampered[index] ^= 1;
        let input = format!("{header}.{}", Base64UrlUnpadded::encode_string(&tampered));
        assert!(
            !accepts(alg, key, input.as_bytes(), &sig),
            "{name}: payload with byte {index} bit 0 flipped must not verify"
        );
    }

    // The same signature under another algorithm the key type allows never verifies.
    for other in Algorithm::ALL {
        if other != alg && key.permits(other) {
            assert!(
                !accepts(other, key, signing_input.as_bytes(), &sig),
                "{name}: must not verify as {other}"
            );
        }
    }
}

/// RFC 7515 appendix A.2.1 public key (also used by A.1's examples).
const RFC7515_RSA_N: &str = concat!(
    "ofgWCuLjybRlzo0tZWJjNiuSfb4p4fAkd_wWJcyQoTbji9k0l8W26mPddxHmfHQp-Vaw-4qPCJrcS2mJPMEzP1Pt0Bm4d4QlL-",
    "yRT-SFd2lZS-pCgNMsD1W_YpRPEwOWvG6b32690r2jZ47soMZo9wGzjb_7OMg0LOL-bSf63kpaSHSXndS5z5rexMdbBYUsLA9e-",
    "KXBdQOS-UTo7WTBEMa2R2CapHg665xsmtdVMTBQY4uDZlxvb3qCo5ZwKh9kG4LT6_I5IhlJH7aGhyxXFvUK-DWNmoudF8NAco9_",
    "h9iaGNj8q2ethFkMLs91kzk2PAcDTW9gb54h4FRWyuXpoQ",
);

/// RFC 7515 A.2 / A.3 payload: `{"iss":"joe",\r\n "exp":1300819380,\r\n "http://example.com/is_root":true}`.
const RFC7515_PAYLOAD: &str =
    "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVlfQ";

/// RFC 7520 section 3.4 public key (bilbo.baggins@hobbiton.example).
const RFC7520_RSA_N: &str = concat!(
    "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMa",
    "JMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6c",
    "S6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwd",
    "q_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw",
);

/// RFC 7520 section 4 payload ("It’s a dangerous business, Frodo, ...").
const RFC7520_PAYLOAD: &str = concat!(
    "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IH",
    "lvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBk",
    "b24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcm",
    "UgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4",
);

#[test]
fn rfc7515_a2_rs256() {
    let compact = format!(
        "eyJhbGciOiJSUzI1NiJ9.{RFC7515_PAYLOAD}.{}",
        concat!(
            "cC4hiUPoj9Eetdgtv3hF80EGrhuB__dzERat0XF9g2VtQgr9PJbu3XOiZj5RZmh7AAuHIm4Bh-0Qc_lF5YKt_O8W2Fp5jujGbds9uJdbF9CUAr7t1dnZcAcQjbKBYNX4BAynRFdiuB--f_nZLgrnbyTyWzO75vRK5h6xBArLIARN",
            "PvkSjtQBMHlb1L07Qe7K0GarZRmB_eSN9383LcOLn6_dO--xi12jzDwusC-eOkHWEsqtFZESc6BfI7noOPqvhJ1phCnvWh6IeYI2w9QOYEUipUTI8np6LbgGY9Fs98rqVt5AXLIhWkWywlVmtVrBp0igcN_IoypGlUPQGe77Rw",
        )
    );
    check_vector(
        "RFC 7515 A.2",
        Algorithm::Rs256,
        &rsa(RFC7515_RSA_N, "AQAB"),
        &compact,
    );
}

#[test]
fn rfc7515_a3_es256() {
    let key = PublicKey::from_material(KeyMaterial::Ec {
        curve: Curve::P256,
        x: b64("f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU"),
        y: b64("x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"),
    });
    let compact = format!(
        "eyJhbGciOiJFUzI1NiJ9.{RFC7515_PAYLOAD}.{}",
        "DtEhU3ljbEg8L38VWAfUAqOyKAM6-Xx-F4GawxaepmXFCgfTjDxw5djxLa8ISlSApmWQxfKTUJqPP3-Kg6NU1Q"
    );
    check_vector("RFC 7515 A.3", Algorithm::Es256, &key, &compact);
}

#[test]
fn rfc8037_a4_ed25519() {
    let x: [u8; 32] = b64("11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo")
        .try_into()
        .expect("32-byte key");
    let compact = concat!(
        "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.",
        "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg",
    );
    check_vector(
        "RFC 8037 A.4",
        Algorithm::EdDsa,
        &PublicKey::from_material(KeyMaterial::Ed25519 { x }),
        compact,
    );
}

#[test]
fn rfc7520_4_1_rs256() {
    let compact = format!(
        "{}.{RFC7520_PAYLOAD}.{}",
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9",
        concat!(
            "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmK",
            "ZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4J",
            "IwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8w",
            "W1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluP",
            "xUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_f",
            "cIe8u9ipH84ogoree7vjbU5y18kDquDg",
        )
    );
    check_vector(
        "RFC 7520 4.1",
        Algorithm::Rs256,
        &rsa(RFC7520_RSA_N, "AQAB"),
        &compact,
    );
}

#[test]
fn rfc7520_4_2_ps384() {
    let compact = format!(
        "{}.{RFC7520_PAYLOAD}.{}",
        "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9",
        concat!(
            "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP",
            "6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqr",
            "YRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64",
            "QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw",
        )
    );
    check_vector(
        "RFC 7520 4.2",
        Algorithm::Ps384,
        &rsa(RFC7520_RSA_N, "AQAB"),
        &compact,
    );
}
