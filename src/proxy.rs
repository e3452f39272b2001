//! Forwarding to the origin: path and query kept, body streamed, headers rewritten by the core's
//! rules (hop-by-hop dropped, spoofable identity headers removed, `X-Forwarded-*` and verified
//! identity added), a timeout, and 502/504 instead of a hang.
//!
//! The outgoing request copies the client's method, headers and body natively (`new Request`)
//! and then applies only the core's [`HeaderEdits`]: every header crossing between JS and wasm
//! costs time on the hot path.

use edge_jwt_core::answer::GatewayError;
use edge_jwt_core::config::Config;
use edge_jwt_core::forward::{header_edits, origin_url, ClientInfo, HeaderEdits};
use edge_jwt_core::log::{EventSink, Level};
use js_sys::{Array, Function, Promise, Reflect};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::{
    AbortController, Request, RequestInit, RequestRedirect, Response, WorkerGlobalScope,
};

use crate::gateway;
use crate::response;

/// Forwards `req` (whose parsed URL is `url`) to the origin with `identity` headers added.
///
/// The result is a promise that the runtime settles without calling back into Rust on success:
/// the origin's fetch races a timer, the timer is cleared by a bound `clearTimeout`, and only
/// a timeout (504) or an unreachable origin (502) runs Rust again ([`Settle`]). Awaiting the
/// fetch in Rust instead costs a futures task, its wakers and two closures on every request.
pub(crate) fn forward(
    req: &Request,
    url: &url::Url,
    config: &Config,
    identity: &[(String, String)],
) -> Result<Promise, GatewayError> {
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let edits = edits_for(req, url, config, identity);

    let controller = AbortController::new().map_err(|_| GatewayError::OriginUnreachable)?;
    let init = RequestInit::new();
    init.set_method(&req.method());
    init.set_headers(&req.headers());
    // The body is passed on as a stream, never buffered.
    if let Some(body) = req.body() {
        init.set_body(&body);
    }
    init.set_redirect(RequestRedirect::Manual);
    init.set_signal(Some(&controller.signal()));
    let target = origin_url(&config.origin.url, &path_and_query);
    let outgoing = Request::new_with_str_and_init(&target, &init)
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
        let send = global.fetch_with_request(&outgoing);
        // The timer resolves with the controller, so that the settle step knows it fired; a
        // timer left over after the response is cleared by the bound `clearTimeout`.
        let timeout_ms = i32::try_from(config.origin.timeout_ms).unwrap_or(i32::MAX);
        let mut timer = Ok(0);
        let timeout = Promise::new(&mut |resolve, _reject| {
            timer = global.set_timeout_with_callback_and_timeout_and_arguments_1(
                &resolve,
                timeout_ms,
                &controller,
            );
        });
        let timer = timer.map_err(|_| GatewayError::OriginUnreachable)?;
        let clear = settle.clear_timeout.bind1(global, &JsValue::from(timer));
        let race: Pending = Promise::race(&Array::of2(&send, &timeout)).unchecked_into();
        Ok(race
            .finally(&clear)
            .then(settle.arrived.as_ref(), settle.failed.as_ref()))
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
    /// `promise.then(f, g)`: what `f` or `g` returns becomes the new promise's value.
    #[wasm_bindgen(method)]
    fn then(this: &Pending, on_fulfilled: &JsValue, on_rejected: &JsValue) -> Promise;
}

/// What runs when the race between the origin and the timer settles: kept for the isolate's
/// life, so that no closure is made per request.
struct Settle {
    global: WorkerGlobalScope,
    clear_timeout: Function,
    /// A response passes through; the controller means the timer won: abort and answer 504.
    arrived: Closure<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>,
    /// The fetch failed (connection refused, reset, DNS...): 502.
    failed: Closure<dyn FnMut(JsValue) -> Result<JsValue, JsValue>>,
}

thread_local! {
    static SETTLE: Settle = Settle::new();
}

impl Settle {
    fn new() -> Settle {
        let global: WorkerGlobalScope = js_sys::global().unchecked_into();
        let clear_timeout = Reflect::get(&global, &JsValue::from_str("clearTimeout"))
            .ok()
            .and_then(|f| f.dyn_into::<Function>().ok())
            .expect("the Workers runtime has clearTimeout");
        let arrived = Closure::new(|value: JsValue| -> Result<JsValue, JsValue> {
            if value.is_instance_of::<Response>() {
                return Ok(value);
            }
            if let Some(controller) = value.dyn_ref::<AbortController>() {
                controller.abort();
            }
            failure(
                GatewayError::OriginTimeout,
                |config| serde_json::json!({ "timeout_ms": config.origin.timeout_ms }),
            )
        });
        let failed = Closure::new(|err: JsValue| -> Result<JsValue, JsValue> {
            failure(
                GatewayError::OriginUnreachable,
                |_| serde_json::json!({ "error": format!("{err:?}") }),
            )
        });
        Settle {
            global,
            clear_timeout,
            arrived,
            failed,
        }
    }
}

/// Logs an origin failure and answers it (502 or 504).
fn failure(
    error: GatewayError,
    fields: impl FnOnce(&Config) -> serde_json::Value,
) -> Result<JsValue, JsValue> {
    let isolate = gateway::current().ok_or_else(|| JsValue::from_str("no gateway"))?;
    let gateway = isolate
        .as_ref()
        .as_ref()
        .map_err(|_| JsValue::from_str("no gateway"))?;
    let event = match error {
        GatewayError::OriginTimeout => "origin_timeout",
        _ => "origin_unreachable",
    };
    gateway
        .log
        .event(Level::Warn, event, fields(&gateway.config));
    response::error(&error, &gateway.config.realm)
        .map(|response| web_sys::Response::from(response).into())
        .map_err(|err| JsValue::from_str(&err.to_string()))
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
        &config.claim_headers,
        identity,
    )
}
