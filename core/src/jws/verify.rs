//! The verification pipeline: parse, bind the algorithm to a key, check the signature through a
//! [`SignatureBackend`], then the claims. The token header never chooses the algorithm on its own:
//! its `alg` must be in the allow-list and permitted by the key it names.

use serde_json::{Map, Value};

use crate::jws::alg::Algorithm;
use crate::jws::backend::{BackendError, SignatureBackend};
use crate::jws::claims::{self, ClaimsPolicy};
use crate::jws::error::Rejection;
use crate::jws::jwk::KeySet;
use crate::jws::key::PublicKey;
use crate::jws::signature;
use crate::jws::token::UntrustedToken;

/// Everything a token must satisfy, besides a valid signature from the key set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerificationPolicy {
    /// Accepted algorithms (`JWT_ALGORITHMS`); never empty in a valid configuration.
    pub algorithms: Vec<Algorithm>,
    /// Maximum token length in bytes (`JWT_MAX_TOKEN_BYTES`).
    pub max_token_bytes: usize,
    /// Accepted header `typ` values (`JWT_TYP`); empty accepts any or none.
    pub types: Vec<String>,
    /// The claims checks.
    pub claims: ClaimsPolicy,
}

/// A token that passed every check.
#[derive(Debug, Clone, PartialEq)]
pub struct VerifiedToken {
    /// The algorithm it was verified with.
    pub alg: Algorithm,
    /// The `kid` of the key that verified it, if the key had one.
    pub kid: Option<String>,
    /// Thumbprint of the key that verified it.
    pub key_thumbprint: String,
    /// The verified claims.
    pub claims: Map<String, Value>,
}

/// A parsed token whose algorithm is allowed: what a caller needs to find its key.
#[derive(Debug, Clone, PartialEq)]
pub struct InspectedToken {
    token: UntrustedToken,
    alg: Algorithm,
}

impl InspectedToken {
    /// The algorithm the token claims, already checked against the allow-list.
    pub fn alg(&self) -> Algorithm {
        self.alg
    }

    /// The header `kid`, used to look the key up.
    pub fn kid(&self) -> Option<&str> {
        self.token.header().kid.as_deref()
    }

    /// The bytes the signature covers.
    pub fn message(&self) -> &[u8] {
        self.token.signing_input()
    }

    /// The decoded signature.
    pub fn signature(&self) -> &[u8] {
        self.token.signature()
    }
}

/// Verifies tokens against a [`VerificationPolicy`].
#[derive(Debug, Clone)]
pub struct Verifier {
    policy: VerificationPolicy,
}

impl Verifier {
    /// A verifier for `policy`.
    pub fn new(policy: VerificationPolicy) -> Self {
        Verifier { policy }
    }

    /// The policy in force.
    pub fn policy(&self) -> &VerificationPolicy {
        &self.policy
    }

    /// Everything that needs no key: structure, header, algorithm allow-list and `typ`. Cheap,
    /// and enough to learn which `kid` to look up.
    pub fn inspect(&self, token: &str) -> Result<InspectedToken, Rejection> {
        let token = UntrustedToken::parse(token, self.policy.max_token_bytes)?;
        let header = token.header();
        let alg = Algorithm::from_name(&header.alg)
            .filter(|alg| self.policy.algorithms.contains(alg))
            .ok_or_else(|| Rejection::AlgorithmNotAllowed {
                alg: crate::jws::error::truncated(&header.alg),
            })?;
        if !self.policy.types.is_empty() {
            let typ = header.typ.as_deref().ok_or(Rejection::InvalidType)?;
            if !self.policy.types.iter().any(|t| same_media_type(t, typ)) {
                return Err(Rejection::InvalidType);
            }
        }
        Ok(InspectedToken { token, alg })
    }

