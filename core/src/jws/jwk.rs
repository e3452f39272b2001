//! JWK and JWKS import: untrusted JSON in, validated [`crate::jws::key::PublicKey`]s out.
//!
//! [`import_jwk`] turns one JWK (RFC 7517) into a [`PublicKey`] or says exactly why it refused
//! it; [`KeySet`] does the same for a whole JWKS document, skipping the keys that fail (with the
//! reason, for the logs) and refusing the document only when it is not a JWKS at all or is too
//! large. A JWKS with no usable key is a valid, empty set: the issuer's statement that no key is
//! valid now.
//!
//! The checks are deliberately strict, because a key that gets in here decides which tokens
//! pass:
//!
//! * only public signature keys: `RSA` (2048 to 8192 bits, odd exponent `1 < e < 2^32`), `EC`
//!   on P-256 or P-384 (full-length coordinates of a point on the curve) and `OKP` Ed25519
//!   (32 bytes, canonically encoded, not a point of small order); any private member, and every
//!   symmetric (`oct`) key, is refused;
//! * base64url is decoded strictly: no padding, no whitespace, no non-canonical trailing bits;
//! * `alg`, `use`, `key_ops` and `kid`, when present, must have the right JSON type, and must
//!   allow signature verification with this kind of key;
//! * members this module does not know (`x5c`, `x5t`, ...) are ignored and never used.

use serde_json::{Map, Value};

use crate::jws::alg::Algorithm;
use crate::jws::base64url;
use crate::jws::error::truncated;
use crate::jws::key::{Curve, KeyMaterial, PublicKey};

/// The smallest accepted RSA modulus, in bits.
pub const MIN_RSA_MODULUS_BITS: usize = 2048;

/// The largest accepted RSA modulus, in bits.
pub const MAX_RSA_MODULUS_BITS: usize = 8192;

/// The largest accepted RSA public exponent length in bytes (so `e < 2^32`).
const MAX_RSA_EXPONENT_LEN: usize = 4;

/// The private members of an RSA JWK (RFC 7518 section 6.3.2).
const RSA_PRIVATE_MEMBERS: [&str; 7] = ["d", "p", "q", "dp", "dq", "qi", "oth"];

/// The private member of an EC (RFC 7518 section 6.2.2) or OKP (RFC 8037 section 2) JWK.
const CURVE_PRIVATE_MEMBERS: [&str; 1] = ["d"];

