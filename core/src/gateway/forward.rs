//! The request the gateway sends to the origin: its URL and its headers.
//!
//! The method and the body pass through unchanged; the headers are the client's, minus what is
//! per-connection or could forge an identity or the gateway's secret, plus the `X-Forwarded-*`
//! headers, the verified identity ([`crate::gateway::identity`]) and the origin secret
//! ([`crate::gateway::origin_auth`]).

use crate::gateway::client_headers::{same_name, stripped};
use crate::gateway::identity::ClaimHeader;
use crate::gateway::origin_auth::OriginAuth;

/// The headers the gateway rebuilds from what it knows of the client's connection.
const X_FORWARDED_FOR: &str = "x-forwarded-for";
const X_FORWARDED_PROTO: &str = "x-forwarded-proto";
const X_FORWARDED_HOST: &str = "x-forwarded-host";
const X_REAL_IP: &str = "x-real-ip";

/// The origin URL for a request: `origin` (`ORIGIN_URL`, normalised without a trailing `/`)
/// followed by `path_and_query` as given: the request's [canonical path](crate::gateway::path) (the one
/// its rules were checked against) and its query as received. A `path_and_query` that does not
/// start with `/` (it always should) gets one.
pub fn origin_url(origin: &str, path_and_query: &str) -> String {
    if path_and_query.starts_with('/') {
        format!("{origin}{path_and_query}")
    } else {
        format!("{origin}/{path_and_query}")
    }
}

/// What the gateway knows about the client's connection.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientInfo {
    /// The client's IP address (`CF-Connecting-IP`), if known.
    pub ip: Option<String>,
    /// The scheme the client used, without `:` (`https`).
    pub proto: String,
    /// The host the client asked for (the request URL's host, with a port if any).
    pub host: String,
}

/// The headers for the origin request, names lowercase, built from the client's `incoming`
/// headers (names in any case).
///
/// Every incoming header is kept, in order, except those on the
/// [one list](crate::gateway::client_headers) of headers origins act on (compared by normalised name,
/// so `X_Auth_Subject` is `X-Auth-Subject`): hop-by-hop headers and every header the incoming
/// `Connection` header(s) name, `Host`, client-address headers (`Forwarded`, `X-Forwarded-*`,
/// `X-Real-IP`, `True-Client-IP`...), method overrides, path rewrites, and the identity headers
/// (`X-Auth-*` and every `CLAIM_HEADERS` name), which only the gateway may set, and the origin
/// secret's header (`ORIGIN_AUTH_HEADER`), whether or not a secret is configured.
///
/// `authorization` is kept: the origin may verify the token itself. `content-length` is kept:
/// the body is streamed to the origin unchanged, so its length still holds.
///
/// Then come the rebuilt headers: `x-forwarded-for` is the incoming chain (all values, in
/// order) with `client.ip` appended, or `client.ip` alone; without a client IP it is omitted
/// altogether, since origins trust the last entry as the one their proxy added. `x-real-ip` is
/// `client.ip` (omitted without one). Then `x-forwarded-proto` (`client.proto`) and
/// `x-forwarded-host` (`client.host`), then `identity`
/// ([`crate::gateway::identity::identity_headers`]) as given, with names lowercased, and last
/// the origin secret when `origin_auth` has one.
pub fn forwarded_headers(
    incoming: &[(String, String)],
    client: &ClientInfo,
    claim_headers: &[ClaimHeader],
    identity: &[(String, String)],
    origin_auth: &OriginAuth,
) -> Vec<(String, String)> {
    let joined = |wanted: &str| {
        let values: Vec<&str> = incoming
            .iter()
            .filter(|(name, _)| name.eq_ignore_ascii_case(wanted))
            .map(|(_, value)| value.as_str())
            .collect();
        (!values.is_empty()).then(|| values.join(","))
    };
    let names: Vec<&str> = incoming.iter().map(|(name, _)| name.as_str()).collect();
    let edits = header_edits(
        &names,
        joined("connection").as_deref(),
        joined(X_FORWARDED_FOR).as_deref(),
        client,
        claim_headers,
        identity,
        origin_auth,
    );
    edits.apply(incoming)
}

/// What turns a copy of the client's headers into the origin request's headers, as
/// [`forwarded_headers`] describes: the names to delete, then the headers to set, in order.
/// This form lets the Worker copy the headers natively and touch only what changes.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HeaderEdits {
    /// Lowercase names to delete from the copy.
    pub delete: Vec<String>,
    /// Headers to set afterwards (lowercase names).
    pub set: Vec<(String, String)>,
}

