//! Access to the `JWKS_CACHE` Workers KV namespace.

use edge_jwt_core::heartbeat::{ScheduledRun, LAST_SCHEDULED_RUN_KEY};
use worker::{Env, Result};

/// Name of the KV namespace binding in `wrangler.toml`.
pub(crate) const BINDING: &str = "JWKS_CACHE";

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