/// Why one JWK was not imported.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwkError {
    /// The JWK is not a JSON object.
    #[error("JWK is not a JSON object")]
    NotAnObject,
    /// A required member is absent.
    #[error("JWK has no \"{0}\" member")]
    MissingMember(&'static str),
    /// A member has the wrong JSON type (for example a numeric `kid`, or a `key_ops` that is
    /// not an array of strings).
    #[error("JWK member \"{0}\" has the wrong JSON type")]
    InvalidMember(&'static str),
    /// The `kty` is not one of `RSA`, `EC`, `OKP` (the value, truncated).
    #[error("key type {0:?} is not supported")]
    UnsupportedKeyType(String),
    /// The JWK holds private key material (`d`, `p`, `q`, `dp`, `dq`, `qi` or `oth`), or is a
    /// symmetric (`oct`) key: a key set publishes public keys only.
    #[error("JWK contains private or symmetric key material")]
    PrivateKeyMaterial,
    /// A member that must be strict unpadded base64url is not.
    #[error("JWK member \"{0}\" is not strict unpadded base64url")]
    InvalidBase64(&'static str),
    /// The RSA modulus is shorter than [`MIN_RSA_MODULUS_BITS`].
    #[error("RSA modulus has {bits} bits, fewer than the {MIN_RSA_MODULUS_BITS} required")]
    RsaModulusTooSmall {
        /// The modulus length in bits.
        bits: usize,
    },
    /// The RSA modulus is longer than [`MAX_RSA_MODULUS_BITS`].
    #[error("RSA modulus has {bits} bits, more than the {MAX_RSA_MODULUS_BITS} allowed")]
    RsaModulusTooLarge {
        /// The modulus length in bits.
        bits: usize,
    },
    /// The RSA public exponent is even, 0 or 1, or longer than 4 bytes.
    #[error("RSA public exponent must be odd, greater than 1 and below 2^32")]
    InvalidRsaExponent,
    /// The `crv` is not one the key type is accepted with (the value, truncated).
    #[error("curve {0:?} is not supported")]
    UnsupportedCurve(String),
    /// An EC coordinate does not have exactly the curve's length.
    #[error("EC coordinate does not have the curve's length")]
    InvalidCoordinateLength,
    /// The EC point is not on its curve (or is the point at infinity).
    #[error("EC point is not on its curve")]
    PointNotOnCurve,
    /// The Ed25519 public key is not exactly 32 bytes.
    #[error("Ed25519 public key is not 32 bytes")]
    InvalidEd25519Key,
    /// The Ed25519 public key is a point of small order (the identity, for example), or its
    /// y-coordinate is not canonically encoded (y ≥ 2^255 - 19). With such a key WebCrypto
    /// (BoringSSL) accepts forged signatures that RustCrypto's `verify_strict` refuses, so both
    /// backends are kept from ever seeing one.
    #[error("Ed25519 public key is a point of small order or is not canonically encoded")]
    WeakEd25519Key,
    /// The JWK's `alg` is not a signature algorithm the gateway accepts (the value, truncated).
    #[error("JWK algorithm {0:?} is not an accepted signature algorithm")]
    UnknownAlgorithm(String),
    /// The JWK's `alg` is known but cannot be used with this key type or curve.
    #[error("JWK algorithm {alg} cannot be used with an {key} key")]
    AlgorithmDoesNotFitKey {
        /// The JWK's `alg`.
        alg: Algorithm,
        /// The kind of key, for example `"RSA"` or `"EC P-256"`.
        key: &'static str,
    },
    /// The JWK's `use` is not `"sig"`.
    #[error("JWK \"use\" is not \"sig\"")]
    NotForSignatures,
    /// The JWK's `key_ops` does not contain `"verify"`.
    #[error("JWK \"key_ops\" does not allow \"verify\"")]
    VerifyNotPermitted,
    /// An earlier key of the same set already has this `kid`.
    #[error("an earlier key in the set has the same kid")]
    DuplicateKid,
}

/// Why a whole JWKS document was refused (the last good set then stays in use).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum JwksError {
    /// The document is not valid JSON.
    #[error("JWKS document is not valid JSON")]
    NotJson,
    /// The document is not a JSON object.
    #[error("JWKS document is not a JSON object")]
    NotAnObject,
    /// The document has no `"keys"` array.
    #[error("JWKS document has no \"keys\" array")]
    MissingKeys,
    /// The document has more keys than allowed; none of them was looked at.
    #[error("JWKS document has {count} keys, more than the {max} allowed")]
    TooManyKeys {
        /// The number of entries in `"keys"`.
        count: usize,
        /// The configured maximum.
        max: usize,
    },
}

/// Imports one JWK: checks every rule of this module and returns the validated public key.
///
/// The stored `kid` is the JWK's, unchanged; the stored `alg` is the JWK's own `alg` when it has
/// one (the key may then be used with that algorithm only); RSA `n` and `e` are stored without
/// leading zero bytes. The thumbprint is the RFC 7638 SHA-256 thumbprint.
pub fn import_jwk(jwk: &Value) -> Result<PublicKey, JwkError> {
    let jwk = jwk.as_object().ok_or(JwkError::NotAnObject)?;

    let kty = optional_str(jwk, "kty")?.ok_or(JwkError::MissingMember("kty"))?;
    // Each key type's checks are a function of their own, never inlined here: V8 compiles a wasm
    // function whole on its first call, so a fresh isolate whose keys are all RSA compiles the
    // RSA checks only (docs/decisions/0010-cold-start.md).
    let material = match kty {
        "RSA" => import_rsa(jwk)?,
        "EC" => import_ec(jwk)?,
        "OKP" => import_okp(jwk)?,
        "oct" => return Err(JwkError::PrivateKeyMaterial),
        other => return Err(JwkError::UnsupportedKeyType(truncated(other))),
    };

    let kid = optional_str(jwk, "kid")?.map(str::to_owned);

    if let Some(key_use) = optional_str(jwk, "use")? {
        if key_use != "sig" {
            return Err(JwkError::NotForSignatures);
        }
    }

    if let Some(ops) = jwk.get("key_ops") {
        let ops = ops.as_array().ok_or(JwkError::InvalidMember("key_ops"))?;
        let mut verify = false;
        for op in ops {
            let op = op.as_str().ok_or(JwkError::InvalidMember("key_ops"))?;
            verify |= op == "verify";
        }
        if !verify {
            return Err(JwkError::VerifyNotPermitted);
        }
    }

    let alg = match optional_str(jwk, "alg")? {
        None => None,
        Some(name) => {
            let alg = Algorithm::from_name(name)
                .ok_or_else(|| JwkError::UnknownAlgorithm(truncated(name)))?;
            if !material.supports(alg) {
                return Err(JwkError::AlgorithmDoesNotFitKey {
                    alg,
                    key: key_kind(&material),
                });
            }
            Some(alg)
        }
    };

    let thumbprint = material.thumbprint();
    Ok(PublicKey {
        kid,
        alg,
        material,
        thumbprint,
    })
}

/// A member that must be a string when present.
fn optional_str<'a>(
    jwk: &'a Map<String, Value>,
    name: &'static str,
) -> Result<Option<&'a str>, JwkError> {
    match jwk.get(name) {
        None => Ok(None),
        Some(value) => value
            .as_str()
            .map(Some)
            .ok_or(JwkError::InvalidMember(name)),
    }
}

