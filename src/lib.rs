//! edge-jwt: the Cloudflare Workers adapter around [`edge_jwt_core`].
//!
//! This crate holds only what touches the Workers runtime: the `fetch` and `scheduled` event
//! handlers, the KV tier, outbound fetch, logging and responses. Every decision is made by the
//! core crate, which is platform-independent and tested natively; signatures are verified by
//! WebCrypto through [`edge_jwt_webcrypto`].
#![forbid(unsafe_code)]

mod gateway;
mod http;
mod kv;
mod logging;
mod proxy;
mod response;

use edge_jwt_core::answer::GatewayError;
use edge_jwt_core::heartbeat::ScheduledRun;
use edge_jwt_core::log::{EventSink, Level};
use serde_json::json;
use worker::{event, Context, Date, Env, Response, Result, ScheduleContext, ScheduledEvent};

/// Every request: the gateway's own endpoints, or verification and forwarding to the origin.
/// It takes the runtime's request as is (`web_sys::Request`): converting it into a
/// `worker::Request` would read the large `request.cf` object on every request.
#[event(fetch)]
async fn fetch(req: web_sys::Request, env: Env, _ctx: Context) -> Result<web_sys::Response> {
    let isolate = gateway::isolate(&env);
    let gateway = match isolate.as_ref() {
        Ok(gateway) => gateway,
        // The variable and the reason are logged once per isolate; the client learns only that
        // the gateway is misconfigured, and nothing is forwarded.
        Err(_) => return response::error(&GatewayError::Misconfigured, "edge-jwt").map(Into::into),
    };
    gateway.attach(&env);
    let realm = &gateway.config.realm;
    let url = match url::Url::parse(&req.url()) {
        Ok(url) => url,
        Err(_) => {
            return response::error(&GatewayError::InvalidRequest("unparsable URL"), realm)
                .map(Into::into)
        }
    };
    let own: Result<Response> = match url.path() {
        "/_gateway/health" => response::json(&json!({ "status": "ok" })),
        "/_gateway/status" => status(gateway, &env, &req).await,
        _ => {
            return match gateway.serve(&req, &url).await {
                Ok(response) => Ok(response),
                Err(error) => response::error(&error, realm).map(Into::into),
            }
        }
    };
    own.map(Into::into)
}

/// `GET /_gateway/status`: the caches' state, for the holder of `STATUS_TOKEN` only (404 for
/// anyone else, and when no token is configured).
async fn status(gateway: &gateway::Gateway, env: &Env, req: &web_sys::Request) -> Result<Response> {
    let header = req.headers().get("authorization").ok().flatten();
    let allowed = gateway
        .config
        .status_token
        .as_ref()
        .is_some_and(|token| header.as_deref() == Some(format!("Bearer {token}").as_str()));
    if !allowed {
        return response::error(&GatewayError::NotFound, &gateway.config.realm);
    }
    let last_run = kv::last_scheduled_run(env).await.ok().flatten();
    response::json(&json!({
        "service": "edge-jwt",
        "version": env!("CARGO_PKG_VERSION"),
        "key_cache": gateway.keys.status(gateway::now()),
        "imported_crypto_keys": gateway.backend.imported_keys(),
        "token_cache": {
            "entries": gateway.tokens.len(),
            "counters": gateway.tokens.stats(),
        },
        "last_scheduled_run": last_run,
    }))
}

/// The cron trigger: refreshes the key set into KV and memory, and records the run.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let run = ScheduledRun {
        cron: event.cron(),
        scheduled_time_ms: event.schedule() as u64,
        ran_at_ms: Date::now().as_millis(),
    };
    if let Ok(gateway) = gateway::isolate(&env).as_ref() {
        gateway.attach(&env);
        if gateway.config.refresh.enabled {
            match gateway.keys.refresh(gateway::now()).await {
                Ok(outcome) => gateway.log.event(
                    Level::Info,
                    "scheduled_refresh",
                    json!({ "outcome": format!("{outcome:?}") }),
                ),
                // The last good set stays; the cache has logged the failure.
                Err(err) => gateway.log.event(
                    Level::Warn,
                    "scheduled_refresh_failed",
                    json!({ "error": err.to_string() }),
                ),
            }
        }
    }
    if let Err(err) = kv::record_scheduled_run(&env, &run).await {
        worker::console_error!("recording the scheduled run in KV failed: {err}");
    }
}
