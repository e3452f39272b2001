//! Responses the gateway itself writes: the one place a [`GatewayError`] becomes a `Response`.

use edge_jwt_core::gateway::answer::GatewayError;
use wasm_bindgen::JsValue;
use worker::{Response, Result};

/// The RFC 6750 answer to `error`, as a JSON response that is never cached.
pub(crate) fn error(error: &GatewayError, realm: &str) -> Result<Response> {
    let answer = error.answer(realm);
    let mut response = Response::from_json(&answer.body)?.with_status(answer.status);
    let headers = response.headers_mut();
    headers.set("cache-control", "no-store")?;
    if let Some(challenge) = &answer.www_authenticate {
        headers.set("www-authenticate", challenge)?;
    }
    if let Some(seconds) = answer.retry_after {
        headers.set("retry-after", &seconds.to_string())?;
    }
    Ok(response)
}

/// A JSON answer of the gateway's own endpoints, never cached.
pub(crate) fn json(value: &serde_json::Value) -> Result<Response> {
    let mut response = Response::from_json(value)?;
    response.headers_mut().set("cache-control", "no-store")?;
    Ok(response)
}

/// A response made in Rust, as the value (or error) a promise settles with.
pub(crate) fn settled(response: Result<Response>) -> std::result::Result<JsValue, JsValue> {
    response
        .map(|response| web_sys::Response::from(response).into())
        .map_err(|err| JsValue::from_str(&err.to_string()))
}
