//! The `check-config` binary as `npm run check-config` runs it: output and exit status.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_check-config"))
        .args(args)
        .current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"))
        .output()
        .expect("check-config runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// The problems printed, each without its `  problem: ` prefix.
fn problems(text: &str) -> Vec<&str> {
    text.lines()
        .filter_map(|line| line.strip_prefix("  problem: "))
        .collect()
}

#[test]
fn a_valid_environment_exits_zero_and_notes_the_secrets() {
    let output = run(&["--env", "production", "--config", "valid.toml"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");
    assert!(text.contains("environment \"production\""), "{text}");
    assert!(!text.contains("problem:"), "{text}");
    assert!(
        text.contains("note: STATUS_TOKEN, ORIGIN_AUTH_SECRET: secrets, not in wrangler.toml"),
        "{text}"
    );
    assert!(
        text.contains("npx wrangler secret put NAME --env production"),
        "{text}"
    );
}

#[test]
fn every_problem_is_printed_with_its_name_and_the_exit_status_is_one() {
    let output = run(&["--env=production", "--config=invalid.toml"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let problems = problems(&text);
    let names: Vec<&str> = problems
        .iter()
        .map(|problem| problem.split(':').next().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "JWT_AUDIENCES",
            "STATUS_TOKEN",
            "JWT_AUTHORITY",
            "JWT_AUDIENCE",
            "JWT_CLOCK_SKEW_SECONDS",
            "CLAIM_HEADERS",
            "JWKS_CACHE",
        ],
        "{text}"
    );
    assert!(text.contains("check-config: 7 problems"), "{text}");
    assert!(!text.contains("do-not-put-secrets-here"), "{text}");
}

#[test]
fn an_unknown_environment_or_file_exits_two() {
    for args in [
        &["--env", "prod", "--config", "valid.toml"][..],
        &["--config", "missing.toml"],
        &["--env"],
        &["--frobnicate"],
    ] {
        let output = run(args);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            String::from_utf8_lossy(&output.stderr).starts_with("check-config: "),
            "{args:?}"
        );
    }
    let output = run(&["--env", "prod", "--config", "valid.toml"]);
    assert!(String::from_utf8_lossy(&output.stderr).contains("environments: production"));
}

#[test]
fn several_issuers_in_toml_are_checked_like_the_worker_reads_them() {
    let output = run(&["--env", "staging", "--config", "issuers.toml"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(0), "{text}");

    let output = run(&["--env", "production", "--config", "issuers.toml"]);
    let text = stdout(&output);
    assert_eq!(output.status.code(), Some(1), "{text}");
    let problems = problems(&text);
    assert_eq!(problems.len(), 2, "{text}");
    assert!(
        problems[0].starts_with("JWT_AUTHORITY: expected no value: JWT_ISSUERS is set"),
        "{text}"
    );
    assert!(
        problems[1].starts_with("JWT_ISSUERS: expected only the fields"),
        "{text}"
    );
    assert!(
        problems[1].contains(r#"unknown field "audiences""#),
        "{text}"
    );
}
