//! What a stored key set is bound to: the configured JWKS location it was fetched from.
//!
//! A shared-tier record is used only by a cache configured with the same location, so a record
//! written by another configuration (a staging gateway sharing the namespace, or this gateway
//! before its JWKS URL was moved away from a compromised host) is a miss, never trusted. The KV
//! keys are derived from the binding (a readable prefix and a SHA-256, so that any URL fits
//! KV's 512-byte key limit) and the record carries the binding in clear, checked on every read.

use serde::Serialize;
use serde_json::Value;
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

    /// Whether `value` (a stored record's `binding`) is exactly this binding's JSON form: the
    /// object `Serialize` writes, with no other member. Read field by field rather than compared
    /// with a serialised copy, whose map building and serialisation a fresh isolate's first
    /// request would otherwise compile (docs/decisions/0010-cold-start.md).
    pub fn is_stored_as(&self, value: &Value) -> bool {
        match self {
            SourceBinding::JwksUrl(url) => {
                only(value, "jwks_url").and_then(Value::as_str) == Some(url.as_str())
            }
            SourceBinding::Discovery {
                discovery_url,
                issuer,
            } => only(value, "discovery")
                .and_then(Value::as_object)
                .is_some_and(|members| {
                    members.len() == 2
                        && members.get("discovery_url").and_then(Value::as_str)
                            == Some(discovery_url.as_str())
                        && members.get("issuer").and_then(Value::as_str) == Some(issuer.as_str())
                }),
        }
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

/// The value of `name` when `value` is an object with that one member.
fn only<'v>(value: &'v Value, name: &str) -> Option<&'v Value> {
    let object = value.as_object()?;
    if object.len() == 1 {
        object.get(name)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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

    #[test]
    fn a_binding_is_stored_as_its_json_form_and_nothing_else() {
        let url = "https://issuer.example/.well-known/openid-configuration";
        let bindings = [
            direct("https://issuer.example/jwks.json"),
            direct("https://issuer.example/jwks.json?staging"),
            discovery(url, "https://issuer.example"),
            discovery(url, "https://issuer.example/"),
            discovery("https://other.example/", "https://issuer.example"),
        ];
        for binding in &bindings {
            for other in &bindings {
                let stored = serde_json::to_value(other).unwrap();
                assert_eq!(
                    binding.is_stored_as(&stored),
                    binding == other,
                    "{binding:?} {other:?}"
                );
            }
        }
        let refused = [
            json!({ "jwks_url": "https://issuer.example/jwks.json", "extra": 1 }),
            json!({ "jwks_url": ["https://issuer.example/jwks.json"] }),
            json!({ "JWKS_URL": "https://issuer.example/jwks.json" }),
            json!("https://issuer.example/jwks.json"),
            json!(null),
            json!({ "discovery": { "discovery_url": url, "issuer": "https://issuer.example", "x": 1 } }),
            json!({ "discovery": { "discovery_url": url } }),
            json!({ "discovery": { "discovery_url": url, "issuer": null } }),
            json!({ "discovery": [url, "https://issuer.example"] }),
        ];
        for value in &refused {
            assert!(
                bindings.iter().all(|binding| !binding.is_stored_as(value)),
                "{value}"
            );
        }
    }
}