/// A required member holding strict unpadded base64url.
fn required_bytes(jwk: &Map<String, Value>, name: &'static str) -> Result<Vec<u8>, JwkError> {
    let text = optional_str(jwk, name)?.ok_or(JwkError::MissingMember(name))?;
    base64url::decode(text).ok_or(JwkError::InvalidBase64(name))
}

/// Refuses the JWK when any of `members` is present, whatever its value.
fn reject_private(jwk: &Map<String, Value>, members: &[&str]) -> Result<(), JwkError> {
    if members.iter().any(|member| jwk.contains_key(*member)) {
        Err(JwkError::PrivateKeyMaterial)
    } else {
        Ok(())
    }
}

/// Big-endian bytes without their leading zero bytes.
fn strip_leading_zeros(mut bytes: Vec<u8>) -> Vec<u8> {
    let zeros = bytes.iter().take_while(|&&byte| byte == 0).count();
    bytes.drain(..zeros);
    bytes
}

/// The exact bit length of a big-endian number without leading zero bytes.
fn bit_len(bytes: &[u8]) -> usize {
    match bytes.first() {
        None => 0,
        Some(&top) => (bytes.len() - 1) * 8 + (8 - top.leading_zeros() as usize),
    }
}

#[inline(never)]
fn import_rsa(jwk: &Map<String, Value>) -> Result<KeyMaterial, JwkError> {
    reject_private(jwk, &RSA_PRIVATE_MEMBERS)?;
    let n = strip_leading_zeros(required_bytes(jwk, "n")?);
    let e = strip_leading_zeros(required_bytes(jwk, "e")?);

    let bits = bit_len(&n);
    if bits < MIN_RSA_MODULUS_BITS {
        return Err(JwkError::RsaModulusTooSmall { bits });
    }
    if bits > MAX_RSA_MODULUS_BITS {
        return Err(JwkError::RsaModulusTooLarge { bits });
    }

    // `e` has no leading zeros, so a one-byte `e` of 1 is the only odd value that is not > 1.
    let odd = e.last().is_some_and(|low| low & 1 == 1);
    if !odd || e.len() > MAX_RSA_EXPONENT_LEN || e == [1] {
        return Err(JwkError::InvalidRsaExponent);
    }

    Ok(KeyMaterial::Rsa { n, e })
}

#[inline(never)]
fn import_ec(jwk: &Map<String, Value>) -> Result<KeyMaterial, JwkError> {
    reject_private(jwk, &CURVE_PRIVATE_MEMBERS)?;
    let crv = optional_str(jwk, "crv")?.ok_or(JwkError::MissingMember("crv"))?;
    let curve = match crv {
        "P-256" => Curve::P256,
        "P-384" => Curve::P384,
        other => return Err(JwkError::UnsupportedCurve(truncated(other))),
    };
    let x = required_bytes(jwk, "x")?;
    let y = required_bytes(jwk, "y")?;
    if x.len() != curve.coordinate_len() || y.len() != curve.coordinate_len() {
        return Err(JwkError::InvalidCoordinateLength);
    }

    if !on_curve(curve, &x, &y) {
        return Err(JwkError::PointNotOnCurve);
    }

    Ok(KeyMaterial::Ec { curve, x, y })
}

