//! Forwarding to the origin: path and query kept, body streamed, headers rewritten by the core's
//! rules (hop-by-hop dropped, spoofable identity headers removed, `X-Forwarded-*` and verified
//! identity added), a timeout, and 502/504 instead of a hang.
//!
//! The outgoing request copies the client's method, headers and body natively (`new Request`)
//! and then applies only the core's [`HeaderEdits`]: every header crossing between JS and wasm
//! costs time on the hot path.

use edge_jwt_core::config::Config;
use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::gateway::forward::{header_edits, origin_url, ClientInfo, HeaderEdits};
use edge_jwt_core::gateway::pipeline::Forward;
use edge_jwt_core::log::{EventSink, Level};
use js_sys::{Function, Promise, Reflect};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{AbortController, Request, RequestInit, RequestRedirect, WorkerGlobalScope};

use crate::gateway::{self, WorkerRequest};
use crate::response;

/// Forwards `request` to the origin as the pipeline decided (`target`: the canonical path and
/// the query, the identity headers, with or without the body).
///
/// The result is a promise that the runtime settles without calling back into Rust on success:
/// a timer aborts the fetch after `ORIGIN_TIMEOUT_MS` unless the response headers came first,
/// and only a timeout (504) or an unreachable origin (502) runs Rust again ([`Settle`]).
/// Awaiting the fetch in Rust instead costs a futures task, its wakers and two closures on
/// every request.
pub(crate) fn forward(
    request: &WorkerRequest,
    target: &Forward,
    config: &Config,
) -> Result<Promise, GatewayError> {
    let req = &request.req;
    let mut edits = edits_for(req, &request.url, config, &target.identity);
    if !target.with_body {
        edits = edits.without_body();
    }

    let controller = AbortController::new().map_err(|_| GatewayError::OriginUnreachable)?;
    let init = RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&req.headers());
    // The body is passed on as a stream, never buffered; a preflight carries none.
    if let Some(body) = req.body().filter(|_| target.with_body) {
        init.set_body(&body);
    }
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&controller.signal()));
    let origin = origin_url(&config.origin.url, &target.path_and_query);
    let outgoing = Request::new_with_str_and_init(&origin, &init)
        .map_err(|_| GatewayError::OriginUnreachable)?;
    let headers = outgoing.headers();
    for name in &edits.delete {
        headers
            .delete(name)
            .map_err(|_| GatewayError::InvalidRequest("a header cannot be forwarded"))?;
    }
    for (name, value) in &edits.set {
        headers
            .set(name, value)
            .map_err(|_| GatewayError::InvalidRequest("a header cannot be forwarded"))?;
    }

    SETTLE.with(|settle| {
        let global = &settle.global;
        // The timer aborts the fetch with the timeout marker as the reason; the bound
        // `clearTimeout` stops it once the origin's response headers are in (or the fetch
        // failed), so a body that streams for longer is never cut.
        let timeout_ms = i32::try_from(config.origin.timeout_ms).unwrap_or(i32::MAX);
        let abort = settle.abort.bind1(&controller, &settle.timeout);
        let timer = global
            .set_timeout_with_callback_and_timeout_and_arguments_0(
                abort.unchecked_ref(),
                timeout_ms,
            )
            .map_err(|_| GatewayError::OriginUnreachable)?;
        let clear = settle.clear_timeout.bind1(global, &JsValue::from(timer));
        let send: Pending = global.fetch_with_request(&outgoing).unchecked_into();
        Ok(send
            .finally(&clear)
            .then(&JsValue::UNDEFINED, settle.failed.as_ref()))
    })
}

#[wasm_bindgen]
extern "C" {
    /// A promise, seen through the two methods used here with plain JS functions (js-sys's
    /// typed `then`/`finally` take Rust closures only).
    type Pending;
    /// `promise.finally(f)`.
    #[wasm_bindgen(method)]
    fn finally(this: &Pending, on_finally: &JsValue) -> Pending;
    /// `promise.then(f, g)`: what `f` or `g` returns becomes the new promise's value (a
    /// non-function `f` passes the value through).
    #[wasm_bindgen(method)]
    fn then(this: &Pending, on_fulfilled: &JsValue, on_rejected: &JsValue) -> Promise;
}

