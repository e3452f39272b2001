//! JWK and JWKS import: untrusted JSON in, validated [`crate::key::PublicKey`]s out.
