//! The WebCrypto signature backend: `crypto.subtle.verify` of the Workers runtime (BoringSSL),
//! reached through `web-sys`. About ten times cheaper per RS256 verification in workerd than
//! pure-Rust RSA compiled to wasm.
//!
//! Keys are imported once per isolate and kept by thumbprint and algorithm: an imported
//! `CryptoKey` is a finished value, so sharing it between requests is allowed (unlike a pending
//! promise, which workerd forbids awaiting from another request). So are `crypto.subtle` and
//! the algorithm parameters of `verify` (one plain object per algorithm, which WebCrypto reads
//! on each call and never changes): both are made once per isolate, not on every verification.
#![forbid(unsafe_code)]

use std::cell::{OnceCell, RefCell};

use edge_jwt_core::jws::alg::Hash;
use edge_jwt_core::jws::backend::{BackendError, SignatureBackend};
use edge_jwt_core::jws::key::{KeyMaterial, PublicKey};
use edge_jwt_core::Algorithm;
use js_sys::{Object, Reflect};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Crypto, CryptoKey, SubtleCrypto};

/// How many imported keys an isolate keeps; past this the list is cleared and refilled on demand
/// (key sets hold a handful of keys, so this only bounds memory under churn).
const MAX_IMPORTED_KEYS: usize = 64;

/// Verifies signatures with WebCrypto, importing each key once.
///
/// Both lists are short (a key set holds a handful of keys, there are nine algorithms) and are
/// searched in order: cheaper than hashing a thumbprint on every verification.
#[derive(Debug, Default)]
pub struct WebCryptoBackend {
    /// The imported keys, by thumbprint and algorithm.
    imported: RefCell<Vec<(String, Algorithm, CryptoKey)>>,
    /// `crypto.subtle`, once found.
    subtle: OnceCell<SubtleCrypto>,
    /// The `verify` parameters of each algorithm used so far.
    verify_params: RefCell<Vec<(Algorithm, Object)>>,
}

impl WebCryptoBackend {
    /// A backend with an empty key map.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of keys imported and kept.
    pub fn imported_keys(&self) -> usize {
        self.imported.borrow().len()
    }

    /// `crypto.subtle`, looked up on first use.
    fn subtle(&self) -> Result<&SubtleCrypto, BackendError> {
        if let Some(subtle) = self.subtle.get() {
            return Ok(subtle);
        }
        let subtle = subtle()?;
        Ok(self.subtle.get_or_init(|| subtle))
    }

    /// The `verify` parameters of `alg`, made on first use.
    fn verify_params(&self, alg: Algorithm) -> Result<Object, JsValue> {
        let known = self.verify_params.borrow();
        if let Some((_, params)) = known.iter().find(|(known, _)| *known == alg) {
            return Ok(params.clone());
        }
        drop(known);
        let params = verify_params(alg)?;
        self.verify_params.borrow_mut().push((alg, params.clone()));
        Ok(params)
    }

    /// The key imported before for `key` and `alg`, if any.
    fn imported_key(&self, alg: Algorithm, key: &PublicKey) -> Option<CryptoKey> {
        self.imported
            .borrow()
            .iter()
            .find(|(thumbprint, imported_for, _)| {
                *imported_for == alg && *thumbprint == key.thumbprint
            })
            .map(|(_, _, imported)| imported.clone())
    }

    async fn key_for(&self, alg: Algorithm, key: &PublicKey) -> Result<CryptoKey, BackendError> {
        if let Some(found) = self.imported_key(alg, key) {
            return Ok(found);
        }
        let imported = import(alg, key).await?;
        // Another request may have imported it meanwhile: keep one.
        if self.imported_key(alg, key).is_none() {
            let mut keys = self.imported.borrow_mut();
            if keys.len() >= MAX_IMPORTED_KEYS {
                keys.clear();
            }
            keys.push((key.thumbprint.clone(), alg, imported.clone()));
        }
        Ok(imported)
    }
}

