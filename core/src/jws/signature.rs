//! Shape checks on a signature before any backend sees it (length, scalar ranges).
//!
//! Both backends (WebCrypto in the Worker, RustCrypto natively) only ever see signatures that
//! passed [`check_form`], so they agree on everything except the math itself. In particular an
//! ECDSA signature with `r = 0` or `s = 0` (CVE-2022-21449, "psychic signatures") never reaches a
//! backend, and neither does a non-canonical Ed25519 `S` (a malleability vector).

use crate::jws::alg::Algorithm;
use crate::jws::error::Rejection;
use crate::jws::key::{Curve, KeyMaterial, PublicKey};

/// Length in bytes of an Ed25519 signature (`R || S`, RFC 8032 section 5.1.6).
const ED25519_SIGNATURE_LEN: usize = 64;

/// The order `L = 2^252 + 27742317777372353535851937790883648493` of the Ed25519 base point
/// (RFC 8032 section 5.1), little-endian as `S` is encoded in a signature.
const ED25519_L_LE: [u8; 32] = [
    0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
    0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
];

/// Checks that `signature` has the form `alg` with `key` requires, before any backend sees it.
///
/// * the key must permit `alg` ([`PublicKey::permits`]), else [`Rejection::KeyMismatch`];
/// * RSA: the signature is exactly as long as the modulus;
/// * ECDSA: the signature is `r || s`, each exactly the curve's coordinate length (so DER
///   signatures are refused), with `0 < r < n` and `0 < s < n`; high `s` is accepted, since JWS
///   does not require low-`s`;
/// * Ed25519: the signature is 64 bytes and its `S` half (little-endian) is below `L`.
///
/// Every shape failure is [`Rejection::BadSignature`].
pub fn check_form(alg: Algorithm, key: &PublicKey, signature: &[u8]) -> Result<(), Rejection> {
    if !key.permits(alg) {
        return Err(Rejection::KeyMismatch { alg: alg.name() });
    }
    let well_formed = match &key.material {
        KeyMaterial::Rsa { .. } => key.material.rsa_modulus_len() == Some(signature.len()),
        KeyMaterial::Ec { curve, .. } => ecdsa_form_ok(*curve, signature),
        KeyMaterial::Ed25519 { .. } => ed25519_form_ok(signature),
    };
    if well_formed {
        Ok(())
    } else {
        Err(Rejection::BadSignature)
    }
}

/// `signature` is `r || s` with both halves of the curve's length and in `[1, n - 1]`.
fn ecdsa_form_ok(curve: Curve, signature: &[u8]) -> bool {
    let len = curve.coordinate_len();
    if signature.len() != 2 * len {
        return false;
    }
    let (r, s) = signature.split_at(len);
    // Big-endian integers of exactly the curve's length, compared with the curve order n taken
    // from the curve crate (SEC 2 section 2.4.2 / 2.5.1); no curve arithmetic is needed.
    match curve {
        Curve::P256 => {
            let n = <p256::NistP256 as p256::elliptic_curve::Curve>::ORDER.get();
            let in_range = |half: &[u8]| {
                let v = p256::U256::from_be_slice(half);
                v != p256::U256::ZERO && v < n
            };
            in_range(r) && in_range(s)
        }
        Curve::P384 => {
            let n = <p384::NistP384 as p384::elliptic_curve::Curve>::ORDER.get();
            let in_range = |half: &[u8]| {
                let v = p384::U384::from_be_slice(half);
                v != p384::U384::ZERO && v < n
            };
            in_range(r) && in_range(s)
        }
    }
}

/// `signature` is 64 bytes and `S`, its last 32 bytes read little-endian, is below `L`
/// (RFC 8032 section 5.1.7 step 1).
fn ed25519_form_ok(signature: &[u8]) -> bool {
    if signature.len() != ED25519_SIGNATURE_LEN {
        return false;
    }
    let s = &signature[32..];
    // Compare little-endian numbers from the most significant byte down.
    for (s_byte, l_byte) in s.iter().rev().zip(ED25519_L_LE.iter().rev()) {
        if s_byte != l_byte {
            return s_byte < l_byte;
        }
    }
    false // S == L
}

#[cfg(test)]
mod tests {
    use super::*;

