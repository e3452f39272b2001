//! Outbound HTTP for the JWKS fetcher: the Workers `fetch`, with a timeout, no redirects and a
//! response size cap (`fetchJson` in `src/runtime.js`).

use edge_jwt_core::keys::fetch::{HttpClient, HttpResponse, TransportError};
use edge_jwt_core::keys::url::{ParsedUrl, UrlParser};
use js_sys::{Array, Promise, Uint8Array};
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use wasm_bindgen_futures::JsFuture;

use crate::urls::RuntimeUrls;

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = fetchJson)]
    fn fetch_json(url: &str, etag: &str, timeout_ms: f64, max_bytes: f64) -> Promise;
    #[wasm_bindgen(js_name = sleep)]
    fn sleep_ms(ms: f64) -> Promise;
}

/// [`HttpClient`] over the Workers runtime.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct WorkerHttp;

impl UrlParser for WorkerHttp {
    fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
        RuntimeUrls.parse_url(text)
    }
}

impl HttpClient for WorkerHttp {
    async fn get(
        &self,
        url: &str,
        etag: Option<&str>,
        timeout_ms: u64,
        max_bytes: usize,
    ) -> Result<HttpResponse, TransportError> {
        let answer = JsFuture::from(fetch_json(
            url,
            etag.unwrap_or_default(),
            timeout_ms as f64,
            max_bytes as f64,
        ))
        .await
        .map_err(|failure| match failure.as_string().as_deref() {
            Some("timeout") => TransportError::Timeout,
            Some("too_large") => TransportError::TooLarge,
            Some(message) => TransportError::Network(message.to_owned()),
            None => TransportError::Network("fetch failed".to_owned()),
        })?;
        let parts = Array::from(&answer);
        let text = |index: u32| parts.get(index).as_string();
        Ok(HttpResponse {
            status: parts.get(0).as_f64().unwrap_or_default() as u16,
            etag: text(1),
            cache_control: text(2),
            content_type: text(3),
            body: Uint8Array::new(&parts.get(4)).to_vec(),
        })
    }

    async fn sleep(&self, ms: u64) {
        // The promise never rejects.
        let _: Result<JsValue, JsValue> = JsFuture::from(sleep_ms(ms as f64)).await;
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    fn now_ms(&self) -> u64 {
        js_sys::Date::now() as u64
    }
}
