//! Forwarding to the origin: path and query kept, body streamed, headers rewritten by the core's
//! rules (hop-by-hop dropped, spoofable identity headers removed, `X-Forwarded-*` and verified
//! identity added), a timeout, and 502/504 instead of a hang.
//!
//! The outgoing request is made by `forward` in `src/runtime.js`, in one call: it copies the
//! client's method, headers and body natively and applies only the core's [`HeaderEdits`].

use edge_jwt_core::config::Config;
use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::gateway::forward::{header_edits, origin_url, ClientInfo, HeaderEdits};
use edge_jwt_core::gateway::pipeline::Forward;
use edge_jwt_core::log::{EventSink, Level};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Request;

use crate::gateway::{self, WorkerRequest};
use crate::response;

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    /// `forward` in `src/runtime.js`: the origin's response, or what `on_failure` answers.
    #[wasm_bindgen(catch, js_name = forward)]
    fn send(
        request: &Request,
        target: &str,
        with_body: bool,
        deletes: Vec<String>,
        sets: Vec<String>,
        timeout_ms: f64,
        on_failure: &Function,
    ) -> Result<Promise, JsValue>;
}

/// Forwards `request` to the origin as the pipeline decided (`target`: the canonical path and
/// the query, the identity headers, with or without the body).
///
/// The result is a promise that the runtime settles without calling back into Rust on success;
/// only a timeout (504) or an unreachable origin (502) runs Rust again ([`FAILED`]).
pub(crate) fn forward(
    request: &WorkerRequest,
    target: &Forward,
    config: &Config,
) -> Result<Promise, GatewayError> {
    let mut edits = edits_for(request, config, &target.identity);
    if !target.with_body {
        edits = edits.without_body();
    }
    let mut sets = Vec::with_capacity(2 * edits.set.len());
    for (name, value) in edits.set {
        sets.push(name);
        sets.push(value);
    }
    let origin = origin_url(&config.origin.url, &target.path_and_query);
    FAILED
        .with(|failed| {
            send(
                &request.req,
                &origin,
                target.with_body,
                edits.delete,
                sets,
                config.origin.timeout_ms as f64,
                failed.as_ref().unchecked_ref(),
            )
        })
        // The runtime refused a header edit (a value it does not take).
        .map_err(|_| GatewayError::InvalidRequest("a header cannot be forwarded"))
}

thread_local! {
    /// The fetch failed: 504 when the timer aborted it, 502 otherwise (connection refused,
    /// reset, DNS...). Made once per isolate, so no closure is made per request.
    static FAILED: Closure<dyn FnMut(bool, String) -> Result<JsValue, JsValue>> =
        Closure::new(|timed_out: bool, message: String| {
            if timed_out {
                failure(GatewayError::OriginTimeout, "origin_timeout", |config| {
                    serde_json::json!({ "timeout_ms": config.origin.timeout_ms })
                })
            } else {
                failure(GatewayError::OriginUnreachable, "origin_unreachable", |_| {
                    serde_json::json!({ "error": message })
                })
            }
        });
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

/// The header edits for `request`. The names are read in one call (`Array.from(keys).join`),
/// since header names cannot contain commas.
fn edits_for(
    request: &WorkerRequest,
    config: &Config,
    identity: &[(String, String)],
) -> HeaderEdits {
    let headers = request.req.headers();
    let keys: JsValue = headers.keys().into();
    let names = String::from(js_sys::Array::from(&keys).join(","));
    let names: Vec<&str> = names.split(',').filter(|name| !name.is_empty()).collect();
    let get = |name: &str| headers.get(name).ok().flatten();
    let client = ClientInfo {
        ip: get("cf-connecting-ip"),
        proto: request.scheme.clone(),
        host: request.host.clone(),
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
    )
}
