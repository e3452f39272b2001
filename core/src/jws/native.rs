//! The pure-Rust (RustCrypto) signature backend, for native tests and benchmarks.
//!
//! | alg           | scheme                                                                 |
//! |---------------|------------------------------------------------------------------------|
//! | RS256/384/512 | RSASSA-PKCS1-v1_5 with SHA-256/384/512 (`rsa`)                         |
//! | PS256/384/512 | RSASSA-PSS, MGF1 with the same hash, salt length = hash length (`rsa`) |
//! | ES256/ES384   | ECDSA on P-256/SHA-256 and P-384/SHA-384, `r \|\| s` (`p256`/`p384`)  |
//! | EdDSA         | Ed25519, RFC 8032, `verify_strict` (`ed25519-dalek`)                   |
//!
//! An invalid signature is `Ok(false)`. A key the libraries refuse to load (an RSA key outside
//! `rsa`'s limits, an EC point not on its curve, Ed25519 bytes that do not decode to a point) is
//! `Err(BackendError)`: the key, not the token, is broken. JWK import already refuses EC points
//! off their curve and RSA keys below 2048 bits; it checks only the length of an Ed25519 key, so
//! a non-point Ed25519 key surfaces here, as an error.

use sha2::digest::const_oid::AssociatedOid;
use sha2::digest::FixedOutputReset;
use sha2::{Digest, Sha256, Sha384, Sha512};

use crate::jws::alg::{Algorithm, Hash};
use crate::jws::backend::{BackendError, SignatureBackend};
use crate::jws::key::{Curve, KeyMaterial, PublicKey};

/// Verifies signatures with RustCrypto (`rsa`, `p256`, `p384`, `ed25519-dalek`).
#[derive(Debug, Default, Clone, Copy)]
pub struct NativeBackend;

