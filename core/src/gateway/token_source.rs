//! Where a request's token comes from: the `Authorization` header (RFC 6750 section 2.1), or,
//! with `JWT_COOKIE`, one named cookie for browser clients; and what the origin receives of that
//! cookie.
//!
//! The rules, each failing closed:
//!
//! - one method per request (RFC 6750 section 2): a request with an `Authorization` header and
//!   the token cookie is refused with 400 `invalid_request`, whatever the header holds;
//! - the token cookie at most once, across every `Cookie` header: twice is ambiguous (400);
//! - an empty token cookie is a malformed request (400), never "no credentials";
//! - browsers attach cookies to requests that other sites make them send (CSRF): a token taken
//!   from the cookie is refused (400) on every method but `GET`, `HEAD` and `OPTIONS` when the
//!   request says it comes from elsewhere, by a `Sec-Fetch-Site` other than `same-origin` or
//!   `none`, or by an `Origin` other than the request's own (scheme, host and port); a bearer
//!   header is never refused for this, browsers do not attach it by themselves;
//! - without `JWT_COOKIE` cookies play no part: only the header is read, as before.
//!
//! Unless `JWT_COOKIE_FORWARD` is on, the origin never receives the token cookie: it is removed
//! from the `Cookie` header on every forwarded request (protected, public and preflight), and
//! every other cookie passes as received ([`strip_token_cookie`]).
//!
//! `Cookie` headers are split by [`cookie_pieces`], a small splitter of our own rather than the
//! `cookie` crate, which would add 12 KiB (gzip'd) to the Worker's module
//! (docs/decisions/0008-cookie-splitter.md).

use std::ops::Range;

use crate::gateway::answer::{bearer_token, GatewayError};
use crate::gateway::forward::HeaderEdits;
use crate::gateway::is_token;
use crate::gateway::pipeline::RequestView;

/// What a valid `JWT_COOKIE` looks like.
pub const COOKIE_NAME_RULE: &str =
    "a cookie name: HTTP token characters (letters, digits and !#$%&'*+-.^_`|~), as RFC 6265 \
     section 4.1.1 requires";

/// The 400 of a request that sends its token in two ways.
pub const BOTH_METHODS: &str =
    "a token in the Authorization header and in the token cookie: use one method only";
/// The 400 of a request with the token cookie more than once.
pub const COOKIE_REPEATED: &str = "the token cookie is sent more than once";
/// The 400 of a request with an empty token cookie.
pub const COOKIE_EMPTY: &str = "empty token cookie";
/// The 400 of a token cookie on a cross-site request that is not safe (CSRF).
pub const CROSS_SITE_COOKIE: &str =
    "a token cookie is not accepted on a cross-site request with this method; send the token \
     in the Authorization header";

/// Spaces and tabs: what RFC 6265 section 5.2 trims around a cookie's name and value.
const OWS: [char; 2] = [' ', '\t'];

/// `JWT_COOKIE` and `JWT_COOKIE_FORWARD`: the cookie that may carry the token, and whether the
/// origin receives it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenCookie {
    name: String,
    forward: bool,
}

impl TokenCookie {
    /// The cookie `name` (an RFC 6265 cookie-name: an HTTP token), passed on to the origin when
    /// `forward`; `None` when `name` is not a cookie name ([`COOKIE_NAME_RULE`]).
    pub fn new(name: &str, forward: bool) -> Option<TokenCookie> {
        is_token(name).then(|| TokenCookie {
            name: name.to_owned(),
            forward,
        })
    }

    /// The cookie's name, as configured (names are case-sensitive).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Whether the origin receives the cookie (`JWT_COOKIE_FORWARD`).
    pub fn forwarded(&self) -> bool {
        self.forward
    }

    /// The byte range of the token cookie's value in `header` (a `Cookie` header value, several
    /// joined with `, `): `None` when the cookie is absent, an error when it is there more than
    /// once or empty.
    pub fn find(&self, header: &str) -> Result<Option<Range<usize>>, GatewayError> {
        let mut found = None;
        for piece in cookie_pieces(header) {
            let Some((name, value)) = piece.pair() else {
                continue;
            };
            if name != self.name {
                continue;
            }
            if found.is_some() {
                return Err(GatewayError::InvalidRequest(COOKIE_REPEATED));
            }
            if value.is_empty() {
                return Err(GatewayError::InvalidRequest(COOKIE_EMPTY));
            }
            found = Some(span(header, value));
        }
        Ok(found)
    }

