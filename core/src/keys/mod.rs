//! The tiered key cache: isolate memory, then a shared store (Workers KV), then the JWKS source.
//! Built on [`crate::jws`] only.
//!
//! | module        | concern                                                          |
//! |---------------|------------------------------------------------------------------|
//! | [`binding`]  | the JWKS location a stored set belongs to, and its KV keys       |
//! | [`policy`]   | freshness, staleness and cooldown numbers                        |
//! | [`record`]   | a key set with its metadata, and its stored (KV) form            |
//! | [`tier`]     | the tier trait (the original `IJwksKeyCache`) and the memory tier|
//! | [`resolver`] | lookup order, stale serving, unknown-`kid` refetch, refresh      |
//! | [`stats`]    | per-isolate counters and the status report                       |
//! | [`source`]   | the key-source seam between the cache and the JWKS fetcher       |
//! | [`fetch`]    | the hardened JWKS fetcher: discovery, retries, URL policy        |
//! | [`heartbeat`]| the record the scheduled handler leaves in KV on each run        |
pub mod binding;
pub mod fetch;
pub mod heartbeat;
pub mod policy;
pub mod record;
pub mod resolver;
pub mod source;
pub mod stats;
pub mod tier;
pub mod url;

pub use binding::SourceBinding;
pub use policy::CachePolicy;
pub use record::{CachedKeySet, KeySetMeta};
pub use resolver::{KeyCache, KeyTier, RefreshOutcome, ResolveError};
pub use stats::{CacheStats, KeyCacheStatus, KeySetStatus};
pub use tier::{KeyCacheTier, MemoryTier, TierError};
