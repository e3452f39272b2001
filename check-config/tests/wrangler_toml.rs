//! The repository's own `wrangler.toml`: users fill in its values, so only what they should not
//! change is held here (its values are checked by `npm run check-config` and the dry-run
//! deploys of `tests/deploy.test.mjs`).

use edge_jwt_check_config::check::check;
use edge_jwt_check_config::wrangler::environment;

const MANIFEST: &str = include_str!("../../wrangler.toml");

#[test]
fn every_variable_named_in_any_environment_is_one_the_gateway_reads_and_no_secret() {
    for name in [None, Some("staging"), Some("production")] {
        let env = environment(MANIFEST, name).unwrap();
        let report = check(&env);
        let misnamed: Vec<&str> = report
            .problems
            .iter()
            .filter(|problem| {
                problem.text.contains("not a variable the gateway reads")
                    || problem
                        .text
                        .contains("a secret, and wrangler.toml is not secret")
            })
            .map(|problem| problem.name.as_str())
            .collect();
        assert_eq!(misnamed, Vec::<&str>::new(), "{name:?}");
    }
}

#[test]
fn each_deployed_environment_has_its_own_kv_binding_and_cron_without_a_placeholder_id() {
    for name in ["staging", "production"] {
        let env = environment(MANIFEST, Some(name)).unwrap();
        let report = check(&env);
        let named: Vec<&str> = report.problems.iter().map(|p| p.name.as_str()).collect();
        assert!(!named.contains(&"JWKS_CACHE"), "{name}: {report:?}");
        assert!(
            !named.contains(&"JWKS_ENABLE_BACKGROUND_REFRESH"),
            "{name}: {report:?}"
        );
        assert!(!env.crons.is_empty(), "{name}");
    }
}
