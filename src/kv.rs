//! The Workers KV tier (`JWKS_CACHE`): the whole validated key set as one record, shared by every
//! isolate and location, plus the unknown-`kid` refetch marker and the cron heartbeat. Both keys
//! and the record are bound to the configured JWKS location ([`SourceBinding`]): a record written
//! for another location is never read as this gateway's key set.

use std::rc::Rc;

use edge_jwt_core::keys::fetch::JwksLocation;
use edge_jwt_core::keys::heartbeat::{ScheduledRun, LAST_SCHEDULED_RUN_KEY};
use edge_jwt_core::keys::{CachedKeySet, KeyCacheTier, SourceBinding, TierError};
use js_sys::Promise;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;
use worker::Env;

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = kvGet)]
    fn kv_get(namespace: &JsValue, key: &str, cache_ttl: f64, timeout_ms: f64) -> Promise;
    #[wasm_bindgen(js_name = kvPut)]
    fn kv_put(
        namespace: &JsValue,
        key: &str,
        value: &str,
        expiration_ttl: f64,
        timeout_ms: f64,
    ) -> Promise;
}

/// Name of the KV namespace binding in `wrangler.toml`.
pub(crate) const BINDING: &str = "JWKS_CACHE";

/// A KV operation that takes longer than this counts as a failure (the request goes on as if
/// KV had missed).
const KV_TIMEOUT_MS: u64 = 1_000;

/// KV holds values at least this long (a platform minimum for `expirationTtl`).
const KV_MIN_TTL: u64 = 60;

/// [`KeyCacheTier`] over Workers KV. The binding is taken once, when the isolate's gateway is
/// built: bindings belong to the isolate, and looking one up costs several JS calls.
pub(crate) struct KvTier {
    /// The namespace; `None` when the Worker has no `JWKS_CACHE` binding: every operation then
    /// fails (and is logged by the cache as a tier error), and requests go on without KV.
    store: Option<JsValue>,
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
        store: Option<JsValue>,
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

    fn store(&self) -> std::result::Result<&JsValue, TierError> {
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
        put(store, key, &value, ttl_seconds.max(KV_MIN_TTL)).await
    }
}

/// The namespace bound as `JWKS_CACHE`, if `env` has one.
pub(crate) fn namespace(env: &Env) -> Option<JsValue> {
    js_sys::Reflect::get(env, &JsValue::from_str(BINDING))
        .ok()
        .filter(JsValue::is_object)
}

/// `key` as text, `None` when absent; `cache_ttl` seconds of edge caching (0: KV's default).
async fn get(
    store: &JsValue,
    key: &str,
    cache_ttl: u64,
) -> std::result::Result<Option<String>, TierError> {
    settled(kv_get(store, key, cache_ttl as f64, timeout_ms()))
        .await
        .map(|text| text.as_string())
}

/// Writes `value` under `key`, to expire after `ttl_seconds`.
async fn put(
    store: &JsValue,
    key: &str,
    value: &str,
    ttl_seconds: u64,
) -> std::result::Result<(), TierError> {
    settled(kv_put(store, key, value, ttl_seconds as f64, timeout_ms()))
        .await
        .map(drop)
}

fn timeout_ms() -> f64 {
    KV_TIMEOUT_MS as f64
}

/// A KV operation's outcome: a rejection is "timeout" or the runtime's message.
async fn settled(operation: Promise) -> std::result::Result<JsValue, TierError> {
    JsFuture::from(operation)
        .await
        .map_err(|failure| match failure.as_string().as_deref() {
            Some("timeout") => TierError::TimedOut {
                limit_ms: KV_TIMEOUT_MS,
            },
            Some(message) => TierError::platform(message),
            None => TierError::platform("KV operation failed"),
        })
}

impl KeyCacheTier for KvTier {
    fn name(&self) -> &'static str {
        "kv"
    }

    async fn get(&self) -> std::result::Result<Option<Rc<CachedKeySet>>, TierError> {
        let text = get(self.store()?, &self.set_key, self.read_cache_ttl).await?;
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
        let text = get(self.store()?, &self.refetch_key, 0).await?;
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
pub(crate) async fn last_scheduled_run(
    env: &Env,
) -> std::result::Result<Option<ScheduledRun>, TierError> {
    let store = namespace(env).ok_or(TierError::MissingBinding { binding: BINDING })?;
    let text = get(&store, LAST_SCHEDULED_RUN_KEY, 0).await?;
    Ok(text.as_deref().and_then(ScheduledRun::from_json))
}

/// Stores `run` as the last scheduled run (without expiry).
pub(crate) async fn record_scheduled_run(
    env: &Env,
    run: &ScheduledRun,
) -> std::result::Result<(), TierError> {
    let store = namespace(env).ok_or(TierError::MissingBinding { binding: BINDING })?;
    put(&store, LAST_SCHEDULED_RUN_KEY, &run.to_json(), 0).await
}
