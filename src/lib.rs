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
mod metrics;
mod proxy;
mod response;
mod urls;
mod vars;

use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::gateway::metrics::{CacheUse, RequestOutcome};
use edge_jwt_core::gateway::pipeline::{Decision, Forward, Pending, Progress, SignatureCheck};
use edge_jwt_core::jws::backend::SignatureBackend;
use edge_jwt_core::keys::heartbeat::ScheduledRun;
use edge_jwt_core::log::{EventSink, Level};
use edge_jwt_webcrypto::WebCryptoBackend;
use gateway::{now, Isolate, SharedIsolate, WorkerRequest};
use js_sys::Promise;
use serde_json::json;
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::{future_to_promise, JsFuture};
use worker::{event, Date, Env, ScheduleContext, ScheduledEvent};

/// The Worker's allocator: Talc instead of the standard library's dlmalloc (single-threaded
/// wasm, memory grown on demand). V8 compiles each wasm function on its first call, and every
/// fresh isolate's first request calls the allocator (docs/decisions/0010-cold-start.md).
#[cfg(all(target_family = "wasm", not(target_feature = "atomics")))]
#[global_allocator]
static ALLOCATOR: talc::wasm::WasmDynamicTalc = talc::wasm::new_wasm_dynamic_allocator();

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = startupEnv)]
    fn startup_env() -> JsValue;
    /// `callback(true, value)` or `callback(false, reason)` once `promise` settles.
    #[wasm_bindgen(js_name = whenSettled)]
    fn when_settled(promise: &Promise, callback: &js_sys::Function) -> Promise;
}

/// When the runtime loads the Worker: the isolate's gateway is built (its configuration read and
/// checked) before the first request, from the bindings the runtime offers at load. The runtime
/// may load a Worker while the first request's connection is still being set up, so that
/// request does not wait for it. Without bindings at load, the first request builds it.
#[event(start)]
fn start() {
    let env = startup_env();
    if env.is_object() {
        gateway::isolate(&env.unchecked_into());
    }
}

/// Every request: the gateway's own endpoints, or verification and forwarding to the origin.
///
/// Exported directly rather than through `#[event(fetch)]`, which runs every request as a
/// futures task: what the core pipeline decides without I/O (a token verified before, a public
/// path, a rejection) is answered here with the runtime's own promise ([`proxy::forward`]). Only
/// the rest (a token that needs the key cache, the status endpoint) becomes a task. It takes the
/// runtime's request as is (`web_sys::Request`): converting it into a `worker::Request` would
/// read the large `request.cf` object.
#[wasm_bindgen]
pub fn fetch(req: web_sys::Request, env: Env, _ctx: worker::worker_sys::Context) -> Promise {
    let isolate = gateway::isolate(&env);
    let gateway = match isolate.as_ref() {
        Ok(gateway) => gateway,
        // The variable and the reason are logged once per isolate; the client learns only that
        // the gateway is misconfigured, and nothing is forwarded.
        Err(_) => return answer(&GatewayError::Misconfigured, "edge-jwt", None),
    };
    gateway::key_token_cache(gateway);
    let realm = &gateway.config.realm;
    let Some(request) = WorkerRequest::new(req) else {
        let metadata = response::metadata_url(&gateway.config, None);
        return answer(
            &GatewayError::InvalidRequest("unparsable URL"),
            realm,
            metadata,
        );
    };
    // When the request arrived: the pipeline's clock, and the start of the metrics' latency.
    let start_ms = js_sys::Date::now();
    let now_s = (start_ms / 1000.0) as u64;
    match gateway.core.decide(&request, now_s) {
        Decision::Health => health(gateway, &request, start_ms),
        Decision::ResourceMetadata => resource_metadata(gateway, &request, start_ms),
        Decision::Forward(target) => {
            let outcome = RequestOutcome::Forwarded(target.cache);
            let response = forward(gateway, &request, &target);
            measured(gateway, &request, start_ms, &outcome, response)
        }
        Decision::Reject(error) => {
            let outcome = RequestOutcome::Rejected(&error, CacheUse::default());
            let metadata = response::metadata_url(&gateway.config, Some(&request));
            let response = answer(&error, realm, metadata);
            measured(gateway, &request, start_ms, &outcome, response)
        }
        Decision::Status => status_task(&isolate, env, request, start_ms),
        Decision::Verify(pending) => match gateway.core.verify_now(&pending, now_s) {
            Progress::Done(result) => settle(gateway, &request, start_ms, &pending, result),
            Progress::Signature(check) => {
                check_signature(&isolate, gateway, request, start_ms, pending, check)
            }
            // The key cache reads KV or fetches: a task, which takes it from the start.
            Progress::Wait => verify_task(&isolate, request, start_ms, pending, None),
        },
    }
}

