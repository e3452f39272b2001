//! The seam between shared verification logic and the code that runs the signature math.
//!
//! Every check (algorithm allow-list, key/algorithm binding, key validation, signature length
//! and range) happens in shared code before a backend is called, so both backends (WebCrypto in
//! the Worker, RustCrypto natively) decide the same way on everything but the math itself.

use std::future::Future;

use crate::jws::alg::Algorithm;
use crate::jws::key::{Curve, PublicKey};

/// Verifies one signature. Implementations: [`crate::jws::native::NativeBackend`] (RustCrypto, for
/// tests and benchmarks) and the Worker's WebCrypto backend.
pub trait SignatureBackend {
    /// Checks `signature` over `message` with `key` under `alg`. `Ok(false)` is an invalid
    /// signature; `Err` means the backend could not use the key at all.
    ///
    /// Callers guarantee: `key.permits(alg)`, and `signature` has the exact length (and, for
    /// ECDSA and Ed25519, the scalar ranges) that `alg` and `key` require.
    fn verify(
        &self,
        alg: Algorithm,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> impl Future<Output = Result<bool, BackendError>>;
}

/// A backend's failure to use a key (not an invalid signature). The shared checks run before
/// any backend, so each of these means a key the backend could not load, or a runtime without
/// the backend.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BackendError {
    /// WebCrypto (`crypto.subtle`) is not available in this runtime.
    #[error("crypto.subtle is not available")]
    WebCryptoUnavailable,
    /// WebCrypto's `importKey` refused the key (or the call's parameters).
    #[error("WebCrypto importKey failed: {message}")]
    ImportRejected {
        /// The runtime's message.
        message: String,
    },
    /// WebCrypto's `verify` failed, rather than answering whether the signature is valid.
    #[error("WebCrypto verify failed: {message}")]
    VerifyRejected {
        /// The runtime's message.
        message: String,
    },
    /// The key's type does not serve the algorithm (the shared checks rule this out first).
    #[error("key cannot be used with {alg}")]
    KeyTypeMismatch {
        /// The algorithm asked for.
        alg: Algorithm,
    },
    /// The RSA library refused the modulus or the exponent.
    #[error("RSA key rejected: {reason}")]
    RsaKeyRejected {
        /// The library's reason.
        reason: String,
    },
    /// The EC public key is not a point on its curve.
    #[error("{} public key rejected", .curve.name())]
    EcKeyRejected {
        /// The key's curve.
        curve: Curve,
    },
    /// The 32 bytes of an Ed25519 public key do not decode to a curve point.
    #[error("Ed25519 public key is not a curve point")]
    Ed25519KeyRejected,
}