    /// SEC 2 section 2.4.2: the order n of P-256, big-endian.
    const P256_N: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];

    /// SEC 2 section 2.5.1: the order n of P-384, big-endian.
    const P384_N: [u8; 48] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37,
        0x2d, 0xdf, 0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc,
        0xc5, 0x29, 0x73,
    ];

    fn ec_key(curve: Curve) -> PublicKey {
        // The shape check never looks at the point, only at the curve.
        let len = curve.coordinate_len();
        PublicKey::from_material(KeyMaterial::Ec {
            curve,
            x: vec![1; len],
            y: vec![2; len],
        })
    }

    fn rsa_key(modulus_len: usize) -> PublicKey {
        PublicKey::from_material(KeyMaterial::Rsa {
            n: vec![0xc5; modulus_len],
            e: vec![1, 0, 1],
        })
    }

    fn ed_key() -> PublicKey {
        PublicKey::from_material(KeyMaterial::Ed25519 { x: [7; 32] })
    }

    /// Big-endian `value - 1` (value must be nonzero).
    fn minus_one(value: &[u8]) -> Vec<u8> {
        let mut out = value.to_vec();
        for byte in out.iter_mut().rev() {
            let (next, borrow) = byte.overflowing_sub(1);
            *byte = next;
            if !borrow {
                break;
            }
        }
        out
    }

    fn concat(a: &[u8], b: &[u8]) -> Vec<u8> {
        [a, b].concat()
    }

    fn one(len: usize) -> Vec<u8> {
        let mut out = vec![0; len];
        out[len - 1] = 1;
        out
    }

    fn check_ec(alg: Algorithm, curve: Curve, n: &[u8]) {
        let key = ec_key(curve);
        let len = curve.coordinate_len();
        let n_minus_1 = minus_one(n);
        let ok = |sig: Vec<u8>| check_form(alg, &key, &sig);

        // Accepted shapes: the extremes 1 and n - 1 (high s is fine).
        assert_eq!(ok(concat(&one(len), &one(len))), Ok(()));
        assert_eq!(ok(concat(&n_minus_1, &n_minus_1)), Ok(()));
        assert_eq!(ok(concat(&one(len), &n_minus_1)), Ok(()));

        // r or s zero, including the all-zero "psychic signature".
        assert_eq!(ok(vec![0; 2 * len]), Err(Rejection::BadSignature));
        assert_eq!(
            ok(concat(&vec![0; len], &one(len))),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            ok(concat(&one(len), &vec![0; len])),
            Err(Rejection::BadSignature)
        );

        // r or s equal to n or above.
        assert_eq!(ok(concat(n, &one(len))), Err(Rejection::BadSignature));
        assert_eq!(ok(concat(&one(len), n)), Err(Rejection::BadSignature));
        assert_eq!(ok(concat(n, &n_minus_1)), Err(Rejection::BadSignature));
        assert_eq!(ok(vec![0xff; 2 * len]), Err(Rejection::BadSignature));

        // Wrong lengths, including a DER-encoded signature of the right length class.
        let good = concat(&one(len), &one(len));
        assert_eq!(ok(good[1..].to_vec()), Err(Rejection::BadSignature));
        assert_eq!(ok(concat(&good, &[1])), Err(Rejection::BadSignature));
        assert_eq!(ok(Vec::new()), Err(Rejection::BadSignature));
        let mut der = vec![0x30, (2 * len + 4) as u8, 0x02, len as u8];
        der.extend(one(len));
        der.extend([0x02, len as u8]);
        der.extend(one(len));
        assert_eq!(ok(der), Err(Rejection::BadSignature));
    }

    #[test]
    fn es256_scalar_ranges_and_length() {
        check_ec(Algorithm::Es256, Curve::P256, &P256_N);
    }

    #[test]
    fn es384_scalar_ranges_and_length() {
        check_ec(Algorithm::Es384, Curve::P384, &P384_N);
    }

    #[test]
    fn ed25519_s_below_l_and_length() {
        let key = ed_key();
        let ok = |s: &[u8]| check_form(Algorithm::EdDsa, &key, &concat(&[0x11; 32], s));

        let mut l_minus_1 = ED25519_L_LE;
        l_minus_1[0] -= 1;
        let mut l_plus_1 = ED25519_L_LE;
        l_plus_1[0] += 1;
        let mut l_plus_2_252 = ED25519_L_LE;
        l_plus_2_252[31] += 0x10;

        assert_eq!(ok(&[0; 32]), Ok(()));
        assert_eq!(ok(&l_minus_1), Ok(()));
        assert_eq!(ok(&ED25519_L_LE), Err(Rejection::BadSignature));
        assert_eq!(ok(&l_plus_1), Err(Rejection::BadSignature));
        assert_eq!(ok(&l_plus_2_252), Err(Rejection::BadSignature));
        assert_eq!(ok(&[0xff; 32]), Err(Rejection::BadSignature));

        assert_eq!(
            check_form(Algorithm::EdDsa, &key, &[0; 63]),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            check_form(Algorithm::EdDsa, &key, &[0; 65]),
            Err(Rejection::BadSignature)
        );
        assert_eq!(
            check_form(Algorithm::EdDsa, &key, &[]),
            Err(Rejection::BadSignature)
        );
    }

    #[test]
    fn rsa_signature_is_exactly_modulus_length() {
        for alg in [Algorithm::Rs256, Algorithm::Ps384, Algorithm::Rs512] {
            let key = rsa_key(256);
            assert_eq!(check_form(alg, &key, &[0x42; 256]), Ok(()));
            assert_eq!(
                check_form(alg, &key, &[0x42; 255]),
                Err(Rejection::BadSignature)
            );
            assert_eq!(
                check_form(alg, &key, &[0x42; 257]),
                Err(Rejection::BadSignature)
            );
            assert_eq!(check_form(alg, &key, &[]), Err(Rejection::BadSignature));
        }
    }

    #[test]
    fn key_must_permit_algorithm() {
        let mismatch = |alg: Algorithm| Err(Rejection::KeyMismatch { alg: alg.name() });

        assert_eq!(
            check_form(Algorithm::Es256, &rsa_key(256), &[0; 256]),
            mismatch(Algorithm::Es256)
        );
        assert_eq!(
            check_form(Algorithm::Es384, &ec_key(Curve::P256), &[1; 96]),
            mismatch(Algorithm::Es384)
        );
        assert_eq!(
            check_form(Algorithm::Es256, &ec_key(Curve::P384), &[1; 64]),
            mismatch(Algorithm::Es256)
        );
        assert_eq!(
            check_form(Algorithm::Rs256, &ed_key(), &[0; 64]),
            mismatch(Algorithm::Rs256)
        );
        assert_eq!(
            check_form(Algorithm::EdDsa, &ec_key(Curve::P256), &[1; 64]),
            mismatch(Algorithm::EdDsa)
        );

        // The JWK's own `alg` binds the key to one algorithm, checked before the shape.
        let mut bound = rsa_key(256);
        bound.alg = Some(Algorithm::Ps256);
        assert_eq!(check_form(Algorithm::Ps256, &bound, &[0; 256]), Ok(()));
        assert_eq!(
            check_form(Algorithm::Rs256, &bound, &[0; 256]),
            mismatch(Algorithm::Rs256)
        );
        assert_eq!(
            check_form(Algorithm::Rs256, &bound, &[0; 3]),
            mismatch(Algorithm::Rs256)
        );
    }

    /// The range check (a comparison with n) accepts exactly what the curve crates' scalar type
    /// accepts, near the boundaries (0, 1, n - 1, n, n + 1, all ones) and at random.
    #[test]
    #[cfg(feature = "native")]
    fn the_range_check_agrees_with_the_curve_arithmetic() {
        use proptest::prelude::*;
        fn agree<const L: usize>(curve: Curve, half: &[u8]) {
            let scalar_ok = match curve {
                Curve::P256 => p256::NonZeroScalar::try_from(half).is_ok(),
                Curve::P384 => p384::NonZeroScalar::try_from(half).is_ok(),
            };
            let mut one = [0u8; L];
            one[L - 1] = 1;
            let signature = [half, &one[..]].concat();
            assert_eq!(ecdsa_form_ok(curve, &signature), scalar_ok, "{half:02x?}");
            let signature = [&one[..], half].concat();
            assert_eq!(ecdsa_form_ok(curve, &signature), scalar_ok, "{half:02x?}");
        }
        fn near<const L: usize>(n: [u8; L]) -> Vec<[u8; L]> {
            let mut plus_one = n;
            plus_one[L - 1] += 1;
            let mut one = [0; L];
            one[L - 1] = 1;
            let below: [u8; L] = minus_one(&n).try_into().expect("same length");
            vec![[0; L], one, below, n, plus_one, [0xff; L]]
        }
        for half in near(P256_N) {
            agree::<32>(Curve::P256, &half);
        }
        for half in near(P384_N) {
            agree::<48>(Curve::P384, &half);
        }
        proptest!(ProptestConfig::with_cases(2048), |(half in prop::array::uniform32(any::<u8>()), top in any::<bool>())| {
            // Half of the cases just below n's top bytes, where the comparison decides.
            let mut half = half;
            if top {
                half[..8].copy_from_slice(&P256_N[..8]);
            }
            agree::<32>(Curve::P256, &half);
        });
    }

    #[test]
    #[cfg(feature = "native")]
    fn order_constants_match_the_curve_crates() {
        // n itself is not a valid scalar, n - 1 is: the test constants are the curve orders.
        assert!(p256::NonZeroScalar::try_from(&P256_N[..]).is_err());
        assert!(p256::NonZeroScalar::try_from(&minus_one(&P256_N)[..]).is_ok());
        assert!(p384::NonZeroScalar::try_from(&P384_N[..]).is_err());
        assert!(p384::NonZeroScalar::try_from(&minus_one(&P384_N)[..]).is_ok());
    }
}