    /// What the origin receives instead of the `Cookie` header `header`: `None` when it may have
    /// it unchanged (the cookie is forwarded, or absent); otherwise the header without every
    /// piece that names the cookie, each other piece as received with the separator before it
    /// (the first without one), or no header at all when nothing else is left.
    pub fn strip(&self, header: &str) -> Option<CookieEdit> {
        if self.forward {
            return None;
        }
        let mut removed = false;
        let mut kept: Option<String> = None;
        for piece in cookie_pieces(header) {
            if piece.pair().is_some_and(|(name, _)| name == self.name) {
                removed = true;
                continue;
            }
            match &mut kept {
                None => kept = Some(piece.raw.trim_start_matches(OWS).to_owned()),
                Some(text) => {
                    text.extend(piece.separator);
                    text.push_str(piece.raw);
                }
            }
        }
        if !removed {
            return None;
        }
        let nothing = |text: &str| {
            text.chars()
                .all(|c| OWS.contains(&c) || c == ';' || c == ',')
        };
        Some(match kept {
            Some(text) if !nothing(&text) => CookieEdit::Replace(text),
            _ => CookieEdit::Delete,
        })
    }
}

/// The change a forwarded request's `Cookie` header needs ([`TokenCookie::strip`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CookieEdit {
    /// No cookie is left: no `Cookie` header.
    Delete,
    /// One `Cookie` header with this value instead of the client's.
    Replace(String),
}

impl CookieEdit {
    /// Adds the change to `edits`. A header the edits delete already (named by `Connection`)
    /// stays deleted.
    pub fn apply(self, edits: &mut HeaderEdits) {
        if edits.delete.iter().any(|name| name == "cookie") {
            return;
        }
        edits.delete.push("cookie".to_owned());
        if let CookieEdit::Replace(value) = self {
            edits.set.push(("cookie".to_owned(), value));
        }
    }
}

/// Removes the token cookie from what the origin receives, unless `JWT_COOKIE_FORWARD`:
/// `cookie` is the policy (`None` without `JWT_COOKIE`: nothing is done and no header is read),
/// `header` reads the request's `Cookie` header.
pub fn strip_token_cookie(
    edits: &mut HeaderEdits,
    cookie: Option<&TokenCookie>,
    header: impl FnOnce() -> Option<String>,
) {
    let Some(cookie) = cookie.filter(|cookie| !cookie.forwarded()) else {
        return;
    };
    if let Some(edit) = header().and_then(|header| cookie.strip(&header)) {
        edit.apply(edits);
    }
}

/// One piece of a `Cookie` header value: the text between two separators.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookiePiece<'a> {
    /// The separator before it, `;` or `,`; `None` for the first piece.
    pub separator: Option<char>,
    /// The text as received, spaces included.
    pub raw: &'a str,
}

impl<'a> CookiePiece<'a> {
    /// The cookie's name and value, each without the spaces and tabs around it (RFC 6265
    /// section 5.2), the name up to the first `=`; `None` for a piece without `=`, which names
    /// no cookie.
    pub fn pair(&self) -> Option<(&'a str, &'a str)> {
        let (name, value) = self.raw.split_once('=')?;
        Some((name.trim_matches(OWS), value.trim_matches(OWS)))
    }
}

/// The pieces of a `Cookie` header value, split at every `;` (RFC 6265 section 4.2.1:
/// cookie-pairs separated by `"; "`) and at every `,`: the runtime joins several `Cookie`
/// header fields with `", "` (the Fetch standard's `get`), and neither a cookie-name (a token)
/// nor a cookie-value (section 4.1.1) may contain a comma. A value that does (servers that
/// ignore section 4.1.1) is read as several pieces: what follows the comma is looked at as a
/// cookie of its own, so a token cookie can never hide inside another cookie's value.
pub fn cookie_pieces(header: &str) -> impl Iterator<Item = CookiePiece<'_>> {
    let mut rest = Some(header);
    let mut separator = None;
    std::iter::from_fn(move || {
        let text = rest?;
        let piece_separator = separator;
        match text.find([';', ',']) {
            Some(at) => {
                separator = text[at..].chars().next();
                rest = Some(&text[at + 1..]);
                Some(CookiePiece {
                    separator: piece_separator,
                    raw: &text[..at],
                })
            }
            None => {
                rest = None;
                Some(CookiePiece {
                    separator: piece_separator,
                    raw: text,
                })
            }
        }
    })
}

