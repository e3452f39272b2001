//! Validated public keys: what a JWK becomes once it has passed every import check.

use base64ct::{Base64UrlUnpadded, Encoding};
use sha2::{Digest, Sha256};

use crate::jws::alg::Algorithm;

/// The elliptic curves used by ECDSA keys.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1), for ES256.
    P256,
    /// NIST P-384 (secp384r1), for ES384.
    P384,
}

impl Curve {
    /// Length in bytes of one coordinate, and of `r` and of `s` in a signature.
    pub const fn coordinate_len(self) -> usize {
        match self {
            Curve::P256 => 32,
            Curve::P384 => 48,
        }
    }

    /// The JWK `crv` name.
    pub const fn name(self) -> &'static str {
        match self {
            Curve::P256 => "P-256",
            Curve::P384 => "P-384",
        }
    }
}

/// Key material that has been validated: RSA modulus size and exponent, EC point on its curve
/// with full-length coordinates, Ed25519 key length.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum KeyMaterial {
    /// An RSA public key; big-endian, without leading zero bytes.
    Rsa {
        /// Modulus.
        n: Vec<u8>,
        /// Public exponent.
        e: Vec<u8>,
    },
    /// An EC public key on `curve`; big-endian coordinates of exactly the curve's length.
    Ec {
        /// The curve.
        curve: Curve,
        /// X coordinate.
        x: Vec<u8>,
        /// Y coordinate.
        y: Vec<u8>,
    },
    /// An Ed25519 public key.
    Ed25519 {
        /// The 32-byte encoded point.
        x: [u8; 32],
    },
}

impl KeyMaterial {
    /// Whether `alg` can use this kind of key at all (`kty`/`crv` match).
    pub fn supports(&self, alg: Algorithm) -> bool {
        match self {
            KeyMaterial::Rsa { .. } => matches!(
                alg,
                Algorithm::Rs256
                    | Algorithm::Rs384
                    | Algorithm::Rs512
                    | Algorithm::Ps256
                    | Algorithm::Ps384
                    | Algorithm::Ps512
            ),
            KeyMaterial::Ec {
                curve: Curve::P256, ..
            } => alg == Algorithm::Es256,
            KeyMaterial::Ec {
                curve: Curve::P384, ..
            } => alg == Algorithm::Es384,
            KeyMaterial::Ed25519 { .. } => alg == Algorithm::EdDsa,
        }
    }

    /// The key's required public JWK members (`e`, `kty`, `n` for RSA; `crv`, `kty`, `x`, `y` for
    /// EC; `crv`, `kty`, `x` for OKP), binary values in unpadded base64url, in the lexicographic
    /// order of their names: so their compact JSON object is the RFC 7638 canonical form
    /// ([`KeyMaterial::canonical_json`]). It is also what a JWK of the key (for KV, or for
    /// WebCrypto's `importKey`) is built from. A fixed list rather than a sorted map: a fresh
    /// isolate computes every key's thumbprint on its first request, and V8 compiles each wasm
    /// function that request runs (docs/decisions/0010-cold-start.md).
    pub fn public_members(&self) -> Vec<(&'static str, String)> {
        let b64 = |bytes: &[u8]| Base64UrlUnpadded::encode_string(bytes);
        match self {
            KeyMaterial::Rsa { n, e } => {
                vec![("e", b64(e)), ("kty", "RSA".to_owned()), ("n", b64(n))]
            }
            KeyMaterial::Ec { curve, x, y } => vec![
                ("crv", curve.name().to_owned()),
                ("kty", "EC".to_owned()),
                ("x", b64(x)),
                ("y", b64(y)),
            ],
            KeyMaterial::Ed25519 { x } => vec![
                ("crv", "Ed25519".to_owned()),
                ("kty", "OKP".to_owned()),
                ("x", b64(x)),
            ],
        }
    }

    /// The compact JSON object of [`KeyMaterial::public_members`]: the RFC 7638 canonical form
    /// of the key, and a public JWK of it.
    pub fn canonical_json(&self) -> String {
        let members = self.public_members();
        // A map of strings always serialises.
        serde_json::to_string(&Members(&members)).unwrap_or_default()
    }

    /// The RFC 7638 JWK thumbprint: the unpadded base64url SHA-256 of
    /// [`KeyMaterial::canonical_json`].
    pub fn thumbprint(&self) -> String {
        Base64UrlUnpadded::encode_string(&Sha256::digest(self.canonical_json().as_bytes()))
    }

    /// RSA modulus length in bytes (the exact length of every signature made with the key).
    pub fn rsa_modulus_len(&self) -> Option<usize> {
        match self {
            KeyMaterial::Rsa { n, .. } => Some(n.len()),
            _ => None,
        }
    }
}

/// Members serialised as one JSON object, in their order.
struct Members<'a>(&'a [(&'static str, String)]);

impl serde::Serialize for Members<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.0.iter().map(|(name, value)| (name, value)))
    }
}

/// A public key ready for verification: validated material plus what the JWK said about its use.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    /// The JWK `kid`, when it had one.
    pub kid: Option<String>,
    /// The JWK's own `alg`, when present: the key may then be used with that algorithm only.
    pub alg: Option<Algorithm>,
    /// The validated key material.
    pub material: KeyMaterial,
    /// RFC 7638 JWK thumbprint (base64url SHA-256), a stable identity for caches and logs.
    pub thumbprint: String,
}

impl PublicKey {
    /// A key for `material` alone, as a JWK with no `kid` and no `alg` would import: usable with
    /// every algorithm the material supports, and identified by its RFC 7638 thumbprint
    /// ([`KeyMaterial::thumbprint`]).
    pub fn from_material(material: KeyMaterial) -> PublicKey {
        let thumbprint = material.thumbprint();
        PublicKey {
            kid: None,
            alg: None,
            material,
            thumbprint,
        }
    }

    /// Whether a token signed with `alg` may be checked with this key: the key type and curve
    /// fit, and the JWK's own `alg` (when present) is the same algorithm.
    pub fn permits(&self, alg: Algorithm) -> bool {
        self.material.supports(alg) && self.alg.is_none_or(|own| own == alg)
    }
}