// The gateway's own endpoints, each a function of its own that `fetch` does not inline: V8
// compiles a wasm function whole on its first call, and a fresh isolate's first request is
// usually a token, not one of these (docs/decisions/0010-cold-start.md).

/// `GET /_gateway/health`.
#[inline(never)]
fn health(gateway: &Isolate, request: &WorkerRequest, start_ms: f64) -> Promise {
    let response = ready(response::json(&json!({ "status": "ok" })));
    measured(
        gateway,
        request,
        start_ms,
        &RequestOutcome::Health,
        response,
    )
}

/// The RFC 9728 metadata document.
#[inline(never)]
fn resource_metadata(gateway: &Isolate, request: &WorkerRequest, start_ms: f64) -> Promise {
    let response = ready(response::resource_metadata(&gateway.config, request));
    let outcome = RequestOutcome::Metadata;
    measured(gateway, request, start_ms, &outcome, response)
}

/// `GET /_gateway/status`, a task (it reads KV).
#[inline(never)]
fn status_task(
    isolate: &SharedIsolate,
    env: Env,
    request: WorkerRequest,
    start_ms: f64,
) -> Promise {
    let isolate = isolate.clone();
    future_to_promise(async move {
        let gateway = settled_isolate(&isolate)?;
        let response = status(gateway, &env).await?;
        measure(
            gateway,
            &request,
            start_ms,
            &RequestOutcome::Status,
            &response,
        );
        Ok(response)
    })
}

/// A futures task for what waits on more than one promise: the whole verification when the
/// key cache must read KV or fetch (`check` is `None`), or the signature's check of `check`
/// when its key is not imported in this isolate yet.
fn verify_task(
    isolate: &SharedIsolate,
    request: WorkerRequest,
    start_ms: f64,
    pending: Pending,
    check: Option<SignatureCheck>,
) -> Promise {
    let isolate = isolate.clone();
    future_to_promise(async move {
        let gateway = settled_isolate(&isolate)?;
        let core = &gateway.core;
        let result = match check {
            None => core.verify(&pending, now()).await,
            Some(check) => {
                let checked = core
                    .backend
                    .verify(check.alg(), check.key(), check.message(), check.signature())
                    .await;
                core.signed(&pending, check, checked, now())
            }
        };
        JsFuture::from(settle(gateway, &request, start_ms, &pending, result)).await
    })
}