/// What a forwarded request needs besides the request itself, made once per isolate so that
/// no closure is made per request: on success the origin's response passes through without
/// running Rust again.
struct Settle {
    global: WorkerGlobalScope,
    /// `AbortController.prototype.abort`, bound per request to its controller.
    abort: Function,
    /// `clearTimeout`, bound per request to its timer.
    clear_timeout: Function,
    /// The abort reason that marks a timeout.
    timeout: JsValue,
    /// The fetch failed: 504 when the timer aborted it, 502 otherwise (connection refused,
    /// reset, DNS...).
    failed: Closure<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>,
}

thread_local! {
    static SETTLE: Settle = Settle::new();
}

/// The message of the abort reason that marks an origin timeout.
const TIMEOUT_REASON: &str = "edge-jwt: origin timeout";

impl Settle {
    fn new() -> Settle {
        let global: WorkerGlobalScope = js_sys::global().unchecked_into();
        let function = |target: &JsValue, name: &str| {
            Reflect::get(target, &JsValue::from_str(name))
                .ok()
                .and_then(|f| f.dyn_into::<Function>().ok())
        };
        let abort = AbortController::new()
            .ok()
            .and_then(|controller| function(&controller, "abort"))
            .expect("the Workers runtime has AbortController");
        let clear_timeout =
            function(&global, "clearTimeout").expect("the Workers runtime has clearTimeout");
        let timeout: JsValue = js_sys::Error::new(TIMEOUT_REASON).into();
        let failed = Closure::new(move |err: JsValue| -> Result<JsValue, JsValue> {
            // Only the timer aborts this controller. workerd rejects the fetch with a copy of
            // the abort reason (same message, not the same object); a runtime that rejects
            // with a plain AbortError is recognised too.
            let text = |name: &str| {
                Reflect::get(&err, &JsValue::from_str(name))
                    .ok()
                    .and_then(|value| value.as_string())
            };
            let timed_out = err.is_object()
                && (text("message").as_deref() == Some(TIMEOUT_REASON)
                    || text("name").as_deref() == Some("AbortError"));
            if timed_out {
                failure(
                    GatewayError::OriginTimeout,
                    "origin_timeout",
                    |config| serde_json::json!({ "timeout_ms": config.origin.timeout_ms }),
                )
            } else {
                failure(
                    GatewayError::OriginUnreachable,
                    "origin_unreachable",
                    |_| serde_json::json!({ "error": format!("{err:?}") }),
                )
            }
        });
        Settle {
            global,
            abort,
            clear_timeout,
            timeout,
            failed,
        }
    }
}

/// Logs an origin failure and answers it (502 or 504).
fn failure(
    error: GatewayError,
    event: &'static str,
    fields: impl FnOnce(&Config) -> serde_json::Value,
) -> Result<JsValue, JsValue> {
    let isolate = gateway::current().ok_or_else(|| JsValue::from_str("no gateway"))?;
    let gateway = isolate
        .as_ref()
        .as_ref()
        .map_err(|_| JsValue::from_str("no gateway"))?;
    gateway
        .core
        .log
        .event(Level::Warn, event, fields(&gateway.config));
    response::settled(response::error(&error, &gateway.config.realm))
}

/// The header edits for `req`. The names are read in one call (`Array.from(keys).join`), since
/// header names cannot contain commas.
fn edits_for(
    req: &Request,
    url: &url::Url,
    config: &Config,
    identity: &[(String, String)],
) -> HeaderEdits {
    let headers = req.headers();
    let keys: wasm_bindgen::JsValue = headers.keys().into();
    let names = String::from(js_sys::Array::from(&keys).join(","));
    let names: Vec<&str> = names.split(',').filter(|name| !name.is_empty()).collect();
    let get = |name: &str| headers.get(name).ok().flatten();
    let client = ClientInfo {
        ip: get("cf-connecting-ip"),
        proto: url.scheme().to_owned(),
        host: match url.port() {
            Some(port) => format!("{}:{port}", url.host_str().unwrap_or_default()),
            None => url.host_str().unwrap_or_default().to_owned(),
        },
    };
    let (connection, forwarded_for) = (
        names
            .contains(&"connection")
            .then(|| get("connection"))
            .flatten(),
        names
            .contains(&"x-forwarded-for")
            .then(|| get("x-forwarded-for"))
            .flatten(),
    );
    header_edits(
        &names,
        connection.as_deref(),
        forwarded_for.as_deref(),
        &client,
        &config.gateway.claim_headers,
        identity,
        &config.gateway.origin_auth,
    )
}