/// Where a request's token came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TokenSource {
    /// `Authorization: Bearer <token>`.
    Header,
    /// The `JWT_COOKIE` cookie.
    Cookie,
}

/// A request's token, kept inside the header value it was read from (no copy).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    text: String,
    token: Range<usize>,
    source: TokenSource,
}

impl Credential {
    /// The token.
    pub fn token(&self) -> &str {
        &self.text[self.token.clone()]
    }

    /// Where it came from.
    pub fn source(&self) -> TokenSource {
        self.source
    }
}

/// The request's token, by the rules of the [module documentation](self): from the
/// `Authorization` header, or from the `cookie` (`JWT_COOKIE`, when configured). Errors:
/// [`GatewayError::NoCredentials`] when there is neither, [`GatewayError::InvalidRequest`] for
/// both, a repeated or empty cookie, a cookie on an unsafe cross-site request, or a header that
/// is not one bearer token.
pub fn read(
    req: &impl RequestView,
    cookie: Option<&TokenCookie>,
) -> Result<Credential, GatewayError> {
    let authorization = req.header("authorization");
    let from_cookie = match cookie {
        Some(cookie) => match req.header("cookie") {
            Some(header) => cookie.find(&header)?.map(|token| (header, token)),
            None => None,
        },
        None => None,
    };
    match (authorization, from_cookie) {
        (Some(_), Some(_)) => Err(GatewayError::InvalidRequest(BOTH_METHODS)),
        (None, Some((text, token))) => {
            refuse_cross_site(req)?;
            Ok(Credential {
                text,
                token,
                source: TokenSource::Cookie,
            })
        }
        (header, None) => {
            let text = header.ok_or(GatewayError::NoCredentials)?;
            let token = span(&text, bearer_token(Some(&text))?);
            Ok(Credential {
                text,
                token,
                source: TokenSource::Header,
            })
        }
    }
}

/// Refuses a cookie token on a request that is neither safe nor shown to come from the
/// gateway's own origin (the CSRF rule of the [module documentation](self)).
fn refuse_cross_site(req: &impl RequestView) -> Result<(), GatewayError> {
    if matches!(req.method(), "GET" | "HEAD" | "OPTIONS") {
        return Ok(());
    }
    let other_site = req.header("sec-fetch-site").is_some_and(|site| {
        !site.eq_ignore_ascii_case("same-origin") && !site.eq_ignore_ascii_case("none")
    });
    let other_origin = req
        .header("origin")
        .is_some_and(|origin| !is_own_origin(&origin, req.scheme(), req.host()));
    if other_site || other_origin {
        return Err(GatewayError::InvalidRequest(CROSS_SITE_COOKIE));
    }
    Ok(())
}

/// Whether an `Origin` header value is `scheme://host` (host with its port, if not the
/// default): an origin as browsers serialise it (RFC 6454 section 6.2), compared without case.
/// `null`, a path, a default port written out, anything else: not the request's origin.
fn is_own_origin(origin: &str, scheme: &str, host: &str) -> bool {
    // Split at the first ':' (a scheme holds none), then "//": the same as at the first "://"
    // for any origin whose scheme could be the request's.
    origin
        .split_once(':')
        .and_then(|(their_scheme, rest)| Some((their_scheme, rest.strip_prefix("//")?)))
        .is_some_and(|(their_scheme, their_host)| {
            their_scheme.eq_ignore_ascii_case(scheme) && their_host.eq_ignore_ascii_case(host)
        })
}

