//! The trusted issuers inside the gateway: each with its own verifier (issuer, audiences,
//! algorithms), key cache (memory, KV record, unknown-`kid` cooldown, refresh) and identity
//! headers; and how a token chooses its provider.
//!
//! A token's `iss` chooses, before any key is looked up: an unknown `iss` is refused without
//! any fetch, and the chosen provider alone then checks the signature and every claim (its own
//! `iss` check included). Reading `iss` from a token whose signature is not yet checked only
//! decides who checks it; nothing else in it is used until that provider has verified it. So a
//! key of one provider never verifies a token of another, whatever the token's `kid`.

use crate::gateway::identity::ClaimHeader;
use crate::gateway::path::CanonicalPath;
use crate::gateway::routing::{required_scopes, RouteScope};
use crate::jws::error::Rejection;
use crate::jws::token::UntrustedToken;
use crate::jws::verify::Verifier;
use crate::keys::KeyCache;
use crate::log::{EventSink, Level};

use std::rc::Rc;

/// One trusted issuer.
pub struct Provider<S, T, L> {
    /// What `ROUTE_ISSUERS`, logs, metrics and the status endpoint call it.
    pub name: String,
    /// Its verification policy (issuer, audiences, algorithms and the shared `JWT_*` rules).
    pub verifier: Verifier,
    /// Its key cache, whose events name the provider.
    pub keys: KeyCache<S, T, ProviderLog<L>>,
    /// The extra identity headers made from its tokens.
    pub claim_headers: Vec<ClaimHeader>,
}

impl<S, T, L> Provider<S, T, L> {
    /// The issuer (`iss`) of its tokens.
    pub fn issuer(&self) -> &str {
        &self.verifier.policy().claims.issuer
    }
}

/// A provider's event sink: the gateway's, with the provider's name added to every event (a
/// key set refreshed, a fetch failed), so that an operator of several providers knows which.
#[derive(Debug, Clone)]
pub struct ProviderLog<L> {
    inner: L,
    provider: Rc<str>,
}

impl<L> ProviderLog<L> {
    /// `inner`'s events, each with `"provider": name`.
    pub fn new(inner: L, name: &str) -> Self {
        ProviderLog {
            inner,
            provider: Rc::from(name),
        }
    }
}

impl<L: EventSink> EventSink for ProviderLog<L> {
    fn event(&self, level: Level, event: &'static str, mut fields: serde_json::Value) {
        if let serde_json::Value::Object(fields) = &mut fields {
            fields.insert("provider".to_owned(), self.provider.as_ref().into());
        }
        self.inner.event(level, event, fields);
    }

    fn enabled(&self, level: Level) -> bool {
        self.inner.enabled(level)
    }
}

/// The index of the provider among `providers` whose issuer is `token`'s `iss`. With one
/// provider the token is not read here (that provider's verification checks `iss`); with
/// several, a token without a string `iss`, or with one no provider has, is refused.
pub fn select<S, T, L>(
    providers: &[Provider<S, T, L>],
    token: &str,
    max_token_bytes: usize,
) -> Result<usize, Rejection> {
    if providers.len() == 1 {
        return Ok(0);
    }
    let claims = UntrustedToken::parse(token, max_token_bytes)?.claims()?;
    match claims.get("iss") {
        None => Err(Rejection::MissingClaim {
            name: "iss".to_owned(),
        }),
        Some(serde_json::Value::String(iss)) => providers
            .iter()
            .position(|provider| provider.issuer() == iss)
            .ok_or(Rejection::InvalidIssuer),
        Some(_) => Err(Rejection::InvalidClaim {
            name: "iss".to_owned(),
            reason: "not a string",
        }),
    }
}

/// Whether the route (`method` on `path`) accepts tokens of the provider called `name` under
/// `rules` (`ROUTE_ISSUERS`, matched like `ROUTE_SCOPES`): yes when no rule applies.
pub fn accepts(method: &str, path: &CanonicalPath, rules: &[RouteScope], name: &str) -> bool {
    required_scopes(method, path, rules).is_none_or(|names| names.iter().any(|n| n == name))
}
