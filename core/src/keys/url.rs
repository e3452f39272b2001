//! Absolute URLs as the platform that fetches them reads them.
//!
//! The configuration (`JWT_AUTHORITY`, `JWT_JWKS_URL`, `ORIGIN_URL`) and the key fetcher (a
//! discovery document's `jwks_uri`) check a URL before anything is fetched from it. They ask a
//! [`UrlParser`]: in the Worker the runtime's own `URL`, the WHATWG parser its `fetch` uses, so
//! that what was checked is what is fetched and the module carries no URL parser of its own
//! (docs/decisions/0006-bundle-size.md); natively the `url` crate, WHATWG as well.

use std::net::{Ipv4Addr, Ipv6Addr};

/// What the checks need of an absolute URL, as a WHATWG URL parser serialises it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParsedUrl {
    /// The serialised URL (`href`).
    pub href: String,
    /// The scheme, lowercase, without `:`.
    pub scheme: String,
    /// The host (`hostname`): a domain (lowercase for http and https), an IPv4 address in
    /// dotted decimal, or an IPv6 address in brackets; empty when there is none.
    pub hostname: String,
    /// Whether the URL has a user name or a password.
    pub credentials: bool,
}

impl ParsedUrl {
    /// Whether the URL has a query (an empty one too). The serialisation escapes every `?` of
    /// the path and the credentials, so the first `?` before the fragment starts the query.
    pub fn has_query(&self) -> bool {
        self.before_fragment().contains('?')
    }

    /// Whether the URL has a fragment (an empty one too): the first `#` starts it.
    pub fn has_fragment(&self) -> bool {
        self.href.contains('#')
    }

    /// Whether the host is `localhost`, an address of `127.0.0.0/8` or `[::1]`.
    pub fn is_loopback(&self) -> bool {
        match self
            .hostname
            .strip_prefix('[')
            .and_then(|host| host.strip_suffix(']'))
        {
            Some(v6) => v6.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback()),
            None => {
                self.hostname == "localhost"
                    || self
                        .hostname
                        .parse::<Ipv4Addr>()
                        .is_ok_and(|ip| ip.is_loopback())
            }
        }
    }

    fn before_fragment(&self) -> &str {
        self.href.split('#').next().unwrap_or_default()
    }
}

/// A WHATWG URL parser.
pub trait UrlParser {
    /// `text` parsed as an absolute URL, or `None` when it is not one.
    fn parse_url(&self, text: &str) -> Option<ParsedUrl>;
}

/// The `url` crate's parser (native builds, the configuration checker, tests).
#[cfg(feature = "url")]
#[derive(Debug, Clone, Copy, Default)]
pub struct UrlCrate;

#[cfg(feature = "url")]
impl UrlParser for UrlCrate {
    fn parse_url(&self, text: &str) -> Option<ParsedUrl> {
        let url = url::Url::parse(text).ok()?;
        Some(ParsedUrl {
            href: url.as_str().to_owned(),
            scheme: url.scheme().to_owned(),
            hostname: url.host_str().unwrap_or_default().to_owned(),
            credentials: !url.username().is_empty() || url.password().is_some(),
        })
    }
}

#[cfg(all(test, feature = "url"))]
mod tests {
    use super::*;

    fn parsed(text: &str) -> ParsedUrl {
        UrlCrate.parse_url(text).expect(text)
    }

    #[test]
    fn query_and_fragment_are_read_from_the_serialisation() {
        for (text, query, fragment) in [
            ("https://a.example/p", false, false),
            ("https://a.example/p?", true, false),
            ("https://a.example/p?q=1", true, false),
            ("https://a.example/p#f", false, true),
            ("https://a.example/p#f?x", false, true),
            ("https://a.example/p?q#f", true, true),
            ("https://a.example/%3F", false, false),
            ("https://u%3F:p@a.example/", false, false),
        ] {
            let url = parsed(text);
            assert_eq!(url.has_query(), query, "{text}");
            assert_eq!(url.has_fragment(), fragment, "{text}");
        }
    }

    #[test]
    fn loopback_hosts() {
        for text in [
            "http://localhost/",
            "http://127.0.0.1:8080/",
            "http://127.1/",
            "http://[::1]/",
            "http://LOCALHOST/",
        ] {
            assert!(parsed(text).is_loopback(), "{text}");
        }
        for text in [
            "http://localhost.example/",
            "http://10.0.0.1/",
            "http://[::2]/",
            "http://128.0.0.1/",
        ] {
            assert!(!parsed(text).is_loopback(), "{text}");
        }
    }

    #[test]
    fn credentials_are_noticed() {
        assert!(parsed("https://u@a.example/").credentials);
        assert!(parsed("https://:p@a.example/").credentials);
        assert!(!parsed("https://a.example/").credentials);
    }
}
