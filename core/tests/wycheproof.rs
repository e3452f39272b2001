//! Wycheproof signature-verification vectors, run through exactly what the gateway does with a
//! token signature: `signature::check_form`, then the native backend.
//!
//! A vector is *accepted* when both pass. `valid` vectors must be accepted, `invalid` ones must
//! not; `acceptable` ones may go either way and are counted. Test groups whose key or parameters
//! are outside the gateway's policy are skipped and counted, and every family asserts a minimum
//! number of vectors so that it cannot pass by running none.
//!
//! The selection itself lives in `support/wycheproof_cases.rs`, shared with the exporter that
//! feeds the same vectors to the WebCrypto backend in workerd
//! (`tests/webcrypto-differential.test.mjs`).
#![cfg(feature = "native")]

use std::fmt;

// Shared with the exporter, which uses parts of it this test does not.
#[allow(dead_code)]
#[path = "support/wycheproof_cases.rs"]
mod wycheproof_cases;

use edge_jwt_core::jws::alg::Algorithm;
use edge_jwt_core::jws::backend::SignatureBackend;
use edge_jwt_core::jws::key::PublicKey;
use edge_jwt_core::jws::native::NativeBackend;
use edge_jwt_core::jws::signature;
use wycheproof_cases::{cases, Case, Expected, Family, Skipped};

fn accepts(alg: Algorithm, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    signature::check_form(alg, key, sig).is_ok()
        && pollster::block_on(NativeBackend.verify(alg, key, message, sig)) == Ok(true)
}

/// Outcome counts for one family.
#[derive(Default)]
struct Tally {
    family: &'static str,
    valid: usize,
    invalid: usize,
    acceptable_accepted: usize,
    acceptable_rejected: usize,
    /// Vectors whose parameters differ from the JWS algorithm's (another salt length): all
    /// must be rejected, whatever Wycheproof says about them under their own parameters.
    foreign_rejected: usize,
    /// Of `valid`: vectors of a foreign-salt set re-signed with the JWS salt length.
    resigned: usize,
    skipped_groups: usize,
    skipped_vectors: usize,
    mismatches: Vec<String>,
}

impl Tally {
    fn ran(&self) -> usize {
        self.valid
            + self.invalid
            + self.acceptable_accepted
            + self.acceptable_rejected
            + self.foreign_rejected
    }

    fn check(&mut self, case: &Case) {
        let key = PublicKey::from_material(case.key.clone());
        let accepted = accepts(case.alg, &key, &case.msg, &case.sig);
        let ok = match case.expected {
            Expected::Valid => {
                self.valid += 1;
                if case.resigned {
                    self.resigned += 1;
                }
                accepted
            }
            Expected::Invalid => {
                self.invalid += 1;
                !accepted
            }
            Expected::Acceptable => {
                if accepted {
                    self.acceptable_accepted += 1;
                } else {
                    self.acceptable_rejected += 1;
                }
                true
            }
            // A vector signed with parameters `alg` does not allow: it must be rejected.
            Expected::MustReject => {
                if accepted {
                    self.mismatches.push(format!(
                        "{}: signed with foreign parameters, accepted as {}",
                        case.id, case.alg
                    ));
                } else {
                    self.foreign_rejected += 1;
                }
                return;
            }
        };
        if !ok {
            self.mismatches.push(format!(
                "{} ({}): expected {:?}, accepted = {accepted}",
                case.id, case.comment, case.expected
            ));
        }
    }

    /// Prints the counts, then asserts no mismatch and at least `min_run` vectors run.
    fn finish(self, min_run: usize) {
        println!("{self}");
        assert!(
            self.mismatches.is_empty(),
            "{}: {} mismatches:\n{}",
            self.family,
            self.mismatches.len(),
            self.mismatches.join("\n")
        );
        assert!(
            self.ran() >= min_run,
            "{}: only {} vectors ran, expected at least {min_run}",
            self.family,
            self.ran()
        );
        assert!(
            self.valid > 0 && self.invalid > 0,
            "{}: needs valid and invalid vectors",
            self.family
        );
    }
}

impl fmt::Display for Tally {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: ran {} (valid {}, invalid {}, acceptable accepted {} / rejected {}, \
             foreign parameters rejected {}, foreign set re-signed with JWS salt {}); \
             skipped {} groups, {} vectors in all; mismatches {}",
            self.family,
            self.ran(),
            self.valid,
            self.invalid,
            self.acceptable_accepted,
            self.acceptable_rejected,
            self.foreign_rejected,
            self.resigned,
            self.skipped_groups,
            self.skipped_vectors,
            self.mismatches.len()
        )
    }
}

/// Runs every selected vector of `family` natively, then asserts as [`Tally::finish`] does.
fn run(family: Family, title: &'static str, min_run: usize) {
    let (cases, Skipped { groups, vectors }) = cases(family);
    let mut tally = Tally {
        family: title,
        skipped_groups: groups,
        skipped_vectors: vectors,
        ..Tally::default()
    };
    for case in &cases {
        assert_eq!(case.family, family.name(), "{}", case.id);
        tally.check(case);
    }
    tally.finish(min_run);
}

#[test]
fn ecdsa_p1363() {
    run(
        Family::Ecdsa,
        "ECDSA P-256/SHA-256 + P-384/SHA-384 (P1363 r||s)",
        500,
    );
}

#[test]
fn rsa_pkcs1v15() {
    run(
        Family::RsaPkcs1,
        "RSASSA-PKCS1-v1_5 (RS256/384/512, 2048-4096 bits)",
        2000,
    );
}

#[test]
fn rsa_pss() {
    run(
        Family::RsaPss,
        "RSASSA-PSS (PS256/384/512, MGF1 = hash, salt = hash length)",
        900,
    );
}

#[test]
fn ed25519() {
    run(Family::Ed25519, "Ed25519 (EdDSA)", 140);
}

#[test]
fn case_ids_are_unique() {
    let mut seen = std::collections::HashSet::new();
    for family in Family::ALL {
        for case in cases(family).0 {
            assert!(
                seen.insert(case.id.clone()),
                "duplicate case id {}",
                case.id
            );
        }
    }
}
