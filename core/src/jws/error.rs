//! Why a token is rejected: typed, with a stable code for clients, logs and metrics.

use std::fmt;

/// A reason to reject a token. [`Rejection::code`] is stable (it is part of the gateway's
/// interface: RFC 6750 `error_description`, log fields, metrics); the `Display` text is a short
/// human explanation that never contains key material or anything else that helps an attacker.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// The token is longer than the configured maximum (checked before any parsing).
    TokenTooLarge {
        /// Length of the token in bytes.
        len: usize,
        /// The configured maximum.
        max: usize,
    },
    /// The token is not a well-formed compact JWS (segments, base64url, JSON).
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// The header uses a feature the gateway does not implement (`crit`, `b64`, `zip`).
    UnsupportedHeader {
        /// The header parameter.
        name: &'static str,
    },
    /// The header's `alg` is not in the allow-list (this includes `none` and every HMAC).
    AlgorithmNotAllowed {
        /// The `alg` value as sent (truncated).
        alg: String,
    },
    /// No key in the current key set has the token's `kid` (or, without `kid`, no single key
    /// fits the algorithm).
    UnknownKey {
        /// The token's `kid`, if any (truncated).
        kid: Option<String>,
    },
    /// The key named by `kid` exists but may not be used with the token's algorithm.
    KeyMismatch {
        /// The token's algorithm.
        alg: &'static str,
    },
    /// The signature does not verify, or is not even of the right form for the key.
    BadSignature,
    /// The signature backend could not use the key (for example an import failure).
    KeyUnusable {
        /// What the backend reported.
        reason: crate::jws::backend::BackendError,
    },
    /// `exp` is in the past (beyond the allowed clock skew).
    Expired,
    /// `nbf` is in the future (beyond the allowed clock skew).
    NotYetValid,
    /// `iat` is in the future (beyond the allowed clock skew).
    IssuedInFuture,
    /// `iat` is older than the configured maximum token age.
    TooOld,
    /// A required claim is absent.
    MissingClaim {
        /// The claim.
        name: String,
    },
    /// A claim has the wrong type or an impossible value.
    InvalidClaim {
        /// The claim.
        name: String,
        /// What is wrong with it.
        reason: &'static str,
    },
    /// `iss` is not the configured issuer.
    InvalidIssuer,
    /// `aud` contains none of the configured audiences.
    InvalidAudience,
    /// The header `typ` is not one of the accepted types.
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

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::TokenTooLarge { len, max } => {
                write!(f, "token is {len} bytes, more than the {max} allowed")
            }
            Rejection::Malformed { reason } => write!(f, "token is malformed: {reason}"),
            Rejection::UnsupportedHeader { name } => {
                write!(f, "header parameter \"{name}\" is not supported")
            }
            Rejection::AlgorithmNotAllowed { alg } => write!(f, "algorithm {alg:?} is not allowed"),
            Rejection::UnknownKey { kid: Some(kid) } => {
                write!(f, "no signing key with kid {kid:?}")
            }
            Rejection::UnknownKey { kid: None } => {
                f.write_str("token has no kid and no single key fits its algorithm")
            }
            Rejection::KeyMismatch { alg } => {
                write!(f, "the signing key may not be used with {alg}")
            }
            Rejection::BadSignature => f.write_str("signature is invalid"),
            Rejection::KeyUnusable { reason } => write!(f, "signing key is unusable: {reason}"),
            Rejection::Expired => f.write_str("token has expired"),
            Rejection::NotYetValid => f.write_str("token is not valid yet (nbf)"),
            Rejection::IssuedInFuture => f.write_str("token is issued in the future (iat)"),
            Rejection::TooOld => f.write_str("token is older than the maximum age"),
            Rejection::MissingClaim { name } => write!(f, "required claim {name:?} is missing"),
            Rejection::InvalidClaim { name, reason } => {
                write!(f, "claim {name:?} is invalid: {reason}")
            }
            Rejection::InvalidIssuer => f.write_str("issuer is not accepted"),
            Rejection::InvalidAudience => f.write_str("audience is not accepted"),
            Rejection::InvalidType => f.write_str("token type (typ) is not accepted"),
        }
    }
}

impl std::error::Error for Rejection {}

/// Shortens attacker-controlled text before it goes into a rejection or a log line.
pub(crate) fn truncated(text: &str) -> String {
    const MAX: usize = 64;
    match text.char_indices().nth(MAX) {
        Some((at, _)) => format!("{}…", &text[..at]),
        None => text.to_owned(),
    }
}