/// A token whose key set is in memory: WebCrypto's `verify` promise, with the rest of the
/// pipeline in its callback ([`Gateway::signed`](edge_jwt_core::gateway::pipeline::Gateway::signed)),
/// no futures task; or, the first time the key is used in this isolate, a task that imports it
/// first.
fn check_signature(
    isolate: &SharedIsolate,
    gateway: &Isolate,
    request: WorkerRequest,
    start_ms: f64,
    pending: Pending,
    check: SignatureCheck,
) -> Promise {
    let backend = &gateway.core.backend;
    let started =
        backend.start_verify(check.alg(), check.key(), check.message(), check.signature());
    match started {
        Some(Ok(promise)) => {
            let isolate = isolate.clone();
            let finish =
                Closure::<dyn FnMut(bool, JsValue) -> Result<JsValue, JsValue>>::once_into_js(
                    move |fulfilled: bool, value: JsValue| {
                        let gateway = settled_isolate(&isolate)?;
                        let settled = if fulfilled { Ok(value) } else { Err(value) };
                        let checked = WebCryptoBackend::verified(settled);
                        let result = gateway.core.signed(&pending, check, checked, now());
                        Ok(settle(gateway, &request, start_ms, &pending, result).into())
                    },
                );
            when_settled(&promise, finish.unchecked_ref())
        }
        // WebCrypto refused the call itself: the key is unusable (401).
        Some(Err(error)) => {
            let result = gateway.core.signed(&pending, check, Err(error), now());
            settle(gateway, &request, start_ms, &pending, result)
        }
        None => verify_task(isolate, request, start_ms, pending, Some(check)),
    }
}

/// The answer to a request that needed verification: the origin's response, or the refusal.
fn settle(
    gateway: &Isolate,
    request: &WorkerRequest,
    start_ms: f64,
    pending: &Pending,
    result: std::result::Result<Forward, GatewayError>,
) -> Promise {
    match result {
        Ok(target) => {
            let outcome = RequestOutcome::Forwarded(target.cache);
            let response = forward(gateway, request, &target);
            measured(gateway, request, start_ms, &outcome, response)
        }
        Err(error) => {
            let outcome = RequestOutcome::Rejected(&error, pending.cache_use());
            let metadata = response::metadata_url(&gateway.config, Some(request));
            let response = answer(&error, &gateway.config.realm, metadata);
            measured(gateway, request, start_ms, &outcome, response)
        }
    }
}

/// `response` (a promise of the request's response), after asking for its data point.
fn measured(
    gateway: &Isolate,
    request: &WorkerRequest,
    start_ms: f64,
    outcome: &RequestOutcome<'_>,
    response: Promise,
) -> Promise {
    measure(gateway, request, start_ms, outcome, &response);
    response
}

/// The request's data point, when the isolate has a `METRICS` dataset: one call to JavaScript,
/// which writes it once `response` (a response or a promise of one) settles. Nothing otherwise.
fn measure(
    gateway: &Isolate,
    request: &WorkerRequest,
    start_ms: f64,
    outcome: &RequestOutcome<'_>,
    response: &JsValue,
) {
    if let Some(metrics) = &gateway.metrics {
        let cache = match outcome {
            RequestOutcome::Forwarded(cache) | RequestOutcome::Rejected(_, cache) => *cache,
            RequestOutcome::Health | RequestOutcome::Status | RequestOutcome::Metadata => {
                CacheUse::default()
            }
        };
        let providers = &gateway.core.providers;
        let provider = cache
            .provider
            .and_then(|index| providers.get(index))
            .map_or("", |provider| provider.name.as_str());
        metrics.request(outcome, provider, &request.req, response, start_ms);
    }
}

/// The isolate's gateway inside a task (the task exists only when it was built).
fn settled_isolate(
    isolate: &std::result::Result<Isolate, edge_jwt_core::config::ConfigError>,
) -> std::result::Result<&Isolate, JsValue> {
    isolate
        .as_ref()
        .map_err(|_| JsValue::from_str("no gateway"))
}

/// The origin's response (or the gateway's answer to a request it cannot forward).
fn forward(gateway: &Isolate, request: &WorkerRequest, target: &Forward) -> Promise {
    match proxy::forward(request, target, &gateway.config) {
        Ok(promise) => promise,
        Err(error) => {
            let metadata = response::metadata_url(&gateway.config, Some(request));
            answer(&error, &gateway.config.realm, metadata)
        }
    }
}

/// The RFC 6750 answer to `error`, as a settled promise; its challenge names
/// `resource_metadata` when given.
fn answer(error: &GatewayError, realm: &str, resource_metadata: Option<String>) -> Promise {
    ready(response::error(error, realm, resource_metadata.as_deref()))
}

