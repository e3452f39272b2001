//! The origin's proof that a request came through the gateway: a shared secret in a header.
//!
//! With `ORIGIN_AUTH_SECRET` set, every request the gateway forwards (protected, public and
//! preflight alike) carries it in the header `ORIGIN_AUTH_HEADER` (default `X-Gateway-Auth`), so
//! OrderService can refuse whatever reaches it without the secret. A client's header of that
//! name (in any case, `_` or `-` spelling) is removed from every request, with or without a
//! secret, so a client can never supply it ([`crate::gateway::forward::header_edits`]). The
//! secret is never shown: not by `Debug`, not in a configuration error.

use std::fmt;

use crate::gateway::client_headers::{stripped, Stripped};
use crate::gateway::identity::is_reserved_header;
use crate::gateway::is_token;

/// The header name when `ORIGIN_AUTH_HEADER` is unset.
pub const DEFAULT_ORIGIN_AUTH_HEADER: &str = "X-Gateway-Auth";

/// The smallest accepted `ORIGIN_AUTH_SECRET`, in characters.
pub const MIN_ORIGIN_AUTH_SECRET_CHARS: usize = 32;

/// Why an `ORIGIN_AUTH_HEADER` or `ORIGIN_AUTH_SECRET` was refused; `Display` says what a valid
/// one needs (and never shows the secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginAuthError {
    /// A header name that is not an HTTP token.
    #[error("a header name made of HTTP token characters")]
    HeaderName,
    /// A header the gateway, the platform or the identity headers own.
    #[error(
        "a header the gateway does not own (not Authorization, Cookie, Host, Content-Length, a \
         hop-by-hop, client-address, method-override or path-rewrite header, X-Auth-*, or CF-*)"
    )]
    Reserved,
    /// A secret that is too short, or not valid in a header value.
    #[error(
        "a secret of at least {MIN_ORIGIN_AUTH_SECRET_CHARS} visible ASCII characters, without \
         spaces (the value is not shown)"
    )]
    Secret,
}

/// The header the origin checks, and the secret it holds when one is configured.
#[derive(Clone, PartialEq, Eq)]
pub struct OriginAuth {
    header: String,
    secret: Option<String>,
}

impl OriginAuth {
    /// The header `name` (as configured) with an optional `secret`, each checked.
    pub fn new(name: &str, secret: Option<String>) -> Result<OriginAuth, OriginAuthError> {
        let header = Self::header_name(name)?;
        if let Some(secret) = &secret {
            let valid = secret.chars().count() >= MIN_ORIGIN_AUTH_SECRET_CHARS
                && secret.bytes().all(|b| b.is_ascii_graphic());
            if !valid {
                return Err(OriginAuthError::Secret);
            }
        }
        Ok(OriginAuth { header, secret })
    }

    /// `name` if it may carry the secret: an HTTP token that is none of the headers the gateway
    /// strips for another reason, sets itself (`X-Auth-*`), or refuses as a claim header
    /// (credentials, framing, `CF-*`).
    pub fn header_name(name: &str) -> Result<String, OriginAuthError> {
        if !is_token(name) {
            return Err(OriginAuthError::HeaderName);
        }
        if is_reserved_header(name) || stripped(name, &[]) == Some(Stripped::Identity) {
            return Err(OriginAuthError::Reserved);
        }
        Ok(name.to_owned())
    }

    /// The header name, as configured.
    pub fn header(&self) -> &str {
        &self.header
    }

    /// Whether a secret is configured (the header is sent).
    pub fn is_set(&self) -> bool {
        self.secret.is_some()
    }

    /// The header to add to a forwarded request, name lowercase: `None` without a secret.
    pub fn header_to_send(&self) -> Option<(String, String)> {
        self.secret
            .as_ref()
            .map(|secret| (self.header.to_ascii_lowercase(), secret.clone()))
    }
}

impl Default for OriginAuth {
    /// The default header, without a secret.
    fn default() -> Self {
        OriginAuth {
            header: DEFAULT_ORIGIN_AUTH_HEADER.to_owned(),
            secret: None,
        }
    }
}

impl fmt::Debug for OriginAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OriginAuth")
            .field("header", &self.header)
            .field("secret", &self.secret.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "0123456789abcdef0123456789abcdef";

    #[test]
    fn the_default_header_is_accepted_and_carries_nothing_without_a_secret() {
        let auth = OriginAuth::new(DEFAULT_ORIGIN_AUTH_HEADER, None).unwrap();
        assert_eq!(auth, OriginAuth::default());
        assert!(!auth.is_set());
        assert_eq!(auth.header_to_send(), None);
    }

    #[test]
    fn the_secret_is_sent_under_the_lowercase_name() {
        let auth = OriginAuth::new("X-Origin-Token", Some(SECRET.to_owned())).unwrap();
        assert!(auth.is_set());
        assert_eq!(auth.header(), "X-Origin-Token");
        assert_eq!(
            auth.header_to_send(),
            Some(("x-origin-token".to_owned(), SECRET.to_owned()))
        );
    }

    #[test]
    fn headers_the_gateway_or_the_platform_own_are_refused() {
        for name in [
            "Authorization",
            "cookie",
            "Content-Length",
            "Host",
            "Connection",
            "X-Forwarded-For",
            "X_Real_IP",
            "X-HTTP-Method-Override",
            "X-Original-URL",
            "X-Auth-Subject",
            "x_auth_gateway",
            "CF-Connecting-IP",
            "cf_access_token",
        ] {
            assert_eq!(
                OriginAuth::header_name(name),
                Err(OriginAuthError::Reserved),
                "{name}"
            );
        }
        for name in ["", "X Gateway", "X-Gateway:", "Ünïcode"] {
            assert_eq!(
                OriginAuth::header_name(name),
                Err(OriginAuthError::HeaderName),
                "{name:?}"
            );
        }
    }

    #[test]
    fn short_or_unsendable_secrets_are_refused_without_being_shown() {
        for secret in [
            &SECRET[1..],
            "0123456789abcdef 0123456789abcdef",
            "0123456789abcdef\n0123456789abcdef",
            "0123456789abcdefé0123456789abcdef",
        ] {
            let error =
                OriginAuth::new(DEFAULT_ORIGIN_AUTH_HEADER, Some(secret.to_owned())).unwrap_err();
            assert_eq!(error, OriginAuthError::Secret);
            assert!(!error.to_string().contains("0123456789"), "{error}");
        }
    }

    #[test]
    fn debug_never_shows_the_secret() {
        let auth = OriginAuth::new("X-Gateway-Auth", Some(SECRET.to_owned())).unwrap();
        let shown = format!("{auth:?}");
        assert!(!shown.contains(SECRET), "{shown}");
        assert!(shown.contains("<redacted>"), "{shown}");
    }
}
