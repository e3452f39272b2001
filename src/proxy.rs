//! Forwarding to the origin: path and query kept, body streamed, headers rewritten by the core's
//! rules (hop-by-hop dropped, spoofable identity headers removed, `X-Forwarded-*` and verified
//! identity added), a timeout, and 502/504 instead of a hang.

use std::time::Duration;

use edge_jwt_core::answer::GatewayError;
use edge_jwt_core::config::Config;
use edge_jwt_core::forward::{forwarded_headers, origin_url, ClientInfo};
use edge_jwt_core::log::{EventSink, Level};
use futures_util::future::{select, Either};
use worker::{
    AbortController, Delay, Fetch, Headers, Request, RequestInit, RequestRedirect, Response,
};

/// Forwards `req` to the origin with `identity` headers added.
pub(crate) async fn forward(
    req: &Request,
    config: &Config,
    identity: &[(String, String)],
    log: &impl EventSink,
) -> Result<Response, GatewayError> {
    let url = req
        .url()
        .map_err(|_| GatewayError::InvalidRequest("unparsable URL"))?;
    let path_and_query = match url.query() {
        Some(query) => format!("{}?{query}", url.path()),
        None => url.path().to_owned(),
    };
    let incoming: Vec<(String, String)> = req.headers().entries().collect();
    let client = ClientInfo {
        ip: req.headers().get("cf-connecting-ip").ok().flatten(),
        proto: url.scheme().to_owned(),
        host: url.host_str().unwrap_or_default().to_owned(),
    };
    let headers = Headers::new();
    for (name, value) in forwarded_headers(&incoming, &client, &config.claim_headers, identity) {
        headers
            .append(&name, &value)
            .map_err(|_| GatewayError::InvalidRequest("a header cannot be forwarded"))?;
    }
    let mut init = RequestInit::new();
    init.with_method(req.method())
        .with_headers(headers)
        .with_redirect(RequestRedirect::Manual);
    // The body is passed on as a stream, never buffered.
    if let Some(body) = req.inner().body() {
        init.with_body(Some(body.into()));
    }
    let target = origin_url(&config.origin.url, &path_and_query);
    let outgoing =
        Request::new_with_init(&target, &init).map_err(|_| GatewayError::OriginUnreachable)?;
    let controller = AbortController::default();
    let signal = controller.signal();
    let send = async move { Fetch::Request(outgoing).send_with_signal(&signal).await };
    let timeout = Delay::from(Duration::from_millis(config.origin.timeout_ms));
    match select(Box::pin(send), timeout).await {
        Either::Left((Ok(response), _)) => Ok(response),
        Either::Left((Err(err), _)) => {
            log.event(
                Level::Warn,
                "origin_unreachable",
                serde_json::json!({ "error": err.to_string() }),
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
