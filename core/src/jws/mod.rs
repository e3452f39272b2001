//! One token against one key set: the JOSE layer. Nothing here knows about caches, HTTP or
//! configuration; the layers above hand it a token, a [`jwk::KeySet`] and the time.
//!
//! | module        | concern                                                    |
//! |---------------|------------------------------------------------------------|
//! | [`alg`]       | the accepted JWS algorithms and the keys each needs        |
//! | [`base64url`] | strict, fast base64url decoding of tokens and keys         |
//! | [`key`]       | validated public keys                                      |
//! | [`jwk`]       | JWK/JWKS import and validation into a [`jwk::KeySet`]      |
//! | [`json`]      | strict JSON: no duplicate members, bounded depth           |
//! | [`token`]     | compact JWS parsing with structural limits                 |
//! | [`signature`] | signature shape checks shared by both backends             |
//! | [`claims`]    | exp/nbf/iat/iss/aud and other claims checks                |
//! | [`verify`]    | algorithm ↔ key binding, signature, claims                 |
//! | [`backend`]   | the signature-backend trait (WebCrypto / RustCrypto)       |
//! | [`native`]    | the RustCrypto backend (feature `native`)                  |
//! | [`error`]     | [`Rejection`](error::Rejection): why a token is refused, with a stable code |
pub mod alg;
pub mod backend;
pub mod base64url;
pub mod claims;
pub mod error;
pub mod json;
pub mod jwk;
pub mod key;
#[cfg(feature = "native")]
pub mod native;
pub mod signature;
pub mod token;
pub mod verify;
