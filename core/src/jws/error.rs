//! Why a token is rejected: typed, with a stable code for clients, logs and metrics.

use std::fmt;

/// A reason to reject a token. [`Rejection::code`] is stable (it is part of the gateway's
/// interface: RFC 6750 `error_description`, log fields, metrics); the `Display` text is a short
/// human explanation that never contains key material or anything else that helps an attacker.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// The token is longer than the configured maximum (checked before any parsing).
    #[error("token is {len} bytes, more than the {max} allowed")]
    TokenTooLarge {
        /// Length of the token in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The token is not a well-formed compact JWS (segments, base64url, JSON).
    #[error("token is malformed: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The header uses a feature the gateway does not implement (`crit`, `b64`, `zip`).
    #[error("header parameter \"{name}\" is not supported")]
    UnsupportedHeader {
        /// The header parameter.
        name: &'static str,
    },
    /// The header's `alg` is not in the allow-list (this includes `none` and every HMAC).
    #[error("algorithm {alg:?} is not allowed")]
    AlgorithmNotAllowed {
        /// The `alg` value as sent (truncated).
        alg: String,
    },
    /// No key in the current key set has the token's `kid` (or, without `kid`, no single key
    /// fits the algorithm).
    #[error(fmt = unknown_key)]
    UnknownKey {
        /// The token's `kid`, if any (truncated).
        kid: Option<String>,
    },
    /// The key named by `kid` exists but may not be used with the token's algorithm.
    #[error("the signing key may not be used with {alg}")]
    KeyMismatch {
        /// The token's algorithm.
        alg: &'static str,
    },
    /// The signature does not verify, or is not even of the right form for the key.
    #[error("signature is invalid")]
    BadSignature,
    /// The signature backend could not use the key (for example WebCrypto's `importKey`
    /// refusing an EC point that is not on its curve). The backend's message stays in `reason`
    /// (for logs) and out of the text, which clients read as the `error_description`.
    #[error("the signing key is unusable")]
    KeyUnusable {
        /// What the backend reported.
        reason: crate::jws::backend::BackendError,
    },
    /// `exp` is in the past (beyond the allowed clock skew).
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future (beyond the allowed clock skew).
    #[error("token is not valid yet (nbf)")]
    NotYetValid,
    /// `iat` is in the future (beyond the allowed clock skew).
    #[error("token is issued in the future (iat)")]
    IssuedInFuture,
    /// `iat` is older than the configured maximum token age.
    #[error("token is older than the maximum age")]
    TooOld,
    /// A required claim is absent.
    #[error("required claim {name:?} is missing")]
    MissingClaim {
        /// The claim.
        name: String,
    },
    /// A claim has the wrong type or an impossible value.
    #[error("claim {name:?} is invalid: {reason}")]
    InvalidClaim {
        /// The claim.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `iss` is not the configured issuer.
    #[error("issuer is not accepted")]
    InvalidIssuer,
    /// `aud` contains none of the configured audiences.
    #[error("audience is not accepted")]
    InvalidAudience,
    /// The header `typ` is not one of the accepted types.
    #[error("token type (typ) is not accepted")]
    InvalidType,
}

impl Rejection {
    /// [`Rejection::UnknownKey`] for the token's `kid`, shortened (it is attacker-controlled).
    pub fn unknown_key(kid: Option<&str>) -> Rejection {
        Rejection::UnknownKey {
            kid: kid.map(truncated),
        }
    }

    /// The stable machine-readable code.
    pub const fn code(&self) -> &'static str {
        match self {
            Rejection::TokenTooLarge { .. } => "token_too_large",
            Rejection::Malformed { .. } => "malformed_token",
            Rejection::UnsupportedHeader { .. } => "unsupported_header",
            Rejection::AlgorithmNotAllowed { .. } => "algorithm_not_allowed",
            Rejection::UnknownKey { .. } => "unknown_key",
            Rejection::KeyMismatch { .. } => "key_mismatch",
            Rejection::BadSignature => "bad_signature",
            Rejection::KeyUnusable { .. } => "key_unusable",
            Rejection::Expired => "token_expired",
            Rejection::NotYetValid => "token_not_yet_valid",
            Rejection::IssuedInFuture => "token_issued_in_future",
            Rejection::TooOld => "token_too_old",
            Rejection::MissingClaim { .. } => "missing_claim",
            Rejection::InvalidClaim { .. } => "invalid_claim",
            Rejection::InvalidIssuer => "invalid_issuer",
            Rejection::InvalidAudience => "invalid_audience",
            Rejection::InvalidType => "invalid_type",
        }
    }
}

/// The [`Rejection::UnknownKey`] text, which depends on whether the token has a `kid`.
fn unknown_key(kid: &Option<String>, f: &mut fmt::Formatter<'_>) -> fmt::Result {
    match kid {
        Some(kid) => write!(f, "no signing key with kid {kid:?}"),
        None => f.write_str("token has no kid and no single key fits its algorithm"),
    }
}

/// Shortens attacker-controlled text before it goes into a rejection or a log line.
pub(crate) fn truncated(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jws::backend::BackendError;

    /// The texts that follow the code in `error_description`: part of the gateway's interface.
    #[test]
    fn display_texts_are_stable() {
        let cases = [
            (
                Rejection::TokenTooLarge {
                    len: 9000,
                    max: 8192,
                },
                "token is 9000 bytes, more than the 8192 allowed",
            ),
            (
                Rejection::Malformed {
                    reason: "invalid JSON",
                },
                "token is malformed: invalid JSON",
            ),
            (
                Rejection::UnsupportedHeader { name: "crit" },
                "header parameter \"crit\" is not supported",
            ),
            (
                Rejection::AlgorithmNotAllowed {
                    alg: "HS256".to_owned(),
                },
                "algorithm \"HS256\" is not allowed",
            ),
            (
                Rejection::unknown_key(Some("k\"1")),
                "no signing key with kid \"k\\\"1\"",
            ),
            (
                Rejection::unknown_key(None),
                "token has no kid and no single key fits its algorithm",
            ),
            (
                Rejection::KeyMismatch { alg: "ES256" },
                "the signing key may not be used with ES256",
            ),
            (Rejection::BadSignature, "signature is invalid"),
            (
                Rejection::KeyUnusable {
                    reason: BackendError::ImportRejected {
                        message: "bad key".to_owned(),
                    },
                },
                "the signing key is unusable",
            ),
            (Rejection::Expired, "token has expired"),
            (Rejection::NotYetValid, "token is not valid yet (nbf)"),
            (
                Rejection::IssuedInFuture,
                "token is issued in the future (iat)",
            ),
            (Rejection::TooOld, "token is older than the maximum age"),
            (
                Rejection::MissingClaim {
                    name: "sub".to_owned(),
                },
                "required claim \"sub\" is missing",
            ),
            (
                Rejection::InvalidClaim {
                    name: "exp".to_owned(),
                    reason: "not a NumericDate",
                },
                "claim \"exp\" is invalid: not a NumericDate",
            ),
            (Rejection::InvalidIssuer, "issuer is not accepted"),
            (Rejection::InvalidAudience, "audience is not accepted"),
            (Rejection::InvalidType, "token type (typ) is not accepted"),
        ];
        for (rejection, text) in cases {
            assert_eq!(rejection.to_string(), text, "{}", rejection.code());
        }
    }
}
