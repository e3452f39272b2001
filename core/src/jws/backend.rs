//! The seam between shared verification logic and the code that runs the signature math.
//!
//! Every check (algorithm allow-list, key/algorithm binding, key validation, signature length
//! and range) happens in shared code before a backend is called, so both backends (WebCrypto in
//! the Worker, RustCrypto natively) decide the same way on everything but the math itself.

use std::future::Future;

use crate::jws::alg::Algorithm;
use crate::jws::key::PublicKey;

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

/// A backend's failure to use a key (not an invalid signature).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackendError(pub String);

impl std::fmt::Display for BackendError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for BackendError {}
