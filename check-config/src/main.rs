//! `check-config [--env NAME] [--config PATH]`: checks one environment of `wrangler.toml` with
//! the gateway's own rules and prints every problem, naming its variable. Exit status: 0 when
//! there is none, 1 when there are problems, 2 when the file cannot be read.
#![forbid(unsafe_code)]

use std::process::ExitCode;

use edge_jwt_check_config::check::check;
use edge_jwt_check_config::wrangler::environment;

const USAGE: &str = "usage: npm run check-config -- [--env NAME] [--config PATH]\n\
    Checks the [vars] (and the KV binding and cron trigger) of one environment of wrangler.toml \
    with the rules the Worker applies when it starts. Without --env: the top level.";

/// The command line.
struct Args {
    env: Option<String>,
    config: String,
}

fn args() -> Result<Args, String> {
    let mut parsed = Args {
        env: None,
        config: "wrangler.toml".to_owned(),
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let (flag, inline) = match arg.split_once('=') {
            Some((flag, value)) => (flag.to_owned(), Some(value.to_owned())),
            None => (arg, None),
        };
        let mut value = || {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{flag} needs a value"))
        };
        match flag.as_str() {
            "--env" | "-e" => parsed.env = Some(value()?),
            "--config" | "-c" => parsed.config = value()?,
            "--help" | "-h" => return Err(String::new()),
            _ => return Err(format!("unknown argument {flag:?}")),
        }
    }
    Ok(parsed)
}

fn main() -> ExitCode {
    let args = match args() {
        Ok(args) => args,
        Err(message) if message.is_empty() => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(message) => {
            eprintln!("check-config: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let text = match std::fs::read_to_string(&args.config) {
        Ok(text) => text,
        Err(err) => {
            eprintln!("check-config: cannot read {}: {err}", args.config);
            return ExitCode::from(2);
        }
    };
    let env = match environment(&text, args.env.as_deref()) {
        Ok(env) => env,
        Err(err) => {
            eprintln!("check-config: {}: {err}", args.config);
            return ExitCode::from(2);
        }
    };
    let what = match &env.name {
        Some(name) => format!("environment {name:?} ([env.{name}] of {})", args.config),
        None => format!("the top level of {} (no --env)", args.config),
    };
    println!("check-config: {what}, {} variables set", env.vars.len());
    let report = check(&env);
    for problem in &report.problems {
        println!("  problem: {problem}");
    }
    for note in &report.notes {
        println!("  note: {note}");
    }
    if report.problems.is_empty() {
        println!(
            "check-config: no problem; next: `npx wrangler deploy{} --dry-run`, then without \
             --dry-run",
            env.env_flag()
        );
        ExitCode::SUCCESS
    } else {
        let count = report.problems.len();
        println!(
            "check-config: {count} problem{} in {what}: fix {} before `npx wrangler deploy{}`",
            if count == 1 { "" } else { "s" },
            if count == 1 { "it" } else { "them" },
            env.env_flag()
        );
        ExitCode::from(1)
    }
}