    /// Verifies an inspected token with a key from `keys`, then its claims at `now` (seconds
    /// since the Unix epoch): [`Verifier::signing_key`], the backend, [`Verifier::accept`].
    pub async fn verify<B: SignatureBackend>(
        &self,
        token: &InspectedToken,
        keys: &KeySet,
        backend: &B,
        now: u64,
    ) -> Result<VerifiedToken, Rejection> {
        let key = &keys.keys()[self.signing_key(token, keys)?];
        let checked = backend
            .verify(token.alg, key, token.message(), token.signature())
            .await;
        self.accept(token, key, checked, now)
    }

    /// Everything before the signature's math: the key of `keys` that must have signed `token`
    /// (its index in [`KeySet::keys`]), and the signature's form (length, ranges) for that key
    /// and the token's algorithm.
    pub fn signing_key(&self, token: &InspectedToken, keys: &KeySet) -> Result<usize, Rejection> {
        let index = select_key(keys, token.kid(), token.alg)?;
        signature::check_form(token.alg, &keys.keys()[index], token.signature())?;
        Ok(index)
    }

    /// Everything after it: what the backend answered for `key` (the key
    /// [`Verifier::signing_key`] chose), which must be a valid signature, then the claims at
    /// `now`.
    pub fn accept(
        &self,
        token: &InspectedToken,
        key: &PublicKey,
        checked: Result<bool, BackendError>,
        now: u64,
    ) -> Result<VerifiedToken, Rejection> {
        let valid = checked.map_err(|reason| Rejection::KeyUnusable { reason })?;
        if !valid {
            return Err(Rejection::BadSignature);
        }
        let claims = token.token.claims()?;
        claims::check(&claims, &self.policy.claims, now)?;
        Ok(VerifiedToken {
            alg: token.alg,
            kid: key.kid.clone(),
            key_thumbprint: key.thumbprint.clone(),
            claims,
        })
    }

    /// [`Verifier::inspect`] then [`Verifier::verify`].
    pub async fn verify_token<B: SignatureBackend>(
        &self,
        token: &str,
        keys: &KeySet,
        backend: &B,
        now: u64,
    ) -> Result<VerifiedToken, Rejection> {
        let inspected = self.inspect(token)?;
        self.verify(&inspected, keys, backend, now).await
    }
}

/// The key for `kid` and `alg`, as its index in `keys`. With a `kid`, that key or nothing (it
/// must permit `alg`); without one, the only key that permits `alg`, since guessing among
/// several would let one key's signature be tried against another's.
fn select_key(keys: &KeySet, kid: Option<&str>, alg: Algorithm) -> Result<usize, Rejection> {
    let all = keys.keys();
    let index = match kid {
        Some(kid) => keys
            .index_of(kid)
            .ok_or_else(|| Rejection::unknown_key(Some(kid)))?,
        None => {
            let mut fitting = (0..all.len()).filter(|&i| all[i].permits(alg));
            match (fitting.next(), fitting.next()) {
                (Some(index), None) => index,
                _ => return Err(Rejection::UnknownKey { kid: None }),
            }
        }
    };
    if all[index].permits(alg) {
        Ok(index)
    } else {
        Err(Rejection::KeyMismatch { alg: alg.name() })
    }
}

/// RFC 7515 4.1.9: `typ` compares case-insensitively, and "application/" may be left out.
fn same_media_type(expected: &str, actual: &str) -> bool {
    fn strip(text: &str) -> &str {
        match text.get(..12) {
            Some(prefix) if prefix.eq_ignore_ascii_case("application/") => &text[12..],
            _ => text,
        }
    }
    strip(expected).eq_ignore_ascii_case(strip(actual))
}

#[cfg(test)]
mod tests {
    use super::same_media_type;

    #[test]
    fn typ_comparison_follows_rfc_7515() {
        assert!(same_media_type("at+jwt", "at+jwt"));
        assert!(same_media_type("at+jwt", "application/at+JWT"));
        assert!(same_media_type("application/jwt", "JWT"));
        assert!(!same_media_type("at+jwt", "jwt"));
        assert!(!same_media_type("at+jwt", "text/at+jwt"));
    }
}