impl HeaderEdits {
    /// The `incoming` headers (names in any case) with the edits applied, names lowercase: what
    /// the Worker sends after copying the client's headers natively.
    pub fn apply(self, incoming: &[(String, String)]) -> Vec<(String, String)> {
        let mut headers: Vec<(String, String)> = incoming
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone()))
            .filter(|(name, _)| !self.delete.contains(name))
            .collect();
        headers.extend(self.set);
        headers
    }

    /// The edits for a request forwarded without its body (a CORS preflight): its framing
    /// headers go too, so the origin never waits for a body that does not come.
    pub fn without_body(mut self) -> HeaderEdits {
        for name in ["content-length", "content-type", "content-encoding"] {
            if !self.delete.iter().any(|listed| listed == name) {
                self.delete.push(name.to_owned());
            }
        }
        self
    }
}

/// The [`HeaderEdits`] for a request whose header `names` (any case) include the given
/// `connection` and `x_forwarded_for` values (each the comma-joined values of that header).
pub fn header_edits(
    names: &[&str],
    connection: Option<&str>,
    x_forwarded_for: Option<&str>,
    client: &ClientInfo,
    claim_headers: &[ClaimHeader],
    identity: &[(String, String)],
    origin_auth: &OriginAuth,
) -> HeaderEdits {
    let connection_listed: Vec<&str> = connection
        .into_iter()
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|option| !option.is_empty())
        .collect();
    let mut delete: Vec<String> = Vec::new();
    for name in names {
        let dropped = stripped(name, claim_headers).is_some()
            || same_name(name, origin_auth.header())
            || connection_listed
                .iter()
                .any(|listed| same_name(listed, name));
        if dropped {
            let lower = name.to_ascii_lowercase();
            if !delete.contains(&lower) {
                delete.push(lower);
            }
        }
    }

    let mut set = Vec::new();
    if let Some(ip) = &client.ip {
        let mut chain: Vec<&str> = x_forwarded_for
            .into_iter()
            .flat_map(|value| value.split(','))
            .map(str::trim)
            .filter(|entry| !entry.is_empty())
            .collect();
        chain.push(ip);
        set.push((X_FORWARDED_FOR.to_owned(), chain.join(", ")));
        set.push((X_REAL_IP.to_owned(), ip.clone()));
    }
    set.push((X_FORWARDED_PROTO.to_owned(), client.proto.clone()));
    set.push((X_FORWARDED_HOST.to_owned(), client.host.clone()));
    set.extend(
        identity
            .iter()
            .map(|(name, value)| (name.to_ascii_lowercase(), value.clone())),
    );
    set.extend(origin_auth.header_to_send());
    HeaderEdits { delete, set }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::gateway::client_headers::{Stripped, STRIPPED_HEADERS};
    use crate::gateway::identity::identity_headers;
    use serde_json::{json, Map, Value};

    fn pairs(items: &[(&str, &str)]) -> Vec<(String, String)> {
        items
            .iter()
            .map(|(n, v)| ((*n).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn client(ip: Option<&str>) -> ClientInfo {
        ClientInfo {
            ip: ip.map(str::to_owned),
            proto: "https".to_owned(),
            host: "api.example.com".to_owned(),
        }
    }

    fn entry(path: &str, header: &str) -> ClaimHeader {
        ClaimHeader {
            claim: path.split('.').map(str::to_owned).collect(),
            header: header.to_owned(),
        }
    }

    fn values<'a>(headers: &'a [(String, String)], name: &str) -> Vec<&'a str> {
        headers
            .iter()
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }

    /// The headers the gateway sets from the client's connection, in order, when it knows the
    /// client's address.
    const REBUILT: [&str; 4] = [
        "x-forwarded-for",
        "x-real-ip",
        "x-forwarded-proto",
        "x-forwarded-host",
    ];

    fn names(headers: &[(String, String)]) -> Vec<&str> {
        headers.iter().map(|(n, _)| n.as_str()).collect()
    }

    fn forward(incoming: &[(&str, &str)]) -> Vec<(String, String)> {
        forward_to(&OriginAuth::default(), incoming, &[])
    }

    /// `incoming` from a client with an address, forwarded with `auth` and the verified
    /// `identity`.
    fn forward_to(
        auth: &OriginAuth,
        incoming: &[(&str, &str)],
        identity: &[(&str, &str)],
    ) -> Vec<(String, String)> {
        forwarded_headers(
            &pairs(incoming),
            &client(Some("203.0.113.7")),
            &[],
            &pairs(identity),
            auth,
        )
    }

    #[test]
    fn the_origin_url_appends_path_and_query_as_received() {
        let origin = "https://orders.internal.example.com";
        assert_eq!(
            origin_url(origin, "/orders/42?expand=items&x=%2F"),
            "https://orders.internal.example.com/orders/42?expand=items&x=%2F"
        );
        assert_eq!(origin_url(origin, "/"), format!("{origin}/"));
        assert_eq!(
            origin_url("https://h.example/base", "/a%20b/../c"),
            "https://h.example/base/a%20b/../c"
        );
        assert_eq!(origin_url(origin, "?q=1"), format!("{origin}/?q=1"));
        assert_eq!(origin_url(origin, ""), format!("{origin}/"));
    }

    #[test]
    fn ordinary_headers_pass_in_order_with_lowercase_names() {
        let headers = forward(&[
            ("Accept", "application/json"),
            ("Content-Type", "application/json"),
            ("X-Request-Id", "abc"),
            ("Accept", "text/plain"),
        ]);
        assert_eq!(
            &headers[..4],
            pairs(&[
                ("accept", "application/json"),
                ("content-type", "application/json"),
                ("x-request-id", "abc"),
                ("accept", "text/plain"),
            ])
        );
    }

    #[test]
    fn authorization_and_content_length_are_kept() {
        let headers = forward(&[("Authorization", "Bearer a.b.c"), ("Content-Length", "12")]);
        assert_eq!(values(&headers, "authorization"), ["Bearer a.b.c"]);
        assert_eq!(values(&headers, "content-length"), ["12"]);
    }

    #[test]
    fn hop_by_hop_headers_and_host_are_dropped() {
        let mut incoming: Vec<(&str, &str)> = STRIPPED_HEADERS
            .iter()
            .filter(|(_, why)| *why == Stripped::HopByHop)
            .map(|(n, _)| (*n, "x"))
            .collect();
        incoming.extend([
            ("Connection", "close"),
            ("Keep-Alive", "timeout=5"),
            ("TE", "trailers"),
            ("Transfer-Encoding", "chunked"),
            ("Upgrade", "websocket"),
            ("Proxy-Authorization", "Basic Zm9vOmJhcg=="),
            ("Host", "evil.example"),
            ("HOST", "evil.example"),
            ("Accept", "*/*"),
        ]);
        let headers = forward(&incoming);
        assert_eq!(names(&headers), [&["accept"][..], &REBUILT].concat());
    }

    #[test]
    fn headers_named_by_connection_are_dropped() {
        let headers = forward(&[
            ("X-Foo", "1"),
            ("Connection", "keep-alive, X-Foo ,, x-bar"),
            ("X-Bar", "2"),
            ("connection", "X-Baz"),
            ("x-baz", "3"),
            ("X-Foobar", "4"),
        ]);
        assert!(values(&headers, "x-foo").is_empty());
        assert!(values(&headers, "x-bar").is_empty());
        assert!(values(&headers, "x-baz").is_empty());
        assert_eq!(values(&headers, "x-foobar"), ["4"]);
        assert!(values(&headers, "connection").is_empty());
    }

    #[test]
    fn the_client_ip_is_appended_to_x_forwarded_for() {
        let headers = forward(&[("X-Forwarded-For", "198.51.100.1, 10.0.0.1")]);
        assert_eq!(
            values(&headers, "x-forwarded-for"),
            ["198.51.100.1, 10.0.0.1, 203.0.113.7"]
        );
        // Several incoming headers form one chain, in order; empty entries vanish.
        let headers = forward(&[
            ("x-forwarded-for", "198.51.100.1"),
            ("Accept", "*/*"),
            ("X-FORWARDED-FOR", " 10.0.0.1 ,, "),
        ]);
        assert_eq!(
            values(&headers, "x-forwarded-for"),
            ["198.51.100.1, 10.0.0.1, 203.0.113.7"]
        );
        assert_eq!(values(&forward(&[]), "x-forwarded-for"), ["203.0.113.7"]);
        assert_eq!(
            values(&forward(&[("X-Forwarded-For", " ")]), "x-forwarded-for"),
            ["203.0.113.7"]
        );
    }

    #[test]
    fn without_a_client_ip_there_is_no_x_forwarded_for() {
        for incoming in [vec![], pairs(&[("X-Forwarded-For", "198.51.100.1")])] {
            let headers =
                forwarded_headers(&incoming, &client(None), &[], &[], &OriginAuth::default());
            assert!(
                values(&headers, "x-forwarded-for").is_empty(),
                "{headers:?}"
            );
            assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
        }
    }

    #[test]
    fn proto_and_host_are_replaced() {
        let headers = forward(&[
            ("X-Forwarded-Proto", "http"),
            ("X-Forwarded-Host", "evil.example"),
            ("x-forwarded-host", "evil2.example"),
        ]);
        assert_eq!(values(&headers, "x-forwarded-proto"), ["https"]);
        assert_eq!(values(&headers, "x-forwarded-host"), ["api.example.com"]);
        assert_eq!(headers.len(), 4);
    }

    #[test]
    fn a_spoofed_identity_is_replaced_by_the_verified_one() {
        let claims: Map<String, Value> = match json!({"sub": "alice", "email": "a@example.com"}) {
            Value::Object(map) => map,
            _ => unreachable!(),
        };
        let config = [entry("email", "X-User-Email")];
        let identity = identity_headers(&claims, &config);
        let headers = forwarded_headers(
            &pairs(&[
                ("X-Auth-Subject", "admin"),
                ("x-auth-subject", "root"),
                ("X-AUTH-ROLES", "admin"),
                ("X-Auth-Claims", "eyJzdWIiOiJhZG1pbiJ9"),
                ("X-User-Email", "boss@example.com"),
                ("Accept", "*/*"),
            ]),
            &client(Some("203.0.113.7")),
            &config,
            &identity,
            &OriginAuth::default(),
        );
        assert_eq!(values(&headers, "x-auth-subject"), ["alice"]);
        assert!(values(&headers, "x-auth-roles").is_empty());
        assert_eq!(values(&headers, "x-user-email"), ["a@example.com"]);
        assert_eq!(values(&headers, "x-auth-claims").len(), 1);
        assert_ne!(values(&headers, "x-auth-claims"), ["eyJzdWIiOiJhZG1pbiJ9"]);
        // The identity comes last, after the rebuilt X-Forwarded-* headers.
        let identity = ["x-auth-subject", "x-auth-claims", "x-user-email"];
        assert_eq!(
            names(&headers),
            [&["accept"][..], &REBUILT, &identity].concat()
        );
    }

    #[test]
    fn configured_claim_header_names_are_stripped_even_without_the_claim() {
        // The token has no `email`: the client's header must not survive in its place.
        let config = [entry("email", "X-User-Email"), entry("tenant", "Tenant")];
        let headers = forwarded_headers(
            &pairs(&[("x-user-email", "boss@example.com"), ("TENANT", "acme")]),
            &client(None),
            &config,
            &[],
            &OriginAuth::default(),
        );
        assert!(values(&headers, "x-user-email").is_empty());
        assert!(values(&headers, "tenant").is_empty());
    }

    #[test]
    fn identity_names_are_lowercased() {
        let headers = forwarded_headers(
            &[],
            &client(None),
            &[],
            &pairs(&[("X-Auth-Subject", "alice")]),
            &OriginAuth::default(),
        );
        assert_eq!(values(&headers, "x-auth-subject"), ["alice"]);
    }

    #[test]
    fn headers_origins_act_on_never_pass_in_any_spelling() {
        let config = [entry("email", "X-User-Email")];
        let incoming = pairs(&[
            ("X-Auth_Subject", "admin"),
            ("X_Auth_Subject", "admin"),
            ("x_user_email", "boss@example.com"),
            ("X-HTTP-Method-Override", "DELETE"),
            ("X-HTTP-Method", "DELETE"),
            ("X-Method-Override", "DELETE"),
            ("X_HTTP_Method_Override", "DELETE"),
            ("X-Original-URL", "/admin"),
            ("X-Rewrite-URL", "/admin"),
            ("X-Forwarded-Prefix", "/admin"),
            ("X-Real-IP", "10.0.0.1"),
            ("True-Client-IP", "10.0.0.1"),
            ("X_Forwarded_For", "10.0.0.1"),
            ("X-Forwarded-Port", "443"),
            ("Accept", "*/*"),
        ]);
        let identity = pairs(&[("x-auth-subject", "alice")]);
        let headers = forwarded_headers(
            &incoming,
            &client(Some("203.0.113.7")),
            &config,
            &identity,
            &OriginAuth::default(),
        );
        assert_eq!(
            headers,
            pairs(&[
                ("accept", "*/*"),
                ("x-forwarded-for", "203.0.113.7"),
                ("x-real-ip", "203.0.113.7"),
                ("x-forwarded-proto", "https"),
                ("x-forwarded-host", "api.example.com"),
                ("x-auth-subject", "alice"),
            ])
        );
        // Without a client IP, no client-address header reaches the origin at all.
        let headers = forwarded_headers(
            &incoming,
            &client(None),
            &config,
            &[],
            &OriginAuth::default(),
        );
        assert!(values(&headers, "x-real-ip").is_empty(), "{headers:?}");
        assert!(values(&headers, "true-client-ip").is_empty());
    }

    #[test]
    fn a_request_without_its_body_loses_its_framing_headers() {
        let edits = header_edits(
            &["Content-Length", "Accept"],
            None,
            None,
            &client(None),
            &[],
            &[],
            &OriginAuth::default(),
        )
        .without_body();
        for name in ["content-length", "content-type", "content-encoding"] {
            assert_eq!(
                edits.delete.iter().filter(|n| *n == name).count(),
                1,
                "{name}"
            );
        }
        assert!(!edits.delete.iter().any(|n| n == "accept"));
    }

    #[test]
    fn connection_named_headers_are_matched_by_normalised_name() {
        let headers = forward(&[("Connection", "x-foo"), ("X_Foo", "1"), ("x-foo", "2")]);
        assert!(values(&headers, "x_foo").is_empty(), "{headers:?}");
        assert!(values(&headers, "x-foo").is_empty());
    }

    #[test]
    fn a_client_forwarded_header_is_dropped() {
        let client = ClientInfo {
            ip: Some("198.51.100.7".to_owned()),
            proto: "https".to_owned(),
            host: "api.test".to_owned(),
        };
        let incoming = vec![
            ("Forwarded".to_owned(), "for=10.0.0.1".to_owned()),
            ("accept".to_owned(), "*/*".to_owned()),
        ];
        let out = forwarded_headers(&incoming, &client, &[], &[], &OriginAuth::default());
        assert!(out.iter().all(|(name, _)| name != "forwarded"), "{out:?}");
        assert!(out.iter().any(|(name, _)| name == "accept"));
    }

    const ORIGIN_SECRET: &str = "origin-secret-0123456789abcdef-0123";

    fn origin_auth(header: &str, secret: Option<&str>) -> OriginAuth {
        OriginAuth::new(header, secret.map(str::to_owned)).unwrap()
    }

    #[test]
    fn the_origin_secret_is_added_last_and_a_client_copy_never_passes() {
        let auth = origin_auth("X-Gateway-Auth", Some(ORIGIN_SECRET));
        let headers = forward_to(
            &auth,
            &[
                ("X-Gateway-Auth", "forged"),
                ("x_gateway_auth", "forged"),
                ("X-GATEWAY-AUTH", "forged"),
                ("Accept", "*/*"),
            ],
            &[("x-auth-subject", "alice")],
        );
        // What a request without the forged headers gets without a secret, then the secret.
        let mut expected = forward_to(
            &OriginAuth::default(),
            &[("Accept", "*/*")],
            &[("x-auth-subject", "alice")],
        );
        expected.push(("x-gateway-auth".to_owned(), ORIGIN_SECRET.to_owned()));
        assert_eq!(headers, expected);
    }

    #[test]
    fn without_a_secret_the_header_is_still_stripped_and_none_is_sent() {
        for auth in [OriginAuth::default(), origin_auth("X-Origin-Token", None)] {
            let incoming = pairs(&[(auth.header(), "forged"), ("Accept", "*/*")]);
            let headers = forwarded_headers(&incoming, &client(None), &[], &[], &auth);
            assert_eq!(
                names(&headers),
                ["accept", "x-forwarded-proto", "x-forwarded-host"],
                "{auth:?}"
            );
        }
    }

    #[test]
    fn a_configured_header_name_replaces_the_default_one() {
        let auth = origin_auth("X-Origin-Token", Some(ORIGIN_SECRET));
        let incoming = pairs(&[("x-origin-token", "forged"), ("X-Gateway-Auth", "kept")]);
        let headers = forwarded_headers(&incoming, &client(None), &[], &[], &auth);
        assert_eq!(values(&headers, "x-origin-token"), [ORIGIN_SECRET]);
        // The default name means nothing once another one is configured.
        assert_eq!(values(&headers, "x-gateway-auth"), ["kept"]);
    }

    #[test]
    fn a_preflight_carries_the_secret_too() {
        let auth = origin_auth("X-Gateway-Auth", Some(ORIGIN_SECRET));
        let edits = header_edits(
            &["Access-Control-Request-Method", "X-Gateway-Auth"],
            None,
            None,
            &client(None),
            &[],
            &[],
            &auth,
        )
        .without_body();
        assert!(edits.delete.iter().any(|n| n == "x-gateway-auth"));
        assert_eq!(
            edits.set.last(),
            Some(&("x-gateway-auth".to_owned(), ORIGIN_SECRET.to_owned()))
        );
    }
}
