//! The problems of one environment, each naming its variable or binding, and notes on what
//! cannot be checked from `wrangler.toml` (the secrets) or deserves a second look.

use std::fmt;

use edge_jwt_core::config::{is_secret, variables, CacheKind, Config};

use crate::vars::var_value;
use crate::wrangler::Environment;

/// The KV namespace binding the Worker reads (`JWKS_CACHE_TYPE = "kv"`).
pub const KV_BINDING: &str = "JWKS_CACHE";

/// One problem: what it is about (a variable or a binding) and the whole message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The variable or binding.
    pub name: String,
    /// The message, starting with the name.
    pub text: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// What [`check`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Report {
    /// Everything that stops the Worker, or makes it behave otherwise than configured.
    pub problems: Vec<Problem>,
    /// What was not checked, or could not be.
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, name: &str, text: String) {
        self.problems.push(Problem {
            name: name.to_owned(),
            text: format!("{name}: {text}"),
        });
    }
}

/// Checks `env`: its variable names, then every variable with the gateway's own
/// [`Config::check`] (values typed as wrangler passes them), then the KV binding and the cron
/// trigger the configuration needs.
pub fn check(env: &Environment) -> Report {
    let mut report = Report::default();
    let flag = env.env_flag();
    let known = |name: &str| variables().iter().any(|(known, _, _)| *known == name);
    for name in env.vars.keys() {
        if is_secret(name) {
            report.problem(
                name,
                format!(
                    "a secret, and wrangler.toml is not secret (its [vars] are shown in the \
                     dashboard and in every dry run): remove it and run `npx wrangler secret put \
                     {name}{flag}`"
                ),
            );
        } else if !known(name) {
            report.problem(
                name,
                "not a variable the gateway reads, so the Worker would ignore it (misspelt? \
                 README.md, \"Configuration\", lists every variable)"
                    .to_owned(),
            );
        }
    }

    // The secrets are never read from wrangler.toml, even when one was written there.
    let config = Config::check(|name| {
        (!is_secret(name))
            .then(|| env.vars.get(name).map(var_value))
            .flatten()
    });
    match &config {
        Ok(_) => {}
        Err(problems) => {
            for error in problems.iter() {
                report.problems.push(Problem {
                    name: error.variable.to_owned(),
                    text: error.to_string(),
                });
            }
        }
    }
    let secrets: Vec<&str> = variables()
        .iter()
        .map(|(name, _, _)| *name)
        .filter(|name| is_secret(name))
        .collect();
    report.notes.push(format!(
        "{}: secrets, not in wrangler.toml, so not checked here; set them with `npx wrangler \
         secret put NAME{flag}` (`npx wrangler secret list{flag}` shows which are set) and the \
         Worker checks them when it starts",
        secrets.join(", ")
    ));

    let in_memory = match &config {
        Ok(config) => config.cache_kind == CacheKind::InMemory,
        // The cache type itself may be the invalid variable: the binding is checked unless it
        // clearly asks for memory only.
        Err(_) => env
            .vars
            .get("JWKS_CACHE_TYPE")
            .and_then(toml::Value::as_str)
            .is_some_and(|kind| kind.trim().eq_ignore_ascii_case("in_memory")),
    };
    if !in_memory {
        kv_binding(env, &mut report);
    }
    if let Ok(config) = &config {
        if config.refresh.enabled {
            cron(env, config.refresh.interval_minutes, &mut report);
        }
    }
    report
}

/// The `JWKS_CACHE` binding of an environment whose cache type is `kv`.
fn kv_binding(env: &Environment, report: &mut Report) {
    let section = env.section();
    let Some(binding) = env.kv_namespaces.iter().find(|kv| kv.binding == KV_BINDING) else {
        report.problem(
            KV_BINDING,
            format!(
                "JWKS_CACHE_TYPE is \"kv\" but {section} has no KV namespace bound as \
                 {KV_BINDING} (kv_namespaces are not inherited from the top level): add \
                 `kv_namespaces = [{{ binding = \"{KV_BINDING}\" }}]` to {section}"
            ),
        );
        return;
    };
    match binding.id.as_deref() {
        None => report.notes.push(format!(
            "{KV_BINDING}: no namespace id, so `npx wrangler deploy{}` creates the namespace on \
             the first deploy and keeps using it",
            env.env_flag()
        )),
        Some(id) if !is_namespace_id(id) => report.problem(
            KV_BINDING,
            format!(
                "{id:?} is not a KV namespace id (32 hexadecimal digits, not all zero): remove \
                 `id` to let wrangler create the namespace on the first deploy, or put the id \
                 printed by `npx wrangler kv namespace create {KV_BINDING}{}`",
                env.env_flag()
            ),
        ),
        Some(_) => {}
    }
}

/// Whether `id` looks like a KV namespace id: 32 hexadecimal digits, not the all-zero
/// placeholder.
fn is_namespace_id(id: &str) -> bool {
    id.len() == 32 && id.bytes().all(|b| b.is_ascii_hexdigit()) && id.bytes().any(|b| b != b'0')
}

/// The cron trigger of an environment whose background refresh is on.
fn cron(env: &Environment, interval_minutes: u64, report: &mut Report) {
    if env.crons.is_empty() {
        report.problem(
            "JWKS_ENABLE_BACKGROUND_REFRESH",
            format!(
                "the background refresh is on, but {} has no [triggers] crons, so it never \
                 runs: add `crons = [\"*/{interval_minutes} * * * *\"]`, or set \
                 JWKS_ENABLE_BACKGROUND_REFRESH = false",
                env.section()
            ),
        );
        return;
    }
    let every = if interval_minutes == 1 {
        "* * * * *".to_owned()
    } else {
        format!("*/{interval_minutes} * * * *")
    };
    if !env.crons.iter().any(|cron| cron.trim() == every) {
        report.notes.push(format!(
            "JWKS_REFRESH_INTERVAL_MINUTES is {interval_minutes} but no cron is \"{every}\": \
             check that [triggers] crons ({}) runs about every {interval_minutes} minutes",
            env.crons.join(", ")
        ));
    }
}

#[cfg(test)]
mod tests;
