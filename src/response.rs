//! Responses the gateway itself writes: the one place a [`GatewayError`] becomes a `Response`.
//! Each is made in one call (`respond` and `publicDocument` in `src/runtime.js`).

use edge_jwt_core::config::Config;
use edge_jwt_core::gateway::answer::GatewayError;
use edge_jwt_core::gateway::pipeline::RequestView;
use edge_jwt_core::gateway::resource_metadata::{request_origin, CACHE_CONTROL};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;

use crate::gateway::WorkerRequest;

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(catch)]
    fn respond(
        status: u16,
        body: &str,
        challenge: &str,
        retry_after: &str,
        allow: &str,
    ) -> Result<JsValue, JsValue>;

    #[wasm_bindgen(catch, js_name = publicDocument)]
    fn public_document(body: &str, cache_control: &str, head: bool) -> Result<JsValue, JsValue>;
}

/// The RFC 6750 answer to `error`, as a JSON response that is never cached; its challenge names
/// `resource_metadata` (the RFC 9728 metadata URL) when given.
pub(crate) fn error(
    error: &GatewayError,
    realm: &str,
    resource_metadata: Option<&str>,
) -> Result<JsValue, JsValue> {
    let answer = error.answer_in(realm, resource_metadata);
    let retry_after = answer.retry_after.map(|seconds| seconds.to_string());
    respond(
        answer.status,
        &answer.body.to_string(),
        answer.www_authenticate.as_deref().unwrap_or_default(),
        retry_after.as_deref().unwrap_or_default(),
        answer.allow.unwrap_or_default(),
    )
}

/// The RFC 9728 metadata URL that `request`'s challenges name: `None` with the metadata off.
/// Without a request (its URL unreadable), only a configured `RESOURCE_URI` gives one.
pub(crate) fn metadata_url(config: &Config, request: Option<&WorkerRequest>) -> Option<String> {
    let metadata = config.gateway.resource_metadata.as_ref()?;
    match (metadata.resource_uri(), request) {
        (Some(resource), _) => Some(resource.metadata_url()),
        (None, Some(request)) => {
            Some(metadata.metadata_url(&request_origin(request.scheme(), request.host())))
        }
        (None, None) => None,
    }
}

/// The RFC 9728 metadata document for `request` (the pipeline decided it is one), with every
/// provider's issuer as an authorization server, in configured order.
pub(crate) fn resource_metadata(
    config: &Config,
    request: &WorkerRequest,
) -> Result<JsValue, JsValue> {
    let metadata = config
        .gateway
        .resource_metadata
        .as_ref()
        .ok_or_else(|| JsValue::from_str("no resource metadata"))?;
    let origin = request_origin(request.scheme(), request.host());
    let issuers: Vec<String> = config
        .providers
        .iter()
        .map(|provider| provider.issuer().to_owned())
        .collect();
    let document = metadata.document(&origin, &issuers, &config.gateway.route_scopes);
    public_document(
        &document.to_string(),
        CACHE_CONTROL,
        request.method() == "HEAD",
    )
}

/// A JSON answer of the gateway's own endpoints, never cached.
pub(crate) fn json(value: &serde_json::Value) -> Result<JsValue, JsValue> {
    respond(200, &value.to_string(), "", "", "")
}
