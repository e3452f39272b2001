//! A key set as the cache holds it: the validated keys plus where and when they came from. One
//! record holds the whole set, so one KV read serves every `kid` and a key removed upstream
//! disappears everywhere when the set is replaced. The record names the configured JWKS
//! location it belongs to ([`SourceBinding`]); read under another binding it is a miss.

use serde::Serialize;
use serde_json::{Map, Value};

use super::binding::SourceBinding;
use crate::jws::json::parse_object;
use crate::jws::jwk::KeySet;
use crate::jws::key::PublicKey;

/// Version of the stored record format; a record of another version reads as absent.
/// Version 2 added the source binding.
const RECORD_VERSION: u32 = 2;

/// Where and when a key set was fetched.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeySetMeta {
    /// When the content was last fetched with a change (seconds since the epoch).
    pub fetched_at: u64,
    /// When the content was last confirmed current (a fetch or a `304`).
    pub checked_at: u64,
    /// Seconds the set is fresh after `checked_at` (`max-age` clamped, or the configured TTL).
    pub ttl: u64,
    /// The JWKS URL it came from.
    pub source: String,
    /// The response's `ETag`, for revalidation.
    pub etag: Option<String>,
    /// Increases by one each time the content changes.
    pub generation: u64,
}

/// A validated key set with its metadata.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedKeySet {
    /// The keys.
    pub keys: KeySet,
    /// Where and when they came from.
    pub meta: KeySetMeta,
}

#[derive(Serialize)]
struct Record {
    version: u32,
    binding: SourceBinding,
    meta: KeySetMeta,
    jwks: Value,
}

impl KeySetMeta {
    /// The metadata of a stored record: exactly its fields, each of its type.
    fn from_value(value: &Value) -> Option<KeySetMeta> {
        let meta = fields(
            value,
            &[
                "fetched_at",
                "checked_at",
                "ttl",
                "source",
                "etag",
                "generation",
            ],
        )?;
        let number = |name: &str| meta.get(name).and_then(Value::as_u64);
        Some(KeySetMeta {
            fetched_at: number("fetched_at")?,
            checked_at: number("checked_at")?,
            ttl: number("ttl")?,
            source: meta.get("source")?.as_str()?.to_owned(),
            etag: match meta.get("etag") {
                None | Some(Value::Null) => None,
                Some(Value::String(etag)) => Some(etag.clone()),
                Some(_) => return None,
            },
            generation: number("generation")?,
        })
    }
}

/// `value`'s members when it is an object whose member names are all among `names` (a stored
/// record is read strictly: anything else is not ours).
pub(crate) fn fields<'v>(value: &'v Value, names: &[&str]) -> Option<&'v Map<String, Value>> {
    let object = value.as_object()?;
    object
        .keys()
        .all(|name| names.contains(&name.as_str()))
        .then_some(object)
}

impl CachedKeySet {
    /// Whether the set is fresh at `now`.
    pub fn is_fresh(&self, now: u64) -> bool {
        now < self.fresh_until()
    }

    /// The end of freshness (seconds since the epoch).
    pub fn fresh_until(&self) -> u64 {
        self.meta.checked_at.saturating_add(self.meta.ttl)
    }

    /// Seconds since the content was fetched.
    pub fn age(&self, now: u64) -> u64 {
        now.saturating_sub(self.meta.fetched_at)
    }

    /// Whether `self` is more recent information than `other`.
    pub fn is_newer_than(&self, other: &CachedKeySet) -> bool {
        (self.meta.generation, self.meta.checked_at)
            > (other.meta.generation, other.meta.checked_at)
    }

    /// The stored form (JSON text) of a set fetched from the location `binding` names. An empty
    /// set is stored as such: it revokes every key.
    pub fn to_record(&self, binding: &SourceBinding) -> String {
        let jwks: Value = serde_json::from_str(&self.keys.to_jwks_json())
            .expect("KeySet::to_jwks_json writes JSON");
        serde_json::to_string(&Record {
            version: RECORD_VERSION,
            binding: binding.clone(),
            meta: self.meta.clone(),
            jwks,
        })
        .expect("a record always serializes")
    }

    /// Reads a stored record, which must be bound to `binding`; every key is validated again,
    /// and must pass. `None` for anything else, so a corrupt record, one of another version or
    /// one from another JWKS location is a miss, never an error that fails requests nor a set
    /// that is trusted.
    pub fn from_record(
        text: &str,
        binding: &SourceBinding,
        max_keys: usize,
    ) -> Option<CachedKeySet> {
        // Read field by field from a JSON value rather than with a derived `Deserialize`, whose
        // error paths would bring serde's type descriptions and a float formatter into the
        // Worker (ADR 0006): exactly the fields written, each of its type, or a miss. Parsed as
        // strictly as a token (a member named twice is a corrupt record), and by the same code,
        // which a fresh isolate has compiled for the token before it reads the record (ADR 0010).
        let record = Value::Object(parse_object(text.as_bytes()).ok()?);
        let record = fields(&record, &["version", "binding", "meta", "jwks"])?;
        let version = record.get("version")?.as_u64()?;
        if version != u64::from(RECORD_VERSION) || !binding.is_stored_as(record.get("binding")?) {
            return None;
        }
        let meta = KeySetMeta::from_value(record.get("meta")?)?;
        let keys = KeySet::from_jwks_value(record.get("jwks")?, max_keys).ok()?;
        // Only validated keys are stored: a key that fails now means a corrupt record, or one
        // written under other rules. Never read it as a smaller (or empty) set.
        if !keys.skipped().is_empty() {
            return None;
        }
        Some(CachedKeySet { keys, meta })
    }

    /// Whether two sets hold the same keys (by thumbprint, `kid` and `alg`), ignoring metadata.
    ///
    /// Compared as multisets, each key counted in both: sets are small (at most the fetcher's
    /// `max_keys`) and this runs once per fetch, so no sort (and no sort code in the Worker).
    pub fn same_keys(&self, other: &KeySet) -> bool {
        let same = |a: &PublicKey, b: &PublicKey| {
            a.thumbprint == b.thumbprint && a.kid == b.kid && a.alg == b.alg
        };
        let (mine, theirs) = (self.keys.keys(), other.keys());
        let count =
            |set: &[PublicKey], key: &PublicKey| set.iter().filter(|k| same(k, key)).count();
        mine.len() == theirs.len()
            && mine
                .iter()
                .all(|key| count(mine, key) == count(theirs, key))
    }
}
