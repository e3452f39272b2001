//! The JWS signature algorithms the gateway accepts, and which keys each one needs.

use std::fmt;

/// A JWS signature algorithm (RFC 7518 section 3, RFC 8037). There is no `none` and no HMAC:
/// keys from a JWKS are public, so a MAC "verified" with one proves nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256.
    Rs256,
    /// RSASSA-PKCS1-v1_5 with SHA-384.
    Rs384,
    /// RSASSA-PKCS1-v1_5 with SHA-512.
    Rs512,
    /// RSASSA-PSS with SHA-256, MGF1 with SHA-256, salt length 32.
    Ps256,
    /// RSASSA-PSS with SHA-384, MGF1 with SHA-384, salt length 48.
    Ps384,
    /// RSASSA-PSS with SHA-512, MGF1 with SHA-512, salt length 64.
    Ps512,
    /// ECDSA on P-256 with SHA-256, signature `r || s` (64 bytes).
    Es256,
    /// ECDSA on P-384 with SHA-384, signature `r || s` (96 bytes).
    Es384,
    /// EdDSA; only Ed25519 keys are accepted.
    EdDsa,
}

/// The digest an algorithm signs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hash {
    /// SHA-256.
    Sha256,
    /// SHA-384.
    Sha384,
    /// SHA-512.
    Sha512,
}

impl Hash {
    /// The standard name ("SHA-256"), as WebCrypto and most libraries spell it.
    pub const fn name(self) -> &'static str {
        match self {
            Hash::Sha256 => "SHA-256",
            Hash::Sha384 => "SHA-384",
            Hash::Sha512 => "SHA-512",
        }
    }

    /// Output length in bytes (also the PSS salt length used by JWS).
    pub const fn output_len(self) -> usize {
        match self {
            Hash::Sha256 => 32,
            Hash::Sha384 => 48,
            Hash::Sha512 => 64,
        }
    }
}

impl Algorithm {
    /// Every supported algorithm, in RFC order.
    pub const ALL: [Algorithm; 9] = [
        Algorithm::Rs256,
        Algorithm::Rs384,
        Algorithm::Rs512,
        Algorithm::Ps256,
        Algorithm::Ps384,
        Algorithm::Ps512,
        Algorithm::Es256,
        Algorithm::Es384,
        Algorithm::EdDsa,
    ];

    /// The `alg` header value.
    pub const fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Rs384 => "RS384",
            Algorithm::Rs512 => "RS512",
            Algorithm::Ps256 => "PS256",
            Algorithm::Ps384 => "PS384",
            Algorithm::Ps512 => "PS512",
            Algorithm::Es256 => "ES256",
            Algorithm::Es384 => "ES384",
            Algorithm::EdDsa => "EdDSA",
        }
    }

    /// Parses an `alg` value. Case-sensitive, as RFC 7515 requires: `rs256` or `None` is not an
    /// algorithm.
    pub fn from_name(name: &str) -> Option<Algorithm> {
        Algorithm::ALL.into_iter().find(|alg| alg.name() == name)
    }

    /// The digest the algorithm signs; `None` for EdDSA, which hashes internally.
    pub const fn hash(self) -> Option<Hash> {
        match self {
            Algorithm::Rs256 | Algorithm::Ps256 | Algorithm::Es256 => Some(Hash::Sha256),
            Algorithm::Rs384 | Algorithm::Ps384 | Algorithm::Es384 => Some(Hash::Sha384),
            Algorithm::Rs512 | Algorithm::Ps512 => Some(Hash::Sha512),
            Algorithm::EdDsa => None,
        }
    }
}

impl fmt::Display for Algorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for alg in Algorithm::ALL {
            assert_eq!(Algorithm::from_name(alg.name()), Some(alg));
        }
    }

    #[test]
    fn unknown_and_miscased_names_are_not_algorithms() {
        for name in [
            "none", "None", "NONE", "nOnE", "HS256", "rs256", "Es256", "EDDSA", "ES512", "",
        ] {
            assert_eq!(Algorithm::from_name(name), None, "{name}");
        }
    }
}