impl WebCryptoBackend {
    /// [`SignatureBackend::verify`] without a future, when `key` was imported before: WebCrypto's
    /// `verify` promise, whose outcome [`WebCryptoBackend::verified`] reads once it settles.
    /// `None` when the key is not imported yet (then `verify` imports it).
    pub fn start_verify(
        &self,
        alg: Algorithm,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Option<Result<js_sys::Promise, BackendError>> {
        let crypto_key = self.imported_key(alg, key)?;
        Some(self.verify_with(alg, &crypto_key, message, signature))
    }

    /// What a settled `verify` promise answered: its value when it was fulfilled, its reason
    /// when it was rejected.
    pub fn verified(settled: Result<JsValue, JsValue>) -> Result<bool, BackendError> {
        settled
            .map(|valid| valid.as_bool() == Some(true))
            .map_err(|err| BackendError::VerifyRejected {
                message: js_message(&err),
            })
    }

    /// WebCrypto's `verify` with an imported key (it copies `message` and `signature` before it
    /// returns).
    fn verify_with(
        &self,
        alg: Algorithm,
        crypto_key: &CryptoKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<js_sys::Promise, BackendError> {
        let rejected = |err: JsValue| BackendError::VerifyRejected {
            message: js_message(&err),
        };
        self.subtle()?
            .verify_with_object_and_u8_array_and_u8_array(
                &self.verify_params(alg).map_err(rejected)?,
                crypto_key,
                signature,
                message,
            )
            .map_err(rejected)
    }
}

impl SignatureBackend for WebCryptoBackend {
    async fn verify(
        &self,
        alg: Algorithm,
        key: &PublicKey,
        message: &[u8],
        signature: &[u8],
    ) -> Result<bool, BackendError> {
        let crypto_key = self.key_for(alg, key).await?;
        let promise = self.verify_with(alg, &crypto_key, message, signature)?;
        Self::verified(JsFuture::from(promise).await)
    }
}

fn subtle() -> Result<SubtleCrypto, BackendError> {
    let crypto = Reflect::get(&js_sys::global(), &JsValue::from_str("crypto"))
        .ok()
        .and_then(|value| value.dyn_into::<Crypto>().ok())
        .ok_or(BackendError::WebCryptoUnavailable)?;
    Ok(crypto.subtle())
}

/// The runtime's message for a rejection: an `Error`'s message, or the value as is.
fn js_message(err: &JsValue) -> String {
    err.dyn_ref::<js_sys::Error>()
        .map(|e| String::from(e.message()))
        .unwrap_or_else(|| format!("{err:?}"))
}

/// A plain JS object with `members`, for WebCrypto's algorithm parameters. `importKey` needs
/// plain objects, not the `Map`s that serde-wasm-bindgen would produce. `Err` is what the runtime
/// threw, for the caller to report as its operation's failure.
fn js_object(members: &[(&str, JsValue)]) -> Result<Object, JsValue> {
    let object = Object::new();
    for (name, value) in members {
        Reflect::set(&object, &JsValue::from_str(name), value)?;
    }
    Ok(object)
}

/// The digest name of `alg`; EdDSA has none and never asks for it.
fn hash_name(alg: Algorithm) -> &'static str {
    alg.hash().map_or("SHA-256", Hash::name)
}

/// A JS string.
fn text(value: &str) -> JsValue {
    JsValue::from_str(value)
}

fn import_params(alg: Algorithm) -> Result<Object, JsValue> {
    match alg {
        Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => js_object(&[
            ("name", text("RSASSA-PKCS1-v1_5")),
            ("hash", text(hash_name(alg))),
        ]),
        Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512 => {
            js_object(&[("name", text("RSA-PSS")), ("hash", text(hash_name(alg)))])
        }
        Algorithm::Es256 => js_object(&[("name", text("ECDSA")), ("namedCurve", text("P-256"))]),
        Algorithm::Es384 => js_object(&[("name", text("ECDSA")), ("namedCurve", text("P-384"))]),
        Algorithm::EdDsa => js_object(&[("name", text("Ed25519"))]),
    }
}

fn verify_params(alg: Algorithm) -> Result<Object, JsValue> {
    match alg {
        Algorithm::Rs256 | Algorithm::Rs384 | Algorithm::Rs512 => {
            js_object(&[("name", text("RSASSA-PKCS1-v1_5"))])
        }
        // RFC 7518 3.5: the salt is as long as the hash.
        Algorithm::Ps256 | Algorithm::Ps384 | Algorithm::Ps512 => {
            let salt = alg.hash().map_or(32, Hash::output_len);
            js_object(&[
                ("name", text("RSA-PSS")),
                ("saltLength", JsValue::from_f64(salt as f64)),
            ])
        }
        Algorithm::Es256 | Algorithm::Es384 => {
            js_object(&[("name", text("ECDSA")), ("hash", text(hash_name(alg)))])
        }
        Algorithm::EdDsa => js_object(&[("name", text("Ed25519"))]),
    }
}

/// The public JWK WebCrypto imports: key material only (no `alg`/`use`/`key_ops`, which the
/// shared code has already checked), the RFC 7638 canonical JSON read by `JSON.parse`.
fn import_jwk(material: &KeyMaterial) -> Result<Object, JsValue> {
    js_sys::JSON::parse(&material.canonical_json())?.dyn_into::<Object>()
}

async fn import(alg: Algorithm, key: &PublicKey) -> Result<CryptoKey, BackendError> {
    let rejected = |err: JsValue| BackendError::ImportRejected {
        message: js_message(&err),
    };
    let usages = js_sys::Array::of1(&JsValue::from_str("verify"));
    let promise = subtle()?
        .import_key_with_object(
            "jwk",
            &import_jwk(&key.material).map_err(rejected)?,
            &import_params(alg).map_err(rejected)?,
            false,
            &usages,
        )
        .map_err(rejected)?;
    JsFuture::from(promise)
        .await
        .map_err(rejected)?
        .dyn_into::<CryptoKey>()
        .map_err(|_| BackendError::ImportRejected {
            message: "the result is not a CryptoKey".to_owned(),
        })
}
