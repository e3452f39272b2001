//! What a stored key set is bound to: the configured JWKS location it was fetched from.
//!
//! A shared-tier record is used only by a cache configured with the same location, so a record
//! written by another configuration (a staging gateway sharing the namespace, or this gateway
//! before its JWKS URL was moved away from a compromised host) is a miss, never trusted. The KV
//! keys are derived from the binding (a readable prefix and a SHA-256, so that any URL fits
//! KV's 512-byte key limit) and the record carries the binding in clear, checked on every read.

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::keys::fetch::JwksLocation;

/// Prefix of every KV key of the key cache; the version is that of the record format.
const KEY_PREFIX: &str = "jwks:v2:";

/// The configured JWKS location, as stored in a record:
/// `{"jwks_url":"..."}` or `{"discovery":{"discovery_url":"...","issuer":"..."}}`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SourceBinding {
    /// A configured JWKS URL (`JWT_JWKS_URL`).
    JwksUrl(String),
    /// OIDC discovery: the discovery document's URL and the issuer it must declare.
    Discovery {
        /// The discovery document's URL.
        discovery_url: String,
        /// The issuer the document must declare.
        issuer: String,
    },
}

impl From<&JwksLocation> for SourceBinding {
    fn from(location: &JwksLocation) -> SourceBinding {
        match location {
            JwksLocation::Direct(url) => SourceBinding::JwksUrl(url.clone()),
            JwksLocation::Discovery {
                discovery_url,
                issuer,
            } => SourceBinding::Discovery {
                discovery_url: discovery_url.clone(),
                issuer: issuer.clone(),
            },
        }
    }
}

impl SourceBinding {
    /// The KV key of the key-set record: `jwks:v2:set:<SHA-256 hex of the binding>`.
    pub fn set_key(&self) -> String {
        format!("{KEY_PREFIX}set:{}", self.digest())
    }

    /// The KV key of the unknown-`kid` refetch marker:
    /// `jwks:v2:refetch:<SHA-256 hex of the binding>`.
    pub fn refetch_key(&self) -> String {
        format!("{KEY_PREFIX}refetch:{}", self.digest())
    }

    /// Lowercase hex SHA-256 of the binding's JSON form (unambiguous: URLs are JSON strings).
    fn digest(&self) -> String {
        let json = serde_json::to_string(self).expect("a binding always serializes");
        Sha256::digest(json.as_bytes())
            .iter()
            .map(|byte| format!("{byte:02x}"))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn direct(url: &str) -> SourceBinding {
        SourceBinding::from(&JwksLocation::Direct(url.to_owned()))
    }

    fn discovery(url: &str, issuer: &str) -> SourceBinding {
        SourceBinding::from(&JwksLocation::Discovery {
            discovery_url: url.to_owned(),
            issuer: issuer.to_owned(),
        })
    }

    #[test]
    fn keys_are_a_readable_prefix_and_a_sha256() {
        let binding = direct("https://issuer.example/jwks.json");
        let key = binding.set_key();
        let hex = key.strip_prefix("jwks:v2:set:").unwrap();
        assert_eq!(hex.len(), 64);
        assert!(hex
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
        assert_eq!(binding.refetch_key(), format!("jwks:v2:refetch:{hex}"));
        // SHA-256 of {"jwks_url":"https://issuer.example/jwks.json"} (sha256sum).
        assert_eq!(
            hex,
            "e96bf0718cad12ac20c1ef0f5162a9e6b157ddff1cfe95641ab9016f638fc089"
        );
        // Any URL fits KV's 512-byte limit.
        let long = direct(&format!("https://issuer.example/{}", "a".repeat(10_000)));
        assert_eq!(long.set_key().len(), key.len());
    }

    #[test]
    fn every_location_has_its_own_keys() {
        let bindings = [
            direct("https://issuer.example/jwks.json"),
            direct("https://issuer.example/jwks.json?staging"),
            direct("https://other.example/jwks.json"),
            discovery(
                "https://issuer.example/.well-known/openid-configuration",
                "https://issuer.example",
            ),
            discovery(
                "https://issuer.example/.well-known/openid-configuration",
                "https://issuer.example/",
            ),
        ];
        let mut keys: Vec<String> = bindings.iter().map(SourceBinding::set_key).collect();
        keys.extend(bindings.iter().map(SourceBinding::refetch_key));
        let count = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), count);
    }

    #[test]
    fn the_json_form_is_readable_and_round_trips() {
        let binding = discovery(
            "https://a.example/.well-known/openid-configuration",
            "https://a.example",
        );
        let json = serde_json::to_string(&binding).unwrap();
        assert_eq!(
            json,
            r#"{"discovery":{"discovery_url":"https://a.example/.well-known/openid-configuration","issuer":"https://a.example"}}"#
        );
        assert_eq!(
            serde_json::from_str::<serde_json::Value>(&json).unwrap(),
            serde_json::to_value(&binding).unwrap()
        );
        let json = serde_json::to_string(&direct("https://a.example/k")).unwrap();
        assert_eq!(json, r#"{"jwks_url":"https://a.example/k"}"#);
    }
}
