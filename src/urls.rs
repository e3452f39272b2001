//! The runtime's URL parser (`parseUrl` in `src/runtime.js`) as the core's [`UrlParser`]: the
//! configuration and the key fetcher check URLs with the parser that `fetch` itself uses.

use edge_jwt_core::keys::url::{ParsedUrl, UrlParser};
use wasm_bindgen::prelude::wasm_bindgen;

#[wasm_bindgen(module = "/src/runtime.js")]
extern "C" {
    #[wasm_bindgen(js_name = parseUrl)]
    fn parse_url(text: &str) -> String;
}

/// The runtime's `URL`.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct RuntimeUrls;

impl UrlParser for RuntimeUrls {
    fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
        let lines = parse_url(text);
        let mut parts = lines.split('\n');
        let (Some(href), Some(scheme), Some(hostname), Some(credentials), None) = (
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
            parts.next(),
        ) else {
            return None;
        };
        Some(ParsedUrl {
            href: href.to_owned(),
            scheme: scheme.to_owned(),
            hostname: hostname.to_owned(),
            credentials: credentials == "1",
        })
    }
}
