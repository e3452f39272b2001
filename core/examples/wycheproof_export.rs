//! Exports the Wycheproof vectors that `tests/wycheproof.rs` runs natively, as JSON for the
//! WebCrypto differential test (`tests/webcrypto-differential.test.mjs`), each with the result
//! the native backend gives it.
//!
//! ```text
//! cargo run --release -p edge-jwt-core --example wycheproof_export [-- OUT.json]
//! ```
//!
//! Writes `[{id, family, alg, jwk, msg, sig, expected, native}]` to OUT.json, or to stdout
//! without an argument: `jwk` is the public JWK of the key (no `kid`/`alg`/`use`), `msg` and
//! `sig` are unpadded base64url, `expected` is `valid`, `invalid`, `acceptable` or
//! `must_reject`, and `native` is what the crypto test harness Worker (`POST /vectors`,
//! `tests/crypto-worker/src/lib.rs`) answers for the same vector, computed the same way with the
//! native backend: JWK import, `signature::check_form`, then the backend.

#[cfg(feature = "native")]
// Shared with the native test, which uses parts of it this exporter does not.
#[allow(dead_code)]
#[path = "../tests/support/wycheproof_cases.rs"]
mod wycheproof_cases;

#[cfg(feature = "native")]
fn main() -> std::io::Result<()> {
    use std::io::Write;

    use wycheproof_cases::{cases, Family};

    let mut records = Vec::new();
    for family in Family::ALL {
        let (cases, _) = cases(family);
        records.extend(cases.iter().map(export::record));
    }
    let json = serde_json::to_vec(&records).map_err(std::io::Error::other)?;
    match std::env::args_os().nth(1) {
        Some(path) => std::fs::write(path, json),
        None => {
            let mut out = std::io::stdout().lock();
            out.write_all(&json)?;
            out.flush()
        }
    }
}

#[cfg(feature = "native")]
mod export {
    use base64ct::{Base64UrlUnpadded, Encoding};
    use edge_jwt_core::jws::backend::SignatureBackend;
    use edge_jwt_core::jws::jwk::import_jwk;
    use edge_jwt_core::jws::key::KeyMaterial;
    use edge_jwt_core::jws::native::NativeBackend;
    use edge_jwt_core::jws::signature;
    use serde_json::{json, Value};

    use crate::wycheproof_cases::Case;

    fn b64(bytes: &[u8]) -> String {
        Base64UrlUnpadded::encode_string(bytes)
    }

    /// The public JWK of `key`: key material only.
    fn jwk(key: &KeyMaterial) -> Value {
        match key {
            KeyMaterial::Rsa { n, e } => json!({ "kty": "RSA", "n": b64(n), "e": b64(e) }),
            KeyMaterial::Ec { curve, x, y } => {
                json!({ "kty": "EC", "crv": curve.name(), "x": b64(x), "y": b64(y) })
            }
            KeyMaterial::Ed25519 { x } => {
                json!({ "kty": "OKP", "crv": "Ed25519", "x": b64(x) })
            }
        }
    }

    /// What the harness Worker's `vectors()` answers, with the native backend instead of
    /// WebCrypto.
    fn native_result(case: &Case, jwk: &Value) -> String {
        let key = match import_jwk(jwk) {
            Ok(key) => key,
            Err(err) => return format!("key_rejected: {err}"),
        };
        if let Err(rejection) = signature::check_form(case.alg, &key, &case.sig) {
            return rejection.code().to_owned();
        }
        match pollster::block_on(NativeBackend.verify(case.alg, &key, &case.msg, &case.sig)) {
            Ok(true) => "valid".to_owned(),
            Ok(false) => "invalid".to_owned(),
            Err(err) => format!("backend_error: {err}"),
        }
    }

    pub(crate) fn record(case: &Case) -> Value {
        let jwk = jwk(&case.key);
        let native = native_result(case, &jwk);
        json!({
            "id": case.id,
            "family": case.family,
            "alg": case.alg.name(),
            "jwk": jwk,
            "msg": b64(&case.msg),
            "sig": b64(&case.sig),
            "expected": case.expected.name(),
            "native": native,
        })
    }
}

#[cfg(not(feature = "native"))]
fn main() {
    eprintln!("wycheproof_export needs the `native` feature of edge-jwt-core");
    std::process::exit(2);
}
