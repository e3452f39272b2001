//! One environment of `wrangler.toml`, as wrangler resolves it for `--env NAME`.
//!
//! `vars` and `kv_namespaces` are not inherited: an environment has only its own (none when it
//! defines none). `triggers` is inherited from the top level when the environment has none.
//! Without a name, the top level is the environment.

use std::collections::BTreeMap;

use serde::Deserialize;

/// A `[[kv_namespaces]]` entry.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct KvNamespace {
    /// The binding name the Worker reads (`JWKS_CACHE`).
    pub binding: String,
    /// The namespace id; none when wrangler provisions the namespace on the first deploy.
    #[serde(default)]
    pub id: Option<String>,
}

/// `[triggers]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
struct Triggers {
    #[serde(default)]
    crons: Vec<String>,
}

/// The keys of a top level or `[env.NAME]` section that matter here.
#[derive(Debug, Default, Deserialize)]
struct Section {
    #[serde(default)]
    vars: BTreeMap<String, toml::Value>,
    #[serde(default)]
    kv_namespaces: Vec<KvNamespace>,
    triggers: Option<Triggers>,
}

/// One environment, resolved.
#[derive(Debug, Clone, PartialEq)]
pub struct Environment {
    /// `--env NAME`, or `None` for the top level.
    pub name: Option<String>,
    /// Its `[vars]`, by name.
    pub vars: BTreeMap<String, toml::Value>,
    /// Its KV namespace bindings.
    pub kv_namespaces: Vec<KvNamespace>,
    /// Its cron triggers (its own, else the top level's).
    pub crons: Vec<String>,
}

impl Environment {
    /// How the environment is named in messages and commands: `--env NAME`, or nothing.
    pub fn env_flag(&self) -> String {
        self.name
            .as_ref()
            .map(|name| format!(" --env {name}"))
            .unwrap_or_default()
    }

    /// The environment's section in `wrangler.toml`: `[env.NAME]`, or the top level.
    pub fn section(&self) -> String {
        match &self.name {
            Some(name) => format!("[env.{name}]"),
            None => "the top level".to_owned(),
        }
    }
}

/// Why `wrangler.toml` could not be read as needed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ManifestError {
    /// Not TOML, or a key of the wrong shape (`vars` not a table, a KV binding without `binding`).
    #[error("wrangler.toml is not valid: {0}")]
    Toml(#[from] toml::de::Error),
    /// `--env NAME` without an `[env.NAME]` section.
    #[error("wrangler.toml has no [env.{name}] (environments: {known})")]
    NoSuchEnvironment {
        /// The name asked for.
        name: String,
        /// The environments defined, comma-separated.
        known: String,
    },
}

/// The environment `name` (`None`: the top level) of the manifest `text`.
pub fn environment(text: &str, name: Option<&str>) -> Result<Environment, ManifestError> {
    let mut table: toml::Table = toml::from_str(text)?;
    let mut environments: toml::Table = match table.remove("env") {
        Some(value) => value.try_into()?,
        None => toml::Table::new(),
    };
    let top: Section = toml::Value::Table(table).try_into()?;
    let Some(name) = name else {
        return Ok(Environment {
            name: None,
            vars: top.vars,
            kv_namespaces: top.kv_namespaces,
            crons: top.triggers.unwrap_or_default().crons,
        });
    };
    let Some(section) = environments.remove(name) else {
        let known: Vec<&str> = environments.keys().map(String::as_str).collect();
        return Err(ManifestError::NoSuchEnvironment {
            name: name.to_owned(),
            known: if known.is_empty() {
                "none".to_owned()
            } else {
                known.join(", ")
            },
        });
    };
    let section: Section = section.try_into()?;
    Ok(Environment {
        name: Some(name.to_owned()),
        vars: section.vars,
        kv_namespaces: section.kv_namespaces,
        crons: section.triggers.or(top.triggers).unwrap_or_default().crons,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MANIFEST: &str = r#"
        name = "edge-jwt"
        [[kv_namespaces]]
        binding = "JWKS_CACHE"
        id = "0123"
        [triggers]
        crons = ["*/5 * * * *"]
        [vars]
        JWT_AUDIENCE = "top"
        [env.staging]
        vars = { JWT_AUDIENCE = "staging" }
        [env.production]
        kv_namespaces = [{ binding = "JWKS_CACHE" }]
        [env.production.vars]
        JWT_AUDIENCE = ["a", "b"]
        JWKS_CACHE_TTL_SECONDS = 300
        [env.production.triggers]
        crons = ["*/2 * * * *"]
    "#;

    #[test]
    fn the_top_level_is_the_environment_without_a_name() {
        let env = environment(MANIFEST, None).unwrap();
        assert_eq!(env.name, None);
        assert_eq!(env.vars["JWT_AUDIENCE"], toml::Value::from("top"));
        assert_eq!(env.kv_namespaces[0].id.as_deref(), Some("0123"));
        assert_eq!(env.crons, ["*/5 * * * *"]);
        assert_eq!(env.env_flag(), "");
    }

    #[test]
    fn vars_and_kv_namespaces_are_not_inherited_but_triggers_are() {
        let staging = environment(MANIFEST, Some("staging")).unwrap();
        assert_eq!(staging.vars.len(), 1);
        assert_eq!(staging.vars["JWT_AUDIENCE"], toml::Value::from("staging"));
        assert!(staging.kv_namespaces.is_empty());
        assert_eq!(staging.crons, ["*/5 * * * *"]);
        assert_eq!(staging.section(), "[env.staging]");

        let production = environment(MANIFEST, Some("production")).unwrap();
        assert_eq!(
            production.vars["JWKS_CACHE_TTL_SECONDS"],
            toml::Value::from(300)
        );
        assert_eq!(
            production.kv_namespaces,
            [KvNamespace {
                binding: "JWKS_CACHE".to_owned(),
                id: None
            }]
        );
        assert_eq!(production.crons, ["*/2 * * * *"]);
        assert_eq!(production.env_flag(), " --env production");
    }

    #[test]
    fn an_unknown_environment_names_the_known_ones() {
        let error = environment(MANIFEST, Some("prod")).unwrap_err();
        assert_eq!(
            error.to_string(),
            "wrangler.toml has no [env.prod] (environments: production, staging)"
        );
        let error = environment("name = \"x\"", Some("prod")).unwrap_err();
        assert!(
            error.to_string().ends_with("(environments: none)"),
            "{error}"
        );
    }

    #[test]
    fn malformed_manifests_are_errors() {
        for text in [
            "name = ",
            "vars = 1",
            "[[kv_namespaces]]\nid = \"x\"",
            "[env.production]\nvars = \"x\"",
        ] {
            let error = environment(text, Some("production"))
                .and_then(|_| environment(text, None))
                .unwrap_err();
            assert!(matches!(error, ManifestError::Toml(_)), "{text}: {error}");
        }
    }
}