impl SignatureBackend for NativeBackend {
    /// Verifies synchronously; the returned future is ready on its first poll.
    async fn verify(
        &self,
        alg: Algorithm,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, BackendError> {
        verify_now(alg, key, message, signature)
    }
}

/// The synchronous body of [`NativeBackend::verify`].
fn verify_now(
    alg: Algorithm,
    key: &PublicKey,
    message: &[u8],
    signature: &[u8],
) -> Result<bool, BackendError> {
    if !key.material.supports(alg) {
        return Err(BackendError::KeyTypeMismatch { alg });
    }
    match (&key.material, alg) {
        (KeyMaterial::Rsa { n, e }, Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512) => {
            verify_rsa(RsaScheme::Pkcs1v15, alg, n, e, message, signature)
        }
        (KeyMaterial::Rsa { n, e }, Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512) => {
            verify_rsa(RsaScheme::Pss, alg, n, e, message, signature)
        }
        (KeyMaterial::Ec { curve, x, y }, Algorithm::Es256 | Algorithm::Es384) => {
            verify_ecdsa(*curve, x, y, message, signature)
        }
        (KeyMaterial::Ed25519 { x }, Algorithm::EdDsa) => verify_ed25519(x, message, signature),
        _ => Err(BackendError::KeyTypeMismatch { alg }),
    }
}

/// The hash `alg` signs; every algorithm but EdDSA has one (and EdDSA never gets here).
fn hash_of(alg: Algorithm) -> Result<Hash, BackendError> {
    alg.hash().ok_or(BackendError::KeyTypeMismatch { alg })
}

/// Imports an RSA public key from big-endian `n` and `e`, with `rsa`'s own checks (modulus
/// 1024..=8192 bits and odd, exponent in range).
fn rsa_key(n: &[u8], e: &[u8]) -> Result<rsa::PublicKey, BackendError> {
    rsa::PublicKey::new(
        rsa::BoxedUint::from_be_slice_vartime(n),
        rsa::BoxedUint::from_be_slice_vartime(e),
    )
    .map_err(|err| BackendError::RsaKeyRejected {
        reason: err.to_string(),
    })
}

/// The two RSA signature schemes of JWS.
#[derive(Debug, Clone, Copy)]
enum RsaScheme {
    /// RSASSA-PKCS1-v1_5 (RFC 8017 section 8.2.2) with the DigestInfo prefix of the hash.
    Pkcs1v15,
    /// RSASSA-PSS (RFC 8017 section 8.1.2) with MGF1 over the hash and a salt of exactly the
    /// hash length (RFC 7518 section 3.5). `Pss::new_with_salt` makes `rsa` check that salt
    /// length rather than detect one, so a signature with any other salt length does not verify.
    Pss,
}

/// RSA with `scheme` over `alg`'s hash.
fn verify_rsa(
    scheme: RsaScheme,
    alg: Algorithm,
    n: &[u8],
    e: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, BackendError> {
    let key = rsa_key(n, e)?;
    Ok(match hash_of(alg)? {
        Hash::Sha256 => verify_rsa_with::<Sha256>(&key, scheme, message, signature),
        Hash::Sha384 => verify_rsa_with::<Sha384>(&key, scheme, message, signature),
        Hash::Sha512 => verify_rsa_with::<Sha512>(&key, scheme, message, signature),
    })
}

/// RSA with `scheme` over the hash `D`; whether `signature` is valid.
fn verify_rsa_with<D>(
    key: &rsa::PublicKey,
    scheme: RsaScheme,
    message: &[u8],
    signature: &[u8],
) -> bool
where
    D: Digest + AssociatedOid + FixedOutputReset,
{
    let hashed = D::digest(message);
    let result = match scheme {
        RsaScheme::Pkcs1v15 => key.verify(rsa::Pkcs1v15Sign::new::<D>(), &hashed, signature),
        RsaScheme::Pss => key.verify(
            rsa::Pss::<D>::new_with_salt(<D as Digest>::output_size()),
            &hashed,
            signature,
        ),
    };
    result.is_ok()
}

/// ECDSA over `message` hashed with SHA-256 (P-256) or SHA-384 (P-384); `signature` is the JWS
/// fixed-size `r || s`. Both low and high `s` are accepted: JWS does not require low-`s`.
fn verify_ecdsa(
    curve: Curve,
    x: &[u8],
    y: &[u8],
    message: &[u8],
    signature: &[u8],
) -> Result<bool, BackendError> {
    use p256::ecdsa::signature::hazmat::PrehashVerifier;

    // SEC 1 section 2.3.3 uncompressed point: 0x04 || x || y.
    let point = [&[0x04][..], x, y].concat();
    let bad_key = |_| BackendError::EcKeyRejected { curve };
    match curve {
        Curve::P256 => {
            let key = p256::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(bad_key)?;
            let Ok(signature) = p256::ecdsa::Signature::from_slice(signature) else {
                return Ok(false);
            };
            Ok(key
                .verify_prehash(&Sha256::digest(message), &signature)
                .is_ok())
        }
        Curve::P384 => {
            let key = p384::ecdsa::VerifyingKey::from_sec1_bytes(&point).map_err(bad_key)?;
            let Ok(signature) = p384::ecdsa::Signature::from_slice(signature) else {
                return Ok(false);
            };
            Ok(key
                .verify_prehash(&Sha384::digest(message), &signature)
                .is_ok())
        }
    }
}

/// Ed25519 (RFC 8032 section 5.1.7) with `ed25519-dalek`'s `verify_strict`: cofactorless
/// `[S]B = R + [k]A` compared on the encoding of `R` (so `R` must be canonical), and a
/// small-order key or `R` refused. Every Wycheproof `ed25519` vector gives the expected result
/// with it (plain `verify` happens to as well); strict is chosen because no honest signer
/// produces a small-order key or `R`, so refusing them costs nothing. `S < L` is checked before
/// the backend, by `signature::check_form`.
fn verify_ed25519(x: &[u8; 32], message: &[u8], signature: &[u8]) -> Result<bool, BackendError> {
    let key =
        ed25519_dalek::VerifyingKey::from_bytes(x).map_err(|_| BackendError::Ed25519KeyRejected)?;
    let Ok(signature) = ed25519_dalek::Signature::from_slice(signature) else {
        return Ok(false);
    };
    Ok(key.verify_strict(message, &signature).is_ok())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn verify(alg: Algorithm, key: &PublicKey, signature: &[u8]) -> Result<bool, BackendError> {
        pollster::block_on(NativeBackend.verify(alg, key, b"message", signature))
    }

    #[test]
    fn ed25519_key_that_is_not_a_point_is_a_backend_error() {
        let mut x = [0; 32];
        x[0] = 2; // y = 2 has no x on edwards25519
        let result = verify(
            Algorithm::EdDsa,
            &PublicKey::from_material(KeyMaterial::Ed25519 { x }),
            &[0; 64],
        );
        assert_eq!(result, Err(BackendError::Ed25519KeyRejected));
    }

    #[test]
    fn ec_point_off_the_curve_is_a_backend_error() {
        for curve in [Curve::P256, Curve::P384] {
            let len = curve.coordinate_len();
            let alg = if curve == Curve::P256 {
                Algorithm::Es256
            } else {
                Algorithm::Es384
            };
            let bad = PublicKey::from_material(KeyMaterial::Ec {
                curve,
                x: vec![1; len],
                y: vec![1; len],
            });
            let mut sig = vec![0; 2 * len];
            sig[len - 1] = 1;
            sig[2 * len - 1] = 1;
            let result = verify(alg, &bad, &sig);
            assert_eq!(
                result,
                Err(BackendError::EcKeyRejected { curve }),
                "{curve:?}"
            );
        }
    }

    #[test]
    fn key_of_the_wrong_type_is_a_backend_error() {
        let ed = PublicKey::from_material(KeyMaterial::Ed25519 { x: [0; 32] });
        for alg in [Algorithm::Rs256, Algorithm::Es256] {
            assert_eq!(
                verify(alg, &ed, &[0; 64]),
                Err(BackendError::KeyTypeMismatch { alg })
            );
        }
    }

    #[test]
    fn rsa_key_the_library_refuses_is_a_backend_error() {
        // An even modulus is not an RSA modulus.
        let even = PublicKey::from_material(KeyMaterial::Rsa {
            n: vec![0xc0; 256],
            e: vec![1, 0, 1],
        });
        for alg in [Algorithm::Rs256, Algorithm::Ps256] {
            assert!(
                matches!(
                    verify(alg, &even, &[1; 256]),
                    Err(BackendError::RsaKeyRejected { .. })
                ),
                "{alg}"
            );
        }
    }
}
