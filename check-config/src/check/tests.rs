use super::*;
use crate::wrangler::environment;

const VALID: &str = r#"
    [env.production]
    kv_namespaces = [{ binding = "JWKS_CACHE" }]
    triggers = { crons = ["*/5 * * * *"] }
    [env.production.vars]
    JWT_AUTHORITY = "https://login.example.com/"
    JWT_AUDIENCE = ["orders-api", "billing"]
    ORIGIN_URL = "https://orders.internal.example.com"
    JWT_CLOCK_SKEW_SECONDS = 30
    FORWARD_PREFLIGHT = false
    ROUTE_SCOPES = ["POST /orders=orders:write", "GET /orders=orders:read"]
"#;

fn report(manifest: &str) -> Report {
    check(&environment(manifest, Some("production")).unwrap())
}

fn named(report: &Report) -> Vec<&str> {
    report
        .problems
        .iter()
        .map(|problem| problem.name.as_str())
        .collect()
}

/// `VALID` with `line` added to `[env.production.vars]`.
fn with_var(line: &str) -> Report {
    report(&format!("{VALID}{line}\n"))
}

#[test]
fn a_valid_environment_has_no_problem_and_a_note_on_the_secrets() {
    let found = report(VALID);
    assert_eq!(found.problems, []);
    assert!(found.notes[0].starts_with("STATUS_TOKEN, ORIGIN_AUTH_SECRET: secrets"));
    assert!(found.notes[0].contains("npx wrangler secret put NAME --env production"));
    // The binding without an id is provisioned by wrangler.
    assert!(found.notes[1].starts_with("JWKS_CACHE: no namespace id"));
}

#[test]
fn every_invalid_variable_is_reported_with_its_name_in_order() {
    let found = report(
        r#"
        [env.production]
        kv_namespaces = [{ binding = "JWKS_CACHE" }]
        triggers = { crons = ["*/5 * * * *"] }
        [env.production.vars]
        JWT_AUDIENCE = ""
        JWT_CLOCK_SKEW_SECONDS = 1.5
        ROUTE_SCOPES = [1]
        LOG_LEVEL = "loud"
        "#,
    );
    assert_eq!(
        named(&found),
        [
            "JWT_AUTHORITY",
            "JWT_AUDIENCE",
            "JWT_CLOCK_SKEW_SECONDS",
            "ORIGIN_URL",
            "ROUTE_SCOPES",
            "LOG_LEVEL"
        ]
    );
    let texts: Vec<String> = found.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(
        texts[2],
        "JWT_CLOCK_SKEW_SECONDS: expected a whole number of seconds from 0 to 600, found a \
         number (1.5)"
    );
    assert!(
        texts[4].ends_with("found a number (1) at index 0 of the array"),
        "{}",
        texts[4]
    );
    for (problem, text) in found.problems.iter().zip(&texts) {
        assert!(text.starts_with(&format!("{}: ", problem.name)), "{text}");
    }
}

#[test]
fn unknown_names_and_secrets_in_vars_are_problems_and_secrets_are_never_shown() {
    let secret = "status-token-that-leaked-0123456789";
    let found = with_var(&format!(
        "JWT_AUDIENCES = \"typo\"\nSTATUS_TOKEN = \"{secret}\"\nORIGIN_AUTH_SECRET = \"short\""
    ));
    assert_eq!(
        named(&found),
        ["JWT_AUDIENCES", "ORIGIN_AUTH_SECRET", "STATUS_TOKEN"]
    );
    assert!(found.problems[0]
        .text
        .contains("not a variable the gateway reads"));
    assert!(found.problems[2]
        .text
        .contains("npx wrangler secret put STATUS_TOKEN --env production"));
    let everything = format!("{found:?}");
    assert!(!everything.contains(secret), "{everything}");
    assert!(!everything.contains("\"short\""), "{everything}");
}

#[test]
fn a_kv_cache_needs_the_binding_in_the_environment_itself() {
    let without = VALID.replace("kv_namespaces = [{ binding = \"JWKS_CACHE\" }]\n", "");
    // Bound at the top level only: not inherited.
    let inherited = format!("kv_namespaces = [{{ binding = \"JWKS_CACHE\" }}]\n{without}");
    for manifest in [without.clone(), inherited] {
        let found = report(&manifest);
        assert_eq!(named(&found), ["JWKS_CACHE"]);
        assert!(found.problems[0].text.contains("not inherited"));
    }
    // Memory only needs no namespace.
    assert_eq!(
        report(&format!("{without}JWKS_CACHE_TYPE = \"in_memory\"\n")).problems,
        []
    );
    // Even when another variable is invalid.
    let found = report(&format!(
        "{without}JWKS_CACHE_TYPE = \"IN_MEMORY\"\nLOG_LEVEL = \"loud\"\n"
    ));
    assert_eq!(named(&found), ["LOG_LEVEL"]);
}

#[test]
fn a_placeholder_namespace_id_is_a_problem() {
    for (id, fine) in [
        ("00000000000000000000000000000000", false),
        ("<your-namespace-id>", false),
        ("0123456789abcdef0123456789ABCDE", false),
        ("0123456789abcdef0123456789abcdef", true),
    ] {
        let manifest = VALID.replace(
            "{ binding = \"JWKS_CACHE\" }",
            &format!("{{ binding = \"JWKS_CACHE\", id = \"{id}\" }}"),
        );
        let found = report(&manifest);
        assert_eq!(found.problems.is_empty(), fine, "{id}: {found:?}");
        if !fine {
            assert!(found.problems[0].text.contains("not a KV namespace id"));
        }
    }
}

#[test]
fn the_background_refresh_needs_a_cron_trigger() {
    let without = VALID.replace("triggers = { crons = [\"*/5 * * * *\"] }\n", "");
    let found = report(&without);
    assert_eq!(named(&found), ["JWKS_ENABLE_BACKGROUND_REFRESH"]);
    assert!(found.problems[0].text.contains("*/5 * * * *"));
    assert_eq!(
        report(&format!(
            "{without}JWKS_ENABLE_BACKGROUND_REFRESH = false\n"
        ))
        .problems,
        []
    );
    // A cron at another interval is worth a look, not a problem.
    let found = with_var("JWKS_REFRESH_INTERVAL_MINUTES = 10");
    assert_eq!(found.problems, []);
    assert!(found
        .notes
        .iter()
        .any(|note| note.starts_with("JWKS_REFRESH_INTERVAL_MINUTES is 10")));
}
