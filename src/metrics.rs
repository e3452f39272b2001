//! Workers Analytics Engine metrics: the optional `METRICS` dataset, taken once per isolate, and
//! one data point per request and per scheduled refresh, written by `writeMetric` in
//! `src/runtime.js` in one call once the response is decided. The layout is the core's
//! ([`edge_jwt_core::gateway::metrics`]). Without the binding nothing is written and nothing
//! crosses to JavaScript.

use edge_jwt_core::gateway::metrics::{refresh_point, request_point, DataPoint, RequestOutcome};
use edge_jwt_core::keys::source::FetchError;
use edge_jwt_core::keys::RefreshOutcome;
use edge_jwt_core::log::{EventSink, Level};
use serde_json::json;
use wasm_bindgen::prelude::wasm_bindgen;
use wasm_bindgen::JsValue;
use worker::Env;

/// The dataset binding's name in `wrangler.toml` (`[[analytics_engine_datasets]]`).
pub(crate) const BINDING: &str = "METRICS";

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = writeMetric)]
    fn write_metric(
        dataset: &JsValue,
        index: &str,
        blobs: &str,
        generation: f64,
        request: &JsValue,
        response: &JsValue,
        start_ms: f64,
    );
}

/// The isolate's dataset.
pub(crate) struct Metrics {
    dataset: JsValue,
}

impl Metrics {
    /// The `METRICS` binding of `env`, if there is one that takes data points. Anything else
    /// bound under that name is logged (`metrics_binding_invalid`) and ignored.
    pub(crate) fn from_env(env: &Env, log: &impl EventSink) -> Option<Metrics> {
        let dataset = js_sys::Reflect::get(env, &JsValue::from_str(BINDING)).ok()?;
        if dataset.is_undefined() || dataset.is_null() {
            return None;
        }
        let writes = js_sys::Reflect::get(&dataset, &JsValue::from_str("writeDataPoint"))
            .is_ok_and(|write| write.is_function());
        if !writes {
            log.event(
                Level::Warn,
                "metrics_binding_invalid",
                json!({ "binding": BINDING, "error": "not an Analytics Engine dataset" }),
            );
            return None;
        }
        Some(Metrics { dataset })
    }

    /// The data point of a request that arrived at `start_ms` (`Date.now()`), written when
    /// `response` (a `Response` or a promise of one) settles.
    /// `provider` is the name of the token's provider (empty before one is known).
    pub(crate) fn request(
        &self,
        outcome: &RequestOutcome<'_>,
        provider: &str,
        request: &web_sys::Request,
        response: &JsValue,
        start_ms: f64,
    ) {
        let point = request_point(outcome, provider);
        self.write(&point, request, response, start_ms);
    }

    /// The data point of one provider's scheduled refresh that started at `start_ms`;
    /// `generation` is the one in memory afterwards.
    pub(crate) fn refresh(
        &self,
        result: Result<&RefreshOutcome, &FetchError>,
        generation: u64,
        provider: &str,
        start_ms: f64,
    ) {
        let point = refresh_point(result, generation, provider);
        self.write(&point, &JsValue::UNDEFINED, &JsValue::UNDEFINED, start_ms);
    }

    fn write(&self, point: &DataPoint<'_>, request: &JsValue, response: &JsValue, start_ms: f64) {
        // `writeMetric` takes exactly the core's one double.
        let [generation] = point.doubles;
        write_metric(
            &self.dataset,
            point.index,
            &point.blob_lines(),
            generation,
            request,
            response,
            start_ms,
        );
    }
}
