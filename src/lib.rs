//! edge-jwt: the Cloudflare Workers adapter around [`edge_jwt_core`].
//!
//! This crate holds only what touches the Workers runtime: the `fetch` and `scheduled` event
//! handlers, the KV binding, and (in later stages) outbound fetch, WebCrypto and proxying. Every
//! decision is made by the core crate, which is platform-independent and tested natively.
#![forbid(unsafe_code)]

mod kv;

use edge_jwt_core::heartbeat::ScheduledRun;
use worker::{
    event, Context, Date, Env, Request, Response, Result, ScheduleContext, ScheduledEvent,
};

/// Answers every request. Until the gateway stages land this is a fixed JSON answer that also
/// shows the last scheduled run read back from KV, which proves the cron → KV → request path.
#[event(fetch)]
async fn fetch(_req: Request, env: Env, _ctx: Context) -> Result<Response> {
    let last_run = match kv::last_scheduled_run(&env).await {
        Ok(run) => run,
        Err(err) => {
            worker::console_error!("reading the last scheduled run from KV failed: {err}");
            None
        }
    };
    let mut response = Response::from_json(&serde_json::json!({
        "service": "edge-jwt",
        "version": env!("CARGO_PKG_VERSION"),
        "last_scheduled_run": last_run,
    }))?;
    response.headers_mut().set("cache-control", "no-store")?;
    Ok(response)
}

/// Runs on the cron trigger from `wrangler.toml`; records the run in KV.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let run = ScheduledRun {
        cron: event.cron(),
        scheduled_time_ms: event.schedule() as u64,
        ran_at_ms: Date::now().as_millis(),
    };
    match kv::record_scheduled_run(&env, &run).await {
        Ok(()) => worker::console_log!("scheduled run recorded: {}", run.to_json()),
        Err(err) => worker::console_error!("recording the scheduled run in KV failed: {err}"),
    }
}
