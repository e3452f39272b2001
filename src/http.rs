//! Outbound HTTP for the JWKS fetcher: the Workers `fetch`, with a timeout, no redirects and a
//! response size cap.

use crate::urls::RuntimeUrls;
use edge_jwt_core::keys::fetch::{HttpClient, HttpResponse, TransportError};
use edge_jwt_core::keys::url::{ParsedUrl, UrlParser};
use futures_util::future::{select, Either};
use futures_util::StreamExt;
use std::time::Duration;
use worker::{
    AbortController, Date, Delay, Fetch, Headers, Method, Request, RequestInit, RequestRedirect,
};

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
        let controller = AbortController::default();
        let signal = controller.signal();
        let exchange = async move {
            let headers = Headers::new();
            headers.set("accept", "application/json").map_err(network)?;
            if let Some(etag) = etag {
                headers.set("if-none-match", etag).map_err(network)?;
            }
            let mut init = RequestInit::new();
            init.with_method(Method::Get)
                .with_headers(headers)
                .with_redirect(RequestRedirect::Manual);
            let request = Request::new_with_init(url, &init).map_err(network)?;
            let mut response = Fetch::Request(request)
                .send_with_signal(&signal)
                .await
                .map_err(network)?;
            let header = |name: &str| response.headers().get(name).ok().flatten();
            let (etag, cache_control, content_type, length) = (
                header("etag"),
                header("cache-control"),
                header("content-type"),
                header("content-length"),
            );
            if length
                .and_then(|l| l.trim().parse::<usize>().ok())
                .is_some_and(|l| l > max_bytes)
            {
                return Err(TransportError::TooLarge);
            }
            let status = response.status_code();
            let mut body = Vec::new();
            if (200..300).contains(&status) {
                let mut stream = response.stream().map_err(network)?;
                while let Some(chunk) = stream.next().await {
                    body.extend_from_slice(&chunk.map_err(network)?);
                    if body.len() > max_bytes {
                        return Err(TransportError::TooLarge);
                    }
                }
            }
            Ok(HttpResponse {
                status,
                etag,
                cache_control,
                content_type,
                body,
            })
        };
        let timeout = Delay::from(Duration::from_millis(timeout_ms));
        match select(Box::pin(exchange), timeout).await {
            Either::Left((result, _)) => result,
            Either::Right(((), _)) => {
                controller.abort();
                Err(TransportError::Timeout)
            }
        }
    }

    async fn sleep(&self, ms: u64) {
        Delay::from(Duration::from_millis(ms)).await;
    }

    fn random(&self) -> f64 {
        js_sys::Math::random()
    }

    fn now_ms(&self) -> u64 {
        Date::now().as_millis()
    }
}

fn network(err: worker::Error) -> TransportError {
    TransportError::Network(err.to_string())
}
