//! The Workers KV tier (`JWKS_CACHE`): the whole validated key set as one record, shared by every
//! isolate and location, plus the unknown-`kid` refetch marker and the cron heartbeat. Both keys
//! and the record are bound to the configured JWKS location ([`SourceBinding`]): a record written
//! for another location is never read as this gateway's key set.

use std::future::Future;
use std::rc::Rc;
use std::time::Duration;

use edge_jwt_core::keys::fetch::JwksLocation;
use edge_jwt_core::keys::heartbeat::{ScheduledRun, LAST_SCHEDULED_RUN_KEY};
use edge_jwt_core::keys::{CachedKeySet, KeyCacheTier, SourceBinding, TierError};
use futures_util::future::{select, Either};
use worker::kv::KvStore;
use worker::{Delay, Env, Result};

/// Name of the KV namespace binding in `wrangler.toml`.
pub(crate) const BINDING: &str = "JWKS_CACHE";

/// A KV operation that takes longer than this counts as a failure (the request goes on as if
/// KV had missed).
const KV_TIMEOUT: Duration = Duration::from_millis(1_000);

/// KV holds values at least this long (a platform minimum for `expirationTtl`).
const KV_MIN_TTL: u64 = 60;

/// [`KeyCacheTier`] over Workers KV. The binding is taken once, when the isolate's gateway is
/// built: bindings belong to the isolate, and looking one up costs several JS calls.
pub(crate) struct KvTier {
    /// `None` when the Worker has no `JWKS_CACHE` binding: every operation then fails (and is
    /// logged by the cache as a tier error), and requests go on without KV.
    store: Option<KvStore>,
    binding: SourceBinding,
    set_key: String,
    refetch_key: String,
    /// Edge cache time for reads (`cacheTtl`): short enough that a cron refresh reaches every
    /// location within one refresh interval.
    read_cache_ttl: u64,
    max_keys: usize,
}

impl KvTier {
    /// A tier over `store` (the `JWKS_CACHE` binding, if the Worker has one) for the key set
    /// fetched from `location` (the configured JWKS URL, or discovery).
    pub(crate) fn new(
        store: Option<KvStore>,
        location: &JwksLocation,
        refresh_interval_minutes: u64,
        max_keys: usize,
    ) -> Self {
        let binding = SourceBinding::from(location);
        KvTier {
            store,
            set_key: binding.set_key(),
            refetch_key: binding.refetch_key(),
            binding,
            // KV's minimum cacheTtl is 60 s.
            read_cache_ttl: (refresh_interval_minutes * 60 / 2).max(60),
            max_keys,
        }
    }

    fn store(&self) -> std::result::Result<&KvStore, TierError> {
        self.store
            .as_ref()
            .ok_or(TierError::MissingBinding { binding: BINDING })
    }

    /// Writes `value` under `key`, to expire after `ttl_seconds` (at least KV's minimum).
    async fn put(
        &self,
        key: &str,
        value: String,
        ttl_seconds: u64,
    ) -> std::result::Result<(), TierError> {
        let store = self.store()?;
        let put = store
            .put(key, value)
            .map_err(platform)?
            .expiration_ttl(ttl_seconds.max(KV_MIN_TTL));
        within_timeout(put.execute()).await
    }
}

async fn within_timeout<T>(
    operation: impl Future<Output = std::result::Result<T, worker::kv::KvError>>,
) -> std::result::Result<T, TierError> {
    match select(Box::pin(operation), Delay::from(KV_TIMEOUT)).await {
        Either::Left((result, _)) => result.map_err(platform),
        Either::Right(_) => Err(TierError::TimedOut { limit: KV_TIMEOUT }),
    }
}

fn platform(err: worker::kv::KvError) -> TierError {
    TierError::platform(&err.to_string())
}

impl KeyCacheTier for KvTier {
    fn name(&self) -> &'static str {
        "kv"
    }

    async fn get(&self) -> std::result::Result<Option<Rc<CachedKeySet>>, TierError> {
        let store = self.store()?;
        let text = within_timeout(
            store
                .get(&self.set_key)
                .cache_ttl(self.read_cache_ttl)
                .text(),
        )
        .await?;
        Ok(text
            .and_then(|text| CachedKeySet::from_record(&text, &self.binding, self.max_keys))
            .map(Rc::new))
    }

    async fn set(
        &self,
        set: Rc<CachedKeySet>,
        ttl_seconds: u64,
    ) -> std::result::Result<(), TierError> {
        self.put(&self.set_key, set.to_record(&self.binding), ttl_seconds)
            .await
    }

    async fn last_refetch(&self) -> std::result::Result<Option<u64>, TierError> {
        let store = self.store()?;
        let text = within_timeout(store.get(&self.refetch_key).text()).await?;
        Ok(text.and_then(|text| text.trim().parse().ok()))
    }

    async fn record_refetch(
        &self,
        at: u64,
        ttl_seconds: u64,
    ) -> std::result::Result<(), TierError> {
        self.put(&self.refetch_key, at.to_string(), ttl_seconds)
            .await
    }
}

/// The last scheduled run recorded in KV, if any (a corrupt record reads as none).
pub(crate) async fn last_scheduled_run(env: &Env) -> Result<Option<ScheduledRun>> {
    let text = env.kv(BINDING)?.get(LAST_SCHEDULED_RUN_KEY).text().await?;
    Ok(text.as_deref().and_then(ScheduledRun::from_json))
}

/// Stores `run` as the last scheduled run.
pub(crate) async fn record_scheduled_run(env: &Env, run: &ScheduledRun) -> Result<()> {
    env.kv(BINDING)?
        .put(LAST_SCHEDULED_RUN_KEY, run.to_json())?
        .execute()
        .await?;
    Ok(())
}