/// Whether `(x, y)` is a point of `curve` (not the identity), with the curve arithmetic of the
/// native backend's crates.
///
/// Only the native build checks here. The Worker leaves it to WebCrypto, whose `importKey`
/// refuses every such key (the differential tests in workerd prove it): a token signed for one
/// is refused there as `key_unusable`, and the module carries no curve arithmetic
/// (docs/decisions/0006-bundle-size.md).
#[cfg(feature = "native")]
fn on_curve(curve: Curve, x: &[u8], y: &[u8]) -> bool {
    let mut sec1 = Vec::with_capacity(1 + x.len() + y.len());
    sec1.push(0x04);
    sec1.extend_from_slice(x);
    sec1.extend_from_slice(y);
    match curve {
        Curve::P256 => p256::PublicKey::from_sec1_bytes(&sec1).is_ok(),
        Curve::P384 => p384::PublicKey::from_sec1_bytes(&sec1).is_ok(),
    }
}

/// See the native build's `on_curve`: WebCrypto's `importKey` checks the point.
#[cfg(not(feature = "native"))]
fn on_curve(_curve: Curve, _x: &[u8], _y: &[u8]) -> bool {
    true
}

#[inline(never)]
fn import_okp(jwk: &Map<String, Value>) -> Result<KeyMaterial, JwkError> {
    reject_private(jwk, &CURVE_PRIVATE_MEMBERS)?;
    let crv = optional_str(jwk, "crv")?.ok_or(JwkError::MissingMember("crv"))?;
    if crv != "Ed25519" {
        return Err(JwkError::UnsupportedCurve(truncated(crv)));
    }
    let x = required_bytes(jwk, "x")?;
    let x: [u8; 32] = x.try_into().map_err(|_| JwkError::InvalidEd25519Key)?;
    if is_weak_ed25519(&x) {
        return Err(JwkError::WeakEd25519Key);
    }
    Ok(KeyMaterial::Ed25519 { x })
}

/// The y-coordinates (little-endian) of the eight Ed25519 points of small order: 0 (order 4,
/// two points), 1 (the identity), 2^255 - 20 = p - 1 (order 2) and two of order 8 (two points
/// each). A test derives them from `curve25519-dalek`'s `EIGHT_TORSION`.
const SMALL_ORDER_Y: [[u8; 32]; 5] = [
    [0; 32],
    [
        1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0,
        0, 0,
    ],
    [
        0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0x7f,
    ],
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
];

/// Whether the encoded Ed25519 point `x` is one JWK import refuses: its y-coordinate (the sign
/// bit of x masked off) is not below p = 2^255 - 19, or is that of a point of small order. A
/// table comparison, as libsodium's `has_small_order` does, so that the Worker needs no curve
/// arithmetic; the bytes are public, so the comparison need not be constant-time.
fn is_weak_ed25519(x: &[u8; 32]) -> bool {
    let mut y = *x;
    y[31] &= 0x7f;
    // p = 2^255 - 19 is ed ff .. ff 7f little-endian: y ≥ p only when the 31 upper bytes are
    // all at their maximum and the lowest byte is at least 0xed.
    let non_canonical = y[31] == 0x7f && y[1..31].iter().all(|&b| b == 0xff) && y[0] >= 0xed;
    non_canonical || SMALL_ORDER_Y.contains(&y)
}

/// A short name of the kind of key, for [`JwkError::AlgorithmDoesNotFitKey`].
fn key_kind(material: &KeyMaterial) -> &'static str {
    match material {
        KeyMaterial::Rsa { .. } => "RSA",
        KeyMaterial::Ec {
            curve: Curve::P256, ..
        } => "EC P-256",
        KeyMaterial::Ec {
            curve: Curve::P384, ..
        } => "EC P-384",
        KeyMaterial::Ed25519 { .. } => "Ed25519",
    }
}

/// The public JWK of a validated key: its public members, `kid` and `alg` when it has them, and
/// `"use": "sig"`.
fn public_jwk(key: &PublicKey) -> Value {
    let mut jwk: Map<String, Value> = key
        .material
        .public_members()
        .into_iter()
        .map(|(name, value)| (name.to_owned(), Value::String(value)))
        .collect();
    let mut put = |name: &str, value: String| {
        jwk.insert(name.to_owned(), Value::String(value));
    };
    put("use", "sig".to_owned());
    if let Some(kid) = &key.kid {
        put("kid", kid.clone());
    }
    if let Some(alg) = key.alg {
        put("alg", alg.name().to_owned());
    }
    Value::Object(jwk)
}