/// Where `inner` (a slice of `outer`) lies in `outer`.
fn span(outer: &str, inner: &str) -> Range<usize> {
    let start = inner.as_ptr() as usize - outer.as_ptr() as usize;
    start..start + inner.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A request as the pipeline sees it, for these tests.
    struct Req {
        method: &'static str,
        headers: Vec<(&'static str, String)>,
    }

    impl Req {
        fn new(method: &'static str) -> Req {
            Req {
                method,
                headers: Vec::new(),
            }
        }

        fn with(mut self, name: &'static str, value: &str) -> Req {
            self.headers.push((name, value.to_owned()));
            self
        }
    }

    impl RequestView for Req {
        fn method(&self) -> &str {
            self.method
        }
        fn path(&self) -> &str {
            "/orders"
        }
        fn query(&self) -> Option<&str> {
            None
        }
        fn scheme(&self) -> &str {
            "https"
        }
        fn host(&self) -> &str {
            "api.example.com"
        }
        fn header(&self, name: &str) -> Option<String> {
            let values: Vec<&str> = self
                .headers
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
                .collect();
            (!values.is_empty()).then(|| values.join(", "))
        }
    }

    fn cookie(forward: bool) -> TokenCookie {
        TokenCookie::new("__Host-token", forward).unwrap()
    }

    fn read_with(req: &Req) -> Result<(TokenSource, String), GatewayError> {
        read(req, Some(&cookie(false))).map(|c| (c.source(), c.token().to_owned()))
    }

    fn refused(why: &'static str) -> Result<(TokenSource, String), GatewayError> {
        Err(GatewayError::InvalidRequest(why))
    }

    #[test]
    fn cookie_names_are_http_tokens() {
        for good in ["token", "__Host-token", "a.b", "x!#$%&'*+-.^_`|~9"] {
            assert_eq!(TokenCookie::new(good, false).unwrap().name(), good);
        }
        for bad in [
            "", "a b", "a=b", "a;b", "a,b", "a\"b", "é", "a\tb", "(a)", "a/b",
        ] {
            assert_eq!(TokenCookie::new(bad, false), None, "{bad:?}");
        }
    }

    #[test]
    fn pieces_split_at_semicolons_and_commas_keeping_their_text() {
        let pieces: Vec<(Option<char>, &str)> = cookie_pieces("a=1; b = 2 ,c=3;;d")
            .map(|p| (p.separator, p.raw))
            .collect();
        assert_eq!(
            pieces,
            [
                (None, "a=1"),
                (Some(';'), " b = 2 "),
                (Some(','), "c=3"),
                (Some(';'), ""),
                (Some(';'), "d"),
            ]
        );
        let pairs: Vec<Option<(&str, &str)>> = cookie_pieces("a=1; b = 2 ;d; e=x=y;\tf\t=")
            .map(|p| p.pair())
            .collect();
        assert_eq!(
            pairs,
            [
                Some(("a", "1")),
                Some(("b", "2")),
                None,
                Some(("e", "x=y")),
                Some(("f", "")),
            ]
        );
        assert_eq!(cookie_pieces("").count(), 1);
    }

    #[test]
    fn the_header_alone_is_read_as_before() {
        let req = Req::new("GET").with("authorization", "Bearer a.b.c");
        assert_eq!(
            read(&req, None).map(|c| c.token().to_owned()),
            Ok("a.b.c".to_owned())
        );
        // Without JWT_COOKIE a cookie plays no part, even one named like a token.
        let req = req.with("cookie", "__Host-token=x.y.z");
        assert_eq!(read(&req, None).unwrap().token(), "a.b.c");
        let only_cookie = Req::new("GET").with("cookie", "__Host-token=x.y.z");
        assert_eq!(
            read(&only_cookie, None).unwrap_err(),
            GatewayError::NoCredentials
        );
        for bad in ["Basic x", "Bearer", "Bearer a b"] {
            let req = Req::new("GET").with("authorization", bad);
            assert!(
                matches!(read_with(&req), Err(GatewayError::InvalidRequest(_))),
                "{bad}"
            );
        }
    }

    #[test]
    fn the_token_cookie_is_read_among_others() {
        for header in [
            "__Host-token=x.y.z",
            "a=1; __Host-token=x.y.z; b=2",
            "a=1;__Host-token = x.y.z ;b=2",
            "a=1, __Host-token=x.y.z",
            "__host-token=other; __Host-token=x.y.z; __Host-tokens=other",
        ] {
            let req = Req::new("GET").with("cookie", header);
            assert_eq!(
                read_with(&req),
                Ok((TokenSource::Cookie, "x.y.z".to_owned())),
                "{header}"
            );
        }
        // Absent: no credentials, as without a header.
        for header in [
            "a=1",
            "__Host-tokenx=1",
            "__host-token=1",
            "x=__Host-token=1",
        ] {
            let req = Req::new("GET").with("cookie", header);
            assert_eq!(
                read_with(&req),
                Err(GatewayError::NoCredentials),
                "{header}"
            );
        }
        assert_eq!(
            read_with(&Req::new("GET")),
            Err(GatewayError::NoCredentials)
        );
    }

    #[test]
    fn both_methods_are_refused() {
        for authorization in ["Bearer a.b.c", "Basic x", "Bearer"] {
            let req = Req::new("GET")
                .with("authorization", authorization)
                .with("cookie", "a=1; __Host-token=x.y.z");
            assert_eq!(read_with(&req), refused(BOTH_METHODS), "{authorization}");
        }
        // Another cookie beside a bearer header is no second method.
        let req = Req::new("GET")
            .with("authorization", "Bearer a.b.c")
            .with("cookie", "a=1; token=x.y.z");
        assert_eq!(
            read_with(&req),
            Ok((TokenSource::Header, "a.b.c".to_owned()))
        );
    }

    #[test]
    fn a_repeated_or_empty_token_cookie_is_refused() {
        for header in [
            "__Host-token=a.b.c; __Host-token=a.b.c",
            "__Host-token=a.b.c; x=1; __Host-token=d.e.f",
            "__Host-token=a.b.c, __Host-token=d.e.f",
            "x=1,__Host-token=a.b.c;__Host-token=",
        ] {
            let req = Req::new("GET").with("cookie", header);
            assert_eq!(read_with(&req), refused(COOKIE_REPEATED), "{header}");
        }
        // Two Cookie headers, as the runtime joins them.
        let req = Req::new("GET")
            .with("cookie", "__Host-token=a.b.c")
            .with("cookie", "x=1; __Host-token=a.b.c");
        assert_eq!(read_with(&req), refused(COOKIE_REPEATED));
        for header in ["__Host-token=", "__Host-token= ", "a=1; __Host-token=;b=2"] {
            let req = Req::new("GET").with("cookie", header);
            assert_eq!(read_with(&req), refused(COOKIE_EMPTY), "{header:?}");
        }
    }

    #[test]
    fn a_cookie_token_on_an_unsafe_cross_site_request_is_refused() {
        let with_cookie =
            |method: &'static str| Req::new(method).with("cookie", "__Host-token=x.y.z");
        let ok = Ok((TokenSource::Cookie, "x.y.z".to_owned()));
        for method in ["POST", "PUT", "PATCH", "DELETE", "TRACE", "get", "PROPFIND"] {
            for (name, value) in [
                ("sec-fetch-site", "cross-site"),
                ("sec-fetch-site", "same-site"),
                ("sec-fetch-site", "Cross-Site"),
                ("sec-fetch-site", "something-new"),
                ("origin", "https://evil.example"),
                ("origin", "null"),
                ("origin", "http://api.example.com"),
                ("origin", "https://api.example.com:8443"),
                ("origin", "https://api.example.com:443"),
                ("origin", "https://api.example.com/"),
                ("origin", "https://sub.api.example.com"),
            ] {
                let req = with_cookie(method).with(name, value);
                assert_eq!(
                    read_with(&req),
                    refused(CROSS_SITE_COOKIE),
                    "{method} {name}: {value}"
                );
            }
            // Both signs of the own origin, or none at all (not a browser): accepted.
            let same = with_cookie(method)
                .with("sec-fetch-site", "same-origin")
                .with("origin", "https://API.example.com");
            assert_eq!(read_with(&same), ok, "{method}");
            assert_eq!(read_with(&with_cookie(method)), ok, "{method}");
            let typed = with_cookie(method).with("sec-fetch-site", "none");
            assert_eq!(read_with(&typed), ok, "{method}");
            // Same-origin by one header, another origin by the other: refused.
            let mixed = with_cookie(method)
                .with("sec-fetch-site", "same-origin")
                .with("origin", "https://evil.example");
            assert_eq!(read_with(&mixed), refused(CROSS_SITE_COOKIE), "{method}");
            // Two Origin headers arrive joined: not the own origin.
            let twice = with_cookie(method)
                .with("origin", "https://api.example.com")
                .with("origin", "https://api.example.com");
            assert_eq!(read_with(&twice), refused(CROSS_SITE_COOKIE), "{method}");
        }
        // Safe methods are not refused: they change nothing (and SameSite covers the rest).
        for method in ["GET", "HEAD", "OPTIONS"] {
            let req = with_cookie(method)
                .with("sec-fetch-site", "cross-site")
                .with("origin", "https://evil.example");
            assert_eq!(read_with(&req), ok, "{method}");
        }
        // A bearer header is never refused for where the request came from.
        let req = Req::new("POST")
            .with("authorization", "Bearer a.b.c")
            .with("sec-fetch-site", "cross-site")
            .with("origin", "https://evil.example");
        assert_eq!(
            read_with(&req),
            Ok((TokenSource::Header, "a.b.c".to_owned()))
        );
    }

    fn stripped(header: &str) -> Option<CookieEdit> {
        cookie(false).strip(header)
    }

    #[test]
    fn stripping_removes_the_token_cookie_and_keeps_every_other_as_received() {
        let replaced = |text: &str| Some(CookieEdit::Replace(text.to_owned()));
        assert_eq!(
            stripped("a=1; __Host-token=x.y.z; b=2"),
            replaced("a=1; b=2")
        );
        assert_eq!(stripped("__Host-token=x.y.z; a=1"), replaced("a=1"));
        assert_eq!(stripped("a=1;__Host-token=x.y.z"), replaced("a=1"));
        assert_eq!(
            stripped("a=\"q r\";  b= 2 ;__Host-token=x.y.z; c=%20"),
            replaced("a=\"q r\";  b= 2 ; c=%20")
        );
        assert_eq!(
            stripped("a=1, __Host-token=x.y.z, b=2"),
            replaced("a=1, b=2")
        );
        assert_eq!(
            stripped("__Host-token=x; __Host-token=y; a=1; __host-token=z"),
            replaced("a=1; __host-token=z")
        );
        assert_eq!(stripped("a=1; __Host-token=x;"), replaced("a=1;"));
        // Nothing else left: no Cookie header.
        for header in [
            "__Host-token=x.y.z",
            " __Host-token=x ; ",
            "__Host-token=, __Host-token=y",
        ] {
            assert_eq!(stripped(header), Some(CookieEdit::Delete), "{header:?}");
        }
        // Without the cookie the header passes untouched.
        for header in ["a=1; b=2", "", "__Host-tokens=1", "x=__Host-token=1"] {
            assert_eq!(stripped(header), None, "{header:?}");
        }
        // JWT_COOKIE_FORWARD: untouched.
        assert_eq!(cookie(true).strip("a=1; __Host-token=x.y.z"), None);
    }

    #[test]
    fn the_edit_replaces_every_cookie_header_once() {
        let apply = |incoming: &[(&str, &str)], policy: Option<&TokenCookie>| {
            let incoming: Vec<(String, String)> = incoming
                .iter()
                .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
                .collect();
            let names: Vec<&str> = incoming.iter().map(|(n, _)| n.as_str()).collect();
            let mut edits = HeaderEdits {
                delete: names
                    .iter()
                    .filter(|n| n.eq_ignore_ascii_case("x-drop"))
                    .map(|n| n.to_ascii_lowercase())
                    .collect(),
                set: Vec::new(),
            };
            let joined: Vec<&str> = incoming
                .iter()
                .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
                .map(|(_, v)| v.as_str())
                .collect();
            let header = (!joined.is_empty()).then(|| joined.join(", "));
            strip_token_cookie(&mut edits, policy, || header);
            edits.apply(&incoming)
        };
        let pair = |n: &str, v: &str| (n.to_owned(), v.to_owned());
        let strip = cookie(false);
        assert_eq!(
            apply(
                &[
                    ("Cookie", "a=1; __Host-token=x.y.z"),
                    ("Accept", "*/*"),
                    ("cookie", "b=2")
                ],
                Some(&strip)
            ),
            [pair("accept", "*/*"), pair("cookie", "a=1, b=2")]
        );
        assert_eq!(
            apply(&[("Cookie", "__Host-token=x.y.z")], Some(&strip)),
            Vec::<(String, String)>::new()
        );
        // Without JWT_COOKIE, or with JWT_COOKIE_FORWARD, the header is never read.
        for policy in [None, Some(&cookie(true))] {
            let mut edits = HeaderEdits::default();
            strip_token_cookie(&mut edits, policy, || panic!("the header was read"));
            assert_eq!(edits, HeaderEdits::default());
        }
        // A Cookie header named by Connection stays deleted.
        let mut edits = HeaderEdits {
            delete: vec!["cookie".to_owned()],
            set: Vec::new(),
        };
        strip_token_cookie(&mut edits, Some(&strip), || {
            Some("a=1; __Host-token=x".to_owned())
        });
        assert!(edits.set.is_empty(), "{edits:?}");
    }
}
