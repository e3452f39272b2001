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
mod vars;

use edge_jwt_core::answer::GatewayError;
use edge_jwt_core::heartbeat::ScheduledRun;
use edge_jwt_core::log::{EventSink, Level};
use gateway::Plan;
use js_sys::Promise;
use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::{event, Date, Env, Response, Result, ScheduleContext, ScheduledEvent};

/// Every request: the gateway's own endpoints, or verification and forwarding to the origin.
///
/// Exported directly rather than through `#[event(fetch)]`, which runs every request as a
/// futures task: a request that needs no I/O of its own (a token verified before, a public
/// path, a rejection) is decided synchronously here and answered with the runtime's own
/// promise ([`proxy::forward`]). Only the rest (a token seen for the first time, the status
/// endpoint) becomes a task. It takes the runtime's request as is (`web_sys::Request`):
/// converting it into a `worker::Request` would read the large `request.cf` object.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: worker::worker_sys::Context) -> Promise {
    let isolate = gateway::isolate(&env);
    let gateway = match isolate.as_ref() {
        Ok(gateway) => gateway,
        // The variable and the reason are logged once per isolate; the client learns only that
        // the gateway is misconfigured, and nothing is forwarded.
        Err(_) => return answer(&GatewayError::Misconfigured, "edge-jwt"),
    };
    gateway.attach(&env);
    let realm = &gateway.config.realm;
    let url = match url::Url::parse(&req.url()) {
        Ok(url) => url,
        Err(_) => return answer(&GatewayError::InvalidRequest("unparsable URL"), realm),
    };
    match url.path() {
        "/_gateway/health" => ready(response::json(&json!({ "status": "ok" }))),
        "/_gateway/status" => {
            let isolate = isolate.clone();
            future_to_promise(async move {
                let Ok(gateway) = isolate.as_ref() else {
                    return Err(JsValue::from_str("no gateway"));
                };
                response::settled(status(gateway, &env, &req).await)
            })
        }
        _ => match gateway.plan(&req, &url) {
            Ok(Plan::Forward(identity)) => forward(gateway, &req, &url, &identity),
            Err(error) => answer(&error, realm),
            Ok(Plan::Verify(token)) => {
                let isolate = isolate.clone();
                future_to_promise(async move {
                    let Ok(gateway) = isolate.as_ref() else {
                        return Err(JsValue::from_str("no gateway"));
                    };
                    let realm = &gateway.config.realm;
                    match gateway.verify(&req.method(), url.path(), &token).await {
                        Ok(identity) => {
                            JsFuture::from(forward(gateway, &req, &url, &identity)).await
                        }
                        Err(error) => response::settled(response::error(&error, realm)),
                    }
                })
            }
        },
    }
}

/// The origin's response (or the gateway's answer to a request it cannot forward).
fn forward(
    gateway: &gateway::Gateway,
    req: &web_sys::Request,
    url: &url::Url,
    identity: &[(String, String)],
) -> Promise {
    match proxy::forward(req, url, &gateway.config, identity) {
        Ok(promise) => promise,
        Err(error) => answer(&error, &gateway.config.realm),
    }
}

/// The RFC 6750 answer to `error`, as a settled promise.
fn answer(error: &GatewayError, realm: &str) -> Promise {
    ready(response::error(error, realm))
}

/// A response made in Rust, as a settled promise.
fn ready(response: Result<Response>) -> Promise {
    match response::settled(response) {
        Ok(value) => Promise::resolve(&value),
        Err(err) => Promise::reject(&err),
    }
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
