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
use edge_jwt_core::gateway::token_source::strip_token_cookie;
use edge_jwt_core::log::{EventSink, Level};
use js_sys::{Function, Promise};
use wasm_bindgen::prelude::{wasm_bindgen, Closure};
use wasm_bindgen::{JsCast, JsValue};
use web_sys::Request;

use edge_jwt_core::gateway::pipeline::RequestView;

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
        deletes: &str,
        sets: &str,
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
    // Made only when an edit is refused (an eager `ok_or(error.clone())` cloned it on every
    // request, and a fresh isolate compiled the error's whole `Clone`).
    let refused = || GatewayError::InvalidRequest("a header cannot be forwarded");
    let mut edits = edits_for(request, config, &target.identity);
    if !target.with_body {
        edits = edits.without_body();
    }
    // One line per name or value: a line feed in one (no header may hold one, and the core's
    // identity values never do) would split it into two edits, so it is refused here.
    let deletes = lines(edits.delete.iter().map(String::as_str)).ok_or_else(refused)?;
    let sets = lines(
        edits
            .set
            .iter()
            .flat_map(|(name, value)| [name.as_str(), value.as_str()]),
    )
    .ok_or_else(refused)?;
    let origin = origin_url(&config.origin.url, &target.path_and_query);
    FAILED
        .with(|failed| {
            send(
                &request.req,
                &origin,
                target.with_body,
                &deletes,
                &sets,
                config.origin.timeout_ms as f64,
                failed.as_ref().unchecked_ref(),
            )
        })
        // The runtime refused a header edit (a value it does not take).
        .map_err(|_| refused())
}

/// `items` joined with line feeds; `None` when one of them holds a line feed.
fn lines<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut text = String::new();
    for (i, item) in items.enumerate() {
        if item.contains('\n') {
            return None;
        }
        if i > 0 {
            text.push('\n');
        }
        text.push_str(item);
    }
    Some(text)
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
    response::error(&error, &gateway.config.realm, None)
}

/// The header edits for `request`, from the names and values read with its URL.
fn edits_for(
    request: &WorkerRequest,
    config: &Config,
    identity: &[(String, String)],
) -> HeaderEdits {
    let names: Vec<&str> = request.header_names().collect();
    let client = ClientInfo {
        ip: request.header("cf-connecting-ip"),
        proto: request.scheme().to_owned(),
        host: request.host().to_owned(),
    };
    let mut edits = header_edits(
        &names,
        request.header("connection").as_deref(),
        request.header("x-forwarded-for").as_deref(),
        &client,
        &config.gateway.claim_headers,
        identity,
        &config.gateway.origin_auth,
    );
    // The token cookie (`JWT_COOKIE`) stays at the gateway unless `JWT_COOKIE_FORWARD`.
    strip_token_cookie(&mut edits, config.gateway.token_cookie.as_ref(), || {
        request.header("cookie")
    });
    edits
}

#[cfg(test)]
mod tests {
    use super::lines;

    #[test]
    fn edits_are_one_per_line_and_a_line_feed_in_one_is_refused() {
        assert_eq!(lines(["a", "", "b"].into_iter()).as_deref(), Some("a\n\nb"));
        assert_eq!(lines(std::iter::empty()).as_deref(), Some(""));
        // An identity value smuggling a second header would be two edits on the JS side.
        assert_eq!(
            lines(["x-auth-subject", "a\nx-admin", "b"].into_iter()),
            None
        );
    }
}