/// A response made here, as a settled promise.
fn ready(response: std::result::Result<JsValue, JsValue>) -> Promise {
    match response {
        Ok(value) => Promise::resolve(&value),
        Err(err) => Promise::reject(&err),
    }
}

/// `GET /_gateway/status` (the pipeline has checked `STATUS_TOKEN`): the caches' state.
async fn status(gateway: &Isolate, env: &Env) -> std::result::Result<JsValue, JsValue> {
    let last_run = kv::last_scheduled_run(env).await.ok().flatten();
    let core = &gateway.core;
    response::json(&json!({
        "service": "edge-jwt",
        "version": env!("CARGO_PKG_VERSION"),
        // Every counter below is this isolate's own: other isolates and locations keep theirs.
        "scope": "isolate",
        "origin_auth": {
            "header": core.policy.origin_auth.header(),
            "secret_set": core.policy.origin_auth.is_set(),
        },
        // One entry per trusted issuer, each with its own key cache.
        "providers": core.providers.iter().map(|provider| json!({
            "name": provider.name,
            "issuer": provider.issuer(),
            "key_cache": provider.keys.status(now()),
        })).collect::<Vec<_>>(),
        // Analytics Engine (`METRICS`): the view across isolates and locations.
        "metrics": { "dataset_bound": gateway.metrics.is_some() },
        "imported_crypto_keys": core.backend.imported_keys(),
        "token_cache": {
            "entries": core.tokens.len(),
            "counters": core.tokens.stats(),
        },
        "last_scheduled_run": last_run,
    }))
}

/// One provider's scheduled refresh, logged and measured.
async fn refresh(gateway: &Isolate, provider: &gateway::Provider) {
    let start_ms = js_sys::Date::now();
    let result = provider.keys.refresh(now()).await;
    let log = &gateway.core.log;
    match &result {
        Ok(outcome) => log.event(
            Level::Info,
            "scheduled_refresh",
            json!({ "provider": provider.name, "outcome": format!("{outcome:?}") }),
        ),
        // The last good set stays; the cache has logged the failure.
        Err(err) => log.event(
            Level::Warn,
            "scheduled_refresh_failed",
            json!({ "provider": provider.name, "error": err.to_string() }),
        ),
    }
    if let Some(metrics) = &gateway.metrics {
        let current = provider.keys.current();
        let generation = current.map_or(0, |set| set.meta.generation);
        metrics.refresh(result.as_ref(), generation, &provider.name, start_ms);
    }
}

/// The cron trigger: refreshes every provider's key set into KV and memory, and records the
/// run.
#[event(scheduled)]
async fn scheduled(event: ScheduledEvent, env: Env, _ctx: ScheduleContext) {
    let run = ScheduledRun {
        cron: event.cron(),
        scheduled_time_ms: event.schedule() as u64,
        ran_at_ms: Date::now().as_millis(),
    };
    let isolate = gateway::isolate(&env);
    if let Ok(gateway) = isolate.as_ref() {
        if gateway.config.refresh.enabled {
            // All at once, each its own task: one provider's failure or slowness never holds
            // up or undoes another's refresh. (Tasks and `Promise.all` rather than a futures
            // combinator, whose code would weigh on the module.)
            let refreshes: js_sys::Array = (0..gateway.core.providers.len())
                .map(|index| {
                    let isolate = isolate.clone();
                    future_to_promise(async move {
                        if let Ok(gateway) = isolate.as_ref() {
                            refresh(gateway, &gateway.core.providers[index]).await;
                        }
                        Ok(JsValue::UNDEFINED)
                    })
                })
                .collect();
            // Each task settles fulfilled: its outcome is logged and measured inside.
            let _ = JsFuture::from(Promise::all(&refreshes)).await;
        }
        // The end of a flood of refusals, reported even if no refusal follows it.
        gateway.core.flush_rejection_log(now());
    }
    if let Err(err) = kv::record_scheduled_run(&env, &run).await {
        worker::console_error!("recording the scheduled run in KV failed: {err}");
    }
}
