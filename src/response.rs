//! Responses the gateway itself writes: the one place a [`GatewayError`] becomes a `Response`.
//! Each is made in one call (`respond` in `src/runtime.js`).

use edge_jwt_core::gateway::answer::GatewayError;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn respond(
        status: u16,
        body: &str,
        challenge: &str,
        retry_after: &str,
    ) -> Result<JsValue, JsValue>;
}

/// The RFC 6750 answer to `error`, as a JSON response that is never cached.
pub(crate) fn error(error: &GatewayError, realm: &str) -> Result<JsValue, JsValue> {
    let answer = error.answer(realm);
    let retry_after = answer.retry_after.map(|seconds| seconds.to_string());
    respond(
        answer.status,
        &answer.body.to_string(),
        answer.www_authenticate.as_deref().unwrap_or_default(),
        retry_after.as_deref().unwrap_or_default(),
    )
}

/// A JSON answer of the gateway's own endpoints, never cached.
pub(crate) fn json(value: &serde_json::Value) -> Result<JsValue, JsValue> {
    respond(200, &value.to_string(), "", "")
}
