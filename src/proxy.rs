//! Forwarding to the origin: path and query kept, body streamed, headers rewritten by the core's
//! rules (hop-by-hop dropped, spoofable identity headers removed, `X-Forwarded-*` and verified
//! identity added), a timeout, and 502/504 instead of a hang.
//!
//! The outgoing request copies the client's method, headers and body natively (`new Request`)
//! and then applies only the core's [`HeaderEdits`]: every header crossing between JS and wasm
//! costs time on the hot path.

use std::time::Duration;

use edge_jwt_core::answer::GatewayError;
use edge_jwt_core::config::Config;
use edge_jwt_core::forward::{header_edits, origin_url, ClientInfo, HeaderEdits};
use edge_jwt_core::log::{EventSink, Level};
use futures_util::future::{select, Either};
use wasm_bindgen::JsCast;
use wasm_bindgen_futures::JsFuture;
use web_sys::{
    AbortController, Request, RequestInit, RequestRedirect, Response, WorkerGlobalScope,
};
use worker::Delay;

/// Forwards `req` (whose parsed URL is `url`) to the origin with `identity` headers added.
pub(crate) async fn forward(
    req: &Request,
    url: &url::Url,
    config: &Config,
    identity: &[(String, String)],
    log: &impl EventSink,
) -> Result<Response, GatewayError> {
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

    let global: WorkerGlobalScope = js_sys::global().unchecked_into();
    let send = JsFuture::from(global.fetch_with_request(&outgoing));
    let timeout = Delay::from(Duration::from_millis(config.origin.timeout_ms));
    match select(send, timeout).await {
        Either::Left((Ok(response), _)) => response
            .dyn_into::<Response>()
            .map_err(|_| GatewayError::OriginUnreachable),
        Either::Left((Err(err), _)) => {
            log.event(
                Level::Warn,
                "origin_unreachable",
                serde_json::json!({ "error": format!("{err:?}") }),
            );
            Err(GatewayError::OriginUnreachable)
        }
        Either::Right(_) => {
            controller.abort();
            log.event(
                Level::Warn,
                "origin_timeout",
                serde_json::json!({ "timeout_ms": config.origin.timeout_ms }),
            );
            Err(GatewayError::OriginTimeout)
        }
    }
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