/// A key that was skipped while importing a set, with the reason (the adapter logs it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SkippedKey {
    /// Position of the key in the document's `"keys"` array.
    pub index: usize,
    /// The key's `kid` when it is a string (truncated, as it goes into logs).
    pub kid: Option<String>,
    /// Why the key was skipped.
    pub reason: JwkError,
}

/// A validated key set: the keys of a JWKS document that passed [`import_jwk`], with unique
/// `kid`s, plus the keys that were skipped and why.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct KeySet {
    keys: Vec<PublicKey>,
    skipped: Vec<SkippedKey>,
}

impl KeySet {
    /// The default maximum number of entries in a JWKS document.
    pub const DEFAULT_MAX_KEYS: usize = 100;

    /// Parses and validates a JWKS document (see [`KeySet::from_jwks_value`]).
    pub fn from_jwks_json(text: &str, max_keys: usize) -> Result<KeySet, JwksError> {
        let doc: Value = serde_json::from_str(text).map_err(|_| JwksError::NotJson)?;
        KeySet::from_jwks_value(&doc, max_keys)
    }

    /// Validates a JWKS document: a JSON object with a `"keys"` array of at most `max_keys`
    /// entries (a longer array is refused before any key is looked at). Each entry that
    /// [`import_jwk`] refuses, and each entry whose `kid` an earlier imported key already has,
    /// is skipped and reported in [`KeySet::skipped`]. A document whose keys are all skipped, or
    /// whose `"keys"` is empty, gives an empty set: it is the issuer saying that no key is valid,
    /// not a failure.
    pub fn from_jwks_value(doc: &Value, max_keys: usize) -> Result<KeySet, JwksError> {
        let doc = doc.as_object().ok_or(JwksError::NotAnObject)?;
        let entries = doc
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(JwksError::MissingKeys)?;
        if entries.len() > max_keys {
            return Err(JwksError::TooManyKeys {
                count: entries.len(),
                max: max_keys,
            });
        }

        let mut set = KeySet::default();
        for (index, entry) in entries.iter().enumerate() {
            let result = import_jwk(entry).and_then(|key| match &key.kid {
                Some(kid) if set.get(kid).is_some() => Err(JwkError::DuplicateKid),
                _ => Ok(key),
            });
            match result {
                Ok(key) => set.keys.push(key),
                Err(reason) => set.skipped.push(SkippedKey {
                    index,
                    kid: entry.get("kid").and_then(Value::as_str).map(truncated),
                    reason,
                }),
            }
        }

        Ok(set)
    }

    /// A set of already validated keys, with nothing skipped. The keys are taken as they are
    /// (no `kid` uniqueness check): [`KeySet::get`] returns the first key with a `kid`.
    pub fn from_keys(keys: Vec<PublicKey>) -> KeySet {
        KeySet {
            keys,
            skipped: Vec::new(),
        }
    }

    /// The validated keys, in document order.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The keys that were skipped, in document order.
    pub fn skipped(&self) -> &[SkippedKey] {
        &self.skipped
    }

    /// The key with this `kid`, if any.
    pub fn get(&self, kid: &str) -> Option<&PublicKey> {
        self.index_of(kid).map(|index| &self.keys[index])
    }

    /// Where the key with this `kid` is in [`KeySet::keys`] (the first, for a set made by
    /// [`KeySet::from_keys`] with a `kid` twice).
    pub fn index_of(&self, kid: &str) -> Option<usize> {
        self.keys
            .iter()
            .position(|key| key.kid.as_deref() == Some(kid))
    }

    /// The `kid`s of the keys that have one, in document order.
    pub fn kids(&self) -> impl Iterator<Item = &str> {
        self.keys.iter().filter_map(|key| key.kid.as_deref())
    }

    /// Whether the set has no key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The number of keys.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// The JWKS JSON of the validated keys only (public members, `kid`, `alg` and
    /// `"use": "sig"`), for storing in KV. Parsing it again with [`KeySet::from_jwks_json`]
    /// gives the same keys (and nothing skipped; an empty set stays empty), provided its `kid`s
    /// are unique and it has no more than the `max_keys` passed there.
    pub fn to_jwks_json(&self) -> String {
        let keys = self.keys.iter().map(public_jwk).collect();
        let mut doc = Map::new();
        doc.insert("keys".to_owned(), Value::Array(keys));
        Value::Object(doc).to_string()
    }
}

#[cfg(test)]
mod tests;
